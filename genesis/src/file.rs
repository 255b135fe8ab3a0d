//! The CometBFT v0.38 `genesis.json` document, with Comrade's `app_state`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use comrade_app::genesis::{AppState, GenesisError, ValidatedGenesis};
use serde::{Deserialize, Serialize};

/// Longest chain id CometBFT accepts (`MaxChainIDLen`).
pub const MAX_CHAIN_ID_LEN: usize = 50;

/// CometBFT's largest block (`MaxBlockSizeBytes`, 100 MiB).
pub const MAX_BLOCK_BYTES: i64 = 104_857_600;

/// Integers that CometBFT's JSON encodes as decimal strings.
mod string_int {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize as _, Deserializer, Serializer};

    pub(super) fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub(super) fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse()
            .map_err(|e| serde::de::Error::custom(format!("invalid integer {s:?}: {e}")))
    }
}

/// A CometBFT genesis file (`<home>/config/genesis.json`).
///
/// Field names, order and encodings (64-bit integers as strings) follow
/// CometBFT v0.38's `GenesisDoc`, so CometBFT reads what this writes.
///
/// `validators` — CometBFT's own genesis validator list — is kept **empty**:
/// the validator set lives in `app_state.validators` and the app returns it
/// from `InitChain`, which CometBFT then adopts. [`GenesisFile::validate`]
/// rejects a non-empty list so there is only one source of truth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    /// Genesis time, RFC 3339 (e.g. `2026-11-24T00:00:00Z`).
    pub genesis_time: String,
    /// Chain id, 1–50 characters.
    pub chain_id: String,
    /// First block height; `1` (CometBFT treats `0` as `1`).
    #[serde(with = "string_int")]
    pub initial_height: i64,
    /// Consensus parameters.
    pub consensus_params: ConsensusParams,
    /// CometBFT's genesis validators; always empty here (see the type docs).
    #[serde(default)]
    pub validators: Vec<CometValidator>,
    /// Initial app hash, hex; empty.
    #[serde(default)]
    pub app_hash: String,
    /// Comrade's application state.
    pub app_state: AppState,
}

/// CometBFT's `ConsensusParams` as written in genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    /// Block limits.
    pub block: BlockParams,
    /// Evidence limits.
    pub evidence: EvidenceParams,
    /// Accepted validator key types.
    pub validator: ValidatorParams,
    /// Protocol versions.
    pub version: VersionParams,
    /// ABCI features.
    pub abci: AbciParams,
}

/// Block size and gas limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockParams {
    /// Maximum block size in bytes.
    #[serde(with = "string_int")]
    pub max_bytes: i64,
    /// Maximum gas per block; `-1` for unlimited.
    #[serde(with = "string_int")]
    pub max_gas: i64,
}

/// Evidence age and size limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceParams {
    /// Maximum evidence age in blocks.
    #[serde(with = "string_int")]
    pub max_age_num_blocks: i64,
    /// Maximum evidence age in nanoseconds.
    #[serde(with = "string_int")]
    pub max_age_duration: i64,
    /// Maximum total evidence size per block in bytes.
    #[serde(with = "string_int")]
    pub max_bytes: i64,
}

/// Validator key types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorParams {
    /// Accepted consensus key types; Comrade uses `["ed25519"]`.
    pub pub_key_types: Vec<String>,
}

/// The application protocol version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionParams {
    /// App version.
    #[serde(with = "string_int")]
    pub app: u64,
}

/// ABCI feature switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbciParams {
    /// First height whose precommits carry vote extensions; `0` disables
    /// them. Comrade needs them from height 1.
    #[serde(with = "string_int")]
    pub vote_extensions_enable_height: i64,
}

/// An entry of CometBFT's own genesis validator list (unused by Comrade).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CometValidator {
    /// Hex consensus address (optional in CometBFT).
    #[serde(default)]
    pub address: String,
    /// `{"type": "tendermint/PubKeyEd25519", "value": "<base64>"}`.
    pub pub_key: serde_json::Value,
    /// Voting power.
    #[serde(with = "string_int")]
    pub power: i64,
    /// Name.
    #[serde(default)]
    pub name: String,
}

impl Default for ConsensusParams {
    /// CometBFT's defaults except a 4 MiB block limit and vote extensions
    /// enabled from height 1.
    fn default() -> Self {
        ConsensusParams {
            block: BlockParams {
                max_bytes: 4_194_304,
                max_gas: -1,
            },
            evidence: EvidenceParams {
                max_age_num_blocks: 100_000,
                max_age_duration: 172_800_000_000_000,
                max_bytes: 1_048_576,
            },
            validator: ValidatorParams {
                pub_key_types: vec!["ed25519".to_string()],
            },
            version: VersionParams { app: 0 },
            abci: AbciParams {
                vote_extensions_enable_height: 1,
            },
        }
    }
}

/// Why a genesis file cannot be read, written or accepted.
#[derive(Debug, thiserror::Error)]
pub enum GenesisFileError {
    /// Filesystem error.
    #[error("{what} {path}: {source}")]
    Io {
        /// The operation.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a genesis document of this schema.
    #[error("{path} is not a valid genesis file: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// serde's message, with line and column.
        message: String,
    },
    /// The chain id is empty or too long.
    #[error("chain_id {0:?} must be 1-50 characters")]
    BadChainId(String),
    /// `initial_height` is not 0 or 1.
    #[error("initial_height {0} is not supported (must be 1)")]
    BadInitialHeight(i64),
    /// `genesis_time` is not RFC 3339.
    #[error("genesis_time {0:?} is not an RFC 3339 time (e.g. 2026-11-24T00:00:00Z)")]
    BadGenesisTime(String),
    /// Vote extensions are not enabled from the start.
    #[error(
        "consensus_params.abci.vote_extensions_enable_height is {0}: Comrade needs vote \
         extensions, set it to 1"
    )]
    VoteExtensionsDisabled(i64),
    /// Another consensus parameter is out of range.
    #[error("consensus_params: {0}")]
    BadConsensusParams(String),
    /// CometBFT's own validator list is not empty.
    #[error(
        "the top-level validators list has {0} entries but must be empty: the validator set \
         comes from app_state.validators (use `comrade genesis add-validator`)"
    )]
    CometValidatorsNotEmpty(usize),
    /// `app_hash` is not empty.
    #[error("app_hash must be empty, found {0:?}")]
    AppHashNotEmpty(String),
    /// The `app_state` is rejected by the app.
    #[error(transparent)]
    App(#[from] GenesisError),
}

impl GenesisFile {
    /// A genesis file with default consensus parameters, initial height 1,
    /// no CometBFT validators, an empty app hash and the given `app_state`.
    pub fn new(chain_id: &str, genesis_time: &str, app_state: AppState) -> Self {
        GenesisFile {
            genesis_time: genesis_time.to_string(),
            chain_id: chain_id.to_string(),
            initial_height: 1,
            consensus_params: ConsensusParams::default(),
            validators: Vec::new(),
            app_hash: String::new(),
            app_state,
        }
    }

    /// Parses a genesis document from JSON bytes; `path` is only used in
    /// error messages.
    pub fn from_json(bytes: &[u8], path: &Path) -> Result<Self, GenesisFileError> {
        serde_json::from_slice(bytes).map_err(|e| GenesisFileError::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Reads and parses a genesis file (does not validate it).
    pub fn load(path: &Path) -> Result<Self, GenesisFileError> {
        let bytes = fs::read(path).map_err(|source| GenesisFileError::Io {
            what: "cannot read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(&bytes, path)
    }

    /// The file as pretty-printed JSON (two-space indent, trailing newline),
    /// the way CometBFT writes it.
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self)
            .expect("plain structs with string keys always serialise");
        s.push('\n');
        s
    }

    /// Writes the file atomically: to a temporary file in the same directory,
    /// synced, then renamed over `path`. Creates the parent directory.
    pub fn save(&self, path: &Path) -> Result<(), GenesisFileError> {
        let io = |what: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| GenesisFileError::Io {
                what,
                path: p,
                source,
            }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&dir).map_err(io("cannot create directory", &dir))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "genesis.json".into());
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{file_name}.{}.{n}.tmp", std::process::id()));
        // Remove a stale temp file; `create_new` never follows a planted link.
        let _ = fs::remove_file(&tmp);
        let write = || -> Result<(), GenesisFileError> {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(io("cannot create", &tmp))?;
            f.write_all(self.to_json_pretty().as_bytes())
                .map_err(io("cannot write", &tmp))?;
            f.sync_all().map_err(io("cannot sync", &tmp))?;
            fs::rename(&tmp, path).map_err(io("cannot replace", path))
        };
        let result = write();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Checks the CometBFT part (chain id, initial height, genesis time,
    /// consensus parameters with vote extensions enabled, empty
    /// top-level validators and app hash) and then the app's own rules
    /// ([`AppState::validate`]), returning the first problem found.
    pub fn validate(&self) -> Result<ValidatedGenesis, GenesisFileError> {
        self.validate_consensus()?;
        Ok(self.app_state.validate()?)
    }

    /// The CometBFT-level checks of [`GenesisFile::validate`] only.
    pub fn validate_consensus(&self) -> Result<(), GenesisFileError> {
        if self.chain_id.trim().is_empty() || self.chain_id.len() > MAX_CHAIN_ID_LEN {
            return Err(GenesisFileError::BadChainId(self.chain_id.clone()));
        }
        if !(0..=1).contains(&self.initial_height) {
            return Err(GenesisFileError::BadInitialHeight(self.initial_height));
        }
        if tendermint::Time::parse_from_rfc3339(&self.genesis_time).is_err() {
            return Err(GenesisFileError::BadGenesisTime(self.genesis_time.clone()));
        }
        let cp = &self.consensus_params;
        if cp.abci.vote_extensions_enable_height < 1 {
            return Err(GenesisFileError::VoteExtensionsDisabled(
                cp.abci.vote_extensions_enable_height,
            ));
        }
        let bad = |m: String| Err(GenesisFileError::BadConsensusParams(m));
        if !(1..=MAX_BLOCK_BYTES).contains(&cp.block.max_bytes) {
            return bad(format!(
                "block.max_bytes {} must be between 1 and {MAX_BLOCK_BYTES}",
                cp.block.max_bytes
            ));
        }
        if cp.block.max_gas < -1 {
            return bad(format!(
                "block.max_gas {} must be -1 or more",
                cp.block.max_gas
            ));
        }
        let max_tx = self.app_state.params.max_tx_bytes;
        if i64::try_from(max_tx).map_or(true, |m| m > cp.block.max_bytes) {
            return bad(format!(
                "block.max_bytes {} is smaller than app_state.params.max_tx_bytes {max_tx}",
                cp.block.max_bytes
            ));
        }
        if cp.evidence.max_age_num_blocks <= 0 {
            return bad(format!(
                "evidence.max_age_num_blocks {} must be positive",
                cp.evidence.max_age_num_blocks
            ));
        }
        if cp.evidence.max_age_duration <= 0 {
            return bad(format!(
                "evidence.max_age_duration {} must be positive",
                cp.evidence.max_age_duration
            ));
        }
        if !(0..=cp.block.max_bytes).contains(&cp.evidence.max_bytes) {
            return bad(format!(
                "evidence.max_bytes {} must be between 0 and block.max_bytes {}",
                cp.evidence.max_bytes, cp.block.max_bytes
            ));
        }
        if !cp.validator.pub_key_types.iter().any(|t| t == "ed25519") {
            return bad(format!(
                "validator.pub_key_types {:?} must include \"ed25519\"",
                cp.validator.pub_key_types
            ));
        }
        if !self.validators.is_empty() {
            return Err(GenesisFileError::CometValidatorsNotEmpty(
                self.validators.len(),
            ));
        }
        if !self.app_hash.is_empty() {
            return Err(GenesisFileError::AppHashNotEmpty(self.app_hash.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `consensus_params` exactly as `cometbft init` v0.38.26 writes it.
    const COMETBFT_PARAMS: &str = r#"{
      "block": { "max_bytes": "22020096", "max_gas": "-1" },
      "evidence": {
        "max_age_num_blocks": "100000",
        "max_age_duration": "172800000000000",
        "max_bytes": "1048576"
      },
      "validator": { "pub_key_types": ["ed25519"] },
      "version": { "app": "0" },
      "abci": { "vote_extensions_enable_height": "0" }
    }"#;

    #[test]
    fn parses_cometbft_consensus_params_and_round_trips() {
        let p: ConsensusParams = serde_json::from_str(COMETBFT_PARAMS).unwrap();
        assert_eq!(p.block.max_bytes, 22_020_096);
        assert_eq!(p.abci.vote_extensions_enable_height, 0);
        let back = serde_json::to_value(&p).unwrap();
        let orig: serde_json::Value = serde_json::from_str(COMETBFT_PARAMS).unwrap();
        assert_eq!(back, orig);
    }

    #[test]
    fn default_params_use_strings_and_enable_vote_extensions() {
        let v = serde_json::to_value(ConsensusParams::default()).unwrap();
        assert_eq!(v["abci"]["vote_extensions_enable_height"], "1");
        assert_eq!(v["block"]["max_bytes"], "4194304");
        assert_eq!(v["block"]["max_gas"], "-1");
        assert_eq!(v["evidence"]["max_age_duration"], "172800000000000");
        assert_eq!(v["version"]["app"], "0");
    }

    #[test]
    fn rejects_numbers_where_cometbft_wants_strings() {
        let bad = COMETBFT_PARAMS.replace("\"22020096\"", "22020096");
        assert!(serde_json::from_str::<ConsensusParams>(&bad).is_err());
        let bad = COMETBFT_PARAMS.replace("\"-1\"", "\"minus one\"");
        let err = serde_json::from_str::<ConsensusParams>(&bad).unwrap_err();
        assert!(err.to_string().contains("invalid integer"), "{err}");
    }
}
