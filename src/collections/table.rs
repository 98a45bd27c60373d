//! The large form of hashes and sets: every entry's bytes packed back to back in one arena,
//! a dense array of entry offsets in position order, and a hash index of offsets.
//!
//! ```text
//!  arena:   Vec<u8>          entries back to back: [u32 pos][varint key_len][key][varint value_len][value]
//!  slots:   Vec<u64>         position -> arena offset of the entry (random picks, SCAN, iteration)
//!  index:   HashTable<u64>   arena offsets, hashed by the entry's key
//! ```
//!
//! A set's entries are a key and an empty value. Why this shape:
//!
//! * O(1) member access: one hash, one probe of the index, and the index slot leads straight
//!   to the entry's bytes. That is three dependent memory reads (control group, slot, entry)
//!   where an index of positions into a `Vec<Box<[u8]>>` took four (slot, box pointer,
//!   bytes); on a 100,000-member set hammered by redis-benchmark those reads are cache misses
//!   and were 20% of the server's CPU per SADD/HSET (perf, session 3).
//! * No allocation per member: an entry costs its bytes plus 6 bytes of header, 8 bytes of
//!   `slots` and 9 of index (8-byte slot + control byte, at 7/8 load about 10), about 43
//!   bytes for a 20-byte member where a boxed entry took 16 + a 32-byte malloc chunk + 5.
//!   Smaller means more of a hot table stays in cache.
//! * O(1) uniform random member (SPOP, SRANDMEMBER, HRANDFIELD): an index into `slots`.
//! * Deletion is a swap-remove of `slots`: the last position fills the hole (its entry's
//!   `pos` is rewritten; the index holds offsets, so it is untouched). That gives SCAN its
//!   guarantee: the cursor walks positions downward, and a deletion moves the last entry
//!   down to the hole. An entry not yet visited (below the cursor) lands lower still, so it
//!   is still ahead; a visited one may land ahead and be returned twice, which SCAN allows.
//!   Inserts append above the cursor (members added during a scan are not promised).
//! * A deleted entry's bytes (or a value replaced by one of another length) stay in the
//!   arena as garbage until garbage passes half the arena; then the live entries are copied
//!   to a fresh arena in position order and the index is rebuilt (amortized O(1) per
//!   deletion, as a hash table's resize is). A value replaced by one of the same length (the
//!   common HSET) is overwritten in place.
//!
//! Keys are hashed with the store index's seeded fold-multiply hash
//! ([`crate::storage::key_hash`], keyed per process from the OS, so clients cannot choose
//! colliding members): two 64×64→128 multiplies for a member of up to 16 bytes, where std's
//! SipHash-1-3 took a loop of rounds per 8 bytes.
//!
//! [`Table::heap_bytes`] counts what the table holds from the allocator, so the store can
//! charge it to the `-m` budget.

use std::sync::OnceLock;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::collections::varint;
use crate::storage::{key_hash, same_bytes, HashSeed};

/// What to do with an edited hash or set, whose compact form is a `B`.
#[derive(Debug)]
pub enum Outcome<B> {
    /// Nothing changed.
    Unchanged,
    /// The collection is empty: delete the key.
    Delete,
    /// Store these compact bytes as the value.
    Bytes(B),
    /// The table was edited in place (its size may have changed).
    TableChanged,
    /// Store this table as the value (the collection just outgrew the compact form).
    NewTable(Table),
}

/// A collection in its large form as the store keeps it, a heap object owned by the item:
/// `table_object!(HashObject, Hash)` declares `pub struct HashObject(pub Table)` and its
/// [`Object`](crate::storage::Object) impl (item type `ItemType::Hash`).
macro_rules! table_object {
    ($(#[$doc:meta])* $name:ident, $item:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name(pub Table);

        $crate::collections::impl_object!($name, $item, |t| t.0.heap_bytes());
    };
}
pub(crate) use table_object;

/// The per-process hash key of every table (and of the sorted-set index).
pub(crate) fn seed() -> HashSeed {
    static SEED: OnceLock<HashSeed> = OnceLock::new();
    *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, RandomState};
        let random = RandomState::new();
        HashSeed([random.hash_one(0u8), random.hash_one(1u8)])
    })
}

/// Arena bytes below which garbage is never collected.
const MIN_COMPACT_BYTES: usize = 4096;

/// Bytes of an entry's position field.
const POS: usize = 4;

/// A hash table of byte-string entries keyed by their key part.
#[derive(Debug, Clone, Default)]
pub struct Table {
    arena: Vec<u8>,
    slots: Vec<u64>,
    index: HashTable<u64>,
    /// Arena bytes of entries no longer live.
    garbage: usize,
}

/// The key of the entry at `off`.
#[inline(always)]
fn key_at(arena: &[u8], off: u64) -> &[u8] {
    let at = off as usize + POS;
    let (len, n) = varint::read(arena, at);
    &arena[at + n..at + n + len]
}

/// The (key, value) of the entry at `off`, and the entry's length in bytes.
fn entry_at(arena: &[u8], off: u64) -> (&[u8], &[u8], usize) {
    let start = off as usize;
    let at = start + POS;
    let (klen, n) = varint::read(arena, at);
    let key_at = at + n;
    let (vlen, m) = varint::read(arena, key_at + klen);
    let value_at = key_at + klen + m;
    (
        &arena[key_at..key_at + klen],
        &arena[value_at..value_at + vlen],
        value_at + vlen - start,
    )
}

fn entry_len(key: &[u8], value: &[u8]) -> usize {
    POS + varint::len(key.len()) + key.len() + varint::len(value.len()) + value.len()
}

fn hash(key: &[u8]) -> u64 {
    key_hash(seed(), key)
}

impl Table {
    pub fn with_capacity(n: usize) -> Table {
        Table {
            arena: Vec::new(),
            slots: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            garbage: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The arena offset of `key`'s entry.
    #[inline]
    fn find(&self, h: u64, key: &[u8]) -> Option<u64> {
        let arena = &self.arena;
        self.index
            .find(h, |&off| same_bytes(key_at(arena, off), key))
            .copied()
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.find(hash(key), key)
            .map(|off| entry_at(&self.arena, off).1)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.find(hash(key), key).is_some()
    }

    /// Appends an entry for position `pos`; returns its offset.
    fn append(&mut self, pos: u32, key: &[u8], value: &[u8]) -> u64 {
        let off = self.arena.len() as u64;
        self.arena.reserve(entry_len(key, value));
        self.arena.extend_from_slice(&pos.to_le_bytes());
        varint::push(&mut self.arena, key.len());
        self.arena.extend_from_slice(key);
        varint::push(&mut self.arena, value.len());
        self.arena.extend_from_slice(value);
        off
    }

    fn next_pos(&self) -> u32 {
        u32::try_from(self.slots.len()).expect("table positions fit u32")
    }

    /// Sets `key` to `value`; true when the key is new.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        let h = hash(key);
        let Some(off) = self.find(h, key) else {
            self.push_new(h, key, value);
            return true;
        };
        let (_, old, len) = entry_at(&self.arena, off);
        if old.len() == value.len() {
            let end = off as usize + len;
            self.arena[end - value.len()..end].copy_from_slice(value);
            return false;
        }
        let pos = self.pos_of(off);
        let new_off = self.append(pos, key, value);
        self.slots[pos as usize] = new_off;
        if let Some(slot) = self.index.find_mut(h, |&o| o == off) {
            *slot = new_off;
        }
        self.garbage += len;
        self.maybe_compact();
        false
    }

    /// Adds `key` with `value` only when absent; true when added.
    pub fn insert_new(&mut self, key: &[u8], value: &[u8]) -> bool {
        let h = hash(key);
        let pos = self.next_pos();
        let off = self.arena.len() as u64;
        let arena = &self.arena;
        match self.index.entry(
            h,
            |&o| same_bytes(key_at(arena, o), key),
            |&o| hash(key_at(arena, o)),
        ) {
            Entry::Occupied(_) => return false,
            Entry::Vacant(v) => {
                v.insert(off);
            }
        }
        self.append(pos, key, value);
        self.slots.push(off);
        true
    }

    fn push_new(&mut self, h: u64, key: &[u8], value: &[u8]) {
        let pos = self.next_pos();
        let off = self.append(pos, key, value);
        self.slots.push(off);
        let arena = &self.arena;
        self.index
            .insert_unique(h, off, |&o| hash(key_at(arena, o)));
    }

    fn pos_of(&self, off: u64) -> u32 {
        let at = off as usize;
        let mut p = [0u8; POS];
        p.copy_from_slice(&self.arena[at..at + POS]);
        u32::from_le_bytes(p)
    }

    fn set_pos(&mut self, off: u64, pos: u32) {
        let at = off as usize;
        self.arena[at..at + POS].copy_from_slice(&pos.to_le_bytes());
    }

    /// Removes `key`; true when it was there.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        let h = hash(key);
        let arena = &self.arena;
        let Ok(slot) = self
            .index
            .find_entry(h, |&o| same_bytes(key_at(arena, o), key))
        else {
            return false;
        };
        let (off, _) = slot.remove();
        let pos = self.pos_of(off);
        self.unlink(pos as usize, off);
        true
    }

    /// Takes position `i` (entry at `off`, already out of the index) out of `slots`.
    fn unlink(&mut self, i: usize, off: u64) {
        self.garbage += entry_at(&self.arena, off).2;
        let last = self.slots.len() - 1;
        if i != last {
            let moved = self.slots[last];
            self.set_pos(moved, i as u32);
        }
        self.slots.swap_remove(i);
        self.maybe_compact();
    }

    /// Removes the entry at position `i` (the last entry moves into its place) and returns
    /// its key.
    pub fn remove_at(&mut self, i: usize) -> Vec<u8> {
        let mut key = Vec::new();
        self.remove_at_into(i, &mut key);
        key
    }

    /// [`Table::remove_at`] appending the key to `out` (SPOP's reply buffer, reused).
    pub fn remove_at_into(&mut self, i: usize, out: &mut Vec<u8>) {
        let off = self.slots[i];
        let key = key_at(&self.arena, off);
        out.extend_from_slice(key);
        if let Ok(slot) = self.index.find_entry(hash(key), |&o| o == off) {
            slot.remove();
        }
        self.unlink(i, off);
    }

    /// Collects the garbage when it is more than half the arena.
    fn maybe_compact(&mut self) {
        if self.slots.is_empty() {
            self.arena.clear();
            self.index.clear();
            self.garbage = 0;
        } else if self.garbage * 2 > self.arena.len() && self.arena.len() >= MIN_COMPACT_BYTES {
            self.compact();
        }
    }

    /// Copies the live entries to a fresh arena in position order and rebuilds the index.
    fn compact(&mut self) {
        let mut arena = Vec::with_capacity(self.arena.len() - self.garbage);
        for slot in self.slots.iter_mut() {
            let len = entry_at(&self.arena, *slot).2;
            let at = *slot as usize;
            *slot = arena.len() as u64;
            arena.extend_from_slice(&self.arena[at..at + len]);
        }
        self.arena = arena;
        self.garbage = 0;
        self.index.clear();
        let arena = &self.arena;
        for &off in &self.slots {
            self.index
                .insert_unique(hash(key_at(arena, off)), off, |&o| hash(key_at(arena, o)));
        }
    }

    /// The (key, value) at position `i` (0..len), for random picks and SCAN.
    pub fn at(&self, i: usize) -> (&[u8], &[u8]) {
        let (k, v, _) = entry_at(&self.arena, self.slots[i]);
        (k, v)
    }

    /// Entries as (key, value) in position order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.slots.iter().map(|&off| {
            let (k, v, _) = entry_at(&self.arena, off);
            (k, v)
        })
    }

    /// Bytes this table holds from the allocator.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Table>()
            + self.arena.capacity()
            + self.slots.capacity() * std::mem::size_of::<u64>()
            + self.index.capacity() * (std::mem::size_of::<u64>() + 1)
    }

    /// Releases spare capacity after many deletions: once the positions fill less than an
    /// eighth of their capacity, as Redis shrinks a dict below a tenth full. (At half, a
    /// set drained by SPOP rebuilt its index at every halving, on top of the compactions
    /// its garbage calls for: 400 instructions per pop.)
    pub fn shrink(&mut self) {
        if self.slots.capacity() > 8 * self.slots.len() + 16 {
            self.slots.shrink_to_fit();
            if self.garbage > 0 {
                self.compact();
            }
            self.arena.shrink_to_fit();
            let arena = &self.arena;
            self.index.shrink_to_fit(|&o| hash(key_at(arena, o)));
        }
    }

    /// One step of a SCAN: positions below `cursor` (or all, for cursor 0) are walked
    /// downward, calling `f` for at most `count` entries; returns the next cursor (0 when
    /// done). See the module comment for why a downward walk keeps SCAN's guarantee.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        let len = self.slots.len() as u64;
        let mut pos = if cursor == 0 { len } else { cursor.min(len) };
        let mut n = 0;
        while pos > 0 && n < count.max(1) {
            pos -= 1;
            let (k, v) = self.at(pos as usize);
            f(k, v);
            n += 1;
        }
        pos
    }

    /// Checks the table's invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        assert_eq!(self.index.len(), self.slots.len());
        let mut live = 0;
        for (i, &off) in self.slots.iter().enumerate() {
            assert_eq!(self.pos_of(off) as usize, i);
            let (k, _, len) = entry_at(&self.arena, off);
            assert_eq!(self.find(hash(k), k), Some(off));
            live += len;
        }
        assert_eq!(live + self.garbage, self.arena.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn entry_layout() {
        let mut t = Table::default();
        t.insert(&[1u8; 200], b"value");
        assert_eq!(t.arena.len(), 4 + 2 + 200 + 1 + 5);
        assert_eq!(&t.arena[..6], &[0, 0, 0, 0, 0xC8, 0x01]);
        assert_eq!(t.at(0), (&[1u8; 200][..], &b"value"[..]));
        t.insert(b"", b"");
        assert_eq!(t.at(1), (&b""[..], &b""[..]));
        assert_eq!(t.get(b""), Some(&b""[..]));
        for n in [0, 1, 127, 128, 16383, 16384, usize::MAX] {
            let mut v = Vec::new();
            varint::push(&mut v, n);
            assert_eq!(v.len(), varint::len(n), "{n}");
            assert_eq!(varint::read(&v, 0), (n, v.len()), "{n}");
        }
        t.check();
    }

    #[test]
    fn same_length_values_overwrite_in_place() {
        let mut t = Table::default();
        t.insert(b"f", b"aaa");
        let len = t.arena.len();
        assert!(!t.insert(b"f", b"bbb"));
        assert_eq!(t.arena.len(), len);
        assert_eq!(t.get(b"f"), Some(&b"bbb"[..]));
        assert!(!t.insert(b"f", b"cccc"));
        assert_eq!(t.get(b"f"), Some(&b"cccc"[..]));
        assert_eq!(t.garbage, len);
        t.check();
    }

    #[test]
    fn garbage_is_collected() {
        let mut t = Table::default();
        for i in 0..10_000u32 {
            t.insert(&i.to_le_bytes(), b"value");
        }
        let full = t.arena.len();
        for i in 0..9_000u32 {
            assert!(t.remove(&i.to_le_bytes()));
        }
        t.check();
        assert!(t.arena.len() < full / 2, "{} of {full}", t.arena.len());
        assert!(t.garbage * 2 <= t.arena.len());
        for i in 9_000..10_000u32 {
            assert_eq!(t.get(&i.to_le_bytes()), Some(&b"value"[..]));
        }
        t.shrink();
        t.check();
        let before = t.heap_bytes();
        for _ in 0..1_000 {
            assert_eq!(t.remove_at(0).len(), 4);
        }
        assert!(t.is_empty() && t.arena.is_empty());
        t.shrink();
        assert!(t.heap_bytes() < before);
    }

    #[test]
    fn swap_remove_keeps_index_true() {
        let mut t = Table::default();
        for i in 0..100u32 {
            assert!(t.insert(&i.to_le_bytes(), b"v"));
        }
        assert!(!t.insert(&5u32.to_le_bytes(), b"w"));
        assert_eq!(t.get(&5u32.to_le_bytes()), Some(&b"w"[..]));
        for i in (0..100u32).step_by(3) {
            assert!(t.remove(&i.to_le_bytes()));
        }
        for i in 0..100u32 {
            assert_eq!(t.contains(&i.to_le_bytes()), i % 3 != 0, "{i}");
        }
        assert_eq!(t.len(), 66);
        let last = t.at(65).0.to_vec();
        let first = t.at(0).0.to_vec();
        assert_eq!(t.remove_at(0), first);
        assert_eq!(t.at(0).0, &last[..]);
        t.check();
    }

    #[test]
    fn scan_sees_every_member_present_throughout() {
        let mut t = Table::default();
        for i in 0..1000u32 {
            t.insert(&i.to_le_bytes(), b"");
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0u32;
        loop {
            cursor = t.scan(cursor, 7, |k, _| {
                seen.insert(k.to_vec());
            });
            // Churn between calls: delete some members, add new ones.
            step += 1;
            t.remove(&(step * 13 % 1000).to_le_bytes());
            t.insert(&(5000 + step).to_le_bytes(), b"");
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000u32 {
            let removed = (1..=step).any(|s| s * 13 % 1000 == i);
            if !removed {
                assert!(seen.contains(i.to_le_bytes().as_slice()), "{i} missed");
            }
        }
    }

    proptest! {
        #[test]
        fn matches_a_hashmap(ops in proptest::collection::vec((0u8..4, 0u16..64, 0usize..300), 0..400)) {
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut t = Table::default();
            for (op, k, vlen) in ops {
                let key = k.to_string().into_bytes();
                let value = vec![b'a' + (vlen % 26) as u8; vlen];
                match op {
                    0 => prop_assert_eq!(t.insert(&key, &value), model.insert(key, value).is_none()),
                    1 => prop_assert_eq!(t.remove(&key), model.remove(&key).is_some()),
                    2 if !t.is_empty() => {
                        let got = t.remove_at(vlen % t.len());
                        prop_assert!(model.remove(&got).is_some());
                    }
                    _ => prop_assert_eq!(t.insert_new(&key, &value), {
                        let new = !model.contains_key(&key);
                        if new { model.insert(key, value); }
                        new
                    }),
                }
                prop_assert_eq!(t.len(), model.len());
                t.check();
            }
            for (k, v) in &model {
                prop_assert_eq!(t.get(k), Some(&v[..]));
            }
            let listed: HashMap<Vec<u8>, Vec<u8>> = t.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(listed, model);
            t.shrink();
            t.check();
        }
    }
}
