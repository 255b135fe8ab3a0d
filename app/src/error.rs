//! Tx rejection errors (defined in `comrade-primitives` so every component
//! crate shares them).

pub use comrade_primitives::error::{ExecError, TxError, reject};
