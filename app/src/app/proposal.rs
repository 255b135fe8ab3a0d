//! `PrepareProposal`, `ProcessProposal` and the vote extensions.

use anyhow::{Context as _, Result};
use cnidarium::StateRead;
use comrade_primitives::{ResultCode, TxError};
use tendermint_proto::v0_38::abci::{
    ExecTxResult, RequestExtendVote, RequestPrepareProposal, RequestProcessProposal,
    RequestVerifyVoteExtension, ResponseExtendVote, ResponsePrepareProposal,
    ResponseProcessProposal, ResponseVerifyVoteExtension,
    response_process_proposal::ProposalStatus, response_verify_vote_extension::VerifyStatus,
};

use super::{App, context, ok_result, pipeline::begin_block};
use crate::{
    error::ExecError, state::AppStateReadExt as _, validators::ValidatorsRead as _, vote_ext,
};

impl App {
    /// Verifies the extended commit carried by the injected tx, for a
    /// proposal at `height`.
    fn verify_injected<S: StateRead>(
        &self,
        state: &S,
        tx0: &[u8],
        height: i64,
        chain_id: &str,
    ) -> Result<Result<(), TxError>> {
        let info = match vote_ext::decode_injected(tx0) {
            Ok(i) => i,
            Err(e) => return Ok(Err(e)),
        };
        let enable = self.block_on(state.vote_ext_enable_height())?;
        let vote_height = height.saturating_sub(1);
        let required = enable > 0 && u64::try_from(vote_height).is_ok_and(|h| h >= enable);
        if !required {
            if info.votes.iter().any(|v| !v.vote_extension.is_empty()) {
                return Ok(Err(TxError::new(
                    ResultCode::InjectedTxInvalid,
                    format!("extensions present before the enable height {enable}"),
                )));
            }
            return Ok(Ok(()));
        }
        let set = self.block_on(state.validators())?;
        let members: Vec<vote_ext::SetMember> = set
            .iter()
            .filter_map(|(addr, v)| {
                Some(vote_ext::SetMember {
                    address: *addr,
                    pub_key: v.pub_key.as_slice().try_into().ok()?,
                    power: v.power,
                })
            })
            .collect();
        Ok(vote_ext::verify_extended_commit(&info, &members, vote_height, chain_id).map(|_| ()))
    }

    /// `PrepareProposal`: `tx[0]` is the injected extended commit; then the
    /// mempool's txs that pass the pipeline, in order, within `max_tx_bytes`.
    /// The block is executed to its end on the way and kept (see
    /// `optimistic.rs`), so ProcessProposal and FinalizeBlock of this
    /// very proposal need not execute it again.
    pub fn prepare_proposal(&self, req: RequestPrepareProposal) -> Result<ResponsePrepareProposal> {
        let chain_id = self
            .chain_id()
            .context("PrepareProposal before InitChain")?;
        let block = context::prepare(&chain_id, &req)?;
        let injected = match req.local_last_commit.as_ref() {
            Some(info) => vote_ext::encode_injected(info),
            None => vote_ext::encode_injected(&Default::default()),
        };
        let max_bytes = usize::try_from(req.max_tx_bytes).unwrap_or(0);
        let mut total = injected.len();
        let mut out = vec![injected.into()];
        let snapshot = self.snapshot();
        let base_version = snapshot.version();
        let (state, params, results) = self.block_on(async {
            let (_, params) = snapshot.stored_params().await?;
            let mut state = begin_block(snapshot, &params, &block).await?;
            let ctx = self.exec_context(&block, &params);
            // The injected tx's result, as FinalizeBlock reports it.
            let mut results = vec![ExecTxResult::default()];
            for tx in req.txs {
                if vote_ext::is_injected(&tx) {
                    continue;
                }
                if total.saturating_add(tx.len()) > max_bytes {
                    continue;
                }
                match self.deliver(&mut state, &ctx, &tx).await {
                    Ok(events) => {
                        total = total.saturating_add(tx.len());
                        out.push(tx);
                        results.push(ok_result(events));
                    }
                    Err(ExecError::Tx(_)) => {}
                    Err(ExecError::Internal(e)) => anyhow::bail!("PrepareProposal: {e}"),
                }
            }
            Ok::<_, anyhow::Error>((state, params, results))
        })?;
        // Every tx in `out` succeeded, in order, on the state FinalizeBlock
        // will start from, after the same begin-block writes; failed txs
        // left no trace. So this is FinalizeBlock's execution of `out`.
        self.finish_optimistic(state, &params, block, base_version, &out, results);
        Ok(ResponsePrepareProposal { txs: out })
    }

    /// `ProcessProposal`: rejects a proposal whose `tx[0]` is not a valid
    /// extended commit or which holds any tx that fails the pipeline. An
    /// accepted proposal's execution is kept for FinalizeBlock; the
    /// proposer's own proposal reuses PrepareProposal's.
    pub fn process_proposal(&self, req: RequestProcessProposal) -> Result<ResponseProcessProposal> {
        let accept = |ok: bool| ResponseProcessProposal {
            status: if ok {
                ProposalStatus::Accept
            } else {
                ProposalStatus::Reject
            } as i32,
        };
        let chain_id = self
            .chain_id()
            .context("ProcessProposal before InitChain")?;
        let Some(tx0) = req.txs.first() else {
            tracing::warn!(
                height = req.height,
                "rejecting proposal without injected tx"
            );
            return Ok(accept(false));
        };
        let snapshot = self.snapshot();
        if let Err(e) = self.verify_injected(&snapshot, tx0, req.height, &chain_id)? {
            tracing::warn!(height = req.height, "rejecting proposal: {e}");
            return Ok(accept(false));
        }
        let block = context::process(&chain_id, &req)?;
        let base_version = snapshot.version();
        // Our own proposal: PrepareProposal executed exactly these txs, all
        // successfully.
        if self.adopt_own_proposal(base_version, &block, &req.txs, &req.hash) {
            return Ok(accept(true));
        }
        let (state, params, results) = self.execute_txs(snapshot, &block, &req.txs)?;
        // results[0] is the injected tx's (verified above).
        if let Some((i, r)) = results
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, r)| r.code != 0)
        {
            tracing::warn!(
                height = block.height,
                "rejecting proposal: tx {i}: {}",
                r.log
            );
            return Ok(accept(false));
        }
        self.finish_optimistic(state, &params, block, base_version, &req.txs, results);
        Ok(accept(true))
    }

    /// `ExtendVote`: this validator's versioned vote extension.
    pub fn extend_vote(&self, req: RequestExtendVote) -> ResponseExtendVote {
        ResponseExtendVote {
            vote_extension: vote_ext::build_extension(req.height).into(),
        }
    }

    /// `VerifyVoteExtension`: rejects malformed extensions.
    pub fn verify_vote_extension(
        &self,
        req: RequestVerifyVoteExtension,
    ) -> ResponseVerifyVoteExtension {
        let status = match vote_ext::parse_extension(&req.vote_extension, req.height) {
            Ok(_) => VerifyStatus::Accept,
            Err(e) => {
                tracing::warn!(height = req.height, "rejecting vote extension: {e}");
                VerifyStatus::Reject
            }
        };
        ResponseVerifyVoteExtension {
            status: status as i32,
        }
    }
}
