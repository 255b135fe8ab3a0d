//! The bank's parameters.
//!
//! They are stored with the other modules' in the chain's one
//! `comrade.app.v1.Params` record (a split per module would change the
//! state format); the app validates that record once, builds this typed view
//! and loads it into every state it executes on
//! ([`state_key::PARAMS_OBJECT`](super::state_key::PARAMS_OBJECT)), so no tx
//! re-parses it.

use super::error::BankError;

/// The bank's parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankParams {
    denom: String,
    decimals: u32,
}

/// Denoms are lowercase letters and digits, 3–32 chars, starting with a letter.
pub fn is_valid_denom(d: &str) -> bool {
    (3..=32).contains(&d.len())
        && d.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && d.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl BankParams {
    /// Checks and builds the params: `denom` must be a valid denom and
    /// `decimals` at most 18.
    pub fn new(denom: impl Into<String>, decimals: u32) -> Result<Self, BankError> {
        let denom = denom.into();
        if !is_valid_denom(&denom) {
            return Err(BankError::BadParams(format!(
                "denom {denom:?} must be 3-32 lowercase letters or digits starting with a letter"
            )));
        }
        if decimals > 18 {
            return Err(BankError::BadParams(format!(
                "decimals {decimals} exceeds 18"
            )));
        }
        Ok(BankParams { denom, decimals })
    }

    /// The native base denom (e.g. `ucomrade`), the only denom the chain knows.
    pub fn denom(&self) -> &str {
        &self.denom
    }

    /// Decimals of the display unit (equal to the Solana mint's).
    pub fn decimals(&self) -> u32 {
        self.decimals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_params_reject_bad_denoms_and_decimals() {
        assert!(BankParams::new("ucomrade", 6).is_ok());
        for d in ["", "ab", "Ucomrade", "1abc", "u-comrade", &"a".repeat(33)] {
            assert!(BankParams::new(d, 6).is_err(), "{d:?}");
        }
        assert!(BankParams::new("ucomrade", 19).is_err());
    }
}
