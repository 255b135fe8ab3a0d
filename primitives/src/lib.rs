//! Shared domain types of the Comrade chain.
//!
//! Owns: [`Address`] (bech32 `comrade1…`), [`Amount`] helpers, stable
//! [`ResultCode`]s, module-account addresses and the protobuf types generated
//! from `proto/comrade/**` ([`proto`]). Does no I/O.

pub mod address;
pub mod amount;
pub mod code;
pub mod proto;

pub use address::{Address, AddressError, BECH32_PREFIX};
pub use amount::{Amount, AmountError, parse_amount};
pub use code::ResultCode;

/// A block height.
pub type Height = u64;
