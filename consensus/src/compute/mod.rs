//! Compute nodes (whitepaper §2.1, §2.2): registration with stake
//! proportional to the claimed capacity, the record gateways route by, the
//! routing weight, unbonding, and the hash-chain beacon of design §8.2 that
//! will pick which capacity rows and receipts are opened (no single
//! proposer can choose it).
//!
//! Capacity sprints (`capacity`) and audits of real inference (`audit`)
//! build on these records; see `docs/proof-of-compute.md` for what is done
//! and what is next.

pub mod audit;
mod binomial;
mod binomial_tables;
mod capacity;
pub mod commit_capacity;
pub mod commit_receipts;
pub mod error;
pub mod event;
pub mod open_receipt;
pub mod params;
pub mod query;
pub mod register;
pub mod reveal_capacity;
pub mod reveal_key;
pub mod state;
pub mod state_key;
pub mod submit_audit;
pub mod unbond;
pub mod update;
pub mod weight;

use std::collections::BTreeMap;

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_bank::{auth::module_accounts, bank::BankWrite as _};
use comrade_primitives::{
    Address, Amount, ExecError, InternalError, TxError,
    component::{BlockContext, Component, EventExt as _},
    proto::compute::v1 as pb,
    state::StateWriteProto as _,
};
use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};

pub use binomial::critical;
pub use capacity::{commitment, sprint};
pub use commit_capacity::MsgCommitCapacity;
pub use commit_receipts::MsgCommitReceipts;
pub use error::ComputeError;
pub use open_receipt::MsgOpenReceipt;
pub use params::ComputeParams;
pub use register::MsgRegisterComputeNode;
pub use reveal_capacity::MsgRevealCapacity;
pub use reveal_key::MsgRevealKey;
pub use state::{ComputeRead, ComputeWrite};
pub use submit_audit::MsgSubmitAudit;
pub use unbond::MsgUnbondComputeNode;
pub use update::MsgUpdateComputeNode;
pub use weight::routing_weight;

use event::{EventBeaconFinalized, EventComputeNodeChanged, EventComputeNodeJailed};

/// The compute genesis section.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComputeGenesis {
    /// Params.
    pub params: ComputeParams,
}

/// The compute component.
#[derive(Debug)]
pub struct Compute;

/// What a node says about itself (endpoint, region, models, hardware).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeProfile {
    endpoint: String,
    region: String,
    models: Vec<String>,
    hardware: pb::HardwareClaim,
}

/// Stateless caps (the params may be stricter).
const MAX_ENDPOINT_BYTES: usize = 256;
const MAX_NAME_BYTES: usize = 128;
const MAX_MODELS: usize = 256;

fn invalid(m: String) -> TxError {
    ComputeError::InvalidMessage(m).into()
}

impl NodeProfile {
    fn new(
        endpoint: String,
        region: String,
        models: Vec<String>,
        hardware: Option<pb::HardwareClaim>,
    ) -> Result<Self, TxError> {
        Ok(Self {
            endpoint,
            region,
            models,
            hardware: hardware.ok_or_else(|| invalid("hardware claim missing".into()))?,
        })
    }

    fn check(&self) -> Result<(), TxError> {
        let e = &self.endpoint;
        if e.len() > MAX_ENDPOINT_BYTES
            || !(e.starts_with("http://") || e.starts_with("https://"))
            || e.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid(format!(
                "endpoint {e:?} must be an http(s) URL of at most {MAX_ENDPOINT_BYTES} bytes"
            )));
        }
        let name_ok = |s: &str| {
            !s.is_empty() && s.len() <= MAX_NAME_BYTES && s.chars().all(|c| c.is_ascii_graphic())
        };
        if !name_ok(&self.region) {
            return Err(invalid(format!(
                "region {:?} must be 1-128 printable ASCII bytes",
                self.region
            )));
        }
        if self.models.is_empty() || self.models.len() > MAX_MODELS {
            return Err(invalid(format!(
                "a node serves 1-{MAX_MODELS} models, not {}",
                self.models.len()
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.models {
            if !name_ok(m) || !seen.insert(m) {
                return Err(invalid(format!(
                    "model id {m:?} is empty, too long, not printable or repeated"
                )));
            }
        }
        let h = &self.hardware;
        if !name_ok(&h.accelerator) || h.count == 0 {
            return Err(invalid(format!(
                "hardware claim needs an accelerator name and a count > 0 (got {:?} × {})",
                h.accelerator, h.count
            )));
        }
        Ok(())
    }

    fn check_params(&self, params: &ComputeParams) -> Result<(), TxError> {
        let max = usize::try_from(params.max_models).unwrap_or(usize::MAX);
        if self.models.len() > max {
            return Err(invalid(format!(
                "{} models listed; at most {max}",
                self.models.len()
            )));
        }
        Ok(())
    }

    fn check_stake(&self, params: &ComputeParams, stake: Amount) -> Result<(), TxError> {
        let required = params
            .required_stake(self.hardware.int8_tops)
            .ok_or_else(|| {
                invalid("the claimed capacity overflows the stake requirement".into())
            })?;
        if stake < required {
            return Err(ComputeError::StakeTooLow {
                stake,
                required,
                int8_tops: self.hardware.int8_tops,
            }
            .into());
        }
        Ok(())
    }

    fn record(&self) -> pb::ComputeNode {
        pb::ComputeNode {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            models: self.models.clone(),
            hardware: Some(self.hardware.clone()),
            ..Default::default()
        }
    }
}

/// A node's stored stake.
pub fn stored_stake(n: &pb::ComputeNode) -> Result<Amount, InternalError> {
    crate::staking::state::stored_amount(&state_key::node_label(n), &n.stake)
}

fn status_name(s: i32) -> &'static str {
    match pb::NodeStatus::try_from(s) {
        Ok(pb::NodeStatus::Active) => "active",
        Ok(pb::NodeStatus::Unbonding) => "unbonding",
        Ok(pb::NodeStatus::Jailed) => "jailed",
        _ => "in an unknown state",
    }
}

/// The operator's node, which must be active.
async fn require_active<S: StateWrite>(
    state: &S,
    operator: &Address,
) -> Result<pb::ComputeNode, ExecError> {
    require_status(state, operator, &[pb::NodeStatus::Active]).await
}

/// The node of `operator`, if its status is one of `allowed`.
async fn require_status<S: StateWrite>(
    state: &S,
    operator: &Address,
    allowed: &[pb::NodeStatus],
) -> Result<pb::ComputeNode, ExecError> {
    let n = state
        .compute_node(operator)
        .await?
        .ok_or_else(|| ComputeError::NoNode {
            operator: operator.to_string(),
        })?;
    if !allowed.iter().any(|a| *a as i32 == n.status) {
        return Err(ComputeError::NotActive {
            operator: operator.to_string(),
            status: status_name(n.status),
        }
        .into());
    }
    Ok(n)
}

/// `β_p = H("comrade/beacon/v1" ‖ len(chain_id) ‖ chain_id ‖ p ‖ (addr ‖ k)…)`
/// over the reveals sorted by address bytes.
pub fn beacon_value(
    chain_id: &str,
    period: u64,
    reveals: &BTreeMap<Address, [u8; 32]>,
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"comrade/beacon/v1");
    h.update(
        u32::try_from(chain_id.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    h.update(chain_id.as_bytes());
    h.update(period.to_le_bytes());
    for (a, k) in reveals {
        h.update(a.0);
        h.update(k);
    }
    h.finalize().into()
}

#[async_trait]
impl Component for Compute {
    type Genesis = ComputeGenesis;

    async fn init_chain<S: StateWrite>(state: &mut S, g: &ComputeGenesis) -> Result<(), ExecError> {
        g.params
            .validate()
            .map_err(|e| InternalError::invariant(format!("genesis compute params: {e}")))?;
        state.put_proto(state_key::PARAMS.into(), &pb::Params::from(&g.params));
        state.put_u64(state_key::EPOCH.into(), 0);
        Ok(())
    }

    async fn begin_block<S: StateWrite>(
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.compute_params().await?;
        let epoch = params.epoch_of(ctx.height);
        if state.compute_epoch().await? != epoch {
            state.put_u64(state_key::EPOCH.into(), epoch);
        }
        capacity::begin_block(state, ctx, &params).await
    }

    async fn end_block<S: StateWrite>(state: &mut S, ctx: &BlockContext) -> Result<(), ExecError> {
        let params = state.compute_params().await?;
        let period = params.period_of(ctx.height);
        if period > 0 {
            let last_of_window = params
                .period_start(period)
                .saturating_add(params.beacon_reveal_blocks)
                .saturating_sub(1);
            if ctx.height == last_of_window {
                let p = period.saturating_sub(1);
                let beacon = finalize_beacon(state, &ctx.chain_id, &params, p).await?;
                audit::select(state, &params, p, &beacon, ctx.height).await?;
            }
        }
        capacity::end_block(state, ctx, &params).await?;
        audit::end_block(state, ctx, &params).await?;
        pay_unbonded(state, ctx.height).await
    }
}

/// Fixes `β_p` from the reveals included by the end of its window, and
/// counts a missed reveal for every active node that owed one.
async fn finalize_beacon<S: StateWrite>(
    state: &mut S,
    chain_id: &str,
    params: &ComputeParams,
    period: u64,
) -> Result<[u8; 32], ExecError> {
    let prefix = state_key::reveal_prefix(period);
    let mut reveals = BTreeMap::new();
    let mut keys = Vec::new();
    {
        let mut stream = std::pin::pin!(state.prefix_raw(&prefix));
        while let Some(item) = stream.next().await {
            let (key, bytes) = item.map_err(|e| InternalError::storage("scanning reveals", e))?;
            let corrupt = |reason: String| InternalError::Corrupt {
                key: key.clone(),
                reason,
            };
            let owner: Address = key
                .strip_prefix(&prefix)
                .ok_or_else(|| corrupt("foreign key".into()))?
                .parse()
                .map_err(|e| corrupt(format!("owner: {e}")))?;
            let k: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| corrupt("reveal is not 32 bytes".into()))?;
            reveals.insert(owner, k);
            keys.push(key);
        }
    }
    for k in keys {
        state.delete(k);
    }
    let value = beacon_value(chain_id, period, &reveals);
    let count = u32::try_from(reveals.len()).unwrap_or(u32::MAX);
    state.put_proto(
        state_key::beacon(period),
        &pb::Beacon {
            value: value.to_vec(),
            reveals: count,
        },
    );
    let start = params.period_start(period);
    let mut missed = 0u32;
    for (addr, mut n) in state.compute_nodes().await? {
        if n.status != pb::NodeStatus::Active as i32
            || n.registered_height >= start
            || reveals.contains_key(&addr)
        {
            continue;
        }
        missed = missed.saturating_add(1);
        let chain = n.keychain.get_or_insert_with(Default::default);
        chain.misses = chain.misses.saturating_add(1);
        let misses = chain.misses;
        let rep = n.reputation.get_or_insert_with(Default::default);
        rep.reveals_missed = rep.reveals_missed.saturating_add(1);
        if params.jail_after_reveal_misses > 0 && misses >= params.jail_after_reveal_misses {
            // Out of routing and of sprints; its stake stays slashable.
            n.status = pb::NodeStatus::Jailed as i32;
            state.emit(EventComputeNodeJailed {
                operator: addr,
                period,
                reason: format!("missed {misses} beacon reveals in a row"),
            });
        }
        state.put_compute_node(&addr, &n);
    }
    state.emit(EventBeaconFinalized {
        period,
        value: hex::encode(value),
        reveals: count,
        missed,
    });
    Ok(value)
}

/// Pays out every unbonding node whose time has come and removes it.
async fn pay_unbonded<S: StateWrite>(state: &mut S, height: u64) -> Result<(), ExecError> {
    for (addr, n) in state.compute_nodes().await? {
        if n.status != pb::NodeStatus::Unbonding as i32 || n.unbonding_until > height {
            continue;
        }
        let stake = stored_stake(&n)?;
        if stake > 0 {
            state
                .transfer(
                    &Address::module(module_accounts::STAKING_POOL),
                    &addr,
                    stake,
                )
                .await?;
        }
        state.delete(state_key::node(&addr));
        state.emit(EventComputeNodeChanged {
            operator: addr,
            action: "unbonded",
            stake,
        });
    }
    Ok(())
}
