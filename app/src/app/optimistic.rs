//! Optimistic execution: a block executed ahead of `FinalizeBlock`, by
//! `PrepareProposal` for the proposal it built or by `ProcessProposal` for a
//! proposal it accepted. `FinalizeBlock` takes it instead of executing again
//! when the committed state, every tx byte and every input of the
//! [`BlockContext`] match (the block hash too, unless the execution did not
//! know it and no module read it); anything else discards it. So a match
//! yields exactly what executing again would. Kept in memory only: after a
//! crash, replay executes normally.

use cnidarium::{StagedWriteBatch, StateDelta};
use comrade_primitives::component::BlockContext;
use tendermint_proto::v0_38::abci::ExecTxResult;

use super::{App, lock};
use crate::{params::ChainParams, read_cache::CachedSnapshot};

/// Writes of a block by key (`None`: deleted).
pub(super) type Writes = std::collections::BTreeMap<String, Option<Vec<u8>>>;

/// Proposals executed at most this many times per height are kept (one per
/// round that reached ProcessProposal; later rounds are rare).
const MAX_EXECUTED: usize = 4;

/// The result of executing a whole block on the latest committed state.
pub(super) struct ExecutedBlock {
    pub(super) tx_results: Vec<ExecTxResult>,
    /// Validator-set updates for CometBFT (from the staking end-block).
    pub(super) validator_updates: Vec<tendermint_proto::v0_38::abci::ValidatorUpdate>,
    /// End-block events.
    pub(super) events: Vec<tendermint::abci::Event>,
    pub(super) batch: StagedWriteBatch,
    pub(super) writes: Writes,
}

/// A block executed ahead of `FinalizeBlock`.
pub(super) struct Executed {
    /// The committed version it executed on.
    base_version: u64,
    /// What it executed under.
    ctx: BlockContext,
    /// All txs of the block, injected tx included.
    txs: Vec<prost::bytes::Bytes>,
    /// The outcome, as FinalizeBlock returns it.
    pub(super) block: ExecutedBlock,
}

impl Executed {
    /// Whether this execution is one of `txs` under `ctx` on the state at
    /// `base_version`.
    pub(super) fn matches(
        &self,
        base_version: u64,
        ctx: &BlockContext,
        txs: &[prost::bytes::Bytes],
    ) -> bool {
        self.base_version == base_version
            && self.ctx.same_inputs_as(ctx)
            && self.txs.len() == txs.len()
            && self.txs.iter().zip(txs).all(|(a, b)| a == b)
    }
}

/// A block finalized and not yet committed.
pub(super) struct Pending {
    pub(super) height: u64,
    pub(super) batch: StagedWriteBatch,
    /// The block's writes, for the read cache.
    pub(super) writes: Writes,
}

/// The consensus connection's in-flight blocks.
#[derive(Default)]
pub(super) struct Consensus {
    pub(super) pending: Option<Pending>,
    /// Blocks executed ahead of FinalizeBlock at the next height.
    pub(super) executed: Vec<Executed>,
}

impl App {
    /// Finishes an optimistic execution and keeps it for FinalizeBlock. A
    /// failure here only loses the shortcut: FinalizeBlock then executes the
    /// block itself and meets the failure there.
    pub(super) fn finish_optimistic(
        &self,
        state: StateDelta<CachedSnapshot>,
        params: &ChainParams,
        ctx: BlockContext,
        base_version: u64,
        txs: &[prost::bytes::Bytes],
        tx_results: Vec<ExecTxResult>,
    ) {
        match self.end_block(state, params, &ctx, tx_results) {
            Ok(block) => {
                let mut consensus = lock(&self.inner.consensus);
                if consensus.executed.len() >= MAX_EXECUTED {
                    consensus.executed.remove(0);
                }
                consensus.executed.push(Executed {
                    base_version,
                    ctx,
                    txs: txs.to_vec(),
                    block,
                });
            }
            Err(e) => tracing::warn!(height = ctx.height, "optimistic execution not kept: {e:#}"),
        }
    }

    /// Our own proposal, executed by PrepareProposal, now named by
    /// ProcessProposal: records its hash. Returns whether there was one.
    pub(super) fn adopt_own_proposal(
        &self,
        base_version: u64,
        ctx: &BlockContext,
        txs: &[prost::bytes::Bytes],
        hash: &[u8],
    ) -> bool {
        let mut consensus = lock(&self.inner.consensus);
        let found = consensus
            .executed
            .iter_mut()
            .find(|e| e.ctx.block_hash_known().not() && e.matches(base_version, ctx, txs));
        match found {
            Some(e) => {
                e.ctx.set_block_hash(hash.to_vec());
                true
            }
            None => false,
        }
    }

    /// Takes the execution of the decided block, if one was done; forgets
    /// every other (the height is decided).
    pub(super) fn take_executed(
        &self,
        base_version: u64,
        ctx: &BlockContext,
        txs: &[prost::bytes::Bytes],
    ) -> Option<ExecutedBlock> {
        let mut consensus = lock(&self.inner.consensus);
        let found = consensus
            .executed
            .iter()
            .position(|e| e.matches(base_version, ctx, txs));
        let taken = found.map(|i| consensus.executed.swap_remove(i));
        consensus.executed.clear();
        taken.map(|e| e.block)
    }
}

use std::ops::Not as _;
