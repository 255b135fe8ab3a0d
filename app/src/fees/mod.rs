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

use crate::{
    genesis::module_accounts, state::AppStateReadExt as _, validators::ValidatorsRead as _,
};

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

    async fn end_block<S: StateWrite>(state: &mut S, ctx: &BlockContext) -> Result<(), ExecError> {
        let params = state.chain_params()?;
        distribute_fees(state, &params.fees, &signers(ctx)).await
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
        .transfer(
            payer,
            &Address::module(module_accounts::FEE_COLLECTOR),
            amount,
        )
        .await
}

/// Who gets a share of this block's fees: the validators whose vote for
/// the previous block is in its last commit ("rewards by signed blocks").
/// A block without a last commit (the first block) has no record of who
/// signed, and then every validator shares by power.
pub fn signers(ctx: &BlockContext) -> Signers {
    if ctx.last_commit.is_empty() {
        return Signers::All;
    }
    Signers::Only(
        ctx.last_commit
            .iter()
            .filter(|v| v.flag == comrade_primitives::component::VoteFlag::Commit)
            .map(|v| v.validator)
            .collect(),
    )
}

/// The validators a fee split pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signers {
    /// Every validator of the set (no last commit to go by).
    All,
    /// Only these consensus addresses (those that signed the last block).
    Only(std::collections::BTreeSet<[u8; 20]>),
}

/// Splits the fee collector's balance: `treasury_fee_bps` to the treasury,
/// the rest to the operators of the validators in `signers`, pro rata by
/// their voting power (rounded down), as the Cosmos SDK pays the voters of
/// the last commit; the rounding remainder also goes to the treasury.
/// Records [`EventFeesDistributed`].
pub async fn distribute_fees<S: StateWrite>(
    state: &mut S,
    params: &FeeParams,
    signers: &Signers,
) -> Result<(), ExecError> {
    let collector = Address::module(module_accounts::FEE_COLLECTOR);
    let total = state.balance(&collector).await?;
    if total == 0 {
        return Ok(());
    }
    let validators = state.validators().await?;
    let powers: Vec<Amount> = validators
        .iter()
        .map(|(addr, v)| match signers {
            Signers::Only(s) if !s.contains(addr) => 0,
            _ => Amount::try_from(v.power.max(0)).unwrap_or(0),
        })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{
        genesis::{AppState, GenesisValidator},
        params::{ChainParams, Params},
        state::load_params,
    };
    use base64::Engine as _;
    use cnidarium::{StateDelta, TempStorage};

    /// A genesis state with two validators of power 1 and 3 and a funded
    /// payer, and the payer.
    async fn chain(storage: &TempStorage) -> (StateDelta<cnidarium::Snapshot>, Address) {
        let payer = Address([9; 20]);
        let validators = (1u8..=2)
            .map(|i| GenesisValidator {
                name: format!("v{i}"),
                pub_key: base64::engine::general_purpose::STANDARD.encode(
                    ed25519_consensus::SigningKey::from([i; 32])
                        .verification_key()
                        .to_bytes(),
                ),
                power: if i == 1 { 1 } else { 3 },
                operator: Address([i; 20]).to_string(),
            })
            .collect();
        // Each operator holds exactly its self-stake, which genesis bonds.
        let balances = [
            (payer, 1_000_000),
            (Address([1; 20]), 1_000_000),
            (Address([2; 20]), 3_000_000),
        ];
        let g = AppState::dev(Params::default(), &balances, validators)
            .validate()
            .unwrap();
        let mut state = StateDelta::new(storage.latest_snapshot());
        load_params(&mut state, ChainParams::try_from(&g.params).unwrap());
        crate::modules::init_chain(&mut state, &g.sections())
            .await
            .unwrap();
        (state, payer)
    }

    #[tokio::test]
    async fn fees_end_block_splits_collected_fees_by_power_and_treasury_share() {
        let storage = TempStorage::new().await.unwrap();
        let (mut state, payer) = chain(&storage).await;
        pay_fee(&mut state, &payer, 10_001).await.unwrap();
        let mut fork = StateDelta::new(&mut state);
        Fees::end_block(&mut fork, &BlockContext::mempool("c", 1))
            .await
            .unwrap();
        let (_, events) = fork.apply();
        let events: Vec<_> = events
            .into_iter()
            .filter(|e| !["coin_spent", "coin_received", "transfer"].contains(&e.kind.as_str()))
            .collect();
        // 20% of 10,001 = 2,000 to the treasury; 8,001 split 1:3 rounded
        // down (2,000 and 6,000); the remainder 1 also to the treasury.
        let v1 = state.balance(&Address([1; 20])).await.unwrap();
        let v2 = state.balance(&Address([2; 20])).await.unwrap();
        let treasury = state
            .balance(&Address::module(module_accounts::TREASURY))
            .await
            .unwrap();
        assert_eq!((v1, v2, treasury), (2_000, 6_000, 2_001));
        let collector = Address::module(module_accounts::FEE_COLLECTOR);
        assert_eq!(state.balance(&collector).await.unwrap(), 0);
        assert_eq!(state.supply().await.unwrap(), 5_000_000);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "EventFeesDistributed");
    }

    #[tokio::test]
    async fn fees_go_to_the_validators_that_signed_the_last_block() {
        use comrade_primitives::component::{CommitVote, VoteFlag};
        let storage = TempStorage::new().await.unwrap();
        let (mut state, payer) = chain(&storage).await;
        pay_fee(&mut state, &payer, 10_000).await.unwrap();
        let key = |i: u8| {
            crate::validators::consensus_address(
                &ed25519_consensus::SigningKey::from([i; 32])
                    .verification_key()
                    .to_bytes(),
            )
        };
        // v2 (power 3) missed the last block; v1 (power 1) signed it.
        let mut ctx = BlockContext::mempool("c", 2);
        ctx.last_commit = vec![
            CommitVote {
                validator: key(1),
                power: 1,
                flag: VoteFlag::Commit,
            },
            CommitVote {
                validator: key(2),
                power: 3,
                flag: VoteFlag::Absent,
            },
        ];
        let mut fork = StateDelta::new(&mut state);
        Fees::end_block(&mut fork, &ctx).await.unwrap();
        fork.apply();
        // 20 % to the treasury, all of the other 8,000 to v1
        assert_eq!(state.balance(&Address([1; 20])).await.unwrap(), 8_000);
        assert_eq!(state.balance(&Address([2; 20])).await.unwrap(), 0);
        assert_eq!(
            state
                .balance(&Address::module(module_accounts::TREASURY))
                .await
                .unwrap(),
            2_000
        );
    }

    #[test]
    fn fees_reject_foreign_denom_and_fee_below_minimum() {
        let p = ChainParams::try_from(&Params::default()).unwrap();
        let min = p.fees.min_fee(300);
        assert!(check_fee(&p, "ucomrade", min, 300).is_ok());
        assert!(matches!(
            check_fee(&p, "ucomrade", min - 1, 300),
            Err(FeeError::TooLow { .. })
        ));
        assert!(matches!(
            check_fee(&p, "uatom", min, 300),
            Err(FeeError::UnknownDenom { .. })
        ));
    }
}
