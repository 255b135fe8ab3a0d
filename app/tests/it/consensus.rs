//! Vote extensions, the injected extended commit and ProcessProposal.

use comrade_app::{client::address_of, vote_ext};
use prost::Message;
use tendermint_proto::v0_38::abci::{
    RequestVerifyVoteExtension, response_process_proposal::ProposalStatus,
    response_verify_vote_extension::VerifyStatus,
};
use tendermint_proto::v0_38::types::BlockIdFlag;

use crate::common::*;

fn next_height(f: &Fixture) -> i64 {
    i64::try_from(f.h.app.committed_height()).unwrap() + 1
}

/// Produces two blocks so the next proposal must carry signed extensions.
fn warmed_up() -> Fixture {
    let mut f = fixture();
    f.h.block(vec![]).unwrap();
    f.h.block(vec![]).unwrap();
    f
}

#[test]
fn extensions_of_all_validators_are_injected_and_accepted() {
    let mut f = warmed_up();
    let height = next_height(&f);
    let proposal = f.h.propose_and_finalize(vec![]).unwrap();
    assert_eq!(proposal.tx_results.len(), 1);
    f.h.app.commit().unwrap();
    // Rebuild what was injected and check it carries every validator.
    let info = f.h.local_last_commit();
    assert_eq!(info.votes.len(), validators().len());
    for v in &info.votes {
        let ext = vote_ext::parse_extension(&v.vote_extension, height).unwrap();
        assert_eq!(ext.version, vote_ext::VOTE_EXTENSION_VERSION);
    }
}

#[test]
fn tampered_extension_is_rejected() {
    let f = warmed_up();
    let height = next_height(&f);
    let mut info = f.h.local_last_commit();
    // Change one extension's content but keep its signature.
    let mut ext = comrade_primitives::proto::app::v1::VoteExtension::decode(
        info.votes[2].vote_extension.as_ref(),
    )
    .unwrap();
    ext.poc_verdicts.push(Default::default());
    info.votes[2].vote_extension = ext.encode_to_vec().into();
    let txs = vec![vote_ext::encode_injected(&info)];
    assert_eq!(f.h.process(txs, height).unwrap(), ProposalStatus::Reject);

    // A flipped signature bit is rejected too.
    let mut info = f.h.local_last_commit();
    let mut sig = info.votes[0].extension_signature.to_vec();
    sig[3] ^= 1;
    info.votes[0].extension_signature = sig.into();
    let txs = vec![vote_ext::encode_injected(&info)];
    assert_eq!(f.h.process(txs, height).unwrap(), ProposalStatus::Reject);

    // The untampered commit is accepted.
    let txs = vec![vote_ext::encode_injected(&f.h.local_last_commit())];
    assert_eq!(f.h.process(txs, height).unwrap(), ProposalStatus::Accept);
}

#[test]
fn insufficient_voting_power_is_rejected() {
    let f = warmed_up();
    let height = next_height(&f);
    // Powers are 10/20/30/40: dropping the 40 leaves 60% < 2/3.
    let mut info = f.h.local_last_commit();
    let v = info
        .votes
        .iter_mut()
        .find(|v| v.validator.as_ref().unwrap().power == 40)
        .unwrap();
    v.block_id_flag = BlockIdFlag::Absent as i32;
    v.vote_extension = Default::default();
    v.extension_signature = Default::default();
    let txs = vec![vote_ext::encode_injected(&info)];
    assert_eq!(f.h.process(txs, height).unwrap(), ProposalStatus::Reject);

    // Dropping only the 10 leaves 90% > 2/3: accepted.
    let mut info = f.h.local_last_commit();
    let v = info
        .votes
        .iter_mut()
        .find(|v| v.validator.as_ref().unwrap().power == 10)
        .unwrap();
    v.block_id_flag = BlockIdFlag::Absent as i32;
    v.vote_extension = Default::default();
    v.extension_signature = Default::default();
    let txs = vec![vote_ext::encode_injected(&info)];
    assert_eq!(f.h.process(txs, height).unwrap(), ProposalStatus::Accept);
}

#[test]
fn duplicated_or_foreign_votes_are_rejected() {
    let f = warmed_up();
    let height = next_height(&f);
    let mut info = f.h.local_last_commit();
    let dup = info.votes[3].clone();
    info.votes.push(dup);
    assert_eq!(
        f.h.process(vec![vote_ext::encode_injected(&info)], height)
            .unwrap(),
        ProposalStatus::Reject
    );
    let mut info = f.h.local_last_commit();
    info.votes[1].validator.as_mut().unwrap().address = vec![7u8; 20].into();
    assert_eq!(
        f.h.process(vec![vote_ext::encode_injected(&info)], height)
            .unwrap(),
        ProposalStatus::Reject
    );
}

#[test]
fn proposal_without_injected_tx_or_with_invalid_tx_is_rejected() {
    let f = warmed_up();
    let height = next_height(&f);
    let bob = address_of(&f.bob);
    let good = send(&f.alice, &bob, 1, f.alice_num, 0);
    // No injected tx at all.
    assert_eq!(
        f.h.process(vec![good.clone()], height).unwrap(),
        ProposalStatus::Reject
    );
    assert_eq!(f.h.process(vec![], height).unwrap(), ProposalStatus::Reject);
    // Injected tx plus a junk tx.
    let injected = vote_ext::encode_injected(&f.h.local_last_commit());
    assert_eq!(
        f.h.process(vec![injected.clone(), vec![1, 2, 3]], height)
            .unwrap(),
        ProposalStatus::Reject
    );
    // Two txs with the same sequence: the second is a replay.
    assert_eq!(
        f.h.process(vec![injected.clone(), good.clone(), good.clone()], height)
            .unwrap(),
        ProposalStatus::Reject
    );
    assert_eq!(
        f.h.process(vec![injected, good], height).unwrap(),
        ProposalStatus::Accept
    );
}

#[test]
fn malformed_vote_extensions_are_rejected() {
    let f = fixture();
    let verify = |ext: Vec<u8>, height: i64| {
        f.h.app
            .verify_vote_extension(RequestVerifyVoteExtension {
                hash: Default::default(),
                validator_address: vec![0; 20].into(),
                height,
                vote_extension: ext.into(),
            })
            .status
    };
    assert_eq!(
        verify(vote_ext::build_extension(5), 5),
        VerifyStatus::Accept as i32
    );
    assert_eq!(
        verify(vote_ext::build_extension(5), 6),
        VerifyStatus::Reject as i32
    );
    assert_eq!(
        verify(vec![0xff, 0xff, 0xff], 5),
        VerifyStatus::Reject as i32
    );
    let v2 = comrade_primitives::proto::app::v1::VoteExtension {
        version: 2,
        height: 5,
        ..Default::default()
    };
    assert_eq!(verify(v2.encode_to_vec(), 5), VerifyStatus::Reject as i32);
    assert_eq!(
        verify(vec![0u8; vote_ext::MAX_VOTE_EXTENSION_BYTES + 1], 5),
        VerifyStatus::Reject as i32
    );
}
