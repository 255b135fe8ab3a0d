//! The state format is pinned: a fixed genesis and three fixed transfers
//! must give these app hashes. Format 3 added staking (validator records,
//! the staking pool holding the genesis validators' self-stake, the decided
//! set and its pending updates) and compute nodes (params, the epoch, the capacity sprint seeded by
//! the epoch's first block hash, which the harness derives from the height
//! and txs). Format 4 added the compute param `jail_after_reveal_misses`
//! (a format-3 store would read it as 0, never jail). Format 5 added the
//! audit params (`audit_rate_ppm` … `bounty_bps`; a format-4 store would
//! read zeros and fail their validation). A change here means the state format
//! changed: bump `STATE_FORMAT_VERSION`, say why, and re-pin.

use crate::common::*;
use comrade_app::client::address_of;
use comrade_test_utils::account_key;

const PINNED: [&str; 4] = [
    "ee035992045aae79acb6073c7c0afb59e8475042923d850b16aeae0e578c9f36",
    "0023d0059b3111cbb348976d8574486f475bd4119f4891405a4c5fa3a63d1b4b",
    "4536694242db01554c33465637cc592834195137720dc64f99695dfa1a3bb844",
    "c5d107f10c2bd01f711edbf3c825e1bc3a8764af9ad02bb31097f429650ad36a",
];

#[test]
fn state_format_5_app_hashes_are_unchanged() {
    assert_eq!(comrade_app::app::STATE_FORMAT_VERSION, 5, "re-pin below");
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
