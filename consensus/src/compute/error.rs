//! Compute errors and their stable codes (consensus range; compute owns
//! 130–159).

use comrade_primitives::{
    Code,
    code::{CONSENSUS_RANGE, CodeRange, ModuleError},
};

/// Why a compute message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    /// The message is malformed.
    #[error("{0}")]
    InvalidMessage(String),
    /// The operator already runs a node.
    #[error("{operator} already runs a compute node")]
    NodeExists {
        /// Operator.
        operator: String,
    },
    /// The operator runs no node.
    #[error("{operator} runs no compute node")]
    NoNode {
        /// Operator.
        operator: String,
    },
    /// Stake below what the claim requires.
    #[error("stake {stake} is below the {required} required for a claim of {int8_tops} int8 TOPS")]
    StakeTooLow {
        /// Stake offered.
        stake: u128,
        /// Required.
        required: u128,
        /// The claim.
        int8_tops: u64,
    },
    /// The node is unbonding (or jailed) and cannot do this.
    #[error("compute node {operator} is {status}")]
    NotActive {
        /// Operator.
        operator: String,
        /// Its status.
        status: &'static str,
    },
    /// A reveal outside its window, for a period already revealed, or for
    /// the wrong period.
    #[error("{0}")]
    RevealWindow(String),
    /// A reveal that is not the next link of the owner's chain.
    #[error("{0}")]
    BadReveal(String),
    /// A capacity message outside its window (late commit, reveal before
    /// the opening beacon or after the deadline, no sprint).
    #[error("{0}")]
    SprintWindow(String),
    /// A second commitment or a second reveal in one sprint.
    #[error("{0}")]
    Duplicate(String),
    /// A reveal without a commitment.
    #[error("{node} committed nothing in sprint {epoch}")]
    NoCommit {
        /// Node.
        node: String,
        /// Sprint.
        epoch: u64,
    },
    /// A reveal whose openings are malformed (count, slots, widths).
    #[error("{0}")]
    BadOpening(String),
    /// An audit message outside its window or in the wrong state.
    #[error("{0}")]
    AuditWindow(String),
    /// No such batch, or the receipt was not selected.
    #[error("{what}")]
    NoAudit {
        /// What was asked for.
        what: String,
    },
    /// An opened receipt that is malformed or not in its batch.
    #[error("{0}")]
    BadReceipt(String),
    /// A report from an account not assigned to the audit.
    #[error("{auditor} is not an auditor of {audit}")]
    NotAuditor {
        /// Who reported.
        auditor: String,
        /// The audit.
        audit: String,
    },
    /// Too many receipt batches, or too many receipts in one.
    #[error("{0}")]
    BatchLimit(String),
}

impl ModuleError for ComputeError {
    const RANGE: CodeRange = CONSENSUS_RANGE;
    const CODES: &'static [(&'static str, u32)] = &[
        ("compute.invalid_message", 130),
        ("compute.node_exists", 131),
        ("compute.no_node", 132),
        ("compute.stake_too_low", 133),
        ("compute.not_active", 134),
        ("compute.reveal_window", 135),
        ("compute.bad_reveal", 136),
        ("compute.sprint_window", 137),
        ("compute.duplicate", 138),
        ("compute.no_commit", 139),
        ("compute.bad_opening", 140),
        ("compute.audit_window", 141),
        ("compute.no_audit", 142),
        ("compute.bad_receipt", 143),
        ("compute.not_auditor", 144),
        ("compute.batch_limit", 145),
    ];

    fn code(&self) -> Code {
        Code(match self {
            ComputeError::InvalidMessage(_) => 130,
            ComputeError::NodeExists { .. } => 131,
            ComputeError::NoNode { .. } => 132,
            ComputeError::StakeTooLow { .. } => 133,
            ComputeError::NotActive { .. } => 134,
            ComputeError::RevealWindow(_) => 135,
            ComputeError::BadReveal(_) => 136,
            ComputeError::SprintWindow(_) => 137,
            ComputeError::Duplicate(_) => 138,
            ComputeError::NoCommit { .. } => 139,
            ComputeError::BadOpening(_) => 140,
            ComputeError::AuditWindow(_) => 141,
            ComputeError::NoAudit { .. } => 142,
            ComputeError::BadReceipt(_) => 143,
            ComputeError::NotAuditor { .. } => 144,
            ComputeError::BatchLimit(_) => 145,
        })
    }
}
