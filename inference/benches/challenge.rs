//! Prover throughput of the capacity challenge on this CPU: the Burn program
//! (Flex f32 matmul) vs the exact i8 kernel on one thread and across the
//! rayon pool, interleaved, against the kernel's single-core peak.
//! `cargo bench -p comrade-inference --bench challenge [-- THREADS]`

#![allow(clippy::disallowed_methods, clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use comrade_exact::{Challenge, Profile, Prover, kernel::Kernel, prf};
use comrade_inference::{Cpu, challenge::BurnChallenge};
use rayon::prelude::*;

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    let profile = Profile::LOCALNET_CPU;
    let seed = [5u8; 32];
    let ch = Challenge::derive(profile, seed);
    let burn = BurnChallenge::<Cpu>::new(profile, seed, &Default::default());
    let key = prf::input_key(&seed, b"bench");
    let rows = 2048u64;
    println!(
        "{} ({} MAC/row), {rows} rows, {threads} threads",
        profile.name,
        profile.row_macs()
    );
    println!("| prover | s | rows/s | GMAC/s |");
    println!("|---|---|---|---|");
    let report = |name: &str, s: f64| {
        let rps = rows as f64 / s;
        println!(
            "| {name} | {s:.3} | {rps:.0} | {:.2} |",
            rps * profile.row_macs() as f64 / 1e9
        );
    };
    let mut roots = Vec::new();
    for _round in 0..2 {
        let t = Instant::now();
        let leaves = Prover::leaves(&ch, &key, 0..rows, Kernel::detect());
        report("kernel, 1 thread", t.elapsed().as_secs_f64());
        roots.push(comrade_exact::merkle::root(&leaves));

        let t = Instant::now();
        let chunks: Vec<_> = (0..rows / 64).collect();
        let leaves: Vec<_> = chunks
            .par_iter()
            .flat_map_iter(|c| Prover::leaves(&ch, &key, c * 64..(c + 1) * 64, Kernel::detect()))
            .collect();
        report(
            &format!("kernel, {threads} threads"),
            t.elapsed().as_secs_f64(),
        );
        roots.push(comrade_exact::merkle::root(&leaves));

        for batch in [64u64, 512] {
            let t = Instant::now();
            let leaves = burn.leaves(&key, 0..rows, batch).unwrap();
            report(
                &format!("Burn Flex f32, batch {batch}"),
                t.elapsed().as_secs_f64(),
            );
            roots.push(comrade_exact::merkle::root(&leaves));
        }
    }
    assert!(roots.windows(2).all(|w| w[0] == w[1]), "provers disagree");
    println!("all provers committed the same root");
}
