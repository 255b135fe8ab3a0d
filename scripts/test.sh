#!/usr/bin/env bash
# Runs the whole test suite from a fresh machine: installs system packages and
# the pinned CometBFT, then format check, clippy (-D warnings), every test of
# the workspace (unit, integration, end-to-end against real cometbft, doc
# tests), the check that the test harness is not in the shipping binary,
# rustdoc with -D warnings, and the offline CUDA build check of the
# inference engine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

step() { printf '\n==> %s\n' "$*"; }

step "installing system packages and cometbft"
bash scripts/install-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the test harness stays out of the shipping binary"
if cargo tree -p comrade-cli -e features --locked | grep -q "comrade-test-utils"; then
    echo "error: comrade-test-utils is in the dependency tree of comrade-cli (it must be a dev-dependency only)" >&2
    cargo tree -p comrade-cli -e features --locked -i comrade-test-utils >&2 || true
    exit 1
fi
echo "ok: comrade-test-utils is not in comrade-cli's tree"

step "cargo doc --workspace --no-deps (-D warnings)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "npm ci: the cosmjs client the end-to-end tests drive (tests/cosmjs, pinned by its lockfile)"
(cd tests/cosmjs && npm ci --no-audit --no-fund)

step "cargo test --workspace (unit, integration, end-to-end, doc tests)"
cargo test --workspace --no-fail-fast --locked

step "cargo check -p comrade-inference --features cuda (offline CUDA build)"
cargo check -p comrade-inference --features cuda

echo
echo "all checks passed"
