//! In-block verification of capacity openings (design T-P4): 32 simulated
//! compute nodes on the `localnet-cpu` profile reveal their 32 opened rows
//! in one block; the FinalizeBlock hook recomputes them exactly, within
//! the localnet MAC budget per block, until the queue is empty. Reported
//! side by side with empty blocks of the same chain (the baseline) and the
//! bare kernel's cost per row, measured in the same run.
//!
//! Run: `cargo bench -p comrade-app --bench capacity`
#![allow(missing_docs, clippy::disallowed_methods, clippy::unwrap_used)] // a benchmark binary: it reads the clock

use std::time::Instant;

use comrade_app::client::{SignOptions, address_of, pack, sign_tx};
use comrade_consensus::compute::{
    ComputeParams, MsgCommitCapacity, MsgRegisterComputeNode, MsgRevealCapacity,
};
use comrade_exact::{Challenge, Profile, Prover, prf};
use comrade_primitives::{component::ActionHandler, proto::compute::v1 as pb};
use comrade_test_utils::{MockConsensus, TestValidator, account_key, genesis};
use k256::ecdsa::SigningKey;

const CHAIN_ID: &str = "comrade-bench";
const NODES: usize = 32;
const ROWS: u64 = 2_000;

fn tx<M: prost::Message>(
    h: &MockConsensus,
    key: &SigningKey,
    seq: u64,
    url: &str,
    m: &M,
) -> Vec<u8> {
    let a = address_of(key);
    sign_tx(
        key,
        vec![pack(url, m)],
        &SignOptions {
            chain_id: CHAIN_ID,
            account_number: h.account_number(&a).unwrap(),
            sequence: seq,
            fee: ("500000", "ucomrade"),
            memo: "",
            timeout_height: 0,
        },
    )
}

fn main() {
    let profile = Profile::LOCALNET_CPU;
    let params = ComputeParams {
        profile_id: profile.id,
        min_stake: 10_000_000,
        epoch_blocks: 300,
        sprint_blocks: 10,
        commit_grace_blocks: 2,
        openings: 32,
        reveal_blocks: 30,
        mac_budget_per_block: 100_000_000,
        max_rows: 1 << 24,
        beacon_period_blocks: 20,
        beacon_reveal_blocks: 3,
        block_time_ms: 1_000,
        ..Default::default()
    };
    let keys: Vec<SigningKey> = (0..NODES as u64).map(|i| account_key(50_000 + i)).collect();
    let balances: Vec<_> = keys
        .iter()
        .map(|k| (address_of(k), 1_000_000_000u128))
        .collect();
    let validators = vec![TestValidator::new(0, 10)];
    let mut state = genesis(&balances, &validators);
    state.compute = params.clone();
    let dir = tempfile::tempdir().unwrap();
    let mut h = MockConsensus::new(&dir.path().join("db"), CHAIN_ID, &state, validators).unwrap();
    h.block(vec![]).unwrap(); // height 1: sprint 0 starts
    let regs = keys
        .iter()
        .map(|k| {
            let m = pb::MsgRegisterComputeNode {
                operator: address_of(k).to_string(),
                endpoint: "http://127.0.0.1:8080".into(),
                region: "bench".into(),
                models: vec!["smollm2-135m".into()],
                hardware: Some(pb::HardwareClaim {
                    accelerator: "cpu".into(),
                    count: 1,
                    ..Default::default()
                }),
                stake: "10000000".into(),
                keychain_tip: vec![1; 32],
                keychain_len: 10,
            };
            tx(&h, k, 0, MsgRegisterComputeNode::TYPE_URL, &m)
        })
        .collect();
    h.block(regs).unwrap();
    let snap = h.app.storage().latest_snapshot();
    let sprint = h
        .app
        .block_on(comrade_consensus::compute::sprint(&snap, 0))
        .unwrap()
        .unwrap();
    let ch = Challenge::derive(profile, sprint.seed.as_slice().try_into().unwrap());
    eprintln!("computing {ROWS} rows for each of {NODES} nodes ...");
    let provers: Vec<Prover> = keys
        .iter()
        .map(|k| Prover::run(&ch, &address_of(k).0, ROWS))
        .collect();
    let commits = keys
        .iter()
        .zip(&provers)
        .map(|(k, p)| {
            let m = pb::MsgCommitCapacity {
                node: address_of(k).to_string(),
                epoch: 0,
                root: p.root().to_vec(),
                n_rows: p.n_rows(),
            };
            tx(&h, k, 1, MsgCommitCapacity::TYPE_URL, &m)
        })
        .collect();
    h.block(commits).unwrap();
    while h.app.committed_height() < 43 {
        h.block(vec![]).unwrap();
    }
    let reveals = keys
        .iter()
        .zip(&provers)
        .map(|(k, p)| {
            let a = address_of(k);
            let snap = h.app.storage().latest_snapshot();
            let c = h
                .app
                .block_on(comrade_consensus::compute::commitment(&snap, 0, &a))
                .unwrap()
                .unwrap();
            let openings = c
                .indices
                .iter()
                .enumerate()
                .map(|(slot, &j)| {
                    let o = p.open(&ch, j).unwrap();
                    pb::Opening {
                        slot: slot as u32,
                        y: o.y,
                        path: o.path.iter().map(|h| h.to_vec()).collect(),
                    }
                })
                .collect();
            let m = pb::MsgRevealCapacity {
                node: a.to_string(),
                epoch: 0,
                openings,
            };
            tx(&h, k, 2, MsgRevealCapacity::TYPE_URL, &m)
        })
        .collect();
    let t = Instant::now();
    h.block(reveals).unwrap();
    let reveal_ms = t.elapsed().as_secs_f64() * 1e3;

    let mut drain = Vec::new();
    loop {
        let snap = h.app.storage().latest_snapshot();
        let s = h
            .app
            .block_on(comrade_consensus::compute::sprint(&snap, 0))
            .unwrap()
            .unwrap();
        if s.queued == 0 {
            break;
        }
        let before = s.queued;
        let t = Instant::now();
        h.block(vec![]).unwrap();
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let snap = h.app.storage().latest_snapshot();
        let after = h
            .app
            .block_on(comrade_consensus::compute::sprint(&snap, 0))
            .unwrap()
            .unwrap()
            .queued;
        drain.push((ms, before - after));
    }
    let mut base = Vec::new();
    for _ in 0..drain.len().max(5) {
        let t = Instant::now();
        h.block(vec![]).unwrap();
        base.push(t.elapsed().as_secs_f64() * 1e3);
    }
    // the bare kernel, same process
    let key = prf::input_key(ch.seed(), &address_of(&keys[0]).0);
    let xs: Vec<i8> = (0..256).flat_map(|j| ch.input(&key, j)).collect();
    let t = Instant::now();
    for x in xs.chunks_exact(profile.d) {
        std::hint::black_box(ch.row(x));
    }
    let kernel_us = t.elapsed().as_secs_f64() * 1e6 / 256.0;

    let rows: u32 = drain.iter().map(|(_, n)| n).sum();
    let drain_ms: f64 = drain.iter().map(|(ms, _)| ms).sum();
    let base_ms = base.iter().sum::<f64>() / base.len() as f64;
    println!(
        "{NODES} nodes × 32 openings on {} ({} MAC/row), budget {} MAC/block",
        profile.name,
        profile.row_macs(),
        params.mac_budget_per_block
    );
    println!("| what | value |");
    println!("|---|---|");
    println!("| reveal block (32 txs, paths checked, rows queued) | {reveal_ms:.1} ms |");
    println!("| blocks to drain the queue | {} |", drain.len());
    println!(
        "| rows verified per block | {} |",
        drain.first().map_or(0, |d| d.1)
    );
    println!(
        "| block while draining, mean | {:.1} ms |",
        drain_ms / drain.len() as f64
    );
    println!(
        "| block while draining, max | {:.1} ms |",
        drain.iter().map(|d| d.0).fold(0.0, f64::max)
    );
    println!("| empty block, same chain (baseline) | {base_ms:.1} ms |");
    println!(
        "| in-block cost per opening | {:.0} µs |",
        (drain_ms - base_ms * drain.len() as f64) * 1e3 / f64::from(rows)
    );
    println!("| bare kernel per row | {kernel_us:.0} µs |");
    println!(
        "| prover rows per opening (work ratio at {ROWS} rows, k = 32) | {:.0} |",
        ROWS as f64 / 32.0
    );
}
