//! A MsgSend over RPC is committed, and every node proves the new balance.

use comrade_localnet::{FAUCET_BALANCE, faucet_key, funded_account_key, rpc};

use crate::common::{CHAIN_ID, TestNet, account, submit_and_wait};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_send_is_committed_and_proven_on_every_node() {
    let mut t = TestNet::start("send", 0).await;
    let faucet = faucet_key();
    // A fresh recipient (not funded at genesis).
    let to = funded_account_key(900_001).address;
    let c1 = t.client(1);
    let acc = account(&c1, &faucet.address).await;
    let amount = 1_234_567u128;
    let tx = rpc::signed_send(
        &faucet.key,
        &to,
        amount,
        CHAIN_ID,
        acc.account_number,
        acc.sequence,
    );
    let (height, code) = submit_and_wait(&c1, tx).await;
    assert_eq!(code, 0, "MsgSend failed in the block");

    // Every node must reach the block after the tx's (so its state includes
    // the tx and the app hash over it is in a header), then prove the balance.
    t.wait_all(height + 1, 30).await;
    for i in 0..t.net.len() {
        let c = t.client(i);
        let got = rpc::proven_balance(&c, &to).await.unwrap();
        assert!(
            got.height >= height,
            "node{i} answered at height {}",
            got.height
        );
        assert_eq!(got.amount, amount, "node{i}: recipient balance");
        let from = rpc::proven_balance(&c, &faucet.address).await.unwrap();
        assert_eq!(
            from.amount,
            FAUCET_BALANCE - amount - rpc::SEND_FEE,
            "node{i}: sender balance"
        );
        // The unproven gRPC-style query agrees.
        assert_eq!(rpc::balance(&c, &to).await.unwrap(), amount);
        assert_eq!(
            account(&c, &faucet.address).await.sequence,
            acc.sequence + 1
        );
    }
}
