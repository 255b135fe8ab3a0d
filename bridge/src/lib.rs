//! Wormhole bridge for the Comrade chain.
//!
//! This crate will own VAA verification against guardian sets, replay
//! protection, mint/burn of bridged COMRADE and outbound withdrawal
//! certificates (ARCHITECTURE.md §8).
//!
//! **Status:** skeleton. Nothing is implemented yet; the vote-extension
//! plumbing that will carry bridge signatures lives in `comrade-app` and
//! carries an empty signature list until this crate is filled in.
//!
//! Must not depend on `comrade-consensus` or `comrade-inference`.
