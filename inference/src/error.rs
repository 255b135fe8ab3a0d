//! Error type of the inference crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading or running a model.
///
/// Variants are stable: new ones may be added, existing ones are not renamed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InferenceError {
    /// A file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A file ended before the data its header announced.
    #[error(
        "truncated file {path}: {what} needs {needed} bytes at offset {offset}, file has {len}"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// What was being read.
        what: String,
        /// Offset of the read.
        offset: u64,
        /// Bytes needed.
        needed: u64,
        /// File length.
        len: u64,
    },
    /// The file is not in the expected format.
    #[error("malformed {format} file {path}: {reason}")]
    Malformed {
        /// Format name (gguf, safetensors, config.json, ...).
        format: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The model architecture is not supported.
    #[error("unknown model architecture {0:?}")]
    UnknownArchitecture(String),
    /// A tensor data type is not supported.
    #[error("unsupported dtype {dtype} for tensor {tensor}")]
    UnsupportedDtype {
        /// The dtype name or numeric id.
        dtype: String,
        /// The tensor name.
        tensor: String,
    },
    /// A required tensor is absent from the checkpoint.
    #[error("missing tensor {0}")]
    MissingTensor(String),
    /// A tensor has an unexpected shape.
    #[error("shape mismatch for tensor {tensor}: expected {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// The tensor name.
        tensor: String,
        /// The shape the model config implies.
        expected: Vec<usize>,
        /// The shape in the checkpoint.
        found: Vec<usize>,
    },
    /// A required config or metadata key is missing or has the wrong type.
    #[error("missing or invalid config key {0}")]
    MissingConfig(String),
    /// The tokenizer could not be built or failed.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),
    /// A request is invalid (empty prompt, too long, bad sampling parameters...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Fetching a model failed.
    #[error("fetching model failed: {0}")]
    Fetch(String),
    /// A tensor's data could not be read back to the host as f32 (a quantized Burn
    /// dtype, or a buffer Burn cannot reinterpret).
    #[error("cannot read {what} as f32: {reason}")]
    TensorData {
        /// Which tensor (`"logits"`, `"moe router logits"`, ...).
        what: String,
        /// Why the conversion failed.
        reason: String,
    },
    /// A tensor or buffer passed to a layer or kernel has a shape that does not fit it.
    #[error("{what}: expected shape {expected:?}, found {found:?}")]
    InputShape {
        /// Which input (`"quantized linear input"`, `"kv cache layers"`, ...).
        what: String,
        /// The shape the layer needs.
        expected: Vec<usize>,
        /// The shape it was given.
        found: Vec<usize>,
    },
}

/// Result alias for this crate.
pub type Result<T, E = InferenceError> = std::result::Result<T, E>;

impl InferenceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
