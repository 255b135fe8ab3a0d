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
