//! Compute nodes on the real state machine: registration with stake
//! proportional to the claim, updates, unbonding (weight 0 at once, stake
//! paid later), the routing weight, and the hash-chain beacon (reveal
//! windows, chain links, misses, the value recomputed here).

use std::collections::BTreeMap;

use comrade_app::client::address_of;
use comrade_bank::auth::module_accounts;
use comrade_consensus::compute::{
    ComputeParams, ComputeRead as _, MsgRegisterComputeNode, MsgRevealKey, MsgUnbondComputeNode,
    MsgUpdateComputeNode, beacon_value,
};
use comrade_primitives::{Address, component::ActionHandler, proto::compute::v1 as pb};
use comrade_test_utils::account_key;
use k256::ecdsa::SigningKey;
use sha2::{Digest as _, Sha256};

use crate::{chain::*, common::*};

fn params() -> ComputeParams {
    ComputeParams {
        min_stake: 10 * REDUCTION,
        stake_per_int8_tops: REDUCTION,
        unbonding_blocks: 3,
        epoch_blocks: 200,
        beacon_period_blocks: 4,
        beacon_reveal_blocks: 2,
        max_keychain_len: 100,
        ..Default::default()
    }
}

/// A hash chain `s_0 … s_len`, `s_{i+1} = H(s_i)`; the tip is `s_len`.
fn chain(seed: u8, len: usize) -> Vec<[u8; 32]> {
    let mut c = vec![[seed; 32]];
    for _ in 0..len {
        let next: [u8; 32] = Sha256::digest(c.last().unwrap()).into();
        c.push(next);
    }
    c
}

fn register(op: &Address, stake: u128, tops: u64, tip: &[u8; 32]) -> pb::MsgRegisterComputeNode {
    pb::MsgRegisterComputeNode {
        operator: op.to_string(),
        endpoint: "http://127.0.0.1:8080".into(),
        region: "eu-west".into(),
        models: vec!["smollm2-135m".into()],
        hardware: Some(pb::HardwareClaim {
            accelerator: "cpu".into(),
            count: 1,
            memory_gib: 16,
            int8_tops: tops,
            bf16_tflops: 0,
        }),
        stake: stake.to_string(),
        keychain_tip: tip.to_vec(),
        keychain_len: 10,
    }
}

fn reveal(owner: &Address, period: u64, k: &[u8; 32]) -> pb::MsgRevealKey {
    pb::MsgRevealKey {
        owner: owner.to_string(),
        period,
        preimage: k.to_vec(),
    }
}

fn node(n: &Net, op: &Address) -> Option<pb::ComputeNode> {
    let snap = n.h.app.storage().latest_snapshot();
    n.h.app.block_on(snap.compute_node(op)).unwrap()
}

fn weight(n: &Net, op: &Address) -> u64 {
    use prost::Message as _;
    let r = n.h.app.query(tendermint_proto::v0_38::abci::RequestQuery {
        path: "/comrade.compute.v1.Query/Node".into(),
        data: pb::QueryNodeRequest {
            operator: op.to_string(),
        }
        .encode_to_vec()
        .into(),
        height: 0,
        prove: false,
    });
    assert_eq!(r.code, 0, "{}", r.log);
    pb::QueryNodeResponse::decode(r.value.as_ref())
        .unwrap()
        .node
        .unwrap()
        .routing_weight
}

/// Funds a fresh operator from carol.
fn operator(n: &mut Net, seed: u64, amount: u128) -> SigningKey {
    let k = account_key(seed);
    let carol = n.carol.clone();
    let ca = address_of(&carol);
    let tx = send(
        &carol,
        &address_of(&k),
        amount,
        account_number(&n.h, &ca),
        n.seq(&ca),
    );
    n.block(vec![(carol, tx)]);
    k
}

#[test]
fn registration_needs_stake_for_its_claim_and_bad_records_are_refused() {
    let mut n = net(|g| g.compute = params());
    let k = operator(&mut n, 500, 200 * REDUCTION);
    let op = address_of(&k);
    let tip = chain(1, 10)[10];
    let pool = Address::module(module_accounts::STAKING_POOL);
    let pool_before = balance(&n.h, &pool);
    let url = MsgRegisterComputeNode::TYPE_URL;

    // 50 TOPS need 50 COMRADE; the minimum is 10.
    let low = n.tx(&k, url, &register(&op, 49 * REDUCTION, 50, &tip));
    assert_eq!(n.check(low).0, 133);
    let below_min = n.tx(&k, url, &register(&op, 9 * REDUCTION, 0, &tip));
    assert_eq!(n.check(below_min).0, 133);
    let mut bad = register(&op, 50 * REDUCTION, 50, &tip);
    bad.endpoint = "ftp://x".into();
    let bad = n.tx(&k, url, &bad);
    assert_eq!(n.check(bad).0, 130);
    let mut dup = register(&op, 50 * REDUCTION, 50, &tip);
    dup.models = vec!["m".into(), "m".into()];
    let dup = n.tx(&k, url, &dup);
    assert_eq!(n.check(dup).0, 130);
    let mut long = register(&op, 50 * REDUCTION, 50, &tip);
    long.keychain_len = 101;
    let long = n.tx(&k, url, &long);
    assert_eq!(n.check(long).0, 130);
    let mut no_hw = register(&op, 50 * REDUCTION, 50, &tip);
    no_hw.hardware = None;
    let no_hw = n.tx(&k, url, &no_hw);
    assert_eq!(n.check(no_hw).0, 130);
    let update = n.tx(
        &k,
        MsgUpdateComputeNode::TYPE_URL,
        &pb::MsgUpdateComputeNode {
            operator: op.to_string(),
            endpoint: "http://a".into(),
            region: "r".into(),
            models: vec!["m".into()],
            hardware: register(&op, 1, 1, &tip).hardware,
            add_stake: "0".into(),
        },
    );
    assert_eq!(n.check(update).0, 132);
    assert!(node(&n, &op).is_none());

    let ok = n.tx(&k, url, &register(&op, 50 * REDUCTION, 50, &tip));
    n.block(vec![(k.clone(), ok)]);
    let rec = node(&n, &op).unwrap();
    assert_eq!(rec.stake, (50 * REDUCTION).to_string());
    assert_eq!(rec.status, pb::NodeStatus::Active as i32);
    assert_eq!(balance(&n.h, &pool), pool_before + 50 * REDUCTION);
    // 50 stake units × (1 + 0 verified TOPS) × reputation 1 × no throttle
    assert_eq!(weight(&n, &op), 50);
    let again = n.tx(&k, url, &register(&op, 50 * REDUCTION, 50, &tip));
    assert_eq!(n.check(again).0, 131);

    // Claiming 100 TOPS needs 100 staked: 50 more.
    let mut up = pb::MsgUpdateComputeNode {
        operator: op.to_string(),
        endpoint: "https://node.example".into(),
        region: "us-east".into(),
        models: vec!["smollm2-135m".into(), "qwen2-0.5b".into()],
        hardware: register(&op, 1, 100, &tip).hardware,
        add_stake: (49 * REDUCTION).to_string(),
    };
    let short = n.tx(&k, MsgUpdateComputeNode::TYPE_URL, &up);
    assert_eq!(n.check(short).0, 133);
    up.add_stake = (50 * REDUCTION).to_string();
    let up = n.tx(&k, MsgUpdateComputeNode::TYPE_URL, &up);
    n.block(vec![(k.clone(), up)]);
    let rec = node(&n, &op).unwrap();
    assert_eq!(rec.stake, (100 * REDUCTION).to_string());
    assert_eq!(rec.region, "us-east");
    assert_eq!(rec.models.len(), 2);
    assert_eq!(weight(&n, &op), 100);

    // Unbonding: weight 0 and no updates at once; paid and removed after 3 blocks.
    let unbond = n.tx(
        &k,
        MsgUnbondComputeNode::TYPE_URL,
        &pb::MsgUnbondComputeNode {
            operator: op.to_string(),
        },
    );
    n.block(vec![(k.clone(), unbond)]);
    let h = n.h.app.committed_height();
    assert_eq!(weight(&n, &op), 0);
    assert_eq!(node(&n, &op).unwrap().unbonding_until, h + 3);
    let unbond2 = n.tx(
        &k,
        MsgUnbondComputeNode::TYPE_URL,
        &pb::MsgUnbondComputeNode {
            operator: op.to_string(),
        },
    );
    assert_eq!(n.check(unbond2).0, 134);
    let before = balance(&n.h, &op);
    n.run_to(h + 2);
    assert!(node(&n, &op).is_some());
    assert_eq!(balance(&n.h, &op), before);
    n.run_to(h + 3);
    assert!(node(&n, &op).is_none());
    assert_eq!(balance(&n.h, &op), before + 100 * REDUCTION);
    assert_eq!(balance(&n.h, &pool), pool_before);
}

#[test]
fn the_beacon_takes_each_nodes_next_chain_link_in_its_window_and_counts_misses() {
    let mut n = net(|g| g.compute = params());
    let ka = operator(&mut n, 501, 100 * REDUCTION);
    let kb = operator(&mut n, 502, 100 * REDUCTION);
    let (a, b) = (address_of(&ka), address_of(&kb));
    let (ca, cb) = (chain(7, 10), chain(8, 10));
    let url = MsgRegisterComputeNode::TYPE_URL;
    let ra = n.tx(&ka, url, &register(&a, 20 * REDUCTION, 0, &ca[10]));
    let rb = n.tx(&kb, url, &register(&b, 20 * REDUCTION, 0, &cb[10]));
    n.block(vec![(ka.clone(), ra), (kb.clone(), rb)]);
    // Registered at height 3 (period 0: heights 1-4). Period 1 is 5-8; its
    // reveals are accepted at heights 9 and 10; β_1 is fixed at the end of 10.
    let rurl = MsgRevealKey::TYPE_URL;
    n.run_to(7);
    let early = n.tx(&ka, rurl, &reveal(&a, 1, &ca[9]));
    assert_eq!(n.check(early).0, 135); // CheckTx runs at height 8
    n.run_to(8);
    let wrong = n.tx(&ka, rurl, &reveal(&a, 1, &ca[8])); // two links down
    assert_eq!(n.check(wrong).0, 136);
    let ok = n.tx(&ka, rurl, &reveal(&a, 1, &ca[9]));
    n.block(vec![(ka.clone(), ok)]); // height 9
    let twice = n.tx(&ka, rurl, &reveal(&a, 1, &ca[8]));
    assert_eq!(n.check(twice).0, 135);
    // b withholds. The beacon is fixed at the end of height 10.
    n.run_to(9);
    let snap = n.h.app.storage().latest_snapshot();
    assert!(n.h.app.block_on(snap.beacon(1)).unwrap().is_none());
    n.run_to(10);
    let snap = n.h.app.storage().latest_snapshot();
    let beacon = n.h.app.block_on(snap.beacon(1)).unwrap().unwrap();
    let want = beacon_value(CHAIN_ID, 1, &BTreeMap::from([(a, ca[9])]));
    assert_eq!(beacon.value, want.to_vec());
    assert_eq!(beacon.reveals, 1);
    assert_eq!(node(&n, &b).unwrap().reputation.unwrap().reveals_missed, 1);
    assert_eq!(node(&n, &a).unwrap().reputation.unwrap().reveals, 1);
    // Too late for period 1; period 2's window (13, 14) takes the next link.
    let late = n.tx(&kb, rurl, &reveal(&b, 1, &cb[9]));
    assert_eq!(n.check(late).0, 135);
    n.run_to(12);
    let a2 = n.tx(&ka, rurl, &reveal(&a, 2, &ca[8]));
    let b2 = n.tx(&kb, rurl, &reveal(&b, 2, &cb[9]));
    n.block(vec![(ka.clone(), a2), (kb.clone(), b2)]);
    n.run_to(14);
    let snap = n.h.app.storage().latest_snapshot();
    let beacon = n.h.app.block_on(snap.beacon(2)).unwrap().unwrap();
    let want = beacon_value(CHAIN_ID, 2, &BTreeMap::from([(a, ca[8]), (b, cb[9])]));
    assert_eq!(beacon.value, want.to_vec());
    assert_ne!(
        want,
        beacon_value(CHAIN_ID, 2, &BTreeMap::from([(a, ca[8])]))
    );
}

#[test]
fn missed_beacon_reveals_in_a_row_jail_a_node_which_can_still_unbond() {
    let mut n = net(|g| {
        g.compute = ComputeParams {
            jail_after_reveal_misses: 2,
            ..params()
        }
    });
    let ka = operator(&mut n, 511, 100 * REDUCTION);
    let kb = operator(&mut n, 512, 100 * REDUCTION);
    let (a, b) = (address_of(&ka), address_of(&kb));
    let (ca, cb) = (chain(9, 10), chain(10, 10));
    let url = MsgRegisterComputeNode::TYPE_URL;
    let ra = n.tx(&ka, url, &register(&a, 20 * REDUCTION, 0, &ca[10]));
    let rb = n.tx(&kb, url, &register(&b, 20 * REDUCTION, 0, &cb[10]));
    n.block(vec![(ka.clone(), ra), (kb.clone(), rb)]); // height 3
    let rurl = MsgRevealKey::TYPE_URL;
    // Period 1 (window 9-10): both miss. One miss does not jail.
    n.run_to(10);
    let status = |n: &Net, op: &Address| node(n, op).unwrap().status;
    assert_eq!(status(&n, &a), pb::NodeStatus::Active as i32);
    assert_eq!(node(&n, &b).unwrap().keychain.unwrap().misses, 1);
    // Period 2 (window 13-14): a reveals (resetting its count), b misses
    // again and is jailed at the end of 14.
    n.run_to(12);
    let a2 = n.tx(&ka, rurl, &reveal(&a, 2, &ca[9]));
    n.block(vec![(ka.clone(), a2)]);
    n.run_to(14);
    let na = node(&n, &a).unwrap();
    assert_eq!(na.status, pb::NodeStatus::Active as i32);
    assert_eq!(na.keychain.unwrap().misses, 0);
    assert_eq!(status(&n, &b), pb::NodeStatus::Jailed as i32);
    assert_eq!(weight(&n, &b), 0, "a jailed node is not routed to");
    assert!(weight(&n, &a) > 0);
    // Jailed: no more reveals; a third miss changes nothing.
    n.run_to(16);
    let b3 = n.tx(&kb, rurl, &reveal(&b, 3, &cb[9]));
    assert_eq!(n.check(b3).0, 134);
    n.run_to(18);
    assert_eq!(status(&n, &b), pb::NodeStatus::Jailed as i32);
    assert_eq!(node(&n, &b).unwrap().keychain.unwrap().misses, 2);
    // It leaves by unbonding and gets its stake back after the period.
    let before = balance(&n.h, &b);
    let u = n.tx(
        &kb,
        MsgUnbondComputeNode::TYPE_URL,
        &pb::MsgUnbondComputeNode {
            operator: b.to_string(),
        },
    );
    n.block(vec![(kb.clone(), u)]);
    let h = n.height();
    assert_eq!(status(&n, &b), pb::NodeStatus::Unbonding as i32);
    n.run_to(h + 3);
    assert!(node(&n, &b).is_none());
    assert!(balance(&n.h, &b) + REDUCTION > before + 20 * REDUCTION);
}
