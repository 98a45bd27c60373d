//! LCS: the longest common subsequence of two string values (LEN, IDX, MINMATCHLEN,
//! WITHMATCHLEN), with Redis 7.0's dynamic-programming table, so that among equally long
//! answers the same one is chosen, and its limit on the table's size.

use super::bitops::string_value;
use super::Call;
use crate::protocol::resp::Args;
use crate::storage::{Lookup, ReadOptions};

/// Redis's default `proto-max-bulk-len`, which also bounds LCS's transient table.
const TABLE_MAX_BYTES: u64 = 512 << 20;

/// One matching range, as IDX reports it: `(a_start, a_end, b_start, b_end)`, inclusive.
type Range = (u32, u32, u32, u32);

/// The LCS string (when wanted), its length, and the ranges (end of strings first).
fn lcs(a: &[u8], b: &[u8], want_string: bool, minmatch: u64) -> (Vec<u8>, u32, Vec<Range>) {
    let (alen, blen) = (a.len(), b.len());
    let w = blen + 1;
    let mut t = vec![0u32; (alen + 1) * w];
    for i in 1..=alen {
        for j in 1..=blen {
            t[i * w + j] = if a[i - 1] == b[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let len = t[alen * w + blen];
    let mut result = vec![0u8; if want_string { len as usize } else { 0 }];
    let mut ranges = Vec::new();
    if !want_string {
        return (result, len, ranges);
    }
    let (mut i, mut j, mut idx) = (alen, blen, len as usize);
    // `None`: no range open; else (a_start, a_end, b_start, b_end) being extended left.
    let mut open: Option<Range> = None;
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            let (ai, bj) = ((i - 1) as u32, (j - 1) as u32);
            match open.as_mut() {
                None => open = Some((ai, ai, bj, bj)),
                Some(r) if r.0 == ai + 1 && r.2 == bj + 1 => {
                    r.0 = ai;
                    r.2 = bj;
                }
                Some(_) => emit = true,
            }
            if open.is_some_and(|r| r.0 == 0 || r.2 == 0) {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[(i - 1) * w + j] > t[i * w + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
            if open.is_some() {
                emit = true;
            }
        }
        if emit {
            if let Some(r) = open.take() {
                let matched = u64::from(r.1 - r.0 + 1);
                if minmatch == 0 || matched >= minmatch {
                    ranges.push(r);
                }
            }
        }
    }
    (result, len, ranges)
}

pub(super) fn lcs_command(call: &mut Call<'_>, args: Args<'_>) {
    let opts = ReadOptions::default();
    let mut values = [Vec::new(), Vec::new()];
    for (slot, key) in values.iter_mut().zip([args.get(1), args.get(2)]) {
        match call.ctx.store.get(call.conn.db, key, &opts, string_value) {
            Lookup::Hit(Some(v)) => *slot = v,
            Lookup::Hit(None) => {
                return call
                    .w
                    .error(b"ERR The specified keys must contain string values")
            }
            _ => {}
        }
    }
    let (mut idx, mut len, mut withmatchlen, mut minmatch) = (false, false, false, 0u64);
    let mut j = 3;
    while j < args.len() {
        let opt = args.get(j);
        if opt.eq_ignore_ascii_case(b"idx") {
            idx = true;
        } else if opt.eq_ignore_ascii_case(b"len") {
            len = true;
        } else if opt.eq_ignore_ascii_case(b"withmatchlen") {
            withmatchlen = true;
        } else if opt.eq_ignore_ascii_case(b"minmatchlen") && j + 1 < args.len() {
            let Some(n) = call.integer(args.get(j + 1)) else {
                return;
            };
            minmatch = n.max(0) as u64;
            j += 1;
        } else {
            return call.syntax_error();
        }
        j += 1;
    }
    if len && idx {
        return call
            .w
            .error(b"ERR If you want both the length and indexes, please just use IDX.");
    }
    let [a, b] = &values;
    if a.len() as u64 >= u64::from(u32::MAX) - 1 || b.len() as u64 >= u64::from(u32::MAX) - 1 {
        return call.w.error(b"ERR String too long for LCS");
    }
    let table = (a.len() as u64 + 1) * (b.len() as u64 + 1) * 4;
    if table > TABLE_MAX_BYTES {
        return call.w.error(
            b"ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    let (string, total, ranges) = lcs(a, b, idx || !len, minmatch);
    if idx {
        call.w.map(2);
        call.w.bulk(b"matches");
        call.w.array(ranges.len());
        for (a0, a1, b0, b1) in ranges {
            call.w.array(2 + usize::from(withmatchlen));
            call.w.array(2);
            call.w.integer(i64::from(a0));
            call.w.integer(i64::from(a1));
            call.w.array(2);
            call.w.integer(i64::from(b0));
            call.w.integer(i64::from(b1));
            if withmatchlen {
                call.w.integer(i64::from(a1 - a0 + 1));
            }
        }
        call.w.bulk(b"len");
        call.w.integer(i64::from(total));
    } else if len {
        call.w.integer(i64::from(total));
    } else {
        call.w.bulk(&string);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_documentation_example() {
        let (s, n, ranges) = lcs(b"ohmytext", b"mynewtext", true, 0);
        assert_eq!((s.as_slice(), n), (&b"mytext"[..], 6));
        assert_eq!(ranges, vec![(4, 7, 5, 8), (2, 3, 0, 1)]);
        let (_, _, long) = lcs(b"ohmytext", b"mynewtext", true, 4);
        assert_eq!(long, vec![(4, 7, 5, 8)]);
        assert_eq!(lcs(b"", b"abc", true, 0).1, 0);
    }
}
