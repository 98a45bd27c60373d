//! The atomicity gate: how EXEC, scripts and functions run with no other client's command
//! in between, on any worker and either protocol, while plain commands pay one uncontended
//! lock per event-loop turn.
//!
//! ```text
//!  worker 0 ── turn: lock gate[0] ─ serve its ready connections ─ unlock ─ poll ─ …
//!  worker 1 ── turn: lock gate[1] ─ serve … ─ unlock ─ poll ─ …
//!
//!  EXEC on worker 1:  unlock gate[1] → lock `exclusive` → lock gate[0], gate[1], … in
//!                     index order → run the queue → unlock every gate → unlock
//!                     `exclusive` → lock gate[1] again, finish the turn
//! ```
//!
//! Each gate is a `parking_lot::Mutex` on its own cache line, touched only by its worker
//! (uncontended: one compare-and-swap to take, one to give back) except while an
//! exclusive section waits for it.
//!
//! **Socket I/O runs outside the gate.** A worker gives its gate back before it reads or
//! writes a socket ([`Gates::pause`]) and takes it again when it next runs a request
//! ([`Gates::resume`], at the start of `commands::process`). An exclusive section so
//! waits for at most the request another worker is running, not for its whole turn of
//! system calls, and while one worker runs a script the others still move bytes. Only while
//! a section is waiting or running ([`Gates::pause`] reads a count of them): with none, the
//! worker keeps its gate through the I/O, and a plain request costs no lock at all beyond
//! the turn's one (a section that starts meanwhile waits for the worker's next I/O or the
//! end of its turn). Lock order: `exclusive` → gates in index order → the
//! store's own locks. A worker never waits for `exclusive` while holding its gate, so the
//! holder of `exclusive` always gets every gate once the turns in progress end.
//!
//! **Busy scripts.** A script that runs longer than `busy-reply-threshold` calls
//! [`Gates::open_busy`]: the flag [`Gates::busy`] is raised and the other workers' gates
//! are given back, so those workers serve again, answering `-BUSY` to everything but the
//! few commands Redis allows then (SCRIPT KILL…). The script's own worker does the same
//! for its other connections from the script's hook ([`Gates::serve_while_busy`], which
//! calls the worker's `server::nest` round). When the script ends, the section's
//! end takes the gates again before it lowers the flag, so no command
//! that checked the flag as raised runs while it is being lowered.
//!
//! Who holds what is kept in a thread-local, so a command deep in the RESP layer can give
//! back its worker's gate without the worker passing a guard down, and a script's hook
//! can open the section for `-BUSY`. A thread that holds no
//! gate (a unit test calling `commands::process` directly) still runs exclusive sections
//! correctly: it just has nothing of its own to give back.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{lock_api::ArcMutexGuard, Mutex, RawMutex};

type GateGuard = ArcMutexGuard<RawMutex, ()>;

/// Takes a gate. parking_lot spins briefly before it sleeps; spinning longer (20 µs was
/// tried) loses on a host whose cores the clients share: a waiter spinning for the holder
/// takes the core the holder or a client needs (EVALSHA at -c 50 on 2 cores with `-t 2`:
/// 75-84k calls/s spinning 20 µs, 97-106k without).
fn lock_gate(gate: &Arc<Mutex<()>>) -> GateGuard {
    Mutex::lock_arc(gate)
}

/// One worker's gate, alone on its cache line so workers never share a line per turn.
#[repr(align(128))]
struct Gate(Arc<Mutex<()>>);

/// What the current thread holds.
enum Held {
    Nothing,
    /// A worker's turn: its own gate (and its index).
    Turn(GateGuard, usize),
    /// A worker's turn while it reads or writes sockets: its gate given back until its
    /// next request.
    Paused(usize),
    /// Inside an exclusive section (nested EXEC → EVAL runs in place), holding these
    /// gates (none once opened for `-BUSY`), run by this worker (if a worker).
    Exclusive(Vec<GateGuard>, Option<usize>),
}

thread_local! {
    static HELD: RefCell<Held> = const { RefCell::new(Held::Nothing) };
    /// What a worker serves its other connections with while its script is busy
    /// (`server::nest`), set once per worker thread.
    static BUSY_LOOP: Cell<Option<fn()>> = const { Cell::new(None) };
    /// The last section's (emptied) list of guards, reused by the next: a section per
    /// script or EXEC allocates nothing.
    static SPARE: RefCell<Vec<GateGuard>> = const { RefCell::new(Vec::new()) };
}

/// Sets what [`Gates::serve_while_busy`] calls on this thread (a worker's nested loop).
pub fn set_busy_loop(f: fn()) {
    BUSY_LOOP.with(|b| b.set(Some(f)));
}

/// Every worker's gate, and the mutex that orders exclusive sections.
pub struct Gates {
    gates: Box<[Gate]>,
    exclusive: Mutex<()>,
    /// A script past its busy threshold runs: other clients get `-BUSY`.
    busy: AtomicBool,
    /// The worker running the busy script (`usize::MAX`: none or not a worker).
    busy_worker: AtomicUsize,
    /// Exclusive sections waiting for the gates or running: while 0, workers keep their
    /// gates through socket I/O ([`Gates::pause`]).
    sections: AtomicUsize,
}

impl std::fmt::Debug for Gates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gates")
            .field("workers", &self.gates.len())
            .field("busy", &self.busy())
            .finish()
    }
}

impl Gates {
    pub fn new(workers: usize) -> Gates {
        Gates {
            gates: (0..workers.max(1))
                .map(|_| Gate(Arc::new(Mutex::new(()))))
                .collect(),
            exclusive: Mutex::new(()),
            busy: AtomicBool::new(false),
            busy_worker: AtomicUsize::new(usize::MAX),
            sections: AtomicUsize::new(0),
        }
    }

    /// Worker `worker` starts a turn of requests: takes its gate (waits while an exclusive
    /// section runs). Ended by [`Gates::end_turn`].
    pub fn begin_turn(&self, worker: usize) {
        let guard = lock_gate(&self.gates[worker].0);
        HELD.with(|h| *h.borrow_mut() = Held::Turn(guard, worker));
    }

    /// Gives back this thread's gate while its turn does socket I/O (no command runs until
    /// [`Gates::resume`]) if an exclusive section waits or runs; otherwise keeps it (one
    /// load; no unlock now and no lock at the next request). Fair: an exclusive section
    /// waiting for the gate gets it first.
    pub fn pause(&self) {
        if self.sections.load(Ordering::Relaxed) == 0 {
            return;
        }
        HELD.with(|h| {
            let mut held = h.borrow_mut();
            if let Held::Turn(_, worker) = *held {
                if let Held::Turn(guard, _) = std::mem::replace(&mut *held, Held::Paused(worker)) {
                    ArcMutexGuard::unlock_fair(guard);
                }
            }
        });
    }

    /// Takes this thread's gate back after [`Gates::pause`] (before a request runs); does
    /// nothing when it holds it.
    pub fn resume(&self) {
        HELD.with(|h| {
            let mut held = h.borrow_mut();
            if let Held::Paused(worker) = *held {
                *held = Held::Turn(lock_gate(&self.gates[worker].0), worker);
            }
        });
    }

    /// Ends the turn begun on this thread: gives the gate back, fairly, so that an
    /// exclusive section waiting for it gets it before this worker's next turn.
    pub fn end_turn(&self) {
        HELD.with(|h| {
            if let Held::Turn(guard, _) = std::mem::replace(&mut *h.borrow_mut(), Held::Nothing) {
                ArcMutexGuard::unlock_fair(guard);
            }
        });
    }

    /// A script past its busy threshold is running (others answer `-BUSY`).
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// The worker stuck in a busy script: its other connections wait for the script to
    /// end, so new connections go to other workers.
    pub fn busy_worker(&self) -> Option<usize> {
        let w = self.busy_worker.load(Ordering::Relaxed);
        (self.busy() && w != usize::MAX).then_some(w)
    }

    /// This thread runs the script past its busy threshold (its worker serves its other
    /// connections from the script's hook: `-BUSY`, and nothing that touches data).
    pub fn on_busy_thread(&self) -> bool {
        self.busy() && HELD.with(|h| matches!(*h.borrow(), Held::Exclusive(..)))
    }

    /// Called by the busy script's hook: the worker running it serves its other
    /// connections (`server::nest`). Does nothing elsewhere or before the threshold.
    pub fn serve_while_busy(&self) {
        if self.on_busy_thread() {
            if let Some(f) = BUSY_LOOP.with(Cell::get) {
                f();
            }
        }
    }

    /// Runs `f` with no other worker serving a command. Nested calls run `f` in place.
    pub fn exclusive<R>(&self, f: impl FnOnce(&Section) -> R) -> R {
        if HELD.with(|h| matches!(*h.borrow(), Held::Exclusive(..))) {
            return f(&Section(()));
        }
        let own = HELD.with(|h| std::mem::replace(&mut *h.borrow_mut(), Held::Nothing));
        let worker = match own {
            Held::Exclusive(..) | Held::Nothing => None,
            Held::Turn(guard, worker) => {
                drop(guard);
                Some(worker)
            }
            Held::Paused(worker) => Some(worker),
        };
        // Counted before it waits, so workers give their gates back at their next I/O.
        self.sections.fetch_add(1, Ordering::SeqCst);
        let lock = self.exclusive.lock();
        let mut all = SPARE.with(|s| std::mem::take(&mut *s.borrow_mut()));
        all.extend(self.gates.iter().map(|g| lock_gate(&g.0)));
        HELD.with(|h| *h.borrow_mut() = Held::Exclusive(all, worker));
        // Ends the section even if `f` panics, so no worker is left waiting for ever.
        let _end = SectionEnd {
            gates: self,
            lock: Some(lock),
            worker,
        };
        f(&Section(()))
    }

    /// Called by the thread running an exclusive section that runs past its busy
    /// threshold: raise the flag and let the other workers serve (answering `-BUSY`).
    /// Does nothing elsewhere or when already open.
    pub fn open_busy(&self) {
        HELD.with(|h| {
            if let Held::Exclusive(held, worker) = &mut *h.borrow_mut() {
                if !self.busy() {
                    self.busy_worker
                        .store(worker.unwrap_or(usize::MAX), Ordering::SeqCst);
                    self.busy.store(true, Ordering::SeqCst);
                    held.clear();
                }
            }
        });
    }
}

/// Proof that the holder runs inside an exclusive section (passed to its closure).
pub struct Section(());

/// Ends an exclusive section: lowers a raised busy flag once no turn that saw it raised is
/// still running, gives every gate back, then takes the running worker's own again.
struct SectionEnd<'a> {
    gates: &'a Gates,
    lock: Option<parking_lot::MutexGuard<'a, ()>>,
    worker: Option<usize>,
}

impl Drop for SectionEnd<'_> {
    fn drop(&mut self) {
        let held = HELD.with(|h| std::mem::replace(&mut *h.borrow_mut(), Held::Nothing));
        let mut all = match held {
            Held::Exclusive(all, _) => all,
            _ => Vec::new(),
        };
        if self.gates.busy() {
            // Opened for `-BUSY` (the gates were given back): take them all again before
            // lowering the flag.
            all.extend(self.gates.gates.iter().map(|g| lock_gate(&g.0)));
            self.gates.busy.store(false, Ordering::SeqCst);
        }
        // The running worker keeps its own gate (the rest of its request runs under it)
        // rather than giving it back and queueing for it behind the next section.
        let own = match self.worker {
            Some(w) if w < all.len() => Some(all.swap_remove(w)),
            _ => None,
        };
        all.clear();
        SPARE.with(|s| *s.borrow_mut() = all);
        drop(self.lock.take());
        self.gates.sections.fetch_sub(1, Ordering::SeqCst);
        let turn = match (self.worker, own) {
            (Some(w), Some(guard)) => Held::Turn(guard, w),
            (Some(w), None) => Held::Turn(lock_gate(&self.gates.gates[w].0), w),
            (None, _) => Held::Nothing,
        };
        HELD.with(|h| *h.borrow_mut() = turn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn an_exclusive_section_sees_no_turn_of_another_worker() {
        let gates = Arc::new(Gates::new(3));
        let counter = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for w in 1..3 {
            let (gates, counter, stop) = (gates.clone(), counter.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    gates.begin_turn(w);
                    counter.fetch_add(1, Ordering::Relaxed);
                    gates.end_turn();
                }
            }));
        }
        gates.begin_turn(0);
        for _ in 0..200 {
            gates.exclusive(|_| {
                let before = counter.load(Ordering::Relaxed);
                std::thread::yield_now();
                assert_eq!(counter.load(Ordering::Relaxed), before);
                // Nested sections run in place.
                gates.exclusive(|_| {});
            });
        }
        gates.end_turn();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
    }

    #[test]
    fn a_worker_keeps_its_gate_through_io_until_a_section_waits_for_it() {
        let gates = Arc::new(Gates::new(2));
        gates.begin_turn(1);
        gates.pause();
        // No section anywhere: the gate stays taken through the I/O.
        assert!(gates.gates[1].0.is_locked());
        gates.resume();
        // A section on another thread now waits; the turn goes on, and its next I/O
        // gives the gate back (the section runs mid-turn, between two requests).
        let entered = Arc::new(AtomicBool::new(false));
        let section = {
            let (gates, entered) = (gates.clone(), entered.clone());
            std::thread::spawn(move || gates.exclusive(|_| entered.store(true, Ordering::SeqCst)))
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !entered.load(Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < deadline,
                "the section never got the gate"
            );
            gates.pause();
            std::thread::yield_now();
            gates.resume();
        }
        section.join().unwrap();
        // Taken back at the request after the section; kept again through the next I/O.
        assert!(gates.gates[1].0.is_locked());
        gates.pause();
        assert!(gates.gates[1].0.is_locked());
        gates.end_turn();
        assert!(!gates.gates[1].0.is_locked());
    }

    #[test]
    fn a_busy_section_lets_others_run_and_lowers_the_flag_at_the_end() {
        let gates = Arc::new(Gates::new(2));
        gates.begin_turn(0);
        let g = gates.clone();
        gates.exclusive(|_| {
            g.open_busy();
            assert!(g.busy());
            let other = {
                let g = g.clone();
                std::thread::spawn(move || {
                    g.begin_turn(1);
                    let busy = g.busy();
                    g.end_turn();
                    busy
                })
            };
            assert!(other.join().unwrap());
        });
        assert!(!gates.busy());
        gates.end_turn();
    }
}
