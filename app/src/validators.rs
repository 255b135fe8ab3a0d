//! The consensus validator set (static until the staking issue) and the
//! end-block fee split.

use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{Address, Amount};
use sha2::{Digest, Sha256};
use tendermint::abci::{Event, EventAttributeIndexExt as _};

use comrade_primitives::component::{BlockContext, Component};

use crate::{
    bank::credit,
    error::ExecError,
    genesis::module_accounts,
    params::Params,
    state::{AppStateReadExt, BankStateReadExt, BankStateWriteExt},
};

/// End-block fee distribution (see [`distribute_fees`]).
#[derive(Debug)]
pub struct Fees;

#[async_trait::async_trait]
impl Component for Fees {
    async fn end_block<S: StateRead + StateWrite>(
        state: &mut S,
        _ctx: &BlockContext<'_>,
    ) -> Result<(), ExecError> {
        let params = state.params().await?;
        distribute_fees(state, &params).await
    }
}

/// CometBFT's validator address: the first 20 bytes of `sha256(ed25519 key)`.
pub fn consensus_address(pub_key: &[u8; 32]) -> [u8; 20] {
    let d = Sha256::digest(pub_key);
    let mut out = [0u8; 20];
    out.copy_from_slice(&d[..20]);
    out
}

/// Splits the fee collector's balance: `treasury_fee_bps` to the treasury,
/// the rest to validators' operators pro rata by voting power (rounded down);
/// the rounding remainder also goes to the treasury. Records
/// `EventFeesDistributed`.
pub async fn distribute_fees<S: StateRead + StateWrite>(
    state: &mut S,
    params: &Params,
) -> Result<(), ExecError> {
    let collector = Address::module(module_accounts::FEE_COLLECTOR);
    let total = state.balance(&collector).await?;
    if total == 0 {
        return Ok(());
    }
    let validators = state.validators().await?;
    let total_power: Amount = validators
        .iter()
        .map(|(_, v)| Amount::try_from(v.power.max(0)).unwrap_or(0))
        .sum();
    let treasury_cut = mul_div(total, Amount::from(params.treasury_fee_bps), 10_000);
    let to_validators = total.saturating_sub(treasury_cut);
    let mut paid: Amount = 0;
    if total_power > 0 {
        for (_, v) in &validators {
            let power = Amount::try_from(v.power.max(0)).unwrap_or(0);
            let share = mul_div(to_validators, power, total_power);
            if share == 0 {
                continue;
            }
            let operator: Address = v
                .operator
                .parse()
                .map_err(|e| anyhow::anyhow!("corrupt validator operator in state: {e}"))?;
            credit(state, &operator, share).await?;
            paid = paid.saturating_add(share);
        }
    }
    let to_treasury = total.saturating_sub(paid);
    credit(
        state,
        &Address::module(module_accounts::TREASURY),
        to_treasury,
    )
    .await?;
    state.put_balance(&collector, 0);
    state.record(Event::new(
        "EventFeesDistributed",
        [
            ("total", total.to_string()).no_index(),
            ("validators", paid.to_string()).no_index(),
            ("treasury", to_treasury.to_string()).no_index(),
        ],
    ));
    Ok(())
}

/// `a * b / c` rounded down; exact whenever `b <= c < 2^64` (voting powers
/// are below 2^61 and basis points below 10^4), which is every use here.
pub fn mul_div(a: Amount, b: Amount, c: Amount) -> Amount {
    if c == 0 {
        return 0;
    }
    // a*b/c = q*b + r*b/c with r < c < 2^64, so r*b < 2^128.
    let q = a.checked_div(c).unwrap_or(0);
    let r = a.checked_rem(c).unwrap_or(0);
    q.saturating_mul(b)
        .saturating_add(r.saturating_mul(b).checked_div(c).unwrap_or(0))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn mul_div_matches_wide_math(a in any::<u64>(), b in 0u64..=10_000, c in 1u64..=10_000) {
            let expected = (u128::from(a) * u128::from(b)) / u128::from(c);
            prop_assert_eq!(mul_div(a.into(), b.into(), c.into()), expected);
        }
    }
}
