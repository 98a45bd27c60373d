//! Watching traffic: Redis's MONITOR and memcached's `watch`.
//!
//! Both are lists of connections that receive preformatted lines ([`super::Event::Line`]).
//! With nobody watching, the request path pays one relaxed atomic load per request
//! ([`Watchers::wanted`]).
//!
//! MONITOR lines are Redis's: `+1700000000.123456 [0 127.0.0.1:5000] "set" "k" "v"`,
//! arguments quoted and escaped as `sdscatrepr` does; memcached requests are shown the same
//! way, their command line split into words. `watch` lines are memcached's logger lines
//! (`ts=... gid=... type=item_get key=... status=found ...`).

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;

use super::{Event, Hub, Outbox, Target};

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

/// Connections watching traffic, with the streams each wants.
#[derive(Default)]
pub struct Watchers {
    list: RwLock<Vec<(Target, u32)>>,
    /// Union of every watcher's streams.
    union: AtomicU32,
    /// memcached's `gid`: one number per log line, shared by all streams.
    gid: AtomicU64,
}

impl Watchers {
    /// Whether anyone watches `stream` (the request path's check).
    #[inline]
    pub fn wanted(&self, stream: u32) -> bool {
        self.union.load(Ordering::Relaxed) & stream != 0
    }

    /// Adds (or widens) `who`'s streams.
    pub fn add(&self, who: Target, streams: u32) {
        let mut l = self.list.write();
        match l.iter_mut().find(|(t, _)| *t == who) {
            Some((_, s)) => *s |= streams,
            None => l.push((who, streams)),
        }
        self.recompute(&l);
    }

    /// Stops `who` watching anything (close, RESET).
    pub fn remove(&self, who: Target) {
        let mut l = self.list.write();
        l.retain(|(t, _)| *t != who);
        self.recompute(&l);
    }

    fn recompute(&self, l: &[(Target, u32)]) {
        let u = l.iter().fold(0, |acc, (_, s)| acc | s);
        self.union.store(u, Ordering::Relaxed);
    }

    /// Sends `line` to every watcher of `stream`.
    pub fn send(&self, hub: &Hub, stream: u32, line: Arc<[u8]>) {
        let mut out = Outbox::new(hub);
        for (t, s) in self.list.read().iter() {
            if s & stream != 0 {
                out.push(*t, Event::Line(line.clone()));
            }
        }
    }

    /// The next memcached log line number.
    pub fn next_gid(&self) -> u64 {
        self.gid.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn count(&self, stream: u32) -> usize {
        self.list
            .read()
            .iter()
            .filter(|(_, s)| s & stream != 0)
            .count()
    }
}

/// Appends `arg` quoted as Redis's `sdscatrepr`.
pub fn quote(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(b'"');
}

/// Unix time as `seconds.micros`.
pub fn timestamp(out: &mut Vec<u8>) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let _ = write!(out, "{}.{:06}", d.as_secs(), d.subsec_micros());
}

/// A MONITOR line for a command run by a client at `addr` in `db`.
pub fn monitor_line<'a>(db: u8, addr: &str, args: impl Iterator<Item = &'a [u8]>) -> Arc<[u8]> {
    let mut line = Vec::with_capacity(64);
    line.push(b'+');
    timestamp(&mut line);
    let _ = write!(line, " [{db} {addr}]");
    for a in args {
        line.push(b' ');
        quote(&mut line, a);
    }
    line.extend_from_slice(b"\r\n");
    line.into()
}

/// A MONITOR line for a memcached request: its command line's words, in database 0 (the
/// data block of a storage command is not shown).
pub fn memcache_monitor_line(addr: &str, request: &[u8]) -> Arc<[u8]> {
    let end = request
        .windows(2)
        .position(|w| w == b"\r\n")
        .or_else(|| request.iter().position(|&c| c == b'\n'))
        .unwrap_or(request.len());
    let words = request[..end]
        .split(|&c| c == b' ')
        .filter(|w| !w.is_empty());
    monitor_line(0, addr, words)
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

/// Appends `key` as memcached's `uriencode`: letters, digits and `-._~` as they are, any
/// other byte as `%XX`.
pub fn uriencode(out: &mut Vec<u8>, key: &[u8]) {
    for &c in key {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            out.push(c);
        } else {
            let _ = write!(out, "%{c:02X}");
        }
    }
}

/// memcached's log line prefix: `ts=<secs>.<usecs> gid=<n> ` (microseconds not padded,
/// as memcached prints them).
fn log_prefix(w: &Watchers) -> Vec<u8> {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = Vec::with_capacity(128);
    let _ = write!(
        line,
        "ts={}.{} gid={} ",
        d.as_secs(),
        d.subsec_micros(),
        w.next_gid()
    );
    line
}

/// What a `watch` line reports about an item.
pub struct ItemLog<'a> {
    pub key: &'a [u8],
    pub class: u8,
    pub size: usize,
    pub fd: i32,
}

impl Watchers {
    /// `type=item_get`: `status` is `found`, `not_found`, `flushed` or `expired`.
    pub fn item_get(&self, hub: &Hub, item: &ItemLog<'_>, status: &str) {
        let mut l = log_prefix(self);
        l.extend_from_slice(b"type=item_get key=");
        uriencode(&mut l, item.key);
        let _ = writeln!(
            l,
            " status={status} clsid={} cfd={} size={}",
            item.class, item.fd, item.size
        );
        self.send(hub, stream::FETCHERS, l.into());
    }

    /// `type=item_store`: `status` as memcached's store outcome, `cmd` the verb, `ttl`
    /// seconds left (0: none).
    pub fn item_store(&self, hub: &Hub, item: &ItemLog<'_>, status: &str, cmd: &str, ttl: u64) {
        let mut l = log_prefix(self);
        l.extend_from_slice(b"type=item_store key=");
        uriencode(&mut l, item.key);
        let _ = writeln!(
            l,
            " status={status} cmd={cmd} ttl={ttl} clsid={} cfd={} size={}",
            item.class, item.fd, item.size
        );
        self.send(hub, stream::MUTATIONS, l.into());
    }

    /// `type=eviction`: `ttl` -1 for no expiry, `idle` seconds since last access.
    pub fn eviction(&self, hub: &Hub, item: &ItemLog<'_>, fetched: bool, ttl: i64, idle: u32) {
        let mut l = log_prefix(self);
        l.extend_from_slice(b"type=eviction key=");
        uriencode(&mut l, item.key);
        let _ = writeln!(
            l,
            " fetch={} ttl={ttl} la={idle} clsid={} size={}",
            if fetched { "yes" } else { "no" },
            item.class,
            item.size
        );
        self.send(hub, stream::EVICTIONS, l.into());
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
        let mut l = log_prefix(self);
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
        self.send(hub, stream::CONNEVENTS, l.into());
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
    }

    #[test]
    fn monitor_lines() {
        let l = monitor_line(2, "127.0.0.1:5000", [&b"set"[..], b"k", b"v 1"].into_iter());
        let s = String::from_utf8(l.to_vec()).unwrap();
        let (ts, rest) = s[1..].split_once(' ').unwrap();
        assert!(s.starts_with('+'));
        assert_eq!(ts.len(), 17, "{ts}");
        assert_eq!(rest, "[2 127.0.0.1:5000] \"set\" \"k\" \"v 1\"\r\n");
    }

    #[test]
    fn memcache_requests_show_their_command_line() {
        let l = memcache_monitor_line("a:1", b"set k 0 0 1\r\nv\r\n");
        let s = String::from_utf8(l.to_vec()).unwrap();
        assert!(
            s.ends_with(" [0 a:1] \"set\" \"k\" \"0\" \"0\" \"1\"\r\n"),
            "{s}"
        );
    }

    #[test]
    fn keys_are_uri_encoded_as_memcached() {
        let mut v = Vec::new();
        uriencode(&mut v, b"a-b.c_d~e#f/\xff");
        assert_eq!(v, b"a-b.c_d~e%23f%2F%FF");
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
                Event::Line(l) => Some(String::from_utf8(l.to_vec()).unwrap()),
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
        w.send(&hub, stream::FETCHERS, Arc::from(&b"x\n"[..]));
        let mut got = Vec::new();
        assert!(hub.take(0, &mut got));
        w.remove(a);
        assert!(!w.wanted(stream::MONITOR | stream::FETCHERS));
        assert_eq!(w.count(stream::MONITOR), 0);
    }
}
