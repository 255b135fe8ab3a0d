//! Token amounts: unsigned 128-bit integers of base units.

use crate::proto::bank::v1 as pb;

/// An amount of base units. Arithmetic on it is always checked.
pub type Amount = u128;

/// Errors parsing an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a plain decimal integer, or larger than 2^128 - 1.
    #[error("invalid amount {0:?}: expected a decimal integer below 2^128")]
    Invalid(String),
}

/// Parses a decimal amount string (digits only, no sign, no exponent).
pub fn parse_amount(s: &str) -> Result<Amount, AmountError> {
    if s.is_empty() || s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::Invalid(s.to_string()));
    }
    s.parse::<u128>()
        .map_err(|_| AmountError::Invalid(s.to_string()))
}

impl From<Amount> for pb::Amount {
    fn from(a: Amount) -> Self {
        pb::Amount {
            lo: a as u64,
            hi: (a >> 64) as u64,
        }
    }
}

impl From<pb::Amount> for Amount {
    fn from(a: pb::Amount) -> Self {
        (u128::from(a.hi) << 64) | u128::from(a.lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use prost::Message;

    proptest! {
        #[test]
        fn proto_round_trip(a in any::<u128>()) {
            let p: pb::Amount = a.into();
            let bytes = p.encode_to_vec();
            let back = pb::Amount::decode(bytes.as_slice()).unwrap();
            prop_assert_eq!(Amount::from(back), a);
        }

        #[test]
        fn decimal_round_trip(a in any::<u128>()) {
            prop_assert_eq!(parse_amount(&a.to_string()).unwrap(), a);
        }
    }

    #[test]
    fn rejects_bad_amounts() {
        for s in [
            "",
            "-1",
            "1e5",
            " 1",
            "340282366920938463463374607431768211456",
            "0x10",
        ] {
            assert!(parse_amount(s).is_err(), "{s}");
        }
    }
}
