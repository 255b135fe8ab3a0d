//! The exact integer kernel of Comrade's capacity challenge (design §5, §8.2).
//!
//! A compute node proves capacity by evaluating as many rows as it can of a
//! seeded chain of small-integer matrix products, committing the outputs in
//! an RFC 6962 Merkle tree; the chain then opens random rows and recomputes
//! each one **inside FinalizeBlock** with this crate. That is the one
//! documented exception to the determinism firewall (ARCHITECTURE §6), and it
//! is safe because every operation here is exact integer arithmetic:
//!
//! * inputs and weights lie in `[-31, 31]`, so one layer's accumulator is
//!   bounded by `d · 31² = 961·d < 2²²` for `d ≤ 4096` ([`Profile::max_abs_acc`]);
//! * the accumulator is therefore exact in `i32` under any summation order
//!   (and wrapping addition is associative anyway), exact in `f32` (integers
//!   below 2²⁴), and exact on bf16 tensor cores with f32 accumulation;
//! * the requantisation between layers ([`requantize`]) is integer-only.
//!
//! So the plain kernel here, the Burn tensor program the provers run (in
//! `comrade-inference`), and the naive `i64` [`mod@reference`] give identical
//! bits on every device, thread count and summation order; the tests assert
//! it. No floats, clocks, threads or global state are used in this crate.
#![deny(
    clippy::dbg_macro,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::arithmetic_side_effects
)]

// Index arithmetic over sizes bounded by the profile (d ≤ 4096, checked at
// compile time in `profile`); value arithmetic is wrapping and provably never
// wraps (module docs).
#[allow(clippy::arithmetic_side_effects)]
pub mod kernel;
pub mod merkle;
pub mod prf;
pub mod profile;
pub mod prover;
pub mod reference;
pub mod seed;

pub use kernel::{Challenge, requantize};
pub use profile::Profile;
pub use prover::Prover;

/// A 32-byte SHA-256 digest.
pub type Hash = [u8; 32];

/// The magnitude bound of every input and weight value.
pub const VALUE_MAX: i8 = 31;
