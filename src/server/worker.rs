//! A worker thread: one `mio::Poll`, the connections handed to it in a `Slab` indexed by
//! `Token`, a queue of connections that yielded after `-R` requests, its hub mailbox
//! (events from other connections, drained after each turn) and the deadlines of its
//! parked requests (a heap; the poll sleeps no longer than the nearest one).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::{Events, Interest, Poll, Token, Waker};

use super::connection::{Connection, Next, SoftLimit, IDLE_RELEASE_SECS};
use super::gather::{Gather, Mode, Peer};
use super::linger::Linger;
use super::nest::{self, Conns, Poller};
use super::stream::Stream;
use super::trace;
use super::Lifecycle;
use crate::commands::{ClientInfo, Context, Protocol, Session};
use crate::hub::monitor::stream;
use crate::hub::{self, Delivery, Event, Posted};

use crate::stats::{bump, ServerStats};

/// The waker's token; connection tokens are slab keys, far below it.
pub(super) const WAKER: Token = Token(usize::MAX);
/// How long a stopping server waits for replies in flight to reach slow clients.
const FINISH_DEADLINE: Duration = Duration::from_secs(5);
/// Longest poll while reply buffers are due for resizing: half the cron's 100 ms, so a
/// worker's passes follow the ticks closely.
const REPLY_CRON_POLL: Duration = Duration::from_millis(50);

/// A connection on its way to a worker.
pub enum Handoff {
    /// Accepted: from the acceptor.
    Accepted(Accepted),
    /// From another worker, between turns ([`super::gather`]).
    Moved(Box<Connection>),
}

/// An accepted connection on its way from the acceptor to a worker.
pub struct Accepted {
    pub stream: Stream,
    pub protocol: Protocol,
    pub info: Arc<ClientInfo>,
}

/// The slot a moving connection's place names until its new worker takes it: events
/// posted meanwhile reach that worker, which finds the connection by id once it arrived.
const IN_TRANSIT: usize = u32::MAX as usize;

/// The acceptor's side of a worker.
pub struct WorkerHandle {
    pub handoffs: Sender<Handoff>,
    pub waker: Arc<Waker>,
    pub thread: std::thread::JoinHandle<()>,
}

pub struct Worker {
    id: usize,
    ctx: Arc<Context>,
    lifecycle: Arc<Lifecycle>,
    /// Shared with a busy script's nested loop (`nest`), as is the table while a
    /// connection is served.
    poll: Arc<Poller>,
    handoffs: Receiver<Handoff>,
    /// By slot (= poll token).
    conns: Conns,
    /// Connections with whole requests left after their `-R` budget, served in turn.
    yielded: VecDeque<Token>,
    /// Slots whose replies wait for the turn's AOF fsync (`appendfsync always`).
    deferred: Vec<usize>,
    /// Set once the server stops: when the last replies must be out by.
    finish_by: Option<Instant>,
    /// Hub events taken from the mailbox, being handed out (kept for its capacity).
    inbox: Vec<Posted>,
    /// Connections that received hub events this turn, served once each afterwards.
    touched: Vec<usize>,
    /// Connections whose replies are written at the end of the turn (`Connection::unflushed`;
    /// a slot may be listed twice, or closed and reused meanwhile: the flag decides).
    unflushed: Vec<usize>,
    /// Subscribers whose messages wait for a quieter turn ([`super::linger`]), and scratch.
    linger: Linger,
    /// Some connection is over its soft output limit (see `sweep_soft_limits`).
    soft_over: bool,
    /// Some connection's modelled reply buffer may still change without new output
    /// (`resize_reply_buffers`), and the server cron tick it last ran at.
    reply_due: bool,
    reply_tick: u32,
    lingered: Vec<usize>,
    /// Deadlines of parked requests: (when, slot, client id). Stale entries (the wait
    /// ended or changed) are skipped when they come up.
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// Where connections go ([`super::gather`]): the active count and its change count as this
    /// worker last acted on them.
    gather: Arc<Gather>,
    epoch: u64,
    seen_active: usize,
    /// Scratch: slots of the connections that may move this turn.
    movers: Vec<usize>,
    /// Publishers served this turn whose receivers sit on another worker.
    pulls: Vec<usize>,
    /// Hub events whose connection is not (or no longer) here: it may have moved.
    strays: Vec<Posted>,
}

impl Worker {
    /// Creates the workers and starts their threads.
    pub fn spawn_all(
        ctx: &Arc<Context>,
        lifecycle: &Arc<Lifecycle>,
        gather: &Arc<Gather>,
    ) -> io::Result<Vec<WorkerHandle>> {
        let mut built = Vec::new();
        let mut peers = Vec::new();
        for id in 0..ctx.threads.len() {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            ctx.hub.install_waker(id, waker.clone());
            let (tx, rx) = crossbeam_channel::unbounded();
            peers.push(Peer {
                handoffs: tx.clone(),
                waker: waker.clone(),
            });
            let worker = Worker {
                id,
                ctx: ctx.clone(),
                lifecycle: lifecycle.clone(),
                poll: Arc::new(Poller::new(poll)?),
                handoffs: rx,
                conns: Conns::new(),
                yielded: VecDeque::new(),
                deferred: Vec::new(),
                finish_by: None,
                inbox: Vec::new(),
                touched: Vec::new(),
                unflushed: Vec::new(),
                linger: Linger::default(),
                reply_due: false,
                reply_tick: 0,
                soft_over: false,
                lingered: Vec::new(),
                timers: BinaryHeap::new(),
                gather: gather.clone(),
                epoch: 0,
                seen_active: gather.active(),
                movers: Vec::new(),
                pulls: Vec::new(),
                strays: Vec::new(),
            };
            built.push((worker, tx, waker));
        }
        gather.set_peers(peers);
        let mut handles = Vec::new();
        for (worker, handoffs, waker) in built {
            let thread = std::thread::Builder::new()
                .name(format!("slabd-worker-{}", worker.id))
                // Lua scripts run here: cjson and reply conversion recurse up to 1000 levels
                // (address space only; untouched stack pages cost no memory).
                .stack_size(16 << 20)
                .spawn(move || worker.run())?;
            handles.push(WorkerHandle {
                handoffs,
                waker,
                thread,
            });
        }
        Ok(handles)
    }

    fn run(mut self) {
        hub::set_current_worker(self.id);
        self.gather.register_thread(self.id);
        nest::install(
            self.poll.clone(),
            self.handoffs.clone(),
            self.ctx.clone(),
            self.lifecycle.clone(),
            self.id,
        );
        let mut events = Events::with_capacity(1024);
        let mut last_sweep = self.ctx.store.clock().now();
        loop {
            // CONFIG SET timeout changes it at run time.
            let idle_timeout = self.ctx.idle_timeout.load(Ordering::Relaxed);
            let busy = !self.yielded.is_empty()
                || self.linger.waiting()
                || self.ctx.hub.watchers.pending();
            let mut timeout = if busy || self.ctx.hub.has_mail(self.id) {
                Duration::ZERO
            } else if idle_timeout > 0 || self.finish_by.is_some() {
                Duration::from_millis(250)
            } else {
                // Idle connections give their buffers back within a second or two.
                Duration::from_secs(1)
            };
            if let Some(Reverse((at, _, _))) = self.timers.peek() {
                timeout = timeout.min(at.saturating_duration_since(Instant::now()));
            }
            if self.soft_over {
                // A client over its soft output limit is closed within its seconds, traffic
                // or not: the per-second sweep must not wait for a second of poll.
                timeout = timeout.min(Duration::from_millis(100));
            }
            if self.reply_due {
                // Reply buffers are resized every cron tick (100 ms), idle or not.
                timeout = timeout.min(REPLY_CRON_POLL);
            }
            if crate::persist::group::waiting() {
                // The fsync thread wakes this worker; the timeout is a fallback.
                timeout = timeout.min(Duration::from_millis(5));
            }
            let timeout = Some(timeout);
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("worker {}: poll failed: {e}", self.id);
                break;
            }
            // One gate per turn, not per request: EXEC and scripts wait for it (commands::gate).
            self.ctx.gates.begin_turn(self.id);
            hub::turn_begin();
            crate::persist::group::turn_begin();
            // Events posted before this turn's requests arrived go out first (a message
            // published before a client's next request reaches it before that reply): taken
            // into the connections' output now, written with the turn's own at its end.
            self.drain_mailbox(false);
            for event in events.iter() {
                let token = event.token();
                if token == WAKER {
                    self.take_handoffs();
                    continue;
                }
                if let Some(conn) = self.conns.get_mut(token.0) {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        conn.readable = true;
                    }
                    if event.is_read_closed() || event.is_error() {
                        conn.hangup = true;
                    }
                    self.serve(token);
                }
            }
            for _ in 0..self.yielded.len() {
                let Some(token) = self.yielded.pop_front() else {
                    break;
                };
                if let Some(conn) = self.conns.get_mut(token.0) {
                    conn.queued = false;
                    self.serve(token);
                }
            }
            self.drain_mailbox(true);
            self.flush_lingering(events.is_empty());
            self.expire_waits();
            // MONITOR / `watch` lines, one post per watcher when the worker is idle or
            // they waited their turns.
            self.ctx
                .hub
                .watchers
                .turn_end(&self.ctx.hub, events.is_empty());
            if self.finish_by.is_none() && self.lifecycle.is_stopping() {
                self.begin_finish();
            }
            self.write_batched();
            self.ctx.gates.end_turn();
            // Served connections wrote (or were accepted): their reply buffers may change.
            self.reply_due |= !events.is_empty();
            let tick = self.ctx.hub.cron.load(Ordering::Relaxed);
            if tick != self.reply_tick && self.reply_due {
                self.reply_tick = tick;
                self.resize_reply_buffers();
            }
            self.count_keyed();
            self.flush_after_fsync();
            if self.gather.moves() && self.finish_by.is_none() {
                self.place_connections(false);
            }
            if let Some(deadline) = self.finish_by {
                if self.conns.is_empty() || Instant::now() >= deadline {
                    break;
                }
            }
            let now = self.ctx.store.clock().now();
            if now != last_sweep {
                last_sweep = now;
                if idle_timeout > 0 {
                    self.close_idle(now, idle_timeout);
                }
                let stall = self.ctx.directives.int("client-request-timeout");
                if stall > 0 {
                    self.close_stalled(now, u32::try_from(stall).unwrap_or(u32::MAX));
                }
                self.release_idle(now);
                self.sweep_soft_limits();
                if self.gather.moves() && self.finish_by.is_none() {
                    // Connections that could not move when asked may be plain by now.
                    self.place_connections(true);
                }
                if self.id == 0 && !self.ctx.hub.cron_paused.load(Ordering::Relaxed) {
                    self.ctx.hub.tracking.enforce_limit(&self.ctx.hub);
                }
            }
        }
        let tokens: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in tokens {
            self.close_for(Token(key), "shutdown");
        }
        self.ctx.hub.watchers.flush(&self.ctx.hub);
    }

    /// Adds the turn's keyed accesses to the worker's counters, for the gather policy
    /// ([`crate::storage::take_key_tally`]).
    fn count_keyed(&self) {
        let (accesses, switches) = crate::storage::take_key_tally();
        if accesses > 0 {
            let t = &self.ctx.threads[self.id];
            t.keyed_accesses.fetch_add(accesses, Ordering::Relaxed);
            t.keyed_switches.fetch_add(switches, Ordering::Relaxed);
        }
    }

    /// `appendfsync always`: asks for the fsync of the turn's records and sends the replies
    /// whose records are on disk (those connections are served again next turn for input
    /// they left unread). See persist::group.
    fn flush_after_fsync(&mut self) {
        let mut slots = std::mem::take(&mut self.deferred);
        crate::persist::group::turn_end(&self.ctx, &mut slots);
        for &slot in &slots {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            match conn.flush_deferred(&self.ctx, &self.ctx.threads[self.id]) {
                Next::Close | Next::Shutdown => self.close(Token(slot)),
                _ if !conn.queued => {
                    conn.queued = true;
                    self.yielded.push_back(Token(slot));
                }
                _ => {}
            }
        }
        slots.clear();
        self.deferred = slots;
    }

    /// Registers the connections the acceptor (or another worker) sent.
    fn take_handoffs(&mut self) {
        while let Ok(h) = self.handoffs.try_recv() {
            let h = match h {
                Handoff::Accepted(h) => h,
                Handoff::Moved(conn) => {
                    self.adopt(conn);
                    continue;
                }
            };
            if self.finish_by.is_some() {
                let conn = open(&self.ctx, self.id, h);
                self.forget(&conn);
                continue;
            }
            let token = Token(admit(&self.ctx, self.id, &mut self.conns, h));
            // Served before it is registered: a client that connected and already left
            // (a connection flood) is closed here, costing no epoll registration; one
            // that sent its first request gets its reply a poll round sooner.
            self.serve(token);
            self.register(token);
        }
    }

    /// Puts a connection on this worker's poll (after its first serve).
    fn register(&mut self, token: Token) {
        let Some(conn) = self.conns.get_mut(token.0) else {
            return;
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut conn.stream, token, interest)
        {
            eprintln!("worker {}: cannot register a connection: {e}", self.id);
            self.close(token);
            return;
        }
        conn.registered = true;
    }

    /// Takes a connection another worker moved here: a new slot and place, then served at
    /// once (its socket or TLS session may hold bytes no new edge will announce).
    fn adopt(&mut self, mut conn: Box<Connection>) {
        if self.finish_by.is_some() {
            conn.finish();
        }
        let token = Token(settle(self.id, &mut self.conns, conn));
        self.serve(token);
        self.register(token);
    }

    /// Moves plain connections to where [`super::gather`] wants them (at the end of a turn, or
    /// from the once-a-second sweep when `sweep`).
    fn place_connections(&mut self, sweep: bool) {
        let workers = self.ctx.threads.len();
        let mut woken = 0u64;
        match self.gather.mode {
            Mode::Off => return,
            Mode::Shuffle => {
                // Testing: every plain connection that read bytes since it came moves on.
                self.collect_movers(|c| c.session.info.bytes_in.load(Ordering::Relaxed) != c.mark);
                let to = (self.id + 1) % workers;
                for i in 0..self.movers.len() {
                    let slot = self.movers[i];
                    woken |= self.move_to(slot, to);
                }
            }
            Mode::Spread => woken |= self.pull_publishers(),
            Mode::Gather => {
                woken |= self.pull_publishers();
                let epoch = self.gather.epoch();
                let active = self.gather.active();
                if epoch == self.epoch && !(sweep && self.id >= active) {
                    return;
                }
                self.epoch = epoch;
                let pinned = self.gather.pins_exclusive();
                let before = std::mem::replace(&mut self.seen_active, active);
                if let Some((to, share)) = self.gather.take_order(self.id) {
                    // Rebalance: this worker carries more than its share beside `to`.
                    if to < active && self.id < active {
                        self.collect_movers(|c| !c.anchored(pinned));
                        let n = (self.movers.len() * share as usize).div_ceil(1000);
                        for i in 0..n {
                            let slot = self.movers[i];
                            woken |= self.move_to(slot, to);
                        }
                    }
                }
                if self.id >= active {
                    // Not active: hand every plain connection to the active workers.
                    self.collect_movers(|_| true);
                    let busy = self.ctx.gates.busy_worker();
                    let dests: Vec<usize> = (0..active).filter(|&w| Some(w) != busy).collect();
                    for i in 0..self.movers.len() {
                        if dests.is_empty() {
                            break;
                        }
                        let slot = self.movers[i];
                        woken |= self.move_to(slot, dests[i % dests.len()]);
                    }
                } else if active > before {
                    // Spread: the newly active workers get their share of this one's,
                    // publishers to this worker's subscribers aside.
                    self.collect_movers(|c| !c.anchored(pinned));
                    for i in 0..self.movers.len() {
                        let to = i % active;
                        if to >= before {
                            let slot = self.movers[i];
                            woken |= self.move_to(slot, to);
                        }
                    }
                }
            }
        }
        self.movers.clear();
        for w in 0..workers.min(64) {
            if woken & (1 << w) != 0 {
                if let Some(p) = self.gather.peer(w) {
                    let _ = p.waker.wake();
                }
            }
        }
    }

    /// Moves the publishers served this turn to the active worker holding all their
    /// receivers ([`super::gather`], publishers); the bits of the workers to wake.
    fn pull_publishers(&mut self) -> u64 {
        let (mut woken, active) = (0, self.gather.active());
        let pinned = self.gather.pins_exclusive();
        let now = self.ctx.store.clock().now();
        for i in 0..self.pulls.len() {
            let slot = self.pulls[i];
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            let Some(to) = conn.publishes_to(pinned).filter(|&w| w < active) else {
                continue;
            };
            if conn.pulled_at != Some(now) && conn.movable() {
                conn.pulled_at = Some(now);
                woken |= self.move_to(slot, to);
            }
        }
        self.pulls.clear();
        woken
    }

    /// Fills `movers` with the slots of the movable connections that `pick` accepts.
    fn collect_movers(&mut self, pick: impl Fn(&Connection) -> bool) {
        self.movers.clear();
        for (slot, conn) in self.conns.iter() {
            if conn.movable() && pick(conn) {
                self.movers.push(slot);
            }
        }
    }

    /// Hands the connection in `slot` to worker `to`; the bit of the worker to wake.
    fn move_to(&mut self, slot: usize, to: usize) -> u64 {
        let Some(peer) = self.gather.peer(to) else {
            return 0;
        };
        if to == self.id || !self.conns.contains(slot) {
            return 0;
        }
        let Some(mut conn) = self.conns.remove(slot) else {
            return 0;
        };
        if conn.registered {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            conn.registered = false;
        }
        conn.session.worker = to;
        conn.session.info.set_place(to, IN_TRANSIT);
        // The MONITOR / `watch` lines of its commands so far go out before the connection
        // does: the next worker may post its later lines first otherwise (a watcher would see
        // a moving client's commands out of order).
        self.ctx.hub.watchers.flush(&self.ctx.hub);
        match peer.handoffs.send(Handoff::Moved(conn)) {
            Ok(()) => {
                ServerStats::inc(&self.ctx.server.worker_moves);
                1 << (to % 64)
            }
            Err(failed) => {
                // That worker is gone (the server is stopping): keep the connection.
                if let Handoff::Moved(conn) = failed.0 {
                    self.adopt(conn);
                }
                0
            }
        }
    }

    fn serve(&mut self, token: Token) {
        let budget = self.ctx.settings.reqs_per_event;
        let (ctx, stats) = (&self.ctx, &self.ctx.threads[self.id]);
        let (timers, yielded) = (&mut self.timers, &mut self.yielded);
        let (unflushed, pulls) = (&mut self.unflushed, &mut self.pulls);
        let gathering = self.gather.mode.pulls_publishers() && self.finish_by.is_none();
        let pinned = self.gather.pins_exclusive();
        // Out of the table meanwhile, which a busy script's nested loop may use (nest).
        let served = nest::serve(&mut self.conns, token.0, |conn| {
            let next = conn.serve_batched(ctx, stats, budget);
            if conn.unflushed {
                unflushed.push(token.0);
            }
            if gathering && conn.publishes_to(pinned).is_some() {
                pulls.push(token.0);
            }
            if let Some(wait) = conn.session.wait.as_mut() {
                if let (Some(at), false) = (wait.deadline, wait.armed) {
                    wait.armed = true;
                    let id = conn.session.info.id;
                    timers.push(Reverse((at, token.0, id)));
                }
            }
            if matches!(next, Next::Yield) && !conn.queued {
                conn.queued = true;
                yielded.push_back(token);
            }
            next
        });
        let Some(nest::Served { result: next, busy }) = served else {
            return;
        };
        match next {
            Next::Wait | Next::Yield => {}
            Next::Close => self.close(token),
            Next::Shutdown => {
                self.close(token);
                self.lifecycle.stop();
            }
        }
        if let Some(closes) = busy {
            self.after_busy(closes);
        }
    }

    /// Writes the replies the turn's connections left unsent (`Connection::serve_batched`):
    /// together, after every request of the turn ran, as Redis writes before it sleeps.
    fn write_batched(&mut self) {
        for i in 0..self.unflushed.len() {
            let slot = self.unflushed[i];
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            if !conn.unflushed {
                continue;
            }
            match conn.write_batched(&self.ctx, &self.ctx.threads[self.id]) {
                Next::Wait | Next::Yield => {}
                Next::Close => self.close(Token(slot)),
                Next::Shutdown => {
                    self.close(Token(slot));
                    self.lifecycle.stop();
                }
            }
        }
        self.unflushed.clear();
    }

    /// A script that ran past its busy threshold ended: the connections its nested loop
    /// closed are closed, and every connection is served again (events the loop took for
    /// them, or requests it left unread, such as memcached's).
    fn after_busy(&mut self, closes: Vec<usize>) {
        for slot in closes {
            self.close(Token(slot));
        }
        for (slot, conn) in self.conns.iter_mut() {
            conn.readable = true;
            if !conn.queued {
                conn.queued = true;
                self.yielded.push_back(Token(slot));
            }
        }
    }

    /// Hands out the events other connections posted, then serves each connection that got
    /// one (flushing messages, re-running woken requests). Serving may post to this worker
    /// again (a served waiter wakes the next): a few rounds, then the poll comes back at once.
    /// Without `serve` (the turn's start) the events are only handed out: the connections
    /// are served at the turn's end, so a subscriber gets one write per turn, not two.
    fn drain_mailbox(&mut self, serve: bool) {
        for _ in 0..4 {
            self.take_mail();
            if !serve || self.touched.is_empty() {
                return;
            }
            let touched = std::mem::take(&mut self.touched);
            for &slot in &touched {
                if let Some(conn) = self.conns.get_mut(slot) {
                    if conn.touched {
                        conn.touched = false;
                        if conn.may_linger() {
                            if !conn.lingering {
                                conn.lingering = true;
                                self.linger.hold(slot);
                            }
                            continue;
                        }
                        self.serve(Token(slot));
                    }
                }
            }
            self.touched = touched;
            self.touched.clear();
        }
    }

    /// Writes the subscribers whose messages waited, once the poll found nothing (`idle`)
    /// or they waited their turns ([`super::linger`]).
    fn flush_lingering(&mut self, idle: bool) {
        let mut due = std::mem::take(&mut self.lingered);
        self.linger.due(idle, &mut due);
        for &slot in &due {
            if let Some(conn) = self.conns.get_mut(slot) {
                if conn.lingering {
                    conn.lingering = false;
                    self.serve(Token(slot));
                }
            }
        }
        due.clear();
        self.lingered = due;
    }

    /// Hands this worker's hub events to their connections, noting each touched one.
    fn take_mail(&mut self) {
        {
            let mut inbox = std::mem::take(&mut self.inbox);
            if !self.ctx.hub.take(self.id, &mut inbox) {
                self.inbox = inbox;
                return;
            }
            for Posted { to, event } in inbox.drain(..) {
                if let Event::Fanout(f) = event {
                    // One PUBLISH, this worker's run of the channel's subscribers.
                    let d = Delivery {
                        msg: f.msg.clone(),
                        pattern: None,
                    };
                    for &to in f.targets() {
                        let slot = to.slot as usize;
                        let Some(conn) = self.conns.get_mut(slot) else {
                            continue;
                        };
                        if conn.session.info.id != to.id {
                            continue;
                        }
                        conn.deliver(&self.ctx, &d);
                        if !conn.touched {
                            conn.touched = true;
                            self.touched.push(slot);
                        }
                    }
                    continue;
                }
                let slot = to.slot as usize;
                match self.conns.get_mut(slot) {
                    Some(conn) if conn.session.info.id == to.id => {
                        conn.receive(&self.ctx, event);
                        if !conn.touched {
                            conn.touched = true;
                            self.touched.push(slot);
                        }
                    }
                    // Closed, or moved to another worker: see `reroute`.
                    _ if self.gather.moves() => self.strays.push(Posted { to, event }),
                    _ => {}
                }
            }
            self.inbox = inbox;
        }
        if !self.strays.is_empty() {
            self.reroute();
        }
    }

    /// Events for connections that are not here: a connection that moved gets them at its
    /// new place (looked up by client id; rare, so the registry's lock is fine here), one
    /// on its way to this worker once it is taken; a closed one's are dropped.
    fn reroute(&mut self) {
        let mut strays = std::mem::take(&mut self.strays);
        for Posted { to, event } in strays.drain(..) {
            let Some(info) = self.ctx.clients.get(to.id) else {
                continue;
            };
            let mut at = info.target();
            if at.worker as usize == self.id && at.slot as usize == IN_TRANSIT {
                self.take_handoffs();
                at = info.target();
            }
            if at.worker as usize != self.id || at.slot as usize == IN_TRANSIT {
                // Still on its way (to here or elsewhere): its new worker sorts it out.
                self.ctx.hub.post(at, event);
                continue;
            }
            let slot = at.slot as usize;
            if let Some(conn) = self.conns.get_mut(slot) {
                if conn.session.info.id == to.id {
                    conn.receive(&self.ctx, event);
                    if !conn.touched {
                        conn.touched = true;
                        self.touched.push(slot);
                    }
                }
            }
        }
        self.strays = strays;
    }

    /// Ends the waits whose deadline passed: their timeout reply, or a re-run after a pause.
    fn expire_waits(&mut self) {
        if self.timers.is_empty() {
            return;
        }
        let now = Instant::now();
        while let Some(&Reverse((at, slot, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            let current = conn.session.info.id == id
                && conn
                    .session
                    .wait
                    .as_ref()
                    .is_some_and(|w| w.deadline == Some(at));
            if current && conn.end_wait(&self.ctx, None) {
                self.serve(Token(slot));
            }
        }
    }

    /// Server shutdown: no new requests; flush what each connection owes, then close it.
    fn begin_finish(&mut self) {
        self.finish_by = Some(Instant::now() + FINISH_DEADLINE);
        let tokens: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for key in tokens {
            if let Some(conn) = self.conns.get_mut(key) {
                conn.finish();
            }
            self.serve(Token(key));
        }
    }

    /// Connections that read nothing for [`IDLE_RELEASE_SECS`] give their empty buffers back.
    fn release_idle(&mut self, now: u32) {
        for (_, conn) in self.conns.iter_mut() {
            if now.saturating_sub(conn.last_active) >= IDLE_RELEASE_SECS {
                conn.trim(now, true);
                conn.count_buffers(&self.ctx.server);
            }
        }
    }

    /// Closes connections whose partial request has waited more than `limit` seconds for
    /// its remaining bytes (slowloris), however often bytes trickle in.
    fn close_stalled(&mut self, now: u32, limit: u32) {
        let stalled: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.partial_since
                    .is_some_and(|t| now.saturating_sub(t) > limit)
            })
            .map(|(k, _)| k)
            .collect();
        for key in stalled {
            if self.ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                if let Some(c) = self.conns.get(key) {
                    trace::event(&c.session.info, "request stalled half-sent; closing");
                }
            }
            self.close(Token(key));
        }
    }

    fn close_idle(&mut self, now: u32, idle_timeout: u32) {
        let idle: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                now.saturating_sub(c.last_active) > idle_timeout && !c.exempt_from_idle_timeout()
            })
            .map(|(k, _)| k)
            .collect();
        for key in idle {
            bump(&self.ctx.threads[self.id].idle_kicks);
            if self.ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                if let Some(c) = self.conns.get(key) {
                    trace::event(&c.session.info, "idle timeout");
                }
            }
            self.close_for(Token(key), "idle_timeout");
        }
    }

    /// Redis's `clientsCronResizeOutputBuffer` for every connection of this worker, once
    /// per cron tick while one of them may still change (`CLIENT LIST`'s `rbs`/`rbp`).
    fn resize_reply_buffers(&mut self) {
        if self.ctx.hub.cron_paused.load(Ordering::Relaxed) {
            return;
        }
        let now_ms = self.ctx.store.clock().now_ms();
        let stats = &self.ctx.threads[self.id];
        let mut due = false;
        for (_, conn) in self.conns.iter_mut() {
            due |= conn.resize_reply_buffer(now_ms, &self.ctx, stats);
        }
        self.reply_due = due;
    }

    /// Closes the connections that stayed over their soft output limit for its seconds
    /// (Redis's clientsCron), and notes whether any is still over it.
    fn sweep_soft_limits(&mut self) {
        let mut over = false;
        let mut expired = Vec::new();
        for (key, conn) in self.conns.iter_mut() {
            match conn.sweep_soft_limit(&self.ctx) {
                SoftLimit::Under => {}
                SoftLimit::Over => over = true,
                SoftLimit::Killed => expired.push(key),
            }
        }
        self.soft_over = over;
        for key in expired {
            self.close(Token(key));
        }
    }

    fn close(&mut self, token: Token) {
        let reason = self
            .conns
            .get(token.0)
            .map_or("normal", |c| c.close_reason());
        self.close_for(token, reason);
    }

    /// Closes a connection; `reason` is what memcached's `watch connevents` reports.
    fn close_for(&mut self, token: Token, reason: &str) {
        if let Some(mut conn) = self.conns.remove(token.0) {
            if self.ctx.hub.watchers.wanted(stream::CONNEVENTS) {
                let info = &conn.session.info;
                let fd = info.fd.load(Ordering::Relaxed);
                let hub = &self.ctx.hub;
                hub.watchers.conn_event(hub, &info.addr, fd, Some(reason));
            }
            conn.session.close(&self.ctx);
            if conn.registered {
                let _ = self.poll.registry().deregister(&mut conn.stream);
            }
            conn.uncount_buffers(&self.ctx.server);
            self.forget(&conn);
        }
    }

    /// Takes a connection out of the registry and the counters (the socket closes on drop).
    fn forget(&self, conn: &Connection) {
        self.ctx.clients.close(conn.session.info.id);
        ServerStats::dec(&self.ctx.server.curr_connections);
        if self.ctx.verbosity.load(Ordering::Relaxed) >= 1 {
            trace::closed(&conn.session.info);
        }
    }
}

/// A connection the acceptor handed over, not yet in the table.
fn open(ctx: &Context, id: usize, h: Accepted) -> Connection {
    let now = ctx.store.clock().now();
    let session = Session::new(h.info, h.protocol, id);
    let settings = &ctx.settings;
    let limits = (settings.item_size_max, settings.proto_max_bulk_len);
    Connection::new(h.stream, session, limits, now)
}

/// Puts a connection the acceptor handed over in worker `id`'s table (not yet on its
/// poll); its slot.
pub(super) fn admit(ctx: &Context, id: usize, conns: &mut Conns, h: Accepted) -> usize {
    let mut conn = open(ctx, id, h);
    let slot = conns.next_slot();
    conn.session.info.set_place(id, slot);
    let fd = conn.stream.fd();
    conn.session.info.fd.store(fd, Ordering::Relaxed);
    if ctx.verbosity.load(Ordering::Relaxed) >= 1 {
        trace::opened(fd, conn.session.protocol);
    }
    if ctx.hub.watchers.wanted(stream::CONNEVENTS) {
        let addr = &conn.session.info.addr;
        ctx.hub.watchers.conn_event(&ctx.hub, addr, fd, None);
    }
    // A TLS session's state counts toward maxmemory-clients from the start.
    conn.count_buffers(&ctx.server);
    conns.insert(Box::new(conn))
}

/// Puts a connection another worker moved here in worker `id`'s table (not yet on its
/// poll, to be served at once: its socket or TLS session may hold bytes no new edge will
/// announce); its slot.
pub(super) fn settle(id: usize, conns: &mut Conns, mut conn: Box<Connection>) -> usize {
    let slot = conns.next_slot();
    conn.session.worker = id;
    conn.session.info.set_place(id, slot);
    conn.readable = true;
    conn.registered = false;
    conn.mark = conn.session.info.bytes_in.load(Ordering::Relaxed);
    conns.insert(conn)
}
