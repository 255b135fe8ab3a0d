//! Weight sources: GGUF (our reader) and safetensors (through burn-store).
//!
//! Every source serves tensors by a canonical name (Hugging Face names without the
//! `model.` prefix, e.g. `layers.3.self_attn.q_proj.weight`) as row-major f32 in the
//! Hugging Face layout (`[out, in]` for linear weights, rotate-half rotary layout).

use std::path::{Path, PathBuf};

use burn_store::{KeyRemapper, ModuleStore, SafetensorsStore};

use crate::config::{Architecture, ModelConfig};
use crate::error::{InferenceError, Result};
use crate::gguf::GgufFile;
use crate::quant::{QK, QKind, QMatrix};

/// A dense f32 tensor in row-major order.
#[derive(Debug, Clone)]
pub struct HostTensor {
    /// Shape, slowest-varying first.
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// Something that serves tensors by canonical name.
pub trait WeightSource {
    /// Loads one tensor; `Ok(None)` when absent.
    fn load(&mut self, name: &str) -> Result<Option<HostTensor>>;

    /// Loads a 2-D weight in a block-quantized format the CPU kernels run directly
    /// (GGUF `Q8_0`/`Q4_1`), already in the canonical row order; `Ok(None)` when the
    /// tensor is absent or stored in another format.
    fn load_quant(&mut self, name: &str) -> Result<Option<QMatrix>> {
        let _ = name;
        Ok(None)
    }

    /// Loads a required tensor and checks its shape.
    fn require(&mut self, name: &str, shape: &[usize]) -> Result<HostTensor> {
        let t = self
            .load(name)?
            .ok_or_else(|| InferenceError::MissingTensor(name.to_string()))?;
        if t.shape != shape {
            return Err(InferenceError::ShapeMismatch {
                tensor: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape,
            });
        }
        Ok(t)
    }
}

/// Maps a canonical name to the GGUF tensor name.
pub fn gguf_name(canonical: &str) -> Option<String> {
    let simple = match canonical {
        "embed_tokens.weight" => Some("token_embd.weight"),
        "norm.weight" => Some("output_norm.weight"),
        "lm_head.weight" => Some("output.weight"),
        "rope_freqs.weight" => Some("rope_freqs.weight"),
        _ => None,
    };
    if let Some(s) = simple {
        return Some(s.to_string());
    }
    let rest = canonical.strip_prefix("layers.")?;
    let (idx, tail) = rest.split_once('.')?;
    let mapped = match tail {
        "input_layernorm.weight" => "attn_norm.weight",
        "post_attention_layernorm.weight" => "ffn_norm.weight",
        "self_attn.q_proj.weight" => "attn_q.weight",
        "self_attn.k_proj.weight" => "attn_k.weight",
        "self_attn.v_proj.weight" => "attn_v.weight",
        "self_attn.o_proj.weight" => "attn_output.weight",
        "self_attn.q_proj.bias" => "attn_q.bias",
        "self_attn.k_proj.bias" => "attn_k.bias",
        "self_attn.v_proj.bias" => "attn_v.bias",
        "mlp.gate_proj.weight" => "ffn_gate.weight",
        "mlp.up_proj.weight" => "ffn_up.weight",
        "mlp.down_proj.weight" => "ffn_down.weight",
        _ => return None,
    };
    Some(format!("blk.{idx}.{mapped}"))
}

/// The row order [`unpermute_rows`] produces: row `i` of its output is row `perm[i]`
/// of its input.
pub fn unpermute_perm(rows: usize, n_heads: usize) -> Vec<usize> {
    let head = rows / n_heads;
    let half = head / 2;
    let mut perm = (0..rows).collect::<Vec<_>>();
    for h in 0..n_heads {
        for j in 0..half {
            for i in 0..2 {
                perm[h * head + i * half + j] = h * head + j * 2 + i;
            }
        }
    }
    perm
}

/// Undoes llama.cpp's Q/K row permutation (`convert_hf_to_gguf.py` reorders the
/// rows of each head from rotate-half order to interleaved pairs).
pub fn unpermute_rows(data: &[f32], rows: usize, cols: usize, n_heads: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len());
    for r in unpermute_perm(rows, n_heads) {
        out.extend_from_slice(&data[r * cols..(r + 1) * cols]);
    }
    out
}

/// Weights from a GGUF file.
#[allow(missing_debug_implementations)] // holds the whole parsed file
pub struct GgufWeights<'a> {
    file: &'a GgufFile,
    config: ModelConfig,
}

impl<'a> GgufWeights<'a> {
    /// Wraps a parsed GGUF file.
    pub fn new(file: &'a GgufFile, config: ModelConfig) -> Self {
        Self { file, config }
    }
}

impl WeightSource for GgufWeights<'_> {
    fn load(&mut self, name: &str) -> Result<Option<HostTensor>> {
        let Some(gname) = gguf_name(name) else {
            return Ok(None);
        };
        if self.file.tensor_info(&gname).is_none() {
            return Ok(None);
        }
        let (shape, mut data) = self.file.dequantize(&gname)?;
        if shape.len() == 2
            && let Some(h) = self.permuted_heads(name)
        {
            data = unpermute_rows(&data, shape[0], shape[1], h);
        }
        Ok(Some(HostTensor { shape, data }))
    }

    fn load_quant(&mut self, name: &str) -> Result<Option<QMatrix>> {
        let Some(gname) = gguf_name(name) else {
            return Ok(None);
        };
        if self.file.tensor_info(&gname).is_none() {
            return Ok(None);
        }
        let (ty, shape, bytes) = self.file.raw(&gname)?;
        let (Some(kind), &[rows, cols]) = (QKind::from_ggml(ty), &shape[..]) else {
            return Ok(None);
        };
        if !cols.is_multiple_of(QK) {
            return Ok(None);
        }
        let m = QMatrix::from_gguf(kind, rows, cols, bytes)?;
        match self.permuted_heads(name) {
            Some(h) => Ok(Some(m.permute_rows(&unpermute_perm(rows, h))?)),
            None => Ok(Some(m)),
        }
    }
}

impl GgufWeights<'_> {
    /// Heads whose rows llama.cpp permuted in this tensor (Llama q/k projections).
    fn permuted_heads(&self, name: &str) -> Option<usize> {
        if self.config.architecture != Architecture::Llama {
            None
        } else if name.ends_with("q_proj.weight") {
            Some(self.config.num_heads)
        } else if name.ends_with("k_proj.weight") {
            Some(self.config.num_kv_heads)
        } else {
            None
        }
    }
}

/// Weights from one or more (sharded) safetensors files, read through burn-store
/// with a key remapper that strips the Hugging Face `model.` prefix.
pub struct SafetensorsWeights {
    stores: Vec<(PathBuf, SafetensorsStore)>,
}

impl std::fmt::Debug for SafetensorsWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.stores.iter().map(|(p, _)| p))
            .finish()
    }
}

impl SafetensorsWeights {
    /// Opens all `*.safetensors` files of a model directory (sorted by name).
    pub fn open_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let rd = std::fs::read_dir(dir).map_err(|e| InferenceError::io(dir, e))?;
        let mut files: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(InferenceError::io(
                dir.join("*.safetensors"),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no safetensors files"),
            ));
        }
        Self::open_files(&files)
    }

    /// Opens the given safetensors files.
    pub fn open_files(files: &[PathBuf]) -> Result<Self> {
        let mut stores = Vec::new();
        for p in files {
            if !p.is_file() {
                return Err(InferenceError::io(
                    p,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
                ));
            }
            let remap = KeyRemapper::new()
                .add_pattern(r"^model\.(.*)$", "$1")
                .map_err(|e| InferenceError::Tokenizer(e.to_string()))?;
            let mut store = SafetensorsStore::from_file(p).remap(remap);
            // Parse the header now so that truncated or malformed files fail early.
            store.keys().map_err(|e| InferenceError::Malformed {
                format: "safetensors",
                path: p.clone(),
                reason: e.to_string(),
            })?;
            stores.push((p.clone(), store));
        }
        Ok(Self { stores })
    }
}

impl WeightSource for SafetensorsWeights {
    fn load(&mut self, name: &str) -> Result<Option<HostTensor>> {
        for (path, store) in &mut self.stores {
            let snap = store
                .get_snapshot(name)
                .map_err(|e| InferenceError::Malformed {
                    format: "safetensors",
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            let Some(snap) = snap else { continue };
            let shape = snap.shape.to_vec();
            let dtype = snap.dtype;
            use burn::tensor::DType;
            if !matches!(dtype, DType::F32 | DType::F16 | DType::BF16 | DType::F64) {
                return Err(InferenceError::UnsupportedDtype {
                    dtype: format!("{dtype:?}"),
                    tensor: name.to_string(),
                });
            }
            let td = snap.to_data().map_err(|e| InferenceError::Malformed {
                format: "safetensors",
                path: path.clone(),
                reason: format!("tensor {name}: {e:?}"),
            })?;
            let data =
                td.convert::<f32>()
                    .into_vec::<f32>()
                    .map_err(|e| InferenceError::Malformed {
                        format: "safetensors",
                        path: path.clone(),
                        reason: format!("tensor {name}: {e:?}"),
                    })?;
            return Ok(Some(HostTensor { shape, data }));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpermute_inverts_llama_cpp_permute() {
        // HF -> GGUF permute: reshape(n_head, 2, d/2, cols).swapaxes(1, 2)
        let (n_heads, head, cols) = (2, 4, 3);
        let rows = n_heads * head;
        let hf: Vec<f32> = (0..rows * cols).map(|x| x as f32).collect();
        let mut gg = vec![0.0; hf.len()];
        for h in 0..n_heads {
            for i in 0..2 {
                for j in 0..head / 2 {
                    let src = h * head + i * (head / 2) + j;
                    let dst = h * head + j * 2 + i;
                    gg[dst * cols..(dst + 1) * cols]
                        .copy_from_slice(&hf[src * cols..(src + 1) * cols]);
                }
            }
        }
        assert_eq!(unpermute_rows(&gg, rows, cols, n_heads), hf);
    }

    #[test]
    fn gguf_names() {
        assert_eq!(
            gguf_name("layers.12.self_attn.o_proj.weight").as_deref(),
            Some("blk.12.attn_output.weight")
        );
        assert_eq!(
            gguf_name("embed_tokens.weight").as_deref(),
            Some("token_embd.weight")
        );
        assert_eq!(gguf_name("layers.1.weird"), None);
    }
}
