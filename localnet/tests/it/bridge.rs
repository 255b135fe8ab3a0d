//! A lockbox deposit relayed to a 4-validator localnet under real
//! cometbft: the VAA (signed with Wormhole's devnet guardian key, which the
//! localnet's genesis trusts as set 0) is inspected and verified by
//! `comrade bridge inspect-vaa` against the chain's set, redeemed by a
//! relayer's tx, credited on every node, and `comrade query bridge` shows
//! the deposit and a supply still equal to the locked total; the replay is
//! refused by CheckTx with its code.

use comrade_app::client::{SignOptions, pack, sign_tx};
use comrade_bridge::{
    MsgRedeemDeposit, devnet,
    genesis::{dev_lockbox_emitter, dev_mint},
    payload::{Deposit, app_chain_id},
    vaa::{Body, Vaa},
};
use comrade_localnet::{faucet_key, find_comrade_bin, funded_account_key, rpc};
use comrade_primitives::{component::ActionHandler as _, proto::bridge::v1 as pb};

use crate::common::{CHAIN_ID, TestNet, account, submit_and_wait};

fn comrade_json(
    bin: &std::path::Path,
    rpc_url: &str,
    args: &[&str],
) -> (bool, serde_json::Value, String) {
    let out = std::process::Command::new(bin)
        .args(["--node", rpc_url, "--output", "json"])
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockbox_deposit_is_relayed_credited_and_backed() {
    let mut t = TestNet::start("bridge", 8).await;
    let bin = find_comrade_bin().unwrap();
    let rpc0 = t.net.rpc_url(0).unwrap();
    let dave = funded_account_key(900_077).address;
    let amount = 42_000_000u64;
    let payload = Deposit {
        mint: dev_mint(),
        amount,
        decimals: 6,
        sender: [0x5a; 32],
        recipient: dave.0,
        app_chain_id: app_chain_id(CHAIN_ID),
    }
    .to_bytes();
    let body = Body {
        timestamp: 1_800_000_000,
        nonce: 1,
        emitter_chain: 1,
        emitter_address: dev_lockbox_emitter(),
        sequence: 1,
        consistency_level: 32,
        payload: &payload,
    }
    .to_bytes();
    let vaa = Vaa::sign(0, body, &[(0, &devnet::signing_key(0).unwrap())]).unwrap();
    let vaa_hex = hex::encode(vaa.serialize());

    // The CLI verifies it against the chain's guardian set and decodes it.
    let (ok, v, err) = comrade_json(&bin, &rpc0, &["bridge", "inspect-vaa", &vaa_hex]);
    assert!(ok, "{err}");
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["payload"]["kind"], "deposit_v1", "{v}");
    assert_eq!(v["payload"]["recipient"], dave.to_string(), "{v}");
    assert_eq!(v["payload"]["amount"], amount.to_string(), "{v}");
    // A forged copy is reported invalid with a non-zero exit.
    let mut forged = vaa.clone();
    forged.signatures[0].rs[7] ^= 0x40;
    let (ok, v, err) = comrade_json(
        &bin,
        &rpc0,
        &["bridge", "inspect-vaa", &hex::encode(forged.serialize())],
    );
    assert!(!ok, "{v}");
    assert_eq!(v["valid"], false);
    assert!(err.contains("invalid VAA"), "{err}");

    let (_, before, _) = comrade_json(&bin, &rpc0, &["query", "bridge", "supply"]);
    assert_eq!(before["backed"], true, "{before}");
    let locked0: u128 = before["locked"].as_str().unwrap().parse().unwrap();

    // A relayer (the faucet) redeems it.
    let relayer = faucet_key();
    let c1 = t.client(1);
    let redeem = |seq: u64, acct: u64, v: &Vaa| {
        sign_tx(
            &relayer.key,
            vec![pack(
                MsgRedeemDeposit::TYPE_URL,
                &pb::MsgRedeemDeposit {
                    signer: relayer.address.to_string(),
                    vaa: v.serialize(),
                },
            )],
            &SignOptions {
                chain_id: CHAIN_ID,
                account_number: acct,
                sequence: seq,
                fee: ("1000000", "ucomrade"),
                memo: "",
                timeout_height: 0,
            },
        )
    };
    let acc = account(&c1, &relayer.address).await;
    let (height, code) = submit_and_wait(&c1, redeem(acc.sequence, acc.account_number, &vaa)).await;
    assert_eq!(code, 0, "redeem failed in the block");
    t.wait_all(height + 1, 30).await;
    for i in 0..t.net.len() {
        let got = rpc::proven_balance(&t.client(i), &dave).await.unwrap();
        assert_eq!(got.amount, u128::from(amount), "node{i}: recipient balance");
    }
    let (_, after, _) = comrade_json(&bin, &rpc0, &["query", "bridge", "supply"]);
    assert_eq!(after["backed"], true, "{after}");
    let locked1: u128 = after["locked"].as_str().unwrap().parse().unwrap();
    assert_eq!(locked1, locked0 + u128::from(amount));
    let (ok, d, err) = comrade_json(&bin, &rpc0, &["query", "bridge", "deposit", "1"]);
    assert!(ok, "{err}");
    assert_eq!(d["status"], "credited", "{d}");
    assert_eq!(d["recipient"], dave.to_string(), "{d}");
    let (_, d2, _) = comrade_json(&bin, &rpc0, &["query", "bridge", "deposit", "2"]);
    assert_eq!(d2["status"], "not redeemed", "{d2}");

    // The replay is refused before it reaches a block.
    let acc = account(&c1, &relayer.address).await;
    let r = tendermint_rpc::Client::broadcast_tx_sync(
        &c1,
        redeem(acc.sequence, acc.account_number, &vaa),
    )
    .await
    .unwrap();
    assert_eq!(r.code.value(), 216, "{}", r.log);
    assert!(r.log.contains("already redeemed"), "{}", r.log);
}
