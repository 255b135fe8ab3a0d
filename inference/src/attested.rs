//! Attested serving: what a compute node keeps about the requests it
//! served, and the audits it runs for the chain (design §6, §8.5).
//!
//! With [`crate::server::ServerConfig::attestation`] set, the server samples
//! every request with the public Gumbel tape of its request id, records the
//! final-norm hidden states, and files a [`Receipt`] here; the chain worker
//! takes the pending receipts to commit them in batches, and anyone may
//! fetch a receipt's payload from `GET /v1/receipts/{request_id}` (an
//! auditor must, to check it against the body the executor opened on
//! chain). Audits assigned to this node run on the server's own engine
//! thread, between generation batches, through [`Attestation::audit`].
//!
//! Receipts are kept in memory (the newest [`MAX_IN_MEMORY`]) and, with a
//! directory, one JSON file each, so a restarted node can still serve the
//! payloads of receipts it committed before.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;

use crate::attest::{AuditConfig, AuditMetrics, Receipt};

/// Receipts held in memory.
pub const MAX_IN_MEMORY: usize = 4096;

/// An audit for the engine thread.
pub(crate) struct AuditJob {
    pub(crate) receipt: Receipt,
    pub(crate) cfg: AuditConfig,
    pub(crate) reply: tokio::sync::oneshot::Sender<Result<AuditMetrics, String>>,
}

#[derive(Default)]
struct Inner {
    pending: Vec<[u8; 32]>,
    by_id: BTreeMap<[u8; 32], Receipt>,
    order: VecDeque<[u8; 32]>,
}

/// The node's receipts and its audit channel.
pub struct Attestation {
    dir: Option<PathBuf>,
    inner: Mutex<Inner>,
    pub(crate) audits: Mutex<Option<std::sync::mpsc::Sender<crate::server::Work>>>,
}

impl std::fmt::Debug for Attestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attestation")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Attestation {
    /// A store that keeps receipts in memory and, with `dir`, on disk (the
    /// directory is created).
    pub fn new(dir: Option<PathBuf>) -> std::io::Result<Self> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d)?;
        }
        Ok(Self {
            dir,
            inner: Mutex::new(Inner::default()),
            audits: Mutex::new(None),
        })
    }

    fn path(&self, id: &[u8; 32]) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("{}.json", hex::encode(id))))
    }

    /// Files a receipt as pending (a receipt whose id is known is ignored:
    /// request ids are unique, and a duplicate would be a replay).
    pub fn insert(&self, r: Receipt) {
        if let Some(p) = self.path(&r.request_id) {
            match serde_json::to_vec(&r) {
                Ok(bytes) => {
                    if let Err(e) = std::fs::write(&p, bytes) {
                        tracing::warn!("cannot write receipt {}: {e}", p.display());
                    }
                }
                Err(e) => tracing::warn!("cannot encode a receipt: {e}"),
            }
        }
        let mut g = lock(&self.inner);
        if g.by_id.contains_key(&r.request_id) {
            return;
        }
        g.pending.push(r.request_id);
        g.order.push_back(r.request_id);
        g.by_id.insert(r.request_id, r);
        while g.order.len() > MAX_IN_MEMORY {
            if let Some(old) = g.order.pop_front() {
                g.by_id.remove(&old);
                g.pending.retain(|p| *p != old);
            }
        }
    }

    /// Takes up to `max` pending receipts, oldest first.
    pub fn take_pending(&self, max: usize) -> Vec<Receipt> {
        let mut g = lock(&self.inner);
        let n = max.min(g.pending.len());
        let ids: Vec<[u8; 32]> = g.pending.drain(..n).collect();
        ids.iter()
            .filter_map(|id| g.by_id.get(id).cloned())
            .collect()
    }

    /// Returns receipts to the front of the pending list (a commitment that
    /// did not land).
    pub fn put_back(&self, rs: &[Receipt]) {
        let mut g = lock(&self.inner);
        let mut ids: Vec<[u8; 32]> = rs.iter().map(|r| r.request_id).collect();
        ids.append(&mut g.pending);
        g.pending = ids;
    }

    /// Receipts waiting for a commitment.
    pub fn pending(&self) -> usize {
        lock(&self.inner).pending.len()
    }

    /// A receipt by request id, from memory or disk.
    pub fn get(&self, id: &[u8; 32]) -> Option<Receipt> {
        if let Some(r) = lock(&self.inner).by_id.get(id) {
            return Some(r.clone());
        }
        let bytes = std::fs::read(self.path(id)?).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Runs an audit on the serving engine (queued behind the current
    /// generation batch); empty `cfg.eos` means the engine's stop tokens.
    /// Errors when no server runs or the audit itself fails (e.g. a prompt
    /// longer than the context).
    pub async fn audit(&self, receipt: Receipt, cfg: AuditConfig) -> Result<AuditMetrics, String> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job = AuditJob {
            receipt,
            cfg,
            reply: tx,
        };
        let sent = self
            .audits
            .lock()
            .map_err(|_| "audit channel poisoned".to_string())?
            .as_ref()
            .map(|s| s.send(crate::server::Work::Audit(job)).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err("the inference server is not running".into());
        }
        rx.await
            .map_err(|_| "the inference worker dropped the audit".to_string())?
    }
}
