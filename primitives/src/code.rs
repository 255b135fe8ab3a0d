//! Stable result codes returned in `CheckTx` / `FinalizeBlock` / `Query`
//! results.
//!
//! Every module owns one [`CodeRange`]: 1–99 tx envelope, auth, bank, fees and
//! queries ([`ResultCode`], [`QueryCode`]), 100–199 consensus, 200–299
//! bridge, 300–399 market, 400–499 governance. A module's errors implement
//! [`ModuleError`], which maps each variant to one [`Code`] in its range; the
//! app's code registry test checks that the ranges do not overlap and pins
//! every code. Codes are never renumbered; new codes are appended.

/// The codespace reported alongside every non-zero code.
pub const CODESPACE: &str = "comrade";

/// A numeric result code as it goes on the wire (ABCI `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code(pub u32);

impl Code {
    /// The numeric code.
    pub fn value(self) -> u32 {
        self.0
    }

    /// Whether this is success.
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl From<ResultCode> for Code {
    fn from(c: ResultCode) -> Self {
        Code(c.value())
    }
}

impl PartialEq<ResultCode> for Code {
    fn eq(&self, other: &ResultCode) -> bool {
        self.0 == other.value()
    }
}

/// The inclusive range of codes one module owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRange {
    /// The module that owns the range (for messages and the registry test).
    pub module: &'static str,
    /// First code of the range.
    pub first: u32,
    /// Last code of the range.
    pub last: u32,
}

impl CodeRange {
    /// Whether `code` lies in this range.
    pub fn contains(&self, code: u32) -> bool {
        (self.first..=self.last).contains(&code)
    }

    /// Whether two ranges share a code.
    pub fn overlaps(&self, other: &CodeRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// The tx envelope, auth, bank, fees and queries (and `Internal` = 99).
pub const ENVELOPE_RANGE: CodeRange = CodeRange {
    module: "envelope/auth/bank/fees/query",
    first: 1,
    last: 99,
};
/// Staking and proof of compute.
pub const CONSENSUS_RANGE: CodeRange = CodeRange {
    module: "consensus",
    first: 100,
    last: 199,
};
/// The Wormhole bridge.
pub const BRIDGE_RANGE: CodeRange = CodeRange {
    module: "bridge",
    first: 200,
    last: 299,
};
/// The inference market.
pub const MARKET_RANGE: CodeRange = CodeRange {
    module: "market",
    first: 300,
    last: 399,
};
/// Governance and treasury.
pub const GOVERNANCE_RANGE: CodeRange = CodeRange {
    module: "governance",
    first: 400,
    last: 499,
};

/// A module's error type: each variant has one stable code in the module's
/// range. Implemented by every module's `<Area>Error`; the app converts any
/// of them into a [`TxError`](crate::TxError) with that code and the error's
/// message.
pub trait ModuleError: std::error::Error {
    /// The range this module's codes lie in.
    const RANGE: CodeRange;
    /// Every code this module can return, by name (pinned by the registry
    /// test: a code once published never changes).
    const CODES: &'static [(&'static str, u32)];
    /// The code of this error.
    fn code(&self) -> Code;
}

/// Codes of rejected ABCI queries (codespace `comrade`). They sit in the
/// envelope range, which owns queries too; their values predate the registry
/// and are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum QueryCode {
    /// Unknown path.
    UnknownPath = 50,
    /// Request data does not decode or names a bad address.
    BadRequest = 51,
    /// The requested height is not available.
    HeightUnavailable = 52,
    /// The requested object does not exist.
    NotFound = 53,
    /// Storage failed (the same value as [`ResultCode::Internal`]).
    Internal = 99,
}

impl QueryCode {
    /// The numeric code.
    pub fn value(self) -> u32 {
        self as u32
    }

    /// Every query code by name (for the registry test).
    pub const ALL: &'static [(&'static str, u32)] = &[
        ("query.unknown_path", 50),
        ("query.bad_request", 51),
        ("query.height_unavailable", 52),
        ("query.not_found", 53),
        ("query.internal", 99),
    ];
}

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

    /// Every envelope code by name (for the registry test).
    pub const ALL: &'static [(&'static str, u32)] = &[
        ("ok", 0),
        ("tx_too_large", 1),
        ("tx_malformed", 2),
        ("invalid_message", 3),
        ("unknown_message_type", 4),
        ("invalid_signer", 5),
        ("signature_invalid", 6),
        ("account_not_found", 7),
        ("wrong_sequence", 8),
        ("fee_too_low", 9),
        ("unknown_denom", 10),
        ("insufficient_funds", 11),
        ("amount_overflow", 12),
        ("invalid_address", 13),
        ("memo_too_long", 14),
        ("tx_timed_out", 15),
        ("injected_tx_invalid", 16),
        ("invalid_fee", 17),
        ("internal", 99),
    ];
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
        let listed: Vec<u32> = ResultCode::ALL.iter().map(|(_, v)| *v).collect();
        let pinned: Vec<u32> = pinned.iter().map(|(_, v)| *v).collect();
        assert_eq!(listed, pinned, "ResultCode::ALL lists every code");
    }

    #[test]
    fn query_codes_are_stable_and_in_the_envelope_range() {
        for (c, v) in [
            (QueryCode::UnknownPath, 50),
            (QueryCode::BadRequest, 51),
            (QueryCode::HeightUnavailable, 52),
            (QueryCode::NotFound, 53),
            (QueryCode::Internal, 99),
        ] {
            assert_eq!(c.value(), v, "{c:?}");
            assert!(ENVELOPE_RANGE.contains(v));
            assert!(QueryCode::ALL.iter().any(|(_, x)| *x == v));
        }
    }

    #[test]
    fn module_ranges_do_not_overlap() {
        let ranges = [
            ENVELOPE_RANGE,
            CONSENSUS_RANGE,
            BRIDGE_RANGE,
            MARKET_RANGE,
            GOVERNANCE_RANGE,
        ];
        for (i, a) in ranges.iter().enumerate() {
            assert!(a.first <= a.last, "{a:?}");
            for b in &ranges[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} overlaps {b:?}");
            }
        }
        assert!(ENVELOPE_RANGE.overlaps(&CodeRange {
            module: "x",
            first: 99,
            last: 120
        }));
    }
}
