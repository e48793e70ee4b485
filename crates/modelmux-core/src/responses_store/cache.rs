//! The bounded in-process cache in front of the response backend: parsed responses by id,
//! least recently used evicted first once either the entry count or the byte total (the
//! length of the stored JSON) is over its limit. An entry is *durable* once the backend has
//! it; `ResponseStore` re-validates a durable hit against the backend (a cheap existence
//! check) so a delete or expiry seen by another instance is never hidden, and serves a
//! pending one (a streamed answer whose background write has not landed, or a write that
//! failed during a store outage) from here alone.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use super::Stored;

/// How much the cache may hold.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimits {
    pub entries: usize,
    pub bytes: usize,
}

impl Default for CacheLimits {
    fn default() -> Self {
        Self {
            entries: 1024,
            bytes: 64 << 20,
        }
    }
}

#[derive(Debug)]
struct Entry {
    stored: Arc<Stored>,
    bytes: usize,
    seq: u64,
    durable: bool,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Entry>,
    /// Recency: sequence number of the last use → id.
    order: BTreeMap<u64, String>,
    bytes: usize,
    next: u64,
    /// Ids deleted while their background write was in flight.
    tombstones: HashSet<String>,
}

impl Inner {
    fn remove(&mut self, id: &str) -> Option<Entry> {
        let e = self.map.remove(id)?;
        self.order.remove(&e.seq);
        self.bytes -= e.bytes;
        Some(e)
    }
}

/// A cache hit: the response and whether the backend is known to hold it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub stored: Arc<Stored>,
    pub durable: bool,
}

#[derive(Debug, Default)]
pub struct Cache {
    limits: CacheLimits,
    inner: Mutex<Inner>,
}

impl Cache {
    pub fn new(limits: CacheLimits) -> Self {
        Self {
            limits: CacheLimits {
                entries: limits.entries.max(1),
                bytes: limits.bytes,
            },
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Caches `stored` (`bytes` long as JSON), evicting the least recently used entries
    /// to make room. An entry bigger than the whole byte limit is not cached.
    pub fn insert(&self, id: &str, stored: Arc<Stored>, bytes: usize, durable: bool) {
        let mut inner = self.lock();
        inner.remove(id);
        if bytes > self.limits.bytes {
            return;
        }
        while inner.map.len() >= self.limits.entries || inner.bytes + bytes > self.limits.bytes {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            if let Some(e) = inner.map.remove(&oldest) {
                inner.bytes -= e.bytes;
            }
        }
        let seq = inner.next;
        inner.next += 1;
        inner.order.insert(seq, id.to_owned());
        inner.bytes += bytes;
        inner.map.insert(
            id.to_owned(),
            Entry {
                stored,
                bytes,
                seq,
                durable,
            },
        );
    }

    /// The entry for `id`, marked as just used.
    pub fn get(&self, id: &str) -> Option<Hit> {
        let mut inner = self.lock();
        let seq = inner.next;
        let e = inner.map.get_mut(id)?;
        let old = std::mem::replace(&mut e.seq, seq);
        let hit = Hit {
            stored: Arc::clone(&e.stored),
            durable: e.durable,
        };
        inner.next += 1;
        inner.order.remove(&old);
        inner.order.insert(seq, id.to_owned());
        Some(hit)
    }

    /// Records that the backend now holds `id` (if it is still this very entry).
    pub fn mark_durable(&self, id: &str, stored: &Arc<Stored>) {
        if let Some(e) = self.lock().map.get_mut(id)
            && Arc::ptr_eq(&e.stored, stored)
        {
            e.durable = true;
        }
    }

    /// Drops `id`; the entry it held.
    pub fn remove(&self, id: &str) -> Option<Hit> {
        self.lock().remove(id).map(|e| Hit {
            stored: e.stored,
            durable: e.durable,
        })
    }

    /// Notes that `id` was deleted while its background write may still be in flight.
    pub fn tombstone(&self, id: &str) {
        let mut inner = self.lock();
        if inner.tombstones.len() >= self.limits.entries {
            // Bounded: a lost tombstone only leaves a deleted response until it expires.
            inner.tombstones.clear();
        }
        inner.tombstones.insert(id.to_owned());
    }

    /// Whether `id` was deleted while its write was in flight (and forgets it).
    pub fn take_tombstone(&self, id: &str) -> bool {
        self.lock().tombstones.remove(id)
    }

    /// Whether no tombstone is pending.
    #[cfg(test)]
    pub fn lock_tombstones_empty(&self) -> bool {
        self.lock().tombstones.is_empty()
    }

    /// Entries and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.map.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(owner: &str) -> Arc<Stored> {
        Arc::new(Stored {
            response: serde_json::json!({}),
            input_items: Vec::new(),
            owner: owner.to_owned(),
            expires_ms: i64::MAX,
        })
    }

    #[test]
    fn bounded_by_count_and_bytes_lru_first() {
        let c = Cache::new(CacheLimits {
            entries: 2,
            bytes: 100,
        });
        c.insert("a", stored("o"), 10, true);
        c.insert("b", stored("o"), 10, true);
        assert!(c.get("a").is_some(), "a is now the most recent");
        c.insert("c", stored("o"), 10, true);
        assert!(c.get("b").is_none(), "b was least recently used");
        assert!(c.get("a").is_some() && c.get("c").is_some());
        c.insert("d", stored("o"), 95, false);
        assert_eq!(c.usage(), (1, 95), "bytes over the limit evict");
        c.insert("e", stored("o"), 101, true);
        assert!(c.get("e").is_none(), "bigger than the limit: not cached");
        let d = c.get("d").unwrap();
        assert!(!d.durable);
        c.mark_durable("d", &d.stored);
        assert!(c.get("d").unwrap().durable);
        assert!(c.remove("d").is_some());
        assert_eq!(c.usage(), (0, 0));
    }
}
