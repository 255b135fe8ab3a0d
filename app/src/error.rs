//! Tx rejection and internal errors (defined in `comrade-primitives` so every
//! module crate shares them).

pub use comrade_primitives::error::{ExecError, InternalError, TxError, reject};
