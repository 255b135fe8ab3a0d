//! `comrade init` and `comrade start`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

/// Arguments of `comrade init`.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// Node name shown to peers (CometBFT moniker).
    #[arg(long, default_value = "comrade-node")]
    moniker: String,
}

/// Arguments of `comrade start`.
#[derive(Debug, clap::Args)]
pub(crate) struct StartArgs {
    /// Address the ABCI server listens on (CometBFT's `proxy_app`).
    #[arg(long, default_value = "127.0.0.1:26658")]
    abci_addr: String,
    /// Also start `cometbft node --home <home>` pointed at this app, and exit
    /// when it exits. cometbft is looked up on PATH, then in
    /// `$COMRADE_CACHE/bin` (default `~/.cache/comrade/bin`).
    #[arg(long)]
    with_cometbft: bool,
}

/// Where the app keeps its state database inside a node home.
pub(crate) fn state_path(home: &Path) -> PathBuf {
    home.join("data").join("comrade-state")
}

/// The project's cache directory (`$COMRADE_CACHE`, default `~/.cache/comrade`).
pub(crate) fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("COMRADE_CACHE") {
        return PathBuf::from(d);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".cache")
        .join("comrade")
}

/// Finds the cometbft binary: on PATH, then in the project cache.
pub(crate) fn find_cometbft() -> Result<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let p = dir.join("cometbft");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let p = cache_dir().join("bin").join("cometbft");
    if p.is_file() {
        return Ok(p);
    }
    bail!(
        "cometbft not found on PATH or at {}: run scripts/install-cometbft.sh",
        p.display()
    )
}

/// `comrade init`.
pub(crate) fn init(home: &Path, args: InitArgs, json: bool) -> Result<()> {
    let cometbft = find_cometbft()?;
    let out = Command::new(&cometbft)
        .arg("init")
        .arg("--home")
        .arg(home)
        .output()
        .with_context(|| format!("cannot run {}", cometbft.display()))?;
    if !out.status.success() {
        bail!(
            "cometbft init failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let config = home.join("config").join("config.toml");
    let text = std::fs::read_to_string(&config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let text = text
        .lines()
        .map(|l| {
            if l.starts_with("moniker = ") {
                format!("moniker = {:?}", args.moniker)
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&config, text + "\n")?;
    std::fs::create_dir_all(home.join("keyring"))?;
    std::fs::create_dir_all(home.join("data"))?;

    let key_file = home.join("config").join("priv_validator_key.json");
    let key: serde_json::Value = serde_json::from_slice(&std::fs::read(&key_file)?)
        .with_context(|| format!("cannot parse {}", key_file.display()))?;
    let pub_key = key["pub_key"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let node_id = Command::new(&cometbft)
        .args(["show-node-id", "--home"])
        .arg(home)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if json {
        println!(
            "{}",
            serde_json::json!({"home": home, "node_id": node_id, "validator_pub_key": pub_key})
        );
    } else {
        println!("initialised node home {}", home.display());
        println!("node id:               {node_id}");
        println!("validator pub key:     {pub_key}");
        println!(
            "next: comrade genesis add-validator --name {} --pub-key {pub_key} --power 10 \
             --operator <address>",
            args.moniker
        );
    }
    Ok(())
}

/// `comrade start`.
pub(crate) fn start(home: &Path, args: StartArgs) -> Result<()> {
    let path = state_path(home);
    std::fs::create_dir_all(path.parent().unwrap_or(home))
        .with_context(|| format!("cannot create {}", path.display()))?;
    let app = comrade_app::App::open(&path)?;
    eprintln!(
        "comrade app: state {} at height {}, ABCI on {}",
        path.display(),
        app.committed_height(),
        args.abci_addr
    );
    if !args.with_cometbft {
        return comrade_app::server::serve(app, &args.abci_addr);
    }
    let cometbft = find_cometbft()?;
    let addr = args.abci_addr.clone();
    std::thread::Builder::new()
        .name("abci-server".into())
        .spawn(move || {
            if let Err(e) = comrade_app::server::serve(app, &addr) {
                eprintln!("error: {e:#}");
                std::process::exit(1);
            }
        })?;
    let mut child = Command::new(&cometbft)
        .arg("node")
        .arg("--home")
        .arg(home)
        .arg("--proxy_app")
        .arg(format!("tcp://{}", args.abci_addr))
        .spawn()
        .with_context(|| format!("cannot start {}", cometbft.display()))?;
    // Forward SIGINT/SIGTERM to cometbft so stopping `comrade start` stops
    // the pair; then exit cleanly once it has shut down.
    let pid = child.id();
    let stopping = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stopping.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || forward_signals(pid, &flag))?;
    let status = child.wait()?;
    if stopping.load(std::sync::atomic::Ordering::SeqCst) {
        eprintln!("comrade: cometbft stopped ({status}), exiting");
        return Ok(());
    }
    bail!("cometbft exited with {status}")
}

/// Waits for SIGINT or SIGTERM and passes SIGTERM on to `pid`.
fn forward_signals(pid: u32, stopping: &std::sync::atomic::AtomicBool) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    });
    stopping.store(true, std::sync::atomic::Ordering::SeqCst);
    // A cometbft already gone (ESRCH) is fine: `start` is waiting on it.
    comrade_localnet::signal(pid, "TERM");
}
