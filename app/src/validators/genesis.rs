//! The validator-set genesis section.

use comrade_primitives::{Address, proto::app::v1 as pb};

/// One genesis validator, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisValidatorEntry {
    /// Moniker.
    pub name: String,
    /// Ed25519 consensus key.
    pub pub_key: [u8; 32],
    /// Voting power (> 0).
    pub power: i64,
    /// The account that receives its fee share.
    pub operator: Address,
}

impl GenesisValidatorEntry {
    /// The record stored in state.
    pub fn record(&self) -> pb::Validator {
        pb::Validator {
            name: self.name.clone(),
            pub_key: self.pub_key.to_vec(),
            power: self.power,
            operator: self.operator.to_string(),
        }
    }
}

/// The genesis validator set, sorted by consensus address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidatorsGenesis {
    /// The validators.
    pub validators: Vec<GenesisValidatorEntry>,
}
