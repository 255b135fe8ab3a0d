//! Account errors and their stable codes (envelope range, 1–99).

use comrade_primitives::{
    Address, Code, ResultCode,
    code::{CodeRange, ENVELOPE_RANGE, ModuleError},
};

/// Why a tx's signer account was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The signer has no account (it never held funds).
    #[error("account {0} does not exist: fund it first")]
    AccountNotFound(Address),
    /// The signed sequence is not the account's next one (replay or gap).
    #[error("account sequence mismatch for {address}: expected {expected}, got {got}")]
    WrongSequence {
        /// The signer.
        address: Address,
        /// The account's next sequence.
        expected: u64,
        /// The sequence the tx was signed with.
        got: u64,
    },
    /// The tx's public key is not the one the account registered.
    #[error("public key does not match the one registered for {0}")]
    PubKeyMismatch(Address),
}

impl ModuleError for AuthError {
    const RANGE: CodeRange = ENVELOPE_RANGE;
    const CODES: &'static [(&'static str, u32)] = &[
        ("auth.invalid_signer", 5),
        ("auth.account_not_found", 7),
        ("auth.wrong_sequence", 8),
    ];

    fn code(&self) -> Code {
        match self {
            AuthError::AccountNotFound(_) => ResultCode::AccountNotFound,
            AuthError::WrongSequence { .. } => ResultCode::WrongSequence,
            AuthError::PubKeyMismatch(_) => ResultCode::InvalidSigner,
        }
        .into()
    }
}
