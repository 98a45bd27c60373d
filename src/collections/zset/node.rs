//! The sorted-set tree's two node kinds and its entry encoding: a leaf's packed entries
//! (`score f64 | len varint | member`) with their tags and offsets, and an inner node's
//! fixed arrays of children, subtree sizes and separators. [`super::tree::Tree`] owns
//! and links them.

use std::cmp::Ordering;

use super::tree::{FANOUT, LEAF_MAX, NIL};
use crate::collections::varint;
use crate::storage::same_bytes;

/// Compares two (score, member) keys in sorted-set order (-0 and 0 are equal scores).
pub fn cmp_key(a: (f64, &[u8]), b: (f64, &[u8])) -> Ordering {
    if a.0 < b.0 {
        Ordering::Less
    } else if a.0 > b.0 {
        Ordering::Greater
    } else {
        a.1.cmp(b.1)
    }
}

/// Bytes an entry of a `len`-byte member takes in a leaf (and in the packed form).
pub fn entry_size(len: usize) -> usize {
    8 + varint::len(len) + len
}

/// Appends an entry to `out` (or writes it at the end of a reserved slice).
pub fn write_entry(out: &mut Vec<u8>, score: f64, member: &[u8]) {
    out.extend_from_slice(&score.to_le_bytes());
    varint::push(out, member.len());
    out.extend_from_slice(member);
}

/// Reads the entry at `pos`: (score, member range start, member end = next entry).
pub fn read_entry(buf: &[u8], pos: usize) -> (f64, usize, usize) {
    let mut s = [0u8; 8];
    s.copy_from_slice(&buf[pos..pos + 8]);
    let (len, n) = varint::read(buf, pos + 8);
    let i = pos + 8 + n;
    (f64::from_le_bytes(s), i, i + len)
}

/// Inserts an encoded entry at byte `pos` of `buf` (in place: the tail moves up, no
/// temporary).
pub fn insert_entry(buf: &mut Vec<u8>, pos: usize, score: f64, member: &[u8]) {
    if pos == buf.len() {
        return write_entry(buf, score, member);
    }
    let old = buf.len();
    let n = entry_size(member.len());
    buf.resize(old + n, 0);
    buf.copy_within(pos..old, pos + n);
    let mut at = pos;
    buf[at..at + 8].copy_from_slice(&score.to_le_bytes());
    at += 8;
    at += varint::write(&mut buf[at..], member.len());
    buf[at..pos + n].copy_from_slice(member);
}

/// Entry slots of a leaf: one more than [`LEAF_MAX`] while a split is pending.
pub(super) const LEAF_SLOTS: usize = LEAF_MAX + 1;

/// Padding after a leaf header's first fields: `tags` (rounded up to a `u32`) and the
/// four `u32`s fill the first line up to it.
const LEAF_PAD: usize = 64 - (LEAF_SLOTS.div_ceil(4) * 4 + 16);

// The layouts the comments of `Leaf` and `Inner` describe, at the built sizes (the unit
// test `node_headers_keep_their_hot_fields_in_few_lines` checks the same shape at the
// tests' small sizes).
const _: () = assert!(cfg!(test) || std::mem::size_of::<Leaf>() == 256);
const _: () = assert!(cfg!(test) || std::mem::offset_of!(Inner, sep_scores) <= 280);

/// A leaf's one-byte tag of a member hash (bits the index's probe does not start from).
pub(super) fn tag_of(h: u32) -> u8 {
    (h >> 24) as u8
}

/// A leaf: its entries' bytes, and beside them (in the leaf's header, one read) each
/// entry's tag and byte offset, so that finding a member reads the tags and then one
/// entry, not every entry before it, and entry `i` of a rank is one lookup.
///
/// The header is four aligned 64-byte lines (`repr(C)`, so the order is this one): the
/// first holds what a member lookup and a walk up read first (tags, count, parent, with
/// the links), the second the buffer and the first offsets, the last two the other
/// offsets. Unaligned at 208 bytes, a header spanned four or five lines anywhere in
/// `Tree::leaves`; [`Leaf::touch_header`] loads the four together when the index names
/// the leaf.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
pub(super) struct Leaf {
    pub(super) tags: [u8; LEAF_SLOTS],
    pub(super) count: u32,
    pub(super) parent: u32,
    pub(super) prev: u32,
    pub(super) next: u32,
    /// Starts `buf` on the second line (12 bytes at 33 slots).
    pub(super) _pad: [u8; LEAF_PAD],
    pub(super) buf: Vec<u8>,
    pub(super) offsets: [u32; LEAF_SLOTS],
}

impl Default for Leaf {
    fn default() -> Leaf {
        Leaf {
            tags: [0; LEAF_SLOTS],
            count: 0,
            parent: NIL,
            prev: NIL,
            next: NIL,
            _pad: [0; LEAF_PAD],
            buf: Vec::new(),
            offsets: [0; LEAF_SLOTS],
        }
    }
}

impl Leaf {
    /// (index, byte offset) of the first entry for which `before` is false (a binary
    /// search over the offsets). Every line of the entries is loaded first: out of cache
    /// the search's probes would miss one after another (each depends on the last), while
    /// the loads of [`Leaf::touch`] go out together (ZRANGEBYSCORE's start on 1,000,000
    /// members: 968-1,260 → 800-845 ns in process, none lost at 1,000).
    pub(super) fn lower_bound(&self, before: &impl Fn(f64, &[u8]) -> bool) -> (usize, usize) {
        self.touch();
        let i = self.offsets[..self.count as usize].partition_point(|&pos| {
            let (score, s, e) = read_entry(&self.buf, pos as usize);
            before(score, &self.buf[s..e])
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
        let score_at = |pos: u32| {
            let pos = pos as usize;
            let mut s = [0u8; 8];
            s.copy_from_slice(&self.buf[pos..pos + 8]);
            f64::from_le_bytes(s)
        };
        let offsets = &self.offsets[..count];
        let mut j = offsets.iter().filter(|&&o| score_at(o) < score).count();
        while j < count && score_at(offsets[j]) == score {
            let (_, s, e) = read_entry(&self.buf, offsets[j] as usize);
            if self.buf[s..e] > *member {
                break;
            }
            j += 1;
        }
        (j, self.offset(j))
    }

    /// Reads one byte of each cache line of the entries and of the header's offsets (the
    /// loads are independent, so they are in flight together; what follows finds the
    /// lines in cache).
    pub(super) fn touch(&self) {
        let x = self.buf.iter().step_by(64).fold(0u8, |x, &b| x ^ b);
        let o = self.offsets.iter().step_by(16).fold(0u32, |x, &o| x ^ o);
        std::hint::black_box((
            x,
            o,
            self.offsets[LEAF_SLOTS - 1],
            self.tags[LEAF_SLOTS - 1],
        ));
    }

    /// Reads one word of each of the header's four lines (independent loads, in flight
    /// together): a lookup's reads of the tags, then of an offset, then of the buffer
    /// pointer would otherwise miss one after another.
    pub(super) fn touch_header(&self) {
        std::hint::black_box((
            self.tags[0],
            self.buf.as_ptr(),
            self.offsets[LEAF_SLOTS / 2],
            self.offsets[LEAF_SLOTS - 1],
        ));
    }

    /// Entry `i` against `key`.
    pub(super) fn cmp_entry(&self, i: usize, key: (f64, &[u8])) -> Ordering {
        let (s, ms, me) = read_entry(&self.buf, self.offsets[i] as usize);
        cmp_key((s, &self.buf[ms..me]), key)
    }

    /// (index, byte offset, score) of `member`, whose hash has tag `tag`.
    pub(super) fn find(&self, member: &[u8], tag: u8) -> Option<(usize, usize, f64)> {
        let count = self.count as usize;
        for i in (0..count).filter(|&i| self.tags[i] == tag) {
            let pos = self.offsets[i] as usize;
            let (score, s, e) = read_entry(&self.buf, pos);
            if same_bytes(&self.buf[s..e], member) {
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
            self.buf.len()
        }
    }

    pub(super) fn entry(&self, pos: usize) -> (f64, &[u8], usize) {
        let (score, s, e) = read_entry(&self.buf, pos);
        (score, &self.buf[s..e], e)
    }

    /// Inserts an entry as number `i`, at byte `pos`, with tag `tag`.
    pub(super) fn insert(&mut self, i: usize, pos: usize, score: f64, member: &[u8], tag: u8) {
        let count = self.count as usize;
        insert_entry(&mut self.buf, pos, score, member);
        let n = entry_size(member.len()) as u32;
        self.tags.copy_within(i..count, i + 1);
        self.tags[i] = tag;
        self.offsets.copy_within(i..count, i + 1);
        self.offsets[i] = pos as u32;
        for o in &mut self.offsets[i + 1..=count] {
            *o += n;
        }
        self.count += 1;
    }

    /// Removes entry `i`, at byte `pos`, whose member is `len` bytes.
    pub(super) fn remove(&mut self, i: usize, pos: usize, len: usize) {
        let count = self.count as usize;
        let n = entry_size(len);
        self.buf.drain(pos..pos + n);
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
        let base = self.buf.len() as u32;
        self.buf.extend_from_slice(&other.buf);
        self.tags[count..count + more].copy_from_slice(&other.tags[..more]);
        for k in 0..more {
            self.offsets[count + k] = other.offsets[k] + base;
        }
        self.count += other.count;
    }

    /// Whether the tags and offsets match the entries (tests).
    pub(super) fn consistent(&self, hash: impl Fn(&[u8]) -> u32) -> bool {
        let mut pos = 0;
        for i in 0..self.count as usize {
            let (_, s, e) = read_entry(&self.buf, pos);
            if self.offsets[i] as usize != pos || self.tags[i] != tag_of(hash(&self.buf[s..e])) {
                return false;
            }
            pos = e;
        }
        pos == self.buf.len()
    }
}

/// Child slots of an inner node: one more than [`FANOUT`] while a split is pending.
pub(super) const SLOTS: usize = FANOUT + 1;

/// An inner node: fixed arrays in one block (inside `Tree::inners`), so a level of a
/// descent or of a walk up reads one node's memory instead of three vectors' (a random
/// update of a 1M-member set misses the cache at every level below the top two).
///
/// `repr(C)`, hot fields first: a walk up (ZRANK, and every change's size update) reads
/// `parent`, `children` and `sizes` only, the node's first 280 bytes. Sizes are
/// `u32` (a tree's leaf ids are `u32` and every entry takes more than a byte, so a set
/// of 2^32 entries cannot be built in any memory budget): 33 of them take three lines
/// where `usize` took five.
#[derive(Clone, Debug)]
#[repr(C)]
pub(super) struct Inner {
    /// Children in use.
    pub(super) len: usize,
    pub(super) parent: u32,
    pub(super) leaf_children: bool,
    pub(super) children: [u32; SLOTS],
    /// Entries under each child.
    pub(super) sizes: [u32; SLOTS],
    /// Separator `i`, (`sep_scores[i]`, `sep_members[i]`), bounds `children[i + 1]` from
    /// below (`len - 1` in use, the rest empty). The scores are an array of their own
    /// (256 bytes) so that routing a key reads four lines, not twelve of (score, member)
    /// pairs, and reads a member only when the scores tie.
    pub(super) sep_scores: [f64; FANOUT],
    pub(super) sep_members: [Box<[u8]>; FANOUT],
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            len: 0,
            parent: NIL,
            leaf_children: false,
            children: [NIL; SLOTS],
            sizes: [0; SLOTS],
            sep_scores: [0.0; FANOUT],
            sep_members: std::array::from_fn(|_| Box::default()),
        }
    }
}

impl Inner {
    pub(super) fn children(&self) -> &[u32] {
        &self.children[..self.len]
    }

    pub(super) fn sizes(&self) -> &[u32] {
        &self.sizes[..self.len]
    }

    pub(super) fn sep_members(&self) -> &[Box<[u8]>] {
        &self.sep_members[..self.len.saturating_sub(1)]
    }

    /// The child to descend into: the number of separators for which `before` holds
    /// (monotone: true for a prefix). A binary search; a predicate that ignores the
    /// member never loads one.
    pub(super) fn route(&self, before: &impl Fn(f64, &[u8]) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len.saturating_sub(1));
        while lo < hi {
            let mid = (lo + hi) / 2;
            if before(self.sep_scores[mid], &self.sep_members[mid]) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The child to descend into for a key: the number of separators at or below
    /// (`score`, `member`). Counts the lower scores over the whole array (no branch per
    /// separator, its lines loaded side by side) and compares members only on a tie.
    pub(super) fn route_key(&self, score: f64, member: &[u8]) -> usize {
        let n = self.len.saturating_sub(1);
        let mut j = self.sep_scores[..n].iter().filter(|&&s| s < score).count();
        while j < n && self.sep_scores[j] == score && *self.sep_members[j] <= *member {
            j += 1;
        }
        j
    }

    /// Reads one word of each cache line of the children and sizes (what a walk up
    /// reads: [`Inner::position`], then the sizes before it), independent loads.
    pub(super) fn touch(&self) {
        let c = self.children.iter().step_by(16).fold(0u32, |x, &c| x ^ c);
        let s = self.sizes.iter().step_by(16).fold(0u32, |x, &s| x ^ s);
        std::hint::black_box((c, s, self.children[SLOTS - 1], self.parent));
    }

    pub(super) fn position(&self, child: u32) -> usize {
        self.children()
            .iter()
            .position(|&c| c == child)
            .expect("child")
    }

    /// Inserts `child` (with `size` entries) at index `at > 0`, `sep` bounding it below.
    pub(super) fn insert(&mut self, at: usize, child: u32, size: u32, sep: (f64, Box<[u8]>)) {
        let len = self.len;
        self.children.copy_within(at..len, at + 1);
        self.children[at] = child;
        self.sizes.copy_within(at..len, at + 1);
        self.sizes[at] = size;
        self.sep_scores.copy_within(at - 1..len - 1, at);
        self.sep_scores[at - 1] = sep.0;
        self.sep_members[at - 1..len].rotate_right(1);
        self.sep_members[at - 1] = sep.1;
        self.len += 1;
    }

    /// Removes child `at` and one separator next to it.
    pub(super) fn remove(&mut self, at: usize) {
        let len = self.len;
        self.children.copy_within(at + 1..len, at);
        self.sizes.copy_within(at + 1..len, at);
        if len > 1 {
            let s = at.saturating_sub(1);
            self.sep_scores.copy_within(s + 1..len - 1, s);
            self.sep_members[s] = Box::default();
            self.sep_members[s..len - 1].rotate_left(1);
        }
        self.len -= 1;
    }

    /// Moves children `mid..` into a new node; returns it and the separator between.
    pub(super) fn split_off(&mut self, mid: usize) -> (Inner, (f64, Box<[u8]>)) {
        let len = self.len;
        let mut right = Inner {
            len: len - mid,
            parent: self.parent,
            leaf_children: self.leaf_children,
            ..Inner::default()
        };
        right.children[..len - mid].copy_from_slice(&self.children[mid..len]);
        right.sizes[..len - mid].copy_from_slice(&self.sizes[mid..len]);
        right.sep_scores[..len - 1 - mid].copy_from_slice(&self.sep_scores[mid..len - 1]);
        for k in mid..len - 1 {
            right.sep_members[k - mid] = std::mem::take(&mut self.sep_members[k]);
        }
        let sep = (
            self.sep_scores[mid - 1],
            std::mem::take(&mut self.sep_members[mid - 1]),
        );
        self.len = mid;
        (right, sep)
    }
}
