//! Fee errors and their stable codes (envelope range, 1–99).

use comrade_primitives::{
    Amount, Code, ResultCode,
    code::{CodeRange, ENVELOPE_RANGE, ModuleError},
};

/// Why a tx's fee was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeeError {
    /// The fee is below `min_fee_base + min_fee_per_byte * size`.
    #[error("fee {fee}{denom} is below the minimum {min}{denom} for a {size}-byte tx")]
    TooLow {
        /// The fee offered.
        fee: Amount,
        /// The minimum.
        min: Amount,
        /// The native denom.
        denom: String,
        /// The tx size.
        size: usize,
    },
    /// The fee is in a denom other than the native one.
    #[error("fee denom {denom:?} is unknown: the only denom is {expected:?}")]
    UnknownDenom {
        /// The denom offered.
        denom: String,
        /// The native denom.
        expected: String,
    },
}

impl ModuleError for FeeError {
    const RANGE: CodeRange = ENVELOPE_RANGE;
    const CODES: &'static [(&'static str, u32)] =
        &[("fees.fee_too_low", 9), ("fees.unknown_denom", 10)];

    fn code(&self) -> Code {
        match self {
            FeeError::TooLow { .. } => ResultCode::FeeTooLow,
            FeeError::UnknownDenom { .. } => ResultCode::UnknownDenom,
        }
        .into()
    }
}
