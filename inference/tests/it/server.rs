//! The compute-node HTTP server, end to end over TCP with SmolLM2.

use std::time::Duration;

use comrade_inference::Cpu;
use comrade_inference::engine::Engine;
use comrade_inference::fetch::ensure_smollm2;
use comrade_inference::server::{ServerConfig, router};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

async fn request(addr: std::net::SocketAddr, method: &str, path: &str, body: &[u8]) -> Reply {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).await.expect("write");
    s.write_all(body).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (headers, body) = text.split_once("\r\n\r\n").expect("http reply");
    let status = headers[9..12].parse().expect("status");
    Reply {
        status,
        headers: headers.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

async fn smollm2() -> Engine<Cpu> {
    let path = ensure_smollm2().expect("fetch");
    tokio::task::spawn_blocking(move || {
        Engine::<Cpu>::load(&path, &Default::default(), &mut |_, _| {}).expect("load")
    })
    .await
    .expect("join")
}

/// Serves `engine` on a free loopback port.
async fn spawn(engine: Engine<Cpu>, cfg: ServerConfig) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = router(engine, cfg);
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_end_to_end() {
    let engine = smollm2().await;
    let cfg = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        max_prompt_tokens: 64,
        max_output_tokens: 64,
        max_queue: 1,
        max_batch: 4,
        extra_metrics: Some(comrade_inference::server::MetricsHook(std::sync::Arc::new(
            |out: &mut String| out.push_str("comrade_test_extra 7\n"),
        ))),
        attestation: None,
    };
    let addr = spawn(engine, cfg).await;

    let r = request(addr, "GET", "/health", b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = request(addr, "GET", "/v1/models", b"").await;
    assert!(r.body.contains("SmolLM2-135M-Instruct.Q4_1"), "{}", r.body);

    // Non-streaming chat: greedy answer, stopped by <|im_end|>, plus usage.
    let body = br#"{"messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":8}"#;
    let r = request(addr, "POST", "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    let content = v["choices"][0]["message"]["content"]
        .as_str()
        .expect("content");
    assert_eq!(content, "The capital of France is Paris.");
    assert_eq!(v["usage"]["completion_tokens"], 7);
    // 37 = SmolLM2's default system prompt + the user turn (as golden prompt 1).
    assert_eq!(v["usage"]["prompt_tokens"], 37);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    // Streaming chat: role chunk, content chunks, final chunk with usage, [DONE].
    let body = br#"{"messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":8,"stream":true}"#;
    let r = request(addr, "POST", "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.contains("text/event-stream"), "{}", r.headers);
    let events: Vec<&str> = r
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"));
    let mut text = String::new();
    for e in &events[..events.len() - 1] {
        let v: serde_json::Value = serde_json::from_str(e).expect("chunk json");
        text.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
    }
    assert_eq!(text, content, "streamed text equals the non-streamed text");
    let last: serde_json::Value = serde_json::from_str(events[events.len() - 2]).expect("json");
    assert_eq!(last["usage"]["completion_tokens"], 7);
    assert_eq!(last["choices"][0]["finish_reason"], "stop");

    // Plain completion.
    let r = request(
        addr,
        "POST",
        "/v1/completions",
        br#"{"prompt":"The capital of France is","max_tokens":3}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(v["usage"]["completion_tokens"], 3);
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert!(v["choices"][0]["text"].is_string(), "{}", r.body);

    // Stop strings: the output ends right before the first one, finish_reason "stop",
    // and generation ends there (fewer tokens than the full answer).
    let body = br#"{"messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":8,"stop":" Paris"}"#;
    let r = request(addr, "POST", "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    let cut = content.split(" Paris").next().expect("prefix");
    assert_eq!(v["choices"][0]["message"]["content"], cut);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    let n = v["usage"]["completion_tokens"].as_u64().expect("usage");
    assert!(
        n < 7,
        "generation went on after the stop string: {n} tokens"
    );
    let body = br#"{"messages":[{"role":"user","content":"What is the capital of France?"}],"max_tokens":8,"stream":true,"stop":["nowhere","France"]}"#;
    let r = request(addr, "POST", "/v1/chat/completions", body).await;
    assert_eq!(r.status, 200);
    let mut text = String::new();
    for e in r.body.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if e != "[DONE]" {
            let v: serde_json::Value = serde_json::from_str(e).expect("chunk json");
            text.push_str(v["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
        }
    }
    assert_eq!(text, content.split("France").next().expect("prefix"));

    // Input sanitization: each bad request gets its status and a message naming
    // the problem (the empty needle only checks the status).
    let long = format!(r#"{{"prompt":"{}","max_tokens":2}}"#, "word ".repeat(200));
    let bad: [(&str, &[u8], u16, &str); 7] = [
        ("/v1/chat/completions", b"{not json", 400, "invalid JSON"),
        (
            "/v1/completions",
            b"{\"prompt\":\"\xff\xfe\"}",
            400,
            "UTF-8",
        ),
        ("/v1/completions", long.as_bytes(), 400, "limit"),
        (
            "/v1/completions",
            br#"{"prompt":"hi","max_tokens":65}"#,
            400,
            "",
        ),
        (
            "/v1/completions",
            br#"{"prompt":"hi","temperature":-1}"#,
            400,
            "",
        ),
        (
            "/v1/completions",
            br#"{"prompt":"hi","model":"gpt-9"}"#,
            404,
            "",
        ),
        (
            "/v1/completions",
            br#"{"prompt":"hi","stop":["a","b","c","d","e"]}"#,
            400,
            "stop",
        ),
    ];
    for (path, body, status, needle) in bad {
        let r = request(addr, "POST", path, body).await;
        assert_eq!(
            r.status,
            status,
            "{path} {:?}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
        assert!(r.body.contains(needle), "{}", r.body);
    }

    // Queue full: max_queue = 1, so a second request while one runs gets 429.
    let busy = tokio::spawn(request(
        addr,
        "POST",
        "/v1/completions",
        br#"{"prompt":"1, 2, 3, 4, 5, 6,","max_tokens":64}"#,
    ));
    // Wait until the busy request holds the only queue slot.
    let mut waited = 0;
    loop {
        let h = request(addr, "GET", "/health", b"").await;
        if h.body.contains("\"queue_depth\":1") || waited > 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    let r = request(
        addr,
        "POST",
        "/v1/completions",
        br#"{"prompt":"hi","max_tokens":2}"#,
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.headers.contains("retry-after: 1"), "{}", r.headers);
    assert_eq!(busy.await.expect("join").status, 200);

    let r = request(addr, "GET", "/metrics", b"").await;
    for name in [
        "comrade_requests_total 6",
        "comrade_requests_rejected_total 1",
        "comrade_queue_depth 0",
        "comrade_decode_tokens_per_second",
        "comrade_request_latency_seconds_bucket",
        "comrade_time_to_first_token_seconds_count 2",
        // the hook's lines come after the server's own
        "comrade_time_to_first_token_seconds_sum",
        "comrade_test_extra 7",
    ] {
        assert!(r.body.contains(name), "{name} missing in\n{}", r.body);
    }
}

/// Attested serving: a sampled request gets a request id, its receipt is
/// served to auditors, and an audit run on the same engine passes it; a
/// tampered output fails; requests with stop strings are not attested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attested_requests_file_receipts_that_pass_an_audit() {
    use comrade_inference::attest::{AuditConfig, ChunkLimits, Receipt};
    use comrade_inference::attested::Attestation;

    let engine = smollm2().await;
    let eos = engine.stop_tokens.clone();
    let dir = tempfile::tempdir().expect("tempdir");
    let att = std::sync::Arc::new(Attestation::new(Some(dir.path().to_path_buf())).expect("store"));
    let cfg = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        max_prompt_tokens: 64,
        max_output_tokens: 64,
        max_queue: 4,
        max_batch: 4,
        extra_metrics: None,
        attestation: Some(att.clone()),
    };
    let addr = spawn(engine, cfg).await;

    let id = "ab".repeat(32);
    let body = format!(
        r#"{{"messages":[{{"role":"user","content":"Name three colours."}}],"max_tokens":24,"temperature":0.8,"top_p":0.95,"seed":7,"request_id":"{id}"}}"#
    );
    let r = request(addr, "POST", "/v1/chat/completions", body.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.headers.contains(&format!("x-comrade-request-id: {id}")),
        "{}",
        r.headers
    );
    // A second request without an id gets a fresh one.
    let body = br#"{"prompt":"Once upon a time","max_tokens":12,"temperature":1.0}"#;
    let r2 = request(addr, "POST", "/v1/completions", body).await;
    assert_eq!(r2.status, 200, "{}", r2.body);
    assert!(
        r2.headers.contains("x-comrade-request-id: "),
        "{}",
        r2.headers
    );
    // Not attested: a stop string.
    let body = br#"{"prompt":"Once upon a time","max_tokens":4,"stop":"zzz"}"#;
    let r3 = request(addr, "POST", "/v1/completions", body).await;
    assert_eq!(r3.status, 200);
    assert!(
        !r3.headers.contains("x-comrade-request-id"),
        "{}",
        r3.headers
    );
    assert_eq!(att.pending(), 2);
    let bad = request(
        addr,
        "POST",
        "/v1/completions",
        br#"{"prompt":"x","request_id":"12"}"#,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);

    let r = request(addr, "GET", &format!("/v1/receipts/{id}"), b"").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let receipt: Receipt = serde_json::from_str(&r.body).expect("receipt json");
    assert_eq!(hex::encode(receipt.request_id), id);
    assert_eq!(receipt.sampling.tau_milli, 800);
    assert!(!receipt.output.is_empty() && !receipt.proofs.is_empty());
    let missing = request(
        addr,
        "GET",
        &format!("/v1/receipts/{}", "00".repeat(32)),
        b"",
    )
    .await;
    assert_eq!(missing.status, 404);

    let cfg = AuditConfig {
        eps_milli: 2_000,
        limits: ChunkLimits::TOPLOC,
        eos,
    };
    let m = att
        .audit(receipt.clone(), cfg.clone())
        .await
        .expect("audit");
    assert_eq!(
        (m.flags, m.r_gated, m.toploc_fail_chunks),
        (0, 0, 0),
        "{m:?}"
    );
    assert_eq!(m.n_steps as usize, receipt.output.len());
    // The same output filed under another request id (a replay) disagrees
    // with the tape on most sampled steps.
    let mut replay = receipt.clone();
    replay.request_id[0] ^= 1;
    let m = att.audit(replay, cfg.clone()).await.expect("audit");
    assert!(m.r_raw * 4 >= m.n_steps, "{m:?}");
    // Taken for the chain worker, the receipts leave the pending list.
    let taken = att.take_pending(10);
    assert_eq!(taken.len(), 2);
    assert_eq!(att.pending(), 0);
    // They stay on disk for auditors after a restart.
    let again = Attestation::new(Some(dir.path().to_path_buf())).expect("store");
    assert_eq!(again.get(&receipt.request_id).as_ref(), Some(&receipt));
}
