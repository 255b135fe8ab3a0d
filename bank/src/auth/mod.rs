//! Accounts: each address that ever held funds or signed a tx has an
//! account with a number (assigned once, in creation order), a sequence
//! (replay protection) and, after its first tx, its public key.

pub mod cosmos_query;
pub mod error;
pub mod event;
pub mod genesis;
pub mod module_accounts;
pub mod params;
pub mod query;
pub mod state;
pub mod state_key;

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_primitives::{ExecError, component::Component};

pub use error::AuthError;
pub use genesis::AuthGenesis;
pub use params::AuthParams;
pub use state::{AuthRead, AuthWrite};

/// The auth component: creates the genesis accounts.
#[derive(Debug)]
pub struct Auth;

#[async_trait]
impl Component for Auth {
    type Genesis = AuthGenesis;

    async fn init_chain<S: StateWrite>(
        state: &mut S,
        genesis: &AuthGenesis,
    ) -> Result<(), ExecError> {
        for address in &genesis.accounts {
            state.get_or_create_account(address).await?;
        }
        Ok(())
    }
}
