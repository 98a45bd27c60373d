//! Background work: the crawler that reclaims expired items, page moves between classes
//! (`slabs reassign`, automove), and a lowered memory limit.
//!
//! A page move empties one page of the source class while holding that class's lock: a
//! linked item in it, or a chained item's head or tail, is copied to a free chunk of the
//! class outside the page (its stripe reached with `try_lock`, as eviction does; memcached's
//! rescues), or evicted when the class has no such chunk (a tail's whole item leaves then);
//! free chunks are taken off the free list. A chunk in any other state — being written,
//! pinned, its stripe busy, or unlinked and waiting for the class lock to be freed — makes
//! the page busy and the move is tried on another page or later. The emptied page is given
//! back to the kernel (`MADV_DONTNEED`) and then to the destination class or the pool.

use super::arena::ChunkId;
use super::expire::CRAWL_SLOTS;
use super::index::table_hash;
use super::item::{atime_age, chunk_at, offset_of, Item, FETCHED, FREE, LINKED, TAIL};
use super::items::{Core, Held};
use super::slabs::{ClassState, SlabClass};
use super::{Miss, ReassignOutcome};
use std::sync::atomic::Ordering;

/// Times a page move retries items whose stripe was busy.
const MOVE_RETRIES: usize = 3;

/// What became of a chunk a page move tried to rescue.
enum Rescue {
    /// Copied elsewhere in its class; the old chunk (to free) is returned.
    Moved(ChunkId),
    /// Its stripe was busy, it is being sent, or it changed: try again later.
    Busy,
    /// No free chunk outside the page: the item is evicted (memcached's evictions_nomem).
    NoRoom,
}

impl Core {
    /// Empties one page of `class` (preferring the page under the eviction hand) and
    /// removes it from the class, its live items and chunks rescued to free chunks of the
    /// class where there are some (memcached's page mover does the same), evicted where
    /// there are none. None when every page is busy or the class has none.
    /// Chunks of other classes that the page's items held (tails, heads) are pushed to
    /// `elsewhere`, for the caller to free once it released this class's lock.
    fn take_page(
        &self,
        class: &SlabClass,
        st: &mut ClassState,
        elsewhere: &mut Vec<ChunkId>,
        mut held: Option<&mut Held<'_>>,
    ) -> Option<u32> {
        if let Some(p) = st.fresh.pop() {
            return Some(p);
        }
        let pages = st.pages.len();
        if pages == 0 {
            return None;
        }
        let start = (st.hand / class.perslab) % pages;
        for k in 0..pages {
            let idx = (start + k) % pages;
            if let Some(page) =
                self.empty_page(class, st, idx, elsewhere, true, held.as_deref_mut())
            {
                return Some(page);
            }
        }
        None
    }

    /// Tries to empty page `idx` of the class; on success removes it and returns it. With
    /// `rescue`, plain items of the page move to free chunks of the class elsewhere
    /// (memcached's rescues) instead of being evicted. `held`: the stripe the calling
    /// thread holds (an allocation that moves a page), whose items are unlinked through
    /// it; without it an item in that stripe would make every page busy.
    fn empty_page(
        &self,
        class: &SlabClass,
        st: &mut ClassState,
        idx: usize,
        elsewhere: &mut Vec<ChunkId>,
        rescue: bool,
        mut held: Option<&mut Held<'_>>,
    ) -> Option<u32> {
        let page = st.pages[idx];
        let base = page as usize * self.config.page_size;
        let lo = (base / 8) as ChunkId;
        let hi = ((base + self.config.page_size) / 8) as ChunkId;
        let carved = if idx + 1 == st.pages.len() {
            st.carved
        } else {
            class.perslab
        };
        let ci = usize::from(class.id) - 1;
        let chunk_of = |i: usize| chunk_at(base + i * class.size);
        // Check first that nothing in the page is in flight.
        for i in 0..carved {
            let bits = Item::new(&self.arena, chunk_of(i)).bits();
            if bits & (LINKED | FREE | TAIL) == 0 {
                return None;
            }
        }
        let now = self.clock.now();
        let mut released = Vec::new();
        for _ in 0..MOVE_RETRIES {
            let mut busy = false;
            for i in 0..carved {
                let chunk = Item::new(&self.arena, chunk_of(i));
                let bits = chunk.bits();
                // A tail leaves with its whole item: the victim is the head it names. A
                // tail keeps its head id while this class's lock is held (freeing it needs
                // the lock); a head that is no longer linked is being built or freed.
                let it = if bits & TAIL != 0 {
                    let Ok(head) = ChunkId::try_from(chunk.tail_head()) else {
                        busy = true;
                        continue;
                    };
                    let head = Item::new(&self.arena, head);
                    if head.bits() & (LINKED | TAIL) != LINKED {
                        busy = true;
                        continue;
                    }
                    head
                } else if bits & LINKED != 0 {
                    chunk
                } else {
                    continue;
                };
                let bits = it.bits();
                if rescue {
                    let held_stripe = held.as_ref().map(|h| h.stripe);
                    match self.rescue(class, st, it, chunk.chunk, lo..hi, held_stripe) {
                        Rescue::Moved(old) => {
                            released.push(old);
                            continue;
                        }
                        Rescue::Busy => {
                            busy = true;
                            continue;
                        }
                        // As memcached's evictions_nomem: no free chunk to move it to.
                        Rescue::NoRoom => {
                            self.counters
                                .evictions_nomem
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                if !self.unlink_victim(it, held.as_deref_mut()) {
                    busy = true;
                    continue;
                }
                if let Some(why) = self.dead(it, now) {
                    st.reclaimed += 1;
                    if why == Miss::Expired {
                        self.counters.expired.fetch_add(1, Ordering::Relaxed);
                    }
                } else {
                    st.evicted += 1;
                    st.evicted_time = u64::from(atime_age(now, it.atime()));
                    if it.exptime() != 0 {
                        st.evicted_nonzero += 1;
                    }
                    if bits & FETCHED == 0 {
                        st.evicted_unfetched += 1;
                    }
                }
                it.tails(&mut released);
                released.push(it.chunk);
            }
            // This class's chunks go to its free list (the page's own are dropped with the
            // page below); other classes' wait until this lock is released.
            for c in released.drain(..) {
                if self.class_of_chunk(c) == ci {
                    Item::new(&self.arena, c).mark_free();
                    st.free.push(c);
                } else {
                    elsewhere.push(c);
                }
            }
            if !busy {
                break;
            }
            std::thread::yield_now();
        }
        if (0..carved).any(|i| Item::new(&self.arena, chunk_of(i)).bits() & (LINKED | TAIL) != 0) {
            return None;
        }
        st.free.retain(|&c| c < lo || c >= hi);
        st.pages.remove(idx);
        if idx == st.pages.len() {
            // The carving page left; the new last page was fully carved.
            st.carved = class.perslab;
        }
        // Slots after the removed page moved down by a page: the hand and the crawler keep
        // their place (restarting them would make a class that gives pages back often
        // re-walk its first pages forever).
        let shift = |pos: usize| {
            if pos >= (idx + 1) * class.perslab {
                pos - class.perslab
            } else if pos >= idx * class.perslab {
                idx * class.perslab
            } else {
                pos
            }
        };
        st.hand = shift(st.hand);
        st.crawl = shift(st.crawl);
        self.arena.release(base, self.config.page_size);
        self.page_class[page as usize].store(0, Ordering::Relaxed);
        Some(page)
    }

    /// Moves the chunk `chunk` of the linked item `it` (its head, or one of its tails) to a
    /// free chunk of this class outside `page` (chunk ids), as memcached's page mover rescues
    /// items and chunks. Runs under the item's stripe lock (`try_lock`) and this class's
    /// lock; a pinned item (being sent without the lock) is not moved. The old chunk is
    /// returned for the free list.
    fn rescue(
        &self,
        class: &SlabClass,
        st: &mut ClassState,
        it: Item<'_>,
        chunk: ChunkId,
        page: std::ops::Range<ChunkId>,
        held_stripe: Option<usize>,
    ) -> Rescue {
        let Some(pos) = st.free.iter().rposition(|c| !page.contains(c)) else {
            return Rescue::NoRoom;
        };
        let db = it.db();
        let key_hash = self.index.key_hash(it.key());
        let si = self.index.stripe_of(key_hash);
        if held_stripe == Some(si) {
            // The allocation moving this page holds the item's stripe: evicted as before.
            return Rescue::NoRoom;
        }
        let Some(mut s) = self.index.try_lock(si) else {
            return Rescue::Busy;
        };
        // A running snapshot knows saved items by chunk: it gets the stripe before one moves.
        if self.snapshot.is_active() {
            self.snapshot_visit_locked(si, &mut s);
        }
        if it.bits() & (LINKED | TAIL) != LINKED || self.pins.is_pinned(it.chunk) {
            return Rescue::Busy;
        }
        let new = st.free.swap_remove(pos);
        self.arena.write(
            offset_of(new),
            self.arena.bytes(offset_of(chunk), class.size),
        );
        if chunk == it.chunk {
            if !s.replace(table_hash(key_hash, db), it.chunk, new) {
                Item::new(&self.arena, new).mark_free();
                st.free.push(new);
                return Rescue::Busy;
            }
            it.for_each_tail(|t| Item::new(&self.arena, t).set_tail_head(new));
            it.clear_bits(LINKED);
            self.counters.rescues.fetch_add(1, Ordering::Relaxed);
        } else {
            // A tail: whatever links to it (the head, or the tail before it) now links to
            // the copy.
            if it.first_tail() == chunk {
                it.set_first_tail(new);
            } else {
                let mut before = None;
                it.for_each_tail(|t| {
                    if Item::new(&self.arena, t).flags() == chunk {
                        before = Some(t);
                    }
                });
                let Some(before) = before else {
                    Item::new(&self.arena, new).mark_free();
                    st.free.push(new);
                    return Rescue::Busy;
                };
                Item::new(&self.arena, before).set_next_tail(new);
            }
            Item::new(&self.arena, chunk).clear_bits(TAIL);
            self.counters.chunk_rescues.fetch_add(1, Ordering::Relaxed);
        }
        Rescue::Moved(chunk)
    }

    /// memcached's global page pool: a class holding two pages' worth of free chunks gives
    /// its emptiest page back to the pool (its few live items rescued into other chunks),
    /// where any class can take it. Up to `most` pages per class per call.
    pub fn release_free_pages(&self, most: usize) {
        for class in &self.classes {
            let mut released = 0;
            while released < most && self.release_emptiest_page(class) {
                released += 1;
            }
        }
    }

    /// One page of `class` to the pool, if it holds two pages' worth of free chunks.
    fn release_emptiest_page(&self, class: &SlabClass) -> bool {
        let mut elsewhere = Vec::new();
        let page = {
            let mut st = class.state.lock();
            if st.pages.len() < 2 || st.free.len() < 2 * class.perslab {
                return false;
            }
            // Free chunks per arena page, then the class page with the most (the carving
            // page is left alone).
            let mut free_in = vec![0u32; self.page_class.len()];
            for &c in &st.free {
                if let Some(n) = free_in.get_mut(offset_of(c) / self.config.page_size) {
                    *n += 1;
                }
            }
            let last = st.pages.len() - 1;
            let Some((idx, _)) = st.pages[..last]
                .iter()
                .enumerate()
                .max_by_key(|&(_, &p)| free_in.get(p as usize).copied().unwrap_or(0))
            else {
                return false;
            };
            self.empty_page(class, &mut st, idx, &mut elsewhere, true, None)
        };
        for c in elsewhere {
            self.free_chunk(c);
        }
        let Some(p) = page else { return false };
        self.pool.give(p);
        self.counters.slabs_moved.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Moves one page from class `src` to class `dst` (0-based; `src` None: any class with
    /// a page to spare).
    pub fn move_page(&self, src: Option<usize>, dst: usize) -> ReassignOutcome {
        self.move_page_held(src, dst, None)
    }

    /// [`Core::move_page`] from an allocation that holds the stripe `held`.
    pub fn move_page_held(
        &self,
        src: Option<usize>,
        dst: usize,
        held: Option<&mut Held<'_>>,
    ) -> ReassignOutcome {
        let src = match src {
            Some(s) => s,
            None => {
                let found = (0..self.classes.len()).filter(|&c| c != dst).find(|&c| {
                    let cl = &self.classes[c];
                    cl.page_count(&cl.state.lock()) > 1
                });
                match found {
                    Some(s) => s,
                    None => return ReassignOutcome::NoSpare,
                }
            }
        };
        if src == dst {
            return ReassignOutcome::Same;
        }
        let mut elsewhere = Vec::new();
        let page = {
            let class = &self.classes[src];
            let mut st = class.state.lock();
            if class.page_count(&st) < 2 {
                return ReassignOutcome::NoSpare;
            }
            self.take_page(class, &mut st, &mut elsewhere, held)
        };
        for c in elsewhere {
            self.free_chunk(c);
        }
        let Some(page) = page else {
            return ReassignOutcome::Busy;
        };
        let class = &self.classes[dst];
        let mut st = class.state.lock();
        self.page_class[page as usize].store(dst as u8 + 1, Ordering::Relaxed);
        class.add_page(&mut st, page);
        self.counters.slabs_moved.fetch_add(1, Ordering::Relaxed);
        ReassignOutcome::Ok
    }

    /// Gives pages back to the pool until the pages in use fit the limit (after
    /// `set_memory_limit` lowered it), taking from the class with the oldest items.
    pub fn shrink_to_limit(&self) {
        let now = self.clock.now();
        let mut attempts = self.classes.len();
        while self.pool.over() && attempts > 0 {
            attempts -= 1;
            let victim = self
                .classes
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let st = c.state.lock();
                    (c.page_count(&st) > 0).then(|| (self.oldest_age(c, &st, now), i))
                })
                .max();
            let Some((_, ci)) = victim else { return };
            let class = &self.classes[ci];
            let mut elsewhere = Vec::new();
            let page = {
                let mut st = class.state.lock();
                self.take_page(class, &mut st, &mut elsewhere, None)
            };
            for c in elsewhere {
                self.free_chunk(c);
            }
            if let Some(p) = page {
                self.pool.give(p);
            }
        }
    }

    /// memcached's automove: when a class evicted since the last pass, take a page from the
    /// class whose least recently used item is oldest (or that has a page's worth of free
    /// chunks) and give it to the evicting class. Mode 2 moves on any eviction.
    pub fn automove(&self) {
        let mode = self.automove.load(Ordering::Relaxed);
        if mode == 0 || !self.config.slab_reassign {
            return;
        }
        let now = self.clock.now();
        let mut dst: Option<(u64, u64, usize)> = None;
        let mut ages = Vec::with_capacity(self.classes.len());
        for (i, c) in self.classes.iter().enumerate() {
            let mut st = c.state.lock();
            let evictions = std::mem::take(&mut st.recent_evictions);
            let age = self.oldest_age(c, &st, now);
            let spare = st.free.len() + c.uncarved(&st) >= c.perslab;
            ages.push((age, c.page_count(&st), spare));
            if evictions > 0 && dst.map_or(true, |(e, _, _)| evictions > e) {
                dst = Some((evictions, age, i));
            }
        }
        let Some((_, dst_age, dst)) = dst else { return };
        let src = ages
            .iter()
            .enumerate()
            .filter(|&(i, &(_, pages, _))| i != dst && pages > 1)
            .filter(|&(_, &(age, _, spare))| {
                spare || mode == 2 || age > dst_age.saturating_mul(2).max(dst_age + 1)
            })
            .max_by_key(|&(_, &(age, _, spare))| (spare, age))
            .map(|(i, _)| i);
        if let Some(src) = src {
            self.move_page(Some(src), dst);
        }
    }

    /// One maintenance pass.
    ///
    /// After a flush, every flushed item is dead memory: the pass reclaims all of it and
    /// gives every page it empties back to the pool, so that a workload whose sizes change
    /// after `flush_all` gets the pages within a second, where one page per class per pass
    /// (memcached's pace) left the old size class holding them for a minute and the new
    /// size evicting its own items meanwhile.
    pub fn maintain(&self) {
        let flushed = self.flushed.swap(false, Ordering::AcqRel);
        if self.config.lru_crawler {
            self.crawl_up_to(false, if flushed { usize::MAX } else { CRAWL_SLOTS });
        }
        if self.config.slab_reassign {
            self.release_free_pages(if flushed { usize::MAX } else { 1 });
        }
        if self.pool.over() {
            self.shrink_to_limit();
        }
        if self.config.evict {
            let mut rounds = 64;
            while self.pool.over() && rounds > 0 && self.evict_object() {
                rounds -= 1;
            }
        }
        self.automove();
    }
}
