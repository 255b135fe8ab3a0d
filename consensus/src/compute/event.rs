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
