//! Tx rejection errors: a stable [`Code`] plus a one-line message, and the
//! typed internal errors that halt the node.

use crate::code::{Code, ModuleError};

/// Why a tx (or a query) was rejected. Carries its stable code; the message
/// names the values involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TxError {
    /// Stable result code.
    pub code: Code,
    /// Lowercase, one-line explanation with values.
    pub message: String,
}

impl TxError {
    /// Builds an error.
    pub fn new(code: impl Into<Code>, message: impl Into<String>) -> Self {
        TxError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The same error with `prefix: ` in front of its message (e.g. which
    /// message of a tx failed).
    pub fn prefixed(self, prefix: impl std::fmt::Display) -> Self {
        TxError {
            code: self.code,
            message: format!("{prefix}: {}", self.message),
        }
    }
}

impl<E: ModuleError> From<E> for TxError {
    fn from(e: E) -> Self {
        TxError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// A failure that is not the tx's fault: storage failed or an invariant of
/// the state machine does not hold. The node halts rather than fork.
///
/// There is deliberately no `From<anyhow::Error>`: a library error becomes an
/// internal error only where the code says which kind it is.
#[derive(Debug, thiserror::Error)]
pub enum InternalError {
    /// Reading or writing the store failed.
    #[error("storage failed while {context}: {error:#}")]
    Storage {
        /// What was being done.
        context: String,
        /// The store's error.
        error: anyhow::Error,
    },
    /// A stored value does not decode: the store is corrupt.
    #[error("corrupt value at {key}: {reason}")]
    Corrupt {
        /// The key.
        key: String,
        /// Why it does not decode.
        reason: String,
    },
    /// An invariant of the state machine does not hold (supply, counters,
    /// a module's own bookkeeping).
    #[error("invariant violated: {0}")]
    Invariant(String),
}

impl InternalError {
    /// A storage failure while doing `context`.
    pub fn storage(context: impl Into<String>, error: anyhow::Error) -> Self {
        InternalError::Storage {
            context: context.into(),
            error,
        }
    }

    /// A broken invariant.
    pub fn invariant(what: impl Into<String>) -> Self {
        InternalError::Invariant(what.into())
    }
}

/// Failure of a block-level operation: either the tx is rejected, or the
/// node must halt.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The tx is invalid; the state is unchanged.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// Storage or an invariant failed; the node must halt rather than fork.
    #[error("internal error: {0}")]
    Internal(#[from] InternalError),
}

impl<E: ModuleError> From<E> for ExecError {
    fn from(e: E) -> Self {
        ExecError::Tx(e.into())
    }
}

/// Shorthand for returning a [`TxError`].
pub fn reject<T>(code: impl Into<Code>, message: impl Into<String>) -> Result<T, ExecError> {
    Err(ExecError::Tx(TxError::new(code, message)))
}
