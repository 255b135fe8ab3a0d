//! Attestation end to end on tiny seeded models: an executor samples with
//! the tape and records its hidden states, an auditor re-runs one prefill.
//! Honest receipts pass; receipts from another model, a model with a dropped
//! layer, a replayed tape or a truncated output do not.

use comrade_inference::Cpu;
use comrade_inference::attest::{
    self, AuditConfig, AuditMetrics, ChunkLimits, Finish, Receipt, SamplingSpec, flags,
};
use comrade_inference::generate::{FinishReason, GenerateRequest, generate};
use comrade_inference::model::Transformer;
use comrade_inference::sampling::{SamplingParams, TapeSampling};

use crate::tiny::{TINY, load, random_weights, write_checkpoint};

const EOS: u32 = 60;

fn model(seed: u64) -> Transformer<Cpu> {
    let dir = tempfile::tempdir().expect("tempdir");
    let w = random_weights(&TINY, seed, false);
    write_checkpoint(dir.path(), &TINY, &w, 1, false);
    load(dir.path()).1
}

fn spec(tau: f64, seed: u64) -> SamplingSpec {
    SamplingSpec::from_floats(tau, 0.95, 0, seed).expect("valid")
}

/// Runs `prompts` as one batch with the tape at temperature `tau` and
/// returns their receipts.
fn execute_at(
    m: &Transformer<Cpu>,
    prompts: &[Vec<u32>],
    max_tokens: usize,
    tau: f64,
) -> Vec<Receipt> {
    let reqs: Vec<GenerateRequest> = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let id = [i as u8 + 1; 32];
            let s = spec(tau, 100 + i as u64);
            GenerateRequest {
                prompt: p.clone(),
                params: SamplingParams {
                    max_tokens,
                    stop_tokens: vec![EOS],
                    tape: Some(TapeSampling {
                        tape: attest::Tape::new(&id, s.user_seed),
                        params: s.params(),
                    }),
                    ..SamplingParams::default()
                },
                record_hidden: true,
            }
        })
        .collect();
    let outs = generate(m, &reqs, &mut |_, _| true).expect("generate");
    outs.into_iter()
        .enumerate()
        .map(|(i, o)| {
            let mut output = o.tokens.clone();
            let finish = match o.finish {
                FinishReason::Stop => {
                    output.push(o.stop_token.expect("a stop finish names its token"));
                    Finish::Eos
                }
                _ => Finish::MaxTokens,
            };
            attest::make_receipt(
                [i as u8 + 1; 32],
                "tiny",
                spec(tau, 100 + i as u64),
                max_tokens as u32,
                prompts[i].clone(),
                output,
                finish,
                &o.hidden,
                32,
            )
            .expect("receipt")
        })
        .collect()
}

fn execute(m: &Transformer<Cpu>, prompts: &[Vec<u32>], max_tokens: usize) -> Vec<Receipt> {
    execute_at(m, prompts, max_tokens, 1.0)
}

fn cfg() -> AuditConfig {
    AuditConfig {
        eps_milli: 2_000,
        limits: ChunkLimits::TOPLOC,
        eos: vec![EOS],
    }
}

fn prompts() -> Vec<Vec<u32>> {
    vec![
        vec![1, 2, 3, 4, 5],
        vec![7, 8],
        (10..30).collect(),
        vec![40, 41, 42, 43, 44, 45, 46, 47, 48],
    ]
}

fn audit_all(m: &Transformer<Cpu>, rs: &[Receipt]) -> Vec<AuditMetrics> {
    rs.iter()
        .map(|r| attest::audit(m, "tiny", r, &cfg()).expect("audit"))
        .collect()
}

#[test]
fn honest_batched_receipts_pass_a_prefill_audit() {
    let m = model(1);
    let rs = execute(&m, &prompts(), 40);
    let mut steps = 0;
    for (r, a) in rs.iter().zip(audit_all(&m, &rs)) {
        assert_eq!(a.flags, 0, "{a:?}");
        assert_eq!((a.r_gated, a.toploc_fail_chunks), (0, 0), "{a:?}");
        assert!(a.r_raw * 100 <= a.n_steps, "{a:?}");
        assert_eq!(a.n_steps as usize, r.output.len());
        assert_eq!(a.toploc_chunks as usize, r.proofs.len());
        assert!(a.exp_mis_max <= 2 && a.mant_mean_max_centi <= 100, "{a:?}");
        steps += a.n_steps;
        // The payload travels as JSON.
        let back: Receipt =
            serde_json::from_str(&serde_json::to_string(r).expect("json")).expect("parse");
        assert_eq!(&back, r);
    }
    assert!(steps > 60, "{steps} steps audited");
}

#[test]
fn another_model_a_dropped_layer_and_a_replay_are_caught() {
    let honest = model(1);
    let other = model(2);
    let mut dropped = model(1);
    dropped.layers.truncate(1);
    for (what, cheat) in [("another model", &other), ("a dropped layer", &dropped)] {
        let rs = execute(cheat, &prompts(), 40);
        for (r, a) in rs.iter().zip(audit_all(&honest, &rs)) {
            assert!(
                a.r_raw * 10 >= a.n_steps && a.toploc_fail_chunks > 0,
                "{what} not caught on {:?}: {a:?}",
                r.prompt
            );
        }
    }
    // A replay: the honest output filed under another request's tape. At
    // τ = 1 the tiny model's next token is nearly certain (two independent
    // tapes draw the same token ~88% of the time), so a replay is checked
    // where sampling has real entropy: at τ = 4.
    let mut rs = execute_at(&honest, &prompts(), 40, 4.0);
    for r in &mut rs {
        r.request_id[0] ^= 0xFF;
    }
    // (Tiny random models have small logits, so count the raw disagreements:
    // the ε gate is sized for real models.)
    let total: u32 = audit_all(&honest, &rs).iter().map(|a| a.r_raw).sum();
    let steps: usize = rs.iter().map(|r| r.output.len()).sum();
    assert!(
        total as usize * 4 >= steps,
        "{total} of {steps} replayed steps disagree"
    );
}

#[test]
fn malformed_receipts_are_flagged() {
    let m = model(1);
    let base = execute(&m, &prompts()[..1], 40).remove(0);
    let check = |r: &Receipt, bit: u32| {
        let a = attest::audit(&m, "tiny", r, &cfg()).expect("audit");
        assert_ne!(a.flags & bit, 0, "flag {bit:#x} missing: {a:?}");
    };
    let mut truncated = base.clone();
    truncated.output.truncate(truncated.output.len() / 2);
    truncated.finish = Finish::MaxTokens;
    check(&truncated, flags::FINISH);
    let mut fake_eos = base.clone();
    fake_eos.finish = Finish::Eos;
    if fake_eos.output.last() != Some(&EOS) {
        check(&fake_eos, flags::FINISH);
    }
    let mut past_eos = base.clone();
    past_eos.output.insert(0, EOS);
    check(&past_eos, flags::EOS_EARLY);
    let mut no_proofs = base.clone();
    no_proofs.proofs.pop();
    check(&no_proofs, flags::PROOFS);
    let mut bad_proof = base.clone();
    bad_proof.proofs[0] = vec![1, 2, 3];
    check(&bad_proof, flags::PROOFS);
    let mut masked = base.clone();
    masked.output[0] = 1_000;
    check(&masked, flags::MASKED_TOKEN);
    let a = attest::audit(&m, "another-model", &base, &cfg()).expect("audit");
    assert_ne!(a.flags & flags::MODEL, 0);
    let mut empty = base;
    empty.output.clear();
    assert!(attest::audit(&m, "tiny", &empty, &cfg()).is_err());
}
