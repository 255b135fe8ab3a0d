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
    "5666c96ebb28c5456d4acfe9abd3be463ea56adc6ea52890eecc322ac3866447",
    "24822991130a650481e32ca4a00e7eb9c6efa7f7b6b19672877947833b2a0ed9",
    "dd280f157b5955b5c0067dc09b70044ed2268a1218f515f74f4e3c2e1d4ad564",
    "bc98293bfc63c008418f38363ffe9953c9b61f3409a9c1f4a5ebacff55415d78",
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
