//! Every key the bank writes: `bank/<noun>/<id>`.

use comrade_primitives::{Address, state::address_key};

/// `comrade.bank.v1.Amount`: balance of an address in the native denom:
/// `bank/balance/<40 hex digits>`. Absent means zero.
pub fn balance(address: &Address) -> String {
    address_key("bank/balance/", address)
}

/// Prefix of every balance key (for the supply invariant check).
pub const BALANCE_PREFIX: &str = "bank/balance/";

/// `comrade.bank.v1.Amount`: total supply of the native denom.
pub const SUPPLY: &str = "bank/supply";

/// Ephemeral (never persisted) object: the [`BankParams`](super::BankParams)
/// the app loads into every state it executes on.
pub const PARAMS_OBJECT: &str = "bank/params";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_keys_are_prefix_plus_lowercase_hex() {
        let a = Address([0xab; 20]);
        assert_eq!(balance(&a), format!("bank/balance/{}", "ab".repeat(20)));
        assert!(balance(&a).starts_with(BALANCE_PREFIX));
    }
}
