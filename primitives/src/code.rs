//! Stable result codes returned in `CheckTx` / `FinalizeBlock` results.
//!
//! Ranges: 1–99 tx envelope and bank, 100–199 consensus, 200–299 bridge,
//! 300–399 market, 400–499 governance. Codes are never renumbered; new codes
//! are appended.

/// The codespace reported alongside every non-zero code.
pub const CODESPACE: &str = "comrade";

/// A stable, documented result code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum ResultCode {
    /// Success.
    Ok = 0,
    /// The tx bytes exceed `max_tx_bytes`.
    TxTooLarge = 1,
    /// The tx bytes are not a decodable `TxRaw` / `TxBody` / `AuthInfo`.
    TxMalformed = 2,
    /// The tx has no messages, or a message is not well-formed.
    InvalidMessage = 3,
    /// A message has a type URL this chain does not know.
    UnknownMessageType = 4,
    /// Signer info is missing, has an unsupported key type or sign mode, or
    /// the signer does not match the messages' signer.
    InvalidSigner = 5,
    /// The signature does not verify for this chain id, account number and
    /// sequence. A tx signed for another chain id lands here: the chain id is
    /// only inside the signed bytes, so it cannot be told apart from a bad
    /// signature.
    SignatureInvalid = 6,
    /// The signer's account does not exist.
    AccountNotFound = 7,
    /// The signed sequence is not the account's next sequence (replay or gap).
    WrongSequence = 8,
    /// The fee is below the minimum (`min_fee_base + min_fee_per_byte * size`).
    FeeTooLow = 9,
    /// The fee or a message uses a denom other than the native denom.
    UnknownDenom = 10,
    /// The balance does not cover the fee and the transferred amounts.
    InsufficientFunds = 11,
    /// An amount does not parse or an addition overflowed.
    AmountOverflow = 12,
    /// An address is not a valid `comrade1…` bech32 address.
    InvalidAddress = 13,
    /// The memo is longer than `max_memo_bytes`.
    MemoTooLong = 14,
    /// The tx's timeout height has passed.
    TxTimedOut = 15,
    /// The injected extended-commit tx is misplaced or malformed.
    InjectedTxInvalid = 16,
    /// The fee is missing, is not exactly one coin, or names a payer/granter.
    InvalidFee = 17,
    /// Internal error (storage): the node halts rather than fork.
    Internal = 99,
}

impl ResultCode {
    /// The numeric code.
    pub fn value(self) -> u32 {
        self as u32
    }

    /// Whether this is success.
    pub fn is_ok(self) -> bool {
        self == ResultCode::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numeric values are part of the wire protocol: changing one breaks
    /// clients. This pins them.
    #[test]
    fn codes_are_stable() {
        let pinned = [
            (ResultCode::Ok, 0),
            (ResultCode::TxTooLarge, 1),
            (ResultCode::TxMalformed, 2),
            (ResultCode::InvalidMessage, 3),
            (ResultCode::UnknownMessageType, 4),
            (ResultCode::InvalidSigner, 5),
            (ResultCode::SignatureInvalid, 6),
            (ResultCode::AccountNotFound, 7),
            (ResultCode::WrongSequence, 8),
            (ResultCode::FeeTooLow, 9),
            (ResultCode::UnknownDenom, 10),
            (ResultCode::InsufficientFunds, 11),
            (ResultCode::AmountOverflow, 12),
            (ResultCode::InvalidAddress, 13),
            (ResultCode::MemoTooLong, 14),
            (ResultCode::TxTimedOut, 15),
            (ResultCode::InjectedTxInvalid, 16),
            (ResultCode::InvalidFee, 17),
            (ResultCode::Internal, 99),
        ];
        for (c, v) in pinned {
            assert_eq!(c.value(), v, "{c:?}");
        }
    }
}
