//! Stateful checks and execution (the second half of the pipeline): memo,
//! timeout and fee checks, account, sequence and signature, the fee
//! payment, then the messages in order, on a forked state.

use cnidarium::StateWrite;
use comrade_bank::auth::{AuthError, AuthRead as _, AuthWrite as _, event::EventTxAuthenticated};
use comrade_primitives::{
    ResultCode,
    component::{BlockContext, EventExt as _},
};

use crate::{
    error::{ExecError, reject},
    event::EventMessageExecuted,
    fees,
    metrics::Metrics,
    params::ChainParams,
    tx::DecodedTx,
};

/// Per-call context of the pipeline.
#[derive(Debug, Clone, Copy)]
pub struct ExecContext<'a> {
    /// The block (or, for CheckTx, the next height) the tx would land in.
    pub block: &'a BlockContext,
    /// Current params, validated.
    pub params: &'a ChainParams,
    /// The app's counters.
    pub metrics: &'a Metrics,
}

/// Checks `tx` against `state` and applies it. The caller runs this on a fork
/// and drops the fork on error, so a failed tx changes nothing.
/// `verified_for` is the account number the signature was already verified
/// for (by a parallel pre-check), if any; the check is skipped only when it
/// equals the signer's account number here. Returns the signer's account
/// number, for which the signature is now known to verify.
pub async fn check_and_execute<S: StateWrite>(
    state: &mut S,
    ctx: &ExecContext<'_>,
    tx: &DecodedTx,
    verified_for: Option<u64>,
) -> Result<u64, ExecError> {
    let p = ctx.params;
    let height = ctx.block.height;
    if tx.memo_len as u64 > p.auth.max_memo_bytes() {
        return reject(
            ResultCode::MemoTooLong,
            format!(
                "memo is {} bytes, max_memo_bytes is {}",
                tx.memo_len,
                p.auth.max_memo_bytes()
            ),
        );
    }
    if tx.timeout_height != 0 && height > tx.timeout_height {
        return reject(
            ResultCode::TxTimedOut,
            format!(
                "tx timed out at height {}, block is {height}",
                tx.timeout_height
            ),
        );
    }
    fees::check_fee(p, &tx.fee_denom, tx.fee_amount, tx.size)?;

    // Account, sequence, signature.
    let Some(account) = state.account(&tx.signer).await? else {
        return Err(AuthError::AccountNotFound(tx.signer).into());
    };
    if tx.sequence != account.sequence {
        return Err(AuthError::WrongSequence {
            address: tx.signer,
            expected: account.sequence,
            got: tx.sequence,
        }
        .into());
    }
    if !account.pub_key.is_empty() && account.pub_key != tx.pub_key {
        return Err(AuthError::PubKeyMismatch(tx.signer).into());
    }
    let account_number = account.account_number;
    if verified_for != Some(account_number) {
        tx.verify_signature(&ctx.block.chain_id, account_number, ctx.metrics)?;
    }

    fees::pay_fee(state, &tx.signer, tx.fee_amount).await?;
    let sequence = account.sequence;
    state.record_signed_tx(&tx.signer, account, &tx.pub_key)?;
    state.emit(EventTxAuthenticated {
        fee: tx.fee_amount,
        denom: p.bank.denom().to_string(),
        signer: tx.signer,
        sequence,
        signature: tx.signature_base64(),
    });

    for (i, msg) in tx.msgs.iter().enumerate() {
        state.emit(EventMessageExecuted {
            action: msg.type_url(),
            sender: tx.signer,
            module: msg.module(),
            msg_index: i,
        });
        msg.check_and_execute(state, ctx.block)
            .await
            .map_err(|e| match e {
                ExecError::Tx(t) => ExecError::Tx(t.prefixed(format_args!("message {i}"))),
                other => other,
            })?;
    }
    Ok(account_number)
}
