//! Every key this app writes, in one place: `"<module>/<noun>/<id>"`.

use comrade_primitives::Address;

/// `comrade.app.v1.StateVersion`: refuses foreign state.
pub const STATE_VERSION: &str = "app/state_version";
/// `comrade.app.v1.Params`.
pub const PARAMS: &str = "app/params";
/// Vote extensions are required from this height (u64, big-endian).
pub const VOTE_EXT_ENABLE_HEIGHT: &str = "app/vote_ext_enable_height";
/// Last finalized block height (u64, big-endian).
pub const BLOCK_HEIGHT: &str = "app/block_height";

/// Prefix of validator entries.
pub const VALIDATOR_PREFIX: &str = "app/validator/";
/// `comrade.app.v1.Validator` by hex consensus address.
pub fn validator(consensus_address: &[u8; 20]) -> String {
    format!("{VALIDATOR_PREFIX}{}", hex::encode_upper(consensus_address))
}

/// `prefix` followed by the 20 address bytes in lowercase hex. Keys use hex,
/// not the bech32 form users see: bech32's checksum made key formatting ~10%
/// of the app's CPU time under load.
fn address_key(prefix: &str, address: &Address) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(prefix.len().saturating_add(40));
    key.push_str(prefix);
    for b in address.as_bytes() {
        key.push(char::from(HEX[usize::from(b >> 4)]));
        key.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    key
}

/// `comrade.auth.v1.Account` by address: `auth/account/<40 hex digits>`.
pub fn account(address: &Address) -> String {
    address_key("auth/account/", address)
}
/// The next account number to assign (u64, big-endian).
pub const NEXT_ACCOUNT_NUMBER: &str = "auth/next_account_number";

/// `comrade.bank.v1.Amount`: balance of an address in the native denom:
/// `bank/balance/<40 hex digits>`.
pub fn balance(address: &Address) -> String {
    address_key("bank/balance/", address)
}
/// `comrade.bank.v1.Amount`: total supply of the native denom.
pub const SUPPLY: &str = "bank/supply";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_keys_are_prefix_plus_lowercase_hex() {
        let mut bytes = [0u8; 20];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::try_from(i * 13 + 7).unwrap_or(0);
        }
        let a = Address(bytes);
        assert_eq!(account(&a), format!("auth/account/{}", hex::encode(bytes)));
        assert_eq!(balance(&a), format!("bank/balance/{}", hex::encode(bytes)));
        assert_ne!(balance(&a), balance(&Address([0xff; 20])));
    }
}
