//! The ABCI socket transport, spoken the way CometBFT speaks it.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use prost::Message;
use tendermint_proto::v0_38::abci::{
    Request, RequestEcho, RequestFlush, RequestInfo, Response, request, response,
};

use crate::common::*;

fn read_response(s: &mut UnixStream) -> Response {
    // varint length, then the message
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        len |= usize::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let mut buf = vec![0u8; len];
    s.read_exact(&mut buf).unwrap();
    Response::decode(buf.as_slice()).unwrap()
}

#[test]
fn serves_pipelined_requests_over_a_unix_socket() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abci.sock");
    let addr = format!("unix://{}", path.display());
    let app = f.h.app.clone();
    std::thread::spawn(move || comrade_app::server::serve(app, &addr));
    let mut s = None;
    for _ in 0..100 {
        if let Ok(c) = UnixStream::connect(&path) {
            s = Some(c);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut s = s.expect("server did not start");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();

    // Three requests in one write, as CometBFT pipelines them.
    let mut out = Vec::new();
    for value in [
        request::Value::Echo(RequestEcho {
            message: "hi".into(),
        }),
        request::Value::Info(RequestInfo::default()),
        request::Value::Flush(RequestFlush {}),
    ] {
        out.extend(Request { value: Some(value) }.encode_length_delimited_to_vec());
    }
    s.write_all(&out).unwrap();
    match read_response(&mut s).value {
        Some(response::Value::Echo(e)) => assert_eq!(e.message, "hi"),
        other => panic!("{other:?}"),
    }
    match read_response(&mut s).value {
        Some(response::Value::Info(i)) => {
            let (h, hash) = f.h.info().unwrap();
            assert_eq!(i.last_block_height, h);
            assert_eq!(i.last_block_app_hash.to_vec(), hash);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        read_response(&mut s).value,
        Some(response::Value::Flush(_))
    ));

    // An oversized length prefix closes the connection instead of allocating.
    let mut huge = Vec::new();
    prost::encoding::encode_varint(1 << 40, &mut huge);
    s.write_all(&huge).unwrap();
    let mut b = [0u8; 1];
    assert_eq!(
        s.read(&mut b).unwrap_or(0),
        0,
        "connection should be closed"
    );
    let _ = CHAIN_ID;
}
