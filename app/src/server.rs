//! The ABCI socket server: tendermint-abci's synchronous server, one OS thread
//! per CometBFT connection, each calling into the shared [`App`].
//!
//! A storage or invariant failure in a consensus method halts the process
//! (exit code 70) instead of answering: a node that cannot apply a block
//! correctly must stop rather than fork.

use tendermint_abci::{Application, ServerBuilder};
use tendermint_proto::v0_38::abci::{
    RequestCheckTx, RequestExtendVote, RequestFinalizeBlock, RequestInfo, RequestInitChain,
    RequestPrepareProposal, RequestProcessProposal, RequestQuery, RequestVerifyVoteExtension,
    ResponseCheckTx, ResponseCommit, ResponseExtendVote, ResponseFinalizeBlock, ResponseInfo,
    ResponseInitChain, ResponsePrepareProposal, ResponseProcessProposal, ResponseQuery,
    ResponseVerifyVoteExtension,
};

use crate::App;

/// Exit code used when the node halts on an internal error.
pub const HALT_EXIT_CODE: i32 = 70;

fn halt<T>(method: &str, r: anyhow::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("{method} failed, halting the node: {e:#}");
            eprintln!("comrade: {method} failed, halting the node: {e:#}");
            std::process::exit(HALT_EXIT_CODE)
        }
    }
}

impl Application for App {
    fn info(&self, request: RequestInfo) -> ResponseInfo {
        halt("Info", App::info(self, request))
    }
    fn init_chain(&self, request: RequestInitChain) -> ResponseInitChain {
        halt("InitChain", App::init_chain(self, request))
    }
    fn query(&self, request: RequestQuery) -> ResponseQuery {
        App::query(self, request)
    }
    fn check_tx(&self, request: RequestCheckTx) -> ResponseCheckTx {
        halt("CheckTx", App::check_tx(self, request))
    }
    fn commit(&self) -> ResponseCommit {
        halt("Commit", App::commit(self))
    }
    fn prepare_proposal(&self, request: RequestPrepareProposal) -> ResponsePrepareProposal {
        halt("PrepareProposal", App::prepare_proposal(self, request))
    }
    fn process_proposal(&self, request: RequestProcessProposal) -> ResponseProcessProposal {
        halt("ProcessProposal", App::process_proposal(self, request))
    }
    fn extend_vote(&self, request: RequestExtendVote) -> ResponseExtendVote {
        App::extend_vote(self, request)
    }
    fn verify_vote_extension(
        &self,
        request: RequestVerifyVoteExtension,
    ) -> ResponseVerifyVoteExtension {
        App::verify_vote_extension(self, request)
    }
    fn finalize_block(&self, request: RequestFinalizeBlock) -> ResponseFinalizeBlock {
        halt("FinalizeBlock", App::finalize_block(self, request))
    }
}

/// Serves `app` on `addr` (e.g. `127.0.0.1:26658`) until the listener fails.
pub fn serve(app: App, addr: &str) -> anyhow::Result<()> {
    let server = ServerBuilder::default()
        .bind(addr, app)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!("ABCI server listening on {}", server.local_addr());
    server
        .listen()
        .map_err(|e| anyhow::anyhow!("ABCI server on {addr} stopped: {e}"))
}
