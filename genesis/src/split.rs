//! Exact integer arithmetic for splitting supply: 256-bit `a * b / c` and the
//! largest-remainder (Hamilton) pro-rata split.

use comrade_primitives::Amount;

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

/// Why a pro-rata split is impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// There is nothing to split among.
    #[error("no recipients to split {0} among")]
    NoRecipients(Amount),
    /// A weight is zero.
    #[error("weight of recipient #{0} is zero; weights must be positive")]
    ZeroWeight(usize),
    /// The weights add up to more than 2^128 - 1.
    #[error("the weights add up to more than 2^128 - 1")]
    WeightOverflow,
}

/// Splits `total` pro rata by `weights` so that the parts add up to `total`
/// exactly, using the largest-remainder method: each part is first rounded
/// down, then the leftover units go one each to the parts with the largest
/// rounding remainders, ties broken by position (earlier first).
///
/// If the weights add up to `total`, each part equals its weight, so weights
/// may also be given as exact amounts.
pub fn split_pro_rata(total: Amount, weights: &[u128]) -> Result<Vec<Amount>, SplitError> {
    if weights.is_empty() {
        return Err(SplitError::NoRecipients(total));
    }
    let mut sum: u128 = 0;
    for (i, w) in weights.iter().enumerate() {
        if *w == 0 {
            return Err(SplitError::ZeroWeight(i));
        }
        sum = sum.checked_add(*w).ok_or(SplitError::WeightOverflow)?;
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    let mut given: Amount = 0;
    for (i, w) in weights.iter().enumerate() {
        // w <= sum, so the quotient is at most `total` and fits.
        let (q, r) = mul_div_rem(total, *w, sum).expect("w <= sum, sum > 0");
        parts.push(q);
        remainders.push((r, i));
        given = given.checked_add(q).expect("parts sum to at most total");
    }
    // sum(floor) > total - n, so fewer than n units are left over.
    let leftover = total
        .checked_sub(given)
        .expect("parts sum to at most total");
    remainders.sort_by(|(ra, ia), (rb, ib)| rb.cmp(ra).then(ia.cmp(ib)));
    let leftover = usize::try_from(leftover).expect("leftover < number of recipients");
    for &(_, i) in remainders.iter().take(leftover) {
        parts[i] = parts[i].checked_add(1).expect("part < total");
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    fn split_examples() {
        assert_eq!(split_pro_rata(10, &[1, 1, 1]).unwrap(), vec![4, 3, 3]);
        assert_eq!(split_pro_rata(10, &[1, 2]).unwrap(), vec![3, 7]);
        assert_eq!(split_pro_rata(7, &[3, 4]).unwrap(), vec![3, 4]);
        assert_eq!(split_pro_rata(0, &[5]).unwrap(), vec![0]);
        assert_eq!(split_pro_rata(5, &[]), Err(SplitError::NoRecipients(5)));
        assert_eq!(split_pro_rata(5, &[1, 0]), Err(SplitError::ZeroWeight(1)));
        assert_eq!(
            split_pro_rata(5, &[u128::MAX, 1]),
            Err(SplitError::WeightOverflow)
        );
    }

    proptest! {
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
        fn split_sums_exactly_and_is_fair(
            total in any::<u128>(),
            weights in proptest::collection::vec(1..u128::MAX / 1024, 1..40),
        ) {
            let parts = split_pro_rata(total, &weights).unwrap();
            let sum = parts.iter().try_fold(0u128, |s, p| s.checked_add(*p));
            prop_assert_eq!(sum, Some(total));
            let wsum: u128 = weights.iter().sum();
            for (p, w) in parts.iter().zip(&weights) {
                // each part is its exact share rounded down or up
                let (q, _) = mul_div_rem(total, *w, wsum).unwrap();
                prop_assert!(*p == q || *p == q + 1);
            }
        }
    }
}
