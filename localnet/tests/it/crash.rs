//! Crashes: a whole validator killed with SIGKILL, and only its ABCI app
//! killed under load; both must catch up to the same app hash, losing nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use comrade_localnet::{faucet_key, funded_account_key, rpc};
use tendermint_rpc::Client as _;

use crate::common::{CHAIN_ID, TestNet, account, header_app_hash, submit_and_wait, wait_committed};

/// Checks that nodes `a` and `b` have the same app hash in the header of `h`.
async fn same_app_hash(t: &TestNet, a: usize, b: usize, h: u64) {
    let ha = header_app_hash(&t.client(a), h).await;
    let hb = header_app_hash(&t.client(b), h).await;
    assert_eq!(
        hex::encode(ha),
        hex::encode(hb),
        "node{a} and node{b} differ at height {h}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_validator_restarts_and_catches_up() {
    let mut t = TestNet::start("kill-node", 2).await;
    t.net.kill_node(3).unwrap();
    let h0 = t.height(0).await;
    // Three of four validators (75% > 2/3 of the power) keep going.
    t.wait_nodes(&[0, 1, 2], h0 + 5, 60).await;

    // A state change the dead node misses.
    let faucet = faucet_key();
    let to = funded_account_key(700_001).address;
    let acc = account(&t.client(0), &faucet.address).await;
    let tx = rpc::signed_send(
        &faucet.key,
        &to,
        4_242,
        CHAIN_ID,
        acc.account_number,
        acc.sequence,
    );
    let (tx_height, code) = submit_and_wait(&t.client(0), tx).await;
    assert_eq!(code, 0);

    t.net.restart_node(3).unwrap();
    let target = t.height(0).await + 2;
    t.wait_nodes(&[0, 1, 2, 3], target, 90).await;
    for h in [h0, tx_height, tx_height + 1, target] {
        same_app_hash(&t, 0, 3, h).await;
    }
    let got = rpc::proven_balance(&t.client(3), &to).await.unwrap();
    assert_eq!(got.amount, 4_242, "restarted node sees the tx it missed");
    let st = t.net.status().await;
    assert!(
        st.iter().all(|s| s.app_running && s.cometbft_running),
        "{st:?}"
    );
}

/// One sender per account, sequential sequences, round-robin over nodes
/// 0..3 (node 3 gets killed, so it is not used as an entry point).
async fn load(
    clients: Vec<tendermint_rpc::HttpClient>,
    keys: Vec<(k256::ecdsa::SigningKey, u64)>,
    to: comrade_primitives::Address,
    stop: Arc<AtomicBool>,
) -> Vec<(usize, u64, tendermint::Hash)> {
    let mut accepted = Vec::new();
    let mut next_seq = vec![0u64; keys.len()];
    let mut n = 0usize;
    'outer: for _round in 0..200 {
        for (a, (key, number)) in keys.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                break 'outer;
            }
            let tx = rpc::signed_send(key, &to, 1, CHAIN_ID, *number, next_seq[a]);
            let c = &clients[n % clients.len()];
            n += 1;
            if let Ok(r) = c.broadcast_tx_sync(tx).await
                && r.code.value() == 0
            {
                accepted.push((a, next_seq[a], r.hash));
                next_seq[a] += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    accepted
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_app_replays_via_handshake_under_load() {
    let mut t = TestNet::start("kill-app", 3).await;
    let accounts: Vec<_> = (1..=8u64).map(funded_account_key).collect();
    let mut keys = Vec::new();
    let mut start_balance = 0;
    for a in &accounts {
        let acc = account(&t.client(0), &a.address).await;
        assert_eq!(acc.sequence, 0);
        keys.push((a.key.clone(), acc.account_number));
    }
    let to = funded_account_key(600_001).address;
    start_balance += rpc::balance(&t.client(0), &to).await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let clients = (0..3).map(|i| t.client(i)).collect();
    let sender = tokio::spawn(load(clients, keys, to, stop.clone()));

    // Kill at an arbitrary point of the block cycle: 1.5 s plus a jitter.
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis()
        % 1_500;
    eprintln!("killing node3's app after {} ms of load", 1_500 + jitter);
    tokio::time::sleep(Duration::from_millis(1_500 + u64::from(jitter))).await;
    t.net.kill_app(3).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    t.net.restart_app(3).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    let accepted = sender.await.unwrap();
    assert!(accepted.len() > 50, "load sent only {} txs", accepted.len());

    // Every accepted tx is committed (checked on node0), successfully.
    let c0 = t.client(0);
    let mut committed = vec![0u64; accounts.len()];
    let mut max_height = 0;
    for (a, seq, hash) in &accepted {
        let (h, code) = wait_committed(&c0, *hash, Duration::from_secs(60))
            .await
            .unwrap_or_else(|| panic!("tx {hash} (account {a}, seq {seq}) never committed"));
        assert_eq!(code, 0, "tx {hash} failed in its block");
        committed[*a] += 1;
        max_height = max_height.max(h);
    }
    let target = t.height(0).await.max(max_height) + 2;
    t.wait_nodes(&[0, 1, 2, 3], target, 90).await;

    // Node 3 (whose app was killed) agrees on app hashes and on every
    // account's sequence and the recipient's balance, proven.
    for h in [max_height, max_height + 1, target] {
        same_app_hash(&t, 0, 3, h).await;
    }
    let total: u64 = committed.iter().sum();
    for i in [0, 3] {
        let c = t.client(i);
        for (a, key) in accounts.iter().enumerate() {
            let acc = account(&c, &key.address).await;
            assert_eq!(
                acc.sequence, committed[a],
                "node{i}: sequence of account {a}"
            );
        }
        let got = rpc::proven_balance(&c, &to).await.unwrap();
        assert_eq!(
            got.amount,
            start_balance + u128::from(total),
            "node{i}: recipient balance"
        );
    }
    // CometBFT on node 3 went through the ABCI handshake again with the
    // restarted app (replaying whatever blocks the app had not committed).
    let log = std::fs::read_to_string(t.net.logs(3).unwrap().1).unwrap();
    assert_eq!(
        log.matches("Completed ABCI Handshake").count(),
        2,
        "handshakes in node3's log"
    );
    let st = t.net.status().await;
    assert!(
        st.iter().all(|s| s.app_running && s.cometbft_running),
        "{st:?}"
    );
}
