//! The Cosmos SDK query services (`cosmos.auth.v1beta1`, `cosmos.bank.v1beta1`)
//! answer as the SDK does, from this chain's state.

use comrade_app::{client::address_of, genesis::module_accounts};
use comrade_primitives::{Address, QueryCode};
use cosmrs::proto::cosmos::{
    auth::v1beta1 as auth, bank::v1beta1 as bank, base::query::v1beta1::PageRequest,
    crypto::secp256k1::PubKey,
};
use prost::{Message, Name};

use crate::{common::*, query::q};

#[test]
fn cosmos_account_is_a_base_account_with_its_key_after_the_first_tx() {
    let mut f = fixture();
    let alice = address_of(&f.alice);
    let bob = address_of(&f.bob);
    let account = |f: &Fixture, a: &Address| {
        let r = q(
            f,
            "/cosmos.auth.v1beta1.Query/Account",
            auth::QueryAccountRequest {
                address: a.to_string(),
            }
            .encode_to_vec(),
            false,
        );
        assert_eq!(r.code, 0, "{}", r.log);
        let any = auth::QueryAccountResponse::decode(r.value.as_ref())
            .unwrap()
            .account
            .unwrap();
        assert_eq!(any.type_url, auth::BaseAccount::type_url());
        auth::BaseAccount::decode(any.value.as_slice()).unwrap()
    };
    let before = account(&f, &alice);
    assert_eq!((before.sequence, before.pub_key), (0, None));
    assert_eq!(before.account_number, f.alice_num);
    f.h.block(vec![send(&f.alice, &bob, 5, f.alice_num, 0)])
        .unwrap();
    let after = account(&f, &alice);
    assert_eq!(after.sequence, 1);
    let pk = after.pub_key.unwrap();
    assert_eq!(pk.type_url, "/cosmos.crypto.secp256k1.PubKey");
    assert_eq!(
        PubKey::decode(pk.value.as_slice()).unwrap().key,
        comrade_app::client::public_key_bytes(&f.alice)
    );

    // An unknown account is NotFound in the words cosmjs looks for.
    let nobody = address_of(&comrade_test_utils::account_key(4242));
    let r = q(
        &f,
        "/cosmos.auth.v1beta1.Query/Account",
        auth::QueryAccountRequest {
            address: nobody.to_string(),
        }
        .encode_to_vec(),
        false,
    );
    assert_eq!(r.code, QueryCode::NotFound.value());
    assert!(r.log.contains("rpc error: code = NotFound"), "{}", r.log);
    // A bad address is a bad request.
    let r = q(
        &f,
        "/cosmos.auth.v1beta1.Query/Account",
        auth::QueryAccountRequest {
            address: "cosmos1nope".into(),
        }
        .encode_to_vec(),
        false,
    );
    assert_eq!(r.code, QueryCode::BadRequest.value());
}

#[test]
fn cosmos_accounts_pages_cover_every_account_once_and_module_accounts_are_named() {
    let f = fixture();
    let mut seen = Vec::new();
    let mut key = Vec::new();
    loop {
        let r = q(
            &f,
            "/cosmos.auth.v1beta1.Query/Accounts",
            auth::QueryAccountsRequest {
                pagination: Some(PageRequest {
                    key: key.clone(),
                    limit: 2,
                    count_total: true,
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
            false,
        );
        assert_eq!(r.code, 0, "{}", r.log);
        let resp = auth::QueryAccountsResponse::decode(r.value.as_ref()).unwrap();
        assert!(resp.accounts.len() <= 2);
        seen.extend(resp.accounts.into_iter().map(|a| a.type_url));
        let page = resp.pagination.unwrap();
        // alice, bob, the four operators and the five module accounts.
        assert_eq!(page.total, 11);
        if page.next_key.is_empty() {
            break;
        }
        key = page.next_key;
    }
    assert_eq!(seen.len(), 11);
    let modules = seen
        .iter()
        .filter(|t| **t == auth::ModuleAccount::type_url())
        .count();
    assert_eq!(modules, 5);

    let r = q(
        &f,
        "/cosmos.auth.v1beta1.Query/ModuleAccounts",
        vec![],
        false,
    );
    let resp = auth::QueryModuleAccountsResponse::decode(r.value.as_ref()).unwrap();
    let names: Vec<String> = resp
        .accounts
        .iter()
        .map(|a| {
            auth::ModuleAccount::decode(a.value.as_slice())
                .unwrap()
                .name
        })
        .collect();
    assert_eq!(
        names,
        [
            module_accounts::FEE_COLLECTOR,
            module_accounts::TREASURY,
            module_accounts::FREE_ACCESS_POOL,
            module_accounts::STAKING_POOL,
            module_accounts::REWARD_POOL
        ]
    );
}

#[test]
fn cosmos_bank_balances_supply_and_metadata() {
    let f = fixture();
    let alice = address_of(&f.alice).to_string();
    let balance = |denom: &str| {
        let r = q(
            &f,
            "/cosmos.bank.v1beta1.Query/Balance",
            bank::QueryBalanceRequest {
                address: alice.clone(),
                denom: denom.into(),
            }
            .encode_to_vec(),
            true,
        );
        assert_eq!(r.code, 0, "{}", r.log);
        assert!(r.proof_ops.is_some());
        bank::QueryBalanceResponse::decode(r.value.as_ref())
            .unwrap()
            .balance
            .unwrap()
    };
    assert_eq!(balance("ucomrade").amount, START_BALANCE.to_string());
    // Another denom: zero, as the SDK answers.
    assert_eq!(balance("uatom").amount, "0");

    let r = q(
        &f,
        "/cosmos.bank.v1beta1.Query/AllBalances",
        bank::QueryAllBalancesRequest {
            address: alice.clone(),
            ..Default::default()
        }
        .encode_to_vec(),
        false,
    );
    let all = bank::QueryAllBalancesResponse::decode(r.value.as_ref()).unwrap();
    assert_eq!(all.balances.len(), 1);
    assert_eq!(all.balances[0].denom, "ucomrade");

    let r = q(&f, "/cosmos.bank.v1beta1.Query/TotalSupply", vec![], false);
    let supply = bank::QueryTotalSupplyResponse::decode(r.value.as_ref()).unwrap();
    assert_eq!(
        supply.supply[0].amount,
        (2 * START_BALANCE + genesis_stake()).to_string()
    );

    let r = q(
        &f,
        "/cosmos.bank.v1beta1.Query/DenomsMetadata",
        vec![],
        false,
    );
    let m = bank::QueryDenomsMetadataResponse::decode(r.value.as_ref()).unwrap();
    assert_eq!(m.metadatas[0].base, "ucomrade");
    assert_eq!(m.metadatas[0].denom_units[1].exponent, 6);

    let r = q(
        &f,
        "/cosmos.bank.v1beta1.Query/DenomMetadata",
        bank::QueryDenomMetadataRequest {
            denom: "uatom".into(),
        }
        .encode_to_vec(),
        false,
    );
    assert_eq!(r.code, QueryCode::NotFound.value());
    // Junk request bytes are a bad request.
    let r = q(
        &f,
        "/cosmos.bank.v1beta1.Query/Balance",
        vec![0xff, 0xff],
        false,
    );
    assert_eq!(r.code, QueryCode::BadRequest.value());
}
