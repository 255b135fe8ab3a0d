//! Seeded tiny random Llama and Qwen2 checkpoints, written as safetensors at test
//! time, checked against a plain f64 reference forward pass (no Burn involved).

use std::collections::BTreeMap;
use std::path::Path;

use comrade_inference::Cpu;
use comrade_inference::InferenceError;
use comrade_inference::config::ModelConfig;
use comrade_inference::generate::{GenerateRequest, generate};
use comrade_inference::model::{ForwardOptions, KvCache, Transformer, WeightPrecision};
use comrade_inference::sampling::{Rng, SamplingParams};
use comrade_inference::weights::SafetensorsWeights;

#[derive(Clone, Copy, PartialEq)]
enum Arch {
    Llama,
    Qwen2,
}

pub(crate) struct Tiny {
    arch: Arch,
    vocab: usize,
    d: usize,
    ff: usize,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    hd: usize,
    theta: f64,
    eps: f64,
    /// Llama-3 rope scaling: (factor, low_freq_factor, high_freq_factor, original context).
    llama3_scaling: Option<(f64, f64, f64, f64)>,
}

pub(crate) const TINY: Tiny = Tiny {
    arch: Arch::Llama,
    vocab: 61,
    d: 32,
    ff: 40,
    layers: 2,
    heads: 4,
    kv_heads: 2,
    hd: 8,
    theta: 10000.0,
    eps: 1e-6,
    llama3_scaling: None,
};

/// Weights by HF name (with `model.` prefix), row-major f64.
pub(crate) type Weights = BTreeMap<String, (Vec<usize>, Vec<f64>)>;

pub(crate) fn random_weights(t: &Tiny, seed: u64, bf16: bool) -> Weights {
    let mut rng = Rng::new(seed);
    let mut w = Weights::new();
    let mut add = |name: String, shape: Vec<usize>, scale: f64, offset: f64| {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|_| {
                let x = (rng.next_f64() * 2.0 - 1.0) * scale + offset;
                if bf16 {
                    f64::from(half::bf16::from_f64(x).to_f32())
                } else {
                    f64::from(x as f32)
                }
            })
            .collect();
        w.insert(name, (shape, v));
    };
    let (d, q, kv) = (t.d, t.heads * t.hd, t.kv_heads * t.hd);
    add(
        "model.embed_tokens.weight".into(),
        vec![t.vocab, d],
        1.0,
        0.0,
    );
    for i in 0..t.layers {
        let p = |s: &str| format!("model.layers.{i}.{s}");
        add(p("input_layernorm.weight"), vec![d], 0.2, 1.0);
        add(p("post_attention_layernorm.weight"), vec![d], 0.2, 1.0);
        add(p("self_attn.q_proj.weight"), vec![q, d], 0.4, 0.0);
        add(p("self_attn.k_proj.weight"), vec![kv, d], 0.4, 0.0);
        add(p("self_attn.v_proj.weight"), vec![kv, d], 0.4, 0.0);
        add(p("self_attn.o_proj.weight"), vec![d, q], 0.3, 0.0);
        if t.arch == Arch::Qwen2 {
            add(p("self_attn.q_proj.bias"), vec![q], 0.5, 0.0);
            add(p("self_attn.k_proj.bias"), vec![kv], 0.5, 0.0);
            add(p("self_attn.v_proj.bias"), vec![kv], 0.5, 0.0);
        }
        add(p("mlp.gate_proj.weight"), vec![t.ff, d], 0.3, 0.0);
        add(p("mlp.up_proj.weight"), vec![t.ff, d], 0.3, 0.0);
        add(p("mlp.down_proj.weight"), vec![d, t.ff], 0.3, 0.0);
    }
    add("model.norm.weight".into(), vec![d], 0.2, 1.0);
    if t.arch == Arch::Qwen2 {
        add("lm_head.weight".into(), vec![t.vocab, d], 0.5, 0.0);
    }
    w
}

/// Minimal safetensors writer.
pub(crate) type Entry<'a> = (&'a String, &'a (Vec<usize>, Vec<f64>));

pub(crate) fn write_safetensors(path: &Path, tensors: &[Entry<'_>], bf16: bool) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, (shape, v)) in tensors {
        let start = data.len();
        for &x in v {
            if bf16 {
                data.extend(half::bf16::from_f64(x).to_le_bytes());
            } else {
                data.extend((x as f32).to_le_bytes());
            }
        }
        header.insert(
            (*name).clone(),
            serde_json::json!({"dtype": if bf16 {"BF16"} else {"F32"}, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    header.insert("__metadata__".into(), serde_json::json!({"format": "pt"}));
    let mut h = serde_json::to_vec(&serde_json::Value::Object(header)).expect("json");
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    std::fs::write(path, out).expect("write safetensors");
}

fn config_json(t: &Tiny) -> String {
    serde_json::json!({
        "model_type": if t.arch == Arch::Qwen2 { "qwen2" } else { "llama" },
        "vocab_size": t.vocab, "hidden_size": t.d, "intermediate_size": t.ff,
        "num_hidden_layers": t.layers, "num_attention_heads": t.heads,
        "num_key_value_heads": t.kv_heads, "head_dim": t.hd, "rms_norm_eps": t.eps, "rope_theta": t.theta,
        "max_position_embeddings": 64, "tie_word_embeddings": t.arch == Arch::Llama,
        "bos_token_id": 1, "eos_token_id": 2,
        "rope_scaling": t.llama3_scaling.map(|(f, lo, hi, ctx)| serde_json::json!({
            "rope_type": "llama3", "factor": f, "low_freq_factor": lo, "high_freq_factor": hi,
            "original_max_position_embeddings": ctx as usize})),
    })
    .to_string()
}

/// Writes config.json plus the weights split into `shards` safetensors files.
pub(crate) fn write_checkpoint(dir: &Path, t: &Tiny, w: &Weights, shards: usize, bf16: bool) {
    std::fs::write(dir.join("config.json"), config_json(t)).expect("config");
    let all: Vec<_> = w.iter().collect();
    let per = all.len().div_ceil(shards);
    for (i, chunk) in all.chunks(per).enumerate() {
        write_safetensors(
            &dir.join(format!("model-{:05}-of-{shards:05}.safetensors", i + 1)),
            chunk,
            bf16,
        );
    }
}

// ---------------------------------------------------------------- f64 reference

pub(crate) fn get<'a>(w: &'a Weights, n: &str) -> &'a [f64] {
    &w.get(n).unwrap_or_else(|| panic!("missing {n}")).1
}

/// y = W x (+ b), W is [out, in].
pub(crate) fn matvec(wm: &[f64], b: Option<&[f64]>, x: &[f64]) -> Vec<f64> {
    let inp = x.len();
    let out = wm.len() / inp;
    (0..out)
        .map(|o| {
            let s: f64 = (0..inp).map(|i| wm[o * inp + i] * x[i]).sum();
            s + b.map_or(0.0, |b| b[o])
        })
        .collect()
}

pub(crate) fn rms(x: &[f64], g: &[f64], eps: f64) -> Vec<f64> {
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let inv = 1.0 / (ms + eps).sqrt();
    x.iter().zip(g).map(|(v, g)| v * inv * g).collect()
}

/// Transformers' `_compute_llama3_parameters`, written out.
fn llama3_freq(inv: f64, (factor, lo, hi, ctx): (f64, f64, f64, f64)) -> f64 {
    let wavelen = 2.0 * std::f64::consts::PI / inv;
    let scaled = if wavelen > ctx / lo {
        inv / factor
    } else {
        inv
    };
    let smooth = (ctx / wavelen - lo) / (hi - lo);
    let smoothed = (1.0 - smooth) * scaled / factor + smooth * scaled;
    let is_medium = wavelen >= ctx / hi && wavelen <= ctx / lo;
    if is_medium { smoothed } else { scaled }
}

fn rope(x: &mut [f64], heads: usize, hd: usize, pos: usize, t: &Tiny) {
    let half = hd / 2;
    for h in 0..heads {
        for i in 0..half {
            let mut inv = 1.0 / t.theta.powf(2.0 * i as f64 / hd as f64);
            if let Some(sc) = t.llama3_scaling {
                inv = llama3_freq(inv, sc);
            }
            let a = pos as f64 * inv;
            let (s, c) = a.sin_cos();
            let (x1, x2) = (x[h * hd + i], x[h * hd + i + half]);
            x[h * hd + i] = x1 * c - x2 * s;
            x[h * hd + i + half] = x2 * c + x1 * s;
        }
    }
}

struct RefOut {
    logits: Vec<Vec<f64>>,
    /// hidden[l][pos] for l in 0..=layers
    hidden: Vec<Vec<Vec<f64>>>,
    /// final_hidden[pos]: the last hidden state after the final norm (LM head input).
    final_hidden: Vec<Vec<f64>>,
}

fn reference(t: &Tiny, w: &Weights, tokens: &[u32]) -> RefOut {
    let n = tokens.len();
    let emb = get(w, "model.embed_tokens.weight");
    let mut xs: Vec<Vec<f64>> = tokens
        .iter()
        .map(|&tok| emb[tok as usize * t.d..(tok as usize + 1) * t.d].to_vec())
        .collect();
    let mut hidden = vec![xs.clone()];
    let bias = |n: &str| {
        if t.arch == Arch::Qwen2 {
            Some(get(w, n))
        } else {
            None
        }
    };
    for l in 0..t.layers {
        let p = |s: &str| format!("model.layers.{l}.{s}");
        let mut qs = vec![];
        let mut ks = vec![];
        let mut vs = vec![];
        for (pos, x) in xs.iter().enumerate() {
            let h = rms(x, get(w, &p("input_layernorm.weight")), t.eps);
            let mut q = matvec(
                get(w, &p("self_attn.q_proj.weight")),
                bias(&p("self_attn.q_proj.bias")),
                &h,
            );
            let mut k = matvec(
                get(w, &p("self_attn.k_proj.weight")),
                bias(&p("self_attn.k_proj.bias")),
                &h,
            );
            let v = matvec(
                get(w, &p("self_attn.v_proj.weight")),
                bias(&p("self_attn.v_proj.bias")),
                &h,
            );
            rope(&mut q, t.heads, t.hd, pos, t);
            rope(&mut k, t.kv_heads, t.hd, pos, t);
            qs.push(q);
            ks.push(k);
            vs.push(v);
        }
        let rep = t.heads / t.kv_heads;
        for pos in 0..n {
            let mut attn = vec![0.0; t.heads * t.hd];
            for h in 0..t.heads {
                let kh = h / rep;
                let scores: Vec<f64> = (0..=pos)
                    .map(|s| {
                        (0..t.hd)
                            .map(|i| qs[pos][h * t.hd + i] * ks[s][kh * t.hd + i])
                            .sum::<f64>()
                            / (t.hd as f64).sqrt()
                    })
                    .collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = scores.iter().map(|s| (s - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for (s, es) in e.iter().enumerate() {
                    for i in 0..t.hd {
                        attn[h * t.hd + i] += es / z * vs[s][kh * t.hd + i];
                    }
                }
            }
            let o = matvec(get(w, &p("self_attn.o_proj.weight")), None, &attn);
            let x: Vec<f64> = xs[pos].iter().zip(&o).map(|(a, b)| a + b).collect();
            let h = rms(&x, get(w, &p("post_attention_layernorm.weight")), t.eps);
            let g = matvec(get(w, &p("mlp.gate_proj.weight")), None, &h);
            let u = matvec(get(w, &p("mlp.up_proj.weight")), None, &h);
            let a: Vec<f64> = g
                .iter()
                .zip(&u)
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            let dn = matvec(get(w, &p("mlp.down_proj.weight")), None, &a);
            xs[pos] = x.iter().zip(&dn).map(|(a, b)| a + b).collect();
        }
        hidden.push(xs.clone());
    }
    let head = if t.arch == Arch::Qwen2 {
        get(w, "lm_head.weight")
    } else {
        emb
    };
    let final_hidden: Vec<Vec<f64>> = xs
        .iter()
        .map(|x| rms(x, get(w, "model.norm.weight"), t.eps))
        .collect();
    let logits = final_hidden.iter().map(|h| matvec(head, None, h)).collect();
    RefOut {
        logits,
        hidden,
        final_hidden,
    }
}

fn ref_greedy(t: &Tiny, w: &Weights, prompt: &[u32], n: usize) -> Vec<u32> {
    let mut toks = prompt.to_vec();
    let mut out = vec![];
    for _ in 0..n {
        let r = reference(t, w, &toks);
        let last = r.logits.last().expect("logits");
        let mut best = 0;
        for (i, &v) in last.iter().enumerate() {
            if v > last[best] {
                best = i;
            }
        }
        out.push(best as u32);
        toks.push(best as u32);
    }
    out
}

// ---------------------------------------------------------------- tests

pub(crate) fn load(dir: &Path) -> (ModelConfig, Transformer<Cpu>) {
    let cfg = ModelConfig::from_hf_json_file(dir.join("config.json")).expect("config");
    let mut src = SafetensorsWeights::open_dir(dir).expect("open");
    let model = Transformer::load(&cfg, &mut src, &Default::default()).expect("load");
    (cfg, model)
}

pub(crate) fn max_abs_diff(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - y).abs())
        .fold(0.0, f64::max)
}

fn check_arch(t: &Tiny, bf16: bool, shards: usize) {
    let w = random_weights(t, 42 + shards as u64, bf16);
    let dir = tempfile::tempdir().expect("tempdir");
    write_checkpoint(dir.path(), t, &w, shards, bf16);
    let (_, model) = load(dir.path());
    let prompt: Vec<u32> = vec![3, 17, 5, 60, 9, 33, 12];
    let r = reference(t, &w, &prompt);

    // Full prefill with all logits and hidden states.
    let mut cache = KvCache::new(t.layers, vec![0]);
    let out = model
        .forward(
            std::slice::from_ref(&prompt),
            &mut cache,
            ForwardOptions {
                all_logits: true,
                hidden_states: true,
                ..Default::default()
            },
        )
        .expect("forward");
    let logits = out.logits.into_data().into_vec::<f32>().expect("vec");
    let want: Vec<f64> = r.logits.iter().flatten().copied().collect();
    let diff = max_abs_diff(&logits, &want);
    assert!(diff < 1e-4, "prefill logits differ by {diff}");
    let hs = out.hidden_states.expect("hidden");
    assert_eq!(hs.len(), t.layers + 1);
    for (l, h) in hs.into_iter().enumerate() {
        let got = h.into_data().into_vec::<f32>().expect("vec");
        let want: Vec<f64> = r.hidden[l].iter().flatten().copied().collect();
        let diff = max_abs_diff(&got, &want);
        assert!(diff < 1e-4, "hidden state {l} differs by {diff}");
    }

    // Incremental decode through the KV cache: prefill 3 tokens, then one at a time.
    let mut cache = KvCache::new(t.layers, vec![0]);
    let o = model
        .forward(
            &[prompt[..3].to_vec()],
            &mut cache,
            ForwardOptions::default(),
        )
        .expect("fwd");
    let l = o.logits.into_data().into_vec::<f32>().expect("vec");
    assert!(max_abs_diff(&l, &r.logits[2]) < 1e-4);
    for (pos, &tok) in prompt.iter().enumerate().skip(3) {
        let o = model
            .forward(&[vec![tok]], &mut cache, ForwardOptions::default())
            .expect("fwd");
        let l = o.logits.into_data().into_vec::<f32>().expect("vec");
        let diff = max_abs_diff(&l, &r.logits[pos]);
        assert!(diff < 1e-4, "decode step {pos} differs by {diff}");
    }

    // Batched greedy generation with left padding equals the reference per prompt.
    let prompts = [vec![4u32, 8, 15, 16, 23, 42], vec![7u32], vec![1u32, 2, 3]];
    let reqs: Vec<GenerateRequest> = prompts
        .iter()
        .map(|p| GenerateRequest {
            prompt: p.clone(),
            params: SamplingParams::greedy(6),
            record_hidden: false,
        })
        .collect();
    let mut streamed = vec![vec![]; prompts.len()];
    let outs = generate(&model, &reqs, &mut |i, tok| {
        streamed[i].push(tok);
        true
    })
    .expect("generate");
    for (i, p) in prompts.iter().enumerate() {
        let want = ref_greedy(t, &w, p, 6);
        assert_eq!(outs[i].tokens, want, "batched greedy for prompt {i}");
        assert_eq!(streamed[i], want, "streamed tokens for prompt {i}");
    }
}

#[test]
fn tiny_llama_f32_sharded_matches_f64_reference() {
    check_arch(&TINY, false, 3);
}

#[test]
fn tiny_llama_with_llama3_rope_scaling_matches_f64_reference() {
    // head_dim 8, theta 1e4: wavelengths 6.3, 63, 628, 6283 fall in the high, medium
    // and low bands for an original context of 64 (bands at 16 and 64).
    check_arch(
        &Tiny {
            llama3_scaling: Some((8.0, 1.0, 4.0, 64.0)),
            ..TINY
        },
        false,
        1,
    );
}

#[test]
fn tiny_qwen2_bf16_matches_f64_reference() {
    let t = Tiny {
        arch: Arch::Qwen2,
        heads: 6,
        kv_heads: 2,
        ..TINY
    };
    check_arch(&t, true, 1);
}

#[test]
fn stop_tokens_and_seeded_sampling() {
    let w = random_weights(&TINY, 5, false);
    let dir = tempfile::tempdir().expect("tempdir");
    write_checkpoint(dir.path(), &TINY, &w, 1, false);
    let (_, model) = load(dir.path());
    let greedy = ref_greedy(&TINY, &w, &[9, 10, 11], 5);
    // Stop at the third greedy token: two tokens come back, finish = Stop.
    let params = SamplingParams {
        stop_tokens: vec![greedy[2]],
        ..SamplingParams::greedy(5)
    };
    let first_stop = greedy
        .iter()
        .position(|&x| x == greedy[2])
        .expect("present");
    let out = generate(
        &model,
        &[GenerateRequest {
            prompt: vec![9, 10, 11],
            params,
            record_hidden: false,
        }],
        &mut |_, _| true,
    )
    .expect("gen");
    assert_eq!(out[0].tokens, greedy[..first_stop]);
    assert_eq!(
        out[0].finish,
        comrade_inference::generate::FinishReason::Stop
    );
    // Seeded sampling is reproducible; different seeds diverge.
    let sample = |seed| {
        let params = SamplingParams {
            temperature: 1.5,
            top_k: 20,
            top_p: 0.95,
            seed,
            ..SamplingParams::greedy(12)
        };
        generate(
            &model,
            &[GenerateRequest {
                prompt: vec![9, 10, 11],
                params,
                record_hidden: false,
            }],
            &mut |_, _| true,
        )
        .expect("gen")[0]
            .tokens
            .clone()
    };
    assert_eq!(sample(1), sample(1));
    assert_ne!(sample(1), sample(2));
    // Cancelling through the callback stops after that token.
    let out = generate(
        &model,
        &[GenerateRequest {
            prompt: vec![9],
            params: SamplingParams::greedy(10),
            record_hidden: false,
        }],
        &mut |_, _| false,
    )
    .expect("gen");
    assert_eq!(out[0].tokens.len(), 1);
}

#[test]
fn loading_errors_are_typed() {
    let w = random_weights(&TINY, 9, false);
    // Missing tensor.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w2 = w.clone();
    w2.remove("model.layers.1.mlp.up_proj.weight");
    write_checkpoint(dir.path(), &TINY, &w2, 1, false);
    let cfg = ModelConfig::from_hf_json_file(dir.path().join("config.json")).expect("cfg");
    let mut src = SafetensorsWeights::open_dir(dir.path()).expect("open");
    let e = Transformer::<Cpu>::load(&cfg, &mut src, &Default::default()).expect_err("missing");
    assert!(
        matches!(e, InferenceError::MissingTensor(ref n) if n == "layers.1.mlp.up_proj.weight"),
        "{e}"
    );
    // Shape mismatch.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w3 = w.clone();
    w3.insert(
        "model.norm.weight".into(),
        (vec![TINY.d + 1], vec![1.0; TINY.d + 1]),
    );
    write_checkpoint(dir.path(), &TINY, &w3, 1, false);
    let mut src = SafetensorsWeights::open_dir(dir.path()).expect("open");
    let e = Transformer::<Cpu>::load(&cfg, &mut src, &Default::default()).expect_err("shape");
    assert!(matches!(e, InferenceError::ShapeMismatch { .. }), "{e}");
    // Truncated file.
    let dir = tempfile::tempdir().expect("tempdir");
    write_checkpoint(dir.path(), &TINY, &w, 1, false);
    let f = dir.path().join("model-00001-of-00001.safetensors");
    let bytes = std::fs::read(&f).expect("read");
    std::fs::write(&f, &bytes[..bytes.len() / 2]).expect("write");
    let r = SafetensorsWeights::open_dir(dir.path())
        .and_then(|mut s| Transformer::<Cpu>::load(&cfg, &mut s, &Default::default()).map(|_| ()));
    assert!(matches!(r, Err(InferenceError::Malformed { .. })), "{r:?}");
    // Missing directory / config.
    let e = SafetensorsWeights::open_dir("/nonexistent-dir").expect_err("io");
    assert!(matches!(e, InferenceError::Io { .. }));
    let e = ModelConfig::from_hf_json_file("/nonexistent-dir/config.json").expect_err("io");
    assert!(matches!(e, InferenceError::Io { .. }));
}

/// `[rows, cols]` host values of a 2-D or `[1, rows, cols]` tensor, as rows.
pub(crate) fn rows<const D: usize>(t: burn::tensor::Tensor<Cpu, D>) -> Vec<Vec<f32>> {
    let cols = *t.dims().last().expect("rank >= 1");
    let v = t.into_data().into_vec::<f32>().expect("f32 tensor");
    v.chunks(cols).map(<[f32]>::to_vec).collect()
}

pub(crate) fn max_abs_diff_f32(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from((x - y).abs()))
        .fold(0.0, f64::max)
}

/// What [`decode_steps`] saw.
pub(crate) struct DecodeSteps {
    /// Logits after every position from `prompt.len() - 1` on.
    pub(crate) logits: Vec<Vec<f32>>,
    /// Final-norm hidden state at the same positions.
    pub(crate) hidden: Vec<Vec<f32>>,
    /// The prefill's final-norm hidden states of all prompt positions.
    pub(crate) prompt_hidden: Vec<Vec<f32>>,
    /// The cache after the last step.
    pub(crate) cache: KvCache<Cpu>,
}

/// Prefill of `prompt` and then one decode step per token of `rest`, through the KV
/// cache.
pub(crate) fn decode_steps(model: &Transformer<Cpu>, prompt: &[u32], rest: &[u32]) -> DecodeSteps {
    let opts = ForwardOptions {
        final_hidden: true,
        ..Default::default()
    };
    let mut cache = KvCache::new(model.layers.len(), vec![0]);
    let o = model
        .forward(&[prompt.to_vec()], &mut cache, opts)
        .expect("prefill");
    assert_eq!(o.logits.dims()[1], 1, "only the last position's logits");
    let prompt_hidden = rows(o.final_hidden.expect("final hidden"));
    assert_eq!(prompt_hidden.len(), prompt.len(), "every prompt position");
    let mut logits = rows(o.logits);
    let mut hidden = vec![prompt_hidden.last().expect("non-empty prompt").clone()];
    for &tok in rest {
        let o = model
            .forward(&[vec![tok]], &mut cache, opts)
            .expect("decode step");
        logits.extend(rows(o.logits));
        hidden.extend(rows(o.final_hidden.expect("final hidden")));
    }
    DecodeSteps {
        logits,
        hidden,
        prompt_hidden,
        cache,
    }
}

/// Teacher forcing on `prompt` + the reference's greedy continuation: per-position
/// logits and final-norm hidden states agree with what prefill plus cached decode
/// steps compute at each step (within `tol`) and, unless the weights are quantized,
/// with the f64 reference (within `tol` too).
fn check_teacher_forced(t: &Tiny, bf16: bool, seed: u64, precision: WeightPrecision, tol: f64) {
    let w = random_weights(t, seed, bf16);
    let dir = tempfile::tempdir().expect("tempdir");
    write_checkpoint(dir.path(), t, &w, 1, bf16);
    let cfg = ModelConfig::from_hf_json_file(dir.path().join("config.json")).expect("config");
    let mut src = SafetensorsWeights::open_dir(dir.path()).expect("open");
    let model = Transformer::<Cpu>::load_with_options(
        &cfg,
        &mut src,
        &Default::default(),
        precision,
        &mut |_, _| {},
    )
    .expect("load");
    let prompt: Vec<u32> = vec![3, 17, 5, 60, 9];
    let output = ref_greedy(t, &w, &prompt, 7);
    let seq: Vec<u32> = [prompt.clone(), output.clone()].concat();
    let r = reference(t, &w, &seq);

    let tf = model.teacher_forced(&seq).expect("teacher forced");
    assert_eq!(tf.logits.dims(), [seq.len(), t.vocab]);
    assert_eq!(tf.final_hidden.dims(), [seq.len(), t.d]);
    let (tf_logits, tf_hidden) = (rows(tf.logits), rows(tf.final_hidden));
    for pos in (0..seq.len()).filter(|_| precision != WeightPrecision::Quant) {
        let dl = max_abs_diff(&tf_logits[pos], &r.logits[pos]);
        let dh = max_abs_diff(&tf_hidden[pos], &r.final_hidden[pos]);
        assert!(
            dl <= tol && dh <= tol,
            "position {pos}: logits differ from f64 by {dl}, final hidden by {dh}"
        );
    }

    let DecodeSteps {
        logits,
        hidden,
        prompt_hidden,
        cache,
    } = decode_steps(&model, &prompt, &output);
    // Quantized layers decode over the host-side cache (another attention code path
    // than the uncached pass); the others over Burn tensors.
    let quantized = precision == WeightPrecision::Quant;
    assert_eq!(cache.host.iter().all(Option::is_some), quantized);
    assert_eq!(cache.layers.iter().all(Option::is_some), !quantized);
    assert_eq!(logits.len(), output.len() + 1);
    for (step, (l, h)) in logits.iter().zip(&hidden).enumerate() {
        let pos = prompt.len() - 1 + step;
        let dl = max_abs_diff_f32(l, &tf_logits[pos]);
        let dh = max_abs_diff_f32(h, &tf_hidden[pos]);
        assert!(
            dl <= tol && dh <= tol,
            "position {pos}: decode and teacher-forced logits differ by {dl}, final hidden by {dh}"
        );
    }
    for (pos, h) in prompt_hidden.iter().enumerate() {
        let d = max_abs_diff_f32(h, &tf_hidden[pos]);
        assert!(d <= tol, "prefill final hidden {pos} differs by {d}");
    }

    // The final hidden state is the LM head's input and nothing else: not returned
    // unless asked for, and identical for a batch of two sequences.
    let mut cache = KvCache::new(t.layers, vec![0]);
    let plain = model
        .forward(
            std::slice::from_ref(&seq),
            &mut cache,
            ForwardOptions::default(),
        )
        .expect("fwd");
    assert!(plain.final_hidden.is_none());
    let opts = ForwardOptions {
        all_logits: true,
        final_hidden: true,
        ..Default::default()
    };
    let batch = model
        .forward_uncached(&[seq.clone(), seq.clone()], opts)
        .expect("batch");
    assert_eq!(
        batch.final_hidden.as_ref().map(|h| h.dims()),
        Some([2, seq.len(), t.d])
    );
    let bh = rows(batch.final_hidden.expect("final hidden"));
    let bl = rows(batch.logits);
    for pos in 0..seq.len() {
        for b in 0..2 {
            let dh = max_abs_diff_f32(&bh[b * seq.len() + pos], &tf_hidden[pos]);
            let dl = max_abs_diff_f32(&bl[b * seq.len() + pos], &tf_logits[pos]);
            assert!(
                dh <= tol && dl <= tol,
                "batch row {b} position {pos}: {dh} {dl}"
            );
        }
    }
}

#[test]
fn tiny_llama_teacher_forced_matches_decode_steps_and_f64_reference() {
    check_teacher_forced(&TINY, false, 21, WeightPrecision::F32, 1e-4);
}

#[test]
fn tiny_qwen2_teacher_forced_matches_decode_steps_and_f64_reference() {
    let t = Tiny {
        arch: Arch::Qwen2,
        heads: 6,
        kv_heads: 2,
        ..TINY
    };
    check_teacher_forced(&t, true, 22, WeightPrecision::F32, 1e-4);
}

/// With quantized weights the decode steps attend over the host-side KV cache and
/// teacher forcing does not (no cache): both still agree.
#[test]
fn tiny_llama_quantized_teacher_forced_matches_decode_steps() {
    check_teacher_forced(&TINY, false, 24, WeightPrecision::Quant, 1e-3);
}

/// A cache built for another number of layers is an error (the layer loop used to
/// zip layers with cache slots and silently skip the layers without one).
#[test]
fn cache_with_wrong_layer_count_is_an_error() {
    let w = random_weights(&TINY, 23, false);
    let dir = tempfile::tempdir().expect("tempdir");
    write_checkpoint(dir.path(), &TINY, &w, 1, false);
    let (_, model) = load(dir.path());
    for n in [TINY.layers - 1, TINY.layers + 1] {
        let mut cache = KvCache::new(n, vec![0]);
        let e = model
            .forward(&[vec![1, 2, 3]], &mut cache, ForwardOptions::default())
            .expect_err("wrong cache");
        assert!(
            matches!(&e, InferenceError::InputShape { expected, found, .. }
                if expected == &[TINY.layers, TINY.layers] && found == &[n, n]),
            "{e}"
        );
    }
    let mut cache = KvCache::new(TINY.layers, vec![0]);
    model
        .forward(&[vec![1, 2, 3]], &mut cache, ForwardOptions::default())
        .expect("right cache");
    // Teacher forcing checks its input like forward does.
    assert!(matches!(
        model.teacher_forced(&[]),
        Err(InferenceError::InvalidRequest(_))
    ));
    assert!(matches!(
        model.teacher_forced(&[TINY.vocab as u32]),
        Err(InferenceError::InvalidRequest(_))
    ));
}
