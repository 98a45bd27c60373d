//! What a command that ran puts in the replication stream, as Redis 7.0 propagates it.
//!
//! A write command is propagated when it changed something: when it raised a keyspace
//! event (every effective write does, see [`crate::hub::notify`]; the hub counts them per
//! thread in [`mark_dirty`] while a replica is attached), or when it is one of those Redis
//! always propagates (PUBLISH, FLUSHALL, SWAPDB, FUNCTION LOAD...). Commands are rewritten
//! as Redis rewrites them ([`rewrite`]): relative and absolute expiry to `PXAT` /
//! `PEXPIREAT` of the stored time, GETDEL to DEL, INCRBYFLOAT to `SET ... KEEPTTL`, SPOP to
//! SREM, blocking and multi-key pops to the plain pop that was served, and so on.
//!
//! The commands one client command produced (EXEC's queue, a script's `redis.call`s) are
//! collected on this thread and fed together when it ends: inside MULTI/EXEC when there is
//! more than one, alone otherwise, as Redis 7.0's `propagatePendingCommands`.

use std::cell::{Cell, RefCell};

use crate::persist::aof::encode;
use crate::protocol::resp::Args;
use crate::storage::Expiry;

thread_local! {
    /// Effective writes on this thread (keyspace events) since it started.
    static DIRTY: Cell<u64> = const { Cell::new(0) };
    /// Commands of the running client command: `(db, encoded command)`.
    static COLLECTED: RefCell<Vec<(u8, Vec<u8>)>> = const { RefCell::new(Vec::new()) };
}

/// A keyspace event of a write on this thread (the hub calls it while a replica is
/// attached).
#[inline]
pub fn mark_dirty() {
    DIRTY.with(|d| d.set(d.get() + 1));
}

/// This thread's effective writes so far (compare two readings).
#[inline]
pub fn dirty() -> u64 {
    DIRTY.with(|d| d.get())
}

/// Queues a command for the end of the running client command.
pub fn collect(db: u8, args: &[&[u8]]) {
    let mut cmd = Vec::new();
    encode(&mut cmd, args);
    COLLECTED.with(|c| c.borrow_mut().push((db, cmd)));
}

/// The commands collected since the last call.
pub fn take() -> Vec<(u8, Vec<u8>)> {
    COLLECTED.with(|c| std::mem::take(&mut *c.borrow_mut()))
}

/// Commands Redis propagates whatever they changed (PUBLISH reaches replicas' subscribers;
/// the rest raise no keyspace event).
pub fn always(name: &str, args: Args<'_>) -> bool {
    match name {
        "publish" | "spublish" | "flushall" | "flushdb" | "swapdb" => true,
        "function" => {
            let sub = args.get(1);
            [&b"load"[..], b"delete", b"flush", b"restore"]
                .iter()
                .any(|s| sub.eq_ignore_ascii_case(s))
        }
        _ => false,
    }
}

/// What the stream receives for command `name` (`args` as the client sent them) that
/// succeeded with `reply`: the commands to propagate (none: nothing). `expiry` reads a
/// key's expiry in the command's database after it ran (`None`: no such key).
pub fn rewrite(
    name: &str,
    args: Args<'_>,
    reply: &[u8],
    expiry: &dyn Fn(&[u8]) -> Option<Expiry>,
) -> Vec<Vec<Vec<u8>>> {
    let argv = || args.iter_from(0).map(<[u8]>::to_vec).collect::<Vec<_>>();
    let v = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    let key = || args.get(1);
    match name {
        "set" => {
            let has = |opt: &[u8]| args.iter_from(3).any(|a| a.eq_ignore_ascii_case(opt));
            if [&b"ex"[..], b"px", b"exat", b"pxat"].iter().any(|o| has(o)) {
                let value = args.get(2);
                match expiry(key()) {
                    None => vec![v(&[b"DEL", key()])],
                    Some(Expiry::AtMs(ms)) => {
                        vec![v(&[
                            b"SET",
                            key(),
                            value,
                            b"PXAT",
                            ms.to_string().as_bytes(),
                        ])]
                    }
                    Some(Expiry::Never) => vec![v(&[b"SET", key(), value])],
                }
            } else if has(b"get") {
                let mut c = vec![args.get(0).to_vec(), key().to_vec(), args.get(2).to_vec()];
                c.extend(
                    args.iter_from(3)
                        .filter(|a| !a.eq_ignore_ascii_case(b"get"))
                        .map(<[u8]>::to_vec),
                );
                vec![c]
            } else {
                vec![argv()]
            }
        }
        "setex" | "psetex" => match expiry(key()) {
            None => vec![v(&[b"DEL", key()])],
            Some(Expiry::AtMs(ms)) => {
                vec![v(&[
                    b"SET",
                    key(),
                    args.get(3),
                    b"PXAT",
                    ms.to_string().as_bytes(),
                ])]
            }
            Some(Expiry::Never) => vec![v(&[b"SET", key(), args.get(3)])],
        },
        "getex" => {
            let opt = args.get(2.min(args.len() - 1));
            if args.len() > 2 && opt.eq_ignore_ascii_case(b"persist") {
                vec![v(&[b"PERSIST", key()])]
            } else {
                match expiry(key()) {
                    None => vec![v(&[b"DEL", key()])],
                    Some(Expiry::AtMs(ms)) => {
                        vec![v(&[b"PEXPIREAT", key(), ms.to_string().as_bytes()])]
                    }
                    Some(Expiry::Never) => vec![v(&[b"PERSIST", key()])],
                }
            }
        }
        "getdel" => vec![v(&[b"DEL", key()])],
        "expire" | "pexpire" | "expireat" | "pexpireat" => match expiry(key()) {
            None => vec![v(&[b"DEL", key()])],
            Some(Expiry::AtMs(ms)) => {
                let mut c = v(&[b"PEXPIREAT", key(), ms.to_string().as_bytes()]);
                c.extend(args.iter_from(3).map(<[u8]>::to_vec));
                vec![c]
            }
            Some(Expiry::Never) => vec![argv()],
        },
        "incrbyfloat" => match bulk(reply) {
            Some(value) => vec![v(&[b"SET", key(), value, b"KEEPTTL"])],
            None => vec![argv()],
        },
        "hincrbyfloat" => match bulk(reply) {
            Some(value) => vec![v(&[b"HSET", key(), args.get(2), value])],
            None => vec![argv()],
        },
        "spop" => {
            let members: Vec<&[u8]> = match read(reply) {
                Some((Reply::Bulk(m), _)) => vec![m],
                Some((Reply::Array(items), _)) => items.iter().filter_map(Reply::as_bulk).collect(),
                _ => Vec::new(),
            };
            if members.is_empty() {
                return Vec::new();
            }
            let mut c = v(&[b"SREM", key()]);
            c.extend(members.iter().map(|m| m.to_vec()));
            vec![c]
        }
        "restore" => {
            let absttl = args.iter_from(4).any(|a| a.eq_ignore_ascii_case(b"absttl"));
            match (absttl, expiry(key())) {
                (false, Some(Expiry::AtMs(ms))) => {
                    let mut c = argv();
                    c[2] = ms.to_string().into_bytes();
                    c.push(b"ABSTTL".to_vec());
                    vec![c]
                }
                _ => vec![argv()],
            }
        }
        "blpop" | "brpop" | "bzpopmin" | "bzpopmax" => {
            let cmd: &[u8] = match name {
                "blpop" => b"LPOP",
                "brpop" => b"RPOP",
                "bzpopmin" => b"ZPOPMIN",
                _ => b"ZPOPMAX",
            };
            match read(reply) {
                Some((Reply::Array(items), _)) => match items.first().and_then(Reply::as_bulk) {
                    Some(k) => vec![v(&[cmd, k])],
                    None => Vec::new(),
                },
                _ => Vec::new(),
            }
        }
        "lmpop" | "blmpop" | "zmpop" | "bzmpop" => {
            let start = if name.starts_with('b') { 2 } else { 1 };
            let numkeys = crate::protocol::resp::parse_i64(args.get(start))
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(usize::MAX);
            let Some(dir) = args
                .iter_from(start.saturating_add(1).saturating_add(numkeys))
                .next()
            else {
                return Vec::new();
            };
            let first = dir.eq_ignore_ascii_case(b"left") || dir.eq_ignore_ascii_case(b"min");
            let cmd: &[u8] = match (name.contains('z'), first) {
                (false, true) => b"LPOP",
                (false, false) => b"RPOP",
                (true, true) => b"ZPOPMIN",
                (true, false) => b"ZPOPMAX",
            };
            match read(reply) {
                Some((Reply::Array(items), _)) if items.len() == 2 => {
                    match (items[0].as_bulk(), &items[1]) {
                        (Some(k), Reply::Array(popped)) => {
                            vec![v(&[cmd, k, popped.len().to_string().as_bytes()])]
                        }
                        _ => Vec::new(),
                    }
                }
                _ => Vec::new(),
            }
        }
        "blmove" => vec![v(&[
            b"LMOVE",
            args.get(1),
            args.get(2),
            args.get(3),
            args.get(4),
        ])],
        "brpoplpush" => vec![v(&[b"RPOPLPUSH", args.get(1), args.get(2)])],
        _ => vec![argv()],
    }
}

/// A reply, as far as [`rewrite`] reads one.
enum Reply<'a> {
    Bulk(&'a [u8]),
    Array(Vec<Reply<'a>>),
    Other,
}

impl<'a> Reply<'a> {
    fn as_bulk(&self) -> Option<&'a [u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            _ => None,
        }
    }
}

/// The bulk string at the start of `reply`.
fn bulk(reply: &[u8]) -> Option<&[u8]> {
    match read(reply)? {
        (Reply::Bulk(b), _) => Some(b),
        _ => None,
    }
}

/// Reads one RESP2/RESP3 reply from the start of `buf`: it and its length. Arrays, sets
/// and pushes are arrays; a map is an array of its keys and values.
fn read(buf: &[u8]) -> Option<(Reply<'_>, usize)> {
    read_depth(buf, 0)
}

fn read_depth(buf: &[u8], depth: u8) -> Option<(Reply<'_>, usize)> {
    if depth > 8 {
        return None;
    }
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = &buf[1..end];
    let mut at = end + 2;
    let number = || std::str::from_utf8(line).ok()?.parse::<i64>().ok();
    match buf.first()? {
        b'$' | b'=' => {
            let Ok(n) = usize::try_from(number()?) else {
                return Some((Reply::Other, at));
            };
            let body = buf.get(at..at.checked_add(n)?)?;
            Some((Reply::Bulk(body), at + n + 2))
        }
        b'*' | b'~' | b'>' | b'%' => {
            let Ok(mut n) = usize::try_from(number()?) else {
                return Some((Reply::Other, at));
            };
            if buf[0] == b'%' {
                n = n.checked_mul(2)?;
            }
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let (item, used) = read_depth(buf.get(at..)?, depth + 1)?;
                items.push(item);
                at += used;
            }
            Some((Reply::Array(items), at))
        }
        _ => Some((Reply::Other, at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::resp::{Limits, Parsed, Parser};

    /// The rewrite of `line` (an inline command) with `reply`, each command joined by
    /// spaces; keys expire at 5000 unless named `p` (no expiry) or `gone`.
    fn rw(line: &str, reply: &[u8]) -> Vec<String> {
        let mut p = Parser::default();
        let input = format!("{line}\r\n");
        let limits = Limits {
            max_bulk: 1 << 20,
            authenticated: true,
        };
        assert!(matches!(
            p.parse(input.as_bytes(), limits),
            Ok(Parsed::Command { .. })
        ));
        let args = p.args(input.as_bytes());
        let name = String::from_utf8(args.get(0).to_ascii_lowercase()).unwrap();
        let expiry = |k: &[u8]| match k {
            b"gone" => None,
            b"p" => Some(Expiry::Never),
            _ => Some(Expiry::AtMs(5000)),
        };
        rewrite(&name, args, reply, &expiry)
            .into_iter()
            .map(|c| {
                c.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn expiry_is_propagated_as_an_absolute_time() {
        assert_eq!(rw("set k v ex 10", b"+OK\r\n"), ["SET k v PXAT 5000"]);
        assert_eq!(rw("set k v px 10 get", b"$-1\r\n"), ["SET k v PXAT 5000"]);
        assert_eq!(rw("setex k 10 v", b"+OK\r\n"), ["SET k v PXAT 5000"]);
        assert_eq!(rw("expire k 10 NX", b":1\r\n"), ["PEXPIREAT k 5000 NX"]);
        assert_eq!(rw("expireat gone 1", b":1\r\n"), ["DEL gone"]);
        assert_eq!(rw("getex k ex 10", b"$1\r\nv\r\n"), ["PEXPIREAT k 5000"]);
        assert_eq!(rw("getex k persist", b"$1\r\nv\r\n"), ["PERSIST k"]);
        assert_eq!(rw("getex gone exat 1", b"$1\r\nv\r\n"), ["DEL gone"]);
        assert_eq!(
            rw("restore k 100 payload", b"+OK\r\n"),
            ["restore k 5000 payload ABSTTL"]
        );
        assert_eq!(
            rw("restore k 100 payload absttl", b"+OK\r\n"),
            ["restore k 100 payload absttl"]
        );
    }

    #[test]
    fn commands_become_what_they_did() {
        assert_eq!(rw("set p v get", b"$-1\r\n"), ["set p v"]);
        assert_eq!(rw("getdel k", b"$1\r\nv\r\n"), ["DEL k"]);
        assert_eq!(
            rw("incrbyfloat p 1.5", b"$3\r\n2.5\r\n"),
            ["SET p 2.5 KEEPTTL"]
        );
        assert_eq!(
            rw("spop s 2", b"*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
            ["SREM s a b"]
        );
        assert_eq!(rw("spop s", b"$1\r\na\r\n"), ["SREM s a"]);
        assert_eq!(
            rw("blpop a b 0", b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n"),
            ["LPOP b"]
        );
        assert_eq!(
            rw(
                "blmpop 0 2 a b right count 10",
                b"*2\r\n$1\r\nb\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
            ),
            ["RPOP b 3"]
        );
        assert_eq!(
            rw(
                "zmpop 1 z min",
                b"*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
            ),
            ["ZPOPMIN z 1"]
        );
        assert_eq!(rw("lpush l a", b":1\r\n"), ["lpush l a"]);
    }
}
