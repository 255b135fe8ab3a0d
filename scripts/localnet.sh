#!/usr/bin/env bash
# Brings up a working local network from a fresh machine: installs system
# packages and the pinned CometBFT, builds `comrade`, then runs
# `comrade localnet up --compute`: 4 validators by default and a compute node
# serving the built-in default model (extra arguments are passed
# through, e.g. `--validators 1`). Stop it with `comrade localnet down`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
bash scripts/install-deps.sh
cargo build --release -p comrade-cli
exec "$CARGO_TARGET_DIR/release/comrade" localnet up --compute "$@"
