//! Connections that wait, and the events that reach them from other threads.
//!
//! Pub/Sub, keyspace notifications, client tracking, MONITOR, memcached's `watch`, blocking
//! pops (BLPOP & co), CLIENT PAUSE, CLIENT UNBLOCK and CLIENT KILL all need the same thing:
//! a connection owned by one worker must be fed or woken by a command running on another.
//! The [`Hub`] is that one mechanism.
//!
//! ```text
//!  any thread ── Hub::post(Target, Event) ──▶ Mailbox[target.worker]  (Mutex<Vec>, bounded)
//!                                               │ first post since the last drain:
//!                                               │ mio::Waker::wake (one eventfd write)
//!                                               ▼
//!  worker loop: poll → serve ready connections → drain its mailbox →
//!               Connection::receive(event) per target → serve each touched connection once
//! ```
//!
//! # Addressing: [`Target`]
//! A connection is addressed by `(client id, worker, slot)`: the worker's index picks the
//! mailbox, the slot is the connection's key in that worker's `Slab`, and the id guards
//! against a slot reused by a newer connection (an event for a closed client is dropped).
//! `ClientInfo::target()` gives it; `ctx.clients.get(id)` finds a client by id
//! (CLIENT KILL/UNBLOCK).
//!
//! # Events: [`Event`]
//! - `Message`: a Pub/Sub message, keyspace event or invalidation, encoded on the receiving
//!   worker for the receiver's protocol (RESP2 array or RESP3 push); the payload is shared
//!   (`Arc`), so a PUBLISH to 50 subscribers allocates once.
//! - `Line`: bytes written as they are (MONITOR lines, memcached `watch` lines).
//! - `Wake`: a key the connection waits on was written: the worker re-runs its parked
//!   request.
//! - `Unblock`: CLIENT UNBLOCK: end the wait with its timeout reply or the `UNBLOCKED` error.
//! - `Kill`: CLIENT KILL: close the connection (output not yet sent is dropped).
//!
//! Events from one thread to one connection arrive in the order posted (one FIFO per worker),
//! so every subscriber sees one publisher's messages in publish order.
//!
//! # Bounds
//! A mailbox holds at most [`MAILBOX_BYTES`] of message payload; past it, a message is
//! dropped and its receiver is disconnected as a reader too slow for its output limit.
//! A receiver's unsent output is bounded by its class's `client-output-buffer-limit`
//! ([`OutputLimits`]): Pub/Sub (and MONITOR) connections are closed past the hard limit,
//! or past the soft limit for longer than its seconds (Redis's default `pubsub 32mb 8mb 60`).
//!
//! # Blocking commands (the API for BLPOP & co)
//! A RESP handler that finds nothing to pop and may block (not inside MULTI/EXEC or a
//! script: `call.may_block()`) calls
//! `call.block(&[keys], timeout, OnTimeout::NullArray)` and writes no reply. The request
//! stays in the connection's input; the connection is parked (reads nothing more) and is
//! registered as a waiter on each `(db, key)` in FIFO order across all workers
//! ([`blocking::Waiters`]). Every write that may satisfy a waiter (LPUSH, ZADD, LMOVE into
//! a key, ...) calls `ctx.hub.signal_key(db, key)`: one atomic load when nobody waits.
//! A signal wakes the first waiter on that key; the woken connection re-runs the same
//! request (the handler simply tries again): if it is served, it leaves every key's queue
//! and the next waiter is woken in turn; if not, it blocks again keeping its place and its
//! original deadline. At the deadline the worker writes the `OnTimeout` reply (`*-1`/`_`
//! for BLPOP, `$-1`/`_` for BLMOVE) and the connection goes on with its next request.
//! Right after registering, the request is re-run once more, so a push that raced with the
//! registration is never missed. The writer's connection runs its next request only after
//! every client its command woke (and those their re-runs woke) has been served, as in
//! Redis ([`blocking::Chain`]).
//!
//! # Keyspace notifications
//! `ctx.notify(class, event, db, key)` is one relaxed atomic load when
//! `notify-keyspace-events` is empty (see [`notify`]).

pub mod blocking;
pub mod hangups;
pub mod limits;
pub mod monitor;
pub mod notify;
pub mod observed;
pub mod pubsub;
pub mod redact;
pub mod tracking;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use mio::Waker;

use crate::directives::Directives;
use observed::Observed;
use parking_lot::{Mutex, MutexGuard};

pub use blocking::{OnTimeout, Wait};
pub use limits::{OutputClass, OutputLimit, OutputLimits, ReplyBufferPolicy};
pub use pubsub::{Delivery, Fanout, Kind, Payload, Published, Reach};

/// False in a build with the `bench-no-observe` feature: the request path's checks for
/// MONITOR, `watch`, tracking, keyspace events, CLIENT PAUSE, the slow log and the latency
/// monitor's threshold are compiled out, to measure what they cost when nothing is active
/// (scripts/bench.d/pubsub.py `idle`). What Redis 7 also does for every command by default
/// stays in that build: INFO commandstats and the per-command latency histograms
/// (`latency-tracking yes`). Never set in a real build.
pub const OBSERVE: bool = !cfg!(feature = "bench-no-observe");

/// Message bytes one worker's mailbox may hold before messages are dropped (and their
/// receivers disconnected as too slow).
pub const MAILBOX_BYTES: usize = 256 << 20;

thread_local! {
    /// The worker running on this thread, so posts to its own mailbox skip the wake.
    static CURRENT_WORKER: Cell<usize> = const { Cell::new(usize::MAX) };
    /// This worker's event-loop turn, and the turn it last looked for hang-ups in.
    static TURN: Cell<u64> = const { Cell::new(1) };
    static HANGUPS_SEEN: Cell<u64> = const { Cell::new(0) };
}

/// A worker starts a turn (after its poll): counts of subscribers look for hang-ups
/// ([`hangups`]) at most once a turn.
pub fn turn_begin() {
    TURN.with(|t| t.set(t.get() + 1));
}

/// Marks this thread as worker `id` (called once by each worker thread).
pub fn set_current_worker(id: usize) {
    CURRENT_WORKER.with(|c| c.set(id));
}

fn current_worker() -> usize {
    CURRENT_WORKER.with(|c| c.get())
}

/// Bits of `ClientInfo::flags`.
pub mod flag {
    /// In a blocking command (CLIENT UNBLOCK can end it): `b` in CLIENT LIST.
    pub const BLOCKED: u32 = 1 << 0;
    /// Subscribed to a channel, pattern or shard channel: `P`.
    pub const PUBSUB: u32 = 1 << 1;
    /// MONITOR: `O`.
    pub const MONITOR: u32 = 1 << 2;
    /// CLIENT TRACKING on: `t`.
    pub const TRACKING: u32 = 1 << 3;
    /// Parked by CLIENT PAUSE.
    pub const PAUSED: u32 = 1 << 4;
    /// CLIENT NO-EVICT on: `e`.
    pub const NO_EVICT: u32 = 1 << 5;
    /// CLIENT NO-TOUCH on: `T`.
    pub const NO_TOUCH: u32 = 1 << 6;
    /// Inside MULTI: `x`.
    pub const MULTI: u32 = 1 << 7;
    /// Speaks RESP3 (`resp=3`).
    pub const RESP3: u32 = 1 << 8;
    /// Tracking redirects to a client that is gone: `R`.
    pub const TRACKING_BROKEN: u32 = 1 << 9;
    /// Tracking in BCAST mode: `B`.
    pub const TRACKING_BCAST: u32 = 1 << 10;
    /// Chosen by client eviction (`maxmemory-clients`), closing on its worker.
    pub const EVICTED: u32 = 1 << 11;
    /// A replica reading the replication stream (after SYNC / PSYNC): `S`.
    pub const REPLICA: u32 = 1 << 12;
}

/// Where a connection lives: its client id, its worker, and its slot on that worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    pub worker: u32,
    pub slot: u32,
    pub id: u64,
}

/// How CLIENT UNBLOCK ends a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unblock {
    /// As if the timeout had passed.
    Timeout,
    /// `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
}

/// What one connection is told.
#[derive(Clone, Debug)]
pub enum Event {
    Message(Delivery),
    /// A channel message for a run of subscribers on the receiving worker (one event per
    /// worker per PUBLISH; the `Posted::to` of it is the run's first subscriber).
    Fanout(Fanout),
    /// MONITOR or `watch` lines, and how many `watch` lines they are (MONITOR's are not
    /// counted).
    Line(Arc<Vec<u8>>, u64),
    Wake,
    /// `Wake` sent by a command whose connection holds its next request until the woken
    /// re-run is done (see [`blocking::Chain`]).
    WakeLinked(blocking::Link),
    /// Every client a command of this connection woke has been served: run the next request.
    Resume,
    Unblock(Unblock),
    Kill,
    /// A message for this connection was dropped because its worker's mailbox was full.
    Overflow,
}

impl Event {
    /// Bytes this event holds against the mailbox bound.
    fn cost(&self) -> usize {
        match self {
            Event::Message(d) => d.msg.cost(),
            Event::Fanout(f) => f.msg.cost(),
            Event::Line(l, _) => l.len(),
            _ => 0,
        }
    }
}

/// An event on its way to a connection.
#[derive(Debug)]
pub struct Posted {
    pub to: Target,
    pub event: Event,
}

/// One worker's incoming events.
#[derive(Default)]
struct Mailbox {
    queue: Mutex<Vec<Posted>>,
    /// Message bytes queued (against [`MAILBOX_BYTES`]).
    bytes: AtomicUsize,
    /// Set by the first post after a drain; whoever sets it wakes the worker.
    notified: AtomicBool,
    waker: OnceLock<Arc<Waker>>,
}

impl Mailbox {
    fn wake(&self) {
        // A plain load first: while the worker has not drained, posts write nothing shared.
        if !self.notified.load(Ordering::Acquire) && !self.notified.swap(true, Ordering::AcqRel) {
            if let Some(w) = self.waker.get() {
                let _ = w.wake();
            }
        }
    }
}

/// CLIENT PAUSE state: until when (unix ms, 0 = not paused) and whether writes only.
#[derive(Default)]
pub struct Pause {
    until_ms: AtomicU64,
    writes_only: AtomicBool,
    /// Connections parked by the pause, woken by CLIENT UNPAUSE. Its lock is also taken
    /// by every change of `until_ms`, which keeps [`observed::PAUSE`] in step with it.
    parked: Mutex<Vec<Target>>,
    /// The hub's word: [`observed::PAUSE`] while `until_ms` is not 0.
    observed: Arc<Observed>,
}

impl Pause {
    fn observing(observed: Arc<Observed>) -> Pause {
        Pause {
            observed,
            ..Default::default()
        }
    }

    /// Whether a pause may be in force (false once one ended and was noticed): the
    /// memcached request path's check, before it reads the clock.
    #[inline]
    pub fn maybe(&self) -> bool {
        OBSERVE && self.until_ms.load(Ordering::Relaxed) != 0
    }

    /// The pause in force: `(until unix ms, writes only)`.
    pub fn active(&self, now_ms: u64) -> Option<(u64, bool)> {
        let until = self.until_ms.load(Ordering::Acquire);
        if until != 0 && until <= now_ms {
            // Over: later requests skip the clock (unless a new pause came meanwhile).
            let _parked = self.parked.lock();
            if self
                .until_ms
                .compare_exchange(until, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.observed.set(observed::PAUSE, false);
            }
        }
        (until > now_ms).then(|| (until, self.writes_only.load(Ordering::Relaxed)))
    }

    /// CLIENT PAUSE: a longer pause or a stricter mode replaces the one in force
    /// (Redis keeps the later end and the stricter mode).
    pub fn pause(&self, until_ms: u64, writes_only: bool, now_ms: u64) {
        let current = self.active(now_ms);
        let strict = current.is_some_and(|(_, w)| !w) || !writes_only;
        let end = current.map_or(until_ms, |(u, _)| u.max(until_ms));
        let _parked = self.parked.lock();
        self.writes_only.store(!strict, Ordering::Relaxed);
        self.until_ms.store(end, Ordering::Release);
        self.observed.set(observed::PAUSE, end != 0);
    }

    pub fn park(&self, who: Target) {
        self.parked.lock().push(who);
    }

    /// CLIENT UNPAUSE: ends the pause and returns the parked connections to wake.
    pub fn unpause(&self) -> Vec<Target> {
        let mut parked = self.parked.lock();
        self.until_ms.store(0, Ordering::Release);
        self.observed.set(observed::PAUSE, false);
        std::mem::take(&mut *parked)
    }
}

/// The shared half of every waiting connection: mailboxes, waiters, subscriptions.
pub struct Hub {
    mailboxes: Box<[Mailbox]>,
    /// Connections blocked on keys (BLPOP & co).
    pub waiters: blocking::Waiters,
    /// Channel, pattern and shard-channel subscriptions.
    pub pubsub: pubsub::Registry,
    /// `notify-keyspace-events`, kept current by its directive's listener.
    pub notify: Arc<notify::Flags>,
    /// `client-output-buffer-limit` (process-wide: see [`limits`]).
    pub limits: &'static OutputLimits,
    /// CLIENT PAUSE.
    pub pause: Pause,
    /// MONITOR and memcached `watch` connections.
    pub watchers: monitor::Watchers,
    /// CLIENT TRACKING.
    pub tracking: tracking::Tracking,
    /// Subscribers that hung up before their worker noticed.
    pub hangups: hangups::Hangups,
    /// Messages dropped because a mailbox was full.
    pub dropped: AtomicU64,
    /// `DEBUG PAUSE-CRON 1`: the once-a-second sweeps (tracking table limit, active
    /// expiry) are paused.
    pub cron_paused: AtomicBool,
    /// `DEBUG SET-ACTIVE-EXPIRE 0`: no active expiry (keys expire when read).
    pub active_expire_off: AtomicBool,
    /// Ticks of the server's 100 ms cron (Redis's `hz` 10), counted by the clock thread:
    /// workers run their connections' reply-buffer pass once per tick.
    pub cron: AtomicU32,
    /// `DEBUG REPLYBUFFER`: how reply buffers are resized.
    pub reply_buffer: ReplyBufferPolicy,
    /// Which of pause, tracking, MONITOR, `watch` and keyspace events are on ([`observed`]).
    /// Replication as a master: the replicas and the stream ([`crate::repl`]).
    pub repl: crate::repl::Replication,
    observed: Arc<Observed>,
}

impl Hub {
    pub fn new(workers: usize) -> Hub {
        let observed = Arc::new(Observed::default());
        Hub {
            mailboxes: (0..workers.max(1)).map(|_| Mailbox::default()).collect(),
            waiters: blocking::Waiters::default(),
            pubsub: pubsub::Registry::default(),
            notify: Arc::new(notify::Flags::observing(observed.clone())),
            limits: &limits::LIMITS,
            pause: Pause::observing(observed.clone()),
            watchers: monitor::Watchers::observing(observed.clone()),
            tracking: tracking::Tracking::observing(observed.clone()),
            hangups: hangups::Hangups::default(),
            dropped: AtomicU64::new(0),
            cron_paused: AtomicBool::new(false),
            active_expire_off: AtomicBool::new(false),
            cron: AtomicU32::new(0),
            reply_buffer: ReplyBufferPolicy::default(),
            repl: crate::repl::Replication::new(
                observed.clone(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            ),
            observed,
        }
    }

    /// The bits of the features that are on ([`observed`]): one relaxed load, 0 when
    /// nothing is.
    #[inline]
    pub fn observed(&self) -> u32 {
        self.observed.get()
    }

    /// Whether the background expiry cycle may run (`DEBUG SET-ACTIVE-EXPIRE`,
    /// `DEBUG PAUSE-CRON`).
    pub fn active_expire(&self) -> bool {
        !self.active_expire_off.load(Ordering::Relaxed) && !self.cron_paused.load(Ordering::Relaxed)
    }

    /// Follows the directives this module serves (`notify-keyspace-events`,
    /// `client-output-buffer-limit`): their values now, and every CONFIG SET after.
    pub fn follow(&self, directives: &Directives) {
        let flags = self.notify.clone();
        let set = move |v: &str| {
            flags.set(notify::parse(v.as_bytes()).unwrap_or(0));
            Ok(())
        };
        let _ = set(&directives.get("notify-keyspace-events").unwrap_or_default());
        directives.on_change("notify-keyspace-events", set);
        let apply = |v: &str| limits::LIMITS.apply(v);
        let _ = apply(
            &directives
                .get("client-output-buffer-limit")
                .unwrap_or_default(),
        );
        directives.on_change("client-output-buffer-limit", apply);
        let max = self.tracking.max_keys.clone();
        max.store(directives.int("tracking-table-max-keys"), Ordering::Relaxed);
        directives.on_change("tracking-table-max-keys", move |v| {
            max.store(v.parse().unwrap_or(0), Ordering::Relaxed);
            Ok(())
        });
        let period = self.repl.ping_period.clone();
        period.store(
            directives.int("repl-ping-replica-period") as u64,
            Ordering::Relaxed,
        );
        directives.on_change("repl-ping-replica-period", move |v| {
            period.store(v.parse().unwrap_or(10), Ordering::Relaxed);
            Ok(())
        });
    }

    /// The Pub/Sub and tracking lines of `INFO stats`.
    pub fn write_info_stats(&self, s: &mut Vec<u8>) {
        use pubsub::Space;
        use std::io::Write as _;
        let _ = write!(
            s,
            "pubsub_channels:{}\r\npubsub_patterns:{}\r\npubsub_shardchannels:{}\r\n\
             tracking_total_keys:{}\r\ntracking_total_items:{}\r\n\
             tracking_total_prefixes:{}\r\n",
            self.pubsub.channels(self, Space::Channel, None).len(),
            self.pubsub.numpat(self),
            self.pubsub.channels(self, Space::Shard, None).len(),
            self.tracking.total_keys(),
            self.tracking.total_items(),
            self.tracking.total_prefixes(),
        );
    }

    /// Gives worker `id`'s mailbox the waker of that worker's poll.
    pub fn install_waker(&self, worker: usize, waker: Arc<Waker>) {
        let _ = self.mailboxes[worker].waker.set(waker);
    }

    /// Wakes worker `id`'s poll (the AOF's fsync thread, when replies a worker held for
    /// an fsync may go out).
    pub fn wake_worker(&self, worker: usize) {
        if let Some(w) = self.mailboxes.get(worker).and_then(|m| m.waker.get()) {
            let _ = w.wake();
        }
    }

    /// How many of `list` (sorted by worker) hung up before their worker noticed: looked
    /// for only when some are on a worker other than this thread's ([`hangups`]).
    pub fn hung_up(&self, list: &[Target]) -> usize {
        let here = current_worker();
        let (Some(first), Some(last)) = (list.first(), list.last()) else {
            return 0;
        };
        if first.worker as usize == here && last.worker as usize == here {
            return 0;
        }
        // Once a turn is enough: a hang-up that came before a request this turn serves
        // came before the turn's poll returned.
        let turn = TURN.with(Cell::get);
        let look = here == usize::MAX || HANGUPS_SEEN.with(|s| s.replace(turn)) != turn;
        let any = if look {
            self.hangups.refresh()
        } else {
            self.hangups.any()
        };
        if !any {
            return 0;
        }
        list.iter().filter(|t| self.hangups.is_hung(t.id)).count()
    }

    /// Sends `event` to one connection.
    pub fn post(&self, to: Target, event: Event) {
        let mut out = Outbox::new(self);
        out.push(to, event);
    }

    /// Moves worker `id`'s queued events into `into` (which should be empty); false when
    /// there were none.
    pub fn take(&self, worker: usize, into: &mut Vec<Posted>) -> bool {
        let mb = &self.mailboxes[worker];
        mb.notified.store(false, Ordering::Release);
        let mut q = mb.queue.lock();
        if q.is_empty() {
            return false;
        }
        std::mem::swap(&mut *q, into);
        drop(q);
        let bytes: usize = into.iter().map(|p| p.event.cost()).sum();
        mb.bytes.fetch_sub(bytes, Ordering::Relaxed);
        true
    }

    /// Whether worker `id` has events queued (checked before it sleeps).
    pub fn has_mail(&self, worker: usize) -> bool {
        !self.mailboxes[worker].queue.lock().is_empty()
    }

    /// A write to `(db, key)` that may satisfy a blocked command: wakes the first waiter.
    /// Costs one fence and one atomic load when nobody waits on any key.
    #[inline]
    pub fn signal_key(self: &Arc<Self>, db: u8, key: &[u8]) {
        if self.waiters.anyone_waiting() {
            if let Some(t) = self.waiters.first(db, key) {
                self.post(t, Event::WakeLinked(blocking::link(self)));
            }
        }
    }
}

/// Posts events, holding one worker's mailbox lock across consecutive events for that
/// worker (subscriber lists are sorted by worker, so a fan-out locks each mailbox once).
pub struct Outbox<'a> {
    hub: &'a Hub,
    current: Option<(usize, MutexGuard<'a, Vec<Posted>>)>,
    here: usize,
}

impl<'a> Outbox<'a> {
    pub fn new(hub: &'a Hub) -> Outbox<'a> {
        Outbox {
            hub,
            current: None,
            here: current_worker(),
        }
    }

    pub fn push(&mut self, to: Target, event: Event) {
        let w = to.worker as usize;
        let Some(mb) = self.hub.mailboxes.get(w) else {
            return;
        };
        if self.current.as_ref().map(|c| c.0) != Some(w) {
            self.release();
            self.current = Some((w, mb.queue.lock()));
        }
        let cost = event.cost();
        if cost > 0 && mb.bytes.fetch_add(cost, Ordering::Relaxed) + cost > MAILBOX_BYTES {
            mb.bytes.fetch_sub(cost, Ordering::Relaxed);
            self.hub.dropped.fetch_add(1, Ordering::Relaxed);
            if let Some((_, q)) = self.current.as_mut() {
                // Each receiver of a dropped fan-out is told, as for a single message.
                match &event {
                    Event::Fanout(f) => q.extend(f.targets().iter().map(|&to| Posted {
                        to,
                        event: Event::Overflow,
                    })),
                    _ => q.push(Posted {
                        to,
                        event: Event::Overflow,
                    }),
                }
            }
            return;
        }
        if let Some((_, q)) = self.current.as_mut() {
            q.push(Posted { to, event });
        }
    }

    /// Unlocks the current mailbox and wakes its worker (unless it is this thread's).
    fn release(&mut self) {
        if let Some((w, guard)) = self.current.take() {
            drop(guard);
            if w != self.here {
                self.hub.mailboxes[w].wake();
            }
        }
    }
}

impl Drop for Outbox<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(worker: u32, slot: u32, id: u64) -> Target {
        Target { worker, slot, id }
    }

    #[test]
    fn events_arrive_in_post_order_per_worker() {
        let hub = Hub::new(2);
        hub.post(t(1, 0, 7), Event::Wake);
        hub.post(t(0, 3, 9), Event::Kill);
        hub.post(t(1, 2, 8), Event::Line(Arc::new(b"x".to_vec()), 1));
        let mut got = Vec::new();
        assert!(hub.take(1, &mut got));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].to, t(1, 0, 7));
        assert!(matches!(got[0].event, Event::Wake));
        assert!(matches!(got[1].event, Event::Line(..)));
        got.clear();
        assert!(hub.take(0, &mut got));
        assert!(matches!(got[0].event, Event::Kill));
        got.clear();
        assert!(!hub.take(0, &mut got));
        assert!(!hub.has_mail(1));
    }

    #[test]
    fn a_full_mailbox_turns_messages_into_overflow() {
        let hub = Hub::new(1);
        let big = Arc::new(vec![0u8; MAILBOX_BYTES]);
        hub.post(t(0, 0, 1), Event::Line(big.clone(), 1));
        hub.post(t(0, 0, 1), Event::Line(big, 1));
        hub.post(t(0, 0, 1), Event::Wake);
        let mut got = Vec::new();
        hub.take(0, &mut got);
        assert!(matches!(got[0].event, Event::Line(..)));
        assert!(matches!(got[1].event, Event::Overflow));
        assert!(matches!(got[2].event, Event::Wake));
        assert_eq!(hub.dropped.load(Ordering::Relaxed), 1);
        // Draining gives the room back.
        hub.post(t(0, 0, 1), Event::Line(Arc::new(b"ok".to_vec()), 1));
        got.clear();
        hub.take(0, &mut got);
        assert!(matches!(got[0].event, Event::Line(..)));
    }

    #[test]
    fn the_observed_word_follows_every_feature_on_and_off() {
        use monitor::stream;
        use observed::{MONITOR, NOTIFY, PAUSE, TRACKING, WATCH};
        let hub = Hub::new(2);
        assert_eq!(hub.observed(), 0);
        // CLIENT PAUSE: on, off when its end is noticed; on again, off at UNPAUSE.
        hub.pause.pause(1000, true, 100);
        assert_eq!(hub.observed(), PAUSE);
        assert!(hub.pause.active(999).is_some());
        assert_eq!(hub.observed(), PAUSE);
        assert_eq!(hub.pause.active(1000), None);
        assert_eq!(hub.observed(), 0);
        hub.pause.pause(5000, false, 100);
        assert_eq!(hub.observed(), PAUSE);
        hub.pause.unpause();
        assert_eq!(hub.observed(), 0);
        // Tracking: on while any client tracks.
        hub.tracking
            .enable(1, t(0, 1, 1), tracking::Options::default());
        hub.tracking
            .enable(2, t(1, 1, 2), tracking::Options::default());
        assert_eq!(hub.observed(), TRACKING);
        hub.tracking.disable(1);
        assert_eq!(hub.observed(), TRACKING);
        hub.tracking.disable(2);
        assert_eq!(hub.observed(), 0);
        // MONITOR and `watch`: each its own bit.
        hub.watchers.add(t(0, 2, 3), stream::MONITOR);
        assert_eq!(hub.observed(), MONITOR);
        hub.watchers
            .add(t(1, 2, 4), stream::FETCHERS | stream::MUTATIONS);
        assert_eq!(hub.observed(), MONITOR | WATCH);
        hub.watchers.remove(t(0, 2, 3));
        assert_eq!(hub.observed(), WATCH);
        hub.watchers.remove(t(1, 2, 4));
        assert_eq!(hub.observed(), 0);
        // Keyspace events: on when a channel and a class are; `K` alone publishes nothing.
        hub.notify.set(notify::parse(b"KEA").unwrap());
        assert_eq!(hub.observed(), NOTIFY);
        hub.notify.set(notify::parse(b"K").unwrap());
        assert_eq!(hub.observed(), 0);
        hub.notify.set(notify::parse(b"Ex").unwrap());
        assert_eq!(hub.observed(), NOTIFY);
        // All at once, then each off leaves the others.
        hub.pause.pause(5000, true, 100);
        hub.tracking
            .enable(1, t(0, 1, 1), tracking::Options::default());
        hub.watchers.add(t(0, 2, 3), stream::MONITOR);
        hub.watchers.add(t(1, 2, 4), stream::EVICTIONS);
        assert_eq!(hub.observed(), PAUSE | TRACKING | MONITOR | WATCH | NOTIFY);
        hub.notify.set(0);
        assert_eq!(hub.observed(), PAUSE | TRACKING | MONITOR | WATCH);
        hub.pause.unpause();
        assert_eq!(hub.observed(), TRACKING | MONITOR | WATCH);
        hub.watchers.remove(t(0, 2, 3));
        assert_eq!(hub.observed(), TRACKING | WATCH);
        hub.tracking.disable(1);
        hub.watchers.remove(t(1, 2, 4));
        assert_eq!(hub.observed(), 0);
    }

    #[test]
    fn pause_keeps_the_later_end_and_the_stricter_mode() {
        let p = Pause::default();
        assert_eq!(p.active(100), None);
        p.pause(1000, true, 100);
        assert_eq!(p.active(100), Some((1000, true)));
        p.pause(500, false, 100);
        assert_eq!(p.active(100), Some((1000, false)));
        p.pause(2000, true, 100);
        assert_eq!(p.active(100), Some((2000, false)));
        assert_eq!(p.active(2000), None);
        p.park(t(0, 1, 2));
        assert_eq!(p.unpause(), vec![t(0, 1, 2)]);
        assert_eq!(p.active(100), None);
    }
}
