//! The tx pipeline shared by CheckTx, PrepareProposal, ProcessProposal and
//! FinalizeBlock: decode → stateless checks → `check_and_execute` on a fork
//! (applied only on success), with the signature cache, the parallel
//! signature pre-check and the read prefetch around it.

use anyhow::Result;
use cnidarium::{StateDelta, StateRead as _, StateWrite};
use comrade_bank::auth::{AuthRead as _, state_key as auth_key};
use comrade_bank::bank::state_key as bank_key;
use comrade_primitives::{Address, TxError, component::BlockContext};

use super::{App, lock};
use crate::{
    error::ExecError,
    execute::{ExecContext, check_and_execute},
    genesis::module_accounts,
    params::ChainParams,
    read_cache::CachedSnapshot,
    state::load_params,
    state_key,
    tx::{self, DecodedTx},
};
use comrade_primitives::state::StateWriteProto as _;

/// A tx decoded ahead of execution (see [`App::predecode`]).
pub(super) struct Predecoded {
    pub(super) decoded: Result<DecodedTx, TxError>,
    /// The account number its signature verified for, if checked.
    pub(super) verified_for: Option<u64>,
}

/// A fresh state for executing block `ctx.height` on `snapshot`: params
/// loaded, the height written, then every component's `begin_block`.
pub(super) async fn begin_block(
    snapshot: CachedSnapshot,
    params: &ChainParams,
    ctx: &BlockContext,
) -> Result<StateDelta<CachedSnapshot>> {
    let mut state = StateDelta::new(snapshot);
    load_params(&mut state, params.clone());
    state.put_u64(state_key::BLOCK_HEIGHT.to_string(), ctx.height);
    // The hooks run on their own delta so their events (slashes, jailings)
    // can be kept: the block's events are begin-block events, then the
    // end-block ones (FinalizeBlock reports both).
    let mut begin = StateDelta::new(&mut state);
    match crate::modules::begin_block(&mut begin, ctx).await {
        Ok(()) => {}
        Err(ExecError::Tx(e)) => anyhow::bail!("a begin-block hook failed: {e}"),
        Err(ExecError::Internal(e)) => anyhow::bail!("{e}"),
    }
    let (_, events) = begin.apply();
    state.object_put(BEGIN_EVENTS_OBJECT, events);
    Ok(state)
}

/// Ephemeral: the begin-block hooks' events, until the end block reports
/// them.
pub(super) const BEGIN_EVENTS_OBJECT: &str = "app/begin_block_events";

/// Reads, concurrently, every committed key the block's txs will read (each
/// signer's account and balance, the keys each action names, the fee
/// collector's balance) into the read cache, so the sequential execution
/// does not wait on one `spawn_blocking` read after another. Only warms the
/// cache: what execution reads is unchanged.
pub(super) async fn prefetch<'a>(
    snapshot: &CachedSnapshot,
    decoded: impl IntoIterator<Item = &'a DecodedTx>,
) -> Result<()> {
    use futures::StreamExt as _;
    /// Reads in flight at once.
    const CONCURRENCY: usize = 16;
    let mut keys = std::collections::BTreeSet::new();
    keys.insert(bank_key::balance(&Address::module(
        module_accounts::FEE_COLLECTOR,
    )));
    for d in decoded {
        keys.insert(auth_key::account(&d.signer));
        keys.insert(bank_key::balance(&d.signer));
        for m in &d.msgs {
            keys.extend(m.read_keys());
        }
    }
    let mut reads = futures::stream::iter(keys)
        .map(|k| snapshot.get_raw(&k))
        .buffer_unordered(CONCURRENCY);
    while let Some(r) = reads.next().await {
        r?;
    }
    Ok(())
}

impl App {
    /// Runs the whole pipeline for one tx on a fork of `state`; applies the
    /// fork only on success.
    pub(super) async fn deliver<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &ExecContext<'_>,
        bytes: &[u8],
    ) -> Result<Vec<tendermint::abci::Event>, ExecError> {
        let decoded = tx::decode(bytes, ctx.params.auth.max_tx_bytes(), &self.inner.keys)?;
        self.deliver_decoded(state, ctx, &decoded, None).await
    }

    /// The stateful half of [`Self::deliver`] for an already decoded tx whose
    /// signature may have been verified for `verified_for` (an account
    /// number); the signature cache is consulted and fed too.
    pub(super) async fn deliver_decoded<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &ExecContext<'_>,
        decoded: &DecodedTx,
        verified_for: Option<u64>,
    ) -> Result<Vec<tendermint::abci::Event>, ExecError> {
        let verified_for = verified_for.or_else(|| lock(&self.inner.sig_cache).get(&decoded.hash));
        let mut fork = StateDelta::new(&mut *state);
        let number = check_and_execute(&mut fork, ctx, decoded, verified_for).await?;
        if verified_for != Some(number) {
            lock(&self.inner.sig_cache).insert(decoded.hash, number);
        }
        let (_, events) = fork.apply();
        Ok(events)
    }

    /// The context of one pipeline run.
    pub(super) fn exec_context<'a>(
        &'a self,
        block: &'a BlockContext,
        params: &'a ChainParams,
    ) -> ExecContext<'a> {
        ExecContext {
            block,
            params,
            metrics: &self.inner.metrics,
        }
    }

    /// Decodes a block's txs and verifies their signatures on all cores,
    /// against each signer's account number in `snapshot`. The sequential
    /// pipeline then skips the signature check of a tx whose signer still has
    /// that account number, and checks it itself otherwise (new accounts,
    /// failed pre-checks). Outcomes are identical to checking inline, so the
    /// parallelism cannot affect consensus.
    pub(super) fn predecode(
        &self,
        snapshot: &CachedSnapshot,
        txs: &[&[u8]],
        chain_id: &str,
        max_tx_bytes: u64,
    ) -> Result<Vec<Predecoded>> {
        let keys = &self.inner.keys;
        let decoded: Vec<Result<DecodedTx, TxError>> = txs
            .iter()
            .map(|t| tx::decode(t, max_tx_bytes, keys))
            .collect();
        let numbers: Vec<Option<u64>> = self.block_on(async {
            prefetch(snapshot, decoded.iter().flatten()).await?;
            let mut out = Vec::with_capacity(decoded.len());
            for d in &decoded {
                out.push(match d {
                    Ok(d) => snapshot.account(&d.signer).await?.map(|a| a.account_number),
                    Err(_) => None,
                });
            }
            Ok::<_, anyhow::Error>(out)
        })?;
        let mut verified: Vec<Option<u64>> = {
            let cache = lock(&self.inner.sig_cache);
            decoded
                .iter()
                .map(|d| d.as_ref().ok().and_then(|d| cache.get(&d.hash)))
                .collect()
        };
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        let metrics = &self.inner.metrics;
        if decoded.len() >= 64 && threads > 1 {
            let chunk = decoded.len().div_ceil(threads);
            std::thread::scope(|scope| {
                for ((dec, num), out) in decoded
                    .chunks(chunk)
                    .zip(numbers.chunks(chunk))
                    .zip(verified.chunks_mut(chunk))
                {
                    scope.spawn(move || {
                        for ((d, n), o) in dec.iter().zip(num).zip(out.iter_mut()) {
                            if o.is_none()
                                && let (Ok(d), Some(n)) = (d, n)
                                && d.verify_signature(chain_id, *n, metrics).is_ok()
                            {
                                *o = Some(*n);
                            }
                        }
                    });
                }
            });
        }
        Ok(decoded
            .into_iter()
            .zip(verified)
            .map(|(decoded, verified_for)| Predecoded {
                decoded,
                verified_for,
            })
            .collect())
    }
}
