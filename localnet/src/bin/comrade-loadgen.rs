//! `comrade-loadgen`: throughput, commit latency and CPU per tx of a local
//! 4-validator Comrade network against CometBFT's `kvstore` app on identical
//! localnets: built into CometBFT (`--proxy_app=kvstore`) and out of process
//! on the ABCI socket (`abci-cli kvstore`), as comrade's app is.
//!
//! For each network: generate and start it in a temp dir, pre-sign N txs
//! (comrade: `MsgSend`s from many funded accounts, each account's txs in
//! sequence order on one worker; kvstore: unique `key=value` txs padded to
//! comrade's mean size), send them with concurrent workers over
//! `broadcast_tx_sync`, and poll blocks on node 0 to see when each tx is
//! committed. Reports committed tx/s (first submit → last commit seen),
//! latency p50/p99 (submit → seen in a block), the ratios comrade/baseline,
//! and the CPU each process group used per committed tx (from `/proc`).
//! Every wait is bounded; every process is killed at the end (also on error).
//!
//! ```text
//! cargo build --release -p comrade-cli -p comrade-localnet --bins
//! target/release/comrade-loadgen --comrade-bin target/release/comrade --txs 10000
//! ```

// A benchmark tool, not the state machine: it reads clocks and uses hash maps.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use comrade_localnet::{
    AppKind, Localnet, LocalnetConfig, faucet_key, find_cometbft, find_comrade_bin,
    funded_account_key, rpc,
};
use sha2::{Digest as _, Sha256};
use tendermint_rpc::{Client as _, HttpClient};

/// Load generator: comrade vs CometBFT's kvstore (in process and on the ABCI socket) on identical localnets: committed tx/s, latency, CPU per tx.
#[derive(Debug, Parser)]
struct Args {
    /// Transactions to send per network (at most 100000). With fewer than
    /// ~10,000 the in-process kvstore commits everything in one or two
    /// blocks, and its rate mostly measures how fast txs are submitted.
    #[arg(long, default_value_t = 10_000)]
    txs: usize,
    /// Concurrent sending workers. Each waits for its CheckTx answer, so
    /// few workers measure the round trip of `broadcast_tx_sync` rather than
    /// what the chain can take: with 16 workers comrade's submission stalls
    /// near 800-1,000 tx/s whatever the app does.
    #[arg(long, default_value_t = 512)]
    workers: usize,
    /// Funded sender accounts (comrade); each sends txs/accounts txs in sequence.
    #[arg(long, default_value_t = 1000)]
    accounts: u64,
    /// Validators per network.
    #[arg(long, default_value_t = 4)]
    validators: usize,
    /// First port of the comrade network (kvstore uses base + 100,
    /// kvstore-socket base + 200).
    #[arg(long, default_value_t = 22_000)]
    base_port: u16,
    /// CometBFT timeout_commit for both networks.
    #[arg(long, default_value = "500ms")]
    timeout_commit: String,
    /// Seconds to wait for all accepted txs to commit.
    #[arg(long, default_value_t = 180)]
    timeout: u64,
    /// Baseline nets to run after comrade, comma-separated, or `none`.
    /// `kvstore`: CometBFT's built-in kvstore app inside the CometBFT
    /// process (`--proxy_app=kvstore`). `kvstore-socket`: the same app out of
    /// process (`abci-cli kvstore` on the ABCI socket, persisted in
    /// goleveldb), as comrade's app is; it shows what the socket transport
    /// alone costs, and the rest of the gap to comrade is comrade's own work.
    #[arg(long, value_delimiter = ',', default_value = "kvstore,kvstore-socket")]
    baselines: Vec<Baseline>,
    /// Pad each kvstore tx (`key=value`) to this many bytes so both nets
    /// gossip and store the same volume. Default: the mean size of the
    /// comrade txs of this run (~323 bytes); 0: unpadded (~25 bytes).
    #[arg(long)]
    kvstore_tx_bytes: Option<usize>,
    /// The comrade binary (default: found like the tests do).
    #[arg(long, env = "COMRADE_BIN")]
    comrade_bin: Option<PathBuf>,
    /// Parent of the temporary localnet directories.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// A `--baselines` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Baseline {
    /// No baseline.
    None,
    /// In-process kvstore.
    Kvstore,
    /// Out-of-process kvstore.
    KvstoreSocket,
}

/// Results of one run.
#[derive(Debug, Clone)]
struct Metrics {
    kind: AppKind,
    name: String,
    sent: usize,
    /// Mean size of the txs sent, bytes.
    tx_bytes: usize,
    accepted: usize,
    committed: usize,
    blocks: usize,
    secs: f64,
    tps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU used from the first submit to the last commit, by group.
    cpu: CpuUse,
}

/// CPU seconds used over the measured window, by process group, and the
/// machine's idle share. Read from `/proc` (Linux; zeros elsewhere).
#[derive(Debug, Clone, Copy, Default)]
struct CpuUse {
    cometbft: f64,
    app: f64,
    loadgen: f64,
    /// Every CPU of the machine together, busy seconds (all processes).
    machine_busy: f64,
    /// Share of the machine's CPU time that was idle (0..1).
    machine_idle: f64,
}

/// Cumulative CPU counters at one instant (clock ticks of `/proc`, which are
/// always 1/100 s for user space on Linux).
#[derive(Debug, Clone, Copy, Default)]
struct CpuSnap {
    cometbft: u64,
    app: u64,
    loadgen: u64,
    machine_busy: u64,
    machine_idle: u64,
}

/// utime + stime of a process (all its threads), in ticks; 0 if unreadable.
fn proc_ticks(pid: &str) -> u64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the `(comm)`, which may contain spaces.
    let Some(rest) = s.rfind(')').map(|i| &s[i + 1..]) else {
        return 0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are the 14th and 15th fields of stat; rest starts at the 3rd.
    field(11) + field(12)
}

fn cpu_snap(pids: &[(Option<u32>, Option<u32>)]) -> CpuSnap {
    let mut c = CpuSnap {
        loadgen: proc_ticks("self"),
        ..Default::default()
    };
    for (app, comet) in pids {
        c.app += app.map_or(0, |p| proc_ticks(&p.to_string()));
        c.cometbft += comet.map_or(0, |p| proc_ticks(&p.to_string()));
    }
    if let Ok(stat) = std::fs::read_to_string("/proc/stat")
        && let Some(line) = stat.lines().next()
    {
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal
        let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
        let total: u64 = v.iter().take(8).sum();
        c.machine_idle = idle;
        c.machine_busy = total.saturating_sub(idle);
    }
    c
}

fn cpu_use(a: CpuSnap, b: CpuSnap) -> CpuUse {
    let secs = |x: u64, y: u64| y.saturating_sub(x) as f64 / 100.0;
    let busy = secs(a.machine_busy, b.machine_busy);
    let idle = secs(a.machine_idle, b.machine_idle);
    CpuUse {
        cometbft: secs(a.cometbft, b.cometbft),
        app: secs(a.app, b.app),
        loadgen: secs(a.loadgen, b.loadgen),
        machine_busy: busy,
        machine_idle: if busy + idle > 0.0 {
            idle / (busy + idle)
        } else {
            0.0
        },
    }
}

/// Removes the run directory when dropped (the localnet inside kills its
/// processes when it is dropped, which happens first).
struct DirGuard(PathBuf);
impl Drop for DirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn tx_hash(tx: &[u8]) -> [u8; 32] {
    Sha256::digest(tx).into()
}

/// Pre-signs the workload: one ordered list of txs per worker.
async fn workload(
    args: &Args,
    kind: AppKind,
    c: &HttpClient,
    chain_id: &str,
    pad_to: usize,
) -> anyhow::Result<(Vec<Vec<Vec<u8>>>, usize)> {
    let mut per_worker: Vec<Vec<Vec<u8>>> = vec![Vec::new(); args.workers];
    match kind {
        AppKind::KvStore | AppKind::KvStoreSocket => {
            for i in 0..args.txs {
                let mut tx = format!("loadgen-{i:06}=value-{i}").into_bytes();
                tx.resize(tx.len().max(pad_to), b'x');
                per_worker[i % args.workers].push(tx);
            }
        }
        AppKind::Comrade => {
            let to = faucet_key().address;
            let mut senders = Vec::new();
            for n in 1..=args.accounts {
                let k = funded_account_key(n);
                let acc = rpc::account(c, &k.address)
                    .await?
                    .with_context(|| format!("funded account {n} does not exist"))?;
                senders.push((k, acc.account_number, acc.sequence));
            }
            let accounts = senders.len();
            let rounds = args.txs.div_ceil(accounts);
            let mut made = 0;
            'outer: for s in 0..rounds {
                for (a, (k, number, seq0)) in senders.iter().enumerate() {
                    if made == args.txs {
                        break 'outer;
                    }
                    let seq = seq0 + s as u64;
                    per_worker[a % args.workers]
                        .push(rpc::signed_send(&k.key, &to, 1, chain_id, *number, seq));
                    made += 1;
                }
            }
        }
    }
    let (n, bytes) = per_worker
        .iter()
        .flatten()
        .fold((0usize, 0usize), |(n, b), tx| (n + 1, b + tx.len()));
    let name = kind.name();
    let mean = bytes / n.max(1);
    eprintln!("[{name}] mean tx size {mean} bytes");
    Ok((per_worker, mean))
}

async fn run_one(
    args: &Args,
    kind: AppKind,
    base_port: u16,
    root: &std::path::Path,
    pad_to: usize,
) -> anyhow::Result<Metrics> {
    let name = kind.name();
    let dir = root.join(format!("comrade-loadgen-{}-{name}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let _dir_guard = DirGuard(dir.clone());
    let comrade_bin = match (&args.comrade_bin, kind) {
        (Some(p), _) => p.clone(),
        (None, AppKind::Comrade) => find_comrade_bin()?,
        (None, AppKind::KvStore | AppKind::KvStoreSocket) => PathBuf::from("/nonexistent/unused"),
    };
    let mut cfg = LocalnetConfig::new(&dir, comrade_bin, find_cometbft()?);
    cfg.validators = args.validators;
    cfg.base_port = base_port;
    cfg.app = kind;
    cfg.funded_accounts = args.accounts;
    cfg.timeout_commit = args.timeout_commit.clone();
    cfg.chain_id = format!("loadgen-{name}");
    let chain_id = cfg.chain_id.clone();
    eprintln!(
        "[{name}] generating {} validators in {}",
        args.validators,
        dir.display()
    );
    let mut net = Localnet::generate(cfg)?;
    net.start()?;
    net.wait_for_height(2, Duration::from_secs(60), &mut |_| {})
        .await?;
    let clients: Vec<HttpClient> = (0..net.len())
        .map(|i| net.client(i))
        .collect::<Result<_, _>>()?;
    let c0 = clients.first().context("no nodes")?.clone();

    eprintln!("[{name}] pre-signing {} txs", args.txs);
    let (per_worker, tx_bytes) = workload(args, kind, &c0, &chain_id, pad_to).await?;
    let start_height = net.height(0).await.context("node0 status")?;

    // Commit watcher: polls node0 for new blocks.
    let submitted: Arc<Mutex<HashMap<[u8; 32], Instant>>> = Arc::default();
    let seen: Arc<Mutex<HashMap<[u8; 32], Instant>>> = Arc::default();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(args.timeout + 120);
    let watcher = {
        let (c, seen, done) = (c0.clone(), seen.clone(), done.clone());
        tokio::spawn(async move {
            let mut next = start_height + 1;
            let mut blocks_with_txs = 0usize;
            while !done.load(std::sync::atomic::Ordering::SeqCst) && Instant::now() < deadline {
                let latest = match c.status().await {
                    Ok(s) => s.sync_info.latest_block_height.value(),
                    Err(_) => next.saturating_sub(1),
                };
                while next <= latest {
                    let Ok(h) = tendermint::block::Height::try_from(next) else {
                        break;
                    };
                    let Ok(b) = c.block(h).await else { break };
                    let now = Instant::now();
                    let mut any = false;
                    let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                    for tx in &b.block.data {
                        s.insert(tx_hash(tx), now);
                        any |= !comrade_app::vote_ext::is_injected(tx);
                    }
                    if any {
                        blocks_with_txs += 1;
                    }
                    next += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (blocks_with_txs, next.saturating_sub(start_height + 1))
        })
    };

    eprintln!("[{name}] sending with {} workers", args.workers);
    let pids = net.node_pids();
    let cpu0 = cpu_snap(&pids);
    let t0 = Instant::now();
    let mut handles = Vec::new();
    for (w, txs) in per_worker.into_iter().enumerate() {
        let c = clients[w % clients.len()].clone();
        let submitted = submitted.clone();
        handles.push(tokio::spawn(async move {
            let (mut ok, mut rejected) = (0usize, 0usize);
            for tx in txs {
                let h = tx_hash(&tx);
                let at = Instant::now();
                match c.broadcast_tx_sync(tx).await {
                    Ok(r) if r.code.is_ok() => {
                        submitted
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(h, at);
                        ok += 1;
                    }
                    Ok(r) => {
                        if rejected < 3 {
                            eprintln!("  rejected: code {} {}", r.code.value(), r.log);
                        }
                        rejected += 1;
                    }
                    Err(e) => {
                        if rejected < 3 {
                            eprintln!("  broadcast error: {e}");
                        }
                        rejected += 1;
                    }
                }
            }
            (ok, rejected)
        }));
    }
    let mut accepted = 0;
    for h in handles {
        let (ok, _) = h.await?;
        accepted += ok;
    }
    let send_secs = t0.elapsed().as_secs_f64();
    eprintln!("[{name}] {accepted} accepted in {send_secs:.1}s; waiting for commits");

    // Wait (bounded) until every accepted tx was seen in a block.
    let wait_start = Instant::now();
    loop {
        let missing = {
            let s = submitted.lock().unwrap_or_else(|p| p.into_inner());
            let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
            s.keys().filter(|h| !seen.contains_key(*h)).count()
        };
        if missing == 0 {
            break;
        }
        if wait_start.elapsed() > Duration::from_secs(args.timeout) {
            eprintln!(
                "[{name}] {missing} accepted txs not committed after {}s",
                args.timeout
            );
            diagnose(&net, &c0, &submitted, &seen).await;
            break;
        }
        net.check_processes()?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu1 = cpu_snap(&pids);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let (blocks_with_txs, _blocks) = watcher.await?;

    let submitted = submitted.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut lat = Vec::new();
    let mut last = t0;
    for (h, at) in &submitted {
        if let Some(s) = seen.get(h) {
            lat.push(s.duration_since(*at).as_secs_f64() * 1e3);
            last = last.max(*s);
        }
    }
    lat.sort_by(f64::total_cmp);
    let secs = last.duration_since(t0).as_secs_f64();
    let committed = lat.len();
    drop(net); // kills every process
    Ok(Metrics {
        kind,
        name: format!("{name} ({} validators)", args.validators),
        sent: args.txs,
        tx_bytes,
        accepted,
        committed,
        blocks: blocks_with_txs,
        secs,
        tps: if secs > 0.0 {
            committed as f64 / secs
        } else {
            0.0
        },
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
        cpu: cpu_use(cpu0, cpu1),
    })
}

/// Where are the accepted txs that never showed up in a block?
async fn diagnose(
    net: &Localnet,
    c0: &HttpClient,
    submitted: &Mutex<HashMap<[u8; 32], Instant>>,
    seen: &Mutex<HashMap<[u8; 32], Instant>>,
) {
    let missing: Vec<[u8; 32]> = {
        let s = submitted.lock().unwrap_or_else(|p| p.into_inner());
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        s.keys()
            .filter(|h| !seen.contains_key(*h))
            .take(5)
            .copied()
            .collect()
    };
    for h in missing {
        let found = match tendermint::Hash::from_bytes(tendermint::hash::Algorithm::Sha256, &h) {
            Ok(hash) => c0.tx(hash, false).await.map(|r| r.height.value()).ok(),
            Err(_) => None,
        };
        eprintln!(
            "  missing tx {}: indexed on node0 at height {found:?}",
            hex::encode_upper(h)
        );
    }
    for (i, n) in net.manifest().nodes.iter().enumerate() {
        let body = http_get(n.ports.rpc, "/num_unconfirmed_txs").unwrap_or_else(|e| e.to_string());
        let body = body
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or(&body)
            .replace('\n', " ");
        eprintln!("  node{i} /num_unconfirmed_txs: {body}");
    }
}

/// A minimal HTTP/1.0 GET on 127.0.0.1 (for endpoints tendermint-rpc lacks).
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    use std::io::{Read as _, Write as _};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

fn print_table(args: &Args, rows: &[Metrics]) {
    println!();
    println!(
        "loadgen: {} txs per network, {} workers, broadcast_tx_sync, timeout_commit {}, latency = submit -> seen in a block on node0",
        args.txs, args.workers, args.timeout_commit
    );
    println!(
        "{:<30} {:>6} {:>8} {:>9} {:>10} {:>7} {:>9} {:>9} {:>9} {:>9}",
        "network",
        "sent",
        "tx bytes",
        "accepted",
        "committed",
        "blocks",
        "secs",
        "tx/s",
        "p50 ms",
        "p99 ms"
    );
    for m in rows {
        println!(
            "{:<30} {:>6} {:>8} {:>9} {:>10} {:>7} {:>9.2} {:>9.1} {:>9.0} {:>9.0}",
            m.name,
            m.sent,
            m.tx_bytes,
            m.accepted,
            m.committed,
            m.blocks,
            m.secs,
            m.tps,
            m.p50_ms,
            m.p99_ms
        );
    }
    // Comrade (the first row, unless skipped) against every baseline.
    if let Some((ours, baselines)) = rows.split_first()
        && ours.kind == AppKind::Comrade
    {
        for kv in baselines {
            println!(
                "{:<30} {:>6} {:>8} {:>9} {:>10} {:>7} {:>9} {:>9.2} {:>9.2} {:>9.2}",
                format!("ratio comrade/{}", kv.kind.name()),
                "",
                "",
                "",
                "",
                "",
                "",
                ours.tps / kv.tps,
                ours.p50_ms / kv.p50_ms,
                ours.p99_ms / kv.p99_ms
            );
        }
    }
    println!();
    println!(
        "CPU from the first submit until all commits were seen (µs of CPU per committed tx; all {} nodes together)",
        args.validators
    );
    println!(
        "{:<30} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "network", "cometbft", "app", "loadgen", "machine busy", "idle %"
    );
    for m in rows {
        let per = |s: f64| s * 1e6 / (m.committed.max(1) as f64);
        println!(
            "{:<30} {:>10.0} {:>10.0} {:>10.0} {:>12.0} {:>10.1}",
            m.name,
            per(m.cpu.cometbft),
            per(m.cpu.app),
            per(m.cpu.loadgen),
            per(m.cpu.machine_busy),
            m.cpu.machine_idle * 100.0
        );
    }
    println!();
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.txs == 0 || args.txs > 100_000 {
        bail!("--txs must be 1..=100000");
    }
    if args.workers == 0 || args.workers > 512 || args.accounts == 0 || args.accounts > 10_000 {
        bail!("--workers must be 1..=512 and --accounts 1..=10000");
    }
    let root = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    let ours = rt.block_on(run_one(&args, AppKind::Comrade, args.base_port, &root, 0))?;
    let pad_to = args.kvstore_tx_bytes.unwrap_or(ours.tx_bytes);
    rows.push(ours);
    let mut baselines = args.baselines.clone();
    baselines.dedup();
    for b in baselines {
        let (kind, offset) = match b {
            Baseline::None => continue,
            Baseline::Kvstore => (AppKind::KvStore, 100),
            Baseline::KvstoreSocket => (AppKind::KvStoreSocket, 200),
        };
        let base = args
            .base_port
            .checked_add(offset)
            .context("--base-port too high")?;
        rows.push(rt.block_on(run_one(&args, kind, base, &root, pad_to))?);
    }
    print_table(&args, &rows);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_ticks_counts_this_process_cpu() {
        let before = proc_ticks("self");
        let t = Instant::now();
        let mut x = 1u64;
        while t.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = proc_ticks("self");
        // 300 ms of busy loop is ~30 ticks; leave room for a loaded machine.
        assert!(after >= before + 10, "{before} -> {after}");
        assert!(after <= before + 200, "{before} -> {after}");
        assert_eq!(proc_ticks("4294967295"), 0, "no such process");
    }

    #[test]
    fn cpu_use_is_the_difference_in_seconds() {
        let a = CpuSnap {
            cometbft: 100,
            app: 50,
            loadgen: 10,
            machine_busy: 1_000,
            machine_idle: 500,
        };
        let b = CpuSnap {
            cometbft: 400,
            app: 150,
            loadgen: 20,
            machine_busy: 1_600,
            machine_idle: 700,
        };
        let u = cpu_use(a, b);
        assert_eq!(
            (u.cometbft, u.app, u.loadgen, u.machine_busy),
            (3.0, 1.0, 0.1, 6.0)
        );
        assert!((u.machine_idle - 0.25).abs() < 1e-12);
    }
}
