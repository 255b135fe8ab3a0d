//! Shared fixtures.

use comrade_app::{
    client::{SignOptions, address_of, msg_send, sign_tx},
    params::Params,
};
use comrade_primitives::Address;
use comrade_test_utils::{MockConsensus, TestValidator, account_key, genesis};
use k256::ecdsa::SigningKey;

pub(crate) const CHAIN_ID: &str = "comrade-test-1";
pub(crate) const START_BALANCE: u128 = 1_000_000_000;

pub(crate) struct Fixture {
    pub h: MockConsensus,
    pub alice: SigningKey,
    pub bob: SigningKey,
    /// Alice's account number (genesis numbers follow address order).
    pub alice_num: u64,
    pub _dir: tempfile::TempDir,
}

pub(crate) fn validators() -> Vec<TestValidator> {
    vec![
        TestValidator::new(0, 10),
        TestValidator::new(1, 20),
        TestValidator::new(2, 30),
        TestValidator::new(3, 40),
    ]
}

/// The stake the genesis validators bond from their operators' genesis
/// balances (`power × power_reduction`), part of the supply.
pub(crate) fn genesis_stake() -> u128 {
    let reduction = comrade_consensus::staking::StakingParams::default().power_reduction;
    validators()
        .iter()
        .map(|v| v.power as u128 * reduction)
        .sum()
}

/// A chain at `dir` whose genesis gives each of `keys` 10,000,000 `ucomrade`.
pub(crate) fn funded_chain(dir: &std::path::Path, keys: &[SigningKey]) -> MockConsensus {
    let balances: Vec<_> = keys.iter().map(|k| (address_of(k), 10_000_000)).collect();
    MockConsensus::new(
        dir,
        CHAIN_ID,
        &genesis(&balances, &validators()),
        validators(),
    )
    .unwrap()
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let alice = account_key(1);
    let bob = account_key(2);
    let state = genesis(
        &[
            (address_of(&alice), START_BALANCE),
            (address_of(&bob), START_BALANCE),
        ],
        &validators(),
    );
    let h = MockConsensus::new(&dir.path().join("db"), CHAIN_ID, &state, validators()).unwrap();
    let alice_num = account_number(&h, &address_of(&alice));
    Fixture {
        h,
        alice,
        bob,
        alice_num,
        _dir: dir,
    }
}

/// A fee comfortably above the minimum.
pub(crate) const FEE: u128 = 50_000;

pub(crate) fn opts(account_number: u64, sequence: u64) -> SignOptions<'static> {
    SignOptions {
        chain_id: CHAIN_ID,
        account_number,
        sequence,
        fee: ("50000", "ucomrade"),
        memo: "",
        timeout_height: 0,
    }
}

pub(crate) fn send(
    from: &SigningKey,
    to: &Address,
    amount: u128,
    account_number: u64,
    seq: u64,
) -> Vec<u8> {
    let from_addr = address_of(from).to_string();
    sign_tx(
        from,
        vec![msg_send(
            &from_addr,
            &to.to_string(),
            "ucomrade",
            &amount.to_string(),
        )],
        &opts(account_number, seq),
    )
}

pub(crate) fn min_fee(size: usize) -> u128 {
    Params::default().min_fee(size)
}

pub(crate) fn account_number(h: &MockConsensus, a: &Address) -> u64 {
    h.account_number(a).unwrap()
}

pub(crate) fn sequence(h: &MockConsensus, a: &Address) -> u64 {
    use comrade_bank::auth::AuthRead as _;
    let snap = h.app.storage().latest_snapshot();
    h.app
        .block_on(snap.account(a))
        .unwrap()
        .map(|a| a.sequence)
        .unwrap_or(0)
}

pub(crate) fn balance(h: &MockConsensus, a: &Address) -> u128 {
    use comrade_bank::bank::BankRead as _;
    let snap = h.app.storage().latest_snapshot();
    h.app.block_on(snap.balance(a)).unwrap()
}
