//! The bank: transfers of the single native denom (`MsgSend`), balances and
//! supply.

use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    Address, Amount, ResultCode, TxError,
    component::{ActionHandler, BlockContext},
};
use tendermint::abci::{Event, EventAttributeIndexExt as _};

use crate::{
    error::{ExecError, reject},
    state::{AppStateReadExt, AuthStateWriteExt, BankStateReadExt, BankStateWriteExt},
};

/// `/cosmos.bank.v1beta1.MsgSend` with exactly one coin, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgSend {
    /// Sender (must be the signer; checked when decoding).
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Denom as given (must be the native denom).
    pub denom: String,
    /// Amount in base units.
    pub amount: Amount,
}

#[async_trait::async_trait]
impl ActionHandler for MsgSend {
    fn check_stateless(&self) -> Result<(), TxError> {
        if self.amount == 0 {
            return Err(TxError::new(
                ResultCode::InvalidMessage,
                "amount must be positive",
            ));
        }
        Ok(())
    }

    async fn check_and_execute<S: StateRead + StateWrite>(
        &self,
        state: &mut S,
        _ctx: &BlockContext<'_>,
    ) -> Result<(), ExecError> {
        let denom = state.params().await?.denom;
        if self.denom != denom {
            return reject(
                ResultCode::UnknownDenom,
                format!(
                    "unknown denom {:?}: the only denom is {denom:?}",
                    self.denom
                ),
            );
        }
        send(state, &self.from, &self.to, self.amount, &denom).await
    }
}

/// Adds `amount` to `to`'s balance, creating the account if needed.
pub async fn credit<S: StateRead + StateWrite>(
    state: &mut S,
    to: &Address,
    amount: Amount,
) -> Result<(), ExecError> {
    let balance = state.balance(to).await?;
    let Some(new) = balance.checked_add(amount) else {
        return reject(
            ResultCode::AmountOverflow,
            format!("balance of {to} would overflow: {balance} + {amount}"),
        );
    };
    // An address holding funds has an account already (every credit creates
    // one), so only an empty balance needs the account lookup.
    if balance == 0 {
        state.get_or_create_account(to).await?;
    }
    state.put_balance(to, new);
    Ok(())
}

/// Moves `amount` from `from` to `to`, recording an `EventTransfer`.
pub async fn send<S: StateRead + StateWrite>(
    state: &mut S,
    from: &Address,
    to: &Address,
    amount: Amount,
    denom: &str,
) -> Result<(), ExecError> {
    let balance = state.balance(from).await?;
    let Some(rest) = balance.checked_sub(amount) else {
        return reject(
            ResultCode::InsufficientFunds,
            format!("{from} has {balance}{denom} after fees and cannot send {amount}{denom}"),
        );
    };
    state.put_balance(from, rest);
    credit(state, to, amount).await?;
    state.record(Event::new(
        "transfer",
        [
            ("sender", from.to_string()).index(),
            ("recipient", to.to_string()).index(),
            ("amount", format!("{amount}{denom}")).no_index(),
        ],
    ));
    Ok(())
}
