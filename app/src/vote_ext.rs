//! Vote-extension plumbing: the versioned `VoteExtension` payload, the
//! injected extended-commit tx (`tx[0]` of every proposal), and verification of
//! each extension's validator signature against the validator set.

use comrade_primitives::{ResultCode, proto::app::v1 as pb};
use prost::Message;
use tendermint_proto::v0_38::{
    abci::ExtendedCommitInfo,
    types::{BlockIdFlag, CanonicalVoteExtension},
};

use crate::error::TxError;

/// Current `VoteExtension.version`.
pub const VOTE_EXTENSION_VERSION: u32 = 1;

/// Prefix of the injected tx. It starts with a zero byte, which no protobuf
/// message can start with (field number 0 is invalid), so it can never be
/// confused with a user `TxRaw`.
pub const INJECTED_TX_PREFIX: &[u8] = b"\0comrade/extended-commit/v1\0";

/// Upper bound on one vote extension's size.
pub const MAX_VOTE_EXTENSION_BYTES: usize = 64 * 1024;

/// The extension this validator attaches to its precommit at `height`.
/// Proof-of-compute verdicts and bridge signatures are added by later issues.
pub fn build_extension(height: i64) -> Vec<u8> {
    pb::VoteExtension {
        version: VOTE_EXTENSION_VERSION,
        height,
        poc_verdicts: Vec::new(),
        bridge_signatures: Vec::new(),
    }
    .encode_to_vec()
}

/// Decodes and checks an extension for `height`.
pub fn parse_extension(bytes: &[u8], height: i64) -> Result<pb::VoteExtension, String> {
    if bytes.len() > MAX_VOTE_EXTENSION_BYTES {
        return Err(format!("vote extension is {} bytes", bytes.len()));
    }
    let ext = pb::VoteExtension::decode(bytes).map_err(|e| format!("undecodable: {e}"))?;
    if ext.encode_to_vec() != bytes {
        return Err("not canonical protobuf".into());
    }
    if ext.version != VOTE_EXTENSION_VERSION {
        return Err(format!("unsupported version {}", ext.version));
    }
    if ext.height != height {
        return Err(format!("height {} does not match {height}", ext.height));
    }
    Ok(ext)
}

/// Encodes the extended commit as the injected tx.
pub fn encode_injected(info: &ExtendedCommitInfo) -> Vec<u8> {
    let mut out = INJECTED_TX_PREFIX.to_vec();
    info.encode(&mut out).expect("vec has unlimited capacity");
    out
}

/// Whether `tx` claims to be the injected tx.
pub fn is_injected(tx: &[u8]) -> bool {
    tx.starts_with(INJECTED_TX_PREFIX)
}

/// Decodes the injected tx.
pub fn decode_injected(tx: &[u8]) -> Result<ExtendedCommitInfo, TxError> {
    let body = tx.strip_prefix(INJECTED_TX_PREFIX).ok_or_else(|| {
        TxError::new(
            ResultCode::InjectedTxInvalid,
            "`tx[0]` is not the extended commit",
        )
    })?;
    ExtendedCommitInfo::decode(body).map_err(|e| {
        TxError::new(
            ResultCode::InjectedTxInvalid,
            format!("injected tx undecodable: {e}"),
        )
    })
}

/// CometBFT's sign bytes for a vote extension: the length-delimited protobuf
/// of `CanonicalVoteExtension`.
pub fn sign_bytes(extension: &[u8], height: i64, round: i64, chain_id: &str) -> Vec<u8> {
    CanonicalVoteExtension {
        extension: extension.to_vec(),
        height,
        round,
        chain_id: chain_id.to_string(),
    }
    .encode_length_delimited_to_vec()
}

/// One validator of the set the commit is checked against.
#[derive(Debug, Clone)]
pub struct SetMember {
    /// CometBFT address.
    pub address: [u8; 20],
    /// Ed25519 key.
    pub pub_key: [u8; 32],
    /// Voting power.
    pub power: i64,
}

/// Verifies an extended commit for `height` (the height the votes were cast
/// at) against `set`: every vote for the block must carry a well-formed
/// extension with a valid signature by a member of the set, each validator at
/// most once, with the power matching; and the valid extensions must carry
/// more than 2/3 of the total power. Returns the verified extensions.
pub fn verify_extended_commit(
    info: &ExtendedCommitInfo,
    set: &[SetMember],
    height: i64,
    chain_id: &str,
) -> Result<Vec<([u8; 20], pb::VoteExtension)>, TxError> {
    let bad = |m: String| TxError::new(ResultCode::InjectedTxInvalid, m);
    let total: i128 = set.iter().map(|m| i128::from(m.power)).sum();
    let mut signed: i128 = 0;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, vote) in info.votes.iter().enumerate() {
        let v = vote
            .validator
            .as_ref()
            .ok_or_else(|| bad(format!("vote {i} has no validator")))?;
        let addr: [u8; 20] = v
            .address
            .as_ref()
            .try_into()
            .map_err(|_| bad(format!("vote {i}: validator address is not 20 bytes")))?;
        let member = set.iter().find(|m| m.address == addr).ok_or_else(|| {
            bad(format!(
                "vote {i}: {} is not a validator",
                hex::encode(addr)
            ))
        })?;
        if !seen.insert(addr) {
            return Err(bad(format!(
                "vote {i}: validator {} voted twice",
                hex::encode(addr)
            )));
        }
        if v.power != member.power {
            return Err(bad(format!(
                "vote {i}: power {} != {}",
                v.power, member.power
            )));
        }
        if vote.block_id_flag != BlockIdFlag::Commit as i32 {
            if !vote.vote_extension.is_empty() || !vote.extension_signature.is_empty() {
                return Err(bad(format!("vote {i}: extension on a non-commit vote")));
            }
            continue;
        }
        let ext = parse_extension(&vote.vote_extension, height)
            .map_err(|e| bad(format!("vote {i}: vote extension {e}")))?;
        let vk = ed25519_consensus::VerificationKey::try_from(member.pub_key)
            .map_err(|e| bad(format!("vote {i}: bad validator key: {e}")))?;
        let sig = ed25519_consensus::Signature::try_from(vote.extension_signature.as_ref())
            .map_err(|_| bad(format!("vote {i}: extension signature is not 64 bytes")))?;
        let msg = sign_bytes(
            &vote.vote_extension,
            height,
            i64::from(info.round),
            chain_id,
        );
        vk.verify(&sig, &msg).map_err(|_| {
            bad(format!(
                "vote {i}: extension signature of {} does not verify",
                hex::encode_upper(addr)
            ))
        })?;
        signed = signed.saturating_add(i128::from(member.power));
        out.push((addr, ext));
    }
    // Powers are below 2^61 each and there are far fewer than 2^60 validators,
    // so these products cannot overflow i128.
    if signed.saturating_mul(3) <= total.saturating_mul(2) {
        return Err(bad(format!(
            "valid vote extensions carry {signed} of {total} voting power, need more than 2/3"
        )));
    }
    Ok(out)
}
