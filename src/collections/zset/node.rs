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
    let mut n = member.len();
    while n >= 0x80 {
        out.push((n & 0x7f) as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(member);
}

/// Reads the entry at `pos`: (score, member range start, member end = next entry).
pub fn read_entry(buf: &[u8], pos: usize) -> (f64, usize, usize) {
    let mut s = [0u8; 8];
    s.copy_from_slice(&buf[pos..pos + 8]);
    let mut i = pos + 8;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[i];
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
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
    let mut len = member.len();
    while len >= 0x80 {
        buf[at] = (len & 0x7f) as u8 | 0x80;
        len >>= 7;
        at += 1;
    }
    buf[at] = len as u8;
    buf[at + 1..pos + n].copy_from_slice(member);
}

/// Entry slots of a leaf: one more than [`LEAF_MAX`] while a split is pending.
pub(super) const LEAF_SLOTS: usize = LEAF_MAX + 1;

/// A leaf's one-byte tag of a member hash (bits the index's probe does not start from).
pub(super) fn tag_of(h: u32) -> u8 {
    (h >> 24) as u8
}

/// Bytes a member of `len` bytes takes in a leaf's buffer (`len varint | member`; its
/// score is in the leaf's header).
pub(super) fn member_size(len: usize) -> usize {
    varint::len(len) + len
}

/// (start, end) of the member whose length varint is at `pos`.
fn read_member(buf: &[u8], pos: usize) -> (usize, usize) {
    let mut i = pos;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[i];
        len |= usize::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    (i, i + len)
}

/// A leaf, slotted like a database page: the header holds each entry's score, hash tag
/// and byte offset in entry order; the buffer holds the members (`len varint | member`)
/// in the order they arrived. An insert appends its member and shifts only the header's
/// arrays; a removal moves the buffer's last member into the hole when it is the same
/// size (else the hole stays until the buffer needs room and is compacted). So a change
/// moves no member bytes but its own, where a leaf kept in order moved half the leaf
/// (most of a move's cache misses at 1,000,000 members); finding where a key goes reads
/// the scores in the header; finding a member reads the tags and one member.
///
/// The fields are in the order a member lookup reads them (tags, the buffer's pointer,
/// offsets), so those share the header's first lines.
#[derive(Clone, Debug)]
#[repr(C)]
pub(super) struct Leaf {
    pub(super) count: u32,
    /// Bytes of `buf` held by members (the rest are holes left by removals).
    pub(super) live: u32,
    pub(super) parent: u32,
    pub(super) prev: u32,
    pub(super) next: u32,
    pub(super) tags: [u8; LEAF_SLOTS],
    pub(super) buf: Vec<u8>,
    pub(super) offsets: [u32; LEAF_SLOTS],
    pub(super) scores: [f64; LEAF_SLOTS],
}

impl Default for Leaf {
    fn default() -> Leaf {
        Leaf {
            count: 0,
            live: 0,
            parent: NIL,
            prev: NIL,
            next: NIL,
            tags: [0; LEAF_SLOTS],
            buf: Vec::new(),
            offsets: [0; LEAF_SLOTS],
            scores: [0.0; LEAF_SLOTS],
        }
    }
}

impl Leaf {
    /// Member of entry `i`.
    pub(super) fn member(&self, i: usize) -> &[u8] {
        let (s, e) = read_member(&self.buf, self.offsets[i] as usize);
        &self.buf[s..e]
    }

    /// (score, member) of entry `i`.
    pub(super) fn entry(&self, i: usize) -> (f64, &[u8]) {
        (self.scores[i], self.member(i))
    }

    /// The leaf's size against `LEAF_BYTES`: its members and 8 bytes a score, as the
    /// packed encoding counts an entry.
    pub(super) fn bytes(&self) -> usize {
        self.live as usize + 8 * self.count as usize
    }

    /// Index of the first entry for which `before` is false (a binary search).
    pub(super) fn lower_bound(&self, before: &impl Fn(f64, &[u8]) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.count as usize);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if before(self.scores[mid], self.member(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Index of the first entry above (`score`, `member`): where that key goes. Counts
    /// the lower scores over the header's array (no branch per entry, its lines loaded
    /// side by side) and reads members only on a tie.
    pub(super) fn upper_bound_key(&self, score: f64, member: &[u8]) -> usize {
        let count = self.count as usize;
        let mut j = self.scores[..count].iter().filter(|&&s| s < score).count();
        while j < count && self.scores[j] == score && *self.member(j) <= *member {
            j += 1;
        }
        j
    }

    /// Reads one word of each line of the header (scores, tags, offsets), whatever the
    /// count, so that no load waits for another: they are in flight together, and what
    /// follows finds the lines in cache. The buffer's end, where an insert writes its
    /// member, is not read: it hangs off the header (a second miss after the first) and
    /// a store does not hold the core up as a load does.
    pub(super) fn touch(&self) {
        let mut x = self.scores.iter().step_by(8).fold(0u64, |x, s| x ^ s.to_bits());
        x ^= self.offsets.iter().step_by(16).fold(0, |x, &o| x ^ u64::from(o));
        x ^= u64::from(self.tags[0] ^ self.tags[LEAF_SLOTS - 1]);
        std::hint::black_box(x);
    }

    /// Entry `i` against `key`.
    pub(super) fn cmp_entry(&self, i: usize, key: (f64, &[u8])) -> Ordering {
        cmp_key(self.entry(i), key)
    }

    /// (index, score) of `member`, whose hash has tag `tag`.
    pub(super) fn find(&self, member: &[u8], tag: u8) -> Option<(usize, f64)> {
        let count = self.count as usize;
        (0..count)
            .filter(|&i| self.tags[i] == tag)
            .find(|&i| same_bytes(self.member(i), member))
            .map(|i| (i, self.scores[i]))
    }

    /// Inserts an entry as number `i` with tag `tag`, its member at the buffer's end.
    pub(super) fn insert(&mut self, i: usize, score: f64, member: &[u8], tag: u8) {
        let count = self.count as usize;
        let at = self.buf.len();
        let mut n = member.len();
        while n >= 0x80 {
            self.buf.push((n & 0x7f) as u8 | 0x80);
            n >>= 7;
        }
        self.buf.push(n as u8);
        self.buf.extend_from_slice(member);
        self.tags.copy_within(i..count, i + 1);
        self.tags[i] = tag;
        self.scores.copy_within(i..count, i + 1);
        self.scores[i] = score;
        self.offsets.copy_within(i..count, i + 1);
        self.offsets[i] = at as u32;
        self.count += 1;
        self.live += (self.buf.len() - at) as u32;
    }

    /// Removes entry `i`. Its bytes become a hole, filled by the buffer's last member
    /// when that is the same size, or cut off when it is the last.
    pub(super) fn remove(&mut self, i: usize) {
        let count = self.count as usize;
        let at = self.offsets[i] as usize;
        let size = read_member(&self.buf, at).1 - at;
        self.tags.copy_within(i + 1..count, i);
        self.scores.copy_within(i + 1..count, i);
        self.offsets.copy_within(i + 1..count, i);
        self.count -= 1;
        self.live -= size as u32;
        let count = count - 1;
        let Some((j, last)) = (0..count).map(|k| (k, self.offsets[k] as usize)).max_by_key(|e| e.1)
        else {
            self.buf.clear();
            return;
        };
        let last_end = read_member(&self.buf, last).1;
        if last < at {
            self.buf.truncate(last_end);
        } else if last_end - last == size {
            self.buf.copy_within(last..last_end, at);
            self.offsets[j] = at as u32;
            self.buf.truncate(last);
        }
    }

    /// Whether the buffer has holes.
    pub(super) fn has_holes(&self) -> bool {
        self.buf.len() > self.live as usize
    }

    /// Moves the members down over the holes, in place (in the order they lie).
    pub(super) fn compact(&mut self) {
        let count = self.count as usize;
        let mut order = [0u8; LEAF_SLOTS];
        for (k, o) in order[..count].iter_mut().enumerate() {
            *o = k as u8;
        }
        order[..count].sort_unstable_by_key(|&k| self.offsets[usize::from(k)]);
        let mut to = 0;
        for &k in &order[..count] {
            let from = self.offsets[usize::from(k)] as usize;
            let end = read_member(&self.buf, from).1;
            self.buf.copy_within(from..end, to);
            self.offsets[usize::from(k)] = to as u32;
            to += end - from;
        }
        self.buf.truncate(to);
    }

    /// Moves entries `at..` into a new leaf (its buffer in entry order and exactly
    /// sized; links left to the caller) and compacts this one's buffer.
    pub(super) fn split_off(&mut self, at: usize) -> Leaf {
        let count = self.count as usize;
        let moved = count - at;
        let bytes: usize = (at..count).map(|k| member_size(self.member(k).len())).sum();
        let mut right = Leaf {
            count: moved as u32,
            live: bytes as u32,
            buf: Vec::with_capacity(bytes),
            ..Leaf::default()
        };
        for k in at..count {
            let from = self.offsets[k] as usize;
            let end = read_member(&self.buf, from).1;
            right.offsets[k - at] = right.buf.len() as u32;
            right.buf.extend_from_slice(&self.buf[from..end]);
        }
        right.tags[..moved].copy_from_slice(&self.tags[at..count]);
        right.scores[..moved].copy_from_slice(&self.scores[at..count]);
        self.count = at as u32;
        self.live -= bytes as u32;
        self.compact();
        let live = self.live as usize;
        self.buf.shrink_to(live + live / 8);
        right
    }

    /// Appends the entries of `other` (tags, scores and offsets included).
    pub(super) fn append(&mut self, other: &Leaf) {
        let (count, more) = (self.count as usize, other.count as usize);
        let base = self.buf.len() as u32;
        self.buf.extend_from_slice(&other.buf);
        self.tags[count..count + more].copy_from_slice(&other.tags[..more]);
        self.scores[count..count + more].copy_from_slice(&other.scores[..more]);
        for k in 0..more {
            self.offsets[count + k] = other.offsets[k] + base;
        }
        self.count += other.count;
        self.live += other.live;
    }

    /// Whether the tags match the members, the entries are in order, the members do not
    /// overlap and `live` counts them (tests).
    pub(super) fn consistent(&self, hash: impl Fn(&[u8]) -> u32) -> bool {
        let count = self.count as usize;
        let mut spans: Vec<(usize, usize)> = (0..count)
            .map(|i| read_member(&self.buf, self.offsets[i] as usize))
            .map(|(s, e)| (s - varint::len(e - s), e))
            .collect();
        let tags = (0..count).all(|i| self.tags[i] == tag_of(hash(self.member(i))));
        let ordered = (1..count).all(|i| cmp_key(self.entry(i - 1), self.entry(i)).is_lt());
        let live = spans.iter().map(|(s, e)| e - s).sum::<usize>() == self.live as usize;
        spans.sort_unstable();
        let apart = spans.windows(2).all(|w| w[0].1 <= w[1].0);
        let inside = spans.last().is_none_or(|s| s.1 <= self.buf.len());
        tags && ordered && live && apart && inside
    }
}

/// Child slots of an inner node: one more than [`FANOUT`] while a split is pending.
pub(super) const SLOTS: usize = FANOUT + 1;

/// An inner node: fixed arrays in one block (inside `Tree::inners`), so a level of a
/// descent or of a walk up reads one node's memory instead of three vectors' (a random
/// update of a 1M-member set misses the cache at every level below the top two).
#[derive(Clone, Debug)]
pub(super) struct Inner {
    /// Children in use.
    pub(super) len: usize,
    pub(super) parent: u32,
    pub(super) leaf_children: bool,
    pub(super) children: [u32; SLOTS],
    /// Entries under each child.
    pub(super) sizes: [usize; SLOTS],
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

    pub(super) fn sizes(&self) -> &[usize] {
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

    pub(super) fn position(&self, child: u32) -> usize {
        self.children()
            .iter()
            .position(|&c| c == child)
            .expect("child")
    }

    /// Inserts `child` (with `size` entries) at index `at > 0`, `sep` bounding it below.
    pub(super) fn insert(&mut self, at: usize, child: u32, size: usize, sep: (f64, Box<[u8]>)) {
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
