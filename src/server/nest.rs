//! A worker's other connections while a script it runs is busy (Redis's
//! `processEventsWhileBlocked`).
//!
//! A script runs on its client's worker thread, inside that connection's turn. Past
//! `busy-reply-threshold` the other workers answer `-BUSY` (see `commands::gate`), but the
//! clients of the script's own worker would wait for the script to end, SCRIPT KILL among
//! them. So the script's instruction hook calls [`round`] (through
//! `Gates::serve_while_busy`), at most once a millisecond: it takes the worker's readiness
//! events without waiting (`epoll_wait` on the worker's poll), accepts the connections
//! handed to the worker meanwhile, and serves the other connections as usual. Each of
//! their requests then finds the busy flag raised: `-BUSY`, or one of the few commands
//! Redis allows then (SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN NOSAVE, MULTI, WATCH,
//! AUTH…); memcached requests stay unread (memcached has no `-BUSY`) until the script
//! ends. Nothing a request may run here touches data the script sees.
//!
//! ```text
//!  worker ─ serve(conn A) ─ EVAL ─ Lua … hook ─ round(): poll(0) ─ serve B, C (-BUSY,
//!                                                         SCRIPT KILL) ─ back to Lua
//!         ◀─ the script ends ─ after_busy: every connection re-queued, closes done
//! ```
//!
//! **Who is served.** The running connection is never re-entered: its slot is
//! [`Running`]'s and `round` skips it (an event for it is remembered and replayed after).
//! The connection table is shared with the nested loop through [`Conns`], which owns it
//! behind a raw pointer: the worker reaches it through `Deref`, `round` through the same
//! pointer, and the worker holds no reference into the table while a connection is served
//! (only the boxed connection itself, which `round` never touches). Connections that must
//! close are closed by the worker once the script ends.

use std::cell::{Cell, RefCell};
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, RawFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Interest, Poll, Registry, Token};
use slab::Slab;

use super::connection::{Connection, Next};
use super::worker::{self, Handoff};
use super::Lifecycle;
use crate::commands::{Context, Protocol};

/// The table of a worker's connections, by slot (its poll token).
pub(super) type Table = Slab<Box<Connection>>;

/// Least time between two rounds: the script keeps most of the thread.
const ROUND_EVERY: Duration = Duration::from_millis(1);

/// Most readiness events one round takes.
const EVENTS: usize = 256;

/// A worker's connection table, shared with [`round`] (see the module's comment).
pub(super) struct Conns(NonNull<Table>);

// SAFETY: `Conns` owns its table as a `Box` would; the worker thread alone uses it (the
// pointer `round` copies lives in that thread's thread-local).
unsafe impl Send for Conns {}

impl Conns {
    pub(super) fn new() -> Conns {
        Conns(NonNull::from(Box::leak(Box::new(Slab::new()))))
    }
}

impl Deref for Conns {
    type Target = Table;
    fn deref(&self) -> &Table {
        // SAFETY: the pointer is the live box made by `new`. `round` uses it only from
        // the hook of a script the worker runs inside `Connection::serve`, while the
        // worker holds no reference made from this one (Worker::serve keeps only the
        // served connection's box contents, which `round` does not touch).
        unsafe { self.0.as_ref() }
    }
}

impl DerefMut for Conns {
    fn deref_mut(&mut self) -> &mut Table {
        // SAFETY: as for `deref`.
        unsafe { self.0.as_mut() }
    }
}

impl Drop for Conns {
    fn drop(&mut self) {
        let _ = NEST.try_with(|n| {
            if let Ok(mut n) = n.try_borrow_mut() {
                if n.as_ref().is_some_and(|n| n.conns == self.0) {
                    *n = None;
                }
            }
        });
        // SAFETY: made by `Box::leak` in `new`; the nested loop's copy was cleared above.
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

/// What a round needs of its worker.
struct Nest {
    conns: NonNull<Table>,
    epfd: RawFd,
    registry: Registry,
    handoffs: Receiver<Handoff>,
    ctx: Arc<Context>,
    lifecycle: Arc<Lifecycle>,
    id: usize,
    /// Slots with work left (a yield, or every connection at a busy period's start).
    pending: Vec<usize>,
    /// Slots to close once the script ends.
    closes: Vec<usize>,
    last_round: Option<Instant>,
}

thread_local! {
    static NEST: RefCell<Option<Nest>> = const { RefCell::new(None) };
    /// The slot the worker is serving (its script is the busy one).
    static RUNNING: Cell<usize> = const { Cell::new(usize::MAX) };
    /// A round ran since the worker last asked ([`Running::finish`]).
    static RAN: Cell<bool> = const { Cell::new(false) };
}

/// Sets up rounds for the worker on this thread.
pub(super) fn install(
    conns: &Conns,
    poll: &Poll,
    handoffs: Receiver<Handoff>,
    ctx: Arc<Context>,
    lifecycle: Arc<Lifecycle>,
    id: usize,
) {
    let Ok(registry) = poll.registry().try_clone() else {
        return;
    };
    let nest = Nest {
        conns: conns.0,
        epfd: poll.as_raw_fd(),
        registry,
        handoffs,
        ctx,
        lifecycle,
        id,
        pending: Vec::new(),
        closes: Vec::new(),
        last_round: None,
    };
    NEST.with(|n| *n.borrow_mut() = Some(nest));
    crate::commands::gate::set_busy_loop(round);
}

/// The worker serves `slot`: rounds skip it until [`Running::finish`].
pub(super) struct Running(usize);

impl Running {
    #[inline]
    pub(super) fn start(slot: usize) -> Running {
        Running(RUNNING.with(|r| r.replace(slot)))
    }

    /// Ends the serve; `Some(closes)` when rounds ran during it (the worker then closes
    /// those slots and serves every connection again).
    #[inline]
    pub(super) fn finish(self) -> Option<Vec<usize>> {
        RUNNING.with(|r| r.set(self.0));
        if !RAN.with(|r| r.replace(false)) {
            return None;
        }
        NEST.with(|n| {
            let mut n = n.borrow_mut();
            let nest = n.as_mut()?;
            nest.pending.clear();
            nest.last_round = None;
            Some(std::mem::take(&mut nest.closes))
        })
    }
}

/// One round of serving the worker's other connections (the busy script's hook).
fn round() {
    NEST.with(|n| {
        // Already in a round (nothing a round serves runs a script): nothing to do.
        let Ok(mut n) = n.try_borrow_mut() else {
            return;
        };
        let Some(nest) = n.as_mut() else {
            return;
        };
        let now = Instant::now();
        if nest
            .last_round
            .is_some_and(|t| now.duration_since(t) < ROUND_EVERY)
        {
            return;
        }
        let first = nest.last_round.is_none();
        nest.last_round = Some(now);
        RAN.with(|r| r.set(true));
        let running = RUNNING.with(Cell::get);
        // The command running (the script's) is this thread's; the round's own requests
        // must not change what it tracks.
        let saved = crate::hub::tracking::suspend();
        nest.serve(running, first);
        crate::hub::tracking::resume(saved);
    });
}

impl Nest {
    fn serve(&mut self, running: usize, first: bool) {
        // SAFETY: see `Conns`: the worker is inside `Connection::serve` for `running`
        // (this runs from its script's hook) and holds no reference into the table; the
        // connection at `running` is not touched here.
        let conns = unsafe { self.conns.as_mut() };
        if first {
            // Events the worker took before the script began are not polled again: every
            // connection gets a look (a spurious read costs one `WouldBlock`).
            for (slot, conn) in conns.iter_mut() {
                if slot != running {
                    conn.readable = true;
                    self.pending.push(slot);
                }
            }
        }
        self.poll(conns, running);
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable();
        pending.dedup();
        let stats = &self.ctx.threads[self.id];
        let budget = self.ctx.settings.reqs_per_event;
        for &slot in &pending {
            if slot == running || self.closes.contains(&slot) {
                continue;
            }
            let Some(conn) = conns.get_mut(slot) else {
                continue;
            };
            if matches!(
                conn.session.protocol,
                Protocol::Memcache | Protocol::MemcacheBinary
            ) {
                // Waits for the script (served again once it ends); replies the worker's
                // turn left for its end go out now.
                if conn.unflushed && conn.write_batched(&self.ctx, stats) != Next::Wait {
                    self.closes.push(slot);
                }
                continue;
            }
            match conn.serve(&self.ctx, stats, budget) {
                Next::Wait => {}
                Next::Yield => self.pending.push(slot),
                Next::Close => self.closes.push(slot),
                Next::Shutdown => {
                    self.closes.push(slot);
                    self.lifecycle.stop();
                }
            }
        }
        pending.clear();
        if self.pending.is_empty() {
            // Keeps the vector's capacity for the next round.
            self.pending = pending;
        }
    }

    /// Takes the worker's readiness events without waiting: marks the connections, accepts
    /// the ones handed over, queues each for this round.
    fn poll(&mut self, conns: &mut Table, running: usize) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        // SAFETY: `events` is a writable array of EVENTS entries; `epfd` is the worker's
        // epoll descriptor, open while the worker (and so this thread-local) lives.
        let n = unsafe { libc::epoll_wait(self.epfd, events.as_mut_ptr(), EVENTS as i32, 0) };
        let mut handoffs = false;
        for ev in events.iter().take(usize::try_from(n).unwrap_or(0)) {
            let (flags, token) = (ev.events as i32, ev.u64 as usize);
            if token == worker::WAKER.0 {
                handoffs = true;
                continue;
            }
            if token == running {
                // Its serve, still in progress, reads again once the script ends.
                continue;
            }
            let Some(conn) = conns.get_mut(token) else {
                continue;
            };
            if flags & (libc::EPOLLIN | libc::EPOLLPRI | libc::EPOLLHUP | libc::EPOLLERR) != 0 {
                conn.readable = true;
            }
            let closed = flags & (libc::EPOLLHUP | libc::EPOLLERR) != 0
                || flags & (libc::EPOLLIN | libc::EPOLLRDHUP) == libc::EPOLLIN | libc::EPOLLRDHUP;
            if closed {
                conn.hangup = true;
            }
            self.pending.push(token);
        }
        if handoffs {
            // A client connecting now (`redis-cli SCRIPT KILL` on a one-worker server).
            while let Ok(h) = self.handoffs.try_recv() {
                let slot = match h {
                    Handoff::Accepted(h) => worker::admit(&self.ctx, self.id, conns, h),
                    Handoff::Moved(conn) => worker::settle(self.id, conns, conn),
                };
                let Some(conn) = conns.get_mut(slot) else {
                    continue;
                };
                let interest = Interest::READABLE | Interest::WRITABLE;
                if self
                    .registry
                    .register(&mut conn.stream, Token(slot), interest)
                    .is_err()
                {
                    self.closes.push(slot);
                    continue;
                }
                conn.registered = true;
                self.pending.push(slot);
            }
        }
    }
}
