//! Slab classes and pages.
//!
//! The class table is memcached's `slabs_init`: the first chunk holds the item header plus
//! `-n` bytes, each next class is `-f` times larger rounded up to 8 bytes, until a class
//! would pass `slab_chunk_max / f`; the last class is `slab_chunk_max` itself. Pages come
//! from one budget of `memory_limit / page_size` pages, lazily, and are carved a chunk at a
//! time so that a page costs resident memory only as it fills.
//!
//! Lock order: stripe lock, then a class lock, then the page pool lock. A class lock is
//! never held while taking another class's lock.

use super::arena::{ChunkId, CHUNK_ALIGN};
use super::item::{chunk_at, HEADER_SIZE};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// memcached's MAX_NUMBER_OF_SLAB_CLASSES minus the unused class 0.
pub const MAX_CLASSES: usize = 63;

/// Chunk sizes and chunks per page, smallest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassTable {
    pub sizes: Vec<usize>,
    pub perslab: Vec<usize>,
}

impl ClassTable {
    pub fn new(page_size: usize, chunk_size: usize, factor: f64, slab_chunk_max: usize) -> Self {
        let mut sizes = Vec::new();
        let mut perslab = Vec::new();
        let mut size = HEADER_SIZE + chunk_size;
        while sizes.len() < MAX_CLASSES - 1 {
            if size as f64 >= slab_chunk_max as f64 / factor {
                break;
            }
            size = size.next_multiple_of(CHUNK_ALIGN);
            sizes.push(size);
            perslab.push(page_size / size);
            // memcached keeps the size in an unsigned int: the product is truncated.
            size = (size as f64 * factor) as usize;
        }
        sizes.push(slab_chunk_max);
        perslab.push(page_size / slab_chunk_max);
        ClassTable { sizes, perslab }
    }

    /// Smallest class (0-based) whose chunks hold `size` bytes.
    pub fn class_for(&self, size: usize) -> Option<usize> {
        let i = self.sizes.partition_point(|&s| s < size);
        (i < self.sizes.len()).then_some(i)
    }

    pub fn largest(&self) -> usize {
        self.sizes.len() - 1
    }
}

/// What one class owns, under its lock.
#[derive(Default)]
pub struct ClassState {
    /// Page numbers owned, in the order received (the eviction hand walks them in order).
    pub pages: Vec<u32>,
    /// Freed chunks, reused before new pages.
    pub free: Vec<ChunkId>,
    /// Chunks handed out from the last page; the rest of it has never been touched.
    pub carved: usize,
    /// Pages received while the last page was still being carved; carved after it.
    pub fresh: Vec<u32>,
    /// Where the crawler continues (a slot number).
    pub crawl: usize,
    /// CLOCK hand: a slot number (page index * perslab + chunk index).
    pub hand: usize,
    pub evicted: u64,
    pub evicted_nonzero: u64,
    pub evicted_time: u64,
    pub evicted_unfetched: u64,
    /// Evicted while still referenced (the hand's per-allocation bound ran out).
    pub evicted_active: u64,
    pub outofmemory: u64,
    pub reclaimed: u64,
    pub expired_unfetched: u64,
    pub crawler_reclaimed: u64,
    /// Evictions and failed allocations since automove last looked (its demand signal).
    pub recent_evictions: u64,
}

pub struct SlabClass {
    /// 1-based, as `stats slabs` prints it.
    pub id: u8,
    pub size: usize,
    pub perslab: usize,
    pub state: Mutex<ClassState>,
    /// Items linked whose head chunk is in this class.
    pub items: AtomicU64,
    /// Bytes those items asked for.
    pub requested: AtomicU64,
}

impl SlabClass {
    pub fn new(id: u8, size: usize, perslab: usize) -> Self {
        SlabClass {
            id,
            size,
            perslab,
            state: Mutex::new(ClassState::default()),
            items: AtomicU64::new(0),
            requested: AtomicU64::new(0),
        }
    }

    /// Chunk id of slot `slot` (page index * perslab + index in page).
    pub fn slot_chunk(&self, st: &ClassState, page_size: usize, slot: usize) -> ChunkId {
        let page = st.pages[slot / self.perslab] as usize;
        chunk_at(page * page_size + (slot % self.perslab) * self.size)
    }

    /// Slots that have ever been handed out.
    pub fn carved_slots(&self, st: &ClassState) -> usize {
        if st.pages.is_empty() {
            0
        } else {
            (st.pages.len() - 1) * self.perslab + st.carved
        }
    }

    /// A never-used chunk from the last page, if any remain.
    pub fn carve(&self, st: &mut ClassState, page_size: usize) -> Option<ChunkId> {
        if st.pages.is_empty() || st.carved >= self.perslab {
            let page = st.fresh.pop()?;
            st.pages.push(page);
            st.carved = 0;
        }
        let slot = (st.pages.len() - 1) * self.perslab + st.carved;
        st.carved += 1;
        Some(self.slot_chunk(st, page_size, slot))
    }

    /// Takes a new page: it becomes the carving page, or waits its turn behind the one
    /// being carved.
    pub fn add_page(&self, st: &mut ClassState, page: u32) {
        if st.pages.is_empty() || st.carved >= self.perslab {
            st.pages.push(page);
            st.carved = 0;
        } else {
            st.fresh.push(page);
        }
    }

    /// Pages owned, carved or not.
    pub fn page_count(&self, st: &ClassState) -> usize {
        st.pages.len() + st.fresh.len()
    }

    /// Chunks never handed out (the rest of the carving page and the waiting pages).
    pub fn uncarved(&self, st: &ClassState) -> usize {
        let last = if st.pages.is_empty() {
            0
        } else {
            self.perslab - st.carved
        };
        last + st.fresh.len() * self.perslab
    }
}

/// The global page budget.
pub struct PagePool {
    state: Mutex<PoolState>,
}

struct PoolState {
    /// Pages never handed out start here.
    next_fresh: u32,
    /// Pages in the arena.
    arena_pages: u32,
    /// Pages given back (by reassignment or a lowered limit).
    spare: Vec<u32>,
    in_use: usize,
    limit: usize,
    /// Pages' worth of memory charged to heap objects (not handed out as pages).
    reserved: usize,
    /// Pages handed past the limit, each the first page of a class (memcached lets a class
    /// have one page whatever the limit, so a small `-m` never wedges a size).
    grace: usize,
}

impl PagePool {
    pub fn new(arena_pages: usize, limit: usize) -> Self {
        PagePool {
            state: Mutex::new(PoolState {
                next_fresh: 0,
                arena_pages: arena_pages as u32,
                spare: Vec::new(),
                in_use: 0,
                limit,
                reserved: 0,
                grace: 0,
            }),
        }
    }

    /// A page within the budget, or None.
    pub fn take(&self) -> Option<u32> {
        let mut p = self.state.lock();
        if p.in_use + p.reserved >= p.limit {
            return None;
        }
        let page = if let Some(page) = p.spare.pop() {
            page
        } else if p.next_fresh < p.arena_pages {
            p.next_fresh += 1;
            p.next_fresh - 1
        } else {
            return None;
        };
        p.in_use += 1;
        Some(page)
    }

    /// A page for a class that has none, past the limit if need be (not past the arena).
    pub fn take_first(&self) -> Option<u32> {
        if let Some(p) = self.take() {
            return Some(p);
        }
        let mut p = self.state.lock();
        let page = if let Some(page) = p.spare.pop() {
            page
        } else if p.next_fresh < p.arena_pages {
            p.next_fresh += 1;
            p.next_fresh - 1
        } else {
            return None;
        };
        p.in_use += 1;
        p.grace += 1;
        Some(page)
    }

    /// Pages handed out past the limit (first pages of classes).
    pub fn grace(&self) -> usize {
        self.state.lock().grace
    }

    /// Pages given back and waiting for any class (memcached's global page pool).
    pub fn spare_pages(&self) -> usize {
        self.state.lock().spare.len()
    }

    /// Returns a page to the pool.
    pub fn give(&self, page: u32) {
        let mut p = self.state.lock();
        p.in_use -= 1;
        p.spare.push(page);
    }

    pub fn in_use(&self) -> usize {
        self.state.lock().in_use
    }

    pub fn limit(&self) -> usize {
        self.state.lock().limit
    }

    pub fn set_limit(&self, pages: usize) {
        self.state.lock().limit = pages;
    }

    /// Pages held back for heap objects.
    pub fn set_reserved(&self, pages: usize) {
        self.state.lock().reserved = pages;
    }

    pub fn reserved(&self) -> usize {
        self.state.lock().reserved
    }

    /// Whether pages in use and the object reservation together pass the limit.
    pub fn over(&self) -> bool {
        let p = self.state.lock();
        p.in_use + p.reserved > p.limit + p.grace
    }

    /// Whether `bytes` more of objects would pass the limit.
    pub fn would_exceed(&self, bytes: usize, page_size: usize) -> bool {
        let p = self.state.lock();
        let extra = bytes.div_ceil(page_size);
        p.in_use + p.reserved + extra > p.limit
    }
}

/// Relaxed counter helpers.
pub fn add(c: &AtomicU64, v: u64) {
    c.fetch_add(v, Ordering::Relaxed);
}

pub fn sub(c: &AtomicU64, v: u64) {
    c.fetch_sub(v, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_matches_memcached_layout() {
        let t = ClassTable::new(1 << 20, 48, 1.25, 1 << 19);
        // 24-byte header + 48, then *1.25 rounded up to 8.
        assert_eq!(&t.sizes[..6], &[72, 96, 120, 152, 192, 240]);
        assert_eq!(*t.sizes.last().unwrap(), 1 << 19);
        assert_eq!(*t.perslab.last().unwrap(), 2);
        assert_eq!(t.perslab[0], (1 << 20) / 72);
        for w in t.sizes.windows(2) {
            assert!(w[0] < w[1]);
        }
        assert!(t.sizes.iter().all(|s| s % 8 == 0));
        let before_last = t.sizes[t.sizes.len() - 2];
        assert!(before_last as f64 * 1.25 >= (1 << 19) as f64 / 1.25);
    }

    #[test]
    fn factor_two_and_other_chunk_size() {
        let t = ClassTable::new(1 << 20, 100, 2.0, 1 << 19);
        assert_eq!(&t.sizes[..3], &[128, 256, 512]);
        assert_eq!(t.class_for(1), Some(0));
        assert_eq!(t.class_for(128), Some(0));
        assert_eq!(t.class_for(129), Some(1));
        assert_eq!(t.class_for((1 << 19) + 1), None);
    }

    #[test]
    fn small_factor_is_capped_at_class_limit() {
        let t = ClassTable::new(1 << 20, 48, 1.01, 1 << 19);
        assert_eq!(t.sizes.len(), MAX_CLASSES);
    }

    #[test]
    fn pool_respects_limit_and_reuses_spares() {
        let p = PagePool::new(4, 2);
        let a = p.take().unwrap();
        let b = p.take().unwrap();
        assert_ne!(a, b);
        assert_eq!(p.take(), None);
        p.give(a);
        assert_eq!(p.take(), Some(a));
    }
}
