//! Compute-node HTTP server: OpenAI-compatible `/v1/chat/completions` (with SSE
//! streaming and final usage), `/v1/completions`, `/v1/models`, `/health`,
//! Prometheus `/metrics`, and with attestation on, `/v1/receipts/{id}` (see
//! [`crate::attested`]).
//!
//! One worker thread owns the model and runs queued requests in batches of up to
//! `max_batch` sequences. The queue is bounded: when `max_queue` requests are
//! waiting or running, new ones get `429` with `Retry-After`; if the worker is gone,
//! `503`.

// Handlers return ready-made error responses; boxing them buys nothing here.
#![allow(clippy::result_large_err)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use burn::prelude::Backend;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc as tmpsc;

use crate::attest::{self, Finish, SamplingSpec};
use crate::attested::{Attestation, AuditJob};
use crate::chat::ChatMessage;
use crate::engine::Engine;
use crate::generate::{FinishReason, GenerateOutput, GenerateRequest};
use crate::sampling::SamplingParams;
use crate::stop::{MAX_STOP_BYTES, MAX_STOP_STRINGS, StopText};
use crate::tokenizer::{StreamDecoder, TextTokenizer};

/// Server limits.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: SocketAddr,
    /// Longest accepted prompt, in tokens.
    pub max_prompt_tokens: usize,
    /// Largest accepted `max_tokens`.
    pub max_output_tokens: usize,
    /// Requests waiting or running before new ones are rejected with 429.
    pub max_queue: usize,
    /// Sequences per batch.
    pub max_batch: usize,
    /// More metrics appended to `/metrics` (e.g. the chain worker's).
    pub extra_metrics: Option<MetricsHook>,
    /// Sample every request with the Gumbel tape and keep its receipt here
    /// (a compute node on a chain); audits for the chain run on the engine.
    pub attestation: Option<Arc<Attestation>>,
}

/// Appends Prometheus text-format metrics to a `/metrics` answer.
#[derive(Clone)]
pub struct MetricsHook(pub Arc<dyn Fn(&mut String) + Send + Sync>);

impl std::fmt::Debug for MetricsHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsHook")
    }
}

enum JobEvent {
    /// Text of the next generated token (possibly empty: an incomplete UTF-8
    /// sequence, or text held back while it may start a stop string).
    Text(String),
    Done(GenerateOutput),
    Error(String),
}

pub(crate) struct Job {
    request: GenerateRequest,
    stop: Vec<String>,
    events: tmpsc::UnboundedSender<JobEvent>,
    attest: Option<AttestMeta>,
}

/// What a receipt needs beyond the generation itself.
#[derive(Clone, Copy)]
struct AttestMeta {
    request_id: [u8; 32],
    spec: SamplingSpec,
}

/// What the engine thread does.
pub(crate) enum Work {
    Generate(Job),
    Audit(AuditJob),
}

const LATENCY_BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        for (c, b) in self.counts.iter_mut().zip(LATENCY_BUCKETS) {
            if v <= b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
    fn render(&self, name: &str, help: &str, out: &mut String) {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} histogram\n"));
        for (c, b) in self.counts.iter().zip(LATENCY_BUCKETS) {
            out.push_str(&format!("{name}_bucket{{le=\"{b}\"}} {c}\n"));
        }
        out.push_str(&format!("{name}_bucket{{le=\"+Inf\"}} {}\n", self.count));
        out.push_str(&format!(
            "{name}_sum {}\n{name}_count {}\n",
            self.sum, self.count
        ));
    }
}

#[derive(Default)]
struct Metrics {
    requests: AtomicU64,
    rejected: AtomicU64,
    bad_requests: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    queue_depth: AtomicUsize,
    latency: Mutex<Histogram>,
    ttft: Mutex<Histogram>,
    /// Decode throughput of the last batch, tokens/s (f64 bits).
    last_tps: AtomicU64,
}

struct AppState {
    model_name: String,
    tokenizer: TextTokenizer,
    template: crate::chat::ChatTemplate,
    stop_tokens: Vec<u32>,
    max_context: usize,
    cfg: ServerConfig,
    jobs: Mutex<mpsc::Sender<Work>>,
    /// Request ids made here (when the client names none) count from this.
    request_counter: AtomicU64,
    /// Per-process salt of the request ids made here.
    request_salt: [u8; 32],
    metrics: Metrics,
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    let body = json!({"error": {"message": msg.into(), "type": "invalid_request_error"}});
    (status, axum::Json(body)).into_response()
}

fn retry_after(status: StatusCode, msg: &str) -> Response {
    let mut r = error(status, msg);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Releases a queue slot when dropped.
struct Slot(Arc<AppState>);
impl Drop for Slot {
    fn drop(&mut self) {
        self.0.metrics.queue_depth.fetch_sub(1, Ordering::SeqCst);
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[derive(Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(flatten)]
    common: CommonParams,
}

#[derive(Deserialize)]
struct CompletionRequest {
    #[serde(default)]
    model: Option<String>,
    prompt: String,
    #[serde(flatten)]
    common: CommonParams,
}

#[derive(Deserialize)]
struct CommonParams {
    max_tokens: Option<usize>,
    max_completion_tokens: Option<usize>,
    temperature: Option<f32>,
    top_p: Option<f32>,
    top_k: Option<usize>,
    seed: Option<u64>,
    #[serde(default)]
    stream: bool,
    stop: Option<StopParam>,
    /// The request id (64 hex digits) that keys the Gumbel tape, set by a
    /// gateway; without one an attesting server makes a fresh one.
    request_id: Option<String>,
}

/// `stop`: one string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
enum StopParam {
    One(String),
    Many(Vec<String>),
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Response> {
    let text = std::str::from_utf8(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            format!("request body is not valid UTF-8: {e}"),
        )
    })?;
    serde_json::from_str(text)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))
}

struct Prepared {
    prompt: Vec<u32>,
    stop: Vec<String>,
    params: SamplingParams,
    stream: bool,
    model: String,
    attest: Option<AttestMeta>,
}

fn prepare(
    s: &AppState,
    model: Option<String>,
    prompt_text: &str,
    c: &CommonParams,
) -> Result<Prepared, Response> {
    if let Some(m) = &model
        && m != &s.model_name
    {
        return Err(error(
            StatusCode::NOT_FOUND,
            format!(
                "model {m:?} is not served here (serving {:?})",
                s.model_name
            ),
        ));
    }
    let prompt = s
        .tokenizer
        .encode(prompt_text)
        .map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
    if prompt.is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "prompt is empty"));
    }
    if prompt.len() > s.cfg.max_prompt_tokens {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "prompt has {} tokens, the limit is {}",
                prompt.len(),
                s.cfg.max_prompt_tokens
            ),
        ));
    }
    let max_tokens = c
        .max_completion_tokens
        .or(c.max_tokens)
        .unwrap_or(256.min(s.cfg.max_output_tokens));
    if max_tokens == 0 || max_tokens > s.cfg.max_output_tokens {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "max_tokens {max_tokens} must be between 1 and {}",
                s.cfg.max_output_tokens
            ),
        ));
    }
    if prompt.len() + max_tokens > s.max_context {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "prompt ({} tokens) plus max_tokens ({max_tokens}) exceeds the context length {}",
                prompt.len(),
                s.max_context
            ),
        ));
    }
    let params = SamplingParams {
        temperature: c.temperature.unwrap_or(0.0),
        top_k: c.top_k.unwrap_or(0),
        top_p: c.top_p.unwrap_or(1.0),
        seed: c.seed.unwrap_or(0),
        max_tokens,
        stop_tokens: s.stop_tokens.clone(),
        tape: None,
    };
    params
        .validate()
        .map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
    let stop = match &c.stop {
        None => vec![],
        Some(StopParam::One(s)) => vec![s.clone()],
        Some(StopParam::Many(v)) => v.clone(),
    };
    if stop.len() > MAX_STOP_STRINGS || stop.iter().any(|s| s.len() > MAX_STOP_BYTES) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!(
                "stop takes at most {MAX_STOP_STRINGS} strings of at most {MAX_STOP_BYTES} bytes"
            ),
        ));
    }
    let mut params = params;
    let attest = match &s.cfg.attestation {
        // A receipt binds the token stream; a text stop string cuts it
        // where no token rule can check, so such requests are not attested.
        Some(_) if stop.is_empty() => {
            let request_id = match &c.request_id {
                Some(h) => parse_request_id(h)?,
                None => fresh_request_id(s),
            };
            let spec = SamplingSpec::from_floats(
                f64::from(params.temperature),
                f64::from(params.top_p),
                params.top_k,
                params.seed,
            )
            .map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
            params.tape = Some(crate::sampling::TapeSampling {
                tape: attest::Tape::new(&request_id, spec.user_seed),
                params: spec.params(),
            });
            Some(AttestMeta { request_id, spec })
        }
        _ => None,
    };
    Ok(Prepared {
        prompt,
        stop,
        params,
        stream: c.stream,
        model: s.model_name.clone(),
        attest,
    })
}

fn parse_request_id(h: &str) -> Result<[u8; 32], Response> {
    hex::decode(h)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "request_id must be 64 hex digits (32 bytes)",
            )
        })
}

fn fresh_request_id(s: &AppState) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let n = s.request_counter.fetch_add(1, Ordering::Relaxed);
    Sha256::new()
        .chain_update(b"comrade/request/v1")
        .chain_update(s.request_salt)
        .chain_update(n.to_le_bytes())
        .finalize()
        .into()
}

fn enqueue(
    s: &Arc<AppState>,
    p: &Prepared,
) -> Result<(Slot, tmpsc::UnboundedReceiver<JobEvent>), Response> {
    let depth = s.metrics.queue_depth.fetch_add(1, Ordering::SeqCst);
    let slot = Slot(s.clone());
    if depth >= s.cfg.max_queue {
        s.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        return Err(retry_after(
            StatusCode::TOO_MANY_REQUESTS,
            "server is busy, retry later",
        ));
    }
    let (tx, rx) = tmpsc::unbounded_channel();
    let job = Job {
        request: GenerateRequest {
            prompt: p.prompt.clone(),
            params: p.params.clone(),
            record_hidden: p.attest.is_some(),
        },
        stop: p.stop.clone(),
        events: tx,
        attest: p.attest,
    };
    let sent = s
        .jobs
        .lock()
        .map(|j| j.send(Work::Generate(job)).is_ok())
        .unwrap_or(false);
    if !sent {
        return Err(retry_after(
            StatusCode::SERVICE_UNAVAILABLE,
            "inference worker is not running",
        ));
    }
    s.metrics.requests.fetch_add(1, Ordering::Relaxed);
    s.metrics
        .prompt_tokens
        .fetch_add(p.prompt.len() as u64, Ordering::Relaxed);
    Ok((slot, rx))
}

fn finish_str(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop | FinishReason::Cancelled => "stop",
        FinishReason::Length => "length",
    }
}

fn usage(prompt: usize, completion: usize) -> Value {
    json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion})
}

async fn run(s: Arc<AppState>, body: Bytes, chat: bool) -> Response {
    let prepared = if chat {
        parse_json::<ChatRequest>(&body).and_then(|r| {
            if r.messages.is_empty() {
                return Err(error(StatusCode::BAD_REQUEST, "messages must not be empty"));
            }
            prepare(&s, r.model, &s.template.render(&r.messages), &r.common)
        })
    } else {
        parse_json::<CompletionRequest>(&body)
            .and_then(|r| prepare(&s, r.model, &r.prompt, &r.common))
    };
    let p = match prepared {
        Ok(p) => p,
        Err(r) => {
            s.metrics.bad_requests.fetch_add(1, Ordering::Relaxed);
            return r;
        }
    };
    let (slot, mut rx) = match enqueue(&s, &p) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let started = Instant::now();
    let id = format!(
        "cmpl-{}-{}",
        now_secs(),
        s.metrics.requests.load(Ordering::Relaxed)
    );
    let created = now_secs();
    let object = if chat {
        "chat.completion"
    } else {
        "text_completion"
    };
    let n_prompt = p.prompt.len();
    if !p.stream {
        let mut text = String::new();
        loop {
            match rx.recv().await {
                Some(JobEvent::Text(piece)) => text.push_str(&piece),
                Some(JobEvent::Done(out)) => {
                    let choice = if chat {
                        json!({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_str(out.finish)})
                    } else {
                        json!({"index": 0, "text": text, "finish_reason": finish_str(out.finish)})
                    };
                    observe(&s, started, None, out.tokens.len());
                    drop(slot);
                    let mut r = axum::Json(
                        json!({"id": id, "object": object, "created": created, "model": p.model,
                        "choices": [choice], "usage": usage(n_prompt, out.tokens.len())}),
                    )
                    .into_response();
                    with_request_id(&mut r, p.attest.as_ref());
                    return r;
                }
                Some(JobEvent::Error(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
                None => {
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "worker dropped the request",
                    );
                }
            }
        }
    }
    // Streaming: SSE chunks, a final chunk with finish_reason and usage, then [DONE].
    let chunk_object = if chat {
        "chat.completion.chunk"
    } else {
        "text_completion"
    };
    let model = p.model.clone();
    let chunk = move |delta: Value, finish: Option<&str>, usage: Option<Value>| -> Event {
        let choice = if chat {
            json!({"index": 0, "delta": delta, "finish_reason": finish})
        } else {
            let text = delta.get("content").cloned().unwrap_or(json!(""));
            json!({"index": 0, "text": text, "finish_reason": finish})
        };
        let mut v = json!({"id": id, "object": chunk_object, "created": created, "model": model,
            "choices": [choice]});
        if let Some(u) = usage {
            v["usage"] = u;
        }
        Event::default().data(v.to_string())
    };
    let init = StreamState {
        rx,
        _slot: slot,
        first: None,
        role_sent: !chat,
        finished: false,
    };
    let stream = futures::stream::unfold(init, move |mut st| {
        let s = s.clone();
        let chunk = chunk.clone();
        async move {
            if st.finished {
                return None;
            }
            if !st.role_sent {
                st.role_sent = true;
                let ev = chunk(json!({"role": "assistant", "content": ""}), None, None);
                return Some((Ok::<Event, Infallible>(ev), st));
            }
            loop {
                match st.rx.recv().await {
                    Some(JobEvent::Text(piece)) => {
                        st.first.get_or_insert_with(Instant::now);
                        if !piece.is_empty() {
                            return Some((Ok(chunk(json!({"content": piece}), None, None)), st));
                        }
                    }
                    Some(JobEvent::Done(out)) => {
                        observe(&s, started, st.first, out.tokens.len());
                        st.finished = true;
                        let u = usage(n_prompt, out.tokens.len());
                        return Some((
                            Ok(chunk(json!({}), Some(finish_str(out.finish)), Some(u))),
                            st,
                        ));
                    }
                    Some(JobEvent::Error(e)) => {
                        st.finished = true;
                        return Some((Ok(Event::default().event("error").data(e)), st));
                    }
                    None => return None,
                }
            }
        }
    });
    let done =
        futures::stream::once(async { Ok::<Event, Infallible>(Event::default().data("[DONE]")) });
    use futures::StreamExt;
    let mut r = Sse::new(stream.chain(done))
        .keep_alive(KeepAlive::default())
        .into_response();
    with_request_id(&mut r, p.attest.as_ref());
    r
}

/// Names the attested request id in `x-comrade-request-id`.
fn with_request_id(r: &mut Response, a: Option<&AttestMeta>) {
    if let Some(a) = a
        && let Ok(v) = HeaderValue::from_str(&hex::encode(a.request_id))
    {
        r.headers_mut().insert("x-comrade-request-id", v);
    }
}

/// `GET /v1/receipts/{request_id}`: a receipt's payload, for auditors.
async fn receipt(State(s): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let Some(att) = &s.cfg.attestation else {
        return error(StatusCode::NOT_FOUND, "this server keeps no receipts");
    };
    let id = match parse_request_id(&id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    match att.get(&id) {
        Some(r) => axum::Json(r).into_response(),
        None => error(StatusCode::NOT_FOUND, "no receipt with that request id"),
    }
}

struct StreamState {
    rx: tmpsc::UnboundedReceiver<JobEvent>,
    _slot: Slot,
    first: Option<Instant>,
    role_sent: bool,
    finished: bool,
}

fn observe(s: &AppState, started: Instant, first: Option<Instant>, n: usize) {
    s.metrics
        .completion_tokens
        .fetch_add(n as u64, Ordering::Relaxed);
    if let Ok(mut h) = s.metrics.latency.lock() {
        h.observe(started.elapsed().as_secs_f64());
    }
    if let (Some(f), Ok(mut h)) = (first, s.metrics.ttft.lock()) {
        h.observe(f.duration_since(started).as_secs_f64());
    }
}
async fn chat_completions(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    run(s, body, true).await
}

async fn completions(State(s): State<Arc<AppState>>, body: Bytes) -> Response {
    run(s, body, false).await
}

async fn models(State(s): State<Arc<AppState>>) -> Response {
    axum::Json(
        json!({"object": "list", "data": [{"id": s.model_name, "object": "model",
        "created": 0, "owned_by": "comrade"}]}),
    )
    .into_response()
}

async fn health(State(s): State<Arc<AppState>>) -> Response {
    axum::Json(json!({"status": "ok", "model": s.model_name,
        "queue_depth": s.metrics.queue_depth.load(Ordering::Relaxed)}))
    .into_response()
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    let m = &s.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, ty: &str, v: String| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {ty}\n{name} {v}\n"
        ));
    };
    counter(
        "comrade_requests_total",
        "Accepted generation requests.",
        "counter",
        m.requests.load(Ordering::Relaxed).to_string(),
    );
    counter(
        "comrade_requests_rejected_total",
        "Requests rejected because the queue was full.",
        "counter",
        m.rejected.load(Ordering::Relaxed).to_string(),
    );
    counter(
        "comrade_bad_requests_total",
        "Requests rejected as invalid (400/404).",
        "counter",
        m.bad_requests.load(Ordering::Relaxed).to_string(),
    );
    counter(
        "comrade_prompt_tokens_total",
        "Prompt tokens processed.",
        "counter",
        m.prompt_tokens.load(Ordering::Relaxed).to_string(),
    );
    counter(
        "comrade_generated_tokens_total",
        "Tokens generated.",
        "counter",
        m.completion_tokens.load(Ordering::Relaxed).to_string(),
    );
    counter(
        "comrade_queue_depth",
        "Requests waiting or running.",
        "gauge",
        m.queue_depth.load(Ordering::Relaxed).to_string(),
    );
    counter(
        "comrade_decode_tokens_per_second",
        "Decode throughput of the last batch.",
        "gauge",
        f64::from_bits(m.last_tps.load(Ordering::Relaxed)).to_string(),
    );
    if let Ok(h) = m.latency.lock() {
        h.render(
            "comrade_request_latency_seconds",
            "End-to-end request latency.",
            &mut out,
        );
    }
    if let Ok(h) = m.ttft.lock() {
        h.render(
            "comrade_time_to_first_token_seconds",
            "Time to first streamed token.",
            &mut out,
        );
    }
    if let Some(hook) = &s.cfg.extra_metrics {
        (hook.0)(&mut out);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

/// The worker loop: takes up to `max_batch` queued jobs and generates them together.
fn worker<B: Backend>(engine: Engine<B>, jobs: mpsc::Receiver<Work>, state: Arc<AppState>) {
    let mut audits = Vec::new();
    while let Ok(first) = jobs.recv() {
        let mut batch = Vec::new();
        match first {
            Work::Generate(j) => batch.push(j),
            Work::Audit(a) => audits.push(a),
        }
        while batch.len() < state.cfg.max_batch {
            match jobs.try_recv() {
                Ok(Work::Generate(j)) => batch.push(j),
                Ok(Work::Audit(a)) => audits.push(a),
                Err(_) => break,
            }
        }
        // Audits run between batches: one prefill each.
        for a in audits.drain(..) {
            let mut cfg = a.cfg;
            if cfg.eos.is_empty() {
                cfg.eos = engine.stop_tokens.clone();
            }
            let r = attest::audit(&engine.model, &engine.name, &a.receipt, &cfg)
                .map_err(|e| e.to_string());
            let _ = a.reply.send(r);
        }
        if batch.is_empty() {
            continue;
        }
        let requests: Vec<GenerateRequest> = batch.iter().map(|j| j.request.clone()).collect();
        let mut decoders = vec![StreamDecoder::default(); batch.len()];
        let mut stops: Vec<StopText> = batch.iter().map(|j| StopText::new(&j.stop)).collect();
        let t0 = Instant::now();
        let mut generated = 0usize;
        let res = engine.generate(&requests, &mut |i, tok| {
            generated += 1;
            let piece = decoders[i].push(&engine.tokenizer, tok).unwrap_or_default();
            let text = stops[i].push(&piece);
            // A closed receiver means the client went away: cancel that sequence;
            // so does a stop string.
            batch[i].events.send(JobEvent::Text(text)).is_ok() && !stops[i].hit()
        });
        let secs = t0.elapsed().as_secs_f64();
        if secs > 0.0 {
            state
                .metrics
                .last_tps
                .store((generated as f64 / secs).to_bits(), Ordering::Relaxed);
        }
        match res {
            Ok(outs) => {
                for ((j, mut o), st) in batch.iter().zip(outs).zip(&mut stops) {
                    if let (Some(meta), Some(att)) = (&j.attest, &state.cfg.attestation) {
                        file_receipt(&engine, att, j, meta, &o);
                    }
                    o.hidden = Vec::new();
                    let _ = j.events.send(JobEvent::Text(st.finish()));
                    let _ = j.events.send(JobEvent::Done(o));
                }
            }
            Err(e) => {
                for j in &batch {
                    let _ = j.events.send(JobEvent::Error(e.to_string()));
                }
            }
        }
    }
}

/// Builds the receipt of an attested generation and files it. A request
/// the client cancelled has no receipt (its output was never delivered).
fn file_receipt<B: Backend>(
    engine: &Engine<B>,
    att: &Attestation,
    j: &Job,
    meta: &AttestMeta,
    o: &GenerateOutput,
) {
    let mut output = o.tokens.clone();
    let finish = match (o.finish, o.stop_token) {
        (FinishReason::Stop, Some(t)) => {
            output.push(t);
            Finish::Eos
        }
        (FinishReason::Length, _) => Finish::MaxTokens,
        _ => return,
    };
    let max_tokens = u32::try_from(j.request.params.max_tokens).unwrap_or(u32::MAX);
    match attest::make_receipt(
        meta.request_id,
        &engine.name,
        meta.spec,
        max_tokens,
        j.request.prompt.clone(),
        output,
        finish,
        &o.hidden,
        engine.config.hidden_size,
    ) {
        Ok(r) => att.insert(r),
        Err(e) => tracing::warn!("no receipt for a served request: {e}"),
    }
}

/// Builds the router and starts the worker thread; used by [`serve`] and tests.
pub fn router<B: Backend>(engine: Engine<B>, cfg: ServerConfig) -> Router
where
    Engine<B>: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let state = Arc::new(AppState {
        model_name: engine.name.clone(),
        tokenizer: engine.tokenizer.clone(),
        template: engine
            .template
            .clone()
            .unwrap_or(crate::chat::ChatTemplate::ChatMl {
                default_system: None,
            }),
        stop_tokens: engine.stop_tokens.clone(),
        max_context: engine.model.max_len(),
        cfg,
        jobs: Mutex::new(tx.clone()),
        metrics: Metrics::default(),
        request_counter: AtomicU64::new(0),
        request_salt: salt(),
    });
    if let Some(att) = &state.cfg.attestation
        && let Ok(mut slot) = att.audits.lock()
    {
        *slot = Some(tx);
    }
    let st = state.clone();
    std::thread::Builder::new()
        .name("comrade-inference-worker".into())
        .spawn(move || worker(engine, rx, st))
        .map_err(|e| tracing::error!("cannot start the inference worker: {e}"))
        .ok();
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
        .route("/v1/models", get(models))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/v1/receipts/{id}", get(receipt))
        .with_state(state)
}

/// A per-process salt for request ids: the time and the process id, hashed
/// (request ids must not repeat across restarts; they need not be secret).
fn salt() -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Sha256::new()
        .chain_update(nanos.to_le_bytes())
        .chain_update(std::process::id().to_le_bytes())
        .finalize()
        .into()
}

/// Serves until the process is stopped.
pub async fn serve<B: Backend>(engine: Engine<B>, cfg: ServerConfig) -> anyhow::Result<()>
where
    Engine<B>: Send + 'static,
{
    let listen = cfg.listen;
    let app = router(engine, cfg);
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("serving on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
