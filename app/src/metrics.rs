//! The app's counters, owned by [`App`](crate::App): one type instead of
//! atomics scattered over statics. Logged with every committed block.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the app's work since start (or since the last commit, for
/// the per-block ones).
#[derive(Debug, Default)]
pub struct Metrics {
    /// FinalizeBlocks answered from an optimistic execution.
    optimistic_hits: AtomicU64,
    /// Signature verifications since start.
    signature_checks: AtomicU64,
    /// New CheckTx calls since the last commit.
    checktx_new: AtomicU64,
    /// Recheck CheckTx calls since the last commit.
    checktx_recheck: AtomicU64,
}

/// The per-block counters taken at a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCounts {
    /// New CheckTx calls during the block.
    pub checktx_new: u64,
    /// Rechecks during the block.
    pub checktx_recheck: u64,
    /// Signature verifications since start.
    pub signature_checks: u64,
}

impl Metrics {
    /// Counts one FinalizeBlock served from an optimistic execution.
    pub fn count_optimistic_hit(&self) {
        self.optimistic_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// FinalizeBlocks served from an optimistic execution since start.
    pub fn optimistic_hits(&self) -> u64 {
        self.optimistic_hits.load(Ordering::Relaxed)
    }

    /// Counts one signature verification.
    pub fn count_signature_check(&self) {
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
    }

    /// Signature verifications since start.
    pub fn signature_checks(&self) -> u64 {
        self.signature_checks.load(Ordering::Relaxed)
    }

    /// Counts one CheckTx (new or recheck).
    pub fn count_check_tx(&self, recheck: bool) {
        let c = if recheck {
            &self.checktx_recheck
        } else {
            &self.checktx_new
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes the per-block counters, resetting them.
    pub fn take_block_counts(&self) -> BlockCounts {
        BlockCounts {
            checktx_new: self.checktx_new.swap(0, Ordering::Relaxed),
            checktx_recheck: self.checktx_recheck.swap(0, Ordering::Relaxed),
            signature_checks: self.signature_checks(),
        }
    }
}
