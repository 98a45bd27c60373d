//! The large form of a sorted set: a counted B+tree of packed leaves, plus a hash index
//! from member to leaf.
//!
//! ```text
//!   index: Slot { hash: u32, leaf: u32 } in 64-byte buckets  member ─▶ leaf (then its tags)
//!   inner nodes: children, subtree sizes, separators      rank and (score, member) descent
//!                (fixed arrays in one block: a level of a descent is one node's memory)
//!   leaves: entries `score f64 | len varint | member`, ≤ 32 a leaf, linked both ways,
//!           with each entry's hash tag and byte offset in the leaf's header
//! ```
//!
//! Entries are ordered by (score, member). A separator is a lower bound of its right
//! child's entries and above every entry of its left child; it may be a key that was
//! since deleted. Rank, insertion, deletion and range starts are O(log n) descents or
//! walks up parent links; a member lookup is one hash probe, a leaf's tags and one entry.
//!
//! The index stores 32 bits of the member's hash and the leaf id, not the member: two
//! slots with the same hash are interchangeable (a lookup checks the leaf's contents), so
//! moving a member between leaves may retarget any slot with its hash and old leaf.
//! Per member this costs about 9 bytes of index, 5 to 7 of tag and offset (leaf headers
//! hold 33 slots) and the entry's own bytes in a leaf (8 + 1 + member length), against
//! Redis's skiplist node, `sds` and dict entry.

use std::cmp::Ordering;

use super::index::{Index, Slot};
pub use super::node::{cmp_key, entry_size, insert_entry, read_entry, write_entry};
use super::node::{tag_of, Inner, Leaf};
use crate::collections::table::seed;
use crate::storage::key_hash;

/// Most entries a leaf keeps before it splits (tiny in unit tests, to exercise splits).
/// Every change reads a leaf up to its entry and moves the bytes after it, so out of
/// cache (a 1M-member set is about 55 MB) a leaf's size is memory traffic per update:
/// 32 entries (about 900 bytes of 19-byte members) instead of 64 halve it.
pub(super) const LEAF_MAX: usize = if cfg!(test) { 4 } else { 32 };
/// Most bytes a leaf keeps before it splits (when it has more than one entry).
pub(super) const LEAF_BYTES: usize = if cfg!(test) { 256 } else { 4096 };
/// Entries (and bytes) a leaf grown at either end of the set keeps before a new leaf
/// starts: three quarters, about what random inserts leave (a B-tree's ln 2). Filled
/// completely, a set loaded in order split nearly every leaf on its first updates in the
/// middle, and a split is the costly part of an insert: it copies half the leaf, re-points
/// half its members' index slots and often splits the full parent too (500,000 random
/// moves in a 1M-member set loaded in order: 1.77 µs each with full leaves, 1.52 with
/// this, `examples/zset_scaling.rs`, two runs of each, 17:45).
const LEAF_FILL: usize = LEAF_MAX * 3 / 4;
const LEAF_FILL_BYTES: usize = LEAF_BYTES * 3 / 4;
/// Most children of an inner node.
pub(super) const FANOUT: usize = if cfg!(test) { 4 } else { 32 };
pub(super) const NIL: u32 = u32::MAX;
/// Levels a [`Route`] records (a tree of 32-way nodes is far shallower: 4 levels at
/// 1,000,000 members); a deeper tree is descended again (in unit tests, whose 4-way
/// trees are deep, from 4 levels on, so that both ways run).
const ROUTE_MAX: usize = if cfg!(test) { 3 } else { 12 };

/// A descent's path: the inner node and child index taken at each level, root first,
/// and the leaf it reached (NIL when the tree was deeper than the route holds).
struct Route {
    steps: [(u32, u8); ROUTE_MAX],
    leaf: u32,
}

/// A sorted set of any size.
pub struct Tree {
    leaves: Vec<Leaf>,
    free_leaves: Vec<u32>,
    inners: Vec<Inner>,
    free_inners: Vec<u32>,
    /// A leaf when `height` is 0, else an inner node.
    root: u32,
    height: usize,
    first: u32,
    last: u32,
    index: Index,
    len: usize,
    /// Capacity of every leaf's buffer, and heap bytes of every inner node's vectors,
    /// kept as they change so that [`Tree::heap_bytes`] (asked after each write) is O(1).
    leaf_bytes: usize,
    inner_bytes: usize,
}

impl Clone for Tree {
    fn clone(&self) -> Tree {
        let mut t = Tree {
            leaves: self.leaves.clone(),
            free_leaves: self.free_leaves.clone(),
            inners: self.inners.clone(),
            free_inners: self.free_inners.clone(),
            root: self.root,
            height: self.height,
            first: self.first,
            last: self.last,
            index: self.index.clone(),
            len: self.len,
            leaf_bytes: 0,
            inner_bytes: 0,
        };
        // Cloned vectors have capacities of their own.
        (t.leaf_bytes, t.inner_bytes) = t.count_bytes();
        t
    }
}

/// Heap bytes of one inner node outside `Tree::inners`: its separators' members.
fn inner_heap(n: &Inner) -> usize {
    n.sep_members().iter().map(|m| m.len()).sum::<usize>()
}

impl Default for Tree {
    fn default() -> Tree {
        Tree::new()
    }
}

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tree")
            .field("len", &self.len)
            .field("height", &self.height)
            .finish()
    }
}

impl Tree {
    pub fn new() -> Tree {
        Tree {
            leaves: vec![Leaf {
                parent: NIL,
                prev: NIL,
                next: NIL,
                ..Leaf::default()
            }],
            free_leaves: Vec::new(),
            inners: Vec::new(),
            free_inners: Vec::new(),
            root: 0,
            height: 0,
            first: 0,
            last: 0,
            index: Index::new(),
            len: 0,
            leaf_bytes: 0,
            inner_bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held, for the memory budget (O(1): the leaf and inner bytes are kept
    /// up to date by every change).
    pub fn heap_bytes(&self) -> usize {
        self.leaf_bytes
            + self.leaves.capacity() * std::mem::size_of::<Leaf>()
            + self.inner_bytes
            + self.inners.capacity() * std::mem::size_of::<Inner>()
            + self.index.heap_bytes()
    }

    /// (leaf bytes, inner bytes) counted from scratch.
    fn count_bytes(&self) -> (usize, usize) {
        let leaves = self.leaves.iter().map(|l| l.buf.capacity()).sum();
        let inners = self.inners.iter().map(inner_heap).sum();
        (leaves, inners)
    }

    /// Whether the kept byte counts match a recount, and every leaf's tags and offsets
    /// its entries (tests).
    pub fn bytes_consistent(&self) -> bool {
        let mut leaf = self.first;
        while leaf != NIL {
            let l = &self.leaves[leaf as usize];
            if !l.consistent(|m| self.hash(m)) {
                return false;
            }
            leaf = l.next;
        }
        self.count_bytes() == (self.leaf_bytes, self.inner_bytes)
    }

    /// Leaves in use (tests).
    #[cfg(test)]
    pub fn leaf_count(&self) -> usize {
        let (mut n, mut leaf) = (0, self.first);
        while leaf != NIL {
            n += 1;
            leaf = self.leaves[leaf as usize].next;
        }
        n
    }

    /// Runs `f` on inner node `id`, keeping `inner_bytes` up to date.
    fn edit_inner<R>(&mut self, id: u32, f: impl FnOnce(&mut Inner) -> R) -> R {
        let n = &mut self.inners[id as usize];
        let before = inner_heap(n);
        let r = f(n);
        let after = inner_heap(n);
        self.inner_bytes = self.inner_bytes + after - before;
        r
    }

    /// Puts inner node `id` on the free list, its vectors dropped.
    fn free_inner(&mut self, id: u32) {
        let old = std::mem::take(&mut self.inners[id as usize]);
        self.inner_bytes -= inner_heap(&old);
        self.free_inners.push(id);
    }

    fn hash(&self, member: &[u8]) -> u32 {
        key_hash(seed(), member) as u32
    }

    fn find_leaf(&self, member: &[u8]) -> Option<u32> {
        self.find(member, self.hash(member), false).map(|f| f.0)
    }

    /// (leaf, index in leaf, byte offset, score) of `member`, whose hash is `h`: one
    /// index probe and one scan of a leaf, the leaf's four header lines loaded together
    /// as soon as the index names it. `climb` (the caller walks up from the leaf
    /// next: a rank, or the sizes a change adjusts) loads the parent's children and
    /// sizes as soon as the leaf header names it, so that their lines arrive beside the
    /// entry's instead of after it.
    fn find(&self, member: &[u8], h: u32, climb: bool) -> Option<(u32, usize, usize, f64)> {
        let mut found = None;
        self.index.find(h, |s| {
            let leaf = &self.leaves[s.leaf as usize];
            leaf.touch_header();
            if climb && leaf.parent != NIL {
                self.inners[leaf.parent as usize].touch();
            }
            found = leaf
                .find(member, tag_of(h))
                .map(|(i, pos, score)| (s.leaf, i, pos, score));
            found.is_some()
        });
        found
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member, self.hash(member), false).map(|f| f.3)
    }

    /// Entries before `leaf`'s first, by walking up its parents.
    fn leaf_rank(&self, leaf: u32) -> usize {
        let mut rank = 0;
        let mut child = leaf;
        let mut parent = self.leaves[leaf as usize].parent;
        while parent != NIL {
            let p = &self.inners[parent as usize];
            rank += p.sizes[..p.position(child)]
                .iter()
                .map(|&s| s as usize)
                .sum::<usize>();
            child = parent;
            parent = p.parent;
        }
        rank
    }

    /// 0-based rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let (leaf, i, _, score) = self.find(member, self.hash(member), true)?;
        Some((self.leaf_rank(leaf) + i, score))
    }

    /// Descends to the first entry for which `before` is false: (leaf, index in leaf,
    /// byte offset, rank). The index may equal the leaf's count (the entry is the next
    /// leaf's first, or there is none).
    fn descend(&self, before: &impl Fn(f64, &[u8]) -> bool) -> (u32, usize, usize, usize) {
        let mut node = self.root;
        let mut rank = 0;
        for _ in 0..self.height {
            let n = &self.inners[node as usize];
            let j = n.route(before);
            rank += n.sizes[..j].iter().map(|&s| s as usize).sum::<usize>();
            node = n.children[j];
        }
        let (i, pos) = self.leaves[node as usize].lower_bound(before);
        (node, i, pos, rank + i)
    }

    /// How many entries come before the first one for which `before` is false
    /// (`before` must be monotone: true for a prefix of the set's order).
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        self.descend(&before).3
    }

    /// (leaf, index in leaf) of rank `rank < len`.
    fn locate_rank(&self, mut rank: usize) -> (u32, usize) {
        let mut node = self.root;
        for _ in 0..self.height {
            let n = &self.inners[node as usize];
            let mut j = 0;
            while rank >= n.sizes[j] as usize {
                rank -= n.sizes[j] as usize;
                j += 1;
            }
            node = n.children[j];
        }
        (node, rank)
    }

    /// Entries from rank `rank` on, in order.
    pub fn iter_from(&self, rank: usize) -> Iter<'_> {
        if rank >= self.len {
            return Iter {
                tree: self,
                leaf: NIL,
                pos: 0,
            };
        }
        let (leaf, i) = self.locate_rank(rank);
        Iter {
            tree: self,
            leaf,
            pos: self.leaves[leaf as usize].offset(i),
        }
    }

    /// Entries from rank `rank` down to the first, in reverse order.
    pub fn iter_rev_from(&self, rank: usize) -> RevIter<'_> {
        let mut it = RevIter {
            tree: self,
            leaf: NIL,
            offsets: Vec::new(),
        };
        if rank < self.len {
            let (leaf, i) = self.locate_rank(rank);
            it.leaf = leaf;
            it.load(i + 1);
        }
        it
    }

    /// The leaf where (`score`, `member`) belongs. Routes with "≤" so that a key equal
    /// to a (stale) separator goes right of it.
    fn leaf_for(&self, score: f64, member: &[u8]) -> u32 {
        let mut node = self.root;
        for _ in 0..self.height {
            let n = &self.inners[node as usize];
            node = n.children[n.route_key(score, member)];
        }
        node
    }

    /// Loads what moving the member with hash `h` to (`score`, `member`) reads first:
    /// its index bucket, and the destination leaf (header and entries) with the sizes
    /// the insertion adjusts on the way to it. The loads are independent of the member
    /// lookup's chain of misses (bucket, leaf header, entry), so they overlap it.
    /// Returns the descent's route, which the insertion then follows instead of
    /// descending again (when the removal before it left the inner nodes as they were).
    fn prefetch_move(&self, h: u32, score: f64, member: &[u8]) -> Route {
        self.index.touch(h);
        let mut route = Route {
            steps: [(NIL, 0); ROUTE_MAX],
            leaf: NIL,
        };
        let mut node = self.root;
        for level in 0..self.height {
            let n = &self.inners[node as usize];
            let j = n.route_key(score, member);
            std::hint::black_box(n.sizes[j]);
            if let Some(step) = route.steps.get_mut(level) {
                *step = (node, j as u8);
            }
            node = n.children[j];
        }
        self.leaves[node as usize].touch();
        if self.height <= ROUTE_MAX {
            route.leaf = node;
        }
        route
    }

    /// Adds a member that is not in the set.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        self.insert_hashed(member, score, self.hash(member));
    }

    /// Adds a member that is not in the set, whose hash is `h`.
    fn insert_hashed(&mut self, member: &[u8], score: f64, h: u32) {
        let leaf_id = self.leaf_for(score, member);
        self.insert_in_leaf(leaf_id, member, score, h, None);
    }

    /// Adds a member that is not in the set, whose hash is `h`, to `leaf_id`, the leaf
    /// where it belongs. With `route` (the descent to that leaf, unchanged since) the
    /// sizes on the way are counted from it instead of walking up the parent links.
    fn insert_in_leaf(
        &mut self,
        leaf_id: u32,
        member: &[u8],
        score: f64,
        h: u32,
        route: Option<&Route>,
    ) {
        debug_assert!(self.find_leaf(member).is_none());
        debug_assert_eq!(leaf_id, self.leaf_for(score, member));
        let (i, pos) = self.leaves[leaf_id as usize].upper_bound_key(score, member);
        let leaf = &mut self.leaves[leaf_id as usize];
        let cap = leaf.buf.capacity();
        if leaf.buf.capacity() - leaf.buf.len() < entry_size(member.len()) {
            let grow = entry_size(member.len()).max(leaf.buf.len() / 4);
            leaf.buf.reserve_exact(grow);
        }
        leaf.insert(i, pos, score, member, tag_of(h));
        self.leaf_bytes += leaf.buf.capacity() - cap;
        self.index.insert(Slot {
            hash: h,
            leaf: leaf_id,
        });
        self.len += 1;
        match route {
            Some(r) => {
                for &(node, j) in r.steps.iter().take(self.height) {
                    let size = &mut self.inners[node as usize].sizes[usize::from(j)];
                    *size = size.wrapping_add(1);
                }
            }
            None => self.add_size(leaf_id, 1),
        }
        let leaf = &self.leaves[leaf_id as usize];
        let (count, bytes) = (leaf.count as usize, leaf.buf.len());
        let appending = i + 1 == count && leaf.next == NIL;
        let prepending = i == 0 && leaf.prev == NIL;
        let full = count > LEAF_MAX || (bytes > LEAF_BYTES && count > 1);
        // At either end of the set a leaf stops at its fill mark, so a set loaded in
        // order keeps room in every leaf for later inserts in the middle.
        let filled = count > 1 && (count > LEAF_FILL || bytes > LEAF_FILL_BYTES);
        if full || ((appending || prepending) && filled) {
            let at = if appending {
                i // appending at the very end: the new entry starts a leaf of its own
            } else if prepending {
                1 // prepending at the very start
            } else {
                count / 2
            };
            self.split_leaf(leaf_id, at);
        }
    }

    /// Adds `delta` to the sizes on the path from `leaf` to the root.
    fn add_size(&mut self, leaf: u32, delta: i32) {
        let mut child = leaf;
        let mut parent = self.leaves[leaf as usize].parent;
        while parent != NIL {
            let p = &mut self.inners[parent as usize];
            let i = p.position(child);
            p.sizes[i] = p.sizes[i].wrapping_add_signed(delta);
            child = parent;
            parent = p.parent;
        }
    }

    fn alloc_leaf(&mut self, leaf: Leaf) -> u32 {
        if let Some(id) = self.free_leaves.pop() {
            self.leaves[id as usize] = leaf;
            id
        } else {
            self.leaves.push(leaf);
            (self.leaves.len() - 1) as u32
        }
    }

    fn alloc_inner(&mut self, inner: Inner) -> u32 {
        self.inner_bytes += inner_heap(&inner);
        if let Some(id) = self.free_inners.pop() {
            self.inners[id as usize] = inner;
            id
        } else {
            self.inners.push(inner);
            (self.inners.len() - 1) as u32
        }
    }

    /// Points the index slots of the members in `buf` from leaf `from` to leaf `to`.
    fn retarget(&mut self, buf: &[u8], from: u32, to: u32) {
        let mut pos = 0;
        while pos < buf.len() {
            let (_, s, e) = read_entry(buf, pos);
            let h = self.hash(&buf[s..e]);
            self.index.retarget(h, from, to);
            pos = e;
        }
    }

    /// Moves the entries of `leaf` from index `at` on into a new leaf after it.
    fn split_leaf(&mut self, leaf_id: u32, at: usize) {
        let l = &mut self.leaves[leaf_id as usize];
        let off = l.offset(at);
        let moved = (l.count as usize - at) as u32;
        let cap = l.buf.capacity();
        let tail: Vec<u8> = l.buf[off..].to_vec();
        let mut right = Leaf {
            buf: Vec::new(),
            count: moved,
            parent: l.parent,
            prev: leaf_id,
            next: l.next,
            ..Leaf::default()
        };
        let m = moved as usize;
        right.tags[..m].copy_from_slice(&l.tags[at..at + m]);
        for k in 0..m {
            right.offsets[k] = l.offsets[at + k] - off as u32;
        }
        l.buf.truncate(off);
        l.buf.shrink_to(off + off / 8);
        l.count -= moved;
        self.leaf_bytes = self.leaf_bytes + l.buf.capacity() + tail.capacity() - cap;
        let next = l.next;
        let (sep_score, ss, se) = read_entry(&tail, 0);
        let sep = (sep_score, Box::<[u8]>::from(&tail[ss..se]));
        let new_id = self.alloc_leaf(right);
        self.retarget(&tail, leaf_id, new_id);
        self.leaves[new_id as usize].buf = tail;
        self.leaves[leaf_id as usize].next = new_id;
        if next == NIL {
            self.last = new_id;
        } else {
            self.leaves[next as usize].prev = new_id;
        }
        let append = next == NIL && moved == 1;
        self.insert_child(leaf_id, new_id, moved, sep, true, append);
    }

    /// Inserts `right` (holding `right_size` entries) after `left` in `left`'s parent.
    /// `append` says `right` is the last node of its level, grown by appends at the end
    /// of the set: a parent that overflows then keeps its children and hands only the
    /// last to a new node (as a leaf does with its entries), so a set loaded in order
    /// has full inner nodes and one level fewer than with half-full ones.
    fn insert_child(
        &mut self,
        left: u32,
        right: u32,
        right_size: u32,
        sep: (f64, Box<[u8]>),
        leaves: bool,
        append: bool,
    ) {
        let parent = if leaves {
            self.leaves[left as usize].parent
        } else {
            self.inners[left as usize].parent
        };
        if parent == NIL {
            // `left` was the root: grow a level.
            let left_size = if leaves {
                self.leaves[left as usize].count
            } else {
                self.inners[left as usize].sizes().iter().sum::<u32>()
            };
            let mut root = Inner {
                len: 2,
                leaf_children: leaves,
                ..Inner::default()
            };
            root.children[..2].copy_from_slice(&[left, right]);
            root.sizes[..2].copy_from_slice(&[left_size, right_size]);
            root.sep_scores[0] = sep.0;
            root.sep_members[0] = sep.1;
            let root = self.alloc_inner(root);
            self.set_parent(left, root, leaves);
            self.set_parent(right, root, leaves);
            self.root = root;
            self.height += 1;
            return;
        }
        self.set_parent(right, parent, leaves);
        let full = self.edit_inner(parent, |p| {
            let i = p.position(left);
            p.sizes[i] -= right_size;
            p.insert(i + 1, right, right_size, sep);
            p.len > FANOUT
        });
        if full {
            self.split_inner(parent, append);
        }
    }

    fn set_parent(&mut self, child: u32, parent: u32, leaf: bool) {
        if leaf {
            self.leaves[child as usize].parent = parent;
        } else {
            self.inners[child as usize].parent = parent;
        }
    }

    fn split_inner(&mut self, id: u32, append: bool) {
        let (right, sep) = self.edit_inner(id, |n| {
            let at = if append { n.len - 1 } else { n.len / 2 };
            n.split_off(at)
        });
        let (size, leaves): (u32, bool) = (right.sizes().iter().sum(), right.leaf_children);
        let new_id = self.alloc_inner(right);
        for k in 0..self.inners[new_id as usize].len {
            let c = self.inners[new_id as usize].children[k];
            self.set_parent(c, new_id, leaves);
        }
        self.insert_child(id, new_id, size, sep, false, append);
    }

    /// Changes the score of `member`, returning false when it is not in the set.
    pub fn set_score(&mut self, member: &[u8], score: f64) -> bool {
        self.update_score(member, Some(score), |_| Some(score))
            .is_some()
    }

    /// Looks `member` up and gives `f` its score; sets the score `f` returns, if any.
    /// Returns the old score (None, `f` not called: not in the set). `hint` is the score
    /// the member will likely get (ZADD's argument): the leaf it moves to is loaded
    /// while the lookup waits on its own misses (see [`Tree::prefetch_move`]).
    ///
    /// A new score that keeps the entry between its neighbours in its leaf is written
    /// in place (no index change: an increment of a leaderboard score); otherwise the
    /// entry moves, as a removal and an insertion.
    pub fn update_score(
        &mut self,
        member: &[u8],
        hint: Option<f64>,
        f: impl FnOnce(f64) -> Option<f64>,
    ) -> Option<f64> {
        let h = self.hash(member);
        let route = hint.map(|score| self.prefetch_move(h, score, member));
        let (leaf_id, i, at, cur) = self.find(member, h, true)?;
        let Some(score) = f(cur) else {
            return Some(cur);
        };
        let l = &self.leaves[leaf_id as usize];
        let key = (score, member);
        let above_prev = if i > 0 {
            l.cmp_entry(i - 1, key) == Ordering::Less
        } else {
            l.prev == NIL
        };
        let below_next = if i + 1 < l.count as usize {
            l.cmp_entry(i + 1, key) == Ordering::Greater
        } else {
            l.next == NIL
        };
        if above_prev && below_next {
            let l = &mut self.leaves[leaf_id as usize];
            l.buf[at..at + 8].copy_from_slice(&score.to_le_bytes());
        } else {
            let reshaped = self.remove_hashed(leaf_id, i, at, member.len(), h);
            // The hinted descent still leads where the member goes when the score is the
            // hint's and the removal left every inner node as it was: no second descent,
            // no walk up from the destination leaf.
            match route {
                Some(r)
                    if !reshaped
                        && r.leaf != NIL
                        && hint.map(f64::to_bits) == Some(score.to_bits()) =>
                {
                    self.insert_in_leaf(r.leaf, member, score, h, Some(&r));
                }
                _ => self.insert_hashed(member, score, h),
            }
        }
        Some(cur)
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let h = self.hash(member);
        let (leaf_id, i, pos, score) = self.find(member, h, true)?;
        self.remove_hashed(leaf_id, i, pos, member.len(), h);
        Some(score)
    }

    /// Removes the entry at (`leaf_id`, index `i`, byte `pos`) whose member is `len` long.
    fn remove_at(&mut self, leaf_id: u32, i: usize, pos: usize, len: usize) {
        let h = {
            let l = &self.leaves[leaf_id as usize];
            let (_, s, e) = read_entry(&l.buf, pos);
            debug_assert_eq!(e - s, len);
            self.hash(&l.buf[s..e])
        };
        self.remove_hashed(leaf_id, i, pos, len, h);
    }

    /// [`Tree::remove_at`] of a member whose hash is `h`.
    /// True when it may have changed the tree's shape (unlinked or merged a leaf), so
    /// that an earlier descent may no longer hold.
    fn remove_hashed(&mut self, leaf_id: u32, i: usize, pos: usize, len: usize, h: u32) -> bool {
        self.index.remove(h, leaf_id);
        self.leaves[leaf_id as usize].remove(i, pos, len);
        self.len -= 1;
        self.add_size(leaf_id, -1);
        let l = &self.leaves[leaf_id as usize];
        if l.count == 0 {
            if l.parent != NIL {
                self.unlink_leaf(leaf_id);
                return true;
            }
            let old = std::mem::take(&mut self.leaves[leaf_id as usize].buf);
            self.leaf_bytes -= old.capacity();
        } else if (l.count as usize) < LEAF_MAX / 4 {
            self.merge_small(leaf_id);
            return true;
        }
        false
    }

    /// Removes and returns the entry of rank `rank < len`.
    pub fn remove_rank(&mut self, rank: usize) -> (f64, Vec<u8>) {
        let (leaf, i) = self.locate_rank(rank);
        let pos = self.leaves[leaf as usize].offset(i);
        let (score, m, _) = self.leaves[leaf as usize].entry(pos);
        let member = m.to_vec();
        self.remove_at(leaf, i, pos, member.len());
        (score, member)
    }

    /// Merges a small leaf with a sibling under the same parent when both fit one leaf.
    fn merge_small(&mut self, leaf_id: u32) {
        let l = &self.leaves[leaf_id as usize];
        let fits = |a: &Leaf, b: &Leaf| {
            a.parent == b.parent
                && (a.count + b.count) as usize <= LEAF_MAX
                && a.buf.len() + b.buf.len() <= LEAF_BYTES
        };
        let (left, right) = if l.next != NIL && fits(l, &self.leaves[l.next as usize]) {
            (leaf_id, l.next)
        } else if l.prev != NIL && fits(&self.leaves[l.prev as usize], l) {
            (l.prev, leaf_id)
        } else {
            return;
        };
        let moved = std::mem::take(&mut self.leaves[right as usize]);
        let count = moved.count;
        self.retarget(&moved.buf, right, left);
        let l = &mut self.leaves[left as usize];
        let cap = l.buf.capacity();
        l.append(&moved);
        self.leaf_bytes = self.leaf_bytes + l.buf.capacity() - cap - moved.buf.capacity();
        // The emptied leaf keeps its links for `unlink_leaf`.
        self.leaves[right as usize] = Leaf {
            parent: moved.parent,
            prev: moved.prev,
            next: moved.next,
            ..Leaf::default()
        };
        let parent = self.leaves[left as usize].parent;
        let p = &mut self.inners[parent as usize];
        let i = p.position(left);
        p.sizes[i] += count;
        p.sizes[i + 1] -= count;
        self.unlink_leaf(right);
    }

    /// Takes an empty leaf out of the tree.
    fn unlink_leaf(&mut self, leaf_id: u32) {
        let l = std::mem::take(&mut self.leaves[leaf_id as usize]);
        self.leaf_bytes -= l.buf.capacity();
        if l.prev == NIL {
            self.first = l.next;
        } else {
            self.leaves[l.prev as usize].next = l.next;
        }
        if l.next == NIL {
            self.last = l.prev;
        } else {
            self.leaves[l.next as usize].prev = l.prev;
        }
        self.free_leaves.push(leaf_id);
        self.remove_child(l.parent, leaf_id);
    }

    /// Removes an emptied child from inner node `parent`, and the parent when it empties.
    fn remove_child(&mut self, parent: u32, child: u32) {
        let (empty, grand) = self.edit_inner(parent, |p| {
            let i = p.position(child);
            debug_assert_eq!(p.sizes[i], 0);
            p.remove(i);
            (p.len == 0, p.parent)
        });
        if empty {
            self.free_inner(parent);
            if grand != NIL {
                self.remove_child(grand, parent);
            }
            return;
        }
        // A root with one child hands the root to it.
        while self.height > 0 && self.inners[self.root as usize].len == 1 {
            let old = self.root;
            let only = self.inners[old as usize].children[0];
            let leaves = self.inners[old as usize].leaf_children;
            self.set_parent(only, NIL, leaves);
            self.free_inner(old);
            self.root = only;
            self.height -= 1;
        }
    }
}

/// Entries of a [`Tree`] in order.
pub struct Iter<'a> {
    tree: &'a Tree,
    leaf: u32,
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<(f64, &'a [u8])> {
        while self.leaf != NIL {
            let l = &self.tree.leaves[self.leaf as usize];
            if self.pos < l.buf.len() {
                let (score, m, next) = l.entry(self.pos);
                self.pos = next;
                return Some((score, m));
            }
            self.leaf = l.next;
            self.pos = 0;
        }
        None
    }
}

/// Entries of a [`Tree`] in reverse order.
pub struct RevIter<'a> {
    tree: &'a Tree,
    leaf: u32,
    /// Offsets of the current leaf's entries still to yield.
    offsets: Vec<usize>,
}

impl RevIter<'_> {
    fn load(&mut self, count: usize) {
        let l = &self.tree.leaves[self.leaf as usize];
        self.offsets.clear();
        self.offsets
            .extend(l.offsets[..count].iter().map(|&o| o as usize));
    }
}

impl<'a> Iterator for RevIter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<(f64, &'a [u8])> {
        while self.leaf != NIL {
            if let Some(pos) = self.offsets.pop() {
                let (score, m, _) = self.tree.leaves[self.leaf as usize].entry(pos);
                return Some((score, m));
            }
            self.leaf = self.tree.leaves[self.leaf as usize].prev;
            if self.leaf != NIL {
                let count = self.tree.leaves[self.leaf as usize].count as usize;
                self.load(count);
            }
        }
        None
    }
}
