//! Errors of localnet orchestration.

use std::path::PathBuf;

/// Why a localnet operation failed. Each variant is one clear message.
#[derive(Debug, thiserror::Error)]
pub enum LocalnetError {
    /// The CometBFT binary was not found.
    #[error(
        "cometbft not found (looked in: {searched}); install the pinned version with \
         scripts/install-cometbft.sh (puts it in $COMRADE_CACHE/bin, default ~/.cache/comrade/bin)"
    )]
    CometbftNotFound {
        /// Where it was looked for.
        searched: String,
    },
    /// CometBFT's `abci-cli` was not found.
    #[error(
        "abci-cli not found (looked in: {searched}); install it with \
         scripts/install-cometbft.sh (it goes next to cometbft)"
    )]
    AbciCliNotFound {
        /// Where it was looked for.
        searched: String,
    },
    /// The `comrade` binary was not found.
    #[error(
        "comrade binary not found (looked in: {searched}); build it with \
         `cargo build -p comrade-cli` or set COMRADE_BIN to its path"
    )]
    ComradeNotFound {
        /// Where it was looked for.
        searched: String,
    },
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An external command failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status and output.
        detail: String,
    },
    /// A file has unexpected contents.
    #[error("{path}: {detail}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The configuration is invalid.
    #[error("invalid localnet config: {0}")]
    Config(String),
    /// The directory already holds a localnet.
    #[error(
        "{0} already holds a localnet; use it as is, or remove it with \
         `comrade localnet down --dir {0} --purge` first"
    )]
    AlreadyExists(PathBuf),
    /// Processes of the localnet in this directory are still running.
    #[error(
        "a localnet is already running in {dir} (pids {pids:?}); stop it with \
         `comrade localnet down --dir {dir}`"
    )]
    AlreadyRunning {
        /// The directory.
        dir: PathBuf,
        /// Live pids.
        pids: Vec<u32>,
    },
    /// No localnet in this directory.
    #[error("no localnet in {0} (no localnet.json); create one with `comrade localnet up`")]
    NotFound(PathBuf),
    /// A node index is out of range.
    #[error("no node {index}: the localnet has {count} nodes (0..{count})")]
    NoSuchNode {
        /// The index asked for.
        index: usize,
        /// Number of nodes.
        count: usize,
    },
    /// A process exited while it was expected to run.
    #[error("node{node} {process} exited unexpectedly ({status}); see {log}:\n{tail}")]
    ProcessExited {
        /// Node index.
        node: usize,
        /// `app` or `cometbft`.
        process: &'static str,
        /// Exit status.
        status: String,
        /// Its log file.
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    /// An RPC call failed.
    #[error("rpc to node{node} ({url}): {detail}")]
    Rpc {
        /// Node index.
        node: usize,
        /// Endpoint.
        url: String,
        /// The error.
        detail: String,
    },
    /// A query or transaction over RPC returned something unexpected.
    #[error("{0}")]
    Query(String),
    /// A bounded wait ran out.
    #[error("timed out after {secs:.1}s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// Seconds waited.
        secs: f64,
    },
}

impl LocalnetError {
    /// An [`LocalnetError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| LocalnetError::Io { path, source }
    }
}
