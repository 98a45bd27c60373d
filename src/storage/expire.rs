//! Active expiry: expired (and flushed) items are reclaimed in the background, without
//! waiting for a read or for their class to need the chunk.
//!
//! The server calls [`Core::expire_cycle`] every [`EXPIRE_PERIOD`] (100 ms). A cycle walks
//! the slab classes' chunks in page order from each class's crawl cursor, in batches of
//! [`BATCH`] slots under the class lock (so an allocation in that class waits at most one
//! batch, about ten microseconds), reaching the items' stripes with `try_lock` as the
//! eviction hand does. This is memcached's LRU crawler made incremental and adaptive in
//! Redis's way:
//!
//! * a cycle has a time budget of [`FAST_BUDGET`] (2 % of a core); when the last cycles
//!   found at least [`STALE_ENOUGH`] of the items they checked expired, it takes up to
//!   [`SLOW_BUDGET`] (25 %, Redis's `ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC`);
//! * within a cycle, a class whose batch was mostly live is left for the next cycle, so
//!   the budget goes where expired items are; every class gets at least one batch a cycle.
//!
//! Walking chunks rather than sampling keys costs a few loads per chunk (no hashing) and
//! visits every item in a bounded time: at 10 cycles a second and a batch per class, a
//! class of N chunks is walked once every N / 2,560 seconds even when nothing expires, and
//! a class full of expired items is emptied at the slow budget's pace (measured in
//! docs/benchmarks.md: 1,000,000 keys of 1-10 s TTLs are reclaimed within 2x the longest
//! TTL).
//!
//! Background reclaims count as memcached's `reclaimed` (per class: memcached's LRU
//! maintainer reclaims expired items at its LRU tails before its crawler reaches them, so
//! that is where memcached 1.6.18 counts items that expire untouched), an explicit
//! `lru_crawler crawl` as `crawler_reclaimed` and `crawler_items_checked`; expired (not
//! flushed) items also count as Redis's `expired_keys`; `expired_stale_perc` is the running share of
//! expired items among those checked, smoothed as Redis smooths it.

use super::arena::ChunkId;
use super::item::{Item, FETCHED, LINKED, TAIL};
use super::items::Core;
use super::Miss;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often the server runs an expiry cycle.
pub const EXPIRE_PERIOD: Duration = Duration::from_millis(100);

/// Slots the crawler pass of `maintain` examines per class.
pub(super) const CRAWL_SLOTS: usize = 20_480;

/// Slots examined per class-lock hold.
const BATCH: usize = 256;

/// A cycle's time when little is expiring (2 % of a core at 10 cycles a second).
const FAST_BUDGET: Duration = Duration::from_millis(2);

/// A cycle's time when many items are expired (25 %, as Redis).
const SLOW_BUDGET: Duration = Duration::from_millis(25);

/// Share of expired items in a batch (per mille) above which a cycle stays on that class,
/// and in the smoothed stale figure above which cycles take the slow budget (Redis's 10 %).
const STALE_ENOUGH: u64 = 100;

/// What one batch found.
#[derive(Default)]
struct Batch {
    /// Slots walked (free ones included).
    walked: u64,
    /// Linked items examined.
    checked: u64,
    /// Of those, reclaimed because they expired.
    expired: u64,
    /// Reclaimed because they expired or were flushed.
    dead: u64,
}

impl Batch {
    /// Whether to keep walking its class this cycle: enough of the batch was dead, or the
    /// batch was all free chunks (what an earlier pass reclaimed says nothing of the rest).
    fn keep_going(&self) -> bool {
        if self.checked == 0 {
            return self.walked > 0;
        }
        self.dead * 1000 >= self.checked * STALE_ENOUGH
    }
}

impl Core {
    /// One active-expiry cycle, bounded by its time budget (see the module doc).
    pub fn expire_cycle(&self) {
        for db in 0..16 {
            // A delayed flush_all that came due takes effect, so its items are found.
            self.now(db);
        }
        let stale = self.counters.stale_permille.load(Ordering::Relaxed);
        let budget = if stale >= STALE_ENOUGH {
            SLOW_BUDGET
        } else {
            FAST_BUDGET
        };
        let started = Instant::now();
        let mut total = Batch::default();
        let classes = self.classes.len();
        let first = self.expire_cursor.fetch_add(1, Ordering::Relaxed) % classes.max(1);
        // One batch per class first, then more where batches are mostly expired.
        // (class, slots it may still walk this cycle: one pass at most).
        let mut busy: Vec<(usize, u64)> = Vec::new();
        for k in 0..classes {
            let ci = (first + k) % classes;
            if self.classes[ci].items.load(Ordering::Relaxed) == 0 {
                // Nothing linked (flushed items stay linked until reclaimed): no lock, no
                // walk over free chunks.
                continue;
            }
            let b = self.expire_batch(ci, false, BATCH);
            let slots = {
                let class = &self.classes[ci];
                class.carved_slots(&class.state.lock()) as u64
            };
            if b.keep_going() && slots > b.walked {
                busy.push((ci, slots - b.walked));
            }
            total.checked += b.checked;
            total.expired += b.expired;
            if started.elapsed() >= budget {
                break;
            }
        }
        while !busy.is_empty() && started.elapsed() < budget {
            busy.retain_mut(|(ci, left)| {
                let b = self.expire_batch(*ci, false, usize::try_from(*left).unwrap_or(BATCH));
                total.checked += b.checked;
                total.expired += b.expired;
                *left = left.saturating_sub(b.walked);
                b.keep_going() && *left > 0
            });
        }
        if let Some(current) = (total.expired * 1000).checked_div(total.checked) {
            // Redis: stale = current * 0.05 + stale * 0.95 (rounded, so it can reach 0).
            let smoothed = (current * 5 + stale * 95 + 50) / 100;
            self.counters
                .stale_permille
                .store(smoothed, Ordering::Relaxed);
        }
    }

    /// Examines the next [`BATCH`] slots (at most `limit`) of class `ci` and reclaims the
    /// dead items there, counted as the LRU crawler's when `by_crawler`.
    fn expire_batch(&self, ci: usize, by_crawler: bool, limit: usize) -> Batch {
        let class = &self.classes[ci];
        let now = self.clock.now();
        // CLIENT PAUSE holds expiry: expired items stay (flushed ones still go).
        let held = self.expiry_held();
        let mut found = Batch::default();
        let mut tails: Vec<ChunkId> = Vec::new();
        {
            let mut st = class.state.lock();
            let slots = class.carved_slots(&st);
            if slots == 0 {
                return found;
            }
            for _ in 0..BATCH.min(slots).min(limit) {
                let slot = st.crawl % slots;
                st.crawl = slot + 1;
                found.walked += 1;
                let chunk = class.slot_chunk(&st, self.config.page_size, slot);
                let it = Item::new(&self.arena, chunk);
                let bits = it.bits();
                if bits & LINKED == 0 || bits & TAIL != 0 {
                    continue;
                }
                found.checked += 1;
                let Some(why) = self.dead(it, now) else {
                    continue;
                };
                if why == Miss::Expired && held {
                    continue;
                }
                if !self.unlink_victim(it, None) {
                    continue;
                }
                if by_crawler {
                    st.crawler_reclaimed += 1;
                } else {
                    st.reclaimed += 1;
                }
                found.dead += 1;
                if why == Miss::Expired {
                    self.observers
                        .report(super::Removal::Expired, it.db(), it.key());
                    found.expired += 1;
                    if bits & FETCHED == 0 {
                        st.expired_unfetched += 1;
                    }
                }
                it.tails(&mut tails);
                it.mark_free();
                st.free.push(chunk);
            }
        }
        if by_crawler {
            self.counters
                .crawler_items_checked
                .fetch_add(found.checked, Ordering::Relaxed);
        }
        self.counters
            .expired
            .fetch_add(found.expired, Ordering::Relaxed);
        for t in tails {
            self.free_chunk(t);
        }
        found
    }

    /// memcached's LRU crawler pass (`maintain`, and `lru_crawler crawl` with `by_crawler`):
    /// up to [`CRAWL_SLOTS`] slots of every class, a batch per class-lock hold, and one
    /// pass at most (a class smaller than that is walked once, not again and again from
    /// its start; each item is checked once).
    pub fn crawl(&self, by_crawler: bool) {
        self.crawl_up_to(by_crawler, CRAWL_SLOTS);
    }

    /// [`Core::crawl`] over up to `most` slots of every class (`usize::MAX`: all of them).
    pub fn crawl_up_to(&self, by_crawler: bool, most: usize) {
        for db in 0..16 {
            self.now(db);
        }
        for (ci, class) in self.classes.iter().enumerate() {
            let slots = class.carved_slots(&class.state.lock()).min(most);
            let mut walked = 0;
            while walked < slots {
                let b = self.expire_batch(ci, by_crawler, slots - walked);
                if b.walked == 0 {
                    break;
                }
                walked += usize::try_from(b.walked).unwrap_or(slots);
            }
        }
    }

    /// Redis's `expired_stale_perc`: the smoothed share of expired items among those the
    /// expiry cycles checked, in percent.
    pub fn expired_stale_perc(&self) -> f64 {
        self.counters.stale_permille.load(Ordering::Relaxed) as f64 / 10.0
    }
}
