//! `MsgOpenReceipt`: the executor opens a selected receipt, its body and
//! the Merkle path to its batch's root, before the open deadline. The
//! auditors then fetch the payload the body commits to and report.

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_exact::merkle;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext},
    proto::compute::v1 as pb,
    state::{StateReadProto as _, StateWriteProto as _},
};
use prost::Message as _;

use super::{ComputeError, audit, state_key};
use crate::staking::parse_operator;

/// Longest Merkle path accepted.
const MAX_PATH: usize = 64;

/// A decoded `MsgOpenReceipt`.
#[derive(Debug, Clone, PartialEq)]
pub struct MsgOpenReceipt {
    /// Executor (signer).
    pub executor: Address,
    /// Period of the batch.
    pub period: u64,
    /// Batch.
    pub seq: u32,
    /// Index in the batch.
    pub index: u32,
    /// The body.
    pub body: pb::ReceiptBody,
    /// Its leaf hash.
    pub leaf: [u8; 32],
    /// Audit path.
    pub path: Vec<[u8; 32]>,
}

#[async_trait]
impl ActionHandler for MsgOpenReceipt {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgOpenReceipt";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let bad = |m: String| ComputeError::InvalidMessage(m);
        let m = pb::MsgOpenReceipt::decode(value)
            .map_err(|e| bad(format!("bad MsgOpenReceipt: {e}")))?;
        let body = m.body.ok_or_else(|| bad("receipt body missing".into()))?;
        let leaf = audit::leaf(&body).ok_or_else(|| {
            bad("request_id, prompt_hash, output_hash and proofs_hash must be 32 bytes".into())
        })?;
        if m.path.len() > MAX_PATH {
            return Err(bad(format!("a path of {} hashes is too long", m.path.len())).into());
        }
        let path = m
            .path
            .iter()
            .map(|p| p.as_slice().try_into())
            .collect::<Result<Vec<[u8; 32]>, _>>()
            .map_err(|_| bad("every path hash must be 32 bytes".into()))?;
        Ok(Self {
            executor: parse_operator(&m.executor)?,
            period: m.period,
            seq: m.seq,
            index: m.index,
            body,
            leaf,
            path,
        })
    }

    fn signer(&self) -> Address {
        self.executor
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        let b = &self.body;
        let bad = |m: String| -> TxError { ComputeError::BadReceipt(m).into() };
        if !(audit::finish::EOS..=audit::finish::STOP_SEQ).contains(&b.finish) {
            return Err(bad(format!(
                "finish {} is not eos (1), max_tokens (2) or stop_seq (3)",
                b.finish
            )));
        }
        if b.n_output == 0 || b.n_output > b.max_tokens.saturating_add(1) {
            return Err(bad(format!(
                "{} output tokens for max_tokens {}",
                b.n_output, b.max_tokens
            )));
        }
        if b.tau_milli > 10_000 || b.top_p_milli == 0 || b.top_p_milli > 1_000 {
            return Err(bad("sampling parameters out of range".into()));
        }
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![
            state_key::batch(self.period, &self.executor, self.seq),
            state_key::audit(self.period, &self.executor, self.seq, self.index),
        ]
    }

    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let (key, mut a) = audit::load(
            state,
            &self.executor,
            self.period,
            self.seq,
            self.index,
            "not selected for audit",
        )
        .await?;
        if a.status == pb::AuditStatus::Auditing as i32 {
            return Err(ComputeError::Duplicate(format!(
                "receipt {}/{} of period {} is already opened",
                self.seq, self.index, self.period
            ))
            .into());
        }
        if a.status != pb::AuditStatus::AwaitingOpen as i32 {
            return Err(ComputeError::AuditWindow(format!(
                "the audit of receipt {}/{} of period {} is concluded",
                self.seq, self.index, self.period
            ))
            .into());
        }
        if ctx.height > a.open_deadline {
            return Err(ComputeError::AuditWindow(format!(
                "the receipt had to be opened by height {}",
                a.open_deadline
            ))
            .into());
        }
        let batch: pb::ReceiptBatch = state
            .get_proto(&state_key::batch(self.period, &self.executor, self.seq))
            .await?
            .ok_or_else(|| ComputeError::NoAudit {
                what: format!("no batch {} in period {}", self.seq, self.period),
            })?;
        if self.body.model != batch.model {
            return Err(ComputeError::BadReceipt(format!(
                "the body names model {:?}; the batch is of {:?}",
                self.body.model, batch.model
            ))
            .into());
        }
        let root: [u8; 32] = batch.root.as_slice().try_into().map_err(|_| {
            comrade_primitives::InternalError::invariant("batch root is not 32 bytes")
        })?;
        if !merkle::verify(
            &root,
            u64::from(batch.count),
            u64::from(self.index),
            &self.leaf,
            &self.path,
        ) {
            return Err(ComputeError::BadReceipt(format!(
                "the path does not prove this body as receipt {} of the batch",
                self.index
            ))
            .into());
        }
        a.body = Some(self.body.clone());
        a.status = pb::AuditStatus::Auditing as i32;
        state.put_proto(key.clone(), &a);
        // Concluded at the report deadline, or earlier once all reported.
        state.put_raw(
            state_key::audit_due(a.audit_deadline, &key),
            key.into_bytes(),
        );
        Ok(())
    }
}
