//! Row throughput of the exact kernel (what a CPU prover achieves and what
//! one in-block opening costs), scalar vs AVX2, interleaved.
//! `cargo bench -p comrade-exact --bench rows`

#![allow(clippy::disallowed_methods, clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use comrade_exact::{Challenge, Profile, kernel::Kernel, prf, prover};

fn main() {
    let kernels: Vec<(&str, Kernel)> = {
        let mut k = vec![("scalar", Kernel::Scalar)];
        if let k2 @ Kernel::Avx2(_) = Kernel::detect() {
            k.push(("avx2", k2));
        }
        k
    };
    println!("| profile | kernel | rows | s | rows/s | GMAC/s | µs/opening |");
    println!("|---|---|---|---|---|---|---|");
    for (profile, rows) in [(Profile::LOCALNET_CPU, 256u64), (Profile::MAINNET_GPU, 8)] {
        let t = Instant::now();
        let ch = Challenge::derive(profile, [7; 32]);
        let derive_s = t.elapsed().as_secs_f64();
        let key = prf::input_key(ch.seed(), b"node");
        // two interleaved rounds per kernel
        for _round in 0..2 {
            for (name, k) in &kernels {
                let t = Instant::now();
                let leaves = prover::Prover::leaves(&ch, &key, 0..rows, *k);
                let s = t.elapsed().as_secs_f64();
                assert_eq!(leaves.len() as u64, rows);
                let rps = rows as f64 / s;
                println!(
                    "| {} | {name} | {rows} | {s:.3} | {rps:.0} | {:.2} | {:.1} |",
                    profile.name,
                    rps * profile.row_macs() as f64 / 1e9,
                    1e6 / rps
                );
            }
        }
        println!("(weights of {} derived in {derive_s:.3} s)", profile.name);
    }
}
