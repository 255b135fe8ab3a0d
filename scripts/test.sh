#!/usr/bin/env bash
# Runs the whole test suite from a fresh machine: installs system packages and
# the pinned CometBFT, then format check, clippy (-D warnings), every test of
# the workspace (unit, integration, end-to-end against real cometbft, doc
# tests) and the offline CUDA build check of the inference engine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

step() { printf '\n==> %s\n' "$*"; }

step "installing system packages and cometbft"
bash scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace (unit, integration, end-to-end, doc tests)"
cargo test --workspace --no-fail-fast

step "cargo check -p comrade-inference --features cuda (offline CUDA build)"
cargo check -p comrade-inference --features cuda

echo
echo "all checks passed"
