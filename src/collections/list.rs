//! Lists: a packed node of entries (listpack-like) for small lists, a deque of such nodes
//! (quicklist-like) for large ones.
//!
//! # Entry encoding (inside a node)
//!
//! ```text
//!  len (LEB128 varint) | bytes | back (size of len+bytes, LEB128 groups stored backwards)
//! ```
//!
//! `back` lets a node be walked from its end: its last byte holds the lowest 7 bits, with
//! the high bit set while more groups follow to the left. A 10-byte element costs 12 bytes.
//!
//! # Packed form (one slab item)
//!
//! A list that fits one node under the `list-max-listpack-size` limit is stored as
//! `count (u32 LE) | entries`; [`Packed`] reads it in place, [`List::from_packed`] makes an
//! owned list of it for writes.
//!
//! # Large form
//!
//! [`List`] is a `VecDeque` of [`Node`]s. Each node keeps free room at its front as well
//! as its back, so a push or pop at either end of the list touches only the end node:
//! O(1). `LINDEX` finds its node by a binary search of the nodes' numbers (a
//! 1,000,000-element list of 10-byte elements has about 1,500 nodes of 8 KB) and then
//! walks one node.
//!
//! Redis 7.0 always reports lists as `quicklist` (its listpack-encoded lists came in 7.2),
//! so the choice between the two forms here is a memory matter only.

use std::collections::VecDeque;

mod node;
use crate::collections::varint;
#[cfg(test)]
use node::write_entry;
pub use node::{entry_size, Node, NodeIter};
use node::{entry_start_before, read_entry};

/// Redis's size limit for a node when `list-max-listpack-size` is a positive count.
const SIZE_SAFETY_LIMIT: usize = 8192;

/// Largest node in bytes for `list-max-listpack-size` -1..-5 (Redis's `optimization_level`).
const NEGATIVE_FILL_BYTES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];

/// Redis's default `packed_threshold`: 1 GiB.
pub const DEFAULT_PACKED_THRESHOLD: usize = 1 << 30;

/// When a node should not take another entry: `list-max-listpack-size`, and Redis's
/// `packed_threshold` (`DEBUG QUICKLIST-PACKED-THRESHOLD`): an element of at least that
/// many bytes gets a node of its own (Redis's plain node) and no other entry joins it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// `list-max-listpack-size`: entries when positive, -1..-5 for 4..64 KiB.
    pub size: i64,
    /// Elements of at least this many bytes are alone in their node.
    pub packed_threshold: usize,
}

impl Default for Fill {
    fn default() -> Fill {
        Fill::new(-2)
    }
}

/// Redis's `quicklistisSetPackedThreshold`: 0 restores the default; more than 4 GiB less
/// 1 MiB is refused (`None`).
pub fn packed_threshold(bytes: u64) -> Option<usize> {
    match bytes {
        0 => Some(DEFAULT_PACKED_THRESHOLD),
        b if b > (1u64 << 32) - (1 << 20) => None,
        b => usize::try_from(b).ok(),
    }
}

impl Fill {
    /// `list-max-listpack-size` `size`, the default packed threshold.
    pub const fn new(size: i64) -> Fill {
        Fill {
            size,
            packed_threshold: DEFAULT_PACKED_THRESHOLD,
        }
    }

    /// Whether a node of `bytes` bytes and `count` entries may grow to `new_bytes`.
    fn allows(self, count: usize, new_bytes: usize) -> bool {
        if count == 0 {
            return true;
        }
        if self.size >= 0 {
            new_bytes <= SIZE_SAFETY_LIMIT && (count as i64) < self.size.max(1)
        } else {
            let level = (-self.size).clamp(1, 5) as usize - 1;
            new_bytes <= NEGATIVE_FILL_BYTES[level]
        }
    }

    /// Whether an element of `len` bytes is large: alone in its node.
    fn large(self, len: usize) -> bool {
        len >= self.packed_threshold
    }

    /// Whether `node` may take an element of `len` bytes (its entry replacing one of
    /// `replaced` bytes, if any): within the size limit, and neither the element nor
    /// the node's one element large.
    fn takes(self, node: &Node, len: usize, replaced: Option<usize>) -> bool {
        let (count, used) = match replaced {
            Some(old) => (node.count - 1, node.used() - entry_size(old)),
            None => (node.count, node.used()),
        };
        count == 0
            || (self.allows(count, used + entry_size(len))
                && !self.large(len)
                && !(node.count == 1 && replaced.is_none() && self.large(node.get(0).len())))
    }

    /// Bytes of a node under this limit (for the packed form's threshold).
    fn byte_limit(self) -> usize {
        if self.size >= 0 {
            SIZE_SAFETY_LIMIT
        } else {
            NEGATIVE_FILL_BYTES[(-self.size).clamp(1, 5) as usize - 1]
        }
    }
}

/// A list stored as one slab item: `count (u32 LE) | entries`.
#[derive(Clone, Copy)]
pub struct Packed<'a>(pub &'a [u8]);

impl<'a> Packed<'a> {
    /// Whether `bytes` is a well-formed packed list (for values read from disk).
    pub fn validate(bytes: &[u8]) -> bool {
        if bytes.len() < 4 {
            return false;
        }
        let count = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        let mut pos = 4;
        for _ in 0..count {
            let start = pos;
            let Some((len, n)) = varint::read_checked(bytes, pos, 9) else {
                return false;
            };
            pos += n;
            let Some(end) = pos.checked_add(len) else {
                return false;
            };
            let Some(next) = end.checked_add(varint::len(end - start)) else {
                return false;
            };
            if next > bytes.len() || entry_start_before(&bytes[..next], next) != start {
                return false;
            }
            pos = next;
        }
        pos == bytes.len()
    }

    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn iter(&self) -> NodeIter<'a> {
        NodeIter {
            buf: self.0,
            front: 4,
            back: self.0.len(),
        }
    }
}

/// A list as a command reads it: packed bytes in place, or the deque.
#[derive(Clone, Copy)]
pub enum ListRef<'a> {
    Packed(Packed<'a>),
    List(&'a List),
}

impl<'a> ListRef<'a> {
    pub fn len(&self) -> usize {
        match self {
            ListRef::Packed(p) => p.len(),
            ListRef::List(l) => l.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<&'a [u8]> {
        match self {
            ListRef::Packed(p) => p.iter().nth(index),
            ListRef::List(l) => l.get(index),
        }
    }

    /// Elements from `index` on, front to back.
    pub fn iter_from(&self, index: usize) -> RefIter<'a> {
        match *self {
            ListRef::Packed(p) => RefIter::Packed(p.iter().skip(index)),
            ListRef::List(l) => RefIter::List(l.iter_from(index)),
        }
    }

    /// Calls `f` with at most `n` elements from `index` on, front to back: LRANGE's reply,
    /// a loop over each node's entries without an iterator's dispatch per element.
    pub fn for_each_from(&self, index: usize, n: usize, mut f: impl FnMut(&'a [u8])) {
        match *self {
            ListRef::Packed(p) => {
                let mut it = p.iter();
                for _ in 0..index {
                    it.next();
                }
                for v in it.take(n) {
                    f(v);
                }
            }
            ListRef::List(l) => l.for_each_from(index, n, f),
        }
    }

    /// Elements from `index` back to the first, back to front.
    pub fn iter_rev_from(&self, index: usize) -> RefRevIter<'a> {
        match *self {
            ListRef::Packed(p) => {
                let skip = p.len().saturating_sub(index.saturating_add(1));
                RefRevIter::Packed(p.iter().rev().skip(skip))
            }
            ListRef::List(l) => RefRevIter::List(l.iter_rev_from(index)),
        }
    }
}

/// Front-to-back iterator over a [`ListRef`].
pub enum RefIter<'a> {
    Packed(std::iter::Skip<NodeIter<'a>>),
    List(Iter<'a>),
}

impl<'a> Iterator for RefIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            RefIter::Packed(i) => i.next(),
            RefIter::List(i) => i.next(),
        }
    }
}

/// Back-to-front iterator over a [`ListRef`].
pub enum RefRevIter<'a> {
    Packed(std::iter::Skip<std::iter::Rev<NodeIter<'a>>>),
    List(RevIter<'a>),
}

impl<'a> Iterator for RefRevIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            RefRevIter::Packed(i) => i.next(),
            RefRevIter::List(i) => i.next(),
        }
    }
}

/// A list of any length: a deque of nodes.
#[derive(Debug, Default)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// Capacity of every node's buffer, kept by the pushes and pops at the ends (and
    /// recounted by the O(n) edits) so that [`List::heap_bytes`] is O(1).
    bytes: usize,
    /// Number of element 0: each node's `start` is `base` plus the elements before it, so
    /// that [`List::locate`] is a binary search over the nodes, not a walk. A push at the
    /// front lowers it, a pop at the front raises it (the nodes behind keep their
    /// numbers); the O(n) edits in the middle renumber every node.
    base: i64,
}

impl Clone for List {
    fn clone(&self) -> List {
        let mut l = List {
            nodes: self.nodes.clone(),
            len: self.len,
            bytes: 0,
            base: self.base,
        };
        l.recount();
        l
    }
}

impl List {
    pub fn new() -> List {
        List::default()
    }

    /// An owned copy of a packed list.
    pub fn from_packed(p: Packed<'_>) -> List {
        let mut list = List::new();
        if !p.is_empty() {
            list.nodes.push_back(Node::from_entries(&p.0[4..], p.len()));
            list.len = p.len();
        }
        list.recount();
        list
    }

    /// Counts the node buffers' capacity from scratch, and renumbers the nodes.
    fn recount(&mut self) {
        self.bytes = self.nodes.iter().map(Node::heap_bytes).sum();
        let mut start = self.base;
        for node in self.nodes.iter_mut() {
            node.start = start;
            start += node.count as i64;
        }
    }

    /// Whether the kept byte count and the nodes' numbers match a recount (tests).
    pub fn bytes_consistent(&self) -> bool {
        let mut start = self.base;
        let numbered = self.nodes.iter().all(|n| {
            let ok = n.start == start;
            start += n.count as i64;
            ok
        });
        numbered && self.bytes == self.nodes.iter().map(Node::heap_bytes).sum::<usize>()
    }

    /// Whether every element `fill` calls large is alone in its node (tests).
    pub fn large_alone(&self, fill: Fill) -> bool {
        self.nodes
            .iter()
            .all(|n| n.count == 1 || n.iter().all(|v| !fill.large(v.len())))
    }

    /// The packed form of this list when it is one node within the `fill` limit (with
    /// half of the limit's room to spare when `shrinking`, so that a list near the limit
    /// does not switch form on every push and pop).
    pub fn to_packed(&self, fill: Fill, shrinking: bool) -> Option<Vec<u8>> {
        let bytes = match self.nodes.len() {
            0 => &[][..],
            1 => self.nodes[0].bytes(),
            _ => return None,
        };
        let limit = if shrinking {
            fill.byte_limit() / 2
        } else {
            fill.byte_limit()
        };
        if bytes.len() > limit || self.len > u32::MAX as usize {
            return None;
        }
        let mut out = Vec::with_capacity(4 + bytes.len());
        out.extend_from_slice(&(self.len as u32).to_le_bytes());
        out.extend_from_slice(bytes);
        Some(out)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Nodes in the deque (`DEBUG`-style introspection and tests).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Heap bytes this list holds, for the memory budget.
    pub fn heap_bytes(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.bytes
    }

    pub fn push_back(&mut self, v: &[u8], fill: Fill) {
        match self.nodes.back_mut() {
            Some(node) if fill.takes(node, v.len(), None) => {
                let cap = node.heap_bytes();
                node.push_back(v);
                self.bytes = self.bytes + node.heap_bytes() - cap;
            }
            back => {
                // The last node is full (or holds a large element): it takes no more
                // pushes, so its spare room goes back.
                if let Some(full) = back {
                    self.bytes -= full.heap_bytes();
                    full.fit();
                    self.bytes += full.heap_bytes();
                }
                let mut node = Node {
                    start: self.base + self.len as i64,
                    ..Node::default()
                };
                node.push_back(v);
                self.bytes += node.heap_bytes();
                self.nodes.push_back(node);
            }
        }
        self.len += 1;
    }

    pub fn push_front(&mut self, v: &[u8], fill: Fill) {
        self.base -= 1;
        match self.nodes.front_mut() {
            Some(node) if fill.takes(node, v.len(), None) => {
                let cap = node.heap_bytes();
                node.push_front(v);
                node.start = self.base;
                self.bytes = self.bytes + node.heap_bytes() - cap;
            }
            front => {
                if let Some(full) = front {
                    self.bytes -= full.heap_bytes();
                    full.fit();
                    self.bytes += full.heap_bytes();
                }
                let mut node = Node {
                    start: self.base,
                    ..Node::default()
                };
                node.push_front(v);
                self.bytes += node.heap_bytes();
                self.nodes.push_front(node);
            }
        }
        self.len += 1;
    }

    pub fn front(&self) -> Option<&[u8]> {
        self.nodes.front().map(|n| n.get(0))
    }

    pub fn back(&self) -> Option<&[u8]> {
        self.nodes.back().map(|n| n.get(n.count - 1))
    }

    /// Removes the first element (no-op on an empty list).
    pub fn drop_front(&mut self) {
        self.drop_front_n(1);
    }

    /// Removes the last element (no-op on an empty list).
    pub fn drop_back(&mut self) {
        self.drop_back_n(1);
    }

    /// Removes the first `n` elements (all of them when `n` is larger).
    pub fn drop_front_n(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        self.base += n as i64;
        while n > 0 {
            let node = self.nodes.front_mut().expect("count says a node is left");
            let cap = node.heap_bytes();
            if node.count <= n {
                n -= node.count;
                self.nodes.pop_front();
                self.bytes -= cap;
            } else {
                node.drop_front(n);
                node.start = self.base;
                self.bytes = self.bytes + node.heap_bytes() - cap;
                n = 0;
            }
        }
    }

    /// Removes the last `n` elements (all of them when `n` is larger).
    pub fn drop_back_n(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let node = self.nodes.back_mut().expect("count says a node is left");
            let cap = node.heap_bytes();
            if node.count <= n {
                n -= node.count;
                self.nodes.pop_back();
                self.bytes -= cap;
            } else {
                node.drop_back(n);
                self.bytes = self.bytes + node.heap_bytes() - cap;
                n = 0;
            }
        }
    }

    /// (node, index in node) of element `index < len`: a binary search of the nodes'
    /// numbers, O(log n) (a 1,000,000-element list of 10-byte elements has about 1,500
    /// nodes; a walk from the nearer end read up to half of them).
    fn locate(&self, index: usize) -> (usize, usize) {
        debug_assert!(index < self.len, "index {index} out of range");
        let at = self.base + index as i64;
        let k = self.nodes.partition_point(|n| n.start <= at) - 1;
        (k, (at - self.nodes[k].start) as usize)
    }

    /// Element `index`, or `None` past the end.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len {
            return None;
        }
        let (k, i) = self.locate(index);
        Some(self.nodes[k].get(i))
    }

    /// Inserts `v` so that it becomes element `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, v: &[u8], fill: Fill) {
        if index == 0 {
            return self.push_front(v, fill);
        }
        if index >= self.len {
            return self.push_back(v, fill);
        }
        let (k, i) = self.locate(index);
        let fits = |node: &Node| fill.takes(node, v.len(), None);
        if fits(&self.nodes[k]) {
            self.nodes[k].insert(i, v);
        } else if i == 0 && k > 0 && fits(&self.nodes[k - 1]) {
            self.nodes[k - 1].push_back(v);
        } else {
            let node = &mut self.nodes[k];
            // Split the full node at the insertion point; the new element ends the head
            // or starts the tail, whichever is smaller, or gets a node of its own.
            let mut tail = node.split_off(i);
            if node.count == 0 || (node.used() <= tail.used() && fits(node)) {
                node.push_back(v);
                self.nodes.insert(k + 1, tail);
            } else if fits(&tail) {
                tail.push_front(v);
                self.nodes.insert(k + 1, tail);
            } else {
                let mut mid = Node::default();
                mid.push_back(v);
                self.nodes.insert(k + 1, mid);
                self.nodes.insert(k + 2, tail);
            }
        }
        self.len += 1;
        // O(n) like the walk to `index` (LINSERT is O(N) in Redis too).
        self.recount();
    }

    /// Removes element `index < len`.
    pub fn remove(&mut self, index: usize) {
        let (k, i) = self.locate(index);
        let node = &mut self.nodes[k];
        node.remove(i);
        if node.count == 0 {
            self.nodes.remove(k);
        }
        self.len -= 1;
        self.recount();
    }

    /// Replaces element `index < len` with `v`.
    pub fn set(&mut self, index: usize, v: &[u8], fill: Fill) {
        let (k, i) = self.locate(index);
        let node = &mut self.nodes[k];
        let old = node.get(i).len();
        let shrinks = entry_size(v.len()) <= entry_size(old) && !fill.large(v.len());
        if shrinks || fill.takes(node, v.len(), Some(old)) {
            node.remove(i);
            node.insert(i, v);
            self.recount();
        } else {
            self.remove(index);
            self.insert(index, v, fill);
        }
    }

    /// Elements from `index` on, front to back.
    pub fn iter_from(&self, index: usize) -> Iter<'_> {
        let mut it = Iter {
            list: self,
            node: self.nodes.len(),
            inner: None,
            remaining: 0,
        };
        if index < self.len {
            let (k, i) = self.locate(index);
            let node = &self.nodes[k];
            let pos = node.position(i);
            it.node = k;
            it.inner = Some(NodeIter {
                buf: &node.buf,
                front: pos,
                back: node.buf.len(),
            });
            it.remaining = self.len - index;
        }
        it
    }

    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Calls `f` with at most `n` elements from `index` on, front to back, node by node.
    pub fn for_each_from<'s>(&'s self, index: usize, mut n: usize, mut f: impl FnMut(&'s [u8])) {
        if index >= self.len || n == 0 {
            return;
        }
        let (k, i) = self.locate(index);
        for (j, node) in self.nodes.range(k..).enumerate() {
            let mut entries = node.iter();
            if j == 0 {
                entries.front = node.position(i);
            }
            for v in entries {
                f(v);
                n -= 1;
                if n == 0 {
                    return;
                }
            }
        }
    }

    /// Elements from `index` back to the first, back to front.
    pub fn iter_rev_from(&self, index: usize) -> RevIter<'_> {
        let mut it = RevIter {
            list: self,
            node: 0,
            inner: None,
            remaining: 0,
        };
        if index < self.len {
            let (k, i) = self.locate(index);
            let node = &self.nodes[k];
            let end = read_entry(&node.buf, node.position(i)).2;
            it.node = k;
            it.inner = Some(NodeIter {
                buf: &node.buf,
                front: node.head,
                back: end,
            });
            it.remaining = index + 1;
        }
        it
    }

    /// Removes the elements for which `matches` says so, at most `limit` of them (0: no
    /// limit), scanning from the back when `from_back`. Returns how many went.
    pub fn remove_matching(
        &mut self,
        mut matches: impl FnMut(&[u8]) -> bool,
        limit: usize,
        from_back: bool,
    ) -> usize {
        let mut removed = 0;
        let mut k = if from_back { self.nodes.len() } else { 0 };
        loop {
            if from_back {
                if k == 0 {
                    break;
                }
                k -= 1;
            } else if k >= self.nodes.len() {
                break;
            }
            let node = &mut self.nodes[k];
            let mut hits: Vec<usize> = Vec::new();
            let want = |removed: usize, hits: usize| limit == 0 || removed + hits < limit;
            if from_back {
                let count = node.count;
                for (j, v) in node.iter().rev().enumerate() {
                    if !want(removed, hits.len()) {
                        break;
                    }
                    if matches(v) {
                        hits.push(count - 1 - j);
                    }
                }
            } else {
                for (i, v) in node.iter().enumerate() {
                    if !want(removed, hits.len()) {
                        break;
                    }
                    if matches(v) {
                        hits.push(i);
                    }
                }
                hits.reverse();
            }
            // `hits` is in descending order: removing from the back keeps indexes valid.
            for &i in &hits {
                node.remove(i);
            }
            removed += hits.len();
            self.len -= hits.len();
            if node.count == 0 {
                self.nodes.remove(k);
            } else if !from_back {
                k += 1;
            }
            if limit != 0 && removed >= limit {
                break;
            }
        }
        self.recount();
        removed
    }
}

/// Front-to-back iterator over a [`List`].
pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    inner: Option<NodeIter<'a>>,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some(v) = self.inner.as_mut()?.next() {
                self.remaining -= 1;
                return Some(v);
            }
            self.node += 1;
            self.inner = self.list.nodes.get(self.node).map(Node::iter);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

/// Back-to-front iterator over a [`List`].
pub struct RevIter<'a> {
    list: &'a List,
    node: usize,
    inner: Option<NodeIter<'a>>,
    remaining: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some(v) = self.inner.as_mut()?.next_back() {
                self.remaining -= 1;
                return Some(v);
            }
            if self.node == 0 {
                self.inner = None;
                return None;
            }
            self.node -= 1;
            self.inner = Some(self.list.nodes[self.node].iter());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

#[cfg(test)]
mod tests;
