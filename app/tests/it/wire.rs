//! Property tests of the tx and injected-tx wire formats.

use comrade_app::{
    client::{SignOptions, address_of, msg_send, sign_tx},
    metrics::Metrics,
    modules::Action,
    tx::{KeyCache, decode as decode_with},
    vote_ext,
};
use comrade_bank::bank::MsgSend;

fn decode(bytes: &[u8], max: u64) -> Result<comrade_app::tx::DecodedTx, comrade_app::TxError> {
    decode_with(bytes, max, &KeyCache::default())
}
use comrade_test_utils::account_key;
use proptest::prelude::*;
use tendermint_proto::v0_38::{
    abci::{ExtendedCommitInfo, ExtendedVoteInfo, Validator},
    types::BlockIdFlag,
};

proptest! {
    #[test]
    fn decode_never_panics_and_rejects_junk(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        // Random bytes are (almost surely) not a signed tx: they must be
        // rejected with a code, never crash the node.
        if let Err(e) = decode(&bytes, 65_536) {
            prop_assert!(e.code.value() != 0);
        }
    }

    #[test]
    fn signed_send_round_trips(seed in 0u64..1000, to_seed in 1000u64..2000, amount in 1u128..u128::MAX,
                               seq in any::<u64>(), num in any::<u64>(), memo in "[ -~]{0,64}") {
        let key = account_key(seed);
        let to = address_of(&account_key(to_seed));
        let from = address_of(&key);
        let tx = sign_tx(&key, vec![msg_send(&from.to_string(), &to.to_string(), "ucomrade", &amount.to_string())],
            &SignOptions { chain_id: "c", account_number: num, sequence: seq, fee: ("7", "ucomrade"), memo: &memo, timeout_height: 0 });
        let d = decode(&tx, 65_536).unwrap();
        prop_assert_eq!(d.signer, from);
        prop_assert_eq!(d.sequence, seq);
        prop_assert_eq!(d.fee_amount, 7);
        prop_assert_eq!(d.memo_len, memo.len());
        prop_assert_eq!(&d.msgs, &vec![Action::Send(MsgSend { from, to, denom: "ucomrade".into(), amount })]);
        prop_assert!(d.verify_signature("c", num, &Metrics::default()).is_ok());
        prop_assert!(d.verify_signature("c", num.wrapping_add(1), &Metrics::default()).is_err());
    }

    #[test]
    fn injected_tx_round_trips(round in any::<i32>(), n in 0usize..8, ext in proptest::collection::vec(any::<u8>(), 0..64)) {
        let info = ExtendedCommitInfo {
            round,
            votes: (0..n).map(|i| ExtendedVoteInfo {
                validator: Some(Validator { address: vec![i as u8; 20].into(), power: i as i64 + 1 }),
                vote_extension: ext.clone().into(),
                extension_signature: vec![1; 64].into(),
                block_id_flag: BlockIdFlag::Commit as i32,
            }).collect(),
        };
        let tx = vote_ext::encode_injected(&info);
        prop_assert!(vote_ext::is_injected(&tx));
        prop_assert_eq!(vote_ext::decode_injected(&tx).unwrap(), info);
    }
}

proptest! {
    /// Addresses and signature checks agree with k256 / cosmrs, the
    /// reference implementation the chain used before libsecp256k1.
    #[test]
    fn verification_agrees_with_k256(seed in 0u64..10_000, num in any::<u64>(), seq in any::<u64>()) {
        use cosmrs::proto::cosmos::tx::v1beta1::{SignDoc, TxRaw};
        use k256::ecdsa::{Signature, signature::Verifier};
        use prost::Message;

        let key = account_key(seed);
        let vk = *key.verifying_key();
        let reference = cosmrs::crypto::PublicKey::from(&vk)
            .account_id(comrade_primitives::BECH32_PREFIX)
            .unwrap();
        let from = address_of(&key);
        prop_assert_eq!(from.as_bytes().to_vec(), reference.to_bytes());

        let tx = sign_tx(&key, vec![msg_send(&from.to_string(), &from.to_string(), "ucomrade", "1")],
            &SignOptions { chain_id: "c", account_number: num, sequence: seq, fee: ("7", "ucomrade"), memo: "", timeout_height: 0 });
        let raw = TxRaw::decode(tx.as_slice()).unwrap();
        let doc = SignDoc {
            body_bytes: raw.body_bytes.clone(),
            auth_info_bytes: raw.auth_info_bytes.clone(),
            chain_id: "c".into(),
            account_number: num,
        }
        .encode_to_vec();
        let sig = Signature::from_slice(&raw.signatures[0]).unwrap();
        prop_assert!(vk.verify(&doc, &sig).is_ok());
        prop_assert!(decode(&tx, 65_536).unwrap().verify_signature("c", num, &Metrics::default()).is_ok());

        // The same signature with s replaced by n - s (high s): a valid
        // ECDSA signature that both implementations must refuse.
        let (r, s) = sig.split_scalars();
        let high = Signature::from_scalars(r.to_bytes(), (-*s.as_ref()).to_bytes()).unwrap();
        prop_assert!(vk.verify(&doc, &high).is_err());
        let mut bad = raw.clone();
        bad.signatures[0] = high.to_bytes().to_vec();
        let d = decode(&bad.encode_to_vec(), 65_536).unwrap();
        prop_assert!(d.verify_signature("c", num, &Metrics::default()).is_err());

        // A flipped bit in r fails too.
        let mut flipped = raw;
        flipped.signatures[0][5] ^= 1;
        let d = decode(&flipped.encode_to_vec(), 65_536).unwrap();
        prop_assert!(d.verify_signature("c", num, &Metrics::default()).is_err());
    }
}
