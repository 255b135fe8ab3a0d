//! Accounts (`auth`) and the native-denom bank (`bank`): the two modules
//! every other module builds on.
//!
//! Owns: the account records (numbers, sequences, public keys) and the
//! balances and supply of the single native denom, their state keys, typed
//! state access, genesis, queries, events and errors, and the bank's one
//! action, `MsgSend`. Above all it owns the **bank capability**
//! ([`BankRead`] / [`BankWrite`]): the only way any module reads or moves
//! funds. Every call is checked (no overflow, no negative balance) and keeps
//! the supply equal to the sum of balances; only [`BankWrite::mint`] and
//! [`BankWrite::burn`] change the supply.
//!
//! Why a crate of its own, below `app`: `consensus` (slashing, rewards),
//! `bridge` (mint, burn), the market (escrow) and governance (deposits,
//! treasury) all move funds, and they must not depend on `app` (which
//! orchestrates them). The capability owns state keys, so it cannot live in
//! `comrade-primitives` (which holds only key-less plumbing); accounts come
//! along because crediting an address creates its account.
//!
//! Must not depend on `app` or any module crate, nor read clocks,
//! randomness, floats, `HashMap` order, the network or a GPU.
#![deny(clippy::arithmetic_side_effects)]
#![deny(
    clippy::dbg_macro,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

pub mod auth;
pub mod bank;

pub use bank::{BankRead, BankWrite};
