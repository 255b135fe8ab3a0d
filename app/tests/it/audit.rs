//! Audits of real inference on the real state machine, with simulated
//! executors and auditors: receipt batches are committed, the beacon
//! selects receipts and draws auditors who serve the model, the executor
//! opens them with Merkle paths, the auditors report integer metrics, and
//! the chain applies the thresholds to the stake-weighted median. An
//! unopened receipt fails, outlying and missing auditors are struck, and
//! at the epoch's end a cheating executor is convicted: slashed,
//! throttled, its reporters paid a bounty. Every malformed or
//! out-of-window message is refused with its code.

use comrade_app::client::address_of;
use comrade_bank::auth::module_accounts;
use comrade_consensus::compute::{
    ComputeParams, ComputeRead as _, MsgCommitReceipts, MsgOpenReceipt, MsgRegisterComputeNode,
    MsgSubmitAudit, audit,
};
use comrade_exact::{Profile, merkle};
use comrade_primitives::{Address, component::ActionHandler, proto::compute::v1 as pb};
use comrade_test_utils::account_key;
use k256::ecdsa::SigningKey;

use crate::{chain::*, common::*};

const MODEL: &str = "smollm2-135m";
const OTHER: &str = "other-model";
const N_OUT: u32 = 64;

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
        max_rows: 10_000,
        jail_after_reveal_misses: 0,
        audit_rate_ppm: 1_000_000, // every receipt: the test follows each
        auditors_per_audit: 3,
        audit_open_blocks: 3,
        audit_report_blocks: 6,
        max_batches_per_period: 1,
        max_receipts_per_batch: 8,
        ..Default::default()
    }
}

fn register(n: &mut Net, key: &SigningKey, models: &[&str]) -> Vec<u8> {
    let op = address_of(key);
    n.tx(
        key,
        MsgRegisterComputeNode::TYPE_URL,
        &pb::MsgRegisterComputeNode {
            operator: op.to_string(),
            endpoint: "http://127.0.0.1:8080".into(),
            region: "local".into(),
            models: models.iter().map(|m| m.to_string()).collect(),
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

fn body(model: &str, i: u8) -> pb::ReceiptBody {
    pb::ReceiptBody {
        request_id: vec![i; 32],
        model: model.into(),
        prompt_hash: vec![1; 32],
        output_hash: vec![2; 32],
        n_prompt: 12,
        n_output: N_OUT,
        finish: audit::finish::MAX_TOKENS,
        tau_milli: 700,
        top_p_milli: 950,
        top_k: 0,
        user_seed: u64::from(i),
        proofs_hash: vec![3; 32],
        max_tokens: N_OUT,
    }
}

/// A simulated executor's batch: bodies and their tree.
struct Batch {
    bodies: Vec<pb::ReceiptBody>,
    tree: merkle::Tree,
}

fn batch(model: &str, first: u8, count: u8) -> Batch {
    let bodies: Vec<_> = (first..first + count).map(|i| body(model, i)).collect();
    let tree = merkle::Tree::from_leaves(bodies.iter().map(|b| audit::leaf(b).unwrap()).collect());
    Batch { bodies, tree }
}

fn commit(n: &mut Net, key: &SigningKey, model: &str, b: &Batch) -> Vec<u8> {
    n.tx(
        key,
        MsgCommitReceipts::TYPE_URL,
        &pb::MsgCommitReceipts {
            executor: address_of(key).to_string(),
            model: model.into(),
            root: b.tree.root().to_vec(),
            count: b.tree.len() as u32,
        },
    )
}

fn open(n: &mut Net, key: &SigningKey, b: &Batch, index: u32) -> Vec<u8> {
    open_with(n, key, b.bodies[index as usize].clone(), b, index)
}

fn open_with(
    n: &mut Net,
    key: &SigningKey,
    body: pb::ReceiptBody,
    b: &Batch,
    index: u32,
) -> Vec<u8> {
    n.tx(
        key,
        MsgOpenReceipt::TYPE_URL,
        &pb::MsgOpenReceipt {
            executor: address_of(key).to_string(),
            period: 0,
            seq: 0,
            index,
            body: Some(body),
            path: b
                .tree
                .path(u64::from(index))
                .unwrap_or_default()
                .iter()
                .map(|h| h.to_vec())
                .collect(),
        },
    )
}

/// Metrics of a report: `gated` steps beyond ε, otherwise clean.
fn metrics(gated: u32) -> pb::AuditMetrics {
    pb::AuditMetrics {
        n_steps: N_OUT,
        r_raw: gated + 1,
        r_gated: gated,
        margin_sum_milli: 1000,
        margin_max_milli: 900,
        toploc_chunks: audit::expected_chunks(N_OUT),
        toploc_fail_chunks: 0,
        exp_mis_max: 3,
        sign_mis_max: 0,
        mant_mean_avg_centi: 120,
        mant_mean_max_centi: 200,
        mant_median_max: 2,
        flags: 0,
    }
}

fn report(
    n: &mut Net,
    key: &SigningKey,
    executor: &Address,
    index: u32,
    m: pb::AuditMetrics,
) -> Vec<u8> {
    n.tx(
        key,
        MsgSubmitAudit::TYPE_URL,
        &pb::MsgSubmitAudit {
            auditor: address_of(key).to_string(),
            executor: executor.to_string(),
            period: 0,
            seq: 0,
            index,
            metrics: Some(m),
        },
    )
}

fn get_audit(n: &Net, executor: &Address, index: u32) -> pb::Audit {
    let snap = n.h.app.storage().latest_snapshot();
    n.h.app
        .block_on(audit::audit(&snap, 0, executor, 0, index))
        .unwrap()
        .unwrap()
}

fn node(n: &Net, op: &Address) -> pb::ComputeNode {
    let snap = n.h.app.storage().latest_snapshot();
    n.h.app.block_on(snap.compute_node(op)).unwrap().unwrap()
}

fn events(
    r: &tendermint_proto::v0_38::abci::ResponseFinalizeBlock,
    kind: &str,
) -> Vec<Vec<(String, String)>> {
    r.events
        .iter()
        .chain(r.tx_results.iter().flat_map(|t| t.events.iter()))
        .filter(|e| e.r#type == kind)
        .map(|e| {
            e.attributes
                .iter()
                .map(|a| (a.key.clone(), a.value.clone()))
                .collect()
        })
        .collect()
}

fn attr<'a>(e: &'a [(String, String)], k: &str) -> &'a str {
    e.iter()
        .find(|(key, _)| key == k)
        .map_or("", |(_, v)| v.as_str())
}

#[test]
fn receipts_are_selected_opened_audited_and_a_cheater_is_convicted() {
    let mut n = net(|g| g.compute = params());
    let keys: Vec<SigningKey> = (0..5).map(|i| account_key(800 + i)).collect();
    let [exec, cheat, a1, a2, a3] = [0, 1, 2, 3, 4].map(|i| keys[i].clone());
    n.fund(&keys, 30 * REDUCTION); // 1
    // The executor serves MODEL, the cheater OTHER; the auditors both, so
    // each executor's receipts are audited by exactly a1, a2 and a3.
    let regs = vec![
        (exec.clone(), register(&mut n, &exec, &[MODEL])),
        (cheat.clone(), register(&mut n, &cheat, &[OTHER])),
        (a1.clone(), register(&mut n, &a1, &[MODEL, OTHER])),
        (a2.clone(), register(&mut n, &a2, &[MODEL, OTHER])),
        (a3.clone(), register(&mut n, &a3, &[MODEL, OTHER])),
    ];
    n.block(regs); // 2
    let (e, c) = (address_of(&exec), address_of(&cheat));

    let be = batch(MODEL, 0, 4);
    let bc = batch(OTHER, 10, 2);
    // Refused: an empty batch, one over the cap, a model not served, a
    // sender that runs no node.
    let mut empty = batch(MODEL, 0, 1);
    empty.tree = merkle::Tree::from_leaves(vec![]);
    let t = commit(&mut n, &exec, MODEL, &empty);
    assert_eq!(n.check(t).0, 130);
    let t = commit(&mut n, &exec, MODEL, &batch(MODEL, 0, 9));
    assert_eq!(n.check(t).0, 145);
    let t = commit(&mut n, &exec, OTHER, &be);
    assert_eq!(n.check(t).0, 130);
    let carol = n.carol.clone();
    let t = commit(&mut n, &carol, MODEL, &be);
    assert_eq!(n.check(t).0, 132);
    let commits = vec![
        (exec.clone(), commit(&mut n, &exec, MODEL, &be)),
        (cheat.clone(), commit(&mut n, &cheat, OTHER, &bc)),
    ];
    let r = n.block(commits); // 3: period 0
    assert_eq!(
        events(&r, "comrade.compute.v1.EventReceiptsCommitted").len(),
        2
    );
    // One batch per period (CheckTx runs at 4, still period 0).
    let t = commit(&mut n, &exec, MODEL, &batch(MODEL, 30, 1));
    assert_eq!(n.check(t).0, 145);
    // Nothing is selected before β_0 (fixed at the end of 6).
    let t = open(&mut n, &exec, &be, 0);
    assert_eq!(n.check(t).0, 142);

    let r = n.run_to(6).pop().unwrap().1;
    let selected = events(&r, "comrade.compute.v1.EventAuditSelected");
    assert_eq!(selected.len(), 4 + 2, "{selected:?}");
    let a = get_audit(&n, &e, 0);
    let mut drawn = a.auditors.clone();
    drawn.sort();
    let mut want: Vec<String> = [&a1, &a2, &a3]
        .iter()
        .map(|k| address_of(k).to_string())
        .collect();
    want.sort();
    assert_eq!(
        drawn, want,
        "auditors serve the model and are not the executor"
    );
    assert_eq!((a.open_deadline, a.audit_deadline), (9, 12));

    // Opening: a body that is not the committed one, an index out of the
    // batch, a bad status code; then the real openings (receipt 3 of the
    // executor stays unopened).
    let mut forged = be.bodies[1].clone();
    forged.n_output -= 1;
    let t = open_with(&mut n, &exec, forged, &be, 1);
    assert_eq!(n.check(t).0, 143);
    let t = open_with(&mut n, &exec, be.bodies[0].clone(), &be, 1);
    assert_eq!(n.check(t).0, 143, "body 0 under index 1");
    let mut bad_finish = be.bodies[0].clone();
    bad_finish.finish = 7;
    let t = open_with(&mut n, &exec, bad_finish, &be, 0);
    assert_eq!(n.check(t).0, 143);
    let t = open(&mut n, &exec, &be, 0);
    let mut far = n.tx(
        &exec,
        MsgOpenReceipt::TYPE_URL,
        &pb::MsgOpenReceipt {
            executor: e.to_string(),
            period: 0,
            seq: 0,
            index: 9,
            body: Some(be.bodies[0].clone()),
            path: vec![],
        },
    );
    assert_eq!(n.check(std::mem::take(&mut far)).0, 142);
    // A report before the receipt is opened.
    let early = report(&mut n, &a1, &e, 0, metrics(0));
    assert_eq!(n.check(early).0, 141);
    let c0 = open(&mut n, &cheat, &bc, 0);
    n.block(vec![(exec.clone(), t), (cheat.clone(), c0)]); // 7
    let t = open(&mut n, &exec, &be, 0);
    assert_eq!(n.check(t).0, 138, "opened twice");

    // 8: e0 gets all three reports and concludes at once.
    let e1 = open(&mut n, &exec, &be, 1);
    let c1 = open(&mut n, &cheat, &bc, 1);
    let txs = vec![
        (exec.clone(), e1),
        (cheat.clone(), c1),
        (a1.clone(), report(&mut n, &a1, &e, 0, metrics(0))),
        (a2.clone(), report(&mut n, &a2, &e, 0, metrics(0))),
        (a3.clone(), report(&mut n, &a3, &e, 0, metrics(0))),
    ];
    let r = n.block(txs);
    let done = events(&r, "comrade.compute.v1.EventAuditConcluded");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(attr(&done[0], "outcome"), "passed");
    assert_eq!(get_audit(&n, &e, 0).status, pb::AuditStatus::Passed as i32);
    let again = report(&mut n, &a1, &e, 0, metrics(0));
    assert_eq!(n.check(again).0, 141, "a concluded audit takes no report");

    // Refused reports: from a node not drawn, inconsistent counts, a clean
    // report that does not cover the receipt, a sender that is no auditor.
    let t = report(&mut n, &exec, &c, 0, metrics(0));
    assert_eq!(n.check(t).0, 144);
    let mut m = metrics(5);
    m.r_raw = 4;
    let t = report(&mut n, &a1, &c, 0, m);
    assert_eq!(n.check(t).0, 130);
    let mut m = metrics(0);
    m.n_steps = N_OUT - 1;
    let t = report(&mut n, &a1, &c, 0, m);
    assert_eq!(n.check(t).0, 130);

    // 9: the last height to open; receipt 3 stays unopened and fails at
    // its end.
    let e2 = open(&mut n, &exec, &be, 2);
    let txs = vec![
        (exec.clone(), e2),
        (a1.clone(), report(&mut n, &a1, &e, 1, metrics(0))),
        (a2.clone(), report(&mut n, &a2, &c, 0, metrics(40))),
        (a3.clone(), report(&mut n, &a3, &c, 0, metrics(38))),
    ];
    let r = n.block(txs);
    let done = events(&r, "comrade.compute.v1.EventAuditConcluded");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(attr(&done[0], "outcome"), "failed");
    assert!(
        attr(&done[0], "reason").contains("not opened by height 9"),
        "{done:?}"
    );
    let t = open(&mut n, &exec, &be, 3);
    assert_eq!(n.check(t).0, 141, "too late to open");
    let twice = report(&mut n, &a1, &e, 1, metrics(0));
    assert_eq!(n.check(twice).0, 138);

    let txs = vec![
        (a1.clone(), report(&mut n, &a1, &e, 2, metrics(0))),
        (a2.clone(), report(&mut n, &a2, &e, 1, metrics(0))),
        (a3.clone(), report(&mut n, &a3, &c, 1, metrics(45))),
    ];
    n.block(txs); // 10
    // 11: c0 and e1 complete; a3's e1 report is an outlier.
    let txs = vec![
        (a1.clone(), report(&mut n, &a1, &c, 0, metrics(41))),
        (a2.clone(), report(&mut n, &a2, &e, 2, metrics(0))),
        (a3.clone(), report(&mut n, &a3, &e, 1, metrics(30))),
    ];
    let r = n.block(txs);
    let done = events(&r, "comrade.compute.v1.EventAuditConcluded");
    assert_eq!(done.len(), 2, "{done:?}");
    let c0 = get_audit(&n, &c, 0);
    assert_eq!(c0.status, pb::AuditStatus::Failed as i32, "{}", c0.reason);
    assert_eq!(
        c0.median.unwrap().r_gated,
        40,
        "the lower median of 38, 40, 41"
    );
    assert!(c0.reason.contains("40 of 64 steps beyond"), "{}", c0.reason);
    let e1 = get_audit(&n, &e, 1);
    assert_eq!(e1.status, pb::AuditStatus::Passed as i32, "{}", e1.reason);
    let struck = events(&r, "comrade.compute.v1.EventAuditorStruck");
    assert_eq!(struck.len(), 1, "{struck:?}");
    assert_eq!(attr(&struck[0], "auditor"), address_of(&a3).to_string());
    assert_eq!(attr(&struck[0], "strike"), "outlier");

    // 12: the report deadline: c1 concludes with two of three reports (a2
    // missed it), e2 too (a3 missed it).
    let txs = vec![(a1.clone(), report(&mut n, &a1, &c, 1, metrics(44)))];
    let r = n.block(txs);
    let done = events(&r, "comrade.compute.v1.EventAuditConcluded");
    assert_eq!(done.len(), 2, "{done:?}");
    assert_eq!(get_audit(&n, &c, 1).median.unwrap().r_gated, 44);
    assert_eq!(get_audit(&n, &c, 1).status, pb::AuditStatus::Failed as i32);
    assert_eq!(get_audit(&n, &e, 2).status, pb::AuditStatus::Passed as i32);
    let missed: Vec<_> = events(&r, "comrade.compute.v1.EventAuditorStruck")
        .iter()
        .map(|s| {
            (
                attr(s, "auditor").to_string(),
                attr(s, "strike").to_string(),
            )
        })
        .collect();
    assert_eq!(missed.len(), 2, "{missed:?}");
    assert!(missed.iter().all(|(_, s)| s == "missed"));
    let late = report(&mut n, &a2, &c, 1, metrics(44));
    assert_eq!(n.check(late).0, 141);

    let rep = |n: &Net, k: &SigningKey| node(n, &address_of(k)).reputation.unwrap();
    let r_exec = rep(&n, &exec);
    assert_eq!((r_exec.audits_passed, r_exec.audits_failed), (3, 1));
    assert_eq!(rep(&n, &cheat).audits_failed, 2);
    assert_eq!(rep(&n, &a1).reports, 5);
    let r3 = rep(&n, &a3);
    assert_eq!(
        (r3.reports, r3.reports_outlier, r3.reports_missed),
        (4, 1, 1)
    );
    assert_eq!(rep(&n, &a2).reports_missed, 1);

    // The query sees the period's batches and audits.
    use prost::Message as _;
    let q = n.h.app.query(tendermint_proto::v0_38::abci::RequestQuery {
        path: "/comrade.compute.v1.Query/Audits".into(),
        data: pb::QueryAuditsRequest {
            period: 0,
            executor: String::new(),
        }
        .encode_to_vec()
        .into(),
        height: 0,
        prove: false,
    });
    assert_eq!(q.code, 0, "{}", q.log);
    let q = pb::QueryAuditsResponse::decode(q.value.as_ref()).unwrap();
    assert_eq!((q.audits.len(), q.batches.len()), (6, 2));

    // The epoch ends at 40: the cheater's tally (84 of 128 steps beyond ε)
    // convicts it; the executor's one unopened receipt of four does not.
    n.run_to(39);
    let reporters = [&a1, &a2, &a3].map(address_of);
    let before: Vec<u128> = reporters.iter().map(|a| balance(&n.h, a)).collect();
    let treasury = Address::module(module_accounts::TREASURY);
    let t_before = balance(&n.h, &treasury);
    let r = n.block(vec![]); // 40
    let conv = events(&r, "comrade.compute.v1.EventConviction");
    assert_eq!(conv.len(), 1, "{conv:?}");
    assert_eq!(attr(&conv[0], "executor"), c.to_string());
    assert!(attr(&conv[0], "reason").contains("84 of 128"), "{conv:?}");
    let cut = 20 * REDUCTION * 500 / 10_000;
    let each = cut * 2_000 / 10_000 / 3;
    for (a, b) in reporters.iter().zip(before) {
        assert_eq!(balance(&n.h, a), b + each, "bounty for {a}");
    }
    assert_eq!(balance(&n.h, &treasury), t_before + cut - 3 * each);
    let v = node(&n, &c);
    assert_eq!(v.stake, (20 * REDUCTION - cut).to_string());
    assert_eq!(v.throttled_until_epoch, 4);
    assert_eq!(v.reputation.unwrap().convictions, 1);
    assert_eq!(node(&n, &e).reputation.unwrap().convictions, 0);
}

#[test]
fn at_rate_zero_nothing_is_selected() {
    let mut n = net(|g| {
        g.compute = ComputeParams {
            audit_rate_ppm: 0,
            ..params()
        }
    });
    let k = account_key(900);
    n.fund(std::slice::from_ref(&k), 30 * REDUCTION);
    let reg = register(&mut n, &k, &[MODEL]);
    n.block(vec![(k.clone(), reg)]);
    let b = batch(MODEL, 0, 8);
    let t = commit(&mut n, &k, MODEL, &b);
    n.block(vec![(k.clone(), t)]);
    let selected: usize = n
        .run_to(8)
        .iter()
        .map(|(_, r)| events(r, "comrade.compute.v1.EventAuditSelected").len())
        .sum();
    assert_eq!(selected, 0);
}
