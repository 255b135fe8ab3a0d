//! The state format is pinned: a fixed genesis and three fixed transfers
//! must give these app hashes. Format 3 added staking (validator records,
//! the staking pool holding the genesis validators' self-stake, the decided
//! set and its pending updates) and compute nodes (params, the epoch, the capacity sprint seeded by
//! the epoch's first block hash, which the harness derives from the height
//! and txs). Format 4 added the compute param `jail_after_reveal_misses`
//! (a format-3 store would read it as 0, never jail). Format 5 added the
//! audit params (`audit_rate_ppm` … `bounty_bps`; a format-4 store would
//! read zeros and fail their validation). Format 6 added the bridge (config,
//! guardian set 0, its index, the locked total). A change here means the state format
//! changed: bump `STATE_FORMAT_VERSION`, say why, and re-pin.

use crate::common::*;
use comrade_app::client::address_of;
use comrade_test_utils::account_key;

const PINNED: [&str; 4] = [
    "215de404c0f817c4b8a39eebfaaf099d17ffe3d9d81abf0bfa7b4583e2607549",
    "2b1fd866193319a61f259e5bb019ec557b5041a149ea2619df1bc1d0fcb39748",
    "024f085dda728fd7b2ea061455bd18c6cde56836aa9b8d865642c261e219898f",
    "826ab8ffab06570a30fc8d2aa456d9c6155d7f4e54e5a8b7484477b269b1e732",
];

#[test]
fn state_format_6_app_hashes_are_unchanged() {
    assert_eq!(comrade_app::app::STATE_FORMAT_VERSION, 6, "re-pin below");
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
