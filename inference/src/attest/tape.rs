//! The public Gumbel tape (design §6): sampling that anyone holding the
//! request can replay.
//!
//! Every `(request, position t, token id i)` has a fixed uniform `u_{t,i}`:
//! word `i mod 16` of ChaCha20 (RFC 8439) block `⌊i/16⌋` under the key
//! `K = SHA-256("comrade/tape/v1" ‖ request_id ‖ user_seed_le64)` and the
//! nonce `t_le64 ‖ 0u32`, mapped to `u = ((w >> 8) + ½) / 2²⁴ ∈ (0, 1)`.
//! Its Gumbel noise is `g = −ln(−ln u)`. The executor emits
//! `x_t = argmax_{i ∈ C_t} (logit_i/τ + g_{t,i})` over the top-k/top-p set
//! `C_t` (Gumbel-max: this is an exact sample of the softmax at τ restricted
//! to `C_t`). An auditor recomputes the same argmax on its own logits and
//! reports how far the executor's token is from its own choice
//! ([`Tape::margin`]), so sampling is verifiable instead of "trust my RNG".
//!
//! Random access is why the PRF is counter-based: `g` lies in
//! `[−2.85, 17.33]` (the extreme `u`s are `2⁻²⁵` and `1 − 2⁻²⁵`), so only ids
//! with `logit/τ ≥ max/τ − 20.19` can win and the tape is evaluated for those
//! few ids only ([`PRUNE`]).

use chacha20::cipher::{StreamCipher as _, StreamCipherSeek as _};
use chacha20::{ChaCha20, KeyIvInit as _};
use sha2::{Digest as _, Sha256};

use crate::error::{InferenceError, Result};

/// Domain tag of the tape key.
pub const TAPE_TAG: &[u8] = b"comrade/tape/v1";

/// Only ids whose scaled logit is within this of the best can win a
/// Gumbel-max draw: `g_max − g_min = 25·ln 2 + ln(25·ln 2) ≈ 20.18`, plus a
/// margin for f64 rounding.
pub const PRUNE: f64 = 20.2;

/// The most a reported milli-margin can be (design §6: "capped at 10⁶").
pub const MARGIN_CAP_MILLI: u32 = 1_000_000;

/// What a request asks of the sampler. `tau = 0` (or `top_k = 1`) is plain
/// argmax and uses no tape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TapeParams {
    /// Temperature τ ≥ 0.
    pub tau: f64,
    /// Keep the `top_k` best ids (0 = all).
    pub top_k: usize,
    /// Nucleus mass in (0, 1] (1 = off), over the top-k set at τ.
    pub top_p: f64,
}

impl TapeParams {
    /// Greedy decoding.
    pub const GREEDY: Self = Self {
        tau: 0.0,
        top_k: 0,
        top_p: 1.0,
    };

    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.tau.is_finite() && self.tau >= 0.0) {
            return Err(InferenceError::InvalidRequest(format!(
                "temperature {} must be finite and >= 0",
                self.tau
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

    fn greedy(&self) -> bool {
        self.tau == 0.0 || self.top_k == 1
    }
}

/// One request's tape.
#[derive(Clone, PartialEq, Eq)]
pub struct Tape {
    key: [u8; 32],
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tape({:02x}{:02x}{:02x}{:02x}…)",
            self.key[0], self.key[1], self.key[2], self.key[3]
        )
    }
}

/// The result of one sampling step on one side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Choice {
    /// The chosen id.
    pub id: u32,
    /// Its score `logit/τ + g` (the logit when greedy).
    pub score: f64,
}

impl Tape {
    /// `K = SHA-256("comrade/tape/v1" ‖ request_id ‖ user_seed_le64)`.
    pub fn new(request_id: &[u8; 32], user_seed: u64) -> Self {
        let mut h = Sha256::new();
        h.update(TAPE_TAG);
        h.update(request_id);
        h.update(user_seed.to_le_bytes());
        Self {
            key: h.finalize().into(),
        }
    }

    /// The key (what a receipt records as `tape_seed`).
    pub fn key(&self) -> [u8; 32] {
        self.key
    }

    /// A tape from its key.
    pub fn from_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn cipher(&self, t: u64) -> ChaCha20 {
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&t.to_le_bytes());
        ChaCha20::new((&self.key).into(), (&nonce).into())
    }

    /// The raw word `w_{t,i}`.
    pub fn word(&self, t: u64, i: u32) -> u32 {
        let mut c = self.cipher(t);
        words(&mut c, &[i])[0]
    }

    /// `u_{t,i} = ((w >> 8) + ½) / 2²⁴`, strictly inside (0, 1).
    pub fn uniform(&self, t: u64, i: u32) -> f64 {
        to_uniform(self.word(t, i))
    }

    /// `g_{t,i} = −ln(−ln u_{t,i})`.
    pub fn gumbel(&self, t: u64, i: u32) -> f64 {
        to_gumbel(self.word(t, i))
    }

    /// The executor's draw at position `t`: the argmax of
    /// `logit/τ + g` over the top-k/top-p set, ties to the lower id.
    pub fn sample(&self, logits: &[f32], p: &TapeParams, t: u64) -> Result<Choice> {
        let cands = candidates(logits, p)?;
        Ok(self.best(logits, p, t, &cands))
    }

    /// The auditor's view of step `t`: its own choice `z` on its `logits`
    /// and the margin `s(z) − s(x) ≥ 0` of the executor's token `x`, in
    /// thousandths, rounded and capped at [`MARGIN_CAP_MILLI`]. When `x` is
    /// outside the auditor's candidate set its unfiltered score is used.
    pub fn margin(&self, logits: &[f32], p: &TapeParams, t: u64, x: u32) -> Result<Margin> {
        let Some(&lx) = logits.get(x as usize) else {
            return Err(InferenceError::InvalidRequest(format!(
                "token {x} is outside the vocabulary of {}",
                logits.len()
            )));
        };
        let cands = candidates(logits, p)?;
        let z = self.best(logits, p, t, &cands);
        let sx = if p.greedy() {
            f64::from(lx)
        } else {
            f64::from(lx) / p.tau + self.gumbel(t, x)
        };
        let m = (z.score - sx).max(0.0);
        // Saturating float→int cast; NaN (a −∞ logit on both sides) reads 0.
        let milli = ((m * 1000.0).round() as u64).min(u64::from(MARGIN_CAP_MILLI)) as u32;
        Ok(Margin {
            x,
            z: z.id,
            milli: if m.is_finite() {
                milli
            } else {
                MARGIN_CAP_MILLI
            },
            x_in_set: cands.ids.contains(&x),
        })
    }

    fn best(&self, logits: &[f32], p: &TapeParams, t: u64, cands: &Candidates) -> Choice {
        if p.greedy() || cands.ids.len() == 1 {
            let id = cands.ids[0];
            let score = if p.greedy() {
                f64::from(logits[id as usize])
            } else {
                f64::from(logits[id as usize]) / p.tau + self.gumbel(t, id)
            };
            return Choice { id, score };
        }
        let mut c = self.cipher(t);
        let g = words(&mut c, &cands.ids);
        let mut best = Choice {
            id: u32::MAX,
            score: f64::NEG_INFINITY,
        };
        for (&id, w) in cands.ids.iter().zip(g) {
            let s = f64::from(logits[id as usize]) / p.tau + to_gumbel(w);
            if s > best.score || (s == best.score && id < best.id) {
                best = Choice { id, score: s };
            }
        }
        best
    }
}

/// An auditor's comparison of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Margin {
    /// The executor's token.
    pub x: u32,
    /// The auditor's own choice.
    pub z: u32,
    /// `round(1000 · (s(z) − s(x)))`, capped.
    pub milli: u32,
    /// Whether the executor's token is in the auditor's candidate set.
    pub x_in_set: bool,
}

impl Margin {
    /// Whether the auditor drew the executor's token.
    pub fn agrees(&self) -> bool {
        self.x == self.z
    }
}

fn to_uniform(w: u32) -> f64 {
    (f64::from(w >> 8) + 0.5) / f64::from(1u32 << 24)
}

fn to_gumbel(w: u32) -> f64 {
    -(-to_uniform(w).ln()).ln()
}

/// The words of `ids` (ascending or not) from one position's keystream,
/// one 64-byte block per distinct `⌊i/16⌋`.
fn words(c: &mut ChaCha20, ids: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(ids.len());
    let mut cached: Option<(u32, [u8; 64])> = None;
    for &i in ids {
        let block = i / 16;
        let bytes = match cached {
            Some((b, bytes)) if b == block => bytes,
            _ => {
                let mut bytes = [0u8; 64];
                c.seek(u64::from(block) * 64);
                c.apply_keystream(&mut bytes);
                cached = Some((block, bytes));
                bytes
            }
        };
        let o = (i % 16) as usize * 4;
        out.push(u32::from_le_bytes([
            bytes[o],
            bytes[o + 1],
            bytes[o + 2],
            bytes[o + 3],
        ]));
    }
    out
}

/// The ids that may win at one step, best first (ties to the lower id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidates {
    /// The top-k/top-p set, pruned to the ids within [`PRUNE`] of the best
    /// (the others cannot win).
    pub ids: Vec<u32>,
}

/// `C_t`: the top-k set, then the smallest prefix whose softmax mass at τ
/// (over the top-k set, in f64) reaches `top_p`, pruned to the ids that can
/// win. Greedy parameters give the argmax alone.
pub fn candidates(logits: &[f32], p: &TapeParams) -> Result<Candidates> {
    p.validate()?;
    if logits.is_empty() {
        return Err(InferenceError::InvalidRequest("empty logits".into()));
    }
    if logits.iter().any(|v| v.is_nan()) {
        return Err(InferenceError::InvalidRequest("NaN in the logits".into()));
    }
    let by_rank = |a: &u32, b: &u32| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    let n = u32::try_from(logits.len())
        .map_err(|_| InferenceError::InvalidRequest("vocabulary over 2^32 ids".into()))?;
    let best = (0..n)
        .min_by(by_rank)
        .expect("invariant: logits are non-empty");
    if p.greedy() {
        return Ok(Candidates { ids: vec![best] });
    }
    let smax = f64::from(logits[best as usize]) / p.tau;
    let scaled = |i: u32| f64::from(logits[i as usize]) / p.tau;
    let mut order: Vec<u32> = (0..n).filter(|&i| scaled(i) >= smax - PRUNE).collect();
    order.sort_by(by_rank);
    let top_k = if p.top_k == 0 {
        logits.len()
    } else {
        p.top_k.min(logits.len())
    };
    if p.top_p < 1.0 {
        // The normaliser over the whole top-k set: the pruned prefix holds
        // the top `order.len()` ids, so beyond it the k-th largest is found
        // by selection.
        let z: f64 = if top_k <= order.len() {
            order[..top_k]
                .iter()
                .map(|&i| (scaled(i) - smax).exp())
                .sum()
        } else if top_k == logits.len() {
            (0..n).map(|i| (scaled(i) - smax).exp()).sum()
        } else {
            let mut all: Vec<u32> = (0..n).collect();
            all.select_nth_unstable_by(top_k - 1, by_rank);
            all[..top_k].iter().map(|&i| (scaled(i) - smax).exp()).sum()
        };
        let mut acc = 0.0;
        let mut keep = order.len().min(top_k);
        for (k, &i) in order.iter().take(top_k).enumerate() {
            acc += (scaled(i) - smax).exp() / z;
            if acc >= p.top_p {
                keep = k + 1;
                break;
            }
        }
        order.truncate(keep);
    } else {
        order.truncate(top_k);
    }
    Ok(Candidates { ids: order })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tape(seed: u64) -> Tape {
        Tape::new(&[7u8; 32], seed)
    }

    #[test]
    fn words_match_the_rfc_8439_keystream_layout() {
        // Word i of position t is bytes 4(i mod 16).. of block ⌊i/16⌋ of the
        // keystream: read the stream linearly and compare.
        let tp = tape(1);
        let mut c = tp.cipher(5);
        let mut stream = vec![0u8; 64 * 4];
        c.apply_keystream(&mut stream);
        for i in [0u32, 1, 15, 16, 17, 63] {
            let o = i as usize * 4;
            let w = u32::from_le_bytes(stream[o..o + 4].try_into().unwrap());
            assert_eq!(tp.word(5, i), w, "id {i}");
        }
        assert_ne!(tp.word(5, 0), tp.word(6, 0), "positions differ");
        assert_ne!(tape(1).word(0, 0), tape(2).word(0, 0), "seeds differ");
    }

    #[test]
    fn uniforms_are_strictly_inside_and_gumbels_inside_the_pruning_bound() {
        let (lo, hi) = (to_gumbel(0), to_gumbel(u32::MAX));
        assert!(to_uniform(0) > 0.0 && to_uniform(u32::MAX) < 1.0);
        assert!(
            (lo + 2.85).abs() < 0.01 && (hi - 17.33).abs() < 0.01,
            "{lo} {hi}"
        );
        assert!(hi - lo < PRUNE);
    }

    #[test]
    fn greedy_is_argmax_with_ties_to_the_lower_id() {
        let l = [0.5f32, 3.0, 3.0, -1.0];
        let c = tape(0).sample(&l, &TapeParams::GREEDY, 0).unwrap();
        assert_eq!(c.id, 1);
    }

    /// Gumbel-max over the pruned set equals Gumbel-max over the whole vocabulary.
    #[test]
    fn pruning_never_changes_the_draw() {
        let mut rng = crate::sampling::Rng::new(3);
        let p = TapeParams {
            tau: 0.7,
            top_k: 0,
            top_p: 1.0,
        };
        for t in 0..300u64 {
            let logits: Vec<f32> = (0..500)
                .map(|_| (rng.next_f64() * 30.0 - 15.0) as f32)
                .collect();
            let tp = tape(t);
            let got = tp.sample(&logits, &p, t).unwrap().id;
            let brute = (0..500u32)
                .max_by(|&a, &b| {
                    let sa = f64::from(logits[a as usize]) / p.tau + tp.gumbel(t, a);
                    let sb = f64::from(logits[b as usize]) / p.tau + tp.gumbel(t, b);
                    sa.total_cmp(&sb).then(b.cmp(&a))
                })
                .unwrap();
            assert_eq!(got, brute, "step {t}");
        }
    }

    #[test]
    fn tape_draws_follow_the_softmax() {
        // p = softmax([0, ln 3]/1) = (1/4, 3/4), over many request ids.
        let logits = [0.0f32, 3.0f32.ln()];
        let p = TapeParams {
            tau: 1.0,
            top_k: 0,
            top_p: 1.0,
        };
        let n = 8000;
        let ones = (0..n)
            .filter(|&s| tape(s).sample(&logits, &p, 0).unwrap().id == 1)
            .count();
        let f = ones as f64 / n as f64;
        // 4σ of a binomial(8000, 3/4) proportion is 0.019.
        assert!((f - 0.75).abs() < 0.02, "{f}");
    }

    #[test]
    fn top_k_and_top_p_restrict_the_set() {
        let logits = [5.0f32, 4.9, 1.0, 0.5, 0.0];
        let k2 = TapeParams {
            tau: 1.0,
            top_k: 2,
            top_p: 1.0,
        };
        assert_eq!(candidates(&logits, &k2).unwrap().ids, vec![0, 1]);
        let p5 = TapeParams {
            tau: 1.0,
            top_k: 0,
            top_p: 0.5,
        };
        assert_eq!(candidates(&logits, &p5).unwrap().ids, vec![0]);
        let p9 = TapeParams { top_p: 0.9, ..p5 };
        assert_eq!(candidates(&logits, &p9).unwrap().ids, vec![0, 1]);
        for s in 0..200 {
            assert!(tape(s).sample(&logits, &k2, 0).unwrap().id < 2);
        }
    }

    #[test]
    fn an_auditor_with_the_same_logits_finds_zero_margin() {
        let mut rng = crate::sampling::Rng::new(9);
        let p = TapeParams {
            tau: 1.0,
            top_k: 40,
            top_p: 0.95,
        };
        for t in 0..100u64 {
            let logits: Vec<f32> = (0..300).map(|_| (rng.next_f64() * 8.0) as f32).collect();
            let x = tape(t).sample(&logits, &p, t).unwrap();
            let m = tape(t).margin(&logits, &p, t, x.id).unwrap();
            assert_eq!(
                (m.z, m.milli, m.x_in_set, m.agrees()),
                (x.id, 0, true, true)
            );
        }
    }

    #[test]
    fn a_token_from_another_tape_or_model_shows_a_margin() {
        let mut rng = crate::sampling::Rng::new(11);
        let p = TapeParams {
            tau: 1.0,
            top_k: 0,
            top_p: 1.0,
        };
        let mut flagged = 0;
        for t in 0..200u64 {
            let logits: Vec<f32> = (0..300).map(|_| (rng.next_f64() * 8.0) as f32).collect();
            // A replay: the token drawn with a different request's tape.
            let x = tape(t + 1_000).sample(&logits, &p, t).unwrap();
            let m = tape(t).margin(&logits, &p, t, x.id).unwrap();
            if m.z != x.id {
                assert!(m.milli > 0);
                flagged += 1;
            }
        }
        assert!(flagged > 150, "{flagged} of 200 replayed steps differ");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let p = TapeParams {
            tau: 1.0,
            top_k: 0,
            top_p: 1.0,
        };
        assert!(candidates(&[], &p).is_err());
        assert!(candidates(&[1.0, f32::NAN], &p).is_err());
        assert!(candidates(&[1.0], &TapeParams { tau: -1.0, ..p }).is_err());
        assert!(candidates(&[1.0], &TapeParams { top_p: 0.0, ..p }).is_err());
        assert!(tape(0).margin(&[1.0, 2.0], &p, 0, 2).is_err());
    }
}
