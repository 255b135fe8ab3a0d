//! T-P1/T-P2: many capacity sprints through the compute component's real
//! hooks and message handlers (no app, no consensus engine), with
//! simulated nodes on the `unit` profile: an honest node passes every
//! sprint, and a node that computed a fraction `f` of its rows passes with
//! the probability `f^k`, within the 99 % interval.

use cnidarium::{StateDelta, TempStorage};
use comrade_bank::{
    auth::module_accounts,
    bank::{Bank, BankGenesis, BankParams, state::load_params as load_bank},
};
use comrade_consensus::compute::{
    Compute, ComputeGenesis, ComputeParams, ComputeRead as _, ComputeWrite as _, MsgCommitCapacity,
    MsgRevealCapacity, commitment, sprint,
};
use comrade_exact::{Challenge, Profile, merkle, prf};
use comrade_primitives::{
    Address,
    component::{ActionHandler, BlockContext, Component},
    proto::compute::v1 as pb,
};

/// Sprints per node and case (the design's 10^4; `COMRADE_SPRINTS` changes it).
fn sprints() -> u64 {
    std::env::var("COMRADE_SPRINTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

const K: u16 = 8;
const ROWS: u64 = 64;

fn params() -> ComputeParams {
    ComputeParams {
        min_stake: 1,
        profile_id: Profile::UNIT.id,
        // one block of rows, then the beacon of the next 2-block period
        epoch_blocks: 8,
        sprint_blocks: 1,
        commit_grace_blocks: 0,
        beacon_period_blocks: 2,
        beacon_reveal_blocks: 1,
        reveal_blocks: 1,
        openings: K,
        mac_budget_per_block: u64::MAX,
        max_rows: ROWS,
        block_time_ms: 1_000,
        jail_after_faults: 0,
        // The simulated nodes reveal no beacon keys.
        jail_after_reveal_misses: 0,
        ..Default::default()
    }
}

struct Node {
    addr: Address,
    /// Rows it really computes, out of `ROWS`.
    honest: u64,
    passed: u64,
}

fn ctx(height: u64) -> BlockContext {
    // a block hash that differs per height, as CometBFT's does
    let mut hash = height.to_le_bytes().to_vec();
    hash.extend_from_slice(b"comrade-sim");
    BlockContext::mempool("sim", height).with_block_hash(Some(hash))
}

fn node_record(addr: &Address) -> pb::ComputeNode {
    pb::ComputeNode {
        operator: addr.to_string(),
        stake: u128::MAX.to_string().chars().take(30).collect(),
        status: pb::NodeStatus::Active as i32,
        hardware: Some(pb::HardwareClaim {
            accelerator: "cpu".into(),
            count: 1,
            ..Default::default()
        }),
        reputation: Some(Default::default()),
        slashed_total: "0".into(),
        ..Default::default()
    }
}

/// What node `n` commits: the row function for its first `honest` rows,
/// made-up outputs for the rest.
fn work(ch: &Challenge, n: &Node) -> (Vec<Vec<i32>>, merkle::Tree) {
    let key = prf::input_key(ch.seed(), &n.addr.0);
    let ys: Vec<Vec<i32>> = (0..ROWS)
        .map(|j| {
            if j < n.honest {
                ch.row(&ch.input(&key, j))
            } else {
                vec![1; Profile::UNIT.w_out]
            }
        })
        .collect();
    let leaves = ys
        .iter()
        .enumerate()
        .map(|(j, y)| Challenge::leaf(j as u64, y))
        .collect();
    (ys, merkle::Tree::from_leaves(leaves))
}

/// Runs `n_sprints` sprints; returns the sprint at which each node was
/// jailed, if it was.
async fn run(nodes: &mut [Node], n_sprints: u64, p: ComputeParams) -> Vec<Option<u64>> {
    let mut jailed = vec![None; nodes.len()];
    let storage = TempStorage::new().await.unwrap();
    let mut state = StateDelta::new(storage.latest_snapshot());
    p.validate().unwrap();
    load_bank(&mut state, BankParams::new("ucomrade", 6).unwrap());
    let pool = Address::module(module_accounts::STAKING_POOL);
    Bank::init_chain(
        &mut state,
        &BankGenesis {
            balances: vec![(pool, u128::MAX / 4)],
            total_supply: u128::MAX / 4,
        },
    )
    .await
    .unwrap();
    Compute::init_chain(&mut state, &ComputeGenesis { params: p.clone() })
        .await
        .unwrap();
    for n in nodes.iter() {
        state.put_compute_node(&n.addr, &node_record(&n.addr));
    }
    let mut works = Vec::new();
    for h in 1..=n_sprints * p.epoch_blocks {
        let ctx = ctx(h);
        let epoch = p.epoch_of(h);
        Compute::begin_block(&mut state, &ctx).await.unwrap();
        let s = sprint(&state, epoch).await.unwrap().unwrap();
        if h == s.start_height {
            let ch = Challenge::derive(Profile::UNIT, s.seed.as_slice().try_into().unwrap());
            works = nodes.iter().map(|n| work(&ch, n)).collect();
        }
        if h == s.start_height + 1 {
            for (i, (n, (_, tree))) in nodes.iter().zip(&works).enumerate() {
                let r = MsgCommitCapacity {
                    node: n.addr,
                    epoch,
                    root: tree.root(),
                    n_rows: tree.len(),
                }
                .check_and_execute(&mut state, &ctx)
                .await;
                match (r, jailed[i]) {
                    (Ok(()), None) => {}
                    // a jailed node is refused: not active (134)
                    (Err(comrade_primitives::ExecError::Tx(e)), Some(_)) => {
                        assert_eq!(e.code.value(), 134)
                    }
                    (r, j) => panic!("commit of node {i} in sprint {epoch}: {r:?} (jailed {j:?})"),
                }
            }
        }
        if s.opened && h <= s.reveal_deadline {
            for (n, (ys, tree)) in nodes.iter().zip(&works) {
                let Some(c) = commitment(&state, epoch, &n.addr).await.unwrap() else {
                    continue; // jailed: no commitment
                };
                if c.revealed {
                    continue;
                }
                let openings = c
                    .indices
                    .iter()
                    .enumerate()
                    .map(|(slot, &j)| pb::Opening {
                        slot: slot as u32,
                        y: ys[j as usize].clone(),
                        path: tree.path(j).unwrap().iter().map(|x| x.to_vec()).collect(),
                    })
                    .collect();
                MsgRevealCapacity {
                    node: n.addr,
                    epoch,
                    openings,
                }
                .check_and_execute(&mut state, &ctx)
                .await
                .unwrap();
            }
        }
        Compute::end_block(&mut state, &ctx).await.unwrap();
        if h == p.epoch_start(epoch + 1) - 1 {
            // the sprint is settled by its epoch's last block
            let s = sprint(&state, epoch).await.unwrap().unwrap();
            assert!(s.settled, "sprint {epoch} not settled by height {h}");
            for (i, n) in nodes.iter_mut().enumerate() {
                if let Some(c) = commitment(&state, epoch, &n.addr).await.unwrap()
                    && c.status == pb::CommitStatus::Passed as i32
                {
                    n.passed += 1;
                }
                let rec = state.compute_node(&n.addr).await.unwrap().unwrap();
                if rec.status == pb::NodeStatus::Jailed as i32 && jailed[i].is_none() {
                    jailed[i] = Some(epoch);
                }
            }
        }
    }
    jailed
}

fn nodes(honest: &[u64]) -> Vec<Node> {
    honest
        .iter()
        .enumerate()
        .map(|(i, &h)| Node {
            addr: Address([i as u8 + 1; 20]),
            honest: h,
            passed: 0,
        })
        .collect()
}

/// The 99 % normal interval of a binomial count.
fn interval(n: u64, p: f64) -> (f64, f64) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (mean - 2.576 * sd, mean + 2.576 * sd)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_nodes_pass_every_sprint_and_cheaters_pass_at_f_to_the_k() {
    let n = sprints();
    // f = 1, 0.97 (62 of 64), 0.9 (≈58 of 64), 0.5 (32 of 64)
    let mut all = nodes(&[ROWS, 62, 58, 32]);
    let jailed = run(&mut all, n, params()).await;
    assert!(jailed.iter().all(Option::is_none));
    assert_eq!(all[0].passed, n, "the honest node failed a sprint");
    for node in &all[1..] {
        let f = node.honest as f64 / ROWS as f64;
        let p = f.powi(i32::from(K));
        let (lo, hi) = interval(n, p);
        eprintln!(
            "f = {f:.3}: passed {} of {n}, expected {:.1} (99 % interval {lo:.1}..{hi:.1})",
            node.passed,
            n as f64 * p
        );
        assert!(
            (node.passed as f64) >= lo.floor() && (node.passed as f64) <= hi.ceil(),
            "f = {f}: {} passes outside {lo:.1}..{hi:.1}",
            node.passed
        );
    }
}

#[tokio::test]
async fn three_failed_sprints_in_a_row_jail_a_node() {
    // f = 0.5 fails nearly every sprint; the honest node never does.
    let mut all = nodes(&[ROWS, 32]);
    let p = ComputeParams {
        jail_after_faults: 3,
        // The simulated nodes reveal no beacon keys.
        jail_after_reveal_misses: 0,
        ..params()
    };
    let jailed = run(&mut all, 12, p).await;
    assert_eq!(jailed[0], None);
    // it passes a sprint with probability 2^-8: jailed after 3 faults in a row
    let j = jailed[1].expect("the cheater was never jailed");
    assert!(j >= 2, "jailed at sprint {j}, before its third fault");
    assert_eq!(all[0].passed, 12);
}
