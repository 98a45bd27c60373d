//! Sorted-set commands (Redis 7.0): ZADD and friends, ranks, scores, ranges by rank,
//! score and lex (ZRANGE and its older forms, ZRANGESTORE), pops, ZRANDMEMBER, range
//! removals and ZSCAN. Set algebra (ZUNION, ZINTER, ZDIFF and their STORE forms) is in
//! [`super::zsetops`]; the blocking pops in [`super::blocking`].
//!
//! A sorted set is one typed value: packed bytes in its slab item below
//! `zset-max-listpack-entries`/`-value`, else a [`ZSet::Tree`] heap object owned by the
//! item. Each single-key command is one [`Store::inspect`] or [`Store::modify`] under the
//! key's stripe lock; commands reading or writing several keys run as an exclusive
//! section.
//!
//! [`Store::inspect`]: crate::storage::Store::inspect
//! [`Store::modify`]: crate::storage::Store::modify

use super::blocking::parse_multi_pop;
use super::list::WrongType;
use super::registry::{spec, Spec};
use super::zsetrange::{
    zrange, zrangebylex, zrangebyscore, zrangestore, zremrangebylex, zremrangebyrank,
    zremrangebyscore, zrevrange, zrevrangebylex, zrevrangebyscore,
};
use super::Call;
use crate::collections::zset::{
    format_score, parse_score, LexBound, Limits, Packed, ScoreBound, ScoreText, ZRef, ZSet,
};
use crate::collections::{impl_object, random_below};
use crate::hub::notify;
use crate::protocol::resp::{parse_i64, Args, Writer};
use crate::storage::{Expiry, ItemType, Ttl, Update};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("zadd", -4, ["write", "denyoom", "fast"], (1, 1, 1), "sorted_set", "1.2.0",
        "Add one or more members to a sorted set, or update its score if it already exists",
        zadd),
    spec!("zincrby", 4, ["write", "denyoom", "fast"], (1, 1, 1), "sorted_set", "1.2.0",
        "Increment the score of a member in a sorted set", zincrby),
    spec!("zrem", -3, ["write", "fast"], (1, 1, 1), "sorted_set", "1.2.0",
        "Remove one or more members from a sorted set", zrem),
    spec!("zcard", 2, ["readonly", "fast"], (1, 1, 1), "sorted_set", "1.2.0",
        "Get the number of members in a sorted set", zcard),
    spec!("zcount", 4, ["readonly", "fast"], (1, 1, 1), "sorted_set", "2.0.0",
        "Count the members in a sorted set with scores within the given values", zcount),
    spec!("zlexcount", 4, ["readonly", "fast"], (1, 1, 1), "sorted_set", "2.8.9",
        "Count the number of members in a sorted set between a given lexicographical range",
        zlexcount),
    spec!("zscore", 3, ["readonly", "fast"], (1, 1, 1), "sorted_set", "1.2.0",
        "Get the score associated with the given member in a sorted set", zscore),
    spec!("zmscore", -3, ["readonly", "fast"], (1, 1, 1), "sorted_set", "6.2.0",
        "Get the score associated with the given members in a sorted set", zmscore),
    spec!("zrank", 3, ["readonly", "fast"], (1, 1, 1), "sorted_set", "2.0.0",
        "Determine the index of a member in a sorted set", zrank),
    spec!("zrevrank", 3, ["readonly", "fast"], (1, 1, 1), "sorted_set", "2.0.0",
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
        zrevrank),
    spec!("zrange", -4, ["readonly"], (1, 1, 1), "sorted_set", "1.2.0",
        "Return a range of members in a sorted set", zrange),
    spec!("zrangestore", -5, ["write", "denyoom"], (1, 2, 1), "sorted_set", "6.2.0",
        "Store a range of members from sorted set into another key", zrangestore),
    spec!("zrevrange", -4, ["readonly"], (1, 1, 1), "sorted_set", "1.2.0",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
        zrevrange),
    spec!("zrangebyscore", -4, ["readonly"], (1, 1, 1), "sorted_set", "1.0.5",
        "Return a range of members in a sorted set, by score", zrangebyscore),
    spec!("zrevrangebyscore", -4, ["readonly"], (1, 1, 1), "sorted_set", "2.2.0",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
        zrevrangebyscore),
    spec!("zrangebylex", -4, ["readonly"], (1, 1, 1), "sorted_set", "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range", zrangebylex),
    spec!("zrevrangebylex", -4, ["readonly"], (1, 1, 1), "sorted_set", "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings",
        zrevrangebylex),
    spec!("zpopmin", -2, ["write", "fast"], (1, 1, 1), "sorted_set", "5.0.0",
        "Remove and return members with the lowest scores in a sorted set", zpopmin),
    spec!("zpopmax", -2, ["write", "fast"], (1, 1, 1), "sorted_set", "5.0.0",
        "Remove and return members with the highest scores in a sorted set", zpopmax),
    spec!("zmpop", -4, ["write", "movablekeys"], (0, 0, 0), "sorted_set", "7.0.0",
        "Remove and return members with scores in a sorted set", zmpop),
    spec!("zrandmember", -2, ["readonly"], (1, 1, 1), "sorted_set", "6.2.0",
        "Get one or multiple random elements from a sorted set", zrandmember),
    spec!("zremrangebyrank", 4, ["write"], (1, 1, 1), "sorted_set", "2.0.0",
        "Remove all members in a sorted set within the given indexes", zremrangebyrank),
    spec!("zremrangebyscore", 4, ["write"], (1, 1, 1), "sorted_set", "1.2.0",
        "Remove all members in a sorted set within the given scores", zremrangebyscore),
    spec!("zremrangebylex", 4, ["write"], (1, 1, 1), "sorted_set", "2.8.9",
        "Remove all members in a sorted set between the given lexicographical range",
        zremrangebylex),
    spec!("zscan", -3, ["readonly"], (1, 1, 1), "sorted_set", "2.8.0",
        "Incrementally iterate sorted sets elements and associated scores", zscan),
];

const NOT_FLOAT: &[u8] = b"ERR value is not a valid float";
const NAN_SCORE: &[u8] = b"ERR resulting score is not a number (NaN)";
pub(super) const BAD_SCORE_RANGE: &[u8] = b"ERR min or max is not a float";
pub(super) const BAD_LEX_RANGE: &[u8] = b"ERR min or max not valid string range item";

impl_object!(ZSet, ZSet, |z| std::mem::size_of::<ZSet>() + z.heap_bytes());

/// A score as Redis replies it: `%.17g` text, a bulk string in RESP2, a double in RESP3.
pub(super) fn reply_score(w: &mut Writer<'_>, v: f64) {
    let text = ScoreText::new(v);
    if w.resp3 {
        w.out.push(b',');
        w.out.extend_from_slice(text.as_bytes());
        w.out.extend_from_slice(b"\r\n");
    } else {
        w.bulk(text.as_bytes());
    }
}

/// How the stored set is left after a write.
pub(super) fn zset_update<R>(z: ZSet, result: R) -> Update<R> {
    match z {
        _ if z.is_empty() => Update::Delete(result),
        ZSet::Packed(value) => Update::Bytes {
            ty: ItemType::ZSet,
            value,
            ttl: Ttl::Keep,
            result,
        },
        tree @ ZSet::Tree(_) => Update::Object {
            object: Box::new(tree),
            ttl: Ttl::Keep,
            result,
        },
    }
}

/// Writes `n` (member, score) entries as ZRANGE does: members only, or with scores
/// (flat in RESP2, pairs in RESP3).
pub(super) fn reply_entries<'a>(
    w: &mut Writer<'_>,
    n: usize,
    entries: impl Iterator<Item = (f64, &'a [u8])>,
    withscores: bool,
) {
    w.array(if withscores && !w.resp3 { 2 * n } else { n });
    for (score, member) in entries.take(n) {
        if withscores && w.resp3 {
            w.array(2);
        }
        w.bulk(member);
        if withscores {
            reply_score(w, score);
        }
    }
}

impl Call<'_> {
    pub(super) fn zset_limits(&self) -> Limits {
        self.ctx.collections.zset()
    }

    /// Runs `f` on the sorted set at `key` (None when there is none) with the reply
    /// writer. Replies WRONGTYPE itself (and returns None) for another type.
    pub(super) fn read_zset<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<ZRef<'_>>, &mut Writer<'_>) -> R,
    ) -> Option<R> {
        let w = &mut self.w;
        let r = self.ctx.store.inspect(self.conn.db, key, |cur| match cur {
            None => Ok(f(None, w)),
            Some(c) if c.item_type() != ItemType::ZSet => Err(WrongType),
            Some(c) => match c.downcast_ref::<ZSet>() {
                Some(z) => Ok(f(Some(z.as_ref()), w)),
                None => {
                    let bytes = c.bytes().unwrap_or_default();
                    Ok(f(Some(ZRef::Packed(Packed(&bytes))), w))
                }
            },
        });
        r.map_err(|WrongType| self.wrong_type()).ok()
    }

    /// Edits the sorted set at `key`: `f` gets the set (a new one in the form a first
    /// member of `create` bytes calls for, when there is none and `create` is Some; else
    /// the result is `Some(None)`) and returns its result and whether it changed the set.
    /// An emptied set is deleted. A change publishes keyspace event `event`, a deletion
    /// `del` after it, as Redis does. Replies WRONGTYPE or OOM itself (and returns None).
    pub(super) fn write_zset<R>(
        &mut self,
        key: &[u8],
        create: Option<usize>,
        event: &str,
        f: impl FnOnce(&mut ZSet, &mut Writer<'_>) -> (R, bool),
    ) -> Option<Option<R>> {
        let limits = self.zset_limits();
        let w = &mut self.w;
        // (changed, emptied), for the keyspace events.
        let mut effect = (false, false);
        let f = |z: &mut ZSet, w: &mut Writer<'_>| {
            let (r, changed) = f(z, w);
            effect = (changed, changed && z.is_empty());
            (r, changed)
        };
        let r = self.ctx.store.modify(self.conn.db, key, |cur| {
            let Some(c) = cur else {
                let Some(first) = create else {
                    return Update::Keep(Ok(None));
                };
                let mut z = ZSet::new_for(first, limits);
                let (r, _) = f(&mut z, w);
                if z.is_empty() {
                    return Update::Keep(Ok(Some(r)));
                }
                return zset_update(z, Ok(Some(r)));
            };
            if c.item_type() != ItemType::ZSet {
                return Update::Keep(Err(WrongType));
            }
            if c.is_object() {
                let Some(z) = c.downcast_mut::<ZSet>() else {
                    return Update::Keep(Err(WrongType));
                };
                let (r, changed) = f(z, w);
                return match () {
                    _ if !changed => Update::Keep(Ok(Some(r))),
                    _ if z.is_empty() => Update::Delete(Ok(Some(r))),
                    _ => Update::Changed(Ok(Some(r))),
                };
            }
            let bytes = c.bytes().unwrap_or_default();
            let mut z = ZSet::Packed(bytes.into_owned());
            let (r, changed) = f(&mut z, w);
            if !changed {
                return Update::Keep(Ok(Some(r)));
            }
            zset_update(z, Ok(Some(r)))
        });
        match r {
            Ok(Ok(r)) => {
                if effect.0 {
                    self.notify(notify::ZSET, event, key);
                }
                if effect.1 {
                    self.notify(notify::GENERIC, "del", key);
                }
                Some(r)
            }
            Ok(Err(WrongType)) => {
                self.wrong_type();
                None
            }
            Err(e) => {
                self.collection_refused(e);
                None
            }
        }
    }

    /// Pops up to `count` entries from the low (`max` false) or high end of the set at
    /// `key`, replying in `shape`. `Some(true)` when it popped, `Some(false)` when there is
    /// no set (nothing replied), None after an error reply.
    pub(super) fn pop_zset(
        &mut self,
        key: &[u8],
        max: bool,
        count: usize,
        shape: ZPopReply,
    ) -> Option<bool> {
        let event = if max { "zpopmax" } else { "zpopmin" };
        let r = self.write_zset(key, None, event, |z, w| {
            let n = count.min(z.len());
            match shape {
                ZPopReply::Flat => w.array(2 * n),
                ZPopReply::Pairs => w.array(n),
                ZPopReply::KeyFlat => {
                    w.array(2 * n + 1);
                    w.bulk(key);
                }
                ZPopReply::KeyPairs => {
                    w.array(2);
                    w.bulk(key);
                    w.array(n);
                }
            }
            let nested = matches!(shape, ZPopReply::Pairs | ZPopReply::KeyPairs);
            for _ in 0..n {
                let rank = if max { z.len() - 1 } else { 0 };
                let (score, member) = z.remove_rank(rank);
                if nested {
                    w.array(2);
                }
                w.bulk(&member);
                reply_score(w, score);
            }
            ((), n > 0)
        })?;
        Some(r.is_some())
    }
}

/// How popped entries are replied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ZPopReply {
    /// ZPOPMIN in RESP2, or without a count: `[member, score, ...]`.
    Flat,
    /// ZPOPMIN with a count in RESP3: `[[member, score], ...]`.
    Pairs,
    /// BZPOPMIN: `[key, member, score]`.
    KeyFlat,
    /// ZMPOP/BZMPOP: `[key, [[member, score], ...]]`.
    KeyPairs,
}

/// ZADD's flags.
#[derive(Clone, Copy, Debug, Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Score pairs ZADD parses into a stack array; more go to a vector.
const ZADD_STACK_PAIRS: usize = 16;

fn zadd(call: &mut Call<'_>, args: Args<'_>) {
    let mut flags = AddFlags::default();
    let mut at = 2;
    while at < args.len() {
        let opt = args.get(at);
        match () {
            _ if opt.eq_ignore_ascii_case(b"nx") => flags.nx = true,
            _ if opt.eq_ignore_ascii_case(b"xx") => flags.xx = true,
            _ if opt.eq_ignore_ascii_case(b"ch") => flags.ch = true,
            _ if opt.eq_ignore_ascii_case(b"incr") => flags.incr = true,
            _ if opt.eq_ignore_ascii_case(b"gt") => flags.gt = true,
            _ if opt.eq_ignore_ascii_case(b"lt") => flags.lt = true,
            _ => break,
        }
        at += 1;
    }
    let pairs = args.len() - at;
    if pairs == 0 || pairs % 2 != 0 {
        return call.syntax_error();
    }
    let pairs = pairs / 2;
    if flags.nx && flags.xx {
        return call
            .w
            .error(b"ERR XX and NX options at the same time are not compatible");
    }
    if [flags.gt, flags.lt, flags.nx]
        .iter()
        .filter(|&&f| f)
        .count()
        > 1
    {
        return call
            .w
            .error(b"ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if flags.incr && pairs > 1 {
        return call
            .w
            .error(b"ERR INCR option supports a single increment-element pair");
    }
    // Every score is checked before any change, as Redis does; the parsed scores stay
    // on the stack for the usual few pairs (no allocation per request).
    let mut few = [0.0; ZADD_STACK_PAIRS];
    let mut many = Vec::new();
    let scores: &mut [f64] = if pairs <= ZADD_STACK_PAIRS {
        &mut few[..pairs]
    } else {
        many.resize(pairs, 0.0);
        &mut many
    };
    for (k, slot) in scores.iter_mut().enumerate() {
        match parse_score(args.get(at + 2 * k)) {
            Some(s) => *slot = s,
            None => return call.w.error(NOT_FLOAT),
        }
    }
    let scores = &*scores;
    let limits = call.zset_limits();
    let create = (!flags.xx).then(|| args.get(at + 1).len());
    let event = if flags.incr { "zincr" } else { "zadd" };
    let r = call.write_zset(args.get(1), create, event, |z, _| {
        let (mut added, mut updated, mut processed) = (0i64, 0i64, 0usize);
        let mut last = 0.0;
        let mut nan = false;
        // Without INCR or NX the new score is known before the lookup: a large set
        // loads the leaf it goes to beside the lookup's misses.
        let hinted = !flags.incr && !flags.nx;
        for (k, &score) in scores.iter().enumerate() {
            let member = args.get(at + 2 * k + 1);
            let hint = hinted.then_some(score);
            let found = z.update_score(member, hint, limits, |cur| {
                if flags.nx {
                    return None;
                }
                let new = if flags.incr { cur + score } else { score };
                if new.is_nan() {
                    nan = true;
                    return None;
                }
                if (flags.lt && new >= cur) || (flags.gt && new <= cur) {
                    return None;
                }
                processed += 1;
                last = new;
                // As Redis: an unchanged score is no write.
                (new != cur).then(|| {
                    updated += 1;
                    new
                })
            });
            if nan {
                return (Err(()), false);
            }
            if found.is_none() && !flags.xx {
                z.insert(member, score, limits);
                added += 1;
                processed += 1;
                last = score;
            }
        }
        let changed = added + updated > 0;
        (Ok((added, updated, processed, last)), changed)
    });
    match r {
        None => {}
        Some(Some(Err(()))) => call.w.error(NAN_SCORE),
        Some(r) => {
            let (added, updated, processed, last) = match r {
                Some(Ok(v)) => v,
                _ => (0, 0, 0, 0.0),
            };
            if added + updated > 0 {
                call.zset_added(args.get(1));
            }
            if flags.incr {
                if processed > 0 {
                    reply_score(&mut call.w, last);
                } else {
                    call.w.null();
                }
            } else {
                call.w
                    .integer(if flags.ch { added + updated } else { added });
            }
        }
    }
}

fn zincrby(call: &mut Call<'_>, args: Args<'_>) {
    let Some(incr) = parse_score(args.get(2)) else {
        return call.w.error(NOT_FLOAT);
    };
    let member = args.get(3);
    let limits = call.zset_limits();
    let r = call.write_zset(args.get(1), Some(member.len()), "zincr", |z, _| {
        let mut new = incr;
        // As Redis: NaN, or an unchanged score, is no write (no event, no wake-up).
        let cur = z.update_score(member, None, limits, |cur| {
            new = cur + incr;
            (!new.is_nan() && new != cur).then_some(new)
        });
        match cur {
            _ if new.is_nan() => (None, false),
            Some(cur) => (Some(new), new != cur),
            None => {
                z.insert(member, new, limits);
                (Some(new), true)
            }
        }
    });
    match r {
        None => {}
        Some(Some(Some(v))) => {
            call.zset_added(args.get(1));
            reply_score(&mut call.w, v);
        }
        Some(_) => call.w.error(NAN_SCORE),
    }
}

fn zrem(call: &mut Call<'_>, args: Args<'_>) {
    let r = call.write_zset(args.get(1), None, "zrem", |z, _| {
        let mut n = 0i64;
        for m in args.iter_from(2) {
            if z.remove(m).is_some() {
                n += 1;
            }
            if z.is_empty() {
                break;
            }
        }
        (n, n > 0)
    });
    if let Some(r) = r {
        call.w.integer(r.unwrap_or(0));
    }
}

fn zcard(call: &mut Call<'_>, args: Args<'_>) {
    call.read_zset(args.get(1), |z, w| {
        w.integer(z.map_or(0, |z| z.len()) as i64)
    });
}

fn zcount(call: &mut Call<'_>, args: Args<'_>) {
    let (Some(min), Some(max)) = (
        ScoreBound::parse(args.get(2)),
        ScoreBound::parse(args.get(3)),
    ) else {
        return call.w.error(BAD_SCORE_RANGE);
    };
    call.read_zset(args.get(1), |z, w| {
        let n = z.map_or(0, |z| {
            let (a, b) = z.score_range(&min, &max);
            b - a
        });
        w.integer(n as i64)
    });
}

fn zlexcount(call: &mut Call<'_>, args: Args<'_>) {
    let (Some(min), Some(max)) = (LexBound::parse(args.get(2)), LexBound::parse(args.get(3)))
    else {
        return call.w.error(BAD_LEX_RANGE);
    };
    call.read_zset(args.get(1), |z, w| {
        let n = z.map_or(0, |z| {
            let (a, b) = z.lex_range(&min, &max);
            b - a
        });
        w.integer(n as i64)
    });
}

fn zscore(call: &mut Call<'_>, args: Args<'_>) {
    let member = args.get(2);
    call.read_zset(args.get(1), |z, w| match z.and_then(|z| z.score(member)) {
        Some(s) => reply_score(w, s),
        None => w.null(),
    });
}

fn zmscore(call: &mut Call<'_>, args: Args<'_>) {
    call.read_zset(args.get(1), |z, w| {
        w.array(args.len() - 2);
        for m in args.iter_from(2) {
            match z.and_then(|z| z.score(m)) {
                Some(s) => reply_score(w, s),
                None => w.null(),
            }
        }
    });
}

fn rank_generic(call: &mut Call<'_>, args: Args<'_>, rev: bool) {
    let member = args.get(2);
    call.read_zset(args.get(1), |z, w| {
        match z.and_then(|z| z.rank(member).map(|(r, _)| (r, z.len()))) {
            Some((r, len)) => w.integer(if rev { len - 1 - r } else { r } as i64),
            None => w.null(),
        }
    });
}

fn zrank(call: &mut Call<'_>, args: Args<'_>) {
    rank_generic(call, args, false);
}

fn zrevrank(call: &mut Call<'_>, args: Args<'_>) {
    rank_generic(call, args, true);
}

impl Call<'_> {
    /// Replaces `dst` with a sorted set of `entries` (deleting it when there are none) and
    /// replies the new cardinality, as ZRANGESTORE/ZUNIONSTORE do. `tree` forces the large
    /// form (ZRANGESTORE of a rank range longer than the packed limit).
    /// `event` is Redis's keyspace event for the store (`zunionstore`...).
    pub(super) fn store_zset(
        &mut self,
        dst: &[u8],
        entries: Vec<(f64, Vec<u8>)>,
        tree: bool,
        event: &str,
    ) {
        let limits = self.zset_limits();
        let n = entries.len();
        if n == 0 {
            let existed = self
                .ctx
                .store
                .modify(self.conn.db, dst, |cur| Update::Delete(cur.is_some()));
            if matches!(existed, Ok(true)) {
                self.notify(notify::GENERIC, "del", dst);
            }
            return self.w.integer(0);
        }
        let mut z = if tree {
            ZSet::Tree(Box::default())
        } else {
            ZSet::default()
        };
        for (score, member) in &entries {
            if z.as_ref().score(member).is_none() {
                z.insert(member, *score, limits);
            }
        }
        let len = z.len();
        let r = self.ctx.store.modify(self.conn.db, dst, |_| match z {
            ZSet::Packed(value) => Update::Bytes {
                ty: ItemType::ZSet,
                value,
                ttl: Ttl::Set(Expiry::Never),
                result: (),
            },
            tree @ ZSet::Tree(_) => Update::Object {
                object: Box::new(tree),
                ttl: Ttl::Set(Expiry::Never),
                result: (),
            },
        });
        match r {
            Ok(()) => {
                self.w.integer(len as i64);
                self.notify(notify::ZSET, event, dst);
                self.zset_added(dst);
            }
            Err(e) => self.collection_refused(e),
        }
    }
}

fn pop_generic(call: &mut Call<'_>, args: Args<'_>, max: bool) {
    if args.len() > 3 {
        return call.syntax_error();
    }
    let count = if args.len() == 3 {
        match call.positive_count(args.get(2), b"ERR value is out of range, must be positive") {
            Some(n) => Some(n),
            None => return,
        }
    } else {
        None
    };
    let key = args.get(1);
    if count == Some(0) {
        if call.read_zset(key, |_, w| w.array(0)).is_none() {
            return;
        }
        return;
    }
    let shape = if count.is_some() && call.w.resp3 {
        ZPopReply::Pairs
    } else {
        ZPopReply::Flat
    };
    if call.pop_zset(key, max, count.unwrap_or(1), shape) == Some(false) {
        call.w.array(0);
    }
}

fn zpopmin(call: &mut Call<'_>, args: Args<'_>) {
    pop_generic(call, args, false);
}

fn zpopmax(call: &mut Call<'_>, args: Args<'_>) {
    pop_generic(call, args, true);
}

fn zmpop(call: &mut Call<'_>, args: Args<'_>) {
    let Some(mp) = parse_multi_pop(call, args, 1, ItemType::ZSet) else {
        return;
    };
    if mp.try_pop(call) == Some(false) {
        call.w.null_array();
    }
}

fn zrandmember(call: &mut Call<'_>, args: Args<'_>) {
    let key = args.get(1);
    if args.len() == 2 {
        call.read_zset(key, |z, w| match z.filter(|z| !z.is_empty()) {
            Some(z) => w.bulk(z.get(random_below(z.len())).map_or(&[][..], |e| e.1)),
            None => w.null(),
        });
        return;
    }
    let l = match parse_i64(args.get(2)) {
        None => return call.not_integer(),
        Some(i64::MIN) => {
            return call.w.error(
                b"ERR value is out of range, value must between -9223372036854775807 and \
                  9223372036854775807",
            )
        }
        Some(l) => l,
    };
    let withscores = match args.len() {
        3 => false,
        4 if args.get(3).eq_ignore_ascii_case(b"withscores") => true,
        _ => return call.syntax_error(),
    };
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return call.w.error(b"ERR value is out of range");
    }
    call.read_zset(key, |z, w| {
        let Some(z) = z else {
            return w.array(0);
        };
        let size = z.len();
        let count = l.unsigned_abs() as usize;
        if count == 0 || size == 0 {
            return w.array(0);
        }
        let ranks: Vec<usize> = if l < 0 {
            (0..count).map(|_| random_below(size)).collect()
        } else if count >= size {
            (0..size).collect()
        } else if count * 3 > size {
            let mut all: Vec<usize> = (0..size).collect();
            for i in 0..count {
                let j = i + random_below(size - i);
                all.swap(i, j);
            }
            all.truncate(count);
            all
        } else {
            let mut seen = std::collections::HashSet::with_capacity(count);
            let mut picked = Vec::with_capacity(count);
            while picked.len() < count {
                let r = random_below(size);
                if seen.insert(r) {
                    picked.push(r);
                }
            }
            picked
        };
        w.array(if withscores && !w.resp3 {
            2 * ranks.len()
        } else {
            ranks.len()
        });
        for r in ranks {
            let (score, member) = z.get(r).unwrap_or((0.0, &[]));
            if withscores && w.resp3 {
                w.array(2);
            }
            w.bulk(member);
            if withscores {
                reply_score(w, score);
            }
        }
    });
}

/// Parses a SCAN cursor as Redis's `parseScanCursorOrReply` does.
fn scan_cursor(arg: &[u8]) -> Option<u64> {
    std::str::from_utf8(arg)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse::<u64>().ok())
}

fn zscan(call: &mut Call<'_>, args: Args<'_>) {
    let Some(cursor) = scan_cursor(args.get(2)) else {
        return call.w.error(b"ERR invalid cursor");
    };
    let mut pattern: Option<&[u8]> = None;
    let mut count: usize = 10;
    let mut bad: Option<&'static [u8]> = None;
    let mut i = 3;
    while i < args.len() {
        if i + 1 >= args.len() {
            bad = Some(b"ERR syntax error");
            break;
        }
        let (opt, value) = (args.get(i), args.get(i + 1));
        if opt.eq_ignore_ascii_case(b"count") {
            match parse_i64(value) {
                None => {
                    bad = Some(b"ERR value is not an integer or out of range");
                    break;
                }
                Some(n) if n < 1 => {
                    bad = Some(b"ERR syntax error");
                    break;
                }
                Some(n) => count = usize::try_from(n).unwrap_or(usize::MAX),
            }
        } else if opt.eq_ignore_ascii_case(b"match") {
            pattern = Some(value).filter(|p| *p != b"*");
        } else {
            bad = Some(b"ERR syntax error");
            break;
        }
        i += 2;
    }
    call.read_zset(args.get(1), |z, w| {
        let Some(z) = z else {
            w.out.extend_from_slice(b"*2\r\n$1\r\n0\r\n*0\r\n");
            return;
        };
        if let Some(e) = bad {
            return w.error(e);
        }
        // A packed set is returned whole (as Redis does); a tree `count` entries at a
        // time, the cursor being the next rank.
        let (start, n) = match z {
            ZRef::Packed(_) => (0, z.len()),
            ZRef::Tree(_) => {
                let start = usize::try_from(cursor).unwrap_or(usize::MAX).min(z.len());
                (start, count.min(z.len() - start))
            }
        };
        let next = if start + n >= z.len() { 0 } else { start + n };
        let matches = |m: &[u8]| pattern.map_or(true, |p| super::glob::matches(p, m, false));
        let picked: Vec<(f64, &[u8])> = z
            .iter_from(start)
            .take(n)
            .filter(|e| matches(e.1))
            .collect();
        w.array(2);
        w.bulk_integer(next as i64);
        w.array(2 * picked.len());
        let mut text = Vec::with_capacity(24);
        for (score, member) in picked {
            w.bulk(member);
            text.clear();
            format_score(score, &mut text);
            w.bulk(&text);
        }
    });
}
