//! `comrade bridge …`, `comrade tx bridge …` and `comrade query bridge …`:
//! VAAs in from Solana, guardian sets, the supply against the locked total.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use comrade_bridge::{
    MsgRedeemDeposit, MsgSubmitGovernanceVaa,
    genesis::GuardianSetFile,
    payload::{Deposit, GuardianSetUpgrade},
    vaa::{GuardianAddress, Vaa, quorum},
};
use comrade_primitives::{Address, component::ActionHandler as _, proto::bridge::v1 as pb};
use prost::Message as _;

use crate::rpc::{TxOptions, abci_query, broadcast, client, print_value, runtime};

/// `comrade bridge …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BridgeCommand {
    /// Parse a VAA, verify its signatures and print every field and the
    /// decoded payload (lockbox deposits and guardian set upgrades). Exits
    /// non-zero with the reason when it is invalid.
    InspectVaa {
        /// The VAA: hex (with or without 0x), base64, or a file holding
        /// either or the raw bytes.
        vaa: String,
        /// Verify against this guardian set (`{"index": N, "keys":
        /// ["0x<20-byte address>", …]}`) instead of the chain's (--node).
        #[arg(long)]
        guardian_set: Option<PathBuf>,
    },
}

/// `comrade tx bridge …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BridgeTx {
    /// Relay a lockbox deposit VAA; the recipient named in it is credited
    /// (anyone may relay; the relayer pays the fee).
    Redeem {
        /// Key name of the relayer.
        from: String,
        /// The VAA (hex, base64 or a file).
        vaa: String,
        #[command(flatten)]
        opts: TxOptions,
    },
    /// Apply a Wormhole Core guardian set upgrade VAA.
    SubmitGovernanceVaa {
        /// Key name of the relayer.
        from: String,
        /// The VAA (hex, base64 or a file).
        vaa: String,
        #[command(flatten)]
        opts: TxOptions,
    },
}

/// `comrade query bridge …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BridgeQuery {
    /// The lockbox emitter, mint, decimals and current guardian set index.
    Config,
    /// A guardian set (default: the current one).
    GuardianSet {
        /// Set index.
        index: Option<u32>,
    },
    /// COMRADE locked in the vault on Solana against the chain's supply
    /// (always equal; the chain halts otherwise).
    Supply,
    /// Whether a deposit was redeemed, by its Wormhole sequence.
    Deposit {
        /// The lockbox's Wormhole sequence of the deposit.
        sequence: u64,
        /// Emitter address (hex or base58; default: the registered lockbox).
        #[arg(long)]
        emitter: Option<String>,
    },
}

/// Reads a VAA given as hex, base64, or a file of either or of raw bytes.
pub(crate) fn read_vaa(arg: &str) -> Result<Vec<u8>> {
    let from_text = |s: &str| -> Option<Vec<u8>> {
        let s = s.trim();
        let h = s.strip_prefix("0x").unwrap_or(s);
        hex::decode(h)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(s).ok())
    };
    if let Some(b) = from_text(arg) {
        return Ok(b);
    }
    let p = Path::new(arg);
    if p.is_file() {
        let raw = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        return Ok(std::str::from_utf8(&raw)
            .ok()
            .and_then(from_text)
            .unwrap_or(raw));
    }
    bail!("{arg:?} is neither hex, base64 nor a readable file")
}

fn guardian_keys_from_file(path: &Path) -> Result<(u32, Vec<GuardianAddress>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let f: GuardianSetFile = serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected {{\"index\": N, \"keys\": [\"0x…\", …]}}",
            path.display()
        )
    })?;
    let keys = f
        .addresses()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok((f.index, keys))
}

fn payload_json(v: &Vaa) -> serde_json::Value {
    if let Ok(d) = Deposit::parse(v.payload()) {
        return serde_json::json!({
            "kind": "deposit_v1",
            "mint": bs58::encode(d.mint).into_string(),
            "amount": d.amount.to_string(),
            "decimals": d.decimals,
            "sender": bs58::encode(d.sender).into_string(),
            "recipient": Address(d.recipient).to_string(),
            "app_chain_id": hex::encode(d.app_chain_id),
        });
    }
    if let Ok(u) = GuardianSetUpgrade::parse(v.payload()) {
        return serde_json::json!({
            "kind": "guardian_set_upgrade",
            "chain": u.chain,
            "new_guardian_set_index": u.new_index,
            "new_keys": u.keys.iter().map(|k| format!("0x{}", hex::encode(k))).collect::<Vec<_>>(),
        });
    }
    serde_json::json!({ "kind": "unknown", "hex": hex::encode(v.payload()) })
}

/// `comrade bridge inspect-vaa`.
pub(crate) fn command(cmd: BridgeCommand, node: &str, json: bool) -> Result<()> {
    let BridgeCommand::InspectVaa { vaa, guardian_set } = cmd;
    let bytes = read_vaa(&vaa)?;
    let v = Vaa::parse(&bytes).map_err(|e| anyhow::anyhow!("invalid VAA: {e}"))?;
    let (set_index, keys, source, expiry) = match guardian_set {
        Some(p) => {
            let (i, k) = guardian_keys_from_file(&p)?;
            (i, k, p.display().to_string(), 0)
        }
        None => {
            let rt = runtime()?;
            let r: pb::QueryGuardianSetResponse = rt.block_on(async {
                let c = client(node)?;
                abci_query(
                    &c,
                    node,
                    "/comrade.bridge.v1.Query/GuardianSet",
                    pb::QueryGuardianSetRequest {
                        index: Some(v.guardian_set_index),
                    }
                    .encode_to_vec(),
                )
                .await
            })?;
            let set = r.set.context("no guardian set in the answer")?;
            let keys = comrade_bridge::verify::set_addresses(&set)?;
            (
                set.index,
                keys,
                format!("chain at {node}"),
                set.expiration_time,
            )
        }
    };
    let verdict = if set_index != v.guardian_set_index {
        Err(format!(
            "signed by guardian set {}, but the given set is {set_index}",
            v.guardian_set_index
        ))
    } else {
        v.verify_signatures(&keys).map_err(|e| e.to_string())
    };
    let out = serde_json::json!({
        "valid": verdict.is_ok(),
        "error": verdict.as_ref().err(),
        "verified_against": source,
        "guardian_set_index": v.guardian_set_index,
        "guardian_set_expires_at": expiry,
        "quorum": quorum(keys.len()),
        "signatures": v.signatures.iter().map(|s| serde_json::json!({
            "guardian_index": s.guardian_index,
            "signature": hex::encode(s.rs),
            "recovery_id": s.recovery_id,
        })).collect::<Vec<_>>(),
        "timestamp": v.timestamp,
        "nonce": v.nonce,
        "emitter_chain": v.emitter_chain,
        "emitter_address": hex::encode(v.emitter_address),
        "sequence": v.sequence,
        "consistency_level": v.consistency_level,
        "body_keccak256": hex::encode(v.body_hash()),
        "digest": hex::encode(v.digest()),
        "payload": payload_json(&v),
    });
    print_value(json, &out);
    if expiry != 0 {
        eprintln!(
            "note: guardian set {set_index} was replaced; the chain refuses its VAAs from unix time \
             {expiry} on (ask the guardians to re-sign with the current set)"
        );
    }
    if let Err(e) = verdict {
        bail!("invalid VAA: {e}");
    }
    Ok(())
}

/// `comrade tx bridge …`.
pub(crate) fn tx(
    cmd: BridgeTx,
    home: &Path,
    node: &str,
    chain_id: Option<&str>,
    json: bool,
) -> Result<()> {
    let (from, vaa, opts, governance) = match cmd {
        BridgeTx::Redeem { from, vaa, opts } => (from, vaa, opts, false),
        BridgeTx::SubmitGovernanceVaa { from, vaa, opts } => (from, vaa, opts, true),
    };
    let bytes = read_vaa(&vaa)?;
    // Refuse what the chain would refuse statelessly before paying a fee.
    let v = Vaa::parse(&bytes).map_err(|e| anyhow::anyhow!("invalid VAA: {e}"))?;
    if governance {
        GuardianSetUpgrade::parse(v.payload()).map_err(|e| anyhow::anyhow!("{e}"))?;
    } else {
        Deposit::parse(v.payload()).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    broadcast(
        home,
        node,
        chain_id,
        json,
        &from,
        &opts,
        move |_, sender| {
            Ok(vec![if governance {
                comrade_app::client::pack(
                    MsgSubmitGovernanceVaa::TYPE_URL,
                    &pb::MsgSubmitGovernanceVaa {
                        signer: sender.to_string(),
                        vaa: bytes.clone(),
                    },
                )
            } else {
                comrade_app::client::pack(
                    MsgRedeemDeposit::TYPE_URL,
                    &pb::MsgRedeemDeposit {
                        signer: sender.to_string(),
                        vaa: bytes.clone(),
                    },
                )
            }])
        },
    )
}

fn set_json(s: &pb::GuardianSet, current: u32) -> serde_json::Value {
    serde_json::json!({
        "index": s.index,
        "current": s.index == current,
        "keys": s.keys.iter().map(|k| format!("0x{}", hex::encode(k))).collect::<Vec<_>>(),
        "quorum": quorum(s.keys.len()),
        "expiration_time": s.expiration_time,
    })
}

/// `comrade query bridge …`.
pub(crate) async fn query(
    c: &tendermint_rpc::HttpClient,
    node: &str,
    q: BridgeQuery,
    json: bool,
) -> Result<()> {
    let path = |m: &str| format!("/comrade.bridge.v1.Query/{m}");
    let config = || async {
        let r: pb::QueryConfigResponse = abci_query(
            c,
            node,
            &path("Config"),
            pb::QueryConfigRequest {}.encode_to_vec(),
        )
        .await?;
        Ok::<_, anyhow::Error>((
            r.config.context("no config in the answer")?,
            r.current_guardian_set,
        ))
    };
    let v = match q {
        BridgeQuery::Config => {
            let (cfg, current) = config().await?;
            serde_json::json!({
                "emitter_chain": cfg.emitter_chain,
                "lockbox_emitter": hex::encode(&cfg.lockbox_emitter),
                "lockbox_emitter_base58": bs58::encode(&cfg.lockbox_emitter).into_string(),
                "mint": bs58::encode(&cfg.mint).into_string(),
                "decimals": cfg.decimals,
                "governance_chain": cfg.governance_chain,
                "governance_emitter": hex::encode(&cfg.governance_emitter),
                "guardian_set_ttl_seconds": cfg.guardian_set_ttl_seconds,
                "current_guardian_set": current,
            })
        }
        BridgeQuery::GuardianSet { index } => {
            let r: pb::QueryGuardianSetResponse = abci_query(
                c,
                node,
                &path("GuardianSet"),
                pb::QueryGuardianSetRequest { index }.encode_to_vec(),
            )
            .await?;
            set_json(&r.set.context("no set in the answer")?, r.current_index)
        }
        BridgeQuery::Supply => {
            let r: pb::QuerySupplyResponse = abci_query(
                c,
                node,
                &path("Supply"),
                pb::QuerySupplyRequest {}.encode_to_vec(),
            )
            .await?;
            serde_json::json!({
                "locked": r.locked,
                "supply": r.supply,
                "backed": r.locked == r.supply,
            })
        }
        BridgeQuery::Deposit { sequence, emitter } => {
            let (cfg, _) = config().await?;
            let emitter = match emitter {
                Some(e) => comrade_bridge::genesis::parse_key32(&e)
                    .map_err(|e| anyhow::anyhow!("--emitter: {e}"))?
                    .to_vec(),
                None => cfg.lockbox_emitter.clone(),
            };
            let r: pb::QueryDepositResponse = abci_query(
                c,
                node,
                &path("Deposit"),
                pb::QueryDepositRequest {
                    emitter_chain: cfg.emitter_chain,
                    emitter_address: emitter.clone(),
                    sequence,
                }
                .encode_to_vec(),
            )
            .await?;
            match r.redemption {
                Some(d) => serde_json::json!({
                    "sequence": sequence,
                    "emitter": hex::encode(&emitter),
                    "status": "credited",
                    "height": d.height,
                    "recipient": d.recipient,
                    "amount": d.amount,
                    "digest": hex::encode(&d.digest),
                }),
                None => serde_json::json!({
                    "sequence": sequence,
                    "emitter": hex::encode(&emitter),
                    "status": "not redeemed",
                    "hint": "relay its VAA with `comrade tx bridge redeem <key> <vaa>`",
                }),
            }
        }
    };
    print_value(json, &v);
    Ok(())
}
