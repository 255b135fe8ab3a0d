//! VAA parsing and verification against Wormhole's published vectors and
//! the devnet guardian keys; every rejection has its own code.

use comrade_bridge::{
    BridgeError, devnet,
    payload::{Deposit, GuardianSetUpgrade},
    vaa::{Body, GuardianSignature, Vaa, keccak256, quorum},
};
use comrade_primitives::code::ModuleError as _;
use k256::ecdsa::SigningKey;
use proptest::prelude::*;

/// Wormhole's devnet guardian set upgrade 0 → 1, signed by guardian-0
/// (wormhole-foundation/wormhole, cosmwasm/deployment/terra2/tools/migrate.js).
const UPGRADE_HEX: &str = "01000000000100f8547caf1d1263e6b4742aef05691a9e2a7aa082bb2f1deb3850e43b801a87044cf786924d8adff5553f31b41149f94a32b568321390450f12c31aa15c2f941101000000010000000100010000000000000000000000000000000000000000000000000000000000000004000000000227cc370000000000000000000000000000000000000000000000000000000000436f72650200000000000106befa429d57cd18b7f8a4d91a2da9ab4af05d0fbe4ba0c2db9a26208b3bb1a50b01b16941c10d76db4ba0c2db9a26208b3bb1a50b01b16941c10d76db4ba0c2db9a26208b3bb1a50b01b16941c10d76db4ba0c2db9a26208b3bb1a50b01b16941c10d76db4ba0c2db9a26208b3bb1a50b01b16941c10d76db";
const UPGRADE_DIGEST: &str = "ad9328b9e4cb17925f3e7c1430fa8893fb8d17697cbc8cb851c1bd24b4cb1a4e";
/// A token-bridge transfer Ethereum → Solana (sdk/vaa/structs_test.go).
const TRANSFER_HEX: &str = "01000000000100e424aef95296cb0f2185f351086c7c0b9cd031d1288f0537d04ab20d5fc709416224b2bd9a8010a81988aa9cb38b378eb915f88b67e32a765928d948dc02077e00000102584a8d000000020000000000000000000000000290fb167208af455bb137780163b7b7a9a10c16000000000000000f0f01000000000000000000000000000000000000000000000000000000002b369f40000000000000000000000000ddb64fe46a91d46ee29420539fc25fd07c5fea3e000221c175fcd8e3a19fe2e0deae96534f0f4e6a896f4df0e3ec5345fe27ac3f63f000010000000000000000000000000000000000000000000000000000000000000000";
const TRANSFER_BODY_HASH: &str = "77fc3406e9c5ebaf7bb32c53daa1df4defd66e90487c6a91744c1055a104d5c4";
const TRANSFER_DIGEST: &str = "78a3ef7e4f695371ae31124c5cc4fbe9d80389daae78287a98334bf390da320e";

pub(crate) fn code(e: &BridgeError) -> u32 {
    e.code().0
}

fn keys(n: usize) -> Vec<SigningKey> {
    (0..n).map(|i| devnet::signing_key(i).unwrap()).collect()
}

pub(crate) fn body(payload: &[u8], sequence: u64) -> Vec<u8> {
    Body {
        timestamp: 1_700_000_000,
        nonce: 7,
        emitter_chain: 1,
        emitter_address: [3; 32],
        sequence,
        consistency_level: 32,
        payload,
    }
    .to_bytes()
}

/// A VAA over `body` signed by the devnet guardians at `who`.
pub(crate) fn signed(set: u32, body: Vec<u8>, who: &[usize]) -> Vaa {
    let ks = keys(19);
    let signers: Vec<(u8, &SigningKey)> = who
        .iter()
        .map(|&i| (u8::try_from(i).unwrap(), &ks[i]))
        .collect();
    Vaa::sign(set, body, &signers).unwrap()
}

#[test]
fn published_vectors_parse_hash_and_verify_and_devnet_signing_reproduces_them() {
    let bytes = hex::decode(TRANSFER_HEX).unwrap();
    let v = Vaa::parse(&bytes).unwrap();
    assert_eq!(v.guardian_set_index, 0);
    assert_eq!(v.signatures.len(), 1);
    assert_eq!(v.signatures[0].guardian_index, 0);
    assert_eq!(v.emitter_chain, 2);
    assert_eq!(
        hex::encode(v.emitter_address),
        "0000000000000000000000000290fb167208af455bb137780163b7b7a9a10c16"
    );
    assert_eq!(v.sequence, 15);
    assert_eq!(v.consistency_level, 15);
    assert_eq!(hex::encode(v.body_hash()), TRANSFER_BODY_HASH);
    assert_eq!(hex::encode(v.digest()), TRANSFER_DIGEST);
    assert_eq!(v.payload()[0], 1, "token bridge transfer payload id");
    assert_eq!(v.serialize(), bytes);
    v.verify_signatures(&devnet::set(1)).unwrap();
    // RFC 6979: guardian-0's key signs the same body to the same bytes.
    let again = signed(0, v.body.clone(), &[0]);
    assert_eq!(again.serialize(), bytes);

    let bytes = hex::decode(UPGRADE_HEX).unwrap();
    let v = Vaa::parse(&bytes).unwrap();
    assert_eq!(hex::encode(v.digest()), UPGRADE_DIGEST);
    assert_eq!(v.sequence, 36_162_615);
    v.verify_signatures(&devnet::set(1)).unwrap();
    let u = GuardianSetUpgrade::parse(v.payload()).unwrap();
    assert_eq!(u.chain, 0);
    assert_eq!(u.new_index, 1);
    assert_eq!(u.keys.len(), 6);
    assert_eq!(u.keys[0], devnet::address(0).unwrap());
    assert_eq!(
        hex::encode(u.keys[1]),
        "4ba0c2db9a26208b3bb1a50b01b16941c10d76db"
    );
    assert_eq!(u.to_bytes(), v.payload());
    assert_eq!(signed(0, v.body.clone(), &[0]).serialize(), bytes);
}

#[test]
fn devnet_addresses_are_the_keys_addresses() {
    for (i, key) in keys(19).iter().enumerate() {
        assert_eq!(
            comrade_bridge::vaa::guardian_address(key.verifying_key()),
            devnet::address(i).unwrap(),
            "guardian {i}"
        );
    }
    assert_eq!(quorum(19), 13);
    assert_eq!(quorum(1), 1);
    assert_eq!(quorum(3), 3);
    assert_eq!(quorum(4), 3);
}

#[test]
fn verification_rejects_each_defect_with_its_own_code() {
    let set = devnet::set(19);
    let b = body(b"hello", 1);
    let good: Vec<usize> = (0..13).collect();
    signed(0, b.clone(), &good).verify_signatures(&set).unwrap();
    // More than quorum is fine.
    signed(0, b.clone(), &(0..19).collect::<Vec<_>>())
        .verify_signatures(&set)
        .unwrap();

    let err = |v: &Vaa| code(&v.verify_signatures(&set).unwrap_err());

    // Quorum − 1.
    assert_eq!(err(&signed(0, b.clone(), &good[..12])), 205);
    // Not ascending (swap two).
    let mut v = signed(0, b.clone(), &good);
    v.signatures.swap(3, 4);
    assert_eq!(err(&v), 206);
    // The same index twice.
    let mut v = signed(0, b.clone(), &good);
    v.signatures[5] = v.signatures[4].clone();
    assert_eq!(err(&v), 206);
    // Index ≥ n: the 13th signer claims index 19.
    let mut v = signed(0, b.clone(), &good);
    v.signatures[12].guardian_index = 19;
    assert_eq!(err(&v), 207);
    // A forged signature: guardian 3's slot signed by guardian 15.
    let mut v = signed(0, b.clone(), &good);
    v.signatures[3] = signed(0, b.clone(), &[15]).signatures[0].clone();
    v.signatures[3].guardian_index = 3;
    assert_eq!(err(&v), 208);
    // Recovery id 2 or 27 (Ethereum style) are refused.
    let mut v = signed(0, b.clone(), &good);
    v.signatures[0].recovery_id = 2;
    assert_eq!(err(&v), 208);
    v.signatures[0].recovery_id = 27;
    assert_eq!(err(&v), 208);
    // High S: (r, n − s) with the flipped recovery id recovers the same key
    // but is not canonical.
    let mut v = signed(0, b.clone(), &good);
    let s0 = &v.signatures[0];
    let sig = k256::ecdsa::Signature::from_slice(&s0.rs).unwrap();
    let (r, s) = sig.split_scalars();
    let high = k256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    let mut rs = [0u8; 64];
    rs.copy_from_slice(&high.to_bytes());
    v.signatures[0] = GuardianSignature {
        guardian_index: 0,
        rs,
        recovery_id: s0.recovery_id ^ 1,
    };
    assert_eq!(err(&v), 208);
    // Zero r or s.
    let mut v = signed(0, b.clone(), &good);
    v.signatures[0].rs = [0; 64];
    assert_eq!(err(&v), 208);
    // The same address at two indices of a set counts once.
    let mut dup = devnet::set(4);
    dup[3] = dup[0];
    let v = signed(0, b.clone(), &[0, 1, 2]);
    v.verify_signatures(&dup).unwrap();
    let mut v = signed(0, b.clone(), &[0, 1]);
    let mut extra = signed(0, b.clone(), &[0]).signatures[0].clone();
    extra.guardian_index = 3;
    v.signatures.push(extra);
    assert_eq!(code(&v.verify_signatures(&dup).unwrap_err()), 209);
    // An empty set is unknown.
    assert_eq!(code(&v.verify_signatures(&[]).unwrap_err()), 203);
}

#[test]
fn truncated_and_foreign_bytes_are_malformed_not_panics() {
    let bytes = signed(0, body(&[1; 40], 9), &[0, 1, 2]).serialize();
    for cut in 0..bytes.len() {
        let r = Vaa::parse(&bytes[..cut]);
        // Cuts inside the payload still parse (the payload's own parser
        // checks its length); everything before it is malformed.
        if cut < bytes.len() - 40 {
            let e = r.unwrap_err();
            assert!(matches!(code(&e), 201 | 202), "cut {cut}: {e}");
        }
    }
    let mut v2 = bytes.clone();
    v2[0] = 2;
    assert_eq!(code(&Vaa::parse(&v2).unwrap_err()), 202);
}

#[test]
fn payloads_are_exact_length() {
    let d = Deposit {
        mint: [1; 32],
        amount: 5,
        decimals: 6,
        sender: [2; 32],
        recipient: [3; 20],
        app_chain_id: [4; 32],
    };
    let bytes = d.to_bytes();
    assert_eq!(bytes.len(), 130);
    assert_eq!(Deposit::parse(&bytes).unwrap(), d);
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(code(&Deposit::parse(&long).unwrap_err()), 212);
    assert_eq!(code(&Deposit::parse(&bytes[..129]).unwrap_err()), 212);
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(code(&Deposit::parse(&magic).unwrap_err()), 212);
    let mut ver = bytes.clone();
    ver[4] = 2;
    assert_eq!(code(&Deposit::parse(&ver).unwrap_err()), 212);
    let zero = Deposit {
        amount: 0,
        ..d.clone()
    }
    .to_bytes();
    assert_eq!(code(&Deposit::parse(&zero).unwrap_err()), 212);
    // u64::MAX is a valid amount: no truncation to 8 decimals.
    let max = Deposit {
        amount: u64::MAX,
        ..d
    }
    .to_bytes();
    assert_eq!(Deposit::parse(&max).unwrap().amount, u64::MAX);

    let u = GuardianSetUpgrade {
        chain: 0,
        new_index: 4,
        keys: devnet::set(3),
    };
    let p = u.to_bytes();
    assert_eq!(GuardianSetUpgrade::parse(&p).unwrap(), u);
    let mut long = p.clone();
    long.push(0);
    assert_eq!(code(&GuardianSetUpgrade::parse(&long).unwrap_err()), 220);
    let mut other_action = p.clone();
    other_action[32] = 1; // ContractUpgrade
    assert_eq!(
        code(&GuardianSetUpgrade::parse(&other_action).unwrap_err()),
        219
    );
    let mut other_module = p.clone();
    other_module[28..32].copy_from_slice(b"Tokn");
    assert_eq!(
        code(&GuardianSetUpgrade::parse(&other_module).unwrap_err()),
        219
    );
    let mut chain = p;
    chain[34] = 3;
    assert_eq!(code(&GuardianSetUpgrade::parse(&chain).unwrap_err()), 220);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn parse_of_serialize_is_identity(
        set in any::<u32>(),
        sigs in proptest::collection::vec((any::<u8>(), any::<[u8; 32]>(), any::<[u8; 32]>(), any::<u8>()), 0..20),
        header in any::<[u8; 51]>(),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let body = [&header[..], &payload].concat();
        let v = Vaa {
            guardian_set_index: set,
            signatures: sigs.iter().map(|(i, r, s, rid)| GuardianSignature {
                guardian_index: *i,
                rs: { let mut a = [0u8; 64]; a[..32].copy_from_slice(r); a[32..].copy_from_slice(s); a },
                recovery_id: *rid,
            }).collect(),
            timestamp: u32::from_be_bytes(header[0..4].try_into().unwrap()),
            nonce: u32::from_be_bytes(header[4..8].try_into().unwrap()),
            emitter_chain: u16::from_be_bytes(header[8..10].try_into().unwrap()),
            emitter_address: header[10..42].try_into().unwrap(),
            sequence: u64::from_be_bytes(header[42..50].try_into().unwrap()),
            consistency_level: header[50],
            body,
        };
        let bytes = v.serialize();
        prop_assert_eq!(Vaa::parse(&bytes).unwrap(), v);
        prop_assert_eq!(Vaa::parse(&bytes).unwrap().serialize(), bytes);
    }
}

proptest! {
    // Each case verifies 3 signatures; flips cover header and payload.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_single_bit_flip_of_a_signed_body_fails(bit in 0usize..(8 * (51 + 130))) {
        let set = devnet::set(4);
        let v = signed(0, body(&[5; 130], 77), &[0, 1, 3]);
        v.verify_signatures(&set).unwrap();
        let mut bytes = v.serialize();
        let body_start = bytes.len() - v.body.len();
        bytes[body_start + bit / 8] ^= 1 << (bit % 8);
        let flipped = Vaa::parse(&bytes).unwrap();
        let e = flipped.verify_signatures(&set).unwrap_err();
        prop_assert_eq!(code(&e), 208, "{}", e);
        prop_assert_ne!(keccak256(&flipped.body), v.body_hash());
    }
}
