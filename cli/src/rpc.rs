//! Commands that talk to a node over CometBFT RPC: `tx`, `query`, `status`.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use comrade_app::client::{SignOptions, address_of, msg_send, pack, sign_tx};
use comrade_consensus::{
    compute::{MsgRegisterComputeNode, MsgUnbondComputeNode, MsgUpdateComputeNode},
    staking::{MsgBond, MsgCreateValidator, MsgUnbond, MsgUnjail},
};
use comrade_primitives::{
    Address,
    component::ActionHandler as _,
    parse_amount,
    proto::{
        app::v1 as app_pb, auth::v1 as auth_pb, bank::v1 as bank_pb, compute::v1 as compute_pb,
        staking::v1 as staking_pb,
    },
};
use cosmrs::Any;
use prost::Message;
use tendermint_rpc::{Client, HttpClient};

use crate::keyring::Keyring;

/// `comrade tx …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum TxCommand {
    /// Bank transactions.
    #[command(subcommand)]
    Bank(BankTx),
    /// Validator staking transactions.
    #[command(subcommand)]
    Staking(StakingTx),
    /// Compute-node transactions.
    #[command(subcommand)]
    Compute(ComputeTx),
    /// Bridge transactions (relay VAAs from Solana).
    #[command(subcommand)]
    Bridge(crate::bridge::BridgeTx),
}

/// A compute node's self-description (`tx compute register|update`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct NodeArgs {
    /// Public URL of the node's OpenAI-compatible server.
    #[arg(long)]
    endpoint: String,
    /// Region, e.g. `eu-west`.
    #[arg(long, default_value = "local")]
    region: String,
    /// A model served (repeat for several).
    #[arg(long = "model", required = true)]
    models: Vec<String>,
    /// Accelerator kind (`cpu`, `h100`, …).
    #[arg(long, default_value = "cpu")]
    accelerator: String,
    /// Number of accelerators.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Accelerator memory in GiB (total).
    #[arg(long, default_value_t = 0)]
    memory_gib: u32,
    /// Claimed int8 TOPS (total); the stake must cover it.
    #[arg(long, default_value_t = 0)]
    int8_tops: u64,
    /// Claimed bf16 TFLOPS (total).
    #[arg(long, default_value_t = 0)]
    bf16_tflops: u64,
}

impl NodeArgs {
    fn hardware(&self) -> compute_pb::HardwareClaim {
        compute_pb::HardwareClaim {
            accelerator: self.accelerator.clone(),
            count: self.count,
            memory_gib: self.memory_gib,
            int8_tops: self.int8_tops,
            bf16_tflops: self.bf16_tflops,
        }
    }
}

/// `comrade tx compute …` (the signing key is the node's operator).
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ComputeTx {
    /// Register a compute node with a stake that covers its claim
    /// (`stake ≥ max(min_stake, stake_per_int8_tops × int8 TOPS)`).
    ///
    /// A fresh beacon key chain is made; its secret seed is written to
    /// `<home>/compute/keychain-<operator>.json`, from which the node's
    /// worker reveals one link per beacon period. Keep that file.
    Register {
        /// Operator key name.
        from: String,
        /// Stake in base units.
        stake: String,
        #[command(flatten)]
        node: NodeArgs,
        /// Links in the beacon key chain (one per beacon period).
        #[arg(long, default_value_t = 100_000)]
        keychain_len: u32,
        #[command(flatten)]
        opts: TxOptions,
    },
    /// Replace the node's endpoint, region, models and claim; add stake.
    Update {
        /// Operator key name.
        from: String,
        #[command(flatten)]
        node: NodeArgs,
        /// Stake to add, base units.
        #[arg(long, default_value = "0")]
        add_stake: String,
        #[command(flatten)]
        opts: TxOptions,
    },
    /// Stop serving and unbond the whole stake (paid after the unbonding
    /// period; slashable until then).
    Unbond {
        /// Operator key name.
        from: String,
        #[command(flatten)]
        opts: TxOptions,
    },
}

/// Options every tx takes.
#[derive(Debug, clap::Args)]
pub(crate) struct TxOptions {
    /// Fee in base units (default: the minimum for this tx).
    #[arg(long)]
    fee: Option<String>,
    /// Memo attached to the tx.
    #[arg(long, default_value = "")]
    memo: String,
    /// Return after CheckTx instead of waiting until the tx is in a block.
    #[arg(long)]
    no_wait: bool,
}

/// `comrade tx staking …` (the signing key is the validator's operator).
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StakingTx {
    /// Create a validator bonded with a self-stake; it joins the validator
    /// set at the end of the epoch.
    ///
    /// The consensus key is CometBFT's Ed25519 validator key: give it with
    /// `--pubkey <base64>` or read it from `--cometbft-home <dir>`
    /// (`config/priv_validator_key.json`).
    CreateValidator {
        /// Operator key name in the keyring.
        from: String,
        /// Self-stake in base units (`5000000` or `5000000ucomrade`).
        self_stake: String,
        /// Validator name.
        #[arg(long)]
        moniker: String,
        /// Commission in basis points.
        #[arg(long, default_value_t = 0)]
        commission_bps: u32,
        /// Ed25519 consensus public key, base64.
        #[arg(long, conflicts_with = "cometbft_home")]
        pubkey: Option<String>,
        /// CometBFT home whose `config/priv_validator_key.json` holds the key.
        #[arg(long)]
        cometbft_home: Option<std::path::PathBuf>,
        #[command(flatten)]
        opts: TxOptions,
    },
    /// Bond more of the operator's tokens to its validator.
    Bond {
        /// Operator key name.
        from: String,
        /// Amount in base units.
        amount: String,
        #[command(flatten)]
        opts: TxOptions,
    },
    /// Start unbonding; paid out after the unbonding period.
    Unbond {
        /// Operator key name.
        from: String,
        /// Amount in base units.
        amount: String,
        #[command(flatten)]
        opts: TxOptions,
    },
    /// Return a jailed validator to the set once its jail time is over.
    Unjail {
        /// Operator key name.
        from: String,
        #[command(flatten)]
        opts: TxOptions,
    },
}

/// `comrade tx bank …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BankTx {
    /// Send native tokens: `comrade tx bank send <from-key> <to-address> <amount>`.
    ///
    /// The amount is in base units, optionally suffixed with the native denom
    /// (`1500000` or `1500000ucomrade`). The fee defaults to the chain's
    /// minimum for the tx's size. The passphrase of the key comes from
    /// $COMRADE_KEYRING_PASSPHRASE or a prompt.
    Send {
        /// Name of the sending key in the keyring.
        from: String,
        /// Recipient address (`comrade1…`).
        to: String,
        /// Amount in base units, e.g. `1000` or `1000ucomrade`.
        amount: String,
        /// Fee in base units (default: the minimum for this tx).
        #[arg(long)]
        fee: Option<String>,
        /// Memo attached to the tx.
        #[arg(long, default_value = "")]
        memo: String,
        /// Return after CheckTx instead of waiting until the tx is in a block.
        #[arg(long)]
        no_wait: bool,
    },
}

/// `comrade query …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum QueryCommand {
    /// Bank queries.
    #[command(subcommand)]
    Bank(BankQuery),
    /// An account's number, sequence and public key.
    Account {
        /// Address (`comrade1…`).
        address: String,
    },
    /// A committed tx by hash (hex), with its result code and events.
    Tx {
        /// Tx hash (hex, as printed by `tx bank send`).
        hash: String,
    },
    /// Chain parameters.
    Params,
    /// Staking queries.
    #[command(subcommand)]
    Staking(StakingQuery),
    /// Compute-node queries.
    #[command(subcommand)]
    Compute(ComputeQuery),
    /// Proof-of-compute rewards and penalties of an account, with reasons.
    #[command(subcommand)]
    Consensus(crate::explain::ConsensusQuery),
    /// Bridge queries: guardian sets, the locked total, deposits.
    #[command(subcommand)]
    Bridge(crate::bridge::BridgeQuery),
}

/// `comrade query compute …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ComputeQuery {
    /// Every compute node with its status, stake, verified capacity and
    /// routing weight.
    Nodes,
    /// One node by operator address.
    Node {
        /// Operator address.
        operator: String,
    },
    /// An epoch's capacity sprint (and a node's commitment in it).
    Sprint {
        /// Epoch.
        epoch: u64,
        /// A node operator whose commitment to show.
        #[arg(long)]
        operator: Option<String>,
    },
    /// A beacon period's value.
    Beacon {
        /// Period.
        period: u64,
    },
    /// The receipt batches committed in a beacon period and the audits of
    /// the receipts its beacon selected: auditors, reports, the median and
    /// the verdict with its reason.
    Audits {
        /// Beacon period of the batches.
        period: u64,
        /// Only this executor's.
        #[arg(long)]
        executor: Option<String>,
    },
    /// Compute parameters.
    Params,
}

/// `comrade query staking …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum StakingQuery {
    /// Every validator: stake, set power, jail status, missed blocks.
    Validators,
    /// One validator by its operator address.
    Validator {
        /// Operator address (`comrade1…`).
        operator: String,
    },
    /// Staking parameters.
    Params,
}

/// `comrade query bank …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BankQuery {
    /// Native-denom balance of an address.
    Balance {
        /// Address (`comrade1…`).
        address: String,
    },
    /// Total supply.
    Supply,
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start runtime")
}

/// Turns an RPC error into one line (tendermint-rpc's own Display carries a
/// backtrace).
pub(crate) fn unreachable(node: &str, e: tendermint_rpc::Error) -> anyhow::Error {
    anyhow::anyhow!("cannot reach node {node}: {}", e.detail())
}

pub(crate) fn client(node: &str) -> Result<HttpClient> {
    HttpClient::new(node)
        .map_err(|e| anyhow::anyhow!("invalid node address {node:?}: {}", e.detail()))
}

pub(crate) async fn abci_query<M: Message + Default>(
    c: &HttpClient,
    node: &str,
    path: &str,
    data: Vec<u8>,
) -> Result<M> {
    let r = c
        .abci_query(Some(path.to_string()), data, None, false)
        .await
        .map_err(|e| unreachable(node, e))?;
    if r.code.is_err() {
        bail!("query {path} failed (code {}): {}", r.code.value(), r.log);
    }
    M::decode(r.value.as_slice()).with_context(|| format!("undecodable answer to {path}"))
}

pub(crate) fn parse_address(s: &str) -> Result<Address> {
    s.parse()
        .map_err(|e: comrade_primitives::AddressError| anyhow::anyhow!("{e}"))
}

/// `comrade tx …`
pub(crate) fn tx(
    cmd: TxCommand,
    home: &Path,
    node: &str,
    chain_id: Option<&str>,
    json: bool,
) -> Result<()> {
    match cmd {
        TxCommand::Bridge(b) => crate::bridge::tx(b, home, node, chain_id, json),
        TxCommand::Bank(BankTx::Send {
            from,
            to,
            amount,
            fee,
            memo,
            no_wait,
        }) => {
            let to = parse_address(&to)?;
            let opts = TxOptions { fee, memo, no_wait };
            broadcast(
                home,
                node,
                chain_id,
                json,
                &from,
                &opts,
                move |p, sender| {
                    let amount = parse_amount(p.denom_stripped(&amount))?;
                    Ok(vec![msg_send(
                        &sender.to_string(),
                        &to.to_string(),
                        &p.denom,
                        &amount.to_string(),
                    )])
                },
            )
        }
        TxCommand::Staking(StakingTx::CreateValidator {
            from,
            self_stake,
            moniker,
            commission_bps,
            pubkey,
            cometbft_home,
            opts,
        }) => {
            let key = consensus_pubkey(pubkey.as_deref(), cometbft_home.as_deref())?;
            broadcast(
                home,
                node,
                chain_id,
                json,
                &from,
                &opts,
                move |p, sender| {
                    let stake = parse_amount(p.denom_stripped(&self_stake))?;
                    Ok(vec![pack(
                        MsgCreateValidator::TYPE_URL,
                        &staking_pb::MsgCreateValidator {
                            operator: sender.to_string(),
                            consensus_pubkey: key.to_vec(),
                            moniker: moniker.clone(),
                            commission_bps,
                            self_stake: stake.to_string(),
                        },
                    )])
                },
            )
        }
        TxCommand::Staking(StakingTx::Bond { from, amount, opts }) => broadcast(
            home,
            node,
            chain_id,
            json,
            &from,
            &opts,
            move |p, sender| {
                let amount = parse_amount(p.denom_stripped(&amount))?;
                Ok(vec![pack(
                    MsgBond::TYPE_URL,
                    &staking_pb::MsgBond {
                        operator: sender.to_string(),
                        amount: amount.to_string(),
                    },
                )])
            },
        ),
        TxCommand::Staking(StakingTx::Unbond { from, amount, opts }) => broadcast(
            home,
            node,
            chain_id,
            json,
            &from,
            &opts,
            move |p, sender| {
                let amount = parse_amount(p.denom_stripped(&amount))?;
                Ok(vec![pack(
                    MsgUnbond::TYPE_URL,
                    &staking_pb::MsgUnbond {
                        operator: sender.to_string(),
                        amount: amount.to_string(),
                    },
                )])
            },
        ),
        TxCommand::Compute(ComputeTx::Register {
            from,
            stake,
            node: args,
            keychain_len,
            opts,
        }) => {
            let operator = parse_address(&Keyring::open(home)?.show(&from)?.address)?;
            let chain = crate::keychain::create(home, &operator, keychain_len)?;
            let tip = chain.tip;
            let sent = broadcast(
                home,
                node,
                chain_id,
                json,
                &from,
                &opts,
                move |p, sender| {
                    let stake = parse_amount(p.denom_stripped(&stake))?;
                    Ok(vec![pack(
                        MsgRegisterComputeNode::TYPE_URL,
                        &compute_pb::MsgRegisterComputeNode {
                            operator: sender.to_string(),
                            endpoint: args.endpoint.clone(),
                            region: args.region.clone(),
                            models: args.models.clone(),
                            hardware: Some(args.hardware()),
                            stake: stake.to_string(),
                            keychain_tip: tip.to_vec(),
                            keychain_len,
                        },
                    )])
                },
            );
            if sent.is_err() {
                // Not registered: the chain never saw this key chain.
                chain.discard();
            }
            sent
        }
        TxCommand::Compute(ComputeTx::Update {
            from,
            node: args,
            add_stake,
            opts,
        }) => broadcast(
            home,
            node,
            chain_id,
            json,
            &from,
            &opts,
            move |p, sender| {
                let add = parse_amount(p.denom_stripped(&add_stake))?;
                Ok(vec![pack(
                    MsgUpdateComputeNode::TYPE_URL,
                    &compute_pb::MsgUpdateComputeNode {
                        operator: sender.to_string(),
                        endpoint: args.endpoint.clone(),
                        region: args.region.clone(),
                        models: args.models.clone(),
                        hardware: Some(args.hardware()),
                        add_stake: add.to_string(),
                    },
                )])
            },
        ),
        TxCommand::Compute(ComputeTx::Unbond { from, opts }) => broadcast(
            home,
            node,
            chain_id,
            json,
            &from,
            &opts,
            move |_, sender| {
                Ok(vec![pack(
                    MsgUnbondComputeNode::TYPE_URL,
                    &compute_pb::MsgUnbondComputeNode {
                        operator: sender.to_string(),
                    },
                )])
            },
        ),
        TxCommand::Staking(StakingTx::Unjail { from, opts }) => broadcast(
            home,
            node,
            chain_id,
            json,
            &from,
            &opts,
            move |_, sender| {
                Ok(vec![pack(
                    MsgUnjail::TYPE_URL,
                    &staking_pb::MsgUnjail {
                        operator: sender.to_string(),
                    },
                )])
            },
        ),
    }
}

/// The Ed25519 consensus key from `--pubkey` (base64) or a CometBFT home.
fn consensus_pubkey(pubkey: Option<&str>, cometbft_home: Option<&Path>) -> Result<[u8; 32]> {
    use base64::Engine as _;
    let b64 = match (pubkey, cometbft_home) {
        (Some(k), _) => k.to_string(),
        (None, Some(dir)) => {
            let path = dir.join("config/priv_validator_key.json");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let v: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", path.display()))?;
            v.pointer("/pub_key/value")
                .and_then(|k| k.as_str())
                .with_context(|| format!("{} has no pub_key.value", path.display()))?
                .to_string()
        }
        (None, None) => {
            bail!("give the consensus key with --pubkey <base64> or --cometbft-home <dir>")
        }
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .with_context(|| format!("consensus key {b64:?} is not base64"))?;
    raw.as_slice().try_into().map_err(|_| {
        anyhow::anyhow!(
            "consensus key has {} bytes, expected 32 (Ed25519)",
            raw.len()
        )
    })
}

/// Signs the messages `msgs` builds (from the chain's params and the
/// sender) with keyring key `from`, broadcasts and waits for the block.
pub(crate) fn broadcast(
    home: &Path,
    node: &str,
    chain_id: Option<&str>,
    json: bool,
    from: &str,
    opts: &TxOptions,
    msgs: impl Fn(&comrade_app::params::Params, &Address) -> Result<Vec<Any>>,
) -> Result<()> {
    let TxOptions { fee, memo, no_wait } = opts;
    let key = unlock_key(home, from)?;
    let sender = address_of(&key);
    let rt = runtime()?;
    rt.block_on(async {
        let c = client(node)?;
        let chain_id = match chain_id {
            Some(c) => c.to_string(),
            None => node_chain_id(&c, node).await?,
        };
        let params = chain_params(&c, node).await?;
        let msgs = msgs(&params, &sender)?;
        let tx = sign_for_chain(&c, node, &key, &chain_id, &params, msgs, fee.as_deref(), memo)
            .await?;
        let hash = submit(&c, node, tx).await?;
        if *no_wait {
            print_json_or(json, serde_json::json!({"hash": hash.to_string(), "code": 0}), || {
                format!("tx {hash} accepted into the mempool")
            });
            return Ok(());
        }
        let t = wait_tx(&c, hash, Duration::from_secs(30)).await?;
        let code = t.tx_result.code.value();
        print_json_or(
            json,
            serde_json::json!({"hash": hash.to_string(), "height": t.height.value(), "code": code, "log": t.tx_result.log}),
            || format!("tx {hash} committed at height {} with code {code} {}", t.height, t.tx_result.log),
        );
        if code != 0 {
            bail!("tx failed with code {code}: {}", t.tx_result.log);
        }
        Ok(())
    })
}

/// Decrypts keyring key `from` of `home` (the passphrase from
/// `$COMRADE_KEYRING_PASSPHRASE` or a prompt).
pub(crate) fn unlock_key(home: &Path, from: &str) -> Result<k256::ecdsa::SigningKey> {
    let keyring = Keyring::open(home)?;
    let info = keyring.show(from)?;
    let pass = crate::keys::passphrase(&format!("passphrase for key {from}: "), false)?;
    let key = keyring.signing_key(from, &pass)?;
    anyhow::ensure!(
        address_of(&key).to_string() == info.address,
        "keyring entry {from} is inconsistent"
    );
    Ok(key)
}

/// The node's chain id, from its status.
pub(crate) async fn node_chain_id(c: &HttpClient, node: &str) -> Result<String> {
    Ok(c.status()
        .await
        .map_err(|e| unreachable(node, e))?
        .node_info
        .network
        .to_string())
}

/// The app's params (denom, fees).
pub(crate) async fn chain_params(
    c: &HttpClient,
    node: &str,
) -> Result<comrade_app::params::Params> {
    let params: app_pb::QueryParamsResponse =
        abci_query(c, node, "/comrade.app.v1.Query/Params", vec![]).await?;
    Ok(params.params.context("node returned no params")?.into())
}

/// The chain's compute params, validated.
pub(crate) async fn compute_params(
    c: &HttpClient,
    node: &str,
) -> Result<comrade_consensus::compute::ComputeParams> {
    let r: compute_pb::QueryParamsResponse =
        abci_query(c, node, "/comrade.compute.v1.Query/Params", vec![]).await?;
    let p = r.params.context("node returned no params")?;
    comrade_consensus::compute::ComputeParams::try_from(&p)
        .map_err(|e| anyhow::anyhow!("node returned invalid params: {e}"))
}

/// The compute node of `operator` with its routing weight.
pub(crate) async fn compute_node(
    c: &HttpClient,
    node: &str,
    operator: String,
) -> Result<compute_pb::NodeInfo> {
    let r: compute_pb::QueryNodeResponse = abci_query(
        c,
        node,
        "/comrade.compute.v1.Query/Node",
        compute_pb::QueryNodeRequest { operator }.encode_to_vec(),
    )
    .await?;
    r.node.context("node returned no compute node")
}

/// Signs `msgs` with `key` at its account's current sequence, paying `fee`
/// (in the chain's denom) or else the minimum fee for the tx's size.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn sign_for_chain(
    c: &HttpClient,
    node: &str,
    key: &k256::ecdsa::SigningKey,
    chain_id: &str,
    params: &comrade_app::params::Params,
    msgs: Vec<Any>,
    fee: Option<&str>,
    memo: &str,
) -> Result<Vec<u8>> {
    let sender = address_of(key);
    let account: auth_pb::QueryAccountResponse = abci_query(
        c,
        node,
        "/comrade.auth.v1.Query/Account",
        auth_pb::QueryAccountRequest {
            address: sender.to_string(),
        }
        .encode_to_vec(),
    )
    .await
    .with_context(|| format!("account {sender} not found on chain: fund it first"))?;
    let account = account.account.context("node returned no account")?;
    let build = |fee: &str| {
        sign_tx(
            key,
            msgs.clone(),
            &SignOptions {
                chain_id,
                account_number: account.account_number,
                sequence: account.sequence,
                fee: (fee, &params.denom),
                memo,
                timeout_height: 0,
            },
        )
    };
    Ok(match fee {
        Some(f) => build(f.strip_suffix(params.denom.as_str()).unwrap_or(f)),
        None => {
            // The fee depends on the size, which depends on the fee's digits.
            let mut fee = params.min_fee(build("0").len());
            loop {
                let tx = build(&fee.to_string());
                let needed = params.min_fee(tx.len());
                if needed <= fee {
                    break tx;
                }
                fee = needed;
            }
        }
    })
}

/// Broadcasts `tx` (sync: CheckTx); a refusal is an error with its code.
pub(crate) async fn submit(c: &HttpClient, node: &str, tx: Vec<u8>) -> Result<tendermint::Hash> {
    let r = c
        .broadcast_tx_sync(tx)
        .await
        .map_err(|e| unreachable(node, e))?;
    if r.code.is_err() {
        bail!(
            "tx {} rejected (code {}): {}",
            r.hash,
            r.code.value(),
            r.log
        );
    }
    Ok(r.hash)
}

/// Waits up to `timeout` for tx `hash` to be in a block.
pub(crate) async fn wait_tx(
    c: &HttpClient,
    hash: tendermint::Hash,
    timeout: Duration,
) -> Result<tendermint_rpc::endpoint::tx::Response> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(t) = c.tx(hash, false).await {
            return Ok(t);
        }
        if Instant::now() > deadline {
            bail!(
                "tx {hash} not committed within {} s (check `comrade query tx {hash}`)",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Prints `v` as one JSON line, or pretty-printed for people.
pub(crate) fn print_value(json: bool, v: &serde_json::Value) {
    if json {
        println!("{v}");
    } else {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    }
}

fn print_json_or(json: bool, value: serde_json::Value, text: impl FnOnce() -> String) {
    if json {
        println!("{value}");
    } else {
        println!("{}", text());
    }
}

/// `comrade query …`
pub(crate) fn query(cmd: QueryCommand, node: &str, json: bool) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = client(node)?;
        match cmd {
            QueryCommand::Bank(BankQuery::Balance { address }) => {
                parse_address(&address)?;
                let r: bank_pb::QueryBalanceResponse = abci_query(
                    &c,
                    node,
                    "/comrade.bank.v1.Query/Balance",
                    bank_pb::QueryBalanceRequest {
                        address: address.clone(),
                        denom: String::new(),
                    }
                    .encode_to_vec(),
                )
                .await?;
                print_json_or(
                    json,
                    serde_json::json!({"address": address, "denom": r.denom, "amount": r.amount}),
                    || format!("{}{}", r.amount, r.denom),
                );
            }
            QueryCommand::Bank(BankQuery::Supply) => {
                let r: bank_pb::QuerySupplyResponse =
                    abci_query(&c, node, "/comrade.bank.v1.Query/Supply", vec![]).await?;
                let coins: Vec<_> = r
                    .supply
                    .iter()
                    .map(|c| serde_json::json!({"denom": c.denom, "amount": c.amount}))
                    .collect();
                print_json_or(json, serde_json::json!({"supply": coins}), || {
                    r.supply
                        .iter()
                        .map(|c| format!("{}{}", c.amount, c.denom))
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
            QueryCommand::Account { address } => {
                parse_address(&address)?;
                let r: auth_pb::QueryAccountResponse = abci_query(
                    &c,
                    node,
                    "/comrade.auth.v1.Query/Account",
                    auth_pb::QueryAccountRequest {
                        address: address.clone(),
                    }
                    .encode_to_vec(),
                )
                .await?;
                let a = r.account.context("node returned no account")?;
                let v = serde_json::json!({
                    "address": a.address,
                    "account_number": a.account_number,
                    "sequence": a.sequence,
                    "pub_key": hex::encode(&a.pub_key),
                });
                print_json_or(json, v, || {
                    format!(
                        "address:        {}\naccount_number: {}\nsequence:       {}\npub_key:        {}",
                        a.address,
                        a.account_number,
                        a.sequence,
                        if a.pub_key.is_empty() { "(none yet)".to_string() } else { hex::encode(&a.pub_key) }
                    )
                });
            }
            QueryCommand::Tx { hash } => {
                let h: tendermint::Hash = hash
                    .to_uppercase()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("invalid tx hash {hash:?}: expected 64 hex digits"))?;
                let t = c
                    .tx(h, false)
                    .await
                    .map_err(|e| anyhow::anyhow!("tx {hash} not found on {node}: {}", e.detail()))?;
                let events: Vec<_> = t
                    .tx_result
                    .events
                    .iter()
                    .map(|e| serde_json::json!({"type": e.kind, "attributes": e.attributes.iter().map(|a| serde_json::json!({"key": a.key_str().unwrap_or(""), "value": a.value_str().unwrap_or("")})).collect::<Vec<_>>()}))
                    .collect();
                let v = serde_json::json!({
                    "hash": t.hash.to_string(),
                    "height": t.height.value(),
                    "code": t.tx_result.code.value(),
                    "log": t.tx_result.log,
                    "events": events,
                });
                print_json_or(json, v.clone(), || {
                    format!(
                        "hash:   {}\nheight: {}\ncode:   {}\nlog:    {}",
                        t.hash, t.height, t.tx_result.code.value(), t.tx_result.log
                    )
                });
            }
            QueryCommand::Staking(q) => staking_query(&c, node, q, json).await?,
            QueryCommand::Compute(q) => compute_query(&c, node, q, json).await?,
            QueryCommand::Consensus(q) => crate::explain::query(&c, node, q, json).await?,
            QueryCommand::Bridge(q) => crate::bridge::query(&c, node, q, json).await?,
            QueryCommand::Params => {
                let r: app_pb::QueryParamsResponse =
                    abci_query(&c, node, "/comrade.app.v1.Query/Params", vec![]).await?;
                let p: comrade_app::params::Params = r.params.context("no params")?.into();
                let v = serde_json::to_value(&p)?;
                print_value(json, &v);
            }
        }
        Ok(())
    })
}

async fn staking_query(c: &HttpClient, node: &str, q: StakingQuery, json: bool) -> Result<()> {
    fn info_json(i: &staking_pb::ValidatorInfo) -> serde_json::Value {
        let v = i.validator.clone().unwrap_or_default();
        serde_json::json!({
            "operator": v.operator,
            "moniker": v.moniker,
            "consensus_address": i.consensus_address,
            "bonded": v.bonded,
            "power": i.power,
            "unbonding": i.unbonding,
            "commission_bps": v.commission_bps,
            "jailed": v.jailed,
            "jailed_until": v.jailed_until,
            "tombstoned": v.tombstoned,
            "missed_blocks": i.missed_blocks,
            "slashed_total": v.slashed_total,
        })
    }
    fn info_line(i: &staking_pb::ValidatorInfo) -> String {
        let v = i.validator.clone().unwrap_or_default();
        let status = if v.tombstoned {
            "tombstoned".to_string()
        } else if v.jailed {
            format!("jailed until {}", v.jailed_until)
        } else if i.power > 0 {
            "active".to_string()
        } else {
            "inactive".to_string()
        };
        format!(
            "{:<16} {}  bonded {:>16}  power {:>6}  unbonding {:>12}  missed {:>4}  {status}",
            v.moniker, v.operator, v.bonded, i.power, i.unbonding, i.missed_blocks
        )
    }
    match q {
        StakingQuery::Validators => {
            let r: staking_pb::QueryValidatorsResponse =
                abci_query(c, node, "/comrade.staking.v1.Query/Validators", vec![]).await?;
            let all: Vec<_> = r.validators.iter().map(info_json).collect();
            print_json_or(json, serde_json::json!({"validators": all}), || {
                r.validators
                    .iter()
                    .map(info_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        StakingQuery::Validator { operator } => {
            parse_address(&operator)?;
            let r: staking_pb::QueryValidatorResponse = abci_query(
                c,
                node,
                "/comrade.staking.v1.Query/Validator",
                staking_pb::QueryValidatorRequest { operator }.encode_to_vec(),
            )
            .await?;
            let i = r.validator.context("node returned no validator")?;
            let v = info_json(&i);
            print_value(json, &v);
        }
        StakingQuery::Params => {
            let r: staking_pb::QueryParamsResponse =
                abci_query(c, node, "/comrade.staking.v1.Query/Params", vec![]).await?;
            let p = r.params.context("node returned no params")?;
            let p = comrade_consensus::staking::StakingParams::try_from(&p)
                .map_err(|e| anyhow::anyhow!("node returned invalid params: {e}"))?;
            let v = serde_json::to_value(&p)?;
            print_value(json, &v);
        }
    }
    Ok(())
}

async fn compute_query(c: &HttpClient, node: &str, q: ComputeQuery, json: bool) -> Result<()> {
    fn node_json(i: &compute_pb::NodeInfo) -> serde_json::Value {
        let n = i.node.clone().unwrap_or_default();
        let hw = n.hardware.clone().unwrap_or_default();
        let rep = n.reputation.unwrap_or_default();
        let status = compute_pb::NodeStatus::try_from(n.status)
            .map(|s| {
                s.as_str_name()
                    .trim_start_matches("NODE_STATUS_")
                    .to_lowercase()
            })
            .unwrap_or_else(|_| "unknown".into());
        serde_json::json!({
            "operator": n.operator,
            "endpoint": n.endpoint,
            "region": n.region,
            "models": n.models,
            "hardware": {"accelerator": hw.accelerator, "count": hw.count, "memory_gib": hw.memory_gib,
                         "int8_tops": hw.int8_tops, "bf16_tflops": hw.bf16_tflops},
            "stake": n.stake,
            "status": status,
            "throttled": i.throttled,
            "throttled_until_epoch": n.throttled_until_epoch,
            "verified_mac_per_s": n.verified_mac_per_s,
            "verified_epoch": n.verified_epoch,
            "routing_weight": i.routing_weight,
            "reputation": {"sprints_passed": rep.sprints_passed, "sprints_failed": rep.sprints_failed,
                           "sprints_missed": rep.sprints_missed, "reveals": rep.reveals,
                           "reveals_missed": rep.reveals_missed},
            "slashed_total": n.slashed_total,
            "rewards_total": n.rewards_total,
        })
    }
    match q {
        ComputeQuery::Nodes => {
            let r: compute_pb::QueryNodesResponse =
                abci_query(c, node, "/comrade.compute.v1.Query/Nodes", vec![]).await?;
            let all: Vec<_> = r.nodes.iter().map(node_json).collect();
            print_json_or(json, serde_json::json!({"nodes": all}), || {
                all.iter()
                    .map(|v| {
                        format!(
                            "{}  {:<10} stake {:>14}  weight {:>8}  {} MAC/s  {}",
                            v["operator"].as_str().unwrap_or(""),
                            v["status"].as_str().unwrap_or(""),
                            v["stake"].as_str().unwrap_or(""),
                            v["routing_weight"],
                            v["verified_mac_per_s"],
                            v["endpoint"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
        ComputeQuery::Node { operator } => {
            parse_address(&operator)?;
            let v = node_json(&compute_node(c, node, operator).await?);
            print_value(json, &v);
        }
        ComputeQuery::Sprint { epoch, operator: n } => {
            if let Some(a) = &n {
                parse_address(a)?;
            }
            let r: compute_pb::QuerySprintResponse = abci_query(
                c,
                node,
                "/comrade.compute.v1.Query/Sprint",
                compute_pb::QuerySprintRequest {
                    epoch,
                    node: n.unwrap_or_default(),
                }
                .encode_to_vec(),
            )
            .await?;
            let s = r
                .sprint
                .with_context(|| format!("there is no sprint {epoch} (yet)"))?;
            let mut v = serde_json::json!({
                "epoch": s.epoch,
                "seed": hex::encode(&s.seed),
                "profile_id": s.profile_id,
                "start_height": s.start_height,
                "commit_deadline": s.commit_deadline,
                "open_period": s.open_period,
                "reveal_deadline": s.reveal_deadline,
                "opened": s.opened,
                "queued": s.queued,
                "settled": s.settled,
            });
            if let Some(cm) = r.commit {
                let status = compute_pb::CommitStatus::try_from(cm.status)
                    .map(|s| {
                        s.as_str_name()
                            .trim_start_matches("COMMIT_STATUS_")
                            .to_lowercase()
                    })
                    .unwrap_or_else(|_| "unknown".into());
                v["commit"] = serde_json::json!({
                    "root": hex::encode(&cm.root),
                    "n_rows": cm.n_rows,
                    "height": cm.height,
                    "status": status,
                    "indices": cm.indices,
                    "verified": cm.verified,
                    "revealed": cm.revealed,
                    "failure": cm.failure,
                });
            }
            print_value(json, &v);
        }
        ComputeQuery::Beacon { period } => {
            let r: compute_pb::QueryBeaconResponse = abci_query(
                c,
                node,
                "/comrade.compute.v1.Query/Beacon",
                compute_pb::QueryBeaconRequest { period }.encode_to_vec(),
            )
            .await?;
            let b = r
                .beacon
                .with_context(|| format!("the beacon of period {period} is not final yet"))?;
            let v = serde_json::json!({"period": period, "value": hex::encode(&b.value), "reveals": b.reveals});
            print_value(json, &v);
        }
        ComputeQuery::Audits { period, executor } => {
            if let Some(a) = &executor {
                parse_address(a)?;
            }
            let r: compute_pb::QueryAuditsResponse = abci_query(
                c,
                node,
                "/comrade.compute.v1.Query/Audits",
                compute_pb::QueryAuditsRequest {
                    period,
                    executor: executor.unwrap_or_default(),
                }
                .encode_to_vec(),
            )
            .await?;
            print_value(json, &audits_json(period, &r));
        }
        ComputeQuery::Params => {
            let v = serde_json::to_value(compute_params(c, node).await?)?;
            print_value(json, &v);
        }
    }
    Ok(())
}

fn metrics_json(m: &compute_pb::AuditMetrics) -> serde_json::Value {
    serde_json::json!({
        "n_steps": m.n_steps,
        "r_raw": m.r_raw,
        "r_gated": m.r_gated,
        "margin_sum_milli": m.margin_sum_milli,
        "margin_max_milli": m.margin_max_milli,
        "toploc_chunks": m.toploc_chunks,
        "toploc_fail_chunks": m.toploc_fail_chunks,
        "exp_mis_max": m.exp_mis_max,
        "sign_mis_max": m.sign_mis_max,
        "mant_mean_avg_centi": m.mant_mean_avg_centi,
        "mant_mean_max_centi": m.mant_mean_max_centi,
        "mant_median_max": m.mant_median_max,
        "flags": m.flags,
    })
}

/// The `query compute audits` answer as JSON.
fn audits_json(period: u64, r: &compute_pb::QueryAuditsResponse) -> serde_json::Value {
    let batches: Vec<_> = r
        .batches
        .iter()
        .map(|b| {
            serde_json::json!({
                "executor": b.executor, "seq": b.seq, "model": b.model,
                "root": hex::encode(&b.root), "count": b.count, "height": b.height,
            })
        })
        .collect();
    let audits: Vec<_> = r
        .audits
        .iter()
        .map(|a| {
            let status = compute_pb::AuditStatus::try_from(a.status)
                .map(|s| {
                    s.as_str_name()
                        .trim_start_matches("AUDIT_STATUS_")
                        .to_lowercase()
                })
                .unwrap_or_else(|_| "unknown".into());
            serde_json::json!({
                "executor": a.executor, "seq": a.seq, "index": a.index, "model": a.model,
                "status": status, "reason": a.reason, "auditors": a.auditors,
                "open_deadline": a.open_deadline, "audit_deadline": a.audit_deadline,
                "request_id": a.body.as_ref().map(|b| hex::encode(&b.request_id)),
                "reports": a.reports.iter().map(|rep| serde_json::json!({
                    "auditor": rep.auditor,
                    "metrics": rep.metrics.as_ref().map(metrics_json),
                })).collect::<Vec<_>>(),
                "median": a.median.as_ref().map(metrics_json),
            })
        })
        .collect();
    serde_json::json!({"period": period, "batches": batches, "audits": audits})
}

/// `comrade status`
pub(crate) fn status(node: &str, json: bool) -> Result<()> {
    let rt = runtime()?;
    rt.block_on(async {
        let c = client(node)?;
        let s = c
            .status()
            .await
            .map_err(|e| unreachable(node, e))?;
        let v = serde_json::json!({
            "chain_id": s.node_info.network.to_string(),
            "moniker": s.node_info.moniker.to_string(),
            "node_id": s.node_info.id.to_string(),
            "latest_block_height": s.sync_info.latest_block_height.value(),
            "latest_app_hash": s.sync_info.latest_app_hash.to_string(),
            "catching_up": s.sync_info.catching_up,
            "voting_power": s.validator_info.power.value(),
        });
        print_json_or(json, v, || {
            format!(
                "chain id:     {}\nmoniker:      {}\nheight:       {}\napp hash:     {}\ncatching up:  {}\nvoting power: {}",
                s.node_info.network,
                s.node_info.moniker,
                s.sync_info.latest_block_height,
                s.sync_info.latest_app_hash,
                s.sync_info.catching_up,
                s.validator_info.power
            )
        });
        Ok(())
    })
}
