//! `comrade genesis …`: the command-line surface of this crate.
//!
//! The lead binary embeds [`GenesisCommand`] as a subcommand and calls
//! [`run`] with the node home directory.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use comrade_app::genesis::GenesisValidator;
use comrade_primitives::{Address, Amount, parse_amount};

use crate::builder::{
    self, DEFAULT_CROWDFUNDING_BPS, DEFAULT_DECIMALS, DEFAULT_DENOM, DEFAULT_FREE_ACCESS_POOL_BPS,
    DEFAULT_TOTAL_SUPPLY_TOKENS, DEFAULT_TREASURY_BPS, InitOptions, Source, format_display,
};
use crate::file::{GenesisFile, GenesisFileError};

/// Where the genesis file is.
#[derive(Debug, Clone, clap::Args)]
pub struct GenesisPath {
    /// Path of the genesis file [default: config/genesis.json in the home
    /// directory, where CometBFT looks for it].
    #[arg(long, value_name = "PATH")]
    pub genesis: Option<PathBuf>,
}

impl GenesisPath {
    /// The explicit path, or `<home>/config/genesis.json`.
    pub fn resolve(&self, home: &Path) -> PathBuf {
        self.genesis
            .clone()
            .unwrap_or_else(|| default_genesis_path(home))
    }
}

/// CometBFT's genesis location inside a node home: `<home>/config/genesis.json`.
pub fn default_genesis_path(home: &Path) -> PathBuf {
    home.join("config").join("genesis.json")
}

/// Create, edit and check the chain's CometBFT genesis file.
///
/// Typical flow: `comrade genesis init --chain-id comrade-1 --contributors
/// contributors.csv`, then `comrade genesis add-validator …` for each
/// validator, optionally `comrade genesis add-account …`, and finally
/// `comrade genesis validate`.
#[derive(Debug, clap::Subcommand)]
pub enum GenesisCommand {
    /// Write a new genesis file with the whitepaper's distribution.
    ///
    /// The total supply (default 1,000,000,000 COMRADE) is split into:
    /// the crowdfunding share (default 7%), credited unvested at genesis to
    /// the contributors of --contributors pro rata by weight; the treasury
    /// module account (default 10%); the free-access pool module account,
    /// which funds free inference (default 3%); and the rest to
    /// --reserve-address, or to the treasury when it is not given. Each share
    /// is rounded down and all rounding remainders go to the reserve, so the
    /// balances add up to the total supply exactly.
    ///
    /// Consensus parameters are CometBFT v0.38's with 4 MiB blocks and vote
    /// extensions enabled from height 1. The file has no validators yet: add
    /// them with `add-validator`. CometBFT's own top-level `validators` list
    /// stays empty; the app returns the validator set from `app_state` in
    /// InitChain.
    Init(InitArgs),
    /// Add a genesis account with a balance.
    ///
    /// By default the amount is newly minted: the total supply grows, and the
    /// crowdfunding contributors get the small top-up that keeps their
    /// allocation at exactly crowdfunding_bps of the new supply (printed).
    /// With --from, the amount is moved from an existing genesis balance
    /// instead and the supply is unchanged. An address that already has a
    /// balance is rejected.
    AddAccount(AddAccountArgs),
    /// Add a validator to the initial validator set (app_state.validators).
    AddValidator(AddValidatorArgs),
    /// Set the bridge section: the Wormhole guardian set the chain trusts
    /// (Wormhole's current mainnet set for a production chain), the
    /// lockbox program's emitter and COMRADE's mint. `init` writes
    /// development values (Wormhole's devnet set 0 and placeholder
    /// addresses); a real network must replace them before launch. The
    /// locked amount always equals the genesis supply.
    SetBridge(SetBridgeArgs),
    /// Check a genesis file: CometBFT fields and consensus parameters, then
    /// every app rule (addresses, duplicates, denom, supply, distribution,
    /// validators). Prints one line and exits non-zero when invalid.
    Validate(ValidateArgs),
    /// Print the genesis file, or a summary with --summary.
    Show(ShowArgs),
}

/// Arguments of `genesis init`.
#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// Chain id (1-50 characters), e.g. `comrade-1`.
    #[arg(long)]
    pub chain_id: String,
    /// Genesis time, RFC 3339 (e.g. 2026-12-01T00:00:00Z) [default: now].
    #[arg(long, value_name = "RFC3339")]
    pub genesis_time: Option<String>,
    /// Base denom: 3-32 lowercase letters or digits, starting with a letter.
    #[arg(long, default_value = DEFAULT_DENOM)]
    pub denom: String,
    /// Decimals of the display unit COMRADE (0-18). Set it to the Solana
    /// mint's decimals so one base unit here is one base unit there.
    #[arg(long, default_value_t = DEFAULT_DECIMALS)]
    pub decimals: u32,
    /// Total supply in whole COMRADE (multiplied by 10^decimals).
    #[arg(long, value_name = "COMRADE", default_value_t = DEFAULT_TOTAL_SUPPLY_TOKENS,
          conflicts_with = "total_supply_base_units")]
    pub total_supply: u128,
    /// Total supply in base units (instead of --total-supply).
    #[arg(long, value_name = "BASE_UNITS")]
    pub total_supply_base_units: Option<String>,
    /// Crowdfunding share of the supply in basis points (700 = 7%).
    #[arg(long, value_name = "BPS", default_value_t = DEFAULT_CROWDFUNDING_BPS)]
    pub crowdfunding_bps: u32,
    /// Treasury share of the supply in basis points (1000 = 10%).
    #[arg(long, value_name = "BPS", default_value_t = DEFAULT_TREASURY_BPS)]
    pub treasury_bps: u32,
    /// Free-access pool share of the supply in basis points (300 = 3%).
    #[arg(long, value_name = "BPS", default_value_t = DEFAULT_FREE_ACCESS_POOL_BPS)]
    pub free_access_pool_bps: u32,
    /// Crowdfunding contributors: CSV with `address,weight` lines (`#`
    /// comments and an `address,weight` header allowed) or JSON
    /// `[{"address": "comrade1…", "weight": "250"}]`. The crowdfunding share
    /// is split pro rata by weight; weights that add up to the share in base
    /// units are exact amounts. Required unless --crowdfunding-bps is 0.
    #[arg(long, value_name = "FILE")]
    pub contributors: Option<PathBuf>,
    /// Account receiving the supply left after the three shares (the
    /// foundation/team reserve) [default: the treasury].
    #[arg(long, value_name = "ADDRESS")]
    pub reserve_address: Option<String>,
    /// Overwrite an existing genesis file (e.g. the one `cometbft init`
    /// writes).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub path: GenesisPath,
}

/// Arguments of `genesis add-account`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddAccountArgs {
    /// The account's bech32 address (`comrade1…`).
    pub address: String,
    /// Balance in base units (1 COMRADE = 10^decimals base units).
    pub amount: String,
    /// Fund the account from an existing balance instead of minting:
    /// `treasury`, `free-access-pool` or an address with a genesis balance.
    #[arg(long, value_name = "SOURCE")]
    pub from: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub path: GenesisPath,
}

/// Arguments of `genesis add-validator`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddValidatorArgs {
    /// Validator name (moniker), unique in the set.
    #[arg(long)]
    pub name: String,
    /// Ed25519 consensus public key: base64 of the 32 bytes, or the path of a
    /// CometBFT `priv_validator_key.json` (its `pub_key.value` is used; the
    /// private key is not read into the genesis).
    #[arg(long, value_name = "BASE64|PATH")]
    pub pub_key: String,
    /// Voting power (positive).
    #[arg(long, default_value_t = 10)]
    pub power: i64,
    /// Account that receives this validator's share of fees (`comrade1…`).
    #[arg(long, value_name = "ADDRESS")]
    pub operator: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub path: GenesisPath,
}

/// Arguments of `genesis set-bridge`.
#[derive(Debug, Clone, clap::Args)]
pub struct SetBridgeArgs {
    /// Guardian set JSON: `{"index": N, "keys": ["0x<20-byte address>", …]}`.
    #[arg(long, value_name = "FILE")]
    pub guardian_set: PathBuf,
    /// The lockbox's Wormhole emitter (base58 Solana address or 0x-hex).
    #[arg(long)]
    pub lockbox_emitter: String,
    /// COMRADE's SPL mint (base58 or 0x-hex).
    #[arg(long)]
    pub mint: String,
    /// Wormhole chain id of the lockbox's chain (Solana = 1).
    #[arg(long, default_value_t = 1)]
    pub emitter_chain: u16,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub path: GenesisPath,
}

/// Arguments of `genesis validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub path: GenesisPath,
}

/// Output format of `genesis show --summary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// A JSON object.
    Json,
}

/// Arguments of `genesis show`.
#[derive(Debug, Clone, clap::Args)]
pub struct ShowArgs {
    /// Print a summary (chain id, supply, distribution, validators) instead
    /// of the whole file.
    #[arg(long)]
    pub summary: bool,
    /// Output format of --summary.
    #[arg(long, value_enum, default_value_t = Format::Text, requires = "summary")]
    pub format: Format,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub path: GenesisPath,
}

/// The current time as RFC 3339, the default genesis time.
// The CLI, not the state machine, picks the genesis time: reading the clock
// here is fine (the determinism firewall is for consensus code).
#[allow(clippy::disallowed_methods)]
fn now_rfc3339() -> anyhow::Result<String> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("system clock is before 1970")?;
    let secs = i64::try_from(since.as_secs()).context("system clock out of range")?;
    let t = tendermint::Time::from_unix_timestamp(secs, 0)
        .map_err(|e| anyhow::anyhow!("system clock out of range: {e}"))?;
    Ok(t.to_rfc3339())
}

fn parse_address(what: &str, s: &str) -> anyhow::Result<Address> {
    s.parse::<Address>()
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

fn parse_base_units(what: &str, s: &str) -> anyhow::Result<Amount> {
    parse_amount(s).map_err(|_| {
        anyhow::anyhow!("{what} {s:?} is not a whole number of base units below 2^128")
    })
}

/// Reads an Ed25519 public key given as base64 or as the path of a CometBFT
/// `priv_validator_key.json`; returns its base64.
pub fn resolve_pub_key(arg: &str) -> anyhow::Result<String> {
    let path = Path::new(arg);
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let key_type = v["pub_key"]["type"].as_str().unwrap_or_default();
        if key_type != "tendermint/PubKeyEd25519" {
            bail!(
                "{}: pub_key.type is {key_type:?}, expected \"tendermint/PubKeyEd25519\"",
                path.display()
            );
        }
        let Some(value) = v["pub_key"]["value"].as_str() else {
            bail!("{}: no pub_key.value", path.display());
        };
        return Ok(value.to_string());
    }
    match base64::engine::general_purpose::STANDARD.decode(arg) {
        Ok(bytes) if bytes.len() == 32 => Ok(arg.to_string()),
        Ok(bytes) => bail!("--pub-key decodes to {} bytes, expected 32", bytes.len()),
        Err(_) => {
            bail!("--pub-key {arg:?} is neither a file nor base64 of a 32-byte Ed25519 public key")
        }
    }
}

fn load(path: &Path) -> anyhow::Result<GenesisFile> {
    GenesisFile::load(path).map_err(|e| match e {
        GenesisFileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            anyhow::anyhow!(
                "no genesis file at {} (create one with `comrade genesis init`)",
                path.display()
            )
        }
        e => anyhow::anyhow!("{e}"),
    })
}

fn save(file: &GenesisFile, path: &Path) -> anyhow::Result<()> {
    file.save(path).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Runs a `genesis` subcommand; the genesis file defaults to
/// `<home>/config/genesis.json`. Errors are single-line messages.
pub fn run(cmd: GenesisCommand, home: &Path) -> anyhow::Result<()> {
    match cmd {
        GenesisCommand::Init(a) => run_init(a, home),
        GenesisCommand::AddAccount(a) => {
            let path = a.path.resolve(home);
            let file = load(&path)?;
            let address = parse_address("address", &a.address)?;
            let amount = parse_base_units("amount", &a.amount)?;
            let decimals = file.app_state.params.decimals;
            let denom = file.app_state.params.denom.clone();
            match a.from {
                None => {
                    let (out, o) = builder::add_account(&file, address, amount)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    save(&out, &path)?;
                    println!(
                        "added {address} with {amount} {denom} ({}); total supply now {} {denom}",
                        format_display(amount, decimals),
                        o.total_supply
                    );
                    if o.crowdfunding_top_up > 0 {
                        println!(
                            "minted {} {denom} more for crowdfunding contributors to keep them at \
                             {} bps of the supply",
                            o.crowdfunding_top_up, file.app_state.distribution.crowdfunding_bps
                        );
                    }
                }
                Some(from) => {
                    let source = match from.as_str() {
                        "treasury" => Source::Treasury,
                        "free-access-pool" | "free_access_pool" => Source::FreeAccessPool,
                        other => Source::Account(parse_address("--from", other)?),
                    };
                    let out = builder::add_account_from(&file, address, amount, source)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    save(&out, &path)?;
                    println!(
                        "added {address} with {amount} {denom} ({}) taken from {}",
                        format_display(amount, decimals),
                        source.address()
                    );
                }
            }
            Ok(())
        }
        GenesisCommand::AddValidator(a) => {
            let path = a.path.resolve(home);
            let file = load(&path)?;
            let pub_key = resolve_pub_key(&a.pub_key)?;
            let operator = parse_address("--operator", &a.operator)?;
            let out = builder::add_validator(
                &file,
                GenesisValidator {
                    name: a.name.clone(),
                    pub_key: pub_key.clone(),
                    power: a.power,
                    operator: operator.to_string(),
                },
            );
            let out = match out {
                Ok(out) => out,
                // Adding a validator cannot fix other problems of the file;
                // report them as such.
                Err(e) => bail!("cannot add validator {:?}: {e}", a.name),
            };
            save(&out, &path)?;
            println!(
                "added validator {:?} (pub_key {pub_key}, power {}, operator {operator}); {} \
                 validators",
                a.name,
                a.power,
                out.app_state.validators.len()
            );
            Ok(())
        }
        GenesisCommand::SetBridge(a) => {
            let path = a.path.resolve(home);
            let mut file = load(&path)?;
            let text = std::fs::read_to_string(&a.guardian_set)
                .with_context(|| format!("reading {}", a.guardian_set.display()))?;
            let set: comrade_app::genesis::GuardianSetFile = serde_json::from_str(&text)
                .with_context(|| {
                    format!(
                        "{}: expected {{\"index\": N, \"keys\": [\"0x…\", …]}}",
                        a.guardian_set.display()
                    )
                })?;
            let b = &mut file.app_state.bridge;
            b.guardian_set = set;
            b.lockbox_emitter = a.lockbox_emitter.clone();
            b.mint = a.mint.clone();
            b.emitter_chain = a.emitter_chain;
            if let Err(e) = builder::validate_allowing_no_validators(&file) {
                bail!("cannot set the bridge section: {e}");
            }
            save(&file, &path)?;
            let b = &file.app_state.bridge;
            println!(
                "bridge: guardian set {} ({} keys), lockbox emitter {} on chain {}, mint {}, locked {}",
                b.guardian_set.index,
                b.guardian_set.keys.len(),
                b.lockbox_emitter,
                b.emitter_chain,
                b.mint,
                b.locked
            );
            Ok(())
        }
        GenesisCommand::Validate(a) => {
            let path = a.path.resolve(home);
            let file = load(&path)?;
            match file.validate() {
                Ok(v) => {
                    println!(
                        "genesis {} is valid: chain-id {}, {} accounts, {} validators, supply {} \
                         {}",
                        path.display(),
                        file.chain_id,
                        v.balances.len(),
                        v.validators.len(),
                        v.total_supply,
                        v.params.denom
                    );
                    Ok(())
                }
                Err(e) => bail!("genesis {} is invalid: {e}", path.display()),
            }
        }
        GenesisCommand::Show(a) => {
            let path = a.path.resolve(home);
            let file = load(&path)?;
            if !a.summary {
                print!("{}", file.to_json_pretty());
                return Ok(());
            }
            let s = file.summary();
            if a.format == Format::Json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(());
            }
            let amount = |x: &str| match parse_amount(x) {
                Ok(v) => format!("{x} {} ({})", s.denom, format_display(v, s.decimals)),
                Err(_) => format!("{x:?} (invalid)"),
            };
            println!("genesis:       {}", path.display());
            println!("chain id:      {}", s.chain_id);
            println!("genesis time:  {}", s.genesis_time);
            println!("denom:         {} ({} decimals)", s.denom, s.decimals);
            println!("total supply:  {}", amount(&s.total_supply));
            println!("accounts:      {}", s.accounts);
            println!(
                "crowdfunding:  {} to {} contributors ({} bps)",
                amount(&s.crowdfunding_total),
                s.contributors,
                s.crowdfunding_bps
            );
            println!("treasury:      {}", amount(&s.treasury));
            println!("free access:   {}", amount(&s.free_access_pool));
            println!(
                "vote extensions from height {}",
                s.vote_extensions_enable_height
            );
            println!("validators:    {}", s.validators.len());
            for v in &s.validators {
                println!("  {}  power {}  operator {}", v.name, v.power, v.operator);
            }
            Ok(())
        }
    }
}

fn run_init(a: InitArgs, home: &Path) -> anyhow::Result<()> {
    let path = a.path.resolve(home);
    if path.exists() && !a.force {
        bail!(
            "genesis file {} already exists; pass --force to overwrite it",
            path.display()
        );
    }
    let total_supply = match &a.total_supply_base_units {
        Some(s) => parse_base_units("--total-supply-base-units", s)?,
        None => builder::tokens_to_base_units(a.total_supply, a.decimals).with_context(|| {
            format!(
                "--total-supply {} with {} decimals overflows 2^128 base units",
                a.total_supply, a.decimals
            )
        })?,
    };
    let contributors = match &a.contributors {
        Some(p) => crate::contributors::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => Vec::new(),
    };
    let reserve = a
        .reserve_address
        .as_deref()
        .map(|s| parse_address("--reserve-address", s))
        .transpose()?;
    let genesis_time = match a.genesis_time {
        Some(t) => t,
        None => now_rfc3339()?,
    };
    let opts = InitOptions {
        denom: a.denom,
        decimals: a.decimals,
        total_supply,
        crowdfunding_bps: a.crowdfunding_bps,
        treasury_bps: a.treasury_bps,
        free_access_pool_bps: a.free_access_pool_bps,
        contributors,
        reserve,
    };
    let file = builder::init(&a.chain_id, &genesis_time, &opts).map_err(|e| {
        if matches!(e, builder::BuildError::NoContributors { .. }) {
            anyhow::anyhow!("{e} (--contributors FILE or --crowdfunding-bps 0)")
        } else {
            anyhow::anyhow!("{e}")
        }
    })?;
    save(&file, &path)?;
    let s = file.summary();
    println!(
        "wrote {}: chain-id {}, supply {} {} ({}), {} crowdfunding contributors, {} accounts",
        path.display(),
        s.chain_id,
        s.total_supply,
        s.denom,
        format_display(total_supply, s.decimals),
        s.contributors,
        s.accounts
    );
    println!(
        "next: add validators with `comrade genesis add-validator`, then `comrade genesis validate`"
    );
    Ok(())
}
