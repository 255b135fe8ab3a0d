//! Genesis, begin-block (evidence, liveness) and end-block (unbonding
//! payouts, validator-set updates) of the staking component.

use std::collections::BTreeSet;

use cnidarium::StateWrite;
use comrade_bank::{auth::module_accounts, bank::BankWrite as _};
use comrade_primitives::{
    Address, Amount, ExecError, InternalError,
    amount::bps_share,
    component::{BlockContext, EventExt as _, MisbehaviorKind, VoteFlag},
    proto::{app::v1 as app_pb, staking::v1 as pb},
    state::{StateReadProto as _, StateWriteProto as _},
};

use super::{
    StakingGenesis, StakingParams, StakingRead as _, StakingWrite as _, consensus_address,
    event::{
        EventUnbondingCompleted, EventValidatorJailed, EventValidatorSetUpdated,
        EventValidatorSlashed,
    },
    state::{bonded, operator, stored_amount},
    state_key, update,
};

fn pool() -> Address {
    Address::module(module_accounts::STAKING_POOL)
}

pub(super) async fn init_chain<S: StateWrite>(
    state: &mut S,
    genesis: &StakingGenesis,
) -> Result<(), ExecError> {
    let params = &genesis.params;
    params
        .validate()
        .map_err(|e| InternalError::invariant(format!("genesis staking params: {e}")))?;
    state.put_proto(state_key::PARAMS.into(), &pb::Params::from(params));
    for v in &genesis.validators {
        let addr = consensus_address(&v.pub_key);
        let power = u128::try_from(v.power)
            .map_err(|_| InternalError::invariant("genesis power is negative"))?;
        let stake = power
            .checked_mul(params.power_reduction)
            .ok_or_else(|| InternalError::invariant("genesis stake overflows"))?;
        if stake < params.min_self_stake {
            return Err(InternalError::invariant(format!(
                "genesis validator {:?}: stake {stake} below min_self_stake {}",
                v.name, params.min_self_stake
            ))
            .into());
        }
        if state.validator_of(&v.operator).await?.is_some() {
            return Err(InternalError::invariant(format!(
                "genesis operator {} runs two validators",
                v.operator
            ))
            .into());
        }
        // The operator's genesis balance pays the stake (bank ran first).
        state.transfer(&v.operator, &pool(), stake).await?;
        state.put_validator(
            &addr,
            &pb::Validator {
                operator: v.operator.to_string(),
                consensus_pubkey: v.pub_key.to_vec(),
                moniker: v.name.clone(),
                bonded: stake.to_string(),
                slashed_total: "0".into(),
                ..Default::default()
            },
        );
        state.put_operator_index(&v.operator, &addr);
        put_set_member(state, &addr, &v.pub_key, v.power);
        state.put_proto(state_key::view(&addr), &v.record());
    }
    Ok(())
}

fn put_set_member<S: StateWrite + ?Sized>(state: &mut S, addr: &[u8; 20], key: &[u8], power: i64) {
    let k = state_key::set_member(addr);
    if power == 0 {
        state.delete(k);
    } else {
        state.put_proto(
            k,
            &pb::SetUpdate {
                consensus_address: addr.to_vec(),
                consensus_pubkey: key.to_vec(),
                power,
            },
        );
    }
}

pub(super) async fn begin_block<S: StateWrite>(
    state: &mut S,
    ctx: &BlockContext,
) -> Result<(), ExecError> {
    let params = state.staking_params().await?;
    for m in &ctx.misbehavior {
        // Both kinds are equivocation by the offender's key.
        let reason = match m.kind {
            MisbehaviorKind::DuplicateVote | MisbehaviorKind::LightClientAttack => "double_sign",
        };
        let Some(mut v) = state.validator(&m.validator).await? else {
            continue; // not a validator this chain knows
        };
        if v.tombstoned {
            continue; // punished once
        }
        slash(
            state,
            &m.validator,
            &mut v,
            params.slash_double_sign_bps,
            m.height,
            reason,
        )
        .await?;
        v.jailed = true;
        v.tombstoned = true;
        v.jailed_until = u64::MAX;
        state.put_validator(&m.validator, &v);
        state.mark_dirty(m.validator);
        state.emit(EventValidatorJailed {
            operator: operator(&v)?,
            reason,
            until: 0,
        });
    }
    let window = params.signed_blocks_window;
    let max_missed = params.max_missed();
    for vote in &ctx.last_commit {
        let Some(mut v) = state.validator(&vote.validator).await? else {
            continue;
        };
        if v.jailed {
            continue;
        }
        let mut live = state.liveness(&vote.validator).await?.unwrap_or_default();
        let bytes = usize::try_from(window.div_ceil(8)).unwrap_or(usize::MAX);
        if live.bitmap.len() != bytes {
            live = pb::Liveness {
                counted: 0,
                missed: 0,
                bitmap: vec![0; bytes],
            };
        }
        let slot = live.counted.checked_rem(window).unwrap_or(0);
        let (byte, bit) = (usize::try_from(slot / 8).unwrap_or(0), 1u8 << (slot % 8));
        let was = live.bitmap[byte] & bit != 0;
        let missed = vote.flag == VoteFlag::Absent;
        match (was, missed) {
            (false, true) => {
                live.bitmap[byte] |= bit;
                live.missed = live.missed.saturating_add(1);
            }
            (true, false) => {
                live.bitmap[byte] &= !bit;
                live.missed = live.missed.saturating_sub(1);
            }
            _ => {}
        }
        live.counted = live.counted.saturating_add(1);
        if live.counted >= window && u64::from(live.missed) > max_missed {
            let infraction = ctx.height.saturating_sub(1);
            slash(
                state,
                &vote.validator,
                &mut v,
                params.slash_downtime_bps,
                infraction,
                "downtime",
            )
            .await?;
            v.jailed = true;
            v.jailed_until = ctx.height.saturating_add(params.downtime_jail_blocks);
            state.put_validator(&vote.validator, &v);
            state.mark_dirty(vote.validator);
            state.delete(state_key::liveness(&vote.validator));
            state.emit(EventValidatorJailed {
                operator: operator(&v)?,
                reason: "downtime",
                until: v.jailed_until,
            });
        } else {
            state.put_proto(state_key::liveness(&vote.validator), &live);
        }
    }
    Ok(())
}

/// Slashes `bps` of validator `addr`'s bonded stake and of its unbondings
/// that started at or after `infraction_height`, into the treasury. The
/// caller stores `v`.
async fn slash<S: StateWrite>(
    state: &mut S,
    addr: &[u8; 20],
    v: &mut pb::Validator,
    bps: u32,
    infraction_height: u64,
    reason: &'static str,
) -> Result<(), ExecError> {
    let invariant = || InternalError::invariant("slash fraction above 10000 bps");
    let stake = bonded(v)?;
    let from_bonded = bps_share(stake, bps).ok_or_else(invariant)?;
    v.bonded = stake.saturating_sub(from_bonded).to_string();
    let mut from_unbonding: Amount = 0;
    for (key, mut u) in state.unbondings().await? {
        if u.consensus_address.as_slice() != addr || u.creation_height < infraction_height {
            continue;
        }
        let amount = stored_amount(&key, &u.amount)?;
        let cut = bps_share(amount, bps).ok_or_else(invariant)?;
        if cut == 0 {
            continue;
        }
        u.amount = amount.saturating_sub(cut).to_string();
        state.put_proto(key, &u);
        from_unbonding = from_unbonding.saturating_add(cut);
    }
    let total = from_bonded.saturating_add(from_unbonding);
    let slashed =
        stored_amount("staking validator slashed_total", &v.slashed_total)?.saturating_add(total);
    v.slashed_total = slashed.to_string();
    if total > 0 {
        state
            .transfer(&pool(), &Address::module(module_accounts::TREASURY), total)
            .await?;
    }
    state.emit(EventValidatorSlashed {
        operator: operator(v)?,
        reason,
        infraction_height,
        from_bonded,
        from_unbonding,
    });
    Ok(())
}

pub(super) async fn end_block<S: StateWrite>(
    state: &mut S,
    ctx: &BlockContext,
) -> Result<(), ExecError> {
    let params = state.staking_params().await?;
    pay_matured_unbondings(state, ctx.height).await?;
    let epoch_end = ctx.height.checked_rem(params.epoch_blocks) == Some(0);
    let dirty = state
        .object_get::<BTreeSet<[u8; 20]>>(state_key::DIRTY_OBJECT)
        .unwrap_or_default();
    let mut updates = Vec::new();
    if epoch_end || !dirty.is_empty() {
        let decided = decide(
            state,
            &params,
            epoch_end.then_some(()).map_or(Some(&dirty), |()| None),
        )
        .await?;
        if !decided.is_empty() {
            let effective = ctx.height.saturating_add(2);
            let mut total: i64 = 0;
            for u in &decided {
                let addr: [u8; 20] =
                    u.consensus_address.as_slice().try_into().map_err(|_| {
                        InternalError::invariant("decided update without an address")
                    })?;
                put_set_member(state, &addr, &u.consensus_pubkey, u.power);
                updates.push(update(u.consensus_pubkey.clone(), u.power));
            }
            for (_, p) in state.decided_set().await? {
                total = total.saturating_add(p);
            }
            state.emit(EventValidatorSetUpdated {
                changes: decided.len(),
                total_power: total,
                effective_height: effective,
            });
            state.put_proto(
                state_key::pending(effective),
                &pb::PendingUpdates { updates: decided },
            );
        }
    }
    state.object_put(state_key::UPDATES_OBJECT, updates);
    apply_pending(state, ctx.height).await
}

/// The changes to the decided set: for every validator (at an epoch end)
/// or only the `dirty` ones (jailed, tombstoned or unjailed in this block).
async fn decide<S: StateWrite>(
    state: &S,
    params: &StakingParams,
    only: Option<&BTreeSet<[u8; 20]>>,
) -> Result<Vec<pb::SetUpdate>, ExecError> {
    let current: std::collections::BTreeMap<[u8; 20], i64> =
        state.decided_set().await?.into_iter().collect();
    let all = state.all_validators().await?;
    let desired_power = |v: &pb::Validator| -> Result<i64, InternalError> {
        if v.jailed || v.tombstoned {
            return Ok(0);
        }
        Ok(params.power(bonded(v)?))
    };
    let mut want: std::collections::BTreeMap<[u8; 20], i64> = current.clone();
    match only {
        None => {
            let mut ranked = Vec::new();
            for (addr, v) in &all {
                let p = desired_power(v)?;
                if p > 0 {
                    ranked.push((std::cmp::Reverse(p), *addr));
                }
            }
            ranked.sort();
            let max = usize::try_from(params.max_validators).unwrap_or(usize::MAX);
            want = ranked
                .into_iter()
                .take(max)
                .map(|(std::cmp::Reverse(p), a)| (a, p))
                .collect();
        }
        Some(dirty) => {
            for addr in dirty {
                let Some((_, v)) = all.iter().find(|(a, _)| a == addr) else {
                    continue;
                };
                let p = desired_power(v)?;
                if p == 0 {
                    want.remove(addr);
                } else if current.contains_key(addr)
                    || want.len() < usize::try_from(params.max_validators).unwrap_or(usize::MAX)
                {
                    // An unjailed validator returns with its current power if
                    // there is room; otherwise it waits for the epoch end.
                    want.insert(*addr, p);
                }
            }
        }
    }
    let mut out = Vec::new();
    let keys: BTreeSet<[u8; 20]> = current.keys().chain(want.keys()).copied().collect();
    for addr in keys {
        let (old, new) = (
            current.get(&addr).copied().unwrap_or(0),
            want.get(&addr).copied().unwrap_or(0),
        );
        if old == new {
            continue;
        }
        let Some((_, v)) = all.iter().find(|(a, _)| *a == addr) else {
            return Err(InternalError::invariant("decided set member without a record").into());
        };
        out.push(pb::SetUpdate {
            consensus_address: addr.to_vec(),
            consensus_pubkey: v.consensus_pubkey.clone(),
            power: new,
        });
    }
    if out.is_empty() {
        return Ok(out);
    }
    // CometBFT refuses a set that is empty or above its total power cap.
    let total = want.values().try_fold(0i64, |s, p| s.checked_add(*p));
    match total {
        Some(t) if t > 0 && t <= super::params::MAX_TOTAL_POWER => Ok(out),
        // Keep the old set rather than halt the chain; the stake that
        // would empty it stays bonded but unused until someone bonds.
        _ => Ok(Vec::new()),
    }
}

/// Applies the updates that take effect at `height` to the set view.
async fn apply_pending<S: StateWrite>(state: &mut S, height: u64) -> Result<(), ExecError> {
    let key = state_key::pending(height);
    let Some(p) = state.get_proto::<pb::PendingUpdates>(&key).await? else {
        return Ok(());
    };
    state.delete(key);
    for u in p.updates {
        let addr: [u8; 20] = u
            .consensus_address
            .as_slice()
            .try_into()
            .map_err(|_| InternalError::invariant("pending update without an address"))?;
        let view_key = state_key::view(&addr);
        if u.power == 0 {
            state.delete(view_key);
            continue;
        }
        let v = state
            .validator(&addr)
            .await?
            .ok_or_else(|| InternalError::invariant("pending update for an unknown validator"))?;
        state.put_proto(
            view_key,
            &app_pb::Validator {
                name: v.moniker.clone(),
                pub_key: u.consensus_pubkey,
                power: u.power,
                operator: v.operator.clone(),
            },
        );
    }
    Ok(())
}

/// Pays out every unbonding whose completion height has come.
async fn pay_matured_unbondings<S: StateWrite>(
    state: &mut S,
    height: u64,
) -> Result<(), ExecError> {
    // Keys sort by completion height, so the scan can stop at the first
    // entry still running.
    for (key, u) in state.unbondings().await? {
        if u.completion_height > height {
            break;
        }
        let amount = stored_amount(&key, &u.amount)?;
        let to: Address = u.operator.parse().map_err(|e| InternalError::Corrupt {
            key: key.clone(),
            reason: format!("operator: {e}"),
        })?;
        if amount > 0 {
            state.transfer(&pool(), &to, amount).await?;
        }
        state.delete(key);
        state.emit(EventUnbondingCompleted {
            operator: to,
            amount,
        });
    }
    Ok(())
}
