//! T-C4: RFC 6962 vectors and an audit path for every index of trees of
//! size 1…257.

use comrade_exact::merkle::{self, Tree};

/// The eight leaves of the RFC 6962 test vectors (certificate-transparency's
/// merkle_tree_test) and the roots of their prefixes.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn rfc6962_vectors() {
    assert_eq!(
        hex::encode(merkle::empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let leaves: Vec<_> = LEAVES
        .iter()
        .map(|h| merkle::leaf_hash(&hex::decode(h).unwrap()))
        .collect();
    for n in 1..=8 {
        assert_eq!(
            hex::encode(merkle::root(&leaves[..n])),
            ROOTS[n - 1],
            "n = {n}"
        );
    }
}

/// The recursive definition of RFC 6962 §2.1, to check the bottom-up tree.
fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => merkle::empty_root(),
        1 => leaves[0],
        n => {
            let k = 1 << (usize::BITS - (n - 1).leading_zeros() - 1);
            merkle::node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

#[test]
fn every_path_of_every_tree_up_to_257_verifies_and_no_other_does() {
    for n in 1..=257u64 {
        let leaves: Vec<_> = (0..n)
            .map(|i| merkle::leaf_hash(&i.to_le_bytes()))
            .collect();
        let tree = Tree::from_leaves(leaves.clone());
        assert_eq!(tree.root(), mth(&leaves), "n = {n}");
        for i in 0..n {
            let path = tree.path(i).unwrap();
            let leaf = leaves[i as usize];
            assert!(
                merkle::verify(&tree.root(), n, i, &leaf, &path),
                "n {n} i {i}"
            );
            // wrong index, wrong size, wrong leaf, truncated path
            if n > 1 {
                assert!(!merkle::verify(&tree.root(), n, (i + 1) % n, &leaf, &path));
            }
            assert!(!merkle::verify(
                &tree.root(),
                n,
                i,
                &merkle::leaf_hash(b"x"),
                &path
            ));
            if !path.is_empty() {
                assert!(!merkle::verify(
                    &tree.root(),
                    n,
                    i,
                    &leaf,
                    &path[..path.len() - 1]
                ));
            }
        }
        assert!(tree.path(n).is_none());
        assert!(!merkle::verify(&tree.root(), n, n, &leaves[0], &[]));
    }
}
