//! Integration tests of the app, driven by the in-process mock-consensus
//! harness (`comrade_test_utils`).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod audit;
mod bad_input;
mod bridge;
mod capacity;
mod chain;
mod common;
mod compute;
mod consensus;
mod cosmos_query;
mod determinism;
mod optimistic;
mod query;
mod server;
mod staking;
mod state_hash;
mod transfer;
mod wire;
