//! The auth module's typed events: the SDK's `tx.acc_seq` and
//! `tx.signature`, emitted for every tx by the pipeline.

use comrade_primitives::{Address, component::TypedEvent};

/// A tx used its signer's sequence (the SDK's `tx` event with `acc_seq`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSequenceUsed {
    /// The signer.
    pub address: Address,
    /// The sequence the tx was signed with.
    pub sequence: u64,
}

impl TypedEvent for EventSequenceUsed {
    const KIND: &'static str = "tx";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        vec![(
            "acc_seq",
            format!("{}/{}", self.address, self.sequence),
            true,
        )]
    }
}

/// A tx's signature verified (the SDK's `tx` event with `signature`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTxSigned {
    /// The signature, base64 as the SDK writes it.
    pub signature: String,
}

impl TypedEvent for EventTxSigned {
    const KIND: &'static str = "tx";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        // Not indexed: no client searches by signature, and every indexed
        // attribute costs CometBFT's indexer a write per tx.
        vec![("signature", self.signature.clone(), false)]
    }
}
