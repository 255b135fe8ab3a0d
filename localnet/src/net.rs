//! The [`Localnet`]: generating the directory, starting, watching, stopping
//! and fault-injecting its processes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tendermint_rpc::{Client as _, HttpClient};

use crate::config::set_toml;
use crate::genesis::{genesis_json, validator_pub_key};
use crate::process::{self, NodePids, PidFile, Proc, pid_is_ours, signal, spawn, tail, wait_gone};
use crate::{AppKind, LocalnetConfig, LocalnetError, NodePorts, NodeRole, Result};

/// How long a started app gets to open its ABCI port.
const APP_START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `stop` waits after SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long `start` waits for a taken port to become free before refusing.
const PORT_FREE_GRACE: Duration = Duration::from_secs(3);
/// Lines of a log shown when a process dies.
const LOG_TAIL_LINES: usize = 25;

/// `<dir>/localnet.json`: everything needed to operate a localnet later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The config it was generated with (`dir` is absolute).
    pub config: LocalnetConfig,
    /// The nodes, in index order.
    pub nodes: Vec<NodeInfo>,
}

/// One node of a localnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Index (`node<i>`).
    pub index: usize,
    /// Role.
    pub role: NodeRole,
    /// CometBFT home (`<dir>/node<i>`); the app state is in `data/comrade-state`.
    pub home: PathBuf,
    /// CometBFT node id (`cometbft show-node-id`).
    pub node_id: String,
    /// Base64 ed25519 consensus key.
    pub pub_key: String,
    /// Ports.
    pub ports: NodePorts,
}

impl NodeInfo {
    /// `<home>/app.log`.
    pub fn app_log(&self) -> PathBuf {
        self.home.join("app.log")
    }
    /// `<home>/cometbft.log`.
    pub fn cometbft_log(&self) -> PathBuf {
        self.home.join("cometbft.log")
    }
    /// `http://127.0.0.1:<rpc>`.
    pub fn rpc_url(&self) -> String {
        self.ports.rpc_url()
    }
}

/// What `status` reports about one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeStatus {
    /// Index.
    pub index: usize,
    /// RPC endpoint.
    pub rpc_url: String,
    /// Whether `comrade start` runs (always false for kvstore).
    pub app_running: bool,
    /// Whether `cometbft node` runs.
    pub cometbft_running: bool,
    /// Latest block height, if the RPC answered.
    pub height: Option<u64>,
    /// App hash in the latest block's header (upper hex).
    pub app_hash: Option<String>,
    /// Connected peers (`/net_info`).
    pub peers: Option<u64>,
    /// Whether the node is catching up.
    pub catching_up: Option<bool>,
    /// Why the RPC did not answer.
    pub error: Option<String>,
}

#[derive(Debug, Default)]
struct NodeProcs {
    app: Option<Proc>,
    cometbft: Option<Proc>,
}

/// A local network of N validators in one directory.
///
/// Processes started through a `Localnet` value are killed (SIGKILL) when it
/// is dropped, so tests clean up even when they fail, unless
/// [`Localnet::detach`] was called (as `comrade localnet up` does).
#[derive(Debug)]
pub struct Localnet {
    pub(crate) manifest: Manifest,
    procs: Vec<NodeProcs>,
    pub(crate) kill_on_drop: bool,
}

fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("localnet.json")
}

fn write_json(path: &Path, v: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| LocalnetError::BadFile {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    std::fs::write(path, bytes).map_err(LocalnetError::io(path))
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| LocalnetError::Config(format!("path {} is not UTF-8", p.display())))
}

impl Localnet {
    /// Creates the localnet directory: `cometbft init` per node, config
    /// edits (loopback ports, persistent peers, fast blocks), and one shared
    /// genesis with the nodes' keys as validators and the test keys funded.
    /// Fails if `cfg.dir` already holds a localnet. Starts nothing.
    pub fn generate(mut cfg: LocalnetConfig) -> Result<Localnet> {
        cfg.validate()?;
        if manifest_path(&cfg.dir).exists() {
            return Err(LocalnetError::AlreadyExists(cfg.dir));
        }
        std::fs::create_dir_all(&cfg.dir).map_err(LocalnetError::io(&cfg.dir))?;
        cfg.dir = std::fs::canonicalize(&cfg.dir).map_err(LocalnetError::io(&cfg.dir))?;
        let cometbft = cfg.cometbft_bin.clone();

        let mut nodes = Vec::with_capacity(cfg.validators);
        for i in 0..cfg.validators {
            let home = cfg.dir.join(format!("node{i}"));
            let h = path_str(&home)?;
            process::run(&cometbft, &["init", "--home", h])?;
            let node_id = process::run(&cometbft, &["show-node-id", "--home", h])?
                .trim()
                .to_string();
            let pub_key = validator_pub_key(&home)?;
            nodes.push(NodeInfo {
                index: i,
                role: NodeRole::Validator,
                home,
                node_id,
                pub_key,
                ports: cfg.ports(i),
            });
        }

        let keys: Vec<String> = nodes.iter().map(|n| n.pub_key.clone()).collect();
        let genesis = genesis_json(&cfg, &keys)?;
        write_json(&cfg.dir.join("genesis.json"), &genesis)?;
        for n in &nodes {
            write_json(&n.home.join("config").join("genesis.json"), &genesis)?;
            write_config(&cfg, &nodes, n)?;
        }
        let manifest = Manifest { config: cfg, nodes };
        write_json(&manifest_path(&manifest.config.dir), &manifest)?;
        PidFile::default().save(&manifest.config.dir)?;
        Ok(Localnet {
            procs: manifest
                .nodes
                .iter()
                .map(|_| NodeProcs::default())
                .collect(),
            manifest,
            kill_on_drop: true,
        })
    }

    /// Opens an existing localnet directory, adopting the live processes
    /// listed in its pids file. A value from `open` does not kill processes
    /// on drop (it did not start them); call [`Localnet::stop`] for that.
    pub fn open(dir: &Path) -> Result<Localnet> {
        let path = manifest_path(dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(LocalnetError::NotFound(dir.to_path_buf()));
            }
            Err(e) => return Err(LocalnetError::Io { path, source: e }),
        };
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| LocalnetError::BadFile {
                path,
                detail: e.to_string(),
            })?;
        let dir = manifest.config.dir.clone();
        let pids = PidFile::load(&dir)?;
        let adopt = |p: Option<u32>| {
            p.filter(|p| pid_is_ours(*p, &dir))
                .map(|pid| Proc { pid, child: None })
        };
        let procs = (0..manifest.nodes.len())
            .map(|i| {
                let n = pids.nodes.get(i).cloned().unwrap_or_default();
                NodeProcs {
                    app: adopt(n.app),
                    cometbft: adopt(n.cometbft),
                }
            })
            .collect();
        Ok(Localnet {
            manifest,
            procs,
            kill_on_drop: false,
        })
    }

    /// The manifest (config, nodes, ports).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.manifest.config.dir
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.manifest.nodes.len()
    }

    /// Whether the localnet has no nodes (never, once generated).
    pub fn is_empty(&self) -> bool {
        self.manifest.nodes.is_empty()
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> Result<&NodeInfo> {
        self.manifest.nodes.get(i).ok_or(LocalnetError::NoSuchNode {
            index: i,
            count: self.manifest.nodes.len(),
        })
    }

    /// RPC endpoint of node `i`.
    pub fn rpc_url(&self, i: usize) -> Result<String> {
        Ok(self.node(i)?.rpc_url())
    }

    /// An RPC client for node `i`.
    pub fn client(&self, i: usize) -> Result<HttpClient> {
        crate::rpc::client(&self.rpc_url(i)?)
    }

    /// Log files of node `i`: `(app.log, cometbft.log)`.
    pub fn logs(&self, i: usize) -> Result<(PathBuf, PathBuf)> {
        let n = self.node(i)?;
        Ok((n.app_log(), n.cometbft_log()))
    }

    /// Keeps the processes running when this value is dropped (for
    /// `comrade localnet up`, whose processes outlive it; `down` stops them).
    pub fn detach(mut self) {
        self.kill_on_drop = false;
    }

    /// Pids of live processes of this localnet.
    pub fn live_pids(&mut self) -> Vec<u32> {
        let dir = self.dir().to_path_buf();
        let mut out = Vec::new();
        for n in &mut self.procs {
            for p in [&mut n.app, &mut n.cometbft].into_iter().flatten() {
                if p.exited(&dir).is_none() {
                    out.push(p.pid);
                }
            }
        }
        out
    }

    /// Pids of each node's processes as started by this value: `(app,
    /// cometbft)` per node (`None` where the node has no such process, e.g.
    /// the kvstore's app, which runs inside CometBFT).
    pub fn node_pids(&self) -> Vec<(Option<u32>, Option<u32>)> {
        self.procs
            .iter()
            .map(|n| {
                (
                    n.app.as_ref().map(|p| p.pid),
                    n.cometbft.as_ref().map(|p| p.pid),
                )
            })
            .collect()
    }

    fn save_pids(&self) -> Result<()> {
        let pf = PidFile {
            nodes: self
                .procs
                .iter()
                .map(|n| NodePids {
                    app: n.app.as_ref().map(|p| p.pid),
                    cometbft: n.cometbft.as_ref().map(|p| p.pid),
                })
                .collect(),
        };
        pf.save(self.dir())
    }

    /// Starts every node (app first, then CometBFT once the app listens).
    /// Refuses if processes of this localnet are already running, or if a
    /// port is taken. Does not wait for blocks: see [`Localnet::wait_for_height`].
    pub fn start(&mut self) -> Result<()> {
        let live = self.live_pids();
        if !live.is_empty() {
            return Err(LocalnetError::AlreadyRunning {
                dir: self.dir().to_path_buf(),
                pids: live,
            });
        }
        for n in &self.manifest.nodes {
            let mut ports = vec![n.ports.p2p, n.ports.rpc, n.ports.pprof];
            if self.manifest.config.app.out_of_process() {
                ports.push(n.ports.abci);
            }
            for p in ports {
                // A moment of grace: right after `down`, the kernel may
                // still be tearing down the previous run's sockets.
                let start = Instant::now();
                while std::net::TcpListener::bind(("127.0.0.1", p)).is_err() {
                    if start.elapsed() > PORT_FREE_GRACE {
                        return Err(LocalnetError::Config(format!(
                            "port 127.0.0.1:{p} (node{}) is in use; pick another --base-port",
                            n.index
                        )));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        for i in 0..self.len() {
            self.start_node(i)?;
        }
        Ok(())
    }

    fn start_node(&mut self, i: usize) -> Result<()> {
        match self.node(i)?.role {
            // Later roles (compute node, gateway) get their own arm here.
            NodeRole::Validator => {
                if self.manifest.config.app.out_of_process() {
                    self.start_app(i)?;
                }
                self.start_cometbft(i)
            }
        }
    }

    fn procs_mut(&mut self, i: usize) -> Result<&mut NodeProcs> {
        let count = self.procs.len();
        self.procs
            .get_mut(i)
            .ok_or(LocalnetError::NoSuchNode { index: i, count })
    }

    fn start_app(&mut self, i: usize) -> Result<()> {
        let n = self.node(i)?.clone();
        let (bin, args) = match self.manifest.config.app {
            AppKind::KvStoreSocket => (
                crate::find_abci_cli(&self.manifest.config.cometbft_bin)?,
                vec![
                    "kvstore".to_string(),
                    "--address".to_string(),
                    format!("tcp://127.0.0.1:{}", n.ports.abci),
                    "--persist".to_string(),
                    path_str(&n.home.join("data").join("kvstore-app"))?.to_string(),
                    "--log_level".to_string(),
                    "error".to_string(),
                ],
            ),
            AppKind::Comrade | AppKind::KvStore => (
                self.manifest.config.comrade_bin.clone(),
                vec![
                    "start".to_string(),
                    "--home".to_string(),
                    path_str(&n.home)?.to_string(),
                    "--abci-addr".to_string(),
                    format!("127.0.0.1:{}", n.ports.abci),
                ],
            ),
        };
        let proc = spawn(&bin, &args, &n.app_log())?;
        self.procs_mut(i)?.app = Some(proc);
        self.save_pids()?;
        // Wait until the ABCI socket accepts connections.
        let start = Instant::now();
        loop {
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], n.ports.abci));
            if let Ok(s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                // A port in the ephemeral range can "connect" to itself (TCP
                // simultaneous open) when nothing listens; that is not the app.
                if s.local_addr().ok() != s.peer_addr().ok() {
                    return Ok(());
                }
            }
            self.check_node(i)?;
            if start.elapsed() > APP_START_TIMEOUT {
                return Err(LocalnetError::Timeout {
                    what: format!(
                        "node{i} app to listen on 127.0.0.1:{} (see {})",
                        n.ports.abci,
                        n.app_log().display()
                    ),
                    secs: start.elapsed().as_secs_f64(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start_cometbft(&mut self, i: usize) -> Result<()> {
        let n = self.node(i)?.clone();
        let bin = self.manifest.config.cometbft_bin.clone();
        let args = vec![
            "node".to_string(),
            "--home".to_string(),
            path_str(&n.home)?.to_string(),
        ];
        let proc = spawn(&bin, &args, &n.cometbft_log())?;
        self.procs_mut(i)?.cometbft = Some(proc);
        self.save_pids()
    }

    /// Fails with [`LocalnetError::ProcessExited`] if a process of node `i`
    /// that should run has exited.
    pub fn check_node(&mut self, i: usize) -> Result<()> {
        let dir = self.dir().to_path_buf();
        let n = self.node(i)?.clone();
        let procs = self.procs_mut(i)?;
        for (name, p, log) in [
            ("app", &mut procs.app, n.app_log()),
            ("cometbft", &mut procs.cometbft, n.cometbft_log()),
        ] {
            if let Some(p) = p
                && let Some(status) = p.exited(&dir)
            {
                return Err(LocalnetError::ProcessExited {
                    node: i,
                    process: name,
                    status,
                    tail: tail(&log, LOG_TAIL_LINES),
                    log,
                });
            }
        }
        Ok(())
    }

    /// [`Localnet::check_node`] for every node.
    pub fn check_processes(&mut self) -> Result<()> {
        for i in 0..self.len() {
            self.check_node(i)?;
        }
        Ok(())
    }

    /// Latest block height of node `i` (`None` if its RPC does not answer).
    pub async fn height(&self, i: usize) -> Option<u64> {
        let c = self.client(i).ok()?;
        let s = tokio::time::timeout(Duration::from_secs(2), c.status())
            .await
            .ok()?
            .ok()?;
        Some(s.sync_info.latest_block_height.value())
    }

    /// Waits until every node whose CometBFT is running reports a height of
    /// at least `height`, calling `progress` with the heights (per node,
    /// `None` = not answering or stopped) about every 250 ms. Fails early if
    /// a process dies, and after `timeout`.
    pub async fn wait_for_height(
        &mut self,
        height: u64,
        timeout: Duration,
        progress: &mut (dyn FnMut(&[Option<u64>]) + Send),
    ) -> Result<()> {
        let nodes: Vec<usize> = (0..self.len())
            .filter(|i| self.procs.get(*i).is_some_and(|p| p.cometbft.is_some()))
            .collect();
        self.wait_nodes_height(&nodes, height, timeout, progress)
            .await
    }

    /// Waits until the given nodes report a height of at least `height`.
    pub async fn wait_nodes_height(
        &mut self,
        nodes: &[usize],
        height: u64,
        timeout: Duration,
        progress: &mut (dyn FnMut(&[Option<u64>]) + Send),
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            let mut heights = vec![None; self.len()];
            for &i in nodes {
                if let Some(slot) = heights.get_mut(i) {
                    *slot = self.height(i).await;
                }
            }
            progress(&heights);
            if nodes.iter().all(|i| {
                heights
                    .get(*i)
                    .copied()
                    .flatten()
                    .is_some_and(|h| h >= height)
            }) {
                return Ok(());
            }
            for &i in nodes {
                self.check_node(i)?;
            }
            if start.elapsed() > timeout {
                return Err(LocalnetError::Timeout {
                    what: format!("nodes {nodes:?} to reach height {height} (at {heights:?})"),
                    secs: start.elapsed().as_secs_f64(),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Height, app hash and peer count of every node.
    pub async fn status(&mut self) -> Vec<NodeStatus> {
        let dir = self.dir().to_path_buf();
        let mut out = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            let Ok(n) = self.node(i).cloned() else {
                continue;
            };
            let (app_running, cometbft_running) = match self.procs.get_mut(i) {
                Some(p) => (
                    p.app.as_mut().is_some_and(|p| p.exited(&dir).is_none()),
                    p.cometbft
                        .as_mut()
                        .is_some_and(|p| p.exited(&dir).is_none()),
                ),
                None => (false, false),
            };
            let mut st = NodeStatus {
                index: i,
                rpc_url: n.rpc_url(),
                app_running,
                cometbft_running,
                height: None,
                app_hash: None,
                peers: None,
                catching_up: None,
                error: None,
            };
            match crate::rpc::client(&n.rpc_url()) {
                Ok(c) => {
                    match tokio::time::timeout(Duration::from_secs(3), c.status()).await {
                        Ok(Ok(s)) => {
                            st.height = Some(s.sync_info.latest_block_height.value());
                            st.app_hash =
                                Some(hex::encode_upper(s.sync_info.latest_app_hash.as_bytes()));
                            st.catching_up = Some(s.sync_info.catching_up);
                        }
                        Ok(Err(e)) => st.error = Some(e.to_string()),
                        Err(_) => st.error = Some("status timed out".into()),
                    }
                    if let Ok(Ok(ni)) =
                        tokio::time::timeout(Duration::from_secs(3), c.net_info()).await
                    {
                        st.peers = Some(ni.n_peers);
                    }
                }
                Err(e) => st.error = Some(e.to_string()),
            }
            out.push(st);
        }
        out
    }

    /// Stops every process: SIGTERM, then SIGKILL after a grace period.
    /// Returns the pids that were running.
    pub fn stop(&mut self) -> Result<Vec<u32>> {
        let dir = self.dir().to_path_buf();
        let mut stopped = Vec::new();
        for n in &mut self.procs {
            for p in [&mut n.cometbft, &mut n.app].into_iter().flatten() {
                if p.exited(&dir).is_none() {
                    signal(p.pid, "TERM");
                    stopped.push(p.pid);
                }
            }
        }
        let start = Instant::now();
        for n in &mut self.procs {
            for slot in [&mut n.cometbft, &mut n.app] {
                if let Some(mut p) = slot.take() {
                    let left = STOP_GRACE.saturating_sub(start.elapsed());
                    let gone = match &mut p.child {
                        Some(_) => {
                            let t = Instant::now();
                            let mut gone = false;
                            while t.elapsed() < left {
                                if p.exited(&dir).is_some() {
                                    gone = true;
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(50));
                            }
                            gone
                        }
                        None => wait_gone(p.pid, &dir, left),
                    };
                    if !gone {
                        p.kill(&dir);
                    } else if let Some(c) = &mut p.child {
                        let _ = c.wait();
                    }
                }
            }
        }
        self.save_pids()?;
        Ok(stopped)
    }

    fn kill_slot(&mut self, i: usize, app: bool, cometbft: bool) -> Result<()> {
        let dir = self.dir().to_path_buf();
        let procs = self.procs_mut(i)?;
        if app && let Some(mut p) = procs.app.take() {
            p.kill(&dir);
        }
        if cometbft && let Some(mut p) = procs.cometbft.take() {
            p.kill(&dir);
        }
        self.save_pids()
    }

    /// SIGKILLs both processes of node `i` (a crash).
    pub fn kill_node(&mut self, i: usize) -> Result<()> {
        self.kill_slot(i, true, true)
    }

    /// SIGKILLs only the ABCI app of node `i`. CometBFT v0.38 exits by itself
    /// once its app connection drops (see [`Localnet::restart_app`]).
    pub fn kill_app(&mut self, i: usize) -> Result<()> {
        self.kill_slot(i, true, false)
    }

    /// Starts node `i` again after [`Localnet::kill_node`] (its data is kept).
    pub fn restart_node(&mut self, i: usize) -> Result<()> {
        self.kill_slot(i, true, true)?;
        self.start_node(i)
    }

    /// Starts the app of node `i` again after [`Localnet::kill_app`]. Because
    /// CometBFT v0.38 terminates when its app connection is lost, its
    /// `cometbft node` is restarted too (killed first if it is still up);
    /// CometBFT's handshake then replays the blocks the app is missing.
    pub fn restart_app(&mut self, i: usize) -> Result<()> {
        let dir = self.dir().to_path_buf();
        if let Some(p) = self.procs_mut(i)?.cometbft.as_mut() {
            // Give it a moment to exit on its own, as v0.38 does.
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(3) && p.exited(&dir).is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.kill_slot(i, true, true)?;
        self.start_node(i)
    }
}

impl Drop for Localnet {
    fn drop(&mut self) {
        if !self.kill_on_drop {
            return;
        }
        let dir = self.dir().to_path_buf();
        for n in &mut self.procs {
            for p in [&mut n.cometbft, &mut n.app].into_iter().flatten() {
                p.kill(&dir);
            }
            n.app = None;
            n.cometbft = None;
        }
        let _ = self.save_pids();
    }
}

/// Stops the localnet in `dir` (SIGTERM, then SIGKILL) by its pids file;
/// returns the pids that were running.
pub fn down(dir: &Path) -> Result<Vec<u32>> {
    Localnet::open(dir)?.stop()
}

/// Log files of node `node` of the localnet in `dir`: `(app.log, cometbft.log)`.
pub fn logs(dir: &Path, node: usize) -> Result<(PathBuf, PathBuf)> {
    Localnet::open(dir)?.logs(node)
}

/// Writes node `n`'s `config.toml`.
fn write_config(cfg: &LocalnetConfig, nodes: &[NodeInfo], n: &NodeInfo) -> Result<()> {
    let path = n.home.join("config").join("config.toml");
    let mut c = std::fs::read_to_string(&path).map_err(LocalnetError::io(&path))?;
    let peers: Vec<String> = nodes
        .iter()
        .filter(|o| o.index != n.index)
        .map(|o| format!("{}@127.0.0.1:{}", o.node_id, o.ports.p2p))
        .collect();
    let proxy_app = match cfg.app {
        AppKind::Comrade | AppKind::KvStoreSocket => format!("tcp://127.0.0.1:{}", n.ports.abci),
        AppKind::KvStore => "kvstore".to_string(),
    };
    let s = |v: &str| format!("\"{v}\"");
    let edits: Vec<(&str, &str, String)> = vec![
        ("", "proxy_app", s(&proxy_app)),
        ("", "moniker", s(&format!("node{}", n.index))),
        ("", "log_level", s(&cfg.log_level)),
        (
            "rpc",
            "laddr",
            s(&format!("tcp://127.0.0.1:{}", n.ports.rpc)),
        ),
        (
            "rpc",
            "pprof_laddr",
            s(&format!("127.0.0.1:{}", n.ports.pprof)),
        ),
        (
            "p2p",
            "laddr",
            s(&format!("tcp://127.0.0.1:{}", n.ports.p2p)),
        ),
        ("p2p", "persistent_peers", s(&peers.join(","))),
        ("p2p", "addr_book_strict", "false".into()),
        ("p2p", "allow_duplicate_ip", "true".into()),
        ("p2p", "pex", "false".into()),
        ("p2p", "flush_throttle_timeout", s("10ms")),
        // Per-connection rate limits (default 5 MB/s each way): a block of a
        // few thousand 300-byte txs otherwise takes 100+ ms to reach a peer.
        ("p2p", "send_rate", "20480000".into()),
        ("p2p", "recv_rate", "20480000".into()),
        ("p2p", "persistent_peers_max_dial_period", s("2s")),
        ("consensus", "timeout_commit", s(&cfg.timeout_commit)),
        ("consensus", "timeout_propose", s("2s")),
        ("consensus", "create_empty_blocks", "true".into()),
        // Room for load tests and bursts (defaults: 5,000 txs, a 10,000-entry
        // seen-tx cache). A full mempool rejects txs, and a rejected tx
        // leaves its sender's later sequence numbers stuck behind a gap.
        ("mempool", "size", "20000".into()),
        ("mempool", "cache_size", "40000".into()),
        ("instrumentation", "prometheus", "false".into()),
    ];
    for (section, key, value) in edits {
        c = set_toml(&c, section, key, &value)?;
    }
    std::fs::write(&path, c).map_err(LocalnetError::io(&path))
}
