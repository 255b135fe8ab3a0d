//! Typed access to staking state.

use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    Address, Amount, InternalError, parse_amount,
    proto::{app::v1 as app_pb, staking::v1 as pb},
    state::{StateReadProto as _, StateWriteProto as _},
};
use futures::StreamExt as _;
use prost::Message as _;

use super::{StakingParams, state_key};

/// A stored amount, parsed; a bad one is corrupt state.
pub fn stored_amount(key: &str, s: &str) -> Result<Amount, InternalError> {
    parse_amount(s).map_err(|e| InternalError::Corrupt {
        key: key.to_string(),
        reason: format!("amount {s:?}: {e}"),
    })
}

/// A validator record's bonded stake.
pub fn bonded(v: &pb::Validator) -> Result<Amount, InternalError> {
    stored_amount("staking validator bonded", &v.bonded)
}

/// A validator record's operator.
pub fn operator(v: &pb::Validator) -> Result<Address, InternalError> {
    v.operator.parse().map_err(|e| InternalError::Corrupt {
        key: format!("staking validator {}", v.moniker),
        reason: format!("operator: {e}"),
    })
}

/// A 20-byte consensus address from a stored key suffix or field.
fn addr20(key: &str, bytes: &[u8]) -> Result<[u8; 20], InternalError> {
    bytes.try_into().map_err(|_| InternalError::Corrupt {
        key: key.to_string(),
        reason: format!("consensus address of {} bytes", bytes.len()),
    })
}

/// Reads every `(hex address suffix, value)` under `prefix`, decoded.
async fn scan<S: StateRead + ?Sized, M: prost::Message + Default>(
    state: &S,
    prefix: &str,
) -> Result<Vec<([u8; 20], M)>, InternalError> {
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(state.prefix_raw(prefix));
    while let Some(item) = stream.next().await {
        let (key, bytes) = item.map_err(|e| InternalError::storage("scanning staking state", e))?;
        let corrupt = |reason: String| InternalError::Corrupt {
            key: key.clone(),
            reason,
        };
        let suffix = key
            .strip_prefix(prefix)
            .ok_or_else(|| corrupt("prefix stream returned a foreign key".into()))?;
        let raw = hex::decode(suffix).map_err(|e| corrupt(format!("hex address: {e}")))?;
        let addr = addr20(&key, &raw)?;
        let v = M::decode(bytes.as_slice()).map_err(|e| corrupt(e.to_string()))?;
        out.push((addr, v));
    }
    out.sort_by_key(|(a, _)| *a);
    Ok(out)
}

/// Reads of the validator-set view (the set that signs the current
/// height), which the fee split and the vote-extension check use.
#[async_trait]
pub trait ValidatorsRead: StateRead {
    /// Every member of the set view, sorted by consensus address.
    async fn validators(&self) -> Result<Vec<([u8; 20], app_pb::Validator)>, InternalError> {
        scan(self, state_key::VIEW_PREFIX).await
    }
}
impl<T: StateRead + ?Sized> ValidatorsRead for T {}

/// Reads of staking state.
#[async_trait]
pub trait StakingRead: StateRead {
    /// The params (written at genesis; missing means corrupt state).
    async fn staking_params(&self) -> Result<StakingParams, InternalError> {
        let p: pb::Params = self
            .get_proto(state_key::PARAMS)
            .await?
            .ok_or_else(|| InternalError::invariant("staking params missing from state"))?;
        StakingParams::try_from(&p).map_err(|reason| InternalError::Corrupt {
            key: state_key::PARAMS.into(),
            reason,
        })
    }

    /// A validator record by consensus address.
    async fn validator(&self, addr: &[u8; 20]) -> Result<Option<pb::Validator>, InternalError> {
        self.get_proto(&state_key::validator(addr)).await
    }

    /// The consensus address and record of `operator`'s validator.
    async fn validator_of(
        &self,
        operator: &Address,
    ) -> Result<Option<([u8; 20], pb::Validator)>, InternalError> {
        let key = state_key::by_operator(operator);
        let Some(raw) = self
            .get_raw(&key)
            .await
            .map_err(|e| InternalError::storage("reading staking", e))?
        else {
            return Ok(None);
        };
        let addr = addr20(&key, &raw)?;
        let v = self
            .validator(&addr)
            .await?
            .ok_or_else(|| InternalError::Corrupt {
                key,
                reason: "operator index points at no validator".into(),
            })?;
        Ok(Some((addr, v)))
    }

    /// Every validator record, sorted by consensus address.
    async fn all_validators(&self) -> Result<Vec<([u8; 20], pb::Validator)>, InternalError> {
        scan(self, state_key::VALIDATOR_PREFIX).await
    }

    /// The decided set (what CometBFT was last told): `(address, power)`.
    async fn decided_set(&self) -> Result<Vec<([u8; 20], i64)>, InternalError> {
        let members: Vec<([u8; 20], pb::SetUpdate)> = scan(self, state_key::SET_PREFIX).await?;
        Ok(members.into_iter().map(|(a, m)| (a, m.power)).collect())
    }

    /// A validator's liveness record.
    async fn liveness(&self, addr: &[u8; 20]) -> Result<Option<pb::Liveness>, InternalError> {
        self.get_proto(&state_key::liveness(addr)).await
    }

    /// Every unbonding entry, with its key, in completion order.
    async fn unbondings(&self) -> Result<Vec<(String, pb::Unbonding)>, InternalError> {
        let mut out = Vec::new();
        let mut stream = std::pin::pin!(self.prefix_raw(state_key::UNBONDING_PREFIX));
        while let Some(item) = stream.next().await {
            let (key, bytes) =
                item.map_err(|e| InternalError::storage("scanning unbondings", e))?;
            let u =
                pb::Unbonding::decode(bytes.as_slice()).map_err(|e| InternalError::Corrupt {
                    key: key.clone(),
                    reason: e.to_string(),
                })?;
            out.push((key, u));
        }
        Ok(out)
    }

    /// Stake still unbonding from validator `addr`.
    async fn unbonding_total(&self, addr: &[u8; 20]) -> Result<Amount, InternalError> {
        let mut total: Amount = 0;
        for (key, u) in self.unbondings().await? {
            if u.consensus_address.as_slice() == addr {
                total = total.saturating_add(stored_amount(&key, &u.amount)?);
            }
        }
        Ok(total)
    }
}
impl<T: StateRead + ?Sized> StakingRead for T {}

/// Writes of staking state.
pub trait StakingWrite: StateWrite {
    /// Stores a validator record.
    fn put_validator(&mut self, addr: &[u8; 20], v: &pb::Validator) {
        self.put_proto(state_key::validator(addr), v);
    }

    /// Indexes `operator` → `addr`.
    fn put_operator_index(&mut self, operator: &Address, addr: &[u8; 20]) {
        self.put_raw(state_key::by_operator(operator), addr.to_vec());
    }

    /// Marks `addr`'s set membership as changed in this block.
    fn mark_dirty(&mut self, addr: [u8; 20]) {
        let mut dirty = self
            .object_get::<std::collections::BTreeSet<[u8; 20]>>(state_key::DIRTY_OBJECT)
            .unwrap_or_default();
        dirty.insert(addr);
        self.object_put(state_key::DIRTY_OBJECT, dirty);
    }

    /// Adds an unbonding entry under a fresh key.
    fn put_unbonding(&mut self, seq: u64, u: &pb::Unbonding) {
        self.put_proto(state_key::unbonding(u.completion_height, seq), u);
        self.put_u64(state_key::UNBONDING_SEQ.into(), seq.saturating_add(1));
    }
}
impl<T: StateWrite + ?Sized> StakingWrite for T {}
