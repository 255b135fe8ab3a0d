//! Shared domain types of the Comrade chain.
//!
//! Owns: [`Address`] (bech32 `comrade1…`), [`Amount`] helpers with the one
//! checked mul-div ([`amount::mul_div`]), stable codes ([`code`]: every
//! module's range, [`ResultCode`], [`code::ModuleError`]) and tx / internal
//! errors, module-account addresses, the protobuf types generated from
//! `proto/comrade/**` ([`proto`]).
//!
//! Behind feature `component`, the plumbing every state-machine module is
//! built on, so `consensus`, `bridge`, the market and governance need not
//! depend on `app`: the [`Component`](component::Component) and
//! [`ActionHandler`](component::ActionHandler) traits, the
//! [`BlockContext`](component::BlockContext) they see, typed events, and the
//! typed protobuf state helpers ([`state`]). The bank capability that moves
//! funds is one layer up, in `comrade-bank`, because it owns state keys.
//!
//! Must not do I/O (beyond the cnidarium state it is handed) or depend on
//! any other crate of the workspace.
#![deny(
    clippy::dbg_macro,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

pub mod address;
pub mod amount;
pub mod code;
#[cfg(feature = "component")]
pub mod component;
pub mod error;
pub mod proto;
#[cfg(feature = "component")]
pub mod state;

pub use address::{Address, AddressError, BECH32_PREFIX};
pub use amount::{Amount, AmountError, parse_amount};
pub use code::{Code, QueryCode, ResultCode};
pub use error::{ExecError, InternalError, TxError, reject};

/// A block height.
pub type Height = u64;
