//! Staking errors and their stable codes (consensus range, 100–199; staking
//! owns 100–129).

use comrade_primitives::{
    Code,
    code::{CONSENSUS_RANGE, CodeRange, ModuleError},
};

/// Why a staking message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StakingError {
    /// The message is malformed (bad address, key, amount or field).
    #[error("{0}")]
    InvalidMessage(String),
    /// The operator already runs a validator, or the key is taken.
    #[error("{0}")]
    ValidatorExists(String),
    /// The operator runs no validator.
    #[error("{operator} runs no validator")]
    NoValidator {
        /// The operator.
        operator: String,
    },
    /// A self-stake below the minimum.
    #[error("stake {stake} is below the minimum self-stake {min}")]
    BelowMinimum {
        /// The stake it would have.
        stake: u128,
        /// The minimum.
        min: u128,
    },
    /// Unbonding more than is bonded.
    #[error("cannot unbond {amount}: only {bonded} is bonded")]
    InsufficientBond {
        /// Requested.
        amount: u128,
        /// Bonded.
        bonded: u128,
    },
    /// Commission above the maximum.
    #[error("commission {bps} bps exceeds the maximum {max} bps")]
    CommissionTooHigh {
        /// Requested.
        bps: u32,
        /// Maximum.
        max: u32,
    },
    /// `MsgUnjail` for a validator that is not jailed.
    #[error("validator {operator} is not jailed")]
    NotJailed {
        /// Operator.
        operator: String,
    },
    /// `MsgUnjail` before the jail time is over.
    #[error("validator {operator} is jailed until height {until} (now {height})")]
    StillJailed {
        /// Operator.
        operator: String,
        /// First height it may unjail.
        until: u64,
        /// Current height.
        height: u64,
    },
    /// A tombstoned validator can never unjail or bond again.
    #[error("validator {operator} is tombstoned for double signing")]
    Tombstoned {
        /// Operator.
        operator: String,
    },
}

impl ModuleError for StakingError {
    const RANGE: CodeRange = CONSENSUS_RANGE;
    const CODES: &'static [(&'static str, u32)] = &[
        ("staking.invalid_message", 100),
        ("staking.validator_exists", 101),
        ("staking.no_validator", 102),
        ("staking.below_minimum", 103),
        ("staking.insufficient_bond", 104),
        ("staking.commission_too_high", 105),
        ("staking.not_jailed", 106),
        ("staking.still_jailed", 107),
        ("staking.tombstoned", 108),
    ];

    fn code(&self) -> Code {
        Code(match self {
            StakingError::InvalidMessage(_) => 100,
            StakingError::ValidatorExists(_) => 101,
            StakingError::NoValidator { .. } => 102,
            StakingError::BelowMinimum { .. } => 103,
            StakingError::InsufficientBond { .. } => 104,
            StakingError::CommissionTooHigh { .. } => 105,
            StakingError::NotJailed { .. } => 106,
            StakingError::StillJailed { .. } => 107,
            StakingError::Tombstoned { .. } => 108,
        })
    }
}
