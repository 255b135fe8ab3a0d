//! Staking parameters: the typed, validated form (also the genesis JSON
//! section `staking`) and the stored protobuf record.

use comrade_primitives::{Amount, parse_amount, proto::staking::v1 as pb};
use serde::{Deserialize, Serialize};

/// Staking parameters. Amounts are decimal strings in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakingParams {
    /// Blocks per epoch: bonds, unbonds, new validators and slashes reach
    /// the validator set at the end of an epoch; jailing, tombstoning and
    /// unjailing at the end of their block.
    pub epoch_blocks: u64,
    /// Minimum self-stake of a validator (base units).
    #[serde(with = "crate::amount_str")]
    pub min_self_stake: Amount,
    /// Base units per unit of CometBFT voting power.
    #[serde(with = "crate::amount_str")]
    pub power_reduction: Amount,
    /// Blocks an unbonding takes (slashable meanwhile).
    pub unbonding_blocks: u64,
    /// Largest validator set.
    pub max_validators: u32,
    /// Liveness window in blocks.
    pub signed_blocks_window: u64,
    /// Minimum share of the window to sign, basis points.
    pub min_signed_per_window_bps: u32,
    /// Blocks a downtime jailing lasts.
    pub downtime_jail_blocks: u64,
    /// Slash for a double sign, basis points of stake.
    pub slash_double_sign_bps: u32,
    /// Slash for downtime, basis points of stake.
    pub slash_downtime_bps: u32,
    /// Largest commission, basis points.
    pub max_commission_bps: u32,
}

impl Default for StakingParams {
    /// Mainnet-shaped defaults (localnet and tests shorten the windows).
    fn default() -> Self {
        Self {
            epoch_blocks: 100,
            min_self_stake: 1_000_000,
            power_reduction: 1_000_000,
            unbonding_blocks: 120_960,
            max_validators: 100,
            signed_blocks_window: 10_000,
            min_signed_per_window_bps: 5_000,
            downtime_jail_blocks: 600,
            slash_double_sign_bps: 500,
            slash_downtime_bps: 1,
            max_commission_bps: 10_000,
        }
    }
}

/// The largest total voting power CometBFT accepts (`MaxTotalVotingPower`).
pub const MAX_TOTAL_POWER: i64 = i64::MAX / 8;

impl StakingParams {
    /// Checks ranges; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        let bps = |name: &str, v: u32| {
            if v > 10_000 {
                Err(format!("staking.{name} {v} exceeds 10000 basis points"))
            } else {
                Ok(())
            }
        };
        if self.epoch_blocks == 0 {
            return Err("staking.epoch_blocks must be positive".into());
        }
        if self.power_reduction == 0 {
            return Err("staking.power_reduction must be positive".into());
        }
        if self.min_self_stake < self.power_reduction {
            return Err(format!(
                "staking.min_self_stake {} is below one unit of power ({})",
                self.min_self_stake, self.power_reduction
            ));
        }
        if self.max_validators == 0 {
            return Err("staking.max_validators must be positive".into());
        }
        if self.signed_blocks_window == 0 || self.signed_blocks_window > 1 << 20 {
            return Err(format!(
                "staking.signed_blocks_window {} must be 1..=1048576",
                self.signed_blocks_window
            ));
        }
        bps("min_signed_per_window_bps", self.min_signed_per_window_bps)?;
        bps("slash_double_sign_bps", self.slash_double_sign_bps)?;
        bps("slash_downtime_bps", self.slash_downtime_bps)?;
        bps("max_commission_bps", self.max_commission_bps)?;
        Ok(())
    }

    /// Voting power of `stake`: `stake / power_reduction`, capped at the
    /// CometBFT maximum.
    pub fn power(&self, stake: Amount) -> i64 {
        let p = stake.checked_div(self.power_reduction).unwrap_or(0);
        i64::try_from(p)
            .unwrap_or(MAX_TOTAL_POWER)
            .min(MAX_TOTAL_POWER)
    }

    /// Most blocks a validator may miss in a window before it is jailed.
    pub fn max_missed(&self) -> u64 {
        let signed = comrade_primitives::amount::mul_div(
            u128::from(self.signed_blocks_window),
            u128::from(self.min_signed_per_window_bps),
            10_000,
        )
        .unwrap_or(0);
        u64::try_from(u128::from(self.signed_blocks_window).saturating_sub(signed))
            .unwrap_or(u64::MAX)
    }
}

impl From<&StakingParams> for pb::Params {
    fn from(p: &StakingParams) -> Self {
        pb::Params {
            epoch_blocks: p.epoch_blocks,
            min_self_stake: p.min_self_stake.to_string(),
            power_reduction: p.power_reduction.to_string(),
            unbonding_blocks: p.unbonding_blocks,
            max_validators: p.max_validators,
            signed_blocks_window: p.signed_blocks_window,
            min_signed_per_window_bps: p.min_signed_per_window_bps,
            downtime_jail_blocks: p.downtime_jail_blocks,
            slash_double_sign_bps: p.slash_double_sign_bps,
            slash_downtime_bps: p.slash_downtime_bps,
            max_commission_bps: p.max_commission_bps,
        }
    }
}

impl TryFrom<&pb::Params> for StakingParams {
    type Error = String;
    fn try_from(p: &pb::Params) -> Result<Self, String> {
        let amount =
            |name: &str, s: &str| parse_amount(s).map_err(|e| format!("staking.{name}: {e}"));
        let out = StakingParams {
            epoch_blocks: p.epoch_blocks,
            min_self_stake: amount("min_self_stake", &p.min_self_stake)?,
            power_reduction: amount("power_reduction", &p.power_reduction)?,
            unbonding_blocks: p.unbonding_blocks,
            max_validators: p.max_validators,
            signed_blocks_window: p.signed_blocks_window,
            min_signed_per_window_bps: p.min_signed_per_window_bps,
            downtime_jail_blocks: p.downtime_jail_blocks,
            slash_double_sign_bps: p.slash_double_sign_bps,
            slash_downtime_bps: p.slash_downtime_bps,
            max_commission_bps: p.max_commission_bps,
        };
        out.validate()?;
        Ok(out)
    }
}
