//! The state format is pinned: a fixed genesis and three fixed transfers
//! must give these app hashes. Format 3 added staking (validator records,
//! the staking pool holding the genesis validators' self-stake, the decided
//! set and its pending updates) and compute nodes (params, the epoch, the capacity sprint seeded by
//! the epoch's first block hash, which the harness derives from the height
//! and txs). A change here means the state format
//! changed: bump `STATE_FORMAT_VERSION`, say why, and re-pin.

use crate::common::*;
use comrade_app::client::address_of;
use comrade_test_utils::account_key;

const PINNED: [&str; 4] = [
    "4e869a0d7768c7830af19b68b48f14895eaf44737323f2f59e848b2ad2716107",
    "6b46c7f3302b46fce9f90571288852c6e390903f81bede728aed32c0b04349df",
    "d1e3e70f0065d01e026b682a0e4ee5aad25812fa0e30f6e24b394267c242e7b6",
    "d5ebbc902dcb2129bfdf149d9f880210a7af0e5a3114147fbee56661a36cbc5a",
];

#[test]
fn state_format_3_app_hashes_are_unchanged() {
    assert_eq!(comrade_app::app::STATE_FORMAT_VERSION, 3, "re-pin below");
    let mut f = fixture();
    let carol = address_of(&account_key(3));
    let mut hashes = vec![hex::encode(f.h.info().unwrap().1)];
    for seq in 0..3u64 {
        let tx = send(&f.alice, &carol, 1_000 + u128::from(seq), f.alice_num, seq);
        let r = f.h.block(vec![tx]).unwrap();
        assert!(r.tx_results.iter().all(|t| t.code == 0));
        hashes.push(hex::encode(&r.app_hash));
    }
    assert_eq!(hashes, PINNED);
}
