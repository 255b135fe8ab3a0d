//! The bank genesis section.

use comrade_primitives::{Address, Amount};

/// Genesis balances, already validated by the app's genesis check.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BankGenesis {
    /// Balances, one per address, sorted by address.
    pub balances: Vec<(Address, Amount)>,
    /// Their sum.
    pub total_supply: Amount,
}
