//! mio event loops, listeners, connections, buffers, limits, timeouts.
//!
//! ```text
//!  main thread: acceptor Poll ── listeners (-l × -p, --resp-port, -s)
//!      │  accept until WouldBlock; past -c: "ERROR Too many open connections" (RESP:
//!      │  "-ERR max number of clients reached"), close; or, with no_maxconns_fast or out
//!      │  of descriptors, stop accepting until one closes (listen_disabled_num)
//!      │  registers ClientInfo, round-robin Handoff over a channel + Waker
//!      ▼
//!  worker 0..-t: own Poll, Slab<Connection> by Token, yield queue
//!      │  readable → read → commands::process (≤ -R per turn) → one write
//!      ▼
//!  clock thread: Clock::tick + Store::maintain once a second
//!  signal thread: sigwait(SIGTERM, SIGINT) → Lifecycle::stop
//! ```
//!
//! # One acceptor, not SO_REUSEPORT per worker
//! New connections reach workers through one acceptor and a channel plus a `mio::Waker`,
//! as memcached's dispatcher does. SO_REUSEPORT spreads connections by a hash of the peer
//! address, so a handful of clients (a proxy, a benchmark with few connections) can land on
//! one worker while the others idle; round-robin hand-off spreads them evenly. It also keeps
//! `-c` exact (one thread counts), works the same for unix sockets, and costs one channel
//! send and one wake per connection, nothing per request. Connections are long-lived in
//! memcached deployments, so accept rate is not the bottleneck.
//!
//! # Bounds per connection
//! The read buffer starts at 16 KiB and grows (doubling) only while a pending request fills
//! it, up to `-I` plus 64 KiB of command line for memcache, and up to max(64 MiB, 2 × `-I`)
//! for RESP, whose `MSET`/`RPUSH` carry several values in one request (Redis allows 1 GiB;
//! see `RESP_READ_FLOOR` for why less); a request larger than that closes the connection.
//! A connection with more than 4 MiB of unsent replies is not read until the socket drains
//! (one reply may exceed it: a multi-get of many large values is built whole). All
//! connections' buffers together are bounded by `maxmemory-clients` ([`limits`]).
//!
//! Buffers keep their capacity while the connection uses it, so a client moving 100 KiB
//! values does not regrow (and fault in) its buffers on every request. A buffer is shrunk
//! when it is empty and more than 4 × the most it held in the current and previous clock
//! second, and a connection that read nothing for 2 s gives all its buffer memory back.
//! Reads go into the buffer's spare capacity, which is never zeroed first. `stats` reports
//! the buffers held under memcached's names (`read_buf_count`/`read_buf_bytes` for input,
//! `response_obj_count`/`response_obj_bytes` for output).
//!
//! # Shutdown
//! SIGTERM/SIGINT (or `shutdown` with `-A`): listeners close first, then every worker stops
//! reading, flushes the replies it owes (for up to 5 s), closes its connections and exits.

mod connection;
pub mod daemon;
pub mod gather;
pub mod limits;
mod linger;
pub mod metrics;
mod nest;
pub mod oom;
pub mod rebind;
pub mod signals;
mod stream;
pub mod tls;
mod tls_ciphers;
pub mod trace;
pub mod udp;
mod worker;

use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, UnixListener};
use mio::{Events, Interest, Poll, Token, Waker};

use crate::commands::{Context, Protocol};
use crate::config::Settings;
use crate::stats::ServerStats;
use gather::Gather;
use stream::Stream;
use worker::{Accepted, Handoff, Worker, WorkerHandle};

pub use connection::OUTPUT_LIMIT;

/// Reply to a connection over the `-c` limit (memcached's maxconns_fast).
const TOO_MANY_CONNECTIONS: &[u8] = b"ERROR Too many open connections\r\n";
/// The same on a RESP port (Redis's reply past `maxclients`).
const TOO_MANY_CLIENTS: &[u8] = b"-ERR max number of clients reached\r\n";
const ACCEPTOR_WAKER: Token = Token(usize::MAX);

/// A listener could not be set up; the message names the address.
#[derive(Debug, thiserror::Error)]
#[error("failed to listen on {addr}: {source}")]
pub struct BindError {
    pub addr: String,
    #[source]
    pub source: io::Error,
}

enum Socket {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// A bound listening socket and the protocol its connections start in.
pub struct Listener {
    socket: Socket,
    protocol: Protocol,
    /// Connections speak TLS (`-Z` on memcached ports, `tls-port` for RESP).
    tls: bool,
    local: String,
}

impl Listener {
    /// The start-up line for this listener: `tcp ADDR`, `resp ADDR` or `unix PATH`.
    pub fn describe(&self) -> String {
        let kind = match (&self.socket, self.protocol, self.tls) {
            (Socket::Unix(..), _, _) => "unix",
            (Socket::Tcp(_), Protocol::Resp, false) => "resp",
            (Socket::Tcp(_), Protocol::Resp, true) => "resp-tls",
            (Socket::Tcp(_), _, false) => "tcp",
            (Socket::Tcp(_), _, true) => "tls",
        };
        format!("{kind} {}", self.local)
    }

    /// Which RESP port this listener is (`port` or `tls-port`), if it is one.
    fn resp_kind(&self) -> Option<rebind::Kind> {
        match (&self.socket, self.protocol, self.tls) {
            (Socket::Tcp(_), Protocol::Resp, false) => Some(rebind::Kind::Plain),
            (Socket::Tcp(_), Protocol::Resp, true) => Some(rebind::Kind::Tls),
            _ => None,
        }
    }

    fn port(&self) -> u16 {
        self.local
            .parse::<SocketAddr>()
            .map(|a| a.port())
            .unwrap_or(0)
    }

    /// The name memcached's `stats` shows for the listener.
    fn stats_name(&self) -> String {
        match &self.socket {
            Socket::Tcp(_) => format!("tcp:{}", self.local),
            Socket::Unix(..) => format!("unix:{}", self.local),
        }
    }

    fn fd(&self) -> i32 {
        match &self.socket {
            Socket::Tcp(s) => s.as_raw_fd(),
            Socket::Unix(s, _) => s.as_raw_fd(),
        }
    }

    /// The unix socket's path, to remove at exit.
    pub fn unix_path(&self) -> Option<&PathBuf> {
        match &self.socket {
            Socket::Unix(_, p) => Some(p),
            Socket::Tcp(_) => None,
        }
    }
}

/// Binds every listener the settings ask for: `-s` (which turns the memcached TCP port
/// off, as in memcached), else `-p` on each `-l` address (none for `-p 0`), and `--resp-port` on each when
/// that flag was given.
pub fn bind(settings: &Settings) -> Result<Vec<Listener>, BindError> {
    let mut listeners = Vec::new();
    if let Some(path) = &settings.unix_socket {
        listeners.push(bind_unix(path, settings.unix_mask, settings.backlog)?);
    } else if settings.tcp_enabled {
        for addr in resolve(&settings.listen, settings.port)? {
            let mut l = bind_tcp(addr, settings.backlog, Protocol::Detect)?;
            l.tls = settings.tls.enabled;
            listeners.push(l);
        }
    }
    if settings.resp_enabled {
        for addr in resolve(&settings.listen, settings.resp_port)? {
            listeners.push(bind_tcp(addr, settings.backlog, Protocol::Resp)?);
        }
    }
    if let Some(port) = tls_port(settings) {
        for addr in resolve(&settings.listen, port)? {
            let mut l = bind_tcp(addr, settings.backlog, Protocol::Resp)?;
            l.tls = true;
            listeners.push(l);
        }
    }
    Ok(listeners)
}

/// Redis's `tls-port` when set (0 is off, as in Redis).
pub fn tls_port(settings: &Settings) -> Option<u16> {
    settings
        .directives
        .iter()
        .rev()
        .find(|(name, _)| name == "tls-port")
        .and_then(|(_, v)| v.parse().ok())
        .filter(|&p| p > 0)
}

pub(crate) fn resolve(hosts: &[String], port: u16) -> Result<Vec<SocketAddr>, BindError> {
    let mut out = Vec::new();
    for host in hosts {
        let found: Vec<SocketAddr> = if let Ok(a) = host.parse::<SocketAddr>() {
            vec![a]
        } else if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            vec![SocketAddr::new(ip, port)]
        } else {
            (host.as_str(), port)
                .to_socket_addrs()
                .map_err(|source| BindError {
                    addr: host.clone(),
                    source,
                })?
                .collect()
        };
        out.extend(found);
    }
    Ok(out)
}

/// Applies `-b`: std binds with its own backlog; listen(2) again resizes the queue.
fn set_backlog(fd: i32, backlog: i32) -> io::Result<()> {
    // SAFETY: listen(2) on a socket we own; no memory is passed.
    if unsafe { libc::listen(fd, backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn bind_tcp(addr: SocketAddr, backlog: i32, protocol: Protocol) -> Result<Listener, BindError> {
    let err = |source| BindError {
        addr: addr.to_string(),
        source,
    };
    let std = std::net::TcpListener::bind(addr).map_err(err)?;
    set_backlog(std.as_raw_fd(), backlog).map_err(err)?;
    std.set_nonblocking(true).map_err(err)?;
    let local = std.local_addr().map_err(err)?.to_string();
    Ok(Listener {
        socket: Socket::Tcp(TcpListener::from_std(std)),
        protocol,
        tls: false,
        local,
    })
}

fn bind_unix(path: &PathBuf, mask: u32, backlog: i32) -> Result<Listener, BindError> {
    let err = |source| BindError {
        addr: path.display().to_string(),
        source,
    };
    // A socket file left by an earlier run would make bind fail; memcached removes it too.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.file_type().is_socket() {
            let _ = std::fs::remove_file(path);
        }
    }
    // The socket file's mode comes from the umask at bind time (`-a`).
    // SAFETY: umask(2) only swaps the process's file mode mask; no memory is involved.
    let old = unsafe { libc::umask(!(mask as libc::mode_t) & 0o777) };
    let bound = std::os::unix::net::UnixListener::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let std = bound.map_err(err)?;
    set_backlog(std.as_raw_fd(), backlog).map_err(err)?;
    std.set_nonblocking(true).map_err(err)?;
    Ok(Listener {
        socket: Socket::Unix(UnixListener::from_std(std), path.clone()),
        protocol: Protocol::Detect,
        tls: false,
        local: path.display().to_string(),
    })
}

/// Whether the server is stopping, and how to wake the acceptor to notice.
pub struct Lifecycle {
    stopping: AtomicBool,
    acceptor: Waker,
}

impl Lifecycle {
    /// Wakes the acceptor (a listener change is waiting: [`rebind`]).
    pub(crate) fn wake(&self) {
        let _ = self.acceptor.wake();
    }

    /// Asks the server to stop (signal or `shutdown`); safe to call more than once.
    pub fn stop(&self) {
        if !self.stopping.swap(true, Ordering::AcqRel) {
            let _ = self.acceptor.wake();
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// The running server: listeners on the acceptor's poll, workers, clock thread.
pub struct Server {
    ctx: Arc<Context>,
    poll: Poll,
    listeners: Vec<Listener>,
    workers: Vec<WorkerHandle>,
    /// Which workers take new connections ([`gather`]).
    gather: Arc<Gather>,
    lifecycle: Arc<Lifecycle>,
    clock: std::thread::JoinHandle<()>,
}

impl Server {
    /// Starts the workers and the clock thread; connections are accepted by [`Server::run`].
    pub fn start(ctx: Arc<Context>, mut listeners: Vec<Listener>) -> io::Result<Server> {
        let poll = Poll::new()?;
        let lifecycle = Arc::new(Lifecycle {
            stopping: AtomicBool::new(false),
            acceptor: Waker::new(poll.registry(), ACCEPTOR_WAKER)?,
        });
        for (i, l) in listeners.iter_mut().enumerate() {
            watch(&poll, l, Token(i), true)?;
            ctx.memcache.add_listener(l.fd(), l.stats_name());
            if let Some(kind) = l.resp_kind() {
                if ctx.ports.get(kind) == 0 {
                    ctx.ports.set(kind, l.port());
                }
            }
        }
        ctx.ports.attach(lifecycle.clone());
        {
            let ports = ctx.ports.clone();
            ctx.directives.on_change("tls-port", move |v| {
                ports.change(rebind::Kind::Tls, v.parse().unwrap_or(0))
            });
        }
        let gather = Arc::new(Gather::new(
            ctx.settings.worker_gather,
            ctx.threads.len(),
            ctx.settings.worker_trial,
        ));
        ctx.server
            .workers_active
            .store(gather.active() as u64, Ordering::Relaxed);
        ctx.server
            .worker_exclusive_pinned
            .store(u64::from(gather.pins_exclusive()), Ordering::Relaxed);
        let workers = Worker::spawn_all(&ctx, &lifecycle, &gather)?;
        let clock = {
            let ctx = ctx.clone();
            let lifecycle = lifecycle.clone();
            let gather = gather.clone();
            std::thread::Builder::new()
                .name("slabd-clock".into())
                .spawn(move || {
                    use crate::storage::{Clock, EXPIRE_PERIOD};
                    while !lifecycle.is_stopping() {
                        // A tick just past each second, active expiry in between.
                        let tick = Clock::until_next_tick();
                        std::thread::park_timeout(tick.min(EXPIRE_PERIOD));
                        // DEBUG SET-ACTIVE-EXPIRE 0 / PAUSE-CRON 1 hold the background
                        // work (the crawler's reclaims with it); the clock still ticks.
                        let active = ctx.hub.active_expire();
                        if tick <= EXPIRE_PERIOD {
                            ctx.store.clock().tick();
                            if active {
                                ctx.store.maintain();
                            }
                        }
                        if active {
                            ctx.store.expire_cycle();
                        }
                        gather.tick(&ctx.server, &ctx.threads);
                        ctx.hub.cron.fetch_add(1, Ordering::Relaxed);
                    }
                })?
        };
        Ok(Server {
            ctx,
            poll,
            listeners,
            workers,
            gather,
            lifecycle,
            clock,
        })
    }

    pub fn lifecycle(&self) -> Arc<Lifecycle> {
        self.lifecycle.clone()
    }

    /// Accepts connections until the server is told to stop, then closes the listeners and
    /// waits for the workers to finish the replies in flight.
    pub fn run(mut self) -> io::Result<()> {
        yield_to_workers();
        let mut events = Events::with_capacity(64);
        let mut next_worker = 0;
        // Set while accepting is paused: out of file descriptors, or at `-c` with
        // `no_maxconns_fast`. Checked every 10 ms, as memcached's maxconns handler does.
        let mut paused: Option<Pause> = None;
        while !self.lifecycle.is_stopping() {
            let timeout = paused.is_some().then(|| Duration::from_millis(10));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            // CONFIG SET port / tls-port, also while accepting is paused.
            let ports = self.ctx.ports.clone();
            ports.serve(|kind, port| self.rebind(kind, port));
            let ready: Vec<usize> = if let Some(p) = &paused {
                if self.ctx.server.curr_connections.load(Ordering::Relaxed) >= p.resume_below {
                    continue;
                }
                self.resume(p);
                paused = None;
                // Connections queued meanwhile raise no new edge: try every listener.
                (0..self.listeners.len()).collect()
            } else {
                events
                    .iter()
                    .map(|e| e.token())
                    .filter(|t| *t != ACCEPTOR_WAKER)
                    .map(|t| t.0)
                    .collect()
            };
            let mut woken = 0u64;
            for i in ready {
                let pause = self.accept_all(i, &mut next_worker, &mut woken);
                if let Some(resume_below) = pause {
                    paused = Some(self.pause(resume_below));
                    break;
                }
            }
            // One wake per worker for all the connections this round handed it.
            for (i, w) in self.workers.iter().enumerate() {
                if woken & (1 << (i % 64)) != 0 {
                    let _ = w.waker.wake();
                }
            }
        }
        self.listeners.clear();
        for w in &self.workers {
            let _ = w.waker.wake();
        }
        for w in self.workers {
            let _ = w.thread.join();
        }
        self.clock.thread().unpark();
        let _ = self.clock.join();
        Ok(())
    }

    /// Stops accepting (memcached's `accept_new_conns(false)`): the listen queues shrink to
    /// nothing so that further clients wait in the kernel, not in slabd.
    fn pause(&self, resume_below: u64) -> Pause {
        let server = &self.ctx.server;
        ServerStats::inc(&server.listen_disabled_num);
        server.accept_paused.store(1, Ordering::Relaxed);
        for l in &self.listeners {
            let _ = set_backlog(l.fd(), 0);
        }
        if self.ctx.verbosity.load(Ordering::Relaxed) >= 1 {
            eprintln!("Too many open connections: not accepting until one closes");
        }
        Pause {
            since: std::time::Instant::now(),
            resume_below,
        }
    }

    fn resume(&self, p: &Pause) {
        let server = &self.ctx.server;
        for l in &self.listeners {
            let _ = set_backlog(l.fd(), self.ctx.settings.backlog);
        }
        let us = p.since.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
        server
            .time_in_listen_disabled_us
            .fetch_add(us, Ordering::Relaxed);
        server.accept_paused.store(0, Ordering::Relaxed);
    }

    /// Accepts until `WouldBlock`. `Some(n)`: accepting must pause until fewer than `n`
    /// connections are open (out of file descriptors, or at `-c` with `no_maxconns_fast`).
    /// Marks in `woken` (bit = worker index mod 64) the workers to wake afterwards.
    fn accept_all(&mut self, i: usize, next_worker: &mut usize, woken: &mut u64) -> Option<u64> {
        let listener = self.listeners.get(i)?;
        let server = &self.ctx.server;
        loop {
            let maxconns = self.ctx.maxconns.load(Ordering::Relaxed) as u64;
            let open = server.curr_connections.load(Ordering::Relaxed);
            if !self.ctx.settings.maxconns_fast && open >= maxconns {
                // Paused only once a client is actually waiting, as memcached's accept
                // failing for want of a descriptor does.
                return queued(listener.fd()).then_some(maxconns);
            }
            let accepted = match &listener.socket {
                Socket::Tcp(l) => match l.accept() {
                    Ok((s, _)) if gone(s.as_raw_fd()) => {
                        // Connected and left without a byte (a connection flood): closed
                        // here, at the acceptor's low priority, costing no worker anything.
                        ServerStats::inc(&server.total_connections);
                        continue;
                    }
                    Ok((s, peer)) => {
                        let _ = s.set_nodelay(true);
                        self.secure(listener, s).map(|s| (s, peer.to_string()))
                    }
                    Err(e) => Err(e),
                },
                Socket::Unix(l, path) => l
                    .accept()
                    .map(|(s, _)| (Stream::Unix(s), format!("unix:{}", path.display()))),
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    if self.ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                        eprintln!("Too many open connections (accept: {e})");
                    }
                    // Until one closes (at 0 open, a while: the limit is someone else's).
                    return Some(open.max(1));
                }
                Err(e) => {
                    // ECONNABORTED and the like concern one connection, not the listener.
                    if self.ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                        eprintln!("accept failed: {e}");
                    }
                    continue;
                }
            };
            if server.curr_connections.load(Ordering::Relaxed) >= maxconns {
                if self.ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                    eprintln!("Too many open connections: refused {peer}");
                }
                // Counted before the client can see the refusal (and ask `stats`).
                ServerStats::inc(&server.rejected_connections);
                reject(stream, listener.protocol);
                continue;
            }
            ServerStats::inc(&server.curr_connections);
            ServerStats::inc(&server.total_connections);
            let curr = server.curr_connections.load(Ordering::Relaxed);
            server
                .connection_structures
                .fetch_max(curr, Ordering::Relaxed);
            let now = self.ctx.store.clock().now();
            let info = self.ctx.clients.open(peer, listener.local.clone(), now);
            // Round-robin over the workers taking connections (all but while gathering).
            let active = self.gather.active().clamp(1, self.workers.len());
            let mut pick = *next_worker % active;
            if Some(pick) == self.ctx.gates.busy_worker() && self.workers.len() > 1 {
                // That worker is stuck in a busy script: SCRIPT KILL must reach another.
                pick = (pick + 1) % active.max(2);
            }
            let worker = &self.workers[pick];
            *next_worker = next_worker.wrapping_add(1);
            let handoff = Handoff::Accepted(Accepted {
                stream,
                protocol: listener.protocol,
                info,
            });
            if let Err(failed) = worker.handoffs.send(handoff) {
                // The worker is gone (it only exits when stopping): undo the bookkeeping.
                if let Handoff::Accepted(a) = failed.0 {
                    self.ctx.clients.close(a.info.id);
                }
                ServerStats::dec(&server.curr_connections);
                continue;
            }
            *woken |= 1 << (pick % 64);
        }
    }
}

impl Server {
    /// `CONFIG SET port` / `tls-port` ([`rebind`]): binds `port` on every `-l` address, then
    /// closes the listeners it replaces; on any failure the new sockets are dropped and the
    /// old listeners stay.
    fn rebind(&mut self, kind: rebind::Kind, port: u16) -> Result<(), String> {
        let tls = kind == rebind::Kind::Tls;
        let unable = |_| "Unable to listen on this port".to_string();
        let mut fresh = Vec::new();
        if port != 0 {
            if tls {
                self.ctx.tls.enable_resp()?;
            }
            for addr in resolve(&self.ctx.settings.listen, port).map_err(unable)? {
                let mut l =
                    bind_tcp(addr, self.ctx.settings.backlog, Protocol::Resp).map_err(unable)?;
                l.tls = tls;
                fresh.push(l);
            }
        }
        let (old, kept): (Vec<Listener>, Vec<Listener>) = std::mem::take(&mut self.listeners)
            .into_iter()
            .partition(|l| l.resp_kind() == Some(kind));
        for mut l in old {
            self.ctx.memcache.remove_listener(l.fd());
            let _ = match &mut l.socket {
                Socket::Tcp(s) => self.poll.registry().deregister(s),
                Socket::Unix(s, _) => self.poll.registry().deregister(s),
            };
        }
        self.listeners = kept;
        // Tokens are indexes: the kept listeners may have moved down.
        for (i, l) in self.listeners.iter_mut().enumerate() {
            watch(&self.poll, l, Token(i), false).map_err(|e| e.to_string())?;
        }
        for mut l in fresh {
            let token = Token(self.listeners.len());
            watch(&self.poll, &mut l, token, true).map_err(|e| e.to_string())?;
            self.ctx.memcache.add_listener(l.fd(), l.stats_name());
            if self.ctx.verbosity.load(Ordering::Relaxed) >= 1 {
                eprintln!("listening on {}", l.describe());
            }
            self.listeners.push(l);
        }
        self.ctx.ports.set(kind, port);
        Ok(())
    }

    /// A TLS listener's socket wrapped in a session with the current configuration.
    fn secure(&self, listener: &Listener, s: mio::net::TcpStream) -> io::Result<Stream> {
        if !listener.tls {
            return Ok(Stream::Tcp(s));
        }
        let config = match listener.protocol {
            Protocol::Resp => self.ctx.tls.resp(),
            _ => self.ctx.tls.memcache(),
        }
        .ok_or_else(|| io::Error::other("TLS is not configured"))?;
        Ok(Stream::Tls(Box::new(tls::TlsStream::new(s, config)?)))
    }
}

/// Puts a listener on the acceptor's poll under `token` (`new`), or moves it there.
fn watch(poll: &Poll, l: &mut Listener, token: Token, new: bool) -> io::Result<()> {
    let registry = poll.registry();
    match (&mut l.socket, new) {
        (Socket::Tcp(s), true) => registry.register(s, token, Interest::READABLE),
        (Socket::Tcp(s), false) => registry.reregister(s, token, Interest::READABLE),
        (Socket::Unix(s, _), true) => registry.register(s, token, Interest::READABLE),
        (Socket::Unix(s, _), false) => registry.reregister(s, token, Interest::READABLE),
    }
}

/// How many nice steps the acceptor runs below the workers. At 10 a thread gets about a
/// tenth of a CPU that a nice-0 thread also wants, enough to accept thousands of
/// connections a second on a saturated host; at 19 (1.5%) the flood was throttled harder
/// but so would be clients that connect per request while other processes load the host.
const ACCEPTOR_NICE: libc::c_int = 10;

/// Lowers the calling (acceptor) thread's scheduling priority [`ACCEPTOR_NICE`] steps
/// below the workers'. While the CPUs have time to spare this changes nothing; when they
/// are saturated, serving connected clients comes before accepting new ones. Under a
/// connection flood the acceptor then falls behind, the listen queue (`-b`) fills, and
/// the kernel drops further SYNs, so the flooder waits for its SYN retransmit instead of
/// taking CPU time from the clients being served. The cost is on new connections only:
/// on a saturated machine they wait longer to be accepted.
fn yield_to_workers() {
    // SAFETY: getpriority/setpriority with who = 0 act on the calling thread (Linux keeps
    // the nice value per thread); no memory is passed. A failure leaves the priority as it
    // was. getpriority's -1 may be an error or nice -1; either way the result is clamped.
    unsafe {
        let current = libc::getpriority(libc::PRIO_PROCESS, 0);
        let lower = (current + ACCEPTOR_NICE).clamp(-20, 19);
        libc::setpriority(libc::PRIO_PROCESS, 0, lower);
    }
}

/// Tells a connection over the limit why, in its port's protocol, then closes it.
fn reject(mut stream: Stream, protocol: Protocol) {
    let why = match protocol {
        Protocol::Resp => TOO_MANY_CLIENTS,
        _ => TOO_MANY_CONNECTIONS,
    };
    // A fresh socket's send buffer is empty, so this short write does not block.
    let _ = stream.write(why);
}

/// Whether an accepted socket's peer already closed without sending anything.
fn gone(fd: i32) -> bool {
    let mut byte = 0u8;
    // SAFETY: recv(2) peeks at most one byte into a local the pointer is valid for; the
    // descriptor is the socket just accepted, owned by the caller.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n == 0
}

/// Whether a listening socket has a connection waiting to be accepted.
fn queued(fd: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: poll(2) on one pollfd we own, with no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & libc::POLLIN != 0
}

/// Accepting paused since then, until fewer than `resume_below` connections are open.
struct Pause {
    since: std::time::Instant,
    resume_below: u64,
}
