//! Proptest round trips for every wire type: encode → decode gives the same
//! message, and re-encoding gives the same bytes (canonical encoding, which
//! the app relies on to reject malleable txs and extensions).
#![allow(clippy::unwrap_used)] // test code

use comrade_primitives::proto::{app::v1 as app, auth::v1 as auth, bank::v1 as bank};
use proptest::prelude::*;
use prost::Message;

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) {
    let bytes = m.encode_to_vec();
    let back = M::decode(bytes.as_slice()).unwrap();
    assert_eq!(&back, m);
    assert_eq!(back.encode_to_vec(), bytes);
}

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9/._-]{0,40}"
}

proptest! {
    #[test]
    fn vote_extension(version in any::<u32>(), height in any::<i64>(), v in 0usize..5, b in 0usize..5) {
        round_trip(&app::VoteExtension {
            version,
            height,
            poc_verdicts: vec![app::PocVerdict {}; v],
            bridge_signatures: vec![app::BridgeSignature {}; b],
        });
    }

    #[test]
    fn params(denom in text(), decimals in any::<u32>(), base in text(), per in text(),
              max_tx in any::<u64>(), memo in any::<u64>(), bps in any::<u32>()) {
        let p = app::Params {
            denom, decimals, min_fee_base: base, min_fee_per_byte: per,
            max_tx_bytes: max_tx, max_memo_bytes: memo, treasury_fee_bps: bps,
        };
        round_trip(&p);
        round_trip(&app::QueryParamsResponse { params: Some(p) });
    }

    #[test]
    fn validator_and_state_version(name in text(), key in proptest::collection::vec(any::<u8>(), 0..40),
                                   power in any::<i64>(), op in text(), version in any::<u32>()) {
        let v = app::Validator { name: name.clone(), pub_key: key, power, operator: op };
        round_trip(&v);
        round_trip(&app::QueryValidatorsResponse { validators: vec![v.clone(), v] });
        round_trip(&app::StateVersion { version, chain_id: name });
    }

    #[test]
    fn account(address in text(), number in any::<u64>(), seq in any::<u64>(),
               key in proptest::collection::vec(any::<u8>(), 0..40)) {
        let a = auth::Account { address: address.clone(), account_number: number, sequence: seq, pub_key: key };
        round_trip(&a);
        round_trip(&auth::QueryAccountRequest { address });
        round_trip(&auth::QueryAccountResponse { account: Some(a) });
    }

    #[test]
    fn bank(address in text(), denom in text(), amount in text(), lo in any::<u64>(), hi in any::<u64>()) {
        round_trip(&bank::Amount { lo, hi });
        round_trip(&bank::QueryBalanceRequest { address: address.clone(), denom: denom.clone() });
        round_trip(&bank::QueryBalanceResponse { denom: denom.clone(), amount: amount.clone() });
        round_trip(&bank::QueryAllBalancesRequest { address });
        let coin = bank::Coin { denom, amount };
        round_trip(&bank::QueryAllBalancesResponse { balances: vec![coin.clone()] });
        round_trip(&bank::QuerySupplyResponse { supply: vec![coin] });
        round_trip(&bank::QuerySupplyRequest {});
    }
}
