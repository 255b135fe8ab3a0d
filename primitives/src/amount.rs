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

/// `(a * b / c, a * b % c)` computed exactly with a 256-bit intermediate.
///
/// Returns `None` when `c == 0` or the quotient does not fit 128 bits (it
/// always fits when `b <= c`).
pub fn mul_div_rem(a: u128, b: u128, c: u128) -> Option<(u128, u128)> {
    if c == 0 {
        return None;
    }
    let (hi, lo) = mul_wide(a, b);
    if hi == 0 {
        return Some((lo / c, lo % c));
    }
    if hi >= c {
        // quotient >= 2^128
        return None;
    }
    // Binary long division of (hi, lo) by c; `rem` starts as hi < c.
    let mut rem = hi;
    let mut q: u128 = 0;
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            q |= 1;
        }
    }
    Some((q, rem))
}

/// The full 256-bit product `a * b` as `(high, low)` 128-bit halves.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    const MASK: u128 = u64::MAX as u128;
    let (a1, a0) = (a >> 64, a & MASK);
    let (b1, b0) = (b >> 64, b & MASK);
    // Each partial product of two 64-bit halves fits in 128 bits.
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    // middle = (p00 >> 64) + low64(p01) + low64(p10) < 3 * 2^64: no overflow.
    let middle = (p00 >> 64) + (p01 & MASK) + (p10 & MASK);
    let lo = (p00 & MASK) | (middle << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (middle >> 64);
    (hi, lo)
}

/// `a * b / c` rounded down, exact for every input (256-bit intermediate).
/// `None` when `c == 0` or the quotient does not fit 128 bits (it always
/// fits when `b <= c`). The one mul-div of the chain: fee splits, pro-rata
/// rewards and shares in basis points all use it.
pub fn mul_div(a: Amount, b: Amount, c: Amount) -> Option<Amount> {
    mul_div_rem(a, b, c).map(|(q, _)| q)
}

/// `amount * bps / 10_000` rounded down: a share in basis points. `None`
/// when `bps > 10_000` would make the share exceed 2^128 - 1.
pub fn bps_share(amount: Amount, bps: u32) -> Option<Amount> {
    mul_div(amount, Amount::from(bps), 10_000)
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
        // Splitting into limbs: the truncation to 64 bits is the point.
        #[allow(clippy::cast_possible_truncation)]
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
        fn mul_div_matches_u128_when_it_fits(a in any::<u64>(), b in any::<u64>(), c in 1..u64::MAX) {
            let (a, b, c) = (u128::from(a), u128::from(b), u128::from(c));
            prop_assert_eq!(mul_div_rem(a, b, c), Some((a * b / c, a * b % c)));
        }

        #[test]
        fn mul_div_identity(a in any::<u128>(), b in 1..u128::MAX) {
            // a * b / b == a, remainder 0
            prop_assert_eq!(mul_div_rem(a, b, b), Some((a, 0)));
        }

        #[test]
        fn mul_div_matches_wide_math(a in any::<u64>(), b in 0u64..=10_000, c in 1u64..=10_000) {
            let expected = (u128::from(a) * u128::from(b)) / u128::from(c);
            prop_assert_eq!(mul_div(a.into(), b.into(), c.into()), Some(expected));
        }

        #[test]
        fn decimal_round_trip(a in any::<u128>()) {
            prop_assert_eq!(parse_amount(&a.to_string()).unwrap(), a);
        }
    }

    #[test]
    fn mul_div_small_and_huge() {
        assert_eq!(mul_div_rem(10, 3, 4), Some((7, 2)));
        assert_eq!(
            mul_div_rem(u128::MAX, u128::MAX, u128::MAX),
            Some((u128::MAX, 0))
        );
        assert_eq!(mul_div_rem(u128::MAX, 2, 3), Some((u128::MAX / 3 * 2, 0)));
        assert_eq!(mul_div_rem(u128::MAX, 2, 1), None);
        assert_eq!(mul_div_rem(1, 1, 0), None);
    }

    #[test]
    fn bps_share_is_exact() {
        assert_eq!(bps_share(10_001, 2_000), Some(2_000));
        assert_eq!(bps_share(u128::MAX, 10_000), Some(u128::MAX));
        assert_eq!(bps_share(u128::MAX, 10_001), None);
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
