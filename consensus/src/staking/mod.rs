//! Validator staking (whitepaper §2.2: "stake required to participate in
//! validation").
//!
//! * Operators create validators with a self-stake (`MsgCreateValidator`),
//!   bond more (`MsgBond`) and unbond (`MsgUnbond`; paid out after
//!   `unbonding_blocks`, slashable meanwhile). Stake sits in the
//!   `staking_pool` module account; nothing is minted or burned.
//! * Voting power is `bonded / power_reduction`. Stake changes reach
//!   CometBFT at epoch ends (the top `max_validators` by power); jailing,
//!   tombstoning and unjailing at the end of their own block.
//! * Double-sign evidence (FinalizeBlock `misbehavior`) slashes
//!   `slash_double_sign_bps` of the bonded stake and of unbondings that
//!   started at or after the infraction, and tombstones the validator.
//!   Missing more than the allowed share of the last `signed_blocks_window`
//!   blocks slashes `slash_downtime_bps` and jails for
//!   `downtime_jail_blocks`. Slashed stake goes to the treasury.
//!
//! Three views of the set are kept, because CometBFT applies the updates
//! returned at height `H` from height `H + 2`:
//! * the **decided set** (`staking/set/`): what CometBFT was last told;
//! * **pending updates** (`staking/pending/{h}`): decided, in effect at `h`;
//! * the **set view** (`app/validator/`): the set that signs the current
//!   height, which the fee split and the vote-extension check of the next
//!   proposal need (the votes of height `H` are checked against it).

pub mod bond;
pub mod create_validator;
pub mod error;
pub mod event;
pub mod genesis;
mod hooks;
pub mod params;
pub mod query;
pub mod state;
pub mod state_key;
pub mod unbond;
pub mod unjail;

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, Amount, ExecError, TxError,
    component::{BlockContext, Component},
    parse_amount,
    proto::app::v1 as app_pb,
};
use sha2::{Digest as _, Sha256};
use tendermint_proto::v0_38::{
    abci::ValidatorUpdate,
    crypto::{PublicKey, public_key},
};

pub use bond::MsgBond;
pub use create_validator::MsgCreateValidator;
pub use error::StakingError;
pub use genesis::{GenesisValidatorEntry, StakingGenesis};
pub use params::StakingParams;
pub use state::{StakingRead, StakingWrite, ValidatorsRead};
pub use unbond::MsgUnbond;
pub use unjail::MsgUnjail;

/// The staking component.
#[derive(Debug)]
pub struct Staking;

#[async_trait]
impl Component for Staking {
    type Genesis = StakingGenesis;

    async fn init_chain<S: StateWrite>(
        state: &mut S,
        genesis: &StakingGenesis,
    ) -> Result<(), ExecError> {
        hooks::init_chain(state, genesis).await
    }

    async fn begin_block<S: StateWrite>(
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        hooks::begin_block(state, ctx).await
    }

    async fn end_block<S: StateWrite>(state: &mut S, ctx: &BlockContext) -> Result<(), ExecError> {
        hooks::end_block(state, ctx).await
    }
}

/// The updates this block returns to CometBFT (set by `end_block`).
pub fn validator_updates<S: cnidarium::StateRead + ?Sized>(state: &S) -> Vec<ValidatorUpdate> {
    state
        .object_get::<Vec<ValidatorUpdate>>(state_key::UPDATES_OBJECT)
        .unwrap_or_default()
}

/// CometBFT's validator address: the first 20 bytes of `sha256(ed25519 key)`.
pub fn consensus_address(pub_key: &[u8; 32]) -> [u8; 20] {
    let d = Sha256::digest(pub_key);
    let mut out = [0u8; 20];
    out.copy_from_slice(&d[..20]);
    out
}

/// The update that tells CometBFT about set-view record `v`.
pub fn validator_update(v: &app_pb::Validator) -> ValidatorUpdate {
    update(v.pub_key.clone(), v.power)
}

fn update(pub_key: Vec<u8>, power: i64) -> ValidatorUpdate {
    ValidatorUpdate {
        pub_key: Some(PublicKey {
            sum: Some(public_key::Sum::Ed25519(pub_key)),
        }),
        power,
    }
}

pub(crate) fn parse_operator(s: &str) -> Result<Address, TxError> {
    s.parse::<Address>()
        .map_err(|e| StakingError::InvalidMessage(format!("operator {s:?}: {e}")).into())
}

pub(crate) fn parse_positive_amount(field: &str, s: &str) -> Result<Amount, TxError> {
    let a = parse_amount(s).map_err(|e| StakingError::InvalidMessage(format!("{field}: {e}")))?;
    if a == 0 {
        return Err(StakingError::InvalidMessage(format!("{field} must be positive")).into());
    }
    Ok(a)
}
