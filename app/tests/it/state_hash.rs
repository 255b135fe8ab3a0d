//! The state format is pinned: a fixed genesis and three fixed transfers
//! must give these app hashes. Format 3 added staking (validator records,
//! the staking pool holding the genesis validators' self-stake, the decided
//! set and its pending updates) and compute nodes (params, the epoch). A change here means the state format
//! changed: bump `STATE_FORMAT_VERSION`, say why, and re-pin.

use crate::common::*;
use comrade_app::client::address_of;
use comrade_test_utils::account_key;

const PINNED: [&str; 4] = [
    "c0f733876e580b4eca6821112e16c34ea0662c0f99a29ae63f09d309cdcab363",
    "8c89642136b6dc550bcee6aebd1870d90e2b3758383065860d6f51f9a373b238",
    "0a8847b09348d9d937adbe7f3563b0a0bc332f0640c99c9b1ff5e0a8cc5d1c9d",
    "5bfbe3a718a63a557738171b6256d2cfa5ddd5cfd9bac532ba94621b88329f1a",
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
