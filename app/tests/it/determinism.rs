//! Determinism and restarts.

use comrade_app::client::address_of;
use comrade_test_utils::{MockConsensus, account_key};

use crate::common::*;

/// A deterministic workload: at height h, a few transfers among 4 accounts.
fn workload(h: u64, nums: &[u64], seqs: &mut [u64]) -> Vec<Vec<u8>> {
    let keys: Vec<_> = (10..14).map(account_key).collect();
    let mut txs = Vec::new();
    for i in 0..keys.len() {
        if (h + i as u64).is_multiple_of(3) {
            continue;
        }
        let to = address_of(&keys[(i + 1) % keys.len()]);
        txs.push(send(
            &keys[i],
            &to,
            u128::from(h) * 100 + i as u128,
            nums[i],
            seqs[i],
        ));
        seqs[i] += 1;
    }
    txs
}

fn chain(dir: &std::path::Path) -> MockConsensus {
    funded_chain(dir, &(10..14).map(account_key).collect::<Vec<_>>())
}

fn numbers(h: &MockConsensus) -> Vec<u64> {
    (10..14)
        .map(|s| account_number(h, &address_of(&account_key(s))))
        .collect()
}

#[test]
fn two_fresh_stores_agree_at_every_height_and_restart_continues() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let mut a = chain(&d1.path().join("db"));
    let mut b = chain(&d2.path().join("db"));
    assert_eq!(a.info().unwrap(), b.info().unwrap());
    let nums = numbers(&a);
    let (mut sa, mut sb) = (vec![0u64; 4], vec![0u64; 4]);
    let mut hashes = Vec::new();
    for h in 1..=12u64 {
        let ra = a.block(workload(h, &nums, &mut sa)).unwrap();
        let rb = b.block(workload(h, &nums, &mut sb)).unwrap();
        assert_eq!(ra.app_hash, rb.app_hash, "app hash differs at height {h}");
        assert!(ra.tx_results.iter().all(|t| t.code == 0));
        assert_eq!(a.info().unwrap(), b.info().unwrap());
        hashes.push(ra.app_hash.to_vec());
    }
    // Hashes change as state changes.
    assert!(hashes.windows(2).all(|w| w[0] != w[1]));

    // Restart `a` from disk; it reports the same height and hash and keeps
    // agreeing with `b`.
    let before = a.info().unwrap();
    let mut a = a.restart().unwrap();
    assert_eq!(a.info().unwrap(), before);
    assert_eq!(before.0, 12);
    for h in 13..=15u64 {
        let ra = a.block(workload(h, &nums, &mut sa)).unwrap();
        let rb = b.block(workload(h, &nums, &mut sb)).unwrap();
        assert_eq!(
            ra.app_hash, rb.app_hash,
            "app hash differs after restart at {h}"
        );
    }
}

#[test]
fn crash_between_finalize_and_commit_replays_to_the_same_hash() {
    let d = tempfile::tempdir().unwrap();
    let mut a = chain(&d.path().join("db"));
    let nums = numbers(&a);
    let mut seqs = vec![0u64; 4];
    for h in 1..=3 {
        a.block(workload(h, &nums, &mut seqs)).unwrap();
    }
    let committed = a.info().unwrap();
    let mut block = vec![comrade_app::vote_ext::encode_injected(
        &a.local_last_commit(),
    )];
    block.extend(workload(4, &nums, &mut seqs));
    use tendermint_proto::v0_38::abci::response_process_proposal::ProposalStatus;
    assert_eq!(a.process(block.clone(), 4).unwrap(), ProposalStatus::Accept);
    let finalized = a.finalize(block.clone(), 4).unwrap();
    assert!(finalized.tx_results.iter().all(|t| t.code == 0));
    // Killed before Commit.
    let a = a.restart().unwrap();
    assert_eq!(
        a.info().unwrap(),
        committed,
        "uncommitted block must not be visible"
    );
    // CometBFT's handshake replays the same block through FinalizeBlock.
    let replayed = a.finalize(block, 4).unwrap();
    assert_eq!(replayed.app_hash, finalized.app_hash);
    a.app.commit().unwrap();
    assert_eq!(a.info().unwrap().1, finalized.app_hash.to_vec());
}

#[test]
fn init_chain_is_idempotent_and_refuses_another_chain() {
    let d = tempfile::tempdir().unwrap();
    let mut a = chain(&d.path().join("db"));
    let (h, hash) = a.info().unwrap();
    assert_eq!(h, 0);
    assert_eq!(a.init_chain().unwrap(), hash);
    a.chain_id = "other".into();
    assert!(a.init_chain().is_err());
}

#[test]
fn refuses_state_of_another_format_version() {
    use cnidarium::{StateDelta, StateWrite, Storage};
    use comrade_primitives::proto::app::v1::StateVersion;
    use prost::Message;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("db");
    drop(chain(&path));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let storage = Storage::load(path.clone(), vec![]).await.unwrap();
        let mut delta = StateDelta::new(storage.latest_snapshot());
        delta.put_raw(
            comrade_app::state_key::STATE_VERSION.to_string(),
            StateVersion {
                version: 999,
                chain_id: CHAIN_ID.into(),
            }
            .encode_to_vec(),
        );
        storage.commit(delta).await.unwrap();
        storage.release().await;
    });
    drop(rt);
    let err = comrade_app::App::open(&path).unwrap_err().to_string();
    assert!(err.contains("format version 999"), "{err}");
}
