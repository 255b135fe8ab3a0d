//! Seeds and opening indices (design §8.2, §8.5). Only hashes: the state
//! machine calls these with values it holds.

use crate::{Hash, prf::hash};

/// The sprint seed `σ = H("comrade/poc/sprint/v1" ‖ chain_id ‖ sprint_id_le64
/// ‖ block_hash)`, where `block_hash` is the hash of the block before the
/// sprint starts. A proposer who grinds that hash only changes which
/// (uniformly hard) weights everyone computes, never which rows are opened.
pub fn sprint_seed(chain_id: &str, sprint_id: u64, block_hash: &[u8]) -> Hash {
    hash(&[
        b"comrade/poc/sprint/v1",
        &u32_len(chain_id.len()).to_le_bytes(),
        chain_id.as_bytes(),
        &sprint_id.to_le_bytes(),
        block_hash,
    ])
}

fn u32_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Opening index `i` of a commitment: `u64_le(H("comrade/poc/open/v1" ‖ β ‖
/// node ‖ root ‖ i_le16)[..8]) mod n_rows`. `β` is the beacon value, fixed
/// after the commitment (so the node cannot choose its rows) and not
/// chosen by any single proposer.
pub fn opening_index(beacon: &Hash, node: &[u8], root: &Hash, i: u16, n_rows: u64) -> u64 {
    let h = hash(&[b"comrade/poc/open/v1", beacon, node, root, &i.to_le_bytes()]);
    let mut w = [0u8; 8];
    w.copy_from_slice(&h[..8]);
    u64::from_le_bytes(w).checked_rem(n_rows).unwrap_or(0)
}

/// The `k` opening indices of a commitment of `n_rows` rows.
pub fn opening_indices(beacon: &Hash, node: &[u8], root: &Hash, k: u16, n_rows: u64) -> Vec<u64> {
    (0..k)
        .map(|i| opening_index(beacon, node, root, i, n_rows))
        .collect()
}
