//! Dev-only test harness for the Comrade app: a mock consensus that drives
//! the real [`App`] in-process through its ABCI request/response surface,
//! the way CometBFT does: PrepareProposal → ProcessProposal → ExtendVote /
//! VerifyVoteExtension for every validator → FinalizeBlock → Commit, with the
//! previous height's signed vote extensions injected into each proposal and
//! the same last-commit info in every request of a height (as CometBFT
//! sends). Also restarts (reopen the same store) and crashes between
//! FinalizeBlock and Commit.
//!
//! A dev-dependency only: CI fails if it shows up in the `comrade` binary's
//! dependency tree.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, ensure};
use base64::Engine as _;
use comrade_primitives::Address;
use tendermint_proto::v0_38::{
    abci::{
        CommitInfo, ExtendedCommitInfo, ExtendedVoteInfo, RequestExtendVote, RequestFinalizeBlock,
        RequestInfo, RequestInitChain, RequestPrepareProposal, RequestProcessProposal,
        RequestVerifyVoteExtension, ResponseFinalizeBlock, Validator, VoteInfo,
        response_process_proposal::ProposalStatus, response_verify_vote_extension::VerifyStatus,
    },
    types::{AbciParams, BlockIdFlag, ConsensusParams},
};

use comrade_app::{
    App,
    genesis::{AppState, GenesisValidator},
    params::Params,
    validators::consensus_address,
    vote_ext,
};

/// The deterministic secp256k1 test key of `seed` (the localnet's own
/// derivation, so a key here is the same key there).
pub use comrade_localnet::account_key;

/// A test validator.
#[derive(Clone, Debug)]
pub struct TestValidator {
    /// Ed25519 consensus key.
    pub key: ed25519_consensus::SigningKey,
    /// Voting power.
    pub power: i64,
    /// Operator account.
    pub operator: Address,
}

impl TestValidator {
    /// A deterministic validator from `seed`.
    pub fn new(seed: u8, power: i64) -> Self {
        let key = ed25519_consensus::SigningKey::from([seed.wrapping_add(1); 32]);
        TestValidator {
            key,
            power,
            operator: comrade_app::client::address_of(&account_key(1_000_000 + u64::from(seed))),
        }
    }
    /// CometBFT address.
    pub fn address(&self) -> [u8; 20] {
        consensus_address(&self.key.verification_key().to_bytes())
    }
}

/// Builds a genesis `app_state` funding `balances` with the default params
/// and no crowdfunding. Each validator's operator is also funded with its
/// self-stake (`power × power_reduction`), which InitChain bonds.
pub fn genesis(balances: &[(Address, u128)], validators: &[TestValidator]) -> AppState {
    let staking = comrade_consensus::staking::StakingParams::default();
    let mut funded: std::collections::BTreeMap<Address, u128> = std::collections::BTreeMap::new();
    for (a, amt) in balances {
        *funded.entry(*a).or_default() += amt;
    }
    for v in validators {
        *funded.entry(v.operator).or_default() += v.power as u128 * staking.power_reduction;
    }
    let balances: Vec<(Address, u128)> = funded.into_iter().collect();
    let validators = validators
        .iter()
        .enumerate()
        .map(|(i, v)| GenesisValidator {
            name: format!("val{i}"),
            pub_key: base64::engine::general_purpose::STANDARD
                .encode(v.key.verification_key().to_bytes()),
            power: v.power,
            operator: v.operator.to_string(),
        })
        .collect();
    AppState::dev(Params::default(), &balances, validators)
}

/// The block hash this harness gives ProcessProposal and FinalizeBlock:
/// CometBFT's is the header's hash; any value that commits to the height
/// and the txs serves the app the same way.
pub fn block_hash(height: i64, txs: &[Vec<u8>]) -> Vec<u8> {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    h.update(height.to_le_bytes());
    for t in txs {
        h.update(Sha256::digest(t));
    }
    h.finalize().to_vec()
}

/// The mock-consensus harness.
#[derive(Debug)]
pub struct MockConsensus {
    /// The app under test.
    pub app: App,
    /// Store path (for restarts).
    pub path: PathBuf,
    /// Chain id.
    pub chain_id: String,
    /// Validators.
    pub validators: Vec<TestValidator>,
    /// The signed extensions of the last height extended (injected into the
    /// next proposal) and of the height before it, with their heights:
    /// ProcessProposal and FinalizeBlock of height `h` see the commit of
    /// `h - 1` even after `extend_votes(h)` has run. Latest last.
    commits: Vec<(i64, ExtendedCommitInfo)>,
    /// Validators that miss their votes (CometBFT's `Absent`) from now on.
    pub absent: std::collections::BTreeSet<[u8; 20]>,
    /// Evidence CometBFT reports in the next block (cleared by
    /// [`MockConsensus::block`]).
    pub misbehavior: Vec<tendermint_proto::v0_38::abci::Misbehavior>,
    /// Genesis app_state bytes.
    genesis_bytes: Vec<u8>,
}

/// Consensus params with vote extensions enabled from height 1.
pub fn consensus_params() -> ConsensusParams {
    ConsensusParams {
        abci: Some(AbciParams {
            vote_extensions_enable_height: 1,
        }),
        ..Default::default()
    }
}

impl MockConsensus {
    /// The account number of `a` in the latest committed state; an error if
    /// the account does not exist.
    pub fn account_number(&self, a: &Address) -> Result<u64> {
        use comrade_bank::auth::AuthRead as _;
        let snap = self.app.storage().latest_snapshot();
        let account = self
            .app
            .block_on(snap.account(a))?
            .with_context(|| format!("account {a} does not exist"))?;
        Ok(account.account_number)
    }

    /// Opens a fresh store at `path` and runs InitChain with `app_state`.
    pub fn new(
        path: &Path,
        chain_id: &str,
        app_state: &AppState,
        validators: Vec<TestValidator>,
    ) -> Result<Self> {
        let app = App::open(path)?;
        let genesis_bytes = serde_json::to_vec(app_state)?;
        let mut h = MockConsensus {
            app,
            path: path.to_path_buf(),
            chain_id: chain_id.to_string(),
            validators,
            commits: Vec::new(),
            absent: Default::default(),
            misbehavior: Vec::new(),
            genesis_bytes,
        };
        h.init_chain()?;
        Ok(h)
    }

    /// Runs InitChain (idempotent on an initialised store).
    pub fn init_chain(&mut self) -> Result<Vec<u8>> {
        let r = self.app.init_chain(RequestInitChain {
            time: None,
            chain_id: self.chain_id.clone(),
            consensus_params: Some(consensus_params()),
            validators: Vec::new(),
            app_state_bytes: self.genesis_bytes.clone().into(),
            initial_height: 1,
        })?;
        Ok(r.app_hash.to_vec())
    }

    /// Last committed height and app hash, as `Info` reports them.
    pub fn info(&self) -> Result<(i64, Vec<u8>)> {
        let r = self.app.info(RequestInfo::default())?;
        Ok((r.last_block_height, r.last_block_app_hash.to_vec()))
    }

    /// The extended commit this harness would inject for the next proposal.
    pub fn local_last_commit(&self) -> ExtendedCommitInfo {
        self.commits
            .last()
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }

    /// Runs one full height with `txs` in the mempool; returns the
    /// FinalizeBlock response. Fails if the app rejects its own proposal.
    pub fn block(&mut self, txs: Vec<Vec<u8>>) -> Result<ResponseFinalizeBlock> {
        let r = self.propose_and_finalize(txs)?;
        self.app.commit()?;
        self.misbehavior.clear();
        Ok(r)
    }

    /// Everything up to and including FinalizeBlock, but not Commit.
    pub fn propose_and_finalize(&mut self, txs: Vec<Vec<u8>>) -> Result<ResponseFinalizeBlock> {
        let height = i64::try_from(self.app.committed_height())?.saturating_add(1);
        let proposal = self.app.prepare_proposal(RequestPrepareProposal {
            max_tx_bytes: 22 * 1024 * 1024,
            txs: txs.into_iter().map(Into::into).collect(),
            local_last_commit: Some(self.local_last_commit()),
            misbehavior: self.misbehavior.clone(),
            height,
            time: None,
            next_validators_hash: Default::default(),
            proposer_address: self.validators[0].address().to_vec().into(),
        })?;
        let txs: Vec<Vec<u8>> = proposal.txs.iter().map(|t| t.to_vec()).collect();
        let status = self.process(txs.clone(), height)?;
        ensure!(
            status == ProposalStatus::Accept,
            "app rejected its own proposal at {height}"
        );
        self.extend_votes(height)?;
        self.finalize(txs, height)
    }

    /// The last commit as ProcessProposal and FinalizeBlock of the next
    /// height see it (see [`MockConsensus::commit_info_for`]).
    pub fn last_commit_info(&self) -> CommitInfo {
        let next = i64::try_from(self.app.committed_height())
            .unwrap_or(i64::MAX)
            .saturating_add(1);
        self.commit_info_for(next)
    }

    /// The last commit as ProcessProposal and FinalizeBlock of `height` see
    /// it: the votes extended at `height - 1` (the ones injected into that
    /// height's proposal), without their extensions. CometBFT sends the same
    /// votes to PrepareProposal, ProcessProposal and FinalizeBlock.
    pub fn commit_info_for(&self, height: i64) -> CommitInfo {
        let ext = self
            .commits
            .iter()
            .find(|(h, _)| *h == height.saturating_sub(1))
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        CommitInfo {
            round: ext.round,
            votes: ext
                .votes
                .iter()
                .map(|v| VoteInfo {
                    validator: v.validator.clone(),
                    block_id_flag: v.block_id_flag,
                })
                .collect(),
        }
    }

    /// Calls ProcessProposal with the given txs.
    pub fn process(&self, txs: Vec<Vec<u8>>, height: i64) -> Result<ProposalStatus> {
        let hash = block_hash(height, &txs);
        let r = self.app.process_proposal(RequestProcessProposal {
            txs: txs.into_iter().map(Into::into).collect(),
            proposed_last_commit: Some(self.commit_info_for(height)),
            misbehavior: self.misbehavior.clone(),
            hash: hash.into(),
            height,
            time: None,
            next_validators_hash: Default::default(),
            proposer_address: self.validators[0].address().to_vec().into(),
        })?;
        ProposalStatus::try_from(r.status).context("bad status")
    }

    /// Calls FinalizeBlock with exactly these txs (and the commit of
    /// `height - 1`).
    pub fn finalize(&self, txs: Vec<Vec<u8>>, height: i64) -> Result<ResponseFinalizeBlock> {
        self.finalize_with(txs, height, self.commit_info_for(height))
    }

    /// Calls FinalizeBlock with exactly these txs and this last commit.
    pub fn finalize_with(
        &self,
        txs: Vec<Vec<u8>>,
        height: i64,
        last_commit: CommitInfo,
    ) -> Result<ResponseFinalizeBlock> {
        let hash = block_hash(height, &txs);
        self.app.finalize_block(RequestFinalizeBlock {
            hash: hash.into(),
            txs: txs.into_iter().map(Into::into).collect(),
            decided_last_commit: Some(last_commit),
            misbehavior: self.misbehavior.clone(),
            height,
            time: None,
            next_validators_hash: Default::default(),
            proposer_address: self.validators[0].address().to_vec().into(),
        })
    }

    /// Every validator extends its vote at `height`; each extension is checked
    /// with VerifyVoteExtension and signed like CometBFT does.
    pub fn extend_votes(&mut self, height: i64) -> Result<()> {
        let mut votes = Vec::new();
        for v in &self.validators {
            if self.absent.contains(&v.address()) {
                votes.push(ExtendedVoteInfo {
                    validator: Some(Validator {
                        address: v.address().to_vec().into(),
                        power: v.power,
                    }),
                    block_id_flag: BlockIdFlag::Absent as i32,
                    ..Default::default()
                });
                continue;
            }
            let ext = self
                .app
                .extend_vote(RequestExtendVote {
                    height,
                    ..Default::default()
                })
                .vote_extension;
            let verdict = self.app.verify_vote_extension(RequestVerifyVoteExtension {
                hash: Default::default(),
                validator_address: v.address().to_vec().into(),
                height,
                vote_extension: ext.clone(),
            });
            ensure!(
                verdict.status == VerifyStatus::Accept as i32,
                "own extension rejected"
            );
            let sig = v
                .key
                .sign(&vote_ext::sign_bytes(&ext, height, 0, &self.chain_id));
            votes.push(ExtendedVoteInfo {
                validator: Some(Validator {
                    address: v.address().to_vec().into(),
                    power: v.power,
                }),
                vote_extension: ext,
                extension_signature: sig.to_bytes().to_vec().into(),
                block_id_flag: BlockIdFlag::Commit as i32,
            });
        }
        let commit = ExtendedCommitInfo { round: 0, votes };
        self.commits
            .retain(|(h, _)| *h >= height.saturating_sub(1) && *h != height);
        self.commits.push((height, commit));
        Ok(())
    }

    /// Drops the app and reopens the same store, as a process restart would.
    /// The pending (finalized but uncommitted) block, if any, is lost.
    pub fn restart(self) -> Result<Self> {
        let MockConsensus {
            app,
            path,
            chain_id,
            validators,
            commits,
            absent,
            misbehavior,
            genesis_bytes,
        } = self;
        drop(app);
        Ok(MockConsensus {
            app: App::open(&path)?,
            path,
            chain_id,
            validators,
            commits,
            absent,
            misbehavior,
            genesis_bytes,
        })
    }
}
