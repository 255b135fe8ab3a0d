//! Queries and ICS23 proofs.

use comrade_app::{client::address_of, query::verify_store_proof};
use comrade_bank::bank::state_key;
use comrade_primitives::proto::{auth::v1 as auth_pb, bank::v1 as bank_pb};
use prost::Message;
use tendermint_proto::v0_38::abci::RequestQuery;

use crate::common::*;

pub(crate) fn q(
    f: &Fixture,
    path: &str,
    data: Vec<u8>,
    prove: bool,
) -> tendermint_proto::v0_38::abci::ResponseQuery {
    f.h.app.query(RequestQuery {
        data: data.into(),
        path: path.into(),
        height: 0,
        prove,
    })
}

#[test]
fn balance_account_params_supply() {
    let mut f = fixture();
    let bob = address_of(&f.bob);
    f.h.block(vec![send(&f.alice, &bob, 5, f.alice_num, 0)])
        .unwrap();
    let r = q(
        &f,
        "/comrade.bank.v1.Query/Balance",
        bank_pb::QueryBalanceRequest {
            address: bob.to_string(),
            denom: String::new(),
        }
        .encode_to_vec(),
        false,
    );
    assert_eq!(r.code, 0, "{}", r.log);
    let b = bank_pb::QueryBalanceResponse::decode(r.value.as_ref()).unwrap();
    assert_eq!(b.amount, (START_BALANCE + 5).to_string());
    assert_eq!(b.denom, "ucomrade");
    assert_eq!(r.height, 1);

    let r = q(
        &f,
        "/comrade.auth.v1.Query/Account",
        auth_pb::QueryAccountRequest {
            address: address_of(&f.alice).to_string(),
        }
        .encode_to_vec(),
        false,
    );
    let acc = auth_pb::QueryAccountResponse::decode(r.value.as_ref())
        .unwrap()
        .account
        .unwrap();
    assert_eq!(acc.sequence, 1);
    assert_eq!(acc.account_number, f.alice_num);

    let r = q(&f, "/comrade.bank.v1.Query/Supply", vec![], false);
    let s = bank_pb::QuerySupplyResponse::decode(r.value.as_ref()).unwrap();
    assert_eq!(
        s.supply[0].amount,
        (2 * START_BALANCE + genesis_stake()).to_string()
    );

    let r = q(&f, "/comrade.app.v1.Query/Params", vec![], false);
    let p =
        comrade_primitives::proto::app::v1::QueryParamsResponse::decode(r.value.as_ref()).unwrap();
    assert_eq!(p.params.unwrap().denom, "ucomrade");

    let r = q(
        &f,
        "/comrade.bank.v1.Query/AllBalances",
        bank_pb::QueryAllBalancesRequest {
            address: bob.to_string(),
        }
        .encode_to_vec(),
        false,
    );
    let all = bank_pb::QueryAllBalancesResponse::decode(r.value.as_ref()).unwrap();
    assert_eq!(all.balances.len(), 1);
}

#[test]
fn bad_queries_get_codes() {
    let f = fixture();
    assert_eq!(
        q(&f, "/nope", vec![], false).code,
        comrade_app::query::code::UNKNOWN_PATH
    );
    assert_eq!(
        q(
            &f,
            "/comrade.bank.v1.Query/Balance",
            vec![0xff, 0xff],
            false
        )
        .code,
        comrade_app::query::code::BAD_REQUEST
    );
    let bad_addr = bank_pb::QueryBalanceRequest {
        address: "cosmos1xyz".into(),
        denom: String::new(),
    };
    assert_eq!(
        q(
            &f,
            "/comrade.bank.v1.Query/Balance",
            bad_addr.encode_to_vec(),
            false
        )
        .code,
        comrade_app::query::code::BAD_REQUEST
    );
    let r = f.h.app.query(RequestQuery {
        data: Default::default(),
        path: "store/app/params".into(),
        height: 77,
        prove: false,
    });
    assert_eq!(r.code, comrade_app::query::code::HEIGHT_UNAVAILABLE);
}

#[test]
fn store_query_proofs_verify_against_the_app_hash() {
    let mut f = fixture();
    let bob = address_of(&f.bob);
    f.h.block(vec![send(&f.alice, &bob, 5, f.alice_num, 0)])
        .unwrap();
    let (_, app_hash) = f.h.info().unwrap();
    let key = state_key::balance(&bob);
    let r = q(&f, &format!("store/{key}"), vec![], true);
    assert_eq!(r.code, 0, "{}", r.log);
    let ops = r.proof_ops.clone().unwrap();
    verify_store_proof(&app_hash, key.as_bytes(), Some(r.value.as_ref()), &ops).unwrap();
    let amount: u128 = bank_pb::Amount::decode(r.value.as_ref()).unwrap().into();
    assert_eq!(amount, START_BALANCE + 5);
    // A different value or another hash does not verify.
    let forged = bank_pb::Amount::from(amount + 1).encode_to_vec();
    assert!(verify_store_proof(&app_hash, key.as_bytes(), Some(&forged), &ops).is_err());
    let mut other_hash = app_hash.clone();
    other_hash[0] ^= 1;
    assert!(verify_store_proof(&other_hash, key.as_bytes(), Some(r.value.as_ref()), &ops).is_err());

    // Non-existence proof for an empty account.
    let nobody = address_of(&comrade_test_utils::account_key(77));
    let key = state_key::balance(&nobody);
    let r = q(&f, &format!("store/{key}"), vec![], true);
    assert!(r.value.is_empty());
    verify_store_proof(&app_hash, key.as_bytes(), None, &r.proof_ops.unwrap()).unwrap();

    // Balance query with prove carries the same proof.
    let r = q(
        &f,
        "/comrade.bank.v1.Query/Balance",
        bank_pb::QueryBalanceRequest {
            address: bob.to_string(),
            denom: String::new(),
        }
        .encode_to_vec(),
        true,
    );
    let stored = bank_pb::Amount::from(START_BALANCE + 5).encode_to_vec();
    verify_store_proof(
        &app_hash,
        state_key::balance(&bob).as_bytes(),
        Some(&stored),
        &r.proof_ops.unwrap(),
    )
    .unwrap();
}
