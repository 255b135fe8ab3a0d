//! The bridge module on a temporary store: deposits are credited once,
//! every bad VAA is refused with its code and changes nothing, guardian set
//! upgrades expire the old set after 24 h, and the supply invariant holds.

use cnidarium::{StateDelta, StateWrite, TempStorage};
use comrade_bank::{
    BankRead as _, BankWrite as _,
    bank::{BankParams, state::load_params},
};
use comrade_bridge::{
    Bridge, BridgeGenesisFile, BridgeRead as _, MsgRedeemDeposit, MsgSubmitGovernanceVaa, devnet,
    genesis::{GuardianSetFile, dev_lockbox_emitter, dev_mint},
    payload::{Deposit, GuardianSetUpgrade, app_chain_id, governance_emitter},
    vaa::{Body, Vaa},
};
use comrade_primitives::{
    Address, ExecError,
    component::{ActionHandler, BlockContext, BlockTime, Component},
    proto::bridge::v1 as pb,
};
use prost::Message as _;

use crate::vaa::signed;

const CHAIN: &str = "comrade-test-1";
const T0: i64 = 1_800_000_000;

fn ctx(height: u64, time: i64) -> BlockContext {
    let mut c = BlockContext::mempool(CHAIN, height);
    c.time = Some(BlockTime {
        seconds: time,
        nanos: 0,
    });
    c
}

fn code(e: ExecError) -> u32 {
    match e {
        ExecError::Tx(t) => t.code.0,
        other => panic!("not a tx error: {other:?}"),
    }
}

/// Genesis: devnet set 0 of 19 guardians (quorum 13), 1000 pre-locked.
async fn setup() -> (TempStorage, StateDelta<cnidarium::Snapshot>) {
    let storage = TempStorage::new().await.unwrap();
    let mut state = StateDelta::new(storage.latest_snapshot());
    load_params(&mut state, BankParams::new("ucomrade", 6).unwrap());
    state.mint(&Address([1; 20]), 1000).await.unwrap();
    let mut file = BridgeGenesisFile::devnet(1000);
    file.guardian_set = GuardianSetFile {
        index: 0,
        keys: devnet::set(19)
            .iter()
            .map(|a| format!("0x{}", hex::encode(a)))
            .collect(),
    };
    let g = file.validate(6).unwrap();
    Bridge::init_chain(&mut state, &g).await.unwrap();
    Bridge::end_block(&mut state, &ctx(1, T0)).await.unwrap();
    (storage, state)
}

fn deposit(amount: u64, to: [u8; 20]) -> Deposit {
    Deposit {
        mint: dev_mint(),
        amount,
        decimals: 6,
        sender: [9; 32],
        recipient: to,
        app_chain_id: app_chain_id(CHAIN),
    }
}

fn body_of(d: &Deposit, seq: u64, tweak: impl FnOnce(&mut Body<'_>)) -> Vec<u8> {
    let p = d.to_bytes();
    let mut b = Body {
        timestamp: 1,
        nonce: 2,
        emitter_chain: 1,
        emitter_address: dev_lockbox_emitter(),
        sequence: seq,
        consistency_level: 32,
        payload: &p,
    };
    tweak(&mut b);
    b.to_bytes()
}

fn quorum13() -> Vec<usize> {
    (0..13).collect()
}

fn redeem_msg(vaa: &Vaa) -> Result<MsgRedeemDeposit, u32> {
    MsgRedeemDeposit::decode(
        &pb::MsgRedeemDeposit {
            signer: Address([5; 20]).to_string(),
            vaa: vaa.serialize(),
        }
        .encode_to_vec(),
    )
    .map_err(|e| e.code.0)
}

/// Runs `msg` on a fork; applies it only on success (as the tx pipeline
/// does) and returns the code of a failure.
async fn run<S: StateWrite, M: ActionHandler>(
    state: &mut S,
    msg: &M,
    c: &BlockContext,
) -> Result<(), u32> {
    let mut fork = StateDelta::new(&mut *state);
    match msg.check_and_execute(&mut fork, c).await {
        Ok(()) => {
            fork.apply();
            Ok(())
        }
        Err(e) => Err(code(e)),
    }
}

#[tokio::test]
async fn a_deposit_is_credited_once_and_the_supply_stays_locked() {
    let (_s, mut state) = setup().await;
    let alice = [0xa1; 20];
    let d = deposit(250, alice);
    let vaa = signed(0, body_of(&d, 1, |_| {}), &quorum13());
    let msg = redeem_msg(&vaa).unwrap();
    run(&mut state, &msg, &ctx(2, T0)).await.unwrap();
    assert_eq!(state.balance(&Address(alice)).await.unwrap(), 250);
    assert_eq!(state.locked().await.unwrap(), 1250);
    assert_eq!(state.supply().await.unwrap(), 1250);
    Bridge::end_block(&mut state, &ctx(2, T0)).await.unwrap();
    let r = state
        .redemption(1, &dev_lockbox_emitter(), 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((r.height, r.amount.as_str()), (2, "250"));

    // The same VAA again, and the same body with another signature subset.
    assert_eq!(run(&mut state, &msg, &ctx(3, T0)).await, Err(216));
    let other = signed(0, vaa.body.clone(), &(6..19).collect::<Vec<_>>());
    assert_ne!(other.serialize(), vaa.serialize());
    assert_eq!(
        run(&mut state, &redeem_msg(&other).unwrap(), &ctx(3, T0)).await,
        Err(216)
    );
    assert_eq!(state.balance(&Address(alice)).await.unwrap(), 250);
    assert_eq!(state.locked().await.unwrap(), 1250);
}

#[tokio::test]
async fn bad_deposits_are_refused_with_their_codes_and_change_nothing() {
    let (_s, mut state) = setup().await;
    let bob = [0xb0; 20];
    let c = ctx(2, T0);
    let d = deposit(100, bob);
    let cases: Vec<(&str, Vaa, u32)> = vec![
        (
            "quorum - 1",
            signed(0, body_of(&d, 10, |_| {}), &(0..12).collect::<Vec<_>>()),
            205,
        ),
        (
            "unknown set",
            signed(1, body_of(&d, 11, |_| {}), &quorum13()),
            203,
        ),
        (
            "wrong emitter chain",
            signed(0, body_of(&d, 12, |b| b.emitter_chain = 2), &quorum13()),
            210,
        ),
        (
            "wrong emitter",
            signed(
                0,
                body_of(&d, 13, |b| b.emitter_address = [7; 32]),
                &quorum13(),
            ),
            210,
        ),
        (
            "confirmed only",
            signed(0, body_of(&d, 14, |b| b.consistency_level = 1), &quorum13()),
            211,
        ),
        (
            "wrong mint",
            signed(
                0,
                body_of(
                    &Deposit {
                        mint: [8; 32],
                        ..d.clone()
                    },
                    15,
                    |_| {},
                ),
                &quorum13(),
            ),
            213,
        ),
        (
            "wrong decimals",
            signed(
                0,
                body_of(
                    &Deposit {
                        decimals: 9,
                        ..d.clone()
                    },
                    16,
                    |_| {},
                ),
                &quorum13(),
            ),
            214,
        ),
        (
            "other app-chain",
            signed(
                0,
                body_of(
                    &Deposit {
                        app_chain_id: app_chain_id("comrade-other"),
                        ..d.clone()
                    },
                    17,
                    |_| {},
                ),
                &quorum13(),
            ),
            215,
        ),
    ];
    for (what, vaa, want) in cases {
        let msg = redeem_msg(&vaa).unwrap();
        assert_eq!(run(&mut state, &msg, &c).await, Err(want), "{what}");
    }
    // A forged signature (guardian 4's slot signed by 17).
    let mut v = signed(0, body_of(&d, 18, |_| {}), &quorum13());
    v.signatures[4] = signed(0, v.body.clone(), &[17]).signatures[0].clone();
    v.signatures[4].guardian_index = 4;
    assert_eq!(
        run(&mut state, &redeem_msg(&v).unwrap(), &c).await,
        Err(208)
    );
    // Decode-time rejections: truncated VAA, trailing payload byte.
    let good = signed(0, body_of(&d, 19, |_| {}), &quorum13()).serialize();
    let truncated = pb::MsgRedeemDeposit {
        signer: Address([5; 20]).to_string(),
        vaa: good[..good.len() - 140].to_vec(),
    };
    assert_eq!(
        MsgRedeemDeposit::decode(&truncated.encode_to_vec())
            .unwrap_err()
            .code
            .0,
        201
    );
    let mut p = d.to_bytes();
    p.push(0);
    let mut b = body_of(&d, 20, |_| {});
    b.truncate(51);
    b.extend_from_slice(&p);
    assert_eq!(redeem_msg(&signed(0, b, &quorum13())).unwrap_err(), 212);

    assert_eq!(state.balance(&Address(bob)).await.unwrap(), 0);
    assert_eq!(state.locked().await.unwrap(), 1000);
    assert_eq!(state.supply().await.unwrap(), 1000);
    // The good one still goes through after all that.
    let ok = signed(0, body_of(&d, 19, |_| {}), &quorum13());
    run(&mut state, &redeem_msg(&ok).unwrap(), &c)
        .await
        .unwrap();
    assert_eq!(state.balance(&Address(bob)).await.unwrap(), 100);
}

#[tokio::test]
async fn amounts_overflowing_the_supply_are_refused() {
    let (_s, state) = setup().await;
    // A genesis whose supply (and locked total) is 10 below u128::MAX.
    let big = u128::MAX - 10;
    let mut file = BridgeGenesisFile::devnet(big);
    file.guardian_set.keys = devnet::set(19)
        .iter()
        .map(|a| format!("0x{}", hex::encode(a)))
        .collect();
    let storage = TempStorage::new().await.unwrap();
    let mut s2 = StateDelta::new(storage.latest_snapshot());
    load_params(&mut s2, BankParams::new("ucomrade", 6).unwrap());
    s2.mint(&Address([1; 20]), big).await.unwrap();
    Bridge::init_chain(&mut s2, &file.validate(6).unwrap())
        .await
        .unwrap();
    let vaa = signed(0, body_of(&deposit(11, [2; 20]), 1, |_| {}), &quorum13());
    assert_eq!(
        run(&mut s2, &redeem_msg(&vaa).unwrap(), &ctx(2, T0)).await,
        Err(217)
    );
    assert_eq!(s2.locked().await.unwrap(), big);
    drop(state);
}

fn upgrade_vaa(set: u32, new_index: u32, keys: Vec<[u8; 20]>, signers: &[usize], seq: u64) -> Vaa {
    let p = GuardianSetUpgrade {
        chain: 0,
        new_index,
        keys,
    }
    .to_bytes();
    let b = Body {
        timestamp: 1,
        nonce: 0,
        emitter_chain: 1,
        emitter_address: governance_emitter(),
        sequence: seq,
        consistency_level: 32,
        payload: &p,
    }
    .to_bytes();
    signed(set, b, signers)
}

fn gov_msg(v: &Vaa) -> MsgSubmitGovernanceVaa {
    MsgSubmitGovernanceVaa::decode(
        &pb::MsgSubmitGovernanceVaa {
            signer: Address([5; 20]).to_string(),
            vaa: v.serialize(),
        }
        .encode_to_vec(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_guardian_set_upgrade_expires_the_old_set_24_hours_later() {
    let (_s, mut state) = setup().await;
    // Set 1: the last 7 devnet guardians (quorum 5).
    let new_keys: Vec<[u8; 20]> = (12..19).map(|i| devnet::address(i).unwrap()).collect();
    let up = upgrade_vaa(0, 1, new_keys.clone(), &quorum13(), 1);

    // Wrong next index, a non-governance emitter, a bad signature set.
    assert_eq!(
        run(
            &mut state,
            &gov_msg(&upgrade_vaa(0, 2, new_keys.clone(), &quorum13(), 2)),
            &ctx(2, T0)
        )
        .await,
        Err(220)
    );
    let mut wrong = upgrade_vaa(0, 1, new_keys.clone(), &quorum13(), 3);
    wrong.body[41] = 5; // emitter address …05
    let wrong = signed(0, wrong.body.clone(), &quorum13());
    assert_eq!(
        run(&mut state, &gov_msg(&wrong), &ctx(2, T0)).await,
        Err(210)
    );
    assert_eq!(
        run(
            &mut state,
            &gov_msg(&upgrade_vaa(
                0,
                1,
                new_keys.clone(),
                &(0..12).collect::<Vec<_>>(),
                4
            )),
            &ctx(2, T0)
        )
        .await,
        Err(205)
    );
    assert_eq!(state.current_guardian_set_index().await.unwrap(), 0);

    run(&mut state, &gov_msg(&up), &ctx(2, T0)).await.unwrap();
    assert_eq!(state.current_guardian_set_index().await.unwrap(), 1);
    let old = state.guardian_set(0).await.unwrap().unwrap();
    assert_eq!(old.expiration_time, T0 + 86_400);
    // Replayed, or from the now non-current set.
    assert_eq!(run(&mut state, &gov_msg(&up), &ctx(3, T0)).await, Err(218));
    let replay_body = signed(1, up.body.clone(), &(12..19).collect::<Vec<_>>());
    assert_eq!(
        run(&mut state, &gov_msg(&replay_body), &ctx(3, T0)).await,
        Err(221)
    );

    // Deposits signed by set 0 pass until the expiry, then fail with 204;
    // set 1 signs (its indices are 0..7 of the new set).
    let d = deposit(10, [0xc0; 20]);
    let old_signed = signed(0, body_of(&d, 100, |_| {}), &quorum13());
    let m = redeem_msg(&old_signed).unwrap();
    let mut fork = StateDelta::new(&mut state);
    assert_eq!(run(&mut fork, &m, &ctx(4, T0 + 86_399)).await, Ok(()));
    drop(fork);
    assert_eq!(run(&mut state, &m, &ctx(4, T0 + 86_400)).await, Err(204));
    // The new set's signers are at indices 0..7 of set 1.
    let ks: Vec<_> = (12..19).map(|i| devnet::signing_key(i).unwrap()).collect();
    let signers: Vec<(u8, &k256::ecdsa::SigningKey)> = ks
        .iter()
        .enumerate()
        .map(|(i, k)| (u8::try_from(i).unwrap(), k))
        .collect();
    let new_signed = Vaa::sign(1, body_of(&d, 100, |_| {}), &signers[..5]).unwrap();
    run(
        &mut state,
        &redeem_msg(&new_signed).unwrap(),
        &ctx(4, T0 + 86_400),
    )
    .await
    .unwrap();
    assert_eq!(state.balance(&Address([0xc0; 20])).await.unwrap(), 10);
}

#[tokio::test]
async fn a_mint_outside_the_bridge_halts_the_chain() {
    let (_s, mut state) = setup().await;
    Bridge::end_block(&mut state, &ctx(2, T0)).await.unwrap();
    state.mint(&Address([4; 20]), 1).await.unwrap();
    let e = Bridge::end_block(&mut state, &ctx(2, T0))
        .await
        .unwrap_err();
    assert!(matches!(e, ExecError::Internal(_)), "{e:?}");
    assert!(e.to_string().contains("supply invariant"), "{e}");
}
