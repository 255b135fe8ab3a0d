//! The compute node's chain worker: `comrade compute serve --chain <rpc>
//! --key <name>` runs it beside the OpenAI-compatible server. It follows
//! the chain block by block and does the node's part of proof of compute
//! (design §8.4–8.5):
//!
//! - **beacon**: reveals the next key of its hash chain in each period's
//!   reveal window;
//! - **capacity sprints**: at each epoch's first block it computes rows of
//!   the sprint's challenge on its device until the sprint's last block,
//!   stores the leaves, commits their Merkle root, and once the beacon
//!   picked the opened rows, reveals them with their paths;
//! - **audits** (`audits`): it commits the receipts of the requests the
//!   server served, opens those the beacon selected, and audits the
//!   receipts of other nodes it was drawn for.
//!
//! It is outside the state machine: everything it does enters the chain as
//! signed transactions. A chain read or a transaction that fails is logged,
//! counted in `comrade_worker_errors_total` and retried at the next block;
//! only a node that is not registered, or a key chain that is not the one
//! registered, stops it (and the server with it).

mod audits;
mod beacon;
mod metrics;
mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use comrade_app::client::{address_of, pack};
use comrade_consensus::compute::{
    ComputeParams, MsgCommitCapacity, MsgRevealCapacity, MsgRevealKey,
};
use comrade_exact::{Challenge, Hash, Profile, Prover, prf};
use comrade_inference::cli::{Device, Sidecar};
use comrade_primitives::{Address, component::ActionHandler as _, proto::compute::v1 as pb};
use cosmrs::Any;
use prost::Message as _;
use sha2::{Digest as _, Sha256};
use tendermint_rpc::{Client as _, HttpClient};
use tracing::{info, warn};

use crate::keychain;
use crate::rpc::{
    abci_query, chain_params, client, compute_node, compute_params, node_chain_id, sign_for_chain,
    submit, wait_tx,
};
pub(crate) use metrics::Metrics;

/// `compute serve` options for taking part in the chain.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WorkerArgs {
    /// CometBFT RPC of a chain node: also run the node's proof-of-compute
    /// worker (beacon reveals, capacity sprints) against that chain, as the
    /// compute node registered by --key.
    #[arg(long, value_name = "URL", requires = "key")]
    pub(crate) chain: Option<String>,
    /// Keyring key (in --home) of the registered node's operator; it signs
    /// the worker's transactions. The passphrase comes from
    /// $COMRADE_KEYRING_PASSPHRASE or a prompt at start.
    #[arg(long, value_name = "NAME", requires = "chain")]
    pub(crate) key: Option<String>,
    /// Milliseconds between polls of the chain's height.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(50..=10_000))]
    pub(crate) poll_ms: u64,
    /// Challenge rows computed per device call while proving.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    pub(crate) prove_batch: u64,
}

/// The worker for `serve --chain`, as a sidecar of the server; `None`
/// without `--chain`. The key is unlocked and the key chain read here, so
/// a wrong passphrase or a missing file fails before the model loads.
pub(crate) fn sidecar(home: &Path, args: &WorkerArgs, device: Device) -> Result<Option<Sidecar>> {
    let (Some(node), Some(key_name)) = (args.chain.clone(), args.key.as_deref()) else {
        return Ok(None);
    };
    let key = crate::rpc::unlock_key(home, key_name)?;
    let operator = address_of(&key);
    let chain = keychain::load(home, &operator)?;
    let metrics = Arc::new(Metrics::default());
    let attestation = Arc::new(
        comrade_inference::attested::Attestation::new(Some(audits::receipts_dir(home, &operator)))
            .context("creating the receipt store")?,
    );
    let duties = audits::Duties::load(home, &operator)?;
    let worker = Worker {
        c: client(&node)?,
        node,
        key_name: key_name.to_string(),
        key,
        operator,
        home: home.to_path_buf(),
        chain,
        device,
        poll: Duration::from_millis(args.poll_ms),
        batch: args.prove_batch,
        metrics: metrics.clone(),
        chain_id: String::new(),
        last_height: 0,
        last_status: pb::NodeStatus::Active,
        jobs: BTreeMap::new(),
        attestation: Some(attestation.clone()),
        duties,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .context("building the HTTP client")?,
    };
    Ok(Some(Sidecar {
        metrics: Some(metrics.hook()),
        task: Box::pin(worker.run()),
        attestation: Some(attestation),
    }))
}

/// One sprint's progress.
enum Job {
    /// Computing rows on a blocking thread until `stop` is set.
    Proving {
        stop: Arc<AtomicBool>,
        started: Instant,
        task: tokio::task::JoinHandle<Result<Proved>>,
    },
    /// Rows computed and stored; the commitment is (re)sent until it lands
    /// or the deadline passes.
    Proved(Proved),
    /// Committed; waiting for the opened rows, then for the verdict.
    Committed { proved: Proved, revealed: bool },
    /// Nothing more to do for this sprint.
    Done,
}

/// A sprint's computed rows: the challenge (to recompute opened rows) and
/// the tree of their leaves.
struct Proved {
    challenge: Arc<Challenge>,
    prover: Arc<Prover>,
}

struct Worker {
    node: String,
    c: HttpClient,
    key_name: String,
    key: k256::ecdsa::SigningKey,
    operator: Address,
    home: PathBuf,
    chain: keychain::Stored,
    device: Device,
    poll: Duration,
    batch: u64,
    metrics: Arc<Metrics>,
    chain_id: String,
    last_height: u64,
    last_status: pb::NodeStatus,
    /// By epoch: the current sprint's, and the previous one's until it is
    /// settled.
    jobs: BTreeMap<u64, Job>,
    /// The server's receipts and audit channel.
    attestation: Option<Arc<comrade_inference::attested::Attestation>>,
    /// Receipt batches and audits done.
    duties: audits::Duties,
    /// Fetches receipt payloads from other nodes.
    http: reqwest::Client,
}

impl Worker {
    async fn run(mut self) -> Result<()> {
        self.connect().await?;
        loop {
            if let Err(e) = self.step().await {
                Metrics::inc(&self.metrics.errors);
                warn!("compute worker: {e:#}");
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// Waits for the chain, then checks that the operator runs a node whose
    /// registered key chain is the one on disk.
    async fn connect(&mut self) -> Result<()> {
        let started = Instant::now();
        let mut logged = None::<Instant>;
        self.chain_id = loop {
            match node_chain_id(&self.c, &self.node).await {
                Ok(id) => break id,
                Err(e) => {
                    if logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        info!(
                            "compute worker: waiting for the chain ({}s): {e:#}",
                            started.elapsed().as_secs()
                        );
                        logged = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        let record = self.node_record().await.with_context(|| {
            format!(
                "{} runs no compute node on chain {}: register it first with `comrade tx compute register {} <stake> --endpoint <url> --model <id>`",
                self.operator, self.chain_id, self.key_name
            )
        })?;
        let registered = record.keychain.map(|k| k.tip).unwrap_or_default();
        if registered.as_slice() != self.chain.tip.as_slice() {
            bail!(
                "the key chain in {} (tip {}) is not the one registered for {} (tip {})",
                keychain::path(&self.home, &self.operator).display(),
                hex::encode(self.chain.tip),
                self.operator,
                hex::encode(&registered)
            );
        }
        info!(
            "compute worker: node {} on chain {} via {}",
            self.operator, self.chain_id, self.node
        );
        Ok(())
    }

    async fn height(&self) -> Result<u64> {
        Ok(self
            .c
            .status()
            .await
            .map_err(|e| crate::rpc::unreachable(&self.node, e))?
            .sync_info
            .latest_block_height
            .value())
    }

    async fn node_record(&self) -> Result<pb::ComputeNode> {
        compute_node(&self.c, &self.node, self.operator.to_string())
            .await?
            .node
            .context("the node query returned no record")
    }

    async fn params(&self) -> Result<ComputeParams> {
        compute_params(&self.c, &self.node).await
    }

    async fn sprint(&self, epoch: u64) -> Result<pb::QuerySprintResponse> {
        abci_query(
            &self.c,
            &self.node,
            "/comrade.compute.v1.Query/Sprint",
            pb::QuerySprintRequest {
                epoch,
                node: self.operator.to_string(),
            }
            .encode_to_vec(),
        )
        .await
    }

    /// Signs and broadcasts one message, waits for its block; an error
    /// unless it was committed with code 0.
    async fn send(&self, what: &str, msg: Any) -> Result<u64> {
        self.send_all(what, vec![msg]).await
    }

    /// [`Self::send`] for several messages in one tx (all or none land).
    async fn send_all(&self, what: &str, msgs: Vec<Any>) -> Result<u64> {
        let params = chain_params(&self.c, &self.node).await?;
        let tx = sign_for_chain(
            &self.c,
            &self.node,
            &self.key,
            &self.chain_id,
            &params,
            msgs,
            None,
            "",
        )
        .await?;
        let hash = submit(&self.c, &self.node, tx)
            .await
            .with_context(|| what.to_string())?;
        // Not the 30 s of the CLI: a tx that passed CheckTx but fails when
        // proposed (a window that closed meanwhile) is left out of blocks,
        // and waiting long for it would make the worker miss other duties.
        let t = wait_tx(&self.c, hash, Duration::from_secs(12)).await?;
        let code = t.tx_result.code.value();
        if code != 0 {
            bail!(
                "{what}: tx {hash} failed at height {} with code {code}: {}",
                t.height,
                t.tx_result.log
            );
        }
        Ok(t.height.value())
    }

    /// One poll: on a new height, the beacon and the sprints.
    async fn step(&mut self) -> Result<()> {
        let h = self.height().await?;
        if h == self.last_height {
            return Ok(());
        }
        self.last_height = h;
        self.metrics.height.store(h, Relaxed);
        let params = self.params().await?;
        let record = self.node_record().await?;
        let status = pb::NodeStatus::try_from(record.status).unwrap_or_default();
        if status != self.last_status {
            match status {
                pb::NodeStatus::Active => info!("compute worker: the node is active again"),
                pb::NodeStatus::Jailed => warn!(
                    "compute worker: the node is jailed (repeated sprint or beacon faults): it is not routed to or challenged; `comrade tx compute unbond` returns its stake"
                ),
                pb::NodeStatus::Unbonding => {
                    info!("compute worker: the node is unbonding; no more sprints or reveals")
                }
                pb::NodeStatus::Unspecified => warn!("compute worker: the node has no status"),
            }
            self.last_status = status;
        }
        let active = status == pb::NodeStatus::Active;
        if active && let Some(chain) = &record.keychain {
            // A failed reveal must not hold up the sprint.
            if let Err(e) = self.reveal_key(&params, chain, h).await {
                Metrics::inc(&self.metrics.errors);
                warn!("compute worker: {e:#}");
            }
        }
        let sprints = self.sprints(&params, active, h).await;
        if active {
            self.audit_duties(&params, &record, h).await?;
        }
        sprints
    }

    async fn reveal_key(&self, params: &ComputeParams, chain: &pb::KeyChain, h: u64) -> Result<()> {
        let Some(period) = beacon::due(params, chain, h.saturating_add(1)) else {
            return Ok(());
        };
        let preimage = self
            .chain
            .next_reveal(chain.used)
            .context("the key chain is used up: register a new one")?;
        if Sha256::digest(preimage).as_slice() != chain.last.as_slice() {
            bail!(
                "the next key of {} does not hash to the chain's last value: the file and the chain disagree",
                keychain::path(&self.home, &self.operator).display()
            );
        }
        let msg = pack(
            MsgRevealKey::TYPE_URL,
            &pb::MsgRevealKey {
                owner: self.operator.to_string(),
                period,
                preimage: preimage.to_vec(),
            },
        );
        let at = self
            .send(&format!("beacon reveal for period {period}"), msg)
            .await?;
        Metrics::inc(&self.metrics.reveals);
        info!("compute worker: revealed the beacon key for period {period} at height {at}");
        Ok(())
    }

    /// Advances the jobs, drops settled ones, starts this epoch's.
    async fn sprints(&mut self, params: &ComputeParams, active: bool, h: u64) -> Result<()> {
        let epoch = params.epoch_of(h);
        let mut jobs = std::mem::take(&mut self.jobs);
        let mut result = Ok(());
        for (&e, job) in jobs.iter_mut() {
            if let Err(err) = self.advance(e, job, h).await {
                result = Err(err);
            }
        }
        jobs.retain(|&e, j| e >= epoch || !matches!(j, Job::Done));
        if let Some(oldest) = jobs.keys().next() {
            store::prune(&self.home, &self.operator, *oldest);
        }
        if !jobs.contains_key(&epoch) && active {
            match self.begin(epoch, params, h).await {
                Ok(Some(job)) => {
                    jobs.insert(epoch, job);
                }
                Ok(None) => {}
                Err(e) => result = Err(e),
            }
        }
        self.jobs = jobs;
        result
    }

    /// Starts the worker's part in sprint `epoch`: proving if there is time,
    /// or reloading rows committed before a restart.
    async fn begin(&self, epoch: u64, params: &ComputeParams, h: u64) -> Result<Option<Job>> {
        let r = self.sprint(epoch).await?;
        let Some(s) = r.sprint else {
            return Ok(None);
        };
        let profile = Profile::by_id(u16::try_from(s.profile_id).unwrap_or(0))
            .with_context(|| format!("sprint {epoch} has unknown profile {}", s.profile_id))?;
        let seed: Hash = s
            .seed
            .as_slice()
            .try_into()
            .context("the sprint seed is not 32 bytes")?;
        if let Some(c) = r.commit {
            return self.restore(epoch, profile, seed, &c).await.map(Some);
        }
        let stop_at = s
            .start_height
            .saturating_add(params.sprint_blocks)
            .saturating_sub(1);
        if h >= stop_at {
            info!(
                "compute worker: sprint {epoch} is past its proving blocks; waiting for the next"
            );
            return Ok(Some(Job::Done));
        }
        let stop = Arc::new(AtomicBool::new(false));
        tokio::spawn(stop_at_height(
            self.c.clone(),
            stop_at,
            stop.clone(),
            self.poll.min(Duration::from_millis(200)),
        ));
        let (device, batch, max_rows, op, flag) = (
            self.device,
            self.batch,
            params.max_rows,
            self.operator,
            stop.clone(),
        );
        let path = store::path(&self.home, &self.operator, epoch);
        info!(
            "compute worker: sprint {epoch} ({}): proving until height {stop_at}",
            profile.name
        );
        let task = tokio::task::spawn_blocking(move || {
            prove(device, profile, seed, &op, batch, max_rows, &flag, &path)
        });
        Ok(Some(Job::Proving {
            stop,
            started: Instant::now(),
            task,
        }))
    }

    /// A commitment found on chain at start: its rows, if they were stored
    /// and still give the committed root.
    async fn restore(
        &self,
        epoch: u64,
        profile: Profile,
        seed: Hash,
        c: &pb::CapacityCommit,
    ) -> Result<Job> {
        if c.status != pb::CommitStatus::Pending as i32 || c.revealed {
            return Ok(Job::Done);
        }
        let path = store::path(&self.home, &self.operator, epoch);
        let op = self.operator;
        let root = c.root.clone();
        let proved = tokio::task::spawn_blocking(move || -> Result<Option<Proved>> {
            let Some(leaves) = store::load(&path)? else {
                return Ok(None);
            };
            let challenge = Arc::new(Challenge::derive(profile, seed));
            let prover = Prover::from_leaves(&challenge, &op.0, leaves);
            Ok(
                (prover.root().as_slice() == root.as_slice()).then(|| Proved {
                    challenge,
                    prover: Arc::new(prover),
                }),
            )
        })
        .await
        .context("restoring rows: the task panicked")??;
        match proved {
            Some(proved) => {
                info!("compute worker: sprint {epoch}: reloaded the committed rows");
                Ok(Job::Committed {
                    proved,
                    revealed: false,
                })
            }
            None => {
                warn!(
                    "compute worker: sprint {epoch} was committed but its rows are not on disk (or give another root): it will be missed"
                );
                Ok(Job::Done)
            }
        }
    }

    async fn advance(&self, epoch: u64, job: &mut Job, h: u64) -> Result<()> {
        match job {
            Job::Done => Ok(()),
            Job::Proving { task, .. } if !task.is_finished() => Ok(()),
            Job::Proving { .. } => {
                let Job::Proving {
                    stop,
                    started,
                    task,
                } = std::mem::replace(job, Job::Done)
                else {
                    unreachable!("matched above");
                };
                stop.store(true, Relaxed);
                let proved = task.await.context("proving: the task panicked")??;
                let rows = proved.prover.n_rows();
                let secs = started.elapsed().as_secs_f64().max(1e-3);
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let rate = (rows as f64 / secs) as u64;
                self.metrics.last_rows_per_s.store(rate, Relaxed);
                info!("compute worker: sprint {epoch}: {rows} rows in {secs:.1}s ({rate} rows/s)");
                if rows == 0 {
                    return Ok(());
                }
                *job = Job::Proved(proved);
                self.commit(epoch, job, h).await
            }
            Job::Proved(_) => self.commit(epoch, job, h).await,
            Job::Committed { proved, revealed } => {
                let r = self.sprint(epoch).await?;
                let (Some(s), Some(c)) = (r.sprint, r.commit) else {
                    *job = Job::Done;
                    bail!("sprint {epoch}: the chain has no commitment of ours any more");
                };
                let status = pb::CommitStatus::try_from(c.status).unwrap_or_default();
                match status {
                    pb::CommitStatus::Passed => {
                        Metrics::inc(&self.metrics.passed);
                        info!(
                            "compute worker: sprint {epoch} passed: {} of {} opened rows verified",
                            c.verified,
                            c.indices.len()
                        );
                        *job = Job::Done;
                    }
                    pb::CommitStatus::Failed => {
                        Metrics::inc(&self.metrics.failed);
                        warn!("compute worker: sprint {epoch} failed: {}", c.failure);
                        *job = Job::Done;
                    }
                    pb::CommitStatus::Missed => {
                        Metrics::inc(&self.metrics.missed);
                        warn!("compute worker: sprint {epoch} was missed");
                        *job = Job::Done;
                    }
                    pb::CommitStatus::Pending | pb::CommitStatus::Unspecified => {
                        if s.opened && !c.revealed && !*revealed && h < s.reveal_deadline {
                            let openings = open_rows(proved, &c.indices).await?;
                            let msg = pack(
                                MsgRevealCapacity::TYPE_URL,
                                &pb::MsgRevealCapacity {
                                    node: self.operator.to_string(),
                                    epoch,
                                    openings,
                                },
                            );
                            let at = self
                                .send(&format!("capacity reveal of sprint {epoch}"), msg)
                                .await?;
                            *revealed = true;
                            Metrics::inc(&self.metrics.row_reveals);
                            info!(
                                "compute worker: sprint {epoch}: revealed {} opened rows at height {at}",
                                c.indices.len()
                            );
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// Sends the commitment of a proved sprint; gives up after the deadline.
    async fn commit(&self, epoch: u64, job: &mut Job, h: u64) -> Result<()> {
        let Job::Proved(proved) = job else {
            return Ok(());
        };
        let r = self.sprint(epoch).await?;
        let s = r.sprint.context("the sprint vanished")?;
        if r.commit.is_some() {
            // Landed although its wait timed out.
        } else if h >= s.commit_deadline {
            *job = Job::Done;
            bail!(
                "sprint {epoch}: the commitment deadline {} passed",
                s.commit_deadline
            );
        } else {
            let rows = proved.prover.n_rows();
            let msg = pack(
                MsgCommitCapacity::TYPE_URL,
                &pb::MsgCommitCapacity {
                    node: self.operator.to_string(),
                    epoch,
                    root: proved.prover.root().to_vec(),
                    n_rows: rows,
                },
            );
            let at = self
                .send(&format!("capacity commitment of sprint {epoch}"), msg)
                .await?;
            Metrics::inc(&self.metrics.commits);
            self.metrics.last_rows.store(rows, Relaxed);
            info!("compute worker: sprint {epoch}: committed {rows} rows at height {at}");
        }
        let Job::Proved(proved) = std::mem::replace(job, Job::Done) else {
            unreachable!("matched above");
        };
        *job = Job::Committed {
            proved,
            revealed: false,
        };
        Ok(())
    }
}

/// Computes rows `0..` of `operator`'s inputs until `stop` is set (or
/// `max_rows`), stores their leaves at `path`, and returns them in a tree.
#[allow(clippy::too_many_arguments)]
fn prove(
    device: Device,
    profile: Profile,
    seed: Hash,
    operator: &Address,
    batch: u64,
    max_rows: u64,
    stop: &AtomicBool,
    path: &Path,
) -> Result<Proved> {
    let prover = comrade_inference::challenge::sprint_prover(device, profile, seed)?;
    let key = prf::input_key(&seed, &operator.0);
    let mut leaves = Vec::new();
    let mut start = 0u64;
    while start < max_rows && !stop.load(Relaxed) {
        let end = start.saturating_add(batch).min(max_rows);
        leaves.extend(prover.leaves(&key, start..end, batch)?);
        start = end;
    }
    store::save(path, &leaves)?;
    let challenge = Arc::new(Challenge::derive(profile, seed));
    let prover = Arc::new(Prover::from_leaves(&challenge, &operator.0, leaves));
    Ok(Proved { challenge, prover })
}

/// The openings of rows `indices`, slot by slot (rows recomputed by the
/// exact kernel on a blocking thread).
async fn open_rows(proved: &Proved, indices: &[u64]) -> Result<Vec<pb::Opening>> {
    let challenge = proved.challenge.clone();
    let prover = proved.prover.clone();
    let indices = indices.to_vec();
    tokio::task::spawn_blocking(move || {
        indices
            .iter()
            .enumerate()
            .map(|(slot, &index)| {
                let o = prover
                    .open(&challenge, index)
                    .with_context(|| format!("row {index} is beyond the committed rows"))?;
                Ok(pb::Opening {
                    slot: u32::try_from(slot).context("too many openings")?,
                    y: o.y,
                    path: o.path.iter().map(|p| p.to_vec()).collect(),
                })
            })
            .collect()
    })
    .await
    .context("opening rows: the task panicked")?
}

/// Sets `stop` once the chain reaches `height` (the worker's own loop may
/// be waiting on a transaction then).
async fn stop_at_height(c: HttpClient, height: u64, stop: Arc<AtomicBool>, every: Duration) {
    while !stop.load(Relaxed) {
        if let Ok(s) = c.status().await
            && s.sync_info.latest_block_height.value() >= height
        {
            stop.store(true, Relaxed);
            return;
        }
        tokio::time::sleep(every).await;
    }
}
