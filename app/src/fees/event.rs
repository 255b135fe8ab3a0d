//! The fee module's typed events.

use comrade_primitives::{Amount, component::TypedEvent};

/// The fees collected in a block were split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFeesDistributed {
    /// Everything the fee collector held.
    pub total: Amount,
    /// Paid to validators' operators.
    pub validators: Amount,
    /// Paid to the treasury (its share plus rounding).
    pub treasury: Amount,
}

impl TypedEvent for EventFeesDistributed {
    const KIND: &'static str = "EventFeesDistributed";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("total", self.total.to_string(), false),
            ("validators", self.validators.to_string(), false),
            ("treasury", self.treasury.to_string(), false),
        ]
    }
}
