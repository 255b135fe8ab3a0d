//! The localnet's compute node: `comrade compute serve` on the default model,
//! started, answering a chat completion, and stopped.

use std::io::{Read, Write};
use std::time::Duration;

use comrade_localnet::{compute, find_comrade_bin};

use crate::common::serial;

#[test]
fn compute_node_serves_the_default_model_and_stops() {
    let _guard = serial();
    let bin = find_comrade_bin().unwrap_or_else(|e| panic!("needs the comrade binary: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("comrade-e2e-compute-")
        .tempdir()
        .unwrap();
    let listen = "127.0.0.1:21990";
    let node = compute::start(
        dir.path(),
        &bin,
        listen,
        compute::DEFAULT_MODEL,
        None,
        Duration::from_secs(600),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("compute node did not come up: {e}"));
    struct Stop<'a>(&'a std::path::Path);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = compute::stop(self.0);
        }
    }
    let _stop = Stop(dir.path());
    assert!(compute::healthy(listen));
    assert_eq!(
        compute::ComputeNode::load(dir.path()).unwrap(),
        Some(node.clone())
    );

    // One short greedy chat completion over plain HTTP.
    let body = serde_json::json!({
        "model": compute::DEFAULT_MODEL,
        "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 4,
        "temperature": 0,
    })
    .to_string();
    let mut s = std::net::TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "POST /v1/chat/completions HTTP/1.0\r\nHost: {listen}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(
        resp.starts_with("HTTP/1.0 200") || resp.starts_with("HTTP/1.1 200"),
        "{resp}"
    );
    let json = resp.split("\r\n\r\n").nth(1).unwrap();
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert!(
        v["usage"]["completion_tokens"].as_u64().unwrap() >= 1,
        "{v}"
    );

    assert_eq!(compute::stop(dir.path()).unwrap(), Some(node.pid));
    assert!(!compute::healthy(listen));
    assert_eq!(compute::stop(dir.path()).unwrap(), None);
}

/// The compute node joins a (fast-schedule, one-validator) chain: it is
/// registered, its worker reveals beacon keys, proves a capacity sprint on
/// the CPU, commits, reveals the opened rows, the chain verifies them
/// exactly and pays the sprint's reward; the worker's metrics count it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compute_node_proves_a_capacity_sprint_and_is_paid() {
    use comrade_localnet::{ComputeSchedule, compute_operator_key};
    use comrade_primitives::proto::compute::v1 as pb;
    use prost::Message as _;
    use tendermint_rpc::Client as _;

    let t = crate::common::TestNet::start_with("sprint", 7, |c| {
        c.validators = 1;
        c.compute_schedule = ComputeSchedule::Fast;
    })
    .await;
    let bin = find_comrade_bin().unwrap();
    let dir = t.net.dir().to_path_buf();
    let rpc = t.net.rpc_url(0).unwrap();
    let listen = "127.0.0.1:21991";
    struct Stop(std::path::PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let log = std::fs::read_to_string(self.0.join("compute.log")).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                eprintln!(
                    "--- compute.log ---\n{}",
                    lines[lines.len().saturating_sub(40)..].join("\n")
                );
            }
            let _ = compute::stop(&self.0);
        }
    }
    // Starts (or restarts) the node on the chain; blocking, so off the runtime.
    let start = || {
        tokio::task::block_in_place(|| {
            compute::start(
                &dir,
                &bin,
                listen,
                compute::DEFAULT_MODEL,
                Some(&rpc),
                Duration::from_secs(600),
                &mut |_| {},
            )
        })
        .unwrap_or_else(|e| panic!("compute node did not come up: {e}"))
    };
    let node = start();
    let _stop = Stop(dir.clone());
    assert_eq!(node.chain.as_deref(), Some(rpc.as_str()));

    let c = t.client(0);
    let op = compute_operator_key().address;
    let before = comrade_localnet::rpc::balance(&c, &op).await.unwrap();

    // Restart the node between its commitment and the opening of its rows:
    // the new process reloads the stored leaves instead of missing the
    // sprint. Fast schedule: 40-block epochs, rows opened ~15 blocks after
    // the commitment.
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    let restarted_in = loop {
        let h = t.height(0).await;
        let epoch = h.saturating_sub(1) / 40;
        let r = c
            .abci_query(
                Some("/comrade.compute.v1.Query/Sprint".into()),
                pb::QuerySprintRequest {
                    epoch,
                    node: op.to_string(),
                }
                .encode_to_vec(),
                None,
                false,
            )
            .await
            .unwrap();
        let r = pb::QuerySprintResponse::decode(r.value.as_slice()).unwrap();
        if let (Some(s), Some(cm)) = (&r.sprint, &r.commit)
            && !s.opened
            && !cm.revealed
            && h + 4 < s.reveal_deadline
        {
            let old = compute::ComputeNode::load(&dir).unwrap().unwrap();
            let stopped = compute::stop(&dir).unwrap();
            let healthy_after_stop = compute::healthy(listen);
            let new = start();
            eprintln!(
                "restart at height {h}, sprint {epoch}: old pid {} stopped {stopped:?}, healthy after stop {healthy_after_stop}, new pid {}",
                old.pid, new.pid
            );
            assert_ne!(new.pid, old.pid, "a new process serves");
            break epoch;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no commitment by height {h}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };

    // The sprint passes (allow two more epochs).
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let n = loop {
        let n = node_record(&c, &op).await;
        let rep = n.reputation.unwrap_or_default();
        assert_eq!(rep.sprints_failed, 0, "{n:?}");
        if rep.sprints_passed >= 1 {
            break n;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no sprint passed by height {}: {n:?}",
            t.height(0).await
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let rep = n.reputation.unwrap();
    assert_eq!(rep.sprints_missed, 0, "{rep:?}");
    assert!(n.verified_epoch >= restarted_in, "{n:?}");
    assert!(rep.reveals >= 1, "beacon keys were revealed: {rep:?}");
    assert!(n.verified_mac_per_s > 0, "{n:?}");
    // The only node that passed gets the whole sprint reward (100 COMRADE).
    let rewards: u128 = n.rewards_total.parse().unwrap();
    assert!(rewards >= 100_000_000, "{n:?}");
    let after = comrade_localnet::rpc::balance(&c, &op).await.unwrap();
    assert!(
        after > before,
        "the operator was paid more than its fees: {before} -> {after}"
    );

    // The worker's own metrics on the server's /metrics.
    let mut s = std::net::TcpStream::connect(listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {listen}\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let metric = |name: &str| -> u64 {
        resp.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing from /metrics:\n{resp}"))
            .trim()
            .parse()
            .unwrap()
    };
    // This is the restarted process: it revealed the rows it reloaded.
    assert!(metric("comrade_worker_sprints_passed_total") >= 1);
    assert!(metric("comrade_worker_capacity_reveals_total") >= 1);
    assert!(metric("comrade_worker_beacon_reveals_total") >= 1);
    assert_eq!(metric("comrade_worker_sprints_failed_total"), 0);
    assert_eq!(metric("comrade_worker_sprints_missed_total"), 0);
    let log = std::fs::read_to_string(dir.join("compute.log")).unwrap();
    assert!(
        log.contains(&format!(
            "sprint {restarted_in}: reloaded the committed rows"
        )),
        "the restarted worker reloads sprint {restarted_in}'s rows"
    );
}

/// Three compute nodes on one chain serve requests with receipts; one of
/// them drops four of its model's layers. Every receipt is audited by the
/// two other nodes (fast schedule): the honest nodes' receipts pass (the
/// cheater's reports on them are outliers below the lower median), the
/// cheater's fail, and at the epoch's end it is convicted: slashed,
/// throttled, its auditors paid a bounty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audits_convict_a_compute_node_that_drops_layers() {
    use comrade_localnet::{ComputeSchedule, compute_operator_key_at};

    let t = crate::common::TestNet::start_with("audits", 7, |c| {
        c.validators = 1;
        c.compute_schedule = ComputeSchedule::Fast;
    })
    .await;
    let bin = find_comrade_bin().unwrap();
    let dir = t.net.dir().to_path_buf();
    let rpc = t.net.rpc_url(0).unwrap();
    struct Stop(std::path::PathBuf);
    impl Drop for Stop {
        fn drop(&mut self) {
            if std::thread::panicking() {
                for name in ["compute", "compute-1", "compute-2"] {
                    let log = std::fs::read_to_string(self.0.join(format!("{name}.log")))
                        .unwrap_or_default();
                    let lines: Vec<&str> = log.lines().collect();
                    eprintln!(
                        "--- {name}.log ---\n{}",
                        lines[lines.len().saturating_sub(30)..].join("\n")
                    );
                }
            }
            let _ = compute::stop(&self.0);
        }
    }
    let _stop = Stop(dir.clone());
    let listens = ["127.0.0.1:21993", "127.0.0.1:21994", "127.0.0.1:21995"];
    for (slot, listen) in listens.iter().enumerate() {
        let extra_args = if slot == 2 {
            vec!["--debug-drop-layers".to_string(), "4".to_string()]
        } else {
            vec![]
        };
        tokio::task::block_in_place(|| {
            compute::start_at(
                &dir,
                &compute::Slot {
                    slot: slot as u32,
                    extra_args,
                },
                &bin,
                listen,
                compute::DEFAULT_MODEL,
                Some(&rpc),
                Duration::from_secs(600),
                &mut |_| {},
            )
        })
        .unwrap_or_else(|e| panic!("compute node {slot} did not come up: {e}"));
    }
    // Three sampled requests to each node.
    for listen in listens {
        for i in 0..3 {
            let body = serde_json::json!({
                "model": compute::DEFAULT_MODEL,
                "messages": [{"role": "user", "content": format!("Tell me fact number {i} about the sea.")}],
                "max_tokens": 16,
                "temperature": 0.7,
                "seed": i,
            })
            .to_string();
            let resp = tokio::task::block_in_place(|| {
                let mut s = std::net::TcpStream::connect(listen).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(300))).unwrap();
                write!(
                    s,
                    "POST /v1/chat/completions HTTP/1.0\r\nHost: {listen}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                let mut resp = String::new();
                s.read_to_string(&mut resp).unwrap();
                resp
            });
            assert!(resp.contains(" 200 "), "{resp}");
            assert!(resp.contains("x-comrade-request-id: "), "{resp}");
        }
    }
    let c = t.client(0);
    let deadline = std::time::Instant::now() + Duration::from_secs(420);
    let cheater = loop {
        let n = node_record(&c, &compute_operator_key_at(2).address).await;
        if n.reputation.unwrap_or_default().convictions >= 1 {
            break n;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no conviction by height {}: {n:?}",
            t.height(0).await
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let rep = cheater.reputation.unwrap();
    assert!(rep.audits_failed >= 1, "{rep:?}");
    assert_eq!(rep.audits_passed, 0, "{rep:?}");
    let slashed: u128 = cheater.slashed_total.parse().unwrap();
    assert!(slashed > 0, "{cheater:?}");
    let epoch = t.height(0).await.saturating_sub(1) / 40;
    assert!(cheater.throttled_until_epoch > epoch, "{cheater:?}");
    // `comrade --output json <args>` against node 0; must succeed.
    let cli_json = |args: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(&bin)
            .args(["--node", rpc.as_str(), "--output", "json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Every audit of `executor`'s receipts, for failure messages.
    let audits_of = |executor: &str, upto: u64| -> Vec<serde_json::Value> {
        (0..=upto / 10)
            .flat_map(|p| {
                let p = p.to_string();
                cli_json(&["query", "compute", "audits", &p, "--executor", executor])["audits"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    };
    for slot in [0, 1] {
        let n = node_record(&c, &compute_operator_key_at(slot).address).await;
        let r = n.reputation.unwrap_or_default();
        if r.audits_failed > 0 || r.convictions > 0 {
            let h = t.height(0).await;
            panic!(
                "honest node {slot} failed an audit: {n:?}\naudits: {:#?}",
                audits_of(&n.operator, h)
            );
        }
        assert_eq!(r.convictions, 0, "honest node {slot}: {n:?}");
        assert_eq!(r.audits_failed, 0, "honest node {slot}: {n:?}");
        assert!(r.audits_passed >= 1, "honest node {slot}: {n:?}");
        assert!(r.reports >= 1, "honest node {slot} audited: {n:?}");
    }
    // The cheater's reports on honest receipts stood out.
    assert!(rep.reports_outlier >= 1, "{rep:?}");

    // `comrade query compute audits` shows the cheater's failed audits and why.
    let cheat_addr = compute_operator_key_at(2).address.to_string();
    let mut failed = vec![];
    for period in 0..=t.height(0).await / 10 {
        let period = period.to_string();
        let v = cli_json(&[
            "query",
            "compute",
            "audits",
            &period,
            "--executor",
            &cheat_addr,
        ]);
        for a in v["audits"].as_array().unwrap() {
            if a["status"] == "failed" {
                failed.push(a["reason"].as_str().unwrap().to_string());
            }
        }
    }
    assert!(!failed.is_empty(), "no failed audit listed");
    assert!(
        failed
            .iter()
            .all(|r| r.contains("chunks over the limits") || r.contains("steps beyond")),
        "{failed:?}"
    );

    // `comrade query consensus penalties|rewards` explains, from block
    // events, why the cheater lost stake and what the honest auditors earned.
    let explain = |what: &str, addr: &str| {
        cli_json(&["query", "consensus", what, addr])[what]
            .as_array()
            .unwrap()
            .clone()
    };
    let penalties = explain("penalties", &cheat_addr);
    let conviction = penalties
        .iter()
        .find(|e| e["what"] == "conviction")
        .unwrap_or_else(|| panic!("no conviction listed: {penalties:?}"));
    let listed: u128 = conviction["attributes"]["slashed"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        listed > 0 && listed <= slashed,
        "{conviction:?} vs {slashed}"
    );
    assert!(
        penalties.iter().any(|e| e["what"] == "failed audit"),
        "{penalties:?}"
    );
    // Reporters of every listed conviction (the cheater may be convicted in
    // more than one epoch).
    let reporters: Vec<String> = penalties
        .iter()
        .filter(|e| e["what"] == "conviction")
        .flat_map(|e| {
            e["attributes"]["reporters"]
                .as_str()
                .unwrap()
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut bounties = 0;
    for slot in [0, 1] {
        let addr = compute_operator_key_at(slot).address.to_string();
        let rewards = explain("rewards", &addr);
        let paid = rewards
            .iter()
            .filter(|e| e["what"] == "audit bounty" && e["attributes"]["executor"] == cheat_addr)
            .count();
        assert_eq!(
            paid > 0,
            reporters.contains(&addr),
            "honest node {slot}: bounties {rewards:?}, reporters {reporters:?}"
        );
        bounties += paid;
        // An honest node is never listed as penalised for audits.
        let p = explain("penalties", &addr);
        assert!(
            p.iter()
                .all(|e| e["what"] != "conviction" && e["what"] != "failed audit"),
            "honest node {slot}: {p:?}"
        );
    }
    assert!(bounties >= 1, "no bounty paid to an honest reporter");
}

/// `op`'s compute-node record as node `c` answers; it must be registered.
async fn node_record(
    c: &tendermint_rpc::HttpClient,
    op: &comrade_primitives::Address,
) -> comrade_primitives::proto::compute::v1::ComputeNode {
    use comrade_primitives::proto::compute::v1 as pb;
    use prost::Message as _;
    use tendermint_rpc::Client as _;
    let r = c
        .abci_query(
            Some("/comrade.compute.v1.Query/Node".into()),
            pb::QueryNodeRequest {
                operator: op.to_string(),
            }
            .encode_to_vec(),
            None,
            false,
        )
        .await
        .unwrap();
    assert!(r.code.is_ok(), "{op} is registered: {}", r.log);
    pb::QueryNodeResponse::decode(r.value.as_slice())
        .unwrap()
        .node
        .unwrap()
        .node
        .unwrap()
}
