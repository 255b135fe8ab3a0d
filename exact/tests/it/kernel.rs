//! T-C1/T-C2/T-C3: the kernel equals the i64 reference for every profile,
//! every kernel and block split give identical bits, the value
//! distribution is stationary, and the proved bound holds.

use comrade_exact::{
    Challenge, Profile, kernel::Kernel, prf, prover, reference::ReferenceWeights, seed,
};

fn kernels() -> Vec<Kernel> {
    let mut k = vec![Kernel::Scalar];
    if matches!(Kernel::detect(), Kernel::Scalar) {
        eprintln!("no AVX2 on this CPU: only the scalar kernel is compared");
    } else {
        k.push(Kernel::detect());
    }
    k
}

#[test]
fn kernel_equals_the_i64_reference_on_every_profile() {
    for (profile, n) in [
        (Profile::UNIT, 64u64),
        (Profile::LOCALNET_CPU, 9),
        (Profile::MAINNET_GPU, 2),
    ] {
        let s = seed::sprint_seed("comrade-test", 3, &[profile.id as u8; 32]);
        let ch = Challenge::derive(profile, s);
        let reference = ReferenceWeights::derive(profile, &s);
        let key = prf::input_key(&s, b"node-a");
        let xs: Vec<i8> = (0..n).flat_map(|j| ch.input(&key, j)).collect();
        for k in kernels() {
            // all rows in one call (blocks of 4 plus a tail) ...
            let batched = ch.rows_with(k, &xs);
            for j in 0..n as usize {
                let x = &xs[j * profile.d..(j + 1) * profile.d];
                assert_eq!(x, reference.input(&key, j as u64).as_slice());
                let (want, max_acc) = reference.row(x);
                let want: Vec<i32> = want.iter().map(|&v| i32::try_from(v).unwrap()).collect();
                // ... and row by row give the reference's bits
                assert_eq!(&batched[j * profile.w_out..(j + 1) * profile.w_out], want);
                assert_eq!(ch.rows_with(k, x), want, "{} row {j}", profile.name);
                assert!(max_acc < (1 << 22) && max_acc as u64 <= profile.max_abs_acc());
            }
        }
    }
}

#[test]
fn different_nodes_seeds_and_rows_get_different_outputs() {
    let p = Profile::UNIT;
    let a = Challenge::derive(p, [1; 32]);
    let b = Challenge::derive(p, [2; 32]);
    let ka = prf::input_key(a.seed(), b"a");
    let kb = prf::input_key(a.seed(), b"b");
    assert_ne!(a.input(&ka, 0), a.input(&kb, 0));
    assert_ne!(a.input(&ka, 0), a.input(&ka, 1));
    let x = a.input(&ka, 0);
    assert_ne!(a.row(&x), b.row(&x));
}

/// T-C3: per-layer std in [12, 24], saturation in [2 %, 25 %], zeros under
/// 5 %; the accumulator bound is asserted against the proved one.
#[test]
fn layer_values_stay_stationary_and_within_the_bound() {
    for profile in [Profile::UNIT, Profile::LOCALNET_CPU] {
        let s = [9u8; 32];
        let w = ReferenceWeights::derive(profile, &s);
        let ch = Challenge::derive(profile, s);
        let key = prf::input_key(&s, b"stats");
        let rows = 32;
        let d = profile.d;
        // replay the layers in i64 and collect each layer's output values
        let layers: Vec<Vec<i8>> = (0..profile.layers)
            .map(|l| Challenge::layer_values(profile, &s, l))
            .collect();
        let mut per_layer: Vec<Vec<i64>> = vec![Vec::new(); profile.layers];
        for j in 0..rows {
            let mut h: Vec<i64> = ch.input(&key, j).iter().map(|&v| i64::from(v)).collect();
            for (l, wl) in layers.iter().enumerate() {
                h = (0..d)
                    .map(|c| {
                        let acc: i64 = (0..d).map(|r| h[r] * i64::from(wl[r * d + c])).sum();
                        assert!(acc.unsigned_abs() <= profile.max_abs_acc());
                        assert_eq!(
                            i64::from(comrade_exact::requantize(
                                i32::try_from(acc).unwrap(),
                                profile.mu
                            )),
                            (acc * i64::from(profile.mu) + 32768)
                                .div_euclid(65536)
                                .clamp(-31, 31)
                        );
                        (acc * i64::from(profile.mu) + 32768)
                            .div_euclid(65536)
                            .clamp(-31, 31)
                    })
                    .collect();
                per_layer[l].extend(&h);
            }
            let _ = w.row(&ch.input(&key, j));
        }
        for (l, vals) in per_layer.iter().enumerate() {
            let n = vals.len() as f64;
            let mean = vals.iter().sum::<i64>() as f64 / n;
            let std = (vals.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
            let sat = vals.iter().filter(|v| v.abs() == 31).count() as f64 / n;
            let zeros = vals.iter().filter(|&&v| v == 0).count() as f64 / n;
            eprintln!(
                "{} layer {l}: std {std:.1}, saturated {:.1} %, zeros {:.1} %",
                profile.name,
                100.0 * sat,
                100.0 * zeros
            );
            assert!((12.0..=24.0).contains(&std), "std {std}");
            assert!((0.02..=0.25).contains(&sat), "saturation {sat}");
            assert!(zeros < 0.05, "zeros {zeros}");
        }
    }
}

#[test]
fn requantize_rounds_half_up_and_clamps() {
    // acc·mu / 2^16 with mu = 65536 is acc itself: clamped to ±31
    assert_eq!(comrade_exact::requantize(5, 1 << 15), 3); // 2.5 → 3
    assert_eq!(comrade_exact::requantize(-5, 1 << 15), -2); // -2.5 → -2 (half up)
    assert_eq!(comrade_exact::requantize(-7, 1 << 15), -3); // -3.5 → -3
    assert_eq!(comrade_exact::requantize(1000, 1 << 16), 31);
    assert_eq!(comrade_exact::requantize(-1000, 1 << 16), -31);
    assert_eq!(comrade_exact::requantize(0, 512), 0);
}

#[test]
fn prover_openings_verify_and_tampering_fails() {
    let p = Profile::UNIT;
    let ch = Challenge::derive(p, [4; 32]);
    let node = b"node-x";
    let pr = prover::Prover::run(&ch, node, 100);
    let root = pr.root();
    for j in [0u64, 1, 50, 99] {
        let o = pr.open(&ch, j).unwrap();
        assert!(prover::verify_opening(&ch, node, &root, 100, &o));
        // another node's rows, a wrong output, a wrong index, a wrong size
        assert!(!prover::verify_opening(&ch, b"node-y", &root, 100, &o));
        let mut bad = o.clone();
        bad.y[0] = bad.y[0].wrapping_add(1);
        assert!(!prover::verify_opening(&ch, node, &root, 100, &bad));
        let mut moved = o.clone();
        moved.index = (j + 1) % 100;
        assert!(!prover::verify_opening(&ch, node, &root, 100, &moved));
    }
    assert!(pr.open(&ch, 100).is_none());
    // an old epoch's rows do not verify under a new seed
    let next = Challenge::derive(p, [5; 32]);
    let o = pr.open(&ch, 3).unwrap();
    assert!(!prover::verify_opening(&next, node, &root, 100, &o));
}

#[test]
fn opening_indices_depend_on_every_input() {
    let base = seed::opening_indices(&[1; 32], b"n", &[2; 32], 32, 1 << 20);
    assert_eq!(base.len(), 32);
    assert!(base.iter().all(|&j| j < 1 << 20));
    assert_ne!(
        base,
        seed::opening_indices(&[9; 32], b"n", &[2; 32], 32, 1 << 20)
    );
    assert_ne!(
        base,
        seed::opening_indices(&[1; 32], b"m", &[2; 32], 32, 1 << 20)
    );
    assert_ne!(
        base,
        seed::opening_indices(&[1; 32], b"n", &[3; 32], 32, 1 << 20)
    );
    assert!(
        seed::opening_indices(&[1; 32], b"n", &[2; 32], 4, 1)
            .iter()
            .all(|&j| j == 0)
    );
    assert_ne!(
        seed::sprint_seed("a", 1, &[0; 32]),
        seed::sprint_seed("a", 2, &[0; 32])
    );
}
