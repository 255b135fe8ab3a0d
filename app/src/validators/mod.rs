//! The consensus validator set: static from genesis until the staking
//! module replaces it. Owns the validator records, their genesis, the
//! `Validators` query and the set CometBFT is told at InitChain.

pub mod genesis;
pub mod query;
pub mod state;
pub mod state_key;

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{ExecError, component::Component, state::StateWriteProto as _};
use sha2::{Digest, Sha256};
use tendermint_proto::v0_38::{
    abci::ValidatorUpdate,
    crypto::{PublicKey, public_key},
};

pub use genesis::ValidatorsGenesis;
pub use state::ValidatorsRead;

use comrade_primitives::proto::app::v1 as pb;

/// The validator-set component: writes the genesis validators.
#[derive(Debug)]
pub struct Validators;

#[async_trait]
impl Component for Validators {
    type Genesis = ValidatorsGenesis;

    async fn init_chain<S: StateWrite>(
        state: &mut S,
        genesis: &ValidatorsGenesis,
    ) -> Result<(), ExecError> {
        for v in &genesis.validators {
            state.put_proto(
                state_key::validator(&consensus_address(&v.pub_key)),
                &v.record(),
            );
        }
        Ok(())
    }
}

/// CometBFT's validator address: the first 20 bytes of `sha256(ed25519 key)`.
pub fn consensus_address(pub_key: &[u8; 32]) -> [u8; 20] {
    let d = Sha256::digest(pub_key);
    let mut out = [0u8; 20];
    out.copy_from_slice(&d[..20]);
    out
}

/// The update that tells CometBFT about validator `v`.
pub fn validator_update(v: &pb::Validator) -> ValidatorUpdate {
    ValidatorUpdate {
        pub_key: Some(PublicKey {
            sum: Some(public_key::Sum::Ed25519(v.pub_key.clone())),
        }),
        power: v.power,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cnidarium::{StateDelta, TempStorage};
    use comrade_primitives::Address;

    #[tokio::test]
    async fn validators_init_chain_stores_the_set_sorted_by_consensus_address() {
        let storage = TempStorage::new().await.unwrap();
        let mut state = StateDelta::new(storage.latest_snapshot());
        let genesis = ValidatorsGenesis {
            validators: (1u8..=3)
                .map(|i| genesis::GenesisValidatorEntry {
                    name: format!("v{i}"),
                    pub_key: [i; 32],
                    power: i64::from(i),
                    operator: Address([i; 20]),
                })
                .collect(),
        };
        Validators::init_chain(&mut state, &genesis).await.unwrap();
        let set = state.validators().await.unwrap();
        assert_eq!(set.len(), 3);
        assert!(set.windows(2).all(|w| w[0].0 < w[1].0));
        let (addr, v) = &set[0];
        assert_eq!(
            *addr,
            consensus_address(v.pub_key.as_slice().try_into().unwrap())
        );
    }
}
