//! The bank capability: typed, checked access to balances and supply.
//!
//! [`BankRead`] and [`BankWrite`] are the only way a module reads or moves
//! funds. Every write is checked (no overflow, no negative balance, a failed
//! call writes nothing) and keeps `supply == sum of balances`: transfers move
//! funds, and only `mint` and `burn` change the supply. The raw balance and
//! supply setters stay private to this module.

use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    Address, Amount, ExecError, InternalError,
    proto::bank::v1 as pb,
    state::{StateReadProto, StateWriteProto},
};

use super::{
    BankError, BankParams,
    event::{
        EventCoinsBurned, EventCoinsMinted, EventCoinsReceived, EventCoinsSpent,
        EventCoinsTransferred,
    },
    state_key,
};
use crate::auth::AuthWrite as _;
use comrade_primitives::component::EventExt as _;

/// Reads of balances, supply and the bank's params.
#[async_trait]
pub trait BankRead: StateRead {
    /// Native-denom balance of `address` (0 if none).
    async fn balance(&self, address: &Address) -> Result<Amount, InternalError> {
        Ok(self
            .get_proto::<pb::Amount>(&state_key::balance(address))
            .await?
            .map(Amount::from)
            .unwrap_or(0))
    }

    /// Total supply of the native denom.
    async fn supply(&self) -> Result<Amount, InternalError> {
        Ok(self
            .get_proto::<pb::Amount>(state_key::SUPPLY)
            .await?
            .map(Amount::from)
            .unwrap_or(0))
    }

    /// The bank's params, as the app loaded them into this state. Missing
    /// params are an app bug, never silently defaulted.
    fn bank_params(&self) -> Result<BankParams, InternalError> {
        self.object_get::<BankParams>(state_key::PARAMS_OBJECT)
            .ok_or_else(|| InternalError::invariant("bank params are not loaded into this state"))
    }
}
impl<T: StateRead + ?Sized> BankRead for T {}

/// Sets the balance of `address` (deletes the key at zero). Private: it
/// does not keep the supply.
pub(crate) fn put_balance<S: StateWrite + ?Sized>(
    state: &mut S,
    address: &Address,
    amount: Amount,
) {
    let key = state_key::balance(address);
    if amount == 0 {
        state.delete(key);
    } else {
        state.put_proto(key, &pb::Amount::from(amount));
    }
}

/// Sets the total supply. Private: only mint and burn change it.
pub(crate) fn put_supply<S: StateWrite + ?Sized>(state: &mut S, amount: Amount) {
    state.put_proto(state_key::SUPPLY.to_string(), &pb::Amount::from(amount));
}

/// Loads the bank's params into `state` for the rest of its life (an
/// ephemeral object, never persisted). The app does this for every state it
/// executes or answers queries on.
pub fn load_params<S: StateWrite + ?Sized>(state: &mut S, params: BankParams) {
    state.object_put(state_key::PARAMS_OBJECT, params);
}

/// Adds `amount` to `to`'s balance, creating the account if needed. One half
/// of a transfer or mint: it does not touch the supply.
async fn credit<S: StateWrite + ?Sized>(
    state: &mut S,
    to: &Address,
    amount: Amount,
) -> Result<(), ExecError> {
    let balance = state.balance(to).await?;
    let Some(new) = balance.checked_add(amount) else {
        return Err(BankError::BalanceOverflow {
            address: *to,
            balance,
            amount,
        }
        .into());
    };
    // An address holding funds has an account already (every credit creates
    // one), so only an empty balance needs the account lookup.
    if balance == 0 {
        state.get_or_create_account(to).await?;
    }
    put_balance(state, to, new);
    Ok(())
}

/// Takes `amount` from `from`'s balance. One half of a transfer or burn: it
/// does not touch the supply.
async fn debit<S: StateWrite + ?Sized>(
    state: &mut S,
    from: &Address,
    amount: Amount,
) -> Result<(), ExecError> {
    let balance = state.balance(from).await?;
    let Some(rest) = balance.checked_sub(amount) else {
        return Err(BankError::InsufficientFunds {
            address: *from,
            balance,
            amount,
            denom: state.bank_params()?.denom().to_string(),
        }
        .into());
    };
    put_balance(state, from, rest);
    Ok(())
}

/// Moves and creates funds. Callers run it on a fork (as the app does for
/// every tx and hook) so a failed call leaves no partial write behind.
#[async_trait]
pub trait BankWrite: StateWrite {
    /// Moves `amount` from `from` to `to` (the supply is unchanged).
    async fn transfer(
        &mut self,
        from: &Address,
        to: &Address,
        amount: Amount,
    ) -> Result<(), ExecError> {
        debit(self, from, amount).await?;
        credit(self, to, amount).await?;
        let denom = self.bank_params()?.denom().to_string();
        self.emit(EventCoinsSpent {
            spender: *from,
            amount,
            denom: denom.clone(),
        });
        self.emit(EventCoinsReceived {
            receiver: *to,
            amount,
            denom: denom.clone(),
        });
        self.emit(EventCoinsTransferred {
            sender: *from,
            recipient: *to,
            amount,
            denom,
        });
        Ok(())
    }

    /// Creates `amount` new funds in `to`'s balance; the supply grows by the
    /// same amount. Only the bridge mints (for verified deposits).
    async fn mint(&mut self, to: &Address, amount: Amount) -> Result<(), ExecError> {
        // Checked before any write: the supply bounds every balance, so the
        // credit below cannot overflow once this passes.
        let supply = self.supply().await?;
        let Some(new) = supply.checked_add(amount) else {
            return Err(BankError::SupplyOverflow { supply, amount }.into());
        };
        credit(self, to, amount).await?;
        put_supply(self, new);
        let denom = self.bank_params()?.denom().to_string();
        self.emit(EventCoinsReceived {
            receiver: *to,
            amount,
            denom,
        });
        self.emit(EventCoinsMinted {
            recipient: *to,
            amount,
        });
        Ok(())
    }

    /// Destroys `amount` of `from`'s funds; the supply shrinks by the same
    /// amount. Only the bridge burns (for withdrawals).
    async fn burn(&mut self, from: &Address, amount: Amount) -> Result<(), ExecError> {
        // The debit checks the balance (and writes nothing on failure); the
        // supply covers every balance, so it cannot go below zero after it.
        debit(self, from, amount).await?;
        let supply = self.supply().await?;
        let new = supply.checked_sub(amount).ok_or_else(|| {
            InternalError::invariant(format!(
                "supply {supply} is below a balance of {amount} being burned"
            ))
        })?;
        put_supply(self, new);
        let denom = self.bank_params()?.denom().to_string();
        self.emit(EventCoinsSpent {
            spender: *from,
            amount,
            denom,
        });
        self.emit(EventCoinsBurned {
            owner: *from,
            amount,
        });
        Ok(())
    }
}
impl<T: StateWrite + ?Sized> BankWrite for T {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
    use super::*;
    use cnidarium::{StateDelta, TempStorage};
    use comrade_primitives::{ResultCode, TxError};

    /// The sum of every balance in `state`.
    async fn sum_of_balances<S: StateRead>(state: &S) -> Amount {
        use futures::StreamExt as _;
        let mut sum = 0;
        let mut stream = std::pin::pin!(state.prefix_raw(state_key::BALANCE_PREFIX));
        while let Some(item) = stream.next().await {
            let (_, bytes) = item.unwrap();
            let a: pb::Amount = prost::Message::decode(bytes.as_slice()).unwrap();
            sum += Amount::from(a);
        }
        sum
    }

    fn code(e: ExecError) -> u32 {
        match e {
            ExecError::Tx(TxError { code, .. }) => code.value(),
            ExecError::Internal(e) => panic!("internal: {e}"),
        }
    }

    #[tokio::test]
    async fn bank_mints_transfers_and_burns_keeping_supply_equal_to_balances() {
        let storage = TempStorage::new().await.unwrap();
        let mut state = StateDelta::new(storage.latest_snapshot());
        load_params(&mut state, BankParams::new("ucomrade", 6).unwrap());
        let (a, b) = (Address([1; 20]), Address([2; 20]));
        state.mint(&a, 1_000).await.unwrap();
        state.transfer(&a, &b, 400).await.unwrap();
        state.burn(&b, 100).await.unwrap();
        assert_eq!(state.balance(&a).await.unwrap(), 600);
        assert_eq!(state.balance(&b).await.unwrap(), 300);
        assert_eq!(state.supply().await.unwrap(), 900);
        assert_eq!(sum_of_balances(&state).await, 900);
    }

    #[tokio::test]
    async fn bank_rejects_overdraft_and_overflow() {
        let storage = TempStorage::new().await.unwrap();
        let mut state = StateDelta::new(storage.latest_snapshot());
        load_params(&mut state, BankParams::new("ucomrade", 6).unwrap());
        let (a, b) = (Address([1; 20]), Address([2; 20]));
        state.mint(&a, 10).await.unwrap();
        let e = state.transfer(&a, &b, 11).await.unwrap_err();
        assert_eq!(code(e), ResultCode::InsufficientFunds.value());
        let e = state.burn(&a, 11).await.unwrap_err();
        assert_eq!(code(e), ResultCode::InsufficientFunds.value());
        let e = state.mint(&b, Amount::MAX).await.unwrap_err();
        assert_eq!(code(e), ResultCode::AmountOverflow.value());
        assert_eq!(state.supply().await.unwrap(), 10);
    }

    #[tokio::test]
    async fn bank_without_loaded_params_is_an_internal_error() {
        let storage = TempStorage::new().await.unwrap();
        let mut state = StateDelta::new(storage.latest_snapshot());
        let e = state
            .transfer(&Address([1; 20]), &Address([2; 20]), 1)
            .await
            .unwrap_err();
        assert!(matches!(e, ExecError::Internal(_)), "{e}");
    }
}
