//! FinalizeBlock throughput of signed MsgSend txs in blocks of 1,000 and
//! 5,000, side by side with the raw secp256k1 verification rate on the same
//! machine (every tx needs one verification, so that rate bounds the
//! workload on one core).
//!
//! Run: `cargo bench -p comrade-app --bench finalize_block`
//! (set `COMRADE_BENCH_ROUNDS` to change the number of blocks per size).
#![allow(missing_docs, clippy::disallowed_methods, clippy::unwrap_used)] // a benchmark binary: it reads the clock

use std::time::Instant;

use comrade_app::{
    client::{SignOptions, address_of, msg_send, sign_tx},
    vote_ext,
};
use comrade_primitives::Address;
use comrade_test_utils::{MockConsensus, TestValidator, account_key, genesis};
use cosmrs::proto::cosmos::tx::v1beta1::{AuthInfo, SignDoc, TxBody, TxRaw};
use k256::ecdsa::SigningKey;
use k256::ecdsa::{Signature, VerifyingKey, signature::Verifier};
use prost::Message;

const CHAIN_ID: &str = "comrade-bench";

/// A signed MsgSend of 1000ucomrade from `key`'s account `from` to `to`, at
/// sequence 0.
fn signed_send(key: &SigningKey, from: &Address, to: &Address, account_number: u64) -> Vec<u8> {
    sign_tx(
        key,
        vec![msg_send(
            &from.to_string(),
            &to.to_string(),
            "ucomrade",
            "1000",
        )],
        &SignOptions {
            chain_id: CHAIN_ID,
            account_number,
            sequence: 0,
            fee: ("50000", "ucomrade"),
            memo: "",
            timeout_height: 0,
        },
    )
}

fn main() {
    let rounds: usize = std::env::var("COMRADE_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let sizes = [1_000usize, 5_000];
    let accounts = sizes.iter().max().unwrap() * rounds;
    eprintln!("preparing {accounts} funded accounts and signed txs ...");
    let keys: Vec<_> = (0..accounts as u64)
        .map(|i| account_key(10_000 + i))
        .collect();
    let addrs: Vec<_> = keys.iter().map(address_of).collect();
    let balances: Vec<_> = addrs.iter().map(|a| (*a, 1_000_000_000u128)).collect();
    let validators = vec![
        TestValidator::new(0, 10),
        TestValidator::new(1, 10),
        TestValidator::new(2, 10),
        TestValidator::new(3, 10),
    ];
    let state = genesis(&balances, &validators);

    println!(
        "FinalizeBlock throughput, signed MsgSend (debug_assertions={})",
        cfg!(debug_assertions)
    );
    println!(
        "{:>10} {:>8} {:>12} {:>12}",
        "block", "rounds", "ms/block", "tx/s"
    );
    let mut results = Vec::new();
    for &size in &sizes {
        let dir = tempfile::tempdir().unwrap();
        let mut h =
            MockConsensus::new(&dir.path().join("db"), CHAIN_ID, &state, validators.clone())
                .unwrap();
        // Pre-sign every tx outside the timed region.
        let mut blocks = Vec::new();
        for r in 0..rounds {
            let mut txs = Vec::with_capacity(size + 1);
            for i in 0..size {
                let k = r * size + i;
                let to = addrs[(k + 1) % accounts];
                txs.push(signed_send(
                    &keys[k],
                    &addrs[k],
                    &to,
                    h.account_number(&addrs[k]).unwrap(),
                ));
            }
            blocks.push(txs);
        }
        let mut total = 0.0f64;
        for (r, txs) in blocks.into_iter().enumerate() {
            let height = (r + 1) as i64;
            let mut block = vec![vote_ext::encode_injected(&h.local_last_commit())];
            block.extend(txs);
            h.extend_votes(height).unwrap();
            let t = Instant::now();
            let res = h.finalize(block, height).unwrap();
            let dt = t.elapsed().as_secs_f64();
            total += dt;
            if std::env::var_os("COMRADE_BENCH_VERBOSE").is_some() {
                eprintln!("  block of {size}, round {r}: {:.1} ms", dt * 1e3);
            }
            assert!(
                res.tx_results.iter().all(|t| t.code == 0),
                "a bench tx failed"
            );
            h.app.commit().unwrap();
        }
        let per_block = total / rounds as f64;
        let tps = size as f64 / per_block;
        println!(
            "{size:>10} {rounds:>8} {:>12.1} {tps:>12.0}",
            per_block * 1e3
        );
        results.push((size, tps));
    }

    // The consensus path with optimistic execution: ProcessProposal executes
    // the block (and keeps the result), FinalizeBlock of the same block
    // reuses it.
    let size = sizes[0];
    {
        let dir = tempfile::tempdir().unwrap();
        let mut h =
            MockConsensus::new(&dir.path().join("db"), CHAIN_ID, &state, validators.clone())
                .unwrap();
        let (mut process_s, mut finalize_s) = (0.0f64, 0.0f64);
        for r in 0..rounds {
            let height = (r + 1) as i64;
            let mut block = vec![vote_ext::encode_injected(&h.local_last_commit())];
            for i in 0..size {
                let k = r * size + i;
                let to = addrs[(k + 1) % accounts];
                block.push(signed_send(
                    &keys[k],
                    &addrs[k],
                    &to,
                    h.account_number(&addrs[k]).unwrap(),
                ));
            }
            let t = Instant::now();
            let status = h.process(block.clone(), height).unwrap();
            process_s += t.elapsed().as_secs_f64();
            assert_eq!(
                status,
                tendermint_proto::v0_38::abci::response_process_proposal::ProposalStatus::Accept
            );
            h.extend_votes(height).unwrap();
            let t = Instant::now();
            let res = h.finalize(block, height).unwrap();
            finalize_s += t.elapsed().as_secs_f64();
            assert!(res.tx_results.iter().all(|t| t.code == 0));
            h.app.commit().unwrap();
        }
        assert_eq!(h.app.optimistic_hits(), rounds as u64);
        let per = |s: f64| s / rounds as f64 * 1e3;
        println!(
            "
ProcessProposal + FinalizeBlock, block of {size}: {:.1} + {:.1} ms/block \
             ({:.0} tx/s; FinalizeBlock reuses ProcessProposal's execution)",
            per(process_s),
            per(finalize_s),
            size as f64 / ((process_s + finalize_s) / rounds as f64)
        );
    }

    // CheckTx throughput (mempool path: one tx at a time, as CometBFT sends them).
    {
        let dir = tempfile::tempdir().unwrap();
        let h = MockConsensus::new(&dir.path().join("db"), CHAIN_ID, &state, validators.clone())
            .unwrap();
        let n = 2_000usize.min(accounts);
        let txs: Vec<Vec<u8>> = (0..n)
            .map(|k| {
                let to = addrs[(k + 1) % accounts];
                signed_send(
                    &keys[k],
                    &addrs[k],
                    &to,
                    h.account_number(&addrs[k]).unwrap(),
                )
            })
            .collect();
        let t = Instant::now();
        for tx in &txs {
            let r = h
                .app
                .check_tx(tendermint_proto::v0_38::abci::RequestCheckTx {
                    tx: tx.clone().into(),
                    r#type: 0,
                })
                .unwrap();
            assert_eq!(r.code, 0, "{}", r.log);
        }
        let first = n as f64 / t.elapsed().as_secs_f64();
        // Recheck (after a block) hits the signature cache.
        let t = Instant::now();
        for tx in &txs {
            let r = h
                .app
                .check_tx(tendermint_proto::v0_38::abci::RequestCheckTx {
                    tx: tx.clone().into(),
                    r#type: 1,
                })
                .unwrap();
            assert_eq!(
                r.code,
                comrade_primitives::ResultCode::WrongSequence.value()
            );
        }
        let again = n as f64 / t.elapsed().as_secs_f64();
        println!(
            "\nCheckTx: {first:.0} tx/s new, {again:.0} tx/s for already-seen txs (rejected as replays)"
        );
    }

    // Raw verification rate over the same kind of sign docs.
    let n = 5_000usize.min(accounts);
    let mut items = Vec::with_capacity(n);
    for (i, key) in keys.iter().take(n).enumerate() {
        let tx = signed_send(key, &addrs[i], &addrs[(i + 1) % n], i as u64);
        let raw = TxRaw::decode(tx.as_slice()).unwrap();
        let _ = (
            TxBody::decode(raw.body_bytes.as_slice()).unwrap(),
            AuthInfo::decode(raw.auth_info_bytes.as_slice()).unwrap(),
        );
        let doc = SignDoc {
            body_bytes: raw.body_bytes.clone(),
            auth_info_bytes: raw.auth_info_bytes.clone(),
            chain_id: CHAIN_ID.into(),
            account_number: i as u64,
        }
        .encode_to_vec();
        let vk: VerifyingKey = *key.verifying_key();
        let sig = Signature::from_slice(&raw.signatures[0]).unwrap();
        items.push((vk, doc, sig));
    }
    let t = Instant::now();
    for (vk, doc, sig) in &items {
        vk.verify(doc, sig).unwrap();
    }
    let k256_rate = n as f64 / t.elapsed().as_secs_f64();
    // The app verifies with libsecp256k1.
    let lib: Vec<_> = items
        .iter()
        .map(|(vk, doc, sig)| {
            use sha2::Digest as _;
            (
                secp256k1::PublicKey::from_slice(vk.to_encoded_point(true).as_bytes()).unwrap(),
                secp256k1::Message::from_slice(&sha2::Sha256::digest(doc)).unwrap(),
                secp256k1::ecdsa::Signature::from_compact(&sig.to_bytes()).unwrap(),
            )
        })
        .collect();
    let t = Instant::now();
    for (pk, msg, sig) in &lib {
        secp256k1::SECP256K1.verify_ecdsa(msg, sig, pk).unwrap();
    }
    let verify_rate = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "\nraw secp256k1 verify, one core: libsecp256k1 (used by the app) {verify_rate:.0} sig/s, k256 {k256_rate:.0} sig/s"
    );
    for (size, tps) in results {
        println!(
            "block of {size}: {tps:.0} tx/s = {:.2} of the raw verification bound",
            tps / verify_rate
        );
    }
}
