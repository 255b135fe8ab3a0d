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

/// A key chain read back from disk.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    /// `s_0`.
    pub(crate) seed: [u8; 32],
    /// Links.
    pub(crate) len: u32,
    /// `H^len(s_0)`.
    pub(crate) tip: [u8; 32],
}

impl Stored {
    /// The preimage to reveal after `used` reveals: `s_{len-used-1}`, or
    /// `None` when the chain is used up.
    pub(crate) fn next_reveal(&self, used: u32) -> Option<[u8; 32]> {
        let n = self.len.checked_sub(used)?.checked_sub(1)?;
        Some(walk(self.seed, n))
    }
}

/// Reads the key chain of `operator`, checking that its seed walks to its
/// tip (a damaged file would otherwise reveal wrong keys on chain).
pub(crate) fn load(home: &Path, operator: &Address) -> Result<Stored> {
    let path = path(home, operator);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read the key chain {} (written by `comrade tx compute register` on this --home)",
            path.display()
        )
    })?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let field = |name: &str| -> Result<[u8; 32]> {
        let s = v
            .get(name)
            .and_then(serde_json::Value::as_str)
            .with_context(|| format!("{} has no {name}", path.display()))?;
        hex::decode(s)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .with_context(|| format!("{}: {name} is not 32 hex bytes", path.display()))
    };
    let seed = field("seed")?;
    let tip = field("tip")?;
    let len = v
        .get("len")
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .with_context(|| format!("{} has no valid len", path.display()))?;
    if walk(seed, len) != tip {
        bail!(
            "{}: the seed does not walk to the tip in {len} steps (damaged file)",
            path.display()
        );
    }
    Ok(Stored { seed, len, tip })
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
        let c = create(dir.path(), &op, 7).unwrap();
        let stored = load(dir.path(), &op).unwrap();
        assert_eq!(stored.tip, c.tip);
        assert_eq!(stored.len, 7);
        // Reveals go down the chain, each hashing to the one before.
        let first = stored.next_reveal(0).unwrap();
        assert_eq!(<[u8; 32]>::from(Sha256::digest(first)), c.tip);
        let second = stored.next_reveal(1).unwrap();
        assert_eq!(<[u8; 32]>::from(Sha256::digest(second)), first);
        assert_eq!(stored.next_reveal(6), Some(stored.seed));
        assert_eq!(stored.next_reveal(7), None);
    }

    #[test]
    fn a_damaged_chain_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let op = Address([6; 20]);
        create(dir.path(), &op, 5).unwrap();
        let p = path(dir.path(), &op);
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        v["len"] = 4.into();
        std::fs::write(&p, v.to_string()).unwrap();
        let e = load(dir.path(), &op).unwrap_err().to_string();
        assert!(e.contains("damaged"), "{e}");
        std::fs::write(&p, "not json").unwrap();
        assert!(load(dir.path(), &op).is_err());
    }
}
