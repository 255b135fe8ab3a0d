//! `MsgUnbondComputeNode`: the node stops being routed to and challenged;
//! its whole stake stays in the pool, slashable, for `unbonding_blocks`,
//! then is paid out and the record removed.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::compute::v1 as pb,
};
use prost::Message as _;

use super::{
    ComputeError, ComputeWrite as _, event::EventComputeNodeChanged, require_status, state_key,
    stored_stake,
};
use crate::staking::parse_operator;

/// A decoded `MsgUnbondComputeNode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgUnbondComputeNode {
    /// Operator (signer).
    pub operator: Address,
}

#[async_trait]
impl ActionHandler for MsgUnbondComputeNode {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgUnbondComputeNode";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgUnbondComputeNode::decode(value)
            .map_err(|e| ComputeError::InvalidMessage(format!("bad MsgUnbondComputeNode: {e}")))?;
        Ok(Self {
            operator: parse_operator(&m.operator)?,
        })
    }

    fn signer(&self) -> Address {
        self.operator
    }

    fn check_stateless(&self) -> Result<(), TxError> {
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
        use super::ComputeRead as _;
        let params = state.compute_params().await?;
        // A jailed node leaves the same way: its stake stays slashable
        // until it is paid out.
        let mut node = require_status(
            state,
            &self.operator,
            &[pb::NodeStatus::Active, pb::NodeStatus::Jailed],
        )
        .await?;
        node.status = pb::NodeStatus::Unbonding as i32;
        node.unbonding_until = ctx.height.saturating_add(params.unbonding_blocks);
        let stake = stored_stake(&node)?;
        state.put_compute_node(&self.operator, &node);
        state.emit(EventComputeNodeChanged {
            operator: self.operator,
            action: "unbonding",
            stake,
        });
        Ok(())
    }
}
