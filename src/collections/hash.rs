//! Redis hashes: a compact run of field, value, field, value... (OBJECT ENCODING
//! `listpack`) while the hash has at most `hash-max-listpack-entries` fields and every
//! field and value is at most `hash-max-listpack-value` bytes; past either, a [`Table`]
//! (`hashtable`) for good.
//!
//! [`HashRef`] reads either form; [`HashMut`] edits one and reports what the store must
//! do with the result ([`HashMut::finish`]).

use super::compact::{Compact, CompactBuf};
use super::table::{table_object, Outcome, Table};
use super::{random_below, HashLimits};

/// Either form of a hash, read-only.
#[derive(Clone, Copy, Debug)]
pub enum HashRef<'a> {
    Compact(Compact<'a>),
    Table(&'a Table),
}

impl<'a> HashRef<'a> {
    /// Redis's OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashRef::Compact(_) => "listpack",
            HashRef::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            HashRef::Compact(c) => c.len() / 2,
            HashRef::Table(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&'a [u8]> {
        match *self {
            HashRef::Compact(c) => {
                let pos = c.find(field, 2)?;
                let (_, next) = c.entry(pos)?;
                c.entry(next).map(|(v, _)| v)
            }
            HashRef::Table(t) => t.get(field),
        }
    }

    /// Fields and values, in the form's order (insertion order for a compact hash).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&'a [u8], &'a [u8])> + 'a> {
        match *self {
            HashRef::Compact(c) => {
                let mut it = c.iter();
                Box::new(std::iter::from_fn(move || Some((it.next()?, it.next()?))))
            }
            HashRef::Table(t) => Box::new(t.iter()),
        }
    }

    /// The `i`-th field and value (0..len) in the form's order.
    /// The field and value at position `i < len` (the table's or the run's order).
    pub fn at(&self, i: usize) -> (&'a [u8], &'a [u8]) {
        match *self {
            HashRef::Compact(c) => {
                let pos = c.nth(2 * i).unwrap_or(c.end());
                let (f, next) = c.entry(pos).unwrap_or((b"", pos));
                let (v, _) = c.entry(next).unwrap_or((b"", next));
                (f, v)
            }
            HashRef::Table(t) => t.at(i),
        }
    }

    /// HRANDFIELD's picks: `count` distinct fields when positive (all of them when count
    /// is at least the length), `-count` fields with repetition when negative. Calls `f`
    /// for each pick.
    pub fn random(&self, count: i64, mut f: impl FnMut(&'a [u8], &'a [u8])) {
        let len = self.len();
        if len == 0 || count == 0 {
            return;
        }
        if count < 0 {
            for _ in 0..count.unsigned_abs() {
                let (k, v) = self.at(random_below(len));
                f(k, v);
            }
            return;
        }
        for i in distinct_picks(len, count as u64) {
            let (k, v) = self.at(i);
            f(k, v);
        }
    }
}

/// Positions for `count` distinct random picks out of `len` (all positions in order when
/// `count >= len`). Small counts draw and reject repeats; large ones shuffle.
pub fn distinct_picks(len: usize, count: u64) -> Vec<usize> {
    if count >= len as u64 {
        return (0..len).collect();
    }
    let count = count as usize;
    if count * 3 > len {
        // Partial Fisher-Yates over all positions.
        let mut all: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = i + random_below(len - i);
            all.swap(i, j);
        }
        all.truncate(count);
        return all;
    }
    let mut seen = std::collections::HashSet::with_capacity(count);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let i = random_below(len);
        if seen.insert(i) {
            out.push(i);
        }
    }
    out
}

/// A hash being edited: a copy of the compact bytes, the table in place, or a table that
/// replaces the compact form.
#[derive(Debug)]
pub enum HashMut<'a> {
    Compact(CompactBuf),
    Table(&'a mut Table),
    NewTable(Table),
}

/// What to do with an edited hash.
pub type HashOutcome = Outcome<CompactBuf>;

impl Default for HashMut<'_> {
    /// A new empty hash.
    fn default() -> Self {
        HashMut::Compact(CompactBuf::new())
    }
}

impl<'a> HashMut<'a> {
    pub fn view(&self) -> HashRef<'_> {
        match self {
            HashMut::Compact(b) => HashRef::Compact(b.view()),
            HashMut::Table(t) => HashRef::Table(t),
            HashMut::NewTable(t) => HashRef::Table(t),
        }
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.view().get(field)
    }

    fn table_mut(&mut self) -> Option<&mut Table> {
        match self {
            HashMut::Compact(_) => None,
            HashMut::Table(t) => Some(t),
            HashMut::NewTable(t) => Some(t),
        }
    }

    /// Moves a compact hash to a table (no-op for a table).
    pub fn convert(&mut self) {
        if let HashMut::Compact(b) = self {
            let view = b.view();
            let mut t = Table::with_capacity(view.len() / 2 + 1);
            let mut it = view.iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                t.insert(f, v);
            }
            *self = HashMut::NewTable(t);
        }
    }

    /// Converts ahead of an insert of these lengths when they break the value limit (as
    /// Redis's `hashTypeTryConversion` looks at a command's arguments first).
    pub fn prepare(&mut self, field_len: usize, value_len: usize, limits: HashLimits) {
        if matches!(self, HashMut::Compact(_))
            && (field_len > limits.value || value_len > limits.value)
        {
            self.convert();
        }
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: HashLimits) -> bool {
        self.prepare(field.len(), value.len(), limits);
        let new = match self {
            HashMut::Compact(b) => {
                let view = b.view();
                match view.find(field, 2) {
                    Some(pos) => {
                        let next = view.entry(pos).map_or(pos, |(_, n)| n);
                        b.replace(next, value);
                        false
                    }
                    None => {
                        let end = view.end();
                        b.insert_many(end, &[field, value]);
                        true
                    }
                }
            }
            HashMut::Table(t) => t.insert(field, value),
            HashMut::NewTable(t) => t.insert(field, value),
        };
        if new && self.len() > limits.entries {
            self.convert();
        }
        new
    }

    /// Removes `field`; true when it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        if let Some(t) = self.table_mut() {
            return t.remove(field);
        }
        let HashMut::Compact(b) = self else {
            return false;
        };
        match b.view().find(field, 2) {
            Some(pos) => {
                b.remove(pos, 2);
                true
            }
            None => false,
        }
    }

    /// What the store must do, given whether anything was written.
    pub fn finish(self, changed: bool) -> HashOutcome {
        if !changed {
            return match self {
                HashMut::NewTable(t) => HashOutcome::NewTable(t),
                _ => HashOutcome::Unchanged,
            };
        }
        if self.is_empty() {
            return HashOutcome::Delete;
        }
        match self {
            HashMut::Compact(b) => HashOutcome::Bytes(b),
            HashMut::Table(t) => {
                t.shrink();
                HashOutcome::TableChanged
            }
            HashMut::NewTable(t) => HashOutcome::NewTable(t),
        }
    }
}

table_object!(
    /// A hash in its large form, as the store keeps it: a heap object owned by the item.
    HashObject,
    Hash
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    const LIMITS: HashLimits = HashLimits {
        entries: 4,
        value: 8,
    };

    #[test]
    fn converts_past_either_limit() {
        let mut h = HashMut::default();
        for i in 0..4 {
            assert!(h.set(format!("f{i}").as_bytes(), b"v", LIMITS));
        }
        assert_eq!(h.view().encoding(), "listpack");
        assert!(!h.set(b"f0", b"v2", LIMITS));
        assert_eq!(h.get(b"f0"), Some(&b"v2"[..]));
        assert!(h.set(b"f4", b"v", LIMITS));
        assert_eq!(h.view().encoding(), "hashtable");
        assert_eq!(h.len(), 5);

        let mut h = HashMut::default();
        h.set(b"f", b"123456789", LIMITS);
        assert_eq!(h.view().encoding(), "hashtable");
        let mut h = HashMut::default();
        h.set(b"f", b"12345678", LIMITS);
        assert_eq!(h.view().encoding(), "listpack");
    }

    #[test]
    fn compact_bytes_are_field_value_pairs() {
        let mut h = HashMut::default();
        h.set(b"a", b"1", LIMITS);
        h.set(b"bb", b"22", LIMITS);
        h.set(b"a", b"333", LIMITS);
        let HashOutcome::Bytes(b) = h.finish(true) else {
            panic!("compact");
        };
        assert_eq!(
            b.as_bytes(),
            &[0xC1, 4, 0, 1, b'a', 3, b'3', b'3', b'3', 2, b'b', b'b', 2, b'2', b'2']
        );
    }

    #[test]
    fn random_picks_follow_the_count_sign() {
        let mut h = HashMut::default();
        for i in 0..3 {
            h.set(format!("f{i}").as_bytes(), b"v", LIMITS);
        }
        let mut n = 0;
        h.view().random(-10, |_, _| n += 1);
        assert_eq!(n, 10);
        let mut got = Vec::new();
        h.view().random(10, |f, _| got.push(f.to_vec()));
        assert_eq!(got.len(), 3);
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 3);
        for count in [1, 2] {
            let mut got = Vec::new();
            h.view().random(count, |f, _| got.push(f.to_vec()));
            got.sort();
            got.dedup();
            assert_eq!(got.len() as i64, count);
        }
    }

    #[test]
    fn distinct_picks_are_distinct() {
        for (len, count) in [(100, 10), (100, 50), (100, 99), (5, 5), (5, 9)] {
            let mut p = distinct_picks(len, count);
            assert_eq!(p.len() as u64, count.min(len as u64));
            p.sort();
            p.dedup();
            assert_eq!(p.len() as u64, count.min(len as u64));
            assert!(p.iter().all(|&i| i < len));
        }
    }

    /// The store's side: what a key holds between commands.
    enum Stored {
        None,
        Bytes(CompactBuf),
        Table(Table),
    }

    proptest! {
        #[test]
        fn matches_a_hashmap(ops in proptest::collection::vec((any::<bool>(), 0u8..12, 0usize..12), 0..100)) {
            let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let mut stored = Stored::None;
            for (set, f, vlen) in ops {
                let field = vec![b'a' + f];
                let mut h = match &mut stored {
                    Stored::None => HashMut::default(),
                    Stored::Bytes(b) => HashMut::Compact(b.clone()),
                    Stored::Table(t) => HashMut::Table(t),
                };
                let changed = if set {
                    let value = vec![b'x'; vlen];
                    let new = h.set(&field, &value, LIMITS);
                    prop_assert_eq!(new, model.insert(field, value).is_none());
                    true
                } else {
                    let gone = h.remove(&field);
                    prop_assert_eq!(gone, model.remove(&field).is_some());
                    gone
                };
                prop_assert_eq!(h.len(), model.len());
                let listed: HashMap<Vec<u8>, Vec<u8>> = h.view().iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
                prop_assert_eq!(&listed, &model);
                match h.finish(changed) {
                    HashOutcome::Unchanged | HashOutcome::TableChanged => {}
                    HashOutcome::Delete => stored = Stored::None,
                    HashOutcome::Bytes(b) => stored = Stored::Bytes(b),
                    HashOutcome::NewTable(t) => stored = Stored::Table(t),
                }
                prop_assert_eq!(matches!(stored, Stored::None), model.is_empty());
            }
        }
    }
}
