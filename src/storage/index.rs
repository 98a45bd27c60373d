//! The hash index: lock stripes, each a table of bare chunk ids.
//!
//! A slot is 4 bytes of chunk id plus hashbrown's 1 control byte; the key (and db) it is
//! compared with live in slab memory, so the index holds no copy of keys and items hold no
//! hash-chain pointer. A key's stripe comes from bits of its key hash (32..42) that hashbrown
//! does not use for bucket selection in any stripe small enough to matter; the table hash is
//! the same hash with the db mixed in, so one hash computation serves both.
//!
//! Lock order: a stripe lock is taken first, then (optionally) one slab class lock. Code
//! holding a class lock reaches stripes only with `try_lock`.
//!
//! # Logical and physical databases (SWAPDB)
//!
//! The db number in an item header is *physical*; clients name *logical* databases, and
//! [`Index::physical`] maps one to the other. A key's stripe is chosen from a hash of the
//! key alone, so an operation can lock its stripe before it knows the physical db; it reads
//! the map under that lock, and [`Index::swap`] changes the map only while holding every
//! stripe lock. So each operation sees the map either wholly before or wholly after a swap,
//! and nothing can be filed under the old mapping once the swap has returned. The cost on
//! the hot path is one relaxed load under a lock already held. The table hash mixes the
//! physical db into the key hash, so the same key in several databases spreads over the
//! table like distinct keys.

use super::arena::{Arena, ChunkId};
use super::item::Item;
use super::typed::StoredObject;
use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicU64, Ordering};

/// Databases a stripe counts items for (the RESP layer's `SELECT` range).
pub const MAX_DATABASES: usize = 16;

/// Items of one stripe, and how many of them each database holds.
pub struct Stripe {
    table: HashTable<ChunkId>,
    per_db: [u32; MAX_DATABASES],
    /// Heap objects of this stripe's object items (see `typed.rs`).
    pub objects: slab::Slab<StoredObject>,
}

#[repr(align(64))]
struct Padded(Mutex<Stripe>);

pub struct Index {
    stripes: Box<[Padded]>,
    seed: HashSeed,
    /// Logical → physical database, 4 bits per logical db (db `i` in bits `4i..4i+4`).
    /// Written only with every stripe locked; read under any one stripe lock.
    db_map: AtomicU64,
}

/// The identity map: logical db `i` is physical db `i`.
const IDENTITY_MAP: u64 = 0xfedc_ba98_7654_3210;

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xa076_1d64_78bd_642f;
const K2: u64 = 0xe703_7ed1_a0b4_28db;

/// Per-process random keys of the index hash, so that clients cannot choose keys that
/// collide.
#[derive(Clone, Copy, Debug)]
pub struct HashSeed(pub [u64; 2]);

fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn read8(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn read4(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// Seeded multiply-fold hash of a key (its stripe comes from this; see [`table_hash`]).
/// Folded-multiply hashing in the style of foldhash: each 128-bit multiply takes 16 key
/// bytes, read as two (possibly overlapping) words, so a 16-byte key costs one multiply
/// plus the final one, with no copying of a partial word.
pub fn key_hash(seed: HashSeed, key: &[u8]) -> u64 {
    let [s0, s1] = seed.0;
    let len = key.len();
    let mut h = s0 ^ (len as u64).wrapping_mul(K0);
    if len <= 16 {
        let (a, b) = if len >= 8 {
            (read8(key, 0), read8(key, len - 8))
        } else if len >= 4 {
            (read4(key, 0), read4(key, len - 4))
        } else if len > 0 {
            let a =
                u64::from(key[0]) | u64::from(key[len / 2]) << 8 | u64::from(key[len - 1]) << 16;
            (a, 0)
        } else {
            (0, 0)
        };
        h = fold_mul(a ^ h, b ^ s1);
    } else {
        let mut at = 0;
        while len - at > 16 {
            h = fold_mul(read8(key, at) ^ h, read8(key, at + 8) ^ s1);
            at += 16;
        }
        h = fold_mul(read8(key, len - 16) ^ h, read8(key, len - 8) ^ s1 ^ K1);
    }
    fold_mul(h ^ K2, s0 ^ K1)
}

/// Equality of two byte strings of the same length, a word at a time (keys are short, and
/// a call into `memcmp` costs more than comparing them).
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let mut at = 0;
        while n - at > 8 {
            if read8(a, at) != read8(b, at) {
                return false;
            }
            at += 8;
        }
        read8(a, n - 8) == read8(b, n - 8)
    } else if n >= 4 {
        read4(a, 0) == read4(b, 0) && read4(a, n - 4) == read4(b, n - 4)
    } else {
        a == b
    }
}

/// The hash a stripe's table files (physical db, key) under: the key hash with the db mixed
/// in (db 0 leaves it unchanged).
pub fn table_hash(key_hash: u64, db: u8) -> u64 {
    key_hash ^ u64::from(db).wrapping_mul(K2)
}

impl Stripe {
    /// The chunk holding (db, key), if linked.
    pub fn find(&self, arena: &Arena, hash: u64, db: u8, key: &[u8]) -> Option<ChunkId> {
        let tag = Item::key_tag(key.len(), db);
        self.table
            .find(hash, |&c| Item::new(arena, c).has_key(tag, key))
            .copied()
    }

    /// Links a chunk whose key is not in the table.
    pub fn insert(&mut self, arena: &Arena, seed: HashSeed, hash: u64, chunk: ChunkId, db: u8) {
        self.table.insert_unique(hash, chunk, |&c| {
            let it = Item::new(arena, c);
            table_hash(key_hash(seed, it.key()), it.db())
        });
        self.per_db[usize::from(db)] += 1;
    }

    /// Points the slot of `old` at `new` (same db and key).
    pub fn replace(&mut self, hash: u64, old: ChunkId, new: ChunkId) -> bool {
        match self.table.find_mut(hash, |&c| c == old) {
            Some(slot) => {
                *slot = new;
                true
            }
            None => false,
        }
    }

    /// Unlinks `chunk`; false when it is not in this stripe.
    pub fn remove(&mut self, hash: u64, chunk: ChunkId, db: u8) -> bool {
        match self.table.find_entry(hash, |&c| c == chunk) {
            Ok(entry) => {
                entry.remove();
                self.per_db[usize::from(db)] -= 1;
                true
            }
            Err(_) => false,
        }
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn db_len(&self, db: u8) -> u64 {
        u64::from(self.per_db[usize::from(db)])
    }

    /// Bytes of table memory (buckets and control bytes).
    pub fn table_bytes(&self) -> usize {
        let cap = self.table.capacity();
        if cap == 0 {
            0
        } else {
            // hashbrown keeps buckets = next power of two of cap * 8 / 7.
            let buckets = (cap * 8 / 7).next_power_of_two();
            buckets * (std::mem::size_of::<ChunkId>() + 1) + 16
        }
    }

    /// Makes room for `additional` more keys at once (a load that knows its key count
    /// grows the table once instead of doubling it step by step).
    pub fn reserve(&mut self, arena: &Arena, seed: HashSeed, additional: usize) {
        self.table.reserve(additional, |&c| {
            let it = Item::new(arena, c);
            table_hash(key_hash(seed, it.key()), it.db())
        });
    }

    /// Chunk ids in the table, in table order (stable while the table is not resized).
    pub fn chunks(&self) -> impl Iterator<Item = ChunkId> + '_ {
        self.table.iter().copied()
    }
}

impl Index {
    pub fn new(stripes: usize, expected_items: usize, seed: HashSeed) -> Index {
        let stripes = stripes.next_power_of_two();
        let per = expected_items / stripes;
        let stripes = (0..stripes)
            .map(|_| {
                Padded(Mutex::new(Stripe {
                    table: HashTable::with_capacity(per),
                    per_db: [0; MAX_DATABASES],
                    objects: slab::Slab::new(),
                }))
            })
            .collect();
        Index {
            stripes,
            seed,
            db_map: AtomicU64::new(IDENTITY_MAP),
        }
    }

    pub fn seed(&self) -> HashSeed {
        self.seed
    }

    pub fn key_hash(&self, key: &[u8]) -> u64 {
        key_hash(self.seed, key)
    }

    /// The physical db of logical `db`. Call with a stripe lock held (any stripe), so that a
    /// concurrent [`Index::swap`] is wholly before or after.
    pub fn physical(&self, db: u8) -> u8 {
        ((self.db_map.load(Ordering::Relaxed) >> (4 * u32::from(db & 0xf))) & 0xf) as u8
    }

    /// The logical db that physical `db` currently serves (same locking as `physical`).
    pub fn logical(&self, db: u8) -> u8 {
        let map = self.db_map.load(Ordering::Relaxed);
        (0..16u8)
            .find(|&l| (map >> (4 * u32::from(l))) & 0xf == u64::from(db & 0xf))
            .unwrap_or(db)
    }

    /// Exchanges logical databases `a` and `b` with every stripe locked (in index order).
    #[cfg(test)]
    pub fn swap(&self, a: u8, b: u8) {
        let guards: Vec<_> = self.stripes.iter().map(|p| p.0.lock()).collect();
        self.swap_locked(a, b);
        drop(guards);
    }

    /// [`Index::swap`] for a caller that holds every stripe lock.
    pub fn swap_locked(&self, a: u8, b: u8) {
        let (sa, sb) = (4 * u32::from(a & 0xf), 4 * u32::from(b & 0xf));
        let map = self.db_map.load(Ordering::Relaxed);
        let (pa, pb) = ((map >> sa) & 0xf, (map >> sb) & 0xf);
        let map = (map & !(0xf << sa) & !(0xf << sb)) | (pb << sa) | (pa << sb);
        self.db_map.store(map, Ordering::Relaxed);
    }

    pub fn stripe_count(&self) -> usize {
        self.stripes.len()
    }

    /// Which stripe a key hash belongs to.
    pub fn stripe_of(&self, hash: u64) -> usize {
        // Bits 32.. : hashbrown uses the low bits for buckets and the top 7 for tags.
        ((hash >> 32) as usize) & (self.stripes.len() - 1)
    }

    pub fn lock(&self, stripe: usize) -> MutexGuard<'_, Stripe> {
        self.stripes[stripe].0.lock()
    }

    pub fn try_lock(&self, stripe: usize) -> Option<MutexGuard<'_, Stripe>> {
        self.stripes[stripe].0.try_lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_db_key_and_seed() {
        let seed = HashSeed([1, 2]);
        let a = key_hash(seed, b"key");
        assert_ne!(table_hash(a, 0), table_hash(a, 1));
        assert_ne!(a, key_hash(seed, b"kez"));
        assert_ne!(a, key_hash(HashSeed([3, 2]), b"key"));
        assert_ne!(a, key_hash(HashSeed([1, 3]), b"key"));
        assert_eq!(a, key_hash(seed, b"key"));
        // Every length path, and keys that differ only in length or in one byte.
        let long: Vec<u8> = (0..250u8).collect();
        let mut seen = std::collections::HashSet::new();
        for len in 0..=long.len() {
            assert!(seen.insert(key_hash(seed, &long[..len])), "{len}");
            let positions: std::collections::BTreeSet<usize> =
                [0, len / 2, len.saturating_sub(1)].into();
            for at in positions {
                if at < len {
                    let mut k = long[..len].to_vec();
                    k[at] ^= 0x40;
                    assert!(seen.insert(key_hash(seed, &k)), "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn same_bytes_compares_every_byte() {
        let a: Vec<u8> = (0..40u8).collect();
        for len in 0..=a.len() {
            assert!(same_bytes(&a[..len], &a[..len]));
            for at in 0..len {
                let mut b = a[..len].to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(&a[..len], &b), "{len} {at}");
            }
        }
        assert!(!same_bytes(b"ab", b"abc"));
    }

    #[test]
    fn swap_exchanges_two_databases_only() {
        let index = Index::new(4, 0, HashSeed([1, 2]));
        assert_eq!(index.physical(3), 3);
        index.swap(3, 9);
        assert_eq!((index.physical(3), index.physical(9)), (9, 3));
        assert_eq!((index.logical(9), index.logical(3)), (3, 9));
        index.swap(0, 3);
        assert_eq!((index.physical(0), index.physical(3)), (9, 0));
        assert_eq!(index.physical(9), 3);
        assert!((0..16)
            .filter(|&d| ![0, 3, 9].contains(&d))
            .all(|d| index.physical(d) == d));
        index.swap(5, 5);
        assert_eq!(index.physical(5), 5);
    }
}
