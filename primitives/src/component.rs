//! The traits every state-machine module implements, so staking and proof of
//! compute, the bridge, the market and governance plug into the app the way
//! auth and the bank do.
//!
//! The app drives them from one ordered hook list and one action registry:
//! `init_chain` of every component at genesis; per block, every
//! `begin_block`, then each tx's actions (decode → stateless checks →
//! `check_and_execute` on a fork dropped on error), then every `end_block`.

use async_trait::async_trait;
use cnidarium::StateWrite;

use crate::{Address, ExecError, TxError};

/// A block's time as CometBFT puts it in the header (never a local clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockTime {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: i32,
}

/// How a validator voted in the last commit (CometBFT's `BlockIDFlag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteFlag {
    /// No vote received: counts as missed for liveness.
    Absent,
    /// Voted for the committed block.
    Commit,
    /// Voted nil.
    Nil,
}

/// One validator's vote in the last commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitVote {
    /// CometBFT address of the validator.
    pub validator: [u8; 20],
    /// Its voting power at that height.
    pub power: i64,
    /// How it voted.
    pub flag: VoteFlag,
}

/// The kind of misbehaviour CometBFT reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MisbehaviorKind {
    /// Two conflicting votes (double sign).
    DuplicateVote,
    /// A light-client attack.
    LightClientAttack,
}

/// Evidence of misbehaviour committed in this block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misbehavior {
    /// What was done.
    pub kind: MisbehaviorKind,
    /// CometBFT address of the offender.
    pub validator: [u8; 20],
    /// Its voting power at the offence height.
    pub power: i64,
    /// Height of the offence.
    pub height: u64,
    /// Block time of the offence.
    pub time: Option<BlockTime>,
    /// Total voting power at the offence height.
    pub total_voting_power: i64,
}

/// What a module sees of the block being executed. Everything comes from
/// consensus (the ABCI request), never from the local node.
#[derive(Debug, Default)]
pub struct BlockContext {
    /// The chain id.
    pub chain_id: String,
    /// The height of the block being executed (for CheckTx, the next one).
    pub height: u64,
    /// The header time (`None` in CheckTx, which has no block).
    pub time: Option<BlockTime>,
    /// CometBFT address of the block's proposer (`None` in CheckTx).
    pub proposer: Option<[u8; 20]>,
    /// The votes of the last commit: who signed block `height - 1`.
    pub last_commit: Vec<CommitVote>,
    /// Misbehaviour evidence included in this block.
    pub misbehavior: Vec<Misbehavior>,
    /// This block's hash, where known (not in PrepareProposal or CheckTx).
    block_hash: Option<Vec<u8>>,
    /// Whether a module read `block_hash` (see [`BlockContext::block_hash`]).
    hash_read: std::sync::atomic::AtomicBool,
}

impl Clone for BlockContext {
    fn clone(&self) -> Self {
        BlockContext {
            chain_id: self.chain_id.clone(),
            height: self.height,
            time: self.time,
            proposer: self.proposer,
            last_commit: self.last_commit.clone(),
            misbehavior: self.misbehavior.clone(),
            block_hash: self.block_hash.clone(),
            hash_read: std::sync::atomic::AtomicBool::new(self.hash_was_read()),
        }
    }
}

impl BlockContext {
    /// The context of a tx checked for the mempool at `height` (no block yet).
    pub fn mempool(chain_id: impl Into<String>, height: u64) -> Self {
        BlockContext {
            chain_id: chain_id.into(),
            height,
            ..Default::default()
        }
    }

    /// The same context with the block hash set.
    pub fn with_block_hash(mut self, hash: Option<Vec<u8>>) -> Self {
        self.block_hash = hash.filter(|h| !h.is_empty());
        self
    }

    /// This block's hash, if known. Reading it is recorded: a block executed
    /// ahead of FinalizeBlock without its hash (by PrepareProposal) is reused
    /// only if no module read the hash.
    pub fn block_hash(&self) -> Option<&[u8]> {
        self.hash_read
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.block_hash.as_deref()
    }

    /// Whether the block hash is known to this context (without recording a
    /// read).
    pub fn block_hash_known(&self) -> bool {
        self.block_hash.is_some()
    }

    /// Whether any module read [`BlockContext::block_hash`].
    pub fn hash_was_read(&self) -> bool {
        self.hash_read.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether an execution under `self` (done ahead of FinalizeBlock) is
    /// an execution under `other`: every input equal; the block hash equal
    /// where `self` knew it, and unread where it did not (PrepareProposal
    /// executes before the hash exists).
    pub fn same_inputs_as(&self, other: &BlockContext) -> bool {
        self.chain_id == other.chain_id
            && self.height == other.height
            && self.time == other.time
            && self.proposer == other.proposer
            && self.last_commit == other.last_commit
            && self.misbehavior == other.misbehavior
            && match (&self.block_hash, &other.block_hash) {
                (Some(a), Some(b)) => a == b,
                (None, _) => !self.hash_was_read(),
                (Some(_), None) => false,
            }
    }

    /// Sets the hash of a block executed before it was known (PrepareProposal's
    /// proposal, once ProcessProposal names it).
    pub fn set_block_hash(&mut self, hash: Vec<u8>) {
        self.block_hash = Some(hash).filter(|h| !h.is_empty());
    }
}

/// A module's lifecycle hooks. Every hook must be deterministic: no clocks,
/// randomness, floats, `HashMap` order, network or GPU.
#[async_trait]
pub trait Component {
    /// The module's typed, already validated genesis section (`()` if none).
    type Genesis: Sync;

    /// Writes the module's genesis state.
    async fn init_chain<S: StateWrite>(
        state: &mut S,
        genesis: &Self::Genesis,
    ) -> Result<(), ExecError>;

    /// Runs at the start of every block, before its txs.
    async fn begin_block<S: StateWrite>(
        _state: &mut S,
        _ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        Ok(())
    }

    /// Runs after the block's txs.
    async fn end_block<S: StateWrite>(
        _state: &mut S,
        _ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        Ok(())
    }
}

/// One kind of action (message) a tx can carry. Each message decodes itself
/// from its `Any` value; the app's registry maps [`ActionHandler::TYPE_URL`]
/// to it.
#[async_trait]
pub trait ActionHandler: Sized + Send + Sync {
    /// The `Any` type URL, e.g. `/comrade.bridge.v1.MsgSubmitVaa`.
    const TYPE_URL: &'static str;

    /// The module that owns the message (the SDK's `message.module`
    /// event attribute), e.g. `bank`.
    const MODULE: &'static str;

    /// Decodes the message from its `Any` value bytes, checking that every
    /// field parses (addresses, amounts).
    fn decode(value: &[u8]) -> Result<Self, TxError>;

    /// The account that must have signed the tx.
    fn signer(&self) -> Address;

    /// Checks that need no state (well-formedness). Runs before any state is
    /// read.
    fn check_stateless(&self) -> Result<(), TxError>;

    /// State keys `check_and_execute` will read, beyond the signer's account
    /// and balance: read ahead concurrently so execution does not wait on
    /// one store read after another. Only a hint: what execution reads is
    /// unchanged.
    fn read_keys(&self) -> Vec<String> {
        Vec::new()
    }

    /// Checks against state and applies the action. The caller runs it on a
    /// fork and drops the fork on error, so a failed action changes nothing.
    async fn check_and_execute<S: StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext,
    ) -> Result<(), ExecError>;
}

/// A typed event: one struct per event, named `Event<Noun><PastParticiple>`,
/// converted to an ABCI event in one place ([`EventExt::emit`]).
pub trait TypedEvent {
    /// The ABCI event type.
    const KIND: &'static str;
    /// `(key, value, indexed)` attributes in order.
    fn attributes(&self) -> Vec<(&'static str, String, bool)>;

    /// The ABCI event.
    fn to_abci(&self) -> tendermint::abci::Event {
        use tendermint::abci::EventAttributeIndexExt as _;
        tendermint::abci::Event::new(
            Self::KIND,
            self.attributes().into_iter().map(|(k, v, indexed)| {
                if indexed {
                    (k, v).index()
                } else {
                    (k, v).no_index()
                }
            }),
        )
    }
}

/// Recording typed events on any writable state.
pub trait EventExt: StateWrite {
    /// Records `event` in the state's event list.
    fn emit<E: TypedEvent>(&mut self, event: E) {
        self.record(event.to_abci());
    }
}
impl<T: StateWrite + ?Sized> EventExt for T {}

/// A module's answer to a query: the response bytes and, where the SDK
/// supports `prove = true`, the state key whose ICS23 proof backs them (the
/// app attaches the proof).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryAnswer {
    /// The encoded protobuf response.
    pub value: Vec<u8>,
    /// The key to prove, if this answer is provable.
    pub proof_key: Option<String>,
}

impl QueryAnswer {
    /// An answer without a proof.
    pub fn new(response: &impl prost::Message) -> Self {
        QueryAnswer {
            value: response.encode_to_vec(),
            proof_key: None,
        }
    }

    /// An answer backed by the value under `key`.
    pub fn proved_by(response: &impl prost::Message, key: String) -> Self {
        QueryAnswer {
            value: response.encode_to_vec(),
            proof_key: Some(key),
        }
    }
}

/// A module's gRPC-style query service over ABCI `Query`: paths
/// `/<SERVICE>/<Method>`, protobuf in and out. The app routes by
/// [`QueryService::SERVICE`]. A rejected query is an
/// [`ExecError::Tx`] with a [`QueryCode`](crate::QueryCode).
#[async_trait]
pub trait QueryService {
    /// The fully qualified service, e.g. `comrade.bank.v1.Query`.
    const SERVICE: &'static str;

    /// Answers `method` with request bytes `data`; `Ok(None)` if the service
    /// has no such method.
    async fn query<S: cnidarium::StateRead>(
        state: &S,
        method: &str,
        data: &[u8],
    ) -> Result<Option<QueryAnswer>, ExecError>;
}

/// Decodes a query request, rejecting junk with `BadRequest`.
pub fn decode_request<M: prost::Message + Default>(data: &[u8]) -> Result<M, TxError> {
    M::decode(data).map_err(|e| {
        TxError::new(
            crate::QueryCode::BadRequest,
            format!("cannot decode request: {e}"),
        )
    })
}

/// Parses an address in a query request, rejecting a bad one with
/// `BadRequest`.
pub fn request_address(s: &str) -> Result<Address, TxError> {
    s.parse()
        .map_err(|e: crate::AddressError| TxError::new(crate::QueryCode::BadRequest, e.to_string()))
}

impl From<crate::QueryCode> for crate::Code {
    fn from(c: crate::QueryCode) -> Self {
        crate::Code(c.value())
    }
}
