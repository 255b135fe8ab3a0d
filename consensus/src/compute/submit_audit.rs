//! `MsgSubmitAudit`: an assigned auditor reports its integer metrics on an
//! opened receipt, once, before the report deadline. The chain, not the
//! auditor, applies the thresholds (to the median of the reports).

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{
    Address, ExecError, TxError,
    component::{ActionHandler, BlockContext},
    proto::compute::v1 as pb,
    state::StateWriteProto as _,
};
use prost::Message as _;

use super::{ComputeError, audit, state_key};
use crate::staking::parse_operator;

/// A decoded `MsgSubmitAudit`.
#[derive(Debug, Clone, PartialEq)]
pub struct MsgSubmitAudit {
    /// Auditor (signer).
    pub auditor: Address,
    /// Executor.
    pub executor: Address,
    /// Period of the batch.
    pub period: u64,
    /// Batch.
    pub seq: u32,
    /// Index.
    pub index: u32,
    /// Metrics.
    pub metrics: pb::AuditMetrics,
}

#[async_trait]
impl ActionHandler for MsgSubmitAudit {
    const TYPE_URL: &'static str = "/comrade.compute.v1.MsgSubmitAudit";
    const MODULE: &'static str = "compute";

    fn decode(value: &[u8]) -> Result<Self, TxError> {
        let m = pb::MsgSubmitAudit::decode(value)
            .map_err(|e| ComputeError::InvalidMessage(format!("bad MsgSubmitAudit: {e}")))?;
        Ok(Self {
            auditor: parse_operator(&m.auditor)?,
            executor: parse_operator(&m.executor)?,
            period: m.period,
            seq: m.seq,
            index: m.index,
            metrics: m
                .metrics
                .ok_or_else(|| ComputeError::InvalidMessage("metrics missing".into()))?,
        })
    }

    fn signer(&self) -> Address {
        self.auditor
    }

    fn check_stateless(&self) -> Result<(), TxError> {
        let m = &self.metrics;
        let bad = |s: String| -> TxError { ComputeError::InvalidMessage(s).into() };
        if m.r_raw > m.n_steps || m.r_gated > m.r_raw || m.toploc_fail_chunks > m.toploc_chunks {
            return Err(bad(format!(
                "inconsistent metrics: r_gated {} ≤ r_raw {} ≤ n_steps {} and failed chunks {} ≤ chunks {} must hold",
                m.r_gated, m.r_raw, m.n_steps, m.toploc_fail_chunks, m.toploc_chunks
            )));
        }
        if m.exp_mis_max > 128 || m.sign_mis_max > 128 || m.mant_median_max > 255 {
            return Err(bad("per-chunk counts out of range".into()));
        }
        Ok(())
    }

    fn read_keys(&self) -> Vec<String> {
        vec![state_key::audit(
            self.period,
            &self.executor,
            self.seq,
            self.index,
        )]
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
            "not under audit",
        )
        .await?;
        let me = self.auditor.to_string();
        if !a.auditors.contains(&me) {
            return Err(ComputeError::NotAuditor {
                auditor: me,
                audit: format!(
                    "{}/{}/{}/{}",
                    self.executor, self.period, self.seq, self.index
                ),
            }
            .into());
        }
        if a.status != pb::AuditStatus::Auditing as i32 {
            return Err(ComputeError::AuditWindow(format!(
                "the audit is {}",
                if a.status == pb::AuditStatus::AwaitingOpen as i32 {
                    "not opened yet"
                } else {
                    "concluded"
                }
            ))
            .into());
        }
        if ctx.height > a.audit_deadline {
            return Err(ComputeError::AuditWindow(format!(
                "reports were due by height {}",
                a.audit_deadline
            ))
            .into());
        }
        if a.reports.iter().any(|r| r.auditor == me) {
            return Err(ComputeError::Duplicate(format!("{me} already reported")).into());
        }
        let m = &self.metrics;
        let n_output = a.body.as_ref().map_or(0, |b| b.n_output);
        // A clean report must cover the whole receipt: the step count and
        // the chunk count follow from the opened body.
        if m.flags == 0
            && (m.n_steps != n_output || m.toploc_chunks != audit::expected_chunks(n_output))
        {
            return Err(ComputeError::InvalidMessage(format!(
                "a report without flags covers {n_output} steps and {} chunks, not {} and {}",
                audit::expected_chunks(n_output),
                m.n_steps,
                m.toploc_chunks
            ))
            .into());
        }
        a.reports.push(pb::AuditReport {
            auditor: me,
            metrics: Some(*m),
        });
        if a.reports.len() >= a.auditors.len() {
            // Every auditor reported: conclude at the end of this block.
            state.put_raw(
                state_key::audit_due(ctx.height, &key),
                key.clone().into_bytes(),
            );
        }
        let addr = self.auditor;
        if let Some(mut n) = super::ComputeRead::compute_node(state, &addr).await? {
            let rep = n.reputation.get_or_insert_with(Default::default);
            rep.reports = rep.reports.saturating_add(1);
            super::ComputeWrite::put_compute_node(state, &addr, &n);
        }
        state.put_proto(key, &a);
        Ok(())
    }
}
