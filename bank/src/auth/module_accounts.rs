//! Module accounts: accounts owned by a module rather than a key, at
//! addresses derived from their names with [`Address::module`]. As in the
//! Cosmos SDK, auth owns the list (so its queries can show them as
//! `ModuleAccount`s).

use comrade_primitives::Address;

/// Collects fees during a block; emptied by the end-block fee split.
pub const FEE_COLLECTOR: &str = "fee_collector";
/// The community treasury, governed by token holders.
pub const TREASURY: &str = "treasury";
/// Funds the free inference tier.
pub const FREE_ACCESS_POOL: &str = "free_access_pool";

/// Holds bonded and unbonding stake (validators' and compute nodes');
/// slashes move from here to the treasury.
pub const STAKING_POOL: &str = "staking_pool";

/// Pays capacity rewards each compute epoch; funded at genesis (rewards
/// are never minted).
pub const REWARD_POOL: &str = "reward_pool";

/// Every module account, in genesis numbering order.
pub const ALL: [&str; 5] = [
    FEE_COLLECTOR,
    TREASURY,
    FREE_ACCESS_POOL,
    STAKING_POOL,
    REWARD_POOL,
];

/// The module account name of `address`, if it is one.
pub fn name_of(address: &Address) -> Option<&'static str> {
    ALL.into_iter().find(|n| Address::module(n) == *address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_account_addresses_are_distinct_and_named() {
        for n in ALL {
            assert_eq!(name_of(&Address::module(n)), Some(n));
        }
        assert_eq!(name_of(&Address([0; 20])), None);
    }
}
