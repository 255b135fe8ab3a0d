//! `MsgCommitCapacity`: a node commits the Merkle root and count of the
//! rows it computed, once per sprint, by the commit deadline.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext},
    proto::compute::v1 as pb,
    state::StateWriteProto as _,
};
use prost::Message as _;

use super::{
    ComputeError, ComputeRead as _,
    capacity::{commitment, sprint},
    require_active, state_key,
};
use crate::staking::parse_operator;

/// A decoded `MsgCommitCapacity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgCommitCapacity {
    /// Node operator (signer).
    pub node: Address,
    /// Sprint (epoch).
    pub epoch: u64,
    /// Merkle root.
    pub root: [u8; 32],
    /// Rows.
    pub n_rows: u64,
}

#[async_trait]
impl ActionHandler for MsgCommitCapacity {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgCommitCapacity";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgCommitCapacity::decode(value)
            .map_err(|e| ComputeError::InvalidMessage(format!("bad MsgCommitCapacity: {e}")))?;
        let root = m.root.as_slice().try_into().map_err(|_| {
            ComputeError::InvalidMessage(format!("root must be 32 bytes, got {}", m.root.len()))
        })?;
        Ok(Self {
            node: parse_operator(&m.node)?,
            epoch: m.epoch,
            root,
            n_rows: m.n_rows,
        })
    }

    fn signer(&self) -> Address {
        self.node
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        if self.n_rows == 0 {
            return Err(ComputeError::InvalidMessage("n_rows must be positive".into()).into());
        }
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![
            state_key::node(&self.node),
            state_key::sprint(self.epoch),
            state_key::commit(self.epoch, &self.node),
        ]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.compute_params().await?;
        if self.n_rows > params.max_rows {
            return Err(ComputeError::InvalidMessage(format!(
                "n_rows {} exceeds max_rows {}",
                self.n_rows, params.max_rows
            ))
            .into());
        }
        let s = sprint(state, self.epoch).await?.ok_or_else(|| {
            ComputeError::SprintWindow(format!("there is no sprint {} (yet)", self.epoch))
        })?;
        if ctx.height <= s.start_height || ctx.height > s.commit_deadline {
            return Err(ComputeError::SprintWindow(format!(
                "sprint {} takes commitments at heights {}..={}, not {}",
                self.epoch,
                s.start_height.saturating_add(1),
                s.commit_deadline,
                ctx.height
            ))
            .into());
        }
        require_active(state, &self.node).await?;
        if commitment(state, self.epoch, &self.node).await?.is_some() {
            return Err(ComputeError::Duplicate(format!(
                "{} already committed in sprint {}",
                self.node, self.epoch
            ))
            .into());
        }
        state.put_proto(
            state_key::commit(self.epoch, &self.node),
            &pb::CapacityCommit {
                root: self.root.to_vec(),
                n_rows: self.n_rows,
                height: ctx.height,
                status: pb::CommitStatus::Pending as i32,
                ..Default::default()
            },
        );
        Ok(())
    }
}
