//! A list node: a run of entries with free room at both ends, and the entry encoding
//! (`len | bytes | back`, see the parent module's docs) it is made of.

use crate::collections::varint;

/// Bytes one entry of `len` value bytes takes.
pub fn entry_size(len: usize) -> usize {
    let inner = varint::len(len) + len;
    inner + varint::len(inner)
}

pub(super) fn write_entry(dst: &mut [u8], v: &[u8]) {
    let mut i = varint::write(dst, v.len());
    dst[i..i + v.len()].copy_from_slice(v);
    i += v.len();
    let inner = i;
    let back = varint::len(inner);
    for g in 0..back {
        let group = ((inner >> (7 * g)) & 0x7f) as u8;
        let more = g + 1 < back;
        dst[i + back - 1 - g] = group | if more { 0x80 } else { 0 };
    }
}

/// Reads the entry starting at `pos`: (value start, value end, next entry's position).
pub(super) fn read_entry(buf: &[u8], pos: usize) -> (usize, usize, usize) {
    let first = buf[pos];
    if first < 0x7f {
        // One length byte, and a back-length (1 + len <= 127) of one byte too.
        let end = pos + 1 + usize::from(first);
        return (pos + 1, end, end + 1);
    }
    let (len, n) = varint::read(buf, pos);
    let i = pos + n;
    let end = i + len;
    (i, end, end + varint::len(end - pos))
}

/// Start of the entry that ends at `end`.
pub(super) fn entry_start_before(buf: &[u8], end: usize) -> usize {
    let mut inner = 0usize;
    let mut shift = 0;
    let mut i = end;
    loop {
        i -= 1;
        let b = buf[i];
        inner |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    i - inner
}

/// A run of entries with free room at both ends.
#[derive(Clone, Debug, Default)]
pub struct Node {
    pub(super) buf: Vec<u8>,
    /// Entries occupy `buf[head..]`.
    pub(super) head: usize,
    pub(super) count: usize,
    /// Number of this node's first element, counted from [`List::base`]'s origin (kept by
    /// the owning list; 0 in a node that is not in one).
    pub(super) start: i64,
}

impl Node {
    pub(super) fn from_entries(bytes: &[u8], count: usize) -> Node {
        Node {
            buf: bytes.to_vec(),
            head: 0,
            count,
            start: 0,
        }
    }

    /// The entries, packed.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(super) fn used(&self) -> usize {
        self.buf.len() - self.head
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.buf.capacity()
    }

    pub(super) fn push_back(&mut self, v: &[u8]) {
        let n = entry_size(v.len());
        let at = self.buf.len();
        if self.buf.capacity() - at < n {
            self.buf.reserve(n.max(self.used() / 2));
        }
        self.buf.resize(at + n, 0);
        write_entry(&mut self.buf[at..], v);
        self.count += 1;
    }

    pub(super) fn push_front(&mut self, v: &[u8]) {
        let n = entry_size(v.len());
        if self.head < n {
            // Move the entries right, leaving half their size (at least `n`) in front.
            let room = n.max(self.used() / 2);
            let mut buf = Vec::with_capacity(room + self.used() + room / 2);
            buf.resize(room, 0);
            buf.extend_from_slice(self.bytes());
            self.buf = buf;
            self.head = room;
        }
        self.head -= n;
        write_entry(&mut self.buf[self.head..], v);
        self.count += 1;
    }

    /// Byte position (in `buf`) of entry `index`, walking from the nearer end.
    pub(super) fn position(&self, index: usize) -> usize {
        if index <= self.count / 2 {
            let mut pos = self.head;
            for _ in 0..index {
                pos = read_entry(&self.buf, pos).2;
            }
            pos
        } else {
            let mut end = self.buf.len();
            for _ in index..self.count {
                end = entry_start_before(&self.buf, end);
            }
            end
        }
    }

    /// Entry `index` (which must be in range).
    pub fn get(&self, index: usize) -> &[u8] {
        let (s, e, _) = read_entry(&self.buf, self.position(index));
        &self.buf[s..e]
    }

    pub(super) fn insert(&mut self, index: usize, v: &[u8]) {
        if index == 0 {
            return self.push_front(v);
        }
        if index == self.count {
            return self.push_back(v);
        }
        let pos = self.position(index);
        let n = entry_size(v.len());
        let mut entry = vec![0u8; n];
        write_entry(&mut entry, v);
        self.buf.splice(pos..pos, entry);
        self.count += 1;
    }

    pub(super) fn remove(&mut self, index: usize) {
        let pos = self.position(index);
        let next = read_entry(&self.buf, pos).2;
        if index == 0 {
            self.head = next;
        } else {
            self.buf.drain(pos..next);
        }
        self.count -= 1;
        self.settle();
    }

    /// Removes `n` entries from the front.
    pub(super) fn drop_front(&mut self, n: usize) {
        self.head = self.position(n);
        self.count -= n;
        self.settle();
    }

    /// Removes `n` entries from the back.
    pub(super) fn drop_back(&mut self, n: usize) {
        let pos = self.position(self.count - n);
        self.buf.truncate(pos);
        self.count -= n;
        self.settle();
    }

    /// Gives back the front room when it is most of the buffer.
    pub(super) fn settle(&mut self) {
        if self.count == 0 {
            self.buf = Vec::new();
            self.head = 0;
        } else if self.head > 64 && self.head > self.used() {
            self.buf.drain(..self.head);
            self.head = 0;
            if self.buf.capacity() > 2 * self.buf.len() + 64 {
                self.buf.shrink_to(self.buf.len() + self.buf.len() / 4);
            }
        }
    }

    /// Gives back all spare room (front and back): for a node that is full, so that a
    /// long list keeps its entries' bytes and no more (a node's buffer grows by half its
    /// size, so a full one held up to half again its entries: a 1,000,000-element list
    /// was 1.44× Redis's memory).
    pub(super) fn fit(&mut self) {
        if self.head > 0 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        self.buf.shrink_to_fit();
    }

    /// Splits off the entries from `index` on into a new node.
    pub(super) fn split_off(&mut self, index: usize) -> Node {
        let pos = self.position(index);
        let tail = Node::from_entries(&self.buf[pos..], self.count - index);
        self.buf.truncate(pos);
        self.count = index;
        tail
    }

    pub fn iter(&self) -> NodeIter<'_> {
        NodeIter {
            buf: &self.buf,
            front: self.head,
            back: self.buf.len(),
        }
    }
}

/// Entries of a packed run, from either end.
#[derive(Clone)]
pub struct NodeIter<'a> {
    pub(super) buf: &'a [u8],
    pub(super) front: usize,
    pub(super) back: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (s, e, next) = read_entry(self.buf, self.front);
        self.front = next;
        Some(&self.buf[s..e])
    }
}

impl DoubleEndedIterator for NodeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let start = entry_start_before(self.buf, self.back);
        let (s, e, _) = read_entry(self.buf, start);
        self.back = start;
        Some(&self.buf[s..e])
    }
}
