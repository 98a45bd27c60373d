//! The persistence hook: a point-in-time walk of every live item without stopping writers.
//!
//! ```text
//!   begin (all stripe locks, once): epoch starts, every stripe "not yet visited",
//!                                   the logical db map is frozen
//!   any operation that locks stripe i:  if a snapshot runs and i is not visited,
//!        visit i first (hand its items to the sink, still under i's lock), mark it
//!   the snapshot thread:  lock i, visit if not visited, unlock; for i in 0..stripes
//! ```
//!
//! A stripe is visited exactly once, before anything can change it, so the walk sees
//! every stripe as it was when the snapshot began; extra memory is what the sink buffers,
//! not a copy of the data. A writer that touches an unvisited stripe pays for visiting it
//! (about 1/1024 of the data). Eviction and the crawler, which reach stripes with
//! `try_lock` under a class lock, visit the stripe before unlinking from it; an immediate
//! flush locks every stripe and visits the unvisited ones first; a delayed `flush_all`
//! that comes due during the walk is judged by the flush marks frozen at the start.
//!
//! With no snapshot running, the cost to every operation is one relaxed load and a branch
//! that is never taken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

use super::index::Stripe;
use super::items::Core;
use super::Current;

/// Receives the items of a snapshot. Called with a stripe lock held, from whichever thread
/// visits the stripe (the snapshot thread or any client's), so it must not call the store.
pub trait SnapshotSink: Send + Sync {
    /// One live item; `db` is the logical database at the snapshot's start.
    fn item(&self, db: u8, item: &Current<'_>);
}

/// The append-only file's view of changes, called under the locks that make the change, so
/// records land in the log in the order the changes happened (see `persist::aof_log`).
/// It must not call back into the store.
pub trait ChangeLog: Send + Sync {
    /// A collection write (`Store::modify`) changed `key`, with its stripe locked:
    /// `expiry` is the key's expiry after the change, `None` when the change deleted it.
    fn modified(&self, key: &[u8], expiry: Option<super::Expiry>);
    /// An immediate flush of logical `db` (`None`: all) took effect, every stripe locked.
    fn flushed(&self, db: Option<u8>);
    /// Logical databases `a` and `b` were swapped, every stripe locked.
    fn swapped(&self, a: u8, b: u8);
}

struct Running {
    sink: Arc<dyn SnapshotSink>,
    /// Set under stripe i's lock when stripe i has been handed to the sink.
    visited: Box<[AtomicBool]>,
    logical: [u8; 16],
    /// Each physical database's flush mark at the snapshot's start: an item a delayed
    /// `flush_all` invalidated after it is still saved (it was live at that time).
    flushed_below: [u64; 16],
}

/// Snapshot state of a store (one snapshot at a time).
#[derive(Default)]
pub struct Gate {
    active: AtomicBool,
    running: RwLock<Option<Arc<Running>>>,
    /// The change log, set once; `logging` says whether it wants changes now.
    log: OnceLock<Arc<dyn ChangeLog>>,
    logging: AtomicBool,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl Gate {
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Installs the change log (the first call wins) and turns it on or off.
    pub fn set_log(&self, log: Option<Arc<dyn ChangeLog>>, on: bool) {
        if let Some(l) = log {
            let _ = self.log.set(l);
        }
        self.logging
            .store(on && self.log.get().is_some(), Ordering::Release);
    }

    /// The change log when it is on (one relaxed load when it is off).
    #[inline]
    pub fn log(&self) -> Option<&dyn ChangeLog> {
        if !self.logging.load(Ordering::Relaxed) {
            return None;
        }
        self.log.get().map(|l| l.as_ref())
    }
}

impl Core {
    /// Hands stripe `i`'s items to a running snapshot unless it has them already. The
    /// caller holds stripe `i`'s lock (`guard`).
    #[cold]
    pub fn snapshot_visit_locked(&self, i: usize, guard: &mut Stripe) {
        let Some(run) = self.snapshot.running.read().clone() else {
            return;
        };
        if run.visited[i].load(Ordering::Relaxed) {
            return;
        }
        let now = self.clock.now();
        let chunks: Vec<_> = guard.chunks().collect();
        for chunk in chunks {
            let it = super::item::Item::new(&self.arena, chunk);
            let live = match self.dead(it, now) {
                None => true,
                Some(super::Miss::Flushed) => {
                    it.seq() > run.flushed_below[usize::from(it.db() & 0xf)]
                }
                Some(_) => false,
            };
            if live {
                let db = run.logical[usize::from(it.db())];
                run.sink.item(db, &Current::in_stripe(self, guard, chunk));
            }
        }
        run.visited[i].store(true, Ordering::Relaxed);
    }

    /// Visits every stripe not yet visited (before an operation that changes many at once).
    #[cold]
    pub fn snapshot_visit_all(&self) {
        for i in 0..self.index.stripe_count() {
            let mut guard = self.index.lock(i);
            self.snapshot_visit_locked(i, &mut guard);
        }
    }

    /// Runs `f` with every stripe locked after handing every stripe not yet visited to a
    /// running snapshot (a whole-keyspace change: flush, swap), then tells the change log
    /// through `log` while the stripes are still locked.
    pub fn keyspace_change(&self, f: impl FnOnce(), log: impl FnOnce(&dyn ChangeLog)) {
        let mut guards: Vec<_> = (0..self.index.stripe_count())
            .map(|i| self.index.lock(i))
            .collect();
        if self.snapshot.is_active() {
            for (i, g) in guards.iter_mut().enumerate() {
                self.snapshot_visit_locked(i, g);
            }
        }
        f();
        if let Some(l) = self.snapshot.log() {
            log(l);
        }
        drop(guards);
    }

    /// Runs a whole snapshot into `sink` from the calling thread; false if one is already
    /// running.
    pub fn snapshot(&self, sink: Arc<dyn SnapshotSink>) -> bool {
        self.snapshot_with(sink, &mut || {})
    }

    /// [`Core::snapshot`], calling `at_epoch` at the snapshot's point in time (every stripe
    /// locked): the AOF rewrite switches to its new file there, so each record is either
    /// in the new base or in the new file, never both.
    pub fn snapshot_with(&self, sink: Arc<dyn SnapshotSink>, at_epoch: &mut dyn FnMut()) -> bool {
        let stripes = self.index.stripe_count();
        {
            // The epoch: with every stripe locked no operation is half done.
            let guards: Vec<_> = (0..stripes).map(|i| self.index.lock(i)).collect();
            let mut running = self.snapshot.running.write();
            if running.is_some() {
                return false;
            }
            // A delayed flush already due takes effect before its mark is frozen.
            for p in 0..self.flush.len() {
                self.now(p as u8);
            }
            *running = Some(Arc::new(Running {
                sink,
                visited: (0..stripes).map(|_| AtomicBool::new(false)).collect(),
                logical: std::array::from_fn(|p| self.index.logical(p as u8)),
                flushed_below: std::array::from_fn(|p| self.flush[p].below.load(Ordering::Acquire)),
            }));
            self.snapshot.active.store(true, Ordering::Relaxed);
            drop(running);
            at_epoch();
            drop(guards);
        }
        self.snapshot_visit_all();
        self.snapshot.active.store(false, Ordering::Relaxed);
        *self.snapshot.running.write() = None;
        true
    }
}
