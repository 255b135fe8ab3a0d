//! N-validator local network orchestration for Comrade, against the real
//! CometBFT binary and the real `comrade` binary.
//!
//! A localnet lives in one directory:
//!
//! ```text
//! <dir>/localnet.json        the manifest: config, nodes, ports, node ids (see [`Manifest`])
//! <dir>/pids.json            pids of the running processes (see [`PidFile`])
//! <dir>/genesis.json         the shared CometBFT genesis (also copied into every node)
//! <dir>/node<i>/             CometBFT home of node i (config/, data/), and
//! <dir>/node<i>/data/comrade-state   the app's state (opened by `comrade start`)
//! <dir>/node<i>/app.log      stdout+stderr of `comrade start`
//! <dir>/node<i>/cometbft.log stdout+stderr of `cometbft node`
//! ```
//!
//! [`Localnet::generate`] writes the directory, [`Localnet::start`] spawns the
//! processes, [`Localnet::wait_for_height`] waits for blocks, and
//! [`Localnet::stop`] / [`down`] stop them. Fault injection for tests:
//! [`Localnet::kill_node`], [`Localnet::kill_app`], [`Localnet::restart_node`],
//! [`Localnet::restart_app`]. [`cli::LocalnetCommand`] is the
//! `comrade localnet …` subcommand.
//!
//! Everything listens on 127.0.0.1 only. Every wait is bounded in time.
//!
//! # End-to-end tests and benchmark
//!
//! ```text
//! scripts/install-deps.sh                      # apt libs + pinned cometbft and abci-cli in ~/.cache/comrade/bin
//! cargo build -p comrade-cli                   # the `comrade` binary the validators run
//! cargo test -p comrade-localnet --test it     # 10 e2e tests, serialized, ~1.5 min on 2 cores
//! cargo build --release -p comrade-cli
//! cargo run --release -p comrade-localnet --bin comrade-loadgen -- --comrade-bin target/release/comrade
//! ```
//!
//! The tests find `cometbft` on `PATH` or in `$COMRADE_CACHE/bin` and the
//! `comrade` binary via `$COMRADE_BIN` or next to the test executable
//! (`<target>/debug/comrade`); they fail (never skip) when either is missing.
//!
//! This crate is tooling, not the state machine: it reads clocks and uses
//! hash maps freely, so the determinism lints of `clippy.toml` are off here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

pub mod cli;
pub mod compute;
mod config;
mod error;
mod find;
mod genesis;
mod net;
mod process;
pub mod rpc;

pub use config::{
    AppKind, ComputeSchedule, DEFAULT_BASE_PORT, DEFAULT_CHAIN_ID, DEFAULT_VALIDATORS,
    LocalnetConfig, NodePorts, NodeRole, PORTS_PER_NODE,
};
pub use error::LocalnetError;
pub use find::{find_abci_cli, find_cometbft, find_comrade_bin};
pub use genesis::{
    COMPUTE_NODE_STAKE, COMPUTE_SLOTS, FAUCET_BALANCE, FUNDED_ACCOUNT_BALANCE, TestKey,
    account_key, compute_operator_key, compute_operator_key_at, faucet_key, funded_account_key,
};
pub use net::{Localnet, Manifest, NodeInfo, NodeStatus, down, logs};
pub use process::{PidFile, signal};

/// Result alias of this crate.
pub type Result<T, E = LocalnetError> = std::result::Result<T, E>;
