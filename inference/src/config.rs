//! Model configuration, read from a Hugging Face `config.json` or GGUF metadata.

use std::path::Path;

use burn::config::Config;
use serde::{Deserialize, Serialize};

use crate::error::{InferenceError, Result};
use crate::gguf::GgufFile;

/// Supported decoder architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// Llama family (SmolLM2, DeepSeek-R1-Distill-Llama): no attention biases.
    Llama,
    /// Qwen2 (DeepSeek-R1-Distill-Qwen): q/k/v biases.
    Qwen2,
    /// DeepSeek-V3: multi-head latent attention and DeepSeekMoE.
    DeepseekV3,
}

/// Multi-head latent attention (DeepSeek-V2/V3).
#[derive(Config, Debug, PartialEq)]
pub struct MlaConfig {
    /// Rank of the query compression (`None`: a plain `q_proj`).
    pub q_lora_rank: Option<usize>,
    /// Rank of the joint key/value compression (the cached latent).
    pub kv_lora_rank: usize,
    /// Per-head query/key width without rotary.
    pub qk_nope_head_dim: usize,
    /// Per-head query/key width with rotary (the key part is shared by all heads).
    pub qk_rope_head_dim: usize,
    /// Per-head value width.
    pub v_head_dim: usize,
    /// Attention softmax scale.
    pub softmax_scale: f64,
}

/// DeepSeekMoE with sigmoid, group-limited top-k routing (DeepSeek-V3).
#[derive(Config, Debug, PartialEq)]
pub struct MoeConfig {
    /// Routed experts.
    pub n_routed_experts: usize,
    /// Shared experts (always active; fused into one MLP).
    pub n_shared_experts: usize,
    /// Experts per token.
    pub num_experts_per_tok: usize,
    /// Expert groups.
    pub n_group: usize,
    /// Groups a token may route to.
    pub topk_group: usize,
    /// Inner width of one expert.
    pub moe_intermediate_size: usize,
    /// The first `first_k_dense_replace` layers use a dense MLP.
    pub first_k_dense_replace: usize,
    /// Every `moe_layer_freq`-th layer after those is MoE.
    pub moe_layer_freq: usize,
    /// Normalize the selected weights to sum to one.
    pub norm_topk_prob: bool,
    /// Multiplier of the routed output.
    pub routed_scaling_factor: f64,
}

impl MoeConfig {
    /// Whether layer `i` is a MoE layer.
    pub fn is_moe_layer(&self, i: usize) -> bool {
        i >= self.first_k_dense_replace && i.is_multiple_of(self.moe_layer_freq.max(1))
    }
}

/// Llama-3 rotary frequency scaling (`rope_scaling.rope_type = "llama3"`), used by
/// Llama 3.1 and DeepSeek-R1-Distill-Llama.
#[derive(Config, Debug, PartialEq)]
pub struct Llama3RopeScaling {
    /// Context extension factor.
    pub factor: f64,
    /// Low-frequency factor.
    pub low_freq_factor: f64,
    /// High-frequency factor.
    pub high_freq_factor: f64,
    /// Pre-training context length.
    pub original_max_position_embeddings: usize,
}

/// YaRN rotary scaling (`rope_scaling.type = "yarn"`): DeepSeek-V3/R1's (and
/// Qwen2.5's) long-context extension. Frequency pairs that rotate fewer than
/// `beta_slow` times over the original context are divided by `factor`, those that
/// rotate more than `beta_fast` times are kept, with a linear ramp between; cos/sin
/// are multiplied by `mscale(factor, mscale) / mscale(factor, mscale_all_dim)`.
#[derive(Config, Debug, PartialEq)]
pub struct YarnRopeScaling {
    /// Context extension factor.
    pub factor: f64,
    /// Pre-training context length.
    pub original_max_position_embeddings: usize,
    /// Rotations above which frequencies are kept (default 32).
    pub beta_fast: f64,
    /// Rotations below which frequencies are interpolated (default 1).
    pub beta_slow: f64,
    /// `mscale` (default 1).
    pub mscale: f64,
    /// `mscale_all_dim` (default 0).
    pub mscale_all_dim: f64,
}

/// YaRN's magnitude correction `0.1 * m * ln(scale) + 1` (1 when not extending).
pub fn yarn_mscale(scale: f64, m: f64) -> f64 {
    if scale <= 1.0 {
        1.0
    } else {
        0.1 * m * scale.ln() + 1.0
    }
}

impl YarnRopeScaling {
    /// Inverse frequencies for a rotary width of `dim` and base `theta`.
    pub fn inv_freq(&self, dim: usize, theta: f64) -> Vec<f64> {
        let old = self.original_max_position_embeddings as f64;
        // The dimension index at which a frequency pair completes `rot` rotations
        // over the original context.
        let corr = |rot: f64| {
            dim as f64 * (old / (rot * 2.0 * std::f64::consts::PI)).ln() / (2.0 * theta.ln())
        };
        let low = corr(self.beta_fast).floor().max(0.0);
        let high = corr(self.beta_slow).ceil().min(dim as f64 - 1.0);
        let span = if low == high { 0.001 } else { high - low };
        (0..dim / 2)
            .map(|i| {
                let extra = 1.0 / theta.powf((2 * i) as f64 / dim as f64);
                let inter = extra / self.factor;
                let ramp = ((i as f64 - low) / span).clamp(0.0, 1.0);
                // ramp 0: keep (high frequency); ramp 1: interpolate.
                inter * ramp + extra * (1.0 - ramp)
            })
            .collect()
    }

    /// Multiplier of the cos/sin tables.
    pub fn cos_sin_scale(&self) -> f64 {
        yarn_mscale(self.factor, self.mscale) / yarn_mscale(self.factor, self.mscale_all_dim)
    }
}

/// Hyper-parameters of a Llama-style decoder.
#[derive(Config, Debug)]
pub struct ModelConfig {
    /// Architecture family.
    pub architecture: Architecture,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual stream width.
    pub hidden_size: usize,
    /// MLP inner width.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_layers: usize,
    /// Number of query heads.
    pub num_heads: usize,
    /// Number of key/value heads (GQA).
    pub num_kv_heads: usize,
    /// Per-head width.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// Rotary base.
    pub rope_theta: f64,
    /// Maximum sequence length (rotary table size).
    pub max_position_embeddings: usize,
    /// Whether q/k/v projections have biases.
    pub attention_bias: bool,
    /// Whether the LM head shares the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Beginning-of-sequence token, if any.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence tokens.
    pub eos_token_ids: Vec<u32>,
    /// Llama-3 rope scaling.
    pub rope_scaling: Option<Llama3RopeScaling>,
    /// YaRN rope scaling.
    pub yarn: Option<YarnRopeScaling>,
    /// Multi-head latent attention (DeepSeek-V3), replacing GQA.
    pub mla: Option<MlaConfig>,
    /// Mixture of experts (DeepSeek-V3).
    pub moe: Option<MoeConfig>,
}

fn malformed(path: &Path, reason: String) -> InferenceError {
    InferenceError::Malformed {
        format: "config.json",
        path: path.to_path_buf(),
        reason,
    }
}

impl ModelConfig {
    /// Parses a Hugging Face `config.json`.
    pub fn from_hf_json_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| InferenceError::io(path, e))?;
        Self::from_hf_json(path, &text)
    }

    /// Parses the text of a Hugging Face `config.json`; `path` is for error messages.
    pub fn from_hf_json(path: &Path, text: &str) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| malformed(path, e.to_string()))?;
        let get_u = |k: &str| -> Result<usize> {
            v.get(k)
                .and_then(serde_json::Value::as_u64)
                .map(|x| x as usize)
                .ok_or_else(|| InferenceError::MissingConfig(k.to_string()))
        };
        let model_type = v
            .get("model_type")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| InferenceError::MissingConfig("model_type".into()))?;
        let architecture = match model_type {
            "llama" | "mistral" => Architecture::Llama,
            "qwen2" => Architecture::Qwen2,
            "deepseek_v3" => Architecture::DeepseekV3,
            other => return Err(InferenceError::UnknownArchitecture(other.to_string())),
        };
        let hidden_size = get_u("hidden_size")?;
        let (mla, moe) = if architecture == Architecture::DeepseekV3 {
            let nope = get_u("qk_nope_head_dim")?;
            let rope = get_u("qk_rope_head_dim")?;
            let mut softmax_scale = 1.0 / ((nope + rope) as f64).sqrt();
            if let Some(rs) = v.get("rope_scaling").filter(|r| !r.is_null()) {
                let factor = rs
                    .get("factor")
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(1.0);
                let m = rs
                    .get("mscale_all_dim")
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(0.0);
                if m > 0.0 {
                    let mscale = yarn_mscale(factor, m);
                    softmax_scale *= mscale * mscale;
                }
            }
            let mla = MlaConfig {
                q_lora_rank: v
                    .get("q_lora_rank")
                    .and_then(serde_json::Value::as_u64)
                    .map(|x| x as usize),
                kv_lora_rank: get_u("kv_lora_rank")?,
                qk_nope_head_dim: nope,
                qk_rope_head_dim: rope,
                v_head_dim: get_u("v_head_dim")?,
                softmax_scale,
            };
            let scoring = v
                .get("scoring_func")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("sigmoid");
            if scoring != "sigmoid" {
                return Err(malformed(
                    path,
                    format!("scoring_func {scoring:?} is not supported (sigmoid only)"),
                ));
            }
            let moe = match get_u("n_routed_experts") {
                Ok(n) => Some(MoeConfig {
                    n_routed_experts: n,
                    n_shared_experts: get_u("n_shared_experts").unwrap_or(0),
                    num_experts_per_tok: get_u("num_experts_per_tok")?,
                    n_group: get_u("n_group").unwrap_or(1),
                    topk_group: get_u("topk_group").unwrap_or(1),
                    moe_intermediate_size: get_u("moe_intermediate_size")?,
                    first_k_dense_replace: get_u("first_k_dense_replace").unwrap_or(0),
                    moe_layer_freq: get_u("moe_layer_freq").unwrap_or(1),
                    norm_topk_prob: v
                        .get("norm_topk_prob")
                        .and_then(serde_json::Value::as_bool)
                        .unwrap_or(true),
                    routed_scaling_factor: v
                        .get("routed_scaling_factor")
                        .and_then(serde_json::Value::as_f64)
                        .unwrap_or(1.0),
                }),
                Err(_) => None,
            };
            (Some(mla), moe)
        } else {
            (None, None)
        };
        let num_heads = get_u("num_attention_heads")?;
        let num_kv_heads = get_u("num_key_value_heads").unwrap_or(num_heads);
        let head_dim = get_u("head_dim").unwrap_or(hidden_size / num_heads.max(1));
        let eos_token_ids = match v.get("eos_token_id") {
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .filter_map(serde_json::Value::as_u64)
                .map(|x| x as u32)
                .collect(),
            Some(x) => x.as_u64().map(|x| vec![x as u32]).unwrap_or_default(),
            None => vec![],
        };
        let mut rope_scaling = None;
        let mut yarn = None;
        if let Some(rs) = v.get("rope_scaling").filter(|r| !r.is_null()) {
            let ty = rs
                .get("rope_type")
                .or_else(|| rs.get("type"))
                .and_then(serde_json::Value::as_str);
            let f = |k: &str| {
                rs.get(k)
                    .and_then(serde_json::Value::as_f64)
                    .ok_or_else(|| InferenceError::MissingConfig(format!("rope_scaling.{k}")))
            };
            match ty {
                Some("llama3") => {
                    rope_scaling = Some(Llama3RopeScaling {
                        factor: f("factor")?,
                        low_freq_factor: f("low_freq_factor")?,
                        high_freq_factor: f("high_freq_factor")?,
                        original_max_position_embeddings: f("original_max_position_embeddings")?
                            as usize,
                    })
                }
                Some("yarn") => {
                    let or = |k: &str, d: f64| {
                        rs.get(k).and_then(serde_json::Value::as_f64).unwrap_or(d)
                    };
                    yarn = Some(YarnRopeScaling {
                        factor: f("factor")?,
                        original_max_position_embeddings: f("original_max_position_embeddings")?
                            as usize,
                        beta_fast: or("beta_fast", 32.0),
                        beta_slow: or("beta_slow", 1.0),
                        mscale: or("mscale", 1.0),
                        mscale_all_dim: or("mscale_all_dim", 0.0),
                    });
                }
                Some("default") | None => {}
                Some(other) => tracing::warn!(
                    "rope_scaling type {other:?} is not implemented; plain rotary frequencies are used"
                ),
            }
        }
        let cfg = ModelConfig {
            architecture,
            vocab_size: get_u("vocab_size")?,
            hidden_size,
            intermediate_size: get_u("intermediate_size")?,
            num_layers: get_u("num_hidden_layers")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: v
                .get("rms_norm_eps")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(1e-6),
            rope_theta: v
                .get("rope_theta")
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(10000.0),
            max_position_embeddings: get_u("max_position_embeddings").unwrap_or(4096),
            attention_bias: v
                .get("attention_bias")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(architecture == Architecture::Qwen2),
            tie_word_embeddings: v
                .get("tie_word_embeddings")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            bos_token_id: v
                .get("bos_token_id")
                .and_then(serde_json::Value::as_u64)
                .map(|x| x as u32),
            eos_token_ids,
            rope_scaling,
            yarn,
            mla,
            moe,
        };
        cfg.validate().map_err(|r| malformed(path, r))?;
        Ok(cfg)
    }

    /// Reads the configuration from GGUF metadata (`<arch>.*` keys).
    pub fn from_gguf(f: &GgufFile) -> Result<Self> {
        let arch = f.get_str("general.architecture")?;
        let architecture = match arch {
            "llama" => Architecture::Llama,
            "qwen2" => Architecture::Qwen2,
            other => return Err(InferenceError::UnknownArchitecture(other.to_string())),
        };
        let k = |s: &str| format!("{arch}.{s}");
        let u = |s: &str| f.get_u64(&k(s)).map(|x| x as usize);
        let hidden_size = u("embedding_length")?;
        let num_heads = u("attention.head_count")?;
        let num_kv_heads = u("attention.head_count_kv").unwrap_or(num_heads);
        let head_dim = u("rope.dimension_count").unwrap_or(hidden_size / num_heads.max(1));
        let vocab_size = match u("vocab_size") {
            Ok(v) => v,
            Err(_) => f
                .get("tokenizer.ggml.tokens")
                .and_then(crate::gguf::GgufValue::as_array)
                .map(<[_]>::len)
                .ok_or_else(|| InferenceError::MissingConfig(k("vocab_size")))?,
        };
        let cfg = ModelConfig {
            architecture,
            vocab_size,
            hidden_size,
            intermediate_size: u("feed_forward_length")?,
            num_layers: u("block_count")?,
            num_heads,
            num_kv_heads,
            head_dim,
            rms_norm_eps: f
                .get_f64(&k("attention.layer_norm_rms_epsilon"))
                .unwrap_or(1e-5),
            rope_theta: f.get_f64(&k("rope.freq_base")).unwrap_or(10000.0),
            max_position_embeddings: u("context_length").unwrap_or(4096),
            attention_bias: architecture == Architecture::Qwen2,
            tie_word_embeddings: f.tensor_info("output.weight").is_none(),
            bos_token_id: f
                .get_u64("tokenizer.ggml.bos_token_id")
                .ok()
                .map(|x| x as u32),
            eos_token_ids: f
                .get_u64("tokenizer.ggml.eos_token_id")
                .ok()
                .map(|x| vec![x as u32])
                .unwrap_or_default(),
            rope_scaling: None,
            yarn: None,
            mla: None,
            moe: None,
        };
        cfg.validate().map_err(|reason| InferenceError::Malformed {
            format: "gguf",
            path: f.path().to_path_buf(),
            reason,
        })?;
        Ok(cfg)
    }

    /// Multiplier of the rotary cos/sin tables (YaRN's; 1 otherwise).
    pub fn rotary_scale(&self) -> f64 {
        self.yarn
            .as_ref()
            .map_or(1.0, YarnRopeScaling::cos_sin_scale)
    }

    /// Rotary inverse frequencies, one per dimension pair (Llama-3 or YaRN scaling
    /// applied).
    pub fn inv_freq(&self) -> Vec<f64> {
        let d = self.rope_dim();
        if let Some(y) = &self.yarn {
            return y.inv_freq(d, self.rope_theta);
        }
        (0..d / 2)
            .map(|i| {
                let inv = 1.0 / self.rope_theta.powf((2 * i) as f64 / d as f64);
                let Some(s) = &self.rope_scaling else {
                    return inv;
                };
                let old = s.original_max_position_embeddings as f64;
                let low_wavelen = old / s.low_freq_factor;
                let high_wavelen = old / s.high_freq_factor;
                let wavelen = 2.0 * std::f64::consts::PI / inv;
                if wavelen < high_wavelen {
                    inv
                } else if wavelen > low_wavelen {
                    inv / s.factor
                } else {
                    let smooth = (old / wavelen - s.low_freq_factor)
                        / (s.high_freq_factor - s.low_freq_factor);
                    (1.0 - smooth) * inv / s.factor + smooth * inv
                }
            })
            .collect()
    }

    /// Width of the rotary part of a head.
    pub fn rope_dim(&self) -> usize {
        self.mla
            .as_ref()
            .map_or(self.head_dim, |m| m.qk_rope_head_dim)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if let Some(m) = &self.moe
            && (m.n_group == 0
                || !m.n_routed_experts.is_multiple_of(m.n_group)
                || m.topk_group > m.n_group
                || m.num_experts_per_tok > m.n_routed_experts)
        {
            return Err(format!("inconsistent MoE routing config {m:?}"));
        }
        if !self.rope_dim().is_multiple_of(2) {
            return Err(format!("rotary width {} must be even", self.rope_dim()));
        }
        if self.num_heads == 0
            || self.num_kv_heads == 0
            || !self.num_heads.is_multiple_of(self.num_kv_heads)
        {
            return Err(format!(
                "num_heads {} must be a positive multiple of num_kv_heads {}",
                self.num_heads, self.num_kv_heads
            ));
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return Err(format!(
                "head_dim {} must be even and positive",
                self.head_dim
            ));
        }
        if self.vocab_size == 0 || self.hidden_size == 0 || self.num_layers == 0 {
            return Err("vocab_size, hidden_size and num_layers must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qwen2_config() {
        let text = r#"{"model_type":"qwen2","vocab_size":100,"hidden_size":64,"intermediate_size":128,
            "num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"rms_norm_eps":1e-6,
            "rope_theta":10000.0,"max_position_embeddings":128,"tie_word_embeddings":false,
            "bos_token_id":1,"eos_token_id":[2,3]}"#;
        let c = ModelConfig::from_hf_json(Path::new("c.json"), text).expect("parse");
        assert_eq!(c.architecture, Architecture::Qwen2);
        assert!(c.attention_bias);
        assert_eq!(c.head_dim, 16);
        assert_eq!(c.eos_token_ids, vec![2, 3]);
    }

    #[test]
    fn gguf_unknown_arch_and_missing_keys() {
        use crate::gguf::{GgufValue, writer::write};
        let f = GgufFile::from_bytes(
            "m.gguf",
            write(
                &[("general.architecture", GgufValue::String("gpt9".into()))],
                &[],
            ),
        )
        .expect("parse");
        assert!(matches!(
            ModelConfig::from_gguf(&f),
            Err(InferenceError::UnknownArchitecture(_))
        ));
        let f = GgufFile::from_bytes(
            "m.gguf",
            write(
                &[("general.architecture", GgufValue::String("llama".into()))],
                &[],
            ),
        )
        .expect("parse");
        assert!(matches!(
            ModelConfig::from_gguf(&f),
            Err(InferenceError::MissingConfig(_))
        ));
    }

    #[test]
    fn parses_llama3_rope_scaling_and_deepseek_v3() {
        let text = r#"{"model_type":"llama","vocab_size":10,"hidden_size":64,"intermediate_size":8,
            "num_hidden_layers":1,"num_attention_heads":4,"rope_theta":500000.0,
            "rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,
            "high_freq_factor":4.0,"original_max_position_embeddings":8192}}"#;
        let c = ModelConfig::from_hf_json(Path::new("c.json"), text).expect("parse");
        let s = c.rope_scaling.clone().expect("scaling");
        assert_eq!(s.factor, 8.0);
        let f = c.inv_freq();
        assert_eq!(f.len(), 8);
        assert_eq!(f[0], 1.0); // highest frequency is unchanged
        let plain = 1.0 / 500000f64.powf(14.0 / 16.0);
        assert!((f[7] - plain / 8.0).abs() < 1e-15); // lowest is divided by the factor
        let text = r#"{"model_type":"deepseek_v3","vocab_size":10,"hidden_size":64,"intermediate_size":8,
            "num_hidden_layers":3,"num_attention_heads":4,"q_lora_rank":null,"kv_lora_rank":8,
            "qk_nope_head_dim":6,"qk_rope_head_dim":2,"v_head_dim":4,"n_routed_experts":8,
            "num_experts_per_tok":2,"n_group":3,"topk_group":1,"moe_intermediate_size":4}"#;
        let e = ModelConfig::from_hf_json(Path::new("c.json"), text);
        assert!(
            matches!(e, Err(InferenceError::Malformed { .. })),
            "8 experts in 3 groups: {e:?}"
        );
    }

    #[test]
    fn rejects_unknown_arch_and_bad_json() {
        let e = ModelConfig::from_hf_json(Path::new("c.json"), r#"{"model_type":"gpt9"}"#);
        assert!(matches!(e, Err(InferenceError::UnknownArchitecture(_))));
        let e = ModelConfig::from_hf_json(Path::new("c.json"), "{not json");
        assert!(matches!(e, Err(InferenceError::Malformed { .. })));
        let e = ModelConfig::from_hf_json(Path::new("c.json"), r#"{"model_type":"llama"}"#);
        assert!(matches!(e, Err(InferenceError::MissingConfig(_))));
    }
}
