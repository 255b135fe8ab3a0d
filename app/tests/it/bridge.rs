//! The bridge through the whole tx pipeline: a relayer's `MsgRedeemDeposit`
//! credits the recipient, the supply stays equal to the locked total, a
//! replay (even with another signature subset) is refused with its code.

use comrade_app::client::address_of;
use comrade_bridge::{
    MsgRedeemDeposit, devnet,
    genesis::{dev_lockbox_emitter, dev_mint},
    payload::{Deposit, app_chain_id},
    vaa::{Body, Vaa},
};
use comrade_primitives::{component::ActionHandler as _, proto::bridge::v1 as pb};
use comrade_test_utils::account_key;
use prost::Message as _;

use crate::{chain::net, common::*};

fn deposit_vaa(amount: u64, to: [u8; 20], seq: u64, chain: &str) -> Vaa {
    let p = Deposit {
        mint: dev_mint(),
        amount,
        decimals: 6,
        sender: [0x5a; 32],
        recipient: to,
        app_chain_id: app_chain_id(chain),
    }
    .to_bytes();
    let body = Body {
        timestamp: 1,
        nonce: 0,
        emitter_chain: 1,
        emitter_address: dev_lockbox_emitter(),
        sequence: seq,
        consistency_level: 32,
        payload: &p,
    }
    .to_bytes();
    Vaa::sign(0, body, &[(0, &devnet::signing_key(0).unwrap())]).unwrap()
}

fn supply(f: &crate::chain::Net) -> (u128, u128) {
    let r = f.h.app.query(tendermint_proto::v0_38::abci::RequestQuery {
        data: pb::QuerySupplyRequest {}.encode_to_vec().into(),
        path: "/comrade.bridge.v1.Query/Supply".into(),
        height: 0,
        prove: false,
    });
    assert_eq!(r.code, 0, "{}", r.log);
    let s = pb::QuerySupplyResponse::decode(r.value.as_ref()).unwrap();
    (s.locked.parse().unwrap(), s.supply.parse().unwrap())
}

#[test]
fn a_relayed_deposit_is_credited_once_through_the_tx_pipeline() {
    let mut n = net(|_| {});
    let relayer = n.carol.clone();
    let dave = address_of(&account_key(4242));
    let (locked0, supply0) = supply(&n);
    assert_eq!(locked0, supply0, "genesis supply is pre-locked");

    let vaa = deposit_vaa(7_000_000, dave.0, 1, CHAIN_ID);
    let msg = |v: &Vaa| pb::MsgRedeemDeposit {
        signer: address_of(&relayer).to_string(),
        vaa: v.serialize(),
    };
    let tx = n.tx(&relayer, MsgRedeemDeposit::TYPE_URL, &msg(&vaa));
    let r = n.block(vec![(relayer.clone(), tx)]);
    assert!(
        r.tx_results[1]
            .events
            .iter()
            .any(|e| e.r#type == "comrade.bridge.v1.EventDepositRedeemed"),
        "{:?}",
        r.tx_results[1].events
    );
    let bal = balance(&n.h, &dave);
    assert_eq!(bal, 7_000_000);
    let (locked, supply1) = supply(&n);
    assert_eq!(locked, locked0 + 7_000_000);
    assert_eq!(supply1, locked);

    // The deposit is recorded under its emitter triple.
    let r = n.h.app.query(tendermint_proto::v0_38::abci::RequestQuery {
        data: pb::QueryDepositRequest {
            emitter_chain: 1,
            emitter_address: dev_lockbox_emitter().to_vec(),
            sequence: 1,
        }
        .encode_to_vec()
        .into(),
        path: "/comrade.bridge.v1.Query/Deposit".into(),
        height: 0,
        prove: true,
    });
    assert_eq!(r.code, 0, "{}", r.log);
    assert!(r.proof_ops.is_some(), "deposit records are proved");
    let d = pb::QueryDepositResponse::decode(r.value.as_ref()).unwrap();
    assert_eq!(d.redemption.unwrap().recipient, dave.to_string());

    // Replays and a deposit for another chain are refused in CheckTx.
    let again = n.tx(&relayer, MsgRedeemDeposit::TYPE_URL, &msg(&vaa));
    let (code, log) = n.check(again);
    assert_eq!(code, 216, "{log}");
    let other = deposit_vaa(5, dave.0, 2, "comrade-other-1");
    let t = n.tx(&relayer, MsgRedeemDeposit::TYPE_URL, &msg(&other));
    let (code, log) = n.check(t);
    assert_eq!(code, 215, "{log}");
    let mut forged = deposit_vaa(5, dave.0, 3, CHAIN_ID);
    forged.signatures[0].rs[40] ^= 1;
    let t = n.tx(&relayer, MsgRedeemDeposit::TYPE_URL, &msg(&forged));
    let (code, log) = n.check(t);
    assert_eq!(code, 208, "{log}");
    let mut junk = msg(&vaa);
    junk.vaa.truncate(60);
    let t = n.tx(&relayer, MsgRedeemDeposit::TYPE_URL, &junk);
    let (code, log) = n.check(t);
    assert_eq!(code, 201, "{log}");
    assert_eq!(balance(&n.h, &dave), 7_000_000);
}
