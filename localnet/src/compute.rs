//! The localnet's compute node: `comrade compute serve` on the built-in
//! default model (SmolLM2-135M-Instruct, fetched from PyPI on first use),
//! next to the validators. Tracked in `<dir>/compute.json` so `down` and
//! `status` find it. (The gateway joins here once it exists.)

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::process::{pid_is_ours, signal, spawn, wait_gone};
use crate::{LocalnetError, Result};

/// The model `up --compute` serves.
pub const DEFAULT_MODEL: &str = "smollm2-135m-instruct";

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
}

fn file(dir: &Path) -> PathBuf {
    dir.join("compute.json")
}

/// The compute node's home; inside `<dir>/node…` so pid checks recognise it.
fn home(dir: &Path) -> PathBuf {
    dir.join("node-compute")
}

impl ComputeNode {
    /// The record in `dir`, if any.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = file(dir);
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
pub fn start(
    dir: &Path,
    comrade_bin: &Path,
    listen: &str,
    model: &str,
    timeout: Duration,
    progress: &mut dyn FnMut(Duration),
) -> Result<ComputeNode> {
    if let Some(old) = ComputeNode::load(dir)?
        && old.is_running(dir)
    {
        return Ok(old);
    }
    let home = home(dir);
    std::fs::create_dir_all(&home).map_err(LocalnetError::io(&home))?;
    // An absolute home, so the process is recognised as this localnet's
    // whichever way `down` names the directory.
    let home = std::path::absolute(&home).map_err(LocalnetError::io(&home))?;
    let log = dir.join("compute.log");
    let args: Vec<String> = vec![
        "--home".into(),
        home.to_string_lossy().into_owned(),
        "compute".into(),
        "serve".into(),
        "--model".into(),
        model.into(),
        "--listen".into(),
        listen.into(),
    ];
    let mut proc = spawn(comrade_bin, &args, &log)?;
    let node = ComputeNode {
        pid: proc.pid,
        listen: listen.to_string(),
        model: model.to_string(),
        log: log.clone(),
    };
    let path = file(dir);
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

/// Stops the compute node of `dir`, if one runs; returns its pid.
pub fn stop(dir: &Path) -> Result<Option<u32>> {
    let Some(node) = ComputeNode::load(dir)? else {
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
