//! Chain parameters: the one `comrade.app.v1.Params` record stored under
//! [`state_key::PARAMS`](crate::state_key::PARAMS) and written in genesis as
//! JSON ([`Params`]), and its typed, validated per-module views
//! ([`ChainParams`]).
//!
//! The record keeps every module's parameters together so the state format
//! stays as it was; [`ChainParams::try_from`] validates it once (at genesis,
//! and when a block or the mempool loads it) and splits it into each
//! module's typed params, which are then loaded into the executing state as
//! ephemeral objects. No tx re-parses a parameter, and a missing or invalid
//! one is never silently defaulted.

use comrade_bank::{auth::AuthParams, bank::BankParams};
use comrade_primitives::{Amount, parse_amount, proto::app::v1 as pb};
use serde::{Deserialize, Serialize};

use crate::fees::FeeParams;

/// Chain parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The native base denom (e.g. `ucomrade`). The only denom the chain knows.
    pub denom: String,
    /// Decimals of the display unit `COMRADE`; set equal to the Solana mint's
    /// decimals so one base unit here is one base unit there.
    pub decimals: u32,
    /// Minimum fee per tx, independent of size (base units, decimal string).
    pub min_fee_base: String,
    /// Minimum fee per tx byte (base units, decimal string).
    pub min_fee_per_byte: String,
    /// Maximum tx size in bytes.
    pub max_tx_bytes: u64,
    /// Maximum memo length in bytes.
    pub max_memo_bytes: u64,
    /// Share of fees paid to the treasury each block, in basis points; the
    /// rest goes to validators by voting power.
    pub treasury_fee_bps: u32,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            denom: "ucomrade".to_string(),
            decimals: 6,
            min_fee_base: "1000".to_string(),
            min_fee_per_byte: "10".to_string(),
            max_tx_bytes: 64 * 1024,
            max_memo_bytes: 256,
            treasury_fee_bps: 2_000,
        }
    }
}

pub use comrade_bank::bank::params::is_valid_denom;

impl Params {
    /// Checks ranges; returns a message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        ChainParams::try_from(self).map(|_| ())
    }

    /// `amount` without a trailing native denom (`1000ucomrade` → `1000`).
    pub fn denom_stripped<'a>(&self, amount: &'a str) -> &'a str {
        amount.strip_suffix(self.denom.as_str()).unwrap_or(amount)
    }

    /// `min_fee_base` parsed.
    pub fn min_fee_base(&self) -> Result<Amount, String> {
        parse_amount(&self.min_fee_base).map_err(|e| format!("min_fee_base: {e}"))
    }

    /// `min_fee_per_byte` parsed.
    pub fn min_fee_per_byte(&self) -> Result<Amount, String> {
        parse_amount(&self.min_fee_per_byte).map_err(|e| format!("min_fee_per_byte: {e}"))
    }

    /// The minimum fee for a tx of `size` bytes, saturating (for clients,
    /// which hold the record; the state machine uses the parsed
    /// [`FeeParams`], whose formula this is). An unparsable amount counts as
    /// 2^128 - 1.
    pub fn min_fee(&self, size: usize) -> Amount {
        let base = self.min_fee_base().unwrap_or(Amount::MAX);
        let per = self.min_fee_per_byte().unwrap_or(Amount::MAX);
        // Basis points 0 are always valid: only the two amounts matter here.
        FeeParams::new(base, per, 0).map_or(Amount::MAX, |f| f.min_fee(size))
    }
}

impl From<Params> for pb::Params {
    fn from(p: Params) -> Self {
        pb::Params {
            denom: p.denom,
            decimals: p.decimals,
            min_fee_base: p.min_fee_base,
            min_fee_per_byte: p.min_fee_per_byte,
            max_tx_bytes: p.max_tx_bytes,
            max_memo_bytes: p.max_memo_bytes,
            treasury_fee_bps: p.treasury_fee_bps,
        }
    }
}

impl From<pb::Params> for Params {
    fn from(p: pb::Params) -> Self {
        Params {
            denom: p.denom,
            decimals: p.decimals,
            min_fee_base: p.min_fee_base,
            min_fee_per_byte: p.min_fee_per_byte,
            max_tx_bytes: p.max_tx_bytes,
            max_memo_bytes: p.max_memo_bytes,
            treasury_fee_bps: p.treasury_fee_bps,
        }
    }
}

/// Every module's params, validated and typed. Built once per block (and
/// once per mempool reset) from the stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParams {
    /// The envelope's limits (auth).
    pub auth: AuthParams,
    /// The bank's denom and decimals.
    pub bank: BankParams,
    /// Minimum fees and the treasury's share.
    pub fees: FeeParams,
}

impl TryFrom<&Params> for ChainParams {
    type Error = String;

    fn try_from(p: &Params) -> Result<Self, String> {
        let bank = BankParams::new(p.denom.clone(), p.decimals).map_err(|e| e.to_string())?;
        let fees = FeeParams::new(p.min_fee_base()?, p.min_fee_per_byte()?, p.treasury_fee_bps)?;
        let auth = AuthParams::new(p.max_tx_bytes, p.max_memo_bytes)?;
        Ok(ChainParams { auth, bank, fees })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_validate_into_typed_views_or_name_the_bad_field() {
        let p = ChainParams::try_from(&Params::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.bank.denom(), "ucomrade");
        assert_eq!(p.fees.min_fee(100), 1000 + 10 * 100);
        for (bad, field) in [
            (
                Params {
                    denom: "X".into(),
                    ..Params::default()
                },
                "denom",
            ),
            (
                Params {
                    min_fee_base: "1e3".into(),
                    ..Params::default()
                },
                "min_fee_base",
            ),
            (
                Params {
                    treasury_fee_bps: 10_001,
                    ..Params::default()
                },
                "treasury_fee_bps",
            ),
            (
                Params {
                    max_tx_bytes: 10,
                    ..Params::default()
                },
                "max_tx_bytes",
            ),
        ] {
            let e = bad.validate().unwrap_err();
            assert!(e.contains(field), "{e}");
        }
    }
}
