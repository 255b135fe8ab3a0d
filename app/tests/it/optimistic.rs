//! Optimistic execution: FinalizeBlock reuses the execution PrepareProposal
//! or ProcessProposal did of the same block, and must answer exactly what
//! executing the block again would.

use comrade_app::{client::address_of, vote_ext};
use comrade_test_utils::{MockConsensus, account_key};
use tendermint_proto::v0_38::abci::{
    RequestFinalizeBlock, RequestProcessProposal, ResponseFinalizeBlock,
    response_process_proposal::ProposalStatus,
};

use crate::common::*;

const SENDERS: std::ops::Range<u64> = 20..26;

fn chain(dir: &std::path::Path) -> MockConsensus {
    funded_chain(dir, &SENDERS.map(account_key).collect::<Vec<_>>())
}

/// Two stores from the same genesis: `a` takes the optimistic path, `b`
/// executes in FinalizeBlock.
struct Pair {
    a: MockConsensus,
    b: MockConsensus,
    nums: Vec<u64>,
    seqs: Vec<u64>,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

fn pair() -> Pair {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let a = chain(&d1.path().join("db"));
    let b = chain(&d2.path().join("db"));
    let nums = SENDERS
        .map(|s| account_number(&a, &address_of(&account_key(s))))
        .collect();
    Pair {
        a,
        b,
        nums,
        seqs: vec![0; SENDERS.count()],
        _dirs: (d1, d2),
    }
}

impl Pair {
    /// One valid transfer from each sender, to a fresh address for some
    /// (so accounts get created too).
    fn txs(&mut self, height: u64) -> Vec<Vec<u8>> {
        let mut txs = Vec::new();
        for (i, s) in SENDERS.enumerate() {
            let to = if i % 2 == 0 {
                address_of(&account_key(1000 + height * 10 + i as u64))
            } else {
                address_of(&account_key(s + 1))
            };
            txs.push(send(
                &account_key(s),
                &to,
                100 + u128::from(height),
                self.nums[i],
                self.seqs[i],
            ));
            self.seqs[i] += 1;
        }
        txs
    }

    fn height(&self) -> i64 {
        i64::try_from(self.a.app.committed_height()).unwrap() + 1
    }

    /// The block with the injected extended commit in front.
    fn block(&self, txs: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut block = vec![vote_ext::encode_injected(&self.a.local_last_commit())];
        block.extend(txs.iter().cloned());
        block
    }

    fn extend_votes(&mut self, height: i64) {
        self.a.extend_votes(height).unwrap();
        self.b.extend_votes(height).unwrap();
    }

    fn commit(&self) {
        self.a.app.commit().unwrap();
        self.b.app.commit().unwrap();
    }
}

fn process(h: &MockConsensus, txs: &[Vec<u8>], height: i64, hash: &[u8]) -> ProposalStatus {
    let r = h
        .app
        .process_proposal(RequestProcessProposal {
            txs: txs.iter().cloned().map(Into::into).collect(),
            hash: hash.to_vec().into(),
            height,
            ..Default::default()
        })
        .unwrap();
    ProposalStatus::try_from(r.status).unwrap()
}

fn finalize(h: &MockConsensus, txs: &[Vec<u8>], height: i64, hash: &[u8]) -> ResponseFinalizeBlock {
    h.app
        .finalize_block(RequestFinalizeBlock {
            txs: txs.iter().cloned().map(Into::into).collect(),
            hash: hash.to_vec().into(),
            height,
            ..Default::default()
        })
        .unwrap()
}

fn assert_same(x: &ResponseFinalizeBlock, y: &ResponseFinalizeBlock, what: &str) {
    assert_eq!(x.app_hash, y.app_hash, "{what}: app hash");
    assert_eq!(x.tx_results, y.tx_results, "{what}: tx results");
    assert_eq!(x.events, y.events, "{what}: events");
}

#[test]
fn reuse_of_process_proposal_equals_plain_execution_and_survives_restart() {
    let mut p = pair();
    for round in 0..4 {
        let height = p.height();
        let txs = p.txs(height as u64);
        let block = p.block(&txs);
        let hash = [round as u8 + 1; 32];
        assert_eq!(process(&p.a, &block, height, &hash), ProposalStatus::Accept);
        p.extend_votes(height);
        let hits = p.a.app.optimistic_hits();
        let ra = finalize(&p.a, &block, height, &hash);
        assert_eq!(p.a.app.optimistic_hits(), hits + 1, "height {height}");
        let rb = finalize(&p.b, &block, height, &hash);
        assert_eq!(p.b.app.optimistic_hits(), 0);
        assert_same(&ra, &rb, &format!("height {height}"));
        assert!(ra.tx_results.iter().all(|r| r.code == 0));
        assert!(ra.tx_results[1..].iter().all(|r| !r.events.is_empty()));
        p.commit();
        assert_eq!(p.a.info().unwrap(), p.b.info().unwrap());
    }

    // A crash between an optimistic FinalizeBlock and Commit: the restarted
    // node replays the block by executing it and reaches the same hash.
    let height = p.height();
    let txs = p.txs(height as u64);
    let block = p.block(&txs);
    assert_eq!(
        process(&p.a, &block, height, &[9; 32]),
        ProposalStatus::Accept
    );
    p.extend_votes(height);
    let before = finalize(&p.a, &block, height, &[9; 32]);
    let Pair { a, b, .. } = p;
    let a = a.restart().unwrap();
    let replayed = finalize(&a, &block, height, &[9; 32]);
    assert_eq!(a.app.optimistic_hits(), 0);
    assert_same(&before, &replayed, "replay after restart");
    a.app.commit().unwrap();
    let rb = finalize(&b, &block, height, &[9; 32]);
    assert_same(&before, &rb, "other store");
}

#[test]
fn prepare_proposal_execution_is_reused_through_process_to_finalize() {
    let mut p = pair();
    let height = p.height();
    let mut txs = p.txs(height as u64);
    // A replay (wrong sequence) that PrepareProposal must drop.
    let bad = txs[1].clone();
    txs.push(bad);
    let injected = vote_ext::encode_injected(&p.a.local_last_commit());
    let ra = p.a.propose_and_finalize(txs.clone()).unwrap();
    assert_eq!(p.a.app.optimistic_hits(), 1);
    let mut block = vec![injected];
    block.extend(txs[..txs.len() - 1].iter().cloned());
    // The harness names the block by its hash, as CometBFT does; the
    // epoch's first block seeds the capacity sprint with it.
    let rb = finalize(
        &p.b,
        &block,
        height,
        &comrade_test_utils::block_hash(height, &block),
    );
    assert_same(&ra, &rb, "prepared block");
    assert_eq!(ra.tx_results.len(), txs.len());
    p.b.extend_votes(height).unwrap();
    p.commit();

    // Several heights through the full harness on both stores agree too.
    for _ in 0..3 {
        let height = p.height();
        let txs = p.txs(height as u64);
        let ra = p.a.block(txs.clone()).unwrap();
        let rb = p.b.block(txs).unwrap();
        assert_same(&ra, &rb, &format!("height {height}"));
    }
    assert_eq!(p.a.app.optimistic_hits(), 4);
}

#[test]
fn mismatching_finalize_does_not_reuse() {
    let mut p = pair();

    // Different txs than the processed proposal (same height): executed anew.
    let height = p.height();
    let txs = p.txs(height as u64);
    let processed = p.block(&txs);
    let decided = p.block(&txs[..txs.len() - 1]);
    assert_eq!(
        process(&p.a, &processed, height, &[1; 32]),
        ProposalStatus::Accept
    );
    p.extend_votes(height);
    let ra = finalize(&p.a, &decided, height, &[2; 32]);
    let rb = finalize(&p.b, &decided, height, &[2; 32]);
    assert_eq!(p.a.app.optimistic_hits(), 0);
    assert_same(&ra, &rb, "other txs");
    assert_eq!(ra.tx_results.len(), decided.len());
    p.commit();
    // The last sender's tx was not decided: resend it next height.
    p.seqs[SENDERS.count() - 1] -= 1;

    // Same txs, different block hash (another round's block): executed anew.
    let height = p.height();
    let txs = p.txs(height as u64);
    let block = p.block(&txs);
    assert_eq!(
        process(&p.a, &block, height, &[3; 32]),
        ProposalStatus::Accept
    );
    p.extend_votes(height);
    let ra = finalize(&p.a, &block, height, &[4; 32]);
    let rb = finalize(&p.b, &block, height, &[4; 32]);
    assert_eq!(p.a.app.optimistic_hits(), 0);
    assert_same(&ra, &rb, "other hash");
    p.commit();

    // A rejected proposal (a failing tx) leaves nothing to reuse; deciding
    // it anyway executes it, with the failing tx's code.
    let height = p.height();
    let mut txs = p.txs(height as u64);
    txs.push(txs[0].clone()); // replay: wrong sequence
    let block = p.block(&txs);
    assert_eq!(
        process(&p.a, &block, height, &[5; 32]),
        ProposalStatus::Reject
    );
    p.extend_votes(height);
    let ra = finalize(&p.a, &block, height, &[5; 32]);
    let rb = finalize(&p.b, &block, height, &[5; 32]);
    assert_eq!(p.a.app.optimistic_hits(), 0);
    assert_same(&ra, &rb, "rejected proposal");
    assert_ne!(ra.tx_results.last().unwrap().code, 0);
    p.commit();

    // Proposals of two rounds at one height: the decided one is reused.
    let height = p.height();
    let txs = p.txs(height as u64);
    let round0 = p.block(&txs[..2]);
    let round1 = p.block(&txs);
    assert_eq!(
        process(&p.a, &round0, height, &[6; 32]),
        ProposalStatus::Accept
    );
    assert_eq!(
        process(&p.a, &round1, height, &[7; 32]),
        ProposalStatus::Accept
    );
    p.extend_votes(height);
    let ra = finalize(&p.a, &round1, height, &[7; 32]);
    let rb = finalize(&p.b, &round1, height, &[7; 32]);
    assert_eq!(p.a.app.optimistic_hits(), 1);
    assert_same(&ra, &rb, "second round");
    p.commit();
    assert_eq!(p.a.info().unwrap(), p.b.info().unwrap());
}

/// The read cache (committed values kept across heights) against a store
/// that restarts, and so starts with an empty cache, at every height: same
/// senders and recipients every height, so `b` serves them from the cache.
#[test]
fn warm_read_cache_agrees_with_a_cold_one() {
    let mut p = pair();
    for _ in 0..5 {
        let height = p.height();
        let txs = p.txs(height as u64);
        let ra = p.a.block(txs.clone()).unwrap();
        let rb = p.b.block(txs).unwrap();
        assert_same(&ra, &rb, &format!("height {height}"));
        assert!(p.b.app.read_cache_len() > 0);
        let Pair {
            a,
            b,
            nums,
            seqs,
            _dirs,
        } = p;
        p = Pair {
            a: a.restart().unwrap(),
            b,
            nums,
            seqs,
            _dirs,
        };
        assert_eq!(p.a.app.read_cache_len(), 0);
    }
    // Balances read straight from storage match what the cached runs did.
    for s in SENDERS {
        let a = address_of(&account_key(s));
        assert_eq!(balance(&p.a, &a), balance(&p.b, &a));
        assert_eq!(sequence(&p.b, &a), 5);
    }
}
