//! `MsgUpdateComputeNode`: replaces the endpoint, region, models and claim
//! and adds stake; the stake must cover the new claim.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_bank::{auth::module_accounts, bank::BankWrite as _};
use comrade_primitives::{
    Address, Amount, ExecError, InternalError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    parse_amount,
    proto::compute::v1 as pb,
};
use prost::Message as _;

use super::{
    ComputeError, ComputeRead as _, ComputeWrite as _, NodeProfile, event::EventComputeNodeChanged,
    require_active, state_key, stored_stake,
};
use crate::staking::parse_operator;

/// A decoded `MsgUpdateComputeNode`.
#[derive(Debug, Clone, PartialEq)]
pub struct MsgUpdateComputeNode {
    /// Operator (signer).
    pub operator: Address,
    /// The new record.
    pub profile: NodeProfile,
    /// Stake to add (may be 0).
    pub add_stake: Amount,
}

#[async_trait]
impl ActionHandler for MsgUpdateComputeNode {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgUpdateComputeNode";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgUpdateComputeNode::decode(value)
            .map_err(|e| ComputeError::InvalidMessage(format!("bad MsgUpdateComputeNode: {e}")))?;
        let add_stake = if m.add_stake.is_empty() {
            0
        } else {
            parse_amount(&m.add_stake)
                .map_err(|e| ComputeError::InvalidMessage(format!("add_stake: {e}")))?
        };
        Ok(Self {
            operator: parse_operator(&m.operator)?,
            profile: NodeProfile::new(m.endpoint, m.region, m.models, m.hardware)?,
            add_stake,
        })
    }

    fn signer(&self) -> Address {
        self.operator
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        self.profile.check()
    }

    fn read_keys(&self) -> Vec<String> {
        vec![state_key::node(&self.operator)]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        _ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.compute_params().await?;
        self.profile.check_params(&params)?;
        let mut node = require_active(state, &self.operator).await?;
        let stake = stored_stake(&node)?
            .checked_add(self.add_stake)
            .ok_or_else(|| InternalError::invariant("node stake exceeds the supply"))?;
        self.profile.check_stake(&params, stake)?;
        if self.add_stake > 0 {
            state
                .transfer(
                    &self.operator,
                    &Address::module(module_accounts::STAKING_POOL),
                    self.add_stake,
                )
                .await?;
        }
        let r = self.profile.record();
        node.endpoint = r.endpoint;
        node.region = r.region;
        node.models = r.models;
        node.hardware = r.hardware;
        node.stake = stake.to_string();
        state.put_compute_node(&self.operator, &node);
        state.emit(EventComputeNodeChanged {
            operator: self.operator,
            action: "updated",
            stake,
        });
        Ok(())
    }
}
