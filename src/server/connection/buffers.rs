//! The connection's read and write buffers: reading the socket into spare capacity (and
//! large values straight into their items), writing replies (and pinned values), giving
//! back capacity recent use does not need, and keeping the server's buffer gauges and
//! `CLIENT LIST`'s figures up to date.

use std::io::{self, Write};
use std::sync::atomic::Ordering;

use super::reply_buffer::Resize;
use super::{Connection, READ_CHUNK};
use crate::commands::{self, Context, Protocol};
use crate::hub::flag;
use crate::server::limits;
use crate::server::stream::{read_into_spare, receive_direct, Stream};
use crate::server::trace;
use crate::stats::{self, ServerStats, ThreadStats};

/// Bytes of command line and slack allowed beyond `-I` in one pending request.
const LINE_ALLOWANCE: usize = 64 << 10;
/// The least a RESP request may grow to. Redis's client-query-buffer-limit is 1 GiB, but
/// one worker serves thousands of connections and a value larger than `-I` is refused
/// anyway: 64 MiB holds an `MSET` of 64 values of the default 1 MB `-I` (or of any mix
/// of large values clients send in one request) while one client can pin at most this much.
const RESP_READ_FLOOR: usize = 64 << 20;

impl Connection {
    /// `-I` plus a command line for memcache; RESP requests (`MSET` of several values) may
    /// hold more, up to [`RESP_READ_FLOOR`] or one `proto-max-bulk-len` bulk and a line, as
    /// bytes arrive (a client's claimed length is never allocated up front).
    /// Redis's `client-query-buffer-limit` caps a RESP client's pending input as well.
    fn read_limit(&self, ctx: &Context) -> usize {
        match self.session.protocol {
            Protocol::Resp => {
                let query_max = usize::try_from(ctx.directives.int("client-query-buffer-limit"))
                    .unwrap_or(usize::MAX);
                RESP_READ_FLOOR
                    .max(self.resp_bulk_max.saturating_add(LINE_ALLOWANCE))
                    .min(query_max)
            }
            _ => self.item_size_max.saturating_add(LINE_ALLOWANCE),
        }
    }

    /// Reads what the socket has into the buffer's spare capacity (growing the buffer when
    /// a pending request fills it, never past [`Connection::read_limit`]).
    pub(super) fn fill(&mut self, ctx: &Context, stats: &ThreadStats) -> io::Result<()> {
        if self.session.info.has_flag(flag::EVICTED) {
            // Chosen by another connection's eviction pass: stop reading at once.
            return Err(self.evicted(ctx));
        }
        let capacity = self.rbuf.capacity();
        if self.start > 0 && (self.rbuf.len() == capacity || self.start >= capacity / 2) {
            self.rbuf.drain(..self.start);
            self.start = 0;
        }
        if self.rbuf.len() == self.rbuf.capacity() {
            let limit = self.read_limit(ctx);
            if self.rbuf.len() >= limit {
                if ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                    let what = format!("request larger than {limit} bytes; closing");
                    trace::event(&self.session.info, &what);
                }
                return Err(io::Error::other("request too large"));
            }
            let grown = (self.rbuf.capacity() * 2).clamp(READ_CHUNK, limit);
            let growth = (grown - self.rbuf.capacity()) as u64;
            if limits::enforce(ctx, &self.session.info, growth) {
                // The largest client while all of them hold too much: closed, not grown.
                return Err(self.evicted(ctx));
            }
            self.rbuf.reserve_exact(grown - self.rbuf.len());
            // Counted now, not at the end of the turn: one turn may grow the buffer many
            // times, and client eviction must see each client's real size.
            self.count_buffers(&ctx.server);
        }
        // No command runs while this worker reads: scripts on other workers need not wait.
        ctx.gates.pause();
        commands::timing::gap();
        loop {
            let mut space = self.rbuf.capacity() - self.rbuf.len();
            let fd = self.stream.fd();
            let plain = matches!(self.stream, Stream::Tcp(_) | Stream::Unix(_));
            let sink = self.session.memcache.value_sink();
            let read = match sink {
                // A large value being received goes straight into its item.
                Some(sink) if plain && self.start == self.rbuf.len() => {
                    receive_direct(&ctx.store, sink, fd, &mut self.rbuf).map(|(n, offered)| {
                        space = offered;
                        n
                    })
                }
                _ => read_into_spare(&mut self.stream, &mut self.rbuf),
            };
            match read {
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
                    // TLS: drained when rustls holds nothing more and its last socket read
                    // was short.
                    let drained = match &self.stream {
                        Stream::Tls(tls) => tls.exhausted(),
                        _ => n < space,
                    };
                    if drained && !self.hangup {
                        self.readable = false;
                    }
                    let now = ctx.store.clock().now();
                    self.rbuf_use.note(now, self.rbuf.len() - self.start);
                    stats::add(&stats.bytes_read, n as u64);
                    self.session
                        .info
                        .bytes_in
                        .fetch_add(n as u64, Ordering::Relaxed);
                    self.last_active = now;
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

    /// Closed by client eviction: drops its input and output now (their memory is what
    /// the limit is about), then closes.
    fn evicted(&mut self, ctx: &Context) -> io::Error {
        self.kill(ctx);
        self.rbuf = Vec::new();
        self.start = 0;
        self.wbuf = Vec::new();
        self.count_buffers(&ctx.server);
        io::Error::other("evicted (maxmemory-clients)")
    }

    /// Writes unsent output until done or the socket is full.
    pub(super) fn flush(&mut self, ctx: &Context, stats: &ThreadStats) -> io::Result<()> {
        if self.held {
            // As Redis, which writes replies after serving the clients a command woke: a
            // client that reads this reply sees their effects (LPUSH, then WATCH/EXEC on the
            // key a woken BRPOPLPUSH wrote). Event::Resume flushes.
            return Ok(());
        }
        // `appendfsync always`: replies wait for the fsync of their records (the worker
        // flushes them once it is done; persist::group).
        let slot = self.session.info.place.load(Ordering::Relaxed) & 0xffff_ffff;
        if crate::persist::group::defer_reply(slot as usize) {
            return Ok(());
        }
        ctx.gates.pause();
        commands::timing::gap();
        self.stream.send_records()?;
        self.reply.note(self.wbuf.len(), &self.session.info.bufs);
        if self.sent < self.wbuf.len() {
            let now = ctx.store.clock().now();
            self.wbuf_use.note(now, self.wbuf.len() - self.sent);
        }
        if !self.session.memcache.pinned.get_mut().is_empty() {
            self.flush_pinned(ctx, stats)?;
            if !self.session.memcache.pinned.get_mut().is_empty() {
                // The socket is full before a pinned value went out whole.
                return Ok(());
            }
        }
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
        Ok(())
    }

    /// Writes the output while values of it are sent from pinned items (vectored writes of
    /// the buffer and the items' pieces; see `commands::memcache::send`). Returns with the
    /// pins all written, or when the socket is full.
    fn flush_pinned(&mut self, ctx: &Context, stats: &ThreadStats) -> io::Result<()> {
        let pinned = self.session.memcache.pinned.get_mut();
        while !pinned.is_empty() {
            let mut iov = [io::IoSlice::new(&[]); 64];
            let n = pinned.gather(&ctx.store, &self.wbuf, self.sent, &mut iov);
            match self.stream.write_vectored(&iov[..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    pinned.advance(&ctx.store, &mut self.sent, n);
                    stats::add(&stats.bytes_written, n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Publishes the unsent output and unread input for `CLIENT LIST` (stored only when
    /// they changed; after the capacities, so a reader that sees these sees those).
    pub(super) fn publish_pending(&self) {
        let unsent = self.unsent() as u64;
        let info = &self.session.info;
        if info.unsent.load(Ordering::Relaxed) != unsent {
            let written = if unsent > 0 { self.sent as u64 } else { 0 };
            info.bufs.written.store(written, Ordering::Relaxed);
            info.unsent.store(unsent, Ordering::Release);
        }
        let unread = (self.rbuf.len() - self.start) as u64;
        if info.bufs.unread.load(Ordering::Relaxed) != unread {
            info.bufs.unread.store(unread, Ordering::Release);
        }
    }

    /// Gives back the capacity of empty buffers the connection has not needed lately
    /// (all of it when `idle`), so that only connections moving large values hold large
    /// buffers.
    pub fn trim(&mut self, now: u32, idle: bool) {
        if self.start == self.rbuf.len() {
            if let Some(keep) = self.rbuf_use.keep(now, self.rbuf.capacity(), idle) {
                self.rbuf.clear();
                self.start = 0;
                self.rbuf.shrink_to(keep);
            }
        }
        if self.sent == self.wbuf.len() && self.session.memcache.pinned.get_mut().is_empty() {
            if let Some(keep) = self.wbuf_use.keep(now, self.wbuf.capacity(), idle) {
                self.wbuf.clear();
                self.sent = 0;
                self.wbuf.shrink_to(keep);
            }
        }
    }

    /// Brings the server's buffer gauges up to date with this connection's capacities
    /// (shared atomics, touched only when a capacity changed). True when they grew.
    pub fn count_buffers(&mut self, server: &ServerStats) -> bool {
        let now = (
            self.rbuf.capacity(),
            self.wbuf.capacity(),
            self.stream.session_bytes(),
        );
        let before = self.counted;
        if now == before {
            return false;
        }
        let held = (now.0 + now.1 + now.2) as u64;
        let info = &self.session.info;
        info.mem.store(held, Ordering::Relaxed);
        info.bufs.read_cap.store(now.0 as u64, Ordering::Relaxed);
        info.bufs.write_cap.store(now.1 as u64, Ordering::Relaxed);
        let held = |bytes: usize| usize::from(bytes > 0);
        ServerStats::shift(&server.read_buf_count, held(before.0), held(now.0));
        ServerStats::shift(&server.read_buf_bytes, before.0, now.0);
        ServerStats::shift(&server.response_obj_count, held(before.1), held(now.1));
        ServerStats::shift(&server.response_obj_bytes, before.1, now.1);
        ServerStats::shift(&server.tls_session_bytes, before.2, now.2);
        self.counted = now;
        now.0 + now.1 + now.2 > before.0 + before.1 + before.2
    }

    /// The 100 ms pass over the modelled reply buffer ([`super::reply_buffer`]) at
    /// `now_ms`. True while a later pass could still change it without new output.
    pub fn resize_reply_buffer(&mut self, now_ms: u64, ctx: &Context, stats: &ThreadStats) -> bool {
        let pending = if self.sent < self.wbuf.len() {
            self.wbuf.len()
        } else {
            0
        };
        let policy = &ctx.hub.reply_buffer;
        let (resize, due) = self
            .reply
            .cron(now_ms, pending, policy, &self.session.info.bufs);
        match resize {
            Resize::Shrunk => stats::bump(&stats.reply_buffer_shrinks),
            Resize::Expanded => stats::bump(&stats.reply_buffer_expands),
            Resize::None => {}
        }
        due
    }

    /// Takes the connection's buffers out of the server's gauges (it is being dropped).
    pub fn uncount_buffers(&mut self, server: &ServerStats) {
        self.rbuf = Vec::new();
        self.wbuf = Vec::new();
        self.stream.end_session();
        self.count_buffers(server);
    }
}
