//! The row function and its fast CPU kernel.
//!
//! Weights are stored transposed (`wt[c·d + r] = W[r][c]`) so every output
//! is one contiguous `i8·i8 → i32` dot product; rows are processed in small
//! blocks that share each weight column while it is in L1. On x86-64 with
//! AVX2 the same code is compiled inside a `pulp` AVX2 context (detected at
//! run time, no `unsafe`), where LLVM vectorises the dot products.
//!
//! Exactness: every dot product is bounded by [`Profile::max_abs_acc`]
//! `< 2²²`, so it never wraps; the additions are `wrapping_add` anyway,
//! which is associative and commutative, so vector width, block size and
//! summation order cannot change a single bit.

use crate::{Hash, Profile, VALUE_MAX, merkle, prf};

/// Rows per block: the block's `h` vectors share each weight column.
const BLOCK: usize = 4;

/// `clamp((acc·mu + 2¹⁵) >> 16, −31, 31)` — an arithmetic (flooring) shift,
/// i.e. round-half-up of `acc·mu / 2¹⁶`.
pub const fn requantize(acc: i32, mu: i32) -> i8 {
    // |acc·mu| + 2^15 < 2^31 by the profile bound; i64 leaves room anyway.
    let v = (acc as i64).wrapping_mul(mu as i64).wrapping_add(1 << 15) >> 16;
    let max = VALUE_MAX as i64;
    let c = if v > max {
        max
    } else if v < -max {
        -max
    } else {
        v
    };
    // |c| ≤ 31
    #[allow(clippy::cast_possible_truncation)]
    let out = c as i8;
    out
}

/// `Σ a[i]·b[i]` in wrapping `i32` (never wraps under the profile bound).
#[inline(always)]
fn dot(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).fold(0i32, |s, (&x, &y)| {
        s.wrapping_add(i32::from(x).wrapping_mul(i32::from(y)))
    })
}

/// Which implementation of the dot products runs.
#[derive(Debug, Clone, Copy)]
pub enum Kernel {
    /// Portable code (whatever the compile target vectorises).
    Scalar,
    /// The same code compiled with AVX2 + FMA enabled.
    #[cfg(target_arch = "x86_64")]
    Avx2(pulp::x86::V3),
}

impl Kernel {
    /// The fastest kernel this CPU supports.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if let Some(v3) = pulp::x86::V3::try_new() {
            return Self::Avx2(v3);
        }
        Self::Scalar
    }
}

/// One sprint's expanded weights: `layers` transposed `d × d` matrices and
/// the transposed `d × w_out` projection.
#[derive(Clone)]
pub struct Challenge {
    profile: Profile,
    seed: Hash,
    layers: Vec<Vec<i8>>,
    proj: Vec<i8>,
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenge")
            .field("profile", &self.profile.name)
            .field("seed", &hex_short(&self.seed))
            .finish_non_exhaustive()
    }
}

fn hex_short(h: &Hash) -> String {
    h[..6].iter().map(|b| format!("{b:02x}")).collect()
}

/// Row-major `rows × cols` values → transposed (`out[c·rows + r]`).
fn transpose(m: &[i8], rows: usize, cols: usize) -> Vec<i8> {
    let mut t = vec![0i8; m.len()];
    for (r, row) in m.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            if let Some(slot) = c.checked_mul(rows).and_then(|i| i.checked_add(r)) {
                t[slot] = v;
            }
        }
    }
    debug_assert_eq!(rows.checked_mul(cols), Some(m.len()));
    t
}

impl Challenge {
    /// Expands the weights of sprint seed `seed` for `profile`
    /// (`d²·layers + d·w_out` keystream bytes; ~1 MiB for `localnet-cpu`,
    /// 128 MiB for `mainnet-gpu`).
    pub fn derive(profile: Profile, seed: Hash) -> Self {
        let d = profile.d;
        let layers = (0..profile.layers)
            .map(|l| transpose(&Self::layer_values(profile, &seed, l), d, d))
            .collect();
        let proj = transpose(&Self::projection_values(profile, &seed), d, profile.w_out);
        Self {
            profile,
            seed,
            layers,
            proj,
        }
    }

    /// Row-major `W_l` (`d × d`), as the Burn program and the reference use it.
    pub fn layer_values(profile: Profile, seed: &Hash, layer: usize) -> Vec<i8> {
        let mut w = vec![0i8; profile.d * profile.d];
        prf::fill_values(&prf::weight_key(seed, layer_index(layer)), &[0; 12], &mut w);
        w
    }

    /// Row-major `P` (`d × w_out`).
    pub fn projection_values(profile: Profile, seed: &Hash) -> Vec<i8> {
        let mut p = vec![0i8; profile.d * profile.w_out];
        prf::fill_values(
            &prf::weight_key(seed, layer_index(profile.layers)),
            &[0; 12],
            &mut p,
        );
        p
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The sprint seed σ.
    pub fn seed(&self) -> &Hash {
        &self.seed
    }

    /// Input row `j` of the node whose inputs are keyed by `key`
    /// ([`prf::input_key`]).
    pub fn input(&self, key: &Hash, j: u64) -> Vec<i8> {
        let mut x = vec![0i8; self.profile.d];
        prf::fill_values(key, &prf::input_nonce(j), &mut x);
        x
    }

    /// The output `y` (`w_out` values) of one input row.
    pub fn row(&self, x: &[i8]) -> Vec<i32> {
        self.rows(x)
    }

    /// The outputs of `xs.len() / d` input rows (row-major), `w_out` per row,
    /// with the fastest kernel of this CPU.
    pub fn rows(&self, xs: &[i8]) -> Vec<i32> {
        self.rows_with(Kernel::detect(), xs)
    }

    /// [`Challenge::rows`] with a chosen kernel (tests compare them).
    ///
    /// # Panics
    /// If `xs.len()` is not a multiple of `d` (a caller bug).
    pub fn rows_with(&self, kernel: Kernel, xs: &[i8]) -> Vec<i32> {
        let d = self.profile.d;
        assert!(
            xs.len().is_multiple_of(d),
            "input of {} values is not a whole number of rows of {d}",
            xs.len()
        );
        let mut out = vec![0i32; xs.len() / d * self.profile.w_out];
        match kernel {
            Kernel::Scalar => rows_impl(self, xs, &mut out),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(v3) => v3.vectorize(Job {
                ch: self,
                xs,
                out: &mut out,
            }),
        }
        out
    }

    /// The Merkle leaf of row `j` with output `y`:
    /// `H(0x00 ‖ "row/v1" ‖ j_le64 ‖ y as i32 le)`.
    pub fn leaf(j: u64, y: &[i32]) -> Hash {
        let mut data = Vec::with_capacity(14 + 4 * y.len());
        data.extend_from_slice(b"row/v1");
        data.extend_from_slice(&j.to_le_bytes());
        for v in y {
            data.extend_from_slice(&v.to_le_bytes());
        }
        merkle::leaf_hash(&data)
    }
}

fn layer_index(layer: usize) -> u32 {
    u32::try_from(layer).expect("profiles have fewer than 2^32 layers")
}

struct Job<'a> {
    ch: &'a Challenge,
    xs: &'a [i8],
    out: &'a mut [i32],
}

impl pulp::NullaryFnOnce for Job<'_> {
    type Output = ();

    #[inline(always)]
    fn call(self) {
        rows_impl(self.ch, self.xs, self.out)
    }
}

/// `out[i·w_out ..] = y(xs[i·d ..])` for every row, in blocks of [`BLOCK`].
#[inline(always)]
fn rows_impl(ch: &Challenge, xs: &[i8], out: &mut [i32]) {
    let p = ch.profile;
    let d = p.d;
    let mut acc = vec![0i32; BLOCK * d];
    let mut h = vec![0i8; BLOCK * d];
    for (xb, ob) in xs.chunks(BLOCK * d).zip(out.chunks_mut(BLOCK * p.w_out)) {
        let n = xb.len() / d;
        let h = &mut h[..n * d];
        h.copy_from_slice(xb);
        for wt in &ch.layers {
            matmul_t(h, wt, d, &mut acc[..n * d]);
            for (hv, &a) in h.iter_mut().zip(acc.iter()) {
                *hv = requantize(a, p.mu);
            }
        }
        matmul_t(h, &ch.proj, d, ob);
    }
}

/// `out[r·n + c] = h[r] · wt[c]` for the `h.len() / d` rows of a block,
/// where `n = wt.len() / d`; each weight column is read once per block.
#[inline(always)]
fn matmul_t(h: &[i8], wt: &[i8], d: usize, out: &mut [i32]) {
    let n = wt.len() / d;
    for (c, w) in wt.chunks_exact(d).enumerate() {
        for (r, hr) in h.chunks_exact(d).enumerate() {
            if let Some(slot) = r.checked_mul(n).and_then(|i| i.checked_add(c)) {
                out[slot] = dot(hr, w);
            }
        }
    }
}
