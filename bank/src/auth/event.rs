//! The auth module's typed event: the SDK's `tx` event, emitted once for
//! every tx by the pipeline after the fee is paid and the sequence used.

use comrade_primitives::{Address, Amount, component::TypedEvent};

/// A tx passed authentication and paid its fee. The SDK emits these
/// attributes as three `tx` events (`fee`/`fee_payer`, `acc_seq`,
/// `signature`); one event with all four answers the same `tx.<key>`
/// queries for fewer events per tx, which CometBFT stores and indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTxAuthenticated {
    /// The fee in base units.
    pub fee: Amount,
    /// The native denom.
    pub denom: String,
    /// The signer, who paid the fee.
    pub signer: Address,
    /// The sequence the tx was signed with.
    pub sequence: u64,
    /// The signature, base64 as the SDK writes it.
    pub signature: String,
}

impl TypedEvent for EventTxAuthenticated {
    const KIND: &'static str = "tx";
    fn attributes(&self) -> Vec<(&'static str, String, bool)> {
        let signer = self.signer.to_string();
        // Only `acc_seq` is indexed: the payer is the signer, which
        // `message.sender` indexes already, nothing searches by fee or
        // signature, and every indexed attribute costs CometBFT's indexer a
        // write per tx.
        vec![
            ("fee", format!("{}{}", self.fee, self.denom), false),
            ("fee_payer", signer.clone(), false),
            ("acc_seq", format!("{signer}/{}", self.sequence), true),
            ("signature", self.signature.clone(), false),
        ]
    }
}
