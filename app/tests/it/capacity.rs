//! The capacity protocol on the real state machine with simulated nodes
//! (the `unit` profile): an honest node passes and gets its verified
//! capacity; a node that computed a fraction of its rows, a node whose
//! path does not prove its row and a node that never reveals are slashed
//! and throttled, each with the reason in its event; every out-of-window
//! or malformed message is refused with its code.

use comrade_app::client::address_of;
use comrade_bank::auth::module_accounts;
use comrade_consensus::compute::{
    ComputeParams, ComputeRead as _, MsgCommitCapacity, MsgRegisterComputeNode, MsgRevealCapacity,
    routing_weight,
};
use comrade_exact::{Challenge, Profile, merkle, prf};
use comrade_primitives::{Address, component::ActionHandler, proto::compute::v1 as pb};
use comrade_test_utils::account_key;
use k256::ecdsa::SigningKey;

use crate::{chain::*, common::*};

fn params() -> ComputeParams {
    ComputeParams {
        min_stake: 10 * REDUCTION,
        profile_id: Profile::UNIT.id,
        epoch_blocks: 40,
        sprint_blocks: 4,
        commit_grace_blocks: 1,
        beacon_period_blocks: 4,
        beacon_reveal_blocks: 2,
        reveal_blocks: 6,
        openings: 8,
        // four rows per block: two nodes' reveals take four blocks
        mac_budget_per_block: 4 * Profile::UNIT.row_macs(),
        max_rows: 10_000,
        block_time_ms: 1_000,
        reward_per_sprint: 9 * REDUCTION,
        // Only some simulated nodes reveal beacon keys; beacon jailing is
        // tested in compute.rs.
        jail_after_reveal_misses: 0,
        ..Default::default()
    }
}

/// A simulated node's sprint: the outputs it committed (honest or not)
/// and their tree.
struct Work {
    ys: Vec<Vec<i32>>,
    tree: merkle::Tree,
}

/// Rows `0..n` of `node`, the first `honest` computed, the rest made up.
fn work(ch: &Challenge, node: &Address, n: u64, honest: u64) -> Work {
    let key = prf::input_key(ch.seed(), &node.0);
    let ys: Vec<Vec<i32>> = (0..n)
        .map(|j| {
            if j < honest {
                ch.row(&ch.input(&key, j))
            } else {
                vec![7; Profile::UNIT.w_out]
            }
        })
        .collect();
    let leaves = ys
        .iter()
        .enumerate()
        .map(|(j, y)| Challenge::leaf(j as u64, y))
        .collect();
    Work {
        ys,
        tree: merkle::Tree::from_leaves(leaves),
    }
}

impl Work {
    fn openings(&self, indices: &[u64]) -> Vec<pb::Opening> {
        indices
            .iter()
            .enumerate()
            .map(|(slot, &j)| pb::Opening {
                slot: slot as u32,
                y: self.ys[j as usize].clone(),
                path: self
                    .tree
                    .path(j)
                    .unwrap()
                    .iter()
                    .map(|h| h.to_vec())
                    .collect(),
            })
            .collect()
    }
}

fn register(n: &mut Net, key: &SigningKey) -> Vec<u8> {
    let op = address_of(key);
    n.tx(
        key,
        MsgRegisterComputeNode::TYPE_URL,
        &pb::MsgRegisterComputeNode {
            operator: op.to_string(),
            endpoint: "http://127.0.0.1:8080".into(),
            region: "local".into(),
            models: vec!["smollm2-135m".into()],
            hardware: Some(pb::HardwareClaim {
                accelerator: "cpu".into(),
                count: 1,
                memory_gib: 8,
                int8_tops: 0,
                bf16_tflops: 0,
            }),
            stake: (20 * REDUCTION).to_string(),
            keychain_tip: vec![1; 32],
            keychain_len: 10,
        },
    )
}

fn commit(n: &mut Net, key: &SigningKey, epoch: u64, w: &Work) -> Vec<u8> {
    n.tx(
        key,
        MsgCommitCapacity::TYPE_URL,
        &pb::MsgCommitCapacity {
            node: address_of(key).to_string(),
            epoch,
            root: w.tree.root().to_vec(),
            n_rows: w.tree.len(),
        },
    )
}

fn reveal(n: &mut Net, key: &SigningKey, openings: Vec<pb::Opening>) -> Vec<u8> {
    n.tx(
        key,
        MsgRevealCapacity::TYPE_URL,
        &pb::MsgRevealCapacity {
            node: address_of(key).to_string(),
            epoch: 0,
            openings,
        },
    )
}

fn sprint_state(n: &Net, node: &Address) -> (pb::Sprint, Option<pb::CapacityCommit>) {
    let snap = n.h.app.storage().latest_snapshot();
    let s =
        n.h.app
            .block_on(comrade_consensus::compute::sprint(&snap, 0))
            .unwrap()
            .unwrap();
    let c =
        n.h.app
            .block_on(comrade_consensus::compute::commitment(&snap, 0, node))
            .unwrap();
    (s, c)
}

fn node(n: &Net, op: &Address) -> pb::ComputeNode {
    let snap = n.h.app.storage().latest_snapshot();
    n.h.app.block_on(snap.compute_node(op)).unwrap().unwrap()
}

#[test]
fn honest_capacity_passes_and_cheating_missing_and_bad_paths_are_slashed_and_throttled() {
    let mut n = net(|g| {
        g.compute = params();
        fund_module(g, module_accounts::REWARD_POOL, 100 * REDUCTION);
    });
    let keys: Vec<SigningKey> = (0..5).map(|i| account_key(600 + i)).collect();
    let [honest, cheat, lazy, badpath, late] = [0, 1, 2, 3, 4].map(|i| keys[i].clone());
    n.fund(&keys, 30 * REDUCTION); // height 1: sprint 0 starts
    let regs: Vec<_> = keys
        .iter()
        .map(|k| (k.clone(), register(&mut n, k)))
        .collect();
    n.block(regs); // height 2

    let (s, _) = sprint_state(&n, &address_of(&honest));
    assert_eq!((s.start_height, s.commit_deadline), (1, 6));
    assert_eq!(s.open_period, 2);
    assert_eq!(s.reveal_deadline, 20);
    let seed: [u8; 32] = s.seed.as_slice().try_into().unwrap();
    let ch = Challenge::derive(Profile::UNIT, seed);
    let w_honest = work(&ch, &address_of(&honest), 200, 200);
    let w_cheat = work(&ch, &address_of(&cheat), 200, 10);
    let w_lazy = work(&ch, &address_of(&lazy), 200, 200);
    let w_bad = work(&ch, &address_of(&badpath), 200, 200);

    let commits = vec![
        (honest.clone(), commit(&mut n, &honest, 0, &w_honest)),
        (cheat.clone(), commit(&mut n, &cheat, 0, &w_cheat)),
        (lazy.clone(), commit(&mut n, &lazy, 0, &w_lazy)),
        (badpath.clone(), commit(&mut n, &badpath, 0, &w_bad)),
    ];
    n.block(commits); // height 3
    // A second commitment, a commitment to a sprint that does not exist,
    // a reveal before the opening beacon, zero rows.
    let again = commit(&mut n, &honest, 0, &w_honest);
    assert_eq!(n.check(again).0, 138);
    let future = commit(&mut n, &late, 1, &w_honest);
    assert_eq!(n.check(future).0, 137);
    let early = reveal(&mut n, &honest, vec![]);
    assert_eq!(n.check(early).0, 137);
    let none = reveal(&mut n, &late, vec![]);
    assert_eq!(n.check(none).0, 139);
    n.run_to(6);
    // CheckTx runs at height 7, past the commit deadline 6.
    let w_late = work(&ch, &address_of(&late), 10, 10);
    let too_late = commit(&mut n, &late, 0, &w_late);
    assert_eq!(n.check(too_late).0, 137);

    n.run_to(14); // β_2 is fixed at the end of 14: rows drawn
    let (s, c) = sprint_state(&n, &address_of(&honest));
    assert!(s.opened);
    let idx = |n: &Net, k: &SigningKey| sprint_state(n, &address_of(k)).1.unwrap().indices;
    let ih = c.unwrap().indices;
    assert_eq!(ih.len(), 8);
    assert!(ih.iter().all(|&j| j < 200));
    // Malformed reveals are refused and can be resent.
    let short = reveal(&mut n, &honest, w_honest.openings(&ih[..7]));
    assert_eq!(n.check(short).0, 140);
    let mut dup = w_honest.openings(&ih);
    dup[1].slot = 0;
    let dup = reveal(&mut n, &honest, dup);
    assert_eq!(n.check(dup).0, 140);
    let mut narrow = w_honest.openings(&ih);
    narrow[0].y.pop();
    let narrow = reveal(&mut n, &honest, narrow);
    assert_eq!(n.check(narrow).0, 140);
    // Another node's rows under this node's commitment do not verify.
    let ic = idx(&n, &cheat);
    let stolen = reveal(&mut n, &cheat, w_honest.openings(&ic));
    let mut bad = w_bad.openings(&idx(&n, &badpath));
    // the path of slot 0 taken from another row
    let other = (idx(&n, &badpath)[0] + 1) % 200;
    bad[0].path = w_bad
        .tree
        .path(other)
        .unwrap()
        .iter()
        .map(|h| h.to_vec())
        .collect();
    let bad = reveal(&mut n, &badpath, bad);
    let ok = reveal(&mut n, &honest, w_honest.openings(&ih));
    // The cheater's first try (another node's rows) fails its paths: it is
    // failed at once, so its own rows are never queued.
    let r = n.block(vec![
        (honest.clone(), ok),
        (badpath.clone(), bad),
        (cheat.clone(), stolen),
    ]); // 15
    assert_eq!(r.tx_results.len(), 4);
    let (s, c) = sprint_state(&n, &address_of(&badpath));
    assert_eq!(c.unwrap().status, pb::CommitStatus::Failed as i32);
    let cheat_commit = sprint_state(&n, &address_of(&cheat)).1.unwrap();
    // (a path for another tree fails unless the cheater's rows equal the
    // honest node's, which they do not)
    assert_eq!(
        cheat_commit.status,
        pb::CommitStatus::Failed as i32,
        "{}",
        cheat_commit.failure
    );
    // Only the honest node's 8 rows are queued; 4 were verified in 15.
    assert_eq!(s.queued, 4);
    assert_eq!(
        sprint_state(&n, &address_of(&honest)).1.unwrap().verified,
        4
    );
    let twice = reveal(&mut n, &honest, w_honest.openings(&ih));
    assert_eq!(n.check(twice).0, 138);
    n.run_to(16);
    let c = sprint_state(&n, &address_of(&honest)).1.unwrap();
    assert_eq!(c.status, pb::CommitStatus::Passed as i32);
    assert_eq!(c.verified, 8);

    // Nothing settles before the reveal deadline (20); it settles at 21.
    n.run_to(20);
    assert!(!sprint_state(&n, &address_of(&honest)).0.settled);
    let il = idx(&n, &lazy);
    let after = reveal(&mut n, &lazy, w_lazy.openings(&il));
    assert_eq!(n.check(after).0, 137);
    let treasury = Address::module(module_accounts::TREASURY);
    let treasury_before = balance(&n.h, &treasury);
    let honest_before = balance(&n.h, &address_of(&honest));
    let r = n.block(vec![]); // 21 (empty: no fee shares)
    // The only node that passed gets the sprint's whole reward, from the pool.
    assert_eq!(
        balance(&n.h, &address_of(&honest)),
        honest_before + 9 * REDUCTION
    );
    assert_eq!(
        balance(&n.h, &Address::module(module_accounts::REWARD_POOL)),
        91 * REDUCTION
    );
    assert_eq!(
        node(&n, &address_of(&honest)).rewards_total,
        (9 * REDUCTION).to_string()
    );
    assert!(
        r.events
            .iter()
            .any(|e| e.r#type == "comrade.compute.v1.EventCapacityRewarded")
    );
    assert!(sprint_state(&n, &address_of(&honest)).0.settled);
    let p = params();
    let h = node(&n, &address_of(&honest));
    assert_eq!(h.reputation.unwrap().sprints_passed, 1);
    assert_eq!(
        h.verified_mac_per_s,
        200 * Profile::UNIT.row_macs() * 1000 / (4 * 1000)
    );
    assert_eq!(h.stake, (20 * REDUCTION).to_string());
    assert_eq!(h.throttled_until_epoch, 0);
    let mut slashed = 0;
    for (k, bps, field) in [
        (&cheat, 200u128, "failed"),
        (&badpath, 200, "failed"),
        (&lazy, 100, "missed"),
    ] {
        let v = node(&n, &address_of(k));
        let cut = 20 * REDUCTION * bps / 10_000;
        slashed += cut;
        assert_eq!(v.stake, (20 * REDUCTION - cut).to_string(), "{field}");
        assert_eq!(v.throttled_until_epoch, 4);
        assert_eq!(v.verified_mac_per_s, 0);
        // throttled and with a bad record, it weighs far less than the honest node
        assert!(routing_weight(&v, &p, 0) * 10 < routing_weight(&h, &p, 0));
    }
    assert_eq!(
        node(&n, &address_of(&lazy))
            .reputation
            .unwrap()
            .sprints_missed,
        1
    );
    assert_eq!(balance(&n.h, &treasury), treasury_before + slashed);
    let settled: Vec<(String, String)> = r
        .events
        .iter()
        .filter(|e| e.r#type == "comrade.compute.v1.EventCapacitySettled")
        .map(|e| {
            let get = |k: &str| {
                e.attributes
                    .iter()
                    .find(|a| a.key == k)
                    .map(|a| a.value.clone())
                    .unwrap_or_default()
            };
            (get("outcome"), get("reason"))
        })
        .collect();
    assert_eq!(settled.len(), 5, "{settled:?}");
    assert!(
        settled
            .iter()
            .any(|(o, r)| o == "passed" && r.contains("8 of 8")),
        "{settled:?}"
    );
    assert!(
        settled
            .iter()
            .any(|(o, r)| o == "failed" && r.contains("does not prove")),
        "{settled:?}"
    );
    assert!(
        settled
            .iter()
            .any(|(o, r)| o == "missed" && r.contains("not revealed")),
        "{settled:?}"
    );
    assert!(settled.iter().any(|(o, _)| o == "absent"), "{settled:?}");
}

#[test]
fn a_node_that_computed_a_fraction_of_its_rows_fails_on_a_wrong_row() {
    let mut n = net(|g| g.compute = params());
    let cheat = account_key(700);
    n.fund(std::slice::from_ref(&cheat), 30 * REDUCTION);
    let reg = register(&mut n, &cheat);
    n.block(vec![(cheat.clone(), reg)]);
    let (s, _) = sprint_state(&n, &address_of(&cheat));
    let ch = Challenge::derive(Profile::UNIT, s.seed.as_slice().try_into().unwrap());
    // 10 of 200 rows computed: all 8 openings hit a real row with
    // probability (1/20)^8.
    let w = work(&ch, &address_of(&cheat), 200, 10);
    let c = commit(&mut n, &cheat, 0, &w);
    n.block(vec![(cheat.clone(), c)]);
    n.run_to(14);
    let indices = sprint_state(&n, &address_of(&cheat)).1.unwrap().indices;
    let r = reveal(&mut n, &cheat, w.openings(&indices));
    n.block(vec![(cheat.clone(), r)]); // paths are right: queued
    n.run_to(21);
    let c = sprint_state(&n, &address_of(&cheat)).1.unwrap();
    assert_eq!(c.status, pb::CommitStatus::Failed as i32);
    assert!(
        c.failure.contains("is not the row function's output"),
        "{}",
        c.failure
    );
    let v = node(&n, &address_of(&cheat));
    assert_eq!(v.reputation.unwrap().sprints_failed, 1);
    assert_eq!(
        v.stake,
        (20 * REDUCTION - 20 * REDUCTION * 200 / 10_000).to_string()
    );
}
