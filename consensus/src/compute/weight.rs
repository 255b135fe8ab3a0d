//! The routing weight gateways read: a deterministic integer function of
//! stake, verified capacity, reputation and throttle ("higher stake =
//! higher request priority", whitepaper §2.2).
//!
//! `weight = stake_units × (1 + verified_tops) × reputation_ppm / 10⁶
//! × throttle_ppm / 10⁶`, where
//! * `stake_units = stake / 10⁶` (whole COMRADE at 6 decimals);
//! * `verified_tops = min(claimed int8 TOPS, 2·verified_mac_per_s / 10¹²)`
//!   from the node's last passed capacity sprint (0 before its first);
//! * `reputation_ppm = 10⁶·(passed + 1) / (passed + 4·failed + 2·missed + 1)`
//!   over its sprints, so failures weigh more than misses;
//! * `throttle_ppm` is the param while the node is throttled, else 10⁶.
//!
//! A node that is not active has weight 0.

use comrade_primitives::{amount::mul_div, proto::compute::v1 as pb};

use super::ComputeParams;

/// The node's routing weight in `epoch`.
pub fn routing_weight(n: &pb::ComputeNode, params: &ComputeParams, epoch: u64) -> u64 {
    if n.status != pb::NodeStatus::Active as i32 {
        return 0;
    }
    let stake = comrade_primitives::parse_amount(&n.stake).unwrap_or(0);
    let units = stake / 1_000_000;
    let claimed = n.hardware.as_ref().map_or(0, |h| h.int8_tops);
    let verified = u128::from(n.verified_mac_per_s).saturating_mul(2) / 1_000_000_000_000;
    let cap = 1u128.saturating_add(verified.min(u128::from(claimed)));
    let r = n.reputation.unwrap_or_default();
    let good = u128::from(r.sprints_passed).saturating_add(1);
    let all = good
        .saturating_add(u128::from(r.sprints_failed).saturating_mul(4))
        .saturating_add(u128::from(r.sprints_missed).saturating_mul(2));
    let rep_ppm = mul_div(1_000_000, good, all).unwrap_or(0);
    let throttle = if epoch < n.throttled_until_epoch {
        u128::from(params.throttle_ppm)
    } else {
        1_000_000
    };
    let w = units.saturating_mul(cap);
    let w = mul_div(w, rep_ppm, 1_000_000).unwrap_or(u128::MAX);
    let w = mul_div(w, throttle, 1_000_000).unwrap_or(u128::MAX);
    u64::try_from(w).unwrap_or(u64::MAX)
}

/// Whether the node is throttled in `epoch`.
pub fn is_throttled(n: &pb::ComputeNode, epoch: u64) -> bool {
    epoch < n.throttled_until_epoch
}
