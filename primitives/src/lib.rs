//! Shared domain types of the Comrade chain.
//!
//! Owns: [`Address`] (bech32 `comrade1…`), [`Amount`] helpers, stable
//! [`ResultCode`]s and tx errors, module-account addresses, the protobuf types
//! generated from `proto/comrade/**` ([`proto`]) and, behind feature
//! `component`, the [`Component`](component::Component) and
//! [`ActionHandler`](component::ActionHandler) traits every state-machine
//! module implements. Does no I/O.

pub mod address;
pub mod amount;
pub mod code;
#[cfg(feature = "component")]
pub mod component;
pub mod error;
pub mod proto;

pub use address::{Address, AddressError, BECH32_PREFIX};
pub use amount::{Amount, AmountError, parse_amount};
pub use code::ResultCode;
pub use error::{ExecError, TxError};

/// A block height.
pub type Height = u64;
