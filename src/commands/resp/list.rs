//! List commands (Redis 7.0): pushes, pops, ranges, LINSERT/LSET/LREM/LTRIM/LPOS, LMOVE,
//! LMPOP. The blocking forms are in [`super::blocking`].
//!
//! A list is one typed value: packed bytes in its slab item while it fits one
//! `list-max-listpack-size` node, else a [`List`] heap object owned by the item. Each
//! command is one [`Store::inspect`] or [`Store::modify`] under the key's stripe lock;
//! LMOVE between two keys runs as an exclusive section ([`Gates::exclusive`]) so no other
//! client sees the element in neither list or in both.
//!
//! [`Store::inspect`]: crate::storage::Store::inspect
//! [`Store::modify`]: crate::storage::Store::modify
//! [`Gates::exclusive`]: crate::commands::gate::Gates::exclusive

use super::blocking::parse_multi_pop;
use super::registry::{spec, Spec};
use super::{Call, OOM};
use crate::collections::impl_object;
use crate::collections::list::{Fill, List, ListRef, Packed};
use crate::hub::notify;
use crate::protocol::resp::{parse_i64, Args, Writer};
use crate::storage::{ItemType, RewriteError, Ttl, Update};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("lpush", -3, ["write", "denyoom", "fast"], (1, 1, 1), "list", "1.0.0",
        "Prepend one or multiple elements to a list", lpush),
    spec!("rpush", -3, ["write", "denyoom", "fast"], (1, 1, 1), "list", "1.0.0",
        "Append one or multiple elements to a list", rpush),
    spec!("lpushx", -3, ["write", "denyoom", "fast"], (1, 1, 1), "list", "2.2.0",
        "Prepend an element to a list, only if the list exists", lpushx),
    spec!("rpushx", -3, ["write", "denyoom", "fast"], (1, 1, 1), "list", "2.2.0",
        "Append an element to a list, only if the list exists", rpushx),
    spec!("lpop", -2, ["write", "fast"], (1, 1, 1), "list", "1.0.0",
        "Remove and get the first elements in a list", lpop),
    spec!("rpop", -2, ["write", "fast"], (1, 1, 1), "list", "1.0.0",
        "Remove and get the last elements in a list", rpop),
    spec!("llen", 2, ["readonly", "fast"], (1, 1, 1), "list", "1.0.0",
        "Get the length of a list", llen),
    spec!("lrange", 4, ["readonly"], (1, 1, 1), "list", "1.0.0",
        "Get a range of elements from a list", lrange),
    spec!("lindex", 3, ["readonly"], (1, 1, 1), "list", "1.0.0",
        "Get an element from a list by its index", lindex),
    spec!("lset", 4, ["write", "denyoom"], (1, 1, 1), "list", "1.0.0",
        "Set the value of an element in a list by its index", lset),
    spec!("linsert", 5, ["write", "denyoom"], (1, 1, 1), "list", "2.2.0",
        "Insert an element before or after another element in a list", linsert),
    spec!("lrem", 4, ["write"], (1, 1, 1), "list", "1.0.0",
        "Remove elements from a list", lrem),
    spec!("ltrim", 4, ["write"], (1, 1, 1), "list", "1.0.0",
        "Trim a list to the specified range", ltrim),
    spec!("lpos", -3, ["readonly"], (1, 1, 1), "list", "6.0.6",
        "Return the index of matching elements on a list", lpos),
    spec!("lmove", 5, ["write", "denyoom"], (1, 2, 1), "list", "6.2.0",
        "Pop an element from a list, push it to another list and return it", lmove),
    spec!("rpoplpush", 3, ["write", "denyoom"], (1, 2, 1), "list", "1.2.0",
        "Remove the last element in a list, prepend it to another list and return it",
        rpoplpush),
    spec!("lmpop", -4, ["write", "movablekeys"], (0, 0, 0), "list", "7.0.0",
        "Pop elements from a list", lmpop),
];

impl_object!(List, List, |l| std::mem::size_of::<List>() + l.heap_bytes());

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum End {
    Left,
    Right,
}

impl End {
    /// `LEFT`/`RIGHT`, any case.
    pub(super) fn parse(arg: &[u8]) -> Option<End> {
        if arg.eq_ignore_ascii_case(b"left") {
            Some(End::Left)
        } else if arg.eq_ignore_ascii_case(b"right") {
            Some(End::Right)
        } else {
            None
        }
    }

    /// The keyspace event of a push at this end.
    pub(super) fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    /// The keyspace event of a pop from this end.
    pub(super) fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }
}

/// The key holds another type.
pub(super) struct WrongType;

/// How popped elements are replied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PopReply {
    /// LPOP without count: one bulk string.
    Bulk,
    /// LPOP with count: an array of elements.
    Array,
    /// BLPOP: `[key, element]`.
    KeyElement,
    /// LMPOP/BLMPOP: `[key, [elements]]`.
    KeyArray,
}

/// A list the store keeps, as a write leaves it.
fn list_update<R>(list: List, fill: Fill, result: R) -> Update<R> {
    if list.is_empty() {
        return Update::Delete(result);
    }
    match list.to_packed(fill, false) {
        Some(value) => Update::Bytes {
            ty: ItemType::List,
            value,
            ttl: Ttl::Keep,
            result,
        },
        None => Update::Object {
            object: Box::new(list),
            ttl: Ttl::Keep,
            result,
        },
    }
}

/// Writes ranks `[start, end]` of `list` (inclusive), forwards or backwards.
fn reply_range(w: &mut Writer<'_>, list: ListRef<'_>, start: usize, end: usize, rev: bool) {
    let n = end - start + 1;
    w.array(n);
    if rev {
        list.iter_rev_from(end).take(n).for_each(|v| w.bulk(v));
    } else {
        list.for_each_from(start, n, |v| w.bulk(v));
    }
}

/// Redis's index normalization for LRANGE/LTRIM: the inclusive range, or None when empty.
fn normalize(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

impl Call<'_> {
    /// Replies to a write the store could not make room for.
    pub(super) fn collection_refused(&mut self, _e: RewriteError) {
        self.w.error(OOM);
    }

    /// Runs `f` on the list at `key` (None when there is none) with the reply writer,
    /// under the key's lock. Replies WRONGTYPE itself (and returns None) for another type.
    pub(super) fn read_list<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(Option<ListRef<'_>>, &mut Writer<'_>) -> R,
    ) -> Option<R> {
        let w = &mut self.w;
        let r = self.ctx.store.inspect(self.conn.db, key, |cur| match cur {
            None => Ok(f(None, w)),
            Some(c) if c.item_type() != ItemType::List => Err(WrongType),
            Some(c) => match c.downcast_ref::<List>() {
                Some(l) => Ok(f(Some(ListRef::List(l)), w)),
                None => {
                    let bytes = c.bytes().unwrap_or_default();
                    Ok(f(Some(ListRef::Packed(Packed(&bytes))), w))
                }
            },
        });
        r.map_err(|WrongType| self.wrong_type()).ok()
    }

    /// Edits the list at `key` under the key's lock: `f` gets the list (a new empty one
    /// when there is none and `create`; else the result is `Some(None)`) and the reply
    /// writer, and returns its result and whether it changed the list. An emptied list is
    /// deleted. A change publishes keyspace event `event`, a deletion `del` after it, as
    /// Redis does (an empty `event`: the caller publishes). Replies WRONGTYPE or OOM itself (and returns None).
    pub(super) fn write_list<R>(
        &mut self,
        key: &[u8],
        create: bool,
        event: &str,
        f: impl FnOnce(&mut List, &mut Writer<'_>) -> (R, bool),
    ) -> Option<Option<R>> {
        let fill = self.ctx.collections.list();
        let w = &mut self.w;
        // (changed, emptied), for the keyspace events.
        let mut effect = (false, false);
        let f = |list: &mut List, w: &mut Writer<'_>| {
            let (r, changed) = f(list, w);
            effect = (changed, changed && list.is_empty());
            (r, changed)
        };
        let r = self.ctx.store.modify(self.conn.db, key, |cur| {
            let Some(c) = cur else {
                if !create {
                    return Update::Keep(Ok(None));
                }
                let mut list = List::new();
                let (r, _) = f(&mut list, w);
                return list_update(list, fill, Ok(Some(r)));
            };
            if c.item_type() != ItemType::List {
                return Update::Keep(Err(WrongType));
            }
            if c.is_object() {
                let Some(list) = c.downcast_mut::<List>() else {
                    return Update::Keep(Err(WrongType));
                };
                let (r, changed) = f(list, w);
                if !changed {
                    return Update::Keep(Ok(Some(r)));
                }
                if list.is_empty() {
                    return Update::Delete(Ok(Some(r)));
                }
                return match list.to_packed(fill, true) {
                    Some(value) => Update::Bytes {
                        ty: ItemType::List,
                        value,
                        ttl: Ttl::Keep,
                        result: Ok(Some(r)),
                    },
                    None => Update::Changed(Ok(Some(r))),
                };
            }
            let bytes = c.bytes().unwrap_or_default();
            let mut list = List::from_packed(Packed(&bytes));
            let (r, changed) = f(&mut list, w);
            if !changed {
                return Update::Keep(Ok(Some(r)));
            }
            list_update(list, fill, Ok(Some(r)))
        });
        match r {
            Ok(Ok(r)) => {
                if !event.is_empty() {
                    self.list_events(event, key, effect);
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

    /// Publishes `event` for a changed list and `del` for an emptied one.
    fn list_events(&self, event: &str, key: &[u8], (changed, emptied): (bool, bool)) {
        if changed {
            self.notify(notify::LIST, event, key);
        }
        if emptied {
            self.notify(notify::GENERIC, "del", key);
        }
    }

    /// Pops up to `count` elements from `end` of the list at `key` and replies in `shape`.
    /// `Some(true)` when it popped, `Some(false)` when the key holds no list (nothing
    /// replied), None when it replied an error.
    pub(super) fn pop_list(
        &mut self,
        key: &[u8],
        end: End,
        count: usize,
        shape: PopReply,
    ) -> Option<bool> {
        let popped = self.write_list(key, false, end.pop_event(), |l, w| {
            if l.is_empty() {
                return (false, false);
            }
            let n = count.min(l.len());
            match shape {
                PopReply::Bulk => {}
                PopReply::Array => w.array(n),
                PopReply::KeyElement => {
                    w.array(2);
                    w.bulk(key);
                }
                PopReply::KeyArray => {
                    w.array(2);
                    w.bulk(key);
                    w.array(n);
                }
            }
            for _ in 0..n {
                match end {
                    End::Left => {
                        w.bulk(l.front().unwrap_or_default());
                        l.drop_front();
                    }
                    End::Right => {
                        w.bulk(l.back().unwrap_or_default());
                        l.drop_back();
                    }
                }
            }
            (true, true)
        })?;
        Some(popped == Some(true))
    }

    /// Pushes `values` to `end` of the list at `key` (creating it unless `only_existing`);
    /// the new length, or None after an error reply.
    pub(super) fn push_list<'v>(
        &mut self,
        key: &[u8],
        end: End,
        values: impl Iterator<Item = &'v [u8]>,
        only_existing: bool,
    ) -> Option<Option<usize>> {
        let fill = self.ctx.collections.list();
        let r = self.write_list(key, !only_existing, end.push_event(), |l, _| {
            for v in values {
                match end {
                    End::Left => l.push_front(v, fill),
                    End::Right => l.push_back(v, fill),
                }
            }
            (l.len(), true)
        })?;
        if r.is_some() {
            self.list_pushed(key);
        }
        Some(r)
    }

    /// Parses a non-negative count as Redis's `getPositiveLongFromObjectOrReply`, whose
    /// `message` answers both a non-integer and a negative number.
    pub(super) fn positive_count(&mut self, arg: &[u8], message: &[u8]) -> Option<usize> {
        match parse_i64(arg) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => {
                self.w.error(message);
                None
            }
        }
    }
}

fn push(call: &mut Call<'_>, args: Args<'_>, end: End, only_existing: bool) {
    if let Some(r) = call.push_list(args.get(1), end, args.iter_from(2), only_existing) {
        call.w.integer(r.unwrap_or(0) as i64);
    }
}

fn lpush(call: &mut Call<'_>, args: Args<'_>) {
    push(call, args, End::Left, false);
}

fn rpush(call: &mut Call<'_>, args: Args<'_>) {
    push(call, args, End::Right, false);
}

fn lpushx(call: &mut Call<'_>, args: Args<'_>) {
    push(call, args, End::Left, true);
}

fn rpushx(call: &mut Call<'_>, args: Args<'_>) {
    push(call, args, End::Right, true);
}

fn pop(call: &mut Call<'_>, args: Args<'_>, end: End) {
    if args.len() > 3 {
        let name = if end == End::Left { "lpop" } else { "rpop" };
        return call.wrong_arity(name);
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
        // Redis answers an empty array for an existing list, a null array for none.
        let exists = call.read_list(key, |l, _| l.is_some());
        match exists {
            Some(true) => call.w.array(0),
            Some(false) => call.w.null_array(),
            None => {}
        }
        return;
    }
    let shape = if count.is_some() {
        PopReply::Array
    } else {
        PopReply::Bulk
    };
    match call.pop_list(key, end, count.unwrap_or(1), shape) {
        Some(true) | None => {}
        Some(false) if count.is_some() => call.w.null_array(),
        Some(false) => call.w.null(),
    }
}

fn lpop(call: &mut Call<'_>, args: Args<'_>) {
    pop(call, args, End::Left);
}

fn rpop(call: &mut Call<'_>, args: Args<'_>) {
    pop(call, args, End::Right);
}

fn llen(call: &mut Call<'_>, args: Args<'_>) {
    call.read_list(args.get(1), |l, w| {
        w.integer(l.map_or(0, |l| l.len()) as i64)
    });
}

fn lrange(call: &mut Call<'_>, args: Args<'_>) {
    let Some(start) = call.integer(args.get(2)) else {
        return;
    };
    let Some(end) = call.integer(args.get(3)) else {
        return;
    };
    call.read_list(args.get(1), |l, w| {
        match l.and_then(|l| normalize(start, end, l.len()).map(|r| (l, r))) {
            Some((l, (s, e))) => reply_range(w, l, s, e, false),
            None => w.array(0),
        }
    });
}

fn lindex(call: &mut Call<'_>, args: Args<'_>) {
    let index = parse_i64(args.get(2));
    let r = call.read_list(args.get(1), |l, w| {
        let Some(l) = l else {
            w.null();
            return true;
        };
        let Some(index) = index else {
            return false;
        };
        let i = if index < 0 {
            index.checked_add(l.len() as i64)
        } else {
            Some(index)
        };
        match i.filter(|&i| i >= 0).and_then(|i| l.get(i as usize)) {
            Some(v) => w.bulk(v),
            None => w.null(),
        }
        true
    });
    if r == Some(false) {
        call.not_integer();
    }
}

fn lset(call: &mut Call<'_>, args: Args<'_>) {
    let fill = call.ctx.collections.list();
    let index = parse_i64(args.get(2));
    let value = args.get(3);
    let r = call.write_list(args.get(1), false, "lset", |l, _| {
        let Some(index) = index else {
            return (Err(false), false);
        };
        let i = if index < 0 {
            index + l.len() as i64
        } else {
            index
        };
        if i < 0 || i as usize >= l.len() {
            return (Err(true), false);
        }
        l.set(i as usize, value, fill);
        (Ok(()), true)
    });
    match r {
        None => {}
        Some(None) => call.w.error(b"ERR no such key"),
        Some(Some(Ok(()))) => call.w.ok(),
        Some(Some(Err(false))) => call.not_integer(),
        Some(Some(Err(true))) => call.w.error(b"ERR index out of range"),
    }
}

fn linsert(call: &mut Call<'_>, args: Args<'_>) {
    let after = match args.get(2) {
        w if w.eq_ignore_ascii_case(b"after") => true,
        w if w.eq_ignore_ascii_case(b"before") => false,
        _ => return call.syntax_error(),
    };
    let fill = call.ctx.collections.list();
    let (pivot, value) = (args.get(3), args.get(4));
    let r = call.write_list(args.get(1), false, "linsert", |l, _| {
        let Some(at) = l.iter().position(|v| v == pivot) else {
            return (-1, false);
        };
        l.insert(at + usize::from(after), value, fill);
        (l.len() as i64, true)
    });
    match r {
        None => {}
        Some(None) => call.w.integer(0),
        Some(Some(n)) => call.w.integer(n),
    }
}

fn lrem(call: &mut Call<'_>, args: Args<'_>) {
    let Some(count) = call.integer(args.get(2)) else {
        return;
    };
    let value = args.get(3);
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let r = call.write_list(args.get(1), false, "lrem", |l, _| {
        let n = l.remove_matching(|v| v == value, limit, count < 0);
        (n, n > 0)
    });
    if let Some(r) = r {
        call.w.integer(r.unwrap_or(0) as i64);
    }
}

fn ltrim(call: &mut Call<'_>, args: Args<'_>) {
    let Some(start) = call.integer(args.get(2)) else {
        return;
    };
    let Some(end) = call.integer(args.get(3)) else {
        return;
    };
    let r = call.write_list(args.get(1), false, "ltrim", |l, _| {
        let len = l.len();
        match normalize(start, end, len) {
            None => l.drop_front_n(len),
            Some((s, e)) => {
                l.drop_back_n(len - 1 - e);
                l.drop_front_n(s);
            }
        }
        (l.len() != len, l.len() != len)
    });
    if let Some(r) = r {
        // Redis publishes `ltrim` for every existing list, trimmed or not.
        if r == Some(false) {
            call.notify(notify::LIST, "ltrim", args.get(1));
        }
        call.w.ok();
    }
}

fn lpos(call: &mut Call<'_>, args: Args<'_>) {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < args.len() {
        let opt = args.get(i);
        let more = i + 1 < args.len();
        if opt.eq_ignore_ascii_case(b"rank") && more {
            let Some(r) = call.integer(args.get(i + 1)) else {
                return;
            };
            if r == 0 {
                return call.w.error(
                    b"ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                      second ... or use negative to start from the end of the list",
                );
            }
            rank = r;
        } else if opt.eq_ignore_ascii_case(b"count") && more {
            count = match call.positive_count(args.get(i + 1), b"ERR COUNT can't be negative") {
                Some(n) => Some(n),
                None => return,
            };
        } else if opt.eq_ignore_ascii_case(b"maxlen") && more {
            maxlen = match call.positive_count(args.get(i + 1), b"ERR MAXLEN can't be negative") {
                Some(n) => n,
                None => return,
            };
        } else {
            return call.syntax_error();
        }
        i += 2;
    }
    let element = args.get(2);
    call.read_list(args.get(1), |l, w| {
        let Some(l) = l else {
            match count {
                Some(_) => w.array(0),
                None => w.null(),
            }
            return;
        };
        let len = l.len();
        // Redis negates a negative rank in a C long: LONG_MIN stays negative, so it matches
        // from the first hit at the tail.
        let skip = if rank == i64::MIN {
            0
        } else {
            rank.unsigned_abs() - 1
        };
        let limit = if maxlen == 0 { len } else { maxlen.min(len) };
        let hits = |i: usize, v: &[u8]| (v == element).then_some(i);
        let mut found: Vec<usize> = Vec::new();
        let want = match count {
            Some(0) => usize::MAX,
            Some(n) => n,
            None => 1,
        };
        let mut matches: u64 = 0;
        let mut visit = |idx: usize, v: &[u8]| -> bool {
            if hits(idx, v).is_some() {
                matches += 1;
                if matches > skip {
                    found.push(idx);
                    return found.len() < want;
                }
            }
            true
        };
        if rank > 0 {
            for (k, v) in l.iter_from(0).take(limit).enumerate() {
                if !visit(k, v) {
                    break;
                }
            }
        } else if len > 0 {
            for (k, v) in l.iter_rev_from(len - 1).take(limit).enumerate() {
                if !visit(len - 1 - k, v) {
                    break;
                }
            }
        }
        match count {
            Some(_) => {
                w.array(found.len());
                found.iter().for_each(|&i| w.integer(i as i64));
            }
            None => match found.first() {
                Some(&i) => w.integer(i as i64),
                None => w.null(),
            },
        }
    });
}

/// LMOVE and RPOPLPUSH: pops from `src`'s `from` end, pushes to `dst`'s `to` end and
/// replies the element. Between two keys it runs as an exclusive section. Returns whether
/// an element moved (`Some(false)`: `src` holds no list, nothing replied; None after an
/// error reply).
pub(super) fn move_element(
    call: &mut Call<'_>,
    src: &[u8],
    dst: &[u8],
    from: End,
    to: End,
) -> Option<bool> {
    let fill = call.ctx.collections.list();
    if src == dst {
        let r = call.write_list(src, false, "", |l, w| {
            if l.is_empty() {
                return (false, false);
            }
            let v = match from {
                End::Left => l.front(),
                End::Right => l.back(),
            }
            .unwrap_or_default()
            .to_vec();
            match from {
                End::Left => l.drop_front(),
                End::Right => l.drop_back(),
            }
            match to {
                End::Left => l.push_front(&v, fill),
                End::Right => l.push_back(&v, fill),
            }
            w.bulk(&v);
            (true, true)
        })?;
        if r == Some(true) {
            call.notify(notify::LIST, to.push_event(), dst);
            call.notify(notify::LIST, from.pop_event(), src);
            call.list_pushed(dst);
        }
        return Some(r == Some(true));
    }
    let ctx = call.ctx;
    ctx.gates.exclusive(|_| {
        // Redis checks the source, then the destination's type, before moving anything.
        let has = call.read_list(src, |l, _| l.is_some_and(|l| !l.is_empty()))?;
        if !has {
            return Some(false);
        }
        call.read_list(dst, |_, _| ())?;
        let mut scratch = Vec::new();
        let emptied = call.write_list(src, false, "", |l, _| {
            match from {
                End::Left => {
                    scratch.extend_from_slice(l.front().unwrap_or_default());
                    l.drop_front();
                }
                End::Right => {
                    scratch.extend_from_slice(l.back().unwrap_or_default());
                    l.drop_back();
                }
            }
            (l.is_empty(), true)
        })?;
        call.write_list(dst, true, to.push_event(), |l, w| {
            match to {
                End::Left => l.push_front(&scratch, fill),
                End::Right => l.push_back(&scratch, fill),
            }
            w.bulk(&scratch);
            ((), true)
        })?;
        // Redis's order: the destination's push, then the source's pop (and `del`).
        call.list_events(from.pop_event(), src, (true, emptied == Some(true)));
        call.list_pushed(dst);
        Some(true)
    })
}

fn lmove(call: &mut Call<'_>, args: Args<'_>) {
    let (Some(from), Some(to)) = (End::parse(args.get(3)), End::parse(args.get(4))) else {
        return call.syntax_error();
    };
    if move_element(call, args.get(1), args.get(2), from, to) == Some(false) {
        call.w.null();
    }
}

fn rpoplpush(call: &mut Call<'_>, args: Args<'_>) {
    if move_element(call, args.get(1), args.get(2), End::Right, End::Left) == Some(false) {
        call.w.null();
    }
}

fn lmpop(call: &mut Call<'_>, args: Args<'_>) {
    let Some(mp) = parse_multi_pop(call, args, 1, ItemType::List) else {
        return;
    };
    if mp.try_pop(call) == Some(false) {
        call.w.null_array();
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn ranges_normalize_as_redis() {
        assert_eq!(normalize(0, -1, 3), Some((0, 2)));
        assert_eq!(normalize(-100, 100, 3), Some((0, 2)));
        assert_eq!(normalize(2, 1, 3), None);
        assert_eq!(normalize(3, 5, 3), None);
        assert_eq!(normalize(-1, -1, 3), Some((2, 2)));
        assert_eq!(normalize(0, -4, 3), None);
        assert_eq!(normalize(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(normalize(0, 0, 0), None);
    }
}
