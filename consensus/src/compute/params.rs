//! Compute parameters: typed (and the genesis JSON section `compute`) and
//! stored.

use comrade_primitives::{Amount, parse_amount, proto::compute::v1 as pb};
use serde::{Deserialize, Serialize};

/// Compute parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeParams {
    /// Minimum stake of a node (base units, decimal string in JSON).
    #[serde(with = "crate::amount_str")]
    pub min_stake: Amount,
    /// Stake required per claimed int8 TOPS ("stake proportional to
    /// compute power", whitepaper §2.2).
    #[serde(with = "crate::amount_str")]
    pub stake_per_int8_tops: Amount,
    /// Blocks an unbonding takes (slashable meanwhile).
    pub unbonding_blocks: u64,
    /// Blocks per compute epoch.
    pub epoch_blocks: u64,
    /// Blocks per beacon period.
    pub beacon_period_blocks: u64,
    /// The first blocks of period `p + 1` that accept reveals for `p`.
    pub beacon_reveal_blocks: u64,
    /// Longest key chain accepted at registration.
    pub max_keychain_len: u32,
    /// Routing-weight factor while throttled, ppm.
    pub throttle_ppm: u32,
    /// Most models one node may list.
    pub max_models: u32,
}

impl Default for ComputeParams {
    fn default() -> Self {
        Self {
            min_stake: 100_000_000,
            stake_per_int8_tops: 1_000_000,
            unbonding_blocks: 120_960,
            epoch_blocks: 17_280,
            beacon_period_blocks: 60,
            beacon_reveal_blocks: 6,
            max_keychain_len: 1 << 20,
            throttle_ppm: 250_000,
            max_models: 32,
        }
    }
}

impl ComputeParams {
    /// Checks ranges; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_stake == 0 {
            return Err("compute.min_stake must be positive".into());
        }
        if self.epoch_blocks == 0 {
            return Err("compute.epoch_blocks must be positive".into());
        }
        if self.beacon_period_blocks < 2 {
            return Err("compute.beacon_period_blocks must be at least 2".into());
        }
        if self.beacon_reveal_blocks == 0 || self.beacon_reveal_blocks >= self.beacon_period_blocks
        {
            return Err(format!(
                "compute.beacon_reveal_blocks {} must be 1..beacon_period_blocks ({})",
                self.beacon_reveal_blocks, self.beacon_period_blocks
            ));
        }
        if self.max_keychain_len == 0 {
            return Err("compute.max_keychain_len must be positive".into());
        }
        if self.throttle_ppm > 1_000_000 {
            return Err(format!(
                "compute.throttle_ppm {} exceeds 1000000",
                self.throttle_ppm
            ));
        }
        if self.max_models == 0 {
            return Err("compute.max_models must be positive".into());
        }
        Ok(())
    }

    /// The stake a claim of `int8_tops` requires.
    pub fn required_stake(&self, int8_tops: u64) -> Option<Amount> {
        let by_claim = self
            .stake_per_int8_tops
            .checked_mul(u128::from(int8_tops))?;
        Some(by_claim.max(self.min_stake))
    }

    /// The beacon period of `height` (heights `1..=P` are period 0).
    pub fn period_of(&self, height: u64) -> u64 {
        height.saturating_sub(1).checked_div(self.beacon_period_blocks).unwrap_or(0)
    }

    /// The first height of period `p`.
    pub fn period_start(&self, period: u64) -> u64 {
        period
            .saturating_mul(self.beacon_period_blocks)
            .saturating_add(1)
    }

    /// The compute epoch of `height` (heights `1..=E` are epoch 0).
    pub fn epoch_of(&self, height: u64) -> u64 {
        height.saturating_sub(1).checked_div(self.epoch_blocks).unwrap_or(0)
    }
}

impl From<&ComputeParams> for pb::Params {
    fn from(p: &ComputeParams) -> Self {
        pb::Params {
            min_stake: p.min_stake.to_string(),
            stake_per_int8_tops: p.stake_per_int8_tops.to_string(),
            unbonding_blocks: p.unbonding_blocks,
            epoch_blocks: p.epoch_blocks,
            beacon_period_blocks: p.beacon_period_blocks,
            beacon_reveal_blocks: p.beacon_reveal_blocks,
            max_keychain_len: p.max_keychain_len,
            throttle_ppm: p.throttle_ppm,
            max_models: p.max_models,
        }
    }
}

impl TryFrom<&pb::Params> for ComputeParams {
    type Error = String;
    fn try_from(p: &pb::Params) -> Result<Self, String> {
        let amount =
            |name: &str, s: &str| parse_amount(s).map_err(|e| format!("compute.{name}: {e}"));
        let out = ComputeParams {
            min_stake: amount("min_stake", &p.min_stake)?,
            stake_per_int8_tops: amount("stake_per_int8_tops", &p.stake_per_int8_tops)?,
            unbonding_blocks: p.unbonding_blocks,
            epoch_blocks: p.epoch_blocks,
            beacon_period_blocks: p.beacon_period_blocks,
            beacon_reveal_blocks: p.beacon_reveal_blocks,
            max_keychain_len: p.max_keychain_len,
            throttle_ppm: p.throttle_ppm,
            max_models: p.max_models,
        };
        out.validate()?;
        Ok(out)
    }
}
