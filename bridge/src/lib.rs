//! Wormhole bridge for the Comrade chain (ARCHITECTURE.md §8,
//! `docs/bridge.md`).
//!
//! COMRADE comes in from Solana's lockbox through guardian-signed VAAs:
//! [`vaa`] parses and verifies VAA v1 (k256 recovery, keccak256);
//! [`MsgRedeemDeposit`] credits a verified `DEPOSIT_V1` exactly once;
//! [`MsgSubmitGovernanceVaa`] applies Wormhole Core guardian set upgrades;
//! the end-block invariant halts the chain if the chain's supply ever
//! differs from the amount locked in the vault.
//!
//! Funds move only through the bank capability of `comrade-bank`
//! (`BankWrite::mint` for verified deposits, later `BankWrite::burn` for
//! withdrawals), never through raw balance keys.
//!
//! Must not depend on `comrade-app`, `comrade-consensus` or
//! `comrade-inference`.
#![deny(
    clippy::dbg_macro,
    clippy::print_stdout,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

pub mod devnet;
mod error;
pub mod event;
pub mod genesis;
pub mod payload;
pub mod query;
mod redeem_deposit;
pub mod state;
pub mod state_key;
mod submit_governance_vaa;
pub mod vaa;
pub mod verify;

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_bank::BankRead as _;
use comrade_primitives::{
    ExecError, InternalError,
    component::{BlockContext, Component},
};

pub use error::BridgeError;
pub use genesis::{BridgeGenesis, BridgeGenesisFile};
pub use query::BridgeQuery;
pub use redeem_deposit::MsgRedeemDeposit;
pub use state::BridgeRead;
pub use submit_governance_vaa::MsgSubmitGovernanceVaa;

use state::BridgeWrite as _;

/// The bridge component.
#[derive(Debug)]
pub struct Bridge;

#[async_trait]
impl Component for Bridge {
    type Genesis = BridgeGenesis;

    async fn init_chain<S: StateWrite>(state: &mut S, g: &BridgeGenesis) -> Result<(), ExecError> {
        state.put_config(&g.config);
        state.put_guardian_set(&g.guardian_set);
        state.put_current_guardian_set_index(g.guardian_set.index);
        state.put_locked(g.locked);
        Ok(())
    }

    /// The supply invariant: the chain's COMRADE is exactly what the vault
    /// holds. A difference is a bug that minted or burned outside the
    /// bridge; the node halts rather than go on.
    async fn end_block<S: StateWrite>(state: &mut S, _ctx: &BlockContext) -> Result<(), ExecError> {
        let locked = state.locked().await?;
        let supply = state.supply().await?;
        if locked != supply {
            return Err(InternalError::invariant(format!(
                "bridge supply invariant broken: {supply} on chain, {locked} locked on Solana"
            ))
            .into());
        }
        Ok(())
    }
}
