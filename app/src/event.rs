//! The pipeline's own typed event: the SDK's `message` event, one per
//! message of a tx, which `searchTx` by sender and explorers query.

use comrade_primitives::{Address, component::TypedEvent};

/// A message of a tx executed (the SDK's `message` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventMessageExecuted {
    /// Its type URL (`message.action`).
    pub action: &'static str,
    /// The signer (`message.sender`).
    pub sender: Address,
    /// The module that owns it (`message.module`).
    pub module: &'static str,
    /// Its position in the tx.
    pub msg_index: usize,
}

impl TypedEvent for EventMessageExecuted {
    const KIND: &'static str = "message";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![
            ("action", self.action.to_string(), true),
            ("sender", self.sender.to_string(), true),
            ("module", self.module.to_string(), false),
            ("msg_index", self.msg_index.to_string(), false),
        ]
    }
}
