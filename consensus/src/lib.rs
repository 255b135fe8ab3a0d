//! Staking and proof-of-compute for the Comrade chain (ARCHITECTURE §7).
//!
//! * [`staking`]: validators bond COMRADE, voting power is bonded stake,
//!   jailing and unjailing, double-sign and downtime slashing, unbonding,
//!   validator-set updates to CometBFT.
//!
//! The capacity challenges verify openings with the exact kernel of
//! `comrade-exact`; compute-node registration, the beacon and audits are
//! the next parts of this crate (see `docs/proof-of-compute.md`).
//!
//! Must not depend on `comrade-bridge` or the Burn engine.
#![deny(clippy::arithmetic_side_effects)]
#![deny(
    clippy::dbg_macro,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

pub mod compute;
pub mod staking;

/// Amounts as decimal strings (JSON numbers lose precision above 2^53).
mod amount_str {
    use comrade_primitives::{Amount, parse_amount};
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Amount, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Amount, D::Error> {
        let s = String::deserialize(d)?;
        parse_amount(&s).map_err(serde::de::Error::custom)
    }
}
