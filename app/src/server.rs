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
///
/// The length varint (at most 10 bytes) is collected from the reader's
/// buffer into a small array, one refill at a time, so a varint split across
/// two reads of the socket decodes like any other; prost then decodes it.
fn read_frame(r: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    /// Longest varint encoding of a `u64`.
    const MAX_VARINT_LEN: usize = 10;
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidData, msg);
    let mut varint = [0u8; MAX_VARINT_LEN];
    let mut have = 0;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            if have == 0 {
                return Ok(None);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let room = MAX_VARINT_LEN.saturating_sub(have);
        // Up to and including the varint's last byte (high bit clear), or
        // all the buffer holds when it ends before that.
        let (take, complete) = match buf.iter().take(room).position(|b| b & 0x80 == 0) {
            Some(last) => (last.saturating_add(1), true),
            None => (buf.len().min(room), false),
        };
        let end = have.saturating_add(take);
        varint[have..end].copy_from_slice(&buf[..take]);
        r.consume(take);
        have = end;
        if complete {
            break;
        }
        if have == MAX_VARINT_LEN {
            return Err(invalid("varint too long".into()));
        }
    }
    let len = prost::decode_length_delimiter(&varint[..have])
        .map_err(|e| invalid(format!("bad ABCI length prefix: {e}")))?;
    if len > usize::try_from(MAX_MESSAGE_BYTES).unwrap_or(usize::MAX) {
        return Err(invalid(format!(
            "ABCI message of {len} bytes exceeds {MAX_MESSAGE_BYTES}"
        )));
    }
    let mut buf = vec![0u8; len];
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

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Cursor, Read};

    use super::*;

    /// Hands out at most `step` bytes per `read`, like a socket that
    /// delivers a frame in pieces.
    struct Trickle {
        data: Cursor<Vec<u8>>,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.step);
            self.data.read(&mut buf[..n])
        }
    }

    /// `bytes` one byte per read, behind a one-byte buffer: every refill
    /// holds a single byte.
    fn bytewise(bytes: &[u8]) -> BufReader<Trickle> {
        trickle(bytes, 1)
    }

    fn trickle(bytes: &[u8], step: usize) -> BufReader<Trickle> {
        let data = Cursor::new(bytes.to_vec());
        BufReader::with_capacity(step, Trickle { data, step })
    }

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            prost::encode_length_delimiter(p.len(), &mut out).unwrap();
            out.extend_from_slice(p);
        }
        out
    }

    fn read_all(r: &mut impl BufRead) -> Vec<Vec<u8>> {
        let mut frames = Vec::new();
        while let Some(f) = read_frame(r).unwrap() {
            frames.push(f);
        }
        frames
    }

    #[test]
    fn frames_round_trip() {
        // 300 bytes need a two-byte length varint, 0 and 5 a one-byte one.
        let long = vec![7u8; 300];
        let payloads: [&[u8]; 3] = [b"hello", &[], &long];
        let bytes = framed(&payloads);
        assert_eq!(read_all(&mut bytes.as_slice()), payloads);

        let request = Request {
            value: Some(tendermint_proto::v0_38::abci::request::Value::Echo(
                tendermint_proto::v0_38::abci::RequestEcho {
                    message: "x".repeat(200),
                },
            )),
        };
        let bytes = request.encode_length_delimited_to_vec();
        let frame = read_frame(&mut bytes.as_slice()).unwrap().unwrap();
        assert_eq!(Request::decode(frame.as_slice()).unwrap(), request);
    }

    #[test]
    fn varint_split_across_reads() {
        // Length varints of 2, 3 and 1 bytes (200, 20000, 3).
        let payloads: [&[u8]; 3] = [&[9; 200], &[1; 20_000], b"end"];
        let bytes = framed(&payloads);
        assert_eq!(read_all(&mut bytewise(&bytes)), payloads);
        // Refills that end inside a varint at other offsets: the second
        // frame's varint starts at byte 202.
        for step in [2, 3, 4, 201, 203, 204] {
            assert_eq!(read_all(&mut trickle(&bytes, step)), payloads, "{step}");
        }
    }

    #[test]
    fn oversize_and_overlong_lengths_are_rejected() {
        let mut bytes = Vec::new();
        let too_big = usize::try_from(MAX_MESSAGE_BYTES).unwrap() + 1;
        prost::encode_length_delimiter(too_big, &mut bytes).unwrap();
        let err = read_frame(&mut bytes.as_slice()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("exceeds"), "{err}");

        // The largest accepted length passes the check (then the payload is
        // missing).
        let mut bytes = Vec::new();
        let max = usize::try_from(MAX_MESSAGE_BYTES).unwrap();
        prost::encode_length_delimiter(max, &mut bytes).unwrap();
        let err = read_frame(&mut bytes.as_slice()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);

        // More than ten varint bytes, and a tenth byte that overflows u64.
        for bytes in [vec![0xff; 11], [vec![0xff; 9], vec![0x7f]].concat()] {
            let mut r = bytewise(&bytes);
            let err = read_frame(&mut r).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{bytes:?}");
            let err = read_frame(&mut bytes.as_slice()).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{bytes:?}");
        }
    }

    #[test]
    fn eof_at_a_frame_start_is_none_and_inside_a_frame_an_error() {
        assert!(read_frame(&mut &b""[..]).unwrap().is_none());
        let bytes = framed(&[b"one"]);
        let mut r = bytes.as_slice();
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"one");
        assert!(read_frame(&mut r).unwrap().is_none());

        // EOF inside the varint (300 = 0xac 0x02), whole buffer or bytewise.
        let eof = |bytes: &[u8]| {
            let whole = read_frame(&mut &bytes[..]).unwrap_err().kind();
            let split = read_frame(&mut bytewise(bytes)).unwrap_err().kind();
            assert_eq!(whole, split);
            whole
        };
        assert_eq!(eof(&[0xac]), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(eof(&[0xff; 9]), std::io::ErrorKind::UnexpectedEof);
        // EOF inside the payload.
        assert_eq!(eof(&[0xac, 0x02, 1, 2]), std::io::ErrorKind::UnexpectedEof);
    }
}
