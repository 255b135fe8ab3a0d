//! The largest-remainder (Hamilton) pro-rata split of supply, on the exact
//! 256-bit `a * b / c` of [`comrade_primitives::amount`].

use comrade_primitives::Amount;
pub use comrade_primitives::amount::mul_div_rem;

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
