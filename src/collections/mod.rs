//! Redis's collection types as data structures: what a hash, set, list or sorted set looks
//! like in memory, independent of the store that keeps it and of the protocol.
//!
//! Two forms per type, as in Redis:
//!
//! * **Small**: one byte string stored as the value of a slab item, so a small collection
//!   costs what a string of the same bytes costs. [`compact`] is the shared run of
//!   length-prefixed entries (Redis's listpack); [`intset`] is a sorted array of integers
//!   for all-integer sets. The first byte tells them apart (compact 0xC1, intset 2/4/8).
//! * **Large**: a heap object owned by the item, its bytes charged to the `-m` budget:
//!   [`table::Table`] for hashes and sets (O(1) member access, O(1) random member).
//!
//! A collection moves from small to large when an insert crosses a threshold (member count
//! or member length, [`Thresholds`], Redis's `*-max-listpack-*` and `set-max-intset-entries`
//! settings) and never moves back, as in Redis 7.0.
//!
//! Lists and sorted sets keep their own packed runs beside [`compact`]: a list entry also
//! carries its length at its end, so a node is walked from either end (RPOP, LINDEX near
//! the tail, and 8 KiB quicklist-style nodes); a sorted-set entry stores its score as a
//! binary f64, so ordering never parses text. See [`list`] and [`zset`].
//!
//! Files: `compact.rs`, `intset.rs`, `table.rs` (shared forms), `hash.rs`, `set.rs` (colhs);
//! `list.rs`, `zset.rs` (colzl).

/// Implements the store's [`Object`](crate::storage::Object) for a collection's large
/// form (a heap object owned by its item): the item type, the bytes charged to `-m`, and
/// the clone and downcasts every such object has.
/// `impl_object!(List, List, |l| size_of::<List>() + l.heap_bytes())`.
macro_rules! impl_object {
    ($ty:ty, $item:ident, $mem_usage:expr) => {
        impl $crate::storage::Object for $ty {
            fn value_type(&self) -> $crate::storage::ItemType {
                $crate::storage::ItemType::$item
            }
            fn mem_usage(&self) -> usize {
                let bytes: fn(&$ty) -> usize = $mem_usage;
                bytes(self)
            }
            fn duplicate(&self) -> Box<dyn $crate::storage::Object> {
                Box::new(self.clone())
            }
            fn as_any(&self) -> &dyn std::any::Any {
                self
            }
            fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
                self
            }
        }
    };
}
pub(crate) use impl_object;

pub mod compact;
pub mod geohash;
pub mod hash;
pub mod intset;
pub mod list;
pub mod set;
pub mod table;
pub mod varint;
pub mod zset;

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use crate::directives::{parse_memory, Directives};

/// The encoding thresholds (Redis 7.0 names and defaults; the rows are in
/// `src/directives/collections.rs`), changed at run time by CONFIG SET; each command reads
/// the ones it needs once.
#[derive(Debug)]
pub struct Thresholds {
    /// `hash-max-listpack-entries` (alias `hash-max-ziplist-entries`): fields in a compact hash.
    pub hash_max_listpack_entries: AtomicUsize,
    /// `hash-max-listpack-value`: longest field or value in a compact hash.
    pub hash_max_listpack_value: AtomicUsize,
    /// `set-max-intset-entries`: members in an intset.
    pub set_max_intset_entries: AtomicUsize,
    /// `zset-max-listpack-entries` (alias `zset-max-ziplist-entries`).
    pub zset_max_listpack_entries: AtomicUsize,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: AtomicUsize,
    /// `list-max-listpack-size` (alias `list-max-ziplist-size`): entries when positive,
    /// -1..-5 for 4..64 KiB per node.
    pub list_max_listpack_size: AtomicI64,
    /// `list-compress-depth`: accepted and reported; slabd does not compress lists.
    pub list_compress_depth: AtomicI64,
    /// `DEBUG QUICKLIST-PACKED-THRESHOLD`: list elements of at least this many bytes
    /// are alone in their node (Redis's plain nodes; 1 GiB unless a test lowers it).
    pub list_packed_threshold: AtomicUsize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            hash_max_listpack_entries: AtomicUsize::new(512),
            hash_max_listpack_value: AtomicUsize::new(64),
            set_max_intset_entries: AtomicUsize::new(512),
            zset_max_listpack_entries: AtomicUsize::new(128),
            zset_max_listpack_value: AtomicUsize::new(64),
            list_max_listpack_size: AtomicI64::new(-2),
            list_compress_depth: AtomicI64::new(0),
            list_packed_threshold: AtomicUsize::new(list::DEFAULT_PACKED_THRESHOLD),
        }
    }
}

/// Picks one threshold out of [`Thresholds`].
type Field<T> = fn(&Thresholds) -> &T;

/// The limits a hash command checks, read once per command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    pub entries: usize,
    pub value: usize,
}

/// The limit a set command checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetLimits {
    pub intset_entries: usize,
}

impl Thresholds {
    /// The thresholds as `directives` hold them now, kept current by change listeners
    /// (so a command reads an atomic, not the directive table).
    pub fn from_directives(directives: &Directives) -> Arc<Thresholds> {
        let t = Arc::new(Thresholds::default());
        let usize_rows: [(&str, Field<AtomicUsize>); 5] = [
            ("hash-max-listpack-entries", |t| {
                &t.hash_max_listpack_entries
            }),
            ("hash-max-listpack-value", |t| &t.hash_max_listpack_value),
            ("set-max-intset-entries", |t| &t.set_max_intset_entries),
            ("zset-max-listpack-entries", |t| {
                &t.zset_max_listpack_entries
            }),
            ("zset-max-listpack-value", |t| &t.zset_max_listpack_value),
        ];
        for (name, field) in usize_rows {
            let clamp = |n: i64| usize::try_from(n.max(0)).unwrap_or(usize::MAX);
            field(&t).store(clamp(directives.int(name)), Relaxed);
            let me = t.clone();
            directives.on_change(name, move |v| {
                let n = parse_memory(v).ok_or_else(|| format!("bad value {v}"))?;
                field(&me).store(clamp(n), Relaxed);
                Ok(())
            });
        }
        let i64_rows: [(&str, Field<AtomicI64>); 2] = [
            ("list-max-listpack-size", |t| &t.list_max_listpack_size),
            ("list-compress-depth", |t| &t.list_compress_depth),
        ];
        for (name, field) in i64_rows {
            field(&t).store(directives.int(name), Relaxed);
            let me = t.clone();
            directives.on_change(name, move |v| {
                let n = parse_memory(v).ok_or_else(|| format!("bad value {v}"))?;
                field(&me).store(n, Relaxed);
                Ok(())
            });
        }
        t
    }

    pub fn hash(&self) -> HashLimits {
        HashLimits {
            entries: self.hash_max_listpack_entries.load(Relaxed),
            value: self.hash_max_listpack_value.load(Relaxed),
        }
    }

    pub fn set(&self) -> SetLimits {
        SetLimits {
            intset_entries: self.set_max_intset_entries.load(Relaxed),
        }
    }

    pub fn zset(&self) -> zset::Limits {
        zset::Limits {
            max_entries: self.zset_max_listpack_entries.load(Relaxed),
            max_value: self.zset_max_listpack_value.load(Relaxed),
        }
    }

    pub fn list(&self) -> list::Fill {
        list::Fill {
            size: self.list_max_listpack_size.load(Relaxed),
            packed_threshold: self.list_packed_threshold.load(Relaxed),
        }
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(RandomState::new().hash_one(0u64) | 1);
}

/// A uniformly random number in `0..n` (n > 0) from a per-thread xorshift generator:
/// SPOP, SRANDMEMBER and HRANDFIELD need speed, not cryptographic quality.
pub fn random_below(n: usize) -> usize {
    debug_assert!(n > 0);
    let x = RNG.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    // Multiply-shift maps 64 random bits onto 0..n without a division.
    ((u128::from(x) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_follow_config_set() {
        let d = Directives::default();
        let t = Thresholds::from_directives(&d);
        assert_eq!(
            t.hash(),
            HashLimits {
                entries: 512,
                value: 64
            }
        );
        d.set("hash-max-ziplist-entries", "7").unwrap();
        d.set("hash-max-listpack-value", "1kb").unwrap();
        d.set("set-max-intset-entries", "3").unwrap();
        assert_eq!(
            t.hash(),
            HashLimits {
                entries: 7,
                value: 1024
            }
        );
        assert_eq!(t.set(), SetLimits { intset_entries: 3 });
        d.set("list-max-listpack-size", "-3").unwrap();
        assert_eq!(t.list_max_listpack_size.load(Relaxed), -3);
    }

    #[test]
    fn random_below_covers_the_range() {
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[random_below(10)] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
        assert_eq!(random_below(1), 0);
    }
}
