//! Keyspace commands: DEL, EXISTS, TYPE, the EXPIRE family, TTL, RENAME, KEYS, SCAN, MOVE…
//!
//! Expiry is exact to the millisecond: relative times count from the real clock, PTTL and
//! PEXPIRETIME read back what was set, TTL and EXPIRETIME round to the nearest second as
//! Redis does.

use super::connection::db_index;
use super::registry::{spec, Spec};
use super::{glob, now_millis, Call, ExpireAt, TimeUnit, OOM};
use crate::hub::notify;
use crate::protocol::resp::{Args, Writer};
use crate::stats;
use crate::storage::{Delete, DeleteOutcome, Expiry, ItemType, Lookup, ReadOptions};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("del", -2, ["write"], (1, -1, 1), "generic", "1.0.0",
        "Delete a key", del),
    spec!("exists", -2, ["readonly", "fast"], (1, -1, 1), "generic", "1.0.0",
        "Determine if a key exists", exists),
    spec!("expire", -3, ["write", "fast"], (1, 1, 1), "generic", "1.0.0",
        "Set a key's time to live in seconds", expire),
    spec!("ttl", 2, ["readonly", "fast"], (1, 1, 1), "generic", "1.0.0",
        "Get the time to live for a key in seconds", ttl),
    spec!("unlink", -2, ["write", "fast"], (1, -1, 1), "generic", "4.0.0",
        "Delete a key asynchronously in another thread", del),
    spec!("type", 2, ["readonly", "fast"], (1, 1, 1), "generic", "1.0.0",
        "Determine the type stored at key", key_type),
    spec!("pexpire", -3, ["write", "fast"], (1, 1, 1), "generic", "2.6.0",
        "Set a key's time to live in milliseconds", pexpire),
    spec!("expireat", -3, ["write", "fast"], (1, 1, 1), "generic", "1.2.0",
        "Set the expiration for a key as a UNIX timestamp", expireat),
    spec!("pexpireat", -3, ["write", "fast"], (1, 1, 1), "generic", "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
        pexpireat),
    spec!("pttl", 2, ["readonly", "fast"], (1, 1, 1), "generic", "2.6.0",
        "Get the time to live for a key in milliseconds", pttl),
    spec!("expiretime", 2, ["readonly", "fast"], (1, 1, 1), "generic", "7.0.0",
        "Get the expiration Unix timestamp for a key", expiretime),
    spec!("pexpiretime", 2, ["readonly", "fast"], (1, 1, 1), "generic", "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds", pexpiretime),
    spec!("persist", 2, ["write", "fast"], (1, 1, 1), "generic", "2.2.0",
        "Remove the expiration from a key", persist),
    spec!("rename", 3, ["write"], (1, 2, 1), "generic", "1.0.0",
        "Rename a key", rename),
    spec!("renamenx", 3, ["write", "fast"], (1, 2, 1), "generic", "1.0.0",
        "Rename a key, only if the new key does not exist", renamenx),
    spec!("keys", 2, ["readonly"], (0, 0, 0), "generic", "1.0.0",
        "Find all keys matching the given pattern", keys),
    spec!("scan", -2, ["readonly"], (0, 0, 0), "generic", "2.8.0",
        "Incrementally iterate the keys space", scan),
    spec!("randomkey", 1, ["readonly"], (0, 0, 0), "generic", "1.0.0",
        "Return a random key from the keyspace", randomkey),
    spec!("touch", -2, ["readonly", "fast"], (1, -1, 1), "generic", "3.2.1",
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
        touch),
    spec!("move", 3, ["write", "fast"], (1, 1, 1), "generic", "1.0.0",
        "Move a key to another database", move_key),
];

/// A metadata read that does not count as an access.
const PEEK: ReadOptions = ReadOptions {
    touch: None,
    no_bump: true,
    vivify: None,
    recache_below: None,
    is_fetch: false,
    strings_only: false,
};

fn type_name(t: ItemType) -> &'static [u8] {
    t.name().as_bytes()
}

impl Call<'_> {
    /// The expiry of `key`, `None` when there is no live key.
    pub(super) fn expiry_of(&self, key: &[u8]) -> Option<Expiry> {
        match self.ctx.store.get(self.conn.db, key, &PEEK, |i| i.expiry()) {
            Lookup::Hit(e) => Some(e),
            _ => None,
        }
    }

    fn exists(&self, key: &[u8]) -> bool {
        self.expiry_of(key).is_some()
    }

    pub(super) fn delete(&self, key: &[u8]) -> bool {
        let d = Delete {
            db: self.conn.db,
            key,
            compare_cas: None,
            invalidate: None,
            drop_value: false,
        };
        let deleted = self.ctx.store.delete(&d) == DeleteOutcome::Deleted;
        if deleted {
            self.notify(notify::GENERIC, "del", key);
        }
        stats::bump(if deleted {
            &self.stats.delete_hits
        } else {
            &self.stats.delete_misses
        });
        deleted
    }
}

/// DEL and UNLINK (the store frees items at once either way).
pub(super) fn del(call: &mut Call<'_>, args: Args<'_>) {
    let n = args.iter_from(1).filter(|k| call.delete(k)).count();
    call.w.integer(n as i64);
}

pub(super) fn exists(call: &mut Call<'_>, args: Args<'_>) {
    let n = args.iter_from(1).filter(|k| call.exists(k)).count();
    call.w.integer(n as i64);
}

pub(super) fn touch(call: &mut Call<'_>, args: Args<'_>) {
    let opts = ReadOptions::default();
    let n = args
        .iter_from(1)
        .filter(|k| {
            matches!(
                call.ctx.store.get(call.conn.db, k, &opts, |_| ()),
                Lookup::Hit(())
            )
        })
        .count();
    call.w.integer(n as i64);
}

pub(super) fn key_type(call: &mut Call<'_>, args: Args<'_>) {
    match call
        .ctx
        .store
        .get(call.conn.db, args.get(1), &PEEK, |i| i.item_type())
    {
        Lookup::Hit(t) => call.w.simple(type_name(t)),
        _ => call.w.simple(b"none"),
    }
}

/// EXPIRE's NX/XX/GT/LT condition.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Condition {
    Always,
    /// Only when the key has no expiry.
    Nx,
    /// Only when the key has an expiry.
    Xx,
    /// Only when the new expiry is later (no expiry counts as infinitely late).
    Gt,
    /// Only when the new expiry is earlier.
    Lt,
}

fn expire_generic(call: &mut Call<'_>, args: Args<'_>, unit: TimeUnit, absolute: bool, name: &str) {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in args.iter_from(3) {
        if opt.eq_ignore_ascii_case(b"NX") {
            nx = true;
        } else if opt.eq_ignore_ascii_case(b"XX") {
            xx = true;
        } else if opt.eq_ignore_ascii_case(b"GT") {
            gt = true;
        } else if opt.eq_ignore_ascii_case(b"LT") {
            lt = true;
        } else {
            return call.w.error_fmt(format_args!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    if nx && (xx || gt || lt) {
        return call
            .w
            .error(b"ERR NX and XX, GT or LT options at the same time are not compatible");
    }
    if gt && lt {
        return call
            .w
            .error(b"ERR GT and LT options at the same time are not compatible");
    }
    let condition = match (nx, xx, gt, lt) {
        (true, ..) => Condition::Nx,
        (_, _, true, _) => Condition::Gt,
        (_, _, _, true) => Condition::Lt,
        (_, true, ..) => Condition::Xx,
        _ => Condition::Always,
    };
    // XX with GT or LT: GT/LT already imply an expiry for GT, and LT with XX needs one.
    let needs_expiry = xx;
    let Some(amount) = call.integer(args.get(2)) else {
        return;
    };
    let Some(at) = ExpireAt::resolve(call.ctx, amount, unit, absolute) else {
        return call
            .w
            .error_fmt(format_args!("ERR invalid expire time in '{name}' command"));
    };
    stats::bump(&call.stats.cmd_touch);
    let key = args.get(1);
    let Some(current) = call.expiry_of(key) else {
        stats::bump(&call.stats.touch_misses);
        return call.w.integer(0);
    };
    let new_expiry = at.expiry();
    let new_ms = new_expiry.unix_ms().unwrap_or(u64::MAX);
    let allowed = match (condition, current) {
        (Condition::Always, _) => true,
        (Condition::Nx, e) => e == Expiry::Never,
        (Condition::Xx, e) => e != Expiry::Never,
        (Condition::Gt, Expiry::Never) => false,
        (Condition::Gt, Expiry::AtMs(t)) => new_ms > t,
        (Condition::Lt, Expiry::Never) => !needs_expiry,
        (Condition::Lt, Expiry::AtMs(t)) => new_ms < t,
    };
    if !allowed {
        return call.w.integer(0);
    }
    // A time already past deletes the key, as Redis does.
    let done = if at.past {
        call.delete(key)
    } else {
        let touched = call.ctx.store.touch(call.conn.db, key, new_expiry);
        if touched {
            call.notify(notify::GENERIC, "expire", key);
        }
        touched
    };
    stats::bump(if done {
        &call.stats.touch_hits
    } else {
        &call.stats.touch_misses
    });
    call.w.integer(i64::from(done));
}

pub(super) fn expire(call: &mut Call<'_>, args: Args<'_>) {
    expire_generic(call, args, TimeUnit::Seconds, false, "expire");
}

pub(super) fn pexpire(call: &mut Call<'_>, args: Args<'_>) {
    expire_generic(call, args, TimeUnit::Millis, false, "pexpire");
}

pub(super) fn expireat(call: &mut Call<'_>, args: Args<'_>) {
    expire_generic(call, args, TimeUnit::Seconds, true, "expireat");
}

pub(super) fn pexpireat(call: &mut Call<'_>, args: Args<'_>) {
    expire_generic(call, args, TimeUnit::Millis, true, "pexpireat");
}

/// TTL and friends: -2 no key, -1 no expiry, else `f(expiry unix ms, now unix ms)` with now
/// from the real clock.
fn reply_expiry(call: &mut Call<'_>, key: &[u8], f: impl FnOnce(u64, u64) -> u64) {
    let n = match call.expiry_of(key) {
        None => -2,
        Some(Expiry::Never) => -1,
        Some(Expiry::AtMs(t)) => i64::try_from(f(t, now_millis(call.ctx))).unwrap_or(i64::MAX),
    };
    call.w.integer(n);
}

/// Redis rounds the second-based forms to the nearest second.
fn round_secs(ms: u64) -> u64 {
    ms.saturating_add(500) / 1000
}

pub(super) fn ttl(call: &mut Call<'_>, args: Args<'_>) {
    reply_expiry(call, args.get(1), |t, now| {
        round_secs(t.saturating_sub(now))
    });
}

pub(super) fn pttl(call: &mut Call<'_>, args: Args<'_>) {
    reply_expiry(call, args.get(1), |t, now| t.saturating_sub(now));
}

pub(super) fn expiretime(call: &mut Call<'_>, args: Args<'_>) {
    reply_expiry(call, args.get(1), |t, _| round_secs(t));
}

pub(super) fn pexpiretime(call: &mut Call<'_>, args: Args<'_>) {
    reply_expiry(call, args.get(1), |t, _| t);
}

pub(super) fn persist(call: &mut Call<'_>, args: Args<'_>) {
    let key = args.get(1);
    let done = matches!(call.expiry_of(key), Some(Expiry::AtMs(_)))
        && call.ctx.store.touch(call.conn.db, key, Expiry::Never);
    if done {
        call.notify(notify::GENERIC, "persist", key);
    }
    call.w.integer(i64::from(done));
}

fn rename_generic(call: &mut Call<'_>, args: Args<'_>, only_if_absent: bool) {
    let (from, to) = (args.get(1), args.get(2));
    if !call.exists(from) {
        return call.w.error(b"ERR no such key");
    }
    if from == to {
        return if only_if_absent {
            call.w.integer(0)
        } else {
            call.w.ok()
        };
    }
    let db = call.conn.db;
    let renamed = call.ctx.store.rename(db, from, db, to, only_if_absent);
    if renamed == Ok(true) {
        call.notify(notify::GENERIC, "rename_from", from);
        call.notify(notify::GENERIC, "rename_to", to);
        // A list or sorted set moved into place serves clients blocked on its new name.
        call.ctx.hub.signal_key(db, to);
    }
    match renamed {
        Ok(moved) if only_if_absent => call.w.integer(i64::from(moved)),
        Ok(true) => call.w.ok(),
        // Deleted between the check and the rename.
        Ok(false) => call.w.error(b"ERR no such key"),
        Err(_) => call.w.error(OOM),
    }
}

pub(super) fn rename(call: &mut Call<'_>, args: Args<'_>) {
    rename_generic(call, args, false);
}

pub(super) fn renamenx(call: &mut Call<'_>, args: Args<'_>) {
    rename_generic(call, args, true);
}

pub(super) fn move_key(call: &mut Call<'_>, args: Args<'_>) {
    let Some(to) = db_index(call, args.get(2)) else {
        return;
    };
    if to == call.conn.db {
        return call
            .w
            .error(b"ERR source and destination objects are the same");
    }
    let key = args.get(1);
    match call.ctx.store.rename(call.conn.db, key, to, key, true) {
        Ok(moved) => {
            if moved {
                call.notify(notify::GENERIC, "move_from", key);
                call.ctx.notify(notify::GENERIC, "move_to", to, key);
                call.ctx.hub.signal_key(to, key);
            }
            call.w.integer(i64::from(moved));
        }
        Err(_) => call.w.error(OOM),
    }
}

/// Walks keys of the current database from `cursor`, appending matching keys as bulk
/// strings to the scratch buffer; returns the next cursor and how many were appended.
fn collect_keys(
    call: &mut Call<'_>,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
    type_filter: Option<&[u8]>,
) -> (u64, usize) {
    let mut n = 0;
    let scratch = &mut call.conn.scratch;
    let next = call.ctx.store.scan(call.conn.db, cursor, count, |item| {
        let key = item.key();
        if pattern.is_some_and(|p| !glob::matches(p, key, false)) {
            return;
        }
        if type_filter.is_some_and(|t| !t.eq_ignore_ascii_case(type_name(item.item_type()))) {
            return;
        }
        let mut w = Writer {
            out: scratch,
            resp3: false,
        };
        w.bulk(key);
        n += 1;
    });
    (next, n)
}

pub(super) fn keys(call: &mut Call<'_>, args: Args<'_>) {
    let pattern = Some(args.get(1)).filter(|p| *p != b"*");
    call.conn.scratch.clear();
    let mut cursor = 0;
    let mut total = 0;
    loop {
        let (next, n) = collect_keys(call, cursor, 1024, pattern, None);
        total += n;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    call.w.array(total);
    call.w.out.extend_from_slice(&call.conn.scratch);
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`
pub(super) fn scan(call: &mut Call<'_>, args: Args<'_>) {
    let cursor = std::str::from_utf8(args.get(1))
        .ok()
        .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok());
    let Some(cursor) = cursor else {
        return call.w.error(b"ERR invalid cursor");
    };
    let mut pattern = None;
    let mut count = 10usize;
    let mut type_filter = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args.get(i);
        if i + 1 >= args.len() {
            return call.syntax_error();
        }
        let value = args.get(i + 1);
        if opt.eq_ignore_ascii_case(b"MATCH") {
            pattern = Some(value).filter(|p| *p != b"*");
        } else if opt.eq_ignore_ascii_case(b"COUNT") {
            let Some(n) = call.integer(value) else {
                return;
            };
            if n < 1 {
                return call.syntax_error();
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if opt.eq_ignore_ascii_case(b"TYPE") {
            type_filter = Some(value);
        } else {
            return call.syntax_error();
        }
        i += 2;
    }
    call.conn.scratch.clear();
    let (next, n) = collect_keys(call, cursor, count, pattern, type_filter);
    call.w.array(2);
    call.w.bulk(next.to_string().as_bytes());
    call.w.array(n);
    call.w.out.extend_from_slice(&call.conn.scratch);
}

pub(super) fn randomkey(call: &mut Call<'_>, _args: Args<'_>) {
    match call.ctx.store.random_key(call.conn.db) {
        Some(k) => call.w.bulk(&k),
        None => call.w.null(),
    }
}
