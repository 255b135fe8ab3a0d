//! The ABCI socket server: the app implements tendermint-abci's
//! [`Application`] trait and is served over TCP or a Unix socket, one OS
//! thread per CometBFT connection, each calling into the shared [`App`].
//!
//! A storage or invariant failure in a consensus method halts the process
//! (exit code 70) instead of answering: a node that cannot apply a block
//! correctly must stop rather than fork.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};

use prost::Message;
use tendermint_abci::Application;
use tendermint_proto::v0_38::abci::{
    Request, RequestCheckTx, RequestExtendVote, RequestFinalizeBlock, RequestInfo,
    RequestInitChain, RequestPrepareProposal, RequestProcessProposal, RequestQuery,
    RequestVerifyVoteExtension, Response, ResponseCheckTx, ResponseCommit, ResponseException,
    ResponseExtendVote, ResponseFinalizeBlock, ResponseInfo, ResponseInitChain,
    ResponsePrepareProposal, ResponseProcessProposal, ResponseQuery, ResponseVerifyVoteExtension,
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

/// Largest ABCI message accepted from CometBFT (a proposal of 4 MiB of txs
/// plus framing fits easily).
pub const MAX_MESSAGE_BYTES: u64 = 64 * 1024 * 1024;

/// Serves `app` on `addr` until the listener fails: `127.0.0.1:26658` or
/// `tcp://127.0.0.1:26658` for TCP, `unix:///path/to/socket` for a Unix
/// socket. One OS thread per CometBFT connection (consensus, mempool, query,
/// snapshot), each dispatching into the shared [`App`].
///
/// The transport is ours rather than tendermint-abci's `Server` for one
/// reason: that server leaves Nagle's algorithm on, and every small response
/// written right after another then waits for the peer's delayed ACK (about
/// 40 ms), which capped CheckTx at a few hundred per second. Here TCP_NODELAY
/// is set and responses are flushed once no further request is buffered.
pub fn serve(app: App, addr: &str) -> anyhow::Result<()> {
    if let Some(path) = addr.strip_prefix("unix://") {
        let _ = std::fs::remove_file(path);
        let listener = std::os::unix::net::UnixListener::bind(path)
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        tracing::info!("ABCI server listening on {addr}");
        for stream in listener.incoming() {
            let stream = stream.map_err(|e| anyhow::anyhow!("accept on {addr}: {e}"))?;
            let reader = stream.try_clone()?;
            spawn_connection(app.clone(), Box::new(reader), Box::new(stream));
        }
        return Ok(());
    }
    let tcp = addr.strip_prefix("tcp://").unwrap_or(addr);
    let listener = std::net::TcpListener::bind(tcp)
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!("ABCI server listening on {}", listener.local_addr()?);
    for stream in listener.incoming() {
        let stream = stream.map_err(|e| anyhow::anyhow!("accept on {addr}: {e}"))?;
        stream.set_nodelay(true)?;
        let reader = stream.try_clone()?;
        spawn_connection(app.clone(), Box::new(reader), Box::new(stream));
    }
    Ok(())
}

fn spawn_connection(app: App, reader: Box<dyn Read + Send>, writer: Box<dyn Write + Send>) {
    let spawned = std::thread::Builder::new()
        .name("abci-conn".into())
        .spawn(move || {
            if let Err(e) = serve_connection(&app, reader, writer) {
                tracing::info!("ABCI connection closed: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot spawn an ABCI connection thread: {e}");
    }
}

/// Reads one varint-length-prefixed message; `Ok(None)` at a clean EOF.
fn read_frame(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut len: u64 = 0;
    let mut shift = 0u32;
    loop {
        let byte = {
            let buf = r.fill_buf()?;
            if buf.is_empty() {
                if shift == 0 {
                    return Ok(None);
                }
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf[0]
        };
        r.consume(1);
        if shift > 63 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "varint too long",
            ));
        }
        len |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift = shift.saturating_add(7);
    }
    if len > MAX_MESSAGE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("ABCI message of {len} bytes exceeds {MAX_MESSAGE_BYTES}"),
        ));
    }
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    r.read_exact(&mut buf)?;
    Ok(Some(buf))
}

fn serve_connection(
    app: &App,
    reader: Box<dyn Read + Send>,
    writer: Box<dyn Write + Send>,
) -> anyhow::Result<()> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let mut writer = BufWriter::with_capacity(1 << 16, writer);
    while let Some(frame) = read_frame(&mut reader)? {
        let request = Request::decode(frame.as_slice())
            .map_err(|e| anyhow::anyhow!("undecodable ABCI request: {e}"))?;
        let response = dispatch(app, request);
        writer.write_all(&response.encode_length_delimited_to_vec())?;
        // Batch responses while CometBFT has more requests in flight.
        if reader.buffer().is_empty() {
            writer.flush()?;
        }
    }
    writer.flush()?;
    Ok(())
}

/// Routes one request to the [`Application`] implementation.
pub fn dispatch(app: &App, request: Request) -> Response {
    use tendermint_proto::v0_38::abci::{request::Value as Req, response::Value as Res};
    let value = match request.value {
        Some(Req::Echo(r)) => Res::Echo(Application::echo(app, r)),
        Some(Req::Flush(_)) => Res::Flush(Application::flush(app)),
        Some(Req::Info(r)) => Res::Info(Application::info(app, r)),
        Some(Req::InitChain(r)) => Res::InitChain(Application::init_chain(app, r)),
        Some(Req::Query(r)) => Res::Query(Application::query(app, r)),
        Some(Req::CheckTx(r)) => Res::CheckTx(Application::check_tx(app, r)),
        Some(Req::Commit(_)) => Res::Commit(Application::commit(app)),
        Some(Req::ListSnapshots(_)) => Res::ListSnapshots(Application::list_snapshots(app)),
        Some(Req::OfferSnapshot(r)) => Res::OfferSnapshot(Application::offer_snapshot(app, r)),
        Some(Req::LoadSnapshotChunk(r)) => {
            Res::LoadSnapshotChunk(Application::load_snapshot_chunk(app, r))
        }
        Some(Req::ApplySnapshotChunk(r)) => {
            Res::ApplySnapshotChunk(Application::apply_snapshot_chunk(app, r))
        }
        Some(Req::PrepareProposal(r)) => {
            Res::PrepareProposal(Application::prepare_proposal(app, r))
        }
        Some(Req::ProcessProposal(r)) => {
            Res::ProcessProposal(Application::process_proposal(app, r))
        }
        Some(Req::ExtendVote(r)) => Res::ExtendVote(Application::extend_vote(app, r)),
        Some(Req::VerifyVoteExtension(r)) => {
            Res::VerifyVoteExtension(Application::verify_vote_extension(app, r))
        }
        Some(Req::FinalizeBlock(r)) => Res::FinalizeBlock(Application::finalize_block(app, r)),
        None => Res::Exception(ResponseException {
            error: "empty ABCI request".into(),
        }),
    };
    Response { value: Some(value) }
}
