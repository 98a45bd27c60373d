//! WATCH's touched-key signal: which clients watch which keys, and the flag a write raises
//! for each (Redis's `watched_keys` and `CLIENT_DIRTY_CAS`).
//!
//! Every client write reaches [`super::Context::notify`] (both protocols, scripts, EXEC's
//! own commands), which calls [`Watches::touch`]: with no key watched anywhere that is one
//! relaxed atomic load and nothing else, so clients that never WATCH pay nothing more.
//! Otherwise the key's shard is locked and every watcher of that key in that database gets
//! its flag raised; EXEC aborts when its flag is up.
//!
//! This catches what comparing a key's state at EXEC cannot: a key absent at WATCH that is
//! created and deleted again, an EXPIRE to the same time, a SET of the same bytes. Removals
//! the store makes on its own (expiry, eviction) and FLUSHDB/FLUSHALL/SWAPDB are seen by
//! that comparison instead (a key that existed is gone or replaced; Redis also leaves a key
//! absent on both sides untouched), see `resp::transaction`.
//!
//! Ordering: WATCH registers a key before it reads the key's state (under the key's
//! stripe lock), and a write calls `touch` after it changed the item (under that lock);
//! a write the state read did not see took the stripe lock after the read released it,
//! so its `touch` comes after the registration and finds it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

const SHARDS: usize = 64;

/// One client's "a watched key was touched" flag.
pub type DirtyFlag = Arc<AtomicBool>;

/// Watched key → (database, watcher's flag) for every watch of that key name.
type Shard = HashMap<Box<[u8]>, Vec<(u8, DirtyFlag)>>;

/// Every watched key of every client.
pub struct Watches {
    /// Registrations in all shards (the write path's check).
    active: AtomicUsize,
    shards: Box<[Mutex<Shard>]>,
}

impl Default for Watches {
    fn default() -> Self {
        Watches {
            active: AtomicUsize::new(0),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

impl std::fmt::Debug for Watches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watches")
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish()
    }
}

fn shard_of(key: &[u8]) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for &c in key {
        h = (h ^ u32::from(c)).wrapping_mul(0x0100_0193);
    }
    h as usize % SHARDS
}

impl Watches {
    /// `key` in `db` was written: raise the flag of everyone watching it.
    #[inline]
    pub fn touch(&self, db: u8, key: &[u8]) {
        if self.active.load(Ordering::Relaxed) != 0 {
            self.touch_watched(db, key);
        }
    }

    #[cold]
    fn touch_watched(&self, db: u8, key: &[u8]) {
        let shard = self.shards[shard_of(key)].lock();
        if let Some(watchers) = shard.get(key) {
            for (_, flag) in watchers.iter().filter(|(d, _)| *d == db) {
                flag.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Starts watching `key` in `db` for the client owning `flag`.
    pub fn watch(&self, db: u8, key: &[u8], flag: &DirtyFlag) {
        self.active.fetch_add(1, Ordering::SeqCst);
        let mut shard = self.shards[shard_of(key)].lock();
        shard
            .entry(key.into())
            .or_default()
            .push((db, flag.clone()));
    }

    /// Stops watching `key` in `db` for the client owning `flag`.
    pub fn unwatch(&self, db: u8, key: &[u8], flag: &DirtyFlag) {
        let mut shard = self.shards[shard_of(key)].lock();
        let Some(watchers) = shard.get_mut(key) else {
            return;
        };
        let Some(i) = watchers
            .iter()
            .position(|(d, f)| *d == db && Arc::ptr_eq(f, flag))
        else {
            return;
        };
        watchers.swap_remove(i);
        if watchers.is_empty() {
            shard.remove(key);
        }
        self.active.fetch_sub(1, Ordering::SeqCst);
    }

    /// Keys watched, all clients and databases together.
    pub fn len(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touch_raises_only_the_watchers_of_that_key_in_that_database() {
        let w = Watches::default();
        let (a, b) = (DirtyFlag::default(), DirtyFlag::default());
        w.touch(0, b"k");
        w.watch(0, b"k", &a);
        w.watch(1, b"k", &b);
        w.touch(0, b"other");
        w.touch(2, b"k");
        assert!(!a.load(Ordering::Relaxed) && !b.load(Ordering::Relaxed));
        w.touch(0, b"k");
        assert!(a.load(Ordering::Relaxed) && !b.load(Ordering::Relaxed));
        assert_eq!(w.len(), 2);
        w.unwatch(0, b"k", &a);
        w.unwatch(1, b"k", &b);
        w.unwatch(1, b"k", &b);
        assert!(w.is_empty());
        w.touch(1, b"k");
        assert!(!b.load(Ordering::Relaxed));
    }
}
