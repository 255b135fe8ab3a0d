//! The auth genesis section.

use comrade_primitives::Address;

/// Accounts to create at genesis, numbered 0, 1, … in this order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthGenesis {
    /// Addresses in numbering order (duplicates are created once).
    pub accounts: Vec<Address>,
}
