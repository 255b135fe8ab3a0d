//! Staking's typed events: every change of stake or membership says why.

use comrade_primitives::{Address, Amount, component::TypedEvent};

/// A validator was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventValidatorCreated {
    /// Operator.
    pub operator: Address,
    /// Upper-case hex consensus address.
    pub consensus_address: String,
    /// Self-stake.
    pub stake: Amount,
}

impl TypedEvent for EventValidatorCreated {
    const KIND: &'static str = "comrade.staking.v1.EventValidatorCreated";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("operator", self.operator.to_string(), true),
            ("consensus_address", self.consensus_address.clone(), false),
            ("stake", self.stake.to_string(), false),
        ]
    }
}

/// Stake was bonded (`MsgBond`) or started unbonding (`MsgUnbond`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStakeChanged {
    /// Operator.
    pub operator: Address,
    /// `bond` or `unbond`.
    pub action: &'static str,
    /// Amount.
    pub amount: Amount,
    /// Bonded stake after the change.
    pub bonded: Amount,
    /// For an unbond: the height at whose end it is paid out.
    pub completion_height: Option<u64>,
}

impl TypedEvent for EventStakeChanged {
    const KIND: &'static str = "comrade.staking.v1.EventStakeChanged";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        let mut a = vec![
            ("operator", self.operator.to_string(), true),
            ("action", self.action.to_string(), false),
            ("amount", self.amount.to_string(), false),
            ("bonded", self.bonded.to_string(), false),
        ];
        if let Some(h) = self.completion_height {
            a.push(("completion_height", h.to_string(), false));
        }
        a
    }
}

/// An unbonding matured and was paid to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventUnbondingCompleted {
    /// Operator.
    pub operator: Address,
    /// Amount paid (after any slashes).
    pub amount: Amount,
}

impl TypedEvent for EventUnbondingCompleted {
    const KIND: &'static str = "comrade.staking.v1.EventUnbondingCompleted";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("operator", self.operator.to_string(), true),
            ("amount", self.amount.to_string(), false),
        ]
    }
}

/// A validator was slashed; the amount went to the treasury.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventValidatorSlashed {
    /// Operator.
    pub operator: Address,
    /// `double_sign` or `downtime`.
    pub reason: &'static str,
    /// Height of the infraction.
    pub infraction_height: u64,
    /// Slashed from bonded stake.
    pub from_bonded: Amount,
    /// Slashed from unbonding entries that started after the infraction.
    pub from_unbonding: Amount,
}

impl TypedEvent for EventValidatorSlashed {
    const KIND: &'static str = "comrade.staking.v1.EventValidatorSlashed";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("operator", self.operator.to_string(), true),
            ("reason", self.reason.to_string(), true),
            (
                "infraction_height",
                self.infraction_height.to_string(),
                false,
            ),
            ("from_bonded", self.from_bonded.to_string(), false),
            ("from_unbonding", self.from_unbonding.to_string(), false),
        ]
    }
}

/// A validator was jailed, tombstoned or unjailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventValidatorJailed {
    /// Operator.
    pub operator: Address,
    /// `downtime`, `double_sign` (tombstoned) or `unjailed`.
    pub reason: &'static str,
    /// First height it may unjail (0 for tombstoned or unjailed).
    pub until: u64,
}

impl TypedEvent for EventValidatorJailed {
    const KIND: &'static str = "comrade.staking.v1.EventValidatorJailed";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("operator", self.operator.to_string(), true),
            ("reason", self.reason.to_string(), true),
            ("until", self.until.to_string(), false),
        ]
    }
}

/// The validator set CometBFT was told at the end of this block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventValidatorSetUpdated {
    /// Number of members changed.
    pub changes: usize,
    /// Total power of the new set.
    pub total_power: i64,
    /// Height from which CometBFT uses it.
    pub effective_height: u64,
}

impl TypedEvent for EventValidatorSetUpdated {
    const KIND: &'static str = "comrade.staking.v1.EventValidatorSetUpdated";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("changes", self.changes.to_string(), false),
            ("total_power", self.total_power.to_string(), false),
            ("effective_height", self.effective_height.to_string(), false),
        ]
    }
}
