//! Account addresses: 20 bytes, shown as bech32 with prefix `comrade`.

use std::fmt;
use std::str::FromStr;

use bech32::{Bech32, Hrp};
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

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hrp = Hrp::parse_unchecked(BECH32_PREFIX);
        match bech32::encode::<Bech32>(hrp, &self.0) {
            Ok(s) => f.write_str(&s),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
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
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bech32_round_trip(bytes in any::<[u8; 20]>()) {
            let a = Address(bytes);
            let s = a.to_string();
            prop_assert!(s.starts_with("comrade1"));
            prop_assert_eq!(s.parse::<Address>().unwrap(), a);
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
