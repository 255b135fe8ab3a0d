//! Deterministic expansion of a sprint seed into weights and node inputs:
//! ChaCha20 (RFC 8439) keystream bytes mapped to `(b mod 63) − 31`.

use chacha20::{ChaCha20, KeyIvInit as _, cipher::StreamCipher as _};
use sha2::{Digest as _, Sha256};

use crate::Hash;

/// `SHA-256(parts…)`.
pub fn hash(parts: &[&[u8]]) -> Hash {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Fills `out` with values in `[-31, 31]` from the keystream of
/// `ChaCha20(key, nonce)` starting at block 0. The mod-63 bias is accepted:
/// it is fixed and the same for everyone.
pub fn fill_values(key: &Hash, nonce: &[u8; 12], out: &mut [i8]) {
    let mut bytes = vec![0u8; out.len()];
    let mut c = ChaCha20::new(key.into(), nonce.into());
    c.apply_keystream(&mut bytes);
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = to_value(b);
    }
}

/// `(b mod 63) − 31`.
pub const fn to_value(b: u8) -> i8 {
    // b % 63 ≤ 62, so the cast is lossless and the subtraction cannot wrap.
    #[allow(clippy::cast_possible_wrap)]
    let v = (b % 63) as i8;
    v.wrapping_sub(31)
}

/// The key of layer `l`'s weights: `H(σ ‖ "W" ‖ l_le32)`; the projection
/// uses `l = layers`.
pub fn weight_key(seed: &Hash, layer: u32) -> Hash {
    hash(&[seed, b"W", &layer.to_le_bytes()])
}

/// The key of a node's inputs: `H(σ ‖ "X" ‖ node)`. Inputs are keyed by
/// node so rows cannot be reused across nodes or epochs (attack C3).
pub fn input_key(seed: &Hash, node: &[u8]) -> Hash {
    hash(&[seed, b"X", node])
}

/// The nonce of input row `j`: `j_le64 ‖ 0u32`.
pub fn input_nonce(j: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&j.to_le_bytes());
    n
}
