//! The signature cache (see [`SigCache`]).

use std::collections::{BTreeMap, VecDeque};

/// A bounded map from tx hash (sha256 of the raw bytes, signature included)
/// to the account number the signature verified for, under this chain id.
/// Spares CheckTx, recheck, PrepareProposal, ProcessProposal and
/// FinalizeBlock from verifying the same signature up to five times. A hit
/// only skips work whose result is already known, so it cannot change any
/// outcome. Oldest entries are evicted first.
#[derive(Debug, Default)]
pub(crate) struct SigCache {
    map: BTreeMap<[u8; 32], u64>,
    order: VecDeque<[u8; 32]>,
}

impl SigCache {
    /// Entries kept (about 10 MB).
    pub(crate) const CAPACITY: usize = 100_000;

    pub(crate) fn get(&self, hash: &[u8; 32]) -> Option<u64> {
        self.map.get(hash).copied()
    }

    pub(crate) fn insert(&mut self, hash: [u8; 32], account_number: u64) {
        if self.map.insert(hash, account_number).is_none() {
            self.order.push_back(hash);
        }
        while self.order.len() > Self::CAPACITY {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SigCache;

    #[test]
    fn sig_cache_is_bounded_and_evicts_oldest_first() {
        let mut c = SigCache::default();
        let key = |i: usize| {
            let mut k = [0u8; 32];
            k[..8].copy_from_slice(&(i as u64).to_be_bytes());
            k
        };
        for i in 0..SigCache::CAPACITY + 10 {
            c.insert(key(i), i as u64);
        }
        assert_eq!(c.map.len(), SigCache::CAPACITY);
        assert_eq!(c.get(&key(0)), None);
        assert_eq!(c.get(&key(9)), None);
        assert_eq!(c.get(&key(10)), Some(10));
        // Re-inserting an existing key does not duplicate it in the order.
        c.insert(key(10), 10);
        assert_eq!(c.order.len(), SigCache::CAPACITY);
    }
}
