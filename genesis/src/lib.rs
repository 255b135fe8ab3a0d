//! Builds, edits and validates the Comrade chain's CometBFT genesis file
//! (`comrade genesis init | add-account | add-validator | validate | show`).
//!
//! Owns the CometBFT v0.38 `genesis.json` document ([`GenesisFile`]), the
//! builder of the whitepaper's initial distribution ([`init`]), the
//! contributors file format ([`contributors`]) and the CLI ([`cli`]). The
//! `app_state` types and their validation belong to
//! [`comrade_app::genesis`]; this crate reuses them, so a file that
//! `comrade genesis validate` accepts is one that `InitChain` accepts.
//!
//! # The default distribution
//!
//! [`InitOptions::default`] encodes the whitepaper:
//!
//! | share | default | goes to |
//! | --- | --- | --- |
//! | total supply | 1,000,000,000 COMRADE (`ucomrade`, 6 decimals) | |
//! | crowdfunding | 7% (700 bps) | contributors, pro rata by weight, unvested |
//! | treasury | 10% | the `treasury` module account |
//! | free-access pool | 3% | the `free_access_pool` module account (funds free inference) |
//! | the rest (80%) | | the reserve address, or the treasury when none |
//!
//! Denom and decimals are configurable so the chain's base unit equals the
//! Solana mint's base unit. Each share is `floor(total * bps / 10000)`; the
//! crowdfunding share is split with the largest-remainder method so it adds
//! up exactly, and every other remainder goes to the reserve, so the
//! balances always add up to the total supply exactly.
//!
//! # Validators
//!
//! The validator set is `app_state.validators`; CometBFT's own top-level
//! `validators` list is kept empty and the app returns the set from
//! `InitChain` (CometBFT adopts it when its genesis lists none).
//!
//! # Consensus parameters
//!
//! CometBFT v0.38 defaults with 4 MiB blocks and
//! `abci.vote_extensions_enable_height = 1`, since proof-of-compute
//! verdicts and bridge signatures travel in vote extensions.
//!
//! Nothing here reads a clock: the genesis time is a parameter (the CLI
//! defaults it to the current time).

pub mod builder;
pub mod cli;
pub mod contributors;
pub mod file;
pub mod split;

pub use builder::{
    AddAccountOutcome, BuildError, Contributor, InitOptions, Source, Summary, add_account,
    add_account_from, add_validator, init, validate_allowing_no_validators,
};
pub use cli::{GenesisCommand, run};
pub use contributors::ContributorsError;
pub use file::{ConsensusParams, GenesisFile, GenesisFileError};
