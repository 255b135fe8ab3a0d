//! Generates Rust types for `proto/comrade/**` with prost, parsing the files
//! with protox so no `protoc` binary is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not with `env!`: a build script compiled for another
    // checkout sharing this target dir must not look in that checkout.
    let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    let files = [
        "comrade/bank/v1/bank.proto",
        "comrade/auth/v1/auth.proto",
        "comrade/app/v1/app.proto",
        "comrade/staking/v1/staking.proto",
        "comrade/compute/v1/compute.proto",
        "comrade/bridge/v1/bridge.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let mut config = prost_build::Config::new();
    config.compile_fds(fds)?;
    Ok(())
}
