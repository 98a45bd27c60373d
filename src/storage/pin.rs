//! Pinned items: a large value is sent from slab memory (a vectored write of its pieces)
//! instead of being copied into the connection's write buffer, as memcached sends an item
//! it holds a reference to. While the reply is unsent the item is *pinned*: its bytes
//! stay as they are until [`Store::unpin`].
//!
//! A pin is taken under the item's stripe lock while the item is linked (a get), so it is
//! ordered with every unlink of that item. What a pin holds off:
//!
//! - freeing (delete, overwrite, expiry or flush reclaim under the stripe lock): the item is
//!   unlinked at once (readers no longer see it, it is no longer counted), but its chunks go
//!   back to their classes only when the last pin goes (`free_item` defers to
//!   [`Store::unpin`]);
//! - the eviction hand, the crawler and page moves (`unlink_victim`) pass a pinned item by
//!   as they pass an item whose stripe is busy, and a page holding one is busy;
//! - a page-mover rescue copies no pinned item, and an in-place incr/decr of a pinned
//!   value (a numeric value long enough to be pinned: leading blanks) writes a new item.
//!
//! The pins are a map from head chunk to count under one mutex, plus an atomic count so that
//! every check costs one relaxed load while nothing is pinned. Only values of at least
//! `SEND_MIN` bytes (the caller's choice; the memcached protocol's is 16 KiB) are pinned, so
//! the mutex is taken once per large value sent and once per free while any is pinned.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::arena::ChunkId;
use super::item::Item;

/// An item whose value is being sent from slab memory; give it back with
/// [`Store::unpin`](super::Store::unpin) once the value is written (or will not be).
#[derive(Debug)]
pub struct Pinned {
    head: ChunkId,
    len: usize,
}

impl Pinned {
    /// The value's length.
    pub fn value_len(&self) -> usize {
        self.len
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Pin {
    refs: u32,
    /// Unlinked while pinned: free it with the last pin.
    freed: bool,
}

/// The pinned items of a store.
#[derive(Debug, Default)]
pub struct Pins {
    pinned: AtomicUsize,
    map: Mutex<HashMap<ChunkId, Pin>>,
}

impl Pins {
    /// Pins a linked item (the caller holds its stripe lock).
    pub fn pin(&self, it: Item<'_>) -> Pinned {
        let mut map = self.map.lock();
        map.entry(it.chunk).or_default().refs += 1;
        self.pinned.store(map.len(), Ordering::Relaxed);
        Pinned {
            head: it.chunk,
            len: it.value_len(),
        }
    }

    /// Whether the item at `head` is pinned (one load while nothing is). Reliable under
    /// the item's stripe lock, where new pins are taken.
    pub fn is_pinned(&self, head: ChunkId) -> bool {
        self.pinned.load(Ordering::Relaxed) != 0 && self.map.lock().contains_key(&head)
    }

    /// An unlinked item is about to be freed: true when it is pinned (the last unpin frees
    /// it instead).
    pub fn defer_free(&self, head: ChunkId) -> bool {
        if self.pinned.load(Ordering::Relaxed) == 0 {
            return false;
        }
        match self.map.lock().get_mut(&head) {
            Some(p) => {
                p.freed = true;
                true
            }
            None => false,
        }
    }

    /// Drops one pin; true when it was the last one of an item freed meanwhile (the caller
    /// frees it now).
    fn unpin(&self, p: Pinned) -> bool {
        let mut map = self.map.lock();
        let Some(pin) = map.get_mut(&p.head) else {
            debug_assert!(false, "unpin of an item not pinned");
            return false;
        };
        pin.refs -= 1;
        if pin.refs > 0 {
            return false;
        }
        let freed = pin.freed;
        map.remove(&p.head);
        self.pinned.store(map.len(), Ordering::Relaxed);
        freed
    }
}

impl super::Store {
    /// Calls `f` with each piece of a pinned value, in order (the bytes cannot change while
    /// the pin is held).
    pub fn pinned_pieces<'a>(&'a self, p: &Pinned, f: impl FnMut(&'a [u8])) {
        let it = Item::new(&self.core.arena, p.head);
        it.for_each_piece(self.core.config.slab_chunk_max, f);
    }

    /// Gives a pin back; frees the item when it was unlinked while pinned.
    pub fn unpin(&self, p: Pinned) {
        let head = p.head;
        if self.core.pins.unpin(p) {
            self.core.free_item_now(head);
        }
    }

    /// Items pinned now (for tests and `stats`).
    pub fn pinned_items(&self) -> usize {
        self.core.pins.pinned.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::{
        Clock, Delete, Expiry, Lookup, Mode, ReadOptions, Store, StoreConfig, Write,
    };
    use std::sync::Arc;

    fn store(limit: usize) -> Store {
        let config = StoreConfig {
            memory_limit: limit,
            ..StoreConfig::default()
        };
        Store::new(config, Arc::new(Clock::manual(1_700_000_000))).unwrap()
    }

    fn pin(s: &Store, key: &[u8]) -> super::Pinned {
        match s.get(0, key, &ReadOptions::default(), |v| v.pin()) {
            Lookup::Hit(Some(p)) => p,
            _ => panic!("no pin"),
        }
    }

    fn pieces(s: &Store, p: &super::Pinned) -> Vec<u8> {
        let mut v = Vec::new();
        s.pinned_pieces(p, |piece| v.extend_from_slice(piece));
        v
    }

    fn used_chunks(s: &Store) -> u64 {
        s.slab_stats().iter().map(|c| c.used_chunks).sum()
    }

    #[test]
    fn a_pinned_value_outlives_delete_and_overwrite_and_is_freed_with_the_last_pin() {
        let s = store(8 << 20);
        for (key, len) in [(&b"plain"[..], 100_000), (&b"chained"[..], 1_000_000)] {
            let old = vec![b'o'; len];
            s.store(&Write::new(0, key, &old, 0, Expiry::Never, Mode::Set));
            let (a, b) = (pin(&s, key), pin(&s, key));
            let used = used_chunks(&s);
            // Overwritten: the old chunks are not given back while pinned.
            let new = vec![b'n'; len];
            s.store(&Write::new(0, key, &new, 0, Expiry::Never, Mode::Set));
            let after_overwrite = used_chunks(&s);
            assert!(
                after_overwrite > used,
                "{key:?}: new chunks taken, old kept"
            );
            s.delete(&Delete {
                db: 0,
                key,
                compare_cas: None,
                invalidate: None,
                drop_value: false,
            });
            assert_eq!(pieces(&s, &a), old);
            assert_eq!(s.pinned_items(), 1);
            s.unpin(a);
            assert_eq!(used_chunks(&s), used, "one pin left: nothing freed");
            assert_eq!(pieces(&s, &b), old);
            s.unpin(b);
            assert_eq!(s.pinned_items(), 0);
            assert_eq!(used_chunks(&s), 0, "{key:?}: everything freed");
        }
    }

    #[test]
    fn eviction_passes_pinned_items_by() {
        // 4 pages: fill with 200 KB values while the first is pinned.
        let s = store(4 << 20);
        let first = vec![b'f'; 200_000];
        s.store(&Write::new(0, b"k0", &first, 0, Expiry::Never, Mode::Set));
        let p = pin(&s, b"k0");
        for i in 1..100 {
            let key = format!("k{i}");
            let v = vec![b'x'; 200_000];
            s.store(&Write::new(
                0,
                key.as_bytes(),
                &v,
                0,
                Expiry::Never,
                Mode::Set,
            ));
        }
        assert!(s.stats().evictions > 0);
        assert_eq!(pieces(&s, &p), first);
        match s.get(0, b"k0", &ReadOptions::default(), |_| ()) {
            Lookup::Hit(()) => {}
            other => panic!("pinned item evicted: {other:?}"),
        }
        s.unpin(p);
    }
}
