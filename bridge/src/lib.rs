//! Wormhole bridge for the Comrade chain.
//!
//! This crate will own VAA verification against guardian sets, replay
//! protection, mint/burn of bridged COMRADE and outbound withdrawal
//! certificates (ARCHITECTURE.md §8).
//!
//! **Status:** skeleton. Nothing is implemented yet; the vote-extension
//! plumbing that will carry bridge signatures lives in `comrade-app` and
//! carries an empty signature list until this crate is filled in.
//!
//! Built on the module layout of `docs/architecture.md`: it will move funds
//! only through the bank capability of `comrade-bank` (`BankWrite::mint` for
//! verified deposits, `BankWrite::burn` for withdrawals), never through raw
//! balance keys; `tests/it` shows that capability working from this crate.
//!
//! Must not depend on `comrade-app`, `comrade-consensus` or
//! `comrade-inference`.
#![deny(
    clippy::dbg_macro,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
