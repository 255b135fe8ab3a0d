//! Chain parameters: stored under [`state_key::PARAMS`](crate::state_key::PARAMS)
//! as `comrade.app.v1.Params`, written in genesis as JSON.

use comrade_primitives::{Amount, parse_amount, proto::app::v1 as pb};
use serde::{Deserialize, Serialize};

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

/// Denoms are lowercase letters and digits, 3–32 chars, starting with a letter.
pub fn is_valid_denom(d: &str) -> bool {
    (3..=32).contains(&d.len())
        && d.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && d.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl Params {
    /// Checks ranges; returns a message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !is_valid_denom(&self.denom) {
            return Err(format!(
                "denom {:?} must be 3-32 lowercase letters or digits starting with a letter",
                self.denom
            ));
        }
        if self.decimals > 18 {
            return Err(format!("decimals {} exceeds 18", self.decimals));
        }
        self.min_fee_base()?;
        self.min_fee_per_byte()?;
        if !(256..=4 * 1024 * 1024).contains(&self.max_tx_bytes) {
            return Err(format!(
                "max_tx_bytes {} must be between 256 and 4194304",
                self.max_tx_bytes
            ));
        }
        if self.max_memo_bytes > self.max_tx_bytes {
            return Err("max_memo_bytes exceeds max_tx_bytes".into());
        }
        if self.treasury_fee_bps > 10_000 {
            return Err(format!(
                "treasury_fee_bps {} exceeds 10000",
                self.treasury_fee_bps
            ));
        }
        Ok(())
    }

    /// `min_fee_base` parsed.
    pub fn min_fee_base(&self) -> Result<Amount, String> {
        parse_amount(&self.min_fee_base).map_err(|e| format!("min_fee_base: {e}"))
    }

    /// `min_fee_per_byte` parsed.
    pub fn min_fee_per_byte(&self) -> Result<Amount, String> {
        parse_amount(&self.min_fee_per_byte).map_err(|e| format!("min_fee_per_byte: {e}"))
    }

    /// The minimum fee for a tx of `size` bytes, saturating.
    pub fn min_fee(&self, size: usize) -> Amount {
        let base = self.min_fee_base().unwrap_or(Amount::MAX);
        let per = self.min_fee_per_byte().unwrap_or(Amount::MAX);
        base.saturating_add(per.saturating_mul(size as Amount))
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
