//! Every key the auth module writes: `auth/<noun>/<id>`.

use comrade_primitives::{Address, state::address_key};

/// `comrade.auth.v1.Account` by address: `auth/account/<40 hex digits>`.
pub fn account(address: &Address) -> String {
    address_key(ACCOUNT_PREFIX, address)
}

/// The next account number to assign (u64, big-endian).
pub const NEXT_ACCOUNT_NUMBER: &str = "auth/next_account_number";

/// Prefix of every account key.
pub const ACCOUNT_PREFIX: &str = "auth/account/";

/// Ephemeral (never persisted) object: the [`AuthParams`](super::AuthParams)
/// the app loads into every state it executes or answers queries on.
pub const PARAMS_OBJECT: &str = "auth/params";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_keys_are_prefix_plus_lowercase_hex() {
        let mut bytes = [0u8; 20];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::try_from(i * 13 + 7).unwrap_or(0);
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(account(&Address(bytes)), format!("auth/account/{hex}"));
        assert_ne!(account(&Address(bytes)), account(&Address([0xff; 20])));
    }
}
