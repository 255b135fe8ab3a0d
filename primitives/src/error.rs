//! Tx rejection errors: a stable [`ResultCode`] plus a one-line message.

use crate::ResultCode;

/// Why a tx was rejected. Carries its stable code; the message names the
/// values involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TxError {
    /// Stable result code.
    pub code: ResultCode,
    /// Lowercase, one-line explanation with values.
    pub message: String,
}

impl TxError {
    /// Builds an error.
    pub fn new(code: ResultCode, message: impl Into<String>) -> Self {
        TxError {
            code,
            message: message.into(),
        }
    }
}

/// Failure of a block-level operation: either the tx is rejected, or storage
/// failed (which must halt the node).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The tx is invalid; the state is unchanged.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// Storage or an invariant failed; the node must halt rather than fork.
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// Shorthand for returning a [`TxError`].
pub fn reject<T>(code: ResultCode, message: impl Into<String>) -> Result<T, ExecError> {
    Err(ExecError::Tx(TxError::new(code, message)))
}
