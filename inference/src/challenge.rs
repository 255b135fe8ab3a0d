//! The capacity challenge as a Burn tensor program: what a compute node runs
//! during a sprint (design §8.0). The state machine verifies openings with
//! the plain kernel of `comrade-exact`; this program must give the same
//! bits, and does because every value it handles is a small integer held
//! exactly in `f32`:
//!
//! * inputs and weights are in `[-31, 31]` (exact in f32, in TF32's 10-bit
//!   mantissa and in bf16), and every partial sum of a dot product is an
//!   integer below `961·d < 2²²`, so an f32 matmul is exact whatever its
//!   blocking, summation order or thread count;
//! * the requantisation `clamp((acc·μ + 2¹⁵) >> 16, −31, 31)` is evaluated
//!   as `clamp(floor((clamp(acc, −C, C)·μ + 2¹⁵) / 2¹⁶), −31, 31)` with
//!   `C = ⌈32·2¹⁶/μ⌉`: clamping `acc` first keeps `acc·μ` below 2²²⁺¹ (exact in
//!   f32) and cannot change the result, since every `|acc| ≥ C` saturates
//!   anyway; dividing by a power of two and `floor` are exact.
//!
//! [`int_rows`] is the same program on Burn's integer tensors
//! (`int_matmul`, i32 on Flex), kept as a cross-check.

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use comrade_exact::{Challenge, Hash, Profile, merkle, prf};

/// A failure of the Burn program (a backend bug, never an input property).
#[derive(Debug, thiserror::Error)]
pub enum ChallengeError {
    /// The backend returned data that could not be read back.
    #[error("reading the challenge output back from the device: {0}")]
    ReadBack(String),
    /// The backend returned a value that is not an exact small integer: the
    /// device's matmul is not exact (e.g. FP8), so it cannot prove.
    #[error("the device computed a non-integer or out-of-range value {value} at output {index}")]
    Inexact {
        /// The value.
        value: f32,
        /// Its flat index.
        index: usize,
    },
    /// The device asked for is not compiled in.
    #[error("the {0} device is not available in this build")]
    Unavailable(&'static str),
    /// The input is not a whole number of rows.
    #[error("input of {len} values is not a whole number of rows of {d}")]
    Shape {
        /// Values given.
        len: usize,
        /// Row width.
        d: usize,
    },
}

/// One sprint's weights on a Burn device.
#[derive(Debug)]
pub struct BurnChallenge<B: Backend> {
    profile: Profile,
    seed: Hash,
    layers: Vec<Tensor<B, 2>>,
    proj: Tensor<B, 2>,
    device: B::Device,
}

fn floats(v: &[i8]) -> Vec<f32> {
    v.iter().map(|&x| f32::from(x)).collect()
}

impl<B: Backend> BurnChallenge<B> {
    /// Uploads the weights of `seed` for `profile` to `device`.
    pub fn new(profile: Profile, seed: Hash, device: &B::Device) -> Self {
        let d = profile.d;
        let layers = (0..profile.layers)
            .map(|l| {
                let w = Challenge::layer_values(profile, &seed, l);
                Tensor::from_data(TensorData::new(floats(&w), [d, d]), device)
            })
            .collect();
        let p = Challenge::projection_values(profile, &seed);
        let proj = Tensor::from_data(TensorData::new(floats(&p), [d, profile.w_out]), device);
        Self {
            profile,
            seed,
            layers,
            proj,
            device: device.clone(),
        }
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The outputs `y` of `xs.len() / d` input rows, `w_out` per row.
    pub fn rows(&self, xs: &[i8]) -> Result<Vec<i32>, ChallengeError> {
        let p = self.profile;
        let n = whole_rows(xs.len(), p.d)?;
        let mu = p.mu as f32;
        let c = (32.0 * 65536.0 / mu).ceil();
        let mut h = Tensor::<B, 2>::from_data(TensorData::new(floats(xs), [n, p.d]), &self.device);
        for w in &self.layers {
            let acc = h.matmul(w.clone());
            h = acc
                .clamp(-c, c)
                .mul_scalar(mu)
                .add_scalar(32768.0)
                .div_scalar(65536.0)
                .floor()
                .clamp(-31.0, 31.0);
        }
        let y = h.matmul(self.proj.clone());
        exact_ints(y, p.max_abs_acc())
    }

    /// Leaves of rows `range` of the node whose inputs are keyed by `key`,
    /// computed in batches of `batch` rows on the device.
    pub fn leaves(
        &self,
        key: &Hash,
        range: std::ops::Range<u64>,
        batch: u64,
    ) -> Result<Vec<Hash>, ChallengeError> {
        let w = self.profile.w_out;
        let mut out = Vec::with_capacity(usize::try_from(range.end - range.start).unwrap_or(0));
        let mut start = range.start;
        let mut x = vec![0i8; self.profile.d];
        while start < range.end {
            let end = start.saturating_add(batch.max(1)).min(range.end);
            let mut xs = Vec::new();
            for j in start..end {
                prf::fill_values(key, &prf::input_nonce(j), &mut x);
                xs.extend_from_slice(&x);
            }
            let ys = self.rows(&xs)?;
            out.extend(
                (start..end)
                    .zip(ys.chunks_exact(w))
                    .map(|(j, y)| Challenge::leaf(j, y)),
            );
            start = end;
        }
        Ok(out)
    }

    /// The sprint seed.
    pub fn seed(&self) -> &Hash {
        &self.seed
    }
}

fn whole_rows(len: usize, d: usize) -> Result<usize, ChallengeError> {
    if len.is_multiple_of(d) {
        Ok(len / d)
    } else {
        Err(ChallengeError::Shape { len, d })
    }
}

/// Reads an f32 tensor of integer values back as `i32`, refusing anything
/// that is not an integer within `bound` (an inexact device).
fn exact_ints<B: Backend, const D: usize>(
    t: Tensor<B, D>,
    bound: u64,
) -> Result<Vec<i32>, ChallengeError> {
    let v = t
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .map_err(|e| ChallengeError::ReadBack(e.to_string()))?;
    let bound = bound as f32;
    v.into_iter()
        .enumerate()
        .map(|(index, value)| {
            if value.fract() == 0.0 && value.abs() <= bound {
                // an integer of magnitude < 2^22: the cast is exact
                Ok(value as i32)
            } else {
                Err(ChallengeError::Inexact { value, index })
            }
        })
        .collect()
}

/// The same program on Burn's integer tensors (`int_matmul`): requantises
/// with integer ops. Slower on Flex (its 2-D int matmul is single-threaded
/// and transposes the right operand per call), kept to cross-check.
pub fn int_rows<B: Backend>(
    profile: Profile,
    seed: &Hash,
    xs: &[i8],
    device: &B::Device,
) -> Result<Vec<i32>, ChallengeError> {
    let d = profile.d;
    let n = whole_rows(xs.len(), d)?;
    let ints = |v: &[i8]| v.iter().map(|&x| i32::from(x)).collect::<Vec<_>>();
    let mut h = Tensor::<B, 2, Int>::from_data(TensorData::new(ints(xs), [n, d]), device);
    let c = (32 * 65536 + profile.mu - 1) / profile.mu;
    for l in 0..profile.layers {
        let w = Challenge::layer_values(profile, seed, l);
        let w = Tensor::<B, 2, Int>::from_data(TensorData::new(ints(&w), [d, d]), device);
        // clamp first (as the float program), then shift a non-negative value:
        // floor((a·μ + 2^15) / 2^16) = ((a·μ + 2^15 + 32·2^16) / 2^16) − 32 with
        // the dividend ≥ 0, so truncating division is flooring division.
        h = h
            .matmul(w)
            .clamp(-c, c)
            .mul_scalar(profile.mu)
            .add_scalar(32768 + 32 * 65536)
            .div_scalar(65536)
            .sub_scalar(32)
            .clamp(-31, 31);
    }
    let p = Challenge::projection_values(profile, seed);
    let p = Tensor::<B, 2, Int>::from_data(TensorData::new(ints(&p), [d, profile.w_out]), device);
    h.matmul(p)
        .into_data()
        .convert::<i32>()
        .into_vec::<i32>()
        .map_err(|e| ChallengeError::ReadBack(e.to_string()))
}

/// A node's whole sprint on the device: rows `0..n_rows`, their Merkle tree.
pub fn prove<B: Backend>(
    challenge: &BurnChallenge<B>,
    node: &[u8],
    n_rows: u64,
    batch: u64,
) -> Result<merkle::Tree, ChallengeError> {
    let key = prf::input_key(challenge.seed(), node);
    Ok(merkle::Tree::from_leaves(challenge.leaves(
        &key,
        0..n_rows,
        batch,
    )?))
}

/// A sprint's prover behind one object type, so that the compute-node
/// worker need not name the Burn backend it runs on.
pub trait SprintProver: Send {
    /// The profile.
    fn profile(&self) -> Profile;
    /// Leaves of rows `range` of the node whose inputs are keyed by `key`
    /// (see [`BurnChallenge::leaves`]).
    fn leaves(
        &self,
        key: &Hash,
        range: std::ops::Range<u64>,
        batch: u64,
    ) -> Result<Vec<Hash>, ChallengeError>;
}

impl<B: Backend> SprintProver for BurnChallenge<B>
where
    BurnChallenge<B>: Send,
{
    fn profile(&self) -> Profile {
        self.profile
    }

    fn leaves(
        &self,
        key: &Hash,
        range: std::ops::Range<u64>,
        batch: u64,
    ) -> Result<Vec<Hash>, ChallengeError> {
        BurnChallenge::leaves(self, key, range, batch)
    }
}

/// The Burn program of `seed` on `device`, its weights uploaded.
pub fn sprint_prover(
    device: crate::cli::Device,
    profile: Profile,
    seed: Hash,
) -> Result<Box<dyn SprintProver>, ChallengeError> {
    match device {
        crate::cli::Device::Cpu => Ok(Box::new(BurnChallenge::<crate::Cpu>::new(
            profile,
            seed,
            &Default::default(),
        ))),
        #[cfg(feature = "cuda")]
        crate::cli::Device::Cuda => Ok(Box::new(BurnChallenge::<crate::Cuda>::new(
            profile,
            seed,
            &Default::default(),
        ))),
        #[cfg(not(feature = "cuda"))]
        crate::cli::Device::Cuda => Err(ChallengeError::Unavailable("cuda")),
    }
}
