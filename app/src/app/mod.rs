//! The ABCI 2.0 application, independent of the transport. The socket server
//! (`server` feature) and the test harness (`comrade-test-utils`) both call
//! these methods. One file per ABCI concern:
//!
//! - [`init_chain`](App::init_chain) (`init_chain.rs`): genesis through every
//!   component's `init_chain`;
//! - [`check_tx`](App::check_tx) (`mempool.rs`): the pipeline against the
//!   mempool's state;
//! - [`prepare_proposal`](App::prepare_proposal) /
//!   [`process_proposal`](App::process_proposal) / vote extensions
//!   (`proposal.rs`);
//! - [`finalize_block`](App::finalize_block) / [`commit`](App::commit)
//!   (`finalize.rs`): begin-block hooks → txs → end-block hooks → app hash;
//! - optimistic execution (`optimistic.rs`): a block executed by Prepare- or
//!   ProcessProposal is reused by FinalizeBlock when its inputs match.

mod context;
mod finalize;
mod init_chain;
mod mempool;
mod optimistic;
mod pipeline;
mod proposal;
mod sig_cache;

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context as _, Result, bail};
use cnidarium::{StateDelta, Storage};
use comrade_primitives::{TxError, code::CODESPACE};
use tendermint_proto::v0_38::abci::{
    ExecTxResult, RequestInfo, RequestQuery, ResponseInfo, ResponseQuery,
};

use crate::{
    metrics::Metrics,
    read_cache::{CachedSnapshot, ReadCache},
    state::AppStateReadExt as _,
    tx::KeyCache,
};

use optimistic::Consensus;
use sig_cache::SigCache;

/// Version of the state format this binary reads and writes.
pub const STATE_FORMAT_VERSION: u32 = 6;
/// Reported in `Info`.
pub const APP_VERSION: u64 = 1;

/// The pre-genesis JMT version in cnidarium.
const PRE_GENESIS: u64 = u64::MAX;

struct Inner {
    storage: Storage,
    runtime: tokio::runtime::Runtime,
    /// Chain id, known after `InitChain` (or from state on restart).
    chain_id: Mutex<Option<String>>,
    consensus: Mutex<Consensus>,
    /// The mempool's view: latest committed state plus txs accepted since.
    mempool: tokio::sync::Mutex<StateDelta<CachedSnapshot>>,
    /// Reads of the latest committed state (see [`crate::read_cache`]).
    read_cache: Arc<ReadCache>,
    /// Txs whose signature is known to verify, by tx hash.
    sig_cache: Mutex<SigCache>,
    /// Parsed public keys.
    keys: KeyCache,
    /// Counters.
    metrics: Metrics,
}

/// The Comrade ABCI application. Cheap to clone (one per connection).
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a handler panicked mid-update; the process is
    // about to halt anyway, and the data behind these locks stays consistent
    // (each update is a single assignment).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The result of a rejected tx, as both CheckTx and FinalizeBlock report it.
fn tx_result(err: &TxError) -> ExecTxResult {
    ExecTxResult {
        code: err.code.value(),
        log: err.message.clone(),
        codespace: CODESPACE.to_string(),
        ..Default::default()
    }
}

fn ok_result(events: Vec<tendermint::abci::Event>) -> ExecTxResult {
    ExecTxResult {
        events: events.into_iter().map(Into::into).collect(),
        ..Default::default()
    }
}

impl App {
    /// Opens (or creates) the state database at `path`. Refuses state written
    /// by a different state-format version.
    pub fn open(path: &Path) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("comrade-app")
            .build()
            .context("cannot start the app runtime")?;
        let storage = runtime
            .block_on(Storage::load(path.to_path_buf(), Vec::new()))
            .with_context(|| format!("cannot open state database at {}", path.display()))?;
        let snapshot = storage.latest_snapshot();
        let chain_id = if storage.latest_version() == PRE_GENESIS {
            None
        } else {
            let v = runtime
                .block_on(snapshot.state_version())?
                .context("state has no version marker: not written by comrade")?;
            if v.version != STATE_FORMAT_VERSION {
                bail!(
                    "state at {} has format version {}, this binary reads version \
                     {STATE_FORMAT_VERSION}: use the matching comrade release or resync",
                    path.display(),
                    v.version
                );
            }
            Some(v.chain_id)
        };
        let read_cache = Arc::new(ReadCache::new(storage.latest_version()));
        let mempool = tokio::sync::Mutex::new(StateDelta::new(CachedSnapshot::new(
            snapshot,
            read_cache.clone(),
        )));
        let app = App {
            inner: Arc::new(Inner {
                storage,
                runtime,
                chain_id: Mutex::new(chain_id),
                consensus: Mutex::new(Consensus::default()),
                mempool,
                read_cache,
                sig_cache: Mutex::new(SigCache::default()),
                keys: KeyCache::default(),
                metrics: Metrics::default(),
            }),
        };
        // The mempool's view needs the params loaded, as after every Commit:
        // a restarted node gets CheckTx before its first block.
        app.reset_mempool()?;
        Ok(app)
    }

    /// How many FinalizeBlocks since start reused the execution done by
    /// PrepareProposal or ProcessProposal instead of executing the block
    /// again (for tests and diagnostics).
    pub fn optimistic_hits(&self) -> u64 {
        self.inner.metrics.optimistic_hits()
    }

    /// The app's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The latest committed state, read through the read cache.
    fn snapshot(&self) -> CachedSnapshot {
        CachedSnapshot::new(
            self.inner.storage.latest_snapshot(),
            self.inner.read_cache.clone(),
        )
    }

    /// Keys in the read cache (for tests).
    pub fn read_cache_len(&self) -> usize {
        self.inner.read_cache.len()
    }

    /// The storage (for queries and tests).
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// Runs a future on the app's runtime from a synchronous handler thread.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.inner.runtime.block_on(f)
    }

    fn chain_id(&self) -> Option<String> {
        lock(&self.inner.chain_id).clone()
    }

    /// Last committed height (0 before genesis and at genesis).
    pub fn committed_height(&self) -> u64 {
        match self.inner.storage.latest_version() {
            PRE_GENESIS => 0,
            v => v,
        }
    }

    /// `Info`: last committed height and app hash.
    pub fn info(&self, _req: RequestInfo) -> Result<ResponseInfo> {
        let storage = &self.inner.storage;
        let (height, hash) = if storage.latest_version() == PRE_GENESIS {
            (0, Vec::new())
        } else {
            let snap = storage.latest_snapshot();
            let root = self.block_on(snap.root_hash())?;
            (storage.latest_version(), root.0.to_vec())
        };
        Ok(ResponseInfo {
            data: "comrade".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            app_version: APP_VERSION,
            last_block_height: i64::try_from(height).context("height overflow")?,
            last_block_app_hash: hash.into(),
        })
    }

    /// `Query`: see [`crate::query`].
    pub fn query(&self, req: RequestQuery) -> ResponseQuery {
        self.block_on(crate::query::handle(&self.inner.storage, req))
    }
}
