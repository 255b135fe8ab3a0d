//! The bridge's genesis section: the trusted guardian set, the lockbox's
//! emitter, COMRADE's mint, and the amount the launch locked in the vault
//! (which must equal the genesis supply).

use comrade_primitives::{Amount, parse_amount, proto::bridge::v1 as pb};
use serde::{Deserialize, Serialize};

use crate::{
    devnet,
    payload::{GOVERNANCE_CHAIN, SOLANA_CHAIN, governance_emitter},
    vaa::{GuardianAddress, keccak256},
};

/// Wormhole's grace period for a replaced guardian set: 24 hours.
pub const GUARDIAN_SET_TTL_SECONDS: i64 = 24 * 60 * 60;

/// A guardian set in the genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardianSetFile {
    /// Its Wormhole index.
    pub index: u32,
    /// `0x`-prefixed (or bare) hex of each guardian's 20-byte address.
    pub keys: Vec<String>,
}

impl GuardianSetFile {
    /// Parsed addresses.
    pub fn addresses(&self) -> Result<Vec<GuardianAddress>, String> {
        if self.keys.is_empty() {
            return Err("guardian set has no keys".into());
        }
        if self.keys.len() > usize::from(u8::MAX) {
            return Err(format!("{} guardians: at most 255", self.keys.len()));
        }
        self.keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let h = k.strip_prefix("0x").unwrap_or(k);
                hex::decode(h)
                    .ok()
                    .and_then(|b| <[u8; 20]>::try_from(b).ok())
                    .ok_or_else(|| format!("guardian key {i} ({k:?}) is not 20 bytes of hex"))
            })
            .collect()
    }
}

/// The bridge section of the genesis file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeGenesisFile {
    /// The guardian set the chain trusts at launch (Wormhole mainnet set 7
    /// for production; the devnet set in localnets and tests).
    pub guardian_set: GuardianSetFile,
    /// Wormhole chain id of the lockbox (Solana = 1).
    pub emitter_chain: u16,
    /// The lockbox program's Wormhole emitter (base58 Solana address or
    /// 0x-hex, 32 bytes).
    pub lockbox_emitter: String,
    /// COMRADE's SPL mint (base58 or 0x-hex, 32 bytes).
    pub mint: String,
    /// Base units the launch locked in the vault: the genesis supply.
    pub locked: String,
}

/// 32 bytes from base58 (Solana's notation) or `0x` hex.
pub fn parse_key32(s: &str) -> Result<[u8; 32], String> {
    let bytes = match s.strip_prefix("0x") {
        Some(h) => hex::decode(h).map_err(|e| format!("{s:?}: {e}"))?,
        None => bs58::decode(s)
            .into_vec()
            .map_err(|e| format!("{s:?} is neither base58 nor 0x-hex: {e}"))?,
    };
    <[u8; 32]>::try_from(bytes).map_err(|b| format!("{s:?} is {} bytes, not 32", b.len()))
}

/// The validated bridge section, as `init_chain` writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct BridgeGenesis {
    /// Configuration.
    pub config: pb::Config,
    /// The genesis guardian set.
    pub guardian_set: pb::GuardianSet,
    /// Locked at launch.
    pub locked: Amount,
}

impl BridgeGenesisFile {
    /// Checks the section; `decimals` is the chain's (the mint must have
    /// the same, so base units map one to one).
    pub fn validate(&self, decimals: u32) -> Result<BridgeGenesis, String> {
        let keys = self.guardian_set.addresses()?;
        let emitter =
            parse_key32(&self.lockbox_emitter).map_err(|e| format!("lockbox_emitter: {e}"))?;
        let mint = parse_key32(&self.mint).map_err(|e| format!("mint: {e}"))?;
        if self.emitter_chain == 0 {
            return Err("emitter_chain 0 is not a chain".into());
        }
        let locked =
            parse_amount(&self.locked).map_err(|e| format!("locked {:?}: {e}", self.locked))?;
        if decimals > u32::from(u8::MAX) {
            return Err(format!("decimals {decimals} do not fit an SPL mint"));
        }
        Ok(BridgeGenesis {
            config: pb::Config {
                emitter_chain: u32::from(self.emitter_chain),
                lockbox_emitter: emitter.to_vec(),
                mint: mint.to_vec(),
                decimals,
                governance_chain: u32::from(GOVERNANCE_CHAIN),
                governance_emitter: governance_emitter().to_vec(),
                guardian_set_ttl_seconds: GUARDIAN_SET_TTL_SECONDS,
            },
            guardian_set: pb::GuardianSet {
                index: self.guardian_set.index,
                keys: keys.iter().map(|k| k.to_vec()).collect(),
                expiration_time: 0,
            },
            locked,
        })
    }

    /// A development section: Wormhole's devnet guardian set 0
    /// (`[guardian-0]`), placeholder lockbox emitter and mint (derived from
    /// fixed labels; a real deployment names its own), and `locked` equal
    /// to the genesis supply.
    pub fn devnet(locked: Amount) -> Self {
        BridgeGenesisFile {
            guardian_set: GuardianSetFile {
                index: 0,
                keys: devnet::set(1)
                    .iter()
                    .map(|a| format!("0x{}", hex::encode(a)))
                    .collect(),
            },
            emitter_chain: SOLANA_CHAIN,
            lockbox_emitter: bs58::encode(dev_lockbox_emitter()).into_string(),
            mint: bs58::encode(dev_mint()).into_string(),
            locked: locked.to_string(),
        }
    }
}

/// The development lockbox emitter: keccak256("comrade devnet lockbox emitter").
pub fn dev_lockbox_emitter() -> [u8; 32] {
    keccak256(b"comrade devnet lockbox emitter")
}

/// The development COMRADE mint: keccak256("comrade devnet mint").
pub fn dev_mint() -> [u8; 32] {
    keccak256(b"comrade devnet mint")
}
