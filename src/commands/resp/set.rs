//! Set commands (Redis 7.0): SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER
//! SMOVE SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN.
//!
//! Single-key commands are one read or read-modify-write under the key's stripe lock
//! (`typed.rs`). Commands over several keys (SMOVE, SINTER..., the STORE forms) run in an
//! exclusive section of the atomicity gate ([`crate::commands::gate`]), so no other
//! client's command runs between their reads and writes; inside it each key is still read
//! under its own stripe lock, one at a time (a closure never holds two stripes).

use super::hash::{random_reply_budget, reply_random_picks};
use super::registry::{spec, Spec};
use super::typed::{set_of, set_update, Edit, ScanOptions, EMPTY_SCAN, WRONGTYPE};
use super::Call;
use crate::collections::random_below;
use crate::collections::set::{Member, SetMut, SetRef};
use crate::hub::notify;
use crate::protocol::resp::{parse_i64, Args, Writer};
use crate::storage::{Expiry, ItemType, Ttl, Update};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("sadd", -3, ["write", "denyoom", "fast"], (1, 1, 1), "set", "1.0.0",
        "Add one or more members to a set", sadd),
    spec!("srem", -3, ["write", "fast"], (1, 1, 1), "set", "1.0.0",
        "Remove one or more members from a set", srem),
    spec!("spop", -2, ["write", "fast"], (1, 1, 1), "set", "1.0.0",
        "Remove and return one or multiple random members from a set", spop),
    spec!("smembers", 2, ["readonly"], (1, 1, 1), "set", "1.0.0",
        "Get all the members in a set", smembers),
    spec!("sismember", 3, ["readonly", "fast"], (1, 1, 1), "set", "1.0.0",
        "Determine if a given value is a member of a set", sismember),
    spec!("smismember", -3, ["readonly", "fast"], (1, 1, 1), "set", "6.2.0",
        "Returns the membership associated with the given elements for a set", smismember),
    spec!("scard", 2, ["readonly", "fast"], (1, 1, 1), "set", "1.0.0",
        "Get the number of members in a set", scard),
    spec!("srandmember", -2, ["readonly"], (1, 1, 1), "set", "1.0.0",
        "Get one or multiple random members from a set", srandmember),
    spec!("smove", 4, ["write", "fast"], (1, 2, 1), "set", "1.0.0",
        "Move a member from one set to another", smove),
    spec!("sinter", -2, ["readonly"], (1, -1, 1), "set", "1.0.0",
        "Intersect multiple sets", sinter),
    spec!("sintercard", -3, ["readonly", "movablekeys"], (0, 0, 0), "set", "7.0.0",
        "Intersect multiple sets and return the cardinality of the result", sintercard),
    spec!("sunion", -2, ["readonly"], (1, -1, 1), "set", "1.0.0",
        "Add multiple sets", sunion),
    spec!("sdiff", -2, ["readonly"], (1, -1, 1), "set", "1.0.0",
        "Subtract multiple sets", sdiff),
    spec!("sinterstore", -3, ["write", "denyoom"], (1, -1, 1), "set", "1.0.0",
        "Intersect multiple sets and store the resulting set in a key", sinterstore),
    spec!("sunionstore", -3, ["write", "denyoom"], (1, -1, 1), "set", "1.0.0",
        "Add multiple sets and store the resulting set in a key", sunionstore),
    spec!("sdiffstore", -3, ["write", "denyoom"], (1, -1, 1), "set", "1.0.0",
        "Subtract multiple sets and store the resulting set in a key", sdiffstore),
    spec!("sscan", -3, ["readonly"], (1, 1, 1), "set", "2.0.0",
        "Incrementally iterate Set elements", sscan),
];

fn member_reply(w: &mut Writer<'_>, m: Member<'_>) {
    match m {
        Member::Int(v) => w.bulk_integer(v),
        Member::Bytes(b) => w.bulk(b),
    }
}

/// `SADD key member [member ...]`
pub(super) fn sadd(call: &mut Call<'_>, args: Args<'_>) {
    let limits = call.ctx.collections.set();
    let r = call.write_set(args.get(1), args.get(2), "sadd", |s| {
        let mut added = 0;
        for i in 2..args.len() {
            added += i64::from(s.add(args.get(i), limits));
        }
        Edit {
            changed: added > 0,
            result: added,
        }
    });
    if let Some(n) = r {
        call.w.integer(n);
    }
}

/// `SREM key member [member ...]`
pub(super) fn srem(call: &mut Call<'_>, args: Args<'_>) {
    let r = call.write_set(args.get(1), b"", "srem", |s| {
        let mut removed = 0;
        for i in 2..args.len() {
            removed += i64::from(s.remove(args.get(i)));
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

/// `SMEMBERS key`
pub(super) fn smembers(call: &mut Call<'_>, args: Args<'_>) {
    call.read_set(args.get(1), |s, w| {
        w.set(s.map_or(0, |s| s.len()));
        for m in s.iter().flat_map(|s| s.iter()) {
            member_reply(w, m);
        }
    });
}

/// `SISMEMBER key member`
pub(super) fn sismember(call: &mut Call<'_>, args: Args<'_>) {
    let m = args.get(2);
    call.read_set(args.get(1), |s, w| {
        w.integer(i64::from(s.is_some_and(|s| s.contains(m))))
    });
}

/// `SMISMEMBER key member [member ...]`
pub(super) fn smismember(call: &mut Call<'_>, args: Args<'_>) {
    call.read_set(args.get(1), |s, w| {
        w.array(args.len() - 2);
        for i in 2..args.len() {
            w.integer(i64::from(s.is_some_and(|s| s.contains(args.get(i)))));
        }
    });
}

/// `SCARD key`
pub(super) fn scard(call: &mut Call<'_>, args: Args<'_>) {
    call.read_set(args.get(1), |s, w| {
        w.integer(s.map_or(0, |s| s.len()) as i64)
    });
}

/// `SPOP key [count]`
pub(super) fn spop(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() > 3 {
        return call.syntax_error();
    }
    let count = if args.len() == 3 {
        match parse_i64(args.get(2)).filter(|&n| n >= 0) {
            Some(n) => Some(n as u64),
            None => return call.w.error(b"ERR value is out of range, must be positive"),
        }
    } else {
        None
    };
    let Some(count) = count else {
        return spop_one(call, args.get(1));
    };
    let r = call.pop_set(args.get(1), "spop", |s| {
        let n = count.min(s.len() as u64) as usize;
        let mut popped = Vec::with_capacity(n);
        if n == s.len() && n > 0 {
            popped.extend(s.view().iter().map(|m| m.to_vec()));
            while s.pop_random().is_some() {}
        } else {
            for _ in 0..n {
                popped.extend(s.pop_random());
            }
        }
        Edit {
            changed: !popped.is_empty(),
            result: popped,
        }
    });
    let Some(popped) = r else { return };
    // A missing key pops nothing.
    let popped = popped.unwrap_or_default();
    call.w.set(popped.len());
    for m in &popped {
        call.w.bulk(m);
    }
}

/// `SPOP key`: the member is copied into the connection's scratch buffer (kept between
/// requests), so a pop allocates nothing.
fn spop_one(call: &mut Call<'_>, key: &[u8]) {
    let mut member = std::mem::take(&mut call.conn.scratch);
    member.clear();
    let r = call.pop_set(key, "spop", |s| {
        let popped = s.pop_random_into(&mut member);
        Edit {
            changed: popped,
            result: popped,
        }
    });
    match r {
        Some(Some(true)) => call.w.bulk(&member),
        Some(_) => call.w.null(),
        None => {}
    }
    call.conn.scratch = member;
}

/// `SRANDMEMBER key [count]`
pub(super) fn srandmember(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() > 3 {
        return call.syntax_error();
    }
    if args.len() == 2 {
        call.read_set(args.get(1), |s, w| {
            let mut picked = false;
            if let Some(s) = s {
                s.random(1, |m| {
                    member_reply(w, m);
                    picked = true;
                });
            }
            if !picked {
                w.null();
            }
        });
        return;
    }
    let Some(count) = call.integer(args.get(2)) else {
        return;
    };
    if count == i64::MIN {
        return call.w.error(
            b"ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        );
    }
    let budget = random_reply_budget(call);
    call.read_set(args.get(1), |s, w| {
        let Some(s) = s.filter(|_| count != 0) else {
            return w.array(0);
        };
        if count < 0 {
            let len = s.len();
            return reply_random_picks(w, count.unsigned_abs(), 1, budget, |w| {
                member_reply(w, s.at(random_below(len)));
            });
        }
        w.array(count.unsigned_abs().min(s.len() as u64) as usize);
        s.random(count, |m| member_reply(w, m));
    });
}

/// `SSCAN key cursor [MATCH pattern] [COUNT count]`
pub(super) fn sscan(call: &mut Call<'_>, args: Args<'_>) {
    let Some(cursor) = ScanOptions::cursor(call, args.get(2)) else {
        return;
    };
    let opts = ScanOptions::parse(args, 3);
    call.read_set(args.get(1), |s, w| match (s, opts) {
        (None, _) => w.out.extend_from_slice(EMPTY_SCAN),
        (Some(_), Err(e)) => w.error(e),
        (Some(s), Ok(opts)) => {
            let mut picked: Vec<Vec<u8>> = Vec::new();
            let next = match s {
                SetRef::IntSet(_) => {
                    picked.extend(s.iter().map(|m| m.to_vec()).filter(|m| opts.matches(m)));
                    0
                }
                SetRef::Table(t) => t.scan(cursor, opts.count, |m, _| {
                    if opts.matches(m) {
                        picked.push(m.to_vec());
                    }
                }),
            };
            w.array(2);
            w.bulk(next.to_string().as_bytes());
            w.array(picked.len());
            for m in &picked {
                w.bulk(m);
            }
        }
    });
}

/// Another type at one of the keys.
struct WrongType;

impl Call<'_> {
    /// Size of the set at `key` (None when absent), or WrongType.
    fn set_len(&self, key: &[u8]) -> Result<Option<usize>, WrongType> {
        self.ctx.store.inspect(self.conn.db, key, |cur| match cur {
            None => Ok(None),
            Some(c) if c.item_type() != ItemType::Set => Err(WrongType),
            Some(c) => set_of(c, |s| s.len()).map(Some).ok_or(WrongType),
        })
    }

    /// Calls `f` with the set at `key` (absent keys are skipped).
    fn with_set<R>(&self, key: &[u8], f: impl FnOnce(SetRef<'_>) -> R) -> Option<R> {
        self.ctx.store.inspect(self.conn.db, key, |cur| {
            cur.filter(|c| c.item_type() == ItemType::Set)
                .and_then(|c| set_of(c, f))
        })
    }

    /// Replaces whatever `key` holds with `members` as a new set (no expiry), or deletes
    /// it when there are none, as SINTERSTORE and friends do; publishes `event` (or `del`
    /// when an existing key was deleted). Returns the set's size.
    fn store_set(&mut self, key: &[u8], members: &[Vec<u8>], event: &str) -> Option<usize> {
        let limits = self.ctx.collections.set();
        let mut existed = false;
        let r = self.ctx.store.modify(self.conn.db, key, |cur| {
            existed = cur.is_some();
            let Some(first) = members.first() else {
                return Update::Delete(0);
            };
            let mut s = SetMut::new_for(first);
            for m in members {
                s.add(m, limits);
            }
            let len = s.len();
            match set_update(s.finish(true), len) {
                Update::Bytes {
                    ty, value, result, ..
                } => Update::Bytes {
                    ty,
                    value,
                    ttl: Ttl::Set(Expiry::Never),
                    result,
                },
                Update::Object { object, result, .. } => Update::Object {
                    object,
                    ttl: Ttl::Set(Expiry::Never),
                    result,
                },
                other => other,
            }
        });
        match r {
            Ok(0) => {
                if existed {
                    self.notify(notify::GENERIC, "del", key);
                }
                Some(0)
            }
            Ok(n) => {
                self.notify(notify::SET, event, key);
                Some(n)
            }
            Err(e) => {
                self.rewrite_refused(e);
                None
            }
        }
    }
}

/// Which set operation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The result of an operation over `keys`, in Redis's order of checks: every key's type
/// first (WRONGTYPE for any non-set), then the members. Run inside an exclusive section.
fn combine(
    call: &Call<'_>,
    keys: &[&[u8]],
    op: Op,
    limit: usize,
) -> Result<Vec<Vec<u8>>, WrongType> {
    let mut sizes = Vec::with_capacity(keys.len());
    for k in keys {
        sizes.push(call.set_len(k)?);
    }
    match op {
        Op::Inter => {
            if sizes.iter().any(Option::is_none) {
                return Ok(Vec::new());
            }
            let (smallest, _) = sizes
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| n.unwrap_or(0))
                .unwrap_or((0, &None));
            let mut members: Vec<Vec<u8>> = call
                .with_set(keys[smallest], |s| s.iter().map(|m| m.to_vec()).collect())
                .unwrap_or_default();
            for (i, k) in keys.iter().enumerate() {
                if i == smallest || keys[i] == keys[smallest] {
                    continue;
                }
                call.with_set(k, |s| members.retain(|m| s.contains(m)));
            }
            if limit > 0 {
                members.truncate(limit);
            }
            Ok(members)
        }
        Op::Union | Op::Diff => {
            let limits = call.ctx.collections.set();
            let mut acc: Option<SetMut<'_>> = None;
            for (i, k) in keys.iter().enumerate() {
                if op == Op::Diff && i > 0 && acc.as_ref().map_or(true, |a| a.is_empty()) {
                    break;
                }
                call.with_set(k, |s| {
                    let mut buf = [0u8; 20];
                    if op == Op::Union || i == 0 {
                        for m in s.iter() {
                            let b = m.bytes(&mut buf);
                            acc.get_or_insert_with(|| SetMut::new_for(b)).add(b, limits);
                        }
                    } else if let Some(a) = acc.as_mut() {
                        for m in s.iter() {
                            a.remove(m.bytes(&mut buf));
                        }
                    }
                });
            }
            Ok(acc
                .map(|a| a.view().iter().map(|m| m.to_vec()).collect())
                .unwrap_or_default())
        }
    }
}

fn keys_of(args: Args<'_>, from: usize, to: usize) -> Vec<&[u8]> {
    (from..to).map(|i| args.get(i)).collect()
}

/// SINTER, SUNION, SDIFF: the result as a set reply.
fn read_op(call: &mut Call<'_>, args: Args<'_>, op: Op) {
    let keys = keys_of(args, 1, args.len());
    let ctx = call.ctx;
    match ctx.gates.exclusive(|_| combine(call, &keys, op, 0)) {
        Ok(members) => {
            call.w.set(members.len());
            for m in &members {
                call.w.bulk(m);
            }
        }
        Err(WrongType) => call.w.error(WRONGTYPE),
    }
}

/// The STORE forms: the result replaces the destination (any type), its size replied.
fn store_op(call: &mut Call<'_>, args: Args<'_>, op: Op) {
    let keys = keys_of(args, 2, args.len());
    let dest = args.get(1);
    let ctx = call.ctx;
    let r = ctx.gates.exclusive(|_| {
        let members = combine(call, &keys, op, 0)?;
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        Ok(call.store_set(dest, &members, event))
    });
    match r {
        Ok(Some(n)) => call.w.integer(n as i64),
        Ok(None) => {}
        Err(WrongType) => call.w.error(WRONGTYPE),
    }
}

pub(super) fn sinter(call: &mut Call<'_>, args: Args<'_>) {
    read_op(call, args, Op::Inter);
}

pub(super) fn sunion(call: &mut Call<'_>, args: Args<'_>) {
    read_op(call, args, Op::Union);
}

pub(super) fn sdiff(call: &mut Call<'_>, args: Args<'_>) {
    read_op(call, args, Op::Diff);
}

pub(super) fn sinterstore(call: &mut Call<'_>, args: Args<'_>) {
    store_op(call, args, Op::Inter);
}

pub(super) fn sunionstore(call: &mut Call<'_>, args: Args<'_>) {
    store_op(call, args, Op::Union);
}

pub(super) fn sdiffstore(call: &mut Call<'_>, args: Args<'_>) {
    store_op(call, args, Op::Diff);
}

/// `SINTERCARD numkeys key [key ...] [LIMIT limit]`
pub(super) fn sintercard(call: &mut Call<'_>, args: Args<'_>) {
    let numkeys = match parse_i64(args.get(1)).filter(|&n| n >= 1) {
        Some(n) => n as u64,
        None => return call.w.error(b"ERR numkeys should be greater than 0"),
    };
    if numkeys > (args.len() - 2) as u64 {
        return call
            .w
            .error(b"ERR Number of keys can't be greater than number of args");
    }
    let end = 2 + numkeys as usize;
    let mut limit = 0usize;
    let mut i = end;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"LIMIT") && i + 1 < args.len() {
            match parse_i64(args.get(i + 1)).filter(|&n| n >= 0) {
                Some(n) => limit = usize::try_from(n).unwrap_or(usize::MAX),
                None => return call.w.error(b"ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return call.syntax_error();
        }
    }
    let keys = keys_of(args, 2, end);
    let ctx = call.ctx;
    match ctx
        .gates
        .exclusive(|_| combine(call, &keys, Op::Inter, limit))
    {
        Ok(members) => call.w.integer(members.len() as i64),
        Err(WrongType) => call.w.error(WRONGTYPE),
    }
}

/// `SMOVE source destination member`
pub(super) fn smove(call: &mut Call<'_>, args: Args<'_>) {
    let (src, dst, member) = (args.get(1), args.get(2), args.get(3));
    let ctx = call.ctx;
    let r = ctx.gates.exclusive(|_| -> Result<Option<bool>, WrongType> {
        let Some(_) = call.set_len(src)? else {
            return Ok(Some(false));
        };
        call.set_len(dst)?;
        if src == dst {
            return Ok(Some(
                call.with_set(src, |s| s.contains(member)).unwrap_or(false),
            ));
        }
        let Some(removed) = call.write_set(src, member, "srem", |s| {
            let gone = s.remove(member);
            Edit {
                changed: gone,
                result: gone,
            }
        }) else {
            return Ok(None);
        };
        if !removed {
            return Ok(Some(false));
        }
        let limits = call.ctx.collections.set();
        let added = call.write_set(dst, member, "sadd", |s| {
            let new = s.add(member, limits);
            Edit {
                changed: new,
                result: new,
            }
        });
        Ok(added.map(|_| true))
    });
    match r {
        Ok(Some(moved)) => call.w.integer(i64::from(moved)),
        Ok(None) => {}
        Err(WrongType) => call.w.error(WRONGTYPE),
    }
}
