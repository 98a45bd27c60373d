//! Store-wide and per-class numbers for `stats`, `stats slabs`/`items` and INFO: gauges
//! read from the classes and stripes, counters kept beside them.

use super::item::{atime_age, Item, LINKED, TAIL};
use super::items::Core;
use super::slabs::{ClassState, SlabClass};
use super::{SlabClassStats, StoreStats};
use std::sync::atomic::Ordering;

impl Core {
    pub fn curr_items(&self) -> u64 {
        (0..self.index.stripe_count())
            .map(|i| self.index.lock(i).len() as u64)
            .sum()
    }

    /// Bytes of items and heap collections ([`Core::stats`]'s `bytes`, without its stripe
    /// walks: the RDB `used-mem` field at a save's start, while clients hold stripes).
    pub fn data_bytes(&self) -> u64 {
        self.counters.bytes.load(Ordering::Relaxed) + self.object_bytes()
    }

    /// Items evicted so far ([`Core::stats`]'s `evictions`, without its stripe walks).
    pub fn evictions(&self) -> u64 {
        self.classes.iter().map(|c| c.state.lock().evicted).sum()
    }

    /// Grows every stripe's table for `keys` more keys in all (a load that read Redis's
    /// RESIZEDB count), at most what `-m` could hold (48 bytes an item at the least).
    pub fn reserve_keys(&self, keys: u64) {
        let keys = keys.min((self.config.memory_limit / 48) as u64) as usize;
        let stripes = self.index.stripe_count();
        // Keys spread over the stripes unevenly: a tenth more than the average.
        let per = keys / stripes + keys / stripes / 10;
        if per == 0 {
            return;
        }
        for i in 0..stripes {
            self.index
                .lock(i)
                .reserve(&self.arena, self.index.seed(), per);
        }
    }

    pub fn stats(&self) -> StoreStats {
        let mut st = StoreStats {
            curr_items: self.curr_items(),
            total_items: self.counters.total_items.load(Ordering::Relaxed),
            bytes: self.data_bytes(),
            limit_maxbytes: (self.pool.limit() * self.config.page_size) as u64,
            total_malloced: (self.pool.in_use() * self.config.page_size) as u64,
            slabs_moved: self.counters.slabs_moved.load(Ordering::Relaxed),
            crawler_items_checked: self.counters.crawler_items_checked.load(Ordering::Relaxed),
            expired_keys: self.counters.expired.load(Ordering::Relaxed),
            slab_reassign_rescues: self.counters.rescues.load(Ordering::Relaxed),
            slab_reassign_chunk_rescues: self.counters.chunk_rescues.load(Ordering::Relaxed),
            slab_reassign_evictions_nomem: self.counters.evictions_nomem.load(Ordering::Relaxed),
            slab_global_page_pool: self.pool.spare_pages() as u64,
            pages_past_limit: self.pool.grace() as u64,
            hash_power_level: (self.index_slots().max(1)).ilog2(),
            hash_bytes: self.index_bytes(),
            malloc_fails: self.counters.malloc_fails.load(Ordering::Relaxed),
            ..StoreStats::default()
        };
        for c in &self.classes {
            let cs = c.state.lock();
            if c.page_count(&cs) > 0 {
                st.curr_slab_classes += 1;
            }
            st.evictions += cs.evicted;
            st.reclaimed += cs.reclaimed;
            st.expired_unfetched += cs.expired_unfetched;
            st.evicted_unfetched += cs.evicted_unfetched;
            st.evicted_active += cs.evicted_active;
            st.crawler_reclaimed += cs.crawler_reclaimed;
        }
        st
    }

    /// `stats reset`: zeroes the counters memcached resets (its item stats and global
    /// totals); gauges (items, bytes, pages) and the automove demand signal stay.
    pub fn reset_stats(&self) {
        self.counters.total_items.store(0, Ordering::Relaxed);
        self.counters.malloc_fails.store(0, Ordering::Relaxed);
        self.counters.slabs_moved.store(0, Ordering::Relaxed);
        self.counters.expired.store(0, Ordering::Relaxed);
        self.counters.rescues.store(0, Ordering::Relaxed);
        self.counters.chunk_rescues.store(0, Ordering::Relaxed);
        self.counters.evictions_nomem.store(0, Ordering::Relaxed);
        self.counters
            .crawler_items_checked
            .store(0, Ordering::Relaxed);
        for c in &self.classes {
            let mut cs = c.state.lock();
            cs.evicted = 0;
            cs.evicted_nonzero = 0;
            cs.evicted_time = 0;
            cs.evicted_unfetched = 0;
            cs.evicted_active = 0;
            cs.outofmemory = 0;
            cs.reclaimed = 0;
            cs.expired_unfetched = 0;
            cs.crawler_reclaimed = 0;
        }
    }

    pub fn slab_stats(&self) -> Vec<SlabClassStats> {
        let now = self.clock.now();
        self.classes
            .iter()
            .map(|c| {
                let cs = c.state.lock();
                let total_chunks = (c.page_count(&cs) * c.perslab) as u64;
                let free_end = c.uncarved(&cs) as u64;
                let items = c.items.load(Ordering::Relaxed);
                SlabClassStats {
                    id: c.id,
                    chunk_size: c.size as u64,
                    chunks_per_page: c.perslab as u64,
                    total_pages: c.page_count(&cs) as u64,
                    total_chunks,
                    used_chunks: total_chunks - cs.free.len() as u64 - free_end,
                    free_chunks: cs.free.len() as u64,
                    free_chunks_end: free_end,
                    mem_requested: c.requested.load(Ordering::Relaxed),
                    number: items,
                    age: self.oldest_age(c, &cs, now),
                    evicted: cs.evicted,
                    evicted_nonzero: cs.evicted_nonzero,
                    evicted_time: cs.evicted_time,
                    outofmemory: cs.outofmemory,
                    reclaimed: cs.reclaimed,
                    expired_unfetched: cs.expired_unfetched,
                    evicted_unfetched: cs.evicted_unfetched,
                    evicted_active: cs.evicted_active,
                    crawler_reclaimed: cs.crawler_reclaimed,
                }
            })
            .collect()
    }

    /// Seconds since the least recently accessed linked item of the class was used (a
    /// sample of the slots after the hand, which is where the oldest items sit).
    pub fn oldest_age(&self, class: &SlabClass, st: &ClassState, now: u32) -> u64 {
        let slots = class.carved_slots(st);
        let mut oldest = 0;
        for i in 0..slots.min(256) {
            let slot = (st.hand + i) % slots;
            let it = Item::new(
                &self.arena,
                class.slot_chunk(st, self.config.page_size, slot),
            );
            let bits = it.bits();
            if bits & LINKED != 0 && bits & TAIL == 0 {
                oldest = oldest.max(atime_age(now, it.atime()));
            }
        }
        u64::from(oldest)
    }

    pub fn index_slots(&self) -> u64 {
        (0..self.index.stripe_count())
            .map(|i| self.index.lock(i).table_bytes() as u64 / 5)
            .sum()
    }

    pub fn index_bytes(&self) -> u64 {
        (0..self.index.stripe_count())
            .map(|i| self.index.lock(i).table_bytes() as u64)
            .sum()
    }
}
