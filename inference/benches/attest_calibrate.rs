//! The attestation calibration experiment of design §6, on this CPU.
//!
//! Executors (SmolLM2-135M-Instruct, Q4_1 GGUF run as `quant` or `f32`,
//! batch 1 or 8) answer prompts with the Gumbel tape and TOPLOC proofs;
//! auditors (`quant` or `f32`) re-run one teacher-forced prefill per receipt.
//! From a calibration seed set it derives ε (the milli-margin that honest
//! steps exceed at most 10⁻³ of the time) and the per-chunk TOPLOC limits
//! (1.25 × the honest maximum), then measures on a held-out seed set the
//! honest receipts' failure rate and each attack's detection rate with the
//! chain's per-receipt rule (binomial critical values at α = 10⁻⁴).
//!
//! `cargo bench -p comrade-inference --bench attest_calibrate [-- PROMPTS TOKENS]`
//! (defaults 8 prompts × 32 tokens: the CI-sized run of design §6).

#![allow(
    clippy::disallowed_methods,
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs
)]

use std::time::Instant;

use comrade_inference::Cpu;
use comrade_inference::attest::{
    self, AuditConfig, AuditDetail, ChunkLimits, Finish, Receipt, SamplingSpec,
};
use comrade_inference::chat::ChatMessage;
use comrade_inference::engine::{Engine, resolve_model};
use comrade_inference::generate::{GenerateRequest, generate};
use comrade_inference::model::{Transformer, WeightPrecision};
use comrade_inference::sampling::{SamplingParams, TapeSampling};
use sha2::{Digest as _, Sha256};

const PROMPTS: &[&str] = &[
    "Explain why the sky is blue in two sentences.",
    "Write a short poem about a lighthouse.",
    "What is the capital of Australia, and why is it not Sydney?",
    "List three uses of a paperclip.",
    "Translate 'good morning, my friend' into French and Spanish.",
    "Describe how a bicycle gear works.",
    "Give me a recipe idea with rice and beans.",
    "What is 17 times 23? Show your steps.",
    "Summarize the plot of Romeo and Juliet.",
    "Why do cats purr?",
    "Suggest a name for a bakery run by robots.",
    "How does a compiler differ from an interpreter?",
    "Tell me a fun fact about octopuses.",
    "What should I pack for a weekend hiking trip?",
    "Explain photosynthesis to a ten-year-old.",
    "Write a haiku about winter rain.",
];

/// (τ, top_p): greedy, then two temperatures with and without nucleus.
const SAMPLING: &[(f64, f64)] = &[(0.0, 1.0), (0.7, 1.0), (0.7, 0.95), (1.0, 1.0), (1.0, 0.95)];

struct Request {
    id: [u8; 32],
    prompt: Vec<u32>,
    spec: SamplingSpec,
}

fn requests(prompts: &[Vec<u32>], set: &str) -> Vec<Request> {
    let mut out = vec![];
    for (pi, p) in prompts.iter().enumerate() {
        for (si, &(tau, top_p)) in SAMPLING.iter().enumerate() {
            let id: [u8; 32] = Sha256::new()
                .chain_update(set.as_bytes())
                .chain_update((pi as u32).to_le_bytes())
                .chain_update((si as u32).to_le_bytes())
                .finalize()
                .into();
            let seed = u64::from_le_bytes(id[..8].try_into().unwrap());
            out.push(Request {
                id,
                prompt: p.clone(),
                spec: SamplingSpec::from_floats(tau, top_p, 0, seed).unwrap(),
            });
        }
    }
    out
}

/// Runs the requests `batch` at a time with the tape (ignoring EOS, so every
/// receipt has `tokens` outputs) and returns the receipts.
fn execute(
    m: &Transformer<Cpu>,
    reqs: &[Request],
    tokens: usize,
    batch: usize,
    d: usize,
) -> (Vec<Receipt>, f64) {
    let t0 = Instant::now();
    let mut out = vec![];
    for group in reqs.chunks(batch) {
        let g: Vec<GenerateRequest> = group
            .iter()
            .map(|r| GenerateRequest {
                prompt: r.prompt.clone(),
                params: SamplingParams {
                    max_tokens: tokens,
                    tape: Some(TapeSampling {
                        tape: attest::Tape::new(&r.id, r.spec.user_seed),
                        params: r.spec.params(),
                    }),
                    ..SamplingParams::default()
                },
                record_hidden: true,
            })
            .collect();
        let outs = generate(m, &g, &mut |_, _| true).expect("generate");
        for (r, o) in group.iter().zip(outs) {
            out.push(
                attest::make_receipt(
                    r.id,
                    "smollm2",
                    r.spec,
                    tokens as u32,
                    r.prompt.clone(),
                    o.tokens,
                    Finish::MaxTokens,
                    &o.hidden,
                    d,
                )
                .expect("receipt"),
            );
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    (out, (reqs.len() * tokens) as f64 / secs)
}

/// The prefill attack (A5): tokens from a cheap model, proofs from the real
/// model's teacher-forced states over those tokens.
fn prefill_attack(real: &Transformer<Cpu>, cheap: &[Receipt]) -> Vec<Receipt> {
    cheap
        .iter()
        .map(|r| {
            let mut seq = r.prompt.clone();
            seq.extend(&r.output[..r.output.len() - 1]);
            let tf = real.teacher_forced(&seq).expect("prefill");
            let d = tf.final_hidden.dims()[1];
            let h: Vec<f32> = tf.final_hidden.into_data().to_vec().expect("f32");
            attest::make_receipt(
                r.request_id,
                &r.model,
                r.sampling,
                r.max_tokens,
                r.prompt.clone(),
                r.output.clone(),
                r.finish,
                &h,
                d,
            )
            .expect("receipt")
        })
        .collect()
}

fn audits(val: &Transformer<Cpu>, rs: &[Receipt]) -> Vec<AuditDetail> {
    rs.iter()
        .map(|r| attest::audit_detail(val, "smollm2", r, &[]).expect("audit"))
        .collect()
}

/// Smallest c with P(Binomial(n, p0) ≥ c) ≤ α (f64: this is the offline
/// table generator's arithmetic, not the chain's).
fn critical(n: u32, p0: f64, alpha: f64) -> u32 {
    // pmf by recurrence from j = 0, then the upper tail from the top.
    let mut pmf = Vec::with_capacity(n as usize + 1);
    let mut p = (1.0 - p0).powi(n as i32);
    for j in 0..=n {
        pmf.push(p);
        p *= (f64::from(n - j) / f64::from(j + 1)) * (p0 / (1.0 - p0));
    }
    let mut tail = 0.0;
    for c in (0..=n).rev() {
        tail += pmf[c as usize];
        if tail > alpha {
            return c + 1;
        }
    }
    0
}

struct Thresholds {
    cfg: AuditConfig,
    mean_avg_centi: u32,
}

fn fails(d: &AuditDetail, t: &Thresholds) -> bool {
    let m = d.metrics(&t.cfg);
    m.flags != 0
        || m.r_gated >= critical(m.n_steps, 1e-3, 1e-4)
        || m.toploc_fail_chunks as u32 >= critical(u32::from(m.toploc_chunks), 1e-3, 1e-4)
        || u32::from(m.mant_mean_avg_centi) > t.mean_avg_centi
}

fn quantile(v: &mut [u32], q: f64) -> u32 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn row(name: &str, ds: &[AuditDetail], t: &Thresholds) {
    let mut margins: Vec<u32> = ds
        .iter()
        .flat_map(|d| d.steps.iter().map(|s| s.milli))
        .collect();
    let steps = margins.len();
    let raw = ds
        .iter()
        .flat_map(|d| &d.steps)
        .filter(|s| !s.agrees())
        .count();
    let gated = margins.iter().filter(|&&m| m > t.cfg.eps_milli).count();
    let chunks: Vec<_> = ds.iter().flat_map(|d| &d.chunks).collect();
    let exp_max = chunks.iter().map(|c| c.exp_mismatches).max().unwrap_or(0);
    let mean_max = chunks
        .iter()
        .map(|c| c.mant_mean_centi.min(12_700))
        .max()
        .unwrap_or(0);
    let chunk_fail = chunks.iter().filter(|c| t.cfg.limits.fails(c)).count();
    let failed = ds.iter().filter(|d| fails(d, t)).count();
    println!(
        "| {name} | {} | {steps} | {:.2} % | {:.3} % | {} / {} / {} | {exp_max} | {:.2} | {chunk_fail}/{} | **{failed}/{}** |",
        ds.len(),
        100.0 * raw as f64 / steps as f64,
        100.0 * gated as f64 / steps as f64,
        quantile(&mut margins, 0.5),
        quantile(&mut margins, 0.99),
        quantile(&mut margins, 1.0),
        f64::from(mean_max) / 100.0,
        chunks.len(),
        ds.len(),
    );
}

fn calibrate(honest: &[&[AuditDetail]]) -> Thresholds {
    let mut margins: Vec<u32> = honest
        .iter()
        .flat_map(|ds| ds.iter().flat_map(|d| d.steps.iter().map(|s| s.milli)))
        .collect();
    margins.sort_unstable();
    // Smallest ε with #(m > ε) ≤ 10⁻³ · n.
    let allowed = margins.len() / 1000;
    let eps = margins[margins.len() - 1 - allowed];
    let chunks: Vec<_> = honest
        .iter()
        .flat_map(|ds| ds.iter().flat_map(|d| &d.chunks))
        .collect();
    let lim = |f: &dyn Fn(&attest::toploc::ChunkCheck) -> u32| {
        let max = chunks.iter().map(|c| f(c)).max().unwrap_or(0);
        (max * 5).div_ceil(4).max(1)
    };
    let limits = ChunkLimits {
        exp: lim(&|c| u32::from(c.exp_mismatches)) as u16,
        sign: lim(&|c| u32::from(c.sign_mismatches)) as u16,
        mean_centi: lim(&|c| c.mant_mean_centi.min(12_700)),
        median: lim(&|c| u32::from(c.mant_median)).min(127) as u8,
    };
    let cfg = AuditConfig {
        eps_milli: eps,
        limits,
        eos: vec![],
    };
    let mean_avg = honest
        .iter()
        .flat_map(|ds| {
            ds.iter()
                .map(|d| u32::from(d.metrics(&cfg).mant_mean_avg_centi))
        })
        .max()
        .unwrap_or(0);
    Thresholds {
        cfg,
        mean_avg_centi: (mean_avg * 5).div_ceil(4).max(1),
    }
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let n_prompts: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let tokens: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(32);
    let path = resolve_model("smollm2-135m-instruct").expect("model");
    let dev = Default::default();
    let quant = Engine::<Cpu>::load_with(&path, &dev, WeightPrecision::Quant, &mut |_, _| {})
        .expect("load quant");
    let f32e = Engine::<Cpu>::load_with(&path, &dev, WeightPrecision::F32, &mut |_, _| {})
        .expect("load f32");
    let mut dropped = Engine::<Cpu>::load_with(&path, &dev, WeightPrecision::Quant, &mut |_, _| {})
        .expect("load quant")
        .model;
    let layers = dropped.layers.len();
    dropped.layers.remove(layers / 2);
    let mut cheap = Engine::<Cpu>::load_with(&path, &dev, WeightPrecision::Quant, &mut |_, _| {})
        .expect("load quant")
        .model;
    cheap.layers.truncate(layers / 2);
    let d = quant.config.hidden_size;
    let prompts: Vec<Vec<u32>> = PROMPTS
        .iter()
        .cycle()
        .take(n_prompts)
        .map(|p| {
            let text = quant.render_chat(&[ChatMessage {
                role: "user".into(),
                content: (*p).into(),
            }]);
            quant.tokenizer.encode(&text).expect("encode")
        })
        .collect();
    println!(
        "SmolLM2-135M-Instruct (d = {d}, {layers} layers), {n_prompts} prompts × {} samplings × {tokens} tokens per seed set, rayon threads {}",
        SAMPLING.len(),
        rayon::current_num_threads()
    );

    let mut sets = vec![];
    for set in ["calibration", "held-out"] {
        let reqs = requests(&prompts, set);
        let (q1, q1_tps) = execute(&quant.model, &reqs, tokens, 1, d);
        let (q8, q8_tps) = execute(&quant.model, &reqs, tokens, 8, d);
        let (f1, f1_tps) = execute(&f32e.model, &reqs, tokens, 1, d);
        let (f8, f8_tps) = execute(&f32e.model, &reqs, tokens, 8, d);
        println!(
            "{set}: executor tok/s quant b1 {q1_tps:.0}, quant b8 {q8_tps:.0}, f32 b1 {f1_tps:.0}, f32 b8 {f8_tps:.0}"
        );
        let t0 = Instant::now();
        let a_q1 = audits(&quant.model, &q1);
        let audit_s = t0.elapsed().as_secs_f64() / q1.len() as f64;
        println!(
            "{set}: one prefill audit {:.0} ms vs the executor's {:.0} ms per receipt (quant b1) = 1/{:.1}",
            audit_s * 1e3,
            tokens as f64 / q1_tps * 1e3,
            tokens as f64 / q1_tps / audit_s
        );
        let honest_q = [a_q1, audits(&quant.model, &q8)];
        let honest_f = [audits(&f32e.model, &f1), audits(&f32e.model, &f8)];
        let cross = [audits(&f32e.model, &q8), audits(&quant.model, &f8)];
        let (dr, _) = execute(&dropped, &reqs, tokens, 8, d);
        let (ch, _) = execute(&cheap, &reqs, tokens, 8, d);
        let pf = prefill_attack(&quant.model, &ch);
        let mut replay = q8.clone();
        for r in &mut replay {
            r.request_id = Sha256::digest(r.request_id).into();
        }
        let attacks = [
            (
                "A2 one layer dropped (quant exec)",
                audits(&quant.model, &dr),
            ),
            (
                "A5 prefill attack (half the layers generate)",
                audits(&quant.model, &pf),
            ),
            (
                "A6 replay under another request id",
                audits(&quant.model, &replay),
            ),
        ];
        sets.push((set, honest_q, honest_f, cross, attacks));
    }
    let (_, cq, cf, _, _) = &sets[0];
    let tq = calibrate(&[&cq[0], &cq[1]]);
    let tf = calibrate(&[&cf[0], &cf[1]]);
    for (name, t) in [("quant", &tq), ("f32", &tf)] {
        println!(
            "{name} profile thresholds: ε = {} milli; chunk limits exp {} sign {} mean {:.2} median {}; mean-avg {:.2}",
            t.cfg.eps_milli,
            t.cfg.limits.exp,
            t.cfg.limits.sign,
            f64::from(t.cfg.limits.mean_centi) / 100.0,
            t.cfg.limits.median,
            f64::from(t.mean_avg_centi) / 100.0
        );
    }
    for (set, hq, hf, cross, attacks) in &sets {
        println!("\n### {set} set\n");
        println!(
            "| executor → auditor | receipts | steps | raw disagree | gated (> ε) | margin p50/p99/max (milli) | exp mis max | mant mean max | chunks failed | receipts FAIL |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        row("quant b1 → quant", &hq[0], &tq);
        row("quant b8 → quant", &hq[1], &tq);
        row("f32 b1 → f32", &hf[0], &tf);
        row("f32 b8 → f32", &hf[1], &tf);
        row("quant b8 → f32 (A1 for the f32 profile)", &cross[0], &tf);
        row("f32 b8 → quant (cross profile)", &cross[1], &tq);
        for (name, ds) in attacks {
            row(name, ds, &tq);
        }
    }
}
