//! The sorted-set tree's member index: 32-bit member hash → leaf id, in 64-byte buckets
//! of seven slots, a used mask and an overflow count, so that a lookup usually reads one
//! cache line (hashbrown read a group of control bytes, then the slot elsewhere: two
//! misses per lookup in a 1,000,000-member set, and per member moved by a leaf split).
//!
//! Open addressing by bucket: an entry goes to the first bucket with a free slot from its
//! home bucket on, and every full bucket it passes counts it in `overflow`, so a lookup
//! stops at the first bucket with a zero count and a removal decrements the counts it
//! had raised (no tombstones; F14's scheme).

/// One entry: a member's hash and the leaf that holds it. Two slots with the same hash
/// may point at the same or different leaves (the tree checks the leaf's contents).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slot {
    pub hash: u32,
    pub leaf: u32,
}

const WIDTH: usize = 7;
const ALL: u32 = (1 << WIDTH) - 1;

#[derive(Clone, Copy, Debug, Default)]
#[repr(C, align(64))]
struct Bucket {
    slots: [Slot; WIDTH],
    /// Bit `i`: `slots[i]` is in use.
    used: u32,
    /// Entries stored past this bucket whose probe found it full.
    overflow: u32,
}

/// Member hash → leaf (see the module notes).
#[derive(Clone, Debug, Default)]
pub struct Index {
    buckets: Vec<Bucket>,
    len: usize,
}

/// Home bucket of `hash` among `mask + 1` (the high half of a multiplicative mix, so
/// every bit of the hash counts).
fn home(hash: u32, mask: usize) -> usize {
    ((u64::from(hash).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize) & mask
}

impl Index {
    pub fn new() -> Index {
        Index::default()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<Bucket>()
    }

    /// (bucket, slot) of the first entry with `hash` for which `pred` holds.
    fn position(&self, hash: u32, mut pred: impl FnMut(Slot) -> bool) -> Option<(usize, usize)> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let mut b = home(hash, mask);
        // Every bucket once at most: after removals, all of a small table's buckets may
        // count entries passing them (F14 bounds its probes the same way).
        for _ in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            let mut used = bucket.used;
            while used != 0 {
                let i = used.trailing_zeros() as usize;
                used &= used - 1;
                let s = bucket.slots[i];
                if s.hash == hash && pred(s) {
                    return Some((b, i));
                }
            }
            if bucket.overflow == 0 {
                return None;
            }
            b = (b + 1) & mask;
        }
        None
    }

    /// Loads `hash`'s home bucket, so that a lookup issued after other work finds it
    /// in cache (the load goes out beside that work's misses instead of after them).
    pub fn touch(&self, hash: u32) {
        if !self.buckets.is_empty() {
            let b = home(hash, self.buckets.len() - 1);
            std::hint::black_box(self.buckets[b].used);
        }
    }

    /// The first entry with `hash` for which `pred` holds.
    pub fn find(&self, hash: u32, pred: impl FnMut(Slot) -> bool) -> Option<Slot> {
        self.position(hash, pred)
            .map(|(b, i)| self.buckets[b].slots[i])
    }

    /// Points one entry (`hash`, `from`) at leaf `to`; false when there is none.
    pub fn retarget(&mut self, hash: u32, from: u32, to: u32) -> bool {
        match self.position(hash, |s| s.leaf == from) {
            Some((b, i)) => {
                self.buckets[b].slots[i].leaf = to;
                true
            }
            None => false,
        }
    }

    /// Removes one entry (`hash`, `leaf`); false when there is none.
    pub fn remove(&mut self, hash: u32, leaf: u32) -> bool {
        let Some((b, i)) = self.position(hash, |s| s.leaf == leaf) else {
            return false;
        };
        self.buckets[b].used &= !(1 << i);
        let mask = self.buckets.len() - 1;
        let mut p = home(hash, mask);
        while p != b {
            self.buckets[p].overflow -= 1;
            p = (p + 1) & mask;
        }
        self.len -= 1;
        true
    }

    /// Adds an entry (even when one with the same hash and leaf exists).
    pub fn insert(&mut self, slot: Slot) {
        // At most 7/8 of the slots in use: probes rarely pass a bucket.
        if (self.len + 1) * 8 > self.buckets.len() * WIDTH * 7 {
            self.grow();
        }
        self.place(slot);
        self.len += 1;
    }

    fn place(&mut self, slot: Slot) {
        let mask = self.buckets.len() - 1;
        let mut b = home(slot.hash, mask);
        loop {
            let bucket = &mut self.buckets[b];
            let free = !bucket.used & ALL;
            if free != 0 {
                let i = free.trailing_zeros() as usize;
                bucket.slots[i] = slot;
                bucket.used |= 1 << i;
                return;
            }
            bucket.overflow += 1;
            b = (b + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let n = (self.buckets.len() * 2).max(1);
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); n]);
        for bucket in &old {
            for i in 0..WIDTH {
                if bucket.used & (1 << i) != 0 {
                    self.place(bucket.slots[i]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_bucket_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
        assert_eq!(std::mem::align_of::<Bucket>(), 64);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u32, u32),
        Remove(u32, u32),
        Retarget(u32, u32, u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct hashes and leaves: collisions, duplicates and long probes.
        let h = 0u32..40;
        let l = 0u32..4;
        prop_oneof![
            3 => (h.clone(), l.clone()).prop_map(|(h, l)| Op::Insert(h, l)),
            2 => (h.clone(), l.clone()).prop_map(|(h, l)| Op::Remove(h, l)),
            1 => (h, l.clone(), l).prop_map(|(h, a, b)| Op::Retarget(h, a, b)),
        ]
    }

    /// Each bucket's overflow count from scratch: the entries whose probe passed it.
    fn overflow_recount(index: &Index) -> Vec<u32> {
        let n = index.buckets.len();
        let mut want = vec![0; n];
        for (b, bucket) in index.buckets.iter().enumerate() {
            for i in 0..WIDTH {
                if bucket.used & (1 << i) != 0 {
                    let mut p = home(bucket.slots[i].hash, n - 1);
                    while p != b {
                        want[p] += 1;
                        p = (p + 1) % n;
                    }
                }
            }
        }
        want
    }

    proptest! {
        #[test]
        fn behaves_as_a_multiset(ops in proptest::collection::vec(op(), 0..400)) {
            let mut index = Index::new();
            let mut model: HashMap<(u32, u32), usize> = HashMap::new();
            for op in ops {
                match op {
                    Op::Insert(hash, leaf) => {
                        index.insert(Slot { hash, leaf });
                        *model.entry((hash, leaf)).or_default() += 1;
                    }
                    Op::Remove(hash, leaf) => {
                        let had = model.get(&(hash, leaf)).copied().unwrap_or(0) > 0;
                        prop_assert_eq!(index.remove(hash, leaf), had);
                        if had {
                            *model.get_mut(&(hash, leaf)).unwrap() -= 1;
                        }
                    }
                    Op::Retarget(hash, from, to) => {
                        let had = model.get(&(hash, from)).copied().unwrap_or(0) > 0;
                        prop_assert_eq!(index.retarget(hash, from, to), had);
                        if had {
                            *model.get_mut(&(hash, from)).unwrap() -= 1;
                            *model.entry((hash, to)).or_default() += 1;
                        }
                    }
                }
                prop_assert_eq!(index.len(), model.values().sum::<usize>());
                for h in 0..40 {
                    for l in 0..4 {
                        let want = model.get(&(h, l)).copied().unwrap_or(0) > 0;
                        prop_assert_eq!(index.find(h, |s| s.leaf == l).is_some(), want);
                    }
                }
                prop_assert_eq!(overflow_recount(&index), index.buckets.iter().map(|b| b.overflow).collect::<Vec<_>>());
            }
        }
    }

    /// Hashes whose home among two buckets is `b`.
    fn homed(b: usize, count: usize) -> Vec<u32> {
        (0..).filter(|&h| home(h, 1) == b).take(count).collect()
    }

    #[test]
    fn a_miss_ends_when_every_bucket_counts_overflow() {
        let mut index = Index::new();
        let (zero, one) = (homed(0, 8), homed(1, 8));
        // Bucket 0 fills and passes one entry to bucket 1; after removals from bucket 0,
        // bucket 1 fills and passes one to bucket 0: 12 entries, still two buckets.
        for &h in &zero {
            index.insert(Slot { hash: h, leaf: 0 });
        }
        for &h in &zero[..3] {
            assert!(index.remove(h, 0));
        }
        for &h in &one[..7] {
            index.insert(Slot { hash: h, leaf: 1 });
        }
        assert_eq!(index.buckets.len(), 2);
        assert!(index.buckets.iter().all(|b| b.overflow > 0));
        assert_eq!(index.find(one[7], |_| true), None);
        assert_eq!(
            index.find(zero[7], |_| true),
            Some(Slot {
                hash: zero[7],
                leaf: 0
            })
        );
        assert_eq!(
            index.find(one[6], |_| true),
            Some(Slot {
                hash: one[6],
                leaf: 1
            })
        );
    }

    #[test]
    fn grows_past_many_buckets() {
        let mut index = Index::new();
        for h in 0..100_000u32 {
            index.insert(Slot {
                hash: h.wrapping_mul(2_654_435_761),
                leaf: h,
            });
        }
        assert_eq!(index.len(), 100_000);
        for h in (0..100_000u32).step_by(7) {
            let hash = h.wrapping_mul(2_654_435_761);
            assert_eq!(index.find(hash, |_| true), Some(Slot { hash, leaf: h }));
            assert!(index.remove(hash, h));
            assert_eq!(index.find(hash, |_| true), None);
        }
        assert!(index
            .buckets
            .iter()
            .all(|b| b.used.count_ones() as usize <= WIDTH));
    }
}
