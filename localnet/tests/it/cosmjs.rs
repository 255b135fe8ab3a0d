//! The ordinary cosmjs client (`@cosmjs/stargate`, pinned in
//! `tests/cosmjs/package-lock.json`, installed by `scripts/test.sh` with
//! `npm ci`) works against the chain unchanged: account, balances, a
//! `sendTokens` with an explicit fee, and the tx by hash.

use std::process::Command;

use comrade_localnet::faucet_key;

use crate::common::{CHAIN_ID, TestNet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosmjs_reads_accounts_and_balances_and_sends_tokens() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cosmjs");
    assert!(
        dir.join("node_modules/@cosmjs/stargate").is_dir(),
        "cosmjs is not installed: run `npm ci` in {} (scripts/test.sh does)",
        dir.display()
    );
    let t = TestNet::start("cosmjs", 6).await;
    let rpc = t.net.rpc_url(0).unwrap();
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("smoke.mjs")
        .arg(&rpc)
        .arg(faucet_key().private_key_hex())
        .arg(CHAIN_ID)
        .output()
        .expect("node runs (Node.js 18+ is needed for the cosmjs tests)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cosmjs smoke test failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("cosmjs ok"), "{stdout}");
}
