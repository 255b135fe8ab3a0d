//! Every key the compute module writes.

use comrade_primitives::Address;

/// Prefix of node records.
pub const NODE_PREFIX: &str = "compute/node/";
/// The module's params.
pub const PARAMS: &str = "compute/params";
/// The current compute epoch (updated when it changes).
pub const EPOCH: &str = "compute/epoch";

/// A node record by operator.
pub fn node(operator: &Address) -> String {
    format!("{NODE_PREFIX}{operator}")
}

/// Prefix of the reveals for beacon period `p`.
pub fn reveal_prefix(period: u64) -> String {
    format!("compute/reveal/{period:020}/")
}

/// One owner's reveal for period `p`.
pub fn reveal(period: u64, owner: &Address) -> String {
    format!("{}{owner}", reveal_prefix(period))
}

/// The beacon of period `p`.
pub fn beacon(period: u64) -> String {
    format!("compute/beacon/{period:020}")
}

/// A sprint by epoch.
pub fn sprint(epoch: u64) -> String {
    format!("compute/sprint/{epoch:020}")
}

/// Prefix of one sprint's commitments.
pub fn commit_prefix(epoch: u64) -> String {
    format!("compute/commit/{epoch:020}/")
}

/// A node's commitment in a sprint.
pub fn commit(epoch: u64, node: &Address) -> String {
    format!("{}{node}", commit_prefix(epoch))
}

/// Prefix of the verification queue (FIFO by sequence number).
pub const VERIFYQ_PREFIX: &str = "compute/verifyq/";

/// A queued opening.
pub fn verifyq(seq: u64) -> String {
    format!("{VERIFYQ_PREFIX}{seq:020}")
}

/// The next queue sequence number (the tail).
pub const VERIFYQ_SEQ: &str = "compute/verifyq_seq";
/// The oldest queue entry not yet verified (the head).
pub const VERIFYQ_HEAD: &str = "compute/verifyq_head";

/// How a node record is named in a corrupt-state error.
pub fn node_label(n: &comrade_primitives::proto::compute::v1::ComputeNode) -> String {
    format!("{NODE_PREFIX}{}", n.operator)
}

/// Prefix of the receipt batches committed in period `p`.
pub fn batch_period_prefix(period: u64) -> String {
    format!("compute/batch/{period:020}/")
}

/// Prefix of one executor's batches in period `p`.
pub fn batch_prefix(period: u64, executor: &Address) -> String {
    format!("{}{executor}/", batch_period_prefix(period))
}

/// One receipt batch.
pub fn batch(period: u64, executor: &Address, seq: u32) -> String {
    format!("{}{seq:010}", batch_prefix(period, executor))
}

/// Prefix of the audits of batches committed in period `p`.
pub fn audit_period_prefix(period: u64) -> String {
    format!("compute/audit/{period:020}/")
}

/// The audit of one selected receipt.
pub fn audit(period: u64, executor: &Address, seq: u32, index: u32) -> String {
    format!(
        "{}{executor}/{seq:010}/{index:010}",
        audit_period_prefix(period)
    )
}

/// Prefix of the audits due at `height` (to be concluded, or failed
/// unopened, at its end).
pub fn audit_due_prefix(height: u64) -> String {
    format!("compute/audit_due/{height:020}/")
}

/// A due entry: its value is the audit's key.
pub fn audit_due(height: u64, audit_key: &str) -> String {
    format!("{}{audit_key}", audit_due_prefix(height))
}

/// Prefix of the executors' audit tallies of epoch `e`.
pub fn tally_prefix(epoch: u64) -> String {
    format!("compute/tally/{epoch:020}/")
}

/// An executor's tally in epoch `e`.
pub fn tally(epoch: u64, executor: &Address) -> String {
    format!("{}{executor}", tally_prefix(epoch))
}
