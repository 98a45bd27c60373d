//! The event loop: one `mio::Poll` per thread driving that thread's share of the
//! connections, closed loop (the next request leaves when a reply arrives) or open loop
//! (requests leave on a fixed schedule whatever the replies, and latency counts from the
//! scheduled time, so a stalled server is charged for every request it delayed).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use crate::histogram::Histogram;
use crate::keyspace::{Keyspace, Rng};
use crate::link::Link;
use crate::output::{Output, Sent, SPLICE_MIN};
use crate::wire::{self, Expect, KeyOutcome, Protocol, ReplyReader, Step, WireError};

/// The most keys one multi-get may name.
pub const MAX_MULTIGET: usize = 100;
/// Requests one connection may have in flight in open loop; schedule slots beyond it are
/// counted as missed rather than queued without bound.
const MAX_IN_FLIGHT: usize = 4096;
/// Requests in flight per connection while preloading keys.
const WARM_DEPTH: usize = 16;
/// How long in-flight replies may take to arrive after the run stops issuing.
const DRAIN: Duration = Duration::from_secs(3);
const INPUT_BUFFER: usize = 256 * 1024;
const TIMER: Token = Token(usize::MAX);

pub enum Stop {
    After(Duration),
    Requests(u64),
}

pub struct Workload {
    pub addr: SocketAddr,
    pub proto: Protocol,
    pub keyspace: Keyspace,
    pub get_ratio: f64,
    pub multiget: usize,
    pub pipeline: usize,
    pub cache_aside: bool,
    /// Requests per second over all connections (open loop); `None` is closed loop.
    pub rate: Option<f64>,
    pub stop: Stop,
    /// Hard bound on the measured phase, whatever `stop` says.
    pub max_time: Duration,
    pub conns: usize,
    pub warm: bool,
    pub seed: u64,
    /// Value bytes; a set of size n sends the first n.
    pub value: Vec<u8>,
    /// TLS client configuration, when the server is spoken to over TLS.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

#[derive(Debug)]
pub enum LoadError {
    Io(io::Error),
    Closed,
    Wire(WireError),
    UnsolicitedReply,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "{e}"),
            LoadError::Closed => write!(f, "server closed a connection"),
            LoadError::Wire(e) => write!(f, "{e}"),
            LoadError::UnsolicitedReply => write!(f, "reply bytes with no request in flight"),
        }
    }
}

impl From<io::Error> for LoadError {
    fn from(e: io::Error) -> Self {
        LoadError::Io(e)
    }
}

/// What one thread counted in the measured phase.
#[derive(Default)]
pub struct Tally {
    pub latency: Histogram,
    /// Open loop: how late each request left after its scheduled time. Large values mean
    /// the client, not the server, was behind (a busy or oversubscribed machine).
    pub send_lag: Histogram,
    /// Replies that arrived before the run stopped issuing.
    pub completed: u64,
    pub gets: u64,
    pub sets: u64,
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    pub warm_errors: u64,
    /// Open-loop slots skipped because a connection had `MAX_IN_FLIGHT` outstanding.
    pub missed_slots: u64,
    /// Requests still without a reply when the drain time ran out.
    pub unfinished: u64,
    pub elapsed: Duration,
}

impl Tally {
    pub fn merge(&mut self, o: &Tally) {
        self.latency.merge(&o.latency);
        self.send_lag.merge(&o.send_lag);
        self.completed += o.completed;
        self.gets += o.gets;
        self.sets += o.sets;
        self.hits += o.hits;
        self.misses += o.misses;
        self.errors += o.errors;
        self.warm_errors += o.warm_errors;
        self.missed_slots += o.missed_slots;
        self.unfinished += o.unfinished;
        self.elapsed = self.elapsed.max(o.elapsed);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warm,
    Measure,
}

struct Pending {
    /// Scheduled time in open loop, the time it was queued in closed loop.
    sent: Instant,
    expect: Expect,
    /// Keys of this get whose fate is not yet known.
    keys_left: usize,
}

struct Conn {
    stream: Link,
    out: Output,
    input: Box<[u8]>,
    lo: usize,
    hi: usize,
    reader: ReplyReader,
    pending: VecDeque<Pending>,
    /// Keys of the gets in `pending`, in request order.
    pending_keys: VecDeque<u32>,
    /// Keys that missed and are to be set (cache-aside).
    fills: VecDeque<u32>,
    next_send: Instant,
    quota: u64,
    warm_next: u64,
    rng: Rng,
}

/// A timerfd, for open-loop schedules finer than epoll's millisecond timeout.
struct Timer {
    file: File,
}

impl Timer {
    fn new() -> io::Result<Timer> {
        // SAFETY: timerfd_create takes no pointers; a non-negative result is a new fd
        // that nothing else owns, so handing it to OwnedFd is sound.
        let fd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: see above: `fd` is valid and owned by nobody else.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Timer {
            file: File::from(owned),
        })
    }

    fn arm(&self, after: Duration) -> io::Result<()> {
        let nanos = after.as_nanos().max(1);
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (nanos / 1_000_000_000) as libc::time_t,
                tv_nsec: (nanos % 1_000_000_000) as libc::c_long,
            },
        };
        // SAFETY: the fd is a timerfd we own; `spec` is a valid itimerspec on the stack
        // and the old-value pointer may be null.
        let rc =
            unsafe { libc::timerfd_settime(self.file.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn clear(&mut self) {
        let mut expirations = [0u8; 8];
        // WouldBlock just means it was already cleared.
        let _ = self.file.read(&mut expirations);
    }
}

/// Runs the connections `first..first + count` (of `w.conns`) to the end of the run.
/// Every thread passes `barrier` once between warm-up and measurement.
pub fn run_thread(
    w: &Workload,
    first: usize,
    count: usize,
    barrier: &Barrier,
) -> Result<Tally, LoadError> {
    let setup = Driver::connect(w, first, count);
    let mut driver = match setup {
        Ok(mut d) => {
            let warmed = if w.warm { d.run(Phase::Warm) } else { Ok(()) };
            barrier.wait();
            warmed.map(|()| d)?
        }
        Err(e) => {
            barrier.wait();
            return Err(e);
        }
    };
    driver.run(Phase::Measure)?;
    Ok(driver.tally)
}

struct Driver<'w> {
    w: &'w Workload,
    first: usize,
    poll: Poll,
    timer: Timer,
    conns: Vec<Conn>,
    tally: Tally,
    /// Key numbers of the multi-get being built (kept to avoid allocating per request).
    scratch: Vec<u32>,
}

impl<'w> Driver<'w> {
    fn connect(w: &'w Workload, first: usize, count: usize) -> Result<Driver<'w>, LoadError> {
        let poll = Poll::new()?;
        let mut timer = Timer::new()?;
        poll.registry().register(
            &mut SourceFd(&timer.file.as_raw_fd()),
            TIMER,
            Interest::READABLE,
        )?;
        timer.clear();
        let mut conns = Vec::with_capacity(count);
        let now = Instant::now();
        for i in 0..count {
            let std_stream = std::net::TcpStream::connect(w.addr)?;
            std_stream.set_nodelay(true)?;
            std_stream.set_nonblocking(true)?;
            let mut stream = Link::new(TcpStream::from_std(std_stream), w.tls.as_ref())?;
            poll.registry().register(
                stream.tcp(),
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let global = (first + i) as u64;
            let quota = match w.stop {
                Stop::Requests(n) => n / w.conns as u64 + u64::from(global < n % w.conns as u64),
                Stop::After(_) => u64::MAX,
            };
            conns.push(Conn {
                stream,
                out: Output::with_capacity(64 * 1024),
                input: vec![0; INPUT_BUFFER].into_boxed_slice(),
                lo: 0,
                hi: 0,
                reader: ReplyReader::default(),
                pending: VecDeque::with_capacity(64),
                pending_keys: VecDeque::with_capacity(64),
                fills: VecDeque::new(),
                next_send: now,
                quota,
                warm_next: global,
                rng: Rng::new(w.seed ^ global.wrapping_mul(0x2545_f491_4f6c_dd1d)),
            });
        }
        Ok(Driver {
            w,
            first,
            poll,
            timer,
            conns,
            tally: Tally::default(),
            scratch: Vec::with_capacity(MAX_MULTIGET),
        })
    }

    fn run(&mut self, phase: Phase) -> Result<(), LoadError> {
        let w = self.w;
        let start = Instant::now();
        let end = match (phase, &w.stop) {
            (Phase::Measure, Stop::After(d)) => start + *d,
            _ => start + w.max_time,
        };
        // Open loop: each connection sends every `interval`, the connections staggered
        // evenly across one interval so the offered load is smooth.
        let interval = w
            .rate
            .map(|r| Duration::from_secs_f64(w.conns as f64 / r.max(1e-3)));
        if let (Phase::Measure, Some(iv)) = (phase, interval) {
            for (i, c) in self.conns.iter_mut().enumerate() {
                c.next_send = start + iv.mul_f64((self.first + i) as f64 / w.conns as f64);
            }
        }
        let mut events = Events::with_capacity(1024);
        let mut last_reply = start;
        let mut stopped_at: Option<Instant> = None;
        loop {
            let now = Instant::now();
            let issuing = now < end
                && match phase {
                    Phase::Warm => self
                        .conns
                        .iter()
                        .any(|c| c.warm_next < u64::from(w.keyspace.count)),
                    Phase::Measure => self.conns.iter().any(|c| c.quota > 0),
                };
            if !issuing && stopped_at.is_none() {
                stopped_at = Some(now.min(end));
            }
            let mut next_wake: Option<Instant> = None;
            for i in 0..self.conns.len() {
                if issuing {
                    match (phase, interval) {
                        (Phase::Measure, Some(iv)) => {
                            self.issue_scheduled(i, now, iv);
                            let t = self.conns[i].next_send;
                            next_wake = Some(next_wake.map_or(t, |n| n.min(t)));
                        }
                        _ => self.issue_to_depth(i, phase, now),
                    }
                }
                self.flush(i)?;
            }
            let in_flight: usize = self.conns.iter().map(|c| c.pending.len()).sum();
            if let Some(stop) = stopped_at {
                if in_flight == 0 || now >= stop + DRAIN {
                    self.tally.unfinished += in_flight as u64;
                    break;
                }
            }
            let deadline = match stopped_at {
                Some(stop) => stop + DRAIN,
                None => end,
            };
            if let Some(t) = next_wake {
                self.timer.arm(t.saturating_duration_since(now))?;
            }
            let timeout = deadline.saturating_duration_since(now) + Duration::from_millis(1);
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            for ev in events.iter() {
                if ev.token() == TIMER {
                    self.timer.clear();
                    continue;
                }
                let i = ev.token().0;
                if ev.is_readable() || ev.is_read_closed() {
                    let now = Instant::now();
                    // A timed run counts the replies inside its window; a run of N
                    // requests counts all N, however late the last reply.
                    let window_end = match w.stop {
                        Stop::After(_) => stopped_at.unwrap_or(end),
                        Stop::Requests(_) => end + DRAIN,
                    };
                    if self.read(i, phase, now, window_end)? {
                        last_reply = now;
                    }
                    if (issuing && interval.is_none()) || phase == Phase::Warm {
                        self.issue_to_depth(i, phase, now);
                    }
                    if interval.is_some() && issuing {
                        self.issue_fills(i, now);
                    }
                }
                self.flush(i)?;
            }
        }
        if phase == Phase::Measure {
            self.tally.elapsed = match w.stop {
                Stop::After(d) => d.min(end - start),
                Stop::Requests(_) => last_reply.saturating_duration_since(start),
            };
        }
        Ok(())
    }

    /// Closed loop (and warm-up): keeps `depth` requests in flight.
    fn issue_to_depth(&mut self, i: usize, phase: Phase, now: Instant) {
        let w = self.w;
        match phase {
            Phase::Warm => {
                while self.conns[i].pending.len() < WARM_DEPTH
                    && self.conns[i].warm_next < u64::from(w.keyspace.count)
                {
                    let key = self.conns[i].warm_next as u32;
                    self.conns[i].warm_next += w.conns as u64;
                    self.send_set(i, key, now);
                }
            }
            Phase::Measure => {
                while self.conns[i].pending.len() < w.pipeline
                    && (self.conns[i].quota > 0 || !self.conns[i].fills.is_empty())
                {
                    self.issue_one(i, now);
                }
            }
        }
    }

    /// Open loop: sends every request whose slot has come, stamped with its slot time.
    fn issue_scheduled(&mut self, i: usize, now: Instant, interval: Duration) {
        while self.conns[i].next_send <= now && self.conns[i].quota > 0 {
            let slot = self.conns[i].next_send;
            self.conns[i].next_send += interval;
            if self.conns[i].pending.len() >= MAX_IN_FLIGHT {
                self.tally.missed_slots += 1;
                continue;
            }
            let lag = now.saturating_duration_since(slot).as_nanos();
            self.tally
                .send_lag
                .record(u64::try_from(lag).unwrap_or(u64::MAX));
            self.issue_one(i, slot);
        }
    }

    /// Open loop: a cache-aside refill goes out at once, as the application would send it.
    fn issue_fills(&mut self, i: usize, now: Instant) {
        while self.conns[i].pending.len() < MAX_IN_FLIGHT {
            let Some(key) = self.conns[i].fills.pop_front() else {
                break;
            };
            self.send_set(i, key, now);
        }
    }

    fn issue_one(&mut self, i: usize, sent: Instant) {
        let w = self.w;
        if let Some(key) = self.conns[i].fills.pop_front() {
            self.send_set(i, key, sent);
            return;
        }
        let c = &mut self.conns[i];
        c.quota = c.quota.saturating_sub(1);
        if c.rng.next_f64() < w.get_ratio {
            self.scratch.clear();
            for _ in 0..w.multiget {
                let k = w.keyspace.draw(&mut c.rng);
                self.scratch.push(k);
            }
            wire::encode_get(w.proto, &w.keyspace, &self.scratch, c.out.buf());
            c.pending_keys.extend(self.scratch.iter().copied());
            c.pending.push_back(Pending {
                sent,
                expect: Expect::Get {
                    multi: w.multiget > 1,
                },
                keys_left: w.multiget,
            });
        } else {
            let key = w.keyspace.draw(&mut c.rng);
            self.send_set(i, key, sent);
        }
    }

    fn send_set(&mut self, i: usize, key: u32, sent: Instant) {
        let w = self.w;
        let c = &mut self.conns[i];
        let size = w.keyspace.value_size(key);
        if size >= SPLICE_MIN {
            wire::encode_set_head(w.proto, &w.keyspace, key, size, c.out.buf());
            c.out.splice(size);
            c.out.buf().extend_from_slice(b"\r\n");
        } else {
            wire::encode_set(w.proto, &w.keyspace, key, &w.value[..size], c.out.buf());
        }
        c.pending.push_back(Pending {
            sent,
            expect: Expect::Set,
            keys_left: 0,
        });
    }

    fn flush(&mut self, i: usize) -> Result<(), LoadError> {
        let c = &mut self.conns[i];
        match c.out.write_to(&mut c.stream, &self.w.value) {
            Ok(Sent::All) => {}
            Ok(Sent::Partial) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WriteZero => return Err(LoadError::Closed),
            Err(e) => return Err(e.into()),
        }
        // TLS records the socket could not take earlier.
        c.stream.send_records()?;
        Ok(())
    }

    /// Reads until the socket would block and consumes every complete reply piece.
    /// Returns whether any request completed.
    fn read(
        &mut self,
        i: usize,
        phase: Phase,
        now: Instant,
        window_end: Instant,
    ) -> Result<bool, LoadError> {
        let mut completed_any = false;
        loop {
            let c = &mut self.conns[i];
            if c.hi == c.input.len() {
                if c.lo == 0 {
                    return Err(LoadError::Wire(WireError::LineTooLong));
                }
                c.input.copy_within(c.lo..c.hi, 0);
                c.hi -= c.lo;
                c.lo = 0;
            }
            match c.stream.read(&mut c.input[c.hi..]) {
                Ok(0) => return Err(LoadError::Closed),
                Ok(n) => c.hi += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(completed_any),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
            completed_any |= self.consume(i, phase, now, window_end)?;
        }
    }

    fn consume(
        &mut self,
        i: usize,
        phase: Phase,
        now: Instant,
        window_end: Instant,
    ) -> Result<bool, LoadError> {
        let w = self.w;
        let measuring = phase == Phase::Measure;
        let c = &mut self.conns[i];
        let t = &mut self.tally;
        let mut completed_any = false;
        // A reply can complete with no bytes left (a RESP bulk's end), so the reader is
        // asked again after the buffer empties, until it needs more.
        loop {
            let Some(head) = c.pending.front_mut() else {
                if c.lo < c.hi {
                    return Err(LoadError::UnsolicitedReply);
                }
                break;
            };
            let (used, step) = c
                .reader
                .step(w.proto, head.expect, &c.input[c.lo..c.hi])
                .map_err(LoadError::Wire)?;
            c.lo += used;
            match step {
                Step::NeedMore => break,
                Step::Progress => {}
                Step::Key(outcome) => {
                    let hit_key = match outcome {
                        KeyOutcome::Found(k) => Some(k),
                        KeyOutcome::Nth { hit } => {
                            let k = c.pending_keys.front().copied();
                            if hit {
                                k
                            } else {
                                take_miss(head, &mut c.pending_keys, &mut c.fills, t, w, measuring);
                                None
                            }
                        }
                    };
                    if let Some(k) = hit_key {
                        // memcached leaves misses out: every key asked before the one
                        // found, and not found, missed.
                        loop {
                            if head.keys_left == 0 {
                                return Err(LoadError::Wire(WireError::Unexpected(format!(
                                    "value for key {k} that was not requested"
                                ))));
                            }
                            if c.pending_keys.front() == Some(&k) {
                                c.pending_keys.pop_front();
                                head.keys_left -= 1;
                                if measuring {
                                    t.hits += 1;
                                }
                                break;
                            }
                            take_miss(head, &mut c.pending_keys, &mut c.fills, t, w, measuring);
                        }
                    }
                }
                Step::Done { ok } => {
                    while head.keys_left > 0 {
                        if ok {
                            take_miss(head, &mut c.pending_keys, &mut c.fills, t, w, measuring);
                        } else {
                            c.pending_keys.pop_front();
                            head.keys_left -= 1;
                        }
                    }
                    let done = c.pending.pop_front().expect("head exists");
                    completed_any = true;
                    if !measuring {
                        t.warm_errors += u64::from(!ok);
                        continue;
                    }
                    t.errors += u64::from(!ok);
                    match done.expect {
                        Expect::Get { .. } => t.gets += 1,
                        Expect::Set => t.sets += 1,
                    }
                    if now <= window_end {
                        t.completed += 1;
                    }
                    let nanos = now.saturating_duration_since(done.sent).as_nanos();
                    t.latency.record(u64::try_from(nanos).unwrap_or(u64::MAX));
                }
            }
        }
        if c.lo == c.hi {
            c.lo = 0;
            c.hi = 0;
        }
        Ok(completed_any)
    }
}

fn take_miss(
    head: &mut Pending,
    pending_keys: &mut VecDeque<u32>,
    fills: &mut VecDeque<u32>,
    t: &mut Tally,
    w: &Workload,
    measuring: bool,
) {
    let Some(k) = pending_keys.pop_front() else {
        return;
    };
    head.keys_left -= 1;
    if measuring {
        t.misses += 1;
        if w.cache_aside {
            fills.push_back(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn tally_merge_keeps_the_longest_elapsed() {
        let mut a = Tally {
            completed: 5,
            elapsed: Duration::from_secs(2),
            ..Tally::default()
        };
        let b = Tally {
            completed: 7,
            hits: 3,
            elapsed: Duration::from_secs(3),
            ..Tally::default()
        };
        a.merge(&b);
        assert_eq!(a.completed, 12);
        assert_eq!(a.hits, 3);
        assert_eq!(a.elapsed, Duration::from_secs(3));
    }

    /// A memcached stand-in on a free loopback port: `get` of any number of keys and
    /// `set`, answered from a map, one thread per connection. Returns its address.
    fn fake_memcached() -> SocketAddr {
        use std::collections::HashMap;
        use std::io::{BufRead, BufReader};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let store: Arc<Mutex<HashMap<Vec<u8>, Vec<u8>>>> = Arc::default();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    let mut out = stream.try_clone().unwrap();
                    let mut input = BufReader::new(stream);
                    let mut line = Vec::new();
                    loop {
                        line.clear();
                        if input.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let words: Vec<&[u8]> =
                            line.trim_ascii_end().split(|&b| b == b' ').collect();
                        let mut reply = Vec::new();
                        if words[0] == b"get" {
                            let map = store.lock().unwrap();
                            for key in &words[1..] {
                                if let Some(v) = map.get(*key) {
                                    reply.extend_from_slice(b"VALUE ");
                                    reply.extend_from_slice(key);
                                    reply.extend_from_slice(
                                        format!(" 0 {}\r\n", v.len()).as_bytes(),
                                    );
                                    reply.extend_from_slice(v);
                                    reply.extend_from_slice(b"\r\n");
                                }
                            }
                            reply.extend_from_slice(b"END\r\n");
                        } else {
                            let len: usize =
                                std::str::from_utf8(words[4]).unwrap().parse().unwrap();
                            let mut data = vec![0; len + 2];
                            input.read_exact(&mut data).unwrap();
                            data.truncate(len);
                            store.lock().unwrap().insert(words[1].to_vec(), data);
                            reply.extend_from_slice(b"STORED\r\n");
                        }
                        if out.write_all(&reply).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn workload(addr: SocketAddr, keys: u32, multiget: usize, rate: Option<f64>) -> Workload {
        Workload {
            addr,
            proto: Protocol::Memcache,
            keyspace: Keyspace::new(keys, 8, None, 10, 10).unwrap(),
            get_ratio: 1.0,
            multiget,
            pipeline: 4,
            cache_aside: true,
            rate,
            stop: Stop::Requests(400),
            max_time: Duration::from_secs(60),
            conns: 2,
            warm: false,
            seed: 3,
            value: vec![b'v'; 10],
            tls: None,
        }
    }

    #[test]
    fn cache_aside_fills_what_missed_and_counts_every_key() {
        let w = workload(fake_memcached(), 20, 3, None);
        let t = run_thread(&w, 0, 2, &Barrier::new(1)).unwrap();
        assert_eq!(t.gets, 400, "the request budget is spent on gets");
        assert_eq!(
            t.hits + t.misses,
            400 * 3,
            "every key of every multi-get is counted"
        );
        assert!(
            t.misses >= 1 && t.hits > t.misses,
            "hits {} misses {}",
            t.hits,
            t.misses
        );
        // Each miss queues one refill; those still queued when the budget ran out are not sent.
        assert!(t.sets >= 1 && t.sets <= t.misses);
        assert_eq!(t.completed, t.gets + t.sets);
        assert_eq!(t.latency.count(), t.completed);
        assert_eq!((t.errors, t.unfinished), (0, 0));
    }

    #[test]
    fn open_loop_sends_its_budget_and_records_send_lag() {
        let w = workload(fake_memcached(), 50, 1, Some(20_000.0));
        let t = run_thread(&w, 0, 2, &Barrier::new(1)).unwrap();
        assert_eq!(t.gets, 400);
        assert_eq!(
            t.send_lag.count(),
            400,
            "every scheduled request has a send time"
        );
        assert_eq!(t.hits + t.misses, 400);
        assert_eq!((t.errors, t.unfinished, t.missed_slots), (0, 0, 0));
    }

    #[test]
    fn warm_up_stores_every_key_before_measuring() {
        let mut w = workload(fake_memcached(), 300, 1, None);
        w.warm = true;
        w.cache_aside = false;
        let t = run_thread(&w, 0, 2, &Barrier::new(1)).unwrap();
        assert_eq!((t.hits, t.misses, t.warm_errors), (400, 0, 0));
    }

    /// Values from 10 bytes to 60 KB, pipelined 16 deep: the large ones are spliced from
    /// the shared value bytes, the small ones copied, and the stand-in (which reads each
    /// value by its length, then expects its `\r\n` and the next line) stores and
    /// serves them all.
    #[test]
    fn large_values_are_spliced_in_order() {
        let mut w = workload(fake_memcached(), 300, 1, None);
        w.keyspace = Keyspace::new(300, 8, None, 10, 60_000).unwrap();
        w.value = (0..60_000u32).map(|i| (i % 251) as u8).collect();
        w.warm = true;
        w.cache_aside = false;
        w.get_ratio = 0.5;
        let t = run_thread(&w, 0, 2, &Barrier::new(1)).unwrap();
        assert_eq!((t.errors, t.warm_errors, t.unfinished), (0, 0, 0));
        assert_eq!(t.gets + t.sets, 400);
        assert_eq!((t.hits, t.misses), (t.gets, 0));
    }
}
