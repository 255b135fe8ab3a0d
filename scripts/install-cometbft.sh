#!/usr/bin/env bash
# Installs the pinned CometBFT release into $COMRADE_CACHE/bin (default
# $HOME/.cache/comrade/bin): `cometbft`, and `abci-cli` from the same release
# (its `kvstore` example app is the out-of-process baseline of
# `comrade-loadgen --kvstore-socket`). Idempotent: skips each binary that is
# already there at the pinned version. Needs Go (https://go.dev/dl/) on PATH.
set -euo pipefail

COMETBFT_VERSION="0.38.26"
COMRADE_CACHE="${COMRADE_CACHE:-$HOME/.cache/comrade}"
BIN_DIR="$COMRADE_CACHE/bin"
COMETBFT="$BIN_DIR/cometbft"
ABCI_CLI="$BIN_DIR/abci-cli"
# abci-cli reports the ABCI version, not the release: a marker records it.
ABCI_CLI_MARK="$BIN_DIR/abci-cli.release"

need_go() {
    if ! command -v go >/dev/null 2>&1; then
        echo "install-cometbft: error: 'go' is not on PATH." >&2
        echo "install-cometbft: install Go >= 1.22 (https://go.dev/dl/ or 'apt-get install golang-go')," >&2
        echo "install-cometbft: then run this script again." >&2
        exit 1
    fi
}

mkdir -p "$BIN_DIR"

have=""
if [ -x "$COMETBFT" ]; then
    have="$("$COMETBFT" version 2>/dev/null || true)"
fi
if [ "$have" = "$COMETBFT_VERSION" ]; then
    echo "install-cometbft: $COMETBFT is already v$COMETBFT_VERSION, nothing to do"
else
    [ -n "$have" ] && echo "install-cometbft: $COMETBFT reports version '$have', reinstalling v$COMETBFT_VERSION"
    need_go
    echo "install-cometbft: go install github.com/cometbft/cometbft/cmd/cometbft@v$COMETBFT_VERSION -> $BIN_DIR ($(go version))"
    GOBIN="$BIN_DIR" go install "github.com/cometbft/cometbft/cmd/cometbft@v$COMETBFT_VERSION"
    have="$("$COMETBFT" version)"
    if [ "$have" != "$COMETBFT_VERSION" ]; then
        echo "install-cometbft: error: installed $COMETBFT reports '$have', expected $COMETBFT_VERSION" >&2
        exit 1
    fi
    echo "install-cometbft: installed $COMETBFT (v$have)"
fi

if [ -x "$ABCI_CLI" ] && [ "$(cat "$ABCI_CLI_MARK" 2>/dev/null || true)" = "$COMETBFT_VERSION" ]; then
    echo "install-cometbft: $ABCI_CLI is already from v$COMETBFT_VERSION, nothing to do"
else
    need_go
    echo "install-cometbft: go install github.com/cometbft/cometbft/abci/cmd/abci-cli@v$COMETBFT_VERSION -> $BIN_DIR"
    GOBIN="$BIN_DIR" go install "github.com/cometbft/cometbft/abci/cmd/abci-cli@v$COMETBFT_VERSION"
    "$ABCI_CLI" version >/dev/null
    echo "$COMETBFT_VERSION" >"$ABCI_CLI_MARK"
    echo "install-cometbft: installed $ABCI_CLI (from v$COMETBFT_VERSION)"
fi
echo "install-cometbft: add them to PATH with: export PATH=\"$BIN_DIR:\$PATH\" (localnet also finds them there by itself)"
