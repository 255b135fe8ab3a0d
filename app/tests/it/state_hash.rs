//! The state format is pinned: a fixed genesis and three fixed transfers
//! must give the app hashes that state format 2 gave before the module-first
//! layout (computed with commit 5726658). A change here means the state
//! format changed: bump `STATE_FORMAT_VERSION`, say why, and re-pin.

use crate::common::*;
use comrade_app::client::address_of;
use comrade_test_utils::account_key;

const PINNED: [&str; 4] = [
    "be9189ad385dc1fe8790e45c36d997876f5b5adc182241618ab51a33fc3f27a0",
    "ae950dd444c618164577a6f24afd4da8fdbb7e4f6755ff9ce267bf32b16ffcad",
    "460cc23f6a5ce616bd3f424988db9960c219411b3bddd3154595d6079953dad3",
    "a30d8c064c9aa756844da4e7bbb64734e58187550848f14fb09a5bc766a3e8ea",
];

#[test]
fn state_format_2_app_hashes_are_unchanged() {
    assert_eq!(comrade_app::app::STATE_FORMAT_VERSION, 2, "re-pin below");
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
