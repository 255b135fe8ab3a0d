//! The traits every state-machine module implements, so proof-of-compute,
//! the bridge, the market and governance plug into the app the same way the
//! bank does. The app orchestrates them: begin-block hooks, then each tx's
//! actions (stateless checks, then `check_and_execute` on a fork that is
//! dropped on error), then end-block hooks.

use async_trait::async_trait;
use cnidarium::{StateRead, StateWrite};

use crate::{ExecError, TxError};

/// What a module sees of the block being executed.
#[derive(Debug, Clone, Copy)]
pub struct BlockContext<'a> {
    /// The chain id.
    pub chain_id: &'a str,
    /// The height of the block being executed (or, for CheckTx, the next one).
    pub height: u64,
}

/// A module's block hooks. Every hook must be deterministic: no clocks,
/// randomness, floats, `HashMap` order, network or GPU.
#[async_trait]
pub trait Component {
    /// Runs at the start of every block, before its txs.
    async fn begin_block<S: StateRead + StateWrite>(
        _state: &mut S,
        _ctx: &BlockContext<'_>,
    ) -> Result<(), ExecError> {
        Ok(())
    }

    /// Runs after the block's txs.
    async fn end_block<S: StateRead + StateWrite>(
        _state: &mut S,
        _ctx: &BlockContext<'_>,
    ) -> Result<(), ExecError> {
        Ok(())
    }
}

/// One kind of action (message) a tx can carry.
#[async_trait]
pub trait ActionHandler: Sync {
    /// Checks that need no state (well-formedness). Runs before any state is read.
    fn check_stateless(&self) -> Result<(), TxError>;

    /// Checks against state and applies the action. The caller runs it on a
    /// fork and drops the fork on error, so a failed action changes nothing.
    async fn check_and_execute<S: StateRead + StateWrite>(
        &self,
        state: &mut S,
        ctx: &BlockContext<'_>,
    ) -> Result<(), ExecError>;
}
