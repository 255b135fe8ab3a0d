//! Stateful checks and execution (the second half of the pipeline):
//! fee, sequence, signature, then messages in order, on a forked state.

use anyhow::Context as _;
use cnidarium::{StateRead, StateWrite};
use comrade_primitives::{
    Address, ResultCode,
    component::{ActionHandler, BlockContext},
};

use crate::{
    bank::credit,
    error::{ExecError, TxError, reject},
    genesis::module_accounts,
    params::Params,
    state::{AuthStateReadExt, AuthStateWriteExt, BankStateReadExt, BankStateWriteExt},
    tx::{DecodedTx, Msg},
};

/// Per-call context of the pipeline.
#[derive(Debug, Clone)]
pub struct ExecContext<'a> {
    /// Chain id the signature must be made for.
    pub chain_id: &'a str,
    /// Height of the block the tx would land in.
    pub height: u64,
    /// Current params.
    pub params: &'a Params,
}

impl ExecContext<'_> {
    /// The part of the context every component sees.
    pub fn block(&self) -> BlockContext<'_> {
        BlockContext {
            chain_id: self.chain_id,
            height: self.height,
        }
    }
}

/// Checks `tx` against `state` and applies it. The caller runs this on a fork
/// and drops the fork on error, so a failed tx changes nothing.
/// `verified_for` is the account number the signature was already verified
/// for (by a parallel pre-check), if any; the check is skipped only when it
/// equals the signer's account number here. Returns the signer's account
/// number, for which the signature is now known to verify.
pub async fn check_and_execute<S: StateRead + StateWrite>(
    state: &mut S,
    ctx: &ExecContext<'_>,
    tx: &DecodedTx,
    verified_for: Option<u64>,
) -> Result<u64, ExecError> {
    let p = ctx.params;
    if tx.memo_len as u64 > p.max_memo_bytes {
        return reject(
            ResultCode::MemoTooLong,
            format!(
                "memo is {} bytes, max_memo_bytes is {}",
                tx.memo_len, p.max_memo_bytes
            ),
        );
    }
    if tx.timeout_height != 0 && ctx.height > tx.timeout_height {
        return reject(
            ResultCode::TxTimedOut,
            format!(
                "tx timed out at height {}, block is {}",
                tx.timeout_height, ctx.height
            ),
        );
    }
    if tx.fee_denom != p.denom {
        return reject(
            ResultCode::UnknownDenom,
            format!(
                "fee denom {:?} is unknown: the only denom is {:?}",
                tx.fee_denom, p.denom
            ),
        );
    }
    let min_fee = p.min_fee(tx.size);
    if tx.fee_amount < min_fee {
        return reject(
            ResultCode::FeeTooLow,
            format!(
                "fee {}{} is below the minimum {min_fee}{} for a {}-byte tx",
                tx.fee_amount, p.denom, p.denom, tx.size
            ),
        );
    }

    // Account, sequence, signature.
    let Some(mut account) = state.account(&tx.signer).await? else {
        return reject(
            ResultCode::AccountNotFound,
            format!("account {} does not exist: fund it first", tx.signer),
        );
    };
    if tx.sequence != account.sequence {
        return reject(
            ResultCode::WrongSequence,
            format!(
                "account sequence mismatch for {}: expected {}, got {}",
                tx.signer, account.sequence, tx.sequence
            ),
        );
    }
    if !account.pub_key.is_empty() && account.pub_key != tx.pub_key {
        return reject(
            ResultCode::InvalidSigner,
            format!(
                "public key does not match the one registered for {}",
                tx.signer
            ),
        );
    }
    let account_number = account.account_number;
    if verified_for != Some(account_number) {
        tx.verify_signature(ctx.chain_id, account_number)?;
    }

    // Fee.
    let balance = state.balance(&tx.signer).await?;
    let Some(after_fee) = balance.checked_sub(tx.fee_amount) else {
        return reject(
            ResultCode::InsufficientFunds,
            format!(
                "{} has {balance}{} and cannot pay the fee {}{}",
                tx.signer, p.denom, tx.fee_amount, p.denom
            ),
        );
    };
    state.put_balance(&tx.signer, after_fee);
    credit(
        state,
        &Address::module(module_accounts::FEE_COLLECTOR),
        tx.fee_amount,
    )
    .await?;
    account.sequence = account
        .sequence
        .checked_add(1)
        .context("sequence overflow")?;
    account.pub_key.clone_from(&tx.pub_key);
    state.put_account(&tx.signer, &account);

    let block = ctx.block();
    for (i, msg) in tx.msgs.iter().enumerate() {
        match msg {
            Msg::Send(m) => m.check_and_execute(state, &block).await,
        }
        .map_err(|e| match e {
            ExecError::Tx(t) => {
                ExecError::Tx(TxError::new(t.code, format!("message {i}: {}", t.message)))
            }
            other => other,
        })?;
    }
    Ok(account_number)
}
