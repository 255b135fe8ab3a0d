//! Token sampling: greedy, temperature, top-k, top-p with a seeded RNG.

use crate::attest::{Tape, TapeParams};
use crate::error::{InferenceError, Result};

/// Sampling parameters of one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy (argmax).
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = off).
    pub top_k: usize,
    /// Nucleus sampling mass (1.0 = off).
    pub top_p: f32,
    /// RNG seed.
    pub seed: u64,
    /// Maximum number of generated tokens.
    pub max_tokens: usize,
    /// Generation stops after any of these tokens (the token is not returned).
    pub stop_tokens: Vec<u32>,
    /// Sample with the request's public Gumbel tape instead of the RNG
    /// (attested requests, [`crate::attest`]); its parameters replace
    /// `temperature`, `top_k`, `top_p` and `seed`.
    pub tape: Option<TapeSampling>,
}

/// The tape and the exact parameters an attested request samples with.
#[derive(Debug, Clone, PartialEq)]
pub struct TapeSampling {
    /// The request's tape.
    pub tape: Tape,
    /// Its parameters, as the receipt's integers give them.
    pub params: TapeParams,
}

impl TapeSampling {
    /// Output token `t`'s draw.
    pub fn sample(&self, logits: &[f32], t: u64) -> Result<u32> {
        Ok(self.tape.sample(logits, &self.params, t)?.id)
    }
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
            max_tokens: 64,
            stop_tokens: vec![],
            tape: None,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding for `max_tokens` tokens.
    pub fn greedy(max_tokens: usize) -> Self {
        Self {
            max_tokens,
            ..Self::default()
        }
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(InferenceError::InvalidRequest(format!(
                "temperature {} must be finite and >= 0",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(InferenceError::InvalidRequest(format!(
                "top_p {} must be in (0, 1]",
                self.top_p
            )));
        }
        Ok(())
    }
}

/// Small deterministic PRNG (SplitMix64), so results do not depend on `rand` versions.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Index of the largest value (first one on ties).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0usize;
    for (i, &v) in logits.iter().enumerate() {
        if v > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Samples one token from `logits` according to `p`.
pub fn sample(logits: &[f32], p: &SamplingParams, rng: &mut Rng) -> u32 {
    if p.temperature == 0.0 || p.top_k == 1 {
        return argmax(logits);
    }
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    if p.top_k > 0 {
        idx.truncate(p.top_k);
    }
    let t = f64::from(p.temperature);
    let max = f64::from(logits[idx[0]]);
    let mut probs: Vec<f64> = idx
        .iter()
        .map(|&i| ((f64::from(logits[i]) - max) / t).exp())
        .collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|x| *x /= total);
    if p.top_p < 1.0 {
        let mut acc = 0.0;
        let mut keep = probs.len();
        for (n, &q) in probs.iter().enumerate() {
            acc += q;
            if acc >= f64::from(p.top_p) {
                keep = n + 1;
                break;
            }
        }
        probs.truncate(keep);
        let s: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|x| *x /= s);
    }
    let r = rng.next_f64();
    let mut acc = 0.0;
    for (n, &q) in probs.iter().enumerate() {
        acc += q;
        if r < acc {
            return idx[n] as u32;
        }
    }
    idx[probs.len() - 1] as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_is_argmax() {
        let mut rng = Rng::new(1);
        assert_eq!(
            sample(&[0.1, 3.0, 2.0], &SamplingParams::greedy(1), &mut rng),
            1
        );
    }

    #[test]
    fn top_k_and_top_p_restrict_support() {
        let logits = [5.0, 4.9, 1.0, 0.5, 0.0];
        let p = SamplingParams {
            temperature: 1.0,
            top_k: 2,
            ..SamplingParams::default()
        };
        let mut rng = Rng::new(7);
        for _ in 0..200 {
            assert!(sample(&logits, &p, &mut rng) < 2);
        }
        let p = SamplingParams {
            temperature: 1.0,
            top_p: 0.5,
            ..SamplingParams::default()
        };
        for _ in 0..200 {
            assert_eq!(sample(&logits, &p, &mut rng), 0);
        }
    }

    #[test]
    fn seeded_sampling_is_reproducible_and_matches_distribution() {
        let logits = [0.0f32, (3.0f32).ln()]; // probabilities 1/4, 3/4
        let p = SamplingParams {
            temperature: 1.0,
            ..SamplingParams::default()
        };
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..4000)
                .map(|_| sample(&logits, &p, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        let ones = draw(3).iter().filter(|&&x| x == 1).count() as f64 / 4000.0;
        assert!((ones - 0.75).abs() < 0.03, "{ones}");
    }

    #[test]
    fn validate_rejects_bad_params() {
        let p = SamplingParams {
            temperature: -1.0,
            ..SamplingParams::default()
        };
        assert!(p.validate().is_err());
        let p = SamplingParams {
            top_p: 0.0,
            ..SamplingParams::default()
        };
        assert!(p.validate().is_err());
    }
}
