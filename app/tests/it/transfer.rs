//! A valid transfer and the fee split.

use comrade_app::{client::address_of, genesis::module_accounts};
use comrade_bank::{auth::AuthRead as _, bank::BankRead as _};
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
    assert_eq!(
        f.h.app.block_on(snap.supply()).unwrap(),
        2 * START_BALANCE + genesis_stake()
    );
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
    let carol = address_of(&comrade_test_utils::account_key(3));
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

/// Large blocks verify signatures in parallel before executing; the outcome
/// must be exactly that of inline checks: forged signatures still fail, and a
/// tx from an account created earlier in the same block still verifies.
#[test]
fn large_block_with_parallel_signature_checks() {
    use comrade_test_utils::{MockConsensus, account_key, genesis};
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<_> = (100..200).map(account_key).collect();
    let balances: Vec<_> = keys
        .iter()
        .map(|k| (address_of(k), 10_000_000u128))
        .collect();
    let h = MockConsensus::new(
        &dir.path().join("db"),
        CHAIN_ID,
        &genesis(&balances, &validators()),
        validators(),
    )
    .unwrap();
    let newcomer = account_key(500);
    let mut txs: Vec<Vec<u8>> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let to = if i == 0 {
                address_of(&newcomer)
            } else {
                address_of(&keys[(i + 1) % keys.len()])
            };
            send(k, &to, 1_000_000, account_number(&h, &address_of(k)), 0)
        })
        .collect();
    // Tx 50 carries a forged signature.
    let mut raw =
        <cosmrs::proto::cosmos::tx::v1beta1::TxRaw as prost::Message>::decode(txs[50].as_slice())
            .unwrap();
    raw.signatures[0][5] ^= 0x40;
    txs[50] = prost::Message::encode_to_vec(&raw);
    // The newcomer, funded by tx 0, spends in the same block. Its account
    // number is the next one to be assigned.
    // 100 accounts + 4 validator operators + 5 module accounts
    let next_number = keys.len() as u64 + 9;
    txs.push(send(&newcomer, &address_of(&keys[1]), 10, next_number, 0));

    let mut block = vec![comrade_app::vote_ext::encode_injected(
        &h.local_last_commit(),
    )];
    block.extend(txs);
    let res = h.finalize(block, 1).unwrap();
    h.app.commit().unwrap();
    let codes: Vec<u32> = res.tx_results.iter().skip(1).map(|r| r.code).collect();
    assert_eq!(codes.len(), 101);
    for (i, c) in codes.iter().enumerate() {
        let expected = if i == 50 {
            comrade_primitives::ResultCode::SignatureInvalid.value()
        } else {
            0
        };
        assert_eq!(*c, expected, "tx {i}: {}", res.tx_results[i + 1].log);
    }
    assert_eq!(account_number(&h, &address_of(&newcomer)), next_number);
    assert_eq!(sequence(&h, &address_of(&newcomer)), 1);
}

/// A MsgSend's result carries the events the Cosmos SDK emits, in its order,
/// so indexers, explorers and cosmjs' `searchTx` find it.
#[test]
fn send_emits_the_sdk_events() {
    let mut f = fixture();
    let (alice, bob) = (address_of(&f.alice), address_of(&f.bob));
    let r =
        f.h.block(vec![send(&f.alice, &bob, 7, f.alice_num, 0)])
            .unwrap();
    let events = &r.tx_results[1].events;
    let kinds: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
    assert_eq!(
        kinds,
        [
            // the fee
            "coin_spent",
            "coin_received",
            "transfer",
            // fee, payer, sequence, signature
            "tx",
            // the message
            "message",
            "coin_spent",
            "coin_received",
            "transfer",
        ]
    );
    let attr = |i: usize, key: &str| {
        let a = events[i]
            .attributes
            .iter()
            .find(|a| a.key == key)
            .unwrap_or_else(|| panic!("event {i} has no {key}"));
        (a.value.clone(), a.index)
    };
    assert_eq!(attr(3, "fee"), (format!("{FEE}ucomrade"), false));
    assert_eq!(attr(3, "fee_payer"), (alice.to_string(), false));
    assert_eq!(attr(3, "acc_seq"), (format!("{alice}/0"), true));
    assert!(!attr(3, "signature").0.is_empty());
    let action = "/cosmos.bank.v1beta1.MsgSend";
    assert_eq!(attr(4, "action"), (action.to_string(), true));
    assert_eq!(attr(4, "sender"), (alice.to_string(), true));
    assert_eq!(attr(4, "module"), ("bank".into(), false));
    assert_eq!(attr(7, "recipient"), (bob.to_string(), true));
    assert_eq!(attr(7, "amount"), ("7ucomrade".into(), false));
    assert_eq!(attr(5, "spender"), (alice.to_string(), false));
    assert_eq!(attr(6, "receiver"), (bob.to_string(), false));
}

/// A restarted node answers CheckTx before its first block (its mempool
/// view is rebuilt from the committed state at open, params included).
#[test]
fn check_tx_right_after_a_restart_is_answered() {
    let mut f = fixture();
    let bob = address_of(&f.bob);
    f.h.block(vec![send(&f.alice, &bob, 1, f.alice_num, 0)])
        .unwrap();
    let Fixture {
        h,
        alice,
        alice_num,
        _dir,
        ..
    } = f;
    let h = h.restart().unwrap();
    let r = h
        .app
        .check_tx(tendermint_proto::v0_38::abci::RequestCheckTx {
            tx: send(&alice, &bob, 2, alice_num, 1).into(),
            r#type: 0,
        })
        .unwrap();
    assert_eq!(r.code, 0, "{}", r.log);
}
