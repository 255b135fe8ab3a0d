//! Locating the `cometbft` and `comrade` binaries.

use std::path::{Path, PathBuf};

use crate::{LocalnetError, Result};

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `$COMRADE_CACHE`, default `$HOME/.cache/comrade` (as the install scripts use).
pub fn comrade_cache() -> PathBuf {
    if let Some(c) = std::env::var_os("COMRADE_CACHE").filter(|c| !c.is_empty()) {
        return PathBuf::from(c);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache").join("comrade")
}

/// Finds `cometbft`: `$COMETBFT_BIN`, then `PATH`, then
/// `$COMRADE_CACHE/bin/cometbft` (where `scripts/install-cometbft.sh` puts it).
pub fn find_cometbft() -> Result<PathBuf> {
    let mut searched = Vec::new();
    if let Some(p) = std::env::var_os("COMETBFT_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Ok(p);
        }
        searched.push(format!("$COMETBFT_BIN={}", p.display()));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("cometbft");
            if is_executable(&p) {
                return Ok(p);
            }
        }
        searched.push("$PATH".to_string());
    }
    let p = comrade_cache().join("bin").join("cometbft");
    if is_executable(&p) {
        return Ok(p);
    }
    searched.push(p.display().to_string());
    Err(LocalnetError::CometbftNotFound {
        searched: searched.join(", "),
    })
}

/// Finds CometBFT's `abci-cli` (for [`crate::AppKind::KvStoreSocket`]):
/// `$ABCI_CLI_BIN`, then next to `cometbft_bin`, then `PATH`.
/// `scripts/install-cometbft.sh` installs it beside `cometbft`.
pub fn find_abci_cli(cometbft_bin: &Path) -> Result<PathBuf> {
    let mut searched = Vec::new();
    if let Some(p) = std::env::var_os("ABCI_CLI_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Ok(p);
        }
        searched.push(format!("$ABCI_CLI_BIN={}", p.display()));
    }
    if let Some(dir) = cometbft_bin.parent() {
        let p = dir.join("abci-cli");
        if is_executable(&p) {
            return Ok(p);
        }
        searched.push(p.display().to_string());
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("abci-cli");
            if is_executable(&p) {
                return Ok(p);
            }
        }
        searched.push("$PATH".to_string());
    }
    Err(LocalnetError::AbciCliNotFound {
        searched: searched.join(", "),
    })
}

/// Finds the `comrade` binary: `$COMRADE_BIN`, then next to the current
/// executable (the CLI itself), then `<target>/debug/comrade` and
/// `<target>/release/comrade` inferred from a test executable at
/// `<target>/<profile>/deps/<test>-<hash>`, then `$CARGO_TARGET_DIR/debug/comrade`.
pub fn find_comrade_bin() -> Result<PathBuf> {
    let mut searched = Vec::new();
    if let Some(p) = std::env::var_os("COMRADE_BIN").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Ok(p);
        }
        searched.push(format!("$COMRADE_BIN={}", p.display()));
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        candidates.push(dir.join("comrade"));
        // <target>/<profile>/deps/<exe> → <target>/<profile>/comrade, <target>/debug/comrade
        if dir.file_name().is_some_and(|n| n == "deps")
            && let Some(profile_dir) = dir.parent()
        {
            candidates.push(profile_dir.join("comrade"));
            if let Some(target) = profile_dir.parent() {
                candidates.push(target.join("debug").join("comrade"));
                candidates.push(target.join("release").join("comrade"));
            }
        }
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR").filter(|t| !t.is_empty()) {
        candidates.push(PathBuf::from(t).join("debug").join("comrade"));
    }
    for c in candidates {
        if is_executable(&c) {
            return Ok(c);
        }
        searched.push(c.display().to_string());
    }
    Err(LocalnetError::ComradeNotFound {
        searched: searched.join(", "),
    })
}
