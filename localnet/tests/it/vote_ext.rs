//! Every validator's vote extension reaches the next proposal's injected tx.

use comrade_app::vote_ext::{SetMember, decode_injected, is_injected, verify_extended_commit};
use tendermint_proto::v0_38::types::BlockIdFlag;
use tendermint_rpc::Client as _;

use crate::common::{CHAIN_ID, TestNet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vote_extensions_of_all_validators_are_injected() {
    use base64::Engine as _;
    // CometBFT puts into the next proposal the precommits (with their
    // extensions) that arrived within timeout_commit. Two seconds (not the
    // localnet's 500 ms) let a validator that is briefly slow on a loaded
    // 2-core machine still make it; completeness is timing, not correctness.
    // (With 1 s, 5 of 10 blocks were complete while CI ran the other
    // localnet tests beside it; 9 of 10 on an idle machine.)
    let mut t = TestNet::start_with("vote-ext", 5, |cfg| {
        cfg.timeout_commit = "2s".into();
    })
    .await;
    let set: Vec<SetMember> = t
        .net
        .manifest()
        .nodes
        .iter()
        .map(|n| {
            let key: [u8; 32] = base64::engine::general_purpose::STANDARD
                .decode(&n.pub_key)
                .unwrap()
                .try_into()
                .unwrap();
            SetMember {
                address: comrade_app::validators::consensus_address(&key),
                pub_key: key,
                power: 10,
            }
        })
        .collect();
    // Completeness is counted over 10 blocks that start after every node is
    // running and in step (a node still starting up, or catching up, misses
    // precommits for reasons that have nothing to do with extensions).
    // Validity is checked for every block from height 3.
    let mut heights = Vec::new();
    for i in 0..t.net.len() {
        heights.push(t.height(i).await);
    }
    let first = heights.iter().max().copied().unwrap_or(0).max(3) + 1;
    let last = first + 9;
    t.wait_all(last, 90).await;
    let c = t.client(1);
    let mut complete = 0;
    let mut seen = std::collections::BTreeSet::new();
    // Blocks in which each validator's extension was missing.
    let mut missing: std::collections::BTreeMap<String, u64> = Default::default();
    for h in 1..=last {
        let b = c
            .block(tendermint::block::Height::try_from(h).unwrap())
            .await
            .unwrap();
        let tx0 = b
            .block
            .data
            .first()
            .unwrap_or_else(|| panic!("block {h} has no tx[0]"));
        assert!(
            is_injected(tx0),
            "tx[0] of block {h} is not the injected tx"
        );
        let info = decode_injected(tx0).unwrap();
        if h < 3 {
            continue;
        }
        // Signatures, heights, canonical encoding and > 2/3 power: the same
        // check ProcessProposal runs.
        let verified = verify_extended_commit(&info, &set, (h - 1) as i64, CHAIN_ID)
            .unwrap_or_else(|e| panic!("block {h}: {e:?}"));
        for (addr, ext) in &verified {
            assert_eq!(ext.height, (h - 1) as i64);
            seen.insert(*addr);
        }
        let with_ext = info
            .votes
            .iter()
            .filter(|v| {
                v.block_id_flag == BlockIdFlag::Commit as i32 && !v.vote_extension.is_empty()
            })
            .count();
        assert!(with_ext >= 3, "block {h}: only {with_ext} extensions");
        if h < first {
            continue;
        }
        if with_ext == set.len() {
            complete += 1;
        }
        for m in &set {
            if !verified.iter().any(|(a, _)| *a == m.address) {
                *missing.entry(hex::encode_upper(m.address)).or_default() += 1;
            }
        }
    }
    eprintln!(
        "{complete} of {} blocks carry all {} extensions; blocks missing each validator's: {missing:?}",
        last - first + 1,
        set.len()
    );
    assert_eq!(
        seen.len(),
        set.len(),
        "some validator's extension never appeared"
    );
    // Late precommits can miss a proposal now and then; nearly all carry all 4.
    let checked = last - first + 1;
    assert!(
        complete * 10 >= checked * 7,
        "only {complete}/{checked} blocks carry all 4 extensions; blocks missing each validator's: {missing:?}"
    );
}
