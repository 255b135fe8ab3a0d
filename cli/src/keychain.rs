//! A compute node's beacon key chain: a secret seed `s_0` and its hash
//! chain `s_{i+1} = SHA-256(s_i)`. Registration publishes the tip
//! `s_len`; the worker reveals `s_{len-1}`, `s_{len-2}`, … one per beacon
//! period. The seed is kept in `<home>/compute/keychain-<operator>.json`
//! (mode 0600).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use comrade_primitives::Address;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A key chain written to disk.
#[derive(Debug)]
pub(crate) struct KeyChain {
    /// The tip to register.
    pub(crate) tip: [u8; 32],
    path: PathBuf,
}

impl KeyChain {
    /// Removes the file (the registration did not happen).
    pub(crate) fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where the key chain of `operator` lives.
pub(crate) fn path(home: &Path, operator: &Address) -> PathBuf {
    home.join("compute")
        .join(format!("keychain-{operator}.json"))
}

/// `H^n(seed)`.
pub(crate) fn walk(seed: [u8; 32], n: u32) -> [u8; 32] {
    (0..n).fold(seed, |h, _| Sha256::digest(h).into())
}

/// Makes a fresh chain of `len` links for `operator`; refuses to replace
/// an existing one (its links may be registered on chain).
pub(crate) fn create(home: &Path, operator: &Address, len: u32) -> Result<KeyChain> {
    let path = path(home, operator);
    if path.exists() {
        bail!(
            "{} exists: a node registers its key chain once (move the file away to start a new one)",
            path.display()
        );
    }
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let tip = walk(seed, len);
    let dir = path.parent().context("key chain path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let body = serde_json::json!({
        "operator": operator.to_string(),
        "seed": hex::encode(seed),
        "len": len,
        "tip": hex::encode(tip),
    });
    write_private(&path, body.to_string().as_bytes())?;
    Ok(KeyChain { tip, path })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_chain_is_written_once_and_its_tip_is_the_seed_walked_len_times() {
        let dir = tempfile::tempdir().unwrap();
        let op = Address([5; 20]);
        let c = create(dir.path(), &op, 7).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path(dir.path(), &op)).unwrap()).unwrap();
        let seed: [u8; 32] = hex::decode(v["seed"].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(walk(seed, 7), c.tip);
        // the first reveal hashes to the tip
        assert_eq!(<[u8; 32]>::from(Sha256::digest(walk(seed, 6))), c.tip);
        assert!(create(dir.path(), &op, 7).is_err());
        c.discard();
        assert!(create(dir.path(), &op, 7).is_ok());
    }
}
