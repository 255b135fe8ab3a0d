//! The ABCI 2.0 application, independent of the transport. The socket server
//! (`server` feature) and the in-process test harness both call these methods.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::{Context as _, Result, bail};
use cnidarium::{StagedWriteBatch, StateDelta, StateRead, Storage};
use comrade_primitives::{
    Address, ResultCode,
    code::CODESPACE,
    component::Component as _,
    proto::{app::v1 as app_pb, auth::v1 as auth_pb},
};
use tendermint_proto::v0_38::{
    abci::{
        ExecTxResult, RequestCheckTx, RequestExtendVote, RequestFinalizeBlock, RequestInfo,
        RequestInitChain, RequestPrepareProposal, RequestProcessProposal, RequestQuery,
        RequestVerifyVoteExtension, ResponseCheckTx, ResponseCommit, ResponseExtendVote,
        ResponseFinalizeBlock, ResponseInfo, ResponseInitChain, ResponsePrepareProposal,
        ResponseProcessProposal, ResponseQuery, ResponseVerifyVoteExtension, ValidatorUpdate,
        response_process_proposal::ProposalStatus, response_verify_vote_extension::VerifyStatus,
    },
    crypto::{PublicKey, public_key},
};

use crate::{
    error::{ExecError, TxError},
    execute::{ExecContext, check_and_execute},
    genesis::{AppState, ValidatedGenesis},
    read_cache::{CachedSnapshot, ReadCache},
    state::{
        AppStateReadExt, AuthStateReadExt, AuthStateWriteExt, BankStateWriteExt, StateWriteProto,
        cache_params,
    },
    state_key,
    tx::{self, DecodedTx},
    validators, vote_ext,
};

/// Version of the state format this binary reads and writes.
pub const STATE_FORMAT_VERSION: u32 = 2;
/// Reported in `Info`.
pub const APP_VERSION: u64 = 1;

/// The pre-genesis JMT version in cnidarium.
const PRE_GENESIS: u64 = u64::MAX;

/// A tx decoded ahead of execution (see [`App::predecode`]).
struct Predecoded {
    decoded: Result<DecodedTx, TxError>,
    /// The account number its signature verified for, if checked.
    verified_for: Option<u64>,
}

/// A block being finalized and not yet committed.
struct Pending {
    height: u64,
    batch: StagedWriteBatch,
    /// The block's writes, for the read cache.
    writes: Writes,
}

/// Writes of a block by key (`None`: deleted).
type Writes = std::collections::BTreeMap<String, Option<Vec<u8>>>;

/// A block executed ahead of `FinalizeBlock` (optimistic execution): by
/// `PrepareProposal` for the proposal it built, or by `ProcessProposal` for
/// a proposal it accepted. `FinalizeBlock` takes it instead of executing
/// again when height, block hash and every tx byte match; anything else
/// discards it. Execution reads nothing from the request but the height and
/// the txs (and the state they apply to, which is fixed until `Commit`), so
/// a match yields exactly what executing again would. Kept in memory only:
/// after a crash, replay executes normally.
struct Executed {
    height: u64,
    /// The committed version it executed on.
    base_version: u64,
    /// The proposal's block hash (empty when built by PrepareProposal, which
    /// does not know it).
    hash: Vec<u8>,
    /// All txs of the block, injected tx included.
    txs: Vec<prost::bytes::Bytes>,
    /// The outcome, as FinalizeBlock returns it.
    block: ExecutedBlock,
}

/// The result of executing a whole block on the latest committed state.
struct ExecutedBlock {
    tx_results: Vec<ExecTxResult>,
    /// End-block events.
    events: Vec<tendermint::abci::Event>,
    batch: StagedWriteBatch,
    writes: Writes,
}

/// Proposals executed at most this many times per height are kept (one per
/// round that reached ProcessProposal; later rounds are rare).
const MAX_EXECUTED: usize = 4;

struct Consensus {
    pending: Option<Pending>,
    /// Blocks executed ahead of FinalizeBlock at the next height.
    executed: Vec<Executed>,
}

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
    /// FinalizeBlocks answered from an optimistic execution (see
    /// [`App::optimistic_hits`]).
    optimistic_hits: std::sync::atomic::AtomicU64,
    /// CheckTx calls since the last Commit: `[new, recheck]` (logged at Commit).
    check_counts: [std::sync::atomic::AtomicU64; 2],
}

/// A bounded map from tx hash (sha256 of the raw bytes, signature included)
/// to the account number the signature verified for, under this chain id.
/// Spares CheckTx, recheck, PrepareProposal, ProcessProposal and
/// FinalizeBlock from verifying the same signature up to five times. A hit
/// only skips work whose result is already known, so it cannot change any
/// outcome. Oldest entries are evicted first.
struct SigCache {
    map: std::collections::BTreeMap<[u8; 32], u64>,
    order: std::collections::VecDeque<[u8; 32]>,
}

impl SigCache {
    /// Entries kept (about 10 MB).
    const CAPACITY: usize = 100_000;

    fn new() -> Self {
        SigCache {
            map: std::collections::BTreeMap::new(),
            order: std::collections::VecDeque::new(),
        }
    }

    fn get(&self, hash: &[u8; 32]) -> Option<u64> {
        self.map.get(hash).copied()
    }

    fn insert(&mut self, hash: [u8; 32], account_number: u64) {
        if self.map.insert(hash, account_number).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
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

/// A fresh state for executing block `height` on `snapshot`, after the
/// begin-block writes.
fn begin_block(
    snapshot: CachedSnapshot,
    params: &crate::params::Params,
    height: u64,
) -> StateDelta<CachedSnapshot> {
    let mut state = StateDelta::new(snapshot);
    cache_params(&mut state, params.clone());
    state.put_u64(state_key::BLOCK_HEIGHT.to_string(), height);
    state
}

/// Reads, concurrently, every committed key the block's txs will read (each
/// signer's account and balance, each recipient's balance and account, the
/// fee collector's balance) into the read cache, so the sequential execution
/// does not wait on one `spawn_blocking` read after another. Only warms the
/// cache: what execution reads is unchanged.
async fn prefetch<'a>(
    snapshot: &CachedSnapshot,
    decoded: impl IntoIterator<Item = &'a DecodedTx>,
) -> Result<()> {
    use futures::StreamExt as _;
    /// Reads in flight at once.
    const CONCURRENCY: usize = 16;
    let mut keys = std::collections::BTreeSet::new();
    keys.insert(state_key::balance(&Address::module(
        crate::genesis::module_accounts::FEE_COLLECTOR,
    )));
    for d in decoded {
        keys.insert(state_key::account(&d.signer));
        keys.insert(state_key::balance(&d.signer));
        for m in &d.msgs {
            match m {
                tx::Msg::Send(m) => {
                    keys.insert(state_key::balance(&m.to));
                    keys.insert(state_key::account(&m.to));
                }
            }
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

impl Executed {
    /// Whether this execution is of the block `txs` at `height` on the state
    /// at `base_version`, and (when given and known here) of block `hash`.
    fn matches(
        &self,
        height: u64,
        base_version: u64,
        hash: Option<&[u8]>,
        txs: &[prost::bytes::Bytes],
    ) -> bool {
        self.height == height
            && self.base_version == base_version
            && hash.is_none_or(|h| self.hash.is_empty() || self.hash == h)
            && self.txs.len() == txs.len()
            && self.txs.iter().zip(txs).all(|(a, b)| a == b)
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
        Ok(App {
            inner: Arc::new(Inner {
                storage,
                runtime,
                chain_id: Mutex::new(chain_id),
                consensus: Mutex::new(Consensus {
                    pending: None,
                    executed: Vec::new(),
                }),
                mempool,
                read_cache,
                sig_cache: Mutex::new(SigCache::new()),
                optimistic_hits: std::sync::atomic::AtomicU64::new(0),
                check_counts: Default::default(),
            }),
        })
    }

    /// How many FinalizeBlocks since start reused the execution done by
    /// PrepareProposal or ProcessProposal instead of executing the block
    /// again (for tests and diagnostics).
    pub fn optimistic_hits(&self) -> u64 {
        self.inner
            .optimistic_hits
            .load(std::sync::atomic::Ordering::Relaxed)
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

    /// `InitChain`: loads `app_state`, stores it at version 0 and returns the
    /// validator set and genesis app hash. Idempotent when called again on an
    /// initialised store for the same chain (CometBFT does so when it has not
    /// produced block 1 yet).
    pub fn init_chain(&self, req: RequestInitChain) -> Result<ResponseInitChain> {
        let storage = &self.inner.storage;
        if storage.latest_version() != PRE_GENESIS {
            let stored = self.chain_id().unwrap_or_default();
            if stored != req.chain_id {
                bail!(
                    "InitChain for chain {:?} but state belongs to chain {stored:?}",
                    req.chain_id
                );
            }
            let snap = storage.latest_snapshot();
            let set = self.block_on(snap.validators())?;
            let root = self.block_on(snap.root_hash())?;
            return Ok(ResponseInitChain {
                consensus_params: None,
                validators: set.iter().map(|(_, v)| validator_update(v)).collect(),
                app_hash: root.0.to_vec().into(),
            });
        }
        if req.chain_id.is_empty() || req.chain_id.len() > 50 {
            bail!("chain id {:?} must be 1-50 characters", req.chain_id);
        }
        if req.initial_height > 1 {
            bail!(
                "initial_height {} is not supported (must be 1)",
                req.initial_height
            );
        }
        let app_state = AppState::from_json(&req.app_state_bytes)?;
        let genesis = app_state.validate().context("invalid genesis app_state")?;
        let enable_height = req
            .consensus_params
            .as_ref()
            .and_then(|p| p.abci.as_ref())
            .map(|a| a.vote_extensions_enable_height)
            .unwrap_or(0);
        let enable_height = u64::try_from(enable_height).unwrap_or(0);

        let mut state = StateDelta::new(storage.latest_snapshot());
        self.block_on(apply_genesis(
            &mut state,
            &genesis,
            &req.chain_id,
            enable_height,
        ))?;
        let root = self.block_on(storage.commit(state))?;
        self.inner.read_cache.reset(storage.latest_version());
        *lock(&self.inner.chain_id) = Some(req.chain_id.clone());
        self.reset_mempool()?;

        let updates = genesis
            .validators
            .iter()
            .map(|(name, key, power, op)| {
                validator_update(&app_pb::Validator {
                    name: name.clone(),
                    pub_key: key.to_vec(),
                    power: *power,
                    operator: op.to_string(),
                })
            })
            .collect();
        Ok(ResponseInitChain {
            consensus_params: None,
            validators: updates,
            app_hash: root.0.to_vec().into(),
        })
    }

    fn reset_mempool(&self) -> Result<()> {
        let mut state = StateDelta::new(self.snapshot());
        if self.inner.storage.latest_version() != PRE_GENESIS {
            let params = self.block_on(state.params())?;
            cache_params(&mut state, params);
        }
        *self.inner.mempool.blocking_lock() = state;
        Ok(())
    }

    /// Runs the whole pipeline for one tx on a fork of `state`; applies the
    /// fork only on success.
    async fn deliver<S: StateRead + cnidarium::StateWrite>(
        &self,
        state: &mut S,
        ctx: &ExecContext<'_>,
        bytes: &[u8],
    ) -> Result<Vec<tendermint::abci::Event>, ExecError> {
        let decoded = tx::decode(bytes, ctx.params.max_tx_bytes)?;
        self.deliver_decoded(state, ctx, &decoded, None).await
    }

    /// The stateful half of [`Self::deliver`] for an already decoded tx whose
    /// signature may have been verified for `verified_for` (an account
    /// number); the signature cache is consulted and fed too.
    async fn deliver_decoded<S: StateRead + cnidarium::StateWrite>(
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

    /// Decodes a block's txs and verifies their signatures on all cores,
    /// against each signer's account number in `snapshot`. The sequential
    /// pipeline then skips the signature check of a tx whose signer still has
    /// that account number, and checks it itself otherwise (new accounts,
    /// failed pre-checks). Outcomes are identical to checking inline, so the
    /// parallelism cannot affect consensus.
    fn predecode(
        &self,
        snapshot: &CachedSnapshot,
        txs: &[&[u8]],
        chain_id: &str,
        max_tx_bytes: u64,
    ) -> Result<Vec<Predecoded>> {
        let decoded: Vec<Result<DecodedTx, TxError>> =
            txs.iter().map(|t| tx::decode(t, max_tx_bytes)).collect();
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
                                && d.verify_signature(chain_id, *n).is_ok()
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

    /// `CheckTx`: the full pipeline against the mempool's state; accepted txs
    /// stay applied there so a sender's next sequence is expected next. The
    /// mempool state is rebuilt from committed state after every block, and
    /// CometBFT rechecks the remaining txs against it.
    pub fn check_tx(&self, req: RequestCheckTx) -> Result<ResponseCheckTx> {
        let Some(chain_id) = self.chain_id() else {
            return Ok(ResponseCheckTx {
                code: ResultCode::Internal.value(),
                log: "chain not initialised yet".into(),
                codespace: CODESPACE.into(),
                ..Default::default()
            });
        };
        let recheck = req.r#type == tendermint_proto::v0_38::abci::CheckTxType::Recheck as i32;
        self.inner.check_counts[usize::from(recheck)]
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if vote_ext::is_injected(&req.tx) {
            let e = TxError::new(
                ResultCode::InjectedTxInvalid,
                "the extended-commit tx is injected by proposers, not submitted",
            );
            return Ok(check_err(&e));
        }
        self.block_on(async {
            let mut mempool = self.inner.mempool.lock().await;
            let params = mempool.params().await?;
            let height = self.committed_height().saturating_add(1);
            let ctx = ExecContext {
                chain_id: &chain_id,
                height,
                params: &params,
            };
            let decoded = match tx::decode(&req.tx, params.max_tx_bytes) {
                Ok(d) => d,
                Err(e) => return Ok(check_err(&e)),
            };
            // A new tx often comes from an account no recent tx touched: read
            // its state concurrently rather than one blocking hop at a time.
            if !recheck {
                prefetch(&self.snapshot(), [&decoded]).await?;
            }
            match self
                .deliver_decoded(&mut *mempool, &ctx, &decoded, None)
                .await
            {
                // No events: CometBFT does not use CheckTx events, and every
                // CheckTx and recheck would encode them for nothing.
                Ok(_events) => Ok(ResponseCheckTx {
                    code: 0,
                    ..Default::default()
                }),
                Err(ExecError::Tx(e)) => Ok(check_err(&e)),
                Err(ExecError::Internal(e)) => Err(e),
            }
        })
    }

    /// Verifies (and returns) the extended commit carried by the injected tx,
    /// for a proposal at `height`.
    fn verify_injected<S: StateRead>(
        &self,
        state: &S,
        tx0: &[u8],
        height: i64,
        chain_id: &str,
    ) -> Result<Result<(), TxError>> {
        let info = match vote_ext::decode_injected(tx0) {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        let enable = self.block_on(state.vote_ext_enable_height())?;
        let vote_height = height.saturating_sub(1);
        let required = enable > 0 && u64::try_from(vote_height).is_ok_and(|h| h >= enable);
        if !required {
            if info.votes.iter().any(|v| !v.vote_extension.is_empty()) {
                return Ok(Err(TxError::new(
                    ResultCode::InjectedTxInvalid,
                    format!("extensions present before the enable height {enable}"),
                )));
            }
            return Ok(Ok(()));
        }
        let set = self.block_on(state.validators())?;
        let members: Vec<vote_ext::SetMember> = set
            .iter()
            .filter_map(|(addr, v)| {
                Some(vote_ext::SetMember {
                    address: *addr,
                    pub_key: v.pub_key.as_slice().try_into().ok()?,
                    power: v.power,
                })
            })
            .collect();
        Ok(vote_ext::verify_extended_commit(&info, &members, vote_height, chain_id).map(|_| ()))
    }

    /// `PrepareProposal`: tx[0] is the injected extended commit; then the
    /// mempool's txs that pass the pipeline, in order, within `max_tx_bytes`.
    /// The block is executed to its end on the way and kept (see
    /// [`Executed`]), so ProcessProposal and FinalizeBlock of this very
    /// proposal need not execute it again.
    pub fn prepare_proposal(&self, req: RequestPrepareProposal) -> Result<ResponsePrepareProposal> {
        let chain_id = self
            .chain_id()
            .context("PrepareProposal before InitChain")?;
        let injected = match req.local_last_commit.as_ref() {
            Some(info) => vote_ext::encode_injected(info),
            None => vote_ext::encode_injected(&Default::default()),
        };
        let max_bytes = usize::try_from(req.max_tx_bytes).unwrap_or(0);
        let mut total = injected.len();
        let mut out = vec![injected.into()];
        let height = u64::try_from(req.height).context("negative height")?;
        let snapshot = self.snapshot();
        let base_version = snapshot.version();
        let (state, params, results) = self.block_on(async {
            let params = snapshot.params().await?;
            let mut state = begin_block(snapshot, &params, height);
            let ctx = ExecContext {
                chain_id: &chain_id,
                height,
                params: &params,
            };
            // The injected tx's result, as FinalizeBlock reports it.
            let mut results = vec![ExecTxResult::default()];
            for tx in req.txs {
                if vote_ext::is_injected(&tx) {
                    continue;
                }
                if total.saturating_add(tx.len()) > max_bytes {
                    continue;
                }
                match self.deliver(&mut state, &ctx, &tx).await {
                    Ok(events) => {
                        total = total.saturating_add(tx.len());
                        out.push(tx);
                        results.push(ok_result(events));
                    }
                    Err(ExecError::Tx(_)) => {}
                    Err(ExecError::Internal(e)) => return Err(e),
                }
            }
            Ok::<_, anyhow::Error>((state, params, results))
        })?;
        // Every tx in `out` succeeded, in order, on the state FinalizeBlock
        // will start from, after the same begin-block writes; failed txs
        // left no trace. So this is FinalizeBlock's execution of `out`.
        self.finish_optimistic(
            state,
            &chain_id,
            &params,
            height,
            base_version,
            Vec::new(),
            &out,
            results,
        );
        Ok(ResponsePrepareProposal { txs: out })
    }

    /// `ProcessProposal`: rejects a proposal whose tx[0] is not a valid
    /// extended commit or which holds any tx that fails the pipeline. An
    /// accepted proposal's execution is kept for FinalizeBlock (see
    /// [`Executed`]); the proposer's own proposal reuses PrepareProposal's.
    pub fn process_proposal(&self, req: RequestProcessProposal) -> Result<ResponseProcessProposal> {
        let accept = |ok: bool| ResponseProcessProposal {
            status: if ok {
                ProposalStatus::Accept
            } else {
                ProposalStatus::Reject
            } as i32,
        };
        let chain_id = self
            .chain_id()
            .context("ProcessProposal before InitChain")?;
        let Some(tx0) = req.txs.first() else {
            tracing::warn!(
                height = req.height,
                "rejecting proposal without injected tx"
            );
            return Ok(accept(false));
        };
        let snapshot = self.snapshot();
        if let Err(e) = self.verify_injected(&snapshot, tx0, req.height, &chain_id)? {
            tracing::warn!(height = req.height, "rejecting proposal: {e}");
            return Ok(accept(false));
        }
        let height = u64::try_from(req.height).context("negative height")?;
        let base_version = snapshot.version();
        {
            // Our own proposal: PrepareProposal executed exactly these txs,
            // all successfully.
            let mut consensus = lock(&self.inner.consensus);
            if let Some(e) = consensus
                .executed
                .iter_mut()
                .find(|e| e.hash.is_empty() && e.matches(height, base_version, None, &req.txs))
            {
                e.hash = req.hash.to_vec();
                return Ok(accept(true));
            }
        }
        let (state, params, results) = self.execute_txs(snapshot, &chain_id, height, &req.txs)?;
        // results[0] is the injected tx's (verified above).
        if let Some((i, r)) = results
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, r)| r.code != 0)
        {
            tracing::warn!(height, "rejecting proposal: tx {i}: {}", r.log);
            return Ok(accept(false));
        }
        self.finish_optimistic(
            state,
            &chain_id,
            &params,
            height,
            base_version,
            req.hash.to_vec(),
            &req.txs,
            results,
        );
        Ok(accept(true))
    }

    /// Decodes and runs a block's txs on the latest committed state after
    /// the begin-block writes, exactly as FinalizeBlock does: a failing tx
    /// gets its code and changes nothing. Returns the state (end block not
    /// run yet), the params and one result per tx.
    fn execute_txs(
        &self,
        snapshot: CachedSnapshot,
        chain_id: &str,
        height: u64,
        txs: &[prost::bytes::Bytes],
    ) -> Result<(
        StateDelta<CachedSnapshot>,
        crate::params::Params,
        Vec<ExecTxResult>,
    )> {
        let params = self.block_on(snapshot.params())?;
        let skip_first = txs.first().is_some_and(|t| vote_ext::is_injected(t));
        let user_txs: Vec<&[u8]> = txs
            .iter()
            .skip(usize::from(skip_first))
            .map(|t| t.as_ref())
            .collect();
        let predecoded = self.predecode(&snapshot, &user_txs, chain_id, params.max_tx_bytes)?;
        let (state, results) = self.block_on(async {
            let mut state = begin_block(snapshot, &params, height);
            let ctx = ExecContext {
                chain_id,
                height,
                params: &params,
            };
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
                    Err(ExecError::Internal(e)) => return Err(e),
                });
            }
            Ok::<_, anyhow::Error>((state, results))
        })?;
        Ok((state, params, results))
    }

    /// End block (fee split) and the staged commit with its app hash.
    fn end_block(
        &self,
        mut state: StateDelta<CachedSnapshot>,
        chain_id: &str,
        params: &crate::params::Params,
        height: u64,
        tx_results: Vec<ExecTxResult>,
    ) -> Result<ExecutedBlock> {
        let ctx = ExecContext {
            chain_id,
            height,
            params,
        };
        self.block_on(async {
            let mut end = StateDelta::new(&mut state);
            match validators::Fees::end_block(&mut end, &ctx.block()).await {
                Ok(()) => {}
                Err(ExecError::Tx(e)) => bail!("fee distribution failed: {e}"),
                Err(ExecError::Internal(e)) => return Err(e),
            }
            let (_, events) = end.apply();
            // Re-base the writes on the plain snapshot for cnidarium.
            let (base, changes) = state.flatten();
            let writes = changes.unwritten_changes().clone();
            let mut plain = StateDelta::new(base.into_snapshot());
            changes.apply_to(&mut plain);
            let batch = self.inner.storage.prepare_commit(plain).await?;
            Ok(ExecutedBlock {
                tx_results,
                events,
                batch,
                writes,
            })
        })
    }

    /// Finishes an optimistic execution and keeps it for FinalizeBlock. A
    /// failure here only loses the shortcut: FinalizeBlock then executes the
    /// block itself and meets the failure there.
    #[allow(clippy::too_many_arguments)]
    fn finish_optimistic(
        &self,
        state: StateDelta<CachedSnapshot>,
        chain_id: &str,
        params: &crate::params::Params,
        height: u64,
        base_version: u64,
        hash: Vec<u8>,
        txs: &[prost::bytes::Bytes],
        tx_results: Vec<ExecTxResult>,
    ) {
        match self.end_block(state, chain_id, params, height, tx_results) {
            Ok(block) => {
                let mut consensus = lock(&self.inner.consensus);
                if consensus.executed.len() >= MAX_EXECUTED {
                    consensus.executed.remove(0);
                }
                consensus.executed.push(Executed {
                    height,
                    base_version,
                    hash,
                    txs: txs.to_vec(),
                    block,
                });
            }
            Err(e) => tracing::warn!(height, "optimistic execution not kept: {e:#}"),
        }
    }

    /// `ExtendVote`: this validator's versioned vote extension.
    pub fn extend_vote(&self, req: RequestExtendVote) -> ResponseExtendVote {
        ResponseExtendVote {
            vote_extension: vote_ext::build_extension(req.height).into(),
        }
    }

    /// `VerifyVoteExtension`: rejects malformed extensions.
    pub fn verify_vote_extension(
        &self,
        req: RequestVerifyVoteExtension,
    ) -> ResponseVerifyVoteExtension {
        let status = match vote_ext::parse_extension(&req.vote_extension, req.height) {
            Ok(_) => VerifyStatus::Accept,
            Err(e) => {
                tracing::warn!(height = req.height, "rejecting vote extension: {e}");
                VerifyStatus::Reject
            }
        };
        ResponseVerifyVoteExtension {
            status: status as i32,
        }
    }

    /// `FinalizeBlock`: begin-block hooks, txs (a failing tx gets its code and
    /// changes nothing), end-block hooks (fee split), app hash. The block is
    /// staged, not persisted, until `Commit`. Reuses the execution of
    /// PrepareProposal or ProcessProposal when it was of this very block.
    pub fn finalize_block(&self, req: RequestFinalizeBlock) -> Result<ResponseFinalizeBlock> {
        let chain_id = self.chain_id().context("FinalizeBlock before InitChain")?;
        let height = u64::try_from(req.height).context("negative height")?;
        let expected = self.committed_height().saturating_add(1);
        if height != expected {
            bail!("FinalizeBlock for height {height}, expected {expected}");
        }
        let snapshot = self.snapshot();
        let base_version = snapshot.version();
        let reused = {
            let mut consensus = lock(&self.inner.consensus);
            let found = consensus
                .executed
                .iter()
                .position(|e| e.matches(height, base_version, Some(&req.hash), &req.txs));
            let taken = found.map(|i| consensus.executed.swap_remove(i));
            // The height is decided: no other proposal of it will be needed.
            consensus.executed.clear();
            taken
        };
        let block = match reused {
            Some(e) => {
                self.inner
                    .optimistic_hits
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                e.block
            }
            None => {
                let (state, params, results) =
                    self.execute_txs(snapshot, &chain_id, height, &req.txs)?;
                self.end_block(state, &chain_id, &params, height, results)?
            }
        };
        let app_hash = block.batch.root_hash().0.to_vec();
        lock(&self.inner.consensus).pending = Some(Pending {
            height,
            batch: block.batch,
            writes: block.writes,
        });
        Ok(ResponseFinalizeBlock {
            events: block.events.into_iter().map(Into::into).collect(),
            tx_results: block.tx_results,
            validator_updates: Vec::new(),
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
        let [new, rechecks] = self
            .inner
            .check_counts
            .each_ref()
            .map(|c| c.swap(0, std::sync::atomic::Ordering::Relaxed));
        let sigs = tx::SIGNATURE_CHECKS.load(std::sync::atomic::Ordering::Relaxed);
        tracing::info!(
            height = pending.height,
            checktx_new = new,
            checktx_recheck = rechecks,
            signature_checks_since_start = sigs,
            "committed"
        );
        Ok(ResponseCommit { retain_height: 0 })
    }

    /// `Query`: see [`crate::query`].
    pub fn query(&self, req: RequestQuery) -> ResponseQuery {
        self.block_on(crate::query::handle(&self.inner.storage, req))
    }
}

fn check_err(e: &TxError) -> ResponseCheckTx {
    ResponseCheckTx {
        code: e.code.value(),
        log: e.message.clone(),
        codespace: CODESPACE.into(),
        ..Default::default()
    }
}

fn validator_update(v: &app_pb::Validator) -> ValidatorUpdate {
    ValidatorUpdate {
        pub_key: Some(PublicKey {
            sum: Some(public_key::Sum::Ed25519(v.pub_key.clone())),
        }),
        power: v.power,
    }
}

/// Writes a validated genesis into `state`.
pub async fn apply_genesis<S: cnidarium::StateWrite + StateRead>(
    state: &mut S,
    g: &ValidatedGenesis,
    chain_id: &str,
    vote_ext_enable_height: u64,
) -> Result<()> {
    state.put_proto(
        state_key::STATE_VERSION.to_string(),
        &app_pb::StateVersion {
            version: STATE_FORMAT_VERSION,
            chain_id: chain_id.to_string(),
        },
    );
    state.put_proto(
        state_key::PARAMS.to_string(),
        &app_pb::Params::from(g.params.clone()),
    );
    state.put_u64(
        state_key::VOTE_EXT_ENABLE_HEIGHT.to_string(),
        vote_ext_enable_height,
    );
    state.put_u64(state_key::BLOCK_HEIGHT.to_string(), 0);
    for (address, amount) in &g.balances {
        let _: auth_pb::Account = state.get_or_create_account(address).await?;
        state.put_balance(address, *amount);
    }
    state.put_supply(g.total_supply);
    for (name, key, power, operator) in &g.validators {
        let v = app_pb::Validator {
            name: name.clone(),
            pub_key: key.to_vec(),
            power: *power,
            operator: operator.to_string(),
        };
        state.put_proto(
            state_key::validator(&validators::consensus_address(key)),
            &v,
        );
    }
    // Module accounts exist from genesis.
    for name in [
        crate::genesis::module_accounts::FEE_COLLECTOR,
        crate::genesis::module_accounts::TREASURY,
        crate::genesis::module_accounts::FREE_ACCESS_POOL,
    ] {
        state.get_or_create_account(&Address::module(name)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::SigCache;

    #[test]
    fn sig_cache_is_bounded_and_evicts_oldest_first() {
        let mut c = SigCache::new();
        let key = |i: usize| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_be_bytes());
            k
        };
        for i in 0..SigCache::CAPACITY + 10 {
            c.insert(key(i), i as u64);
        }
        assert_eq!(c.map.len(), SigCache::CAPACITY);
        assert_eq!(c.get(&key(0)), None);
        assert_eq!(c.get(&key(9)), None);
        assert_eq!(c.get(&key(10)), Some(10));
        // Re-inserting an existing key does not duplicate it in the order.
        c.insert(key(10), 10);
        assert_eq!(c.order.len(), SigCache::CAPACITY);
    }
}
