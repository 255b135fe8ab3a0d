//! Typed state access: protobuf values under string keys, and per-module
//! extension traits over cnidarium's `StateRead` / `StateWrite`.

use anyhow::{Context, Result};
use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    Address, Amount,
    proto::{app::v1 as app_pb, auth::v1 as auth_pb, bank::v1 as bank_pb},
};
use prost::Message;

use crate::{params::Params, state_key};

/// Protobuf and integer access on any readable state.
#[async_trait]
pub trait StateReadProto: StateRead {
    /// Reads and decodes a protobuf value. A value that does not decode is a
    /// storage fault (the node halts rather than fork).
    async fn get_proto<M: Message + Default>(&self, key: &str) -> Result<Option<M>> {
        match self.get_raw(key).await? {
            None => Ok(None),
            Some(bytes) => Ok(Some(
                M::decode(bytes.as_slice()).with_context(|| format!("corrupt value at {key}"))?,
            )),
        }
    }

    /// Reads a big-endian u64.
    async fn get_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.get_raw(key).await? {
            None => Ok(None),
            Some(bytes) => {
                let arr: [u8; 8] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("corrupt u64 at {key}"))?;
                Ok(Some(u64::from_be_bytes(arr)))
            }
        }
    }
}
impl<T: StateRead + ?Sized> StateReadProto for T {}

/// Protobuf and integer writes on any writable state.
pub trait StateWriteProto: StateWrite {
    /// Encodes and writes a protobuf value.
    fn put_proto<M: Message>(&mut self, key: String, value: &M) {
        self.put_raw(key, value.encode_to_vec());
    }
    /// Writes a big-endian u64.
    fn put_u64(&mut self, key: String, value: u64) {
        self.put_raw(key, value.to_be_bytes().to_vec());
    }
}
impl<T: StateWrite + ?Sized> StateWriteProto for T {}

/// Key of the ephemeral (never persisted) copy of the params that the app
/// puts into every state it executes on, so each tx need not decode them.
pub const PARAMS_OBJECT: &str = "app/params_cache";

/// Caches `params` in `state` for the rest of its life (ephemeral object).
pub fn cache_params<S: StateWrite + ?Sized>(state: &mut S, params: Params) {
    state.object_put(PARAMS_OBJECT, params);
}

/// Reads of app-level state: params, versions, validators.
#[async_trait]
pub trait AppStateReadExt: StateRead {
    /// Current params (must exist after genesis). Served from the
    /// [`PARAMS_OBJECT`] cache when the executing state carries one.
    async fn params(&self) -> Result<Params> {
        if let Some(p) = self.object_get::<Params>(PARAMS_OBJECT) {
            return Ok(p);
        }
        let p: app_pb::Params = self
            .get_proto(state_key::PARAMS)
            .await?
            .context("params missing from state")?;
        Ok(p.into())
    }
    /// The state-format marker.
    async fn state_version(&self) -> Result<Option<app_pb::StateVersion>> {
        self.get_proto(state_key::STATE_VERSION).await
    }
    /// Height from which vote extensions are required.
    async fn vote_ext_enable_height(&self) -> Result<u64> {
        Ok(self
            .get_u64(state_key::VOTE_EXT_ENABLE_HEIGHT)
            .await?
            .unwrap_or(0))
    }
    /// Last finalized block height (0 at genesis).
    async fn block_height(&self) -> Result<u64> {
        Ok(self.get_u64(state_key::BLOCK_HEIGHT).await?.unwrap_or(0))
    }
    /// All validators, sorted by consensus address.
    async fn validators(&self) -> Result<Vec<([u8; 20], app_pb::Validator)>> {
        use futures::StreamExt;
        let mut out = Vec::new();
        let mut stream = std::pin::pin!(self.prefix_raw(state_key::VALIDATOR_PREFIX));
        while let Some(item) = stream.next().await {
            let (key, bytes) = item?;
            let hex_addr = key
                .strip_prefix(state_key::VALIDATOR_PREFIX)
                .context("prefix stream returned a foreign key")?;
            let addr: [u8; 20] = hex::decode(hex_addr)
                .ok()
                .and_then(|v| v.try_into().ok())
                .with_context(|| format!("corrupt validator key {key}"))?;
            let v = app_pb::Validator::decode(bytes.as_slice())
                .with_context(|| format!("corrupt validator at {key}"))?;
            out.push((addr, v));
        }
        out.sort_by_key(|(addr, _)| *addr);
        Ok(out)
    }
}
impl<T: StateRead + ?Sized> AppStateReadExt for T {}

/// Reads of accounts.
#[async_trait]
pub trait AuthStateReadExt: StateRead {
    /// The account at `address`, if it exists.
    async fn account(&self, address: &Address) -> Result<Option<auth_pb::Account>> {
        self.get_proto(&state_key::account(address)).await
    }
    /// The next account number to assign.
    async fn next_account_number(&self) -> Result<u64> {
        Ok(self
            .get_u64(state_key::NEXT_ACCOUNT_NUMBER)
            .await?
            .unwrap_or(0))
    }
}
impl<T: StateRead + ?Sized> AuthStateReadExt for T {}

/// Writes of accounts.
#[async_trait]
pub trait AuthStateWriteExt: StateWrite {
    /// Stores an account.
    fn put_account(&mut self, address: &Address, account: &auth_pb::Account) {
        self.put_proto(state_key::account(address), account);
    }
    /// Returns the account at `address`, creating it with the next account
    /// number if it does not exist yet.
    async fn get_or_create_account(&mut self, address: &Address) -> Result<auth_pb::Account> {
        if let Some(a) = self.account(address).await? {
            return Ok(a);
        }
        let number = self.next_account_number().await?;
        let next = number.checked_add(1).context("account numbers exhausted")?;
        self.put_u64(state_key::NEXT_ACCOUNT_NUMBER.to_string(), next);
        let account = auth_pb::Account {
            address: address.to_string(),
            account_number: number,
            sequence: 0,
            pub_key: Vec::new(),
        };
        self.put_account(address, &account);
        Ok(account)
    }
}
impl<T: StateWrite + StateRead + ?Sized> AuthStateWriteExt for T {}

/// Reads of balances and supply.
#[async_trait]
pub trait BankStateReadExt: StateRead {
    /// Native-denom balance of `address` (0 if none).
    async fn balance(&self, address: &Address) -> Result<Amount> {
        Ok(self
            .get_proto::<bank_pb::Amount>(&state_key::balance(address))
            .await?
            .map(Amount::from)
            .unwrap_or(0))
    }
    /// Total supply of the native denom.
    async fn supply(&self) -> Result<Amount> {
        Ok(self
            .get_proto::<bank_pb::Amount>(state_key::SUPPLY)
            .await?
            .map(Amount::from)
            .unwrap_or(0))
    }
}
impl<T: StateRead + ?Sized> BankStateReadExt for T {}

/// Writes of balances and supply.
pub trait BankStateWriteExt: StateWrite {
    /// Sets the balance of `address` (deletes the key at zero).
    fn put_balance(&mut self, address: &Address, amount: Amount) {
        let key = state_key::balance(address);
        if amount == 0 {
            self.delete(key);
        } else {
            self.put_proto(key, &bank_pb::Amount::from(amount));
        }
    }
    /// Sets the total supply.
    fn put_supply(&mut self, amount: Amount) {
        self.put_proto(
            state_key::SUPPLY.to_string(),
            &bank_pb::Amount::from(amount),
        );
    }
}
impl<T: StateWrite + ?Sized> BankStateWriteExt for T {}
