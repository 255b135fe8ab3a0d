//! A one-validator chain run the way an operator would: `comrade init`,
//! keys, genesis, `comrade start --with-cometbft`, a transfer, queries.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::*;

struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        // SIGTERM: `comrade start` forwards it to cometbft and exits.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
    }
}

fn set_port(config: &str, section: &str, port: u16) -> String {
    // Rewrites `laddr` of one TOML section of cometbft's config.toml.
    let mut out = String::new();
    let mut current = String::new();
    for line in config.lines() {
        if line.starts_with('[') {
            current = line.trim_matches(|c| c == '[' || c == ']').to_string();
        }
        if current == section && line.starts_with("laddr = ") {
            out.push_str(&format!("laddr = \"tcp://127.0.0.1:{port}\"\n"));
        } else if line.starts_with("timeout_commit = ") {
            out.push_str("timeout_commit = \"300ms\"\n");
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn operator_flow_on_a_single_validator_chain() {
    let dir = tempfile::tempdir().unwrap();
    let h = dir.path();
    let init = comrade(h, &["init", "--moniker", "solo"]);
    assert!(
        init.status.success(),
        "comrade init failed (is cometbft installed? run scripts/install-cometbft.sh): {}",
        stderr(&init)
    );
    ok(comrade(h, &["keys", "add", "alice"]));
    ok(comrade(h, &["keys", "add", "bob"]));
    let alice = ok(comrade(h, &["keys", "show", "alice", "--address"]));
    let bob = ok(comrade(h, &["keys", "show", "bob", "--address"]));
    ok(comrade(
        h,
        &[
            "genesis",
            "init",
            "--chain-id",
            "solo-1",
            "--force",
            "--crowdfunding-bps",
            "0",
        ],
    ));
    ok(comrade(
        h,
        &["genesis", "add-account", &alice, "5000000000"],
    ));
    let key_file = h.join("config/priv_validator_key.json");
    ok(comrade(
        h,
        &[
            "genesis",
            "add-validator",
            "--name",
            "solo",
            "--pub-key",
            key_file.to_str().unwrap(),
            "--power",
            "10",
            "--operator",
            &alice,
        ],
    ));
    ok(comrade(h, &["genesis", "validate"]));

    let (p2p, rpc, abci) = (26_456u16, 26_457u16, 26_458u16);
    let cfg_path = h.join("config/config.toml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let cfg = set_port(&set_port(&cfg, "p2p", p2p), "rpc", rpc);
    std::fs::write(&cfg_path, cfg).unwrap();
    let node_url = format!("http://127.0.0.1:{rpc}");

    let log = std::fs::File::create(h.join("node.log")).unwrap();
    let child = Command::new(BIN)
        .arg("--home")
        .arg(h)
        .args([
            "start",
            "--with-cometbft",
            "--abci-addr",
            &format!("127.0.0.1:{abci}"),
        ])
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let _node = Node(child);

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let o = comrade(h, &["--node", &node_url, "--output", "json", "status"]);
        if o.status.success() {
            let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
            if v["latest_block_height"].as_u64().unwrap_or(0) >= 2 {
                assert_eq!(v["chain_id"], "solo-1");
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no blocks within 60 s; see {}",
            h.join("node.log").display()
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    let sent = ok(comrade(
        h,
        &[
            "--node",
            &node_url,
            "--output",
            "json",
            "tx",
            "bank",
            "send",
            "alice",
            &bob,
            "777ucomrade",
        ],
    ));
    let v: serde_json::Value = serde_json::from_str(&sent).unwrap();
    assert_eq!(v["code"], 0);
    let hash = v["hash"].as_str().unwrap().to_string();

    let bal = ok(comrade(
        h,
        &["--node", &node_url, "query", "bank", "balance", &bob],
    ));
    assert_eq!(bal, "777ucomrade");
    let acc = ok(comrade(
        h,
        &[
            "--node", &node_url, "--output", "json", "query", "account", &alice,
        ],
    ));
    let acc: serde_json::Value = serde_json::from_str(&acc).unwrap();
    assert_eq!(acc["sequence"], 1);
    let tx = ok(comrade(
        h,
        &[
            "--node", &node_url, "--output", "json", "query", "tx", &hash,
        ],
    ));
    assert!(tx.contains("\"code\":0"), "{tx}");

    // Overspending is refused with the bank's code and a clear message.
    let o = comrade(
        h,
        &[
            "--node", &node_url, "tx", "bank", "send", "bob", &alice, "1000000",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("code 11"), "{}", stderr(&o));

    // Staking: the genesis validator's operator bonds more; the record
    // shows it at once (the power follows at the epoch end).
    let v = |h: &std::path::Path| -> serde_json::Value {
        let o = ok(comrade(
            h,
            &[
                "--node",
                &node_url,
                "--output",
                "json",
                "query",
                "staking",
                "validator",
                &alice,
            ],
        ));
        serde_json::from_str(&o).unwrap()
    };
    let before = v(h);
    assert_eq!(before["bonded"], "10000000", "{before}");
    assert_eq!(before["power"], 10, "{before}");
    assert_eq!(before["moniker"], "solo");
    ok(comrade(
        h,
        &[
            "--node",
            &node_url,
            "tx",
            "staking",
            "bond",
            "alice",
            "2000000ucomrade",
        ],
    ));
    assert_eq!(v(h)["bonded"], "12000000");
    let all = ok(comrade(
        h,
        &[
            "--node",
            &node_url,
            "--output",
            "json",
            "query",
            "staking",
            "validators",
        ],
    ));
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(all["validators"].as_array().unwrap().len(), 1);
    // Unbonding more than bonded, and unjailing a validator that is not
    // jailed, are refused with their codes.
    let o = comrade(
        h,
        &[
            "--node", &node_url, "tx", "staking", "unbond", "alice", "12000001",
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("code 104"), "{}", stderr(&o));
    let o = comrade(
        h,
        &["--node", &node_url, "tx", "staking", "unjail", "alice"],
    );
    assert!(stderr(&o).contains("code 106"), "{}", stderr(&o));
    let p = ok(comrade(
        h,
        &[
            "--node", &node_url, "--output", "json", "query", "staking", "params",
        ],
    ));
    let p: serde_json::Value = serde_json::from_str(&p).unwrap();
    assert_eq!(p["power_reduction"], "1000000");

    // A compute node: registered with a fresh key chain, listed with its
    // routing weight, a second registration refused, then unbonding.
    ok(comrade(
        h,
        &[
            "--node",
            &node_url,
            "tx",
            "compute",
            "register",
            "alice",
            "100000000",
            "--endpoint",
            "http://127.0.0.1:8080",
            "--model",
            "smollm2-135m",
            "--keychain-len",
            "1000",
        ],
    ));
    let chain_file = h.join(format!("compute/keychain-{alice}.json"));
    assert!(chain_file.exists());
    let nodes = ok(comrade(
        h,
        &[
            "--node", &node_url, "--output", "json", "query", "compute", "nodes",
        ],
    ));
    let nodes: serde_json::Value = serde_json::from_str(&nodes).unwrap();
    let n0 = &nodes["nodes"][0];
    assert_eq!(n0["operator"], alice.as_str(), "{nodes}");
    assert_eq!(n0["status"], "active");
    assert_eq!(n0["routing_weight"], 100);
    std::fs::rename(&chain_file, h.join("keychain.bak")).unwrap();
    let o = comrade(
        h,
        &[
            "--node",
            &node_url,
            "tx",
            "compute",
            "register",
            "alice",
            "100000000",
            "--endpoint",
            "http://127.0.0.1:8080",
            "--model",
            "smollm2-135m",
        ],
    );
    assert!(stderr(&o).contains("code 131"), "{}", stderr(&o));
    assert!(
        !chain_file.exists(),
        "a refused registration leaves no key chain behind"
    );
    ok(comrade(
        h,
        &["--node", &node_url, "tx", "compute", "unbond", "alice"],
    ));
    let one = ok(comrade(
        h,
        &[
            "--node", &node_url, "--output", "json", "query", "compute", "node", &alice,
        ],
    ));
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["status"], "unbonding");
    assert_eq!(one["routing_weight"], 0);
    let sprint = ok(comrade(
        h,
        &[
            "--node", &node_url, "--output", "json", "query", "compute", "sprint", "0",
        ],
    ));
    let sprint: serde_json::Value = serde_json::from_str(&sprint).unwrap();
    assert_eq!(sprint["start_height"], 1, "{sprint}");
}
