//! Shared harness: one localnet per test, serialized, killed on drop.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use comrade_localnet::{Localnet, LocalnetConfig, find_cometbft, find_comrade_bin, rpc};
use comrade_primitives::{Address, proto::auth::v1::Account};
use tendermint_rpc::{Client as _, HttpClient};

/// Localnets are heavy (8 processes each); run one at a time.
static LOCK: Mutex<()> = Mutex::new(());

/// Takes the global e2e lock (for tests that do not use [`TestNet`]).
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Chain id of the test localnets.
pub(crate) const CHAIN_ID: &str = "comrade-e2e";

/// A running 4-validator localnet in a temp dir. Dropping it kills every
/// process (also when the test panics) and prints the log tails on failure.
pub(crate) struct TestNet {
    pub net: Localnet,
    name: String,
    dir: Option<tempfile::TempDir>,
    _guard: MutexGuard<'static, ()>,
}

impl TestNet {
    /// Generates and starts a localnet for test `name` on port slot `slot`
    /// (ports 21000 + 100·slot …), and waits for height 2 on every node.
    pub(crate) async fn start(name: &str, slot: u16) -> TestNet {
        Self::start_with(name, slot, |_| {}).await
    }

    /// [`TestNet::start`] with the config adjusted by `edit` first.
    pub(crate) async fn start_with(
        name: &str,
        slot: u16,
        edit: impl FnOnce(&mut LocalnetConfig),
    ) -> TestNet {
        let guard = serial();
        let cometbft = find_cometbft().unwrap_or_else(|e| panic!("e2e tests need cometbft: {e}"));
        let comrade =
            find_comrade_bin().unwrap_or_else(|e| panic!("e2e tests need the comrade binary: {e}"));
        let dir = tempfile::Builder::new()
            .prefix(&format!("comrade-e2e-{name}-"))
            .tempdir()
            .unwrap();
        let mut cfg = LocalnetConfig::new(dir.path().join("net"), comrade, cometbft);
        cfg.validators = 4;
        cfg.chain_id = CHAIN_ID.to_string();
        // Below the kernel's ephemeral range (32768+), so outgoing
        // connections never take a listening port.
        cfg.base_port = 21_000 + 100 * slot;
        cfg.funded_accounts = 32;
        edit(&mut cfg);
        let net = Localnet::generate(cfg).unwrap();
        let mut t = TestNet {
            net,
            name: name.to_string(),
            dir: Some(dir),
            _guard: guard,
        };
        t.net.start().unwrap();
        t.wait_all(2, 60).await;
        t
    }

    /// Waits until every running node reaches `height`.
    pub(crate) async fn wait_all(&mut self, height: u64, secs: u64) {
        self.net
            .wait_for_height(height, Duration::from_secs(secs), &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
    }

    /// Waits until the given nodes reach `height`.
    pub(crate) async fn wait_nodes(&mut self, nodes: &[usize], height: u64, secs: u64) {
        self.net
            .wait_nodes_height(nodes, height, Duration::from_secs(secs), &mut |_| {})
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
    }

    pub(crate) fn client(&self, i: usize) -> HttpClient {
        self.net.client(i).unwrap()
    }

    pub(crate) async fn height(&self, i: usize) -> u64 {
        self.net.height(i).await.expect("node answers status")
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("=== {} failed; log tails ===", self.name);
            for i in 0..self.net.len() {
                if let Ok((app, cmt)) = self.net.logs(i) {
                    for log in [app, cmt] {
                        let text = std::fs::read_to_string(&log).unwrap_or_default();
                        let lines: Vec<&str> = text.lines().collect();
                        let tail = &lines[lines.len().saturating_sub(15)..];
                        eprintln!("--- {} ---\n{}", log.display(), tail.join("\n"));
                    }
                }
            }
        }
        if std::env::var_os("COMRADE_E2E_KEEP").is_some()
            && let Some(d) = self.dir.take()
        {
            eprintln!("{}: keeping {}", self.name, d.keep().display());
        }
        // Fields drop next: the localnet (kills processes), then the temp dir.
    }
}

/// The account of `a` as node `c` sees it.
pub(crate) async fn account(c: &HttpClient, a: &Address) -> Account {
    rpc::account(c, a).await.unwrap().expect("account exists")
}

/// Broadcasts `tx` (CheckTx must pass) and waits until it is in a block;
/// returns (height, deliver code).
pub(crate) async fn submit_and_wait(c: &HttpClient, tx: Vec<u8>) -> (u64, u32) {
    let r = c.broadcast_tx_sync(tx).await.unwrap();
    assert_eq!(r.code.value(), 0, "CheckTx rejected the tx: {}", r.log);
    wait_committed(c, r.hash, Duration::from_secs(30))
        .await
        .expect("tx committed in time")
}

/// Polls `/tx` until the tx is indexed; returns (height, deliver code).
pub(crate) async fn wait_committed(
    c: &HttpClient,
    hash: tendermint::Hash,
    timeout: Duration,
) -> Option<(u64, u32)> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        let left = timeout.saturating_sub(start.elapsed());
        if let Ok(Ok(r)) = tokio::time::timeout(left, c.tx(hash, false)).await {
            return Some((r.height.value(), r.tx_result.code.value()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// The header app hash of block `h` on node `c` (waits, bounded, for it).
pub(crate) async fn header_app_hash(c: &HttpClient, h: u64) -> Vec<u8> {
    let height = tendermint::block::Height::try_from(h).unwrap();
    rpc::wait_header(c, height, Duration::from_secs(30))
        .await
        .unwrap()
        .app_hash
        .as_bytes()
        .to_vec()
}
