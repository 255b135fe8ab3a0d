//! Tests of the `comrade` binary as operators use it.
#![allow(clippy::unwrap_used, clippy::disallowed_methods, missing_docs)] // test code

mod errors;
mod single_node;

use std::path::Path;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_comrade");
pub const PASS: &str = "correct horse battery staple";

/// Runs `comrade` with `home` and a fast test passphrase.
pub fn comrade(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--home")
        .arg(home)
        .args(args)
        .env("COMRADE_KEYRING_PASSPHRASE", PASS)
        .env_remove("COMRADE_NODE")
        .env_remove("COMRADE_CHAIN_ID")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).trim().to_string()
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> String {
    assert!(o.status.success(), "command failed: {}", stderr(&o));
    stdout(&o)
}
