//! Blocking pops (Redis 7.0): BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX
//! BZMPOP, built on the hub's one waiting mechanism ([`crate::hub`]); and the argument
//! parsing LMPOP and ZMPOP share with their blocking forms ([`parse_multi_pop`]).
//!
//! Each handler first tries the non-blocking form. When nothing is there and the client
//! may block (not inside MULTI/EXEC or a script), it calls [`Call::block`] on its keys and
//! replies nothing: the request stays in the connection's input. A write to one of the
//! keys (any push, ZADD, LMOVE into it, on any worker and from either protocol, EXEC and
//! scripts included) signals the key; the first waiter on it re-runs the same request,
//! which now pops, or blocks again keeping its place in line and its deadline. So waiters
//! are served in the order they blocked, one re-run at a time. At the deadline the hub
//! replies the command's timeout reply; CLIENT UNBLOCK ends the wait early.

use std::time::Duration;

use super::list::{move_element, End, PopReply};
use super::registry::{spec, Spec};
use super::zset::ZPopReply;
use super::Call;
use crate::hub::OnTimeout;
use crate::protocol::resp::{parse_i64, Args};
use crate::storage::ItemType;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("blpop", -3, ["write", "noscript", "blocking"], (1, -2, 1), "list", "2.0.0",
        "Remove and get the first element in a list, or block until one is available", blpop),
    spec!("brpop", -3, ["write", "noscript", "blocking"], (1, -2, 1), "list", "2.0.0",
        "Remove and get the last element in a list, or block until one is available", brpop),
    spec!("blmove", 6, ["write", "denyoom", "noscript", "blocking"], (1, 2, 1), "list", "6.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        blmove),
    spec!("brpoplpush", 4, ["write", "denyoom", "noscript", "blocking"], (1, 2, 1), "list",
        "2.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available",
        brpoplpush),
    spec!("blmpop", -5, ["write", "blocking", "movablekeys"], (0, 0, 0), "list", "7.0.0",
        "Pop elements from a list, or block until one is available", blmpop),
    spec!("bzpopmin", -3, ["write", "noscript", "blocking", "fast"], (1, -2, 1), "sorted_set",
        "5.0.0",
        "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available",
        bzpopmin),
    spec!("bzpopmax", -3, ["write", "noscript", "blocking", "fast"], (1, -2, 1), "sorted_set",
        "5.0.0",
        "Remove and return the member with the highest score from one or more sorted sets, or block until one is available",
        bzpopmax),
    spec!("bzmpop", -5, ["write", "blocking", "movablekeys"], (0, 0, 0), "sorted_set", "7.0.0",
        "Remove and return members with scores in a sorted set or block until one is available",
        bzmpop),
];

/// A parsed blocking timeout: `None` waits forever (0), else how long.
type Timeout = Option<Duration>;

/// Parses a timeout in seconds as Redis's `getTimeoutFromObjectOrReply` does (a float,
/// rounded up to whole milliseconds; negative is an error; 0 blocks forever).
pub(super) fn parse_timeout(arg: &[u8]) -> Result<Timeout, &'static [u8]> {
    let bad: &[u8] = b"ERR timeout is not a float or out of range";
    let text = std::str::from_utf8(arg).map_err(|_| bad)?;
    if text.is_empty() || text.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(bad);
    }
    let secs: f64 = text.parse().map_err(|_| bad)?;
    if secs.is_nan() {
        return Err(bad);
    }
    let ms = (secs * 1000.0).ceil();
    // C's conversion of an out-of-range double to long long yields LLONG_MIN on x86-64.
    if !(0.0..9.2e18).contains(&ms) {
        return Err(b"ERR timeout is negative");
    }
    let ms = ms as u64;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

impl Call<'_> {
    /// Wakes the first client blocked on list `key`, if any (after a push).
    pub(super) fn list_pushed(&self, key: &[u8]) {
        self.ctx.hub.signal_key(self.conn.db, key);
    }

    /// Wakes the first client blocked on sorted set `key`, if any (after a ZADD).
    pub(super) fn zset_added(&self, key: &[u8]) {
        self.ctx.hub.signal_key(self.conn.db, key);
    }

    /// Parses the timeout at `arg`, replying Redis's error when it is not one.
    fn timeout_arg(&mut self, arg: &[u8]) -> Option<Timeout> {
        match parse_timeout(arg) {
            Ok(t) => Some(t),
            Err(e) => {
                self.w.error(e);
                None
            }
        }
    }

    /// Whether `key` should be passed over by a woken waiter: it now holds another type.
    /// Redis answers WRONGTYPE only when the command first runs; a waiter woken for a key
    /// that was pushed to and then replaced (MULTI: LPUSH, DEL, SET) keeps waiting.
    pub(super) fn passed_over(&self, key: &[u8], ty: ItemType) -> bool {
        self.wait.is_some()
            && self.ctx.store.inspect(self.conn.db, key, |c| {
                c.is_some_and(|c| c.item_type() != ty)
            })
    }

    /// Nothing to pop: block on `keys`, or (inside MULTI/EXEC or a script) answer as if
    /// the timeout had passed.
    fn block_or_timeout<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        timeout: Timeout,
        on_timeout: OnTimeout,
    ) {
        if self.may_block() {
            self.block(keys, timeout, on_timeout);
        } else {
            on_timeout.write(self.w.resp3, self.w.out);
        }
    }
}

fn bpop(call: &mut Call<'_>, args: Args<'_>, end: End) {
    let Some(timeout) = call.timeout_arg(args.get(args.len() - 1)) else {
        return;
    };
    let keys = 1..args.len() - 1;
    for k in keys.clone() {
        if call.passed_over(args.get(k), ItemType::List) {
            continue;
        }
        match call.pop_list(args.get(k), end, 1, PopReply::KeyElement) {
            None | Some(true) => return,
            Some(false) => {}
        }
    }
    call.block_or_timeout(keys.map(|k| args.get(k)), timeout, OnTimeout::NullArray);
}

fn blpop(call: &mut Call<'_>, args: Args<'_>) {
    bpop(call, args, End::Left);
}

fn brpop(call: &mut Call<'_>, args: Args<'_>) {
    bpop(call, args, End::Right);
}

fn bmove(call: &mut Call<'_>, args: Args<'_>, from: End, to: End, timeout: Timeout) {
    let (src, dst) = (args.get(1), args.get(2));
    let has = if call.passed_over(src, ItemType::List) {
        Some(false)
    } else {
        call.read_list(src, |l, _| l.is_some_and(|l| !l.is_empty()))
    };
    let moved = match has {
        None => return,
        Some(true) => move_element(call, src, dst, from, to),
        Some(false) => Some(false),
    };
    // The source emptied between the look and the move (another client took the
    // element): wait as if it had been empty.
    if moved == Some(false) {
        call.block_or_timeout([src], timeout, OnTimeout::NullBulk);
    }
}

fn blmove(call: &mut Call<'_>, args: Args<'_>) {
    let (Some(from), Some(to)) = (End::parse(args.get(3)), End::parse(args.get(4))) else {
        return call.syntax_error();
    };
    let Some(timeout) = call.timeout_arg(args.get(5)) else {
        return;
    };
    bmove(call, args, from, to, timeout);
}

fn brpoplpush(call: &mut Call<'_>, args: Args<'_>) {
    let Some(timeout) = call.timeout_arg(args.get(3)) else {
        return;
    };
    bmove(call, args, End::Right, End::Left, timeout);
}

/// `numkeys key... LEFT|RIGHT|MIN|MAX [COUNT n]` parsed: LMPOP, ZMPOP and their blocking
/// forms.
pub(super) struct MultiPop<'a> {
    args: Args<'a>,
    /// Where the keys start (LMPOP 2, BLMPOP 3) and how many there are.
    first_key: usize,
    numkeys: usize,
    from: PopFrom,
    count: usize,
}

/// The end a multi-key pop takes from.
#[derive(Clone, Copy)]
enum PopFrom {
    List(End),
    /// Sorted sets: the highest scores (`MAX`) or the lowest.
    ZSet {
        max: bool,
    },
}

/// Parses LMPOP/BLMPOP (`ty` List) or ZMPOP/BZMPOP (ZSet) arguments from `numkeys` at
/// argument `at` (1, or 2 after a blocking timeout) as Redis does, replying its errors.
pub(super) fn parse_multi_pop<'a>(
    call: &mut Call<'_>,
    args: Args<'a>,
    at: usize,
    ty: ItemType,
) -> Option<MultiPop<'a>> {
    let numkeys = match parse_i64(args.get(at)) {
        Some(n) if n >= 1 => n as u64,
        _ => {
            call.w.error(b"ERR numkeys should be greater than 0");
            return None;
        }
    };
    let where_at = (at as u64 + 1).saturating_add(numkeys);
    if where_at >= args.len() as u64 {
        call.syntax_error();
        return None;
    }
    let where_at = where_at as usize;
    let word = args.get(where_at);
    let from = match ty {
        ItemType::List => End::parse(word).map(PopFrom::List),
        _ if word.eq_ignore_ascii_case(b"min") => Some(PopFrom::ZSet { max: false }),
        _ if word.eq_ignore_ascii_case(b"max") => Some(PopFrom::ZSet { max: true }),
        _ => None,
    };
    let Some(from) = from else {
        call.syntax_error();
        return None;
    };
    let mut count: Option<usize> = None;
    let mut i = where_at + 1;
    while i < args.len() {
        if count.is_none() && args.get(i).eq_ignore_ascii_case(b"count") && i + 1 < args.len() {
            match parse_i64(args.get(i + 1)) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => {
                    call.w.error(b"ERR count should be greater than 0");
                    return None;
                }
            }
            i += 2;
        } else {
            call.syntax_error();
            return None;
        }
    }
    Some(MultiPop {
        args,
        first_key: at + 1,
        numkeys: numkeys as usize,
        from,
        count: count.unwrap_or(1),
    })
}

impl<'a> MultiPop<'a> {
    fn keys(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.numkeys).map(|k| self.args.get(self.first_key + k))
    }

    /// Pops from the first key holding a list (sorted set), replying `[key, [elements]]`;
    /// false (and nothing replied) when none does; None after an error reply.
    pub(super) fn try_pop(&self, call: &mut Call<'_>) -> Option<bool> {
        for key in self.keys() {
            let popped = match self.from {
                PopFrom::List(_) if call.passed_over(key, ItemType::List) => continue,
                PopFrom::ZSet { .. } if call.passed_over(key, ItemType::ZSet) => continue,
                PopFrom::List(end) => call.pop_list(key, end, self.count, PopReply::KeyArray)?,
                PopFrom::ZSet { max } => {
                    call.pop_zset(key, max, self.count, ZPopReply::KeyPairs)?
                }
            };
            if popped {
                return Some(true);
            }
        }
        Some(false)
    }
}

/// BLMPOP and BZMPOP: `timeout numkeys key... where [COUNT n]`.
fn bmpop(call: &mut Call<'_>, args: Args<'_>, ty: ItemType) {
    let Some(mp) = parse_multi_pop(call, args, 2, ty) else {
        return;
    };
    let Some(timeout) = call.timeout_arg(args.get(1)) else {
        return;
    };
    if mp.try_pop(call) == Some(false) {
        call.block_or_timeout(mp.keys(), timeout, OnTimeout::NullArray);
    }
}

fn blmpop(call: &mut Call<'_>, args: Args<'_>) {
    bmpop(call, args, ItemType::List);
}

fn bzpop(call: &mut Call<'_>, args: Args<'_>, max: bool) {
    let Some(timeout) = call.timeout_arg(args.get(args.len() - 1)) else {
        return;
    };
    let keys = 1..args.len() - 1;
    for k in keys.clone() {
        if call.passed_over(args.get(k), ItemType::ZSet) {
            continue;
        }
        match call.pop_zset(args.get(k), max, 1, ZPopReply::KeyFlat) {
            None | Some(true) => return,
            Some(false) => {}
        }
    }
    call.block_or_timeout(keys.map(|k| args.get(k)), timeout, OnTimeout::NullArray);
}

fn bzpopmin(call: &mut Call<'_>, args: Args<'_>) {
    bzpop(call, args, false);
}

fn bzpopmax(call: &mut Call<'_>, args: Args<'_>) {
    bzpop(call, args, true);
}

fn bzmpop(call: &mut Call<'_>, args: Args<'_>) {
    bmpop(call, args, ItemType::ZSet);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis() {
        assert_eq!(parse_timeout(b"0"), Ok(None));
        assert_eq!(parse_timeout(b"0.001"), Ok(Some(Duration::from_millis(1))));
        assert_eq!(parse_timeout(b"0.0001"), Ok(Some(Duration::from_millis(1))));
        assert_eq!(parse_timeout(b"1.5"), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(parse_timeout(b"-0.0001"), Ok(None));
        assert_eq!(parse_timeout(b"-1"), Err(&b"ERR timeout is negative"[..]));
        assert_eq!(
            parse_timeout(b"abc"),
            Err(&b"ERR timeout is not a float or out of range"[..])
        );
        assert_eq!(
            parse_timeout(b" 1"),
            Err(&b"ERR timeout is not a float or out of range"[..])
        );
    }
}
