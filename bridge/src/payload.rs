//! The payloads the bridge reads: the lockbox's `DEPOSIT_V1` and Wormhole
//! Core's guardian set upgrade. Both are exact-length: trailing bytes are
//! an error (docs/bridge.md has the layouts).

use crate::{BridgeError, vaa::GuardianAddress};

/// `DEPOSIT_V1`'s magic: ASCII "CMRD".
pub const DEPOSIT_MAGIC: [u8; 4] = *b"CMRD";
/// `DEPOSIT_V1`'s version byte.
pub const DEPOSIT_VERSION: u8 = 1;
/// `DEPOSIT_V1`'s length.
pub const DEPOSIT_LEN: usize = 4 + 1 + 32 + 8 + 1 + 32 + 20 + 32;

/// Wormhole's Solana consistency level for finalized messages.
pub const SOLANA_FINALIZED: u8 = 32;
/// Wormhole chain id of Solana.
pub const SOLANA_CHAIN: u16 = 1;

/// A lockbox deposit: `amount` raw base units of `mint` locked on Solana by
/// `sender` for `recipient` on the app-chain whose id is `app_chain_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deposit {
    /// The SPL mint.
    pub mint: [u8; 32],
    /// Raw base units of the mint (no 8-decimal truncation).
    pub amount: u64,
    /// The mint's decimals.
    pub decimals: u8,
    /// The Solana account the tokens came from.
    pub sender: [u8; 32],
    /// The app-chain account to credit.
    pub recipient: [u8; 20],
    /// keccak256 of the destination chain id.
    pub app_chain_id: [u8; 32],
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

impl Deposit {
    /// Parses a `DEPOSIT_V1` payload.
    pub fn parse(p: &[u8]) -> Result<Deposit, BridgeError> {
        let bad = |s: String| BridgeError::BadPayload(s);
        if p.len() < 5 || p[..4] != DEPOSIT_MAGIC {
            return Err(bad("not a lockbox deposit (magic \"CMRD\" missing)".into()));
        }
        if p[4] != DEPOSIT_VERSION {
            return Err(bad(format!(
                "version {} (this chain reads version 1)",
                p[4]
            )));
        }
        if p.len() != DEPOSIT_LEN {
            return Err(bad(format!(
                "{} bytes, DEPOSIT_V1 is exactly {DEPOSIT_LEN}",
                p.len()
            )));
        }
        let amount = u64::from_be_bytes(arr(&p[37..45]));
        if amount == 0 {
            return Err(bad("zero amount".into()));
        }
        Ok(Deposit {
            mint: arr(&p[5..37]),
            amount,
            decimals: p[45],
            sender: arr(&p[46..78]),
            recipient: arr(&p[78..98]),
            app_chain_id: arr(&p[98..130]),
        })
    }

    /// The payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(DEPOSIT_LEN);
        out.extend_from_slice(&DEPOSIT_MAGIC);
        out.push(DEPOSIT_VERSION);
        out.extend_from_slice(&self.mint);
        out.extend_from_slice(&self.amount.to_be_bytes());
        out.push(self.decimals);
        out.extend_from_slice(&self.sender);
        out.extend_from_slice(&self.recipient);
        out.extend_from_slice(&self.app_chain_id);
        out
    }
}

/// The app-chain id of a chain: keccak256 of its CometBFT chain id.
pub fn app_chain_id(chain_id: &str) -> [u8; 32] {
    crate::vaa::keccak256(chain_id.as_bytes())
}

/// Wormhole Core's governance module name, left-padded to 32 bytes.
pub fn core_module() -> [u8; 32] {
    let mut m = [0u8; 32];
    m[28..].copy_from_slice(b"Core");
    m
}

/// Wormhole's governance emitter: chain 1, address 0x…04.
pub const GOVERNANCE_CHAIN: u16 = 1;
/// Wormhole's governance emitter address.
pub fn governance_emitter() -> [u8; 32] {
    let mut a = [0u8; 32];
    a[31] = 4;
    a
}

/// Core action 2: a guardian set upgrade to `new_index` with `keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardianSetUpgrade {
    /// Target chain (0 = every chain).
    pub chain: u16,
    /// The new set's index.
    pub new_index: u32,
    /// The new set's addresses.
    pub keys: Vec<GuardianAddress>,
}

impl GuardianSetUpgrade {
    /// Parses a Core governance payload; only action 2 (guardian set
    /// upgrade) for chain 0 is accepted.
    pub fn parse(p: &[u8]) -> Result<GuardianSetUpgrade, BridgeError> {
        if p.len() < 35 {
            return Err(BridgeError::BadGuardianSetUpgrade(format!(
                "{} bytes: shorter than a governance header",
                p.len()
            )));
        }
        if p[..32] != core_module() {
            return Err(BridgeError::UnsupportedGovernance(format!(
                "module {} (only \"Core\")",
                String::from_utf8_lossy(p[..32].trim_ascii_start()).trim_start_matches('\0')
            )));
        }
        let action = p[32];
        if action != 2 {
            return Err(BridgeError::UnsupportedGovernance(format!(
                "Core action {action} (only 2, guardian set upgrade)"
            )));
        }
        let chain = u16::from_be_bytes([p[33], p[34]]);
        if chain != 0 {
            return Err(BridgeError::BadGuardianSetUpgrade(format!(
                "for chain {chain} (guardian set upgrades are for chain 0)"
            )));
        }
        if p.len() < 40 {
            return Err(BridgeError::BadGuardianSetUpgrade("truncated".into()));
        }
        let new_index = u32::from_be_bytes(arr(&p[35..39]));
        let n = usize::from(p[39]);
        let want = 40 + 20 * n;
        if p.len() != want {
            return Err(BridgeError::BadGuardianSetUpgrade(format!(
                "{} bytes for {n} keys, expected exactly {want}",
                p.len()
            )));
        }
        if n == 0 {
            return Err(BridgeError::BadGuardianSetUpgrade("an empty set".into()));
        }
        let keys = p[40..].chunks_exact(20).map(arr::<20>).collect();
        Ok(GuardianSetUpgrade {
            chain,
            new_index,
            keys,
        })
    }

    /// The payload bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = core_module().to_vec();
        out.push(2);
        out.extend_from_slice(&self.chain.to_be_bytes());
        out.extend_from_slice(&self.new_index.to_be_bytes());
        out.push(u8::try_from(self.keys.len()).unwrap_or(u8::MAX));
        for k in &self.keys {
            out.extend_from_slice(k);
        }
        out
    }
}
