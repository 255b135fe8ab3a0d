//! `MsgSubmitGovernanceVaa`: applies a Wormhole Core guardian set upgrade.
//!
//! Stateless: the VAA parses and its payload is Core action 2 for chain 0
//! with an exact-length key list (any other module or action is
//! `unsupported_governance`). Stateful: signed by the *current* set, from
//! Wormhole's governance emitter, not applied before, new index one above
//! the current. Execute: store the new set as current and expire the old one
//! `guardian_set_ttl_seconds` (24 h) after this block's time.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::bridge::v1 as pb,
};
use prost::Message as _;

use crate::{
    BridgeError, BridgeRead as _, event::EventGuardianSetUpgraded, payload::GuardianSetUpgrade,
    redeem_deposit::signer_and_vaa, state::BridgeWrite as _, state_key, vaa::Vaa,
    verify::verify_vaa,
};

/// A decoded `MsgSubmitGovernanceVaa`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgSubmitGovernanceVaa {
    /// Whoever relays it.
    pub signer: Address,
    /// The VAA.
    pub vaa: Vaa,
    /// Its payload.
    pub upgrade: GuardianSetUpgrade,
}

#[async_trait]
impl ActionHandler for MsgSubmitGovernanceVaa {
    const TYPE_URL: &'static str = "/comrade.bridge.v1.MsgSubmitGovernanceVaa";
    const MODULE: &'static str = "bridge";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgSubmitGovernanceVaa::decode(value)
            .map_err(|e| BridgeError::InvalidMessage(format!("bad MsgSubmitGovernanceVaa: {e}")))?;
        let (signer, vaa) = signer_and_vaa(&m.signer, &m.vaa)?;
        let upgrade = GuardianSetUpgrade::parse(vaa.payload())?;
        Ok(Self {
            signer,
            vaa,
            upgrade,
        })
    }

    fn signer(&self) -> Address {
        self.signer
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![
            state_key::CONFIG.into(),
            state_key::CURRENT_SET.into(),
            state_key::guardian_set(self.vaa.guardian_set_index),
            state_key::consumed(&self.vaa.digest()),
        ]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let v = &self.vaa;
        let current = state.current_guardian_set_index().await?;
        if v.guardian_set_index != current {
            return Err(BridgeError::GovernanceNotCurrentSet {
                got: v.guardian_set_index,
                current,
            }
            .into());
        }
        let digest = v.digest();
        if state.consumed_at(&digest).await?.is_some() {
            return Err(BridgeError::GovernanceReplayed(hex::encode(digest)).into());
        }
        let config = state.bridge_config().await?;
        if u32::from(v.emitter_chain) != config.governance_chain
            || v.emitter_address.as_slice() != config.governance_emitter.as_slice()
        {
            return Err(BridgeError::WrongEmitter {
                chain: v.emitter_chain,
                address: hex::encode(v.emitter_address),
                expected: format!(
                    "Wormhole's governance emitter {}/{}",
                    config.governance_chain,
                    hex::encode(&config.governance_emitter)
                ),
            }
            .into());
        }
        let want = current
            .checked_add(1)
            .ok_or_else(|| BridgeError::BadGuardianSetUpgrade("index overflow".into()))?;
        if self.upgrade.new_index != want {
            return Err(BridgeError::BadGuardianSetUpgrade(format!(
                "new index {} (the current set is {current}, so the next is {want})",
                self.upgrade.new_index
            ))
            .into());
        }
        let mut old = verify_vaa(state, v, ctx.time.map(|t| t.seconds)).await?;
        // CheckTx has no block time: the checks above are all it does.
        let Some(now) = ctx.time.map(|t| t.seconds) else {
            return Ok(());
        };
        let expires = now
            .checked_add(config.guardian_set_ttl_seconds)
            .ok_or_else(|| BridgeError::BadGuardianSetUpgrade("expiry overflow".into()))?;
        old.expiration_time = expires;
        state.put_guardian_set(&old);
        state.put_guardian_set(&pb::GuardianSet {
            index: want,
            keys: self.upgrade.keys.iter().map(|k| k.to_vec()).collect(),
            expiration_time: 0,
        });
        state.put_current_guardian_set_index(want);
        state.put_consumed(&digest, ctx.height);
        state.emit(EventGuardianSetUpgraded {
            old_index: current,
            new_index: want,
            guardians: self.upgrade.keys.len(),
            old_expires_at: expires,
        });
        Ok(())
    }
}
