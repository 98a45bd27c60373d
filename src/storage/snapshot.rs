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
//! (about 1/1024 of the data). Not covered: items that eviction or the crawler remove from
//! an unvisited stripe (they reach stripes with `try_lock` under a class lock), and lazy
//! `flush_all` (items it invalidates are skipped when their stripe is visited later).
//!
//! With no snapshot running, the cost to every operation is one relaxed load and a branch
//! that is never taken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

struct Running {
    sink: Arc<dyn SnapshotSink>,
    /// Set under stripe i's lock when stripe i has been handed to the sink.
    visited: Box<[AtomicBool]>,
    logical: [u8; 16],
}

/// Snapshot state of a store (one snapshot at a time).
#[derive(Default)]
pub struct Gate {
    active: AtomicBool,
    running: RwLock<Option<Arc<Running>>>,
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
            if self.dead(it, now).is_none() {
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

    /// Runs a whole snapshot into `sink` from the calling thread; false if one is already
    /// running.
    pub fn snapshot(&self, sink: Arc<dyn SnapshotSink>) -> bool {
        let stripes = self.index.stripe_count();
        {
            // The epoch: with every stripe locked no operation is half done.
            let guards: Vec<_> = (0..stripes).map(|i| self.index.lock(i)).collect();
            let mut running = self.snapshot.running.write();
            if running.is_some() {
                return false;
            }
            *running = Some(Arc::new(Running {
                sink,
                visited: (0..stripes).map(|_| AtomicBool::new(false)).collect(),
                logical: std::array::from_fn(|p| self.index.logical(p as u8)),
            }));
            self.snapshot.active.store(true, Ordering::Relaxed);
            drop(running);
            drop(guards);
        }
        self.snapshot_visit_all();
        self.snapshot.active.store(false, Ordering::Relaxed);
        *self.snapshot.running.write() = None;
        true
    }
}
