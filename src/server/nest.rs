//! A worker's other connections while a script it runs is busy (Redis's
//! `processEventsWhileBlocked`).
//!
//! A script runs on its client's worker thread, inside that connection's turn. Past
//! `busy-reply-threshold` the other workers answer `-BUSY` (see `commands::gate`), but the
//! clients of the script's own worker would wait for the script to end, SCRIPT KILL among
//! them. So the script's instruction hook calls [`round`] (through
//! `Gates::serve_while_busy`), at most once a millisecond: it takes the worker's readiness
//! events without waiting, accepts the connections handed to the worker meanwhile, and
//! serves the other connections as usual. Each of their requests then finds the busy flag
//! raised: `-BUSY`, or one of the few commands Redis allows then (SCRIPT KILL, FUNCTION
//! KILL/STATS, SHUTDOWN NOSAVE, MULTI, WATCH, AUTH…); memcached requests stay unread
//! (memcached has no `-BUSY`) until the script ends. Nothing a request may run here touches
//! data the script sees.
//!
//! ```text
//!  worker ─ serve(): take conn A out of the table, lend the table to the nest
//!           └ A.serve ─ EVAL ─ Lua … hook ─ round(): poll(0) ─ serve B, C (-BUSY,
//!                                                   SCRIPT KILL) ─ back to Lua
//!         ◀─ the table back, A back in its slot; if rounds ran: closes done, every
//!            connection served again
//! ```
//!
//! **Ownership, no aliasing.** The worker serves a connection through [`serve`]: the
//! connection leaves its slot (the slot stays reserved, empty) and the whole table is moved
//! into this thread's nest for the duration; afterwards the table comes back and the
//! connection returns to its slot. So while a script runs, the nested round owns the table
//! outright and the worker owns only the running connection: no reference to one is ever
//! made from the other, and there is no `unsafe` here. The running connection is never
//! re-entered (its slot is empty); an event for it is dropped here and made up for once the
//! script ends, when every connection is served again. The poll is shared as [`Poller`]
//! (locked only to poll; one thread uses it, so the lock is never contended). Connections
//! that must close are closed by the worker once the script ends.
//!
//! Cost on the request path: per serve, two moves of the table's handle (a few words)
//! through a thread-local, and one uncontended lock per poll.

use std::cell::RefCell;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use mio::{Events, Interest, Poll, Registry, Token};
use parking_lot::Mutex;
use slab::Slab;

use super::connection::{Connection, Next};
use super::worker::{self, Handoff};
use super::Lifecycle;
use crate::commands::{Context, Protocol};

/// Least time between two rounds: the script keeps most of the thread.
const ROUND_EVERY: Duration = Duration::from_millis(1);

/// Most readiness events one round takes.
const EVENTS: usize = 256;

/// A worker's connections by slot (= poll token). A slot whose connection is being served
/// is reserved and empty (see the module's comment): lookups skip it.
pub(super) struct Conns {
    table: Slab<Option<Box<Connection>>>,
}

impl Conns {
    pub(super) fn new() -> Conns {
        Conns { table: Slab::new() }
    }

    pub(super) fn get(&self, slot: usize) -> Option<&Connection> {
        self.table.get(slot)?.as_deref()
    }

    pub(super) fn get_mut(&mut self, slot: usize) -> Option<&mut Connection> {
        self.table.get_mut(slot)?.as_deref_mut()
    }

    pub(super) fn contains(&self, slot: usize) -> bool {
        self.get(slot).is_some()
    }

    /// No connection at all (a connection being served counts).
    pub(super) fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (usize, &Connection)> {
        self.table
            .iter()
            .filter_map(|(slot, c)| Some((slot, c.as_deref()?)))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut Connection)> {
        self.table
            .iter_mut()
            .filter_map(|(slot, c)| Some((slot, c.as_deref_mut()?)))
    }

    /// Takes the connection out of `slot` for good (`None` if there is none, or it is
    /// being served).
    pub(super) fn remove(&mut self, slot: usize) -> Option<Box<Connection>> {
        if !self.contains(slot) {
            return None;
        }
        self.table.try_remove(slot).flatten()
    }

    /// The slot the next [`Conns::insert`] takes.
    pub(super) fn next_slot(&self) -> usize {
        self.table.vacant_key()
    }

    /// Puts a connection in a new slot ([`Conns::next_slot`]); the slot.
    pub(super) fn insert(&mut self, conn: Box<Connection>) -> usize {
        self.table.insert(Some(conn))
    }
}

/// The worker's poll, shared (`Arc`) with the nested loop, which polls it without waiting
/// while a script is busy. Only the worker's thread uses it, so its lock is never contended.
pub(super) struct Poller {
    poll: Mutex<Poll>,
    registry: Registry,
}

impl Poller {
    pub(super) fn new(poll: Poll) -> io::Result<Poller> {
        let registry = poll.registry().try_clone()?;
        Ok(Poller {
            poll: Mutex::new(poll),
            registry,
        })
    }

    /// Polls unless the poll is in use (a round inside the worker's own poll cannot
    /// happen; this keeps even that from deadlocking).
    fn try_poll(&self, events: &mut Events) -> bool {
        let Some(mut poll) = self.poll.try_lock() else {
            return false;
        };
        poll.poll(events, Some(Duration::ZERO)).is_ok()
    }

    pub(super) fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        self.poll.lock().poll(events, timeout)
    }

    pub(super) fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// What a round needs of its worker.
struct Nest {
    /// The worker's table while it serves a connection (empty otherwise).
    conns: Conns,
    poller: Arc<Poller>,
    events: Events,
    handoffs: Receiver<Handoff>,
    ctx: Arc<Context>,
    lifecycle: Arc<Lifecycle>,
    id: usize,
    /// Slots with work left (a yield, or every connection at a busy period's start).
    pending: Vec<usize>,
    /// Slots to close once the script ends.
    closes: Vec<usize>,
    last_round: Option<Instant>,
    /// A round ran during the current serve.
    ran: bool,
}

thread_local! {
    static NEST: RefCell<Option<Nest>> = const { RefCell::new(None) };
}

/// Sets up rounds for the worker on this thread.
pub(super) fn install(
    poller: Arc<Poller>,
    handoffs: Receiver<Handoff>,
    ctx: Arc<Context>,
    lifecycle: Arc<Lifecycle>,
    id: usize,
) {
    let nest = Nest {
        conns: Conns::new(),
        poller,
        events: Events::with_capacity(EVENTS),
        handoffs,
        ctx,
        lifecycle,
        id,
        pending: Vec::new(),
        closes: Vec::new(),
        last_round: None,
        ran: false,
    };
    NEST.with(|n| *n.borrow_mut() = Some(nest));
    crate::commands::gate::set_busy_loop(round);
}

/// What a serve left for the worker.
pub(super) struct Served<R> {
    /// The serving closure's result.
    pub(super) result: R,
    /// `Some(closes)` when rounds ran during it: the worker closes those slots and serves
    /// every connection again (events the rounds took, requests they left unread).
    pub(super) busy: Option<Vec<usize>>,
}

/// Serves the connection in `slot` with `f` (see the module's comment): the connection is
/// out of the table and the table lent to this thread's nest meanwhile; both are back in
/// place when this returns. `None` if there is no such connection.
pub(super) fn serve<R>(
    conns: &mut Conns,
    slot: usize,
    f: impl FnOnce(&mut Connection) -> R,
) -> Option<Served<R>> {
    let mut conn = conns.table.get_mut(slot)?.take()?;
    let lent = lend(conns);
    let result = f(&mut conn);
    let busy = lent.then(|| give_back(conns)).flatten();
    if let Some(entry) = conns.table.get_mut(slot) {
        *entry = Some(conn);
    }
    Some(Served { result, busy })
}

/// Moves the worker's table into the nest; false if there is no nest (or it is in use).
#[inline]
fn lend(conns: &mut Conns) -> bool {
    NEST.with(|n| match n.try_borrow_mut() {
        Ok(mut n) => match n.as_mut() {
            Some(nest) => {
                std::mem::swap(&mut nest.conns, conns);
                true
            }
            None => false,
        },
        Err(_) => false,
    })
}

/// Moves the table back to the worker; the slots to close when rounds ran meanwhile.
#[inline]
fn give_back(conns: &mut Conns) -> Option<Vec<usize>> {
    NEST.with(|n| {
        let mut n = n.borrow_mut();
        let nest = n.as_mut()?;
        std::mem::swap(&mut nest.conns, conns);
        if !std::mem::take(&mut nest.ran) {
            return None;
        }
        nest.pending.clear();
        nest.last_round = None;
        Some(std::mem::take(&mut nest.closes))
    })
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
        nest.ran = true;
        // The command running (the script's) is this thread's; the round's own requests
        // must not change what it tracks.
        let saved = crate::hub::tracking::suspend();
        nest.serve(first);
        crate::hub::tracking::resume(saved);
    });
}

impl Nest {
    fn serve(&mut self, first: bool) {
        if first {
            // Events the worker took before the script began are not polled again: every
            // connection gets a look (a spurious read costs one `WouldBlock`). The running
            // connection is not in the table.
            for (slot, conn) in self.conns.iter_mut() {
                conn.readable = true;
                self.pending.push(slot);
            }
        }
        self.poll();
        // Handed-over connections are looked for every round, not only on a wake-up: the
        // worker may have taken the wake-up already, in the same batch of events as the
        // request that started the script but after it, and no other will come.
        self.take_handoffs();
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable();
        pending.dedup();
        let stats = &self.ctx.threads[self.id];
        let budget = self.ctx.settings.reqs_per_event;
        for &slot in &pending {
            if self.closes.contains(&slot) {
                continue;
            }
            let Some(conn) = self.conns.get_mut(slot) else {
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

    /// Takes the worker's readiness events without waiting: marks the connections and
    /// queues each for this round (handed-over ones are taken by [`Nest::take_handoffs`]).
    fn poll(&mut self) {
        if !self.poller.try_poll(&mut self.events) {
            return;
        }
        for event in self.events.iter() {
            let token = event.token();
            if token == worker::WAKER {
                continue;
            }
            // The running connection is not in the table: its serve, still in progress,
            // reads again once the script ends.
            let Some(conn) = self.conns.get_mut(token.0) else {
                continue;
            };
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                conn.readable = true;
            }
            if event.is_read_closed() || event.is_error() {
                conn.hangup = true;
            }
            self.pending.push(token.0);
        }
    }

    /// Admits the connections handed to the worker meanwhile (`redis-cli SCRIPT KILL` on a
    /// one-worker server connects now).
    fn take_handoffs(&mut self) {
        while let Ok(h) = self.handoffs.try_recv() {
            let slot = match h {
                Handoff::Accepted(h) => worker::admit(&self.ctx, self.id, &mut self.conns, h),
                Handoff::Moved(conn) => worker::settle(self.id, &mut self.conns, conn),
            };
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poller
                .registry()
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
