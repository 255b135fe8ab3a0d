//! Proof-of-compute protocol for the Comrade chain.
//!
//! This crate will own validator and compute-node staking, capacity challenges,
//! inference attestation verdicts taken from vote extensions, stake-weighted
//! tallies, rewards, slashing and throttling (ARCHITECTURE.md §7).
//!
//! **Status:** skeleton. Nothing is implemented yet; the vote-extension
//! plumbing that will carry verdicts lives in `comrade-app` and carries an
//! empty verdict list until this crate is filled in.
//!
//! Must not depend on `comrade-bridge` or `comrade-inference`.
#![deny(
    clippy::dbg_macro,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
