//! MIGRATE: moves (or with COPY copies) keys to another server, Redis 7.0's syntax and
//! replies. Each key goes as `RESTORE key ttl <DUMP payload> [REPLACE]` (the payload as
//! DUMP makes it, see [`crate::persist::dump`]), so the target may be slabd or
//! redis-server; after `AUTH` / `AUTH2` and `SELECT`, one connection, one write, then a
//! reply line per command. Keys the target acknowledged are deleted here unless COPY.
//!
//! The exchange with the target (connect, write, each reply; up to `timeout` ms per step)
//! runs on a thread of its own while the caller's connection is parked, so the worker keeps
//! serving its other clients (Redis blocks the whole server meanwhile). When the thread is
//! done it posts `Wake` to the connection ([`crate::hub`]) and the request runs again: it
//! finds the outcome in [`PENDING`], deletes the acknowledged keys and replies. A key
//! written by another client during the exchange is not deleted (its CAS changed since its
//! payload was made), so no write is lost; Redis cannot see such a write. Inside
//! MULTI/EXEC or a script (nothing may park there) the exchange runs on the worker.
//!
//! Connections to targets are kept, as Redis's `migrate_cached_sockets` are: at most
//! [`CACHE_MAX`] (a full cache drops its least recently used one), each closed after
//! [`CACHE_IDLE`] unused (by a sweeper thread that runs while the cache is not empty), and
//! `SELECT` is sent only when the database differs from the connection's last one. A
//! cached connection that fails before any reply came back (the target closed it) is
//! replaced by a new one once, as Redis retries once after a socket error.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::registry::{spec, Spec};
use super::Call;
use crate::hub::notify;
use crate::hub::{Event, OnTimeout};
use crate::persist::{dump, typed};
use crate::protocol::resp::{parse_i64, Args};
use crate::stats;
use crate::storage::{Delete, DeleteOutcome};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("migrate", -6, ["write", "movablekeys"], (3, 3, 1), "generic", "2.6.0",
        "Atomically transfer a key from a Redis instance to another one.", migrate),
];

/// MIGRATE's options after the timeout.
struct Options<'a> {
    copy: bool,
    replace: bool,
    /// `AUTH password` (user `None`) or `AUTH2 username password`.
    auth: Option<(Option<&'a [u8]>, &'a [u8])>,
    /// Index of the first key: 3, or the argument after `KEYS`.
    first_key: usize,
}

/// Parses `[COPY] [REPLACE] [AUTH password | AUTH2 username password] [KEYS key ...]` as
/// Redis 7.0 does; `Err` holds the error reply.
fn parse(args: Args<'_>) -> Result<Options<'_>, &'static [u8]> {
    let mut o = Options {
        copy: false,
        replace: false,
        auth: None,
        first_key: 3,
    };
    let mut j = 6;
    while j < args.len() {
        let a = args.get(j);
        let more = args.len() - 1 - j;
        if a.eq_ignore_ascii_case(b"copy") {
            o.copy = true;
        } else if a.eq_ignore_ascii_case(b"replace") {
            o.replace = true;
        } else if a.eq_ignore_ascii_case(b"auth") && more >= 1 {
            o.auth = Some((None, args.get(j + 1)));
            j += 1;
        } else if a.eq_ignore_ascii_case(b"auth2") && more >= 2 {
            o.auth = Some((Some(args.get(j + 1)), args.get(j + 2)));
            j += 2;
        } else if a.eq_ignore_ascii_case(b"keys") {
            if !args.get(3).is_empty() {
                return Err(b"ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
            }
            o.first_key = j + 1;
            break;
        } else {
            return Err(b"ERR syntax error");
        }
        j += 1;
    }
    Ok(o)
}

/// The keys a MIGRATE names (for the AOF: their state after it is logged).
pub(super) fn keys(args: Args<'_>) -> Vec<&[u8]> {
    match parse(args) {
        Ok(o) if o.first_key == 3 => vec![args.get(3)],
        Ok(o) => (o.first_key..args.len()).map(|i| args.get(i)).collect(),
        Err(_) => Vec::new(),
    }
}

/// Appends one RESP command.
fn command(buf: &mut Vec<u8>, parts: &[&[u8]]) {
    buf.extend_from_slice(format!("*{}\r\n", parts.len()).as_bytes());
    for p in parts {
        buf.extend_from_slice(format!("${}\r\n", p.len()).as_bytes());
        buf.extend_from_slice(p);
        buf.extend_from_slice(b"\r\n");
    }
}

/// Connections kept at most (Redis's `MIGRATE_SOCKET_CACHE_ITEMS`).
const CACHE_MAX: usize = 64;
/// A kept connection unused this long is closed (Redis's `MIGRATE_SOCKET_CACHE_TTL`).
const CACHE_IDLE: Duration = Duration::from_secs(10);

/// A connection to a target, kept between MIGRATEs.
struct Cached {
    /// `host:port` as MIGRATE named it.
    target: Vec<u8>,
    stream: TcpStream,
    /// The database its last `SELECT` chose, if that succeeded.
    db: Option<i64>,
    used: Instant,
}

/// The kept connections, and whether the sweeper thread runs.
struct Cache {
    sockets: Vec<Cached>,
    sweeping: bool,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    sockets: Vec::new(),
    sweeping: false,
});

/// Takes the kept connection to `target`, if there is one that is not past its idle time.
fn take_cached(target: &[u8]) -> Option<Cached> {
    let mut cache = CACHE.lock();
    cache.sockets.retain(|c| c.used.elapsed() < CACHE_IDLE);
    let at = cache.sockets.iter().position(|c| c.target == target)?;
    Some(cache.sockets.swap_remove(at))
}

/// Connections kept now (INFO's `migrate_cached_sockets`).
pub(super) fn cached_sockets() -> usize {
    CACHE.lock().sockets.len()
}

/// Keeps a connection after a MIGRATE that did not fail on it, starting the sweeper that
/// closes idle ones if it is not running.
fn keep(c: Cached) {
    let mut cache = CACHE.lock();
    if cache.sockets.len() >= CACHE_MAX {
        if let Some(oldest) = (0..cache.sockets.len()).min_by_key(|&i| cache.sockets[i].used) {
            cache.sockets.swap_remove(oldest);
        }
    }
    cache.sockets.push(c);
    if !cache.sweeping {
        let spawned = std::thread::Builder::new()
            .name("slabd-migrate".into())
            .spawn(sweep);
        cache.sweeping = spawned.is_ok();
    }
}

/// The sweeper: once a second closes connections idle for [`CACHE_IDLE`]; ends when none
/// is left.
fn sweep() {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let mut cache = CACHE.lock();
        cache.sockets.retain(|c| c.used.elapsed() < CACHE_IDLE);
        if cache.sockets.is_empty() {
            cache.sweeping = false;
            return;
        }
    }
}

/// How talking to the target failed.
enum Io {
    Connect,
    Write,
    Read,
}

impl Io {
    fn reply(&self) -> &'static [u8] {
        match self {
            Io::Connect => b"IOERR error or timeout connecting to the client",
            Io::Write => b"IOERR error or timeout writing to target instance",
            Io::Read => b"IOERR error or timeout reading to target instance",
        }
    }
}

/// Connects to `host:port` within `timeout` (Redis reads the port as `atoi` does: a bad
/// one fails to connect).
fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<TcpStream, Io> {
    let host = std::str::from_utf8(host).map_err(|_| Io::Connect)?;
    let port: u16 = std::str::from_utf8(port)
        .ok()
        .and_then(|p| p.parse().ok())
        .ok_or(Io::Connect)?;
    let addrs = (host, port).to_socket_addrs().map_err(|_| Io::Connect)?;
    for addr in addrs {
        if let Ok(s) = TcpStream::connect_timeout(&addr, timeout) {
            let _ = s.set_nodelay(true);
            s.set_read_timeout(Some(timeout)).map_err(|_| Io::Connect)?;
            s.set_write_timeout(Some(timeout))
                .map_err(|_| Io::Connect)?;
            return Ok(s);
        }
    }
    Err(Io::Connect)
}

/// Reads one reply line (without CRLF); replies to AUTH, SELECT and RESTORE are one line.
fn read_line(r: &mut BufReader<&TcpStream>, line: &mut Vec<u8>) -> Result<(), Io> {
    line.clear();
    let n = std::io::Read::take(&mut *r, 64 * 1024)
        .read_until(b'\n', line)
        .map_err(|_| Io::Read)?;
    if n == 0 || !line.ends_with(b"\n") {
        return Err(Io::Read);
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(())
}

/// `MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
/// AUTH2 username password] [KEYS key [key ...]]`
fn migrate(call: &mut Call<'_>, args: Args<'_>) {
    let o = match parse(args) {
        Ok(o) => o,
        Err(e) => return call.w.error(e),
    };
    let (Some(timeout), Some(dbid)) = (parse_i64(args.get(5)), parse_i64(args.get(4))) else {
        return call.not_integer();
    };
    let client = call.info.id;
    if let Some(job) = take_pending(client) {
        return match job.done {
            Some(outcome) => finish(call, &o, &job.sent, outcome),
            None => {
                // Woken before its exchange ended (CLIENT UNPAUSE): park again.
                PENDING.lock().push(job);
                call.block(std::iter::empty(), None, OnTimeout::Rerun);
            }
        };
    }
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let compress = call.ctx.directives.int("rdbcompression") != 0;
    let names: Vec<&[u8]> = if o.first_key == 3 {
        vec![args.get(3)]
    } else {
        (o.first_key..args.len()).map(|i| args.get(i)).collect()
    };
    let found: Vec<Found<'_>> = names
        .into_iter()
        .filter_map(|key| {
            let (value, at, cas) = call.ctx.store.inspect(call.db(), key, |cur| {
                cur.map(|c| (typed::value_of(c), c.expiry().unix_ms(), c.cas()))
            })?;
            Some((key, dump::encode(&value?, compress), at, cas))
        })
        .collect();
    if found.is_empty() {
        return call.w.simple(b"NOKEY");
    }
    let mut body = Vec::new();
    let now = super::now_millis(call.ctx);
    let mut sent = Vec::with_capacity(found.len());
    for (key, payload, at, cas) in &found {
        let ttl = match at {
            None => 0,
            // Expired since it was found: left out, as Redis does.
            Some(at) if *at < now => continue,
            Some(at) => (at - now).max(1),
        };
        let ttl = ttl.to_string();
        let mut parts: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
        if o.replace {
            parts.push(b"REPLACE");
        }
        command(&mut body, &parts);
        sent.push((key.to_vec(), *cas));
    }
    let ex = Exchange {
        target: [args.get(1), b":", args.get(2)].concat(),
        host: args.get(1).to_vec(),
        port: args.get(2).to_vec(),
        auth: o
            .auth
            .map(|(user, pass)| (user.map(<[u8]>::to_vec), pass.to_vec())),
        dbid,
        timeout,
        body,
        keys: sent.len(),
    };
    if !call.may_block() {
        let outcome = ex.run();
        return finish(call, &o, &sent, outcome);
    }
    // Jobs of clients that closed while parked are never taken: drop them here.
    PENDING
        .lock()
        .retain(|j| call.ctx.clients.get(j.client).is_some());
    PENDING.lock().push(Pending {
        client,
        sent,
        done: None,
    });
    let hub = call.ctx.hub.clone();
    let who = call.info.target();
    let spawned = std::thread::Builder::new()
        .name("slabd-migrate-io".into())
        .spawn(move || {
            let outcome = ex.run();
            if let Some(job) = PENDING.lock().iter_mut().find(|j| j.client == client) {
                job.done = Some(outcome);
            }
            hub.post(who, Event::Wake);
        });
    if spawned.is_err() {
        take_pending(client);
        return call.w.error(Io::Connect.reply());
    }
    call.block(std::iter::empty(), None, OnTimeout::Rerun);
}

/// A key that exists: its name, payload, absolute expiry (Unix ms) and CAS.
type Found<'a> = (&'a [u8], Vec<u8>, Option<u64>, u64);

/// A MIGRATE whose exchange runs on its own thread while its connection is parked.
struct Pending {
    /// The caller's client id.
    client: u64,
    /// The keys sent, each with its CAS when its payload was made.
    sent: Vec<(Vec<u8>, u64)>,
    /// The exchange's outcome, once it has one.
    done: Option<Result<Replies, Io>>,
}

/// MIGRATEs in progress (one per parked client at most).
static PENDING: Mutex<Vec<Pending>> = Mutex::new(Vec::new());

fn take_pending(client: u64) -> Option<Pending> {
    let mut jobs = PENDING.lock();
    let at = jobs.iter().position(|j| j.client == client)?;
    Some(jobs.swap_remove(at))
}

/// The exchange ended: deletes the keys the target acknowledged (unless COPY, and unless
/// another client wrote one meanwhile) and replies.
fn finish(
    call: &mut Call<'_>,
    o: &Options<'_>,
    sent: &[(Vec<u8>, u64)],
    outcome: Result<Replies, Io>,
) {
    let (replies, failed) = match outcome {
        Ok(done) => done,
        Err(e) => return call.w.error(e.reply()),
    };
    let mut first_error = None::<Vec<u8>>;
    for ((key, cas), reply) in sent.iter().zip(replies) {
        match reply {
            Some(e) => {
                first_error.get_or_insert(e);
            }
            None if !o.copy => {
                delete_unchanged(call, key, *cas);
            }
            None => {}
        }
    }
    match first_error {
        // The connection failed after some keys were acknowledged (and handled above).
        None if failed => call.w.error(Io::Read.reply()),
        None => call.w.ok(),
        Some(e) => {
            let mut msg = b"ERR Target instance replied with error: ".to_vec();
            msg.extend_from_slice(&e[1..]);
            call.w.error(&msg);
        }
    }
}

/// Deletes a migrated key unless it was written since its payload was made (its CAS moved),
/// counted and notified as DEL is.
fn delete_unchanged(call: &Call<'_>, key: &[u8], cas: u64) {
    let d = Delete {
        db: call.conn.db,
        key,
        compare_cas: Some(cas),
        invalidate: None,
        drop_value: false,
    };
    let deleted = call.ctx.store.delete(&d) == DeleteOutcome::Deleted;
    if deleted {
        call.notify(notify::GENERIC, "del", key);
    }
    stats::bump(if deleted {
        &call.stats.delete_hits
    } else {
        &call.stats.delete_misses
    });
}

/// Per key that got a reply, `None` or the target's error line; and whether the
/// connection failed before every key got one.
type Replies = (Vec<Option<Vec<u8>>>, bool);

/// One MIGRATE's conversation with its target, owned so that it can run on another thread.
struct Exchange {
    /// `host:port` as MIGRATE named it (the connection cache's key).
    target: Vec<u8>,
    host: Vec<u8>,
    port: Vec<u8>,
    /// `AUTH password` (user `None`) or `AUTH2 username password`.
    auth: Option<(Option<Vec<u8>>, Vec<u8>)>,
    dbid: i64,
    timeout: Duration,
    /// The RESTORE commands.
    body: Vec<u8>,
    /// How many RESTOREs `body` holds.
    keys: usize,
}

impl Exchange {
    /// Runs the exchange; a kept connection that failed before any reply is replaced by a
    /// new one once.
    fn run(&self) -> Result<Replies, Io> {
        let mut retried = false;
        loop {
            match self.attempt() {
                Ok(done) => return Ok(done),
                Err((_, true)) if !retried => retried = true,
                Err((e, _)) => return Err(e),
            }
        }
    }

    /// One attempt: sends `AUTH` (if given), `SELECT` (unless the kept connection has
    /// `dbid` already) and the RESTOREs on a kept connection or a new one, and reads the
    /// replies (an `AUTH`/`SELECT` error counts for every key). The connection is kept when
    /// every reply came. `Err` holds the failure and whether a new connection may be tried
    /// (a kept one failed before any reply).
    fn attempt(&self) -> Result<Replies, (Io, bool)> {
        let timeout = self.timeout;
        let (stream, kept_db, kept) = match take_cached(&self.target) {
            Some(c) => (c.stream, c.db, true),
            None => (
                connect(&self.host, &self.port, timeout).map_err(|e| (e, false))?,
                None,
                false,
            ),
        };
        if kept
            && (stream.set_read_timeout(Some(timeout)).is_err()
                || stream.set_write_timeout(Some(timeout)).is_err())
        {
            return Err((Io::Write, true));
        }
        let mut req = Vec::with_capacity(self.body.len() + 64);
        match &self.auth {
            Some((Some(user), pass)) => command(&mut req, &[b"AUTH", user, pass]),
            Some((None, pass)) => command(&mut req, &[b"AUTH", pass]),
            None => {}
        }
        let select = kept_db != Some(self.dbid);
        if select {
            command(&mut req, &[b"SELECT", self.dbid.to_string().as_bytes()]);
        }
        req.extend_from_slice(&self.body);
        if (&stream).write_all(&req).is_err() {
            return Err((Io::Write, kept));
        }
        let mut r = BufReader::new(&stream);
        let mut line = Vec::new();
        // AUTH's and SELECT's replies: an error there is reported for every key.
        let mut pending_error = None;
        let mut db = kept_db;
        let authed = usize::from(self.auth.is_some());
        for i in 0..authed + usize::from(select) {
            if read_line(&mut r, &mut line).is_err() {
                return Err((Io::Read, kept && i == 0));
            }
            let error = line.first() == Some(&b'-');
            if select && i == authed {
                db = (!error).then_some(self.dbid);
            }
            if error && pending_error.is_none() {
                pending_error = Some(line.clone());
            }
        }
        let mut replies = Vec::with_capacity(self.keys);
        for i in 0..self.keys {
            if read_line(&mut r, &mut line).is_err() {
                if replies.is_empty() {
                    let retry = kept && i == 0 && self.auth.is_none() && !select;
                    return Err((Io::Read, retry));
                }
                // Some keys were acknowledged: they are handled, the connection is dropped.
                return Ok((replies, true));
            }
            let error = (line.first() == Some(&b'-')).then(|| line.clone());
            replies.push(pending_error.clone().or(error));
        }
        // After an error the connection's database is not trusted (as Redis does).
        if replies.iter().any(Option::is_some) {
            db = None;
        }
        drop(r);
        keep(Cached {
            target: self.target.clone(),
            stream,
            db,
            used: Instant::now(),
        });
        Ok((replies, false))
    }
}
