//! Locating the `cometbft` and `comrade` binaries.

use std::path::{Path, PathBuf};

use crate::{LocalnetError, Result};

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `$COMRADE_CACHE`, default `$HOME/.cache/comrade` (as the install scripts use).
pub(crate) fn comrade_cache() -> PathBuf {
    if let Some(c) = std::env::var_os("COMRADE_CACHE").filter(|c| !c.is_empty()) {
        return PathBuf::from(c);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"));
    home.join(".cache").join("comrade")
}

/// Looks for the executable `name`: `$<env>` first, then in the directories
/// of `before_path`, then on `PATH`, then in `after_path`. On failure returns
/// the places searched, for the error message.
fn find_executable(
    name: &str,
    env: &str,
    before_path: &[PathBuf],
    after_path: &[PathBuf],
) -> std::result::Result<PathBuf, String> {
    let mut searched = Vec::new();
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if is_executable(&p) {
            return Ok(p);
        }
        searched.push(format!("${env}={}", p.display()));
    }
    let try_dirs = |dirs: &[PathBuf], searched: &mut Vec<String>| {
        for dir in dirs {
            let p = dir.join(name);
            if is_executable(&p) {
                return Some(p);
            }
            searched.push(p.display().to_string());
        }
        None
    };
    if let Some(p) = try_dirs(before_path, &mut searched) {
        return Ok(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        let mut on_path = Vec::new();
        if let Some(p) = try_dirs(&dirs, &mut on_path) {
            return Ok(p);
        }
        searched.push("$PATH".to_string());
    }
    if let Some(p) = try_dirs(after_path, &mut searched) {
        return Ok(p);
    }
    Err(searched.join(", "))
}

/// Finds `cometbft`: `$COMETBFT_BIN`, then `PATH`, then
/// `$COMRADE_CACHE/bin/cometbft` (where `scripts/install-cometbft.sh` puts it).
pub fn find_cometbft() -> Result<PathBuf> {
    find_executable(
        "cometbft",
        "COMETBFT_BIN",
        &[],
        &[comrade_cache().join("bin")],
    )
    .map_err(|searched| LocalnetError::CometbftNotFound { searched })
}

/// Finds CometBFT's `abci-cli` (for [`crate::AppKind::KvStoreSocket`]):
/// `$ABCI_CLI_BIN`, then next to `cometbft_bin`, then `PATH`.
/// `scripts/install-cometbft.sh` installs it beside `cometbft`.
pub fn find_abci_cli(cometbft_bin: &Path) -> Result<PathBuf> {
    let beside: Vec<PathBuf> = cometbft_bin
        .parent()
        .map(Path::to_path_buf)
        .into_iter()
        .collect();
    find_executable("abci-cli", "ABCI_CLI_BIN", &beside, &[])
        .map_err(|searched| LocalnetError::AbciCliNotFound { searched })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn executable(dir: &Path, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt as _;
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn find_executable_searches_in_order_and_reports_where() {
        const UNSET: &str = "COMRADE_TEST_NEVER_SET_BIN";
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let name = "comrade-find-test-tool";
        let dirs = [a.path().to_path_buf(), b.path().to_path_buf()];

        let err = find_executable(name, UNSET, &dirs[..1], &dirs[1..]).unwrap_err();
        assert!(
            err.contains(&a.path().join(name).display().to_string()),
            "{err}"
        );
        assert!(err.contains("$PATH"), "{err}");
        assert!(
            err.contains(&b.path().join(name).display().to_string()),
            "{err}"
        );

        // A plain file is not an executable.
        std::fs::write(b.path().join(name), "data").unwrap();
        assert!(find_executable(name, UNSET, &[], &dirs[1..]).is_err());

        let in_b = executable(b.path(), name);
        assert_eq!(find_executable(name, UNSET, &[], &dirs[1..]).unwrap(), in_b);
        let in_a = executable(a.path(), name);
        assert_eq!(
            find_executable(name, UNSET, &dirs[..1], &dirs[1..]).unwrap(),
            in_a,
            "before_path wins over after_path"
        );
    }
}
