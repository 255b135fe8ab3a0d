//! The [`BlockContext`] of each ABCI request: everything a module may read
//! about the block comes from CometBFT's request, converted here once.

use anyhow::{Context as _, Result, bail};
use comrade_primitives::component::{
    BlockContext, BlockTime, CommitVote, Misbehavior, MisbehaviorKind, VoteFlag,
};
use tendermint_proto::{
    google::protobuf::Timestamp,
    v0_38::{
        abci::{
            CommitInfo, ExtendedCommitInfo, MisbehaviorType, RequestFinalizeBlock,
            RequestPrepareProposal, RequestProcessProposal, Validator,
        },
        types::BlockIdFlag,
    },
};

fn time(t: Option<&Timestamp>) -> Option<BlockTime> {
    t.map(|t| BlockTime {
        seconds: t.seconds,
        nanos: t.nanos,
    })
}

fn address(bytes: &[u8], what: &str) -> Result<[u8; 20]> {
    bytes
        .try_into()
        .with_context(|| format!("{what}: address is {} bytes, expected 20", bytes.len()))
}

/// The proposer, or `None` when the request names none (an empty address).
fn proposer(bytes: &[u8]) -> Result<Option<[u8; 20]>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    address(bytes, "proposer").map(Some)
}

fn flag(f: i32) -> Result<VoteFlag> {
    Ok(match BlockIdFlag::try_from(f) {
        Ok(BlockIdFlag::Absent) => VoteFlag::Absent,
        Ok(BlockIdFlag::Commit) => VoteFlag::Commit,
        Ok(BlockIdFlag::Nil) => VoteFlag::Nil,
        _ => bail!("unknown block id flag {f}"),
    })
}

fn vote(validator: Option<&Validator>, block_id_flag: i32, i: usize) -> Result<CommitVote> {
    let v = validator.with_context(|| format!("vote {i} has no validator"))?;
    Ok(CommitVote {
        validator: address(&v.address, &format!("vote {i}"))?,
        power: v.power,
        flag: flag(block_id_flag)?,
    })
}

/// The votes of a commit, from `(validator, block id flag)` pairs (the
/// plain and the extended commit carry the same two fields).
fn votes<'a>(pairs: impl Iterator<Item = (Option<&'a Validator>, i32)>) -> Result<Vec<CommitVote>> {
    pairs
        .enumerate()
        .map(|(i, (v, flag))| vote(v, flag, i))
        .collect()
}

fn commit_votes(info: Option<&CommitInfo>) -> Result<Vec<CommitVote>> {
    let list = info.map(|c| c.votes.as_slice()).unwrap_or_default();
    votes(list.iter().map(|v| (v.validator.as_ref(), v.block_id_flag)))
}

fn extended_votes(info: Option<&ExtendedCommitInfo>) -> Result<Vec<CommitVote>> {
    let list = info.map(|c| c.votes.as_slice()).unwrap_or_default();
    votes(list.iter().map(|v| (v.validator.as_ref(), v.block_id_flag)))
}

fn misbehavior(list: &[tendermint_proto::v0_38::abci::Misbehavior]) -> Result<Vec<Misbehavior>> {
    list.iter()
        .enumerate()
        .map(|(i, m)| {
            let kind = match MisbehaviorType::try_from(m.r#type) {
                Ok(MisbehaviorType::DuplicateVote) => MisbehaviorKind::DuplicateVote,
                Ok(MisbehaviorType::LightClientAttack) => MisbehaviorKind::LightClientAttack,
                _ => bail!("misbehavior {i}: unknown type {}", m.r#type),
            };
            let v = m
                .validator
                .as_ref()
                .with_context(|| format!("misbehavior {i} has no validator"))?;
            Ok(Misbehavior {
                kind,
                validator: address(&v.address, &format!("misbehavior {i}"))?,
                power: v.power,
                height: u64::try_from(m.height)
                    .with_context(|| format!("misbehavior {i}: negative height"))?,
                time: time(m.time.as_ref()),
                total_voting_power: m.total_voting_power,
            })
        })
        .collect()
}

fn height(h: i64) -> Result<u64> {
    u64::try_from(h).context("negative height")
}

/// The fields every consensus request carries, converted.
struct Header<'a> {
    height: i64,
    time: Option<&'a Timestamp>,
    proposer: &'a [u8],
    hash: Option<&'a [u8]>,
    votes: Vec<CommitVote>,
    misbehavior: &'a [tendermint_proto::v0_38::abci::Misbehavior],
}

fn block(chain_id: &str, h: Header<'_>) -> Result<BlockContext> {
    let mut ctx = BlockContext::mempool(chain_id, height(h.height)?)
        .with_block_hash(h.hash.map(<[u8]>::to_vec));
    ctx.time = time(h.time);
    ctx.proposer = proposer(h.proposer)?;
    ctx.last_commit = h.votes;
    ctx.misbehavior = misbehavior(h.misbehavior)?;
    Ok(ctx)
}

/// The context PrepareProposal executes its proposal under (the block hash
/// is not known yet).
pub(crate) fn prepare(chain_id: &str, req: &RequestPrepareProposal) -> Result<BlockContext> {
    block(
        chain_id,
        Header {
            height: req.height,
            time: req.time.as_ref(),
            proposer: &req.proposer_address,
            hash: None,
            votes: extended_votes(req.local_last_commit.as_ref())?,
            misbehavior: &req.misbehavior,
        },
    )
}

/// The context of a proposal under ProcessProposal.
pub(crate) fn process(chain_id: &str, req: &RequestProcessProposal) -> Result<BlockContext> {
    block(
        chain_id,
        Header {
            height: req.height,
            time: req.time.as_ref(),
            proposer: &req.proposer_address,
            hash: Some(&req.hash),
            votes: commit_votes(req.proposed_last_commit.as_ref())?,
            misbehavior: &req.misbehavior,
        },
    )
}

/// The context of the decided block under FinalizeBlock.
pub(crate) fn finalize(chain_id: &str, req: &RequestFinalizeBlock) -> Result<BlockContext> {
    block(
        chain_id,
        Header {
            height: req.height,
            time: req.time.as_ref(),
            proposer: &req.proposer_address,
            hash: Some(&req.hash),
            votes: commit_votes(req.decided_last_commit.as_ref())?,
            misbehavior: &req.misbehavior,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tendermint_proto::v0_38::abci::{ExtendedVoteInfo, VoteInfo};

    fn validator(b: u8) -> Option<Validator> {
        Some(Validator {
            address: vec![b; 20].into(),
            power: i64::from(b),
        })
    }

    #[test]
    fn prepare_and_finalize_contexts_of_one_block_have_the_same_inputs() {
        let t = Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        };
        let prep = RequestPrepareProposal {
            height: 7,
            time: Some(t),
            proposer_address: vec![1; 20].into(),
            local_last_commit: Some(ExtendedCommitInfo {
                round: 0,
                votes: vec![ExtendedVoteInfo {
                    validator: validator(1),
                    block_id_flag: BlockIdFlag::Commit as i32,
                    ..Default::default()
                }],
            }),
            ..Default::default()
        };
        let fin = RequestFinalizeBlock {
            height: 7,
            time: Some(t),
            proposer_address: vec![1; 20].into(),
            hash: vec![9; 32].into(),
            decided_last_commit: Some(CommitInfo {
                round: 0,
                votes: vec![VoteInfo {
                    validator: validator(1),
                    block_id_flag: BlockIdFlag::Commit as i32,
                }],
            }),
            ..Default::default()
        };
        let p = prepare("c", &prep).unwrap_or_default();
        let f = finalize("c", &fin).unwrap_or_default();
        assert_eq!(
            p.time,
            Some(BlockTime {
                seconds: 1_700_000_000,
                nanos: 5
            })
        );
        assert_eq!(p.last_commit[0].flag, VoteFlag::Commit);
        assert!(p.same_inputs_as(&f));
        // Once a module read the (unknown) hash, the execution is not reusable.
        assert_eq!(p.block_hash(), None);
        assert!(!p.same_inputs_as(&f));
        let mut other = finalize("c", &fin).unwrap_or_default();
        other.time = None;
        assert!(!f.same_inputs_as(&other));
    }

    #[test]
    fn malformed_consensus_inputs_are_errors_not_defaults() {
        let bad = RequestFinalizeBlock {
            height: 1,
            proposer_address: vec![1; 3].into(),
            ..Default::default()
        };
        assert!(finalize("c", &bad).is_err());
        let bad = RequestFinalizeBlock {
            height: -1,
            ..Default::default()
        };
        assert!(finalize("c", &bad).is_err());
    }
}
