//! The bridge's view of the bank capability: what this crate needs to mint
//! for deposits and burn for withdrawals works from here, without `app`, on
//! a temporary store.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod module;
mod vaa;

use cnidarium::{StateDelta, TempStorage};
use comrade_bank::{
    BankRead as _, BankWrite as _,
    auth::AuthRead as _,
    bank::{BankParams, state::load_params},
};
use comrade_primitives::{Address, ExecError, ResultCode};

#[tokio::test]
async fn bridge_mints_transfers_and_burns_through_the_bank_capability() {
    let storage = TempStorage::new().await.unwrap();
    let mut state = StateDelta::new(storage.latest_snapshot());
    load_params(&mut state, BankParams::new("ucomrade", 6).unwrap());
    let depositor = Address([7; 20]);
    let friend = Address([8; 20]);

    // A verified deposit mints; the recipient's account is created.
    state.mint(&depositor, 5_000).await.unwrap();
    assert!(state.account(&depositor).await.unwrap().is_some());
    state.transfer(&depositor, &friend, 1_500).await.unwrap();
    // A withdrawal burns.
    state.burn(&friend, 500).await.unwrap();

    assert_eq!(state.balance(&depositor).await.unwrap(), 3_500);
    assert_eq!(state.balance(&friend).await.unwrap(), 1_000);
    assert_eq!(state.supply().await.unwrap(), 4_500);

    // Burning more than is held fails with a code and changes nothing
    // (callers run on a fork; the failed call itself wrote nothing).
    let mut fork = StateDelta::new(&mut state);
    let e = fork.burn(&friend, 1_001).await.unwrap_err();
    assert!(matches!(e, ExecError::Tx(t) if t.code == ResultCode::InsufficientFunds));
    drop(fork);
    assert_eq!(state.supply().await.unwrap(), 4_500);

    // Committed, the state keeps the invariant.
    storage.commit(state).await.unwrap();
    let snap = storage.latest_snapshot();
    assert_eq!(snap.supply().await.unwrap(), 4_500);
}
