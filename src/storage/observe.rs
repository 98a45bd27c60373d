//! What the store removes on its own (expired and evicted items), and the keys writes
//! create, reported to whoever watches: keyspace notifications (`x`, `e`, `n`),
//! memcached's `watch evictions`, client tracking. One hook, set once at start-up; with
//! none set, a removal or a new key pays one `OnceLock` load.
//!
//! The hook runs under the removing thread's locks (a stripe, and a slab class when the
//! eviction hand or the crawler found the item): it must not call back into the store.

use std::sync::{Arc, OnceLock};

/// Why an item left without a client asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// Its expiry time passed (found by a read, the eviction hand or the crawler).
    Expired,
    /// Evicted to make room (memcached's `watch evictions` line reports these details).
    Evicted(Evicted),
}

/// An evicted item, as memcached's eviction log line describes it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// It had been read since it was stored.
    pub fetched: bool,
    /// Seconds of life it had left; -1 when it had no expiry.
    pub ttl: i64,
    /// Seconds since its last access.
    pub idle: u32,
    /// Slab class id (1-based).
    pub class: u8,
    /// Value bytes.
    pub size: usize,
}

/// Receives removals, and keys a write created.
pub trait Observer: Send + Sync {
    fn removed(&self, why: Removal, db: u8, key: &[u8]);

    /// A write linked an item for a key that had none (Redis's `new` keyspace event). Runs
    /// under the key's stripe lock, before the write returns.
    fn created(&self, _db: u8, _key: &[u8]) {}
}

/// The store's one hook.
#[derive(Default)]
pub struct Observers {
    hook: OnceLock<Arc<dyn Observer>>,
}

impl Observers {
    /// Sets the hook (the first call wins).
    pub fn set(&self, hook: Arc<dyn Observer>) {
        let _ = self.hook.set(hook);
    }

    #[inline]
    pub fn created(&self, db: u8, key: &[u8]) {
        if let Some(h) = self.hook.get() {
            h.created(db, key);
        }
    }

    #[inline]
    pub fn report(&self, why: Removal, db: u8, key: &[u8]) {
        if let Some(h) = self.hook.get() {
            h.removed(why, db, key);
        }
    }
}
