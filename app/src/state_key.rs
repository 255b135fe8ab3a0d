//! The keys the app itself writes: `app/<noun>`. Each module's keys live in
//! its own `state_key.rs`.

/// `comrade.app.v1.StateVersion`: refuses foreign state.
pub const STATE_VERSION: &str = "app/state_version";
/// `comrade.app.v1.Params`: every module's params in one record.
pub const PARAMS: &str = "app/params";
/// Vote extensions are required from this height (u64, big-endian).
pub const VOTE_EXT_ENABLE_HEIGHT: &str = "app/vote_ext_enable_height";
/// Last finalized block height (u64, big-endian).
pub const BLOCK_HEIGHT: &str = "app/block_height";

/// Ephemeral (never persisted) object: the validated
/// [`ChainParams`](crate::params::ChainParams) of the executing state.
pub const PARAMS_OBJECT: &str = "app/params_cache";
