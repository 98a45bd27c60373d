//! The large form of hashes and sets: a dense array of members plus a hash index of their
//! positions (in the manner of `indexmap`), kept on the heap and owned by the item.
//!
//! ```text
//!  entries: Vec<Box<[u8]>>   each entry one allocation: [varint key_len][key][value]
//!  index:   HashTable<u32>   position in `entries`, hashed by the entry's key
//! ```
//!
//! A set's entries are a key and no value. Why this shape:
//!
//! * O(1) member access (one hash probe, one entry read), as Redis's dict.
//! * O(1) uniform random member (SPOP, SRANDMEMBER, HRANDFIELD): an index into `entries`.
//! * Deletion is `swap_remove`: the last entry fills the hole and its index slot is
//!   rewritten. That gives SCAN its guarantee: the cursor walks positions downward, and a
//!   deletion moves the last entry down to the hole. An entry not yet visited (below the
//!   cursor) lands lower still, so it is still ahead; a visited one may land ahead and be
//!   returned twice, which SCAN allows. Inserts append above the cursor (members added
//!   during a scan are not promised).
//! * Per member: 16 bytes of `Box<[u8]>`, about 5.7 bytes of index (4-byte slot + 1 control
//!   byte at 7/8 load), and one allocation of key+value+1 (malloc rounds to 16 with 8 of
//!   overhead); Redis's dict spends a 24-byte dictEntry, 8 bytes of bucket and two sds.
//!
//! [`Table::heap_bytes`] estimates what the table holds from the allocator, so the store
//! can charge it to the `-m` budget.

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

use super::compact::prefix_len;

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
/// `table_object!(HashObject, ItemType::Hash)` declares `pub struct HashObject(pub Table)`
/// and its [`Object`](crate::storage::Object) impl.
macro_rules! table_object {
    ($(#[$doc:meta])* $name:ident, $ty:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default)]
        pub struct $name(pub Table);

        impl Object for $name {
            fn value_type(&self) -> ItemType {
                $ty
            }
            fn mem_usage(&self) -> usize {
                self.0.heap_bytes()
            }
            fn duplicate(&self) -> Box<dyn Object> {
                Box::new(self.clone())
            }
            fn as_any(&self) -> &dyn Any {
                self
            }
            fn as_any_mut(&mut self) -> &mut dyn Any {
                self
            }
        }
    };
}
pub(crate) use table_object;

/// A hash table of byte-string entries keyed by their key part.
#[derive(Debug, Clone)]
pub struct Table {
    entries: Vec<Box<[u8]>>,
    index: HashTable<u32>,
    hasher: RandomState,
    /// Allocator bytes of the entries (see [`alloc_size`]).
    entry_bytes: usize,
}

impl Default for Table {
    fn default() -> Self {
        Table::with_capacity(0)
    }
}

/// What malloc hands out for `len` bytes: glibc chunks are 16-byte multiples with 8 bytes
/// of header, 32 at least.
pub fn alloc_size(len: usize) -> usize {
    ((len + 8 + 15) & !15).max(32)
}

/// An entry's (key, value).
pub fn split_entry(entry: &[u8]) -> (&[u8], &[u8]) {
    let mut len = 0usize;
    let mut n = 0;
    for (i, &b) in entry.iter().take(5).enumerate() {
        len |= usize::from(b & 0x7f) << (7 * i);
        n = i + 1;
        if b & 0x80 == 0 {
            break;
        }
    }
    let end = (n + len).min(entry.len());
    (&entry[n..end], &entry[end..])
}

fn make_entry(key: &[u8], value: &[u8]) -> Box<[u8]> {
    let mut v = Vec::with_capacity(prefix_len(key.len()) + key.len() + value.len());
    let mut len = key.len();
    loop {
        let b = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            v.push(b);
            break;
        }
        v.push(b | 0x80);
    }
    v.extend_from_slice(key);
    v.extend_from_slice(value);
    v.into_boxed_slice()
}

impl Table {
    pub fn with_capacity(n: usize) -> Table {
        Table {
            entries: Vec::with_capacity(n),
            index: HashTable::with_capacity(n),
            hasher: RandomState::new(),
            entry_bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn find(&self, key: &[u8]) -> Option<usize> {
        let h = self.hash(key);
        let entries = &self.entries;
        self.index
            .find(h, |&i| split_entry(&entries[i as usize]).0 == key)
            .map(|&i| i as usize)
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.find(key).map(|i| split_entry(&self.entries[i]).1)
    }

    pub fn contains(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Sets `key` to `value`; true when the key is new.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> bool {
        let entry = make_entry(key, value);
        if let Some(i) = self.find(key) {
            self.entry_bytes -= alloc_size(self.entries[i].len());
            self.entry_bytes += alloc_size(entry.len());
            self.entries[i] = entry;
            return false;
        }
        self.push_new(entry, key);
        true
    }

    /// Adds `key` with `value` only when absent; true when added.
    pub fn insert_new(&mut self, key: &[u8], value: &[u8]) -> bool {
        if self.contains(key) {
            return false;
        }
        self.push_new(make_entry(key, value), key);
        true
    }

    fn push_new(&mut self, entry: Box<[u8]>, key: &[u8]) {
        let h = self.hash(key);
        let pos = u32::try_from(self.entries.len()).expect("table positions fit u32");
        self.entry_bytes += alloc_size(entry.len());
        self.entries.push(entry);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert_unique(h, pos, |&i| {
            hasher.hash_one(split_entry(&entries[i as usize]).0)
        });
    }

    /// Removes `key`; true when it was there.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.find(key) {
            Some(i) => {
                self.remove_at(i);
                true
            }
            None => false,
        }
    }

    /// Removes the entry at position `i` (last entry moves into its place) and returns it.
    pub fn remove_at(&mut self, i: usize) -> Box<[u8]> {
        let key_hash = self.hash(split_entry(&self.entries[i]).0);
        let pos = i as u32;
        if let Ok(slot) = self.index.find_entry(key_hash, |&p| p == pos) {
            slot.remove();
        }
        let last = self.entries.len() - 1;
        if i != last {
            let moved_hash = self.hash(split_entry(&self.entries[last]).0);
            let from = last as u32;
            if let Some(slot) = self.index.find_mut(moved_hash, |&p| p == from) {
                *slot = pos;
            }
        }
        let entry = self.entries.swap_remove(i);
        self.entry_bytes -= alloc_size(entry.len());
        entry
    }

    /// The (key, value) at position `i` (0..len), for random picks and SCAN.
    pub fn at(&self, i: usize) -> (&[u8], &[u8]) {
        split_entry(&self.entries[i])
    }

    /// Entries as (key, value) in position order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.entries.iter().map(|e| split_entry(e))
    }

    /// Bytes this table holds from the allocator (estimated).
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Table>()
            + self.entries.capacity() * std::mem::size_of::<Box<[u8]>>()
            + self.index.capacity() * (std::mem::size_of::<u32>() + 1)
            + self.entry_bytes
    }

    /// Releases spare capacity after many deletions.
    pub fn shrink(&mut self) {
        if self.entries.capacity() > 2 * self.entries.len() + 16 {
            self.entries.shrink_to_fit();
            let (entries, hasher) = (&self.entries, &self.hasher);
            self.index
                .shrink_to_fit(|&i| hasher.hash_one(split_entry(&entries[i as usize]).0));
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
        let len = self.entries.len() as u64;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    #[test]
    fn entries_split_back() {
        let e = make_entry(&[1u8; 200], b"value");
        assert_eq!(e.len(), 2 + 200 + 5);
        assert_eq!(split_entry(&e), (&[1u8; 200][..], &b"value"[..]));
        assert_eq!(split_entry(&make_entry(b"", b"")), (&b""[..], &b""[..]));
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
        fn matches_a_hashmap(ops in proptest::collection::vec((0u8..3, 0u16..64, any::<u8>()), 0..300)) {
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut t = Table::default();
            for (op, k, v) in ops {
                let key = k.to_string().into_bytes();
                match op {
                    0 => prop_assert_eq!(t.insert(&key, &[v]), model.insert(key, vec![v]).is_none()),
                    1 => prop_assert_eq!(t.remove(&key), model.remove(&key).is_some()),
                    _ => prop_assert_eq!(t.insert_new(&key, &[v]), {
                        let new = !model.contains_key(&key);
                        if new { model.insert(key, vec![v]); }
                        new
                    }),
                }
                prop_assert_eq!(t.len(), model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(t.get(k), Some(&v[..]));
            }
            let listed: HashMap<Vec<u8>, Vec<u8>> = t.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(listed, model);
        }
    }
}
