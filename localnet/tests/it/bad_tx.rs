//! Bad txs over RPC get the right CheckTx codes and change no state.

use comrade_localnet::{faucet_key, funded_account_key, rpc};
use comrade_primitives::ResultCode;
use tendermint_rpc::Client as _;

use crate::common::{CHAIN_ID, TestNet, account, submit_and_wait};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_txs_get_their_codes_and_change_nothing() {
    let mut t = TestNet::start("bad-tx", 4).await;
    let c = t.client(2);
    let faucet = faucet_key();
    let to = funded_account_key(500_001).address;
    let acc = account(&c, &faucet.address).await;
    let n = acc.account_number;

    // One good tx first, so there is a sequence to replay.
    let good = rpc::signed_send(&faucet.key, &to, 10, CHAIN_ID, n, acc.sequence);
    let (_, code) = submit_and_wait(&c, good.clone()).await;
    assert_eq!(code, 0);
    let seq = acc.sequence + 1;
    let before_from = rpc::balance(&c, &faucet.address).await.unwrap();
    let before_to = rpc::balance(&c, &to).await.unwrap();

    let mut bad_sig = rpc::signed_send(&faucet.key, &to, 11, CHAIN_ID, n, seq);
    let len = bad_sig.len();
    bad_sig[len - 40] ^= 0x01; // inside the signature's r
    let cases: Vec<(&str, Vec<u8>, ResultCode)> = vec![
        ("junk bytes", vec![0xff; 16], ResultCode::TxMalformed),
        ("bad signature", bad_sig, ResultCode::SignatureInvalid),
        (
            "wrong chain id",
            rpc::signed_send(&faucet.key, &to, 12, "other-chain", n, seq),
            ResultCode::SignatureInvalid,
        ),
        (
            "replayed sequence",
            rpc::signed_send(&faucet.key, &to, 13, CHAIN_ID, n, seq - 1),
            ResultCode::WrongSequence,
        ),
        (
            "future sequence",
            rpc::signed_send(&faucet.key, &to, 14, CHAIN_ID, n, seq + 5),
            ResultCode::WrongSequence,
        ),
    ];
    let mut hashes = Vec::new();
    for (what, tx, want) in cases {
        let r = c.broadcast_tx_sync(tx).await.unwrap();
        assert_eq!(
            r.code.value(),
            want.value(),
            "{what}: got code {} ({})",
            r.code.value(),
            r.log
        );
        hashes.push((what, r.hash));
    }
    // The identical bytes of the committed tx: CometBFT's cache or the app
    // (wrong sequence) must refuse them.
    match c.broadcast_tx_sync(good).await {
        Ok(r) => assert_eq!(
            r.code.value(),
            ResultCode::WrongSequence.value(),
            "{}",
            r.log
        ),
        Err(e) => assert!(e.to_string().contains("cache"), "replay: {e}"),
    }

    // Nothing changed: wait until every node is two blocks further, then
    // compare state and look for the txs.
    let h = t.height(2).await;
    t.wait_all(h + 2, 30).await;
    for i in 0..t.net.len() {
        let ci = t.client(i);
        assert_eq!(
            rpc::balance(&ci, &faucet.address).await.unwrap(),
            before_from,
            "node{i}"
        );
        assert_eq!(rpc::balance(&ci, &to).await.unwrap(), before_to, "node{i}");
        assert_eq!(account(&ci, &faucet.address).await.sequence, seq, "node{i}");
        for (what, hash) in &hashes {
            assert!(
                ci.tx(*hash, false).await.is_err(),
                "node{i}: {what} tx was committed"
            );
        }
    }
}
