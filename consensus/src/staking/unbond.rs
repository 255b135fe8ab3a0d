//! `MsgUnbond`: the operator starts unbonding stake. It leaves the bonded
//! stake now (the power drops at the epoch end), stays in the staking pool
//! and slashable for earlier infractions for `unbonding_blocks`, then is
//! paid out. A validator keeps at least the minimum self-stake or unbonds
//! everything (and leaves the set).

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, Amount, ExecError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::staking::v1 as pb,
    state::StateReadProto as _,
};
use prost::Message as _;

use super::{
    StakingError, StakingRead as _, StakingWrite as _, event::EventStakeChanged, parse_operator,
    parse_positive_amount, state::bonded, state_key,
};

/// A decoded `MsgUnbond`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgUnbond {
    /// Operator (signer).
    pub operator: Address,
    /// Amount.
    pub amount: Amount,
}

#[async_trait]
impl ActionHandler for MsgUnbond {
    const TYPE_URL: &'static str = "/comrade.staking.v1.MsgUnbond";
    const MODULE: &'static str = "staking";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgUnbond::decode(value)
            .map_err(|e| StakingError::InvalidMessage(format!("bad MsgUnbond: {e}")))?;
        Ok(Self {
            operator: parse_operator(&m.operator)?,
            amount: parse_positive_amount("amount", &m.amount)?,
        })
    }

    fn signer(&self) -> Address {
        self.operator
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![state_key::by_operator(&self.operator)]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.staking_params().await?;
        let (addr, mut v) =
            state
                .validator_of(&self.operator)
                .await?
                .ok_or_else(|| StakingError::NoValidator {
                    operator: self.operator.to_string(),
                })?;
        let have = bonded(&v)?;
        let Some(left) = have.checked_sub(self.amount) else {
            return Err(StakingError::InsufficientBond {
                amount: self.amount,
                bonded: have,
            }
            .into());
        };
        if left > 0 && left < params.min_self_stake {
            return Err(StakingError::BelowMinimum {
                stake: left,
                min: params.min_self_stake,
            }
            .into());
        }
        let completion_height = ctx.height.saturating_add(params.unbonding_blocks);
        let seq = state.get_u64(state_key::UNBONDING_SEQ).await?.unwrap_or(0);
        state.put_unbonding(
            seq,
            &pb::Unbonding {
                operator: self.operator.to_string(),
                consensus_address: addr.to_vec(),
                amount: self.amount.to_string(),
                creation_height: ctx.height,
                completion_height,
            },
        );
        v.bonded = left.to_string();
        state.put_validator(&addr, &v);
        state.emit(EventStakeChanged {
            operator: self.operator,
            action: "unbond",
            amount: self.amount,
            bonded: left,
            completion_height: Some(completion_height),
        });
        Ok(())
    }
}
