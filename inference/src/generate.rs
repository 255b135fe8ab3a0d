//! Generation: batched prefill plus incremental decode with a KV cache.

use burn::prelude::Backend;
use burn::tensor::Tensor;

use crate::error::{InferenceError, Result};
use crate::model::{ForwardOptions, KvCache, Transformer, host_f32};
use crate::sampling::{Rng, SamplingParams, sample};

/// One sequence to generate.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    /// Prompt token ids (non-empty).
    pub prompt: Vec<u32>,
    /// Sampling parameters.
    pub params: SamplingParams,
    /// Keep the final-norm hidden state of every position
    /// ([`GenerateOutput::hidden`]), for the request's TOPLOC proofs.
    pub record_hidden: bool,
}

/// Why a sequence stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// A stop token was produced.
    Stop,
    /// `max_tokens` was reached.
    Length,
    /// The streaming callback asked to stop.
    Cancelled,
}

/// Result for one sequence.
#[derive(Debug, Clone)]
pub struct GenerateOutput {
    /// Generated ids (without the stop token).
    pub tokens: Vec<u32>,
    /// Why generation ended.
    pub finish: FinishReason,
    /// Prompt length in tokens.
    pub prompt_tokens: usize,
    /// The stop token that ended the sequence, when one did.
    pub stop_token: Option<u32>,
    /// With [`GenerateRequest::record_hidden`]: the final-norm hidden states
    /// of positions `0..prompt + computed`, flattened `[positions × d]`
    /// (every position whose state a sampled token came from).
    pub hidden: Vec<f32>,
}

/// Converts the last position of `[b, t, vocab]` logits to one host vector per row.
pub fn logits_rows<B: Backend>(logits: Tensor<B, 3>) -> Result<Vec<Vec<f32>>> {
    let [b, t, v] = logits.dims();
    if t == 0 || v == 0 {
        return Err(InferenceError::InputShape {
            what: "logits with at least one position".into(),
            expected: vec![b, 1, v.max(1)],
            found: vec![b, t, v],
        });
    }
    let data = host_f32(logits.slice([0..b, t - 1..t, 0..v]), "logits")?;
    Ok(data.chunks(v).map(<[f32]>::to_vec).collect())
}

/// Generates for a batch of sequences at once. Prompts are left-padded to a common
/// length; `on_token(seq, token)` is called for every generated token (stop tokens
/// excluded) and returns `false` to cancel that sequence.
pub fn generate<B: Backend>(
    model: &Transformer<B>,
    requests: &[GenerateRequest],
    on_token: &mut dyn FnMut(usize, u32) -> bool,
) -> Result<Vec<GenerateOutput>> {
    if requests.is_empty() {
        return Ok(vec![]);
    }
    for r in requests {
        r.params.validate()?;
        if r.prompt.is_empty() {
            return Err(InferenceError::InvalidRequest("empty prompt".into()));
        }
    }
    let max_prompt = requests.iter().map(|r| r.prompt.len()).max().unwrap_or(0);
    let max_new = requests
        .iter()
        .map(|r| r.params.max_tokens)
        .max()
        .unwrap_or(0);
    if max_prompt + max_new > model.max_len() {
        return Err(InferenceError::InvalidRequest(format!(
            "prompt ({max_prompt}) plus max_tokens ({max_new}) exceeds the context length {}",
            model.max_len()
        )));
    }
    let pad: Vec<usize> = requests
        .iter()
        .map(|r| max_prompt - r.prompt.len())
        .collect();
    let batch: Vec<Vec<u32>> = requests
        .iter()
        .zip(&pad)
        .map(|(r, &p)| {
            let mut row = vec![r.prompt[0]; p];
            row.extend(&r.prompt);
            row
        })
        .collect();
    let mut cache = KvCache::new(model.layers.len(), pad.clone());
    let mut rngs: Vec<Rng> = requests.iter().map(|r| Rng::new(r.params.seed)).collect();
    let mut outs: Vec<GenerateOutput> = requests
        .iter()
        .map(|r| GenerateOutput {
            tokens: vec![],
            finish: FinishReason::Length,
            prompt_tokens: r.prompt.len(),
            stop_token: None,
            hidden: vec![],
        })
        .collect();
    let record = requests.iter().any(|r| r.record_hidden);
    let opts = ForwardOptions {
        final_hidden: record,
        ..ForwardOptions::default()
    };
    let mut done: Vec<bool> = requests.iter().map(|r| r.params.max_tokens == 0).collect();
    let out = model.forward(&batch, &mut cache, opts)?;
    if record {
        keep_hidden(requests, &mut outs, out.final_hidden, &pad, &done)?;
    }
    let mut logits = logits_rows(out.logits)?;
    loop {
        let mut next = vec![0u32; requests.len()];
        for (i, r) in requests.iter().enumerate() {
            if done[i] {
                continue;
            }
            let tok = match &r.params.tape {
                Some(t) => t.sample(&logits[i], outs[i].tokens.len() as u64)?,
                None => sample(&logits[i], &r.params, &mut rngs[i]),
            };
            next[i] = tok;
            if r.params.stop_tokens.contains(&tok) {
                outs[i].stop_token = Some(tok);
                outs[i].finish = FinishReason::Stop;
                done[i] = true;
                continue;
            }
            outs[i].tokens.push(tok);
            if !on_token(i, tok) {
                outs[i].finish = FinishReason::Cancelled;
                done[i] = true;
            } else if outs[i].tokens.len() >= r.params.max_tokens {
                outs[i].finish = FinishReason::Length;
                done[i] = true;
            }
        }
        if done.iter().all(|&d| d) {
            break;
        }
        let step: Vec<Vec<u32>> = next.iter().map(|&t| vec![t]).collect();
        let out = model.forward(&step, &mut cache, opts)?;
        if record {
            keep_hidden(requests, &mut outs, out.final_hidden, &[0; 0], &done)?;
        }
        logits = logits_rows(out.logits)?;
    }
    Ok(outs)
}

/// Appends the final-norm states of one forward pass (`[b, t, d]`) to the
/// sequences that record them and still run, skipping each row's left
/// padding (`pad`, empty after the prefill).
fn keep_hidden<B: Backend>(
    requests: &[GenerateRequest],
    outs: &mut [GenerateOutput],
    hidden: Option<Tensor<B, 3>>,
    pad: &[usize],
    done: &[bool],
) -> Result<()> {
    let h = hidden.expect("forward returns final_hidden when asked to");
    let [b, t, d] = h.dims();
    let data = host_f32(h, "final hidden states")?;
    for i in 0..b {
        if !requests[i].record_hidden || done[i] {
            continue;
        }
        let skip = pad.get(i).copied().unwrap_or(0);
        outs[i]
            .hidden
            .extend_from_slice(&data[(i * t + skip) * d..(i + 1) * t * d]);
    }
    Ok(())
}
