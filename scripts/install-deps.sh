#!/usr/bin/env bash
# Installs what building and testing Comrade needs: the system libraries the
# RocksDB binding links against (Debian/Ubuntu packages, via apt) and the
# pinned CometBFT binary (scripts/install-cometbft.sh). Idempotent.
#
# Build with the system RocksDB afterwards:
#   export ROCKSDB_LIB_DIR=/usr/lib/x86_64-linux-gnu SNAPPY_LIB_DIR=/usr/lib/x86_64-linux-gnu \
#          LZ4_LIB_DIR=/usr/lib/x86_64-linux-gnu ZSTD_LIB_DIR=/usr/lib/x86_64-linux-gnu
set -euo pipefail

PACKAGES=(librocksdb-dev libsnappy-dev liblz4-dev libzstd-dev libbz2-dev zlib1g-dev clang libclang-dev pkg-config)
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg -s "$p" >/dev/null 2>&1; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all apt packages present (${PACKAGES[*]})"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-deps: error: missing packages ${missing[*]} and apt-get is not available;" >&2
        echo "install-deps: install their equivalents with your package manager." >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    echo "install-deps: installing ${missing[*]}"
    echo "install-deps: apt-get update"
    $SUDO apt-get update
    echo "install-deps: apt-get install -y --no-install-recommends ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

echo "install-deps: running $SCRIPT_DIR/install-cometbft.sh"
"$SCRIPT_DIR/install-cometbft.sh"
