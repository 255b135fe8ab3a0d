//! The localnet's compute node: `comrade compute serve` on the default model,
//! started, answering a chat completion, and stopped.

use std::io::{Read, Write};
use std::time::Duration;

use comrade_localnet::{compute, find_comrade_bin};

use crate::common::serial;

#[test]
fn compute_node_serves_the_default_model_and_stops() {
    let _guard = serial();
    let bin = find_comrade_bin().unwrap_or_else(|e| panic!("needs the comrade binary: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("comrade-e2e-compute-")
        .tempdir()
        .unwrap();
    let listen = "127.0.0.1:21990";
    let node = compute::start(
        dir.path(),
        &bin,
        listen,
        compute::DEFAULT_MODEL,
        Duration::from_secs(600),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("compute node did not come up: {e}"));
    struct Stop<'a>(&'a std::path::Path);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = compute::stop(self.0);
        }
    }
    let _stop = Stop(dir.path());
    assert!(compute::healthy(listen));
    assert_eq!(
        compute::ComputeNode::load(dir.path()).unwrap(),
        Some(node.clone())
    );

    // One short greedy chat completion over plain HTTP.
    let body = serde_json::json!({
        "model": compute::DEFAULT_MODEL,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 4,
        "temperature": 0,
    })
    .to_string();
    let mut s = std::net::TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.0\r\nHost: {listen}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200"),
        "{resp}"
    );
    let json = resp.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert!(
        v["usage"]["completion_tokens"].as_u64().unwrap() >= 1,
        "{v}"
    );

    assert_eq!(compute::stop(dir.path()).unwrap(), Some(node.pid));
    assert!(!compute::healthy(listen));
    assert_eq!(compute::stop(dir.path()).unwrap(), None);
}
