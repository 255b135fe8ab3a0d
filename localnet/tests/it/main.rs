//! End-to-end tests of a 4-validator localnet: the real `cometbft` (v0.38)
//! driving the real `comrade` binary over ABCI, everything on 127.0.0.1.
//!
//! Needs `cometbft` (scripts/install-cometbft.sh) and the `comrade` binary
//! (`cargo build -p comrade-cli`, or `COMRADE_BIN`); a test fails, not skips,
//! when either is missing. Tests run one at a time (a global lock; each
//! localnet is 8 processes) in their own temp dir and port range. Set
//! `COMRADE_E2E_KEEP=1` to keep the directories for inspection.

// Tests read clocks and use hash maps freely (tooling, not the state machine),
// and unwrap/expect are the assertions here.
#![allow(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

mod bad_tx;
mod baseline;
mod bridge;
mod cli;
mod common;
mod compute;
mod consistency;
mod cosmjs;
mod crash;
mod send;
mod vote_ext;
