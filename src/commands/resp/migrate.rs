//! MIGRATE: moves (or with COPY copies) keys to another server, Redis 7.0's syntax and
//! replies. Each key goes as `RESTORE key ttl <DUMP payload> [REPLACE]` (the payload as
//! DUMP makes it, see [`crate::persist::dump`]), so the target may be slabd or
//! redis-server; after `AUTH` / `AUTH2` and `SELECT`, one connection, one write, then a
//! reply line per command. Keys the target acknowledged are deleted here unless COPY.
//!
//! As in Redis the call blocks its caller for up to `timeout` ms per step (connect, write,
//! each reply); in slabd that is the caller's worker, not the whole server. Unlike Redis,
//! slabd keeps no connection cache (a new connection per MIGRATE, so `SELECT` is always
//! sent) and does not retry after a socket error.

use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::registry::{spec, Spec};
use super::Call;
use crate::persist::{dump, typed};
use crate::protocol::resp::{parse_i64, Args};

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
    let timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    let compress = call.ctx.directives.int("rdbcompression") != 0;
    let names: Vec<&[u8]> = if o.first_key == 3 {
        vec![args.get(3)]
    } else {
        (o.first_key..args.len()).map(|i| args.get(i)).collect()
    };
    // The keys that exist, each with its payload and absolute expiry (Unix ms).
    let found: Vec<(&[u8], Vec<u8>, Option<u64>)> = names
        .into_iter()
        .filter_map(|key| {
            let (value, at) = call.ctx.store.inspect(call.db(), key, |cur| {
                cur.map(|c| (typed::value_of(c), c.expiry().unix_ms()))
            })?;
            Some((key, dump::encode(&value?, compress), at))
        })
        .collect();
    if found.is_empty() {
        return call.w.simple(b"NOKEY");
    }
    let mut req = Vec::new();
    match o.auth {
        Some((Some(user), pass)) => command(&mut req, &[b"AUTH", user, pass]),
        Some((None, pass)) => command(&mut req, &[b"AUTH", pass]),
        None => {}
    }
    command(&mut req, &[b"SELECT", dbid.to_string().as_bytes()]);
    let now = super::now_millis(call.ctx);
    let mut sent = Vec::with_capacity(found.len());
    for (key, payload, at) in &found {
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
        command(&mut req, &parts);
        sent.push(*key);
    }
    let stream = match connect(args.get(1), args.get(2), timeout) {
        Ok(s) => s,
        Err(e) => return call.w.error(e.reply()),
    };
    if (&stream).write_all(&req).is_err() {
        return call.w.error(Io::Write.reply());
    }
    let mut r = BufReader::new(&stream);
    let (mut line, mut first_error) = (Vec::new(), None::<Vec<u8>>);
    // AUTH's and SELECT's replies: an error there is reported for the first key.
    let mut pending_error = None;
    for _ in 0..usize::from(o.auth.is_some()) + 1 {
        if read_line(&mut r, &mut line).is_err() {
            return call.w.error(Io::Read.reply());
        }
        if line.first() == Some(&b'-') && pending_error.is_none() {
            pending_error = Some(line.clone());
        }
    }
    for key in sent {
        if read_line(&mut r, &mut line).is_err() {
            if first_error.is_none() {
                return call.w.error(Io::Read.reply());
            }
            break;
        }
        let error = pending_error
            .clone()
            .or_else(|| (line.first() == Some(&b'-')).then(|| line.clone()));
        match error {
            Some(e) => {
                first_error.get_or_insert(e);
            }
            None if !o.copy => {
                call.delete(key);
            }
            None => {}
        }
    }
    match first_error {
        None => call.w.ok(),
        Some(e) => {
            let mut msg = b"ERR Target instance replied with error: ".to_vec();
            msg.extend_from_slice(&e[1..]);
            call.w.error(&msg);
        }
    }
}
