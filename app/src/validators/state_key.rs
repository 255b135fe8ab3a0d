//! Every key the validator-set module writes. The prefix is `app/validator/`
//! (not `validators/`) because the records predate the module layout and
//! the state format is kept.

/// Prefix of validator entries.
pub const VALIDATOR_PREFIX: &str = "app/validator/";

/// `comrade.app.v1.Validator` by upper-case hex consensus address.
pub fn validator(consensus_address: &[u8; 20]) -> String {
    format!("{VALIDATOR_PREFIX}{}", hex::encode_upper(consensus_address))
}
