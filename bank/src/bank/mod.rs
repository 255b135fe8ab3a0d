//! The bank: balances and supply of the single native denom, transfers
//! (`MsgSend`), and the capability ([`BankRead`] / [`BankWrite`]) through
//! which every other module reads and moves funds.

pub mod cosmos_query;
pub mod error;
pub mod event;
pub mod genesis;
pub mod params;
pub mod query;
pub mod send;
pub mod state;
pub mod state_key;

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{ExecError, InternalError, component::Component};

pub use error::BankError;
pub use genesis::BankGenesis;
pub use params::BankParams;
pub use send::MsgSend;
pub use state::{BankRead, BankWrite};

/// The bank component: writes the genesis balances and supply.
#[derive(Debug)]
pub struct Bank;

#[async_trait]
impl Component for Bank {
    type Genesis = BankGenesis;

    async fn init_chain<S: StateWrite>(
        state: &mut S,
        genesis: &BankGenesis,
    ) -> Result<(), ExecError> {
        let mut sum: comrade_primitives::Amount = 0;
        for (address, amount) in &genesis.balances {
            state::put_balance(state, address, *amount);
            sum = sum
                .checked_add(*amount)
                .ok_or_else(|| InternalError::invariant("genesis balances overflow 2^128 - 1"))?;
        }
        if sum != genesis.total_supply {
            return Err(InternalError::invariant(format!(
                "genesis balances add up to {sum}, total supply is {}",
                genesis.total_supply
            ))
            .into());
        }
        state::put_supply(state, genesis.total_supply);
        Ok(())
    }
}
