//! The Comrade chain state machine.
//!
//! Owns the tx pipeline (size limit → decode → stateless checks → stateful
//! checks and execution on a fork → events), bank, accounts, fees and params,
//! the vote-extension plumbing, queries with ICS23 proofs, and the ABCI 2.0
//! socket server (feature `server`). State lives in cnidarium (RocksDB + JMT);
//! the app hash is the JMT root.
//!
//! Must not depend on `comrade-inference`, nor read clocks, randomness,
//! floats, `HashMap` order, the network or a GPU: everything here is
//! consensus-critical and must be deterministic.
#![deny(clippy::arithmetic_side_effects)]

pub mod app;
pub mod bank;
pub mod client;
pub mod error;
pub mod execute;
pub mod genesis;
pub mod params;
pub mod query;
pub mod read_cache;
#[cfg(feature = "server")]
pub mod server;
pub mod state;
pub mod state_key;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tx;
pub mod validators;
pub mod vote_ext;

pub use app::App;
pub use error::{ExecError, TxError};
