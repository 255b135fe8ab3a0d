//! The bank's typed events.

use comrade_primitives::{Address, Amount, component::TypedEvent};

/// Funds moved between accounts (every transfer: `MsgSend`, fees, the fee
/// split). Its ABCI type is the Cosmos SDK's `transfer` (not
/// `EventCoinsTransferred`) because explorers and wallets index that; like
/// the SDK, the bank emits it with `coin_spent` and `coin_received`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCoinsTransferred {
    /// Sender.
    pub sender: Address,
    /// Recipient.
    pub recipient: Address,
    /// Amount in base units.
    pub amount: Amount,
    /// The native denom.
    pub denom: String,
}

impl TypedEvent for EventCoinsTransferred {
    const KIND: &'static str = "transfer";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("sender", self.sender.to_string(), true),
            ("recipient", self.recipient.to_string(), true),
            ("amount", format!("{}{}", self.amount, self.denom), false),
        ]
    }
}

/// Funds left an account (the SDK's `coin_spent`): every transfer, fee and
/// burn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCoinsSpent {
    /// Whose funds.
    pub spender: Address,
    /// Amount in base units.
    pub amount: Amount,
    /// The native denom.
    pub denom: String,
}

impl TypedEvent for EventCoinsSpent {
    const KIND: &'static str = "coin_spent";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            // Not indexed: `transfer` indexes the same address, and every
            // indexed attribute costs CometBFT's indexer a write per tx.
            ("spender", self.spender.to_string(), false),
            ("amount", format!("{}{}", self.amount, self.denom), false),
        ]
    }
}

/// Funds reached an account (the SDK's `coin_received`): every transfer,
/// fee and mint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCoinsReceived {
    /// Who received them.
    pub receiver: Address,
    /// Amount in base units.
    pub amount: Amount,
    /// The native denom.
    pub denom: String,
}

impl TypedEvent for EventCoinsReceived {
    const KIND: &'static str = "coin_received";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            // Not indexed, as `coin_spent.spender`.
            ("receiver", self.receiver.to_string(), false),
            ("amount", format!("{}{}", self.amount, self.denom), false),
        ]
    }
}

/// New funds minted (by the bridge, for a verified deposit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCoinsMinted {
    /// Recipient.
    pub recipient: Address,
    /// Amount in base units.
    pub amount: Amount,
}

impl TypedEvent for EventCoinsMinted {
    const KIND: &'static str = "EventCoinsMinted";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("recipient", self.recipient.to_string(), true),
            ("amount", self.amount.to_string(), false),
        ]
    }
}

/// Funds burned (by the bridge, for a withdrawal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCoinsBurned {
    /// Whose funds.
    pub owner: Address,
    /// Amount in base units.
    pub amount: Amount,
}

impl TypedEvent for EventCoinsBurned {
    const KIND: &'static str = "EventCoinsBurned";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("owner", self.owner.to_string(), true),
            ("amount", self.amount.to_string(), false),
        ]
    }
}
