//! `MsgRevealKey`: a node reveals the next link of its hash chain for
//! beacon period `p`, during the reveal window (the first
//! `beacon_reveal_blocks` blocks of period `p + 1`), once per period.
//! Every reveal is the preimage of the previous one (the tip first), so
//! the values are fixed at registration: the only choice a node has is to
//! withhold, which costs it a missed reveal.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext},
    proto::compute::v1 as pb,
};
use prost::Message as _;
use sha2::{Digest as _, Sha256};

use super::{ComputeError, ComputeRead as _, ComputeWrite as _, require_active, state_key};
use crate::staking::parse_operator;

/// A decoded `MsgRevealKey`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgRevealKey {
    /// Owner (signer).
    pub owner: Address,
    /// Period revealed for.
    pub period: u64,
    /// The preimage.
    pub preimage: [u8; 32],
}

#[async_trait]
impl ActionHandler for MsgRevealKey {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgRevealKey";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgRevealKey::decode(value)
            .map_err(|e| ComputeError::InvalidMessage(format!("bad MsgRevealKey: {e}")))?;
        let preimage = m.preimage.as_slice().try_into().map_err(|_| {
            ComputeError::InvalidMessage(format!(
                "preimage must be 32 bytes, got {}",
                m.preimage.len()
            ))
        })?;
        Ok(Self {
            owner: parse_operator(&m.owner)?,
            period: m.period,
            preimage,
        })
    }

    fn signer(&self) -> Address {
        self.owner
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![
            state_key::node(&self.owner),
            state_key::reveal(self.period, &self.owner),
        ]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.compute_params().await?;
        let open = params.period_start(self.period.saturating_add(1));
        let close = open.saturating_add(params.beacon_reveal_blocks);
        if ctx.height < open || ctx.height >= close {
            return Err(ComputeError::RevealWindow(format!(
                "reveals for period {} are accepted at heights {open}..{close}, not {}",
                self.period, ctx.height
            ))
            .into());
        }
        let mut node = require_active(state, &self.owner).await?;
        let mut chain = node.keychain.clone().unwrap_or_default();
        if chain.used > 0 && chain.last_period >= self.period {
            return Err(ComputeError::RevealWindow(format!(
                "{} already revealed for period {}",
                self.owner, chain.last_period
            ))
            .into());
        }
        if chain.used >= chain.len {
            return Err(ComputeError::BadReveal(format!(
                "the key chain of {} is used up ({} reveals): register a new one",
                self.owner, chain.len
            ))
            .into());
        }
        let h: [u8; 32] = Sha256::digest(self.preimage).into();
        if h.as_slice() != chain.last.as_slice() {
            return Err(ComputeError::BadReveal(format!(
                "preimage does not hash to the last value of {}'s key chain",
                self.owner
            ))
            .into());
        }
        chain.last = self.preimage.to_vec();
        chain.last_period = self.period;
        chain.used = chain.used.saturating_add(1);
        chain.misses = 0;
        node.keychain = Some(chain);
        let rep = node.reputation.get_or_insert_with(Default::default);
        rep.reveals = rep.reveals.saturating_add(1);
        state.put_compute_node(&self.owner, &node);
        state.put_raw(
            state_key::reveal(self.period, &self.owner),
            self.preimage.to_vec(),
        );
        Ok(())
    }
}
