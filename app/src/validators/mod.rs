//! The validator set as the app reads it: the set view the staking module
//! (`comrade_consensus::staking`) maintains, and the app's
//! `comrade.app.v1.Query/Validators` over it.

pub mod query;

pub use comrade_consensus::staking::{
    GenesisValidatorEntry, ValidatorsRead, consensus_address, validator_update,
};
