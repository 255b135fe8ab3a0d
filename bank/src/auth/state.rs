//! Typed access to accounts.

use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    Address, InternalError,
    proto::auth::v1 as pb,
    state::{StateReadProto, StateWriteProto},
};

use super::state_key;

/// Reads of accounts.
#[async_trait]
pub trait AuthRead: StateRead {
    /// The account at `address`, if it exists.
    async fn account(&self, address: &Address) -> Result<Option<pb::Account>, InternalError> {
        self.get_proto(&state_key::account(address)).await
    }

    /// The next account number to assign.
    async fn next_account_number(&self) -> Result<u64, InternalError> {
        Ok(self
            .get_u64(state_key::NEXT_ACCOUNT_NUMBER)
            .await?
            .unwrap_or(0))
    }

    /// The auth params, as the app loaded them into this state. Missing
    /// params are an app bug, never silently defaulted.
    fn auth_params(&self) -> Result<super::AuthParams, InternalError> {
        self.object_get::<super::AuthParams>(state_key::PARAMS_OBJECT)
            .ok_or_else(|| InternalError::invariant("auth params are not loaded into this state"))
    }
}

/// Loads the auth params into `state` for the rest of its life (an
/// ephemeral object, never persisted).
pub fn load_params<S: StateWrite + ?Sized>(state: &mut S, params: super::AuthParams) {
    state.object_put(state_key::PARAMS_OBJECT, params);
}
impl<T: StateRead + ?Sized> AuthRead for T {}

/// Writes of accounts: the capability the tx pipeline uses to advance a
/// signer's sequence, and the bank uses to create accounts it credits.
#[async_trait]
pub trait AuthWrite: StateWrite {
    /// Returns the account at `address`, creating it with the next account
    /// number if it does not exist yet.
    async fn get_or_create_account(
        &mut self,
        address: &Address,
    ) -> Result<pb::Account, InternalError> {
        if let Some(a) = self.account(address).await? {
            return Ok(a);
        }
        let number = self.next_account_number().await?;
        let next = number
            .checked_add(1)
            .ok_or_else(|| InternalError::invariant("account numbers exhausted"))?;
        self.put_u64(state_key::NEXT_ACCOUNT_NUMBER.to_string(), next);
        let account = pb::Account {
            address: address.to_string(),
            account_number: number,
            sequence: 0,
            pub_key: Vec::new(),
        };
        self.put_proto(state_key::account(address), &account);
        Ok(account)
    }

    /// Records that `account` (at `address`) signed a tx with `pub_key`:
    /// its sequence advances by one and the key is registered.
    fn record_signed_tx(
        &mut self,
        address: &Address,
        mut account: pb::Account,
        pub_key: &[u8],
    ) -> Result<(), InternalError> {
        account.sequence = account
            .sequence
            .checked_add(1)
            .ok_or_else(|| InternalError::invariant(format!("sequence of {address} overflows")))?;
        if account.pub_key != pub_key {
            account.pub_key = pub_key.to_vec();
        }
        self.put_proto(state_key::account(address), &account);
        Ok(())
    }
}
impl<T: StateWrite + ?Sized> AuthWrite for T {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cnidarium::{StateDelta, TempStorage};

    #[tokio::test]
    async fn accounts_are_numbered_in_creation_order_and_created_once() {
        let storage = TempStorage::new().await.unwrap();
        let mut state = StateDelta::new(storage.latest_snapshot());
        let (a, b) = (Address([1; 20]), Address([2; 20]));
        assert_eq!(
            state
                .get_or_create_account(&b)
                .await
                .unwrap()
                .account_number,
            0
        );
        assert_eq!(
            state
                .get_or_create_account(&a)
                .await
                .unwrap()
                .account_number,
            1
        );
        assert_eq!(
            state
                .get_or_create_account(&b)
                .await
                .unwrap()
                .account_number,
            0
        );
        assert_eq!(state.next_account_number().await.unwrap(), 2);
        let acc = state.account(&a).await.unwrap().unwrap();
        state.record_signed_tx(&a, acc, &[7; 33]).unwrap();
        let acc = state.account(&a).await.unwrap().unwrap();
        assert_eq!((acc.sequence, acc.pub_key), (1, vec![7; 33]));
    }
}
