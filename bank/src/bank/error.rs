//! The bank's errors and their stable codes (envelope range, 1–99).

use comrade_primitives::{
    Address, Amount, Code, ResultCode,
    code::{CodeRange, ENVELOPE_RANGE, ModuleError},
};

/// Why a bank operation or message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BankError {
    /// The balance does not cover the amount.
    #[error("{address} has {balance}{denom} and cannot pay {amount}{denom}")]
    InsufficientFunds {
        /// The payer.
        address: Address,
        /// Its balance.
        balance: Amount,
        /// What it had to pay.
        amount: Amount,
        /// The native denom.
        denom: String,
    },
    /// A balance would exceed 2^128 - 1.
    #[error("balance of {address} would overflow: {balance} + {amount}")]
    BalanceOverflow {
        /// The account.
        address: Address,
        /// Its balance.
        balance: Amount,
        /// The credited amount.
        amount: Amount,
    },
    /// Minting would take the supply above 2^128 - 1.
    #[error("supply {supply} cannot grow by {amount}")]
    SupplyOverflow {
        /// The supply.
        supply: Amount,
        /// The change.
        amount: Amount,
    },
    /// An amount is not a decimal integer below 2^128.
    #[error("{0}")]
    BadAmount(String),
    /// A denom other than the native one.
    #[error("unknown denom {denom:?}: the only denom is {expected:?}")]
    UnknownDenom {
        /// The denom given.
        denom: String,
        /// The native denom.
        expected: String,
    },
    /// An address is not a valid `comrade1…` address.
    #[error("{0}")]
    InvalidAddress(String),
    /// A message is not well-formed.
    #[error("{0}")]
    InvalidMessage(String),
    /// A parameter is out of range.
    #[error("{0}")]
    BadParams(String),
}

impl ModuleError for BankError {
    const RANGE: CodeRange = ENVELOPE_RANGE;
    const CODES: &'static [(&'static str, u32)] = &[
        ("bank.invalid_message", 3),
        ("bank.unknown_denom", 10),
        ("bank.insufficient_funds", 11),
        ("bank.amount_overflow", 12),
        ("bank.invalid_address", 13),
    ];

    fn code(&self) -> Code {
        match self {
            BankError::InsufficientFunds { .. } => ResultCode::InsufficientFunds,
            BankError::BalanceOverflow { .. }
            | BankError::SupplyOverflow { .. }
            | BankError::BadAmount(_) => ResultCode::AmountOverflow,
            BankError::UnknownDenom { .. } => ResultCode::UnknownDenom,
            BankError::InvalidAddress(_) => ResultCode::InvalidAddress,
            BankError::InvalidMessage(_) | BankError::BadParams(_) => ResultCode::InvalidMessage,
        }
        .into()
    }
}
