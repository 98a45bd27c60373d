//! Sorted-set algebra (Redis 7.0): ZUNION, ZINTER, ZDIFF, their STORE forms and
//! ZINTERCARD. Inputs may be sorted sets or plain sets (members of score 1), as in Redis.
//!
//! The whole command runs as an exclusive section: the inputs are copied out one key at a
//! time (each under its stripe lock), combined, and the result replied or stored, with no
//! other client's command in between.

use std::collections::HashMap;

use super::list::WrongType;
use super::registry::{spec, Spec};
use super::zset::reply_entries;
use super::Call;
use crate::collections::zset::{cmp_key, parse_score, Packed, ZSet};
use crate::protocol::resp::{parse_i64, Args};
use crate::storage::ItemType;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("zunion", -3, ["readonly", "movablekeys"], (0, 0, 0), "sorted_set", "6.2.0",
        "Add multiple sorted sets", zunion),
    spec!("zinter", -3, ["readonly", "movablekeys"], (0, 0, 0), "sorted_set", "6.2.0",
        "Intersect multiple sorted sets", zinter),
    spec!("zdiff", -3, ["readonly", "movablekeys"], (0, 0, 0), "sorted_set", "6.2.0",
        "Subtract multiple sorted sets", zdiff),
    spec!("zunionstore", -4, ["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted_set",
        "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key",
        zunionstore),
    spec!("zinterstore", -4, ["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted_set",
        "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key",
        zinterstore),
    spec!("zdiffstore", -4, ["write", "denyoom", "movablekeys"], (1, 1, 1), "sorted_set",
        "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key",
        zdiffstore),
    spec!("zintercard", -3, ["readonly", "movablekeys"], (0, 0, 0), "sorted_set", "7.0.0",
        "Intersect multiple sorted sets and return the cardinality of the result", zintercard),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    fn apply(self, acc: &mut f64, v: f64) {
        match self {
            Aggregate::Sum => {
                *acc += v;
                if acc.is_nan() {
                    *acc = 0.0;
                }
            }
            Aggregate::Min => *acc = acc.min(v),
            Aggregate::Max => *acc = acc.max(v),
        }
    }
}

/// One input, copied out of the store: its entries and its weight.
struct Input {
    entries: Vec<(Vec<u8>, f64)>,
    weight: f64,
}

impl Input {
    fn lookup(&self) -> HashMap<&[u8], f64> {
        self.entries.iter().map(|(m, s)| (&m[..], *s)).collect()
    }
}

/// What the command does with the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    Reply,
    Store,
    Cardinality,
}

impl Call<'_> {
    /// The members and scores at `key` as an algebra input: a sorted set, or a plain set
    /// (score 1 each); empty when absent. Replies WRONGTYPE for any other type.
    fn algebra_input(&mut self, key: &[u8]) -> Option<Vec<(Vec<u8>, f64)>> {
        let r = self.ctx.store.inspect(self.conn.db, key, |cur| match cur {
            None => Ok(Vec::new()),
            Some(c) if c.item_type() == ItemType::ZSet => {
                let copy = |z: crate::collections::zset::ZRef<'_>| {
                    z.iter_from(0)
                        .map(|(s, m)| (m.to_vec(), s))
                        .collect::<Vec<_>>()
                };
                Ok(match c.downcast_ref::<ZSet>() {
                    Some(z) => copy(z.as_ref()),
                    None => {
                        let bytes = c.bytes().unwrap_or_default();
                        copy(crate::collections::zset::ZRef::Packed(Packed(&bytes)))
                    }
                })
            }
            Some(c) if c.item_type() == ItemType::Set => {
                super::typed::set_of(c, |s| s.iter().map(|m| (m.to_vec(), 1.0)).collect())
                    .ok_or(WrongType)
            }
            Some(_) => Err(WrongType),
        });
        r.map_err(|WrongType| self.wrong_type()).ok()
    }
}

fn generic(call: &mut Call<'_>, args: Args<'_>, op: Op, output: Output) {
    let name = args.get(0).to_ascii_lowercase();
    let numkeys_at = if output == Output::Store { 2 } else { 1 };
    let Some(setnum) = call.integer(args.get(numkeys_at)) else {
        return;
    };
    if setnum < 1 {
        return call.w.error_fmt(format_args!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(&name)
        ));
    }
    if setnum > (args.len() - numkeys_at - 1) as i64 {
        return call.syntax_error();
    }
    let setnum = setnum as usize;
    let first = numkeys_at + 1;
    let ctx = call.ctx;
    ctx.gates.exclusive(|_| {
        let mut inputs = Vec::with_capacity(setnum);
        for k in 0..setnum {
            let Some(entries) = call.algebra_input(args.get(first + k)) else {
                return;
            };
            inputs.push(Input {
                entries,
                weight: 1.0,
            });
        }
        let mut aggregate = Aggregate::Sum;
        let mut withscores = false;
        let mut limit: usize = 0;
        let mut j = first + setnum;
        while j < args.len() {
            let a = args.get(j);
            let remaining = args.len() - j;
            if op != Op::Diff
                && output != Output::Cardinality
                && remaining > setnum
                && a.eq_ignore_ascii_case(b"weights")
            {
                for (k, input) in inputs.iter_mut().enumerate() {
                    match parse_score(args.get(j + 1 + k)) {
                        Some(w) => input.weight = w,
                        None => return call.w.error(b"ERR weight value is not a float"),
                    }
                }
                j += 1 + setnum;
            } else if op != Op::Diff
                && output != Output::Cardinality
                && remaining >= 2
                && a.eq_ignore_ascii_case(b"aggregate")
            {
                aggregate = match args.get(j + 1) {
                    x if x.eq_ignore_ascii_case(b"sum") => Aggregate::Sum,
                    x if x.eq_ignore_ascii_case(b"min") => Aggregate::Min,
                    x if x.eq_ignore_ascii_case(b"max") => Aggregate::Max,
                    _ => return call.syntax_error(),
                };
                j += 2;
            } else if output == Output::Reply && a.eq_ignore_ascii_case(b"withscores") {
                withscores = true;
                j += 1;
            } else if output == Output::Cardinality
                && remaining >= 2
                && a.eq_ignore_ascii_case(b"limit")
            {
                match parse_i64(args.get(j + 1)) {
                    Some(n) if n >= 0 => limit = n as usize,
                    _ => return call.w.error(b"ERR LIMIT can't be negative"),
                }
                j += 2;
            } else {
                return call.syntax_error();
            }
        }
        let result = combine(inputs, op, aggregate, output, limit);
        match output {
            Output::Cardinality => call.w.integer(result.len() as i64),
            Output::Store => {
                let entries = result.into_iter().map(|(m, s)| (s, m)).collect();
                let event = match op {
                    Op::Union => "zunionstore",
                    Op::Inter => "zinterstore",
                    Op::Diff => "zdiffstore",
                };
                call.store_zset(args.get(1), entries, false, event);
            }
            Output::Reply => {
                let n = result.len();
                let it = result.iter().map(|(m, s)| (*s, &m[..]));
                reply_entries(&mut call.w, n, it, withscores);
            }
        }
    });
}

/// The combined entries in sorted-set order (for ZINTERCARD, only as many as `limit`
/// asks, in no order).
fn combine(
    mut inputs: Vec<Input>,
    op: Op,
    aggregate: Aggregate,
    output: Output,
    limit: usize,
) -> Vec<(Vec<u8>, f64)> {
    let mut result: Vec<(Vec<u8>, f64)> = match op {
        Op::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for input in inputs {
                for (m, s) in input.entries {
                    let mut v = input.weight * s;
                    if v.is_nan() {
                        v = 0.0;
                    }
                    match acc.get_mut(&m) {
                        Some(cur) => aggregate.apply(cur, v),
                        None => {
                            acc.insert(m, v);
                        }
                    }
                }
            }
            acc.into_iter().collect()
        }
        Op::Inter => {
            inputs.sort_by_key(|i| i.entries.len());
            let lookups: Vec<_> = inputs[1..].iter().map(Input::lookup).collect();
            let mut out = Vec::new();
            'member: for (m, s) in &inputs[0].entries {
                let mut score = inputs[0].weight * s;
                if score.is_nan() {
                    score = 0.0;
                }
                for (k, table) in lookups.iter().enumerate() {
                    match table.get(&m[..]) {
                        Some(v) => aggregate.apply(&mut score, v * inputs[k + 1].weight),
                        None => continue 'member,
                    }
                }
                out.push((m.clone(), score));
                if output == Output::Cardinality && limit > 0 && out.len() >= limit {
                    break;
                }
            }
            out
        }
        Op::Diff => {
            let lookups: Vec<_> = inputs[1..].iter().map(Input::lookup).collect();
            inputs[0]
                .entries
                .iter()
                .filter(|(m, _)| lookups.iter().all(|t| !t.contains_key(&m[..])))
                .cloned()
                .collect()
        }
    };
    if output != Output::Cardinality {
        result.sort_by(|a, b| cmp_key((a.1, &a.0), (b.1, &b.0)));
    }
    result
}

fn zunion(call: &mut Call<'_>, args: Args<'_>) {
    generic(call, args, Op::Union, Output::Reply);
}

fn zinter(call: &mut Call<'_>, args: Args<'_>) {
    generic(call, args, Op::Inter, Output::Reply);
}

fn zdiff(call: &mut Call<'_>, args: Args<'_>) {
    generic(call, args, Op::Diff, Output::Reply);
}

fn zunionstore(call: &mut Call<'_>, args: Args<'_>) {
    generic(call, args, Op::Union, Output::Store);
}

fn zinterstore(call: &mut Call<'_>, args: Args<'_>) {
    generic(call, args, Op::Inter, Output::Store);
}

fn zdiffstore(call: &mut Call<'_>, args: Args<'_>) {
    generic(call, args, Op::Diff, Output::Store);
}

fn zintercard(call: &mut Call<'_>, args: Args<'_>) {
    generic(call, args, Op::Inter, Output::Cardinality);
}
