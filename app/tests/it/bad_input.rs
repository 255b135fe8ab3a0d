//! Bad input: each case gets its exact code, through CheckTx and through
//! FinalizeBlock, and changes no balance or sequence.

use comrade_app::client::{SignOptions, address_of, msg_send, sign_parts, sign_tx};
use comrade_primitives::{Address, ResultCode};
use cosmrs::Any;
use prost::Message;
use tendermint_proto::v0_38::abci::RequestCheckTx;

use crate::common::*;

struct Snapshot {
    balances: Vec<u128>,
    sequences: Vec<u64>,
}

fn snapshot(f: &Fixture, addrs: &[Address]) -> Snapshot {
    Snapshot {
        balances: addrs.iter().map(|a| balance(&f.h, a)).collect(),
        sequences: addrs.iter().map(|a| sequence(&f.h, a)).collect(),
    }
}

/// Alice sends `amount` `denom` to Bob, signed with `o`.
fn alice_to_bob(f: &Fixture, denom: &str, amount: &str, o: SignOptions<'_>) -> Vec<u8> {
    let from = address_of(&f.alice).to_string();
    let to = address_of(&f.bob).to_string();
    sign_tx(&f.alice, vec![msg_send(&from, &to, denom, amount)], &o)
}

/// Submits `tx` to CheckTx and in a block; asserts `code` both times and that
/// nothing changed.
fn assert_rejected(f: &mut Fixture, tx: Vec<u8>, code: ResultCode) {
    let addrs = [address_of(&f.alice), address_of(&f.bob)];
    let before = snapshot(f, &addrs);
    let r =
        f.h.app
            .check_tx(RequestCheckTx {
                tx: tx.clone().into(),
                r#type: 0,
            })
            .unwrap();
    assert_eq!(r.code, code.value(), "CheckTx: {}", r.log);
    assert!(!r.log.is_empty(), "error must explain itself");

    // Force it into a block (as a byzantine proposer would): FinalizeBlock
    // gives the code and no state change.
    let height = i64::try_from(f.h.app.committed_height()).unwrap() + 1;
    let injected = comrade_app::vote_ext::encode_injected(&f.h.local_last_commit());
    let txs = vec![injected, tx];
    use tendermint_proto::v0_38::abci::response_process_proposal::ProposalStatus;
    assert_eq!(
        f.h.process(txs.clone(), height).unwrap(),
        ProposalStatus::Reject
    );
    f.h.extend_votes(height).unwrap();
    let res = f.h.finalize(txs, height).unwrap();
    f.h.app.commit().unwrap();
    assert_eq!(
        res.tx_results[1].code,
        code.value(),
        "FinalizeBlock: {}",
        res.tx_results[1].log
    );
    let after = snapshot(f, &addrs);
    assert_eq!(before.balances, after.balances, "balances changed");
    assert_eq!(before.sequences, after.sequences, "sequences changed");
}

#[test]
fn junk_bytes() {
    let mut f = fixture();
    assert_rejected(
        &mut f,
        vec![0xde, 0xad, 0xbe, 0xef, 0x01],
        ResultCode::TxMalformed,
    );
}

#[test]
fn oversize_tx() {
    let mut f = fixture();
    let memo = "x".repeat(70 * 1024);
    let tx = alice_to_bob(
        &f,
        "ucomrade",
        "1",
        SignOptions {
            memo: &memo,
            ..opts(f.alice_num, 0)
        },
    );
    assert_rejected(&mut f, tx, ResultCode::TxTooLarge);
}

#[test]
fn bad_signature() {
    let mut f = fixture();
    let bob = address_of(&f.bob);
    let tx = send(&f.alice, &bob, 1, f.alice_num, 0);
    let mut raw = cosmrs::proto::cosmos::tx::v1beta1::TxRaw::decode(tx.as_slice()).unwrap();
    raw.signatures[0][10] ^= 0x01;
    assert_rejected(&mut f, raw.encode_to_vec(), ResultCode::SignatureInvalid);
}

#[test]
fn signature_by_another_key() {
    let mut f = fixture();
    let bob = address_of(&f.bob);
    let good = send(&f.alice, &bob, 1, f.alice_num, 0);
    let raw = cosmrs::proto::cosmos::tx::v1beta1::TxRaw::decode(good.as_slice()).unwrap();
    // Same body and auth info (alice's key), signed by bob.
    let forged = sign_parts(
        &f.bob,
        raw.body_bytes,
        raw.auth_info_bytes,
        CHAIN_ID,
        f.alice_num,
    );
    assert_rejected(&mut f, forged, ResultCode::SignatureInvalid);
}

#[test]
fn wrong_chain_id() {
    let mut f = fixture();
    let tx = alice_to_bob(
        &f,
        "ucomrade",
        "1",
        SignOptions {
            chain_id: "other-chain",
            ..opts(f.alice_num, 0)
        },
    );
    assert_rejected(&mut f, tx, ResultCode::SignatureInvalid);
}

#[test]
fn replayed_sequence() {
    let mut f = fixture();
    let bob = address_of(&f.bob);
    let tx = send(&f.alice, &bob, 1, f.alice_num, 0);
    let r = f.h.block(vec![tx.clone()]).unwrap();
    assert_eq!(r.tx_results[1].code, 0);
    assert_rejected(&mut f, tx, ResultCode::WrongSequence);
}

#[test]
fn insufficient_funds() {
    let mut f = fixture();
    let bob = address_of(&f.bob);
    let tx = send(&f.alice, &bob, START_BALANCE, f.alice_num, 0);
    assert_rejected(&mut f, tx, ResultCode::InsufficientFunds);
}

#[test]
fn fee_below_minimum() {
    let mut f = fixture();
    let tx = alice_to_bob(
        &f,
        "ucomrade",
        "1",
        SignOptions {
            fee: ("1000", "ucomrade"),
            ..opts(f.alice_num, 0)
        },
    );
    assert!(1000 < min_fee(tx.len()));
    assert_rejected(&mut f, tx, ResultCode::FeeTooLow);
}

#[test]
fn amount_overflow() {
    let mut f = fixture();
    let bob = address_of(&f.bob).to_string();
    let from = address_of(&f.alice).to_string();
    let huge = "340282366920938463463374607431768211456"; // 2^128
    let tx = sign_tx(
        &f.alice,
        vec![msg_send(&from, &bob, "ucomrade", huge)],
        &opts(f.alice_num, 0),
    );
    assert_rejected(&mut f, tx, ResultCode::AmountOverflow);
}

#[test]
fn unknown_denom() {
    let mut f = fixture();
    let tx = alice_to_bob(&f, "uatom", "1", opts(f.alice_num, 0));
    assert_rejected(&mut f, tx, ResultCode::UnknownDenom);
}

#[test]
fn unknown_message_type() {
    let mut f = fixture();
    let msg = Any {
        type_url: "/cosmos.staking.v1beta1.MsgDelegate".into(),
        value: vec![],
    };
    let tx = sign_tx(&f.alice, vec![msg], &opts(f.alice_num, 0));
    assert_rejected(&mut f, tx, ResultCode::UnknownMessageType);
}

#[test]
fn unfunded_account() {
    let mut f = fixture();
    let stranger = comrade_test_utils::account_key(99);
    let bob = address_of(&f.bob);
    let tx = send(&stranger, &bob, 1, 0, 0);
    assert_rejected(&mut f, tx, ResultCode::AccountNotFound);
}

#[test]
fn sender_is_not_signer() {
    let mut f = fixture();
    let bob = address_of(&f.bob).to_string();
    let tx = sign_tx(
        &f.alice,
        vec![msg_send(&bob, &bob, "ucomrade", "1")],
        &opts(f.alice_num, 0),
    );
    assert_rejected(&mut f, tx, ResultCode::InvalidSigner);
}

#[test]
fn injected_tx_cannot_be_submitted() {
    let f = fixture();
    let tx = comrade_app::vote_ext::encode_injected(&Default::default());
    let r =
        f.h.app
            .check_tx(RequestCheckTx {
                tx: tx.into(),
                r#type: 0,
            })
            .unwrap();
    assert_eq!(r.code, ResultCode::InjectedTxInvalid.value());
}
