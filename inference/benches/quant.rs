//! Quantized matrix-vector products at SmolLM2-135M sizes: GB/s of weights read,
//! next to the machine's read bandwidth measured the same way as `compute bench`.
//! `cargo bench -p comrade-inference --bench quant [-- THREADS]`

#![allow(clippy::disallowed_methods, clippy::unwrap_used, missing_docs)]

use std::time::Instant;

use comrade_inference::bench::memory_bandwidth_gbs;
use comrade_inference::quant::{QKind, QLinear, QMatrix};

fn q4_1_blocks(rows: usize, cols: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows * cols / 32 * 20);
    let mut s = 1u32;
    for _ in 0..rows * cols / 32 {
        out.extend(half::f16::from_f32(0.01).to_le_bytes());
        out.extend(half::f16::from_f32(-0.07).to_le_bytes());
        for _ in 0..16 {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            out.push((s >> 16) as u8);
        }
    }
    out
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    let x: Vec<f32> = (0..1536)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let cases: Vec<(&str, QLinear, usize)> = vec![
        (
            "Q4_1 gate+up 3072x576",
            QLinear::new(vec![
                QMatrix::from_gguf(QKind::Q4_1, 3072, 576, &q4_1_blocks(3072, 576)).unwrap(),
            ])
            .unwrap(),
            576,
        ),
        (
            "Q4_1 down 576x1536",
            QLinear::new(vec![
                QMatrix::from_gguf(QKind::Q4_1, 576, 1536, &q4_1_blocks(576, 1536)).unwrap(),
            ])
            .unwrap(),
            1536,
        ),
        (
            "Q8_0 lm_head 49152x576",
            QLinear::new(vec![
                QMatrix::quantize_q8_0(49152, 576, &vec![0.25f32; 49152 * 576]).unwrap(),
            ])
            .unwrap(),
            576,
        ),
    ];
    println!("threads: {threads}");
    for (name, lin, k) in &cases {
        let k = *k;
        for n in [1usize, 8] {
            let xs: Vec<f32> = x[..k].repeat(n);
            lin.forward(&xs, n).expect("input is [n, k]");
            let iters = (400_000_000 / lin.bytes()).clamp(3, 2000);
            let t = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(
                    lin.forward(std::hint::black_box(&xs), n)
                        .expect("input is [n, k]"),
                );
            }
            let s = t.elapsed().as_secs_f64() / iters as f64;
            println!(
                "{name:26} n={n}: {:8.1} us  {:6.1} GB/s of weights",
                s * 1e6,
                lin.bytes() as f64 / s / 1e9
            );
            if n == 1 {
                // As in a decode step: other work between products lets the pool's
                // threads go idle, and each product pays for waking them.
                let mut spent = 0.0;
                for _ in 0..iters.min(200) {
                    let busy = Instant::now();
                    while busy.elapsed().as_micros() < 300 {
                        std::hint::spin_loop();
                    }
                    let t = Instant::now();
                    std::hint::black_box(
                        lin.forward(std::hint::black_box(&xs), n)
                            .expect("input is [n, k]"),
                    );
                    spent += t.elapsed().as_secs_f64();
                }
                let s = spent / iters.min(200) as f64;
                println!(
                    "{name:26} n={n}: {:8.1} us  {:6.1} GB/s after 300 us of other work",
                    s * 1e6,
                    lin.bytes() as f64 / s / 1e9
                );
            }
        }
    }
    println!(
        "read bandwidth ({threads} threads): {:.1} GB/s",
        memory_bandwidth_gbs(threads)
    );
}
