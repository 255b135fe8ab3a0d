//! Stand-alone `compute` command (the same as `comrade compute …`), e.g.
//! `cargo run --release -p comrade-inference --example compute -- bench --threads 2`.

use clap::Parser;
use comrade_inference::cli::{ComputeCommand, run};

/// Comrade compute node.
#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: ComputeCommand,
}

fn main() -> anyhow::Result<()> {
    run(Cli::parse().cmd)
}
