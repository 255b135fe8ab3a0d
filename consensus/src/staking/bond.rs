//! `MsgBond`: the operator bonds more of its tokens to its validator
//! (self-stake only; delegation is not built yet). The new power reaches
//! the set at the end of the epoch.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_bank::{auth::module_accounts, bank::BankWrite as _};
use comrade_primitives::{
    Address, Amount, ExecError, InternalError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::staking::v1 as pb,
};
use prost::Message as _;

use super::{
    StakingError, StakingRead as _, StakingWrite as _, event::EventStakeChanged, parse_operator,
    parse_positive_amount, state::bonded, state_key,
};

/// A decoded `MsgBond`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgBond {
    /// Operator (signer).
    pub operator: Address,
    /// Amount.
    pub amount: Amount,
}

#[async_trait]
impl ActionHandler for MsgBond {
    const TYPE_URL: &'static str = "/comrade.staking.v1.MsgBond";
    const MODULE: &'static str = "staking";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgBond::decode(value)
            .map_err(|e| StakingError::InvalidMessage(format!("bad MsgBond: {e}")))?;
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
        _ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let (addr, mut v) =
            state
                .validator_of(&self.operator)
                .await?
                .ok_or_else(|| StakingError::NoValidator {
                    operator: self.operator.to_string(),
                })?;
        if v.tombstoned {
            return Err(StakingError::Tombstoned {
                operator: self.operator.to_string(),
            }
            .into());
        }
        let new = bonded(&v)?
            .checked_add(self.amount)
            .ok_or_else(|| InternalError::invariant("bonded stake exceeds the supply"))?;
        state
            .transfer(
                &self.operator,
                &Address::module(module_accounts::STAKING_POOL),
                self.amount,
            )
            .await?;
        v.bonded = new.to_string();
        state.put_validator(&addr, &v);
        state.emit(EventStakeChanged {
            operator: self.operator,
            action: "bond",
            amount: self.amount,
            bonded: new,
            completion_height: None,
        });
        Ok(())
    }
}
