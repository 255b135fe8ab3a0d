//! Typed access to the bridge's state.

use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    Amount, InternalError, parse_amount,
    proto::bridge::v1 as pb,
    state::{StateReadProto as _, StateWriteProto as _},
};

use crate::state_key;

/// Reads of the bridge's records.
#[async_trait]
pub trait BridgeRead: StateRead {
    /// The configuration (written at genesis; missing is an internal error).
    async fn bridge_config(&self) -> Result<pb::Config, InternalError> {
        self.get_proto(state_key::CONFIG)
            .await?
            .ok_or_else(|| InternalError::invariant("bridge config missing (no genesis section?)"))
    }

    /// The current guardian set's index.
    async fn current_guardian_set_index(&self) -> Result<u32, InternalError> {
        let i = self
            .get_u64(state_key::CURRENT_SET)
            .await?
            .ok_or_else(|| InternalError::invariant("current guardian set index missing"))?;
        u32::try_from(i).map_err(|_| InternalError::Corrupt {
            key: state_key::CURRENT_SET.into(),
            reason: format!("index {i} above u32"),
        })
    }

    /// A guardian set by index.
    async fn guardian_set(&self, index: u32) -> Result<Option<pb::GuardianSet>, InternalError> {
        self.get_proto(&state_key::guardian_set(index)).await
    }

    /// COMRADE locked in the vault.
    async fn locked(&self) -> Result<Amount, InternalError> {
        let l: pb::Locked = self
            .get_proto(state_key::LOCKED)
            .await?
            .ok_or_else(|| InternalError::invariant("bridge locked total missing"))?;
        parse_amount(&l.amount).map_err(|e| InternalError::Corrupt {
            key: state_key::LOCKED.into(),
            reason: format!("amount {:?}: {e}", l.amount),
        })
    }

    /// A redeemed deposit by emitter triple.
    async fn redemption(
        &self,
        chain: u16,
        emitter: &[u8; 32],
        sequence: u64,
    ) -> Result<Option<pb::Redemption>, InternalError> {
        self.get_proto(&state_key::redeemed(chain, emitter, sequence))
            .await
    }

    /// The height at which a VAA body with this digest was consumed.
    async fn consumed_at(&self, digest: &[u8; 32]) -> Result<Option<u64>, InternalError> {
        self.get_u64(&state_key::consumed(digest)).await
    }
}
impl<T: StateRead + ?Sized> BridgeRead for T {}

/// Writes; private to the bridge.
pub(crate) trait BridgeWrite: StateWrite {
    fn put_config(&mut self, c: &pb::Config) {
        self.put_proto(state_key::CONFIG.into(), c);
    }
    fn put_guardian_set(&mut self, s: &pb::GuardianSet) {
        self.put_proto(state_key::guardian_set(s.index), s);
    }
    fn put_current_guardian_set_index(&mut self, i: u32) {
        self.put_u64(state_key::CURRENT_SET.into(), u64::from(i));
    }
    fn put_locked(&mut self, amount: Amount) {
        self.put_proto(
            state_key::LOCKED.into(),
            &pb::Locked {
                amount: amount.to_string(),
            },
        );
    }
    fn put_redemption(
        &mut self,
        chain: u16,
        emitter: &[u8; 32],
        sequence: u64,
        r: &pb::Redemption,
    ) {
        self.put_proto(state_key::redeemed(chain, emitter, sequence), r);
    }
    fn put_consumed(&mut self, digest: &[u8; 32], height: u64) {
        self.put_u64(state_key::consumed(digest), height);
    }
}
impl<T: StateWrite + ?Sized> BridgeWrite for T {}
