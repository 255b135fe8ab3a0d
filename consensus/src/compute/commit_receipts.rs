//! `MsgCommitReceipts`: an executor commits the Merkle root of a batch of
//! receipts of one model served in the current beacon period. The receipts
//! stay with the executor; the period's beacon, fixed after the batch,
//! picks which of them are audited.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext, EventExt as _},
    proto::compute::v1 as pb,
    state::StateWriteProto as _,
};
use prost::Message as _;

use super::{
    ComputeError, ComputeRead as _, audit, event::EventReceiptsCommitted, require_active, state_key,
};
use crate::staking::parse_operator;

/// A decoded `MsgCommitReceipts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgCommitReceipts {
    /// Executor (signer).
    pub executor: Address,
    /// Model of the batch.
    pub model: String,
    /// Merkle root of the receipt leaves.
    pub root: [u8; 32],
    /// Receipts.
    pub count: u32,
}

#[async_trait]
impl ActionHandler for MsgCommitReceipts {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgCommitReceipts";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgCommitReceipts::decode(value)
            .map_err(|e| ComputeError::InvalidMessage(format!("bad MsgCommitReceipts: {e}")))?;
        let root = m.root.as_slice().try_into().map_err(|_| {
            ComputeError::InvalidMessage(format!("root must be 32 bytes, got {}", m.root.len()))
        })?;
        Ok(Self {
            executor: parse_operator(&m.executor)?,
            model: m.model,
            root,
            count: m.count,
        })
    }

    fn signer(&self) -> Address {
        self.executor
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        if self.count == 0 {
            return Err(
                ComputeError::InvalidMessage("a batch holds at least one receipt".into()).into(),
            );
        }
        if self.model.is_empty() || self.model.len() > 128 {
            return Err(ComputeError::InvalidMessage("model id must be 1-128 bytes".into()).into());
        }
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![state_key::node(&self.executor)]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.compute_params().await?;
        if self.count > params.max_receipts_per_batch {
            return Err(ComputeError::BatchLimit(format!(
                "{} receipts in one batch; at most {}",
                self.count, params.max_receipts_per_batch
            ))
            .into());
        }
        let node = require_active(state, &self.executor).await?;
        if !node.models.contains(&self.model) {
            return Err(ComputeError::InvalidMessage(format!(
                "{} does not serve model {:?}",
                self.executor, self.model
            ))
            .into());
        }
        let period = params.period_of(ctx.height);
        let seq = audit::batches(state, period, Some(&self.executor))
            .await?
            .len();
        let seq = u32::try_from(seq).unwrap_or(u32::MAX);
        if seq >= params.max_batches_per_period {
            return Err(ComputeError::BatchLimit(format!(
                "{} already committed {seq} batches in beacon period {period}; at most {}",
                self.executor, params.max_batches_per_period
            ))
            .into());
        }
        state.put_proto(
            state_key::batch(period, &self.executor, seq),
            &pb::ReceiptBatch {
                executor: self.executor.to_string(),
                period,
                seq,
                model: self.model.clone(),
                root: self.root.to_vec(),
                count: self.count,
                height: ctx.height,
            },
        );
        state.emit(EventReceiptsCommitted {
            executor: self.executor,
            period,
            seq,
            model: self.model.clone(),
            count: self.count,
        });
        Ok(())
    }
}
