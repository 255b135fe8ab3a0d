//! `comrade query consensus rewards|penalties <address>`: every reward or
//! penalty of an account, each with the reason the chain gave when it
//! applied it. The chain emits one event per reward and penalty from
//! FinalizeBlock; this searches CometBFT's block-event index for those that
//! name the address and lists them by height.

use anyhow::{Context as _, Result};
use tendermint_rpc::query::Query;
use tendermint_rpc::{Client as _, HttpClient, Order};

use crate::rpc::{parse_address, unreachable};

/// `comrade query consensus …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ConsensusQuery {
    /// What an account was paid by the protocol, and why: capacity rewards
    /// of its compute node, bounties for audits that convicted a cheater.
    Rewards {
        /// Address (`comrade1…`): a compute node's or validator's operator.
        address: String,
        /// At most this many entries, the newest.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// What an account lost or was struck for, and why: failed or missed
    /// sprints, convictions, failed audits, auditor strikes, jailings and
    /// validator slashes.
    Penalties {
        /// Address (`comrade1…`).
        address: String,
        /// At most this many entries, the newest.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

/// An event kind, the attribute naming the account, and whether an event
/// of that kind counts (e.g. only unsuccessful sprint settlements are
/// penalties).
struct Source {
    kind: &'static str,
    key: &'static str,
    label: &'static str,
    keep: fn(&serde_json::Map<String, serde_json::Value>) -> bool,
}

fn always(_: &serde_json::Map<String, serde_json::Value>) -> bool {
    true
}

const REWARDS: &[Source] = &[
    Source {
        kind: "comrade.compute.v1.EventCapacityRewarded",
        key: "node",
        label: "capacity reward",
        keep: always,
    },
    Source {
        kind: "comrade.compute.v1.EventBountyPaid",
        key: "auditor",
        label: "audit bounty",
        keep: always,
    },
];

const PENALTIES: &[Source] = &[
    Source {
        kind: "comrade.compute.v1.EventCapacitySettled",
        key: "node",
        label: "capacity sprint",
        keep: |a| a.get("outcome").and_then(|o| o.as_str()) != Some("passed"),
    },
    Source {
        kind: "comrade.compute.v1.EventConviction",
        key: "executor",
        label: "conviction",
        keep: always,
    },
    Source {
        kind: "comrade.compute.v1.EventAuditConcluded",
        key: "executor",
        label: "failed audit",
        keep: |a| a.get("outcome").and_then(|o| o.as_str()) == Some("failed"),
    },
    Source {
        kind: "comrade.compute.v1.EventAuditorStruck",
        key: "auditor",
        label: "auditor strike",
        keep: always,
    },
    Source {
        kind: "comrade.compute.v1.EventComputeNodeJailed",
        key: "operator",
        label: "compute node jailed",
        keep: always,
    },
    Source {
        kind: "comrade.staking.v1.EventValidatorSlashed",
        key: "operator",
        label: "validator slashed",
        keep: always,
    },
    Source {
        kind: "comrade.staking.v1.EventValidatorJailed",
        key: "operator",
        label: "validator jailed",
        keep: always,
    },
];

/// Blocks asked for per search page (CometBFT's maximum).
const PER_PAGE: u8 = 100;

/// The heights of blocks with a `kind` event whose `key` is `address`,
/// newest first, at most `limit`.
async fn heights(
    c: &HttpClient,
    node: &str,
    s: &Source,
    address: &str,
    limit: usize,
) -> Result<Vec<u64>> {
    let q = Query::eq(format!("{}.{}", s.kind, s.key), address.to_string());
    let mut out = Vec::new();
    let mut page = 1u32;
    loop {
        let r = c
            .block_search(q.clone(), page, PER_PAGE, Order::Descending)
            .await
            .map_err(|e| unreachable(node, e))
            .with_context(|| format!("searching {} events", s.kind))?;
        let n = r.blocks.len();
        out.extend(r.blocks.iter().map(|b| b.block.header.height.value()));
        if n < usize::from(PER_PAGE) || out.len() >= limit {
            break;
        }
        page = page.saturating_add(1);
    }
    out.truncate(limit);
    Ok(out)
}

/// Every matching entry, newest first.
async fn entries(
    c: &HttpClient,
    node: &str,
    sources: &[Source],
    address: &str,
    limit: usize,
) -> Result<Vec<serde_json::Value>> {
    let mut blocks = std::collections::BTreeSet::new();
    for s in sources {
        blocks.extend(heights(c, node, s, address, limit).await?);
    }
    let mut out = Vec::new();
    for h in blocks.into_iter().rev() {
        let r = c
            .block_results(tendermint::block::Height::try_from(h)?)
            .await
            .map_err(|e| unreachable(node, e))?;
        for e in &r.finalize_block_events {
            let Some(s) = sources.iter().find(|s| s.kind == e.kind) else {
                continue;
            };
            let attrs: serde_json::Map<String, serde_json::Value> = e
                .attributes
                .iter()
                .map(|a| {
                    (
                        a.key_str().unwrap_or("").to_string(),
                        serde_json::Value::String(a.value_str().unwrap_or("").to_string()),
                    )
                })
                .collect();
            if attrs.get(s.key).and_then(|v| v.as_str()) != Some(address) || !(s.keep)(&attrs) {
                continue;
            }
            out.push(serde_json::json!({
                "height": h,
                "what": s.label,
                "event": e.kind,
                "attributes": attrs,
            }));
        }
        if out.len() >= limit {
            break;
        }
    }
    out.truncate(limit);
    Ok(out)
}

/// One line of text for an entry: what, the amount, the reason.
fn line(v: &serde_json::Value) -> String {
    let a = &v["attributes"];
    let get = |k: &str| a.get(k).and_then(|x| x.as_str()).unwrap_or("");
    let mut parts = vec![format!(
        "height {:>7}  {:<20}",
        v["height"],
        v["what"].as_str().unwrap_or("")
    )];
    for (k, label) in [
        ("amount", "paid"),
        ("slashed", "slashed"),
        ("epoch", "epoch"),
        ("outcome", "outcome"),
        ("strike", "strike"),
    ] {
        let x = get(k);
        if !x.is_empty() && x != "0" {
            parts.push(format!("{label} {x}"));
        }
    }
    let reason = get("reason");
    if !reason.is_empty() {
        parts.push(format!("— {reason}"));
    }
    parts.join("  ")
}

/// Runs `query consensus …`.
pub(crate) async fn query(c: &HttpClient, node: &str, q: ConsensusQuery, json: bool) -> Result<()> {
    let (sources, address, limit, what) = match q {
        ConsensusQuery::Rewards { address, limit } => (REWARDS, address, limit, "rewards"),
        ConsensusQuery::Penalties { address, limit } => (PENALTIES, address, limit, "penalties"),
    };
    parse_address(&address)?;
    let list = entries(c, node, sources, &address, limit).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "address": address, what: list,
            }))?
        );
    } else if list.is_empty() {
        println!("no {what} recorded for {address}");
    } else {
        for v in &list {
            println!("{}", line(v));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn lines_say_what_how_much_and_why() {
        let v = serde_json::json!({
            "height": 80, "what": "conviction",
            "attributes": {"slashed": "5000000", "epoch": "1", "reason": "84 of 128 audited steps beyond ε"},
        });
        let l = line(&v);
        assert!(
            l.contains("conviction") && l.contains("slashed 5000000"),
            "{l}"
        );
        assert!(l.ends_with("— 84 of 128 audited steps beyond ε"), "{l}");
    }

    #[test]
    fn only_unsuccessful_sprints_and_failed_audits_are_penalties() {
        let m = |k: &str, v: &str| {
            let mut m = serde_json::Map::new();
            m.insert(k.into(), v.into());
            m
        };
        let sprint = PENALTIES
            .iter()
            .find(|s| s.label == "capacity sprint")
            .unwrap();
        assert!(!(sprint.keep)(&m("outcome", "passed")));
        assert!((sprint.keep)(&m("outcome", "missed")));
        let audit = PENALTIES
            .iter()
            .find(|s| s.label == "failed audit")
            .unwrap();
        assert!(!(audit.keep)(&m("outcome", "passed")));
        assert!((audit.keep)(&m("outcome", "failed")));
    }
}
