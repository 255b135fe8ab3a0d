//! Attestation of real inference (design §6): what an executor records about
//! a request so that an auditor can check it, and the auditor's check.
//!
//! * The executor samples with the request's public Gumbel [`tape`] and
//!   commits [`toploc`] proofs of its final-norm hidden states: one over the
//!   prefill, one per 32 decoded positions. Both go into a [`Receipt`].
//! * An auditor re-runs one teacher-forced prefill over prompt + output
//!   ([`audit`]), replays the tape on its own logits and checks the proofs
//!   against its own states. It reports integers ([`AuditMetrics`]); the
//!   chain, not the auditor, applies the thresholds.
//!
//! Everything here runs outside the state machine: floats, the model and
//! threads are allowed.

pub mod tape;
pub mod toploc;

use burn::prelude::Backend;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{InferenceError, Result};
use crate::model::{Transformer, host_f32};
pub use tape::{Tape, TapeParams};

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// The last output token is an end-of-sequence token.
    Eos,
    /// `max_tokens` outputs were produced.
    MaxTokens,
    /// A stop sequence matched (the text was cut; the tokens are all there).
    StopSeq,
}

impl Finish {
    /// The receipt's byte.
    pub fn code(self) -> u8 {
        match self {
            Finish::Eos => 0,
            Finish::MaxTokens => 1,
            Finish::StopSeq => 2,
        }
    }
}

/// The sampling parameters a receipt binds, as integers so that executor
/// and auditor derive the same floats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplingSpec {
    /// Temperature × 1000 (0 = greedy).
    pub tau_milli: u16,
    /// top_p × 1000 (1000 = off).
    pub top_p_milli: u16,
    /// top_k (0 = off).
    pub top_k: u32,
    /// The user's seed (with the request id, the tape's key).
    pub user_seed: u64,
}

impl SamplingSpec {
    /// Rounds float parameters to the receipt's precision; refuses values
    /// outside their ranges.
    pub fn from_floats(temperature: f64, top_p: f64, top_k: usize, user_seed: u64) -> Result<Self> {
        TapeParams {
            tau: temperature,
            top_k,
            top_p,
        }
        .validate()?;
        let milli = |v: f64, what: &str| {
            let m = (v * 1000.0).round();
            if m > f64::from(u16::MAX) {
                return Err(InferenceError::InvalidRequest(format!(
                    "{what} {v} is too large"
                )));
            }
            Ok(m as u16)
        };
        let top_p_milli = milli(top_p, "top_p")?.max(1);
        Ok(Self {
            tau_milli: milli(temperature, "temperature")?,
            top_p_milli,
            top_k: u32::try_from(top_k)
                .map_err(|_| InferenceError::InvalidRequest(format!("top_k {top_k}")))?,
            user_seed,
        })
    }

    /// The tape parameters both sides use.
    pub fn params(&self) -> TapeParams {
        TapeParams {
            tau: f64::from(self.tau_milli) / 1000.0,
            top_k: self.top_k as usize,
            top_p: f64::from(self.top_p_milli) / 1000.0,
        }
    }
}

/// What an executor keeps about one request (the off-chain payload; only its
/// hash goes on chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The request's id (binds the tape: a replayed output fails, attack A6).
    #[serde(with = "hex32")]
    pub request_id: [u8; 32],
    /// The model served.
    pub model: String,
    /// Sampling.
    pub sampling: SamplingSpec,
    /// `max_tokens` of the request.
    pub max_tokens: u32,
    /// Prompt token ids.
    pub prompt: Vec<u32>,
    /// Output token ids, including a final end-of-sequence token when
    /// `finish` is `eos`.
    pub output: Vec<u32>,
    /// How it ended.
    pub finish: Finish,
    /// `toploc-v1` proofs (prefill, then per 32 decode positions), as bytes.
    #[serde(with = "hex_list")]
    pub proofs: Vec<Vec<u8>>,
}

impl Receipt {
    /// The tape of this request.
    pub fn tape(&self) -> Tape {
        Tape::new(&self.request_id, self.sampling.user_seed)
    }

    /// `SHA-256` of the token ids (`u32` LE), as the on-chain body records
    /// them.
    pub fn ids_hash(ids: &[u32]) -> [u8; 32] {
        let mut h = Sha256::new();
        for i in ids {
            h.update(i.to_le_bytes());
        }
        h.finalize().into()
    }

    /// `SHA-256` of the proofs, each length-prefixed (`u32` LE).
    pub fn proofs_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for p in &self.proofs {
            h.update((p.len() as u32).to_le_bytes());
            h.update(p);
        }
        h.finalize().into()
    }
}

/// Builds the receipt of a finished generation from the executor's
/// final-norm hidden states (`[positions × d]`, flattened, at least
/// `prompt + output − 1` positions).
#[allow(clippy::too_many_arguments)]
pub fn make_receipt(
    request_id: [u8; 32],
    model: &str,
    sampling: SamplingSpec,
    max_tokens: u32,
    prompt: Vec<u32>,
    output: Vec<u32>,
    finish: Finish,
    hidden: &[f32],
    d: usize,
) -> Result<Receipt> {
    let proofs = toploc::prove(hidden, d, prompt.len(), output.len())?
        .iter()
        .map(toploc::Proof::to_bytes)
        .collect();
    Ok(Receipt {
        request_id,
        model: model.to_string(),
        sampling,
        max_tokens,
        prompt,
        output,
        finish,
        proofs,
    })
}

/// Per-chunk TOPLOC limits (chain parameters; a chunk over any of them
/// fails).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkLimits {
    /// Exponent mismatches of 128.
    pub exp: u16,
    /// Sign flips among exponent matches.
    pub sign: u16,
    /// Mean |Δ mantissa| × 100.
    pub mean_centi: u32,
    /// Upper median |Δ mantissa|.
    pub median: u8,
}

impl ChunkLimits {
    /// TOPLOC's published bf16 limits (38 exponent mismatches, mean 10,
    /// median 8) plus 4 sign flips: placeholders until calibration.
    pub const TOPLOC: Self = Self {
        exp: 38,
        sign: 4,
        mean_centi: 1000,
        median: 8,
    };

    /// Whether a chunk is over any limit.
    pub fn fails(&self, c: &toploc::ChunkCheck) -> bool {
        c.exp_mismatches > self.exp
            || c.sign_mismatches > self.sign
            || c.mant_mean_centi > self.mean_centi
            || c.mant_median > self.median
    }
}

/// What an auditor needs besides the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditConfig {
    /// The milli-margin above which a step counts as disagreeing (`ε`).
    pub eps_milli: u32,
    /// Per-chunk TOPLOC limits.
    pub limits: ChunkLimits,
    /// The model's end-of-sequence tokens.
    pub eos: Vec<u32>,
}

/// Flag bits of [`AuditMetrics::flags`].
pub mod flags {
    /// `finish` disagrees with the tokens (eos without an eos token last,
    /// `max_tokens` with another length, more outputs than `max_tokens`).
    pub const FINISH: u32 = 1 << 0;
    /// An end-of-sequence token before the last output (generation went on
    /// past the end).
    pub const EOS_EARLY: u32 = 1 << 1;
    /// An output id outside the vocabulary.
    pub const MASKED_TOKEN: u32 = 1 << 2;
    /// The proofs are not the expected number, or one is malformed.
    pub const PROOFS: u32 = 1 << 3;
    /// The receipt names another model than the auditor's.
    pub const MODEL: u32 = 1 << 4;
    /// The payload could not be fetched or does not hash to the body (set by
    /// the auditor's worker).
    pub const PAYLOAD_UNAVAILABLE: u32 = 1 << 5;
}

/// An auditor's integer report on one receipt (design §8.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditMetrics {
    /// Output steps compared.
    pub n_steps: u32,
    /// Steps where the auditor's own draw differs.
    pub r_raw: u32,
    /// Steps whose margin exceeds `ε`.
    pub r_gated: u32,
    /// Sum of the milli-margins.
    pub margin_sum_milli: u64,
    /// Largest milli-margin.
    pub margin_max_milli: u32,
    /// TOPLOC chunks checked.
    pub toploc_chunks: u16,
    /// Chunks over a limit.
    pub toploc_fail_chunks: u16,
    /// Most exponent mismatches in a chunk.
    pub exp_mis_max: u8,
    /// Most sign flips in a chunk.
    pub sign_mis_max: u8,
    /// Mean over chunks of the mantissa mean × 100.
    pub mant_mean_avg_centi: u16,
    /// Largest chunk mantissa mean × 100.
    pub mant_mean_max_centi: u16,
    /// Largest chunk upper median.
    pub mant_median_max: u8,
    /// [`flags`] bits.
    pub flags: u32,
}

/// A chunk with no exponent match reports this mantissa mean (× 100), far
/// above any limit, so averages stay bounded.
const NO_MATCH_MEAN_CENTI: u32 = 12_700;

/// Everything an audit measured, step by step and chunk by chunk (the
/// calibration experiment reads this; the chain gets [`AuditMetrics`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditDetail {
    /// One comparison per output token.
    pub steps: Vec<tape::Margin>,
    /// One check per well-formed proof, in chunk order.
    pub chunks: Vec<toploc::ChunkCheck>,
    /// [`flags`] bits.
    pub flags: u32,
}

/// Re-runs one teacher-forced prefill over the receipt's prompt and output
/// and measures how far the executor's tokens and proofs are from the
/// auditor's own.
pub fn audit_detail<B: Backend>(
    model: &Transformer<B>,
    model_name: &str,
    r: &Receipt,
    eos: &[u32],
) -> Result<AuditDetail> {
    if r.prompt.is_empty() || r.output.is_empty() {
        return Err(InferenceError::InvalidRequest(
            "a receipt needs a prompt and at least one output token".into(),
        ));
    }
    let mut out = AuditDetail::default();
    if r.model != model_name {
        out.flags |= flags::MODEL;
    }
    let n = r.output.len();
    let is_eos = |t: &u32| eos.contains(t);
    if r.output[..n - 1].iter().any(is_eos) {
        out.flags |= flags::EOS_EARLY;
    }
    let finish_ok = match r.finish {
        Finish::Eos => is_eos(&r.output[n - 1]),
        Finish::MaxTokens => n as u64 == u64::from(r.max_tokens),
        Finish::StopSeq => true,
    };
    if !finish_ok || n as u64 > u64::from(r.max_tokens) {
        out.flags |= flags::FINISH;
    }
    let mut seq = r.prompt.clone();
    seq.extend(&r.output[..n - 1]);
    if seq.len() > model.max_len() {
        return Err(InferenceError::InvalidRequest(format!(
            "receipt of {} tokens exceeds the context length {}",
            seq.len() + 1,
            model.max_len()
        )));
    }
    let vocab = model.embed_tokens.val().dims()[0];
    if seq
        .iter()
        .chain(r.output.last())
        .any(|&t| t as usize >= vocab)
    {
        // The model cannot even embed it: nothing else can be measured.
        out.flags |= flags::MASKED_TOKEN;
        return Ok(out);
    }
    let tf = model.teacher_forced(&seq)?;
    let logits = host_f32(tf.logits, "audit logits")?;
    let d = tf.final_hidden.dims()[1];
    let hidden = host_f32(tf.final_hidden, "audit hidden states")?;

    // The tape, step by step: output token j was drawn from row P−1+j.
    let tape = r.tape();
    let params = r.sampling.params();
    let p = r.prompt.len();
    for (j, &x) in r.output.iter().enumerate() {
        let row = &logits[(p - 1 + j) * vocab..(p + j) * vocab];
        out.steps.push(tape.margin(row, &params, j as u64, x)?);
    }

    // The proofs, chunk by chunk.
    let ranges = toploc::chunk_ranges(p, n);
    if r.proofs.len() != ranges.len() {
        out.flags |= flags::PROOFS;
    }
    for (range, bytes) in ranges.iter().zip(&r.proofs) {
        match toploc::Proof::from_bytes(bytes) {
            Ok(proof) => out
                .chunks
                .push(proof.check(&hidden[range.start * d..range.end * d])),
            Err(_) => out.flags |= flags::PROOFS,
        }
    }
    Ok(out)
}

impl AuditDetail {
    /// The integer report, with `ε` and the per-chunk limits applied.
    pub fn metrics(&self, cfg: &AuditConfig) -> AuditMetrics {
        let mut m = AuditMetrics {
            n_steps: u32::try_from(self.steps.len()).unwrap_or(u32::MAX),
            flags: self.flags,
            ..AuditMetrics::default()
        };
        for s in &self.steps {
            if !s.agrees() {
                m.r_raw += 1;
            }
            if s.milli > cfg.eps_milli {
                m.r_gated += 1;
            }
            m.margin_sum_milli += u64::from(s.milli);
            m.margin_max_milli = m.margin_max_milli.max(s.milli);
        }
        let mut mean_sum = 0u64;
        for c in &self.chunks {
            m.toploc_chunks = m.toploc_chunks.saturating_add(1);
            if cfg.limits.fails(c) {
                m.toploc_fail_chunks = m.toploc_fail_chunks.saturating_add(1);
            }
            let mean = c.mant_mean_centi.min(NO_MATCH_MEAN_CENTI);
            mean_sum += u64::from(mean);
            m.exp_mis_max = m.exp_mis_max.max(sat_u8(c.exp_mismatches.into()));
            m.sign_mis_max = m.sign_mis_max.max(sat_u8(c.sign_mismatches.into()));
            m.mant_mean_max_centi = m.mant_mean_max_centi.max(mean as u16);
            m.mant_median_max = m.mant_median_max.max(c.mant_median);
        }
        if m.toploc_chunks > 0 {
            m.mant_mean_avg_centi = (mean_sum / u64::from(m.toploc_chunks)) as u16;
        }
        m
    }
}

/// [`audit_detail`] summarised by [`AuditDetail::metrics`].
pub fn audit<B: Backend>(
    model: &Transformer<B>,
    model_name: &str,
    r: &Receipt,
    cfg: &AuditConfig,
) -> Result<AuditMetrics> {
    Ok(audit_detail(model, model_name, r, &cfg.eos)?.metrics(cfg))
}

fn sat_u8(v: u32) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

mod hex32 {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(&s)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

mod hex_list {
    use serde::{Deserialize as _, Deserializer, Serializer, ser::SerializeSeq as _};

    pub(super) fn serialize<S: Serializer>(v: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for b in v {
            seq.serialize_element(&hex::encode(b))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| hex::decode(s).map_err(serde::de::Error::custom))
            .collect()
    }
}
