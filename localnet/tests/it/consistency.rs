//! All nodes agree on the app hash (and block hash) at every height.

use comrade_localnet::{faucet_key, funded_account_key, rpc};
use tendermint_rpc::Client as _;

use crate::common::{CHAIN_ID, TestNet, account};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_nodes_agree_on_app_hash_for_20_heights() {
    let mut t = TestNet::start("consistency", 1).await;
    // Some state changes along the way, sent to different nodes.
    let faucet = faucet_key();
    let acc = account(&t.client(0), &faucet.address).await;
    for k in 0..5u64 {
        let to = funded_account_key(800_000 + k).address;
        let tx = rpc::signed_send(
            &faucet.key,
            &to,
            1_000 + u128::from(k),
            CHAIN_ID,
            acc.account_number,
            acc.sequence + k,
        );
        let r = t.client(0).broadcast_tx_sync(tx).await.unwrap();
        assert_eq!(r.code.value(), 0, "{}", r.log);
    }
    let last = 22;
    t.wait_all(last, 90).await;
    let clients: Vec<_> = (0..t.net.len()).map(|i| t.client(i)).collect();
    let mut txs = 0;
    for h in 1..=last {
        let height = tendermint::block::Height::try_from(h).unwrap();
        let mut reference = None;
        for (i, c) in clients.iter().enumerate() {
            let b = c.block(height).await.unwrap();
            let got = (
                b.block.header.app_hash.as_bytes().to_vec(),
                b.block_id.hash,
                b.block.data.len(),
            );
            match &reference {
                None => reference = Some(got),
                Some(r) => assert_eq!(r, &got, "node{i} disagrees with node0 at height {h}"),
            }
        }
        txs += reference.map(|r| r.2).unwrap_or(0);
    }
    // 22 injected txs plus the 5 sends.
    assert!(txs >= last as usize + 5, "only {txs} txs in {last} blocks");
}
