//! Integration tests of comrade-inference (one binary, modules beside this file).
#![allow(clippy::disallowed_types, clippy::disallowed_methods, missing_docs)]

mod attest;
mod challenge;
mod deepseek;
#[cfg(feature = "server")]
mod server;
mod smollm2;
mod tiny;
