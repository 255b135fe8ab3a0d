//! Integration tests of the app, driven by the in-process mock-consensus
//! harness (`comrade_app::testing`).

mod bad_input;
mod common;
mod consensus;
mod determinism;
mod query;
mod transfer;
