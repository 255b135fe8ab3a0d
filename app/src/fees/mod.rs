//! Fees: the minimum fee every tx pays (checked in the tx pipeline), and the
//! end-block split of the collected fees between the validators (by voting
//! power) and the treasury.

pub mod error;
pub mod event;
pub mod params;

use async_trait::async_trait;
use cnidarium::StateWrite;
use comrade_bank::BankWrite as _;
use comrade_bank::bank::BankRead as _;
use comrade_primitives::{
    Address, Amount, ExecError, InternalError,
    amount::{bps_share, mul_div},
    component::{BlockContext, Component, EventExt as _},
};

pub use error::FeeError;
pub use event::EventFeesDistributed;
pub use params::FeeParams;

use crate::{genesis::module_accounts, state::AppStateReadExt as _, validators::ValidatorsRead as _};

/// The fee component: splits the fee collector's balance at every block's
/// end.
#[derive(Debug)]
pub struct Fees;

#[async_trait]
impl Component for Fees {
    type Genesis = ();

    async fn init_chain<S: StateWrite>(_state: &mut S, _genesis: &()) -> Result<(), ExecError> {
        Ok(())
    }

    async fn end_block<S: StateWrite>(
        state: &mut S,
        _ctx: &BlockContext,
    ) -> Result<(), ExecError> {
        let params = state.chain_params()?;
        distribute_fees(state, &params.fees).await
    }
}

/// Checks the fee a tx offers before anything is charged: the native denom,
/// and at least the minimum for its size.
pub fn check_fee(
    params: &crate::params::ChainParams,
    denom: &str,
    amount: Amount,
    size: usize,
) -> Result<(), FeeError> {
    let native = params.bank.denom();
    if denom != native {
        return Err(FeeError::UnknownDenom {
            denom: denom.to_string(),
            expected: native.to_string(),
        });
    }
    let min = params.fees.min_fee(size);
    if amount < min {
        return Err(FeeError::TooLow {
            fee: amount,
            min,
            denom: native.to_string(),
            size,
        });
    }
    Ok(())
}

/// Moves a tx's fee from its signer to the fee collector.
pub async fn pay_fee<S: StateWrite>(
    state: &mut S,
    payer: &Address,
    amount: Amount,
) -> Result<(), ExecError> {
    state
        .transfer(payer, &Address::module(module_accounts::FEE_COLLECTOR), amount)
        .await
}

/// Splits the fee collector's balance: `treasury_fee_bps` to the treasury,
/// the rest to validators' operators pro rata by voting power (rounded down);
/// the rounding remainder also goes to the treasury. Records
/// [`EventFeesDistributed`].
pub async fn distribute_fees<S: StateWrite>(
    state: &mut S,
    params: &FeeParams,
) -> Result<(), ExecError> {
    let collector = Address::module(module_accounts::FEE_COLLECTOR);
    let total = state.balance(&collector).await?;
    if total == 0 {
        return Ok(());
    }
    let validators = state.validators().await?;
    let powers: Vec<Amount> = validators
        .iter()
        .map(|(_, v)| Amount::try_from(v.power.max(0)).unwrap_or(0))
        .collect();
    let total_power = powers
        .iter()
        .try_fold(0, |sum: Amount, p| sum.checked_add(*p))
        .ok_or_else(|| InternalError::invariant("total voting power overflows"))?;
    let treasury_cut = bps_share(total, params.treasury_fee_bps())
        .ok_or_else(|| InternalError::invariant("treasury_fee_bps above 10000"))?;
    let to_validators = total.saturating_sub(treasury_cut);
    let mut paid: Amount = 0;
    if total_power > 0 {
        for ((_, v), power) in validators.iter().zip(&powers) {
            // power <= total_power, so the share fits.
            let share = mul_div(to_validators, *power, total_power)
                .ok_or_else(|| InternalError::invariant("fee share exceeds the fees"))?;
            if share == 0 {
                continue;
            }
            let operator: Address = v.operator.parse().map_err(|e| InternalError::Corrupt {
                key: format!("validator {}", v.name),
                reason: format!("operator address: {e}"),
            })?;
            state.transfer(&collector, &operator, share).await?;
            paid = paid.saturating_add(share);
        }
    }
    let to_treasury = total.saturating_sub(paid);
    state
        .transfer(
            &collector,
            &Address::module(module_accounts::TREASURY),
            to_treasury,
        )
        .await?;
    state.emit(EventFeesDistributed {
        total,
        validators: paid,
        treasury: to_treasury,
    });
    Ok(())
}
