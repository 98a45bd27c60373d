//! Watching traffic: Redis's MONITOR and memcached's `watch`.
//!
//! Both are lists of connections that receive preformatted lines ([`super::Event::Line`]).
//! With nobody watching, the request path pays one relaxed atomic load per request
//! ([`Watchers::wanted`]).
//!
//! Lines are not posted one by one: a worker appends each line to its own batch (a
//! thread-local buffer, no allocation per line) and posts the batch, one event per
//! watcher, at the end of a turn whose poll found nothing to do, or after [`BATCH_TURNS`]
//! busy turns ([`Watchers::turn_end`]), as subscribers' messages linger
//! (`server::linger`): posting every turn cost a wake-up of the watcher's worker (an
//! eventfd write and an extra poll there) per turn of every other worker. A batch past
//! [`BATCH_FLUSH`] bytes goes out at once; threads that are not workers post every line at
//! once. Each line carries the watcher-registration count it saw, so a watcher added while
//! a batch fills gets only the lines of commands that ran after it was added.
//!
//! MONITOR lines are Redis's: `+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"`,
//! arguments quoted and escaped as `sdscatrepr` does; memcached requests are shown the same
//! way, their command line split into words. `watch` lines are memcached's logger lines
//! (`ts=... gid=... type=item_get key=... status=found ...`).

use std::cell::RefCell;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use super::observed::{self, Observed};
use super::{current_worker, Event, Hub, Outbox, Target};
use crate::protocol::memcache::{write_u64, DIGIT_PAIRS};

/// Stream bits: MONITOR, and memcached's `watch` streams.
pub mod stream {
    /// Redis MONITOR.
    pub const MONITOR: u32 = 1 << 0;
    /// `watch fetchers`: item_get lines.
    pub const FETCHERS: u32 = 1 << 1;
    /// `watch mutations`: item_store lines.
    pub const MUTATIONS: u32 = 1 << 2;
    /// `watch evictions`: eviction lines.
    pub const EVICTIONS: u32 = 1 << 3;
    /// `watch connevents`: conn_new / conn_close lines.
    pub const CONNEVENTS: u32 = 1 << 4;
    /// `watch deletions`: deleted lines.
    pub const DELETIONS: u32 = 1 << 5;
}

/// A worker's batch is posted before the turn ends once it holds this many bytes.
pub const BATCH_FLUSH: usize = 64 << 10;
/// Busy turns a worker's batch may wait before it is posted.
pub const BATCH_TURNS: u32 = 8;
/// A batch buffer grown past this is given back after it is posted.
const BATCH_KEEP: usize = 1 << 20;
/// A batch this long or longer is handed to its watchers whole instead of copied.
const HANDOVER: usize = 4 << 10;

/// One watching connection.
struct Watcher {
    who: Target,
    streams: u32,
    /// The registration count when it was added: it gets lines tagged with this or later.
    since: u64,
}

/// Connections watching traffic, with the streams each wants.
#[derive(Default)]
pub struct Watchers {
    list: RwLock<Vec<Watcher>>,
    /// Union of every watcher's streams.
    union: AtomicU32,
    /// memcached's `gid`: one number per log line, shared by all streams.
    gid: AtomicU64,
    /// Registrations so far (see the module comment).
    epoch: AtomicU64,
    /// memcached's `log_worker_written`: `watch` lines (MONITOR's aside) workers logged.
    pub written: AtomicU64,
    /// `log_watcher_sent`: lines put in a `watch` connection's buffer.
    pub sent: AtomicU64,
    /// `log_watcher_skipped`: lines a `watch` connection's full buffer skipped.
    pub skipped: AtomicU64,
    /// The hub's word: [`observed::MONITOR`] and [`observed::WATCH`] while any connection
    /// watches that way (changed under `list`'s write lock).
    observed: Arc<Observed>,
}

/// Where a run of lines of one stream, tagged with one registration count, starts.
#[derive(Clone, Copy, PartialEq)]
struct Mark {
    stream: u32,
    epoch: u64,
    start: usize,
}

/// This thread's lines not yet posted.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    marks: Vec<Mark>,
    /// `watch` lines in it (for `log_worker_written`).
    lines: u64,
    stamp: Stamp,
    /// Turns ended since its first line.
    turns: u32,
}

thread_local! {
    static BATCH: RefCell<Batch> = RefCell::default();
}

impl Watchers {
    /// Keeping its bits of `observed` (the hub's word).
    pub(super) fn observing(observed: Arc<Observed>) -> Watchers {
        Watchers {
            observed,
            ..Default::default()
        }
    }

    /// Whether anyone watches `stream` (the request path's check).
    #[inline]
    pub fn wanted(&self, stream: u32) -> bool {
        super::OBSERVE && self.union.load(Ordering::Relaxed) & stream != 0
    }

    /// Adds (or widens) `who`'s streams.
    pub fn add(&self, who: Target, streams: u32) {
        let mut l = self.list.write();
        let since = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        match l.iter_mut().find(|w| w.who == who) {
            Some(w) => w.streams |= streams,
            None => l.push(Watcher {
                who,
                streams,
                since,
            }),
        }
        self.recompute(&l);
    }

    /// Stops `who` watching anything (close, RESET).
    pub fn remove(&self, who: Target) {
        let mut l = self.list.write();
        l.retain(|w| w.who != who);
        self.recompute(&l);
    }

    fn recompute(&self, l: &[Watcher]) {
        let u = l.iter().fold(0, |acc, w| acc | w.streams);
        self.union.store(u, Ordering::Relaxed);
        self.observed
            .set(observed::MONITOR, u & stream::MONITOR != 0);
        self.observed
            .set(observed::WATCH, u & !stream::MONITOR != 0);
    }

    /// [`Watchers::append`] without the time stamp (the tests' lines).
    #[cfg(test)]
    pub fn line(&self, hub: &Hub, stream: u32, write: impl FnOnce(&mut Vec<u8>)) {
        self.append(hub, stream, |l, _| write(l));
    }

    /// Appends a line of `stream`, written by `write` (also given the batch's time stamp),
    /// to this thread's batch (posted by [`Watchers::turn_end`]; at once on other threads or
    /// when the batch is full).
    fn append(&self, hub: &Hub, stream: u32, write: impl FnOnce(&mut Vec<u8>, &mut Stamp)) {
        let epoch = self.epoch.load(Ordering::Acquire);
        let full = BATCH.with(|b| {
            let mut b = b.borrow_mut();
            let start = b.bytes.len();
            if !matches!(b.marks.last(), Some(m) if m.stream == stream && m.epoch == epoch) {
                b.marks.push(Mark {
                    stream,
                    epoch,
                    start,
                });
            }
            let b = &mut *b;
            write(&mut b.bytes, &mut b.stamp);
            b.lines += u64::from(stream != stream::MONITOR);
            b.bytes.len() >= BATCH_FLUSH
        });
        if full || current_worker() == usize::MAX {
            self.flush(hub);
        }
    }

    /// A worker's turn ended (`idle`: its poll found nothing): posts its batch when that
    /// or [`BATCH_TURNS`] turns since its first line say so.
    pub fn turn_end(&self, hub: &Hub, idle: bool) {
        let due = BATCH.with(|b| {
            let mut b = b.borrow_mut();
            if b.bytes.is_empty() {
                return false;
            }
            b.turns += 1;
            idle || b.turns >= BATCH_TURNS
        });
        if due {
            self.flush(hub);
        }
    }

    /// Whether this thread holds lines not yet posted: its worker's next poll must not
    /// sleep.
    pub fn pending(&self) -> bool {
        BATCH.with(|b| !b.borrow().bytes.is_empty())
    }

    /// Posts this thread's batch: one event per watcher that wants any of its lines.
    pub fn flush(&self, hub: &Hub) {
        BATCH.with(|b| {
            let mut b = b.borrow_mut();
            if b.bytes.is_empty() {
                return;
            }
            self.post_batch(hub, &mut b);
            if b.lines > 0 {
                self.written.fetch_add(b.lines, Ordering::Relaxed);
                b.lines = 0;
            }
            b.bytes.clear();
            b.marks.clear();
            b.turns = 0;
            if b.bytes.capacity() > BATCH_KEEP {
                b.bytes = Vec::new();
            }
        });
    }

    fn post_batch(&self, hub: &Hub, b: &mut Batch) {
        let mut out = Outbox::new(hub);
        let list = self.list.read();
        let whole = |w: &Watcher| {
            b.marks
                .iter()
                .all(|m| m.stream & w.streams != 0 && m.epoch >= w.since)
        };
        let mut shared = 0;
        for w in list.iter() {
            if whole(w) {
                shared += 1;
                continue;
            }
            // Mixed streams or a watcher added mid-turn: its own selection.
            let mut mine = Vec::new();
            for (i, m) in b.marks.iter().enumerate() {
                if m.stream & w.streams != 0 && m.epoch >= w.since {
                    let end = b.marks.get(i + 1).map_or(b.bytes.len(), |n| n.start);
                    mine.extend_from_slice(&b.bytes[m.start..end]);
                }
            }
            if !mine.is_empty() {
                let lines = memchr::memchr_iter(b'\n', &mine).count() as u64;
                out.push(w.who, Event::Line(Arc::new(mine), lines));
            }
        }
        if shared == 0 {
            return;
        }
        // The watchers that want every line share one buffer. A large batch is handed over
        // whole (copying it cost as much as writing its lines) and the next one starts with
        // room for about as much; a small one is copied.
        let bytes = if b.bytes.len() < HANDOVER {
            b.bytes.clone()
        } else {
            let room = (b.bytes.len() + b.bytes.len() / 4).min(BATCH_FLUSH + (8 << 10));
            std::mem::replace(&mut b.bytes, Vec::with_capacity(room))
        };
        let all = Arc::new(bytes);
        for w in list.iter().filter(|w| whole(w)) {
            out.push(w.who, Event::Line(all.clone(), b.lines));
        }
    }

    /// The next memcached log line number.
    pub fn next_gid(&self) -> u64 {
        self.gid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// memcached's `log_watchers`: connections running `watch` (MONITOR aside).
    pub fn log_watchers(&self) -> usize {
        let l = self.list.read();
        l.iter()
            .filter(|w| w.streams & stream::MONITOR == 0)
            .count()
    }

    pub fn count(&self, stream: u32) -> usize {
        self.list
            .read()
            .iter()
            .filter(|w| w.streams & stream != 0)
            .count()
    }
}

/// How `quote` writes a byte: 0 as it is, 1 as `\xNN`, else the letter after a backslash.
static ESCAPE: [u8; 256] = {
    let mut t = [1u8; 256];
    let mut c = b' ';
    while c <= b'~' {
        t[c as usize] = 0;
        c += 1;
    }
    t[b'\\' as usize] = b'\\';
    t[b'"' as usize] = b'"';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[7] = b'a';
    t[8] = b'b';
    t
};

/// Whether none of `arg`'s bytes needs escaping: all printable ASCII (0x20..=0x7e) but
/// `"` and `\`. Eight bytes at a time (each test below is exact as a yes/no for the word:
/// `zero(w)` is non-zero iff some byte of `w` is 0), the tail through [`ESCAPE`]; most
/// arguments (keys, numbers, short values) pass, and are then copied whole.
fn plain(arg: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    let mut words = arg.chunks_exact(8);
    for chunk in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let w = u64::from_ne_bytes(bytes);
        // Bytes below 0x20 (and, with the high bit test, 0x80 and up), 0x7f, `"` and `\`.
        let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
        let special = below_space
            | (w & HIGHS)
            | zero(w ^ (ONES * 0x7f))
            | zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')));
        if special != 0 {
            return false;
        }
    }
    words
        .remainder()
        .iter()
        .all(|&c| ESCAPE[usize::from(c)] == 0)
}

/// Appends `arg` quoted as Redis's `sdscatrepr`.
pub fn quote(out: &mut Vec<u8>, arg: &[u8]) {
    out.reserve(arg.len() + 2);
    out.push(b'"');
    if plain(arg) {
        out.extend_from_slice(arg);
        out.push(b'"');
        return;
    }
    // Runs of printable bytes are copied whole.
    let mut rest = arg;
    while let Some(i) = rest.iter().position(|&c| ESCAPE[usize::from(c)] != 0) {
        out.extend_from_slice(&rest[..i]);
        let c = rest[i];
        match ESCAPE[usize::from(c)] {
            1 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 15)],
                ]);
            }
            e => out.extend_from_slice(&[b'\\', e]),
        }
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

/// MONITOR's time stamp, `seconds.micros`, with the seconds' digits kept from the last
/// line (a batch's lines share them).
#[derive(Default)]
pub struct Stamp {
    secs: u64,
    text: Vec<u8>,
}

impl Stamp {
    /// Appends `secs.` (the text kept while the second lasts).
    fn write_secs(&mut self, out: &mut Vec<u8>, secs: u64) {
        if self.text.is_empty() || secs != self.secs {
            self.secs = secs;
            self.text.clear();
            write_u64(&mut self.text, secs);
            self.text.push(b'.');
        }
        out.extend_from_slice(&self.text);
    }

    /// Appends `wall_us` (µs since the Unix epoch) as `seconds.micros`.
    pub fn write(&mut self, out: &mut Vec<u8>, wall_us: u64) {
        self.write_secs(out, wall_us / 1_000_000);
        // Six digits, two at a time (a third of the divisions of one at a time).
        let us = (wall_us % 1_000_000) as usize;
        let [a, b, c] = [us / 10_000, us / 100 % 100, us % 100].map(|p| DIGIT_PAIRS[p]);
        out.extend_from_slice(&[a[0], a[1], b[0], b[1], c[0], c[1]]);
    }
}

/// Appends the MONITOR line for a command run by a client at `addr` in `db`, started at
/// `wall_us` (µs since the Unix epoch).
pub fn write_monitor_line<'a>(
    line: &mut Vec<u8>,
    stamp: &mut Stamp,
    wall_us: u64,
    db: u8,
    addr: &str,
    args: impl Iterator<Item = &'a [u8]>,
) {
    line.push(b'+');
    stamp.write(line, wall_us);
    line.extend_from_slice(b" [");
    if db < 10 {
        line.push(b'0' + db);
    } else {
        write_u64(line, u64::from(db));
    }
    line.push(b' ');
    line.extend_from_slice(addr.as_bytes());
    line.push(b']');
    for a in args {
        line.push(b' ');
        quote(line, a);
    }
    line.extend_from_slice(b"\r\n");
}

/// Appends the MONITOR line for a memcached request: its command line's words, in
/// database 0 (the data block of a storage command is not shown).
pub fn write_memcache_monitor_line(
    line: &mut Vec<u8>,
    stamp: &mut Stamp,
    wall_us: u64,
    addr: &str,
    request: &[u8],
) {
    let end = request
        .iter()
        .position(|&c| c == b'\n')
        .unwrap_or(request.len());
    let first = request[..end]
        .strip_suffix(b"\r")
        .unwrap_or(&request[..end]);
    let words = first.split(|&c| c == b' ').filter(|w| !w.is_empty());
    write_monitor_line(line, stamp, wall_us, 0, addr, words);
}

impl Watchers {
    /// A command run by a client at `addr` in `db`, started at `wall_us`: its MONITOR line.
    pub fn monitor<'a>(
        &self,
        hub: &Hub,
        wall_us: u64,
        db: u8,
        addr: &str,
        args: impl Iterator<Item = &'a [u8]>,
    ) {
        self.append(hub, stream::MONITOR, |l, stamp| {
            write_monitor_line(l, stamp, wall_us, db, addr, args)
        });
    }

    /// A memcached request from `addr`, started at `wall_us`: its MONITOR line.
    pub fn monitor_memcache(&self, hub: &Hub, wall_us: u64, addr: &str, request: &[u8]) {
        self.append(hub, stream::MONITOR, |l, stamp| {
            write_memcache_monitor_line(l, stamp, wall_us, addr, request)
        });
    }
}

/// memcached's `watch` streams by name (1.6.18's list; `rawcmds`, `sysevents` and the
/// proxy streams are accepted and stay silent). `None` for an unknown name.
pub fn watch_stream(name: &[u8]) -> Option<u32> {
    Some(match name {
        b"fetchers" => stream::FETCHERS,
        b"mutations" => stream::MUTATIONS,
        b"evictions" => stream::EVICTIONS,
        b"connevents" => stream::CONNEVENTS,
        b"rawcmds" | b"sysevents" | b"proxyreqs" | b"proxyevents" | b"proxyuser" => 0,
        _ => return None,
    })
}

/// Bytes `uriencode` keeps: letters, digits and `-._~`.
static URI_UNRESERVED: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        c += 1;
    }
    t
};

/// Whether every byte of `key` is unreserved (letters, digits, `-._~`). Eight bytes at a
/// time, the tail through [`URI_UNRESERVED`]: for bytes below 0x80, `x + (0x80 - lo)` has
/// its high bit set iff `x >= lo` and `x + (0x7f - hi)` iff `x > hi`, and neither sum
/// carries into the next byte, so each range test is exact per byte.
fn unreserved(key: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let within = |w: u64, lo: u8, hi: u8| {
        let at_least = w + ONES * u64::from(0x80 - lo);
        let above = w + ONES * u64::from(0x7f - hi);
        at_least & !above & HIGHS
    };
    let mut words = key.chunks_exact(8);
    for chunk in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        let w = u64::from_ne_bytes(bytes);
        if w & HIGHS != 0 {
            return false;
        }
        let ok = within(w, b'0', b'9')
            | within(w, b'a', b'z')
            | within(w, b'A', b'Z')
            | within(w, b'-', b'.')
            | within(w, b'_', b'_')
            | within(w, b'~', b'~');
        if ok != HIGHS {
            return false;
        }
    }
    words
        .remainder()
        .iter()
        .all(|&c| URI_UNRESERVED[usize::from(c)])
}

/// Appends `key` as memcached's `uriencode`: letters, digits and `-._~` as they are, any
/// other byte as `%XX`.
pub fn uriencode(out: &mut Vec<u8>, key: &[u8]) {
    if unreserved(key) {
        // Most keys: copied whole.
        out.extend_from_slice(key);
        return;
    }
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &c in key {
        if URI_UNRESERVED[usize::from(c)] {
            out.push(c);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(c >> 4)], HEX[usize::from(c & 15)]]);
        }
    }
}

/// memcached's log line prefix: `ts=<secs>.<usecs> gid=<n> ` (microseconds not padded,
/// as memcached prints them). The time is the thread's cheap wall clock (a monotonic
/// reading and a wall-clock offset at most a millisecond old, as MONITOR's), the seconds'
/// digits kept from the batch's last line.
fn log_prefix(w: &Watchers, line: &mut Vec<u8>, stamp: &mut Stamp) {
    let wall_us = crate::commands::timing::wall_now_us();
    line.extend_from_slice(b"ts=");
    stamp.write_secs(line, wall_us / 1_000_000);
    write_u64(line, wall_us % 1_000_000);
    line.extend_from_slice(b" gid=");
    write_u64(line, w.next_gid());
    line.push(b' ');
}

/// What a `watch` line reports about an item.
pub struct ItemLog<'a> {
    pub key: &'a [u8],
    pub class: u8,
    pub size: usize,
    pub fd: i32,
}

/// ` clsid=<class> cfd=<fd> size=<size>\n`, the end of `item_get` and `item_store` lines
/// (written field by field: `write!`'s formatting machinery was a third of a line's cost).
fn item_tail(l: &mut Vec<u8>, item: &ItemLog<'_>) {
    l.extend_from_slice(b" clsid=");
    write_u64(l, u64::from(item.class));
    l.extend_from_slice(b" cfd=");
    if item.fd < 0 {
        l.push(b'-');
    }
    write_u64(l, u64::from(item.fd.unsigned_abs()));
    l.extend_from_slice(b" size=");
    write_u64(l, item.size as u64);
    l.push(b'\n');
}

impl Watchers {
    /// `type=item_get`: `status` is `found`, `not_found`, `flushed` or `expired`.
    pub fn item_get(&self, hub: &Hub, item: &ItemLog<'_>, status: &str) {
        self.append(hub, stream::FETCHERS, |l, stamp| {
            log_prefix(self, l, stamp);
            l.extend_from_slice(b"type=item_get key=");
            uriencode(l, item.key);
            l.extend_from_slice(b" status=");
            l.extend_from_slice(status.as_bytes());
            item_tail(l, item);
        });
    }

    /// `type=item_store`: `status` as memcached's store outcome, `cmd` the verb, `ttl`
    /// seconds left (0: none).
    pub fn item_store(&self, hub: &Hub, item: &ItemLog<'_>, status: &str, cmd: &str, ttl: u64) {
        self.append(hub, stream::MUTATIONS, |l, stamp| {
            log_prefix(self, l, stamp);
            l.extend_from_slice(b"type=item_store key=");
            uriencode(l, item.key);
            l.extend_from_slice(b" status=");
            l.extend_from_slice(status.as_bytes());
            l.extend_from_slice(b" cmd=");
            l.extend_from_slice(cmd.as_bytes());
            l.extend_from_slice(b" ttl=");
            write_u64(l, ttl);
            item_tail(l, item);
        });
    }

    /// `type=eviction`: `ttl` -1 for no expiry, `idle` seconds since last access.
    pub fn eviction(&self, hub: &Hub, item: &ItemLog<'_>, fetched: bool, ttl: i64, idle: u32) {
        self.append(hub, stream::EVICTIONS, |l, stamp| {
            log_prefix(self, l, stamp);
            l.extend_from_slice(b"type=eviction key=");
            uriencode(l, item.key);
            let _ = writeln!(
                l,
                " fetch={} ttl={ttl} la={idle} clsid={} size={}",
                if fetched { "yes" } else { "no" },
                item.class,
                item.size
            );
        });
    }

    /// `type=conn_new` / `type=conn_close`: `addr` as `ip:port` (or a socket path),
    /// `reason` for a close (`normal`, `error`, `idle_timeout`, `shutdown`).
    pub fn conn_event(&self, hub: &Hub, addr: &str, fd: i32, close: Option<&str>) {
        let (rip, rport, transport) = match addr.rsplit_once(':') {
            Some((ip, port)) if !addr.starts_with("unix:") => {
                (ip.trim_matches(['[', ']']), port, "tcp")
            }
            _ => ("unix", "0", "local"),
        };
        self.append(hub, stream::CONNEVENTS, |l, stamp| {
            log_prefix(self, l, stamp);
            match close {
                None => {
                    let _ = writeln!(
                        l,
                        "type=conn_new rip={rip} rport={rport} transport={transport} cfd={fd}"
                    );
                }
                Some(reason) => {
                    let _ = writeln!(
                        l,
                        "type=conn_close rip={rip} rport={rport} transport={transport} \
                         reason={reason} cfd={fd}"
                    );
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_as_redis_does() {
        let mut v = Vec::new();
        quote(&mut v, b"a \"b\"\\\n\r\t\x07\x08\x01\xff");
        assert_eq!(v, b"\"a \\\"b\\\"\\\\\\n\\r\\t\\a\\b\\x01\\xff\"");
        v.clear();
        quote(&mut v, b"");
        quote(&mut v, b"plain~ ");
        quote(&mut v, b"\x7f\x1f");
        assert_eq!(v, b"\"\"\"plain~ \"\"\\x7f\\x1f\"");
    }

    #[test]
    fn the_word_test_agrees_with_the_escape_table() {
        // Every byte value at every place of a word and of the tail.
        for c in 0..=255u8 {
            for at in 0..19 {
                let mut arg = [b'a'; 19];
                arg[at] = c;
                assert_eq!(plain(&arg), ESCAPE[usize::from(c)] == 0, "{c:#x} at {at}");
            }
        }
        assert!(plain(b""));
        assert!(plain(b"key:000000012345"));
        let mut quoted = Vec::new();
        quote(&mut quoted, b"key:000000012345 ~");
        assert_eq!(quoted, b"\"key:000000012345 ~\"");
    }

    #[test]
    fn monitor_lines() {
        let mut l = Vec::new();
        let mut stamp = Stamp::default();
        let args = || [&b"set"[..], b"k", b"v 1"].into_iter();
        write_monitor_line(
            &mut l,
            &mut stamp,
            1_700_000_000_000_042,
            2,
            "127.0.0.1:5000",
            args(),
        );
        write_monitor_line(&mut l, &mut stamp, 1_700_000_000_999_999, 12, "a:1", args());
        write_monitor_line(&mut l, &mut stamp, 1_700_000_001_000_000, 0, "a:1", args());
        assert_eq!(
            String::from_utf8(l).unwrap(),
            "+1700000000.000042 [2 127.0.0.1:5000] \"set\" \"k\" \"v 1\"\r\n\
             +1700000000.999999 [12 a:1] \"set\" \"k\" \"v 1\"\r\n\
             +1700000001.000000 [0 a:1] \"set\" \"k\" \"v 1\"\r\n"
        );
    }

    #[test]
    fn memcache_requests_show_their_command_line() {
        let mut l = Vec::new();
        let mut stamp = Stamp::default();
        let at = 1_700_000_000_123_456;
        write_memcache_monitor_line(&mut l, &mut stamp, at, "a:1", b"set k 0 0 1\r\nv\r\n");
        assert_eq!(
            l,
            b"+1700000000.123456 [0 a:1] \"set\" \"k\" \"0\" \"0\" \"1\"\r\n"
        );
    }

    #[test]
    fn keys_are_uri_encoded_as_memcached() {
        let mut v = Vec::new();
        uriencode(&mut v, b"a-b.c_d~e#f/\xff");
        assert_eq!(v, b"a-b.c_d~e%23f%2F%FF");
    }

    #[test]
    fn the_uri_word_test_agrees_with_the_table() {
        // Every byte value at every place of a word and of the tail.
        for c in 0..=255u8 {
            for at in 0..19 {
                let mut key = [b'k'; 19];
                key[at] = c;
                let plain = URI_UNRESERVED[usize::from(c)];
                assert_eq!(unreserved(&key), plain, "{c:#x} at {at}");
                let mut v = Vec::new();
                uriencode(&mut v, &key);
                let mut want = Vec::new();
                for &b in &key {
                    if URI_UNRESERVED[usize::from(b)] {
                        want.push(b);
                    } else {
                        want.extend_from_slice(format!("%{b:02X}").as_bytes());
                    }
                }
                assert_eq!(v, want);
            }
        }
        assert!(unreserved(b""));
        assert!(unreserved(b"k0000000000000000000000000012345"));
        assert!(unreserved(b"AZaz09-._~AZaz09-._~"));
    }

    #[test]
    fn watch_lines() {
        let hub = Hub::new(1);
        let t = Target {
            worker: 0,
            slot: 0,
            id: 1,
        };
        hub.watchers.add(t, stream::MUTATIONS | stream::CONNEVENTS);
        let item = ItemLog {
            key: b"k y",
            class: 3,
            size: 4,
            fd: 9,
        };
        hub.watchers.item_store(&hub, &item, "stored", "set", 0);
        hub.watchers
            .conn_event(&hub, "127.0.0.1:5000", 9, Some("normal"));
        let mut got = Vec::new();
        hub.take(0, &mut got);
        let lines: Vec<String> = got
            .into_iter()
            .filter_map(|p| match p.event {
                Event::Line(l, _) => Some(String::from_utf8(l.to_vec()).unwrap()),
                _ => None,
            })
            .collect();
        let rest = |l: &str| {
            l.split_once(' ')
                .unwrap()
                .1
                .split_once(' ')
                .unwrap()
                .1
                .to_string()
        };
        assert!(lines[0].starts_with("ts="), "{}", lines[0]);
        assert_eq!(
            rest(&lines[0]),
            "type=item_store key=k%20y status=stored cmd=set ttl=0 clsid=3 cfd=9 size=4\n"
        );
        assert_eq!(
            rest(&lines[1]),
            "type=conn_close rip=127.0.0.1 rport=5000 transport=tcp reason=normal cfd=9\n"
        );
    }

    #[test]
    fn streams_union_tracks_watchers() {
        let hub = Hub::new(1);
        let w = Watchers::default();
        let a = Target {
            worker: 0,
            slot: 1,
            id: 1,
        };
        assert!(!w.wanted(stream::MONITOR));
        w.add(a, stream::MONITOR);
        w.add(a, stream::FETCHERS);
        assert!(w.wanted(stream::FETCHERS) && w.wanted(stream::MONITOR));
        w.line(&hub, stream::FETCHERS, |l| l.extend_from_slice(b"x\n"));
        let mut got = Vec::new();
        assert!(hub.take(0, &mut got));
        w.remove(a);
        assert!(!w.wanted(stream::MONITOR | stream::FETCHERS));
        assert_eq!(w.count(stream::MONITOR), 0);
    }

    #[test]
    fn a_worker_posts_one_batch_per_turn_to_each_watcher() {
        let hub = Arc::new(Hub::new(1));
        let h = hub.clone();
        std::thread::spawn(move || {
            crate::hub::set_current_worker(0);
            let at = |slot| Target {
                worker: 0,
                slot,
                id: u64::from(slot),
            };
            let w = &h.watchers;
            let text = |l: &mut Vec<u8>, t: &[u8]| l.extend_from_slice(t);
            w.add(at(1), stream::MONITOR);
            w.line(&h, stream::MONITOR, |l| text(l, b"one\n"));
            w.line(&h, stream::MONITOR, |l| text(l, b"two\n"));
            // Added mid-turn: only what runs from now on.
            w.add(at(2), stream::MONITOR);
            w.line(&h, stream::MONITOR, |l| text(l, b"three\n"));
            w.add(at(3), stream::FETCHERS);
            w.line(&h, stream::FETCHERS, |l| text(l, b"get\n"));
            let mut got = Vec::new();
            assert!(!h.take(0, &mut got), "nothing posted before the flush");
            w.flush(&h);
            w.flush(&h);
        })
        .join()
        .unwrap();
        let mut got = Vec::new();
        assert!(hub.take(0, &mut got));
        let lines: Vec<(u32, String)> = got
            .into_iter()
            .map(|p| match p.event {
                Event::Line(l, _) => (p.to.slot, String::from_utf8(l.to_vec()).unwrap()),
                e => panic!("{e:?}"),
            })
            .collect();
        assert_eq!(
            lines,
            [
                (1, "one\ntwo\nthree\n".to_string()),
                (2, "three\n".to_string()),
                (3, "get\n".to_string()),
            ]
        );
    }

    #[test]
    fn a_full_batch_goes_out_before_the_turn_ends() {
        let hub = Arc::new(Hub::new(1));
        let h = hub.clone();
        let posted = std::thread::spawn(move || {
            crate::hub::set_current_worker(0);
            let t = Target {
                worker: 0,
                slot: 1,
                id: 1,
            };
            h.watchers.add(t, stream::MONITOR);
            let chunk = vec![b'x'; 1000];
            let mut got = Vec::new();
            let mut n = 0;
            while !h.take(0, &mut got) {
                h.watchers
                    .line(&h, stream::MONITOR, |l| l.extend_from_slice(&chunk));
                n += 1;
            }
            (n, got.len())
        })
        .join()
        .unwrap();
        assert_eq!(posted, (BATCH_FLUSH.div_ceil(1000), 1));
    }

    #[test]
    fn a_busy_worker_posts_its_batch_after_its_turns_an_idle_one_at_once() {
        let hub = Arc::new(Hub::new(1));
        let h = hub.clone();
        std::thread::spawn(move || {
            crate::hub::set_current_worker(0);
            let t = Target {
                worker: 0,
                slot: 1,
                id: 1,
            };
            let w = &h.watchers;
            w.add(t, stream::MONITOR);
            let mut got = Vec::new();
            w.turn_end(&h, true);
            assert!(!w.pending() && !h.take(0, &mut got), "nothing to post");
            w.line(&h, stream::MONITOR, |l| l.extend_from_slice(b"busy\n"));
            for turn in 1..BATCH_TURNS {
                w.turn_end(&h, false);
                assert!(
                    w.pending() && !h.take(0, &mut got),
                    "posted after {turn} turns"
                );
            }
            w.turn_end(&h, false);
            assert!(!w.pending() && h.take(0, &mut got));
            assert_eq!(got.len(), 1);
            got.clear();
            // The turn count starts again with the next line; an idle turn posts at once.
            w.line(&h, stream::MONITOR, |l| l.extend_from_slice(b"one\n"));
            w.turn_end(&h, false);
            assert!(w.pending());
            w.line(&h, stream::MONITOR, |l| l.extend_from_slice(b"two\n"));
            w.turn_end(&h, true);
            assert!(!w.pending() && h.take(0, &mut got));
            match &got[..] {
                [p] => assert!(matches!(&p.event, Event::Line(l, _) if &l[..] == b"one\ntwo\n")),
                other => panic!("{other:?}"),
            }
        })
        .join()
        .unwrap();
    }
}
