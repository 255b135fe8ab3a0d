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
