//! One client connection: its socket, read and write buffers, protocol session, and the
//! loop that turns readable bytes into replies.
//!
//! A connection is in one of these states, derived from its flags rather than stored:
//! - reading: `readable` is set and the input holds no whole request; bytes are read.
//! - serving: whole requests are in the input; each goes to [`commands::process`], at most
//!   `-R` per turn, and its reply is appended to the write buffer.
//! - blocked on output: more than [`OUTPUT_LIMIT`] bytes are unsent; nothing is read or
//!   parsed until the socket drains (a writable event resumes the connection).
//! - parked: a request waits (`Session::wait`: a blocked BLPOP, a CLIENT PAUSE); its bytes
//!   stay in the input and nothing after it is parsed until a hub event (wake, unblock) or
//!   the worker's timer ends the wait.
//! - closing: a `Close`/`Shutdown` step, end of input (the peer's EOF, or server shutdown
//!   once the requests already read are answered) or a request larger than the read bound;
//!   the unsent replies are flushed, then the worker drops the connection. A connection
//!   killed (CLIENT KILL, output limit) drops its unsent output first.

use std::sync::atomic::Ordering;

use super::limits;
use super::stream::Stream;
use super::trace;
use crate::commands::{self, Context, Protocol, Session, Step};
use crate::hub::{blocking, flag, OnTimeout, Unblock};
use crate::stats::{self, ThreadStats};
use reply_buffer::ReplyBuffer;
use usage::Usage;

mod buffers;
mod output;
mod reply_buffer;
mod usage;

pub use output::SoftLimit;

/// Unsent output past which the connection stops reading (a client that does not read its
/// replies costs at most this much, plus one request's reply).
pub const OUTPUT_LIMIT: usize = 4 << 20;
/// Output is written as soon as this much is pending, even in the middle of a batch.
const FLUSH_AT: usize = 256 << 10;
/// The read buffer a connection starts with (memcached's 16 KiB).
const READ_CHUNK: usize = 16 << 10;
/// A RESP connection yields to the worker's others after `-R` requests only once it has
/// also used this much input in the turn: Redis serves each read (16 KiB) whole, and a
/// pipeline of transactions (7 requests each at `-P 16`) would otherwise yield, and
/// write its replies, six times per batch.
const RESP_TURN_BYTES: usize = READ_CHUNK;
/// A buffer is shrunk once its capacity is more than this many times what the connection
/// used in the current and the previous clock second: a connection that keeps sending
/// large values keeps its buffers, one that went back to small requests gives them back.
const SHRINK_FACTOR: usize = 4;
/// A connection that read nothing for this many clock seconds gives its empty buffers back.
pub const IDLE_RELEASE_SECS: u32 = 2;

/// What the worker does with a connection after a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Wait for the next readiness event.
    Wait,
    /// Whole requests are left over after `-R` of them: serve again after the others.
    Yield,
    /// Drop the connection (everything that could be sent was sent).
    Close,
    /// Drop the connection and stop the server (`shutdown` command).
    Shutdown,
}

pub struct Connection {
    pub stream: Stream,
    pub session: Session,
    /// Input: `rbuf[start..]` is unread by the protocol; reads append into spare capacity.
    rbuf: Vec<u8>,
    start: usize,
    /// `-I`: a pending memcache request may hold this plus its command line.
    item_size_max: usize,
    /// `proto-max-bulk-len`: a RESP request may hold one bulk this long, read as it arrives.
    resp_bulk_max: usize,
    /// Output: `wbuf[sent..]` is still to be written.
    wbuf: Vec<u8>,
    sent: usize,
    /// Bytes each buffer held at most recently, to decide when to shrink it.
    rbuf_use: Usage,
    wbuf_use: Usage,
    /// Capacities of `rbuf` and `wbuf` as last added to the server's buffer gauges.
    counted: (usize, usize, usize),
    /// Redis's reply buffer as `CLIENT LIST` shows it (`rbs=`, `rbp=`).
    reply: ReplyBuffer,
    /// The socket may have unread bytes (no `WouldBlock` since the last readable event).
    pub readable: bool,
    /// The last event reported a hang-up or error: read until the socket says so too.
    pub hangup: bool,
    /// The peer sent EOF; serve what was read, flush, close.
    peer_closed: bool,
    /// Flush, then close (and stop the server when `stop_server`).
    closing: bool,
    stop_server: bool,
    /// In the worker's yield queue.
    pub queued: bool,
    /// On the worker's poll (a connection is served once before it is registered, so
    /// that one which is already gone costs no registration).
    pub registered: bool,
    /// In the worker's list of connections that received hub events this turn.
    pub touched: bool,
    /// Served by [`Connection::serve_batched`]: replies wait for the worker's end of turn.
    batch: bool,
    /// Replies left for the end of the turn ([`Connection::write_batched`]).
    pub unflushed: bool,
    /// In the worker's list of subscribers whose messages wait for a write ([`super::linger`]).
    pub lingering: bool,
    /// Clock second the unsent output first went over its class's soft limit.
    soft_since: Option<u32>,
    /// Clock second of the last bytes read, for `idle_timeout`.
    pub last_active: u32,
    /// `bytes_in` when the connection last came to its worker (`-o worker_shuffle` moves
    /// only connections that read something since).
    pub mark: u64,
    /// Clock second this connection was last moved to its publishing's receivers
    /// (`Worker::pull_publishers`): at most once a second, so a publisher alternating
    /// between two workers' channels does not move every turn.
    pub pulled_at: Option<u32>,
    /// Clock second since which a partial request waits for the rest of its bytes
    /// (`client-request-timeout` closes a client that stalls half-way: slowloris).
    pub partial_since: Option<u32>,
    /// The chain of blocked clients the woken request belongs to ([`blocking::Chain`]).
    link: Option<blocking::Link>,
    /// A request of this connection woke blocked clients: run nothing more and send no
    /// reply until they are served ([`Event::Resume`]).
    held: bool,
    /// memcached `watch`: log lines skipped since the last one sent (buffer full).
    skipped: u64,
    /// A memcached request closed the connection (not `quit`): `watch connevents` reports
    /// the close as `reason=error`, as memcached does.
    error_close: bool,
}

impl Connection {
    /// `limits`: memcached's `-I` and RESP's `proto-max-bulk-len`.
    pub fn new(stream: Stream, session: Session, limits: (usize, usize), now: u32) -> Connection {
        let (item_size_max, resp_bulk_max) = limits;
        let mut session = session;
        session.memcache.allow_direct();
        ReplyBuffer::default().publish_new(&session.info.bufs);
        Connection {
            stream,
            session,
            rbuf: Vec::new(),
            start: 0,
            item_size_max,
            resp_bulk_max,
            wbuf: Vec::new(),
            sent: 0,
            rbuf_use: Usage::default(),
            wbuf_use: Usage::default(),
            counted: (0, 0, 0),
            reply: ReplyBuffer::default(),
            readable: true,
            hangup: false,
            peer_closed: false,
            closing: false,
            stop_server: false,
            queued: false,
            registered: false,
            touched: false,
            batch: false,
            unflushed: false,
            lingering: false,
            soft_since: None,
            last_active: now,
            mark: 0,
            pulled_at: None,
            partial_since: None,
            link: None,
            held: false,
            skipped: 0,
            error_close: false,
        }
    }

    /// Bytes of replies not yet written.
    pub fn unsent(&self) -> usize {
        let pinned = self.session.memcache.pinned.borrow().unsent();
        self.wbuf.len() - self.sent + pinned + usize::from(self.stream.tls_pending())
    }

    /// Whether `timeout` / `-o idle_timeout` leaves this connection open however long it is
    /// quiet, as Redis does: a subscriber, a MONITOR or memcached `watch` stream, or a
    /// client in a blocking command (which has its own timeout).
    pub fn exempt_from_idle_timeout(&self) -> bool {
        self.session
            .info
            .has_flag(flag::BLOCKED | flag::PUBSUB | flag::MONITOR)
    }

    /// Whether the connection may move to another worker now (between turns; see
    /// [`super::gather`]): only in the plain state. Not while anything outside the
    /// connection knows its place (subscriptions, MONITOR/`watch`, tracking, a parked or
    /// blocked request, a woken request's chain), inside MULTI, with requests left over
    /// after `-R`, a data block arriving into an item, replies unsent, or while closing.
    pub fn movable(&self) -> bool {
        const STAY: u32 = flag::BLOCKED
            | flag::PUBSUB
            | flag::MONITOR
            | flag::TRACKING
            | flag::PAUSED
            | flag::MULTI
            | flag::TRACKING_BROKEN
            | flag::TRACKING_BCAST
            | flag::EVICTED;
        let info = &self.session.info;
        self.registered
            && !self.queued
            && !self.touched
            && !self.held
            && self.link.is_none()
            && self.session.wait.is_none()
            && !(self.closing || self.peer_closed || self.hangup || self.stop_server)
            && info.flags.load(Ordering::Relaxed) & STAY == 0
            && !info.memcache_nread.load(Ordering::Relaxed)
            && self.unsent() == 0
    }

    /// It belongs on this worker (its last PUBLISH reached only subscribers of this worker,
    /// or it runs exclusive sections on worker 0 while they gather there: `pinned`,
    /// [`super::gather::Gather::pins_exclusive`]): it stays when workers spread or
    /// rebalance ([`super::gather`]).
    pub fn anchored(&self, pinned: bool) -> bool {
        self.session.resp.home().worker(pinned) == Some(self.session.worker)
    }

    /// The worker this connection belongs on (the one holding every receiver of its last
    /// PUBLISH, or worker 0 for a client of exclusive sections while `pinned`), when that
    /// is another one.
    pub fn publishes_to(&self, pinned: bool) -> Option<usize> {
        let home = self.session.resp.home().worker(pinned)?;
        (home != self.session.worker).then_some(home)
    }

    /// A request waits and nothing has woken it.
    pub fn parked(&self) -> bool {
        self.session.wait.as_ref().is_some_and(|w| !w.woken)
    }

    /// The parked request ran to an answer: leave the key queues, waking the next waiter.
    fn wait_served(&mut self, ctx: &Context) {
        if let Some(wait) = self.session.wait.take() {
            let who = self.session.info.target();
            ctx.hub.waiters.leave(&ctx.hub, who, &wait.keys, true);
            self.session
                .info
                .set_flag(flag::BLOCKED | flag::PAUSED, false);
        }
    }

    /// Ends the wait without running the request again: its deadline passed (`how` is
    /// `None`) or CLIENT UNBLOCK. A CLIENT PAUSE wait is only re-run. False when the
    /// connection was not waiting (or cannot be unblocked).
    pub fn end_wait(&mut self, ctx: &Context, how: Option<Unblock>) -> bool {
        let rerun = match &self.session.wait {
            None => return false,
            Some(w) => w.on_timeout == OnTimeout::Rerun,
        };
        if rerun && how.is_some() {
            return false;
        }
        let Some(wait) = self.session.wait.take() else {
            return false;
        };
        let who = self.session.info.target();
        ctx.hub.waiters.leave(&ctx.hub, who, &wait.keys, wait.woken);
        self.session
            .info
            .set_flag(flag::BLOCKED | flag::PAUSED, false);
        if rerun {
            return true;
        }
        let failed = matches!(how, Some(Unblock::Error));
        if self.session.protocol == Protocol::Resp {
            commands::resp::wait_ended(ctx, &self.session, failed);
        }
        if failed {
            self.wbuf
                .extend_from_slice(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
        } else {
            wait.on_timeout
                .write(self.session.resp.resp3(), &mut self.wbuf);
        }
        self.start += wait.consumed.min(self.rbuf.len() - self.start);
        if self.start == self.rbuf.len() {
            self.start = 0;
            self.rbuf.clear();
        }
        true
    }

    /// Ends a woken request's part in its chain; holds the connection when its request
    /// woke blocked clients (served before its next request, as Redis does).
    fn after_request(&mut self) {
        if let Some(chain) = blocking::after_request() {
            chain.hold(self.session.info.target());
            self.held = true;
        }
    }

    /// Server shutdown: read nothing more, answer the whole requests already read, write
    /// the replies, then close (as after the peer's EOF).
    pub fn finish(&mut self) {
        self.readable = false;
        self.peer_closed = true;
    }

    /// Serves the connection until it would block, has used its `budget` of requests, or
    /// must close.
    pub fn serve(&mut self, ctx: &Context, stats: &ThreadStats, budget: usize) -> Next {
        self.batch = false;
        self.serve_now(ctx, stats, budget)
    }

    /// As [`Connection::serve`], but a connection that waits for input with replies
    /// unsent leaves them for [`Connection::write_batched`] (sets `unflushed`): the worker
    /// writes every connection's replies at the end of its turn, as Redis does before it
    /// sleeps. The client then finds a turn's replies together (one wake-up and one
    /// `epoll_wait` for many) instead of one by one while the server still reads: at -P 1
    /// with 50 clients on 2 cores the client is the bottleneck and this is its CPU.
    pub fn serve_batched(&mut self, ctx: &Context, stats: &ThreadStats, budget: usize) -> Next {
        self.batch = true;
        self.serve_now(ctx, stats, budget)
    }

    /// Writes the replies [`Connection::serve_batched`] left (or decides to close).
    pub fn write_batched(&mut self, ctx: &Context, stats: &ThreadStats) -> Next {
        self.end_turn(ctx, stats, Next::Wait)
    }

    fn serve_now(&mut self, ctx: &Context, stats: &ThreadStats, budget: usize) -> Next {
        blocking::serving(self.link.take());
        // Time since another connection's commands is none of this one's.
        commands::timing::gap();
        let next = self.serve_turn(ctx, stats, budget);
        self.after_request();
        next
    }

    fn serve_turn(&mut self, ctx: &Context, stats: &ThreadStats, budget: usize) -> Next {
        let mut served = 0;
        let resp = self.session.protocol == Protocol::Resp;
        let mut used = 0;
        let trace = ctx.verbosity.load(Ordering::Relaxed);
        loop {
            if self.unsent() >= FLUSH_AT {
                // The limits first: a client over its hard limit gets none of its output.
                self.check_output(ctx);
                if !self.closing && self.flush(ctx, stats).is_err() {
                    return Next::Close;
                }
            }
            if self.closing {
                return self.end_turn(ctx, stats, Next::Wait);
            }
            if self.unsent() > OUTPUT_LIMIT {
                // Blocked on output: the writable event brings the connection back.
                return self.end_turn(ctx, stats, Next::Wait);
            }
            let mut need_input = false;
            while self.unsent() <= OUTPUT_LIMIT {
                if self.parked() || self.held {
                    // Keep reading, only to notice the peer leaving while it waits.
                    if self.readable && !self.peer_closed && self.fill(ctx, stats).is_err() {
                        self.closing = true;
                    }
                    if self.peer_closed {
                        self.closing = true;
                    }
                    if self.closing {
                        break;
                    }
                    return self.end_turn(ctx, stats, Next::Wait);
                }
                let input = &self.rbuf[self.start..];
                // A binary value that arrived whole into its item runs its command, using no
                // input (there may be none left).
                let completing = self.session.memcache.value_received();
                if input.is_empty() && !completing {
                    need_input = true;
                    break;
                }
                if served >= budget && !(resp && used < RESP_TURN_BYTES) {
                    // Requests are left: let the worker's other connections have a turn.
                    stats::bump(&stats.conn_yields);
                    if self.batch && !self.held {
                        // The replies so far wait for the turn's end (or FLUSH_AT), as
                        // Redis writes a pipeline's replies together: fewer writes, and
                        // the output limit sees the pipeline's output before any leaves.
                        self.unflushed = self.unsent() > 0;
                        return Next::Yield;
                    }
                    return self.end_turn(ctx, stats, Next::Yield);
                }
                let mark = self.wbuf.len();
                let swallowing = trace > 0 && self.session.memcache.swallowing();
                let step = commands::process(ctx, &mut self.session, input, &mut self.wbuf);
                if step == Step::Close {
                    self.error_close = !is_quit(self.session.protocol, input);
                }
                let avail = input.len();
                if trace > 0 && !swallowing {
                    let used = match step {
                        Step::Done(n) => Some(&input[..n.min(avail)]),
                        Step::Close | Step::Shutdown => Some(input),
                        Step::Blocked | Step::Incomplete => None,
                    };
                    if let Some(used) = used.filter(|u| !u.is_empty()) {
                        trace::request(trace, &mut self.session, used, &self.wbuf[mark..]);
                    }
                }
                if !matches!(step, Step::Blocked | Step::Incomplete) {
                    self.wait_served(ctx);
                }
                self.after_request();
                match step {
                    // Just registered (run again at once, so a write that raced with the
                    // registration is seen) or parked until an event or the deadline.
                    Step::Blocked => continue,
                    Step::Done(0) if completing => served += 1,
                    // Using nothing would serve the same bytes forever: wait for more.
                    Step::Incomplete | Step::Done(0) => {
                        if self.partial_since.is_none() {
                            self.partial_since = Some(ctx.store.clock().now());
                        }
                        need_input = true;
                        break;
                    }
                    Step::Done(n) => {
                        self.partial_since = None;
                        used += n;
                        self.start += n.min(avail);
                        if self.start == self.rbuf.len() {
                            self.start = 0;
                            self.rbuf.clear();
                        }
                        served += 1;
                    }
                    Step::Close => {
                        // Gone as soon as it decided to close (QUIT): clients redirecting
                        // their invalidations here learn it before the reply is read.
                        ctx.hub.tracking.target_gone(self.session.info.id);
                        self.closing = true;
                        break;
                    }
                    Step::Shutdown => {
                        self.closing = true;
                        self.stop_server = true;
                        break;
                    }
                }
            }
            if served > 0 {
                self.session
                    .info
                    .last_cmd
                    .store(ctx.store.clock().now(), Ordering::Relaxed);
            }
            if self.closing || !need_input {
                continue;
            }
            if self.peer_closed {
                // A partial request at EOF can never complete.
                self.closing = true;
                continue;
            }
            if !self.readable {
                if self.batch && !self.held && self.unsent() > 0 {
                    self.unflushed = true;
                    return Next::Wait;
                }
                return self.end_turn(ctx, stats, Next::Wait);
            }
            if self.fill(ctx, stats).is_err() {
                self.closing = true;
            }
        }
    }

    /// Writes replies held for the turn's fsync (see [`Connection::flush`]).
    pub fn flush_deferred(&mut self, ctx: &Context, stats: &ThreadStats) -> Next {
        self.end_turn(ctx, stats, Next::Yield)
    }

    /// Writes what it can and decides between `next` and closing.
    fn end_turn(&mut self, ctx: &Context, stats: &ThreadStats, next: Next) -> Next {
        self.unflushed = false;
        // The limits before the write, as Redis checks them as replies are added: a client
        // over its hard limit is closed before any of the turn's output goes out.
        if self.unsent() > 0 {
            self.check_output(ctx);
        }
        if self.flush(ctx, stats).is_err() {
            return self.closed();
        }
        if self.unsent() == 0 {
            self.soft_since = None;
        }
        self.trim(ctx.store.clock().now(), false);
        if self.count_buffers(&ctx.server) && limits::enforce(ctx, &self.session.info, 0) {
            self.kill(ctx);
        }
        self.publish_pending();
        if self.closing && self.unsent() == 0 {
            return self.closed();
        }
        next
    }

    /// What memcached's `watch connevents` says about this connection's close: `error`
    /// when a memcached request closed it (an HTTP request line, a line too long, a bad
    /// binary header), `normal` otherwise (EOF, `quit`).
    pub fn close_reason(&self) -> &'static str {
        if self.error_close {
            "error"
        } else {
            "normal"
        }
    }

    fn closed(&self) -> Next {
        if self.stop_server {
            Next::Shutdown
        } else {
            Next::Close
        }
    }
}

/// Whether the request that closed a connection was a quit (memcached `quit`, binary
/// QUIT/QUITQ; every RESP close counts as one).
fn is_quit(protocol: Protocol, request: &[u8]) -> bool {
    match protocol {
        Protocol::Resp => true,
        _ if request.first() == Some(&0x80) => matches!(request.get(1), Some(0x07 | 0x17)),
        _ => {
            request.starts_with(b"quit")
                && matches!(request.get(4), None | Some(b' ' | b'\r' | b'\n'))
        }
    }
}
