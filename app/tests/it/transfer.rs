//! A valid transfer and the fee split.

use comrade_app::{
    client::address_of,
    genesis::module_accounts,
    state::{AuthStateReadExt, BankStateReadExt},
};
use comrade_primitives::Address;

use crate::common::*;

#[test]
fn send_moves_funds_and_splits_fees() {
    let mut f = fixture();
    let (alice, bob) = (address_of(&f.alice), address_of(&f.bob));
    let tx = send(&f.alice, &bob, 12_345, f.alice_num, 0);
    let r = f.h.block(vec![tx]).unwrap();
    // tx[0] is the injected extended commit, tx[1] ours.
    assert_eq!(r.tx_results.len(), 2);
    assert_eq!(r.tx_results[1].code, 0, "{}", r.tx_results[1].log);
    assert!(
        r.tx_results[1]
            .events
            .iter()
            .any(|e| e.r#type == "transfer"),
        "transfer event missing"
    );

    let snap = f.h.app.storage().latest_snapshot();
    let bal = |a: Address| f.h.app.block_on(snap.balance(&a)).unwrap();
    assert_eq!(bal(alice), START_BALANCE - 12_345 - FEE);
    assert_eq!(bal(bob), START_BALANCE + 12_345);
    let acc = f.h.app.block_on(snap.account(&alice)).unwrap().unwrap();
    assert_eq!(acc.sequence, 1);
    assert_eq!(acc.pub_key.len(), 33);

    // Fee split: 20% to treasury, 80% by power 10/20/30/40 to operators.
    assert_eq!(bal(Address::module(module_accounts::FEE_COLLECTOR)), 0);
    let treasury = bal(Address::module(module_accounts::TREASURY));
    let vals = validators();
    let paid: Vec<u128> = vals.iter().map(|v| bal(v.operator)).collect();
    let to_validators = FEE - FEE * 2_000 / 10_000;
    assert_eq!(
        paid,
        vec![
            to_validators / 10,
            to_validators * 2 / 10,
            to_validators * 3 / 10,
            to_validators * 4 / 10
        ]
    );
    assert_eq!(treasury + paid.iter().sum::<u128>(), FEE);
    // Supply unchanged.
    assert_eq!(f.h.app.block_on(snap.supply()).unwrap(), 2 * START_BALANCE);
}

#[test]
fn sequential_txs_from_one_sender_in_one_block() {
    let mut f = fixture();
    let bob = address_of(&f.bob);
    let txs: Vec<_> = (0..5)
        .map(|s| send(&f.alice, &bob, 1, f.alice_num, s))
        .collect();
    // All pass CheckTx in order against the mempool state.
    for tx in &txs {
        let r =
            f.h.app
                .check_tx(tendermint_proto::v0_38::abci::RequestCheckTx {
                    tx: tx.clone().into(),
                    r#type: 0,
                })
                .unwrap();
        assert_eq!(r.code, 0, "{}", r.log);
    }
    let r = f.h.block(txs).unwrap();
    assert!(r.tx_results.iter().all(|t| t.code == 0));
    let snap = f.h.app.storage().latest_snapshot();
    let acc =
        f.h.app
            .block_on(snap.account(&address_of(&f.alice)))
            .unwrap()
            .unwrap();
    assert_eq!(acc.sequence, 5);
}

#[test]
fn new_recipient_gets_an_account_number() {
    let mut f = fixture();
    let carol = address_of(&comrade_app::testing::account_key(3));
    f.h.block(vec![send(&f.alice, &carol, 7, f.alice_num, 0)])
        .unwrap();
    let snap = f.h.app.storage().latest_snapshot();
    let acc = f.h.app.block_on(snap.account(&carol)).unwrap().unwrap();
    let alice =
        f.h.app
            .block_on(snap.account(&address_of(&f.alice)))
            .unwrap()
            .unwrap();
    assert_ne!(acc.account_number, alice.account_number);
    assert_eq!(f.h.app.block_on(snap.balance(&carol)).unwrap(), 7);
}
