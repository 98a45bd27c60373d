//! `SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
//! [STORE destination]` and `SORT_RO` (Redis 7.0), over lists, sets and sorted sets.
//!
//! As Redis's `sortCommandGeneric`: options are parsed first (a syntax error before any key
//! is read; SORT_RO knows no STORE), then the key's type is checked (WRONGTYPE for strings
//! and hashes; a missing key sorts as an empty list). The elements are copied out of the
//! key, given weights (the element itself, or the value `BY` names: `weight_*` substitutes
//! the element for the first `*` and reads a string key, `wobj_*->field` a hash field),
//! sorted, cut to `LIMIT`, and replied or stored as a list with each `GET` pattern's value
//! (`#` is the element itself; a missing key or field, or one of another type, is nil, or
//! an empty string when stored).
//!
//! A `BY` pattern without `*` skips sorting: lists and sorted sets keep their own order
//! (reversed by DESC, LIMIT taken from it), sets their iteration order, except that a set
//! sorted for STORE or from a script is sorted by ALPHA so the result is repeatable.
//! Numeric weights are read as C's `strtod` reads them (leading spaces, hex, `inf`; a NaN,
//! an overflow or anything after the number is `One or more scores can't be converted into
//! double`; a weight whose key is missing counts as 0); equal weights order by the element's
//! bytes. ALPHA compares bytes (Redis's `strcoll` in the C locale: up to a NUL byte; with
//! STORE, the whole value); an element with no BY value sorts first. The sort is stable.
//!
//! Locking: the whole command runs in an exclusive section of the atomicity gate, as the
//! other multi-key commands do, so no client writes between the reads of the sorted key,
//! the BY and GET keys (each read under its own stripe lock) and the STORE.

use super::registry::{spec, Spec};
use super::typed::{hash_of, set_of, WRONGTYPE};
use super::Call;
use crate::auth::catalog;
use crate::collections::list::{List, ListRef, Packed};
use crate::collections::zset::{Packed as ZPacked, ZRef, ZSet};
use crate::commands::Context;
use crate::hub::notify;
use crate::protocol::resp::Args;
use crate::storage::{Current, Expiry, ItemType, RewriteError, Ttl, Update};
use std::cmp::Ordering;

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("sort", -2, ["write", "denyoom", "movablekeys"], (1, 1, 1), "generic", "1.0.0",
        "Sort the elements in a list, set or sorted set", sort),
    spec!("sort_ro", -2, ["readonly", "movablekeys"], (1, 1, 1), "generic", "7.0.0",
        "Sort the elements in a list, set or sorted set. Read-only variant of SORT.", sort_ro),
];

/// `SORT key ...`
pub(super) fn sort(call: &mut Call<'_>, args: Args<'_>) {
    sort_generic(call, args, false);
}

/// `SORT_RO key ...`: SORT without STORE.
pub(super) fn sort_ro(call: &mut Call<'_>, args: Args<'_>) {
    sort_generic(call, args, true);
}

/// The parsed options.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// BY a pattern without `*`: nothing to sort.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
}

/// Parses the options as Redis does, replying the error itself (None) when they are bad.
fn parse<'a>(call: &mut Call<'_>, args: Args<'a>, readonly: bool) -> Option<Options<'a>> {
    let mut o = Options {
        desc: false,
        alpha: false,
        limit_start: 0,
        limit_count: -1,
        store: None,
        by: None,
        dontsort: false,
        gets: Vec::new(),
    };
    let mut full_key_access = None;
    let mut j = 2;
    while j < args.len() {
        let left = args.len() - j - 1;
        let opt = args.get(j);
        let is = |name: &[u8]| opt.eq_ignore_ascii_case(name);
        if is(b"asc") {
            o.desc = false;
        } else if is(b"desc") {
            o.desc = true;
        } else if is(b"alpha") {
            o.alpha = true;
        } else if is(b"limit") && left >= 2 {
            o.limit_start = call.integer(args.get(j + 1))?;
            o.limit_count = call.integer(args.get(j + 2))?;
            j += 2;
        } else if !readonly && is(b"store") && left >= 1 {
            o.store = Some(args.get(j + 1));
            j += 1;
        } else if is(b"by") && left >= 1 {
            let pattern = args.get(j + 1);
            o.by = Some(pattern);
            if !pattern.contains(&b'*') {
                o.dontsort = true;
            } else if !*full_key_access.get_or_insert_with(|| reads_every_key(call, args)) {
                call.w
                    .error(b"ERR BY option of SORT denied due to insufficient ACL permissions.");
                return None;
            }
            j += 1;
        } else if is(b"get") && left >= 1 {
            if !*full_key_access.get_or_insert_with(|| reads_every_key(call, args)) {
                call.w
                    .error(b"ERR GET option of SORT denied due to insufficient ACL permissions.");
                return None;
            }
            o.gets.push(args.get(j + 1));
            j += 1;
        } else {
            call.syntax_error();
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// The key SORT stores into (the last STORE option, as Redis's `sortGetKeys` finds it), for
/// the append-only file, which logs the keys a write changed.
pub(super) fn store_key(args: Args<'_>) -> Option<&[u8]> {
    store_key_index(args.len(), |i| args.get(i)).map(|i| args.get(i))
}

/// Where SORT's store key is among its `argc` arguments (`get(0)` is the command name), as
/// Redis's `sortGetKeys` finds it: the key of the last STORE; LIMIT's two and BY's and
/// GET's one argument are skipped. COMMAND GETKEYS lists it after the sorted key.
pub(super) fn store_key_index<'a>(argc: usize, get: impl Fn(usize) -> &'a [u8]) -> Option<usize> {
    let mut key = None;
    let mut j = 2;
    while j < argc {
        let left = argc - j - 1;
        let opt = get(j);
        let is = |name: &[u8]| opt.eq_ignore_ascii_case(name);
        if is(b"limit") && left >= 2 {
            j += 2;
        } else if is(b"store") && left >= 1 {
            key = Some(j + 1);
            j += 1;
        } else if (is(b"by") || is(b"get")) && left >= 1 {
            j += 1;
        }
        j += 1;
    }
    key
}

/// Whether the user may read any key with this command (BY and GET read keys that the
/// command's key positions do not name).
fn reads_every_key(call: &Call<'_>, args: Args<'_>) -> bool {
    let user = &call.login.user;
    if user.unrestricted() {
        return true;
    }
    catalog::resolve(args.len(), |i| args.get(i))
        .is_some_and(|id| user.reads_every_key(id, args.len(), |i| args.get(i)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    List,
    Set,
    ZSet,
}

/// One element to sort, with its weight.
struct Entry {
    obj: Vec<u8>,
    score: f64,
    /// ALPHA BY: the BY value (None when its key or field is missing).
    cmp: Option<Vec<u8>>,
}

/// The elements read from the sorted key, and the inclusive output range among them
/// (empty when `end < start`).
struct Loaded {
    kind: Kind,
    entries: Vec<Entry>,
    start: i64,
    end: i64,
}

fn entry(obj: &[u8]) -> Entry {
    Entry {
        obj: obj.to_vec(),
        score: 0.0,
        cmp: None,
    }
}

/// Reads the elements of the key (`None`: missing, an empty list), applying LIMIT and
/// DESC right away when nothing is sorted and the type has an order of its own.
fn load(cur: Option<&Current<'_>>, o: &Options<'_>) -> Result<Loaded, ()> {
    let kind = match cur.map(|c| c.item_type()) {
        None | Some(ItemType::List) => Kind::List,
        Some(ItemType::Set) => Kind::Set,
        Some(ItemType::ZSet) => Kind::ZSet,
        Some(_) => return Err(()),
    };
    let len = match (cur, kind) {
        (None, _) => 0,
        (Some(c), Kind::List) => with_list(c, |l| l.len()),
        (Some(c), Kind::Set) => set_of(c, |s| s.len()).ok_or(())?,
        (Some(c), Kind::ZSet) => with_zset(c, |z| z.len()),
    } as i64;
    let start = o.limit_start.max(0).min(len);
    let count = o.limit_count.max(-1).min(len);
    let (mut start, mut end) = (
        start,
        if count < 0 {
            len - 1
        } else {
            start + count - 1
        },
    );
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    let Some(c) = cur else {
        return Ok(Loaded {
            kind,
            entries: Vec::new(),
            start,
            end,
        });
    };
    if o.dontsort && kind != Kind::Set {
        // The range only, in the type's order (reversed for DESC).
        let n = (end - start + 1).max(0) as usize;
        let first = start.max(0) as usize;
        let mut entries = Vec::with_capacity(n);
        let len = len as usize;
        match kind {
            Kind::List => with_list(c, |l| {
                if n == 0 {
                } else if o.desc {
                    entries.extend(l.iter_rev_from(len - 1 - first).take(n).map(entry));
                } else {
                    entries.extend(l.iter_from(first).take(n).map(entry));
                }
            }),
            _ => with_zset(c, |z| {
                if n == 0 {
                } else if o.desc {
                    entries.extend(z.iter_rev_from(len - 1 - first).take(n).map(|e| entry(e.1)));
                } else {
                    entries.extend(z.iter_from(first).take(n).map(|e| entry(e.1)));
                }
            }),
        }
        return Ok(Loaded {
            kind,
            start: 0,
            end: n as i64 - 1,
            entries,
        });
    }
    let mut entries = Vec::with_capacity(len as usize);
    match kind {
        Kind::List => with_list(c, |l| entries.extend(l.iter_from(0).map(entry))),
        Kind::Set => {
            set_of(c, |s| entries.extend(s.iter().map(|m| entry(&m.to_vec()))));
        }
        Kind::ZSet => with_zset(c, |z| entries.extend(z.iter_from(0).map(|e| entry(e.1)))),
    }
    Ok(Loaded {
        kind,
        entries,
        start,
        end,
    })
}

fn with_list<R>(c: &Current<'_>, f: impl FnOnce(ListRef<'_>) -> R) -> R {
    match c.downcast_ref::<List>() {
        Some(l) => f(ListRef::List(l)),
        None => {
            let bytes = c.bytes().unwrap_or_default();
            f(ListRef::Packed(Packed(&bytes)))
        }
    }
}

fn with_zset<R>(c: &Current<'_>, f: impl FnOnce(ZRef<'_>) -> R) -> R {
    match c.downcast_ref::<ZSet>() {
        Some(z) => f(z.as_ref()),
        None => {
            let bytes = c.bytes().unwrap_or_default();
            f(ZRef::Packed(ZPacked(&bytes)))
        }
    }
}

/// The bytes of a C string: up to the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Redis's `lookupKeyByPattern`: calls `f` with the value `pattern` names for `subst`
/// (`#`: `subst` itself; `prefix*suffix`: the string at that key; `prefix*suffix->field`:
/// that hash field), or None.
fn lookup<R>(
    ctx: &Context,
    db: u8,
    key: &mut Vec<u8>,
    pattern: &[u8],
    subst: &[u8],
    f: impl FnOnce(Option<&[u8]>) -> R,
) -> R {
    let spat = c_str(pattern);
    if spat == b"#" {
        return f(Some(subst));
    }
    let Some(star) = spat.iter().position(|&c| c == b'*') else {
        return f(None);
    };
    // "->" after the '*', followed by at least one byte, starts a hash field.
    let field = spat[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|at| star + 1 + at)
        .filter(|&at| pattern.get(at + 2).is_some_and(|&c| c != 0));
    let key_end = field.unwrap_or(pattern.len());
    key.clear();
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    ctx.store.inspect(db, key, |cur| match (cur, field) {
        (Some(c), None) if c.item_type() == ItemType::String => f(c.bytes().as_deref()),
        (Some(c), Some(at)) if c.item_type() == ItemType::Hash => {
            let value = hash_of(c, |h| h.get(&pattern[at + 2..]).map(<[u8]>::to_vec));
            f(value.flatten().as_deref())
        }
        _ => f(None),
    })
}

/// C's `strtod` on a C string, as SORT checks it: the whole string must be the number
/// (an empty one is 0), no NaN, no overflow or underflow (`ERANGE`).
fn strtod(b: &[u8]) -> Option<f64> {
    let s = c_str(b);
    if s.is_empty() {
        return Some(0.0);
    }
    let t = s.trim_ascii_start();
    let (neg, body) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let lower = body.to_ascii_lowercase();
    let v = if lower == b"inf" || lower == b"infinity" {
        f64::INFINITY
    } else if lower.starts_with(b"nan") {
        return None;
    } else if lower.starts_with(b"0x") {
        parse_hex(&lower[2..])?
    } else {
        if !body
            .first()
            .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
            || !body
                .iter()
                .all(|c| c.is_ascii_digit() || b".eE+-".contains(c))
        {
            return None;
        }
        let v: f64 = std::str::from_utf8(body).ok()?.parse().ok()?;
        if v.is_infinite() {
            return None; // overflow
        }
        let mantissa = body
            .split(|c| *c == b'e' || *c == b'E')
            .next()
            .unwrap_or(b"");
        if (v == 0.0 && mantissa.iter().any(|c| (b'1'..=b'9').contains(c)))
            || (v != 0.0 && v.abs() < f64::MIN_POSITIVE)
        {
            return None; // underflow
        }
        v
    };
    Some(if neg { -v } else { v })
}

/// A hexadecimal float after `0x`: digits, an optional fraction, an optional `p` exponent.
fn parse_hex(s: &[u8]) -> Option<f64> {
    let (mant, exp) = match s.iter().position(|&c| c == b'p') {
        Some(p) => (&s[..p], Some(&s[p + 1..])),
        None => (s, None),
    };
    let mut v = 0f64;
    let mut scale = 0i32;
    let mut digits = 0;
    let mut dot = false;
    for &c in mant {
        if c == b'.' && !dot {
            dot = true;
            continue;
        }
        let d = (c as char).to_digit(16)?;
        v = v * 16.0 + f64::from(d);
        digits += 1;
        if dot {
            scale -= 4;
        }
    }
    if digits == 0 {
        return None;
    }
    if let Some(e) = exp {
        let e: i32 = std::str::from_utf8(e).ok()?.parse().ok()?;
        scale = scale.saturating_add(e);
    }
    let v = v * 2f64.powi(scale);
    (v.is_finite()).then_some(v)
}

/// Redis's `sortCompare`.
fn compare(a: &Entry, b: &Entry, o: &Options<'_>) -> Ordering {
    let store = o.store.is_some();
    let cmp = if !o.alpha {
        if a.score > b.score {
            Ordering::Greater
        } else if a.score < b.score {
            Ordering::Less
        } else {
            a.obj.cmp(&b.obj)
        }
    } else if o.by.is_some() {
        match (&a.cmp, &b.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) if store => x.cmp(y),
            (Some(x), Some(y)) => c_str(x).cmp(c_str(y)),
        }
    } else if store {
        a.obj.cmp(&b.obj)
    } else {
        c_str(&a.obj).cmp(c_str(&b.obj))
    };
    if o.desc {
        cmp.reverse()
    } else {
        cmp
    }
}

/// What the command produced, ready to reply or store.
enum Outcome {
    WrongType,
    NotDouble,
    Reply(Vec<Option<Vec<u8>>>),
    Stored(Result<usize, RewriteError>),
}

fn sort_generic(call: &mut Call<'_>, args: Args<'_>, readonly: bool) {
    let Some(mut o) = parse(call, args, readonly) else {
        return;
    };
    let ctx = call.ctx;
    let db = call.conn.db;
    let key = args.get(1);
    let script = ctx.scripting.run.is_running();
    // Only the sorted key is read unless BY or GET name other keys or STORE writes one:
    // then no other client may write between the reads (and the write).
    let other_keys = o.store.is_some()
        || (o.by.is_some() && !o.dontsort)
        || o.gets.iter().any(|g| c_str(g) != b"#");
    let mut run = || {
        let Ok(mut loaded) = ctx.store.inspect(db, key, |cur| load(cur, &o)) else {
            return Outcome::WrongType;
        };
        if o.dontsort && loaded.kind == Kind::Set && (o.store.is_some() || script) {
            o.dontsort = false;
            o.alpha = true;
            o.by = None;
        }
        let mut scratch = Vec::new();
        let mut not_double = false;
        if !o.dontsort {
            for e in &mut loaded.entries {
                let (obj, score, cmp) = (&e.obj, &mut e.score, &mut e.cmp);
                let mut weigh = |v: Option<&[u8]>| {
                    let Some(v) = v else { return };
                    if o.alpha {
                        if o.by.is_some() {
                            *cmp = Some(v.to_vec());
                        }
                    } else {
                        match strtod(v) {
                            Some(s) => *score = s,
                            None => not_double = true,
                        }
                    }
                };
                match o.by {
                    Some(by) => lookup(ctx, db, &mut scratch, by, obj, weigh),
                    None => weigh(Some(obj)),
                }
            }
            loaded.entries.sort_by(|a, b| compare(a, b, &o));
        }
        if not_double {
            return Outcome::NotDouble;
        }
        let range = if loaded.end >= loaded.start {
            &loaded.entries[loaded.start as usize..=loaded.end as usize]
        } else {
            &[]
        };
        let mut out = Vec::with_capacity(range.len() * o.gets.len().max(1));
        for e in range {
            if o.gets.is_empty() {
                out.push(Some(e.obj.clone()));
            }
            for get in &o.gets {
                out.push(lookup(ctx, db, &mut scratch, get, &e.obj, |v| {
                    v.map(<[u8]>::to_vec)
                }));
            }
        }
        match o.store {
            Some(dest) => Outcome::Stored(store_list(call, dest, &out).map(|()| out.len())),
            None => Outcome::Reply(out),
        }
    };
    let outcome = if other_keys {
        ctx.gates.exclusive(|_| run())
    } else {
        run()
    };
    match outcome {
        Outcome::WrongType => call.w.error(WRONGTYPE),
        Outcome::NotDouble => call
            .w
            .error(b"ERR One or more scores can't be converted into double"),
        Outcome::Stored(Ok(n)) => call.w.integer(n as i64),
        Outcome::Stored(Err(e)) => call.collection_refused(e),
        Outcome::Reply(out) => {
            call.w.array(out.len());
            for v in &out {
                match v {
                    Some(v) => call.w.bulk(v),
                    None => call.w.null(),
                }
            }
        }
    }
}

/// Replaces whatever `dest` holds with a list of `values` (missing GET values as empty
/// strings), or deletes it when there are none; publishes `sortstore` (or `del`) and wakes
/// clients blocked on the key.
fn store_list(
    call: &Call<'_>,
    dest: &[u8],
    values: &[Option<Vec<u8>>],
) -> Result<(), RewriteError> {
    let fill = call.ctx.collections.list();
    let mut existed = false;
    let r = call.ctx.store.modify(call.conn.db, dest, |cur| {
        existed = cur.is_some();
        if values.is_empty() {
            return Update::Delete(());
        }
        let mut list = List::new();
        for v in values {
            list.push_back(v.as_deref().unwrap_or_default(), fill);
        }
        let ttl = Ttl::Set(Expiry::Never);
        match list.to_packed(fill, false) {
            Some(value) => Update::Bytes {
                ty: ItemType::List,
                value,
                ttl,
                result: (),
            },
            None => Update::Object {
                object: Box::new(list),
                ttl,
                result: (),
            },
        }
    });
    if r.is_ok() {
        if !values.is_empty() {
            call.notify(notify::LIST, "sortstore", dest);
            call.list_pushed(dest);
        } else if existed {
            call.notify(notify::GENERIC, "del", dest);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::strtod;

    #[test]
    fn strtod_reads_as_c_does() {
        assert_eq!(strtod(b""), Some(0.0));
        assert_eq!(strtod(b"1.5"), Some(1.5));
        assert_eq!(strtod(b"  -2"), Some(-2.0));
        assert_eq!(strtod(b"+.5"), Some(0.5));
        assert_eq!(strtod(b"1e3"), Some(1000.0));
        assert_eq!(strtod(b"0x10"), Some(16.0));
        assert_eq!(strtod(b"0x1p4"), Some(16.0));
        assert_eq!(strtod(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"Infinity"), Some(f64::INFINITY));
        assert_eq!(strtod(b"7\0junk"), Some(7.0));
        for bad in [
            &b"nan"[..],
            b"1e400",
            b"1e-400",
            b"abc",
            b"1 ",
            b" ",
            b"1x",
            b"e5",
            b"0x",
            b"--1",
        ] {
            assert_eq!(strtod(bad), None, "{bad:?}");
        }
    }
}
