#!/usr/bin/env bash
# Installs the pinned CometBFT release into $COMRADE_CACHE/bin (default
# $HOME/.cache/comrade/bin). Idempotent: does nothing when that binary already
# reports the pinned version. Needs Go (https://go.dev/dl/) on PATH.
set -euo pipefail

COMETBFT_VERSION="0.38.26"
COMRADE_CACHE="${COMRADE_CACHE:-$HOME/.cache/comrade}"
BIN_DIR="$COMRADE_CACHE/bin"
COMETBFT="$BIN_DIR/cometbft"

if [ -x "$COMETBFT" ]; then
    have="$("$COMETBFT" version 2>/dev/null || true)"
    if [ "$have" = "$COMETBFT_VERSION" ]; then
        echo "install-cometbft: $COMETBFT is already v$COMETBFT_VERSION, nothing to do"
        exit 0
    fi
    echo "install-cometbft: $COMETBFT reports version '${have:-unknown}', reinstalling v$COMETBFT_VERSION"
fi

if ! command -v go >/dev/null 2>&1; then
    echo "install-cometbft: error: 'go' is not on PATH." >&2
    echo "install-cometbft: install Go >= 1.22 (https://go.dev/dl/ or 'apt-get install golang-go')," >&2
    echo "install-cometbft: then run this script again." >&2
    exit 1
fi

mkdir -p "$BIN_DIR"
echo "install-cometbft: go install github.com/cometbft/cometbft/cmd/cometbft@v$COMETBFT_VERSION -> $BIN_DIR ($(go version))"
GOBIN="$BIN_DIR" go install "github.com/cometbft/cometbft/cmd/cometbft@v$COMETBFT_VERSION"

have="$("$COMETBFT" version)"
if [ "$have" != "$COMETBFT_VERSION" ]; then
    echo "install-cometbft: error: installed $COMETBFT reports '$have', expected $COMETBFT_VERSION" >&2
    exit 1
fi
echo "install-cometbft: installed $COMETBFT (v$have)"
echo "install-cometbft: add it to PATH with: export PATH=\"$BIN_DIR:\$PATH\" (localnet also finds it there by itself)"
