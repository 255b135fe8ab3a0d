//! The staking genesis section: params and the genesis validators.

use comrade_primitives::{Address, proto::app::v1 as app_pb};

use super::StakingParams;

/// One genesis validator, validated by the app's genesis checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisValidatorEntry {
    /// Moniker.
    pub name: String,
    /// Ed25519 consensus key.
    pub pub_key: [u8; 32],
    /// Voting power (> 0): the validator bonds `power × power_reduction`
    /// from its operator's genesis balance.
    pub power: i64,
    /// The operator account.
    pub operator: Address,
}

impl GenesisValidatorEntry {
    /// The set-view record.
    pub fn record(&self) -> app_pb::Validator {
        app_pb::Validator {
            name: self.name.clone(),
            pub_key: self.pub_key.to_vec(),
            power: self.power,
            operator: self.operator.to_string(),
        }
    }
}

/// The staking genesis section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StakingGenesis {
    /// Params.
    pub params: StakingParams,
    /// The genesis validators, sorted by consensus address.
    pub validators: Vec<GenesisValidatorEntry>,
}
