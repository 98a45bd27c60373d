//! One client connection: its socket, read and write buffers, protocol session, and the
//! loop that turns readable bytes into replies.
//!
//! A connection is in one of these states, derived from its flags rather than stored:
//! - reading: `readable` is set and the input holds no whole request; bytes are read.
//! - serving: whole requests are in the input; each goes to [`commands::process`], at most
//!   `-R` per turn, and its reply is appended to the write buffer.
//! - blocked on output: more than [`OUTPUT_LIMIT`] bytes are unsent; nothing is read or
//!   parsed until the socket drains (a writable event resumes the connection).
//! - closing: a `Close`/`Shutdown` step, end of input (the peer's EOF, or server shutdown
//!   once the requests already read are answered) or a request larger than the read bound;
//!   the unsent replies are flushed, then the worker drops the connection.

use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use crate::commands::{self, Context, Session, Step};
use crate::stats::{self, ThreadStats};

/// Unsent output past which the connection stops reading (a client that does not read its
/// replies costs at most this much, plus one request's reply).
pub const OUTPUT_LIMIT: usize = 4 << 20;
/// Output is written as soon as this much is pending, even in the middle of a batch.
const FLUSH_AT: usize = 256 << 10;
/// The read buffer a connection starts with and returns to when idle (memcached's 16 KiB).
const READ_CHUNK: usize = 16 << 10;
/// A write buffer larger than this is given back once it drains.
const WRITE_KEEP: usize = 64 << 10;
/// Bytes of command line and slack allowed beyond `-I` in one pending request.
const LINE_ALLOWANCE: usize = 64 << 10;

/// A connected socket of either family.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
        }
    }
}

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
    /// Input: `rbuf[start..end]` is unread by the protocol; `rbuf.len()` is the capacity.
    rbuf: Vec<u8>,
    start: usize,
    end: usize,
    /// Largest `rbuf` may grow: one pending request (`-I` plus its command line).
    read_limit: usize,
    /// Output: `wbuf[sent..]` is still to be written.
    wbuf: Vec<u8>,
    sent: usize,
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
    /// Clock second of the last bytes read, for `idle_timeout`.
    pub last_active: u32,
}

impl Connection {
    pub fn new(stream: Stream, session: Session, item_size_max: usize, now: u32) -> Connection {
        Connection {
            stream,
            session,
            rbuf: Vec::new(),
            start: 0,
            end: 0,
            read_limit: item_size_max.saturating_add(LINE_ALLOWANCE),
            wbuf: Vec::new(),
            sent: 0,
            readable: true,
            hangup: false,
            peer_closed: false,
            closing: false,
            stop_server: false,
            queued: false,
            last_active: now,
        }
    }

    /// Bytes of replies not yet written.
    pub fn unsent(&self) -> usize {
        self.wbuf.len() - self.sent
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
        let mut served = 0;
        loop {
            if self.unsent() >= FLUSH_AT && self.flush(stats).is_err() {
                return Next::Close;
            }
            if self.closing {
                return self.end_turn(stats, Next::Wait);
            }
            if self.unsent() > OUTPUT_LIMIT {
                // Blocked on output: the writable event brings the connection back.
                return self.end_turn(stats, Next::Wait);
            }
            let mut need_input = false;
            while self.unsent() <= OUTPUT_LIMIT {
                let input = &self.rbuf[self.start..self.end];
                if input.is_empty() {
                    need_input = true;
                    break;
                }
                if served == budget {
                    // Requests are left: let the worker's other connections have a turn.
                    stats::bump(&stats.conn_yields);
                    return self.end_turn(stats, Next::Yield);
                }
                let step = commands::process(ctx, &mut self.session, input, &mut self.wbuf);
                match step {
                    // Using nothing would serve the same bytes forever: wait for more.
                    Step::Incomplete | Step::Done(0) => {
                        need_input = true;
                        break;
                    }
                    Step::Done(n) => {
                        self.start += n.min(input.len());
                        if self.start == self.end {
                            self.start = 0;
                            self.end = 0;
                        }
                        served += 1;
                    }
                    Step::Close => {
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
                return self.end_turn(stats, Next::Wait);
            }
            if self.fill(ctx, stats).is_err() {
                self.closing = true;
            }
        }
    }

    /// Reads what the socket has, up to the free space (growing the buffer when a pending
    /// request needs it, never past `read_limit`).
    fn fill(&mut self, ctx: &Context, stats: &ThreadStats) -> io::Result<()> {
        if self.start > 0 && (self.end == self.rbuf.len() || self.start >= self.rbuf.len() / 2) {
            self.rbuf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.rbuf.len() {
            if self.rbuf.len() >= self.read_limit {
                if ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                    eprintln!(
                        "<{} request larger than {} bytes; closing",
                        self.session.info.id, self.read_limit
                    );
                }
                return Err(io::Error::other("request too large"));
            }
            let grown = (self.rbuf.len() * 2).clamp(READ_CHUNK, self.read_limit);
            self.rbuf.resize(grown, 0);
        }
        loop {
            match self.stream.read(&mut self.rbuf[self.end..]) {
                Ok(0) => {
                    self.peer_closed = true;
                    self.readable = false;
                    return Ok(());
                }
                Ok(n) => {
                    // A read that did not fill the space took everything queued, and bytes
                    // arriving later raise a new edge: skip the read that would only say
                    // WouldBlock (one system call per request saved, as tokio does). Not
                    // after a hang-up event, whose EOF raises no further edge.
                    if self.end + n < self.rbuf.len() && !self.hangup {
                        self.readable = false;
                    }
                    self.end += n;
                    stats::add(&stats.bytes_read, n as u64);
                    self.session
                        .info
                        .bytes_in
                        .fetch_add(n as u64, Ordering::Relaxed);
                    self.last_active = ctx.store.clock().now();
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.peer_closed = true;
                    self.readable = false;
                    return Err(e);
                }
            }
        }
    }

    /// Writes unsent output until done or the socket is full.
    fn flush(&mut self, stats: &ThreadStats) -> io::Result<()> {
        while self.sent < self.wbuf.len() {
            match self.stream.write(&self.wbuf[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    stats::add(&stats.bytes_written, n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.wbuf.clear();
        self.sent = 0;
        if self.wbuf.capacity() > WRITE_KEEP {
            self.wbuf.shrink_to(WRITE_KEEP);
        }
        Ok(())
    }

    /// Writes what it can and decides between `next` and closing.
    fn end_turn(&mut self, stats: &ThreadStats, next: Next) -> Next {
        if self.flush(stats).is_err() {
            return self.closed();
        }
        if self.start == self.end && self.rbuf.len() > READ_CHUNK {
            self.rbuf = vec![0; READ_CHUNK];
            self.start = 0;
            self.end = 0;
        }
        if self.closing && self.unsent() == 0 {
            return self.closed();
        }
        next
    }

    fn closed(&self) -> Next {
        if self.stop_server {
            Next::Shutdown
        } else {
            Next::Close
        }
    }
}
