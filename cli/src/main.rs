//! `comrade`: one binary for every role of the Comrade chain — validator node
//! (`init`, `start`), keys, genesis, transactions and queries against a node's
//! CometBFT RPC, local networks and compute nodes.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // a CLI, not the state machine

mod bridge;
mod explain;
mod keychain;
mod keyring;
mod keys;
mod node;
mod rpc;
mod worker;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Comrade: a sovereign chain for decentralized AI inference.
#[derive(Debug, Parser)]
#[command(name = "comrade", version, about, long_about = None)]
struct Cli {
    /// Node home directory (config, data, keyring).
    #[arg(long, global = true, env = "COMRADE_HOME", default_value_os_t = default_home())]
    home: PathBuf,
    /// CometBFT RPC endpoint of the node to talk to.
    #[arg(
        long,
        global = true,
        env = "COMRADE_NODE",
        default_value = "http://127.0.0.1:26657"
    )]
    node: String,
    /// Chain id to sign for (default: the node's, from its status).
    #[arg(long, global = true, env = "COMRADE_CHAIN_ID")]
    chain_id: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

/// Output format of commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable text.
    Text,
    /// JSON, one document per command.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a node home: CometBFT config and keys (via `cometbft init`),
    /// pointed at this app's ABCI socket, plus an empty keyring.
    Init(node::InitArgs),
    /// Run the ABCI application (and, with --with-cometbft, a supervised
    /// cometbft node next to it).
    Start(node::StartArgs),
    /// Manage the local encrypted keyring (secp256k1 account keys).
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Create, edit and validate the genesis file.
    #[command(subcommand)]
    Genesis(comrade_genesis::cli::GenesisCommand),
    /// Sign and broadcast transactions.
    #[command(subcommand)]
    Tx(rpc::TxCommand),
    /// Query chain state through a node.
    #[command(subcommand)]
    Query(rpc::QueryCommand),
    /// Show the node's sync status, height and app hash.
    Status,
    /// Serve a model as a compute node (OpenAI-compatible HTTP API), or
    /// benchmark the inference engine.
    #[command(subcommand)]
    Compute(ComputeCommand),
    /// Run a local multi-validator network on 127.0.0.1 (real cometbft
    /// processes next to `comrade start`), for development and tests.
    #[command(subcommand)]
    Localnet(comrade_localnet::cli::LocalnetCommand),
    /// The Wormhole bridge: inspect and verify VAAs.
    #[command(subcommand)]
    Bridge(bridge::BridgeCommand),
}

/// `comrade compute …`
#[derive(Debug, Subcommand)]
enum ComputeCommand {
    /// Serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions,
    /// /v1/completions, /v1/models, /health, /metrics). With --chain and
    /// --key, also do the registered node's proof of compute on that chain
    /// (beacon reveals, capacity sprints on --device).
    Serve {
        #[command(flatten)]
        serve: comrade_inference::cli::ServeArgs,
        #[command(flatten)]
        worker: worker::WorkerArgs,
    },
    /// Measure prefill and decode tokens/s at batch 1 and 8, compare with llama.cpp's
    /// llama-bench on the same GGUF and thread count, and print the memory-bandwidth bound.
    Bench(comrade_inference::cli::BenchArgs),
}

fn default_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
        .join(".comrade")
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("COMRADE_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,comrade::worker=info")
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.output == Output::Json;
    match cli.command {
        Command::Init(a) => node::init(&cli.home, a, json),
        Command::Start(a) => node::start(&cli.home, a),
        Command::Keys(c) => keys::run(c, &cli.home, json),
        Command::Genesis(c) => comrade_genesis::cli::run(c, &cli.home),
        Command::Tx(c) => rpc::tx(c, &cli.home, &cli.node, cli.chain_id.as_deref(), json),
        Command::Query(c) => rpc::query(c, &cli.node, json),
        Command::Status => rpc::status(&cli.node, json),
        Command::Bridge(c) => bridge::command(c, &cli.node, json),
        Command::Compute(ComputeCommand::Serve { serve, worker }) => {
            let sidecar = worker::sidecar(&cli.home, &worker, serve.device)?;
            comrade_inference::cli::serve(serve, sidecar)
        }
        Command::Compute(ComputeCommand::Bench(b)) => comrade_inference::cli::bench(b),
        Command::Localnet(c) => comrade_localnet::cli::run(c, std::env::current_exe()?),
    }
}
