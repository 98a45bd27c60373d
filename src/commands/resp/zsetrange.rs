//! Sorted-set ranges (Redis 7.0): ZRANGE with BYSCORE/BYLEX/REV/LIMIT and its older
//! forms (ZREVRANGE, ZRANGEBYSCORE, ZREVRANGEBYSCORE, ZRANGEBYLEX, ZREVRANGEBYLEX),
//! ZRANGESTORE and ZREMRANGEBYRANK/SCORE/LEX. Registered in [`super::zset`]'s table.

use super::zset::{reply_entries, BAD_LEX_RANGE, BAD_SCORE_RANGE};
use super::Call;
use crate::collections::zset::{LexBound, ScoreBound, ZRef};
use crate::protocol::resp::{Args, Writer};

/// What ZRANGE and its older forms select.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum By {
    Auto,
    Rank,
    Score,
    Lex,
}

/// A parsed range request.
struct RangeRequest<'a> {
    by: By,
    rev: bool,
    withscores: bool,
    offset: i64,
    limit: i64,
    min: &'a [u8],
    max: &'a [u8],
}

/// Parses `<min> <max> [BYSCORE|BYLEX] [REV] [WITHSCORES] [LIMIT offset count]` from
/// argument `at` (the source key) as `zrangeGenericCommand` does; replies its errors.
fn parse_range<'a>(
    call: &mut Call<'_>,
    args: Args<'a>,
    at: usize,
    store: bool,
    mut by: By,
    rev: Option<bool>,
) -> Option<RangeRequest<'a>> {
    let mut req = RangeRequest {
        by,
        rev: rev.unwrap_or(false),
        withscores: false,
        offset: 0,
        limit: -1,
        min: args.get(at + 1),
        max: args.get(at + 2),
    };
    let mut j = at + 3;
    while j < args.len() {
        let a = args.get(j);
        let left = args.len() - j - 1;
        if !store && a.eq_ignore_ascii_case(b"withscores") {
            req.withscores = true;
        } else if a.eq_ignore_ascii_case(b"limit") && left >= 2 {
            req.offset = call.integer(args.get(j + 1))?;
            req.limit = call.integer(args.get(j + 2))?;
            j += 2;
        } else if rev.is_none() && a.eq_ignore_ascii_case(b"rev") {
            req.rev = true;
        } else if by == By::Auto && a.eq_ignore_ascii_case(b"bylex") {
            by = By::Lex;
        } else if by == By::Auto && a.eq_ignore_ascii_case(b"byscore") {
            by = By::Score;
        } else {
            call.syntax_error();
            return None;
        }
        j += 1;
    }
    if by == By::Auto {
        by = By::Rank;
    }
    req.by = by;
    if req.limit != -1 && by == By::Rank {
        call.w.error(
            b"ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        return None;
    }
    if req.withscores && by == By::Lex {
        call.w
            .error(b"ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return None;
    }
    if req.rev && by != By::Rank {
        std::mem::swap(&mut req.min, &mut req.max);
    }
    Some(req)
}

/// The parsed bounds of a range request.
enum Bounds<'a> {
    Rank(i64, i64),
    Score(ScoreBound, ScoreBound),
    Lex(LexBound<'a>, LexBound<'a>),
}

impl<'a> RangeRequest<'a> {
    /// Parses the bounds, replying Redis's error when they are not valid.
    fn bounds(&self, call: &mut Call<'_>) -> Option<Bounds<'a>> {
        match self.by {
            By::Score => match (ScoreBound::parse(self.min), ScoreBound::parse(self.max)) {
                (Some(a), Some(b)) => Some(Bounds::Score(a, b)),
                _ => {
                    call.w.error(BAD_SCORE_RANGE);
                    None
                }
            },
            By::Lex => match (LexBound::parse(self.min), LexBound::parse(self.max)) {
                (Some(a), Some(b)) => Some(Bounds::Lex(a, b)),
                _ => {
                    call.w.error(BAD_LEX_RANGE);
                    None
                }
            },
            _ => {
                let a = call.integer(self.min)?;
                let b = call.integer(self.max)?;
                Some(Bounds::Rank(a, b))
            }
        }
    }

    /// The selected ranks, in reply order: `(first rank, count, descending)`.
    fn select(&self, bounds: &Bounds<'_>, z: ZRef<'_>) -> (usize, usize, bool) {
        let len = z.len();
        let (a, b) = match bounds {
            Bounds::Rank(s, e) => {
                let Some((s, e)) = normalize_ranks(*s, *e, len) else {
                    return (0, 0, false);
                };
                return if self.rev {
                    (len - 1 - s, e - s + 1, true)
                } else {
                    (s, e - s + 1, false)
                };
            }
            Bounds::Score(min, max) => z.score_range(min, max),
            Bounds::Lex(min, max) => z.lex_range(min, max),
        };
        if self.offset < 0 || a >= b {
            return (0, 0, false);
        }
        let avail = (b - a).saturating_sub(self.offset as usize);
        let n = if self.limit < 0 {
            avail
        } else {
            avail.min(self.limit as usize)
        };
        if n == 0 {
            return (0, 0, false);
        }
        if self.rev {
            (b - 1 - self.offset as usize, n, true)
        } else {
            (a + self.offset as usize, n, false)
        }
    }
}

/// Redis's rank normalization (as LRANGE's): the inclusive range, or None when empty.
pub(super) fn normalize_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
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

/// Writes the selected entries of `z`.
fn reply_selected(w: &mut Writer<'_>, z: ZRef<'_>, sel: (usize, usize, bool), withscores: bool) {
    let (first, n, desc) = sel;
    if n == 0 {
        return w.array(0);
    }
    if desc {
        reply_entries(w, n, z.iter_rev_from(first), withscores);
    } else {
        reply_entries(w, n, z.iter_from(first), withscores);
    }
}

fn range_generic(call: &mut Call<'_>, args: Args<'_>, by: By, rev: Option<bool>) {
    let Some(req) = parse_range(call, args, 1, false, by, rev) else {
        return;
    };
    let Some(bounds) = req.bounds(call) else {
        return;
    };
    call.read_zset(args.get(1), |z, w| match z {
        None => w.array(0),
        Some(z) => reply_selected(w, z, req.select(&bounds, z), req.withscores),
    });
}

pub(super) fn zrange(call: &mut Call<'_>, args: Args<'_>) {
    range_generic(call, args, By::Auto, None);
}

pub(super) fn zrevrange(call: &mut Call<'_>, args: Args<'_>) {
    range_generic(call, args, By::Rank, Some(true));
}

pub(super) fn zrangebyscore(call: &mut Call<'_>, args: Args<'_>) {
    range_generic(call, args, By::Score, Some(false));
}

pub(super) fn zrevrangebyscore(call: &mut Call<'_>, args: Args<'_>) {
    range_generic(call, args, By::Score, Some(true));
}

pub(super) fn zrangebylex(call: &mut Call<'_>, args: Args<'_>) {
    range_generic(call, args, By::Lex, Some(false));
}

pub(super) fn zrevrangebylex(call: &mut Call<'_>, args: Args<'_>) {
    range_generic(call, args, By::Lex, Some(true));
}

pub(super) fn zrangestore(call: &mut Call<'_>, args: Args<'_>) {
    let Some(req) = parse_range(call, args, 2, true, By::Auto, None) else {
        return;
    };
    let Some(bounds) = req.bounds(call) else {
        return;
    };
    let limits = call.zset_limits();
    let (dst, src) = (args.get(1), args.get(2));
    let ctx = call.ctx;
    ctx.gates.exclusive(|_| {
        // Read the selection out of the source, then replace the destination with it.
        let picked = call.read_zset(src, |z, _| {
            let Some(z) = z else {
                return (Vec::new(), false);
            };
            let sel = req.select(&bounds, z);
            let (first, n, desc) = sel;
            let mut out: Vec<(f64, Vec<u8>)> = Vec::with_capacity(n.min(1 << 16));
            let rank_len = matches!(bounds, Bounds::Rank(..)).then_some(n);
            if desc {
                out.extend(z.iter_rev_from(first).take(n).map(|(s, m)| (s, m.to_vec())));
            } else {
                out.extend(z.iter_from(first).take(n).map(|(s, m)| (s, m.to_vec())));
            }
            (out, rank_len.is_some_and(|n| n > limits.max_entries))
        });
        let Some((entries, big)) = picked else {
            return;
        };
        call.store_zset(dst, entries, big, "zrangestore");
    });
}

fn remrange_generic(call: &mut Call<'_>, args: Args<'_>, by: By) {
    let req = RangeRequest {
        by,
        rev: false,
        withscores: false,
        offset: 0,
        limit: -1,
        min: args.get(2),
        max: args.get(3),
    };
    let Some(bounds) = req.bounds(call) else {
        return;
    };
    let event = match by {
        By::Rank | By::Auto => "zremrangebyrank",
        By::Score => "zremrangebyscore",
        By::Lex => "zremrangebylex",
    };
    let r = call.write_zset(args.get(1), None, event, |z, _| {
        let (first, n, _) = req.select(&bounds, z.as_ref());
        if n > 0 {
            z.remove_ranks(first, first + n);
        }
        (n as i64, n > 0)
    });
    if let Some(r) = r {
        call.w.integer(r.unwrap_or(0));
    }
}

pub(super) fn zremrangebyrank(call: &mut Call<'_>, args: Args<'_>) {
    remrange_generic(call, args, By::Rank);
}

pub(super) fn zremrangebyscore(call: &mut Call<'_>, args: Args<'_>) {
    remrange_generic(call, args, By::Score);
}

pub(super) fn zremrangebylex(call: &mut Call<'_>, args: Args<'_>) {
    remrange_generic(call, args, By::Lex);
}
