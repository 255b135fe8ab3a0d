//! The state format is pinned: a fixed genesis and three fixed transfers
//! must give these app hashes. Format 3 added staking (validator records,
//! the staking pool holding the genesis validators' self-stake, the decided
//! set and its pending updates). A change here means the state format
//! changed: bump `STATE_FORMAT_VERSION`, say why, and re-pin.

use crate::common::*;
use comrade_app::client::address_of;
use comrade_test_utils::account_key;

const PINNED: [&str; 4] = [
    "6dcf8689db3e2a06dd99d606cebedeb84ff26910fa381a9d30bff71c965b9b7e",
    "d943d50ca85bc2302ad2f4c50c8b3de199da60bcff198ff5dc0033202fd327c1",
    "9131370987288a7b8e8d626773510c9f39bbce7feb98b2b1cd43830e5efed25f",
    "91ce4822f466350faf31c1bb2bda0abb11e33a6b71793bd2f9411650463d8bd0",
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
