//! The sorted-set entry encoding (`score f64 | len varint | member`, the packed form's
//! and a leaf's) and the tree's inner node: fixed arrays of children, subtree sizes and
//! separators. [`super::tree::Tree`] owns and links the nodes; `leaf.rs` has the leaves.

use std::cmp::Ordering;

use super::tree::{FANOUT, NIL};
use crate::collections::varint;

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
    put_entry(&mut buf[pos..pos + n], score, member);
}

/// Writes an entry into `room`, exactly [`entry_size`] bytes.
pub(super) fn put_entry(room: &mut [u8], score: f64, member: &[u8]) {
    room[..8].copy_from_slice(&score.to_le_bytes());
    let at = 8 + varint::write(&mut room[8..], member.len());
    room[at..].copy_from_slice(member);
}

// The inner node's layout its comment describes, at the built sizes (the unit test
// `node_headers_keep_their_hot_fields_in_few_lines` checks the same shape at the tests'
// small sizes).
const _: () = assert!(cfg!(test) || std::mem::offset_of!(Inner, sep_scores) <= 280);

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
