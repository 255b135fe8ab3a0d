//! The leaves of a sprint, kept on disk between the commitment and the
//! reveal: a worker restarted in between reloads them instead of missing
//! the sprint (and being slashed for it). Raw 32-byte leaves in row order,
//! at `<home>/compute/sprint-<operator>-<epoch>.leaves`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use comrade_exact::Hash;
use comrade_primitives::Address;

/// Where the leaves of `operator`'s sprint `epoch` live.
pub(crate) fn path(home: &Path, operator: &Address, epoch: u64) -> PathBuf {
    home.join("compute")
        .join(format!("sprint-{operator}-{epoch}.leaves"))
}

/// Writes `leaves` to `path` durably (temp file, fsync, rename): the
/// commitment is only sent once this returned.
pub(crate) fn save(path: &Path, leaves: &[Hash]) -> Result<()> {
    let dir = path.parent().context("leaves path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = path.with_extension("leaves.tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let bytes: Vec<u8> = leaves.iter().flatten().copied().collect();
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}

/// The leaves at `path`, or `None` when there is no such file.
pub(crate) fn load(path: &Path) -> Result<Option<Vec<Hash>>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if bytes.len() % 32 != 0 {
        bail!(
            "{} has {} bytes, not a whole number of 32-byte leaves",
            path.display(),
            bytes.len()
        );
    }
    Ok(Some(
        bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect(),
    ))
}

/// Removes the leaf files of `operator`'s sprints before `epoch` (settled:
/// nothing will be opened from them again).
pub(crate) fn prune(home: &Path, operator: &Address, epoch: u64) {
    let Ok(dir) = std::fs::read_dir(home.join("compute")) else {
        return;
    };
    let prefix = format!("sprint-{operator}-");
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(e) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".leaves"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        if e < epoch {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn leaves_round_trip_and_old_sprints_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let op = Address([3; 20]);
        let leaves: Vec<Hash> = (0..5u8).map(|i| [i; 32]).collect();
        for e in [4, 5, 6] {
            save(&path(dir.path(), &op, e), &leaves).unwrap();
        }
        assert_eq!(
            load(&path(dir.path(), &op, 5)).unwrap(),
            Some(leaves.clone())
        );
        assert_eq!(load(&path(dir.path(), &op, 9)).unwrap(), None);
        prune(dir.path(), &op, 6);
        assert_eq!(load(&path(dir.path(), &op, 4)).unwrap(), None);
        assert_eq!(load(&path(dir.path(), &op, 5)).unwrap(), None);
        assert_eq!(load(&path(dir.path(), &op, 6)).unwrap(), Some(leaves));
        // A torn file is an error, not a shorter commitment.
        std::fs::write(path(dir.path(), &op, 7), [0u8; 33]).unwrap();
        assert!(load(&path(dir.path(), &op, 7)).is_err());
    }
}
