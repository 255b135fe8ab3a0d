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

/// `comrade.auth.v1.Account` by address.
pub fn account(address: &Address) -> String {
    format!("auth/account/{address}")
}
/// The next account number to assign (u64, big-endian).
pub const NEXT_ACCOUNT_NUMBER: &str = "auth/next_account_number";

/// `comrade.bank.v1.Amount`: balance of an address in the native denom.
pub fn balance(address: &Address) -> String {
    format!("bank/balance/{address}")
}
/// `comrade.bank.v1.Amount`: total supply of the native denom.
pub const SUPPLY: &str = "bank/supply";
