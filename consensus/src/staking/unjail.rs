//! `MsgUnjail`: a jailed (not tombstoned) validator whose jail time is over
//! and whose stake still meets the minimum returns to the set at the end
//! of the block.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::staking::v1 as pb,
};
use prost::Message as _;

use super::{
    StakingError, StakingRead as _, StakingWrite as _, event::EventValidatorJailed, parse_operator,
    state::bonded, state_key,
};

/// A decoded `MsgUnjail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgUnjail {
    /// Operator (signer).
    pub operator: Address,
}

#[async_trait]
impl ActionHandler for MsgUnjail {
    const TYPE_URL: &'static str = "/comrade.staking.v1.MsgUnjail";
    const MODULE: &'static str = "staking";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgUnjail::decode(value)
            .map_err(|e| StakingError::InvalidMessage(format!("bad MsgUnjail: {e}")))?;
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
        vec![state_key::by_operator(&self.operator)]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.staking_params().await?;
        let operator = self.operator.to_string();
        let (addr, mut v) =
            state
                .validator_of(&self.operator)
                .await?
                .ok_or_else(|| StakingError::NoValidator {
                    operator: operator.clone(),
                })?;
        if v.tombstoned {
            return Err(StakingError::Tombstoned { operator }.into());
        }
        if !v.jailed {
            return Err(StakingError::NotJailed { operator }.into());
        }
        if ctx.height < v.jailed_until {
            return Err(StakingError::StillJailed {
                operator,
                until: v.jailed_until,
                height: ctx.height,
            }
            .into());
        }
        let stake = bonded(&v)?;
        if stake < params.min_self_stake {
            return Err(StakingError::BelowMinimum {
                stake,
                min: params.min_self_stake,
            }
            .into());
        }
        v.jailed = false;
        v.jailed_until = 0;
        state.put_validator(&addr, &v);
        state.mark_dirty(addr);
        state.emit(EventValidatorJailed {
            operator: self.operator,
            reason: "unjailed",
            until: 0,
        });
        Ok(())
    }
}
