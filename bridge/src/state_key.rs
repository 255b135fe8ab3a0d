//! The bridge's state keys (`bridge/…`).

/// The bridge's configuration (`Config`).
pub const CONFIG: &str = "bridge/config";
/// The index of the current guardian set (u64).
pub const CURRENT_SET: &str = "bridge/guardian_set_current";
/// COMRADE locked in the lockbox vault (`Locked`).
pub const LOCKED: &str = "bridge/locked";

/// A guardian set by index (zero-padded so the keys sort by index).
pub fn guardian_set(index: u32) -> String {
    format!("bridge/guardian_set/{index:010}")
}

/// A redeemed deposit, by (emitter chain, emitter, sequence).
pub fn redeemed(chain: u16, emitter: &[u8; 32], sequence: u64) -> String {
    format!(
        "bridge/redeemed/{chain:05}/{}/{sequence:020}",
        hex::encode(emitter)
    )
}

/// A consumed VAA body, by keccak256(keccak256(body)): deposits and
/// governance alike (the value is the height, u64).
pub fn consumed(digest: &[u8; 32]) -> String {
    format!("bridge/consumed/{}", hex::encode(digest))
}
