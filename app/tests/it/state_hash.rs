//! The state format is pinned: a fixed genesis and three fixed transfers
//! must give these app hashes. Format 3 added staking (validator records,
//! the staking pool holding the genesis validators' self-stake, the decided
//! set and its pending updates) and compute nodes (params, the epoch, the capacity sprint seeded by
//! the epoch's first block hash, which the harness derives from the height
//! and txs). Format 4 added the compute param `jail_after_reveal_misses`
//! (a format-3 store would read it as 0, never jail). A change here means the state format
//! changed: bump `STATE_FORMAT_VERSION`, say why, and re-pin.

use crate::common::*;
use comrade_app::client::address_of;
use comrade_test_utils::account_key;

const PINNED: [&str; 4] = [
    "01f732dd3188b7dc7e8db6dbd286ed604e5827a9be64e3bb36f242cc21d1bdda",
    "6175c0bf44d322174ccbb4fd04dff42093ef32b87ba025d31ebb94c385bea096",
    "1cca3d55fc9770a2b3e260ec67acea70da3519f76701d65f73f6e81c7f1cc2d3",
    "9ed62a19f75b48c6f868abfde72a8e8826305708f12a365338e07f20c5019b5b",
];

#[test]
fn state_format_4_app_hashes_are_unchanged() {
    assert_eq!(comrade_app::app::STATE_FORMAT_VERSION, 4, "re-pin below");
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
