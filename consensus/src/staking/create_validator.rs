//! `MsgCreateValidator`: decode and check the fields (stateless), then the
//! params, the operator and key not yet used (stateful), then bond the
//! self-stake into the staking pool and store the record. The validator
//! joins the set at the end of the epoch.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_bank::{auth::module_accounts, bank::BankWrite as _};
use comrade_primitives::{
    Address, Amount, ExecError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::staking::v1 as pb,
};
use prost::Message as _;

use super::{
    StakingError, StakingRead as _, StakingWrite as _, consensus_address,
    event::EventValidatorCreated, parse_operator, parse_positive_amount, state_key,
};

/// A decoded `MsgCreateValidator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgCreateValidator {
    /// Operator (signer).
    pub operator: Address,
    /// Ed25519 consensus key.
    pub consensus_pubkey: [u8; 32],
    /// Name.
    pub moniker: String,
    /// Commission, basis points.
    pub commission_bps: u32,
    /// Self-stake.
    pub self_stake: Amount,
}

/// Longest moniker, bytes.
pub const MAX_MONIKER_BYTES: usize = 64;

#[async_trait]
impl ActionHandler for MsgCreateValidator {
    const TYPE_URL: &'static str = "/comrade.staking.v1.MsgCreateValidator";
    const MODULE: &'static str = "staking";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgCreateValidator::decode(value)
            .map_err(|e| StakingError::InvalidMessage(format!("bad MsgCreateValidator: {e}")))?;
        let consensus_pubkey: [u8; 32] =
            m.consensus_pubkey.as_slice().try_into().map_err(|_| {
                StakingError::InvalidMessage(format!(
                    "consensus_pubkey must be 32 bytes, got {}",
                    m.consensus_pubkey.len()
                ))
            })?;
        Ok(Self {
            operator: parse_operator(&m.operator)?,
            consensus_pubkey,
            moniker: m.moniker,
            commission_bps: m.commission_bps,
            self_stake: parse_positive_amount("self_stake", &m.self_stake)?,
        })
    }

    fn signer(&self) -> Address {
        self.operator
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        if self.moniker.is_empty() || self.moniker.len() > MAX_MONIKER_BYTES {
            return Err(StakingError::InvalidMessage(format!(
                "moniker must be 1-{MAX_MONIKER_BYTES} bytes, got {}",
                self.moniker.len()
            ))
            .into());
        }
        if self.moniker.chars().any(char::is_control) {
            return Err(
                StakingError::InvalidMessage("moniker has control characters".into()).into(),
            );
        }
        if ed25519_consensus::VerificationKey::try_from(self.consensus_pubkey).is_err() {
            return Err(StakingError::InvalidMessage(
                "consensus_pubkey is not a valid Ed25519 point".into(),
            )
            .into());
        }
        if self.commission_bps > 10_000 {
            return Err(StakingError::CommissionTooHigh {
                bps: self.commission_bps,
                max: 10_000,
            }
            .into());
        }
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![
            state_key::by_operator(&self.operator),
            state_key::validator(&consensus_address(&self.consensus_pubkey)),
        ]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.staking_params().await?;
        if self.commission_bps > params.max_commission_bps {
            return Err(StakingError::CommissionTooHigh {
                bps: self.commission_bps,
                max: params.max_commission_bps,
            }
            .into());
        }
        if self.self_stake < params.min_self_stake {
            return Err(StakingError::BelowMinimum {
                stake: self.self_stake,
                min: params.min_self_stake,
            }
            .into());
        }
        if state.validator_of(&self.operator).await?.is_some() {
            return Err(StakingError::ValidatorExists(format!(
                "{} already runs a validator",
                self.operator
            ))
            .into());
        }
        let addr = consensus_address(&self.consensus_pubkey);
        if state.validator(&addr).await?.is_some() {
            return Err(StakingError::ValidatorExists(format!(
                "consensus key {} is already used by a validator",
                hex::encode_upper(addr)
            ))
            .into());
        }
        state
            .transfer(
                &self.operator,
                &Address::module(module_accounts::STAKING_POOL),
                self.self_stake,
            )
            .await?;
        state.put_validator(
            &addr,
            &pb::Validator {
                operator: self.operator.to_string(),
                consensus_pubkey: self.consensus_pubkey.to_vec(),
                moniker: self.moniker.clone(),
                commission_bps: self.commission_bps,
                bonded: self.self_stake.to_string(),
                created_height: ctx.height,
                slashed_total: "0".into(),
                ..Default::default()
            },
        );
        state.put_operator_index(&self.operator, &addr);
        state.emit(EventValidatorCreated {
            operator: self.operator,
            consensus_address: hex::encode_upper(addr),
            stake: self.self_stake,
        });
        Ok(())
    }
}
