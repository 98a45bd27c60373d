//! The hash index: lock stripes, each a table of bare chunk ids.
//!
//! A slot is 4 bytes of chunk id plus hashbrown's 1 control byte; the key (and db) it is
//! compared with live in slab memory, so the index holds no copy of keys and items hold no
//! hash-chain pointer. A key's stripe comes from bits of its hash that hashbrown does not use
//! for bucket selection in any stripe small enough to matter.
//!
//! Lock order: a stripe lock is taken first, then (optionally) one slab class lock. Code
//! holding a class lock reaches stripes only with `try_lock`.

use super::arena::{Arena, ChunkId};
use super::item::Item;
use hashbrown::HashTable;
use parking_lot::{Mutex, MutexGuard};

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
}

const K0: u64 = 0x9e37_79b9_7f4a_7c15;
const K1: u64 = 0xa076_1d64_78bd_642f;
const K2: u64 = 0xe703_7ed1_a0b4_28db;

fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Seeded multiply-fold hash of (db, key).
pub fn hash_key(seed: u64, db: u8, key: &[u8]) -> u64 {
    let mut h = seed ^ fold_mul(u64::from(db) ^ K0, (key.len() as u64) ^ K1);
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
            hash_key(seed, it.db(), it.key())
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
        Index { stripes, seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn hash(&self, db: u8, key: &[u8]) -> u64 {
        hash_key(self.seed, db, key)
    }

    pub fn stripe_count(&self) -> usize {
        self.stripes.len()
    }

    /// Which stripe a hash belongs to.
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
        let a = hash_key(1, 0, b"key");
        assert_ne!(a, hash_key(1, 1, b"key"));
        assert_ne!(a, hash_key(1, 0, b"kez"));
        assert_ne!(a, hash_key(2, 0, b"key"));
        assert_ne!(hash_key(1, 0, b"12345678a"), hash_key(1, 0, b"12345678b"));
        assert_eq!(a, hash_key(1, 0, b"key"));
    }
}
