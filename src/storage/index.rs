//! The hash index: lock stripes, each a table of bare chunk ids.
//!
//! A slot is 4 bytes of chunk id plus hashbrown's 1 control byte; the key (and db) it is
//! compared with live in slab memory, so the index holds no copy of keys and items hold no
//! hash-chain pointer. A key's stripe comes from bits of its hash that hashbrown does not use
//! for bucket selection in any stripe small enough to matter.
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
use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicU64, Ordering};

/// Databases a stripe counts items for (the RESP layer's `SELECT` range).
pub const MAX_DATABASES: usize = 16;

/// Items of one stripe, and how many of them each database holds.
pub struct Stripe {
    table: HashTable<ChunkId>,
    per_db: [u32; MAX_DATABASES],
}

#[repr(align(64))]
struct Padded(Mutex<Stripe>);

pub struct Index {
    stripes: Box<[Padded]>,
    seed: u64,
    /// Logical → physical database, 4 bits per logical db (db `i` in bits `4i..4i+4`).
    /// Written only with every stripe locked; read under any one stripe lock.
    db_map: AtomicU64,
}

/// The identity map: logical db `i` is physical db `i`.
const IDENTITY_MAP: u64 = 0xfedc_ba98_7654_3210;

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xa076_1d64_78bd_642f;
const K2: u64 = 0xe703_7ed1_a0b4_28db;

fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Seeded multiply-fold hash of a key (its stripe comes from this; see [`table_hash`]).
pub fn key_hash(seed: u64, key: &[u8]) -> u64 {
    let mut h = seed ^ fold_mul(K0, (key.len() as u64) ^ K1);
    let mut words = key.chunks_exact(8);
    for w in &mut words {
        let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        h = fold_mul(h ^ v, K1);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        h = fold_mul(h ^ u64::from_le_bytes(b), K2);
    }
    fold_mul(h, K0)
}

/// The hash a stripe's table files (physical db, key) under: the key hash with the db mixed
/// in (db 0 leaves it unchanged).
pub fn table_hash(key_hash: u64, db: u8) -> u64 {
    key_hash ^ u64::from(db).wrapping_mul(K2)
}

impl Stripe {
    /// The chunk holding (db, key), if linked.
    pub fn find(&self, arena: &Arena, hash: u64, db: u8, key: &[u8]) -> Option<ChunkId> {
        self.table
            .find(hash, |&c| {
                let it = Item::new(arena, c);
                it.db() == db && it.key() == key
            })
            .copied()
    }

    /// Links a chunk whose key is not in the table.
    pub fn insert(&mut self, arena: &Arena, seed: u64, hash: u64, chunk: ChunkId, db: u8) {
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

    /// Chunk ids in the table, in table order (stable while the table is not resized).
    pub fn chunks(&self) -> impl Iterator<Item = ChunkId> + '_ {
        self.table.iter().copied()
    }
}

impl Index {
    pub fn new(stripes: usize, expected_items: usize, seed: u64) -> Index {
        let stripes = stripes.next_power_of_two();
        let per = expected_items / stripes;
        let stripes = (0..stripes)
            .map(|_| {
                Padded(Mutex::new(Stripe {
                    table: HashTable::with_capacity(per),
                    per_db: [0; MAX_DATABASES],
                }))
            })
            .collect();
        Index {
            stripes,
            seed,
            db_map: AtomicU64::new(IDENTITY_MAP),
        }
    }

    pub fn seed(&self) -> u64 {
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
    pub fn swap(&self, a: u8, b: u8) {
        let guards: Vec<_> = self.stripes.iter().map(|p| p.0.lock()).collect();
        let (sa, sb) = (4 * u32::from(a & 0xf), 4 * u32::from(b & 0xf));
        let map = self.db_map.load(Ordering::Relaxed);
        let (pa, pb) = ((map >> sa) & 0xf, (map >> sb) & 0xf);
        let map = (map & !(0xf << sa) & !(0xf << sb)) | (pb << sa) | (pa << sb);
        self.db_map.store(map, Ordering::Relaxed);
        drop(guards);
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
        let a = key_hash(1, b"key");
        assert_ne!(table_hash(a, 0), table_hash(a, 1));
        assert_ne!(a, key_hash(1, b"kez"));
        assert_ne!(a, key_hash(2, b"key"));
        assert_ne!(key_hash(1, b"12345678a"), key_hash(1, b"12345678b"));
        assert_eq!(a, key_hash(1, b"key"));
    }

    #[test]
    fn swap_exchanges_two_databases_only() {
        let index = Index::new(4, 0, 1);
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
