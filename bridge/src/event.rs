//! The bridge's typed events.

use comrade_primitives::{Address, Amount, component::TypedEvent};

/// A lockbox deposit was verified and credited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDepositRedeemed {
    /// Credited account.
    pub recipient: Address,
    /// Base units credited.
    pub amount: Amount,
    /// The Solana sender (base58).
    pub sender: String,
    /// Emitter chain.
    pub emitter_chain: u16,
    /// Emitter address (hex).
    pub emitter: String,
    /// Emitter sequence.
    pub sequence: u64,
    /// keccak256(keccak256(body)), hex.
    pub digest: String,
    /// Who relayed it.
    pub relayer: Address,
    /// Locked total after it.
    pub locked: Amount,
}

impl TypedEvent for EventDepositRedeemed {
    const KIND: &'static str = "comrade.bridge.v1.EventDepositRedeemed";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("recipient", self.recipient.to_string(), true),
            ("amount", self.amount.to_string(), false),
            ("sender", self.sender.clone(), true),
            ("emitter_chain", self.emitter_chain.to_string(), false),
            ("emitter", self.emitter.clone(), false),
            ("sequence", self.sequence.to_string(), true),
            ("digest", self.digest.clone(), true),
            ("relayer", self.relayer.to_string(), false),
            ("locked", self.locked.to_string(), false),
        ]
    }
}

/// A guardian set upgrade was applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGuardianSetUpgraded {
    /// The replaced set.
    pub old_index: u32,
    /// The new set.
    pub new_index: u32,
    /// Its size.
    pub guardians: usize,
    /// Unix time from which the old set is refused.
    pub old_expires_at: i64,
}

impl TypedEvent for EventGuardianSetUpgraded {
    const KIND: &'static str = "comrade.bridge.v1.EventGuardianSetUpgraded";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("old_index", self.old_index.to_string(), false),
            ("new_index", self.new_index.to_string(), true),
            ("guardians", self.guardians.to_string(), false),
            ("old_expires_at", self.old_expires_at.to_string(), false),
        ]
    }
}
