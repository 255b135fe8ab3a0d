//! Audits of real inference (design §6, §8.5), the chain side.
//!
//! * Executors commit Merkle roots of receipt batches during beacon period
//!   `p` ([`super::MsgCommitReceipts`]).
//! * When `β_p` is final, every receipt of those batches is selected with
//!   probability `ρ` by a hash of `β_p` (no proposer can choose it), and
//!   `m` auditors are drawn for it, weighted by their routing weight
//!   (stake × verified capacity × reputation), among the active nodes that
//!   serve its model, never the executor (a receipt nobody else can audit
//!   is not selected).
//! * The executor opens each selected receipt (body and Merkle path,
//!   [`super::MsgOpenReceipt`]) within `audit_open_blocks`; the auditors
//!   fetch its payload, run one teacher-forced prefill in their worker and
//!   report integer [`pb::AuditMetrics`] ([`super::MsgSubmitAudit`]).
//! * At the report deadline (or once every auditor reported) the chain
//!   takes the stake-weighted lower median of each metric and applies the
//!   thresholds: flags, `r_gated ≥ c(n_steps)`, failed chunks
//!   `≥ c(chunks)`, the mantissa-mean average. An unopened receipt fails.
//!   Reports far from the median are outlier strikes; missing reports are
//!   missed-duty strikes.
//! * At the end of each epoch, each executor's tally is tested again:
//!   `Σ r_gated ≥ c_epoch(Σ n_steps)` or `failed ≥ c_epoch(audited)`
//!   convicts it: slash, throttle, and a bounty for the auditors whose
//!   reports stood behind the failures.

use std::collections::BTreeMap;

use cnidarium::{StateRead, StateWrite};
use comrade_bank::{auth::module_accounts, bank::BankWrite as _};
use comrade_primitives::{
    Address, Amount, ExecError, InternalError,
    amount::bps_share,
    component::{BlockContext, EventExt as _},
    proto::compute::v1 as pb,
    state::{StateReadProto as _, StateWriteProto as _},
};
use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};

use super::{
    ComputeParams, ComputeRead as _, ComputeWrite as _,
    event::{
        EventAuditConcluded, EventAuditSelected, EventAuditorStruck, EventBountyPaid,
        EventConviction,
    },
    routing_weight, state_key, stored_stake,
};

/// Most auditors per receipt.
pub const MAX_AUDITORS: u32 = 16;

/// `finish` codes of a [`pb::ReceiptBody`].
pub mod finish {
    /// The output ends with an end-of-sequence token.
    pub const EOS: u32 = 1;
    /// The output has `max_tokens` tokens.
    pub const MAX_TOKENS: u32 = 2;
    /// A stop sequence matched in the text.
    pub const STOP_SEQ: u32 = 3;
}

/// TOPLOC chunks of a receipt with `n_output` tokens: the prefill, then one
/// per 32 of the decode states that drew tokens 1…n−1.
pub fn expected_chunks(n_output: u32) -> u32 {
    n_output.saturating_sub(1).div_ceil(32).saturating_add(1)
}

/// The Merkle leaf hash of a receipt body:
/// `H(0x00 ‖ "comrade/receipt/v1" ‖ request_id ‖ len(model) u32 ‖ model ‖
/// prompt_hash ‖ output_hash ‖ n_prompt ‖ n_output ‖ finish ‖ tau_milli ‖
/// top_p_milli ‖ top_k ‖ user_seed u64 ‖ proofs_hash ‖ max_tokens)`, all
/// integers little-endian `u32` unless noted. `None` if a hash field is
/// not 32 bytes.
pub fn leaf(b: &pb::ReceiptBody) -> Option<[u8; 32]> {
    let h32 = |v: &[u8]| -> Option<[u8; 32]> { v.try_into().ok() };
    let mut data = Vec::with_capacity(b.model.len().saturating_add(200));
    data.extend_from_slice(b"comrade/receipt/v1");
    data.extend_from_slice(&h32(&b.request_id)?);
    data.extend_from_slice(&u32::try_from(b.model.len()).ok()?.to_le_bytes());
    data.extend_from_slice(b.model.as_bytes());
    data.extend_from_slice(&h32(&b.prompt_hash)?);
    data.extend_from_slice(&h32(&b.output_hash)?);
    for v in [
        b.n_prompt,
        b.n_output,
        b.finish,
        b.tau_milli,
        b.top_p_milli,
        b.top_k,
    ] {
        data.extend_from_slice(&v.to_le_bytes());
    }
    data.extend_from_slice(&b.user_seed.to_le_bytes());
    data.extend_from_slice(&h32(&b.proofs_hash)?);
    data.extend_from_slice(&b.max_tokens.to_le_bytes());
    Some(comrade_exact::merkle::leaf_hash(&data))
}

fn selection_hash(tag: &[u8], beacon: &[u8; 32], b: &pb::ReceiptBatch, index: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(tag);
    h.update(beacon);
    h.update(b.executor.as_bytes());
    h.update(b.period.to_le_bytes());
    h.update(b.seq.to_le_bytes());
    h.update(index.to_le_bytes());
    h.finalize().into()
}

fn u64_of(h: &[u8; 32]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&h[..8]);
    u64::from_le_bytes(w)
}

/// Whether receipt `index` of batch `b` is selected under `β_p`:
/// `u64(H("comrade/audit/sel/v1" ‖ β ‖ executor ‖ period ‖ seq ‖ index)) <
/// ρ · 2⁶⁴`.
pub fn is_selected(beacon: &[u8; 32], b: &pb::ReceiptBatch, index: u32, rate_ppm: u32) -> bool {
    let x = u128::from(u64_of(&selection_hash(
        b"comrade/audit/sel/v1",
        beacon,
        b,
        index,
    )));
    // x < rate · 2⁶⁴ / 10⁶  ⇔  x · 10⁶ < rate · 2⁶⁴
    x.saturating_mul(1_000_000) < u128::from(rate_ppm) << 64
}

/// Draws up to `m` distinct auditors from `candidates` (address and a
/// positive weight), each with probability proportional to its weight
/// among those left, from `seed`.
pub fn draw_auditors(seed: &[u8; 32], candidates: &[(Address, u64)], m: u32) -> Vec<Address> {
    let mut left: Vec<(Address, u64)> =
        candidates.iter().filter(|(_, w)| *w > 0).copied().collect();
    let mut out = Vec::new();
    for j in 0..m {
        let total: u128 = left.iter().map(|(_, w)| u128::from(*w)).sum();
        if total == 0 {
            break;
        }
        let mut h = Sha256::new();
        h.update(seed);
        h.update(j.to_le_bytes());
        let r: [u8; 32] = h.finalize().into();
        let mut x = [0u8; 16];
        x.copy_from_slice(&r[..16]);
        let mut point = u128::from_le_bytes(x).checked_rem(total).unwrap_or(0);
        let mut pick = 0;
        for (i, (_, w)) in left.iter().enumerate() {
            let w = u128::from(*w);
            if point < w {
                pick = i;
                break;
            }
            point = point.saturating_sub(w);
        }
        out.push(left.remove(pick).0);
    }
    out
}

async fn scan<S: StateRead + ?Sized, T: prost::Message + Default>(
    state: &S,
    prefix: &str,
    what: &'static str,
) -> Result<Vec<(String, T)>, InternalError> {
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(state.prefix_raw(prefix));
    while let Some(item) = stream.next().await {
        let (key, bytes) = item.map_err(|e| InternalError::storage(what, e))?;
        let v = T::decode(bytes.as_slice()).map_err(|e| InternalError::Corrupt {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        out.push((key, v));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The batches committed in period `p` (all executors, or one).
pub async fn batches<S: StateRead + ?Sized>(
    state: &S,
    period: u64,
    executor: Option<&Address>,
) -> Result<Vec<pb::ReceiptBatch>, InternalError> {
    let prefix = match executor {
        Some(e) => state_key::batch_prefix(period, e),
        None => state_key::batch_period_prefix(period),
    };
    Ok(scan(state, &prefix, "scanning receipt batches")
        .await?
        .into_iter()
        .map(|(_, b)| b)
        .collect())
}

/// The audits of batches committed in period `p` (all executors, or one).
pub async fn audits<S: StateRead + ?Sized>(
    state: &S,
    period: u64,
    executor: Option<&Address>,
) -> Result<Vec<pb::Audit>, InternalError> {
    let prefix = match executor {
        Some(e) => format!("{}{e}/", state_key::audit_period_prefix(period)),
        None => state_key::audit_period_prefix(period),
    };
    Ok(scan(state, &prefix, "scanning audits")
        .await?
        .into_iter()
        .map(|(_, a)| a)
        .collect())
}

/// One audit.
pub async fn audit<S: StateRead + ?Sized>(
    state: &S,
    period: u64,
    executor: &Address,
    seq: u32,
    index: u32,
) -> Result<Option<pb::Audit>, InternalError> {
    state
        .get_proto(&state_key::audit(period, executor, seq, index))
        .await
}

/// The audit a message names, with its key; `NoAudit` ("receipt … is
/// `missing`") if there is none.
pub(super) async fn load<S: StateRead + ?Sized>(
    state: &S,
    executor: &Address,
    period: u64,
    seq: u32,
    index: u32,
    missing: &str,
) -> Result<(String, pb::Audit), ExecError> {
    let key = state_key::audit(period, executor, seq, index);
    let a = state
        .get_proto(&key)
        .await?
        .ok_or_else(|| super::ComputeError::NoAudit {
            what: format!(
                "receipt {seq}/{index} of {executor}'s batches in period {period} is {missing}"
            ),
        })?;
    Ok((key, a))
}

/// An executor's tally in epoch `e`.
pub async fn tally<S: StateRead + ?Sized>(
    state: &S,
    epoch: u64,
    executor: &Address,
) -> Result<Option<pb::AuditTally>, InternalError> {
    state.get_proto(&state_key::tally(epoch, executor)).await
}

fn parse_addr(s: &str, key: &str) -> Result<Address, InternalError> {
    s.parse().map_err(|e| InternalError::Corrupt {
        key: key.to_string(),
        reason: format!("address {s:?}: {e}"),
    })
}

/// Selects the audited receipts of period `p` once `β_p` is final (at the
/// end of `height`), and draws their auditors.
pub(super) async fn select<S: StateWrite>(
    state: &mut S,
    params: &ComputeParams,
    period: u64,
    beacon: &[u8; 32],
    height: u64,
) -> Result<(), ExecError> {
    let all = batches(state, period, None).await?;
    if all.is_empty() {
        return Ok(());
    }
    let epoch = params.epoch_of(height);
    let nodes = state.compute_nodes().await?;
    let open_deadline = height.saturating_add(params.audit_open_blocks);
    let audit_deadline = height.saturating_add(params.audit_report_blocks);
    for b in all {
        let executor = parse_addr(&b.executor, "receipt batch")?;
        let candidates: Vec<(Address, u64)> = nodes
            .iter()
            .filter(|(a, n)| *a != executor && n.models.contains(&b.model))
            .map(|(a, n)| (*a, routing_weight(n, params, epoch)))
            .collect();
        for index in 0..b.count {
            if !is_selected(beacon, &b, index, params.audit_rate_ppm) {
                continue;
            }
            let seed = selection_hash(b"comrade/audit/who/v1", beacon, &b, index);
            let auditors = draw_auditors(&seed, &candidates, params.auditors_per_audit);
            if auditors.is_empty() {
                // No other node serves the model: nobody can audit it, and
                // the executor owes no opening.
                continue;
            }
            let key = state_key::audit(period, &executor, b.seq, index);
            let a = pb::Audit {
                executor: b.executor.clone(),
                period,
                seq: b.seq,
                index,
                model: b.model.clone(),
                auditors: auditors.iter().map(Address::to_string).collect(),
                open_deadline,
                audit_deadline,
                status: pb::AuditStatus::AwaitingOpen as i32,
                ..Default::default()
            };
            state.put_proto(key.clone(), &a);
            state.put_raw(state_key::audit_due(open_deadline, &key), key.into_bytes());
            state.emit(EventAuditSelected {
                executor,
                period,
                seq: b.seq,
                index,
                auditors: a.auditors.join(","),
                open_deadline,
                audit_deadline,
            });
        }
    }
    Ok(())
}

/// The stake-weighted lower median of one metric: the smallest value whose
/// cumulative weight reaches half the total.
fn weighted_median(mut v: Vec<(u64, u128)>) -> u64 {
    v.sort_unstable();
    let total: u128 = v.iter().map(|(_, w)| *w).sum();
    let half = total.div_ceil(2);
    let mut acc = 0u128;
    for (x, w) in &v {
        acc = acc.saturating_add(*w);
        if acc >= half {
            return *x;
        }
    }
    v.last().map_or(0, |(x, _)| *x)
}

fn clamp32(x: u64) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// Per-field stake-weighted lower medians of the reports (with an even
/// split, the value better for the executor); a flag bit is set only if
/// reporters holding more than half the weight set it.
pub fn median(reports: &[(pb::AuditMetrics, u128)]) -> pb::AuditMetrics {
    let field = |f: &dyn Fn(&pb::AuditMetrics) -> u64| -> u64 {
        weighted_median(reports.iter().map(|(m, w)| (f(m), *w)).collect())
    };
    let total: u128 = reports.iter().map(|(_, w)| *w).sum();
    let mut flags = 0u32;
    for bit in 0..32 {
        let b = 1u32 << bit;
        let setters: u128 = reports
            .iter()
            .filter(|(m, _)| m.flags & b != 0)
            .map(|(_, w)| *w)
            .sum();
        if setters.saturating_mul(2) > total {
            flags |= b;
        }
    }
    pb::AuditMetrics {
        n_steps: clamp32(field(&|m| u64::from(m.n_steps))),
        r_raw: clamp32(field(&|m| u64::from(m.r_raw))),
        r_gated: clamp32(field(&|m| u64::from(m.r_gated))),
        margin_sum_milli: field(&|m| m.margin_sum_milli),
        margin_max_milli: clamp32(field(&|m| u64::from(m.margin_max_milli))),
        toploc_chunks: clamp32(field(&|m| u64::from(m.toploc_chunks))),
        toploc_fail_chunks: clamp32(field(&|m| u64::from(m.toploc_fail_chunks))),
        exp_mis_max: clamp32(field(&|m| u64::from(m.exp_mis_max))),
        sign_mis_max: clamp32(field(&|m| u64::from(m.sign_mis_max))),
        mant_mean_avg_centi: clamp32(field(&|m| u64::from(m.mant_mean_avg_centi))),
        mant_mean_max_centi: clamp32(field(&|m| u64::from(m.mant_mean_max_centi))),
        mant_median_max: clamp32(field(&|m| u64::from(m.mant_median_max))),
        flags,
    }
}

/// Why the median fails the per-receipt thresholds, if it does.
pub fn failure(params: &ComputeParams, m: &pb::AuditMetrics) -> Option<String> {
    if m.flags != 0 {
        return Some(format!("flags {:#x}", m.flags));
    }
    let c_steps = params.critical_req(u64::from(m.n_steps));
    if u64::from(m.r_gated) >= c_steps {
        return Some(format!(
            "{} of {} steps beyond ε = {} milli (critical value {c_steps})",
            m.r_gated, m.n_steps, params.audit_eps_milli
        ));
    }
    let c_chunks = params.critical_req(u64::from(m.toploc_chunks));
    if u64::from(m.toploc_fail_chunks) >= c_chunks {
        return Some(format!(
            "{} of {} TOPLOC chunks over the limits (critical value {c_chunks})",
            m.toploc_fail_chunks, m.toploc_chunks
        ));
    }
    if m.mant_mean_avg_centi > params.audit_mean_avg_max_centi {
        return Some(format!(
            "mantissa mean average {} above {}",
            centi(m.mant_mean_avg_centi),
            centi(params.audit_mean_avg_max_centi)
        ));
    }
    None
}

/// `x / 100` as a decimal string, without floats.
fn centi(x: u32) -> String {
    format!("{}.{:02}", x / 100, x % 100)
}

/// Whether a report is out of tolerance with the median.
fn outlier(params: &ComputeParams, m: &pb::AuditMetrics, med: &pb::AuditMetrics) -> Option<String> {
    let tol = u64::from(params.audit_tol_gated_min).max(
        u64::from(med.n_steps).saturating_mul(u64::from(params.audit_tol_gated_ppm)) / 1_000_000,
    );
    if u64::from(m.r_gated.abs_diff(med.r_gated)) > tol {
        return Some(format!(
            "r_gated {} vs the median's {} (tolerance {tol})",
            m.r_gated, med.r_gated
        ));
    }
    if m.mant_mean_avg_centi.abs_diff(med.mant_mean_avg_centi) > params.audit_tol_mean_centi {
        return Some(format!(
            "mantissa mean average {} vs the median's {} (× 100; tolerance {})",
            m.mant_mean_avg_centi, med.mant_mean_avg_centi, params.audit_tol_mean_centi
        ));
    }
    if (m.flags != 0) != (med.flags != 0) {
        return Some(format!(
            "flags {:#x} vs the median's {:#x}",
            m.flags, med.flags
        ));
    }
    None
}

/// Most reporters a tally keeps for the bounty.
const MAX_REPORTERS: usize = 256;

/// Concludes (or advances) every audit due at the end of `height`.
pub(super) async fn end_block<S: StateWrite>(
    state: &mut S,
    ctx: &BlockContext,
    params: &ComputeParams,
) -> Result<(), ExecError> {
    let prefix = state_key::audit_due_prefix(ctx.height);
    let mut due = Vec::new();
    {
        let mut stream = std::pin::pin!(state.prefix_raw(&prefix));
        while let Some(item) = stream.next().await {
            let (key, value) =
                item.map_err(|e| InternalError::storage("scanning due audits", e))?;
            due.push((key, value));
        }
    }
    due.sort();
    for (due_key, audit_key) in due {
        state.delete(due_key.clone());
        let audit_key = String::from_utf8(audit_key).map_err(|_| InternalError::Corrupt {
            key: due_key.clone(),
            reason: "audit key is not UTF-8".into(),
        })?;
        let Some(a) = state.get_proto::<pb::Audit>(&audit_key).await? else {
            return Err(InternalError::invariant("a due entry names no audit").into());
        };
        conclude(state, ctx, params, a, &audit_key).await?;
    }
    let epoch = params.epoch_of(ctx.height);
    if ctx.height.saturating_add(1) == params.epoch_start(epoch.saturating_add(1)) {
        settle_epoch(state, params, epoch).await?;
    }
    Ok(())
}

async fn conclude<S: StateWrite>(
    state: &mut S,
    ctx: &BlockContext,
    params: &ComputeParams,
    mut a: pb::Audit,
    key: &str,
) -> Result<(), ExecError> {
    let executor = parse_addr(&a.executor, key)?;
    let status = pb::AuditStatus::try_from(a.status).unwrap_or(pb::AuditStatus::Unspecified);
    let (outcome, reason) = match status {
        pb::AuditStatus::AwaitingOpen => {
            a.status = pb::AuditStatus::Failed as i32;
            (
                "failed",
                format!("not opened by height {}", a.open_deadline),
            )
        }
        pb::AuditStatus::Auditing => {
            let all_in = a.reports.len() >= a.auditors.len();
            if ctx.height < a.audit_deadline && !all_in {
                return Ok(()); // an early entry, and a report is still out
            }
            judge(state, params, &mut a, &executor).await?
        }
        // Concluded early; this is the deadline's entry.
        _ => return Ok(()),
    };
    a.reason = reason.clone();
    let concluded = a.status != pb::AuditStatus::Void as i32;
    let failed = a.status == pb::AuditStatus::Failed as i32;
    if concluded && let Some(mut n) = state.compute_node(&executor).await? {
        let rep = n.reputation.get_or_insert_with(Default::default);
        if failed {
            rep.audits_failed = rep.audits_failed.saturating_add(1);
        } else {
            rep.audits_passed = rep.audits_passed.saturating_add(1);
        }
        state.put_compute_node(&executor, &n);
    }
    if concluded {
        let epoch = params.epoch_of(ctx.height);
        let tkey = state_key::tally(epoch, &executor);
        let mut t: pb::AuditTally = state.get_proto(&tkey).await?.unwrap_or_default();
        t.audited = t.audited.saturating_add(1);
        if let Some(m) = &a.median {
            t.steps = t.steps.saturating_add(u64::from(m.n_steps));
            t.gated = t.gated.saturating_add(u64::from(m.r_gated));
        }
        if failed {
            t.failed = t.failed.saturating_add(1);
            let med = a.median.unwrap_or_default();
            for r in &a.reports {
                let m = r.metrics.unwrap_or_default();
                if outlier(params, &m, &med).is_none()
                    && !t.reporters.contains(&r.auditor)
                    && t.reporters.len() < MAX_REPORTERS
                {
                    t.reporters.push(r.auditor.clone());
                }
            }
            t.reporters.sort();
        }
        state.put_proto(tkey, &t);
    }
    let reports = u32::try_from(a.reports.len()).unwrap_or(u32::MAX);
    state.put_proto(key.to_string(), &a);
    state.emit(EventAuditConcluded {
        executor,
        period: a.period,
        seq: a.seq,
        index: a.index,
        outcome,
        reports,
        reason,
    });
    Ok(())
}

/// The verdict of an opened audit from its reports; strikes for missing
/// and outlying reporters.
async fn judge<S: StateWrite>(
    state: &mut S,
    params: &ComputeParams,
    a: &mut pb::Audit,
    executor: &Address,
) -> Result<(&'static str, String), ExecError> {
    let reported: std::collections::BTreeSet<&String> =
        a.reports.iter().map(|r| &r.auditor).collect();
    let mut strikes: BTreeMap<Address, (&'static str, String)> = BTreeMap::new();
    for auditor in &a.auditors {
        if !reported.contains(auditor) {
            let addr = parse_addr(auditor, "audit auditor")?;
            strikes.insert(
                addr,
                (
                    "missed",
                    format!("no report by height {}", a.audit_deadline),
                ),
            );
        }
    }
    let needed = a.auditors.len().div_ceil(2).max(1);
    let result = if a.reports.len() < needed {
        a.status = pb::AuditStatus::Void as i32;
        (
            "void",
            format!(
                "{} of {} auditors reported; {needed} needed",
                a.reports.len(),
                a.auditors.len()
            ),
        )
    } else {
        let mut weighted = Vec::with_capacity(a.reports.len());
        for r in &a.reports {
            let addr = parse_addr(&r.auditor, "audit report")?;
            let w = match state.compute_node(&addr).await? {
                Some(n) => stored_stake(&n)?.max(1),
                None => 1,
            };
            weighted.push((r.metrics.unwrap_or_default(), w));
        }
        let med = median(&weighted);
        for r in &a.reports {
            if let Some(why) = outlier(params, &r.metrics.unwrap_or_default(), &med) {
                strikes.insert(parse_addr(&r.auditor, "audit report")?, ("outlier", why));
            }
        }
        a.median = Some(med);
        match failure(params, &med) {
            Some(why) => {
                a.status = pb::AuditStatus::Failed as i32;
                ("failed", why)
            }
            None => {
                a.status = pb::AuditStatus::Passed as i32;
                (
                    "passed",
                    format!(
                        "{} of {} steps beyond ε, {} of {} chunks over the limits",
                        med.r_gated, med.n_steps, med.toploc_fail_chunks, med.toploc_chunks
                    ),
                )
            }
        }
    };
    for (addr, (strike, reason)) in strikes {
        if let Some(mut n) = state.compute_node(&addr).await? {
            let rep = n.reputation.get_or_insert_with(Default::default);
            match strike {
                "missed" => rep.reports_missed = rep.reports_missed.saturating_add(1),
                _ => rep.reports_outlier = rep.reports_outlier.saturating_add(1),
            }
            state.put_compute_node(&addr, &n);
        }
        state.emit(EventAuditorStruck {
            auditor: addr,
            executor: *executor,
            strike,
            reason,
        });
    }
    Ok(result)
}

/// Why a tally convicts its executor, if it does.
pub fn conviction(params: &ComputeParams, t: &pb::AuditTally) -> Option<String> {
    let c_steps = params.critical_epoch(t.steps);
    if t.steps > 0 && t.gated >= c_steps {
        return Some(format!(
            "{} of {} audited steps beyond ε this epoch (critical value {c_steps})",
            t.gated, t.steps
        ));
    }
    let c_fail = params.critical_epoch(u64::from(t.audited));
    if t.audited > 0 && u64::from(t.failed) >= c_fail {
        return Some(format!(
            "{} of {} audited receipts failed this epoch (critical value {c_fail})",
            t.failed, t.audited
        ));
    }
    None
}

/// Tests every executor's tally of epoch `e` (at its last block).
async fn settle_epoch<S: StateWrite>(
    state: &mut S,
    params: &ComputeParams,
    epoch: u64,
) -> Result<(), ExecError> {
    let prefix = state_key::tally_prefix(epoch);
    for (key, t) in scan::<_, pb::AuditTally>(state, &prefix, "scanning audit tallies").await? {
        let Some(reason) = conviction(params, &t) else {
            continue;
        };
        let executor = parse_addr(
            key.strip_prefix(&prefix)
                .ok_or_else(|| InternalError::invariant("foreign tally key"))?,
            &key,
        )?;
        let Some(mut n) = state.compute_node(&executor).await? else {
            continue; // unbonded and paid out before the epoch ended
        };
        let stake = stored_stake(&n)?;
        let cut = bps_share(stake, params.slash_conviction_bps)
            .ok_or_else(|| InternalError::invariant("slash above 10000 bps"))?;
        let bounty_total = bps_share(cut, params.bounty_bps)
            .ok_or_else(|| InternalError::invariant("bounty above 10000 bps"))?;
        let reporters: Vec<Address> = t
            .reporters
            .iter()
            .map(|r| parse_addr(r, &key))
            .collect::<Result<_, _>>()?;
        let pool = Address::module(module_accounts::STAKING_POOL);
        let mut bounty: Amount = 0;
        if let Ok(k) = u128::try_from(reporters.len())
            && k > 0
        {
            let each = bounty_total.checked_div(k).unwrap_or(0);
            if each > 0 {
                for r in &reporters {
                    state.transfer(&pool, r, each).await?;
                    bounty = bounty.saturating_add(each);
                    state.emit(EventBountyPaid {
                        auditor: *r,
                        executor,
                        epoch,
                        amount: each,
                    });
                }
            }
        }
        let rest = cut.saturating_sub(bounty);
        if rest > 0 {
            state
                .transfer(&pool, &Address::module(module_accounts::TREASURY), rest)
                .await?;
        }
        n.stake = stake.saturating_sub(cut).to_string();
        let total =
            crate::staking::state::stored_amount(&state_key::node_label(&n), &n.slashed_total)?;
        n.slashed_total = total.saturating_add(cut).to_string();
        let until = epoch
            .saturating_add(1)
            .saturating_add(params.throttle_epochs);
        n.throttled_until_epoch = n.throttled_until_epoch.max(until);
        let rep = n.reputation.get_or_insert_with(Default::default);
        rep.convictions = rep.convictions.saturating_add(1);
        let throttled_until_epoch = n.throttled_until_epoch;
        state.put_compute_node(&executor, &n);
        state.emit(EventConviction {
            executor,
            epoch,
            slashed: cut,
            bounty,
            reporters: t.reporters.join(","),
            throttled_until_epoch,
            reason,
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;

    fn m(r_gated: u32, mean: u32, flags: u32) -> pb::AuditMetrics {
        pb::AuditMetrics {
            n_steps: 100,
            r_gated,
            mant_mean_avg_centi: mean,
            flags,
            toploc_chunks: 4,
            ..Default::default()
        }
    }

    #[test]
    fn the_median_is_stake_weighted_and_low() {
        // Equal weights: the lower median of 1, 5, 9 is 5; of 1, 9 it is 1.
        let med = median(&[(m(9, 0, 0), 1), (m(1, 0, 0), 1), (m(5, 0, 0), 1)]);
        assert_eq!(med.r_gated, 5);
        assert_eq!(median(&[(m(9, 0, 0), 1), (m(1, 0, 0), 1)]).r_gated, 1);
        // A heavy reporter decides alone.
        let med = median(&[(m(9, 7, 0), 10), (m(1, 0, 1), 1), (m(5, 0, 1), 1)]);
        assert_eq!((med.r_gated, med.mant_mean_avg_centi, med.flags), (9, 7, 0));
        // A flag bit needs more than half the weight.
        assert_eq!(median(&[(m(0, 0, 3), 1), (m(0, 0, 1), 1)]).flags, 1);
    }

    #[test]
    fn thresholds_and_outliers() {
        let p = ComputeParams::default();
        assert!(failure(&p, &m(0, 100, 0)).is_none());
        assert!(failure(&p, &m(0, 100, 1)).unwrap().contains("flags"));
        let c = u32::try_from(p.critical_req(100)).unwrap();
        assert!(failure(&p, &m(c - 1, 100, 0)).is_none());
        assert!(failure(&p, &m(c, 100, 0)).unwrap().contains("steps beyond"));
        let over = p.audit_mean_avg_max_centi + 1;
        assert!(failure(&p, &m(0, over, 0)).unwrap().contains("mantissa"));
        let med = m(10, 300, 0);
        assert!(outlier(&p, &m(13, 300, 0), &med).is_none());
        assert!(outlier(&p, &m(14, 300, 0), &med).is_some());
        assert!(outlier(&p, &m(10, 451, 0), &med).is_some());
        assert!(outlier(&p, &m(10, 300, 4), &med).is_some());
    }

    #[test]
    fn selection_rate_and_weighted_draws() {
        let b = pb::ReceiptBatch {
            executor: "x".into(),
            period: 3,
            seq: 0,
            count: 20_000,
            ..Default::default()
        };
        let beacon = [7u8; 32];
        let hits = (0..b.count)
            .filter(|&i| is_selected(&beacon, &b, i, 50_000))
            .count();
        // 1000 expected; 5σ ≈ 154.
        assert!((846..=1154).contains(&hits), "{hits}");
        assert!((0..100).all(|i| is_selected(&beacon, &b, i, 1_000_000)));
        assert!((0..100).all(|i| !is_selected(&beacon, &b, i, 0)));
        let a = |i: u8| Address([i; 20]);
        let cands = [(a(1), 1), (a(2), 0), (a(3), 9)];
        let mut firsts = [0u32; 4];
        for s in 0..2000u32 {
            let seed: [u8; 32] = Sha256::digest(s.to_le_bytes()).into();
            let got = draw_auditors(&seed, &cands, 3);
            assert_eq!(got.len(), 2, "zero-weight candidates are never drawn");
            assert_ne!(got[0], got[1]);
            firsts[usize::from(got[0].0[0])] += 1;
        }
        // a(3) first with probability 0.9: 1800 ± 5σ (67).
        assert!((1733..=1867).contains(&firsts[3]), "{firsts:?}");
    }
}
