//! `MsgRegisterComputeNode`: decode and check the record (stateless), then
//! the stake against the claim and the operator not yet registered
//! (stateful), then bond the stake into the staking pool and store the
//! record with its beacon key chain.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_bank::{auth::module_accounts, bank::BankWrite as _};
use comrade_primitives::{
    Address, Amount, ExecError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::compute::v1 as pb,
};
use prost::Message as _;

use super::{
    ComputeError, ComputeRead as _, ComputeWrite as _, NodeProfile, event::EventComputeNodeChanged,
    state_key,
};
use crate::staking::{parse_operator, parse_positive_amount};

/// A decoded `MsgRegisterComputeNode`.
#[derive(Debug, Clone, PartialEq)]
pub struct MsgRegisterComputeNode {
    /// Operator (signer).
    pub operator: Address,
    /// Endpoint, region, models and hardware claim.
    pub profile: NodeProfile,
    /// Stake.
    pub stake: Amount,
    /// Key-chain tip.
    pub keychain_tip: [u8; 32],
    /// Key-chain length.
    pub keychain_len: u32,
}

#[async_trait]
impl ActionHandler for MsgRegisterComputeNode {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgRegisterComputeNode";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgRegisterComputeNode::decode(value).map_err(|e| {
            ComputeError::InvalidMessage(format!("bad MsgRegisterComputeNode: {e}"))
        })?;
        let keychain_tip: [u8; 32] = m.keychain_tip.as_slice().try_into().map_err(|_| {
            ComputeError::InvalidMessage(format!(
                "keychain_tip must be 32 bytes, got {}",
                m.keychain_tip.len()
            ))
        })?;
        Ok(Self {
            operator: parse_operator(&m.operator)?,
            profile: NodeProfile::new(m.endpoint, m.region, m.models, m.hardware)?,
            stake: parse_positive_amount("stake", &m.stake)?,
            keychain_tip,
            keychain_len: m.keychain_len,
        })
    }

    fn signer(&self) -> Address {
        self.operator
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        self.profile.check()?;
        if self.keychain_len == 0 {
            return Err(
                ComputeError::InvalidMessage("keychain_len must be positive".into()).into(),
            );
        }
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![state_key::node(&self.operator)]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.compute_params().await?;
        self.profile.check_params(&params)?;
        if self.keychain_len > params.max_keychain_len {
            return Err(ComputeError::InvalidMessage(format!(
                "keychain_len {} exceeds {}",
                self.keychain_len, params.max_keychain_len
            ))
            .into());
        }
        if state.compute_node(&self.operator).await?.is_some() {
            return Err(ComputeError::NodeExists {
                operator: self.operator.to_string(),
            }
            .into());
        }
        self.profile.check_stake(&params, self.stake)?;
        state
            .transfer(
                &self.operator,
                &Address::module(module_accounts::STAKING_POOL),
                self.stake,
            )
            .await?;
        let node = pb::ComputeNode {
            operator: self.operator.to_string(),
            stake: self.stake.to_string(),
            status: pb::NodeStatus::Active as i32,
            reputation: Some(pb::Reputation::default()),
            keychain: Some(pb::KeyChain {
                tip: self.keychain_tip.to_vec(),
                len: self.keychain_len,
                last: self.keychain_tip.to_vec(),
                ..Default::default()
            }),
            registered_height: ctx.height,
            slashed_total: "0".into(),
            ..self.profile.record()
        };
        state.put_compute_node(&self.operator, &node);
        state.emit(EventComputeNodeChanged {
            operator: self.operator,
            action: "registered",
            stake: self.stake,
        });
        Ok(())
    }
}
