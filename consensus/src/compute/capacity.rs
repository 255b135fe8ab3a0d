//! The capacity sprint of each epoch (design §8.5): the seed at the
//! epoch's first block, the opened rows drawn from the beacon after the
//! commitments, the in-block verification queue (each opened row is
//! recomputed exactly by `comrade-exact`, within a MAC budget per block),
//! and the settlement: verified capacity, slashes, throttles, reputation.

use std::sync::{Arc, Mutex};

use cnidarium::StateWrite;
use comrade_bank::{auth::module_accounts, bank::BankWrite as _};
use comrade_exact::{Challenge, Profile, prf, seed};
use comrade_primitives::{
    Address, Amount, ExecError, InternalError,
    amount::bps_share,
    component::{BlockContext, EventExt as _},
    proto::compute::v1 as pb,
    state::{StateReadProto as _, StateWriteProto as _},
};
use futures::StreamExt as _;
use prost::Message as _;

use super::{
    ComputeParams, ComputeRead as _, ComputeWrite as _, event::EventCapacitySettled, state_key,
    stored_stake,
};

/// The last expanded challenge: deriving the weights costs a few ms on the
/// localnet profile (seconds on mainnet's), and every block of a reveal
/// window verifies rows of the same sprint. A pure function's cache: what
/// it returns never depends on whether it was hit.
static CHALLENGE: Mutex<Option<Arc<Challenge>>> = Mutex::new(None);

fn challenge(profile: Profile, seed: [u8; 32]) -> Arc<Challenge> {
    let mut slot = CHALLENGE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(c) = slot.as_ref()
        && c.profile() == profile
        && *c.seed() == seed
    {
        return c.clone();
    }
    let c = Arc::new(Challenge::derive(profile, seed));
    *slot = Some(c.clone());
    c
}

fn seed32(s: &pb::Sprint) -> Result<[u8; 32], InternalError> {
    s.seed
        .as_slice()
        .try_into()
        .map_err(|_| InternalError::invariant("sprint seed is not 32 bytes"))
}

/// Reads a sprint.
pub async fn sprint<S: cnidarium::StateRead + ?Sized>(
    state: &S,
    epoch: u64,
) -> Result<Option<pb::Sprint>, InternalError> {
    state.get_proto(&state_key::sprint(epoch)).await
}

/// Reads a commitment.
pub async fn commitment<S: cnidarium::StateRead + ?Sized>(
    state: &S,
    epoch: u64,
    node: &Address,
) -> Result<Option<pb::CapacityCommit>, InternalError> {
    state.get_proto(&state_key::commit(epoch, node)).await
}

async fn commitments<S: cnidarium::StateRead + ?Sized>(
    state: &S,
    epoch: u64,
) -> Result<Vec<(Address, pb::CapacityCommit)>, InternalError> {
    let prefix = state_key::commit_prefix(epoch);
    let mut out = Vec::new();
    let mut stream = std::pin::pin!(state.prefix_raw(&prefix));
    while let Some(item) = stream.next().await {
        let (key, bytes) = item.map_err(|e| InternalError::storage("scanning commitments", e))?;
        let corrupt = |reason: String| InternalError::Corrupt {
            key: key.clone(),
            reason,
        };
        let node: Address = key
            .strip_prefix(&prefix)
            .ok_or_else(|| corrupt("foreign key".into()))?
            .parse()
            .map_err(|e| corrupt(format!("node: {e}")))?;
        let c = pb::CapacityCommit::decode(bytes.as_slice()).map_err(|e| corrupt(e.to_string()))?;
        out.push((node, c));
    }
    out.sort_by_key(|(a, _)| *a);
    Ok(out)
}

/// Begin block: the epoch's first block fixes the sprint seed from its own
/// hash. Grinding that hash only changes which (uniformly hard) weights
/// everyone computes; which rows are opened comes from the beacon.
pub(super) async fn begin_block<S: StateWrite>(
    state: &mut S,
    ctx: &BlockContext,
    params: &ComputeParams,
) -> Result<(), ExecError> {
    let epoch = params.epoch_of(ctx.height);
    if ctx.height != params.epoch_start(epoch) {
        return Ok(());
    }
    // CometBFT gives the hash in ProcessProposal and FinalizeBlock. In
    // PrepareProposal it is unknown; reading it there marks the execution
    // as not reusable, so FinalizeBlock runs this block again with it.
    let hash = ctx.block_hash().unwrap_or_default().to_vec();
    let start = ctx.height;
    let commit_deadline = start
        .saturating_add(params.sprint_blocks)
        .saturating_add(params.commit_grace_blocks);
    let open_period = params.period_of(commit_deadline).saturating_add(1);
    let beacon_final = beacon_final_height(params, open_period);
    let profile = params.profile().map_err(InternalError::invariant)?;
    state.put_proto(
        state_key::sprint(epoch),
        &pb::Sprint {
            epoch,
            seed: seed::sprint_seed(&ctx.chain_id, epoch, &hash).to_vec(),
            profile_id: u32::from(profile.id),
            start_height: start,
            commit_deadline,
            open_period,
            reveal_deadline: beacon_final.saturating_add(params.reveal_blocks),
            ..Default::default()
        },
    );
    Ok(())
}

/// The height at whose end `β_p` is fixed.
pub(super) fn beacon_final_height(params: &ComputeParams, period: u64) -> u64 {
    params
        .period_start(period.saturating_add(1))
        .saturating_add(params.beacon_reveal_blocks)
        .saturating_sub(1)
}

/// End block, after the beacon: draw the opened rows, verify queued rows
/// within the budget, settle a sprint whose reveals are over and verified.
pub(super) async fn end_block<S: StateWrite>(
    state: &mut S,
    ctx: &BlockContext,
    params: &ComputeParams,
) -> Result<(), ExecError> {
    let epoch = params.epoch_of(ctx.height);
    // The sprint of this epoch, and the previous one if its settlement was
    // held up by a long queue.
    for e in [epoch.checked_sub(1), Some(epoch)].into_iter().flatten() {
        let Some(mut s) = sprint(state, e).await? else {
            continue;
        };
        if !s.opened
            && let Some(b) = state.beacon(s.open_period).await?
        {
            open_rows(state, params, &s, &b).await?;
            s.opened = true;
            state.put_proto(state_key::sprint(e), &s);
        }
    }
    verify_queue(state, params).await?;
    for e in [epoch.checked_sub(1), Some(epoch)].into_iter().flatten() {
        let Some(s) = sprint(state, e).await? else {
            continue;
        };
        if !s.settled && s.opened && s.queued == 0 && ctx.height > s.reveal_deadline {
            settle(state, params, s).await?;
        }
    }
    Ok(())
}

async fn open_rows<S: StateWrite>(
    state: &mut S,
    params: &ComputeParams,
    s: &pb::Sprint,
    beacon: &pb::Beacon,
) -> Result<(), ExecError> {
    let b: [u8; 32] = beacon
        .value
        .as_slice()
        .try_into()
        .map_err(|_| InternalError::invariant("beacon is not 32 bytes"))?;
    for (node, mut c) in commitments(state, s.epoch).await? {
        let root: [u8; 32] = c
            .root
            .as_slice()
            .try_into()
            .map_err(|_| InternalError::invariant("commitment root is not 32 bytes"))?;
        c.indices = seed::opening_indices(&b, &node.0, &root, params.openings, c.n_rows);
        state.put_proto(state_key::commit(s.epoch, &node), &c);
    }
    Ok(())
}

/// Recomputes queued rows, oldest first, while the block's MAC budget
/// lasts. The queue is read from its head (`VERIFYQ_HEAD`), one entry at a
/// time, so a long queue costs nothing for the entries a block does not
/// reach.
async fn verify_queue<S: StateWrite>(
    state: &mut S,
    params: &ComputeParams,
) -> Result<(), ExecError> {
    let mut budget = params.mac_budget_per_block;
    let mut head = state.get_u64(state_key::VERIFYQ_HEAD).await?.unwrap_or(0);
    let start = head;
    loop {
        let key = state_key::verifyq(head);
        let Some(q) = state.get_proto::<pb::QueuedOpening>(&key).await? else {
            break;
        };
        let Some(mut s) = sprint(state, q.epoch).await? else {
            return Err(InternalError::invariant("queued opening of an unknown sprint").into());
        };
        let profile = Profile::by_id(u16::try_from(s.profile_id).unwrap_or(0))
            .ok_or_else(|| InternalError::invariant("sprint of an unknown profile"))?;
        let cost = profile.row_macs();
        let node: Address = q.node.parse().map_err(|e| InternalError::Corrupt {
            key: key.clone(),
            reason: format!("node: {e}"),
        })?;
        let Some(mut c) = commitment(state, q.epoch, &node).await? else {
            return Err(InternalError::invariant("queued opening without a commitment").into());
        };
        let pending = c.status == pb::CommitStatus::Pending as i32;
        if pending && budget < cost {
            break;
        }
        state.delete(key);
        head = head.saturating_add(1);
        s.queued = s.queued.saturating_sub(1);
        state.put_proto(state_key::sprint(q.epoch), &s);
        if !pending {
            continue; // already failed at another slot: nothing to spend
        }
        budget = budget.saturating_sub(cost);
        let ch = challenge(profile, seed32(&s)?);
        let key = prf::input_key(ch.seed(), &node.0);
        let y = ch.row(&ch.input(&key, q.index));
        if y != q.y {
            c.status = pb::CommitStatus::Failed as i32;
            c.failure = format!(
                "row {} (slot {}) is not the row function's output",
                q.index, q.slot
            );
        } else {
            c.verified = c.verified.saturating_add(1);
            if c.verified >= u32::from(params.openings) {
                c.status = pb::CommitStatus::Passed as i32;
            }
        }
        state.put_proto(state_key::commit(q.epoch, &node), &c);
    }
    if head != start {
        state.put_u64(state_key::VERIFYQ_HEAD.into(), head);
    }
    Ok(())
}

async fn slash_node<S: StateWrite>(
    state: &mut S,
    n: &mut pb::ComputeNode,
    bps: u32,
) -> Result<Amount, ExecError> {
    let stake = stored_stake(n)?;
    let cut =
        bps_share(stake, bps).ok_or_else(|| InternalError::invariant("slash above 10000 bps"))?;
    if cut > 0 {
        state
            .transfer(
                &Address::module(module_accounts::STAKING_POOL),
                &Address::module(module_accounts::TREASURY),
                cut,
            )
            .await?;
    }
    n.stake = stake.saturating_sub(cut).to_string();
    let total = crate::staking::state::stored_amount(&state_key::node_label(n), &n.slashed_total)?;
    n.slashed_total = total.saturating_add(cut).to_string();
    Ok(cut)
}

/// Applies a sprint's outcomes to every node.
async fn settle<S: StateWrite>(
    state: &mut S,
    params: &ComputeParams,
    mut s: pb::Sprint,
) -> Result<(), ExecError> {
    let profile = params.profile().map_err(InternalError::invariant)?;
    let commits: std::collections::BTreeMap<Address, pb::CapacityCommit> =
        commitments(state, s.epoch).await?.into_iter().collect();
    let throttle_until = s
        .epoch
        .saturating_add(1)
        .saturating_add(params.throttle_epochs);
    let mut passed: Vec<(Address, u64)> = Vec::new();
    for (addr, mut n) in state.compute_nodes().await? {
        if n.status != pb::NodeStatus::Active as i32 && !commits.contains_key(&addr) {
            continue;
        }
        let rep = n.reputation.get_or_insert_with(Default::default);
        let mut ev = EventCapacitySettled {
            node: addr,
            epoch: s.epoch,
            outcome: "absent",
            rows: 0,
            mac_per_s: 0,
            slashed: 0,
            throttled_until_epoch: 0,
            reason: String::new(),
        };
        let outcome = commits.get(&addr).map(|c| {
            let status =
                pb::CommitStatus::try_from(c.status).unwrap_or(pb::CommitStatus::Unspecified);
            (c, status)
        });
        let mut penalty = None;
        match outcome {
            None => {
                ev.reason = "no commitment in this sprint".into();
                n.verified_mac_per_s = 0;
            }
            Some((c, pb::CommitStatus::Passed)) => {
                rep.sprints_passed = rep.sprints_passed.saturating_add(1);
                rep.consecutive_faults = 0;
                // rows × MAC/row over the sprint's nominal duration
                let macs = u128::from(c.n_rows).saturating_mul(u128::from(profile.row_macs()));
                let ms = u128::from(params.sprint_blocks)
                    .saturating_mul(u128::from(params.block_time_ms));
                let per_s = comrade_primitives::amount::mul_div(macs, 1000, ms).unwrap_or(0);
                n.verified_mac_per_s = u64::try_from(per_s).unwrap_or(u64::MAX);
                n.verified_epoch = s.epoch;
                ev.outcome = "passed";
                ev.rows = c.n_rows;
                passed.push((addr, c.n_rows));
                ev.mac_per_s = n.verified_mac_per_s;
                ev.reason = format!("{} of {} opened rows verified", c.verified, params.openings);
            }
            Some((c, pb::CommitStatus::Failed)) => {
                rep.sprints_failed = rep.sprints_failed.saturating_add(1);
                ev.outcome = "failed";
                ev.rows = c.n_rows;
                ev.reason = c.failure.clone();
                penalty = Some(params.slash_capacity_bps);
            }
            Some((c, _)) => {
                rep.sprints_missed = rep.sprints_missed.saturating_add(1);
                ev.outcome = "missed";
                ev.rows = c.n_rows;
                ev.reason = if c.revealed {
                    "revealed rows were not all verified".into()
                } else {
                    format!("committed but not revealed by height {}", s.reveal_deadline)
                };
                penalty = Some(params.slash_miss_bps);
                let mut c = c.clone();
                c.status = pb::CommitStatus::Missed as i32;
                state.put_proto(state_key::commit(s.epoch, &addr), &c);
            }
        }
        if let Some(bps) = penalty {
            let rep = n.reputation.get_or_insert_with(Default::default);
            rep.consecutive_faults = rep.consecutive_faults.saturating_add(1);
            if params.jail_after_faults > 0 && rep.consecutive_faults >= params.jail_after_faults {
                // Out of routing and of sprints; its stake stays slashable.
                n.status = pb::NodeStatus::Jailed as i32;
                ev.reason = format!(
                    "{}; jailed after {} failed or missed sprints in a row",
                    ev.reason, rep.consecutive_faults
                );
            }
            n.verified_mac_per_s = 0;
            n.throttled_until_epoch = n.throttled_until_epoch.max(throttle_until);
            ev.throttled_until_epoch = n.throttled_until_epoch;
            ev.slashed = slash_node(state, &mut n, bps).await?;
        }
        state.put_compute_node(&addr, &n);
        state.emit(ev);
    }
    pay_rewards(state, params, s.epoch, &passed).await?;
    s.settled = true;
    state.put_proto(state_key::sprint(s.epoch), &s);
    Ok(())
}

/// Splits the sprint's reward (at most what the pool holds) among the
/// nodes that passed, by their verified rows; rounding dust stays in the
/// pool.
async fn pay_rewards<S: StateWrite>(
    state: &mut S,
    params: &ComputeParams,
    epoch: u64,
    passed: &[(Address, u64)],
) -> Result<(), ExecError> {
    use comrade_bank::bank::BankRead as _;
    let total_rows = passed.iter().fold(0u64, |t, (_, r)| t.saturating_add(*r));
    if total_rows == 0 || params.reward_per_sprint == 0 {
        return Ok(());
    }
    let pool = Address::module(module_accounts::REWARD_POOL);
    let paid_out = params.reward_per_sprint.min(state.balance(&pool).await?);
    for (addr, rows) in passed {
        let amount = comrade_primitives::amount::mul_div(
            paid_out,
            u128::from(*rows),
            u128::from(total_rows),
        )
        .ok_or_else(|| InternalError::invariant("a reward share exceeds the reward"))?;
        if amount == 0 {
            continue;
        }
        state.transfer(&pool, addr, amount).await?;
        if let Some(mut n) = state.compute_node(addr).await? {
            // Records from before their first reward have no total yet.
            let total = if n.rewards_total.is_empty() {
                0
            } else {
                crate::staking::state::stored_amount(&state_key::node_label(&n), &n.rewards_total)?
            };
            n.rewards_total = total.saturating_add(amount).to_string();
            state.put_compute_node(addr, &n);
        }
        state.emit(super::event::EventCapacityRewarded {
            node: *addr,
            epoch,
            amount,
            rows: *rows,
            total_rows,
            paid_out,
        });
    }
    Ok(())
}
