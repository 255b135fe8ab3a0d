//! A naive `i64` reference of the row function, written independently of
//! the kernel (row-major weights, `div_euclid` instead of a shift, no
//! blocking), for tests: the kernel, the Burn program and this must agree
//! bit for bit.

use crate::{Challenge, Hash, Profile, prf};

/// Row-major weights of one sprint, for the reference.
#[derive(Debug, Clone)]
pub struct ReferenceWeights {
    profile: Profile,
    layers: Vec<Vec<i8>>,
    proj: Vec<i8>,
}

impl ReferenceWeights {
    /// Expands the weights of `seed`.
    pub fn derive(profile: Profile, seed: &Hash) -> Self {
        Self {
            profile,
            layers: (0..profile.layers)
                .map(|l| Challenge::layer_values(profile, seed, l))
                .collect(),
            proj: Challenge::projection_values(profile, seed),
        }
    }

    /// `y` for input `x`, every step in `i64`. Also returns the largest
    /// `|accumulator|` seen, for the bound test.
    #[allow(clippy::arithmetic_side_effects)] // i64 of values bounded by 2^22
    pub fn row(&self, x: &[i8]) -> (Vec<i64>, i64) {
        let p = self.profile;
        let d = p.d;
        let mut max_acc = 0i64;
        let mut h: Vec<i64> = x.iter().map(|&v| i64::from(v)).collect();
        for w in &self.layers {
            let mut next = vec![0i64; d];
            for (c, out) in next.iter_mut().enumerate() {
                let mut acc = 0i64;
                for r in 0..d {
                    acc += h[r] * i64::from(w[r * d + c]);
                }
                max_acc = max_acc.max(acc.abs());
                *out = (acc * i64::from(p.mu) + 32768)
                    .div_euclid(65536)
                    .clamp(-31, 31);
            }
            h = next;
        }
        let y = (0..p.w_out)
            .map(|c| {
                (0..d)
                    .map(|r| h[r] * i64::from(self.proj[r * p.w_out + c]))
                    .sum()
            })
            .collect();
        (y, max_acc)
    }

    /// Input row `j` of the node with input key `key`.
    pub fn input(&self, key: &Hash, j: u64) -> Vec<i8> {
        let mut x = vec![0i8; self.profile.d];
        prf::fill_values(key, &prf::input_nonce(j), &mut x);
        x
    }
}
