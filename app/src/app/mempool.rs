//! `CheckTx`: the pipeline against the mempool's state.

use anyhow::Result;
use cnidarium::StateDelta;
use comrade_primitives::{ResultCode, TxError, component::BlockContext};
use tendermint_proto::v0_38::abci::{CheckTxType, ExecTxResult, RequestCheckTx, ResponseCheckTx};

use super::{App, PRE_GENESIS, pipeline::prefetch, tx_result};
use crate::{
    error::ExecError,
    state::{AppStateReadExt as _, load_params},
    tx, vote_ext,
};

/// CheckTx's answer for a pipeline result (the same code, log and
/// codespace FinalizeBlock would report).
fn check_response(r: ExecTxResult) -> ResponseCheckTx {
    ResponseCheckTx {
        code: r.code,
        log: r.log,
        codespace: r.codespace,
        ..Default::default()
    }
}

fn rejected(e: &TxError) -> ResponseCheckTx {
    check_response(tx_result(e))
}

impl App {
    /// Rebuilds the mempool's view from the latest committed state.
    pub(super) fn reset_mempool(&self) -> Result<()> {
        let mut state = StateDelta::new(self.snapshot());
        if self.inner.storage.latest_version() != PRE_GENESIS {
            // Read past the read cache: the params are loaded once here and
            // need no cache entry (a freshly opened node's cache stays empty).
            let plain = self.inner.storage.latest_snapshot();
            let (_, params) = self.block_on(plain.stored_params())?;
            load_params(&mut state, params);
        }
        *self.inner.mempool.blocking_lock() = state;
        Ok(())
    }

    /// `CheckTx`: the full pipeline against the mempool's state; accepted txs
    /// stay applied there so a sender's next sequence is expected next. The
    /// mempool state is rebuilt from committed state after every block, and
    /// CometBFT rechecks the remaining txs against it.
    pub fn check_tx(&self, req: RequestCheckTx) -> Result<ResponseCheckTx> {
        let Some(chain_id) = self.chain_id() else {
            return Ok(rejected(&TxError::new(
                ResultCode::Internal,
                "chain not initialised yet",
            )));
        };
        let recheck = req.r#type == CheckTxType::Recheck as i32;
        self.inner.metrics.count_check_tx(recheck);
        if vote_ext::is_injected(&req.tx) {
            return Ok(rejected(&TxError::new(
                ResultCode::InjectedTxInvalid,
                "the extended-commit tx is injected by proposers, not submitted",
            )));
        }
        self.block_on(async {
            let mut mempool = self.inner.mempool.lock().await;
            let params = mempool.chain_params()?;
            let block = BlockContext::mempool(chain_id, self.committed_height().saturating_add(1));
            let ctx = self.exec_context(&block, &params);
            let decoded = match tx::decode(&req.tx, params.auth.max_tx_bytes(), &self.inner.keys) {
                Ok(d) => d,
                Err(e) => return Ok(rejected(&e)),
            };
            // A new tx often comes from an account no recent tx touched: read
            // its state concurrently rather than one blocking hop at a time.
            if !recheck {
                prefetch(&self.snapshot(), [&decoded]).await?;
            }
            match self
                .deliver_decoded(&mut *mempool, &ctx, &decoded, None)
                .await
            {
                // No events: CometBFT does not use CheckTx events, and every
                // CheckTx and recheck would encode them for nothing.
                Ok(_events) => Ok(ResponseCheckTx::default()),
                Err(ExecError::Tx(e)) => Ok(rejected(&e)),
                Err(ExecError::Internal(e)) => Err(anyhow::anyhow!("CheckTx: {e}")),
            }
        })
    }
}
