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
    /// Capacity-challenge profile id (`comrade_exact::Profile::id`).
    pub profile_id: u16,
    /// Sprint length in blocks.
    pub sprint_blocks: u64,
    /// Blocks after the sprint in which commitments are accepted.
    pub commit_grace_blocks: u64,
    /// Rows opened per commitment (`k`).
    pub openings: u16,
    /// Blocks after the opening beacon in which rows must be revealed.
    pub reveal_blocks: u64,
    /// Row MACs FinalizeBlock may recompute per block.
    pub mac_budget_per_block: u64,
    /// Largest row count of a commitment.
    pub max_rows: u64,
    /// Slash for wrong rows or a bad path, basis points.
    pub slash_capacity_bps: u32,
    /// Slash for a commitment never revealed, basis points.
    pub slash_miss_bps: u32,
    /// Epochs a failed or missed sprint throttles the routing weight.
    pub throttle_epochs: u64,
    /// Nominal block time, ms.
    pub block_time_ms: u64,
    /// Failed or missed sprints in a row that jail a node (0: never).
    pub jail_after_faults: u32,
    /// Beacon periods missed in a row that jail a node (0: never; the
    /// design's `miss_reveal_limit`).
    pub jail_after_reveal_misses: u32,
    /// Capacity rewards per sprint, paid from the reward pool (never
    /// minted) to the nodes that passed, by their verified rows.
    #[serde(with = "crate::amount_str")]
    pub reward_per_sprint: Amount,
    /// Audit selection rate per receipt, ppm (ρ).
    pub audit_rate_ppm: u32,
    /// Auditors drawn per selected receipt (m).
    pub auditors_per_audit: u32,
    /// Blocks after the selecting beacon in which the executor must open
    /// a selected receipt.
    pub audit_open_blocks: u64,
    /// Blocks after the selecting beacon in which the auditors report.
    pub audit_report_blocks: u64,
    /// Receipt batches one executor may commit per beacon period.
    pub max_batches_per_period: u32,
    /// Receipts per batch, at most.
    pub max_receipts_per_batch: u32,
    /// The auditors' margin gate ε, milli: steps above it count in
    /// `r_gated` (a placeholder until `docs/poc-calibration.md` fixes it).
    pub audit_eps_milli: u32,
    /// Per-chunk TOPLOC limit: exponent mismatches (of 128).
    pub toploc_exp: u32,
    /// Per-chunk TOPLOC limit: sign flips among exponent matches.
    pub toploc_sign: u32,
    /// Per-chunk TOPLOC limit: mantissa mean × 100.
    pub toploc_mean_centi: u32,
    /// Per-chunk TOPLOC limit: mantissa upper median.
    pub toploc_median: u32,
    /// Per receipt: the highest mean over chunks of the mantissa mean × 100.
    pub audit_mean_avg_max_centi: u32,
    /// Honest rate of gated steps, failed chunks and failed receipts, ppm
    /// (`p0`; it and the α's select a built-in binomial table).
    pub audit_p0_ppm: u32,
    /// Per-receipt false-failure level `α_req = 10^-x`.
    pub audit_alpha_req_exp: u32,
    /// Per-epoch false-conviction level `α_epoch = 10^-x`.
    pub audit_alpha_epoch_exp: u32,
    /// Outlier tolerance on `r_gated`: at least this far from the median.
    pub audit_tol_gated_min: u32,
    /// Outlier tolerance on `r_gated`, ppm of `n_steps` (if larger).
    pub audit_tol_gated_ppm: u32,
    /// Outlier tolerance on the mantissa mean average (× 100).
    pub audit_tol_mean_centi: u32,
    /// Slash of a conviction, basis points of compute stake.
    pub slash_conviction_bps: u32,
    /// Share of a conviction's slash paid to its reporters, basis points.
    pub bounty_bps: u32,
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
            profile_id: comrade_exact::Profile::MAINNET_GPU.id,
            sprint_blocks: 24,
            commit_grace_blocks: 2,
            openings: 32,
            reveal_blocks: 60,
            mac_budget_per_block: 2_000_000_000,
            max_rows: 1 << 36,
            slash_capacity_bps: 200,
            slash_miss_bps: 100,
            throttle_epochs: 3,
            block_time_ms: 5_000,
            jail_after_faults: 3,
            jail_after_reveal_misses: 3,
            reward_per_sprint: 0,
            audit_rate_ppm: 50_000,
            auditors_per_audit: 3,
            audit_open_blocks: 60,
            audit_report_blocks: 360,
            max_batches_per_period: 16,
            max_receipts_per_batch: 4096,
            audit_eps_milli: 2_000,
            toploc_exp: 38,
            toploc_sign: 4,
            toploc_mean_centi: 1_000,
            toploc_median: 8,
            audit_mean_avg_max_centi: 600,
            audit_p0_ppm: 1_000,
            audit_alpha_req_exp: 4,
            audit_alpha_epoch_exp: 6,
            audit_tol_gated_min: 3,
            audit_tol_gated_ppm: 20_000,
            audit_tol_mean_centi: 150,
            slash_conviction_bps: 500,
            bounty_bps: 2_000,
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
        let profile = self.profile()?;
        if self.sprint_blocks == 0 || self.openings == 0 || self.reveal_blocks == 0 {
            return Err(
                "compute.sprint_blocks, openings and reveal_blocks must be positive".into(),
            );
        }
        if self.mac_budget_per_block < profile.row_macs() {
            return Err(format!(
                "compute.mac_budget_per_block {} is below one row of {} ({} MAC)",
                self.mac_budget_per_block,
                profile.name,
                profile.row_macs()
            ));
        }
        if self.max_rows == 0 || self.block_time_ms == 0 {
            return Err("compute.max_rows and block_time_ms must be positive".into());
        }
        for (name, v) in [
            ("slash_capacity_bps", self.slash_capacity_bps),
            ("slash_miss_bps", self.slash_miss_bps),
        ] {
            if v > 10_000 {
                return Err(format!("compute.{name} {v} exceeds 10000 basis points"));
            }
        }
        self.validate_audit()?;
        // The whole sprint (rows, grace, the opening beacon's period and
        // window, the reveals) must end inside its epoch.
        let span = self
            .sprint_blocks
            .saturating_add(self.commit_grace_blocks)
            .saturating_add(self.beacon_period_blocks.saturating_mul(2))
            .saturating_add(self.beacon_reveal_blocks)
            .saturating_add(self.reveal_blocks);
        if span >= self.epoch_blocks {
            return Err(format!(
                "compute: a sprint spans up to {span} blocks, which does not fit in epoch_blocks {}",
                self.epoch_blocks
            ));
        }
        Ok(())
    }

    fn validate_audit(&self) -> Result<(), String> {
        if self.audit_rate_ppm > 1_000_000 {
            return Err(format!(
                "compute.audit_rate_ppm {} exceeds 1000000",
                self.audit_rate_ppm
            ));
        }
        if !(1..=super::audit::MAX_AUDITORS).contains(&self.auditors_per_audit) {
            return Err(format!(
                "compute.auditors_per_audit {} must be 1..={}",
                self.auditors_per_audit,
                super::audit::MAX_AUDITORS
            ));
        }
        if self.audit_open_blocks == 0 || self.audit_report_blocks <= self.audit_open_blocks {
            return Err(format!(
                "compute.audit_open_blocks {} must be positive and below audit_report_blocks {}",
                self.audit_open_blocks, self.audit_report_blocks
            ));
        }
        if self.max_batches_per_period == 0 || self.max_receipts_per_batch == 0 {
            return Err(
                "compute.max_batches_per_period and max_receipts_per_batch must be positive".into(),
            );
        }
        for (name, v) in [
            ("slash_conviction_bps", self.slash_conviction_bps),
            ("bounty_bps", self.bounty_bps),
        ] {
            if v > 10_000 {
                return Err(format!("compute.{name} {v} exceeds 10000 basis points"));
            }
        }
        for alpha in [self.audit_alpha_req_exp, self.audit_alpha_epoch_exp] {
            if super::binomial::table(self.audit_p0_ppm, alpha).is_none() {
                return Err(format!(
                    "compute: no binomial table for p0 = {} ppm and α = 1e-{alpha} (built in: {})",
                    self.audit_p0_ppm,
                    super::binomial::available()
                ));
            }
        }
        Ok(())
    }

    /// The critical value `c(n)` of the per-receipt test: `n` honest
    /// trials at rate `p0` reach it with probability at most `α_req`.
    pub fn critical_req(&self, n: u64) -> u64 {
        super::binomial::critical(self.audit_p0_ppm, self.audit_alpha_req_exp, n)
    }

    /// The critical value of the per-epoch test (`α_epoch`).
    pub fn critical_epoch(&self, n: u64) -> u64 {
        super::binomial::critical(self.audit_p0_ppm, self.audit_alpha_epoch_exp, n)
    }

    /// The challenge profile.
    pub fn profile(&self) -> Result<comrade_exact::Profile, String> {
        comrade_exact::Profile::by_id(self.profile_id).ok_or_else(|| {
            format!(
                "compute.profile_id {} is not a known profile",
                self.profile_id
            )
        })
    }

    /// The first height of epoch `e`.
    pub fn epoch_start(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.epoch_blocks).saturating_add(1)
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
        height
            .saturating_sub(1)
            .checked_div(self.beacon_period_blocks)
            .unwrap_or(0)
    }

    /// The first height of period `p`.
    pub fn period_start(&self, period: u64) -> u64 {
        period
            .saturating_mul(self.beacon_period_blocks)
            .saturating_add(1)
    }

    /// The compute epoch of `height` (heights `1..=E` are epoch 0).
    pub fn epoch_of(&self, height: u64) -> u64 {
        height
            .saturating_sub(1)
            .checked_div(self.epoch_blocks)
            .unwrap_or(0)
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
            profile_id: u32::from(p.profile_id),
            sprint_blocks: p.sprint_blocks,
            commit_grace_blocks: p.commit_grace_blocks,
            openings: u32::from(p.openings),
            reveal_blocks: p.reveal_blocks,
            mac_budget_per_block: p.mac_budget_per_block,
            max_rows: p.max_rows,
            slash_capacity_bps: p.slash_capacity_bps,
            slash_miss_bps: p.slash_miss_bps,
            throttle_epochs: p.throttle_epochs,
            block_time_ms: p.block_time_ms,
            jail_after_faults: p.jail_after_faults,
            jail_after_reveal_misses: p.jail_after_reveal_misses,
            reward_per_sprint: p.reward_per_sprint.to_string(),
            audit_rate_ppm: p.audit_rate_ppm,
            auditors_per_audit: p.auditors_per_audit,
            audit_open_blocks: p.audit_open_blocks,
            audit_report_blocks: p.audit_report_blocks,
            max_batches_per_period: p.max_batches_per_period,
            max_receipts_per_batch: p.max_receipts_per_batch,
            audit_eps_milli: p.audit_eps_milli,
            toploc_exp: p.toploc_exp,
            toploc_sign: p.toploc_sign,
            toploc_mean_centi: p.toploc_mean_centi,
            toploc_median: p.toploc_median,
            audit_mean_avg_max_centi: p.audit_mean_avg_max_centi,
            audit_p0_ppm: p.audit_p0_ppm,
            audit_alpha_req_exp: p.audit_alpha_req_exp,
            audit_alpha_epoch_exp: p.audit_alpha_epoch_exp,
            audit_tol_gated_min: p.audit_tol_gated_min,
            audit_tol_gated_ppm: p.audit_tol_gated_ppm,
            audit_tol_mean_centi: p.audit_tol_mean_centi,
            slash_conviction_bps: p.slash_conviction_bps,
            bounty_bps: p.bounty_bps,
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
            profile_id: u16::try_from(p.profile_id).map_err(|_| {
                format!("compute.profile_id {} is not a known profile", p.profile_id)
            })?,
            sprint_blocks: p.sprint_blocks,
            commit_grace_blocks: p.commit_grace_blocks,
            openings: u16::try_from(p.openings)
                .map_err(|_| format!("compute.openings {} exceeds 65535", p.openings))?,
            reveal_blocks: p.reveal_blocks,
            mac_budget_per_block: p.mac_budget_per_block,
            max_rows: p.max_rows,
            slash_capacity_bps: p.slash_capacity_bps,
            slash_miss_bps: p.slash_miss_bps,
            throttle_epochs: p.throttle_epochs,
            block_time_ms: p.block_time_ms,
            jail_after_faults: p.jail_after_faults,
            jail_after_reveal_misses: p.jail_after_reveal_misses,
            reward_per_sprint: amount("reward_per_sprint", &p.reward_per_sprint)?,
            audit_rate_ppm: p.audit_rate_ppm,
            auditors_per_audit: p.auditors_per_audit,
            audit_open_blocks: p.audit_open_blocks,
            audit_report_blocks: p.audit_report_blocks,
            max_batches_per_period: p.max_batches_per_period,
            max_receipts_per_batch: p.max_receipts_per_batch,
            audit_eps_milli: p.audit_eps_milli,
            toploc_exp: p.toploc_exp,
            toploc_sign: p.toploc_sign,
            toploc_mean_centi: p.toploc_mean_centi,
            toploc_median: p.toploc_median,
            audit_mean_avg_max_centi: p.audit_mean_avg_max_centi,
            audit_p0_ppm: p.audit_p0_ppm,
            audit_alpha_req_exp: p.audit_alpha_req_exp,
            audit_alpha_epoch_exp: p.audit_alpha_epoch_exp,
            audit_tol_gated_min: p.audit_tol_gated_min,
            audit_tol_gated_ppm: p.audit_tol_gated_ppm,
            audit_tol_mean_centi: p.audit_tol_mean_centi,
            slash_conviction_bps: p.slash_conviction_bps,
            bounty_bps: p.bounty_bps,
        };
        out.validate()?;
        Ok(out)
    }
}
