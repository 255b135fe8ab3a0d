//! Bridge errors and their stable codes (bridge range, 200–299).

use comrade_primitives::{
    Code,
    code::{BRIDGE_RANGE, CodeRange, ModuleError},
};

/// Why a bridge message or VAA was rejected. Every variant leaves the state
/// unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeError {
    /// A malformed message field (signer, empty VAA).
    #[error("{0}")]
    InvalidMessage(String),
    /// The VAA bytes are truncated or otherwise unreadable.
    #[error("malformed VAA: {0}")]
    MalformedVaa(String),
    /// A VAA version other than 1.
    #[error("VAA version {0} is not supported (only version 1)")]
    UnsupportedVersion(u8),
    /// The guardian set the VAA names is not known (or is empty).
    #[error("guardian set {0} is not known to this chain")]
    UnknownGuardianSet(u32),
    /// The guardian set was replaced and its grace period is over.
    #[error(
        "guardian set {index} expired at unix time {expired_at} (block time {now}); \
         ask the guardians to re-sign the message with the current set {current}"
    )]
    ExpiredGuardianSet {
        /// The VAA's set.
        index: u32,
        /// When it expired.
        expired_at: i64,
        /// Block time.
        now: i64,
        /// The current set.
        current: u32,
    },
    /// Fewer signatures than `floor(2n/3)+1`.
    #[error("{signatures} signatures, quorum of {guardians} guardians is {quorum}")]
    NoQuorum {
        /// Signatures present.
        signatures: usize,
        /// Needed.
        quorum: usize,
        /// Set size.
        guardians: usize,
    },
    /// Signer indices not strictly ascending.
    #[error(
        "signer index {0} does not follow the previous one (indices must be strictly ascending)"
    )]
    SignersNotAscending(u8),
    /// A signer index beyond the set.
    #[error("signer index {index} is outside the guardian set of {guardians}")]
    SignerOutOfRange {
        /// The index.
        index: u8,
        /// Set size.
        guardians: usize,
    },
    /// A signature that does not verify.
    #[error("signature of guardian {index} is invalid: {reason}")]
    BadSignature {
        /// Signer index.
        index: u8,
        /// Why.
        reason: String,
    },
    /// Two signatures from the same guardian address.
    #[error("guardian {index}'s address already signed this VAA")]
    DuplicateSigner {
        /// Signer index.
        index: u8,
    },
    /// The emitter is not the registered lockbox (or governance) emitter.
    #[error("emitter chain {chain} address {address} is not {expected}")]
    WrongEmitter {
        /// Emitter chain.
        chain: u16,
        /// Emitter address, hex.
        address: String,
        /// What was expected.
        expected: String,
    },
    /// The message was not posted with finalized consistency.
    #[error("consistency level {got}: deposits must be posted finalized ({want})")]
    NotFinalized {
        /// The VAA's level.
        got: u8,
        /// Required.
        want: u8,
    },
    /// The payload is not a well-formed `DEPOSIT_V1` (magic, version,
    /// length, zero amount, trailing bytes).
    #[error("bad deposit payload: {0}")]
    BadPayload(String),
    /// The deposit is of another mint than COMRADE's.
    #[error("mint {got} is not COMRADE's mint {want}")]
    WrongMint {
        /// Base58 of the payload's mint.
        got: String,
        /// Base58 of the registered mint.
        want: String,
    },
    /// The mint's decimals differ from the chain's.
    #[error("deposit says {got} decimals, the chain has {want}")]
    WrongDecimals {
        /// Payload's.
        got: u8,
        /// Chain's.
        want: u32,
    },
    /// The deposit is addressed to another app-chain.
    #[error("deposit is for app-chain id {got}, this chain's is {want}")]
    WrongAppChain {
        /// Payload's, hex.
        got: String,
        /// Ours, hex.
        want: String,
    },
    /// This deposit (by emitter sequence or body digest) was already
    /// credited.
    #[error("deposit {what} was already redeemed at height {height}")]
    AlreadyRedeemed {
        /// Which key matched.
        what: String,
        /// Height of the redemption.
        height: u64,
    },
    /// Crediting would overflow the supply or the locked total.
    #[error("amount overflow: {0}")]
    AmountOverflow(String),
    /// A governance VAA signed by a set other than the current one.
    #[error("governance VAAs must be signed by the current guardian set {current}, not {got}")]
    GovernanceNotCurrentSet {
        /// The VAA's set.
        got: u32,
        /// The current set.
        current: u32,
    },
    /// A governance action this chain does not apply.
    #[error("unsupported governance action: {0}")]
    UnsupportedGovernance(String),
    /// A malformed or out-of-order guardian set upgrade.
    #[error("bad guardian set upgrade: {0}")]
    BadGuardianSetUpgrade(String),
    /// The governance VAA was already applied.
    #[error("governance VAA {0} was already applied")]
    GovernanceReplayed(String),
}

impl ModuleError for BridgeError {
    const RANGE: CodeRange = BRIDGE_RANGE;
    const CODES: &'static [(&'static str, u32)] = &[
        ("bridge.invalid_message", 200),
        ("bridge.malformed_vaa", 201),
        ("bridge.unsupported_version", 202),
        ("bridge.unknown_guardian_set", 203),
        ("bridge.expired_guardian_set", 204),
        ("bridge.no_quorum", 205),
        ("bridge.signers_not_ascending", 206),
        ("bridge.signer_out_of_range", 207),
        ("bridge.bad_signature", 208),
        ("bridge.duplicate_signer", 209),
        ("bridge.wrong_emitter", 210),
        ("bridge.not_finalized", 211),
        ("bridge.bad_payload", 212),
        ("bridge.wrong_mint", 213),
        ("bridge.wrong_decimals", 214),
        ("bridge.wrong_app_chain", 215),
        ("bridge.already_redeemed", 216),
        ("bridge.amount_overflow", 217),
        ("bridge.governance_not_current_set", 218),
        ("bridge.unsupported_governance", 219),
        ("bridge.bad_guardian_set_upgrade", 220),
        ("bridge.governance_replayed", 221),
    ];

    fn code(&self) -> Code {
        Code(match self {
            BridgeError::InvalidMessage(_) => 200,
            BridgeError::MalformedVaa(_) => 201,
            BridgeError::UnsupportedVersion(_) => 202,
            BridgeError::UnknownGuardianSet(_) => 203,
            BridgeError::ExpiredGuardianSet { .. } => 204,
            BridgeError::NoQuorum { .. } => 205,
            BridgeError::SignersNotAscending(_) => 206,
            BridgeError::SignerOutOfRange { .. } => 207,
            BridgeError::BadSignature { .. } => 208,
            BridgeError::DuplicateSigner { .. } => 209,
            BridgeError::WrongEmitter { .. } => 210,
            BridgeError::NotFinalized { .. } => 211,
            BridgeError::BadPayload(_) => 212,
            BridgeError::WrongMint { .. } => 213,
            BridgeError::WrongDecimals { .. } => 214,
            BridgeError::WrongAppChain { .. } => 215,
            BridgeError::AlreadyRedeemed { .. } => 216,
            BridgeError::AmountOverflow(_) => 217,
            BridgeError::GovernanceNotCurrentSet { .. } => 218,
            BridgeError::UnsupportedGovernance(_) => 219,
            BridgeError::BadGuardianSetUpgrade(_) => 220,
            BridgeError::GovernanceReplayed(_) => 221,
        })
    }
}
