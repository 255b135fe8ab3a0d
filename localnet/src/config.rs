//! Localnet configuration, node roles and port layout, and the edits made to
//! each node's CometBFT `config.toml`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{LocalnetError, Result};

/// Default number of validators.
pub const DEFAULT_VALIDATORS: usize = 4;
/// Default first port; node `i` uses `base_port + PORTS_PER_NODE * i ..`.
pub const DEFAULT_BASE_PORT: u16 = 26600;
/// Default chain id.
pub const DEFAULT_CHAIN_ID: &str = "comrade-localnet";
/// Ports reserved per node (see [`NodePorts`]).
pub const PORTS_PER_NODE: u16 = 10;
/// Most nodes a localnet may have.
pub(crate) const MAX_NODES: usize = 32;

/// Which ABCI application the validators run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AppKind {
    /// `comrade start` (the real app), vote extensions on from height 1.
    #[default]
    Comrade,
    /// CometBFT's built-in `kvstore` app (`proxy_app = "kvstore"`), no app
    /// process, no `app_state`, vote extensions off. For baseline benchmarks.
    KvStore,
    /// The same `kvstore` example app, but out of process: `abci-cli kvstore`
    /// (persisted in goleveldb) behind the ABCI socket, started next to each
    /// CometBFT the way comrade's app is. A baseline that pays the socket
    /// transport's cost like comrade does, so benchmarks can tell that cost
    /// apart from the app's own work. Needs `abci-cli` (see
    /// [`crate::find_abci_cli`]).
    KvStoreSocket,
}

impl AppKind {
    /// Whether an app process runs beside each CometBFT (on the ABCI socket).
    pub fn out_of_process(self) -> bool {
        !matches!(self, AppKind::KvStore)
    }

    /// Short name for output.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Comrade => "comrade",
            AppKind::KvStore => "kvstore",
            AppKind::KvStoreSocket => "kvstore-socket",
        }
    }
}

/// How fast the chain's compute epochs (capacity sprints) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ComputeSchedule {
    /// The design's localnet column: 300-block epochs, 10-block sprints,
    /// 20-block beacon periods.
    #[default]
    Standard,
    /// 40-block epochs, 6-block sprints, 10-block beacon periods: a sprint
    /// is proved, committed, opened and paid within about a minute, for
    /// end-to-end tests and demos.
    Fast,
}

/// The role of a node in the localnet.
///
/// **Extension point:** later issues add a compute node
/// (`comrade compute serve`) and a gateway (`comrade gateway serve`) to
/// `comrade localnet up`. Add a variant here, give it ports in [`NodePorts`],
/// spawn it in `Localnet::start_node` (see `net.rs`, the `match` on the role there) and
/// record its pid in [`crate::PidFile`]; `down`/`status`/`logs` then work for it
/// unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// A validator: `comrade start` + `cometbft node`.
    Validator,
}

/// Configuration of a localnet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalnetConfig {
    /// Directory holding everything (see the crate docs for the layout).
    pub dir: PathBuf,
    /// Number of validators (1..=32).
    pub validators: usize,
    /// Chain id.
    pub chain_id: String,
    /// First port; node `i` gets `base_port + 10 * i + {0: p2p, 1: rpc, 2: abci, 3: pprof}`.
    /// Keep the range below 32768 (Linux's ephemeral ports start there), or
    /// outgoing connections may occupy a node's port before it listens.
    pub base_port: u16,
    /// The `comrade` binary (ignored for [`AppKind::KvStore`]).
    pub comrade_bin: PathBuf,
    /// The `cometbft` binary (v0.38).
    pub cometbft_bin: PathBuf,
    /// Which app the validators run.
    #[serde(default)]
    pub app: AppKind,
    /// Accounts funded at genesis besides the faucet
    /// ([`crate::funded_account_key`] `1..=funded_accounts`), for load tests.
    pub funded_accounts: u64,
    /// CometBFT `timeout_commit` (e.g. `"500ms"`).
    pub timeout_commit: String,
    /// CometBFT `log_level`.
    pub log_level: String,
    /// Compute epochs: the design's or a fast one for tests.
    #[serde(default)]
    pub compute_schedule: ComputeSchedule,
}

impl LocalnetConfig {
    /// A config with the defaults: 4 validators, chain `comrade-localnet`,
    /// base port 26600, 256 funded accounts, 500 ms blocks.
    pub fn new(dir: impl Into<PathBuf>, comrade_bin: PathBuf, cometbft_bin: PathBuf) -> Self {
        LocalnetConfig {
            dir: dir.into(),
            validators: DEFAULT_VALIDATORS,
            chain_id: DEFAULT_CHAIN_ID.to_string(),
            base_port: DEFAULT_BASE_PORT,
            comrade_bin,
            cometbft_bin,
            app: AppKind::Comrade,
            funded_accounts: 256,
            timeout_commit: "500ms".to_string(),
            log_level: "info".to_string(),
            compute_schedule: ComputeSchedule::Standard,
        }
    }

    /// Checks ranges and that all ports fit below 65536.
    pub fn validate(&self) -> Result<()> {
        if self.validators == 0 || self.validators > MAX_NODES {
            return Err(LocalnetError::Config(format!(
                "validators must be 1..={MAX_NODES}, got {}",
                self.validators
            )));
        }
        if self.chain_id.is_empty() || self.chain_id.len() > 50 {
            return Err(LocalnetError::Config(format!(
                "chain id {:?} must be 1-50 characters",
                self.chain_id
            )));
        }
        let span = u32::try_from(self.validators)
            .unwrap_or(u32::MAX)
            .saturating_mul(u32::from(PORTS_PER_NODE));
        if self.base_port < 1024 || u32::from(self.base_port).saturating_add(span) > 65_535 {
            return Err(LocalnetError::Config(format!(
                "base port {} with {} nodes does not fit in 1024..65535",
                self.base_port, self.validators
            )));
        }
        Ok(())
    }

    /// The ports of node `i`.
    pub fn ports(&self, i: usize) -> NodePorts {
        NodePorts::for_node(self.base_port, i)
    }
}

/// The ports of one node, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodePorts {
    /// CometBFT p2p.
    pub p2p: u16,
    /// CometBFT RPC.
    pub rpc: u16,
    /// The app's ABCI socket.
    pub abci: u16,
    /// CometBFT pprof.
    pub pprof: u16,
}

impl NodePorts {
    /// Ports of node `i` from `base`: `base + 10 i + {0, 1, 2, 3}`
    /// (offsets 4..9 are reserved for later roles).
    pub fn for_node(base: u16, i: usize) -> Self {
        let first = u16::try_from(i)
            .ok()
            .and_then(|i| i.checked_mul(PORTS_PER_NODE))
            .and_then(|o| base.checked_add(o))
            .unwrap_or(u16::MAX.saturating_sub(PORTS_PER_NODE));
        NodePorts {
            p2p: first,
            rpc: first.saturating_add(1),
            abci: first.saturating_add(2),
            pprof: first.saturating_add(3),
        }
    }

    /// `http://127.0.0.1:<rpc>`.
    pub fn rpc_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.rpc)
    }
}

/// Sets `key = value` (value is a TOML literal, e.g. `"\"500ms\""` or `true`)
/// in `[section]` of a CometBFT `config.toml` (`""` = the top-level table).
/// The key must already exist in that section (CometBFT writes all of them).
///
/// The edit goes through `toml_edit`, so everything else in the file (the
/// comments CometBFT writes above each key, blank lines, the order of keys)
/// is kept as it was; the edited value keeps its surrounding whitespace and
/// any trailing comment on its line.
pub(crate) fn set_toml(content: &str, section: &str, key: &str, value: &str) -> Result<String> {
    let mut doc: toml_edit::DocumentMut = content
        .parse()
        .map_err(|e| LocalnetError::Config(format!("config.toml is not valid TOML: {e}")))?;
    let mut new: toml_edit::Value = value
        .parse()
        .map_err(|e| LocalnetError::Config(format!("{value:?} is not a TOML value: {e}")))?;
    let missing = || {
        LocalnetError::Config(format!(
            "config.toml has no key {key:?} in section [{section}] (not a CometBFT v0.38 config?)"
        ))
    };
    let table = if section.is_empty() {
        doc.as_table_mut()
    } else {
        doc.get_mut(section)
            .and_then(toml_edit::Item::as_table_mut)
            .ok_or_else(missing)?
    };
    // Only a plain value counts: `rpc` at the top level is a table, and
    // replacing it would drop the whole section.
    let old = table
        .get_mut(key)
        .and_then(toml_edit::Item::as_value_mut)
        .ok_or_else(missing)?;
    *new.decor_mut() = old.decor().clone();
    *old = new;
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_toml_is_section_aware() {
        let c = "proxy_app = \"x\"\n[rpc]\nladdr = \"a\"\n[p2p]\nladdr = \"b\"\n";
        let c = set_toml(c, "p2p", "laddr", "\"c\"").unwrap();
        assert_eq!(
            c,
            "proxy_app = \"x\"\n[rpc]\nladdr = \"a\"\n[p2p]\nladdr = \"c\"\n"
        );
        let c = set_toml(&c, "", "proxy_app", "\"y\"").unwrap();
        assert!(c.starts_with("proxy_app = \"y\"\n"));
        assert!(set_toml(&c, "rpc", "nope", "1").is_err());
    }

    /// Each edit lands in its own table and nowhere else: a key of the same
    /// name in another table stays as it was, and a key that exists only in
    /// another table (or a table's name used as a key) is an error rather
    /// than written where it does not belong.
    #[test]
    fn set_toml_writes_only_to_the_named_table() {
        let c = "moniker = \"m\"\n[rpc]\nladdr = \"a\"\n[p2p]\nladdr = \"b\"\npex = true\n";
        let out = set_toml(c, "rpc", "laddr", "\"r\"").unwrap();
        let doc: toml_edit::DocumentMut = out.parse().unwrap();
        assert_eq!(doc["rpc"]["laddr"].as_str(), Some("r"));
        assert_eq!(doc["p2p"]["laddr"].as_str(), Some("b"));
        assert!(doc.get("laddr").is_none(), "nothing added at the top level");

        let out = set_toml(&out, "", "moniker", "\"n\"").unwrap();
        let doc: toml_edit::DocumentMut = out.parse().unwrap();
        assert_eq!(doc["moniker"].as_str(), Some("n"));
        assert!(doc["rpc"].get("moniker").is_none());
        assert!(doc["p2p"].get("moniker").is_none());

        // `pex` is a p2p key, `laddr` exists only in sections, `rpc` is a table.
        assert!(set_toml(&out, "rpc", "pex", "false").is_err());
        assert!(set_toml(&out, "", "laddr", "\"x\"").is_err());
        assert!(set_toml(&out, "", "rpc", "1").is_err());
        assert!(set_toml(&out, "mempool", "size", "1").is_err());
        assert!(set_toml(&out, "moniker", "x", "1").is_err());
    }

    /// CometBFT's comments, blank lines and key order survive an edit; only
    /// the edited value changes (its trailing comment included).
    #[test]
    fn set_toml_preserves_comments_and_layout() {
        let c = "# top comment\n\
                 proxy_app = \"tcp://127.0.0.1:26658\"\n\
                 \n\
                 #######################################################\n\
                 ###       P2P Configuration Options                 ###\n\
                 #######################################################\n\
                 [p2p]\n\
                 \n\
                 # Address to listen for incoming connections\n\
                 laddr = \"tcp://0.0.0.0:26656\"\n\
                 send_rate = 5120000 # bytes per second\n";
        let out = set_toml(c, "p2p", "send_rate", "20480000").unwrap();
        assert_eq!(
            out,
            c.replace("send_rate = 5120000 #", "send_rate = 20480000 #")
        );
        let out = set_toml(&out, "", "proxy_app", "\"kvstore\"").unwrap();
        assert_eq!(
            out,
            c.replace("send_rate = 5120000 #", "send_rate = 20480000 #")
                .replace("\"tcp://127.0.0.1:26658\"", "\"kvstore\"")
        );
        assert!(set_toml(&out, "p2p", "laddr", "not toml").is_err());
    }

    #[test]
    fn ports_are_distinct() {
        let a = NodePorts::for_node(26600, 0);
        let b = NodePorts::for_node(26600, 1);
        assert_eq!(
            (a.p2p, a.rpc, a.abci, a.pprof),
            (26600, 26601, 26602, 26603)
        );
        assert_eq!(b.p2p, 26610);
    }
}
