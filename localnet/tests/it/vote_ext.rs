//! Every validator's vote extension reaches the next proposal's injected tx.

use comrade_app::vote_ext::{SetMember, decode_injected, is_injected, verify_extended_commit};
use tendermint_proto::v0_38::types::BlockIdFlag;
use tendermint_rpc::Client as _;

use crate::common::{CHAIN_ID, TestNet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vote_extensions_of_all_validators_are_injected() {
    use base64::Engine as _;
    let mut t = TestNet::start("vote-ext", 5).await;
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
    let last = 12;
    t.wait_all(last, 60).await;
    let c = t.client(1);
    let mut complete = 0;
    let mut seen = std::collections::BTreeSet::new();
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
        if with_ext == set.len() {
            complete += 1;
        }
    }
    eprintln!(
        "{complete} of {} blocks carry all {} extensions",
        last - 2,
        set.len()
    );
    assert_eq!(
        seen.len(),
        set.len(),
        "some validator's extension never appeared"
    );
    // Late precommits can miss a proposal now and then; nearly all carry all 4.
    let checked = last - 2;
    assert!(
        complete * 10 >= checked * 7,
        "only {complete}/{checked} blocks carry all 4 extensions"
    );
}
