//! flush_all and FLUSHDB/FLUSHALL (immediate, delayed, eager), SWAPDB and the per-database
//! key counts: the operations that touch every stripe.

use std::sync::atomic::Ordering;

use super::index::table_hash;
use super::item::Item;
use super::items::{Core, FlushState};
use super::Miss;

impl Core {
    pub fn flush(&self, db: Option<u8>, delay: u32) {
        if delay == 0 {
            // Every stripe locked: the flush falls between two operations on any key, a
            // running snapshot has what it removes, and the AOF records it in its place.
            self.keyspace_change(|| self.flush_marks(db, 0), |log| log.flushed(db));
            return;
        }
        if self.snapshot.is_active() {
            self.snapshot_visit_all();
        }
        self.apply_due_flushes();
        // The db map is read and the flush recorded under a stripe lock, so that a
        // concurrent swap_db is wholly before or after it.
        let guard = self.index.lock(0);
        self.flush_marks(db, delay);
        drop(guard);
    }

    /// Makes each delayed flush that has come due take effect with every stripe locked and
    /// tells the change log (FLUSHDB of its database), so that the AOF has it between the
    /// writes before and after it. While the change log is on, only this does it (the
    /// persistence thread calls it every 10 ms); otherwise the first `now` after the time.
    pub fn apply_due_flushes(&self) {
        let now = self.clock.now();
        let due = |f: &FlushState| {
            let at = f.pending_at.load(Ordering::Acquire);
            at != 0 && now >= at
        };
        if !self.flush.iter().any(due) {
            return;
        }
        let applied = std::cell::Cell::new(0u32);
        self.keyspace_change(
            || {
                for (p, f) in self.flush.iter().enumerate() {
                    let at = f.pending_at.load(Ordering::Acquire);
                    if at != 0 && now >= at {
                        f.pending_at.store(0, Ordering::Release);
                        self.flush_below_now(f);
                        applied.set(applied.get() | 1 << p);
                    }
                }
            },
            |log| {
                for p in (0..self.flush.len()).filter(|p| applied.get() & 1 << p != 0) {
                    log.flushed(Some(self.index.logical(p as u8)));
                }
            },
        );
    }

    /// The body of [`Core::flush`]; the caller holds at least one stripe lock.
    fn flush_marks(&self, db: Option<u8>, delay: u32) {
        let dbs = match db {
            Some(d) => {
                let p = usize::from(self.index.physical(d));
                p..p + 1
            }
            None => 0..self.flush.len(),
        };
        let now = self.clock.now();
        for db in dbs.clone() {
            // A delayed flush that came due takes effect before it is replaced.
            self.now(db as u8);
        }
        for f in &self.flush[dbs] {
            if delay == 0 {
                f.pending_at.store(0, Ordering::Release);
                self.flush_below_now(f);
            } else {
                f.pending_at
                    .store(now.saturating_add(delay), Ordering::Release);
            }
        }
    }

    /// An immediate flush that also unlinks the flushed items at once, stripe by stripe,
    /// so that key counts drop to zero (Redis FLUSHDB/FLUSHALL). A memcached `flush_all`
    /// stays lazy, as memcached's is: its items are reclaimed when touched or crawled and
    /// count as `get_flushed` when asked for.
    pub fn flush_eager(&self, db: Option<u8>) {
        self.flush(db, 0);
        let now = self.clock.now();
        let mut dead = Vec::new();
        for i in 0..self.index.stripe_count() {
            let mut s = self.index.lock(i);
            dead.extend(
                s.chunks()
                    .filter(|&c| self.dead(Item::new(&self.arena, c), now) == Some(Miss::Flushed)),
            );
            for chunk in dead.drain(..) {
                let it = Item::new(&self.arena, chunk);
                let hash = table_hash(self.index.key_hash(it.key()), it.db());
                self.unlink_locked(&mut s, hash, chunk);
            }
        }
    }

    /// Swaps logical databases `a` and `b` (Redis SWAPDB).
    pub fn swap_db(&self, a: u8, b: u8) {
        self.keyspace_change(|| self.index.swap_locked(a, b), |log| log.swapped(a, b));
    }

    pub fn db_len(&self, db: u8) -> u64 {
        // Every stripe must count the same physical db: a swap in between starts over.
        'walk: loop {
            let mut physical = None;
            let mut n = 0;
            for i in 0..self.index.stripe_count() {
                let s = self.index.lock(i);
                let p = self.index.physical(db);
                if *physical.get_or_insert(p) != p {
                    continue 'walk;
                }
                n += s.db_len(p);
            }
            return n;
        }
    }
}
