//! `MsgRevealCapacity`: after the opening beacon, the node reveals each
//! opened row with its Merkle path. Malformed openings are refused (the
//! node may resend before the deadline); a path that does not prove the
//! row fails the sprint at once; the rest are queued and recomputed
//! exactly in FinalizeBlock.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_exact::{Challenge, Profile, merkle};
use comrade_primitives::{
    Address, ExecError, InternalError, TxError,
    component::{ActionHandler, BlockContext},
    proto::compute::v1 as pb,
    state::{StateReadProto as _, StateWriteProto as _},
};
use prost::Message as _;

use super::{
    ComputeError,
    capacity::{commitment, sprint},
    state_key,
};
use crate::staking::parse_operator;

/// A decoded `MsgRevealCapacity`.
#[derive(Debug, Clone, PartialEq)]
pub struct MsgRevealCapacity {
    /// Node operator (signer).
    pub node: Address,
    /// Sprint (epoch).
    pub epoch: u64,
    /// Openings, one per slot.
    pub openings: Vec<pb::Opening>,
}

/// Longest Merkle path accepted (trees of up to 2^64 leaves).
const MAX_PATH: usize = 64;

#[async_trait]
impl ActionHandler for MsgRevealCapacity {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgRevealCapacity";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgRevealCapacity::decode(value)
            .map_err(|e| ComputeError::InvalidMessage(format!("bad MsgRevealCapacity: {e}")))?;
        Ok(Self {
            node: parse_operator(&m.node)?,
            epoch: m.epoch,
            openings: m.openings,
        })
    }

    fn signer(&self) -> Address {
        self.node
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        for o in &self.openings {
            if o.path.len() > MAX_PATH || o.path.iter().any(|p| p.len() != 32) {
                return Err(ComputeError::BadOpening(format!(
                    "slot {}: a path is at most {MAX_PATH} hashes of 32 bytes",
                    o.slot
                ))
                .into());
            }
        }
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![
            state_key::sprint(self.epoch),
            state_key::commit(self.epoch, &self.node),
        ]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let mut s = sprint(state, self.epoch).await?.ok_or_else(|| {
            ComputeError::SprintWindow(format!("there is no sprint {}", self.epoch))
        })?;
        let mut c = commitment(state, self.epoch, &self.node)
            .await?
            .ok_or_else(|| ComputeError::NoCommit {
                node: self.node.to_string(),
                epoch: self.epoch,
            })?;
        if !s.opened {
            return Err(ComputeError::SprintWindow(format!(
                "the rows of sprint {} are drawn from beacon period {}, which is not final yet",
                self.epoch, s.open_period
            ))
            .into());
        }
        if ctx.height > s.reveal_deadline {
            return Err(ComputeError::SprintWindow(format!(
                "reveals for sprint {} closed at height {}",
                self.epoch, s.reveal_deadline
            ))
            .into());
        }
        if c.revealed {
            return Err(ComputeError::Duplicate(format!(
                "{} already revealed in sprint {}",
                self.node, self.epoch
            ))
            .into());
        }
        let profile = Profile::by_id(u16::try_from(s.profile_id).unwrap_or(0))
            .ok_or_else(|| InternalError::invariant("sprint of an unknown profile"))?;
        let k = c.indices.len();
        if self.openings.len() != k {
            return Err(ComputeError::BadOpening(format!(
                "{} openings for {k} opened rows",
                self.openings.len()
            ))
            .into());
        }
        let mut slots = vec![false; k];
        for o in &self.openings {
            let slot = usize::try_from(o.slot).unwrap_or(usize::MAX);
            match slots.get_mut(slot) {
                Some(seen) if !*seen => *seen = true,
                _ => {
                    return Err(ComputeError::BadOpening(format!(
                        "slot {} is out of range or repeated",
                        o.slot
                    ))
                    .into());
                }
            }
            if o.y.len() != profile.w_out {
                return Err(ComputeError::BadOpening(format!(
                    "slot {}: {} output values, the profile has {}",
                    o.slot,
                    o.y.len(),
                    profile.w_out
                ))
                .into());
            }
        }
        let root: [u8; 32] = c
            .root
            .as_slice()
            .try_into()
            .map_err(|_| InternalError::invariant("commitment root is not 32 bytes"))?;
        c.revealed = true;
        // Paths first (cheap): one that does not prove its row fails the
        // sprint without queueing anything.
        for o in &self.openings {
            let index = c.indices[usize::try_from(o.slot).unwrap_or(0)];
            let path: Vec<[u8; 32]> = o
                .path
                .iter()
                .map(|p| p.as_slice().try_into().unwrap_or([0; 32]))
                .collect();
            let leaf = Challenge::leaf(index, &o.y);
            if !merkle::verify(&root, c.n_rows, index, &leaf, &path) {
                c.status = pb::CommitStatus::Failed as i32;
                c.failure = format!(
                    "the path of slot {} (row {index}) does not prove it",
                    o.slot
                );
                state.put_proto(state_key::commit(self.epoch, &self.node), &c);
                return Ok(());
            }
        }
        let mut seq = state.get_u64(state_key::VERIFYQ_SEQ).await?.unwrap_or(0);
        for o in &self.openings {
            let index = c.indices[usize::try_from(o.slot).unwrap_or(0)];
            state.put_proto(
                state_key::verifyq(seq),
                &pb::QueuedOpening {
                    epoch: self.epoch,
                    node: self.node.to_string(),
                    slot: o.slot,
                    index,
                    y: o.y.clone(),
                },
            );
            seq = seq.saturating_add(1);
        }
        state.put_u64(state_key::VERIFYQ_SEQ.into(), seq);
        s.queued = s
            .queued
            .saturating_add(u32::try_from(k).unwrap_or(u32::MAX));
        state.put_proto(state_key::sprint(self.epoch), &s);
        state.put_proto(state_key::commit(self.epoch, &self.node), &c);
        Ok(())
    }
}
