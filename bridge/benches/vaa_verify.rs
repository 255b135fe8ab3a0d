//! Verification of a 13-signature VAA (quorum of a 19-guardian set, as on
//! mainnet) against 13 raw `k256` public-key recoveries of the same
//! digest, interleaved in one run. Goal: ≤ 1.2×.
//!
//! `cargo bench -p comrade-bridge --bench vaa_verify [-- ROUNDS]`
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]
#![allow(clippy::disallowed_methods)] // a benchmark reads the clock

use std::time::Instant;

use comrade_bridge::{
    devnet,
    vaa::{Body, Vaa, quorum},
};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let keys = devnet::set(19);
    let n = quorum(keys.len());
    let signers: Vec<_> = (0..n).map(|i| devnet::signing_key(i).unwrap()).collect();
    let payload = [7u8; 130];
    let body = Body {
        timestamp: 1,
        nonce: 2,
        emitter_chain: 1,
        emitter_address: [9; 32],
        sequence: 3,
        consistency_level: 32,
        payload: &payload,
    }
    .to_bytes();
    let refs: Vec<(u8, &k256::ecdsa::SigningKey)> = signers
        .iter()
        .enumerate()
        .map(|(i, k)| (u8::try_from(i).unwrap(), k))
        .collect();
    let vaa = Vaa::sign(0, body, &refs).unwrap();
    let bytes = vaa.serialize();
    let digest = vaa.digest();
    let raw: Vec<(Signature, RecoveryId)> = vaa
        .signatures
        .iter()
        .map(|s| {
            (
                Signature::from_slice(&s.rs).unwrap(),
                RecoveryId::from_byte(s.recovery_id).unwrap(),
            )
        })
        .collect();

    let (mut t_vaa, mut t_raw) = (0u128, 0u128);
    for _ in 0..rounds {
        // Full path: parse the bytes, hash the body, verify every signature.
        let t = Instant::now();
        let v = Vaa::parse(std::hint::black_box(&bytes)).unwrap();
        v.verify_signatures(&keys).unwrap();
        t_vaa += t.elapsed().as_nanos();

        let t = Instant::now();
        for (sig, rid) in &raw {
            std::hint::black_box(
                VerifyingKey::recover_from_prehash(std::hint::black_box(&digest), sig, *rid)
                    .unwrap(),
            );
        }
        t_raw += t.elapsed().as_nanos();
    }
    let per = |t: u128| t as f64 / rounds as f64 / 1000.0;
    println!(
        "vaa_verify: {n} signatures of a {}-guardian set, {rounds} rounds interleaved",
        keys.len()
    );
    println!("  parse + verify VAA     {:>9.1} µs", per(t_vaa));
    println!("  {n} raw k256 recoveries {:>9.1} µs", per(t_raw));
    println!(
        "  ratio                  {:>9.3}× (goal ≤ 1.2×)",
        t_vaa as f64 / t_raw as f64
    );
}
