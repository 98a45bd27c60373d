//! The compact encoding: a run of length-prefixed byte strings in one buffer, Redis's
//! listpack in spirit. Small hashes, sets, lists and sorted sets are stored this way as the
//! bytes of one slab item, so a collection of a few dozen members costs one chunk and no
//! pointer.
//!
//! # Format
//!
//! ```text
//!  0  tag    u8   TAG (0xC1), so a value can be told from an intset (see intset.rs)
//!  1  count  u16  little endian, entries in the run; COUNT_UNKNOWN (0xFFFF) when there
//!                 are 65,535 or more, then `len()` counts by walking (as listpack does)
//!  3  entries     each: length as a LEB128 varint (1 byte below 128, 2 below 16,384,
//!                 at most 5), then that many bytes
//! ```
//!
//! There is no end marker and no back-length: the run ends where the buffer ends, and a
//! walk backwards (RPOP on a compact list) walks forward once. Small collections are capped
//! by the `*-max-listpack-*` thresholds (512 hash fields or 128 sorted-set members, of at
//! most 64 bytes each, by default), so the walk is short, and the byte saved per entry
//! matters more (a 10-field hash with 8-byte fields and 16-byte values takes 263 bytes
//! here against 288 in Redis's listpack).
//!
//! Readers take `&[u8]` through [`Compact`]; writers edit a `Vec<u8>` with [`CompactBuf`].
//! Positions are byte offsets of an entry's length prefix ([`Pos`]), valid until the
//! buffer is edited. Reading never panics on malformed bytes: a truncated entry ends the
//! walk.

use crate::collections::varint;

/// First byte of every compact value.
pub const TAG: u8 = 0xC1;

/// Bytes before the first entry.
pub const HEADER: usize = 3;

/// The count field's value when the entries must be counted by walking.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// Byte offset of an entry (its length prefix) in a compact buffer.
pub type Pos = usize;

/// Bytes the length prefix of an entry of `len` bytes takes.
pub fn prefix_len(len: usize) -> usize {
    match len {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0x0fff_ffff => 4,
        _ => 5,
    }
}

/// Bytes an entry of `len` bytes takes, prefix included.
pub fn entry_size(len: usize) -> usize {
    prefix_len(len) + len
}

/// A read-only view of a compact value.
#[derive(Clone, Copy, Debug)]
pub struct Compact<'a> {
    bytes: &'a [u8],
}

impl<'a> Compact<'a> {
    /// A view of `bytes`, or None when they do not start with a compact header.
    pub fn new(bytes: &'a [u8]) -> Option<Compact<'a>> {
        (bytes.len() >= HEADER && bytes[0] == TAG).then_some(Compact { bytes })
    }

    /// Whether `bytes` are a compact value.
    pub fn is_compact(bytes: &[u8]) -> bool {
        bytes.first() == Some(&TAG)
    }

    /// The whole encoding.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        let count = u16::from_le_bytes([self.bytes[1], self.bytes[2]]);
        if count == COUNT_UNKNOWN {
            self.iter().count()
        } else {
            usize::from(count)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.len() == HEADER
    }

    /// Position of the first entry (equal to `end()` when empty).
    pub fn first(&self) -> Pos {
        HEADER
    }

    /// One past the last entry.
    pub fn end(&self) -> Pos {
        self.bytes.len()
    }

    /// The entry at `pos` and the position of the next one.
    pub fn entry(&self, pos: Pos) -> Option<(&'a [u8], Pos)> {
        let (len, n) = varint::read_checked(self.bytes, pos, 5)?;
        let start = pos + n;
        let data = self.bytes.get(start..start.checked_add(len)?)?;
        Some((data, start + len))
    }

    /// Entries in order.
    pub fn iter(&self) -> Iter<'a> {
        Iter {
            view: *self,
            pos: HEADER,
        }
    }

    /// Entries with their positions.
    pub fn iter_pos(&self) -> impl Iterator<Item = (Pos, &'a [u8])> + 'a {
        let view = *self;
        let mut pos = HEADER;
        std::iter::from_fn(move || {
            let (data, next) = view.entry(pos)?;
            let at = pos;
            pos = next;
            Some((at, data))
        })
    }

    /// Position of the first entry equal to `needle`, looking at every `stride`-th entry
    /// from the first (stride 2 finds hash fields, skipping values).
    pub fn find(&self, needle: &[u8], stride: usize) -> Option<Pos> {
        let mut pos = HEADER;
        loop {
            let (data, mut next) = self.entry(pos)?;
            if data == needle {
                return Some(pos);
            }
            for _ in 1..stride {
                next = self.entry(next)?.1;
            }
            pos = next;
        }
    }

    /// Position of the `index`-th entry (0-based), or None past the end.
    pub fn nth(&self, index: usize) -> Option<Pos> {
        let mut pos = HEADER;
        for _ in 0..index {
            pos = self.entry(pos)?.1;
        }
        (pos < self.bytes.len()).then_some(pos)
    }
}

/// Entries of a compact value in order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    view: Compact<'a>,
    pos: Pos,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (data, next) = self.view.entry(self.pos)?;
        self.pos = next;
        Some(data)
    }
}

/// An editable compact value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactBuf {
    bytes: Vec<u8>,
}

impl CompactBuf {
    /// An empty compact value.
    pub fn new() -> CompactBuf {
        CompactBuf::with_capacity(0)
    }

    /// An empty compact value with room for `entry_bytes` of entries.
    pub fn with_capacity(entry_bytes: usize) -> CompactBuf {
        let mut bytes = Vec::with_capacity(HEADER + entry_bytes);
        bytes.extend_from_slice(&[TAG, 0, 0]);
        CompactBuf { bytes }
    }

    /// A copy of an existing encoding to edit (None when `bytes` are not compact).
    pub fn from_bytes(bytes: &[u8]) -> Option<CompactBuf> {
        Compact::new(bytes)?;
        Some(CompactBuf {
            bytes: bytes.to_vec(),
        })
    }

    /// Takes over `bytes` (None when they are not compact).
    pub fn from_vec(bytes: Vec<u8>) -> Option<CompactBuf> {
        Compact::new(&bytes)?;
        Some(CompactBuf { bytes })
    }

    pub fn view(&self) -> Compact<'_> {
        Compact { bytes: &self.bytes }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.len() == HEADER
    }

    /// Empties the run, keeping the allocation.
    pub fn clear(&mut self) {
        self.bytes.truncate(HEADER);
        self.set_count(0);
    }

    fn count_field(&self) -> u16 {
        u16::from_le_bytes([self.bytes[1], self.bytes[2]])
    }

    fn set_count(&mut self, count: usize) {
        let c = u16::try_from(count).unwrap_or(COUNT_UNKNOWN);
        self.bytes[1..3].copy_from_slice(&c.to_le_bytes());
    }

    fn add_count(&mut self, delta: isize) {
        let c = self.count_field();
        if c == COUNT_UNKNOWN {
            if delta < 0 {
                // Might have dropped below the saturation point: count once.
                let n = self.view().len();
                self.set_count(n);
            }
        } else {
            self.set_count((usize::from(c)).saturating_add_signed(delta));
        }
    }

    /// Inserts `entry` before the entry at `pos` (`end()` appends).
    pub fn insert(&mut self, pos: Pos, entry: &[u8]) {
        self.insert_many(pos, &[entry]);
    }

    /// Inserts `entries`, in order, before the entry at `pos` with one move of the tail.
    pub fn insert_many(&mut self, pos: Pos, entries: &[&[u8]]) {
        let add: usize = entries.iter().map(|e| entry_size(e.len())).sum();
        let old = self.bytes.len();
        self.bytes.resize(old + add, 0);
        self.bytes.copy_within(pos..old, pos + add);
        let mut at = pos;
        for e in entries {
            at += varint::write(&mut self.bytes[at..], e.len());
            self.bytes[at..at + e.len()].copy_from_slice(e);
            at += e.len();
        }
        self.add_count(entries.len() as isize);
    }

    /// Appends `entry`.
    pub fn push(&mut self, entry: &[u8]) {
        let pos = self.bytes.len();
        self.insert(pos, entry);
    }

    /// Removes `n` entries starting at `pos` (fewer when the run ends first); returns how
    /// many were removed.
    pub fn remove(&mut self, pos: Pos, n: usize) -> usize {
        let mut end = pos;
        let mut removed = 0;
        while removed < n {
            match self.view().entry(end) {
                Some((_, next)) => end = next,
                None => break,
            }
            removed += 1;
        }
        self.bytes.drain(pos..end);
        self.add_count(-(removed as isize));
        removed
    }

    /// Replaces the entry at `pos` with `entry`.
    pub fn replace(&mut self, pos: Pos, entry: &[u8]) {
        let Some((_, next)) = self.view().entry(pos) else {
            return;
        };
        let new_size = entry_size(entry.len());
        let old_size = next - pos;
        if new_size > old_size {
            let old = self.bytes.len();
            self.bytes.resize(old + new_size - old_size, 0);
            self.bytes.copy_within(next..old, pos + new_size);
        } else if new_size < old_size {
            self.bytes.drain(pos + new_size..next);
        }
        let n = varint::write(&mut self.bytes[pos..], entry.len());
        self.bytes[pos + n..pos + n + entry.len()].copy_from_slice(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_is_header_then_prefixed_entries() {
        let mut b = CompactBuf::new();
        b.push(b"ab");
        b.push(b"");
        b.push(&[7u8; 130]);
        let bytes = b.as_bytes();
        assert_eq!(&bytes[..8], &[TAG, 3, 0, 2, b'a', b'b', 0, 0x82]);
        assert_eq!(bytes[8], 0x01);
        assert_eq!(bytes.len(), 3 + 3 + 1 + 2 + 130);
        assert_eq!(
            b.view().iter().collect::<Vec<_>>(),
            vec![&b"ab"[..], b"", &[7u8; 130][..]]
        );
    }

    #[test]
    fn varint_sizes_at_boundaries() {
        for (len, want) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16383, 2),
            (16384, 3),
            (1 << 21, 4),
            (1 << 28, 5),
        ] {
            assert_eq!(prefix_len(len), want, "len {len}");
            let mut out = [0u8; 5];
            assert_eq!(varint::write(&mut out, len), want);
            assert_eq!(varint::read_checked(&out, 0, 5), Some((len, want)));
        }
    }

    #[test]
    fn find_with_stride_skips_values() {
        let mut b = CompactBuf::new();
        b.insert_many(HEADER, &[b"f1", b"f2", b"f2", b"v2"]);
        let v = b.view();
        assert_eq!(v.find(b"f2", 2), Some(v.nth(2).unwrap()));
        assert_eq!(v.find(b"f2", 1), Some(v.nth(1).unwrap()));
        assert_eq!(v.find(b"v2", 2), None);
        assert_eq!(v.find(b"nope", 1), None);
    }

    #[test]
    fn truncated_bytes_end_the_walk() {
        let bytes = [TAG, 2, 0, 2, b'a', b'b', 5, b'x'];
        let v = Compact::new(&bytes).unwrap();
        assert_eq!(v.iter().count(), 1);
        assert!(Compact::new(&[0u8, 0, 0]).is_none());
        assert!(Compact::new(&[TAG]).is_none());
        let endless = [TAG, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(Compact::new(&endless).unwrap().iter().count(), 0);
    }

    #[test]
    fn count_saturates_and_recovers() {
        let mut b = CompactBuf::new();
        for _ in 0..65_536 {
            b.push(b"x");
        }
        assert_eq!(b.count_field(), COUNT_UNKNOWN);
        assert_eq!(b.len(), 65_536);
        b.remove(HEADER, 2);
        assert_eq!(b.count_field(), 65_534);
        assert_eq!(b.len(), 65_534);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(usize, Vec<u8>),
        Remove(usize, usize),
        Replace(usize, Vec<u8>),
    }

    fn op() -> impl Strategy<Value = Op> {
        let bytes = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..4),
            proptest::collection::vec(any::<u8>(), 120..300),
        ];
        prop_oneof![
            (any::<usize>(), bytes.clone()).prop_map(|(i, b)| Op::Insert(i, b)),
            (any::<usize>(), 0usize..4).prop_map(|(i, n)| Op::Remove(i, n)),
            (any::<usize>(), bytes).prop_map(|(i, b)| Op::Replace(i, b)),
        ]
    }

    proptest! {
        #[test]
        fn edits_match_a_vec_model(ops in proptest::collection::vec(op(), 0..60)) {
            let mut model: Vec<Vec<u8>> = Vec::new();
            let mut b = CompactBuf::new();
            for op in ops {
                match op {
                    Op::Insert(i, e) => {
                        let i = i % (model.len() + 1);
                        let pos = b.view().nth(i).unwrap_or(b.view().end());
                        b.insert(pos, &e);
                        model.insert(i, e);
                    }
                    Op::Remove(i, n) => {
                        if model.is_empty() { continue; }
                        let i = i % model.len();
                        let pos = b.view().nth(i).unwrap();
                        let removed = b.remove(pos, n);
                        let want = n.min(model.len() - i);
                        prop_assert_eq!(removed, want);
                        model.drain(i..i + want);
                    }
                    Op::Replace(i, e) => {
                        if model.is_empty() { continue; }
                        let i = i % model.len();
                        let pos = b.view().nth(i).unwrap();
                        b.replace(pos, &e);
                        model[i] = e;
                    }
                }
                prop_assert_eq!(b.len(), model.len());
                let got: Vec<Vec<u8>> = b.view().iter().map(<[u8]>::to_vec).collect();
                prop_assert_eq!(&got, &model);
                let size: usize = model.iter().map(|e| entry_size(e.len())).sum();
                prop_assert_eq!(b.as_bytes().len(), HEADER + size);
            }
        }
    }
}
