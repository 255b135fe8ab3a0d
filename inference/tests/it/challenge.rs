//! T-C1/T-C2: the Burn program of the capacity challenge (float and integer
//! tensors, Flex on 1, 2 and 4 threads) gives the exact kernel's and the
//! i64 reference's bits, and its sprint tree has the kernel prover's root.

use comrade_exact::{
    Challenge, Profile, Prover, kernel::Kernel, prf, reference::ReferenceWeights, seed,
};
use comrade_inference::{
    Cpu,
    challenge::{BurnChallenge, int_rows, prove},
};

fn inputs(ch: &Challenge, node: &[u8], n: u64) -> Vec<i8> {
    let key = prf::input_key(ch.seed(), node);
    (0..n).flat_map(|j| ch.input(&key, j)).collect()
}

#[test]
fn burn_program_equals_kernel_and_reference_on_every_profile_and_thread_count() {
    let device = Default::default();
    for (profile, n) in [
        (Profile::UNIT, 33u64),
        (Profile::LOCALNET_CPU, 9),
        (Profile::MAINNET_GPU, 1),
    ] {
        let s = seed::sprint_seed("comrade-test", 1, &[profile.id as u8; 32]);
        let ch = Challenge::derive(profile, s);
        let xs = inputs(&ch, b"burn", n);
        let kernel = ch.rows_with(Kernel::detect(), &xs);
        assert_eq!(kernel, ch.rows_with(Kernel::Scalar, &xs));
        let reference = ReferenceWeights::derive(profile, &s);
        let want: Vec<i32> = xs
            .chunks_exact(profile.d)
            .flat_map(|x| reference.row(x).0)
            .map(|v| i32::try_from(v).unwrap())
            .collect();
        assert_eq!(kernel, want, "{}: kernel vs i64 reference", profile.name);
        let burn = BurnChallenge::<Cpu>::new(profile, s, &device);
        for threads in [1, 2, 4] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool.install(|| burn.rows(&xs)).unwrap();
            assert_eq!(
                got, kernel,
                "{}: Burn f32 on {threads} threads",
                profile.name
            );
        }
        if profile != Profile::MAINNET_GPU {
            // Flex's 2-D int matmul is a naive loop: skip the 4096-wide profile
            let ints = int_rows::<Cpu>(profile, &s, &xs, &device).unwrap();
            assert_eq!(ints, kernel, "{}: Burn int_matmul", profile.name);
        }
    }
}

#[test]
fn burn_sprint_has_the_kernel_provers_root() {
    let profile = Profile::UNIT;
    let s = [3u8; 32];
    let ch = Challenge::derive(profile, s);
    let burn = BurnChallenge::<Cpu>::new(profile, s, &Default::default());
    // a batch size that does not divide the row count
    let tree = prove(&burn, b"node", 77, 10).unwrap();
    let kernel = Prover::run(&ch, b"node", 77);
    assert_eq!(tree.root(), kernel.root());
    assert_ne!(tree.root(), Prover::run(&ch, b"other", 77).root());
}

#[test]
fn burn_program_rejects_a_partial_row() {
    let burn = BurnChallenge::<Cpu>::new(Profile::UNIT, [0; 32], &Default::default());
    let err = burn.rows(&[0i8; 65]).unwrap_err();
    assert!(
        err.to_string().contains("not a whole number of rows"),
        "{err}"
    );
}

#[test]
fn the_boxed_sprint_prover_gives_the_kernel_provers_leaves() {
    use comrade_inference::{challenge::sprint_prover, cli::Device};
    let s = seed::sprint_seed("comrade-test", 7, &[9; 32]);
    let ch = Challenge::derive(Profile::UNIT, s);
    let key = prf::input_key(ch.seed(), b"boxed");
    let p = sprint_prover(Device::Cpu, Profile::UNIT, s).unwrap();
    assert_eq!(p.profile(), Profile::UNIT);
    // a range not starting at 0 and a batch that does not divide it
    let got = p.leaves(&key, 5..42, 8).unwrap();
    assert_eq!(got, Prover::leaves(&ch, &key, 5..42, Kernel::detect()));
    #[cfg(not(feature = "cuda"))]
    assert!(sprint_prover(Device::Cuda, Profile::UNIT, s).is_err());
}
