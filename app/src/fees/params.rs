//! Fee parameters (typed view of the stored params record; see
//! [`crate::params`]).

use comrade_primitives::Amount;

/// Minimum fees and the treasury's share, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeeParams {
    min_fee_base: Amount,
    min_fee_per_byte: Amount,
    treasury_fee_bps: u32,
}

impl FeeParams {
    /// Checks and builds the params: `treasury_fee_bps` at most 10,000.
    pub fn new(
        min_fee_base: Amount,
        min_fee_per_byte: Amount,
        treasury_fee_bps: u32,
    ) -> Result<Self, String> {
        if treasury_fee_bps > 10_000 {
            return Err(format!("treasury_fee_bps {treasury_fee_bps} exceeds 10000"));
        }
        Ok(FeeParams {
            min_fee_base,
            min_fee_per_byte,
            treasury_fee_bps,
        })
    }

    /// The minimum fee for a tx of `size` bytes:
    /// `min_fee_base + min_fee_per_byte * size`, saturating.
    pub fn min_fee(&self, size: usize) -> Amount {
        let size = Amount::try_from(size).unwrap_or(Amount::MAX);
        self.min_fee_base
            .saturating_add(self.min_fee_per_byte.saturating_mul(size))
    }

    /// Share of fees paid to the treasury each block, in basis points.
    pub fn treasury_fee_bps(&self) -> u32 {
        self.treasury_fee_bps
    }
}
