//! The sorted-set tree's leaf: its header (each entry's hash tag and byte offset, the
//! count and the links) and its entries' bytes in one fixed block of `Tree::leaves`, so
//! that the index naming a leaf is enough to load everything a lookup reads at once.
//!
//! ```text
//!   0    tags [u8; 33] | count | parent | prev | next | len      line 0
//!   56   spill: Vec<u8>  (the entries when they outgrow `inline`; else no allocation)
//!   80   offsets [u32; 33]                                        lines 1-3
//!   212  inline [u8; 940]: entries `score f64 | len varint | member`   lines 3-17
//!   1152
//! ```
//!
//! Before, the entries were a `Vec` of their own: a lookup missed on the index bucket, then
//! on the header (which holds the buffer's address), then on the entry, one after another.
//! Now the leaf's 18 lines are loaded together as soon as the index names the leaf (their
//! addresses depend on the leaf id only), one dependent miss fewer on every lookup, and
//! the same on the destination leaf of a ZADD move.
//!
//! A leaf splits when its entries outgrow the inline room (`Tree`'s `LEAF_BYTES`) unless it
//! holds one entry: 33 entries of a 19-byte member (28 bytes each) fit, so only a member
//! longer than the room, alone in its leaf, or a leaf between an insert and its split,
//! keeps its entries in `spill`. Whether a leaf spills is `len > LEAF_INLINE`, nothing else.

use std::cmp::Ordering;

use super::node::{cmp_key, entry_size, put_entry, read_entry};
use super::tree::{LEAF_MAX, NIL};
use crate::storage::same_bytes;

/// Entry slots of a leaf: one more than [`LEAF_MAX`] while a split is pending.
pub(super) const LEAF_SLOTS: usize = LEAF_MAX + 1;

/// Bytes of a whole leaf (header and inline entries): 18 lines; in unit tests two, so that
/// their leaves spill often.
const LEAF_SIZE: usize = if cfg!(test) { 128 } else { 1152 };

/// Header bytes before `inline`: the tags rounded up to `u32`s, five `u32`s, rounded up
/// to the `Vec`'s alignment, the `Vec`, the offsets.
const HEAD: usize = (LEAF_SLOTS.div_ceil(4) * 4 + 20).div_ceil(8) * 8 + 24 + 4 * LEAF_SLOTS;

/// Entry bytes a leaf holds in its own block (940; 52 in unit tests).
pub(super) const LEAF_INLINE: usize = LEAF_SIZE - HEAD;

// The layout of the module comment, at the built and at the tests' sizes.
const _: () = assert!(std::mem::size_of::<Leaf>() == LEAF_SIZE);
const _: () = assert!(std::mem::offset_of!(Leaf, inline) == HEAD);

/// A leaf's one-byte tag of a member hash (bits the index's probe does not start from).
pub(super) fn tag_of(h: u32) -> u8 {
    (h >> 24) as u8
}

/// A leaf: the header a lookup reads (tags, then one offset) and its entries, in one
/// aligned block (`repr(C)`: the order of the module comment).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub(super) struct Leaf {
    pub(super) tags: [u8; LEAF_SLOTS],
    pub(super) count: u32,
    pub(super) parent: u32,
    pub(super) prev: u32,
    pub(super) next: u32,
    /// Bytes of the entries (in `inline` up to [`LEAF_INLINE`], else in `spill`).
    len: u32,
    spill: Vec<u8>,
    pub(super) offsets: [u32; LEAF_SLOTS],
    inline: [u8; LEAF_INLINE],
}

impl Default for Leaf {
    fn default() -> Leaf {
        Leaf::linked(NIL, NIL, NIL)
    }
}

impl Leaf {
    /// An empty leaf with these links.
    pub(super) fn linked(parent: u32, prev: u32, next: u32) -> Leaf {
        Leaf {
            tags: [0; LEAF_SLOTS],
            count: 0,
            parent,
            prev,
            next,
            len: 0,
            spill: Vec::new(),
            offsets: [0; LEAF_SLOTS],
            inline: [0; LEAF_INLINE],
        }
    }

    fn spilled(&self) -> bool {
        self.len as usize > LEAF_INLINE
    }

    /// The entries' bytes.
    pub(super) fn bytes(&self) -> &[u8] {
        if self.spilled() {
            &self.spill
        } else {
            &self.inline[..self.len as usize]
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        if self.spilled() {
            &mut self.spill
        } else {
            &mut self.inline[..self.len as usize]
        }
    }

    pub(super) fn bytes_len(&self) -> usize {
        self.len as usize
    }

    /// Heap bytes held outside the block (the spilled entries' buffer).
    pub(super) fn heap_bytes(&self) -> usize {
        self.spill.capacity()
    }

    /// Makes room for `n` bytes at `pos` (the bytes after it move up); returns the room.
    /// A spilled buffer grows by at least a quarter, as a leaf's `Vec` did.
    fn open_gap(&mut self, pos: usize, n: usize) -> &mut [u8] {
        let len = self.len as usize;
        if len + n <= LEAF_INLINE {
            self.inline.copy_within(pos..len, pos + n);
            self.len += n as u32;
            return &mut self.inline[pos..pos + n];
        }
        if len <= LEAF_INLINE {
            let mut spill = Vec::with_capacity(len + n.max(len / 4));
            spill.extend_from_slice(&self.inline[..len]);
            self.spill = spill;
        } else if self.spill.capacity() - len < n {
            self.spill.reserve_exact(n.max(len / 4));
        }
        self.spill.resize(len + n, 0);
        self.spill.copy_within(pos..len, pos + n);
        self.len = (len + n) as u32;
        &mut self.spill[pos..pos + n]
    }

    /// Removes `n` bytes at `pos`; entries that fit inline again go back there.
    fn close_gap(&mut self, pos: usize, n: usize) {
        let len = self.len as usize;
        if len <= LEAF_INLINE {
            self.inline.copy_within(pos + n..len, pos);
        } else {
            self.spill.drain(pos..pos + n);
            if len - n <= LEAF_INLINE {
                let spill = std::mem::take(&mut self.spill);
                self.inline[..spill.len()].copy_from_slice(&spill);
            }
        }
        self.len = (len - n) as u32;
    }

    /// Keeps the first `at` entries, which end at byte `off` (a split's left half).
    pub(super) fn truncate(&mut self, at: usize, off: usize) {
        if self.spilled() {
            self.spill.truncate(off);
            if off <= LEAF_INLINE {
                let spill = std::mem::take(&mut self.spill);
                self.inline[..off].copy_from_slice(&spill);
            } else {
                self.spill.shrink_to(off + off / 8);
            }
        }
        self.len = off as u32;
        self.count = at as u32;
    }

    /// Takes entries `at..` of `from` (which start at byte `off`), tags and offsets
    /// included, into this empty leaf (a split's right half).
    pub(super) fn take_tail(&mut self, from: &Leaf, at: usize, off: usize) {
        debug_assert_eq!(self.count, 0);
        let m = from.count as usize - at;
        self.tags[..m].copy_from_slice(&from.tags[at..at + m]);
        for k in 0..m {
            self.offsets[k] = from.offsets[at + k] - off as u32;
        }
        let tail = &from.bytes()[off..];
        if tail.len() <= LEAF_INLINE {
            self.inline[..tail.len()].copy_from_slice(tail);
        } else {
            self.spill = tail.to_vec();
        }
        self.len = tail.len() as u32;
        self.count = m as u32;
    }

    /// (index, byte offset) of the first entry for which `before` is false (a binary
    /// search over the offsets). Every line of the entries is loaded first: out of cache
    /// the search's probes would miss one after another (each depends on the last), while
    /// the loads of [`Leaf::touch`] go out together (ZRANGEBYSCORE's start on 1,000,000
    /// members: 968-1,260 → 800-845 ns in process, none lost at 1,000).
    pub(super) fn lower_bound(&self, before: &impl Fn(f64, &[u8]) -> bool) -> (usize, usize) {
        self.touch();
        let buf = self.bytes();
        let i = self.offsets[..self.count as usize].partition_point(|&pos| {
            let (score, s, e) = read_entry(buf, pos as usize);
            before(score, &buf[s..e])
        });
        (i, self.offset(i))
    }

    /// (index, byte offset) of the first entry above (`score`, `member`): where that key
    /// goes. Counts the lower scores over every entry (their offsets are in the header,
    /// so the loads of all the entries' lines go out at once instead of one after another
    /// as a binary search's do: a leaf out of cache costs about one miss, not five) and
    /// compares members only on a tie.
    pub(super) fn upper_bound_key(&self, score: f64, member: &[u8]) -> (usize, usize) {
        let count = self.count as usize;
        let buf = self.bytes();
        let score_at = |pos: u32| {
            let pos = pos as usize;
            let mut s = [0u8; 8];
            s.copy_from_slice(&buf[pos..pos + 8]);
            f64::from_le_bytes(s)
        };
        let offsets = &self.offsets[..count];
        let mut j = offsets.iter().filter(|&&o| score_at(o) < score).count();
        while j < count && score_at(offsets[j]) == score {
            let (_, s, e) = read_entry(buf, offsets[j] as usize);
            if buf[s..e] > *member {
                break;
            }
            j += 1;
        }
        (j, self.offset(j))
    }

    /// Reads one byte of each of the block's lines (independent loads: their addresses
    /// depend on the leaf's only, so they are in flight together and what follows finds
    /// header and entries in cache), and of a spilled buffer's.
    pub(super) fn touch(&self) {
        let x = self.inline.iter().step_by(64).fold(0u8, |x, &b| x ^ b);
        let o = self.offsets.iter().step_by(16).fold(0u32, |x, &o| x ^ o);
        std::hint::black_box((x, o, self.tags[0], self.inline[LEAF_INLINE - 1]));
        if self.spilled() {
            let s = self.spill.iter().step_by(64).fold(0u8, |x, &b| x ^ b);
            std::hint::black_box(s);
        }
    }

    /// Entry `i` against `key`.
    pub(super) fn cmp_entry(&self, i: usize, key: (f64, &[u8])) -> Ordering {
        let buf = self.bytes();
        let (s, ms, me) = read_entry(buf, self.offsets[i] as usize);
        cmp_key((s, &buf[ms..me]), key)
    }

    /// (index, byte offset, score) of `member`, whose hash has tag `tag`.
    pub(super) fn find(&self, member: &[u8], tag: u8) -> Option<(usize, usize, f64)> {
        let count = self.count as usize;
        let buf = self.bytes();
        for i in (0..count).filter(|&i| self.tags[i] == tag) {
            let pos = self.offsets[i] as usize;
            let (score, s, e) = read_entry(buf, pos);
            if same_bytes(&buf[s..e], member) {
                return Some((i, pos, score));
            }
        }
        None
    }

    /// Byte offset of entry `index` (`count`: the end).
    pub(super) fn offset(&self, index: usize) -> usize {
        if index < self.count as usize {
            self.offsets[index] as usize
        } else {
            self.len as usize
        }
    }

    /// (score, member, end) of the entry at byte `pos`.
    pub(super) fn entry(&self, pos: usize) -> (f64, &[u8], usize) {
        let buf = self.bytes();
        let (score, s, e) = read_entry(buf, pos);
        (score, &buf[s..e], e)
    }

    /// Rewrites the score of the entry at byte `pos`.
    pub(super) fn set_score(&mut self, pos: usize, score: f64) {
        self.bytes_mut()[pos..pos + 8].copy_from_slice(&score.to_le_bytes());
    }

    /// Inserts an entry as number `i`, at byte `pos`, with tag `tag`.
    pub(super) fn insert(&mut self, i: usize, pos: usize, score: f64, member: &[u8], tag: u8) {
        let count = self.count as usize;
        let n = entry_size(member.len());
        put_entry(self.open_gap(pos, n), score, member);
        self.tags.copy_within(i..count, i + 1);
        self.tags[i] = tag;
        self.offsets.copy_within(i..count, i + 1);
        self.offsets[i] = pos as u32;
        for o in &mut self.offsets[i + 1..=count] {
            *o += n as u32;
        }
        self.count += 1;
    }

    /// Removes entry `i`, at byte `pos`, whose member is `len` bytes.
    pub(super) fn remove(&mut self, i: usize, pos: usize, len: usize) {
        let count = self.count as usize;
        let n = entry_size(len);
        self.close_gap(pos, n);
        self.tags.copy_within(i + 1..count, i);
        self.offsets.copy_within(i + 1..count, i);
        for o in &mut self.offsets[i..count - 1] {
            *o -= n as u32;
        }
        self.count -= 1;
    }

    /// Appends the entries of `other` (tags and offsets included).
    pub(super) fn append(&mut self, other: &Leaf) {
        let (count, more) = (self.count as usize, other.count as usize);
        let base = self.len;
        let add = other.bytes();
        self.open_gap(base as usize, add.len()).copy_from_slice(add);
        self.tags[count..count + more].copy_from_slice(&other.tags[..more]);
        for k in 0..more {
            self.offsets[count + k] = other.offsets[k] + base;
        }
        self.count += other.count;
    }

    /// Whether the tags and offsets match the entries, and the entries are where their
    /// length says (tests).
    pub(super) fn consistent(&self, hash: impl Fn(&[u8]) -> u32) -> bool {
        let buf = self.bytes();
        let mut pos = 0;
        for i in 0..self.count as usize {
            let (_, s, e) = read_entry(buf, pos);
            if self.offsets[i] as usize != pos || self.tags[i] != tag_of(hash(&buf[s..e])) {
                return false;
            }
            pos = e;
        }
        let placed = if self.spilled() {
            self.spill.len() == self.len as usize
        } else {
            self.spill.capacity() == 0
        };
        placed && pos == self.len as usize
    }
}

/// Leaves in one chunk of [`Leaves`] (72 KiB).
const CHUNK: usize = 64;

/// The tree's leaves by id, in chunks of [`CHUNK`] that are never moved once full: a
/// growing set neither copies its leaves nor leaves old copies behind (one `Vec<Leaf>`
/// grown by reallocation left 80.3 MiB resident for a 1,000,000-member set whose leaves
/// take 48), and the capacity charged to the memory budget is at most one chunk over.
/// The chunk table (24 bytes per 64 leaves) stays in cache, so the extra load to find
/// a leaf's chunk does not miss. The first chunk grows as a `Vec`, so that a small tree
/// does not take a whole chunk.
#[derive(Clone, Debug, Default)]
pub(super) struct Leaves {
    chunks: Vec<Vec<Leaf>>,
}

impl Leaves {
    pub(super) fn len(&self) -> usize {
        match self.chunks.last() {
            Some(last) => (self.chunks.len() - 1) * CHUNK + last.len(),
            None => 0,
        }
    }

    /// Appends a leaf (its id is the old [`Leaves::len`]).
    pub(super) fn push(&mut self, leaf: Leaf) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => {
                if last.len() == last.capacity() {
                    last.reserve_exact(last.len().min(CHUNK - last.len()));
                }
                last.push(leaf);
            }
            _ => {
                let mut chunk = Vec::with_capacity(if self.chunks.is_empty() { 1 } else { CHUNK });
                chunk.push(leaf);
                self.chunks.push(chunk);
            }
        }
    }

    /// Bytes allocated for leaves and the chunk table (O(1): only the last chunk may be
    /// short of [`CHUNK`]).
    pub(super) fn heap_bytes(&self) -> usize {
        let slots = match self.chunks.last() {
            Some(last) => (self.chunks.len() - 1) * CHUNK + last.capacity(),
            None => 0,
        };
        slots * std::mem::size_of::<Leaf>()
            + self.chunks.capacity() * std::mem::size_of::<Vec<Leaf>>()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Leaf> {
        self.chunks.iter().flatten()
    }
}

impl std::ops::Index<usize> for Leaves {
    type Output = Leaf;

    fn index(&self, id: usize) -> &Leaf {
        &self.chunks[id / CHUNK][id % CHUNK]
    }
}

impl std::ops::IndexMut<usize> for Leaves {
    fn index_mut(&mut self, id: usize) -> &mut Leaf {
        &mut self.chunks[id / CHUNK][id % CHUNK]
    }
}
