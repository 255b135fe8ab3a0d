//! A read-through cache of the latest committed state in front of
//! cnidarium's snapshots.
//!
//! Every read that misses a `StateDelta` reaches the RocksDB snapshot through
//! one `spawn_blocking` hop (two thread switches), and CheckTx,
//! PrepareProposal, ProcessProposal and FinalizeBlock read the same accounts
//! and balances again and again. [`CachedSnapshot`] answers those reads from
//! memory. The cache holds values of exactly one version, the latest
//! committed one: `Commit` moves it to the next version by applying the
//! block's writes, and a snapshot of any other version bypasses it. So each
//! read returns exactly what the snapshot holds, and the cache cannot change
//! an outcome; it is memory only and starts empty after a restart.

use std::{
    collections::BTreeMap,
    ops::RangeBounds,
    sync::{Arc, Mutex, MutexGuard},
};

use anyhow::Result;
use cnidarium::{Snapshot, StateRead};
use futures::future::BoxFuture;

/// Entries kept before the cache starts over (values are small: accounts
/// and balances are well under 200 bytes).
const MAX_ENTRIES: usize = 1 << 20;

/// Committed values by key (`None`: the key does not exist), for one version.
#[derive(Debug)]
pub struct ReadCache {
    inner: Mutex<Entries>,
}

#[derive(Debug)]
struct Entries {
    version: u64,
    map: BTreeMap<String, Option<Vec<u8>>>,
}

impl ReadCache {
    /// An empty cache for committed version `version`.
    pub fn new(version: u64) -> Self {
        ReadCache {
            inner: Mutex::new(Entries {
                version,
                map: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // Every update below leaves the map consistent with `version`.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, version: u64, key: &str) -> Option<Option<Vec<u8>>> {
        let e = self.lock();
        if e.version != version {
            return None;
        }
        e.map.get(key).cloned()
    }

    fn fill(&self, version: u64, key: String, value: Option<Vec<u8>>) {
        let mut e = self.lock();
        if e.version != version {
            return;
        }
        if e.map.len() >= MAX_ENTRIES {
            e.map.clear();
        }
        e.map.insert(key, value);
    }

    /// Moves the cache to `version`, whose writes over the previous version
    /// are `writes`; starts over empty if the cache was not at the previous
    /// version.
    pub fn advance(&self, version: u64, writes: &BTreeMap<String, Option<Vec<u8>>>) {
        let mut e = self.lock();
        if e.version.wrapping_add(1) == version {
            for (k, v) in writes {
                e.map.insert(k.clone(), v.clone());
            }
            if e.map.len() > MAX_ENTRIES {
                e.map.clear();
            }
        } else {
            e.map.clear();
        }
        e.version = version;
    }

    /// Empties the cache and moves it to `version`.
    pub fn reset(&self, version: u64) {
        let mut e = self.lock();
        e.map.clear();
        e.version = version;
    }

    /// Number of cached keys (for tests).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A snapshot whose reads go through the shared [`ReadCache`].
#[derive(Clone)]
pub struct CachedSnapshot {
    snapshot: Snapshot,
    cache: Arc<ReadCache>,
}

impl std::fmt::Debug for CachedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedSnapshot")
            .field("version", &self.snapshot.version())
            .finish_non_exhaustive()
    }
}

impl CachedSnapshot {
    /// Wraps `snapshot`; reads use `cache` when it is at the same version.
    pub fn new(snapshot: Snapshot, cache: Arc<ReadCache>) -> Self {
        CachedSnapshot { snapshot, cache }
    }

    /// The JMT version of the snapshot.
    pub fn version(&self) -> u64 {
        self.snapshot.version()
    }

    /// The plain snapshot (for committing and proofs).
    pub fn into_snapshot(self) -> Snapshot {
        self.snapshot
    }
}

impl StateRead for CachedSnapshot {
    type GetRawFut = BoxFuture<'static, Result<Option<Vec<u8>>>>;
    type PrefixRawStream = <Snapshot as StateRead>::PrefixRawStream;
    type PrefixKeysStream = <Snapshot as StateRead>::PrefixKeysStream;
    type NonconsensusPrefixRawStream = <Snapshot as StateRead>::NonconsensusPrefixRawStream;
    type NonconsensusRangeRawStream = <Snapshot as StateRead>::NonconsensusRangeRawStream;

    fn get_raw(&self, key: &str) -> Self::GetRawFut {
        let version = self.snapshot.version();
        if let Some(v) = self.cache.get(version, key) {
            return Box::pin(std::future::ready(Ok(v)));
        }
        let read = self.snapshot.get_raw(key);
        let cache = self.cache.clone();
        let key = key.to_string();
        Box::pin(async move {
            let v = read.await?;
            cache.fill(version, key, v.clone());
            Ok(v)
        })
    }

    fn nonverifiable_get_raw(&self, key: &[u8]) -> Self::GetRawFut {
        Box::pin(self.snapshot.nonverifiable_get_raw(key))
    }

    fn object_get<T: std::any::Any + Send + Sync + Clone>(&self, key: &'static str) -> Option<T> {
        self.snapshot.object_get(key)
    }

    fn object_type(&self, key: &'static str) -> Option<std::any::TypeId> {
        self.snapshot.object_type(key)
    }

    fn prefix_raw(&self, prefix: &str) -> Self::PrefixRawStream {
        self.snapshot.prefix_raw(prefix)
    }

    fn prefix_keys(&self, prefix: &str) -> Self::PrefixKeysStream {
        self.snapshot.prefix_keys(prefix)
    }

    fn nonverifiable_prefix_raw(&self, prefix: &[u8]) -> Self::NonconsensusPrefixRawStream {
        self.snapshot.nonverifiable_prefix_raw(prefix)
    }

    fn nonverifiable_range_raw(
        &self,
        prefix: Option<&[u8]>,
        range: impl RangeBounds<Vec<u8>>,
    ) -> Result<Self::NonconsensusRangeRawStream> {
        self.snapshot.nonverifiable_range_raw(prefix, range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_answers_only_for_its_version_and_advances_by_writes() {
        let c = ReadCache::new(4);
        c.fill(4, "a".into(), Some(vec![1]));
        c.fill(3, "b".into(), Some(vec![2])); // other version: ignored
        assert_eq!(c.get(4, "a"), Some(Some(vec![1])));
        assert_eq!(c.get(4, "b"), None);
        assert_eq!(c.get(5, "a"), None);
        let writes = BTreeMap::from([("a".to_string(), None), ("c".to_string(), Some(vec![3]))]);
        c.advance(5, &writes);
        assert_eq!(c.get(5, "a"), Some(None));
        assert_eq!(c.get(5, "c"), Some(Some(vec![3])));
        assert_eq!(c.get(4, "c"), None);
        // A gap in versions starts over.
        c.advance(7, &writes);
        assert!(c.is_empty());
        c.reset(u64::MAX);
        c.advance(0, &writes); // pre-genesis wraps to version 0
        assert_eq!(c.len(), 2);
    }
}
