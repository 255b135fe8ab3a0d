//! `FinalizeBlock` and `Commit`: begin-block hooks → txs → end-block hooks
//! → app hash; the block is staged until `Commit` persists it.

use anyhow::{Context as _, Result, bail};
use cnidarium::{StateDelta, StateRead as _};
use comrade_primitives::component::BlockContext;
use tendermint_proto::v0_38::abci::{
    ExecTxResult, RequestFinalizeBlock, ResponseCommit, ResponseFinalizeBlock,
};

use super::{
    App, context, lock, ok_result,
    optimistic::{ExecutedBlock, Pending},
    pipeline::begin_block,
    tx_result,
};
use crate::{
    error::ExecError, params::ChainParams, read_cache::CachedSnapshot, state::AppStateReadExt as _,
    vote_ext,
};

impl App {
    /// Decodes and runs a block's txs on the latest committed state after
    /// the begin-block hooks, exactly as FinalizeBlock does: a failing tx
    /// gets its code and changes nothing. Returns the state (end block not
    /// run yet), the params and one result per tx.
    pub(super) fn execute_txs(
        &self,
        snapshot: CachedSnapshot,
        block: &BlockContext,
        txs: &[prost::bytes::Bytes],
    ) -> Result<(StateDelta<CachedSnapshot>, ChainParams, Vec<ExecTxResult>)> {
        let (_, params) = self.block_on(snapshot.stored_params())?;
        let skip_first = txs.first().is_some_and(|t| vote_ext::is_injected(t));
        let user_txs: Vec<&[u8]> = txs
            .iter()
            .skip(usize::from(skip_first))
            .map(|t| t.as_ref())
            .collect();
        let predecoded = self.predecode(
            &snapshot,
            &user_txs,
            &block.chain_id,
            params.auth.max_tx_bytes(),
        )?;
        let (state, results) = self.block_on(async {
            let mut state = begin_block(snapshot, &params, block).await?;
            let ctx = self.exec_context(block, &params);
            let mut results = Vec::with_capacity(txs.len());
            if skip_first {
                // The injected extended commit, verified in ProcessProposal;
                // tallies of verdicts come with the proof-of-compute issue.
                results.push(ExecTxResult::default());
            }
            for p in predecoded {
                let outcome = match p.decoded {
                    Ok(d) => {
                        self.deliver_decoded(&mut state, &ctx, &d, p.verified_for)
                            .await
                    }
                    Err(e) => Err(ExecError::Tx(e)),
                };
                results.push(match outcome {
                    Ok(events) => ok_result(events),
                    Err(ExecError::Tx(e)) => tx_result(&e),
                    Err(ExecError::Internal(e)) => bail!("executing block {}: {e}", block.height),
                });
            }
            Ok::<_, anyhow::Error>((state, results))
        })?;
        Ok((state, params, results))
    }

    /// Every component's end-block hook and the staged commit with its app
    /// hash.
    pub(super) fn end_block(
        &self,
        mut state: StateDelta<CachedSnapshot>,
        _params: &ChainParams,
        block: &BlockContext,
        tx_results: Vec<ExecTxResult>,
    ) -> Result<ExecutedBlock> {
        self.block_on(async {
            let mut end = StateDelta::new(&mut state);
            match crate::modules::end_block(&mut end, block).await {
                Ok(()) => {}
                Err(ExecError::Tx(e)) => bail!("an end-block hook failed: {e}"),
                Err(ExecError::Internal(e)) => bail!("end block {}: {e}", block.height),
            }
            let validator_updates = comrade_consensus::staking::validator_updates(&end);
            let mut events: Vec<tendermint::abci::Event> = end
                .object_get(super::pipeline::BEGIN_EVENTS_OBJECT)
                .unwrap_or_default();
            let (_, end_events) = end.apply();
            events.extend(end_events);
            // Re-base the writes on the plain snapshot for cnidarium.
            let (base, changes) = state.flatten();
            let writes = changes.unwritten_changes().clone();
            let mut plain = StateDelta::new(base.into_snapshot());
            changes.apply_to(&mut plain);
            let batch = self.inner.storage.prepare_commit(plain).await?;
            Ok(ExecutedBlock {
                tx_results,
                validator_updates,
                events,
                batch,
                writes,
            })
        })
    }

    /// `FinalizeBlock`: begin-block hooks, txs (a failing tx gets its code and
    /// changes nothing), end-block hooks (fee split), app hash. The block is
    /// staged, not persisted, until `Commit`. Reuses the execution of
    /// PrepareProposal or ProcessProposal when it was of this very block.
    pub fn finalize_block(&self, req: RequestFinalizeBlock) -> Result<ResponseFinalizeBlock> {
        let chain_id = self.chain_id().context("FinalizeBlock before InitChain")?;
        let block = context::finalize(&chain_id, &req)?;
        let expected = self.committed_height().saturating_add(1);
        if block.height != expected {
            bail!(
                "FinalizeBlock for height {}, expected {expected}",
                block.height
            );
        }
        let snapshot = self.snapshot();
        let base_version = snapshot.version();
        let executed = match self.take_executed(base_version, &block, &req.txs) {
            Some(e) => {
                self.inner.metrics.count_optimistic_hit();
                e
            }
            None => {
                let (state, params, results) = self.execute_txs(snapshot, &block, &req.txs)?;
                self.end_block(state, &params, &block, results)?
            }
        };
        let app_hash = executed.batch.root_hash().0.to_vec();
        lock(&self.inner.consensus).pending = Some(Pending {
            height: block.height,
            batch: executed.batch,
            writes: executed.writes,
        });
        Ok(ResponseFinalizeBlock {
            events: executed.events.into_iter().map(Into::into).collect(),
            tx_results: executed.tx_results,
            validator_updates: executed.validator_updates,
            consensus_param_updates: None,
            app_hash: app_hash.into(),
        })
    }

    /// `Commit`: persists the block staged by `FinalizeBlock` and resets the
    /// mempool's view.
    pub fn commit(&self) -> Result<ResponseCommit> {
        let pending = {
            let mut consensus = lock(&self.inner.consensus);
            consensus.executed.clear();
            consensus.pending.take()
        }
        .context("Commit without FinalizeBlock")?;
        self.inner.storage.commit_batch(pending.batch)?;
        self.inner
            .read_cache
            .advance(self.inner.storage.latest_version(), &pending.writes);
        debug_assert_eq!(self.inner.storage.latest_version(), pending.height);
        self.reset_mempool()?;
        let counts = self.inner.metrics.take_block_counts();
        tracing::info!(
            height = pending.height,
            checktx_new = counts.checktx_new,
            checktx_recheck = counts.checktx_recheck,
            signature_checks_since_start = counts.signature_checks,
            "committed"
        );
        Ok(ResponseCommit { retain_height: 0 })
    }
}
