//! Account addresses: 20 bytes, shown as bech32 with prefix `comrade`.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The bech32 human-readable prefix of account addresses.
pub const BECH32_PREFIX: &str = "comrade";

/// Errors parsing an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The string is not valid bech32.
    #[error("invalid bech32 address {0:?}: {1}")]
    Bech32(String, String),
    /// The prefix is not `comrade`.
    #[error("address {addr:?} has prefix {prefix:?}, expected \"comrade\"")]
    WrongPrefix {
        /// The address.
        addr: String,
        /// Its prefix.
        prefix: String,
    },
    /// The payload is not 20 bytes.
    #[error("address {0:?} has {1} bytes, expected 20")]
    WrongLength(String, usize),
}

/// A 20-byte account address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The address of a module account, derived from its name:
    /// the first 20 bytes of `sha256("comrade/module/" ++ name)`.
    pub fn module(name: &str) -> Self {
        let digest = Sha256::digest(format!("comrade/module/{name}").as_bytes());
        let mut out = [0u8; 20];
        out.copy_from_slice(&digest[..20]);
        Address(out)
    }

    /// The Cosmos SDK address of a compressed secp256k1 public key:
    /// `ripemd160(sha256(pubkey))` is computed by the caller (cosmrs); this
    /// wraps the 20 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AddressError> {
        let arr: [u8; 20] = bytes
            .try_into()
            .map_err(|_| AddressError::WrongLength(hex::encode(bytes), bytes.len()))?;
        Ok(Address(arr))
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 20] {
        &self.0
    }
}

/// The bech32 alphabet.
const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// One step of the bech32 checksum (BIP-173 `polymod`).
fn polymod_step(chk: u32, value: u8) -> u32 {
    polymod_step_const(chk, value)
}

impl Address {
    /// Bech32 (BIP-173) of the 20 bytes with prefix `comrade`, without
    /// allocating: 160 bits are exactly 32 five-bit groups. Addresses are
    /// printed into every state key and event, so this is on the hot path;
    /// a proptest checks it against the `bech32` crate.
    fn encode_bech32(&self) -> [u8; 46] {
        const HRP: &[u8; 7] = b"comrade";
        let mut out = [0u8; 46];
        out[..7].copy_from_slice(HRP);
        out[7] = b'1';
        let mut chk: u32 = 1;
        for c in HRP {
            chk = polymod_step(chk, c >> 5);
        }
        chk = polymod_step(chk, 0);
        for c in HRP {
            chk = polymod_step(chk, c & 31);
        }
        // 5 bytes -> 8 groups, four times.
        for (i, chunk) in self.0.chunks_exact(5).enumerate() {
            let mut acc: u64 = 0;
            for b in chunk {
                acc = (acc << 8) | u64::from(*b);
            }
            for j in 0..8 {
                let v = ((acc >> (35 - 5 * j)) & 31) as u8;
                chk = polymod_step(chk, v);
                out[8 + i * 8 + j] = CHARSET[usize::from(v)];
            }
        }
        for _ in 0..6 {
            chk = polymod_step(chk, 0);
        }
        chk ^= 1;
        for j in 0..6 {
            out[40 + j] = CHARSET[((chk >> (5 * (5 - j))) & 31) as usize];
        }
        out
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.encode_bech32();
        // The buffer holds only ASCII from HRP and CHARSET.
        f.write_str(std::str::from_utf8(&s).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl Address {
    /// The common case of [`FromStr`] without the `bech32` crate's generic
    /// decoder (which was ~8% of CheckTx): exactly `comrade1` + 38 lowercase
    /// characters with a valid bech32 (not bech32m) checksum. `None` for
    /// anything else, which then takes the crate's path for its exact error
    /// (or to accept what the crate also accepts, e.g. upper case). A
    /// proptest checks that both agree.
    fn decode_bech32_fast(s: &str) -> Option<Self> {
        const HRP_EXPANDED_CHK: u32 = {
            // polymod over the expanded HRP "comrade", computed at compile time.
            let hrp = b"comrade";
            let mut chk: u32 = 1;
            let mut i = 0;
            while i < hrp.len() {
                chk = polymod_step_const(chk, hrp[i] >> 5);
                i += 1;
            }
            chk = polymod_step_const(chk, 0);
            let mut i = 0;
            while i < hrp.len() {
                chk = polymod_step_const(chk, hrp[i] & 31);
                i += 1;
            }
            chk
        };
        let b = s.as_bytes();
        if b.len() != 46 || !b.starts_with(b"comrade1") {
            return None;
        }
        let mut chk = HRP_EXPANDED_CHK;
        let mut out = [0u8; 20];
        let mut acc: u64 = 0;
        for (i, c) in b[8..].iter().enumerate() {
            let v = *CHARSET_REV.get(usize::from(*c))?;
            if v > 31 {
                return None;
            }
            chk = polymod_step(chk, v);
            if i < 32 {
                acc = (acc << 5) | u64::from(v);
                // Every 8 groups are 5 whole bytes.
                if i % 8 == 7 {
                    let base = (i / 8) * 5;
                    for (j, o) in out[base..base + 5].iter_mut().enumerate() {
                        *o = ((acc >> (32 - 8 * j)) & 0xff) as u8;
                    }
                    acc = 0;
                }
            }
        }
        (chk == 1).then_some(Address(out))
    }
}

/// `polymod_step` for constant evaluation.
const fn polymod_step_const(chk: u32, value: u8) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let top = chk >> 25;
    let mut chk = ((chk & 0x01ff_ffff) << 5) ^ value as u32;
    let mut i = 0;
    while i < 5 {
        if (top >> i) & 1 == 1 {
            chk ^= GEN[i];
        }
        i += 1;
    }
    chk
}

/// Lowercase bech32 character -> 5-bit value; 255 for anything else.
const CHARSET_REV: [u8; 128] = {
    let mut t = [255u8; 128];
    let mut i = 0;
    while i < 32 {
        // i < 32: the cast is exact (a const fn cannot use `try_from`).
        #[allow(clippy::cast_possible_truncation)]
        let v = i as u8;
        t[CHARSET[i] as usize] = v;
        i += 1;
    }
    t
};

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(a) = Self::decode_bech32_fast(s) {
            return Ok(a);
        }
        let (hrp, data) =
            bech32::decode(s).map_err(|e| AddressError::Bech32(s.to_string(), e.to_string()))?;
        if hrp.as_str() != BECH32_PREFIX {
            return Err(AddressError::WrongPrefix {
                addr: s.to_string(),
                prefix: hrp.to_string(),
            });
        }
        let arr: [u8; 20] = data
            .as_slice()
            .try_into()
            .map_err(|_| AddressError::WrongLength(s.to_string(), data.len()))?;
        Ok(Address(arr))
    }
}

impl serde::Serialize for Address {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Address {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bech32::{Bech32, Hrp};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bech32_round_trip(bytes in any::<[u8; 20]>()) {
            let a = Address(bytes);
            let s = a.to_string();
            prop_assert!(s.starts_with("comrade1"));
            prop_assert_eq!(s.parse::<Address>().unwrap(), a);
            let reference = bech32::encode::<Bech32>(Hrp::parse("comrade").unwrap(), &bytes).unwrap();
            prop_assert_eq!(s, reference);
        }
    }

    /// What `FromStr` answers without the fast path.
    fn parse_with_crate(s: &str) -> Option<Address> {
        let (hrp, data) = bech32::decode(s).ok()?;
        (hrp.as_str() == BECH32_PREFIX)
            .then(|| data.as_slice().try_into().ok().map(Address))
            .flatten()
    }

    proptest! {
        /// The fast decoder agrees with the crate on valid addresses and on
        /// every single-character change, truncation and case change of them.
        #[test]
        fn fast_decoder_agrees_with_crate(
            bytes in any::<[u8; 20]>(),
            pos in 0usize..46,
            ch in any::<u8>(),
            cut in 0usize..46,
        ) {
            let good = Address(bytes).to_string();
            prop_assert_eq!(Address::decode_bech32_fast(&good), Some(Address(bytes)));
            let mut changed = good.clone().into_bytes();
            changed[pos] = ch & 0x7f;
            let changed = String::from_utf8(changed).unwrap();
            let variants = [changed, good[..cut].to_string(), good.to_uppercase()];
            for v in variants {
                let crate_says = parse_with_crate(&v);
                if let Some(fast) = Address::decode_bech32_fast(&v) {
                    prop_assert_eq!(Some(fast), crate_says, "{}", v);
                }
                prop_assert_eq!(v.parse::<Address>().ok(), crate_says, "{}", v);
            }
        }
    }

    #[test]
    fn rejects_wrong_prefix_and_junk() {
        let cosmos = bech32::encode::<Bech32>(Hrp::parse("cosmos").unwrap(), &[1u8; 20]).unwrap();
        assert!(matches!(
            cosmos.parse::<Address>(),
            Err(AddressError::WrongPrefix { .. })
        ));
        assert!(matches!(
            "comrade1xyz".parse::<Address>(),
            Err(AddressError::Bech32(..))
        ));
        let short = bech32::encode::<Bech32>(Hrp::parse("comrade").unwrap(), &[1u8; 19]).unwrap();
        assert!(matches!(
            short.parse::<Address>(),
            Err(AddressError::WrongLength(_, 19))
        ));
    }

    #[test]
    fn module_addresses_differ() {
        assert_ne!(
            Address::module("treasury"),
            Address::module("fee_collector")
        );
    }
}
