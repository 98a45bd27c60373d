//! The persistence hook: a point-in-time walk of every live item without stopping writers.
//!
//! ```text
//!   begin (all stripe locks, once): epoch starts (write sequence E), every stripe
//!        "not yet visited", the logical db map is frozen
//!   lock_key(key) on an unvisited stripe:  hand that key's item to the sink (once),
//!        remember its chunk as saved
//!   other operations that lock stripe i (rename, flush, eviction, crawler):
//!        visit i first: hand every item not yet saved to the sink, mark i visited
//!   the snapshot thread: for i in 0..stripes: lock i, list its chunks (sorted), then
//!        hand over at most WALK_SLICE of them per lock hold, unlocking between slices
//!        (the sink works or pauses there, no lock held); i is visited when the list is done
//! ```
//!
//! A visit skips items written after the epoch (write sequence above E: every new or
//! rewritten item takes its sequence under its stripe's lock) and items already handed
//! over by `lock_key`, so each key is saved exactly once, as it was when the snapshot
//! began: before anything can change an item of an unvisited stripe, either its stripe
//! was visited or the operation's `lock_key` saved it. A client therefore pays for one
//! item, never a whole stripe; extra memory is what the sink buffers, not a copy of the
//! data set. The sink is called under stripe locks and must only copy;
//! [`SnapshotSink::between`] (the snapshot thread, no lock held) is where it encodes.
//!
//! The walk holds a stripe lock for at most [`WALK_SLICE`] items at a time (a worker that
//! wants the stripe waits for one slice, tens of microseconds, not a whole stripe's
//! copy). Between slices nothing in the stripe's list can change unseen: an operation
//! either saves its key first (`lock_key`, which also skips items the walk already handed
//! over) or visits what is left of the stripe, skipping the walk's part.
//!
//! With no snapshot running, the cost to every operation is one relaxed load and a branch
//! that is never taken.
//!
//! One snapshot at a time: a second one (SAVE or FLUSHALL's save on a worker while a
//! rewrite walks) waits for the first before it locks any stripe. A sink that reports
//! [`SnapshotSink::stopped`] (an aborted save) ends the walk at its next slice.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::{Mutex, RwLock};

use super::arena::ChunkId;
use super::index::Stripe;
use super::items::Core;
use super::Current;

/// Receives the items of a snapshot. Called with a stripe lock held, from whichever thread
/// visits the stripe (the snapshot thread or any client's), so it must not call the store.
pub trait SnapshotSink: Send + Sync {
    /// One live item; `db` is the logical database at the snapshot's start. Called with a
    /// stripe lock held (a client may be waiting for it): copy, do not encode or write.
    fn item(&self, db: u8, item: &Current<'_>);
    /// [`SnapshotSink::item`] from the snapshot thread's own walk (no other thread calls
    /// it, so the sink may keep these in a buffer no client ever waits for).
    fn walked(&self, db: u8, item: &Current<'_>) {
        self.item(db, item)
    }
    /// Called by the snapshot thread between slices of its walk (at most [`WALK_SLICE`]
    /// items) with no lock held: hand over, encode or pause here.
    fn between(&self) {}
    /// The items are no longer wanted (the save was aborted or its file failed): the walk
    /// ends at its next slice. Asked between slices, no lock held.
    fn stopped(&self) -> bool {
        false
    }
}

/// Items the snapshot thread copies per stripe lock hold.
pub const WALK_SLICE: usize = 128;

/// The stripe the walk is part-way through: its chunks when the walk began it, sorted, and
/// how many of them the walk has handed over.
#[derive(Default)]
struct Partial {
    chunks: Vec<ChunkId>,
    done: usize,
}

impl Partial {
    /// Whether the walk already handed `chunk` over.
    fn walked(&self, chunk: ChunkId) -> bool {
        self.chunks[..self.done].binary_search(&chunk).is_ok()
    }
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
    /// Per stripe (used under its lock): chunks `lock_key` already handed to the sink.
    saved: Box<[Mutex<Vec<ChunkId>>]>,
    /// The stripe in [`Running::partial`] (`usize::MAX`: none); changed only under that
    /// stripe's lock, so a thread holding stripe i's lock reads a stable answer for i.
    partial_stripe: AtomicUsize,
    /// Used under the lock of stripe `partial_stripe`.
    partial: Mutex<Partial>,
    /// The write sequence at the epoch: items above it were written after it.
    epoch_seq: u64,
    logical: [u8; 16],
    /// Each physical database's flush mark at the snapshot's start: an item a delayed
    /// `flush_all` invalidated after it is still saved (it was live at that time).
    flushed_below: [u64; 16],
}

/// Snapshot state of a store (one snapshot at a time).
#[derive(Default)]
pub struct Gate {
    /// Held for a whole snapshot, taken before any stripe lock: a second snapshot (SAVE or
    /// FLUSHALL's save on a worker beside a rewrite or BGSAVE) waits for the first to end.
    /// Lock order: this → stripe locks → `running`.
    one_at_a_time: Mutex<()>,
    /// How long the last snapshot held every stripe at its start (µs), and how many
    /// snapshots began: INFO's `latest_fork_usec` and `total_forks`, the pause Redis's
    /// fork costs.
    epoch_us: AtomicU64,
    epochs: AtomicU64,
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

    /// (µs every stripe was locked at the last snapshot's start, snapshots begun).
    pub fn epoch_pause(&self) -> (u64, u64) {
        (
            self.epoch_us.load(Ordering::Relaxed),
            self.epochs.load(Ordering::Relaxed),
        )
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
    /// Whether `it` belongs in the running snapshot `run`: present at its start and not
    /// flushed by then. An expired item not yet removed is saved too, with its past expiry,
    /// as Redis's fork writes every key its dictionary still holds (a loader drops it and
    /// counts it in `rdb_last_load_keys_expired`).
    fn snapshot_wants(&self, run: &Running, it: super::item::Item<'_>, now: u32) -> bool {
        if it.seq() > run.epoch_seq {
            return false;
        }
        match self.dead(it, now) {
            None => true,
            Some(super::Miss::Flushed | super::Miss::Expired) => {
                it.seq() > run.flushed_below[usize::from(it.db() & 0xf)]
            }
            Some(super::Miss::Absent) => false,
        }
    }

    /// Hands stripe `i`'s items to a running snapshot unless it has them already. The
    /// caller holds stripe `i`'s lock (`guard`).
    #[cold]
    pub fn snapshot_visit_locked(&self, i: usize, guard: &mut Stripe) {
        self.snapshot_visit(i, guard)
    }

    /// [`Core::snapshot_visit_locked`] (never the walk's own stripe visits: those go by
    /// slices, [`Core::snapshot_walk_stripe`]).
    fn snapshot_visit(&self, i: usize, guard: &mut Stripe) {
        let Some(run) = self.snapshot.running.read().clone() else {
            return;
        };
        if run.visited[i].load(Ordering::Relaxed) {
            return;
        }
        let now = self.clock.now();
        let mut saved = std::mem::take(&mut *run.saved[i].lock());
        saved.sort_unstable();
        let partial = (run.partial_stripe.load(Ordering::Relaxed) == i).then(|| run.partial.lock());
        let chunks: Vec<_> = guard.chunks().collect();
        for chunk in chunks {
            let it = super::item::Item::new(&self.arena, chunk);
            if self.snapshot_wants(&run, it, now)
                && saved.binary_search(&chunk).is_err()
                && !partial.as_ref().is_some_and(|p| p.walked(chunk))
            {
                let db = run.logical[usize::from(it.db())];
                run.sink.item(db, &Current::in_stripe(self, guard, chunk));
            }
        }
        run.visited[i].store(true, Ordering::Relaxed);
    }

    /// The snapshot thread's visit of stripe `i`: lists its chunks once, then hands them
    /// over [`WALK_SLICE`] at a time, taking the stripe lock for each slice and calling
    /// [`SnapshotSink::between`] after each with no lock held.
    fn snapshot_walk_stripe(&self, run: &Running, i: usize) {
        let mut chunks: Vec<ChunkId> = {
            let guard = self.index.lock(i);
            if run.visited[i].load(Ordering::Relaxed) {
                return;
            }
            guard.chunks().collect()
        };
        // Sorted outside the lock: the list is the stripe's items at the time it was
        // taken, and nothing in it changes unseen while the stripe is not visited.
        chunks.sort_unstable();
        *run.partial.lock() = Partial { chunks, done: 0 };
        loop {
            let mut guard = self.index.lock(i);
            if run.visited[i].load(Ordering::Relaxed) {
                // Another thread visited the rest (skipping the walk's part).
                run.partial_stripe.store(usize::MAX, Ordering::Relaxed);
                break;
            }
            run.partial_stripe.store(i, Ordering::Relaxed);
            let now = self.clock.now();
            let mut saved = run.saved[i].lock();
            saved.sort_unstable();
            let mut partial = run.partial.lock();
            let (from, to) = (
                partial.done,
                (partial.done + WALK_SLICE).min(partial.chunks.len()),
            );
            for &chunk in &partial.chunks[from..to] {
                let it = super::item::Item::new(&self.arena, chunk);
                if self.snapshot_wants(run, it, now) && saved.binary_search(&chunk).is_err() {
                    let db = run.logical[usize::from(it.db())];
                    run.sink
                        .walked(db, &Current::in_stripe(self, &mut guard, chunk));
                }
            }
            partial.done = to;
            let finished = to == partial.chunks.len();
            if finished {
                run.visited[i].store(true, Ordering::Relaxed);
                run.partial_stripe.store(usize::MAX, Ordering::Relaxed);
            }
            drop((partial, saved, guard));
            run.sink.between();
            if finished || run.sink.stopped() {
                break;
            }
        }
    }

    /// Hands the item of (physical `db`, `key`) in stripe `i` to a running snapshot before
    /// an operation under the key's lock may change it (`lock_key`). The caller holds
    /// stripe `i`'s lock.
    #[cold]
    pub fn snapshot_save_key(&self, i: usize, guard: &mut Stripe, hash: u64, db: u8, key: &[u8]) {
        let Some(run) = self.snapshot.running.read().clone() else {
            return;
        };
        if run.visited[i].load(Ordering::Relaxed) {
            return;
        }
        let Some(chunk) = guard.find(&self.arena, hash, db, key) else {
            return;
        };
        let it = super::item::Item::new(&self.arena, chunk);
        if !self.snapshot_wants(&run, it, self.clock.now()) {
            return;
        }
        if run.partial_stripe.load(Ordering::Relaxed) == i && run.partial.lock().walked(chunk) {
            return;
        }
        let mut saved = run.saved[i].lock();
        if saved.contains(&chunk) {
            return;
        }
        saved.push(chunk);
        drop(saved);
        let logical = run.logical[usize::from(it.db())];
        run.sink
            .item(logical, &Current::in_stripe(self, guard, chunk));
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

    /// Runs a whole snapshot into `sink` from the calling thread, after the one running
    /// (if any) has ended.
    pub fn snapshot(&self, sink: Arc<dyn SnapshotSink>) {
        self.snapshot_with(sink, &mut || {})
    }

    /// [`Core::snapshot`], calling `at_epoch` at the snapshot's point in time (every stripe
    /// locked): the AOF rewrite switches to its new file there, so each record is either
    /// in the new base or in the new file, never both.
    pub fn snapshot_with(&self, sink: Arc<dyn SnapshotSink>, at_epoch: &mut dyn FnMut()) {
        let stripes = self.index.stripe_count();
        // Waits for a running snapshot with no stripe locked: its walk needs them.
        let _one = self.snapshot.one_at_a_time.lock();
        // Everything that allocates is made before the epoch: clients wait for it.
        let mut run = Arc::new(Running {
            sink,
            visited: (0..stripes).map(|_| AtomicBool::new(false)).collect(),
            saved: (0..stripes).map(|_| Mutex::new(Vec::new())).collect(),
            partial_stripe: AtomicUsize::new(usize::MAX),
            partial: Mutex::new(Partial::default()),
            epoch_seq: 0,
            logical: [0; 16],
            flushed_below: [0; 16],
        });
        let mut guards = Vec::with_capacity(stripes);
        let began = std::time::Instant::now();
        {
            // The epoch: with every stripe locked no operation is half done.
            guards.extend((0..stripes).map(|i| self.index.lock(i)));
            let mut running = self.snapshot.running.write();
            // A delayed flush already due takes effect before its mark is frozen.
            for p in 0..self.flush.len() {
                self.now(p as u8);
            }
            let fresh = Arc::get_mut(&mut run).expect("not shared yet");
            fresh.epoch_seq = self.write_seq();
            fresh.logical = std::array::from_fn(|p| self.index.logical(p as u8));
            fresh.flushed_below =
                std::array::from_fn(|p| self.flush[p].below.load(Ordering::Acquire));
            *running = Some(run.clone());
            self.snapshot.active.store(true, Ordering::Relaxed);
            drop(running);
            at_epoch();
            guards.clear();
        }
        self.snapshot.epoch_us.store(
            began.elapsed().as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
        self.snapshot.epochs.fetch_add(1, Ordering::Relaxed);
        drop(guards);
        // The walk has its own `run`, not a read guard of `running`: a guard held through
        // the walk (which locks stripes) would wait for a thread that holds stripes and
        // waits to write `running`.
        for i in 0..stripes {
            if run.sink.stopped() {
                break;
            }
            self.snapshot_walk_stripe(&run, i);
        }
        self.snapshot.active.store(false, Ordering::Relaxed);
        *self.snapshot.running.write() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Clock, Delete, Expiry, Mode, Store, StoreConfig, Write};

    /// Key, value and expiry (Unix ms) of a saved item.
    type Saved = (Vec<u8>, Vec<u8>, Option<u64>);

    /// Collects what a snapshot hands over; on its first stop between stripes it rewrites,
    /// deletes, re-expires and creates keys (all in stripes not yet visited, mostly).
    struct Recorder {
        store: Arc<Store>,
        keys: Vec<String>,
        got: Mutex<Vec<Saved>>,
        changed: AtomicBool,
        /// Also flush everything after the changes (a visit of every stripe left, the
        /// walk's part-done one included).
        flush: bool,
    }

    impl SnapshotSink for Recorder {
        fn item(&self, _db: u8, item: &Current<'_>) {
            let value = item.bytes().expect("a string").into_owned();
            self.got
                .lock()
                .push((item.key().to_vec(), value, item.expiry().unix_ms()));
        }

        fn between(&self) {
            if self.changed.swap(true, Ordering::Relaxed) {
                return;
            }
            let s = &self.store;
            for (i, key) in self.keys.iter().enumerate() {
                match i % 4 {
                    0 => {
                        let w = Write::new(0, key.as_bytes(), b"new", 0, Expiry::Never, Mode::Set);
                        s.store(&w);
                        s.store(&w);
                    }
                    1 => {
                        s.delete(&Delete {
                            db: 0,
                            key: key.as_bytes(),
                            compare_cas: None,
                            invalidate: None,
                            drop_value: false,
                        });
                    }
                    2 => {
                        s.touch(0, key.as_bytes(), Expiry::AtMs(4_000_000_000_000));
                    }
                    _ => {}
                }
            }
            for i in 0..100 {
                let key = format!("n{i}");
                s.store(&Write::new(
                    0,
                    key.as_bytes(),
                    b"x",
                    0,
                    Expiry::Never,
                    Mode::Set,
                ));
            }
            if self.flush {
                s.flush_eager(None);
            }
        }
    }

    const KEYS: usize = 3000;

    /// Stores `keys` (value `old<i>`), snapshots with a [`Recorder`] and checks that the
    /// snapshot holds each key once with its value and expiry from the start.
    fn snapshot_of(keys: impl FnOnce(&Store) -> Vec<String>, flush: bool) {
        let config = StoreConfig {
            memory_limit: 64 << 20,
            ..StoreConfig::default()
        };
        let store = Arc::new(Store::new(config, Arc::new(Clock::manual(1_700_000_000))).unwrap());
        let keys = keys(&store);
        for (i, key) in keys.iter().enumerate() {
            let value = format!("old{i}");
            let w = Write::new(
                0,
                key.as_bytes(),
                value.as_bytes(),
                0,
                Expiry::Never,
                Mode::Set,
            );
            store.store(&w);
        }
        let rec = Arc::new(Recorder {
            store: store.clone(),
            keys: keys.clone(),
            got: Mutex::new(Vec::new()),
            changed: AtomicBool::new(false),
            flush,
        });
        store.snapshot(rec.clone());
        assert!(rec.changed.load(Ordering::Relaxed));
        let mut got = std::mem::take(&mut *rec.got.lock());
        got.sort();
        let mut want: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone().into_bytes(), format!("old{i}").into_bytes(), None))
            .collect();
        want.sort();
        assert_eq!(got.len(), want.len());
        assert_eq!(got, want);
    }

    #[test]
    fn a_snapshot_holds_every_key_once_as_it_was_at_its_start() {
        snapshot_of(|_| (0..KEYS).map(|i| format!("k{i}")).collect(), false);
    }

    /// Keys that all fall in stripe 0 of `store`, several walk slices of them.
    fn one_stripe_keys(store: &Store) -> Vec<String> {
        let index = &store.core.index;
        (0..)
            .map(|i| format!("s{i}"))
            .filter(|k| index.stripe_of(index.key_hash(k.as_bytes())) == 0)
            .take(3 * WALK_SLICE + 17)
            .collect()
    }

    /// The walk stops after its first slice of stripe 0 (the recorder's changes come
    /// then): rewrites, deletes and expiry changes reach items it already handed over and
    /// items it has not, and each is saved once, as it was.
    #[test]
    fn changes_between_slices_of_a_stripe_save_each_item_once() {
        snapshot_of(one_stripe_keys, false);
    }

    /// As above, then a flush visits the rest of the part-walked stripe.
    #[test]
    fn a_visit_of_a_part_walked_stripe_skips_the_walks_part() {
        snapshot_of(one_stripe_keys, true);
    }

    /// Counts items; its first pause between slices lets a second snapshot start (and
    /// waits a little for it to reach the stripes), and it may stop the walk there.
    struct Pauser {
        items: std::sync::atomic::AtomicUsize,
        started: Mutex<Option<std::sync::mpsc::Sender<()>>>,
        stop_at_first_pause: bool,
        paused: AtomicBool,
    }

    impl Pauser {
        fn new(started: Option<std::sync::mpsc::Sender<()>>, stop: bool) -> Arc<Pauser> {
            Arc::new(Pauser {
                items: Default::default(),
                started: Mutex::new(started),
                stop_at_first_pause: stop,
                paused: AtomicBool::new(false),
            })
        }
    }

    impl SnapshotSink for Pauser {
        fn item(&self, _db: u8, _item: &Current<'_>) {
            self.items.fetch_add(1, Ordering::Relaxed);
        }

        fn between(&self) {
            self.paused.store(true, Ordering::Relaxed);
            if let Some(tx) = self.started.lock().take() {
                let _ = tx.send(());
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }

        fn stopped(&self) -> bool {
            self.stop_at_first_pause && self.paused.load(Ordering::Relaxed)
        }
    }

    fn store_of(keys: usize) -> Arc<Store> {
        let config = StoreConfig {
            memory_limit: 64 << 20,
            ..StoreConfig::default()
        };
        let store = Arc::new(Store::new(config, Arc::new(Clock::manual(1_700_000_000))).unwrap());
        for i in 0..keys {
            let key = format!("k{i}");
            store.store(&Write::new(
                0,
                key.as_bytes(),
                b"v",
                0,
                Expiry::Never,
                Mode::Set,
            ));
        }
        store
    }

    /// A snapshot that starts while another walks (FLUSHALL's save on a worker beside a
    /// BGREWRITEAOF: Redis's unit/aofrw hung on it) waits for the first to end, and both
    /// hold every key. It used to lock every stripe and then wait for the walk, which held
    /// the running snapshot's read lock and waited for a stripe: both stopped for good.
    #[test]
    fn a_second_snapshot_waits_for_the_first() {
        let store = store_of(KEYS);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let first = Pauser::new(Some(started_tx), false);
        let second = Pauser::new(None, false);
        {
            let (store, first, done_tx) = (store.clone(), first.clone(), done_tx.clone());
            std::thread::spawn(move || {
                store.snapshot(first);
                let _ = done_tx.send(1);
            });
        }
        started_rx.recv().unwrap();
        {
            let (store, second) = (store.clone(), second.clone());
            std::thread::spawn(move || {
                store.snapshot(second);
                let _ = done_tx.send(2);
            });
        }
        // Generous: both take milliseconds; a deadlock never ends.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut ended = [(); 2].map(|_| {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            done_rx.recv_timeout(left).ok()
        });
        ended.sort();
        assert_eq!(ended, [Some(1), Some(2)], "the snapshots deadlocked");
        assert_eq!(first.items.load(Ordering::Relaxed), KEYS);
        assert_eq!(second.items.load(Ordering::Relaxed), KEYS);
    }

    /// A sink that says it stopped ends the walk at its next slice.
    #[test]
    fn a_stopped_sink_ends_the_walk() {
        let store = store_of(KEYS);
        let sink = Pauser::new(None, true);
        store.snapshot(sink.clone());
        let n = sink.items.load(Ordering::Relaxed);
        assert!(n > 0 && n <= WALK_SLICE, "{n} items walked");
        // The store is usable and the next snapshot whole.
        let whole = Pauser::new(None, false);
        store.snapshot(whole.clone());
        assert_eq!(whole.items.load(Ordering::Relaxed), KEYS);
    }
}
