//! Gateway node for the Comrade chain.
//!
//! This crate will own the OpenAI-compatible HTTP API, routing by model, load,
//! stake and latency, queueing, rate limits and payment vouchers
//! (ARCHITECTURE.md §9).
//!
//! **Status:** skeleton. Nothing is implemented yet. It must never hold
//! consensus state.
