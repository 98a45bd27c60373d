//! Allocation and eviction under the item paths: a chunk from the class's free list, its
//! carving page, a new page from the pool, or by evicting (memcached's slabs.c alloc and
//! items.c's LRU pull-tail). Runs with the allocating thread's stripe held (see the lock
//! order in `items.rs`).

use std::sync::atomic::Ordering;

use super::arena::ChunkId;
use super::index::{table_hash, Stripe};
use super::item::{atime_age, Item, ACTIVE, ACTIVE2, FETCHED, LINKED, TAIL};
use super::items::{Core, Held};
use super::observe::Removal;
use super::slabs::{add, ClassState, SlabClass};
use super::{EvictionPolicy, Miss, ReassignOutcome};

/// Referenced items the eviction hand passes over in one allocation before it evicts
/// regardless, so that a hot class cannot stall an allocation for a whole pass.
const MAX_PASSED: usize = 4096;

/// How far the eviction hand looks for an expired item when eviction is off (`-M`).
const RECLAIM_SCAN: usize = 64;

impl Core {
    /// A chunk of class `ci`: from the free list, the carving page, a new page, or by
    /// evicting from the class.
    pub fn alloc_chunk(&self, ci: usize, held: &mut Held<'_>) -> Option<ChunkId> {
        self.alloc_chunk_in(ci, held, true)
    }

    /// [`Core::alloc_chunk`]; `first_page`: a class with no page may take one past the limit.
    pub(super) fn alloc_chunk_in(
        &self,
        ci: usize,
        held: &mut Held<'_>,
        first_page: bool,
    ) -> Option<ChunkId> {
        let got = self.alloc_chunk_once(ci, held);
        if got.is_some() {
            return got;
        }
        // Eviction found nothing in the class: it has no page, or every chunk it has is in
        // flight (a chained value being built holds all of a class's few largest chunks,
        // while other classes keep the budget's pages, empty or not). Move a page from
        // another class, or make room among heap objects, or (a class with no page, as
        // memcached) take a first page past the limit.
        let class = &self.classes[ci];
        if self.config.evict {
            if self.config.slab_reassign
                && self.move_page_held(None, ci, Some(held)) == ReassignOutcome::Ok
            {
                return self.alloc_chunk_once(ci, held);
            }
            let mut rounds = 16;
            while rounds > 0 && self.pool.reserved() > 0 && self.evict_object() {
                rounds -= 1;
                if let Some(c) = self.alloc_chunk_once(ci, held) {
                    return Some(c);
                }
            }
        }
        if !first_page || class.page_count(&class.state.lock()) > 0 {
            return None;
        }
        let page = self.pool.take_first()?;
        {
            let mut st = class.state.lock();
            self.page_class[page as usize].store(ci as u8 + 1, Ordering::Relaxed);
            class.add_page(&mut st, page);
        }
        self.alloc_chunk_once(ci, held)
    }

    fn alloc_chunk_once(&self, ci: usize, held: &mut Held<'_>) -> Option<ChunkId> {
        let class = &self.classes[ci];
        let mut freed_tails = Vec::new();
        let got = {
            let mut st = class.state.lock();
            if let Some(c) = st.free.pop() {
                Item::new(&self.arena, c).mark_taken();
                Some(c)
            } else if let Some(c) = class.carve(&mut st, self.config.page_size) {
                Some(c)
            } else if let Some(page) = self.pool.take() {
                self.page_class[page as usize].store(ci as u8 + 1, Ordering::Relaxed);
                class.add_page(&mut st, page);
                class.carve(&mut st, self.config.page_size)
            } else {
                let got = self.evict_locked(class, &mut st, held, &mut freed_tails);
                if got.is_none() {
                    st.outofmemory += 1;
                    st.recent_evictions += 1;
                }
                got
            }
        };
        for t in freed_tails {
            self.free_chunk(t);
        }
        if got.is_none() {
            add(&self.counters.malloc_fails, 1);
        }
        got
    }

    /// Walks the class's CLOCK hand for a chunk to reuse: an expired or flushed item, or
    /// (when eviction is on) the first linked item with no reference bit left, taking one
    /// reference level off each item it passes (per the eviction policy). Tails of a chained victim are returned in `freed_tails`.
    pub fn evict_locked(
        &self,
        class: &SlabClass,
        st: &mut ClassState,
        held: &mut Held<'_>,
        freed_tails: &mut Vec<ChunkId>,
    ) -> Option<ChunkId> {
        let slots = class.carved_slots(st);
        if slots == 0 {
            return None;
        }
        let now = self.clock.now();
        let policy = self.eviction_policy();
        // Three passes take every reference level off; the busy-stripe skips need slack.
        let steps = if self.config.evict {
            3 * slots + 1
        } else {
            RECLAIM_SCAN.min(slots)
        };
        let mut passed = 0;
        for _ in 0..steps {
            let slot = match policy {
                EvictionPolicy::Random => {
                    st.hand = st
                        .hand
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    (st.hand >> 17) % slots
                }
                _ => st.hand % slots,
            };
            if policy != EvictionPolicy::Random {
                st.hand = slot + 1;
            }
            let chunk = class.slot_chunk(st, self.config.page_size, slot);
            let it = Item::new(&self.arena, chunk);
            let bits = it.bits();
            if bits & LINKED == 0 || bits & TAIL != 0 {
                continue;
            }
            let dead = self.dead(it, now);
            if dead.is_none() {
                if !self.config.evict || self.temporary(it, now) {
                    continue;
                }
                // Bounded work per allocation: after passing MAX_PASSED referenced items the
                // hand takes the next one regardless (its bits are cleared all the same).
                let spare = passed < MAX_PASSED;
                match policy {
                    EvictionPolicy::Clock2 if bits & ACTIVE2 != 0 && spare => {
                        it.clear_bits(ACTIVE2);
                        passed += 1;
                        continue;
                    }
                    EvictionPolicy::Clock | EvictionPolicy::Clock2
                        if bits & ACTIVE != 0 && spare =>
                    {
                        it.clear_bits(ACTIVE | ACTIVE2);
                        passed += 1;
                        continue;
                    }
                    _ => {}
                }
            }
            // Read everything the stats need before the chunk changes hands.
            let exptime = it.exptime();
            let age = atime_age(now, it.atime());
            if !self.unlink_victim(it, Some(held)) {
                continue;
            }
            let unfetched = bits & FETCHED == 0;
            match dead {
                None => {
                    let e = super::observe::Evicted {
                        fetched: !unfetched,
                        ttl: if exptime == 0 {
                            -1
                        } else {
                            i64::from(exptime) - i64::from(now)
                        },
                        idle: age,
                        class: u8::try_from(self.class_of_chunk(chunk) + 1).unwrap_or(0),
                        size: it.value_len(),
                    };
                    self.observers
                        .report(Removal::Evicted(e), it.db(), it.key());
                }
                Some(Miss::Expired) => self.observers.report(Removal::Expired, it.db(), it.key()),
                Some(_) => {}
            }
            if dead.is_some() {
                st.reclaimed += 1;
                if dead == Some(Miss::Expired) {
                    self.counters.expired.fetch_add(1, Ordering::Relaxed);
                }
                if unfetched {
                    st.expired_unfetched += 1;
                }
            } else {
                st.evicted += 1;
                st.recent_evictions += 1;
                st.evicted_time = u64::from(age);
                if exptime != 0 {
                    st.evicted_nonzero += 1;
                }
                if unfetched {
                    st.evicted_unfetched += 1;
                }
                if bits & ACTIVE != 0 {
                    st.evicted_active += 1;
                }
            }
            it.tails(freed_tails);
            it.mark_taken();
            return Some(chunk);
        }
        None
    }

    /// Unlinks a victim found by an eviction hand (the caller holds its class lock).
    pub fn unlink_victim(&self, it: Item<'_>, held: Option<&mut Held<'_>>) -> bool {
        let db = it.db();
        let key_hash = self.index.key_hash(it.key());
        let si = self.index.stripe_of(key_hash);
        let hash = table_hash(key_hash, db);
        let unlink = |s: &mut Stripe| {
            // A pinned item is being sent: passed by like an item whose stripe is busy.
            if self.pins.is_pinned(it.chunk) {
                return false;
            }
            let removed = s.remove(hash, it.chunk, db);
            if removed {
                it.clear_bits(LINKED);
                self.account_unlink(it);
                self.release_object(s, it);
            }
            removed
        };
        if let Some(held) = held.filter(|h| h.stripe == si) {
            if it.chunk == held.protect {
                return false;
            }
            // `lock_key` saved only its own key for a running snapshot.
            if self.snapshot.is_active() {
                self.snapshot_visit_locked(si, held.guard);
            }
            unlink(held.guard)
        } else {
            match self.index.try_lock(si) {
                Some(mut g) => {
                    // A running snapshot gets the stripe before the victim leaves it.
                    if self.snapshot.is_active() {
                        self.snapshot_visit_locked(si, &mut g);
                    }
                    unlink(&mut g)
                }
                None => false,
            }
        }
    }
}
