//! Comrade inference engine (ARCHITECTURE.md §9).
//!
//! Owns the Burn models (Llama family, Qwen2), weight loading (our own GGUF reader,
//! safetensors through burn-store), tokenizer and chat templates, generation with a
//! KV cache, and the compute-node HTTP server. It must never be linked into the state
//! machine: nothing here is deterministic across machines (floats, threads, clocks).
//!
//! The default backend is Burn's pure-Rust CPU backend [`Cpu`] (Flex); feature `cuda`
//! adds `burn-cuda`.

// This crate is not the state machine (ARCHITECTURE.md §6): it legitimately reads
// clocks (metrics, benchmarks) and uses hash maps (tokenizers), so the workspace's
// determinism bans do not apply here.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

pub mod attest;
#[cfg(feature = "server")]
pub mod attested;
pub mod bench;
pub mod challenge;
pub mod chat;
pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod fetch;
pub mod generate;
pub mod gguf;
pub mod model;
pub mod quant;
pub mod sampling;
#[cfg(feature = "server")]
pub mod server;
pub mod stop;
pub mod tokenizer;
pub mod weights;

pub use error::{InferenceError, Result};

/// The default CPU backend (Burn Flex, pure Rust).
pub type Cpu = burn::backend::Flex;

/// The CUDA backend (feature `cuda`).
#[cfg(feature = "cuda")]
pub type Cuda = burn_cuda::Cuda<f32, i32>;
