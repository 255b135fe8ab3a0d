//! `toploc-v1`: TOPLOC-compatible commitments to hidden states (design §1, §6).
//!
//! A chunk of final-norm hidden states (flattened, `[positions × d]`) is
//! rounded to bf16 (round to nearest even). Its `k = 128` largest values by
//! magnitude (ties to the lower flat index: our fix, TOPLOC leaves ties to
//! `torch.topk`) become the points `(index mod m, bf16 bits)` of a polynomial
//! over GF(65497), where `m ≤ 65497` is the largest modulus that keeps the
//! indices distinct. The proof is that modulus and the polynomial's
//! coefficients: `[m : u16 BE][c_0 … c_{k−1} : u16 BE]`, 258 bytes, the byte
//! layout of TOPLOC's `poly.cpp::to_bytes`.
//!
//! An auditor recomputes the states, takes its own top-k indices and
//! evaluates the polynomial there. For an honest executor the exponents
//! match exactly and the mantissas differ by a few units (different kernels
//! and batch shapes round differently). A different model, dropped layers or
//! coarser weights move the states: the exponents stop matching and the
//! mantissas drift. We also count sign flips among the exponent matches,
//! which the original ignores.

use half::bf16;

use crate::error::{InferenceError, Result};

/// The field's prime (TOPLOC's `MOD_N`).
pub const PRIME: u32 = 65_497;
/// Values per proof.
pub const TOP_K: usize = 128;
/// Output positions per decode proof.
pub const CHUNK: usize = 32;

const EXP_MASK: u16 = 0x7F80;
const MANT_MASK: u16 = 0x007F;
const SIGN_MASK: u16 = 0x8000;

/// One chunk's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The injective modulus (0 in a null proof).
    pub modulus: u16,
    /// Coefficients `c_0 … c_{k−1}` of the interpolating polynomial.
    pub coeffs: Vec<u16>,
}

/// What an auditor's comparison of one chunk found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkCheck {
    /// Points compared (the proof's k).
    pub points: u16,
    /// Exponent mismatches among them.
    pub exp_mismatches: u16,
    /// Sign flips among the exponent matches.
    pub sign_mismatches: u16,
    /// Mean |Δ mantissa| over the exponent matches, in hundredths
    /// (`u32::MAX` when nothing matched).
    pub mant_mean_centi: u32,
    /// Upper median |Δ mantissa| over the exponent matches (`u8::MAX` when
    /// nothing matched).
    pub mant_median: u8,
}

impl Proof {
    /// The proof of a chunk of states (`values`, flattened).
    pub fn build(values: &[f32]) -> Result<Self> {
        let bits = to_bf16_bits(values);
        let idx = top_indices(&bits, TOP_K);
        if idx.is_empty() {
            return Err(InferenceError::InvalidRequest(
                "a TOPLOC chunk needs at least one value".into(),
            ));
        }
        let modulus = injective_modulus(&idx).ok_or_else(|| {
            InferenceError::InvalidRequest("no injective modulus for the top-k indices".into())
        })?;
        let xs: Vec<u32> = idx.iter().map(|&i| (i % modulus as usize) as u32).collect();
        let ys: Vec<u32> = idx.iter().map(|&i| u32::from(bits[i]) % PRIME).collect();
        let coeffs = interpolate(&xs, &ys)
            .into_iter()
            .map(|c| u16::try_from(c).expect("invariant: a field element is below 65497"))
            .collect();
        Ok(Self { modulus, coeffs })
    }

    /// `[m : u16 BE][c_i : u16 BE]…`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + 2 * self.coeffs.len());
        out.extend(self.modulus.to_be_bytes());
        for c in &self.coeffs {
            out.extend(c.to_be_bytes());
        }
        out
    }

    /// Parses [`Self::to_bytes`]; refuses odd lengths, more than
    /// [`TOP_K`] coefficients, a zero modulus and coefficients outside the
    /// field.
    pub fn from_bytes(b: &[u8]) -> Result<Self> {
        let bad = |why: &str| InferenceError::InvalidRequest(format!("TOPLOC proof: {why}"));
        if b.len() < 4 || !b.len().is_multiple_of(2) || b.len() > 2 + 2 * TOP_K {
            return Err(bad(&format!("{} bytes", b.len())));
        }
        let words: Vec<u16> = b
            .chunks_exact(2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]))
            .collect();
        let modulus = words[0];
        if modulus == 0 || u32::from(modulus) > PRIME {
            return Err(bad(&format!("modulus {modulus}")));
        }
        if words[1..].iter().any(|&c| u32::from(c) >= PRIME) {
            return Err(bad("a coefficient outside GF(65497)"));
        }
        Ok(Self {
            modulus,
            coeffs: words[1..].to_vec(),
        })
    }

    /// The polynomial at `index mod m`, as bf16 bits.
    pub fn eval(&self, index: usize) -> u16 {
        let x = u64::from((index % usize::from(self.modulus.max(1))) as u32);
        let p = u64::from(PRIME);
        let v = self
            .coeffs
            .iter()
            .rev()
            .fold(0u64, |acc, &c| (acc * x + u64::from(c)) % p);
        u16::try_from(v).expect("invariant: reduced mod 65497")
    }

    /// Compares the proof with the auditor's own states of the same chunk.
    pub fn check(&self, values: &[f32]) -> ChunkCheck {
        let bits = to_bf16_bits(values);
        let idx = top_indices(&bits, self.coeffs.len());
        let mut exp_mismatches = 0u16;
        let mut sign_mismatches = 0u16;
        let mut errs: Vec<u8> = Vec::with_capacity(idx.len());
        for &i in &idx {
            let theirs = self.eval(i);
            let ours = bits[i];
            if theirs & EXP_MASK != ours & EXP_MASK {
                exp_mismatches += 1;
                continue;
            }
            if theirs & SIGN_MASK != ours & SIGN_MASK {
                sign_mismatches += 1;
            }
            let d = (theirs & MANT_MASK).abs_diff(ours & MANT_MASK);
            errs.push(u8::try_from(d).expect("invariant: 7-bit mantissas"));
        }
        let (mant_mean_centi, mant_median) = if errs.is_empty() {
            (u32::MAX, u8::MAX)
        } else {
            let sum: u32 = errs.iter().map(|&e| u32::from(e)).sum();
            let n = errs.len() as u32;
            errs.sort_unstable();
            ((sum * 100 + n / 2) / n, errs[errs.len() / 2])
        };
        ChunkCheck {
            points: idx.len() as u16,
            exp_mismatches,
            sign_mismatches,
            mant_mean_centi,
            mant_median,
        }
    }
}

/// Round to nearest even, as bf16 bit patterns.
pub fn to_bf16_bits(values: &[f32]) -> Vec<u16> {
    values
        .iter()
        .map(|&v| bf16::from_f32(v).to_bits())
        .collect()
}

/// The flat indices of the `k` largest magnitudes, ties to the lower index.
/// NaNs rank last (sign and exponent bits are compared as an integer, which
/// orders finite magnitudes correctly).
fn top_indices(bits: &[u16], k: usize) -> Vec<usize> {
    let mag = |i: usize| {
        let b = bits[i] & !SIGN_MASK;
        if b > 0x7F80 { 0 } else { b } // NaN
    };
    let mut idx: Vec<usize> = (0..bits.len()).collect();
    let k = k.min(idx.len());
    if k == 0 {
        return vec![];
    }
    let rank = |a: &usize, b: &usize| mag(*b).cmp(&mag(*a)).then(a.cmp(b));
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, rank);
        idx.truncate(k);
    }
    idx.sort_by(rank);
    idx
}

/// The largest `m ≤ 65497` for which the indices are distinct mod `m`.
fn injective_modulus(idx: &[usize]) -> Option<u16> {
    let mut seen = vec![false; PRIME as usize];
    'm: for m in (1..=PRIME as usize).rev() {
        if m < idx.len() {
            return None;
        }
        for s in seen.iter_mut().take(m) {
            *s = false;
        }
        for &i in idx {
            let r = i % m;
            if seen[r] {
                continue 'm;
            }
            seen[r] = true;
        }
        return u16::try_from(m).ok();
    }
    None
}

fn pow_mod(mut b: u64, mut e: u64) -> u64 {
    let p = u64::from(PRIME);
    let mut r = 1u64;
    b %= p;
    while e > 0 {
        if e & 1 == 1 {
            r = r * b % p;
        }
        b = b * b % p;
        e >>= 1;
    }
    r
}

fn inv(a: u64) -> u64 {
    pow_mod(a, u64::from(PRIME) - 2)
}

/// Newton divided differences over GF(p), expanded to standard-form
/// coefficients `c_0 + c_1 x + …` (O(k²)). The `xs` must be distinct mod p.
fn interpolate(xs: &[u32], ys: &[u32]) -> Vec<u32> {
    let p = u64::from(PRIME);
    let n = xs.len();
    let x: Vec<u64> = xs.iter().map(|&v| u64::from(v) % p).collect();
    // Divided-difference table, in place: dd[i] = f[x_0..x_i].
    let mut dd: Vec<u64> = ys.iter().map(|&v| u64::from(v) % p).collect();
    for j in 1..n {
        for i in (j..n).rev() {
            let num = (dd[i] + p - dd[i - 1]) % p;
            let den = (x[i] + p - x[i - j]) % p;
            dd[i] = num * inv(den) % p;
        }
    }
    // Horner on the Newton form: P = dd[n−1]; P = P·(x − x_i) + dd[i].
    let mut c = vec![0u64; n];
    c[0] = dd[n - 1];
    let mut deg = 0;
    for i in (0..n - 1).rev() {
        // c ← c·(x − x_i)
        deg += 1;
        for d in (1..=deg).rev() {
            c[d] = (c[d - 1] + c[d] * (p - x[i])) % p;
        }
        c[0] = (c[0] * (p - x[i]) + dd[i]) % p;
    }
    c.into_iter()
        .map(|v| u32::try_from(v).expect("invariant: reduced mod p"))
        .collect()
}

/// The chunks an executor proves for one request with `prompt` positions
/// and `n_out` generated tokens (design §6): the prefill `0..prompt`, then
/// the decode states `prompt..prompt+n_out−1` (those that predicted output
/// tokens 1…n_out−1) in runs of [`CHUNK`].
pub fn chunk_ranges(prompt: usize, n_out: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::with_capacity(1 + n_out / CHUNK + 1);
    out.push(0..prompt);
    let end = prompt + n_out.saturating_sub(1);
    let mut s = prompt;
    while s < end {
        let e = (s + CHUNK).min(end);
        out.push(s..e);
        s = e;
    }
    out
}

/// Proves every chunk of `hidden` (`[positions × d]`, flattened, at least
/// `prompt + n_out − 1` positions).
pub fn prove(hidden: &[f32], d: usize, prompt: usize, n_out: usize) -> Result<Vec<Proof>> {
    let need = (prompt + n_out.saturating_sub(1)) * d;
    if d == 0 || prompt == 0 || hidden.len() < need {
        return Err(InferenceError::InputShape {
            what: "hidden states for the TOPLOC chunks".into(),
            expected: vec![need / d.max(1), d],
            found: vec![hidden.len() / d.max(1), d],
        });
    }
    chunk_ranges(prompt, n_out)
        .into_iter()
        .map(|r| Proof::build(&hidden[r.start * d..r.end * d]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Heavy-tailed (Cauchy) values, like real hidden states with their
    /// outliers: the top-k are well apart, so rounding noise rarely swaps
    /// members of the set.
    fn states(seed: u64, n: usize) -> Vec<f32> {
        let mut r = crate::sampling::Rng::new(seed);
        (0..n)
            .map(|_| (std::f64::consts::PI * (r.next_f64() - 0.5)).tan() as f32)
            .collect()
    }

    #[test]
    fn the_polynomial_passes_through_every_point() {
        let v = states(1, 32 * 576);
        let p = Proof::build(&v).unwrap();
        assert_eq!(p.coeffs.len(), TOP_K);
        assert_eq!(
            p.modulus as u32, PRIME,
            "32·576 < 65497: indices are already distinct"
        );
        let bits = to_bf16_bits(&v);
        for i in top_indices(&bits, TOP_K) {
            assert_eq!(p.eval(i), bits[i], "index {i}");
        }
    }

    #[test]
    fn bytes_round_trip_in_the_toploc_layout() {
        let p = Proof::build(&states(2, 4096)).unwrap();
        let b = p.to_bytes();
        assert_eq!(b.len(), 258);
        assert_eq!(u16::from_be_bytes([b[0], b[1]]), p.modulus);
        assert_eq!(u16::from_be_bytes([b[2], b[3]]), p.coeffs[0]);
        assert_eq!(Proof::from_bytes(&b).unwrap(), p);
        for bad in [
            &b[..3],
            &b[..1],
            &[0u8, 0, 0, 1][..],
            &[0xFF, 0xFF, 0, 1][..],
        ] {
            assert!(Proof::from_bytes(bad).is_err(), "{bad:?}");
        }
        let mut over = b.clone();
        over.extend([0, 1]);
        assert!(Proof::from_bytes(&over).is_err());
        let mut out_of_field = b;
        out_of_field[2..4].copy_from_slice(&65_500u16.to_be_bytes());
        assert!(Proof::from_bytes(&out_of_field).is_err());
    }

    #[test]
    fn a_long_prefill_gets_a_smaller_injective_modulus() {
        // 400 positions × 576 > 65497: the modulus must be searched.
        let v = states(3, 400 * 576);
        let p = Proof::build(&v).unwrap();
        let idx = top_indices(&to_bf16_bits(&v), TOP_K);
        let m = usize::from(p.modulus);
        let mut r: Vec<usize> = idx.iter().map(|i| i % m).collect();
        r.sort_unstable();
        r.dedup();
        assert_eq!(r.len(), TOP_K);
        assert_eq!(p.check(&v).exp_mismatches, 0);
    }

    #[test]
    fn identical_states_match_exactly() {
        let v = states(4, 32 * 576);
        let c = Proof::build(&v).unwrap().check(&v);
        assert_eq!(
            c,
            ChunkCheck {
                points: 128,
                exp_mismatches: 0,
                sign_mismatches: 0,
                mant_mean_centi: 0,
                mant_median: 0
            }
        );
    }

    #[test]
    fn small_noise_stays_close_and_other_states_fail() {
        let v = states(5, 32 * 576);
        let p = Proof::build(&v).unwrap();
        // Relative noise of 2⁻¹⁰: about one bf16 mantissa unit (2⁻⁷) in 8.
        let mut r = crate::sampling::Rng::new(6);
        let noisy: Vec<f32> = v
            .iter()
            .map(|&x| x * (1.0 + ((r.next_f64() - 0.5) * 2.0 / 1024.0) as f32))
            .collect();
        let c = p.check(&noisy);
        assert!(c.exp_mismatches <= 8, "{c:?}");
        assert!(c.mant_mean_centi <= 100 && c.mant_median <= 1, "{c:?}");
        let other = p.check(&states(7, 32 * 576));
        assert!(other.exp_mismatches > 100, "{other:?}");
    }

    #[test]
    fn sign_flips_are_counted() {
        let v = states(8, 4096);
        let p = Proof::build(&v).unwrap();
        let flipped: Vec<f32> = v.iter().map(|x| -x).collect();
        let c = p.check(&flipped);
        assert_eq!((c.exp_mismatches, c.sign_mismatches), (0, 128), "{c:?}");
    }

    #[test]
    fn chunks_cover_the_prefill_then_runs_of_32() {
        assert_eq!(chunk_ranges(5, 1), vec![0..5]);
        assert_eq!(chunk_ranges(5, 2), vec![0..5, 5..6]);
        assert_eq!(chunk_ranges(5, 70), vec![0..5, 5..37, 37..69, 69..74]);
        assert!(prove(&[0.0; 10], 2, 5, 2).is_err(), "needs 6 positions");
        assert_eq!(prove(&states(9, 12), 2, 5, 2).unwrap().len(), 2);
    }

    #[test]
    fn interpolation_matches_a_direct_lagrange_evaluation() {
        let xs = [3u32, 10, 77, 65_000];
        let ys = [1u32, 65_496, 500, 7];
        let c = interpolate(&xs, &ys);
        let p = u64::from(PRIME);
        for (&x, &y) in xs.iter().zip(&ys) {
            let v = c
                .iter()
                .rev()
                .fold(0u64, |a, &ci| (a * u64::from(x) + u64::from(ci)) % p);
            assert_eq!(v, u64::from(y));
        }
    }
}
