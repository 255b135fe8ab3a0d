//! Every key the staking module writes.
//!
//! The validator-set view keeps its pre-staking prefix `app/validator/` so
//! the records the fee split and the vote-extension check read are where
//! they were.

use comrade_primitives::Address;

/// Prefix of the set view: `comrade.app.v1.Validator` of every member of
/// the set that signs the current height, by upper-case hex consensus
/// address.
pub const VIEW_PREFIX: &str = "app/validator/";
/// Prefix of validator records.
pub const VALIDATOR_PREFIX: &str = "staking/validator/";
/// Prefix of the decided set (what CometBFT was last told).
pub const SET_PREFIX: &str = "staking/set/";
/// Prefix of unbonding entries, ordered by completion height.
pub const UNBONDING_PREFIX: &str = "staking/unbonding/";
/// The module's params.
pub const PARAMS: &str = "staking/params";
/// The counter that makes unbonding keys unique.
pub const UNBONDING_SEQ: &str = "staking/unbonding_seq";
/// Ephemeral: consensus addresses whose membership changed in this block.
pub const DIRTY_OBJECT: &str = "staking/dirty";
/// Ephemeral: the updates to return to CometBFT from this block.
pub const UPDATES_OBJECT: &str = "staking/updates";

fn hex20(a: &[u8; 20]) -> String {
    hex::encode_upper(a)
}

/// A member of the set view.
pub fn view(consensus_address: &[u8; 20]) -> String {
    format!("{VIEW_PREFIX}{}", hex20(consensus_address))
}

/// A validator record.
pub fn validator(consensus_address: &[u8; 20]) -> String {
    format!("{VALIDATOR_PREFIX}{}", hex20(consensus_address))
}

/// The consensus address of an operator.
pub fn by_operator(operator: &Address) -> String {
    format!("staking/by_operator/{operator}")
}

/// A validator's liveness record.
pub fn liveness(consensus_address: &[u8; 20]) -> String {
    format!("staking/liveness/{}", hex20(consensus_address))
}

/// A member of the decided set, with its power.
pub fn set_member(consensus_address: &[u8; 20]) -> String {
    format!("{SET_PREFIX}{}", hex20(consensus_address))
}

/// Updates CometBFT applies at `height` (decided two blocks before).
pub fn pending(height: u64) -> String {
    format!("staking/pending/{height:020}")
}

/// An unbonding entry: completion height, then a sequence number.
pub fn unbonding(completion_height: u64, seq: u64) -> String {
    format!("{UNBONDING_PREFIX}{completion_height:020}/{seq:020}")
}
