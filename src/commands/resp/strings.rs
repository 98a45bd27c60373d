//! String commands. Values written over RESP carry memcached flags 0; read-modify-write
//! commands (APPEND, SETRANGE, INCR…) keep the flags a memcached client stored, so a value
//! shared by both protocols keeps its meaning for the memcached side.

use super::registry::{spec, Spec};
use super::{Call, ExpireAt, TimeUnit, OOM};
use crate::hub::notify;
use crate::protocol::resp::{parse_i64, Args, Writer};
use crate::stats;
use crate::storage::{
    Expiry, ItemType, ItemView, Lookup, Miss, Mode, ReadOptions, Rewrite, RewriteError,
    StoreOutcome, Ttl, Update, Write,
};

/// Redis's reply to a string command on a collection.
const WRONGTYPE: &[u8] = b"WRONGTYPE Operation against a key holding the wrong kind of value";

fn is_string(item: &dyn ItemView) -> bool {
    item.item_type() == ItemType::String
}

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("get", 2, ["readonly", "fast"], (1, 1, 1), "string", "1.0.0",
        "Get the value of a key", get),
    spec!("set", -3, ["write", "denyoom"], (1, 1, 1), "string", "1.0.0",
        "Set the string value of a key", set),
    spec!("incr", 2, ["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0",
        "Increment the integer value of a key by one", incr),
    spec!("mget", -2, ["readonly", "fast"], (1, -1, 1), "string", "1.0.0",
        "Get the values of all the given keys", mget),
    spec!("mset", -3, ["write", "denyoom"], (1, -1, 2), "string", "1.0.1",
        "Set multiple keys to multiple values", mset),
    spec!("setex", 4, ["write", "denyoom"], (1, 1, 1), "string", "2.0.0",
        "Set the value and expiration of a key", setex),
    spec!("setnx", 3, ["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0",
        "Set the value of a key, only if the key does not exist", setnx),
    spec!("decr", 2, ["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0",
        "Decrement the integer value of a key by one", decr),
    spec!("incrby", 3, ["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0",
        "Increment the integer value of a key by the given amount", incrby),
    spec!("decrby", 3, ["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0",
        "Decrement the integer value of a key by the given number", decrby),
    spec!("incrbyfloat", 3, ["write", "denyoom", "fast"], (1, 1, 1), "string", "2.6.0",
        "Increment the float value of a key by the given amount", incrbyfloat),
    spec!("append", 3, ["write", "denyoom", "fast"], (1, 1, 1), "string", "2.0.0",
        "Append a value to a key", append),
    spec!("strlen", 2, ["readonly", "fast"], (1, 1, 1), "string", "2.2.0",
        "Get the length of the value stored in a key", strlen),
    spec!("getset", 3, ["write", "denyoom", "fast"], (1, 1, 1), "string", "1.0.0",
        "Set the string value of a key and return its old value", getset),
    spec!("getdel", 2, ["write", "fast"], (1, 1, 1), "string", "6.2.0",
        "Get the value of a key and delete the key", getdel),
    spec!("getex", -2, ["write", "fast"], (1, 1, 1), "string", "6.2.0",
        "Get the value of a key and optionally set its expiration", getex),
    spec!("psetex", 4, ["write", "denyoom"], (1, 1, 1), "string", "2.6.0",
        "Set the value and expiration in milliseconds of a key", psetex),
    spec!("msetnx", -3, ["write", "denyoom"], (1, -1, 2), "string", "1.0.1",
        "Set multiple keys to multiple values, only if none of the keys exist", msetnx),
    spec!("getrange", 4, ["readonly"], (1, 1, 1), "string", "2.4.0",
        "Get a substring of the string stored at a key", getrange),
    spec!("setrange", 4, ["write", "denyoom"], (1, 1, 1), "string", "2.2.0",
        "Overwrite part of a string at key starting at the specified offset", setrange),
];

const TOO_LARGE: &[u8] = b"ERR string exceeds maximum allowed size (proto-max-bulk-len)";

/// Appends `item`'s value as a bulk string.
fn bulk_value(w: &mut Writer<'_>, item: &dyn ItemView) {
    w.bulk_header(item.value_len());
    item.copy_value_to(w.out);
    w.crlf();
}

impl Call<'_> {
    /// Replies with the value of `key` (or a null), with `opts` applied; counts a get.
    /// Another type is WRONGTYPE, or a null with `other_type_null` (MGET).
    /// Replies with `key`'s string value; true when there was one (a hit on a string).
    fn reply_value(&mut self, key: &[u8], opts: &ReadOptions, other_type_null: bool) -> bool {
        stats::bump(&self.stats.cmd_get);
        let w = &mut self.w;
        match self.ctx.store.get(self.conn.db, key, opts, |item| {
            is_string(item) && {
                bulk_value(w, item);
                true
            }
        }) {
            Lookup::Hit(true) => {
                stats::bump(&self.stats.get_hits);
                return true;
            }
            Lookup::Hit(false) => {
                stats::bump(&self.stats.get_hits);
                if other_type_null {
                    self.w.null();
                } else {
                    self.w.error(WRONGTYPE);
                }
            }
            Lookup::Miss(miss) => {
                self.count_miss(miss);
                self.w.null();
            }
            Lookup::Vivified => self.w.null(),
        }
        false
    }

    fn count_miss(&self, miss: Miss) {
        stats::bump(&self.stats.get_misses);
        match miss {
            Miss::Expired => stats::bump(&self.stats.get_expired),
            Miss::Flushed => stats::bump(&self.stats.get_flushed),
            Miss::Absent => {}
        }
    }

    /// Replies to a write the store refused for size or memory.
    pub(super) fn write_refused(&mut self, outcome: StoreOutcome) {
        match outcome {
            StoreOutcome::TooLarge => {
                stats::bump(&self.stats.store_too_large);
                self.w.error(TOO_LARGE);
            }
            _ => {
                stats::bump(&self.stats.store_no_memory);
                self.w.error(OOM);
            }
        }
    }

    pub(super) fn rewrite_refused(&mut self, e: RewriteError) {
        self.write_refused(match e {
            RewriteError::TooLarge => StoreOutcome::TooLarge,
            RewriteError::NoMemory => StoreOutcome::NoMemory,
        });
    }

    /// Parses a relative or absolute expire time for SET, SETEX, GETEX: it must be
    /// positive, as Redis requires. Replies and returns `None` when it is not.
    fn positive_expiry(
        &mut self,
        arg: &[u8],
        unit: TimeUnit,
        absolute: bool,
        command: &str,
    ) -> Option<Expiry> {
        self.positive_expire_at(arg, unit, absolute, command)
            .map(|at| at.expiry())
    }

    /// [`Call::positive_expiry`], with whether the time is already past.
    fn positive_expire_at(
        &mut self,
        arg: &[u8],
        unit: TimeUnit,
        absolute: bool,
        command: &str,
    ) -> Option<ExpireAt> {
        let n = self.integer(arg)?;
        let at = (n > 0)
            .then(|| ExpireAt::resolve(self.ctx, n, unit, absolute))
            .flatten()
            .filter(|at| at.at_ms > 0);
        match at {
            Some(at) => Some(at),
            None => {
                self.w.error_fmt(format_args!(
                    "ERR invalid expire time in '{command}' command"
                ));
                None
            }
        }
    }
}

pub(super) fn get(call: &mut Call<'_>, args: Args<'_>) {
    call.reply_value(
        args.get(1),
        &ReadOptions {
            is_fetch: true,
            ..ReadOptions::default()
        },
        false,
    );
}

/// An expire option of SET or GETEX: which one, and its argument.
#[derive(Clone, Copy)]
struct ExpireOption<'a> {
    unit: TimeUnit,
    absolute: bool,
    arg: &'a [u8],
}

fn expire_option(name: &[u8]) -> Option<(TimeUnit, bool)> {
    let names: [(&[u8], TimeUnit, bool); 4] = [
        (b"EX", TimeUnit::Seconds, false),
        (b"PX", TimeUnit::Millis, false),
        (b"EXAT", TimeUnit::Seconds, true),
        (b"PXAT", TimeUnit::Millis, true),
    ];
    names
        .iter()
        .find(|(n, ..)| name.eq_ignore_ascii_case(n))
        .map(|&(_, u, a)| (u, a))
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]`
pub(super) fn set(call: &mut Call<'_>, args: Args<'_>) {
    let mut mode = Mode::Set;
    let mut get = false;
    let mut keep_ttl = false;
    let mut expire: Option<ExpireOption<'_>> = None;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        if opt.eq_ignore_ascii_case(b"NX") && mode != Mode::Replace {
            mode = Mode::Add;
        } else if opt.eq_ignore_ascii_case(b"XX") && mode != Mode::Add {
            mode = Mode::Replace;
        } else if opt.eq_ignore_ascii_case(b"GET") {
            get = true;
        } else if opt.eq_ignore_ascii_case(b"KEEPTTL") && expire.is_none() {
            keep_ttl = true;
        } else if let (Some((unit, absolute)), Some(arg)) = (expire_option(opt), next) {
            // One expire option only (repeating the same one is allowed, the last wins).
            if keep_ttl || expire.is_some_and(|e| (e.unit, e.absolute) != (unit, absolute)) {
                return call.syntax_error();
            }
            expire = Some(ExpireOption {
                unit,
                absolute,
                arg,
            });
            i += 1;
        } else {
            return call.syntax_error();
        }
        i += 1;
    }
    let expiry = match expire {
        None => Expiry::Never,
        Some(e) => match call.positive_expiry(e.arg, e.unit, e.absolute, "set") {
            Some(x) => x,
            None => return,
        },
    };
    let mut write = resp_write(call.db(), args.get(1), args.get(2), 0, expiry, mode);
    write.keep_ttl = keep_ttl;
    store_reply(call, &write, get);
}

/// A RESP write: values as large as `proto-max-bulk-len` and memory allow (no `-I`).
fn resp_write<'a>(
    db: u8,
    key: &'a [u8],
    value: &'a [u8],
    flags: u32,
    expiry: Expiry,
    mode: Mode,
) -> Write<'a> {
    Write {
        large: true,
        ..Write::new(db, key, value, flags, expiry, mode)
    }
}

/// Stores `write` and replies: OK or null (condition not met), or with `get` the old value.
fn store_reply(call: &mut Call<'_>, write: &Write<'_>, get: bool) {
    stats::bump(&call.stats.cmd_set);
    if get {
        return store_get_reply(call, write);
    }
    match call.ctx.store.store(write) {
        StoreOutcome::Stored { .. } => {
            notify_set(call, write);
            call.w.ok();
        }
        o @ (StoreOutcome::TooLarge | StoreOutcome::NoMemory) => call.write_refused(o),
        StoreOutcome::NotStored | StoreOutcome::NotFound | StoreOutcome::Exists => call.w.null(),
    }
}

/// SET ... GET and GETSET: one typed read-modify-write, so that another type is refused
/// (WRONGTYPE, nothing stored) and the old value read is the one replaced.
fn store_get_reply(call: &mut Call<'_>, write: &Write<'_>) {
    let mark = call.w.out.len();
    let w = &mut call.w;
    let r = call.ctx.store.modify(write.db, write.key, |cur| {
        let exists = match cur {
            Some(c) if c.item_type() != ItemType::String => return Update::Keep(Err(())),
            Some(c) => {
                w.bulk(&c.bytes().unwrap_or_default());
                true
            }
            None => {
                w.null();
                false
            }
        };
        let store = match write.mode {
            Mode::Add => !exists,
            Mode::Replace => exists,
            _ => true,
        };
        if !store {
            return Update::Keep(Ok(false));
        }
        Update::Bytes {
            ty: ItemType::String,
            value: write.value.to_vec(),
            ttl: if write.keep_ttl {
                Ttl::Keep
            } else {
                Ttl::Set(write.expiry)
            },
            result: Ok(true),
        }
    });
    match r {
        Ok(Ok(stored)) => {
            if stored {
                notify_set(call, write);
            }
        }
        Ok(Err(())) => {
            call.w.out.truncate(mark);
            call.w.error(WRONGTYPE);
        }
        Err(e) => {
            call.w.out.truncate(mark);
            call.rewrite_refused(e);
        }
    }
}

/// Redis's events for a stored string: `set`, and `expire` when it was given a time.
#[inline]
fn notify_set(call: &Call<'_>, write: &Write<'_>) {
    call.notify(notify::STRING, "set", write.key);
    if write.expiry != Expiry::Never {
        call.notify(notify::GENERIC, "expire", write.key);
    }
}

pub(super) fn setnx(call: &mut Call<'_>, args: Args<'_>) {
    stats::bump(&call.stats.cmd_set);
    let w = resp_write(
        call.db(),
        args.get(1),
        args.get(2),
        0,
        Expiry::Never,
        Mode::Add,
    );
    match call.ctx.store.store(&w) {
        StoreOutcome::Stored { .. } => {
            call.notify(notify::STRING, "set", args.get(1));
            call.w.integer(1);
        }
        o @ (StoreOutcome::TooLarge | StoreOutcome::NoMemory) => call.write_refused(o),
        _ => call.w.integer(0),
    }
}

fn set_with_expiry(call: &mut Call<'_>, args: Args<'_>, unit: TimeUnit, command: &str) {
    let Some(expiry) = call.positive_expiry(args.get(2), unit, false, command) else {
        return;
    };
    let w = resp_write(call.db(), args.get(1), args.get(3), 0, expiry, Mode::Set);
    store_reply(call, &w, false);
}

pub(super) fn setex(call: &mut Call<'_>, args: Args<'_>) {
    set_with_expiry(call, args, TimeUnit::Seconds, "setex");
}

pub(super) fn psetex(call: &mut Call<'_>, args: Args<'_>) {
    set_with_expiry(call, args, TimeUnit::Millis, "psetex");
}

pub(super) fn getset(call: &mut Call<'_>, args: Args<'_>) {
    let w = resp_write(
        call.db(),
        args.get(1),
        args.get(2),
        0,
        Expiry::Never,
        Mode::Set,
    );
    store_reply(call, &w, true);
}

pub(super) fn getdel(call: &mut Call<'_>, args: Args<'_>) {
    stats::bump(&call.stats.cmd_get);
    let w = &mut call.w;
    let found = call
        .ctx
        .store
        .rewrite(call.conn.db, args.get(1), |item| match item {
            Some(item) if !is_string(item) => Rewrite::Keep(None),
            Some(item) => {
                bulk_value(w, item);
                Rewrite::Delete(Some(true))
            }
            None => Rewrite::Keep(Some(false)),
        });
    match found {
        Ok(None) => call.w.error(WRONGTYPE),
        Ok(Some(true)) => {
            stats::bump(&call.stats.get_hits);
            call.notify(notify::GENERIC, "del", args.get(1));
        }
        Ok(Some(false)) => {
            call.count_miss(Miss::Absent);
            call.w.null();
        }
        Err(e) => call.rewrite_refused(e),
    }
}

/// `GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]`
pub(super) fn getex(call: &mut Call<'_>, args: Args<'_>) {
    let mut touch: Option<Expiry> = None;
    let mut expire: Option<ExpireOption<'_>> = None;
    let mut persist = false;
    let mut i = 2;
    while i < args.len() {
        let opt = args.get(i);
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        if opt.eq_ignore_ascii_case(b"PERSIST") && expire.is_none() {
            persist = true;
        } else if let (Some((unit, absolute)), Some(arg)) = (expire_option(opt), next) {
            if persist || expire.is_some_and(|e| (e.unit, e.absolute) != (unit, absolute)) {
                return call.syntax_error();
            }
            expire = Some(ExpireOption {
                unit,
                absolute,
                arg,
            });
            i += 1;
        } else {
            return call.syntax_error();
        }
        i += 1;
    }
    let key = args.get(1);
    // PERSIST raises its event only when the key had a time to remove, as Redis.
    let had_ttl = persist && matches!(call.expiry_of(key), Some(Expiry::AtMs(_)));
    if persist {
        touch = Some(Expiry::Never);
    }
    let mut past = false;
    if let Some(e) = expire {
        match call.positive_expire_at(e.arg, e.unit, e.absolute, "getex") {
            // A time already past: the value is read, then the key deleted (Redis's `del`
            // event), not left to expire.
            Some(at) if at.past => past = true,
            Some(at) => touch = Some(at.expiry()),
            None => return,
        }
    }
    if touch.is_some() || past {
        stats::bump(&call.stats.cmd_touch);
    }
    // One look: the store touches only a string, and reply_value answers WRONGTYPE for
    // another type from the same look.
    let hit = call.reply_value(
        key,
        &ReadOptions {
            touch,
            is_fetch: true,
            ..ReadOptions::default()
        },
        false,
    );
    if !hit {
        return;
    }
    // Redis 7.0's getexCommand: `expire`, `del` or `persist`.
    if past {
        call.delete(key);
    } else if expire.is_some() {
        call.notify(notify::GENERIC, "expire", key);
    } else if had_ttl {
        call.notify(notify::GENERIC, "persist", key);
    }
}

pub(super) fn mget(call: &mut Call<'_>, args: Args<'_>) {
    call.w.array(args.len() - 1);
    let opts = ReadOptions {
        is_fetch: true,
        ..ReadOptions::default()
    };
    for key in args.iter_from(1) {
        call.reply_value(key, &opts, true);
    }
}

pub(super) fn mset(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() % 2 == 0 {
        return call.wrong_arity("mset");
    }
    for i in (1..args.len()).step_by(2) {
        stats::bump(&call.stats.cmd_set);
        let w = resp_write(
            call.db(),
            args.get(i),
            args.get(i + 1),
            0,
            Expiry::Never,
            Mode::Set,
        );
        match call.ctx.store.store(&w) {
            StoreOutcome::Stored { .. } => call.notify(notify::STRING, "set", args.get(i)),
            o => return call.write_refused(o),
        }
    }
    call.w.ok();
}

/// Sets all keys only if none exists. The store has no multi-key transaction: the check and
/// the adds are separate steps, so a key created concurrently in between is left as it is
/// (each add is `NX`) and the reply is then 0.
pub(super) fn msetnx(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() % 2 == 0 {
        return call.wrong_arity("msetnx");
    }
    let peek = ReadOptions {
        no_bump: true,
        ..ReadOptions::default()
    };
    for i in (1..args.len()).step_by(2) {
        let hit = call.ctx.store.get(call.conn.db, args.get(i), &peek, |_| ());
        if matches!(hit, Lookup::Hit(())) {
            return call.w.integer(0);
        }
    }
    let mut all = true;
    // A key named twice is set twice, the last value winning, as Redis does: only its
    // first write may find it absent.
    let mut written = std::collections::HashSet::new();
    for i in (1..args.len()).step_by(2) {
        stats::bump(&call.stats.cmd_set);
        let key = args.get(i);
        let mode = if written.insert(key) {
            Mode::Add
        } else {
            Mode::Set
        };
        let w = resp_write(call.db(), key, args.get(i + 1), 0, Expiry::Never, mode);
        match call.ctx.store.store(&w) {
            StoreOutcome::Stored { .. } => call.notify(notify::STRING, "set", key),
            o @ (StoreOutcome::TooLarge | StoreOutcome::NoMemory) => return call.write_refused(o),
            _ => all = false,
        }
    }
    call.w.integer(i64::from(all));
}

pub(super) fn append(call: &mut Call<'_>, args: Args<'_>) {
    let suffix = args.get(2);
    stats::bump(&call.stats.cmd_set);
    let r = call
        .ctx
        .store
        .rewrite(call.conn.db, args.get(1), |item| match item {
            None => Rewrite::Write {
                value: suffix.to_vec(),
                flags: 0,
                expiry: None,
                raw: false,
                result: Some(suffix.len()),
            },
            Some(item) if !is_string(item) => Rewrite::Keep(None),
            Some(item) => {
                let mut value = Vec::with_capacity(item.value_len() + suffix.len());
                item.copy_value_to(&mut value);
                value.extend_from_slice(suffix);
                let len = value.len();
                Rewrite::Write {
                    value,
                    flags: item.flags(),
                    expiry: None,
                    raw: true,
                    result: Some(len),
                }
            }
        });
    match r {
        Ok(None) => call.w.error(WRONGTYPE),
        Ok(Some(len)) => {
            call.notify(notify::STRING, "append", args.get(1));
            call.w.integer(len as i64);
        }
        Err(e) => call.rewrite_refused(e),
    }
}

pub(super) fn strlen(call: &mut Call<'_>, args: Args<'_>) {
    let opts = ReadOptions {
        no_bump: true,
        ..ReadOptions::default()
    };
    match call
        .ctx
        .store
        .get(call.conn.db, args.get(1), &opts, |item| {
            is_string(item).then(|| item.value_len())
        }) {
        Lookup::Hit(Some(n)) => call.w.integer(n as i64),
        Lookup::Hit(None) => call.w.error(WRONGTYPE),
        _ => call.w.integer(0),
    }
}

/// Why an INCR-family command refused.
#[derive(Clone, Copy)]
enum ArithError {
    WrongType,
    NotInteger,
    NotFloat,
    Overflow,
    NotFinite,
}

fn add_integer(call: &mut Call<'_>, key: &[u8], delta: i64) {
    let scratch = &mut call.conn.scratch;
    scratch.clear();
    let mut existed = false;
    let r = call.ctx.store.rewrite(call.conn.db, key, |item| {
        let (current, flags) = match item {
            None => (0, 0),
            Some(item) if !is_string(item) => return Rewrite::Keep(Err(ArithError::WrongType)),
            Some(item) => {
                existed = true;
                // Longer than any i64 in decimal: not an integer (and not worth copying).
                if item.value_len() > 20 {
                    return Rewrite::Keep(Err(ArithError::NotInteger));
                }
                item.copy_value_to(scratch);
                match parse_i64(scratch) {
                    Some(v) => (v, item.flags()),
                    None => return Rewrite::Keep(Err(ArithError::NotInteger)),
                }
            }
        };
        match current.checked_add(delta) {
            None => Rewrite::Keep(Err(ArithError::Overflow)),
            Some(n) => Rewrite::Write {
                value: n.to_string().into_bytes(),
                flags,
                expiry: None,
                raw: false,
                result: Ok(n),
            },
        }
    });
    let counter = match (delta >= 0, existed) {
        (true, true) => &call.stats.incr_hits,
        (true, false) => &call.stats.incr_misses,
        (false, true) => &call.stats.decr_hits,
        (false, false) => &call.stats.decr_misses,
    };
    stats::bump(counter);
    match r {
        Ok(Ok(n)) => {
            call.notify(notify::STRING, "incrby", key);
            call.w.integer(n);
        }
        Ok(Err(e)) => arith_error(call, e),
        Err(e) => call.rewrite_refused(e),
    }
}

fn arith_error(call: &mut Call<'_>, e: ArithError) {
    call.w.error(match e {
        ArithError::WrongType => WRONGTYPE,
        ArithError::NotInteger => b"ERR value is not an integer or out of range",
        ArithError::NotFloat => b"ERR value is not a valid float",
        ArithError::Overflow => b"ERR increment or decrement would overflow",
        ArithError::NotFinite => b"ERR increment would produce NaN or Infinity",
    });
}

pub(super) fn incr(call: &mut Call<'_>, args: Args<'_>) {
    add_integer(call, args.get(1), 1);
}

pub(super) fn decr(call: &mut Call<'_>, args: Args<'_>) {
    add_integer(call, args.get(1), -1);
}

pub(super) fn incrby(call: &mut Call<'_>, args: Args<'_>) {
    if let Some(delta) = call.integer(args.get(2)) {
        add_integer(call, args.get(1), delta);
    }
}

pub(super) fn decrby(call: &mut Call<'_>, args: Args<'_>) {
    let Some(delta) = call.integer(args.get(2)) else {
        return;
    };
    match delta.checked_neg() {
        Some(d) => add_integer(call, args.get(1), d),
        None => call.w.error(b"ERR decrement would overflow"),
    }
}

/// A float as Redis's `strtold` check accepts it: no leading space, nothing trailing,
/// not NaN.
pub(super) fn parse_float(s: &[u8]) -> Option<f64> {
    if s.first().map_or(true, |c| c.is_ascii_whitespace()) {
        return None;
    }
    std::str::from_utf8(s)
        .ok()?
        .parse::<f64>()
        .ok()
        .filter(|v| !v.is_nan())
}

/// Formats an INCRBYFLOAT result as Redis does (`%.17Lf` with trailing zeros removed), at
/// the 15 significant digits an f64 holds reliably, so that 10.5 + 0.1 is `10.6`.
/// The text INCRBYFLOAT stores for `a + b`. Redis adds in long double and prints 17
/// decimals, which shows 0.1 + 0.2 as 0.3; in f64, 15 significant digits give the same text
/// when the sum's only error is the addition's rounding. When they would drop more than
/// that (1/41 is 0.024390243902439025), 17 decimals are stored as Redis does, so that
/// adding -1/41 later gives 0 as in Redis.
pub(super) fn format_sum(a: f64, b: f64, sum: f64) -> String {
    let short = format_float(sum);
    let ulp = |x: f64| f64::from_bits(x.abs().to_bits() + 1) - x.abs();
    let noise = 2.0 * ulp(a.abs().max(b.abs()).max(sum.abs()));
    match short.parse::<f64>() {
        Ok(back) if (back - sum).abs() <= noise => short,
        _ => trim_decimals(format!("{sum:.17}")),
    }
}

/// Drops trailing zeros after the point, and the sign of a zero.
fn trim_decimals(mut s: String) -> String {
    if s.contains('.') {
        let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(trimmed);
    }
    if s == "-0" {
        s = "0".to_string();
    }
    s
}

fn format_float(v: f64) -> String {
    let magnitude = if v == 0.0 {
        0
    } else {
        v.abs().log10().floor() as i32
    };
    let decimals = (14 - magnitude).clamp(0, 17) as usize;
    trim_decimals(format!("{v:.decimals$}"))
}

pub(super) fn incrbyfloat(call: &mut Call<'_>, args: Args<'_>) {
    let Some(delta) = parse_float(args.get(2)) else {
        return call.w.error(b"ERR value is not a valid float");
    };
    let scratch = &mut call.conn.scratch;
    scratch.clear();
    let r = call.ctx.store.rewrite(call.conn.db, args.get(1), |item| {
        let (current, flags) = match item {
            None => (0.0, 0),
            Some(item) if !is_string(item) => return Rewrite::Keep(Err(ArithError::WrongType)),
            Some(item) => {
                item.copy_value_to(scratch);
                match parse_float(scratch) {
                    Some(v) => (v, item.flags()),
                    None => return Rewrite::Keep(Err(ArithError::NotFloat)),
                }
            }
        };
        let sum = current + delta;
        if !sum.is_finite() {
            return Rewrite::Keep(Err(ArithError::NotFinite));
        }
        let text = format_sum(current, delta, sum);
        Rewrite::Write {
            value: text.clone().into_bytes(),
            flags,
            expiry: None,
            raw: false,
            result: Ok(text),
        }
    });
    match r {
        Ok(Ok(text)) => {
            call.notify(notify::STRING, "incrbyfloat", args.get(1));
            call.w.bulk(text.as_bytes());
        }
        Ok(Err(e)) => arith_error(call, e),
        Err(e) => call.rewrite_refused(e),
    }
}

/// Redis's GETRANGE index rules: negative counts from the end, both ends inclusive.
fn substring_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { (len + end).max(0) } else { end }.min(len - 1);
    (start <= end).then_some((start as usize, end as usize + 1))
}

pub(super) fn getrange(call: &mut Call<'_>, args: Args<'_>) {
    let Some(start) = call.integer(args.get(2)) else {
        return;
    };
    let Some(end) = call.integer(args.get(3)) else {
        return;
    };
    let scratch = &mut call.conn.scratch;
    scratch.clear();
    let opts = ReadOptions {
        is_fetch: true,
        ..ReadOptions::default()
    };
    let found = call
        .ctx
        .store
        .get(call.conn.db, args.get(1), &opts, |item| {
            is_string(item) && {
                item.copy_value_to(scratch);
                true
            }
        });
    if matches!(found, Lookup::Hit(false)) {
        return call.w.error(WRONGTYPE);
    }
    match substring_range(call.conn.scratch.len(), start, end) {
        Some((s, e)) => call.w.bulk(&call.conn.scratch[s..e]),
        None => call.w.bulk(b""),
    }
}

pub(super) fn setrange(call: &mut Call<'_>, args: Args<'_>) {
    let Some(offset) = call.integer(args.get(2)) else {
        return;
    };
    if offset < 0 {
        return call.w.error(b"ERR offset is out of range");
    }
    let patch = args.get(3);
    let offset = offset as usize;
    if !patch.is_empty() && offset.saturating_add(patch.len()) > call.ctx.settings.item_size_max {
        return call.w.error(TOO_LARGE);
    }
    stats::bump(&call.stats.cmd_set);
    let r = call.ctx.store.rewrite(call.conn.db, args.get(1), |item| {
        let (mut value, flags) = match item {
            Some(item) if !is_string(item) => return Rewrite::Keep(None),
            None if patch.is_empty() => return Rewrite::Keep(Some(0)),
            None => (Vec::new(), 0),
            Some(item) if patch.is_empty() => return Rewrite::Keep(Some(item.value_len())),
            Some(item) => {
                let mut v = Vec::with_capacity(item.value_len().max(offset + patch.len()));
                item.copy_value_to(&mut v);
                (v, item.flags())
            }
        };
        if value.len() < offset + patch.len() {
            value.resize(offset + patch.len(), 0);
        }
        value[offset..offset + patch.len()].copy_from_slice(patch);
        let len = value.len();
        Rewrite::Write {
            value,
            flags,
            expiry: None,
            raw: true,
            result: Some(len),
        }
    });
    match r {
        Ok(None) => call.w.error(WRONGTYPE),
        Ok(Some(len)) => {
            if !patch.is_empty() {
                call.notify(notify::STRING, "setrange", args.get(1));
            }
            call.w.integer(len as i64);
        }
        Err(e) => call.rewrite_refused(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_indexes_as_redis() {
        assert_eq!(substring_range(5, 1, -2), Some((1, 4)));
        assert_eq!(substring_range(5, -100, 100), Some((0, 5)));
        assert_eq!(substring_range(5, 5, 1), None);
        assert_eq!(substring_range(5, -1, -2), None);
        assert_eq!(substring_range(0, 0, -1), None);
        assert_eq!(substring_range(5, 0, 0), Some((0, 1)));
        assert_eq!(substring_range(5, 4, 10), Some((4, 5)));
    }

    #[test]
    fn floats_format_as_redis_prints_them() {
        assert_eq!(format_float(10.5 + 0.1), "10.6");
        assert_eq!(format_float(0.1 + 0.2), "0.3");
        assert_eq!(format_float(1503.0), "1503");
        assert_eq!(format_float(-3497.0), "-3497");
        assert_eq!(format_float(3.0e15), "3000000000000000");
        assert_eq!(format_float(1e-300), "0");
        assert_eq!(format_float(-1e-300), "0");
        assert_eq!(format_float(2.5e-5), "0.000025");
    }

    #[test]
    fn floats_parse_as_strtold_is_checked() {
        assert_eq!(parse_float(b"1.5e3"), Some(1500.0));
        assert_eq!(parse_float(b"-5"), Some(-5.0));
        assert_eq!(parse_float(b" 1"), None);
        assert_eq!(parse_float(b"1 "), None);
        assert_eq!(parse_float(b"abc"), None);
        assert_eq!(parse_float(b"nan"), None);
        assert_eq!(parse_float(b""), None);
        assert_eq!(parse_float(b"inf"), Some(f64::INFINITY));
    }
}
