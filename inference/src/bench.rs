//! `comrade compute bench`: prefill and decode throughput of our engine, llama.cpp's
//! `llama-bench` on the same GGUF with the same thread count, and the memory-bandwidth
//! bound on decode speed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::prelude::Backend;

use crate::engine::Engine;
use crate::error::Result;
use crate::generate::logits_rows;
use crate::model::{ForwardOptions, KvCache};

/// Throughput of one configuration.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Batch size.
    pub batch: usize,
    /// Prefill tokens per second (all sequences together).
    pub prefill_tps: f64,
    /// Decode tokens per second (all sequences together).
    pub decode_tps: f64,
}

/// Measures prefill of `prompt_len` tokens and `decode_len` decode steps at `batch`.
pub fn measure<B: Backend>(
    engine: &Engine<B>,
    batch: usize,
    prompt_len: usize,
    decode_len: usize,
) -> Result<Throughput> {
    let vocab = engine.config.vocab_size as u32;
    let prompt: Vec<Vec<u32>> = (0..batch)
        .map(|b| {
            (0..prompt_len)
                .map(|i| ((i as u32 * 7919 + b as u32 * 104_729) % (vocab - 100)) + 100)
                .collect()
        })
        .collect();
    let mut cache = KvCache::new(engine.model.layers.len(), vec![0; batch]);
    let t0 = Instant::now();
    let out = engine
        .model
        .forward(&prompt, &mut cache, ForwardOptions::default())?;
    let mut logits = logits_rows(out.logits)?;
    let prefill = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    for _ in 0..decode_len {
        let step: Vec<Vec<u32>> = logits
            .iter()
            .map(|l| vec![crate::sampling::argmax(l)])
            .collect();
        logits = logits_rows(
            engine
                .model
                .forward(&step, &mut cache, ForwardOptions::default())?
                .logits,
        )?;
    }
    let decode = t1.elapsed().as_secs_f64();
    Ok(Throughput {
        batch,
        prefill_tps: (batch * prompt_len) as f64 / prefill,
        decode_tps: (batch * decode_len) as f64 / decode,
    })
}

/// Measures read bandwidth (GB/s) by summing a 512 MiB buffer on `threads` threads.
pub fn memory_bandwidth_gbs(threads: usize) -> f64 {
    let n: usize = 128 << 20; // f32 elements = 512 MiB
    let buf: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
    let chunk = n.div_ceil(threads.max(1));
    let mut best = 0.0f64;
    for _ in 0..3 {
        let t = Instant::now();
        let total: f32 = std::thread::scope(|s| {
            let hs: Vec<_> = buf
                .chunks(chunk)
                .map(|c| s.spawn(move || c.chunks(16).map(|x| x.iter().sum::<f32>()).sum::<f32>()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
        });
        let secs = t.elapsed().as_secs_f64();
        std::hint::black_box(total);
        best = best.max((n * 4) as f64 / secs / 1e9);
    }
    best
}

/// Runs `llama-bench` and returns (prefill tok/s, decode tok/s).
pub fn llama_bench(
    bin: &Path,
    gguf: &Path,
    threads: usize,
    prompt_len: usize,
    decode_len: usize,
) -> Option<(f64, f64)> {
    let out = Command::new(bin)
        .arg("-m")
        .arg(gguf)
        .args([
            "-t",
            &threads.to_string(),
            "-p",
            &prompt_len.to_string(),
            "-n",
            &decode_len.to_string(),
        ])
        .args(["-r", "3", "-o", "json"])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "llama-bench failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut pp = None;
    let mut tg = None;
    for r in v.as_array()? {
        let ts = r.get("avg_ts")?.as_f64()?;
        if r.get("n_prompt")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
            > 0
        {
            pp = Some(ts);
        } else {
            tg = Some(ts);
        }
    }
    Some((pp?, tg?))
}

/// Default location of `llama-bench` built by `tests/golden/regen.sh`.
pub fn default_llama_bench() -> PathBuf {
    crate::fetch::cache_dir().join("llama.cpp/build-11434.0.0-avx2/bin/llama-bench")
}
