//! A seeded tiny random DeepSeek-V3 checkpoint (MLA with q/kv compression, dense
//! first layer, DeepSeekMoE with shared experts and sigmoid group-limited routing),
//! written as safetensors and checked against a plain f64 reference that follows
//! Hugging Face's `modeling_deepseek.py` literally.

use std::path::Path;

use comrade_inference::Cpu;
use comrade_inference::config::ModelConfig;
use comrade_inference::generate::{GenerateRequest, generate};
use comrade_inference::model::{
    FeedForward, ForwardOptions, KvCache, MlaQuery, SelfAttention, Transformer, WeightPrecision,
};
use comrade_inference::sampling::{Rng, SamplingParams};
use comrade_inference::weights::SafetensorsWeights;

use super::tiny::{
    Weights, decode_steps, get, matvec, max_abs_diff, max_abs_diff_f32, rms, rows,
    write_safetensors,
};

struct Ds {
    vocab: usize,
    d: usize,
    ff: usize,
    layers: usize,
    heads: usize,
    q_rank: Option<usize>,
    kv_rank: usize,
    nope: usize,
    rope: usize,
    vd: usize,
    experts: usize,
    shared: usize,
    top_k: usize,
    n_group: usize,
    topk_group: usize,
    moe_ff: usize,
    first_dense: usize,
    scaling: f64,
    theta: f64,
    eps: f64,
    /// YaRN: (factor, original context, beta_fast, beta_slow, mscale, mscale_all_dim).
    yarn: Option<(f64, f64, f64, f64, f64, f64)>,
}

const DS: Ds = Ds {
    vocab: 50,
    d: 32,
    ff: 24,
    layers: 3,
    heads: 4,
    q_rank: Some(16),
    kv_rank: 12,
    nope: 8,
    rope: 4,
    vd: 6,
    experts: 8,
    shared: 1,
    top_k: 3,
    n_group: 4,
    topk_group: 2,
    moe_ff: 10,
    first_dense: 1,
    scaling: 2.5,
    theta: 10000.0,
    eps: 1e-6,
    yarn: None,
};

fn weights(t: &Ds, seed: u64) -> Weights {
    let mut rng = Rng::new(seed);
    let mut w = Weights::new();
    let mut add = |name: String, shape: Vec<usize>, scale: f64, offset: f64| {
        let n: usize = shape.iter().product();
        let v = (0..n)
            .map(|_| f64::from(((rng.next_f64() * 2.0 - 1.0) * scale + offset) as f32))
            .collect();
        w.insert(name, (shape, v));
    };
    let (d, h) = (t.d, t.heads);
    let qh = t.nope + t.rope;
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
        match t.q_rank {
            Some(r) => {
                add(p("self_attn.q_a_proj.weight"), vec![r, d], 0.4, 0.0);
                add(p("self_attn.q_a_layernorm.weight"), vec![r], 0.2, 1.0);
                add(p("self_attn.q_b_proj.weight"), vec![h * qh, r], 0.4, 0.0);
            }
            None => add(p("self_attn.q_proj.weight"), vec![h * qh, d], 0.4, 0.0),
        }
        add(
            p("self_attn.kv_a_proj_with_mqa.weight"),
            vec![t.kv_rank + t.rope, d],
            0.4,
            0.0,
        );
        add(
            p("self_attn.kv_a_layernorm.weight"),
            vec![t.kv_rank],
            0.2,
            1.0,
        );
        add(
            p("self_attn.kv_b_proj.weight"),
            vec![h * (t.nope + t.vd), t.kv_rank],
            0.4,
            0.0,
        );
        add(p("self_attn.o_proj.weight"), vec![d, h * t.vd], 0.3, 0.0);
        let mut mlp = |prefix: String, ff: usize| {
            add(format!("{prefix}.gate_proj.weight"), vec![ff, d], 0.3, 0.0);
            add(format!("{prefix}.up_proj.weight"), vec![ff, d], 0.3, 0.0);
            add(format!("{prefix}.down_proj.weight"), vec![d, ff], 0.3, 0.0);
        };
        if i < t.first_dense {
            mlp(p("mlp"), t.ff);
        } else {
            for e in 0..t.experts {
                mlp(p(&format!("mlp.experts.{e}")), t.moe_ff);
            }
            mlp(p("mlp.shared_experts"), t.moe_ff * t.shared);
            add(p("mlp.gate.weight"), vec![t.experts, d], 0.5, 0.0);
            add(
                p("mlp.gate.e_score_correction_bias"),
                vec![t.experts],
                0.1,
                0.0,
            );
        }
    }
    add("model.norm.weight".into(), vec![d], 0.2, 1.0);
    add("lm_head.weight".into(), vec![t.vocab, d], 0.5, 0.0);
    w
}

fn write(dir: &Path, t: &Ds, w: &Weights) {
    let cfg = serde_json::json!({
        "model_type": "deepseek_v3", "vocab_size": t.vocab, "hidden_size": t.d,
        "intermediate_size": t.ff, "moe_intermediate_size": t.moe_ff,
        "num_hidden_layers": t.layers, "num_attention_heads": t.heads, "num_key_value_heads": t.heads,
        "n_shared_experts": t.shared, "n_routed_experts": t.experts, "routed_scaling_factor": t.scaling,
        "kv_lora_rank": t.kv_rank, "q_lora_rank": t.q_rank, "qk_rope_head_dim": t.rope,
        "v_head_dim": t.vd, "qk_nope_head_dim": t.nope, "topk_method": "noaux_tc",
        "n_group": t.n_group, "topk_group": t.topk_group, "num_experts_per_tok": t.top_k,
        "moe_layer_freq": 1, "first_k_dense_replace": t.first_dense, "norm_topk_prob": true,
        "scoring_func": "sigmoid", "rms_norm_eps": t.eps, "rope_theta": t.theta,
        "max_position_embeddings": 64, "tie_word_embeddings": false, "head_dim": 8,
        "bos_token_id": 0, "eos_token_id": 1,
        "rope_scaling": t.yarn.map(|(f, ctx, fast, slow, m, mad)| serde_json::json!({
            "type": "yarn", "factor": f, "original_max_position_embeddings": ctx,
            "beta_fast": fast, "beta_slow": slow, "mscale": m, "mscale_all_dim": mad
        }))
    });
    std::fs::write(dir.join("config.json"), cfg.to_string()).expect("config");
    let all: Vec<_> = w.iter().collect();
    let half = all.len() / 2;
    write_safetensors(
        &dir.join("model-00001-of-00002.safetensors"),
        &all[..half],
        false,
    );
    write_safetensors(
        &dir.join("model-00002-of-00002.safetensors"),
        &all[half..],
        false,
    );
}

/// HF DeepSeek rotary: de-interleave (view(d/2, 2).transpose), then rotate-half,
/// with DeepseekV3YarnRotaryEmbedding's frequencies and cos/sin scale under YaRN.
fn ds_rope(x: &[f64], pos: usize, t: &Ds) -> Vec<f64> {
    let d = x.len();
    let half = d / 2;
    let y: Vec<f64> = (0..half)
        .map(|i| x[2 * i])
        .chain((0..half).map(|i| x[2 * i + 1]))
        .collect();
    let base: Vec<f64> = (0..half)
        .map(|i| 1.0 / t.theta.powf(2.0 * i as f64 / d as f64))
        .collect();
    let (inv, m) = match t.yarn {
        None => (base, 1.0),
        Some((factor, ctx, fast, slow, ms, mad)) => {
            let corr_dim = |rot: f64| {
                (d as f64 * (ctx / (rot * 2.0 * std::f64::consts::PI)).ln()) / (2.0 * t.theta.ln())
            };
            let low = corr_dim(fast).floor().max(0.0);
            let mut high = corr_dim(slow).ceil().min(d as f64 - 1.0);
            if low == high {
                high += 0.001;
            }
            let get_mscale = |m: f64| {
                if factor <= 1.0 {
                    1.0
                } else {
                    0.1 * m * factor.ln() + 1.0
                }
            };
            let inv = base
                .iter()
                .enumerate()
                .map(|(i, &extra)| {
                    let mask = 1.0 - ((i as f64 - low) / (high - low)).clamp(0.0, 1.0);
                    (extra / factor) * (1.0 - mask) + extra * mask
                })
                .collect();
            (inv, get_mscale(ms) / get_mscale(mad))
        }
    };
    let mut out = y.clone();
    for i in 0..half {
        let a = pos as f64 * inv[i];
        let (s, c) = a.sin_cos();
        let (s, c) = (s * m, c * m);
        out[i] = y[i] * c - y[i + half] * s;
        out[i + half] = y[i + half] * c + y[i] * s;
    }
    out
}

fn mlp(w: &Weights, prefix: &str, x: &[f64]) -> Vec<f64> {
    let g = matvec(get(w, &format!("{prefix}.gate_proj.weight")), None, x);
    let u = matvec(get(w, &format!("{prefix}.up_proj.weight")), None, x);
    let a: Vec<f64> = g
        .iter()
        .zip(&u)
        .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
        .collect();
    matvec(get(w, &format!("{prefix}.down_proj.weight")), None, &a)
}

fn moe(t: &Ds, w: &Weights, l: usize, x: &[f64]) -> Vec<f64> {
    let p = |s: &str| format!("model.layers.{l}.mlp.{s}");
    let logits = matvec(get(w, &p("gate.weight")), None, x);
    let scores: Vec<f64> = logits.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect();
    let bias = get(w, &p("gate.e_score_correction_bias"));
    let choice: Vec<f64> = scores.iter().zip(bias).map(|(s, b)| s + b).collect();
    let per = t.experts / t.n_group;
    let mut gs: Vec<(f64, usize)> = (0..t.n_group)
        .map(|g| {
            let mut v = choice[g * per..(g + 1) * per].to_vec();
            v.sort_by(|a, b| b.total_cmp(a));
            (v[0] + v[1], g)
        })
        .collect();
    gs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let keep: Vec<usize> = gs[..t.topk_group].iter().map(|g| g.1).collect();
    let masked: Vec<f64> = (0..t.experts)
        .map(|e| {
            if keep.contains(&(e / per)) {
                choice[e]
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..t.experts).collect();
    order.sort_by(|&a, &b| masked[b].total_cmp(&masked[a]));
    let top = &order[..t.top_k];
    let z: f64 = top.iter().map(|&e| scores[e]).sum::<f64>() + 1e-20;
    let mut y = mlp(w, &p("shared_experts"), x);
    for &e in top {
        let wgt = scores[e] / z * t.scaling;
        for (yi, oi) in y.iter_mut().zip(mlp(w, &p(&format!("experts.{e}")), x)) {
            *yi += wgt * oi;
        }
    }
    y
}

fn reference(t: &Ds, w: &Weights, tokens: &[u32]) -> Vec<Vec<f64>> {
    let emb = get(w, "model.embed_tokens.weight");
    let mut xs: Vec<Vec<f64>> = tokens
        .iter()
        .map(|&k| emb[k as usize * t.d..(k as usize + 1) * t.d].to_vec())
        .collect();
    let qh = t.nope + t.rope;
    let mut scale = 1.0 / (qh as f64).sqrt();
    // DeepseekV3Attention: softmax_scale *= mscale(factor, mscale_all_dim)^2.
    if let Some((factor, _, _, _, _, mad)) = t.yarn
        && mad > 0.0
    {
        let m = 0.1 * mad * factor.ln() + 1.0;
        scale *= m * m;
    }
    for l in 0..t.layers {
        let p = |s: &str| format!("model.layers.{l}.{s}");
        let (mut qn, mut qp, mut kn, mut kp, mut vs) = (vec![], vec![], vec![], vec![], vec![]);
        for (pos, x) in xs.iter().enumerate() {
            let h = rms(x, get(w, &p("input_layernorm.weight")), t.eps);
            let q = match t.q_rank {
                Some(_) => {
                    let a = matvec(get(w, &p("self_attn.q_a_proj.weight")), None, &h);
                    let a = rms(&a, get(w, &p("self_attn.q_a_layernorm.weight")), t.eps);
                    matvec(get(w, &p("self_attn.q_b_proj.weight")), None, &a)
                }
                None => matvec(get(w, &p("self_attn.q_proj.weight")), None, &h),
            };
            let ckv = matvec(get(w, &p("self_attn.kv_a_proj_with_mqa.weight")), None, &h);
            let c = rms(
                &ckv[..t.kv_rank],
                get(w, &p("self_attn.kv_a_layernorm.weight")),
                t.eps,
            );
            let kv = matvec(get(w, &p("self_attn.kv_b_proj.weight")), None, &c);
            let mut qn_h = vec![];
            let mut qp_h = vec![];
            let mut kn_h = vec![];
            let mut v_h = vec![];
            for hd in 0..t.heads {
                qn_h.push(q[hd * qh..hd * qh + t.nope].to_vec());
                qp_h.push(ds_rope(&q[hd * qh + t.nope..(hd + 1) * qh], pos, t));
                let o = hd * (t.nope + t.vd);
                kn_h.push(kv[o..o + t.nope].to_vec());
                v_h.push(kv[o + t.nope..o + t.nope + t.vd].to_vec());
            }
            qn.push(qn_h);
            qp.push(qp_h);
            kn.push(kn_h);
            vs.push(v_h);
            kp.push(ds_rope(&ckv[t.kv_rank..], pos, t));
        }
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        for pos in 0..xs.len() {
            let mut attn = vec![];
            for hd in 0..t.heads {
                let sc: Vec<f64> = (0..=pos)
                    .map(|s| (dot(&qn[pos][hd], &kn[s][hd]) + dot(&qp[pos][hd], &kp[s])) * scale)
                    .collect();
                let m = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = sc.iter().map(|v| (v - m).exp()).collect();
                let z: f64 = e.iter().sum();
                let mut o = vec![0.0; t.vd];
                for (s, es) in e.iter().enumerate() {
                    for i in 0..t.vd {
                        o[i] += es / z * vs[s][hd][i];
                    }
                }
                attn.extend(o);
            }
            let o = matvec(get(w, &p("self_attn.o_proj.weight")), None, &attn);
            let x: Vec<f64> = xs[pos].iter().zip(&o).map(|(a, b)| a + b).collect();
            let h = rms(&x, get(w, &p("post_attention_layernorm.weight")), t.eps);
            let f = if l < t.first_dense {
                mlp(w, &p("mlp"), &h)
            } else {
                moe(t, w, l, &h)
            };
            xs[pos] = x.iter().zip(&f).map(|(a, b)| a + b).collect();
        }
    }
    xs.iter()
        .map(|x| {
            matvec(
                get(w, "lm_head.weight"),
                None,
                &rms(x, get(w, "model.norm.weight"), t.eps),
            )
        })
        .collect()
}

fn check(t: &Ds, seed: u64) {
    let w = weights(t, seed);
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), t, &w);
    let cfg = ModelConfig::from_hf_json_file(dir.path().join("config.json")).expect("config");
    assert!(cfg.mla.is_some() && cfg.moe.is_some());
    let mut src = SafetensorsWeights::open_dir(dir.path()).expect("open");
    let model = Transformer::<Cpu>::load(&cfg, &mut src, &Default::default()).expect("load");
    assert!(matches!(model.layers[0].mlp, FeedForward::Dense(_)));
    assert!(matches!(model.layers[1].mlp, FeedForward::Moe(_)));
    assert!(
        model
            .layers
            .iter()
            .all(|l| matches!(l.self_attn, SelfAttention::Mla(_)))
    );

    let prompt: Vec<u32> = vec![3, 17, 5, 44, 9, 33, 12, 8];
    let r = reference(t, &w, &prompt);
    let mut cache = KvCache::new(t.layers, vec![0]);
    let all = ForwardOptions {
        all_logits: true,
        hidden_states: true,
        ..Default::default()
    };
    let out = model
        .forward(std::slice::from_ref(&prompt), &mut cache, all)
        .expect("fwd");
    assert_eq!(out.hidden_states.map(|h| h.len()), Some(t.layers + 1));
    let got = out.logits.into_data().into_vec::<f32>().expect("vec");
    let want: Vec<f64> = r.iter().flatten().copied().collect();
    let diff = max_abs_diff(&got, &want);
    assert!(diff < 1e-4, "prefill logits differ by {diff}");

    // Compressed-KV cache: prefill 2 tokens, then decode one by one.
    let mut cache = KvCache::new(t.layers, vec![0]);
    let o = model
        .forward(
            &[prompt[..2].to_vec()],
            &mut cache,
            ForwardOptions::default(),
        )
        .expect("fwd");
    let l = o.logits.into_data().into_vec::<f32>().expect("vec");
    assert!(max_abs_diff(&l, &r[1]) < 1e-4);
    for (pos, &tok) in prompt.iter().enumerate().skip(2) {
        let o = model
            .forward(&[vec![tok]], &mut cache, ForwardOptions::default())
            .expect("fwd");
        let l = o.logits.into_data().into_vec::<f32>().expect("vec");
        let diff = max_abs_diff(&l, &r[pos]);
        assert!(diff < 1e-4, "decode step {pos} differs by {diff}");
    }
    // The cache holds the latent (kv_lora_rank) and the shared rotary key only.
    let c = cache.layers[0].as_ref().expect("cache");
    assert_eq!(c.v.dims(), [1, 1, prompt.len(), t.kv_rank]);
    assert_eq!(c.k.dims(), [1, 1, prompt.len(), t.rope]);

    // Batched greedy generation with left padding.
    let prompts = [vec![4u32, 8, 15, 16, 23], vec![42u32]];
    let reqs: Vec<GenerateRequest> = prompts
        .iter()
        .map(|p| GenerateRequest {
            prompt: p.clone(),
            params: SamplingParams::greedy(5),
            record_hidden: false,
        })
        .collect();
    let outs = generate(&model, &reqs, &mut |_, _| true).expect("generate");
    for (p, o) in prompts.iter().zip(&outs) {
        let mut toks = p.clone();
        let mut want = vec![];
        for _ in 0..5 {
            let last = reference(t, &w, &toks).pop().expect("logits");
            let best = (0..last.len()).fold(0, |b, i| if last[i] > last[b] { i } else { b }) as u32;
            want.push(best);
            toks.push(best);
        }
        assert_eq!(o.tokens, want);
    }
}

#[test]
fn tiny_deepseek_v3_matches_f64_reference() {
    check(&DS, 11);
}

#[test]
fn tiny_deepseek_v3_without_q_compression_matches_f64_reference() {
    check(
        &Ds {
            q_rank: None,
            n_group: 2,
            topk_group: 1,
            top_k: 2,
            shared: 2,
            ..DS
        },
        12,
    );
}

/// YaRN rotary (DeepSeek-V3/R1's long-context scaling): with a 4-wide rotary part the
/// correction range keeps one frequency pair and interpolates the other, and
/// `mscale != mscale_all_dim` scales cos/sin, so every part of it is exercised.
#[test]
fn tiny_deepseek_v3_with_yarn_matches_f64_reference() {
    check(
        &Ds {
            yarn: Some((4.0, 16.0, 32.0, 1.0, 0.8, 1.0)),
            ..DS
        },
        13,
    );
}

/// Teacher forcing through MLA (both query forms) and MoE: per-position logits agree
/// with the f64 reference and with prefill plus cached decode steps, and the final
/// hidden states are the LM head's input. With quantized weights (the 32-wide
/// projections and experts) only the two paths are compared.
#[test]
fn tiny_deepseek_v3_teacher_forced_matches_decode_steps_and_f64_reference() {
    let no_q_rank = Ds { q_rank: None, ..DS };
    for (t, precision, seed) in [
        (&DS, WeightPrecision::F32, 31),
        (&no_q_rank, WeightPrecision::F32, 32),
        (&DS, WeightPrecision::Quant, 33),
    ] {
        let w = weights(t, seed);
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), t, &w);
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
        let SelfAttention::Mla(mla) = &model.layers[0].self_attn else {
            panic!("DeepSeek layers use MLA");
        };
        assert_eq!(
            matches!(mla.q, MlaQuery::LowRank(_)),
            t.q_rank.is_some(),
            "query form follows q_lora_rank"
        );
        let (prompt, output) = (vec![3u32, 17, 5, 44], vec![9u32, 33, 12, 8, 49]);
        let seq: Vec<u32> = [prompt.clone(), output.clone()].concat();
        let tf = model.teacher_forced(&seq).expect("teacher forced");
        assert_eq!(tf.logits.dims(), [seq.len(), t.vocab]);
        assert_eq!(tf.final_hidden.dims(), [seq.len(), t.d]);
        let (tf_logits, tf_hidden) = (rows(tf.logits), rows(tf.final_hidden));
        if precision == WeightPrecision::F32 {
            let r = reference(t, &w, &seq);
            for pos in 0..seq.len() {
                let d = max_abs_diff(&tf_logits[pos], &r[pos]);
                assert!(d <= 1e-4, "position {pos}: logits differ from f64 by {d}");
                let h: Vec<f64> = tf_hidden[pos].iter().map(|&x| f64::from(x)).collect();
                let via_head = matvec(get(&w, "lm_head.weight"), None, &h);
                let d = via_head
                    .iter()
                    .zip(&r[pos])
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(
                    d <= 1e-4,
                    "position {pos}: head(final hidden) differs by {d}"
                );
            }
        }
        let steps = decode_steps(&model, &prompt, &output);
        for (step, (l, h)) in steps.logits.iter().zip(&steps.hidden).enumerate() {
            let pos = prompt.len() - 1 + step;
            let dl = max_abs_diff_f32(l, &tf_logits[pos]);
            let dh = max_abs_diff_f32(h, &tf_hidden[pos]);
            assert!(
                dl <= 1e-4 && dh <= 1e-4,
                "{precision:?} position {pos}: decode differs by {dl} (logits), {dh} (hidden)"
            );
        }
    }
}
