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

/// A tx paid its fee (the SDK's `tx` event with `fee` and `fee_payer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFeePaid {
    /// The fee in base units.
    pub fee: Amount,
    /// The native denom.
    pub denom: String,
    /// Who paid it.
    pub payer: comrade_primitives::Address,
}

impl TypedEvent for EventFeePaid {
    const KIND: &'static str = "tx";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("fee", format!("{}{}", self.fee, self.denom), false),
            ("fee_payer", self.payer.to_string(), true),
        ]
    }
}
