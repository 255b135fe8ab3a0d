//! The benchmark's baseline nets (`comrade-loadgen --baselines`): CometBFT's
//! kvstore inside CometBFT and out of process on the ABCI socket. Both must
//! make blocks and commit a tx, or the load generator's ratios mean nothing.

use std::time::Duration;

use comrade_localnet::{AppKind, Localnet, LocalnetConfig, find_cometbft};
use tendermint_rpc::Client as _;

use crate::common::{serial, wait_committed};

/// Runs [`commits_a_tx`] holding the e2e lock (outside the async code).
fn serialized(kind: AppKind, base_port: u16) {
    let _guard = serial();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(commits_a_tx(kind, base_port));
}

async fn commits_a_tx(kind: AppKind, base_port: u16) {
    let cometbft = find_cometbft().unwrap_or_else(|e| panic!("e2e tests need cometbft: {e}"));
    let dir = tempfile::Builder::new()
        .prefix(&format!("comrade-e2e-{}-", kind.name()))
        .tempdir()
        .unwrap();
    // No comrade binary is needed: the kvstore kinds never start it.
    let mut cfg = LocalnetConfig::new(
        dir.path().join("net"),
        "/nonexistent/comrade".into(),
        cometbft,
    );
    cfg.validators = 2;
    cfg.base_port = base_port;
    cfg.app = kind;
    cfg.chain_id = format!("e2e-{}", kind.name());
    let mut net = Localnet::generate(cfg).unwrap();
    net.start().unwrap();
    net.wait_for_height(2, Duration::from_secs(60), &mut |_| {})
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", kind.name()));

    // The app process is there exactly when the kind runs out of process.
    for (i, (app, cometbft)) in net.node_pids().into_iter().enumerate() {
        assert!(cometbft.is_some(), "node{i} has no cometbft");
        assert_eq!(app.is_some(), kind.out_of_process(), "node{i} app process");
    }

    let key = format!("e2e-{}", kind.name());
    let c = net.client(1).unwrap();
    let r = c
        .broadcast_tx_sync(format!("{key}=committed").into_bytes())
        .await
        .unwrap();
    assert_eq!(r.code.value(), 0, "CheckTx: {}", r.log);
    let (height, code) = wait_committed(&c, r.hash, Duration::from_secs(30))
        .await
        .expect("the tx is committed");
    assert_eq!(code, 0);
    assert!(height >= 1);
    // The other node's app stored it (kvstore answers a query for the key).
    net.wait_for_height(height + 1, Duration::from_secs(30), &mut |_| {})
        .await
        .unwrap();
    let q = net
        .client(0)
        .unwrap()
        .abci_query(None, key.into_bytes(), None, false)
        .await
        .unwrap();
    assert_eq!(q.value, b"committed", "node0 kvstore value");
}

#[test]
fn kvstore_in_process_commits_a_tx() {
    serialized(AppKind::KvStore, 21_700);
}

#[test]
fn kvstore_on_the_abci_socket_commits_a_tx() {
    serialized(AppKind::KvStoreSocket, 21_800);
}
