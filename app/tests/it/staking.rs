//! Staking on the real state machine, driven by the mock-consensus harness:
//! validators created and bonded join at the epoch end, CometBFT hears of
//! every set change two blocks before the set view (which the next
//! proposal's vote-extension check uses) changes, unbondings pay out after
//! the unbonding period and stay slashable, downtime jails and slashes,
//! double signs tombstone; every negative case has its code and changes
//! nothing.

use comrade_app::client::address_of;
use comrade_bank::auth::module_accounts;
use comrade_consensus::staking::{
    MsgBond, MsgCreateValidator, MsgUnbond, MsgUnjail, StakingParams, consensus_address,
};
use comrade_primitives::{Address, component::ActionHandler, proto::staking::v1 as pb};
use comrade_test_utils::{TestValidator, account_key};
use tendermint_proto::v0_38::abci::{ExecTxResult, ResponseFinalizeBlock};

use crate::{chain::*, common::*};

fn params() -> StakingParams {
    StakingParams {
        epoch_blocks: 5,
        unbonding_blocks: 6,
        signed_blocks_window: 10,
        min_signed_per_window_bps: 5_000,
        downtime_jail_blocks: 4,
        slash_downtime_bps: 100,
        slash_double_sign_bps: 500,
        max_commission_bps: 2_000,
        ..Default::default()
    }
}

fn create(
    operator: &Address,
    key: &ed25519_consensus::SigningKey,
    stake: u128,
) -> pb::MsgCreateValidator {
    pb::MsgCreateValidator {
        operator: operator.to_string(),
        consensus_pubkey: key.verification_key().to_bytes().to_vec(),
        moniker: "carol".into(),
        commission_bps: 500,
        self_stake: stake.to_string(),
    }
}

fn code(r: &ResponseFinalizeBlock, i: usize) -> &ExecTxResult {
    &r.tx_results[i + 1]
}

fn update_power(r: &ResponseFinalizeBlock, key: &[u8]) -> Option<i64> {
    use tendermint_proto::v0_38::crypto::public_key::Sum;
    r.validator_updates.iter().find_map(|u| match &u.pub_key {
        Some(pk) => match &pk.sum {
            Some(Sum::Ed25519(k)) if k.as_slice() == key => Some(u.power),
            _ => None,
        },
        None => None,
    })
}

#[test]
fn a_created_validator_joins_at_the_epoch_end_and_the_view_follows_two_blocks_later() {
    let mut n = net(|g| g.staking = params());
    let carol = n.carol.clone();
    let op = address_of(&carol);
    let ckey = ed25519_consensus::SigningKey::from([42u8; 32]);
    let caddr = consensus_address(&ckey.verification_key().to_bytes());
    let pool = Address::module(module_accounts::STAKING_POOL);
    let pool_before = balance(&n.h, &pool);

    // Negatives first: each has its code and changes nothing.
    let below = n.tx(
        &carol,
        MsgCreateValidator::TYPE_URL,
        &create(&op, &ckey, REDUCTION - 1),
    );
    assert_eq!(n.check(below).0, 103);
    let mut high = create(&op, &ckey, 5 * REDUCTION);
    high.commission_bps = 2_001;
    let high = n.tx(&carol, MsgCreateValidator::TYPE_URL, &high);
    let mut not_a_point = create(&op, &ckey, 5 * REDUCTION);
    // ed25519-consensus (ZIP 215) accepts non-canonical encodings; an
    // encoding that decompresses to no point at all must be refused.
    let bad = (0u8..=255)
        .map(|i| [i; 32])
        .find(|k| ed25519_consensus::VerificationKey::try_from(*k).is_err())
        .unwrap();
    not_a_point.consensus_pubkey = bad.to_vec();
    let not_a_point = n.tx(&carol, MsgCreateValidator::TYPE_URL, &not_a_point);
    let bond = n.tx(
        &carol,
        MsgBond::TYPE_URL,
        &pb::MsgBond {
            operator: op.to_string(),
            amount: "1".into(),
        },
    );
    assert_eq!(n.check(high).0, 105);
    assert_eq!(n.check(not_a_point).0, 100);
    assert_eq!(n.check(bond).0, 102);
    n.run_to(2);
    assert!(n.validator(&op).is_none());
    assert_eq!(balance(&n.h, &pool), pool_before);

    // Created at height 3; a second create (another key) is refused.
    let ok = n.tx(
        &carol,
        MsgCreateValidator::TYPE_URL,
        &create(&op, &ckey, 5 * REDUCTION),
    );
    let r = n.block(vec![(carol.clone(), ok)]);
    assert_eq!(code(&r, 0).code, 0, "{}", code(&r, 0).log);
    assert!(r.validator_updates.is_empty());
    let again = n.tx(
        &carol,
        MsgCreateValidator::TYPE_URL,
        &create(
            &op,
            &ed25519_consensus::SigningKey::from([43u8; 32]),
            5 * REDUCTION,
        ),
    );
    // Someone else with carol's consensus key is refused too.
    assert_eq!(n.check(again).0, 101);
    let dave = account_key(78);
    let fund = send(
        &carol,
        &address_of(&dave),
        10 * REDUCTION,
        account_number(&n.h, &op),
        n.seq(&op),
    );
    n.block(vec![(carol.clone(), fund)]);
    let stolen_key = n.tx(
        &dave,
        MsgCreateValidator::TYPE_URL,
        &create(&address_of(&dave), &ckey, 5 * REDUCTION),
    );
    assert_eq!(n.check(stolen_key).0, 101);
    let r = n.block(vec![]);
    assert_eq!(balance(&n.h, &pool), pool_before + 5 * REDUCTION);
    assert_eq!(n.height(), 5);
    assert!(!n.view().iter().any(|(a, _)| *a == caddr));

    // Height 5 was the epoch end: CometBFT was told at 5 ...
    // (the block above was height 5)
    assert_eq!(
        update_power(&r, &ckey.verification_key().to_bytes()),
        Some(5),
        "updates at the epoch end: {:?}",
        r.validator_updates
    );
    // ... and the view, which checks the votes of each height, changes at 7.
    n.run_to(6);
    assert!(!n.view().iter().any(|(a, _)| *a == caddr));
    n.run_to(7);
    assert!(n.view().contains(&(caddr, 5)), "{:?}", n.view());
    // No further updates without changes.
    for (h, r) in n.run_to(11) {
        assert!(
            r.validator_updates.is_empty(),
            "height {h}: {:?}",
            r.validator_updates
        );
    }
}

#[test]
fn bond_and_unbond_move_power_at_epoch_ends_and_unbondings_pay_out_later() {
    let mut n = net(|g| g.staking = params());
    let op0 = operator_key(0);
    let a0 = address_of(&op0);
    let key0 = n.h.validators[0].key.verification_key().to_bytes();
    // Fund validator 0's operator (it holds exactly its stake).
    let carol = n.carol.clone();
    let fund = send(
        &carol,
        &a0,
        20 * REDUCTION,
        account_number(&n.h, &address_of(&carol)),
        0,
    );
    n.block(vec![(carol.clone(), fund)]);
    let free = balance(&n.h, &a0);
    let bond = n.tx(
        &op0,
        MsgBond::TYPE_URL,
        &pb::MsgBond {
            operator: a0.to_string(),
            amount: (5 * REDUCTION).to_string(),
        },
    );
    n.block(vec![(op0.clone(), bond)]);
    assert_eq!(
        n.validator(&a0).unwrap().bonded,
        (15 * REDUCTION).to_string()
    );
    let rs = n.run_to(5);
    assert_eq!(update_power(&rs.last().unwrap().1, &key0), Some(15));
    // The harness's validator votes with its CometBFT power from height 7.
    n.run_to(6);
    n.h.validators[0].power = 15;
    n.run_to(7);

    // Unbond more than bonded; unbond leaving less than the minimum.
    let too_much = n.tx(
        &op0,
        MsgUnbond::TYPE_URL,
        &pb::MsgUnbond {
            operator: a0.to_string(),
            amount: (15 * REDUCTION + 1).to_string(),
        },
    );
    let dust = n.tx(
        &op0,
        MsgUnbond::TYPE_URL,
        &pb::MsgUnbond {
            operator: a0.to_string(),
            amount: (15 * REDUCTION - 1).to_string(),
        },
    );
    assert_eq!(n.check(too_much).0, 104);
    assert_eq!(n.check(dust).0, 103);
    n.run_to(8);
    // Unbond 5 at height 9: the power drops at 10, the stake is paid at 15.
    let unbond = n.tx(
        &op0,
        MsgUnbond::TYPE_URL,
        &pb::MsgUnbond {
            operator: a0.to_string(),
            amount: (5 * REDUCTION).to_string(),
        },
    );
    let r = n.block(vec![(op0.clone(), unbond)]);
    assert_eq!(code(&r, 0).code, 0, "{}", code(&r, 0).log);
    assert_eq!(n.height(), 9);
    let after_fees = balance(&n.h, &a0);
    let rs = n.run_to(10);
    assert_eq!(update_power(&rs.last().unwrap().1, &key0), Some(10));
    n.run_to(11);
    n.h.validators[0].power = 10;
    n.run_to(14);
    let paid_so_far = balance(&n.h, &a0);
    assert!(
        paid_so_far < after_fees + 5 * REDUCTION,
        "paid before the unbonding period"
    );
    n.run_to(15);
    // Fee shares keep arriving; the unbonded 5 COMRADE arrive at 15.
    assert!(balance(&n.h, &a0) >= paid_so_far + 5 * REDUCTION);
    assert!(free > 0);
}

#[test]
fn downtime_slashes_and_jails_and_unjail_returns_the_validator_after_its_jail() {
    let mut n = net(|g| g.staking = params());
    // Validator 0 (power 10 of 100: the others keep more than 2/3).
    let v3 = n.h.validators[0].clone();
    let key3 = v3.key.verification_key().to_bytes();
    let op3 = operator_key(0);
    let a3 = address_of(&op3);
    // The operator needs fee money: it holds nothing but its stake.
    let carol = n.carol.clone();
    n.block(vec![(
        carol.clone(),
        send(
            &carol,
            &a3,
            REDUCTION,
            account_number(&n.h, &address_of(&carol)),
            0,
        ),
    )]);
    let treasury = Address::module(module_accounts::TREASURY);
    let treasury_before = balance(&n.h, &treasury);
    n.h.absent.insert(v3.address());
    // Window 10, at most 5 missed: it misses every vote from height 2 on.
    let mut jailed_at = None;
    for _ in 0..14 {
        let r = n.block(vec![]);
        if update_power(&r, &key3) == Some(0) {
            jailed_at = Some(n.height());
            break;
        }
    }
    let j = jailed_at.expect("validator 3 was never jailed");
    let v = n.validator(&a3).unwrap();
    assert!(v.jailed && !v.tombstoned);
    assert_eq!(v.jailed_until, j + 4);
    // 1 % of its 10 COMRADE went to the treasury.
    assert_eq!(v.bonded, (10 * REDUCTION - 100_000).to_string());
    assert_eq!(balance(&n.h, &treasury), treasury_before + 100_000);
    // It stays in the view one more block, then leaves; the harness stops
    // voting for it from the height it leaves.
    n.run_to(j + 1);
    assert!(n.view().iter().any(|(a, _)| *a == v3.address()));
    n.h.validators.retain(|v| v.address() != v3.address());
    n.h.absent.clear();
    n.run_to(j + 2);
    assert!(!n.view().iter().any(|(a, _)| *a == v3.address()));

    // CheckTx runs at height j + 3, before the jail ends at j + 4.
    let early = n.tx(
        &op3,
        MsgUnjail::TYPE_URL,
        &pb::MsgUnjail {
            operator: a3.to_string(),
        },
    );
    let (c, log) = n.check(early);
    assert_eq!(c, 107, "{log}");
    n.run_to(j + 3);
    let unjail = n.tx(
        &op3,
        MsgUnjail::TYPE_URL,
        &pb::MsgUnjail {
            operator: a3.to_string(),
        },
    );
    let r = n.block(vec![(op3.clone(), unjail)]);
    assert_eq!(code(&r, 0).code, 0, "{}", code(&r, 0).log);
    // Back at the end of its block with its slashed power, 9.
    assert_eq!(update_power(&r, &key3), Some(9));
    let u = n.height();
    n.run_to(u + 1);
    let mut back = v3.clone();
    back.power = 9;
    n.h.validators.push(back);
    n.run_to(u + 2);
    assert!(n.view().contains(&(v3.address(), 9)));
    let again = n.tx(
        &op3,
        MsgUnjail::TYPE_URL,
        &pb::MsgUnjail {
            operator: a3.to_string(),
        },
    );
    assert_eq!(n.check(again).0, 106);
}

fn duplicate_vote(v: &TestValidator, height: u64) -> tendermint_proto::v0_38::abci::Misbehavior {
    use tendermint_proto::v0_38::abci::{Misbehavior, MisbehaviorType, Validator};
    Misbehavior {
        r#type: MisbehaviorType::DuplicateVote as i32,
        validator: Some(Validator {
            address: v.address().to_vec().into(),
            power: v.power,
        }),
        height: height as i64,
        time: None,
        total_voting_power: 100,
    }
}

#[test]
fn a_double_sign_slashes_bonded_and_later_unbonding_stake_and_tombstones() {
    let mut n = net(|g| g.staking = params());
    let v2 = n.h.validators[2].clone();
    let key2 = v2.key.verification_key().to_bytes();
    let op2 = operator_key(2);
    let a2 = address_of(&op2);
    let carol = n.carol.clone();
    n.block(vec![(
        carol.clone(),
        send(
            &carol,
            &a2,
            REDUCTION,
            account_number(&n.h, &address_of(&carol)),
            0,
        ),
    )]);
    // Unbond 10 of 30 at height 2 (before the evidence's height 2: slashed
    // too, since it was bonded when the infraction happened).
    let unbond = n.tx(
        &op2,
        MsgUnbond::TYPE_URL,
        &pb::MsgUnbond {
            operator: a2.to_string(),
            amount: (10 * REDUCTION).to_string(),
        },
    );
    let r = n.block(vec![(op2.clone(), unbond)]);
    assert_eq!(code(&r, 0).code, 0, "{}", code(&r, 0).log);
    let treasury = Address::module(module_accounts::TREASURY);
    let before = balance(&n.h, &treasury);
    n.h.misbehavior = vec![duplicate_vote(&v2, 2)];
    let r = n.block(vec![]);
    assert_eq!(update_power(&r, &key2), Some(0));
    let v = n.validator(&a2).unwrap();
    assert!(v.tombstoned && v.jailed);
    // 5 % of the 20 bonded and of the 10 unbonding.
    assert_eq!(v.bonded, (19 * REDUCTION).to_string());
    assert_eq!(v.slashed_total, (15 * REDUCTION / 10).to_string());
    assert!(balance(&n.h, &treasury) >= before + 15 * REDUCTION / 10);
    let kinds: Vec<_> = r.events.iter().map(|e| e.r#type.as_str()).collect();
    assert!(
        kinds.contains(&"comrade.staking.v1.EventValidatorSlashed"),
        "{kinds:?}"
    );
    // The same evidence again changes nothing.
    n.run_to(4);
    n.h.validators.retain(|v| v.address() != v2.address());
    n.h.misbehavior = vec![duplicate_vote(&v2, 2)];
    let r = n.block(vec![]);
    assert!(r.validator_updates.is_empty());
    assert_eq!(
        n.validator(&a2).unwrap().bonded,
        (19 * REDUCTION).to_string()
    );
    // Tombstoned: no unjail, no bond.
    let unjail = n.tx(
        &op2,
        MsgUnjail::TYPE_URL,
        &pb::MsgUnjail {
            operator: a2.to_string(),
        },
    );
    let bond = n.tx(
        &op2,
        MsgBond::TYPE_URL,
        &pb::MsgBond {
            operator: a2.to_string(),
            amount: "1".into(),
        },
    );
    assert_eq!(n.check(unjail).0, 108);
    assert_eq!(n.check(bond).0, 108);
    // The slashed unbonding pays 9.5 at its completion height 2 + 6.
    let before = balance(&n.h, &a2);
    n.run_to(8);
    assert_eq!(balance(&n.h, &a2), before + 95 * REDUCTION / 10);
}
