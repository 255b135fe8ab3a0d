//! Backend-generic Llama / Qwen2 decoder with Hugging Face rotary layout and a KV cache.

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::prelude::Backend;
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{DType, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::config::{MlaConfig, ModelConfig, MoeConfig};
use crate::error::{InferenceError, Result};
use crate::quant::{QK, QLinear, QMatrix};
use crate::weights::{HostTensor, WeightSource};

/// Storage precision of the linear (matmul) weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum WeightPrecision {
    /// f32 weights, f32 math (default; what the reference tests check).
    #[default]
    F32,
    /// f16 linear weights: activations are cast to f16 for each matmul and the result
    /// back to f32. Halves weight memory and bandwidth; norms, embeddings, router and
    /// the residual stream stay f32.
    F16,
    /// Block-quantized linear weights run by the CPU kernels of [`crate::quant`]: a
    /// GGUF file's `Q4_1`/`Q8_0` blocks are kept as they are, every other weight is
    /// quantized to `Q8_0`; activations are quantized to 8 bits per block of 32 for
    /// each product (llama.cpp's CPU arithmetic). About 4-7x less weight traffic than
    /// f32. CPU only: on another backend every product would copy through the host.
    Quant,
}

/// Reads a tensor's values to the host as f32 (`what` names it in the error).
pub(crate) fn host_f32<B: Backend, const D: usize>(
    t: Tensor<B, D>,
    what: &str,
) -> Result<Vec<f32>> {
    data_f32(t.into_data(), what)
}

/// [`TensorData`] as f32 values: an error for a quantized dtype (which Burn's
/// `convert` cannot take) or a buffer that does not hold the elements its shape
/// announces.
fn data_f32(data: TensorData, what: &str) -> Result<Vec<f32>> {
    if matches!(data.dtype, DType::QFloat(_)) {
        return Err(InferenceError::TensorData {
            what: what.into(),
            reason: format!("{:?} data has no f32 view", data.dtype),
        });
    }
    let shape = data.shape.as_slice().to_vec();
    let n = data.num_elements();
    let v = data
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| InferenceError::TensorData {
            what: what.into(),
            reason: e.to_string(),
        })?;
    if v.len() != n {
        return Err(InferenceError::InputShape {
            what: what.into(),
            expected: shape,
            found: vec![v.len()],
        });
    }
    Ok(v)
}

/// A linear layer: dense Burn weights, or block-quantized host weights multiplied by
/// the CPU kernels of [`crate::quant`].
#[derive(Module, Debug)]
pub enum Lin<B: Backend> {
    /// Dense weight `[in, out]` (f32, or f16 with [`WeightPrecision::F16`]) and bias.
    Dense(Linear<B>),
    /// Block-quantized weight and bias.
    Quant(QuantLinear<B>),
}

/// The block-quantized form of a [`Lin`].
#[derive(Module, Debug)]
pub struct QuantLinear<B: Backend> {
    /// Weight `[out, in]` in host memory, run by the CPU kernels.
    #[module(skip)]
    pub weight: Arc<QLinear>,
    /// Bias `[out]`.
    pub bias: Option<Param<Tensor<B, 1>>>,
}

impl<B: Backend> Lin<B> {
    fn from_quant(q: QLinear, bias: Option<HostTensor>, device: &B::Device) -> Self {
        Self::Quant(QuantLinear {
            weight: Arc::new(q),
            bias: bias.map(|b| vector(b, device)),
        })
    }

    /// Input features.
    pub fn in_features(&self) -> usize {
        match self {
            Self::Dense(d) => d.weight.val().dims()[0],
            Self::Quant(q) => q.weight.in_features(),
        }
    }

    /// Output features.
    pub fn out_features(&self) -> usize {
        match self {
            Self::Dense(d) => d.weight.val().dims()[1],
            Self::Quant(q) => q.weight.out_features(),
        }
    }

    /// Whether the weight is block-quantized (run by the CPU kernels).
    pub fn is_quantized(&self) -> bool {
        matches!(self, Self::Quant(_))
    }

    /// Bytes the weight takes (what one product reads).
    pub fn weight_bytes(&self) -> usize {
        match self {
            Self::Dense(d) => {
                let w = d.weight.val();
                w.shape().num_elements() * w.dtype().size()
            }
            Self::Quant(q) => q.weight.bytes(),
        }
    }
}

/// Applies a linear layer whose weight may be stored in a narrower float type or
/// quantized. An input whose last dimension is not the layer's input width is an
/// [`InferenceError::InputShape`].
pub fn lin<B: Backend>(l: &Lin<B>, x: Tensor<B, 3>) -> Result<Tensor<B, 3>> {
    let [b, t, k] = x.dims();
    let inp = l.in_features();
    if k != inp {
        return Err(InferenceError::InputShape {
            what: "linear layer input".into(),
            expected: vec![b, t, inp],
            found: vec![b, t, k],
        });
    }
    let l = match l {
        Lin::Dense(l) => l,
        Lin::Quant(q) => {
            let device = x.device();
            let xs = host_f32(x, "quantized linear input")?;
            let n = q.weight.out_features();
            let y = Tensor::<B, 3>::from_data(
                TensorData::new(q.weight.forward(&xs, b * t)?, [b, t, n]),
                &device,
            );
            return Ok(match &q.bias {
                Some(bias) => y.add(bias.val().unsqueeze::<3>()),
                None => y,
            });
        }
    };
    let w = l.weight.val();
    let (wd, xd) = (w.dtype(), x.dtype());
    if wd == xd {
        return Ok(l.forward(x));
    }
    let n = w.dims()[1];
    let y = x
        .reshape([b * t, k])
        .cast(wd)
        .matmul(w)
        .cast(xd)
        .reshape([b, t, n]);
    Ok(match &l.bias {
        Some(bias) => y.add(bias.val().unsqueeze::<3>()),
        None => y,
    })
}

fn cast_linear<B: Backend>(l: &mut Lin<B>, p: WeightPrecision) -> Result<()> {
    let Lin::Dense(d) = l else {
        return Ok(());
    };
    match p {
        WeightPrecision::F32 => {}
        WeightPrecision::F16 => {
            d.weight = Param::from_tensor(d.weight.val().cast(DType::F16));
        }
        WeightPrecision::Quant => {
            let [inp, out] = d.weight.val().dims();
            // Widths that are not whole blocks (tiny test models) stay dense.
            if inp == 0 || !inp.is_multiple_of(QK) {
                return Ok(());
            }
            let w = host_f32(d.weight.val(), "linear weight")?;
            let mut t = vec![0.0f32; w.len()];
            for i in 0..inp {
                for o in 0..out {
                    t[o * inp + i] = w[i * out + o];
                }
            }
            let q = QLinear::new(vec![QMatrix::quantize_q8_0(out, inp, &t)?])?;
            let bias = d.bias.take();
            *l = Lin::Quant(QuantLinear {
                weight: Arc::new(q),
                bias,
            });
        }
    }
    Ok(())
}

impl<B: Backend> Mlp<B> {
    fn linears_mut(&mut self) -> [&mut Lin<B>; 2] {
        [&mut self.gate_up_proj, &mut self.down_proj]
    }
}

impl<B: Backend> DecoderLayer<B> {
    /// Every linear layer, routed experts included.
    fn linears_mut(&mut self) -> Vec<&mut Lin<B>> {
        let mut out: Vec<&mut Lin<B>> = Vec::new();
        match &mut self.self_attn {
            SelfAttention::Gqa(a) => out.extend([&mut a.qkv_proj, &mut a.o_proj]),
            SelfAttention::Mla(m) => {
                match &mut m.q {
                    MlaQuery::Direct(l) => out.push(l),
                    MlaQuery::LowRank(q) => out.extend([&mut q.q_a_proj, &mut q.q_b_proj]),
                }
                out.extend([&mut m.kv_a_proj_with_mqa, &mut m.kv_b_proj, &mut m.o_proj]);
            }
        }
        match &mut self.mlp {
            FeedForward::Dense(m) => out.extend(m.linears_mut()),
            FeedForward::Moe(m) => {
                out.extend(m.experts.iter_mut().flat_map(Mlp::linears_mut));
                if let Some(s) = &mut m.shared {
                    out.extend(s.linears_mut());
                }
            }
        }
        out
    }

    /// The linear layers one token reads whatever its routing: all of them except
    /// the routed experts.
    fn always_read_linears(&self) -> Vec<&Lin<B>> {
        let mut out: Vec<&Lin<B>> = Vec::new();
        match &self.self_attn {
            SelfAttention::Gqa(a) => out.extend([&a.qkv_proj, &a.o_proj]),
            SelfAttention::Mla(m) => {
                match &m.q {
                    MlaQuery::Direct(l) => out.push(l),
                    MlaQuery::LowRank(q) => out.extend([&q.q_a_proj, &q.q_b_proj]),
                }
                out.extend([&m.kv_a_proj_with_mqa, &m.kv_b_proj, &m.o_proj]);
            }
        }
        let mlp = match &self.mlp {
            FeedForward::Dense(m) => Some(m),
            FeedForward::Moe(m) => m.shared.as_ref(),
        };
        if let Some(m) = mlp {
            out.extend([&m.gate_up_proj, &m.down_proj]);
        }
        out
    }

    fn cast_linears(&mut self, p: WeightPrecision) -> Result<()> {
        self.linears_mut()
            .into_iter()
            .try_for_each(|l| cast_linear(l, p))
    }
}

/// RMSNorm: `x / sqrt(mean(x^2) + eps) * weight`.
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    /// Scale, `[d]`.
    pub weight: Param<Tensor<B, 1>>,
    /// Epsilon.
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    /// Normalizes over the last dimension.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let ms = x.clone().square().mean_dim(2);
        let inv = ms.add_scalar(self.eps).sqrt().recip();
        x.mul(inv).mul(self.weight.val().unsqueeze::<3>())
    }
}

/// Self-attention with grouped-query heads.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// Fused query, key and value projection (`[d, (h + 2 kv_h) * head_dim]`; the
    /// Hugging Face `q_proj`, `k_proj`, `v_proj` side by side).
    pub qkv_proj: Lin<B>,
    /// Output projection.
    pub o_proj: Lin<B>,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Head width.
    pub head_dim: usize,
}

/// SwiGLU feed-forward.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// Fused gate and up projection (`[d, 2 ff]`: `gate_proj` then `up_proj`).
    pub gate_up_proj: Lin<B>,
    /// Down projection.
    pub down_proj: Lin<B>,
}

impl<B: Backend> Mlp<B> {
    /// `down(silu(gate(x)) * up(x))`
    pub fn forward(&self, x: Tensor<B, 3>) -> Result<Tensor<B, 3>> {
        let gu = lin(&self.gate_up_proj, x)?;
        let [b, t, ff2] = gu.dims();
        let ff = ff2 / 2;
        let g = silu(gu.clone().slice([0..b, 0..t, 0..ff]));
        lin(&self.down_proj, g.mul(gu.slice([0..b, 0..t, ff..ff2])))
    }
}

/// The attention block of a layer.
#[derive(Module, Debug)]
// Built once per layer and never moved in the hot path; Burn's Module derive has no
// impl for `Box`, so the larger variant cannot be boxed.
#[allow(clippy::large_enum_variant)]
pub enum SelfAttention<B: Backend> {
    /// Grouped-query attention (Llama, Qwen2).
    Gqa(Attention<B>),
    /// Multi-head latent attention (DeepSeek-V3).
    Mla(MlaAttention<B>),
}

/// The feed-forward block of a layer.
#[derive(Module, Debug)]
// Built once per layer and never moved in the hot path; Burn's Module derive has no
// impl for `Box`, so the larger variant cannot be boxed.
#[allow(clippy::large_enum_variant)]
pub enum FeedForward<B: Backend> {
    /// Dense SwiGLU MLP.
    Dense(Mlp<B>),
    /// Mixture of experts (DeepSeek-V3).
    Moe(Moe<B>),
}

impl<B: Backend> FeedForward<B> {
    /// Applies the block to `[b, t, d]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Result<Tensor<B, 3>> {
        match self {
            Self::Dense(m) => m.forward(x),
            Self::Moe(m) => m.forward(x),
        }
    }
}

/// One decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    /// Pre-attention norm.
    pub input_layernorm: RmsNorm<B>,
    /// Attention: grouped-query or multi-head latent.
    pub self_attn: SelfAttention<B>,
    /// Pre-MLP norm.
    pub post_attention_layernorm: RmsNorm<B>,
    /// Feed-forward: dense MLP or mixture of experts.
    pub mlp: FeedForward<B>,
}

/// The query projection of multi-head latent attention.
#[derive(Module, Debug)]
// Built once per layer and never moved in the hot path; Burn's Module derive has no
// impl for `Box`, so the larger variant cannot be boxed.
#[allow(clippy::large_enum_variant)]
pub enum MlaQuery<B: Backend> {
    /// Plain query projection (`q_lora_rank` is `None`).
    Direct(Lin<B>),
    /// Compressed query: down-projection, norm, up-projection.
    LowRank(LowRankQuery<B>),
}

/// A query compressed through a `q_lora_rank`-wide latent.
#[derive(Module, Debug)]
pub struct LowRankQuery<B: Backend> {
    /// Query down-projection.
    pub q_a_proj: Lin<B>,
    /// Norm of the query latent.
    pub q_a_layernorm: RmsNorm<B>,
    /// Query up-projection.
    pub q_b_proj: Lin<B>,
}

impl<B: Backend> MlaQuery<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Result<Tensor<B, 3>> {
        match self {
            Self::Direct(p) => lin(p, x),
            Self::LowRank(q) => lin(&q.q_b_proj, q.q_a_layernorm.forward(lin(&q.q_a_proj, x)?)),
        }
    }
}

/// Multi-head latent attention. The cache holds only the normalized KV latent
/// (`kv_lora_rank` wide) and the shared rotary key (`qk_rope_head_dim` wide) per
/// token; per-head keys and values are re-expanded from the latent on every step.
#[derive(Module, Debug)]
pub struct MlaAttention<B: Backend> {
    /// Query projection, plain or compressed.
    pub q: MlaQuery<B>,
    /// Joint KV down-projection plus the shared rotary key.
    pub kv_a_proj_with_mqa: Lin<B>,
    /// Norm of the KV latent.
    pub kv_a_layernorm: RmsNorm<B>,
    /// KV up-projection to per-head `k_nope` and `v`.
    pub kv_b_proj: Lin<B>,
    /// Output projection.
    pub o_proj: Lin<B>,
    /// Heads.
    pub num_heads: usize,
    /// Query/key width without rotary.
    pub nope: usize,
    /// Rotary width.
    pub rope: usize,
    /// Value width.
    pub v_dim: usize,
    /// Latent width.
    pub rank: usize,
    /// Softmax scale.
    pub scale: f64,
}

impl<B: Backend> MlaAttention<B> {
    fn forward(
        &self,
        x: Tensor<B, 3>,
        rotary: &Rotary<B>,
        cos: Tensor<B, 4>,
        sin: Tensor<B, 4>,
        mask: Option<Tensor<B, 4>>,
        cache: &mut Option<LayerCache<B>>,
    ) -> Result<Tensor<B, 3>> {
        let [b, t, _] = x.dims();
        let (h, nope, rope, vd, r) = (self.num_heads, self.nope, self.rope, self.v_dim, self.rank);
        let q = self.q.forward(x.clone())?;
        let q = q.reshape([b, t, h, nope + rope]).swap_dims(1, 2);
        let q_nope = q.clone().slice([0..b, 0..h, 0..t, 0..nope]);
        let q_pe = rotary.apply(
            q.slice([0..b, 0..h, 0..t, nope..nope + rope]),
            cos.clone(),
            sin.clone(),
        );
        let ckv = lin(&self.kv_a_proj_with_mqa, x)?;
        let latent = self
            .kv_a_layernorm
            .forward(ckv.clone().slice([0..b, 0..t, 0..r]));
        let k_pe = ckv
            .slice([0..b, 0..t, r..r + rope])
            .reshape([b, 1, t, rope]);
        let k_pe = rotary.apply(k_pe, cos, sin);
        let latent = latent.reshape([b, 1, t, r]);
        let (k_pe, latent) = match cache.take() {
            Some(c) => (
                Tensor::cat(vec![c.k, k_pe], 2),
                Tensor::cat(vec![c.v, latent], 2),
            ),
            None => (k_pe, latent),
        };
        *cache = Some(LayerCache {
            k: k_pe.clone(),
            v: latent.clone(),
        });
        let s = latent.dims()[2];
        let kv = lin(&self.kv_b_proj, latent.reshape([b, s, r]))?
            .reshape([b, s, h, nope + vd])
            .swap_dims(1, 2);
        let k_nope = kv.clone().slice([0..b, 0..h, 0..s, 0..nope]);
        let v = kv.slice([0..b, 0..h, 0..s, nope..nope + vd]);
        let scores = q_nope
            .matmul(k_nope.swap_dims(2, 3))
            .add(q_pe.matmul(k_pe.expand([b, h, s, rope]).swap_dims(2, 3)))
            .mul_scalar(self.scale);
        let scores = match mask {
            Some(m) => scores.add(m.expand([b, h, t, s])),
            None => scores,
        };
        let probs = softmax(scores, 3);
        let out = probs.matmul(v).swap_dims(1, 2).reshape([b, t, h * vd]);
        lin(&self.o_proj, out)
    }
}

/// DeepSeekMoE: shared experts plus sigmoid-scored, group-limited top-k routed experts
/// (DeepSeek-V3 `noaux_tc` routing with the score-correction bias used for selection only).
#[derive(Module, Debug)]
pub struct Moe<B: Backend> {
    /// Router weight `[d, n_experts]`.
    pub gate: Param<Tensor<B, 2>>,
    /// Selection bias `[n_experts]` (`e_score_correction_bias`).
    pub bias: Param<Tensor<B, 1>>,
    /// Routed experts.
    pub experts: Vec<Mlp<B>>,
    /// Shared experts, fused.
    pub shared: Option<Mlp<B>>,
    /// Experts per token.
    pub top_k: usize,
    /// Groups.
    pub n_group: usize,
    /// Groups per token.
    pub topk_group: usize,
    /// Renormalize selected weights.
    pub norm_topk_prob: bool,
    /// Routed output multiplier.
    pub scaling: f64,
}

/// DeepSeek-V3 routing for one token: returns `(expert, weight)` pairs.
pub fn route(
    logits: &[f32],
    bias: &[f32],
    top_k: usize,
    n_group: usize,
    topk_group: usize,
    norm: bool,
    scaling: f64,
) -> Vec<(usize, f32)> {
    let e = logits.len();
    let scores: Vec<f32> = logits.iter().map(|&l| 1.0 / (1.0 + (-l).exp())).collect();
    let choice: Vec<f32> = scores.iter().zip(bias).map(|(s, b)| s + b).collect();
    let per = e / n_group;
    // Group score: sum of the two best biased scores in the group.
    let mut groups: Vec<(usize, f32)> = (0..n_group)
        .map(|g| {
            let mut v: Vec<f32> = choice[g * per..(g + 1) * per].to_vec();
            v.sort_by(|a, b| b.total_cmp(a));
            (g, v.iter().take(2).sum())
        })
        .collect();
    groups.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let allowed: Vec<usize> = groups.iter().take(topk_group).map(|g| g.0).collect();
    let mut cand: Vec<usize> = (0..e).filter(|i| allowed.contains(&(i / per))).collect();
    cand.sort_by(|&a, &b| choice[b].total_cmp(&choice[a]).then(a.cmp(&b)));
    cand.truncate(top_k);
    let mut w: Vec<(usize, f32)> = cand.iter().map(|&i| (i, scores[i])).collect();
    if norm && top_k > 1 {
        let s: f32 = w.iter().map(|x| x.1).sum::<f32>() + 1e-20;
        w.iter_mut().for_each(|x| x.1 /= s);
    }
    w.iter_mut().for_each(|x| x.1 *= scaling as f32);
    w
}

impl<B: Backend> Moe<B> {
    /// Routes every token and sums expert outputs.
    pub fn forward(&self, x: Tensor<B, 3>) -> Result<Tensor<B, 3>> {
        let [b, t, d] = x.dims();
        let n = b * t;
        let device = x.device();
        let flat = x.clone().reshape([n, d]);
        let n_exp = self.experts.len();
        let logits = host_f32(flat.clone().matmul(self.gate.val()), "moe router logits")?;
        let bias = host_f32(self.bias.val(), "moe selection bias")?;
        if bias.len() != n_exp || logits.len() != n * n_exp {
            return Err(InferenceError::InputShape {
                what: "moe router (logits, bias)".into(),
                expected: vec![n * n_exp, n_exp],
                found: vec![logits.len(), bias.len()],
            });
        }
        let mut assigned: Vec<(Vec<i64>, Vec<f32>)> = vec![(vec![], vec![]); n_exp];
        for tok in 0..n {
            let row = &logits[tok * n_exp..(tok + 1) * n_exp];
            for (e, w) in route(
                row,
                &bias,
                self.top_k,
                self.n_group,
                self.topk_group,
                self.norm_topk_prob,
                self.scaling,
            ) {
                assigned[e].0.push(tok as i64);
                assigned[e].1.push(w);
            }
        }
        let mut out = Tensor::<B, 2>::zeros([n, d], &device);
        for (expert, (idx, w)) in self.experts.iter().zip(assigned) {
            if idx.is_empty() {
                continue;
            }
            let m = idx.len();
            let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [m]), &device);
            let w = Tensor::<B, 2>::from_data(TensorData::new(w, [m, 1]), &device);
            let y = expert
                .forward(flat.clone().select(0, idx.clone()).reshape([1, m, d]))?
                .reshape([m, d])
                .mul(w);
            out = out.select_assign(0, idx, y, IndexingUpdateOp::Add);
        }
        let out = out.reshape([b, t, d]);
        Ok(match &self.shared {
            Some(s) => out.add(s.forward(x)?),
            None => out,
        })
    }
}

/// Rotary tables in the Hugging Face rotate-half layout: `cos`/`sin` are
/// `[max_pos, head_dim]` with the frequency vector repeated twice.
#[derive(Module, Debug)]
pub struct Rotary<B: Backend> {
    /// cos table.
    pub cos: Tensor<B, 2>,
    /// sin table.
    pub sin: Tensor<B, 2>,
}

impl<B: Backend> Rotary<B> {
    /// Builds tables for `max_pos` positions from per-pair inverse frequencies, with
    /// cos and sin multiplied by `scale` (YaRN's magnitude correction; 1 otherwise).
    pub fn new(inv_freq: &[f64], max_pos: usize, scale: f64, device: &B::Device) -> Self {
        let head_dim = inv_freq.len() * 2;
        let mut cos = Vec::with_capacity(max_pos * head_dim);
        let mut sin = Vec::with_capacity(max_pos * head_dim);
        for p in 0..max_pos {
            for _ in 0..2 {
                for &inv in inv_freq {
                    let a = p as f64 * inv;
                    cos.push((a.cos() * scale) as f32);
                    sin.push((a.sin() * scale) as f32);
                }
            }
        }
        Self {
            cos: Tensor::from_data(TensorData::new(cos, [max_pos, head_dim]), device),
            sin: Tensor::from_data(TensorData::new(sin, [max_pos, head_dim]), device),
        }
    }

    /// Applies rotary to `x: [b, h, t, d]` with per-token positions `[b, t]`.
    pub fn apply(&self, x: Tensor<B, 4>, cos: Tensor<B, 4>, sin: Tensor<B, 4>) -> Tensor<B, 4> {
        let [b, h, t, d] = x.dims();
        let half = d / 2;
        let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..half]);
        let x2 = x.clone().slice([0..b, 0..h, 0..t, half..d]);
        let rot = Tensor::cat(vec![x2.neg(), x1], 3);
        x.mul(cos).add(rot.mul(sin))
    }

    /// Gathers `[b, 1, t, d]` cos and sin tables for the given positions.
    pub fn tables(
        &self,
        positions: &[Vec<usize>],
        device: &B::Device,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let b = positions.len();
        let t = positions.first().map_or(0, Vec::len);
        let flat: Vec<i64> = positions.iter().flatten().map(|&p| p as i64).collect();
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(flat, [b * t]), device);
        let d = self.cos.dims()[1];
        let cos = self
            .cos
            .clone()
            .select(0, idx.clone())
            .reshape([b, 1, t, d]);
        let sin = self.sin.clone().select(0, idx).reshape([b, 1, t, d]);
        (cos, sin)
    }
}

/// Key/value cache of one layer: `[b, kv_heads, len, head_dim]`.
#[derive(Debug, Clone)]
pub struct LayerCache<B: Backend> {
    /// Keys.
    pub k: Tensor<B, 4>,
    /// Values.
    pub v: Tensor<B, 4>,
}

/// KV cache for a batch of sequences that share one (left-padded) timeline.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    /// Per-layer caches (None before the first forward).
    pub layers: Vec<Option<LayerCache<B>>>,
    /// Per-layer host-side caches of the quantized CPU path (see [`HostKv`]).
    pub host: Vec<Option<HostKv>>,
    /// Number of cached slots (including padding).
    pub len: usize,
    /// Per-sequence count of left-padding slots.
    pub pad: Vec<usize>,
}

impl<B: Backend> KvCache<B> {
    /// Empty cache for `n_layers` layers and the given left padding per sequence.
    pub fn new(n_layers: usize, pad: Vec<usize>) -> Self {
        Self {
            layers: vec![None; n_layers],
            host: vec![None; n_layers],
            len: 0,
            pad,
        }
    }
}

/// Keys and values of one layer on the host, for the quantized CPU path: one
/// growing `[len, head_dim]` buffer per (sequence, kv head), so a decode step
/// appends one row instead of copying the whole cache (`Tensor::cat`), and
/// attention for a single new token runs directly over it.
#[derive(Debug, Clone, Default)]
pub struct HostKv {
    /// Keys per `b * kv_heads + head`.
    pub k: Vec<Vec<f32>>,
    /// Values per `b * kv_heads + head`.
    pub v: Vec<Vec<f32>>,
    /// Filled positions.
    pub len: usize,
}

/// Dot product with eight independent partial sums (vectorizes; a single f32
/// running sum cannot be reordered by the compiler and runs one add at a time).
fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, ra) = a.as_chunks::<8>();
    let (cb, rb) = b.as_chunks::<8>();
    for (x, y) in ca.iter().zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

impl HostKv {
    /// Appends `k`, `v` (`[groups, t, head_dim]`, flattened; `groups` = `b * kv_heads`).
    pub fn append(&mut self, groups: usize, t: usize, hd: usize, k: &[f32], v: &[f32]) {
        self.k.resize_with(groups, Vec::new);
        self.v.resize_with(groups, Vec::new);
        for g in 0..groups {
            self.k[g].extend_from_slice(&k[g * t * hd..(g + 1) * t * hd]);
            self.v[g].extend_from_slice(&v[g * t * hd..(g + 1) * t * hd]);
        }
        self.len += t;
    }

    /// The cache as `[b, kv_heads, len, head_dim]` tensors.
    fn tensors<B: Backend>(
        &self,
        b: usize,
        kvh: usize,
        hd: usize,
        device: &B::Device,
    ) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let shape = [b, kvh, self.len, hd];
        (
            Tensor::from_data(TensorData::new(self.k.concat(), shape), device),
            Tensor::from_data(TensorData::new(self.v.concat(), shape), device),
        )
    }

    /// Attention of one new query per head (`q`: `[b, h, head_dim]`, flattened)
    /// over the cache, query head `i` reading kv head `i / (h / kv_heads)`;
    /// `mask` (`[b, len]`, additive) hides padding. Returns `[b, h * head_dim]`.
    pub fn attend_one(
        &self,
        q: &[f32],
        b: usize,
        h: usize,
        kvh: usize,
        hd: usize,
        mask: Option<&[f32]>,
    ) -> Vec<f32> {
        use rayon::prelude::*;
        let scale = 1.0 / (hd as f32).sqrt();
        let rep = h / kvh;
        let len = self.len;
        let mut out = vec![0.0f32; b * h * hd];
        out.par_chunks_mut(hd).enumerate().for_each(|(bh, o)| {
            let (bi, hi) = (bh / h, bh % h);
            let g = bi * kvh + hi / rep;
            let qv = &q[bh * hd..(bh + 1) * hd];
            let (ks, vs) = (&self.k[g], &self.v[g]);
            let mut scores: Vec<f32> = ks.chunks_exact(hd).map(|kr| dot8(kr, qv) * scale).collect();
            if let Some(m) = mask {
                scores
                    .iter_mut()
                    .zip(&m[bi * len..(bi + 1) * len])
                    .for_each(|(s, m)| *s += m);
            }
            let max = scores.iter().fold(f32::NEG_INFINITY, |a, &s| a.max(s));
            let mut sum = 0.0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            let inv = 1.0 / sum;
            for (p, vr) in scores.iter().zip(vs.chunks_exact(hd)) {
                let w = p * inv;
                o.iter_mut().zip(vr).for_each(|(o, v)| *o += w * v);
            }
        });
        out
    }
}

impl<B: Backend> Attention<B> {
    // The per-call pieces a layer needs (input, rotary tables, mask, two caches);
    // bundling them would only move the same list into a struct.
    #[allow(clippy::too_many_arguments)]
    fn forward(
        &self,
        x: Tensor<B, 3>,
        rotary: &Rotary<B>,
        cos: Tensor<B, 4>,
        sin: Tensor<B, 4>,
        mask: Option<Tensor<B, 4>>,
        cache: &mut Option<LayerCache<B>>,
        host: Option<&mut Option<HostKv>>,
    ) -> Result<Tensor<B, 3>> {
        let [b, t, _] = x.dims();
        let (h, kvh, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let (qd, kvd) = (h * hd, kvh * hd);
        let qkv = lin(&self.qkv_proj, x)?;
        // Queries and keys side by side get their rotary in one pass.
        let qk = qkv
            .clone()
            .slice([0..b, 0..t, 0..qd + kvd])
            .reshape([b, t, h + kvh, hd])
            .swap_dims(1, 2);
        let qk = rotary.apply(qk, cos, sin);
        let q = qk.clone().slice([0..b, 0..h, 0..t, 0..hd]);
        let k = qk.slice([0..b, h..h + kvh, 0..t, 0..hd]);
        let v = qkv
            .slice([0..b, 0..t, qd + kvd..qd + 2 * kvd])
            .reshape([b, t, kvh, hd])
            .swap_dims(1, 2);
        let (k, v) = match host {
            Some(slot) => {
                let device = k.device();
                let hc = slot.get_or_insert_with(HostKv::default);
                hc.append(
                    b * kvh,
                    t,
                    hd,
                    &host_f32(k.clone(), "attention keys")?,
                    &host_f32(v.clone(), "attention values")?,
                );
                if t == 1 {
                    let mask = mask.map(|m| host_f32(m, "attention mask")).transpose()?;
                    let q = host_f32(q, "attention queries")?;
                    let out = hc.attend_one(&q, b, h, kvh, hd, mask.as_deref());
                    let out = Tensor::from_data(TensorData::new(out, [b, 1, h * hd]), &device);
                    return lin(&self.o_proj, out);
                }
                if hc.len == t {
                    (k, v)
                } else {
                    hc.tensors::<B>(b, kvh, hd, &device)
                }
            }
            None => {
                let (k, v) = match cache.take() {
                    Some(c) => (Tensor::cat(vec![c.k, k], 2), Tensor::cat(vec![c.v, v], 2)),
                    None => (k, v),
                };
                *cache = Some(LayerCache {
                    k: k.clone(),
                    v: v.clone(),
                });
                (k, v)
            }
        };
        let s = k.dims()[2];
        let rep = h / kvh;
        // Group query heads by their kv head: [b, kvh, rep * t, hd].
        let q = q.reshape([b, kvh, rep * t, hd]);
        let scale = 1.0 / (hd as f64).sqrt();
        let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
        let scores = match mask {
            Some(m) => {
                let m =
                    m.unsqueeze_dim::<5>(2)
                        .expand([b, 1, rep, t, s])
                        .reshape([b, 1, rep * t, s]);
                scores.add(m)
            }
            None => scores,
        };
        let probs = softmax(scores, 3);
        let out = probs
            .matmul(v)
            .reshape([b, h, t, hd])
            .swap_dims(1, 2)
            .reshape([b, t, h * hd]);
        lin(&self.o_proj, out)
    }
}

/// The full decoder.
#[derive(Module, Debug)]
pub struct Transformer<B: Backend> {
    /// Token embedding `[vocab, d]`.
    pub embed_tokens: Param<Tensor<B, 2>>,
    /// Decoder layers.
    pub layers: Vec<DecoderLayer<B>>,
    /// Final norm.
    pub norm: RmsNorm<B>,
    /// LM head (a transposed copy of the embedding when tied).
    pub lm_head: Lin<B>,
    /// Rotary tables.
    pub rotary: Rotary<B>,
    /// Whether layers with quantized (CPU) projections keep their KV cache on the
    /// host and attend single decode steps there (see [`HostKv`]); on by default.
    #[module(skip)]
    pub host_attention: bool,
}

/// What a forward pass returns.
#[derive(Debug, Clone)]
pub struct ForwardOutput<B: Backend> {
    /// Logits `[b, t_out, vocab]` (`t_out` is 1 unless all positions were requested).
    pub logits: Tensor<B, 3>,
    /// Residual stream after the embedding and after every layer (`num_layers + 1`
    /// tensors of `[b, t, d]`), when requested.
    pub hidden_states: Option<Vec<Tensor<B, 3>>>,
    /// Hidden state of every position after the final RMSNorm, the input of the LM
    /// head (`[b, t, d]`, all positions even when the logits are the last one's only),
    /// when requested with [`ForwardOptions::final_hidden`].
    pub final_hidden: Option<Tensor<B, 3>>,
}

/// Forward options.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForwardOptions {
    /// Return logits for all positions instead of only the last one.
    pub all_logits: bool,
    /// Collect per-layer hidden states.
    pub hidden_states: bool,
    /// Return the final-norm hidden state of every position
    /// ([`ForwardOutput::final_hidden`]).
    pub final_hidden: bool,
}

/// What a teacher-forced pass over one sequence returns (see
/// [`Transformer::teacher_forced`]).
#[derive(Debug, Clone)]
pub struct TeacherForced<B: Backend> {
    /// Logits `[seq, vocab]`: row `i` scores the token that follows position `i`.
    pub logits: Tensor<B, 2>,
    /// Hidden states after the final RMSNorm (the LM head's input), `[seq, d_model]`.
    pub final_hidden: Tensor<B, 2>,
}

fn linear<B: Backend>(
    w: HostTensor,
    bias: Option<HostTensor>,
    device: &B::Device,
) -> Result<Lin<B>> {
    Ok(Lin::Dense(dense_linear(w, bias, device)?))
}

/// Checks that `t` is `[rows, cols]` with `rows * cols` values and returns the
/// dimensions.
fn matrix_dims(t: &HostTensor, what: &str) -> Result<(usize, usize)> {
    match t.shape[..] {
        [rows, cols] if t.data.len() == rows * cols => Ok((rows, cols)),
        _ => Err(InferenceError::InputShape {
            what: format!("{what} (a matrix)"),
            expected: vec![t.shape.iter().product()],
            found: vec![t.data.len()],
        }),
    }
}

fn dense_linear<B: Backend>(
    w: HostTensor,
    bias: Option<HostTensor>,
    device: &B::Device,
) -> Result<Linear<B>> {
    // HF stores [out, in]; burn's Linear wants [in, out].
    let (out, inp) = matrix_dims(&w, "linear weight")?;
    if let Some(b) = &bias
        && b.data.len() != out
    {
        return Err(InferenceError::InputShape {
            what: "linear bias".into(),
            expected: vec![out],
            found: b.shape.clone(),
        });
    }
    let mut t = vec![0.0f32; w.data.len()];
    for o in 0..out {
        for i in 0..inp {
            t[i * out + o] = w.data[o * inp + i];
        }
    }
    Ok(Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(t, [inp, out]), device)),
        bias: bias
            .map(|b| Param::from_tensor(Tensor::from_data(TensorData::new(b.data, [out]), device))),
    })
}

/// Concatenates `[rows_i, cols]` (or `[rows_i]`) host tensors along the rows; the
/// parts must agree on every dimension but the first.
fn stack_rows(parts: Vec<HostTensor>) -> Result<HostTensor> {
    let Some((_, inner)) = parts.first().and_then(|p| p.shape.split_first()) else {
        return Err(InferenceError::InvalidRequest(
            "stacking needs at least one tensor of rank 1 or more".into(),
        ));
    };
    let inner = inner.to_vec();
    let row_len: usize = inner.iter().product();
    let mut rows = 0;
    for p in &parts {
        let (r, tail) = p.shape.split_first().map_or((0, &[][..]), |(r, t)| (*r, t));
        if p.shape.is_empty() || tail != inner {
            return Err(InferenceError::InputShape {
                what: "trailing dimensions of a stacked weight".into(),
                expected: inner,
                found: tail.to_vec(),
            });
        }
        if p.data.len() != r * row_len {
            return Err(InferenceError::InputShape {
                what: "values of a stacked weight".into(),
                expected: vec![r * row_len],
                found: vec![p.data.len()],
            });
        }
        rows += r;
    }
    let shape = [vec![rows], inner].concat();
    let data = parts.into_iter().flat_map(|p| p.data).collect();
    Ok(HostTensor { shape, data })
}

fn vector<B: Backend>(t: HostTensor, device: &B::Device) -> Param<Tensor<B, 1>> {
    let n = t.data.len();
    Param::from_tensor(Tensor::from_data(TensorData::new(t.data, [n]), device))
}

fn load_norm<B: Backend>(
    src: &mut dyn WeightSource,
    name: &str,
    d: usize,
    eps: f64,
    device: &B::Device,
) -> Result<RmsNorm<B>> {
    Ok(RmsNorm {
        weight: vector(src.require(name, &[d])?, device),
        eps,
    })
}

/// Loads the weights `parts` (`(name, rows)`, each `[rows, inp]`) stacked by rows as one
/// linear layer. With [`WeightPrecision::Quant`] the stored blocks are used when every
/// part has a kernel format; anything else loads as f32 (converted later by
/// [`cast_linear`]).
fn load_stacked<B: Backend>(
    src: &mut dyn WeightSource,
    parts: &[(String, usize)],
    inp: usize,
    bias: Option<HostTensor>,
    precision: WeightPrecision,
    device: &B::Device,
) -> Result<Lin<B>> {
    if precision == WeightPrecision::Quant {
        let mut ms = Vec::with_capacity(parts.len());
        for (name, rows) in parts {
            match src.load_quant(name)? {
                Some(m) if m.rows() == *rows && m.cols() == inp => ms.push(m),
                Some(m) => {
                    return Err(InferenceError::ShapeMismatch {
                        tensor: name.clone(),
                        expected: vec![*rows, inp],
                        found: vec![m.rows(), m.cols()],
                    });
                }
                None => break,
            }
        }
        if ms.len() == parts.len() {
            return Ok(Lin::from_quant(QLinear::new(ms)?, bias, device));
        }
    }
    let ws = parts
        .iter()
        .map(|(name, rows)| src.require(name, &[*rows, inp]))
        .collect::<Result<Vec<_>>>()?;
    linear(stack_rows(ws)?, bias, device)
}

fn load_linear<B: Backend>(
    src: &mut dyn WeightSource,
    name: &str,
    out: usize,
    inp: usize,
    precision: WeightPrecision,
    device: &B::Device,
) -> Result<Lin<B>> {
    load_stacked(
        src,
        &[(name.to_string(), out)],
        inp,
        None,
        precision,
        device,
    )
}

fn load_mlp<B: Backend>(
    src: &mut dyn WeightSource,
    prefix: &str,
    d: usize,
    ff: usize,
    precision: WeightPrecision,
    device: &B::Device,
) -> Result<Mlp<B>> {
    let gate_up = [
        (format!("{prefix}.gate_proj.weight"), ff),
        (format!("{prefix}.up_proj.weight"), ff),
    ];
    Ok(Mlp {
        gate_up_proj: load_stacked(src, &gate_up, d, None, precision, device)?,
        down_proj: load_linear(
            src,
            &format!("{prefix}.down_proj.weight"),
            d,
            ff,
            precision,
            device,
        )?,
    })
}

fn load_gqa<B: Backend>(
    cfg: &ModelConfig,
    src: &mut dyn WeightSource,
    i: usize,
    precision: WeightPrecision,
    device: &B::Device,
) -> Result<Attention<B>> {
    let (d, hd) = (cfg.hidden_size, cfg.head_dim);
    let (qd, kvd) = (cfg.num_heads * hd, cfg.num_kv_heads * hd);
    let p = |s: &str| format!("layers.{i}.self_attn.{s}");
    let parts = [("q_proj", qd), ("k_proj", kvd), ("v_proj", kvd)];
    let bias = if cfg.attention_bias {
        let bs = parts
            .iter()
            .map(|(n, out)| src.require(&p(&format!("{n}.bias")), &[*out]))
            .collect::<Result<Vec<_>>>()?;
        Some(stack_rows(bs)?)
    } else {
        None
    };
    let weights: Vec<(String, usize)> = parts
        .iter()
        .map(|(n, out)| (p(&format!("{n}.weight")), *out))
        .collect();
    Ok(Attention {
        qkv_proj: load_stacked(src, &weights, d, bias, precision, device)?,
        o_proj: load_linear(src, &p("o_proj.weight"), d, qd, precision, device)?,
        num_heads: cfg.num_heads,
        num_kv_heads: cfg.num_kv_heads,
        head_dim: hd,
    })
}

/// DeepSeek's rotary pairs interleaved dimensions (2i, 2i+1); reordering the rows
/// that produce the rotary part to (evens, odds) lets the rotate-half code apply.
/// `w` must be a matrix holding rows `start..start + rope`, `rope` even.
fn deinterleave_rows(w: &mut HostTensor, start: usize, rope: usize) -> Result<()> {
    let (rows, cols) = matrix_dims(w, "rotary projection weight")?;
    if !rope.is_multiple_of(2) || start + rope > rows {
        return Err(InferenceError::InputShape {
            what: format!("rotary rows {start}..{} of a projection", start + rope),
            expected: vec![start + rope, cols],
            found: w.shape.clone(),
        });
    }
    let block: Vec<f32> = w.data[start * cols..(start + rope) * cols].to_vec();
    for j in 0..rope {
        let src = if j < rope / 2 {
            2 * j
        } else {
            2 * (j - rope / 2) + 1
        };
        w.data[(start + j) * cols..(start + j + 1) * cols]
            .copy_from_slice(&block[src * cols..(src + 1) * cols]);
    }
    Ok(())
}

fn load_mla<B: Backend>(
    cfg: &ModelConfig,
    m: &MlaConfig,
    src: &mut dyn WeightSource,
    i: usize,
    precision: WeightPrecision,
    device: &B::Device,
) -> Result<MlaAttention<B>> {
    let d = cfg.hidden_size;
    let h = cfg.num_heads;
    let (nope, rope, vd, r) = (
        m.qk_nope_head_dim,
        m.qk_rope_head_dim,
        m.v_head_dim,
        m.kv_lora_rank,
    );
    let qh = nope + rope;
    let p = |s: &str| format!("layers.{i}.self_attn.{s}");
    let fix_q = |mut w: HostTensor| -> Result<HostTensor> {
        for head in 0..h {
            deinterleave_rows(&mut w, head * qh + nope, rope)?;
        }
        Ok(w)
    };
    let q = match m.q_lora_rank {
        None => MlaQuery::Direct(linear(
            fix_q(src.require(&p("q_proj.weight"), &[h * qh, d])?)?,
            None,
            device,
        )?),
        Some(qr) => MlaQuery::LowRank(LowRankQuery {
            q_a_proj: load_linear(src, &p("q_a_proj.weight"), qr, d, precision, device)?,
            q_a_layernorm: load_norm(
                src,
                &p("q_a_layernorm.weight"),
                qr,
                cfg.rms_norm_eps,
                device,
            )?,
            q_b_proj: linear(
                fix_q(src.require(&p("q_b_proj.weight"), &[h * qh, qr])?)?,
                None,
                device,
            )?,
        }),
    };
    let mut kv_a = src.require(&p("kv_a_proj_with_mqa.weight"), &[r + rope, d])?;
    deinterleave_rows(&mut kv_a, r, rope)?;
    Ok(MlaAttention {
        q,
        kv_a_proj_with_mqa: linear(kv_a, None, device)?,
        kv_a_layernorm: load_norm(
            src,
            &p("kv_a_layernorm.weight"),
            r,
            cfg.rms_norm_eps,
            device,
        )?,
        kv_b_proj: load_linear(
            src,
            &p("kv_b_proj.weight"),
            h * (nope + vd),
            r,
            precision,
            device,
        )?,
        o_proj: load_linear(src, &p("o_proj.weight"), d, h * vd, precision, device)?,
        num_heads: h,
        nope,
        rope,
        v_dim: vd,
        rank: r,
        scale: m.softmax_scale,
    })
}

fn load_moe<B: Backend>(
    cfg: &ModelConfig,
    m: &MoeConfig,
    src: &mut dyn WeightSource,
    i: usize,
    precision: WeightPrecision,
    device: &B::Device,
) -> Result<Moe<B>> {
    let d = cfg.hidden_size;
    let e = m.n_routed_experts;
    let p = |s: &str| format!("layers.{i}.mlp.{s}");
    let gate = dense_linear::<B>(src.require(&p("gate.weight"), &[e, d])?, None, device)?.weight;
    let bias = match src.load(&p("gate.e_score_correction_bias"))? {
        Some(b) if b.shape == [e] => vector(b, device),
        Some(b) => {
            return Err(InferenceError::ShapeMismatch {
                tensor: p("gate.e_score_correction_bias"),
                expected: vec![e],
                found: b.shape,
            });
        }
        None => vector(
            HostTensor {
                shape: vec![e],
                data: vec![0.0; e],
            },
            device,
        ),
    };
    let experts = (0..e)
        .map(|j| {
            load_mlp(
                src,
                &p(&format!("experts.{j}")),
                d,
                m.moe_intermediate_size,
                precision,
                device,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let shared = if m.n_shared_experts > 0 {
        Some(load_mlp(
            src,
            &p("shared_experts"),
            d,
            m.moe_intermediate_size * m.n_shared_experts,
            precision,
            device,
        )?)
    } else {
        None
    };
    Ok(Moe {
        gate,
        bias,
        experts,
        shared,
        top_k: m.num_experts_per_tok,
        n_group: m.n_group,
        topk_group: m.topk_group,
        norm_topk_prob: m.norm_topk_prob,
        scaling: m.routed_scaling_factor,
    })
}

impl<B: Backend> Transformer<B> {
    /// Builds the model from a weight source, checking every shape against `cfg`.
    pub fn load(cfg: &ModelConfig, src: &mut dyn WeightSource, device: &B::Device) -> Result<Self> {
        Self::load_with_progress(cfg, src, device, &mut |_, _| {})
    }

    /// Like [`Transformer::load`], calling `progress(done_layers, total_layers)`.
    pub fn load_with_progress(
        cfg: &ModelConfig,
        src: &mut dyn WeightSource,
        device: &B::Device,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        Self::load_with_options(cfg, src, device, WeightPrecision::F32, progress)
    }

    /// Like [`Transformer::load_with_progress`], storing linear weights in `precision`
    /// (converted layer by layer, so f32 copies of only one layer exist at a time).
    pub fn load_with_options(
        cfg: &ModelConfig,
        src: &mut dyn WeightSource,
        device: &B::Device,
        precision: WeightPrecision,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        let d = cfg.hidden_size;
        let emb = src.require("embed_tokens.weight", &[cfg.vocab_size, d])?;
        let mut layers = Vec::with_capacity(cfg.num_layers);
        for i in 0..cfg.num_layers {
            let p = |s: &str| format!("layers.{i}.{s}");
            let self_attn = match &cfg.mla {
                None => SelfAttention::Gqa(load_gqa(cfg, src, i, precision, device)?),
                Some(m) => SelfAttention::Mla(load_mla(cfg, m, src, i, precision, device)?),
            };
            let mlp = match &cfg.moe {
                Some(m) if m.is_moe_layer(i) => {
                    FeedForward::Moe(load_moe(cfg, m, src, i, precision, device)?)
                }
                _ => FeedForward::Dense(load_mlp(
                    src,
                    &p("mlp"),
                    d,
                    cfg.intermediate_size,
                    precision,
                    device,
                )?),
            };
            let mut layer = DecoderLayer {
                input_layernorm: load_norm(
                    src,
                    &p("input_layernorm.weight"),
                    d,
                    cfg.rms_norm_eps,
                    device,
                )?,
                self_attn,
                post_attention_layernorm: load_norm(
                    src,
                    &p("post_attention_layernorm.weight"),
                    d,
                    cfg.rms_norm_eps,
                    device,
                )?,
                mlp,
            };
            layer.cast_linears(precision)?;
            layers.push(layer);
            progress(i + 1, cfg.num_layers);
        }
        let norm = RmsNorm {
            weight: vector(src.require("norm.weight", &[d])?, device),
            eps: cfg.rms_norm_eps,
        };
        // The head's weight and the name its stored blocks have (the embedding's
        // when tied).
        let (head, head_name) = match src.load("lm_head.weight")? {
            Some(h) if !cfg.tie_word_embeddings || h.shape == [cfg.vocab_size, d] => {
                if h.shape != [cfg.vocab_size, d] {
                    return Err(InferenceError::ShapeMismatch {
                        tensor: "lm_head.weight".into(),
                        expected: vec![cfg.vocab_size, d],
                        found: h.shape,
                    });
                }
                (h, "lm_head.weight")
            }
            _ if cfg.tie_word_embeddings => (emb.clone(), "embed_tokens.weight"),
            _ => return Err(InferenceError::MissingTensor("lm_head.weight".into())),
        };
        // The stored blocks of the head (or of the tied embedding) when quantizing.
        let qhead = match precision {
            WeightPrecision::Quant => match src.load_quant(head_name)? {
                Some(q) if q.rows() == cfg.vocab_size && q.cols() == d => Some(q),
                Some(q) => {
                    return Err(InferenceError::ShapeMismatch {
                        tensor: head_name.into(),
                        expected: vec![cfg.vocab_size, d],
                        found: vec![q.rows(), q.cols()],
                    });
                }
                None => None,
            },
            WeightPrecision::F32 | WeightPrecision::F16 => None,
        };
        let mut lm_head = match qhead {
            Some(q) => Lin::from_quant(QLinear::new(vec![q])?, None, device),
            None => linear(head, None, device)?,
        };
        cast_linear(&mut lm_head, precision)?;
        let embed_tokens = Param::from_tensor(Tensor::from_data(
            TensorData::new(emb.data, [cfg.vocab_size, d]),
            device,
        ));
        let mut inv_freq = cfg.inv_freq();
        // llama.cpp stores Llama-3 rope scaling as per-pair frequency divisors.
        if let Some(f) = src.load("rope_freqs.weight")? {
            if f.data.len() != inv_freq.len() {
                return Err(InferenceError::ShapeMismatch {
                    tensor: "rope_freqs.weight".into(),
                    expected: vec![inv_freq.len()],
                    found: f.shape,
                });
            }
            inv_freq
                .iter_mut()
                .zip(&f.data)
                .for_each(|(x, d)| *x /= f64::from(*d));
        }
        Ok(Self {
            embed_tokens,
            layers,
            norm,
            lm_head,
            rotary: Rotary::new(
                &inv_freq,
                cfg.max_position_embeddings,
                cfg.rotary_scale(),
                device,
            ),
            host_attention: true,
        })
    }

    /// Bytes of all linear-layer weights (what one batch-1 decode step reads, apart
    /// from one embedding row, the norms and the KV cache; the routed experts of MoE
    /// layers are not counted).
    pub fn linear_weight_bytes(&self) -> usize {
        self.layers
            .iter()
            .flat_map(DecoderLayer::always_read_linears)
            .chain([&self.lm_head])
            .map(Lin::weight_bytes)
            .sum()
    }

    /// Maximum sequence length supported by the rotary table.
    pub fn max_len(&self) -> usize {
        self.rotary.cos.dims()[0]
    }

    /// Runs `tokens` (`[b][t]`, same `t` for all rows) through the model, appending to
    /// `cache`. Row `i`'s first `cache.pad[i]` slots are padding and never attended.
    ///
    /// The pass runs on a thread of the rayon pool, so the parallel products inside
    /// it start on the calling worker at once instead of handing every product to
    /// the pool and sleeping until it is done (two thread wake-ups per product).
    pub fn forward(
        &self,
        tokens: &[Vec<u32>],
        cache: &mut KvCache<B>,
        opts: ForwardOptions,
    ) -> Result<ForwardOutput<B>> {
        rayon::scope(|_| self.forward_on_pool(tokens, Some(cache), opts))
    }

    /// Runs `tokens` (`[b][t]`, same `t` for all rows, no padding) from position 0
    /// without a KV cache: nothing is kept for later steps. Gives the same results
    /// as [`Transformer::forward`] on an empty cache.
    pub fn forward_uncached(
        &self,
        tokens: &[Vec<u32>],
        opts: ForwardOptions,
    ) -> Result<ForwardOutput<B>> {
        rayon::scope(|_| self.forward_on_pool(tokens, None, opts))
    }

    /// Teacher forcing: runs a whole sequence (prompt followed by output) in one
    /// pass without a cache and returns the logits and final-norm hidden state of
    /// every position. Row `i` of the logits is what a decode with a KV cache
    /// computes after position `i`; for `i >= prompt_len - 1` it is the distribution
    /// the output token at `i + 1` was sampled from.
    pub fn teacher_forced(&self, tokens: &[u32]) -> Result<TeacherForced<B>> {
        let opts = ForwardOptions {
            all_logits: true,
            hidden_states: false,
            final_hidden: true,
        };
        let out = self.forward_uncached(&[tokens.to_vec()], opts)?;
        let [_, seq, vocab] = out.logits.dims();
        let final_hidden = out
            .final_hidden
            .expect("forward returns final_hidden when asked to");
        let d = final_hidden.dims()[2];
        Ok(TeacherForced {
            logits: out.logits.reshape([seq, vocab]),
            final_hidden: final_hidden.reshape([seq, d]),
        })
    }

    fn forward_on_pool(
        &self,
        tokens: &[Vec<u32>],
        mut cache: Option<&mut KvCache<B>>,
        opts: ForwardOptions,
    ) -> Result<ForwardOutput<B>> {
        let device = self.embed_tokens.val().device();
        let b = tokens.len();
        let t = tokens.first().map_or(0, Vec::len);
        let n_layers = self.layers.len();
        if b == 0
            || t == 0
            || tokens.iter().any(|r| r.len() != t)
            || cache.as_ref().is_some_and(|c| c.pad.len() != b)
        {
            return Err(InferenceError::InvalidRequest(
                "forward needs a non-empty rectangular batch matching the cache".into(),
            ));
        }
        if let Some(c) = &cache
            && (c.layers.len() != n_layers || c.host.len() != n_layers)
        {
            return Err(InferenceError::InputShape {
                what: "kv cache layers (device, host)".into(),
                expected: vec![n_layers, n_layers],
                found: vec![c.layers.len(), c.host.len()],
            });
        }
        let (past, pad) = match &cache {
            Some(c) => (c.len, c.pad.clone()),
            None => (0, vec![0; b]),
        };
        let total = past + t;
        if total > self.max_len() {
            return Err(InferenceError::InvalidRequest(format!(
                "sequence length {total} exceeds the model maximum {}",
                self.max_len()
            )));
        }
        let vocab = self.embed_tokens.val().dims()[0];
        let flat: Vec<i64> = tokens.iter().flatten().map(|&x| i64::from(x)).collect();
        if let Some(bad) = flat.iter().find(|&&x| x as usize >= vocab) {
            return Err(InferenceError::InvalidRequest(format!(
                "token id {bad} >= vocab {vocab}"
            )));
        }
        let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(flat, [b * t]), &device);
        let d = self.embed_tokens.val().dims()[1];
        let mut x = self.embed_tokens.val().select(0, ids).reshape([b, t, d]);
        // Positions skip the padding; the mask hides padding and the future.
        let positions: Vec<Vec<usize>> = pad
            .iter()
            .map(|&p| (past..total).map(|s| s.saturating_sub(p)).collect())
            .collect();
        let (cos, sin) = self.rotary.tables(&positions, &device);
        let mut mask = vec![0.0f32; b * t * total];
        let mut masked = false;
        for (i, &p) in pad.iter().enumerate() {
            for q in 0..t {
                for s in 0..total {
                    // A padding query attends to itself only, so its row stays finite.
                    if s > past + q || (s < p && s != past + q) {
                        mask[(i * t + q) * total + s] = f32::NEG_INFINITY;
                        masked = true;
                    }
                }
            }
        }
        // A single decode step without padding attends to everything: no mask needed.
        let mask = masked
            .then(|| Tensor::<B, 4>::from_data(TensorData::new(mask, [b, 1, t, total]), &device));
        let mut hidden = opts.hidden_states.then(Vec::new);
        if let Some(hs) = hidden.as_mut() {
            hs.push(x.clone());
        }
        // Without a cache each layer's keys and values live in `scratch` only while
        // the layer runs.
        let mut scratch: Vec<Option<LayerCache<B>>> = Vec::new();
        let (layer_caches, mut host_caches) = match cache.as_deref_mut() {
            Some(c) => (&mut c.layers[..], Some(&mut c.host[..])),
            None => {
                scratch.resize(n_layers, None);
                (&mut scratch[..], None)
            }
        };
        for (i, (layer, lc)) in self.layers.iter().zip(layer_caches.iter_mut()).enumerate() {
            let h = layer.input_layernorm.forward(x.clone());
            let (c, sn, mk) = (cos.clone(), sin.clone(), mask.clone());
            let a = match &layer.self_attn {
                SelfAttention::Gqa(att) => {
                    let host = host_caches
                        .as_deref_mut()
                        .filter(|_| self.host_attention && att.qkv_proj.is_quantized())
                        .map(|hc| &mut hc[i]);
                    att.forward(h, &self.rotary, c, sn, mk, lc, host)?
                }
                SelfAttention::Mla(mla) => mla.forward(h, &self.rotary, c, sn, mk, lc)?,
            };
            if host_caches.is_none() {
                *lc = None;
            }
            x = x.add(a);
            let h = layer.post_attention_layernorm.forward(x.clone());
            x = x.add(layer.mlp.forward(h)?);
            if let Some(hs) = hidden.as_mut() {
                hs.push(x.clone());
            }
        }
        if let Some(c) = cache {
            c.len = total;
        }
        // The final norm is per position: normalizing all positions and keeping the
        // last equals normalizing the last.
        let last = |x: Tensor<B, 3>| {
            if opts.all_logits {
                x
            } else {
                x.slice([0..b, t - 1..t, 0..d])
            }
        };
        let (logits, final_hidden) = if opts.final_hidden {
            let normed = self.norm.forward(x);
            (lin(&self.lm_head, last(normed.clone()))?, Some(normed))
        } else {
            (lin(&self.lm_head, self.norm.forward(last(x)))?, None)
        };
        Ok(ForwardOutput {
            logits,
            hidden_states: hidden,
            final_hidden,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;
    use crate::quant::tests::lcg;

    fn input(dims: [usize; 3], seed: u64) -> Tensor<Cpu, 3> {
        let n = dims.iter().product();
        Tensor::from_data(
            TensorData::new(lcg(seed, n, 2.0), dims),
            &Default::default(),
        )
    }

    fn quant_lin(out: usize, inp: usize) -> (Lin<Cpu>, QLinear) {
        let q = QLinear::new(vec![
            QMatrix::quantize_q8_0(out, inp, &lcg(5, out * inp, 1.0)).unwrap(),
        ])
        .unwrap();
        (Lin::from_quant(q.clone(), None, &Default::default()), q)
    }

    /// A quantized layer fed an input of the wrong width is an error (it used to
    /// return zeros of the output shape); the right width gives the kernel's product.
    #[test]
    fn quantized_lin_rejects_wrong_input_width() {
        let (l, q) = quant_lin(5, 32);
        let e = lin(&l, input([1, 2, 31], 1)).unwrap_err();
        assert!(
            matches!(&e, InferenceError::InputShape { expected, found, .. }
                if expected == &[1, 2, 32] && found == &[1, 2, 31]),
            "{e}"
        );
        let x = input([1, 2, 32], 2);
        let want = q
            .forward(&x.clone().into_data().into_vec::<f32>().unwrap(), 2)
            .unwrap();
        let got = lin(&l, x).unwrap();
        assert_eq!(got.dims(), [1, 2, 5]);
        assert_eq!(got.into_data().into_vec::<f32>().unwrap(), want);
    }

    /// A dense layer fed the wrong width is an error instead of a panic inside Burn.
    #[test]
    fn dense_lin_rejects_wrong_input_width() {
        let w = HostTensor {
            shape: vec![3, 4],
            data: lcg(3, 12, 1.0),
        };
        let l = linear::<Cpu>(w, None, &Default::default()).unwrap();
        let e = lin(&l, input([2, 1, 5], 4)).unwrap_err();
        assert!(
            matches!(&e, InferenceError::InputShape { expected, found, .. }
                if expected == &[2, 1, 4] && found == &[2, 1, 5]),
            "{e}"
        );
        assert_eq!(lin(&l, input([2, 1, 4], 4)).unwrap().dims(), [2, 1, 3]);
    }

    /// Tensor data Burn cannot view as f32 is an error (`convert` on quantized data
    /// would hit an `unreachable!` inside Burn; the old fallbacks substituted zeros
    /// for failed `into_vec` calls).
    #[test]
    fn quantized_tensor_data_is_an_error() {
        use burn::tensor::quantization::QuantScheme;
        let data =
            TensorData::from_bytes_vec(vec![0u8; 8], [2], DType::QFloat(QuantScheme::default()));
        let e = data_f32(data, "test tensor").unwrap_err();
        assert!(
            matches!(&e, InferenceError::TensorData { what, .. } if what == "test tensor"),
            "{e}"
        );
        let ok = data_f32(TensorData::new(vec![1.5f32, -2.0], [2]), "t").unwrap();
        assert_eq!(ok, vec![1.5, -2.0]);
        // Other float types convert.
        let h = data_f32(TensorData::new(vec![half::f16::from_f32(0.5)], [1]), "t").unwrap();
        assert_eq!(h, vec![0.5]);
    }

    /// Stacking parts whose widths differ is an error (it used to concatenate them
    /// under the first part's shape).
    #[test]
    fn stacking_rows_of_different_widths_is_an_error() {
        let part = |rows: usize, cols: usize| HostTensor {
            shape: vec![rows, cols],
            data: vec![1.0; rows * cols],
        };
        let e = stack_rows(vec![part(2, 3), part(1, 4)]).unwrap_err();
        assert!(
            matches!(&e, InferenceError::InputShape { expected, found, .. }
                if expected == &[3] && found == &[4]),
            "{e}"
        );
        let short = HostTensor {
            shape: vec![2, 3],
            data: vec![0.0; 5],
        };
        assert!(stack_rows(vec![part(1, 3), short]).is_err());
        assert!(stack_rows(vec![]).is_err());
        let s = stack_rows(vec![part(2, 3), part(1, 3)]).unwrap();
        assert_eq!((s.shape, s.data.len()), (vec![3, 3], 9));
        let v = stack_rows(
            vec![part(1, 1), part(1, 1)]
                .into_iter()
                .map(|mut p| {
                    p.shape = vec![1];
                    p
                })
                .collect(),
        )
        .unwrap();
        assert_eq!(v.shape, vec![2]);
    }

    /// Rotary rows outside the matrix (or a vector in place of a matrix) are an
    /// error instead of a slice panic or a guessed width of 1.
    #[test]
    fn deinterleave_outside_the_matrix_is_an_error() {
        let mut w = HostTensor {
            shape: vec![6, 2],
            data: (0..12).map(|x| x as f32).collect(),
        };
        assert!(deinterleave_rows(&mut w, 4, 4).is_err());
        assert!(deinterleave_rows(&mut w, 0, 3).is_err());
        let mut v = HostTensor {
            shape: vec![12],
            data: vec![0.0; 12],
        };
        assert!(deinterleave_rows(&mut v, 0, 4).is_err());
        deinterleave_rows(&mut w, 2, 4).unwrap();
        // Rows 2..6 (first column 4, 6, 8, 10) are reordered evens, then odds.
        let rows: Vec<f32> = w.data.chunks(2).map(|r| r[0]).collect();
        assert_eq!(rows, vec![0.0, 2.0, 4.0, 8.0, 6.0, 10.0]);
    }

    /// A quantized layer's output can be read back, and a layer whose blocks do not
    /// cover the input width stays dense when cast.
    #[test]
    fn cast_to_quant_keeps_partial_block_widths_dense() {
        let w = |inp: usize| HostTensor {
            shape: vec![4, inp],
            data: lcg(9, 4 * inp, 1.0),
        };
        let mut l = linear::<Cpu>(w(40), None, &Default::default()).unwrap();
        cast_linear(&mut l, WeightPrecision::Quant).unwrap();
        assert!(!l.is_quantized());
        let mut l = linear::<Cpu>(w(64), None, &Default::default()).unwrap();
        cast_linear(&mut l, WeightPrecision::Quant).unwrap();
        assert!(l.is_quantized());
        assert_eq!((l.in_features(), l.out_features()), (64, 4));
        assert_eq!(l.weight_bytes(), 4 * 2 * 34);
    }

    /// Host attention of one new token (GQA, padding mask, cache filled in two
    /// appends) against a plain f64 softmax-attention reference.
    #[test]
    fn host_attention_matches_f64_reference() {
        let (b, h, kvh, hd) = (2, 6, 2, 8);
        let (t0, len) = (5, 6);
        let mut c = HostKv::default();
        let k_all = lcg(1, b * kvh * len * hd, 4.0);
        let v_all = lcg(2, b * kvh * len * hd, 4.0);
        // [b*kvh, len, hd] appended as t0 positions, then 1.
        let part = |x: &[f32], from: usize, to: usize| -> Vec<f32> {
            (0..b * kvh)
                .flat_map(|g| x[(g * len + from) * hd..(g * len + to) * hd].to_vec())
                .collect()
        };
        c.append(b * kvh, t0, hd, &part(&k_all, 0, t0), &part(&v_all, 0, t0));
        c.append(
            b * kvh,
            1,
            hd,
            &part(&k_all, t0, len),
            &part(&v_all, t0, len),
        );
        assert_eq!(c.len, len);
        let q = lcg(3, b * h * hd, 4.0);
        // Sequence 1 has two padding slots.
        let mut mask = vec![0.0f32; b * len];
        mask[len] = f32::NEG_INFINITY;
        mask[len + 1] = f32::NEG_INFINITY;
        let got = c.attend_one(&q, b, h, kvh, hd, Some(&mask));
        for bi in 0..b {
            for hi in 0..h {
                let g = bi * kvh + hi / (h / kvh);
                let qv = &q[(bi * h + hi) * hd..(bi * h + hi + 1) * hd];
                let scores: Vec<f64> = (0..len)
                    .map(|j| {
                        let kr = &k_all[(g * len + j) * hd..(g * len + j + 1) * hd];
                        let dot: f64 = kr
                            .iter()
                            .zip(qv)
                            .map(|(a, b)| f64::from(*a) * f64::from(*b))
                            .sum();
                        dot / (hd as f64).sqrt() + f64::from(mask[bi * len + j])
                    })
                    .collect();
                let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                for d in 0..hd {
                    let want: f64 = (0..len)
                        .map(|j| e[j] / sum * f64::from(v_all[(g * len + j) * hd + d]))
                        .sum();
                    let got = f64::from(got[(bi * h + hi) * hd + d]);
                    assert!(
                        (got - want).abs() < 1e-5,
                        "b{bi} h{hi} d{d}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
