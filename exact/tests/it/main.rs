//! Integration tests of the exact kernel.
#![allow(clippy::unwrap_used, missing_docs)]

mod kernel;
mod merkle;
