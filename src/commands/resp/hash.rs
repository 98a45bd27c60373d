//! Hash commands (Redis 7.0): HSET HSETNX HGET HMGET HMSET HGETALL HDEL HEXISTS HLEN HKEYS
//! HVALS HSTRLEN HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.
//!
//! Each command is one read or one read-modify-write of its key under the key's stripe lock
//! ([`Call::read_hash`], [`Call::write_hash`] in `typed.rs`); the data structure is
//! [`crate::collections::hash`]. Replies that list the hash are written while the lock is
//! held, straight from the stored bytes.

use super::registry::{spec, Spec};
use super::typed::{Edit, ScanOptions, EMPTY_SCAN};
use super::Call;
use crate::collections::hash::HashRef;
use crate::collections::random_below;
use crate::hub::OutputClass;
use crate::protocol::resp::{parse_i64, Args, Writer};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("hset", -4, ["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Set the string value of a hash field", hset),
    spec!("hget", 3, ["readonly", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Get the value of a hash field", hget),
    spec!("hsetnx", 4, ["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Set the value of a hash field, only if the field does not exist", hsetnx),
    spec!("hmset", -4, ["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Set multiple hash fields to multiple values", hmset),
    spec!("hmget", -3, ["readonly", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Get the values of all the given hash fields", hmget),
    spec!("hgetall", 2, ["readonly"], (1, 1, 1), "hash", "2.0.0",
        "Get all the fields and values in a hash", hgetall),
    spec!("hdel", -3, ["write", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Delete one or more hash fields", hdel),
    spec!("hexists", 3, ["readonly", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Determine if a hash field exists", hexists),
    spec!("hlen", 2, ["readonly", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Get the number of fields in a hash", hlen),
    spec!("hkeys", 2, ["readonly"], (1, 1, 1), "hash", "2.0.0",
        "Get all the fields in a hash", hkeys),
    spec!("hvals", 2, ["readonly"], (1, 1, 1), "hash", "2.0.0",
        "Get all the values in a hash", hvals),
    spec!("hstrlen", 3, ["readonly", "fast"], (1, 1, 1), "hash", "3.2.0",
        "Get the length of the value of a hash field", hstrlen),
    spec!("hincrby", 4, ["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.0.0",
        "Increment the integer value of a hash field by the given number", hincrby),
    spec!("hincrbyfloat", 4, ["write", "denyoom", "fast"], (1, 1, 1), "hash", "2.6.0",
        "Increment the float value of a hash field by the given amount", hincrbyfloat),
    spec!("hrandfield", -2, ["readonly"], (1, 1, 1), "hash", "6.2.0",
        "Get one or multiple random fields from a hash", hrandfield),
    spec!("hscan", -3, ["readonly"], (1, 1, 1), "hash", "2.0.0",
        "Incrementally iterate hash fields and associated values", hscan),
];

/// `HSET key field value [field value ...]` / `HMSET`: the number of new fields / OK.
fn set_pairs(call: &mut Call<'_>, args: Args<'_>, name: &str, hmset: bool) {
    if args.len() % 2 == 1 {
        return call.wrong_arity(name);
    }
    let limits = call.ctx.collections.hash();
    let r = call.write_hash(args.get(1), "hset", |h| {
        // Convert before the first insert when any argument is too long, as Redis does.
        let longest = (2..args.len())
            .map(|i| args.get(i).len())
            .max()
            .unwrap_or(0);
        h.prepare(longest, 0, limits);
        let mut added = 0;
        for i in (2..args.len()).step_by(2) {
            added += i64::from(h.set(args.get(i), args.get(i + 1), limits));
        }
        Edit::changed(added)
    });
    if let Some(added) = r {
        if hmset {
            call.w.ok();
        } else {
            call.w.integer(added);
        }
    }
}

pub(super) fn hset(call: &mut Call<'_>, args: Args<'_>) {
    set_pairs(call, args, "hset", false);
}

pub(super) fn hmset(call: &mut Call<'_>, args: Args<'_>) {
    set_pairs(call, args, "hmset", true);
}

/// `HSETNX key field value`
pub(super) fn hsetnx(call: &mut Call<'_>, args: Args<'_>) {
    let limits = call.ctx.collections.hash();
    let (field, value) = (args.get(2), args.get(3));
    let r = call.write_hash(args.get(1), "hset", |h| {
        if h.get(field).is_some() {
            Edit::unchanged(0)
        } else {
            h.set(field, value, limits);
            Edit::changed(1)
        }
    });
    if let Some(n) = r {
        call.w.integer(n);
    }
}

/// `HGET key field`
pub(super) fn hget(call: &mut Call<'_>, args: Args<'_>) {
    let field = args.get(2);
    call.read_hash(args.get(1), |h, w| match h.and_then(|h| h.get(field)) {
        Some(v) => w.bulk(v),
        None => w.null(),
    });
}

/// `HMGET key field [field ...]`
pub(super) fn hmget(call: &mut Call<'_>, args: Args<'_>) {
    call.read_hash(args.get(1), |h, w| {
        w.array(args.len() - 2);
        for i in 2..args.len() {
            match h.and_then(|h| h.get(args.get(i))) {
                Some(v) => w.bulk(v),
                None => w.null(),
            }
        }
    });
}

/// What HGETALL, HKEYS and HVALS list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    All,
    Keys,
    Values,
}

fn list(call: &mut Call<'_>, args: Args<'_>, what: Listing) {
    call.read_hash(args.get(1), |h, w| {
        let n = h.map_or(0, |h| h.len());
        if what == Listing::All {
            w.map(n);
        } else {
            w.array(n);
        }
        let Some(h) = h else { return };
        for (f, v) in h.iter() {
            if what != Listing::Values {
                w.bulk(f);
            }
            if what != Listing::Keys {
                w.bulk(v);
            }
        }
    });
}

pub(super) fn hgetall(call: &mut Call<'_>, args: Args<'_>) {
    list(call, args, Listing::All);
}

pub(super) fn hkeys(call: &mut Call<'_>, args: Args<'_>) {
    list(call, args, Listing::Keys);
}

pub(super) fn hvals(call: &mut Call<'_>, args: Args<'_>) {
    list(call, args, Listing::Values);
}

/// `HDEL key field [field ...]`
pub(super) fn hdel(call: &mut Call<'_>, args: Args<'_>) {
    let r = call.write_hash(args.get(1), "hdel", |h| {
        let mut removed = 0;
        for i in 2..args.len() {
            removed += i64::from(h.remove(args.get(i)));
        }
        Edit {
            changed: removed > 0,
            result: removed,
        }
    });
    if let Some(n) = r {
        call.w.integer(n);
    }
}

/// `HEXISTS key field`
pub(super) fn hexists(call: &mut Call<'_>, args: Args<'_>) {
    let field = args.get(2);
    call.read_hash(args.get(1), |h, w| {
        w.integer(i64::from(h.is_some_and(|h| h.get(field).is_some())))
    });
}

/// `HLEN key`
pub(super) fn hlen(call: &mut Call<'_>, args: Args<'_>) {
    call.read_hash(args.get(1), |h, w| {
        w.integer(h.map_or(0, |h| h.len()) as i64)
    });
}

/// `HSTRLEN key field`
pub(super) fn hstrlen(call: &mut Call<'_>, args: Args<'_>) {
    let field = args.get(2);
    call.read_hash(args.get(1), |h, w| {
        w.integer(h.and_then(|h| h.get(field)).map_or(0, <[u8]>::len) as i64)
    });
}

/// `HINCRBY key field increment`
pub(super) fn hincrby(call: &mut Call<'_>, args: Args<'_>) {
    let Some(incr) = call.integer(args.get(3)) else {
        return;
    };
    let limits = call.ctx.collections.hash();
    let field = args.get(2);
    let r = call.write_hash(args.get(1), "hincrby", |h| {
        let old = match h.get(field) {
            None => 0,
            Some(v) => match parse_i64_strict(v) {
                Some(n) => n,
                None => return Edit::unchanged(Err(&b"ERR hash value is not an integer"[..])),
            },
        };
        let Some(new) = old.checked_add(incr) else {
            return Edit::unchanged(Err(&b"ERR increment or decrement would overflow"[..]));
        };
        h.set(field, new.to_string().as_bytes(), limits);
        Edit::changed(Ok(new))
    });
    match r {
        Some(Ok(n)) => call.w.integer(n),
        Some(Err(e)) => call.w.error(e),
        None => {}
    }
}

/// `HINCRBYFLOAT key field increment`
pub(super) fn hincrbyfloat(call: &mut Call<'_>, args: Args<'_>) {
    let Some(incr) = super::strings::parse_float(args.get(3)) else {
        return call.w.error(b"ERR value is not a valid float");
    };
    if incr.is_infinite() {
        return call.w.error(b"ERR value is NaN or Infinity");
    }
    let limits = call.ctx.collections.hash();
    let field = args.get(2);
    let r = call.write_hash(args.get(1), "hincrbyfloat", |h| {
        let old = match h.get(field) {
            None => 0.0,
            Some(v) => match super::strings::parse_float(v).filter(|v| v.is_finite()) {
                Some(n) => n,
                None => return Edit::unchanged(Err(&b"ERR hash value is not a float"[..])),
            },
        };
        let sum = old + incr;
        if !sum.is_finite() {
            return Edit::unchanged(Err(&b"ERR increment would produce NaN or Infinity"[..]));
        }
        let text = super::strings::format_sum(old, incr, sum);
        h.set(field, text.as_bytes(), limits);
        Edit::changed(Ok(text))
    });
    match r {
        Some(Ok(text)) => call.w.bulk(text.as_bytes()),
        Some(Err(e)) => call.w.error(e),
        None => {}
    }
}

/// Redis's `string2ll` on a stored value: canonical decimal only.
fn parse_i64_strict(v: &[u8]) -> Option<i64> {
    crate::collections::intset::parse_member(v)
}

/// Bytes a reply of random picks with repetition (HRANDFIELD, SRANDMEMBER with a negative
/// count) may take when the normal clients' `client-output-buffer-limit` has no hard
/// limit. Redis writes every pick whatever the count (a `-LONG_MAX` count runs until
/// memory is gone); slabd answers an error instead of a reply larger than this.
const RANDOM_REPLY_BYTES: usize = 512 << 20;

/// How large a reply of random picks may grow ([`random_reply_budget`]).
#[derive(Clone, Copy)]
pub(super) struct RandomBudget {
    bytes: usize,
    /// `bytes` is the client's own hard output limit: a reply past it stops there and the
    /// client is closed before any of it is sent (the connection's limit check), as Redis
    /// stops such a command mid-run. Otherwise (no limit, or a script's call, whose
    /// replies no limit applies to) the reply is replaced by an error.
    closes: bool,
}

/// The largest reply of random picks: the normal class's hard output limit, if any.
pub(super) fn random_reply_budget(call: &Call<'_>) -> RandomBudget {
    let hard = call.ctx.hub.limits.get(OutputClass::Normal).hard;
    // Handlers run at depth 1, inside EXEC at 2; a script's calls deeper, into its buffer.
    let to_client = call.depth <= 2;
    match usize::try_from(hard) {
        // The limit is compared with the output past Redis's 16 KiB reply buffer (`omem`).
        Ok(h) if h > 0 && to_client => RandomBudget {
            bytes: h.saturating_add(crate::commands::REPLY_CHUNK as usize),
            closes: true,
        },
        Ok(h) if h > 0 => RandomBudget {
            bytes: h,
            closes: false,
        },
        _ => RandomBudget {
            bytes: RANDOM_REPLY_BYTES,
            closes: false,
        },
    }
}

/// Writes `n` random picks with repetition as an array (`per_pick` reply elements each),
/// each by `pick`, unless the reply would pass the budget: then nothing but the error, or
/// (`closes`) the picks up to it, for the output limit to close the client.
pub(super) fn reply_random_picks(
    w: &mut Writer<'_>,
    n: u64,
    per_pick: usize,
    budget: RandomBudget,
    mut pick: impl FnMut(&mut Writer<'_>),
) {
    let bytes = budget.bytes;
    // The smallest reply element is an empty bulk string, `$0\r\n\r\n`.
    let fits = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(6 * per_pick))
        .is_some_and(|least| least <= bytes);
    let start = w.out.len();
    if fits || budget.closes {
        w.array(
            usize::try_from(n)
                .unwrap_or(usize::MAX)
                .saturating_mul(per_pick),
        );
        for _ in 0..n {
            pick(w);
            if w.out.len() - start > bytes {
                break;
            }
        }
        if w.out.len() - start <= bytes || budget.closes {
            return;
        }
        w.out.truncate(start);
    }
    w.error_fmt(format_args!(
        "ERR count is out of range: the reply would be larger than {bytes} bytes"
    ));
}

/// `HRANDFIELD key [count [WITHVALUES]]`
pub(super) fn hrandfield(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() == 2 {
        call.read_hash(args.get(1), |h, w| {
            let mut picked = false;
            if let Some(h) = h {
                h.random(1, |f, _| {
                    w.bulk(f);
                    picked = true;
                });
            }
            if !picked {
                w.null();
            }
        });
        return;
    }
    let Some(count) = parse_i64(args.get(2)) else {
        return call.not_integer();
    };
    if count == i64::MIN {
        return call.w.error(
            b"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        );
    }
    if args.len() > 4 || (args.len() == 4 && !args.get(3).eq_ignore_ascii_case(b"WITHVALUES")) {
        return call.syntax_error();
    }
    let with_values = args.len() == 4;
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return call.w.error(b"ERR value is out of range");
    }
    let budget = random_reply_budget(call);
    call.read_hash(args.get(1), |h, w| {
        let Some(h) = h.filter(|_| count != 0) else {
            return w.array(0);
        };
        let pair = |w: &mut Writer<'_>, f: &[u8], v: &[u8]| {
            if with_values && w.resp3 {
                w.array(2);
            }
            w.bulk(f);
            if with_values {
                w.bulk(v);
            }
        };
        if count < 0 {
            let per_pick = if with_values && !w.resp3 { 2 } else { 1 };
            let len = h.len();
            return reply_random_picks(w, count.unsigned_abs(), per_pick, budget, |w| {
                let (f, v) = h.at(random_below(len));
                pair(w, f, v);
            });
        }
        let n = count.unsigned_abs().min(h.len() as u64);
        w.array(if with_values && !w.resp3 { 2 * n } else { n } as usize);
        h.random(count, |f, v| pair(w, f, v));
    });
}

/// `HSCAN key cursor [MATCH pattern] [COUNT count]`
pub(super) fn hscan(call: &mut Call<'_>, args: Args<'_>) {
    let Some(cursor) = ScanOptions::cursor(call, args.get(2)) else {
        return;
    };
    let opts = ScanOptions::parse(args, 3);
    call.read_hash(args.get(1), |h, w| match (h, opts) {
        (None, _) => w.out.extend_from_slice(EMPTY_SCAN),
        (Some(_), Err(e)) => w.error(e),
        (Some(h), Ok(opts)) => scan_reply(h, cursor, &opts, w),
    });
}

fn scan_reply(h: HashRef<'_>, cursor: u64, opts: &ScanOptions<'_>, w: &mut Writer<'_>) {
    let mut picked: Vec<(&[u8], &[u8])> = Vec::new();
    let next = match h {
        HashRef::Compact(_) => {
            picked.extend(h.iter().filter(|(f, _)| opts.matches(f)));
            0
        }
        HashRef::Table(t) => t.scan(cursor, opts.count, |f, v| {
            if opts.matches(f) {
                picked.push((f, v));
            }
        }),
    };
    w.array(2);
    w.bulk(next.to_string().as_bytes());
    w.array(picked.len() * 2);
    for (f, v) in picked {
        w.bulk(f);
        w.bulk(v);
    }
}
