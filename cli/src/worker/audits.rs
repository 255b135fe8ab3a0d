//! The worker's part in audits of real inference (design §8.5):
//!
//! - **as executor**: once per beacon period it commits the receipts the
//!   server filed since the last batch (`MsgCommitReceipts`, one Merkle
//!   root), keeps each batch's request ids on disk, and opens every receipt
//!   the beacon selected (`MsgOpenReceipt`, body and path) before its open
//!   deadline;
//! - **as auditor**: for each opened audit it was drawn for, it fetches the
//!   payload from the executor's `/v1/receipts/{id}`, checks it against the
//!   opened body, re-runs one teacher-forced prefill on its own engine and
//!   reports the integer metrics (`MsgSubmitAudit`). A payload that cannot
//!   be fetched or does not match is reported with the `PAYLOAD_UNAVAILABLE`
//!   flag.
//!
//! Each block it sends all its due openings in one tx and at most one
//! report (an audit is a prefill), so its other duties, the beacon reveal
//! first, are never held up for long.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use comrade_app::client::pack;
use comrade_consensus::compute::{
    ComputeParams, MsgCommitReceipts, MsgOpenReceipt, MsgSubmitAudit, audit,
};
use comrade_exact::merkle;
use comrade_inference::attest::{self, AuditConfig, ChunkLimits, Finish, Receipt};
use comrade_primitives::{Address, component::ActionHandler as _, proto::compute::v1 as pb};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{Metrics, Worker};
use crate::rpc::abci_query;

/// A committed batch: where it is on chain and which receipts it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Batch {
    period: u64,
    seq: u32,
    #[serde(with = "hex_ids")]
    ids: Vec<[u8; 32]>,
}

mod hex_ids {
    use serde::{Deserialize as _, Deserializer, Serializer, ser::SerializeSeq as _};

    pub(super) fn serialize<S: Serializer>(ids: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(ids.len()))?;
        for id in ids {
            seq.serialize_element(&hex::encode(id))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                    .ok_or_else(|| serde::de::Error::custom("request id is not 32 hex bytes"))
            })
            .collect()
    }
}

/// The audit state the worker keeps between blocks.
#[derive(Debug, Default)]
pub(super) struct Duties {
    /// Our committed batches by (period, seq).
    batches: BTreeMap<(u64, u32), Batch>,
    /// The last period we committed a batch in.
    last_commit_period: Option<u64>,
    /// Audits we opened or reported on (`exec/period/seq/index`).
    done: BTreeSet<String>,
}

fn batches_path(home: &Path, op: &Address) -> PathBuf {
    home.join("compute")
        .join(format!("receipt-batches-{op}.json"))
}

/// Where the server keeps this operator's receipts.
pub(super) fn receipts_dir(home: &Path, op: &Address) -> PathBuf {
    home.join("compute").join(format!("receipts-{op}"))
}

impl Duties {
    /// Loads the batches committed before a restart.
    pub(super) fn load(home: &Path, op: &Address) -> Result<Self> {
        let p = batches_path(home, op);
        let batches: Vec<Batch> = match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).with_context(|| format!("{}", p.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        };
        Ok(Self {
            last_commit_period: batches.iter().map(|b| b.period).max(),
            batches: batches
                .into_iter()
                .map(|b| ((b.period, b.seq), b))
                .collect(),
            done: BTreeSet::new(),
        })
    }

    fn save(&self, home: &Path, op: &Address) -> Result<()> {
        let p = batches_path(home, op);
        let list: Vec<&Batch> = self.batches.values().collect();
        let tmp = p.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&list)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &p).with_context(|| format!("writing {}", p.display()))
    }
}

/// The leaves of `batch` and the body of its receipt `a.index`, if every
/// receipt of the batch is still in the store.
fn batch_leaves(
    att: &comrade_inference::attested::Attestation,
    batch: &Batch,
    a: &pb::Audit,
) -> Option<(Vec<comrade_exact::Hash>, pb::ReceiptBody)> {
    let mut leaves = Vec::with_capacity(batch.ids.len());
    let mut opened = None;
    let index = usize::try_from(a.index).ok()?;
    for (i, id) in batch.ids.iter().enumerate() {
        let b = body(&att.get(id)?, &a.model);
        leaves.push(audit::leaf(&b)?);
        if i == index {
            opened = Some(b);
        }
    }
    Some((leaves, opened?))
}

/// The on-chain body of a receipt.
pub(super) fn body(r: &Receipt, model: &str) -> pb::ReceiptBody {
    pb::ReceiptBody {
        request_id: r.request_id.to_vec(),
        model: model.to_string(),
        prompt_hash: Receipt::ids_hash(&r.prompt).to_vec(),
        output_hash: Receipt::ids_hash(&r.output).to_vec(),
        n_prompt: u32::try_from(r.prompt.len()).unwrap_or(u32::MAX),
        n_output: u32::try_from(r.output.len()).unwrap_or(u32::MAX),
        finish: match r.finish {
            Finish::Eos => audit::finish::EOS,
            Finish::MaxTokens => audit::finish::MAX_TOKENS,
            Finish::StopSeq => audit::finish::STOP_SEQ,
        },
        tau_milli: u32::from(r.sampling.tau_milli),
        top_p_milli: u32::from(r.sampling.top_p_milli),
        top_k: r.sampling.top_k,
        user_seed: r.sampling.user_seed,
        proofs_hash: r.proofs_hash().to_vec(),
        max_tokens: r.max_tokens,
    }
}

fn audit_label(a: &pb::Audit) -> String {
    format!("{}/{}/{}/{}", a.executor, a.period, a.seq, a.index)
}

/// The chain's audit config for an auditor (its engine adds the EOS ids).
pub(super) fn audit_config(p: &ComputeParams) -> AuditConfig {
    let sat16 = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    AuditConfig {
        eps_milli: p.audit_eps_milli,
        limits: ChunkLimits {
            exp: sat16(p.toploc_exp),
            sign: sat16(p.toploc_sign),
            mean_centi: p.toploc_mean_centi,
            median: u8::try_from(p.toploc_median).unwrap_or(u8::MAX),
        },
        eos: vec![],
    }
}

fn to_pb(m: &attest::AuditMetrics) -> pb::AuditMetrics {
    pb::AuditMetrics {
        n_steps: m.n_steps,
        r_raw: m.r_raw,
        r_gated: m.r_gated,
        margin_sum_milli: m.margin_sum_milli,
        margin_max_milli: m.margin_max_milli,
        toploc_chunks: u32::from(m.toploc_chunks),
        toploc_fail_chunks: u32::from(m.toploc_fail_chunks),
        exp_mis_max: u32::from(m.exp_mis_max),
        sign_mis_max: u32::from(m.sign_mis_max),
        mant_mean_avg_centi: u32::from(m.mant_mean_avg_centi),
        mant_mean_max_centi: u32::from(m.mant_mean_max_centi),
        mant_median_max: u32::from(m.mant_median_max),
        flags: m.flags,
    }
}

impl Worker {
    async fn audits_of(
        &self,
        period: u64,
        executor: Option<&Address>,
    ) -> Result<pb::QueryAuditsResponse> {
        abci_query(
            &self.c,
            &self.node,
            "/comrade.compute.v1.Query/Audits",
            pb::QueryAuditsRequest {
                period,
                executor: executor.map(Address::to_string).unwrap_or_default(),
            }
            .encode_to_vec(),
        )
        .await
    }

    /// The executor's and the auditor's duties at height `h`.
    pub(super) async fn audit_duties(
        &mut self,
        params: &ComputeParams,
        record: &pb::ComputeNode,
        h: u64,
    ) -> Result<()> {
        let Some(att) = self.attestation.clone() else {
            return Ok(());
        };
        let mut result = Ok(());
        if let Err(e) = self.commit_receipts(params, record, &att, h).await {
            result = Err(e);
        }
        if let Err(e) = self.open_selected(params, &att, h).await {
            result = Err(e);
        }
        if let Err(e) = self.run_audits(params, &att, h).await {
            result = Err(e);
        }
        result
    }

    async fn commit_receipts(
        &mut self,
        params: &ComputeParams,
        record: &pb::ComputeNode,
        att: &comrade_inference::attested::Attestation,
        h: u64,
    ) -> Result<()> {
        // The tx lands in the next block: name the period of that height.
        let period = params.period_of(h.saturating_add(1));
        let max = usize::try_from(params.max_receipts_per_batch).unwrap_or(usize::MAX);
        if self.duties.last_commit_period == Some(period) && att.pending() < max {
            return Ok(());
        }
        let rs = att.take_pending(max);
        let Some(first) = rs.first() else {
            return Ok(());
        };
        // Receipts name the engine; the chain knows the registered model id.
        let model = if record.models.contains(&first.model) {
            first.model.clone()
        } else if let [only] = record.models.as_slice() {
            only.clone()
        } else {
            warn!(
                "compute worker: receipts of {:?} match none of the registered models {:?}; not committed",
                first.model, record.models
            );
            return Ok(());
        };
        let leaves: Vec<comrade_exact::Hash> = rs
            .iter()
            .map(|r| audit::leaf(&body(r, &model)).context("a receipt body is malformed"))
            .collect::<Result<_>>()?;
        let root = merkle::root(&leaves);
        let count = u32::try_from(rs.len()).context("too many receipts")?;
        let msg = pack(
            MsgCommitReceipts::TYPE_URL,
            &pb::MsgCommitReceipts {
                executor: self.operator.to_string(),
                model: model.clone(),
                root: root.to_vec(),
                count,
            },
        );
        let at = match self
            .send(&format!("commitment of {count} receipts"), msg)
            .await
        {
            Ok(at) => at,
            Err(e) => {
                att.put_back(&rs);
                return Err(e);
            }
        };
        let landed = params.period_of(at);
        let batches = self.audits_of(landed, Some(&self.operator)).await?.batches;
        let b = batches
            .iter()
            .find(|b| b.root.as_slice() == root.as_slice())
            .context("the committed batch is not on chain")?;
        self.duties.batches.insert(
            (b.period, b.seq),
            Batch {
                period: b.period,
                seq: b.seq,
                ids: rs.iter().map(|r| r.request_id).collect(),
            },
        );
        self.duties.last_commit_period = Some(landed);
        self.duties.save(&self.home, &self.operator)?;
        Metrics::inc(&self.metrics.receipt_batches);
        info!(
            "compute worker: committed {count} receipts of {model} (period {}, batch {}) at height {at}",
            b.period, b.seq
        );
        Ok(())
    }

    async fn open_selected(
        &mut self,
        params: &ComputeParams,
        att: &comrade_inference::attested::Attestation,
        h: u64,
    ) -> Result<()> {
        // Periods whose audits may still await our opening.
        let horizon = params
            .audit_open_blocks
            .div_ceil(params.beacon_period_blocks.max(1))
            .saturating_add(2);
        let now = params.period_of(h);
        let periods: BTreeSet<u64> = self
            .duties
            .batches
            .keys()
            .map(|(p, _)| *p)
            .filter(|p| p.saturating_add(horizon) >= now)
            .collect();
        let mut msgs = Vec::new();
        let mut labels = Vec::new();
        for period in periods {
            for a in self.audits_of(period, Some(&self.operator)).await?.audits {
                let label = audit_label(&a);
                if a.status != pb::AuditStatus::AwaitingOpen as i32
                    || h >= a.open_deadline
                    || self.duties.done.contains(&label)
                {
                    continue;
                }
                let Some(batch) = self.duties.batches.get(&(a.period, a.seq)) else {
                    continue;
                };
                let Some((leaves, b)) = batch_leaves(att, batch, &a) else {
                    self.duties.done.insert(label.clone());
                    warn!(
                        "compute worker: receipt {label} was selected but its batch's receipts are gone: it will fail unopened"
                    );
                    continue;
                };
                let tree = merkle::Tree::from_leaves(leaves);
                let path = tree
                    .path(u64::from(a.index))
                    .context("selected index outside the batch")?;
                msgs.push(pack(
                    MsgOpenReceipt::TYPE_URL,
                    &pb::MsgOpenReceipt {
                        executor: self.operator.to_string(),
                        period: a.period,
                        seq: a.seq,
                        index: a.index,
                        body: Some(b),
                        path: path.iter().map(|p| p.to_vec()).collect(),
                    },
                ));
                labels.push(label);
            }
        }
        if msgs.is_empty() {
            return Ok(());
        }
        let n = msgs.len();
        let at = self
            .send_all(&format!("opening of {n} selected receipts"), msgs)
            .await?;
        for label in labels {
            info!("compute worker: opened selected receipt {label} at height {at}");
            Metrics::inc(&self.metrics.receipts_opened);
            self.duties.done.insert(label);
        }
        Ok(())
    }

    async fn run_audits(
        &mut self,
        params: &ComputeParams,
        att: &comrade_inference::attested::Attestation,
        h: u64,
    ) -> Result<()> {
        let me = self.operator.to_string();
        let horizon = params
            .audit_report_blocks
            .div_ceil(params.beacon_period_blocks.max(1))
            .saturating_add(2);
        let now = params.period_of(h);
        for period in now.saturating_sub(horizon)..=now {
            for a in self.audits_of(period, None).await?.audits {
                let label = audit_label(&a);
                if a.status != pb::AuditStatus::Auditing as i32
                    || h >= a.audit_deadline
                    || !a.auditors.contains(&me)
                    || a.reports.iter().any(|r| r.auditor == me)
                    || self.duties.done.contains(&label)
                {
                    continue;
                }
                let Some(b) = a.body.clone() else { continue };
                let metrics = match self.fetch_payload(&a, &b).await {
                    Ok(r) => {
                        let m = att
                            .audit(r, audit_config(params))
                            .await
                            .map_err(|e| anyhow::anyhow!("audit of {label}: {e}"))?;
                        to_pb(&m)
                    }
                    Err(e) => {
                        warn!("compute worker: audit {label}: {e:#}; reported as unavailable");
                        pb::AuditMetrics {
                            flags: attest::flags::PAYLOAD_UNAVAILABLE,
                            ..Default::default()
                        }
                    }
                };
                let executor: Address = a.executor.parse().context("executor address")?;
                let msg = pack(
                    MsgSubmitAudit::TYPE_URL,
                    &pb::MsgSubmitAudit {
                        auditor: me.clone(),
                        executor: executor.to_string(),
                        period: a.period,
                        seq: a.seq,
                        index: a.index,
                        metrics: Some(metrics),
                    },
                );
                let at = self.send(&format!("audit report on {label}"), msg).await?;
                self.duties.done.insert(label.clone());
                Metrics::inc(&self.metrics.audits_reported);
                info!(
                    "compute worker: audited {label}: {} of {} steps beyond ε, {} of {} chunks failed, flags {:#x} (height {at})",
                    metrics.r_gated,
                    metrics.n_steps,
                    metrics.toploc_fail_chunks,
                    metrics.toploc_chunks,
                    metrics.flags
                );
                return Ok(()); // one per block
            }
        }
        Ok(())
    }

    /// The executor's payload of an opened receipt, checked against its body.
    async fn fetch_payload(&self, a: &pb::Audit, b: &pb::ReceiptBody) -> Result<Receipt> {
        let executor: Address = a.executor.parse().context("executor address")?;
        let node = crate::rpc::compute_node(&self.c, &self.node, executor.to_string())
            .await?
            .node
            .context("the executor has no record")?;
        let url = format!(
            "{}/v1/receipts/{}",
            node.endpoint.trim_end_matches('/'),
            hex::encode(&b.request_id)
        );
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        if !resp.status().is_success() {
            anyhow::bail!("GET {url}: {}", resp.status());
        }
        let r: Receipt = resp
            .json()
            .await
            .with_context(|| format!("GET {url}: not a receipt"))?;
        if body(&r, &a.model) != *b {
            anyhow::bail!("the payload from {url} does not match the opened body");
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use comrade_inference::attest::SamplingSpec;

    fn receipt(finish: Finish) -> Receipt {
        Receipt {
            request_id: [9; 32],
            model: "engine-name".into(),
            sampling: SamplingSpec::from_floats(0.7, 0.95, 40, 5).unwrap(),
            max_tokens: 3,
            prompt: vec![1, 2],
            output: vec![3, 4, 5],
            finish,
            proofs: vec![vec![0; 258], vec![1; 258]],
        }
    }

    #[test]
    fn bodies_bind_every_field_the_auditor_checks() {
        let r = receipt(Finish::MaxTokens);
        let b = body(&r, "smollm2");
        assert_eq!(
            (b.n_prompt, b.n_output, b.finish),
            (2, 3, audit::finish::MAX_TOKENS)
        );
        assert_eq!(
            (b.tau_milli, b.top_p_milli, b.top_k, b.user_seed),
            (700, 950, 40, 5)
        );
        let leaf = audit::leaf(&b).unwrap();
        // Any change to the payload changes the leaf.
        let mut other = r.clone();
        other.output[1] = 7;
        assert_ne!(audit::leaf(&body(&other, "smollm2")).unwrap(), leaf);
        let mut other = r.clone();
        other.proofs[1][0] = 2;
        assert_ne!(audit::leaf(&body(&other, "smollm2")).unwrap(), leaf);
        assert_ne!(audit::leaf(&body(&r, "other")).unwrap(), leaf);
        assert_eq!(body(&receipt(Finish::Eos), "m").finish, audit::finish::EOS);
        assert_eq!(
            body(&receipt(Finish::StopSeq), "m").finish,
            audit::finish::STOP_SEQ
        );
    }

    #[test]
    fn batches_survive_a_restart() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("compute")).unwrap();
        let op = Address([3; 20]);
        let mut d = Duties::load(home.path(), &op).unwrap();
        assert!(d.batches.is_empty() && d.last_commit_period.is_none());
        d.batches.insert(
            (4, 1),
            Batch {
                period: 4,
                seq: 1,
                ids: vec![[1; 32], [2; 32]],
            },
        );
        d.save(home.path(), &op).unwrap();
        let back = Duties::load(home.path(), &op).unwrap();
        assert_eq!(back.last_commit_period, Some(4));
        assert_eq!(back.batches[&(4, 1)].ids, vec![[1; 32], [2; 32]]);
        std::fs::write(batches_path(home.path(), &op), b"[{\"period\":1}]").unwrap();
        assert!(
            Duties::load(home.path(), &op).is_err(),
            "a damaged file is an error"
        );
    }

    #[test]
    fn the_audit_config_follows_the_chain_params() {
        let p = ComputeParams {
            audit_eps_milli: 1234,
            toploc_exp: 40,
            toploc_median: 300,
            ..Default::default()
        };
        let c = audit_config(&p);
        assert_eq!(
            (c.eps_milli, c.limits.exp, c.limits.median),
            (1234, 40, 255)
        );
        assert!(c.eos.is_empty(), "the engine fills in its own EOS ids");
    }
}
