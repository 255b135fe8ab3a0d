//! The Comrade chain state machine.
//!
//! Owns the tx pipeline (size limit → decode → stateless checks → stateful
//! checks and execution on a fork → events), the orchestration of every
//! module ([`modules`]: one action registry, one ordered hook list, one
//! query router, one code registry), the app's own state (params, versions,
//! heights), the fee and validator-set modules, the vote-extension
//! plumbing, queries with ICS23 proofs, and the ABCI 2.0 socket server
//! (feature `server`). State lives in cnidarium (RocksDB + JMT); the app
//! hash is the JMT root. Accounts and the bank are the `comrade-bank` crate,
//! the plumbing every module shares is `comrade-primitives` (feature
//! `component`); `docs/architecture.md` shows the layout.
//!
//! Must not depend on `comrade-inference`, nor read clocks, randomness,
//! floats, `HashMap` order, the network or a GPU: everything here is
//! consensus-critical and must be deterministic.
#![deny(clippy::arithmetic_side_effects)]
#![deny(
    clippy::dbg_macro,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

pub mod app;
pub mod client;
pub mod error;
pub mod event;
pub mod execute;
pub mod fees;
pub mod genesis;
pub mod metrics;
pub mod modules;
pub mod params;
pub mod query;
pub mod read_cache;
mod registry;
#[cfg(feature = "server")]
pub mod server;
pub mod state;
pub mod state_key;
pub mod tx;
pub mod validators;
pub mod vote_ext;

pub use app::App;
pub use error::{ExecError, TxError};
