//! Compute's typed events.

use comrade_primitives::{Address, Amount, component::TypedEvent};

/// A node registered, updated its record or started unbonding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventComputeNodeChanged {
    /// Operator.
    pub operator: Address,
    /// `registered`, `updated`, `unbonding` or `unbonded` (stake paid out).
    pub action: &'static str,
    /// Stake after the change.
    pub stake: Amount,
}

impl TypedEvent for EventComputeNodeChanged {
    const KIND: &'static str = "comrade.compute.v1.EventComputeNodeChanged";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("operator", self.operator.to_string(), true),
            ("action", self.action.to_string(), true),
            ("stake", self.stake.to_string(), false),
        ]
    }
}

/// A node was jailed for missing beacon reveals (sprint faults say so in
/// [`EventCapacitySettled`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventComputeNodeJailed {
    /// Operator.
    pub operator: Address,
    /// The beacon period whose miss jailed it.
    pub period: u64,
    /// Why, in words.
    pub reason: String,
}

impl TypedEvent for EventComputeNodeJailed {
    const KIND: &'static str = "comrade.compute.v1.EventComputeNodeJailed";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("operator", self.operator.to_string(), true),
            ("period", self.period.to_string(), true),
            ("reason", self.reason.clone(), false),
        ]
    }
}

/// A beacon value was fixed for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBeaconFinalized {
    /// Period.
    pub period: u64,
    /// Hex value.
    pub value: String,
    /// Reveals combined.
    pub reveals: u32,
    /// Nodes that were expected to reveal and did not.
    pub missed: u32,
}

impl TypedEvent for EventBeaconFinalized {
    const KIND: &'static str = "comrade.compute.v1.EventBeaconFinalized";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("period", self.period.to_string(), true),
            ("value", self.value.clone(), false),
            ("reveals", self.reveals.to_string(), false),
            ("missed", self.missed.to_string(), false),
        ]
    }
}

/// A node's capacity sprint was settled: what it earned or lost, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCapacitySettled {
    /// Node operator.
    pub node: Address,
    /// Sprint (epoch).
    pub epoch: u64,
    /// `passed`, `failed`, `missed` or `absent` (no commitment).
    pub outcome: &'static str,
    /// Rows committed.
    pub rows: u64,
    /// Verified throughput, MAC/s (0 unless passed).
    pub mac_per_s: u64,
    /// Stake slashed.
    pub slashed: Amount,
    /// Throttled until this epoch (0: not throttled).
    pub throttled_until_epoch: u64,
    /// Why, in words (the failing slot, the missed deadline).
    pub reason: String,
}

impl TypedEvent for EventCapacitySettled {
    const KIND: &'static str = "comrade.compute.v1.EventCapacitySettled";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("node", self.node.to_string(), true),
            ("epoch", self.epoch.to_string(), true),
            ("outcome", self.outcome.to_string(), true),
            ("rows", self.rows.to_string(), false),
            ("mac_per_s", self.mac_per_s.to_string(), false),
            ("slashed", self.slashed.to_string(), false),
            (
                "throttled_until_epoch",
                self.throttled_until_epoch.to_string(),
                false,
            ),
            ("reason", self.reason.clone(), false),
        ]
    }
}

/// A node was paid its share of a sprint's capacity reward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCapacityRewarded {
    /// Node operator.
    pub node: Address,
    /// Sprint (epoch).
    pub epoch: u64,
    /// Amount paid.
    pub amount: Amount,
    /// Its verified rows.
    pub rows: u64,
    /// All passing nodes' verified rows.
    pub total_rows: u64,
    /// What the sprint paid in all (the param, or the pool's balance if
    /// that was less).
    pub paid_out: Amount,
}

impl TypedEvent for EventCapacityRewarded {
    const KIND: &'static str = "comrade.compute.v1.EventCapacityRewarded";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("node", self.node.to_string(), true),
            ("epoch", self.epoch.to_string(), true),
            ("amount", self.amount.to_string(), false),
            ("rows", self.rows.to_string(), false),
            ("total_rows", self.total_rows.to_string(), false),
            ("paid_out", self.paid_out.to_string(), false),
        ]
    }
}

/// An executor committed a batch of receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventReceiptsCommitted {
    /// Executor.
    pub executor: Address,
    /// Beacon period (its β selects the audited receipts).
    pub period: u64,
    /// Batch sequence number in that period.
    pub seq: u32,
    /// Model.
    pub model: String,
    /// Receipts.
    pub count: u32,
}

impl TypedEvent for EventReceiptsCommitted {
    const KIND: &'static str = "comrade.compute.v1.EventReceiptsCommitted";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("executor", self.executor.to_string(), true),
            ("period", self.period.to_string(), true),
            ("seq", self.seq.to_string(), false),
            ("model", self.model.clone(), false),
            ("count", self.count.to_string(), false),
        ]
    }
}

/// A receipt was selected for audit: the executor must open it, the
/// auditors then report on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAuditSelected {
    /// Executor.
    pub executor: Address,
    /// Period of its batch.
    pub period: u64,
    /// Batch.
    pub seq: u32,
    /// Index in the batch.
    pub index: u32,
    /// Auditors, comma-separated.
    pub auditors: String,
    /// Last height to open.
    pub open_deadline: u64,
    /// Last height to report.
    pub audit_deadline: u64,
}

impl TypedEvent for EventAuditSelected {
    const KIND: &'static str = "comrade.compute.v1.EventAuditSelected";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("executor", self.executor.to_string(), true),
            ("period", self.period.to_string(), true),
            ("seq", self.seq.to_string(), false),
            ("index", self.index.to_string(), false),
            ("auditors", self.auditors.clone(), true),
            ("open_deadline", self.open_deadline.to_string(), false),
            ("audit_deadline", self.audit_deadline.to_string(), false),
        ]
    }
}

/// An audit concluded: passed, failed or void, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAuditConcluded {
    /// Executor.
    pub executor: Address,
    /// Period of its batch.
    pub period: u64,
    /// Batch.
    pub seq: u32,
    /// Index in the batch.
    pub index: u32,
    /// `passed`, `failed` or `void`.
    pub outcome: &'static str,
    /// Reports received.
    pub reports: u32,
    /// Why, in words (the threshold crossed, the missed deadline).
    pub reason: String,
}

impl TypedEvent for EventAuditConcluded {
    const KIND: &'static str = "comrade.compute.v1.EventAuditConcluded";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("executor", self.executor.to_string(), true),
            ("period", self.period.to_string(), true),
            ("seq", self.seq.to_string(), false),
            ("index", self.index.to_string(), false),
            ("outcome", self.outcome.to_string(), true),
            ("reports", self.reports.to_string(), false),
            ("reason", self.reason.clone(), false),
        ]
    }
}

/// An auditor got a strike: a missed report or one out of tolerance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAuditorStruck {
    /// Auditor.
    pub auditor: Address,
    /// Executor of the audit.
    pub executor: Address,
    /// `missed` or `outlier`.
    pub strike: &'static str,
    /// Why, in words.
    pub reason: String,
}

impl TypedEvent for EventAuditorStruck {
    const KIND: &'static str = "comrade.compute.v1.EventAuditorStruck";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("auditor", self.auditor.to_string(), true),
            ("executor", self.executor.to_string(), true),
            ("strike", self.strike.to_string(), true),
            ("reason", self.reason.clone(), false),
        ]
    }
}

/// An executor was convicted at the end of an epoch: slashed, throttled,
/// and its reporters paid a bounty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventConviction {
    /// Executor.
    pub executor: Address,
    /// Epoch of the tally.
    pub epoch: u64,
    /// Stake slashed (bounty included).
    pub slashed: Amount,
    /// Paid to the reporters in all.
    pub bounty: Amount,
    /// Reporters paid, comma-separated.
    pub reporters: String,
    /// Throttled until this epoch.
    pub throttled_until_epoch: u64,
    /// Why, in words (which test, its numbers and critical value).
    pub reason: String,
}

impl TypedEvent for EventConviction {
    const KIND: &'static str = "comrade.compute.v1.EventConviction";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("executor", self.executor.to_string(), true),
            ("epoch", self.epoch.to_string(), true),
            ("slashed", self.slashed.to_string(), false),
            ("bounty", self.bounty.to_string(), false),
            ("reporters", self.reporters.clone(), false),
            (
                "throttled_until_epoch",
                self.throttled_until_epoch.to_string(),
                false,
            ),
            ("reason", self.reason.clone(), false),
        ]
    }
}

/// A reporter was paid its share of a conviction's bounty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBountyPaid {
    /// The auditor paid.
    pub auditor: Address,
    /// The convicted executor.
    pub executor: Address,
    /// Epoch of the conviction.
    pub epoch: u64,
    /// Amount paid.
    pub amount: Amount,
}

impl TypedEvent for EventBountyPaid {
    const KIND: &'static str = "comrade.compute.v1.EventBountyPaid";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("auditor", self.auditor.to_string(), true),
            ("executor", self.executor.to_string(), true),
            ("epoch", self.epoch.to_string(), false),
            ("amount", self.amount.to_string(), false),
        ]
    }
}
