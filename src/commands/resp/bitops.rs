//! Bit commands on string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, with Redis
//! 7.0's argument rules and replies. Bit 0 is the most significant bit of byte 0.

use super::registry::{spec, Spec};
use super::Call;
use crate::protocol::resp::{parse_i64, Args};
use crate::storage::{Expiry, ItemType, ItemView, Lookup, ReadOptions, Rewrite};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("setbit", 4, ["write", "denyoom"], (1, 1, 1), "bitmap", "2.2.0",
        "Sets or clears the bit at offset in the string value stored at key", setbit),
    spec!("getbit", 3, ["readonly", "fast"], (1, 1, 1), "bitmap", "2.2.0",
        "Returns the bit value at offset in the string value stored at key", getbit),
    spec!("bitcount", -2, ["readonly"], (1, 1, 1), "bitmap", "2.6.0",
        "Count set bits in a string", bitcount),
    spec!("bitpos", -3, ["readonly"], (1, 1, 1), "bitmap", "2.8.7",
        "Find first bit set or clear in a string", bitpos),
    spec!("bitop", -4, ["write", "denyoom"], (2, -1, 1), "bitmap", "2.6.0",
        "Perform bitwise operations between strings", bitop),
    spec!("bitfield", -2, ["write", "denyoom"], (1, 1, 1), "bitmap", "3.2.0",
        "Perform arbitrary bitfield integer operations on strings", super::bitfield::bitfield),
    spec!("bitfield_ro", -2, ["readonly", "fast"], (1, 1, 1), "bitmap", "6.0.0",
        "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
        super::bitfield::bitfield_ro),
    spec!("lcs", -3, ["readonly"], (1, 2, 1), "string", "7.0.0",
        "Find longest common substring", super::lcs::lcs_command),
    spec!("substr", 4, ["readonly"], (1, 1, 1), "string", "1.0.0",
        "Get a substring of the string stored at a key", super::strings::getrange),
];

pub(super) const WRONG_TYPE: &[u8] =
    b"WRONGTYPE Operation against a key holding the wrong kind of value";
const BIT_OFFSET: &[u8] = b"ERR bit offset is not an integer or out of range";
/// Redis's default `proto-max-bulk-len`: bit offsets address at most this many bytes.
const PROTO_MAX_BULK_LEN: u64 = 512 << 20;

/// An item's string value, or `None` when it holds another type.
pub(super) fn string_value(item: &dyn ItemView) -> Option<Vec<u8>> {
    if item.item_type() != ItemType::String {
        return None;
    }
    let mut v = Vec::with_capacity(item.value_len());
    item.copy_value_to(&mut v);
    Some(v)
}

/// The string at `key`: `Ok(None)` when absent; `Err` (WRONGTYPE written) for another type.
pub(super) fn read_string(call: &mut Call<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, ()> {
    let opts = ReadOptions::default();
    match call.ctx.store.get(call.conn.db, key, &opts, string_value) {
        Lookup::Hit(Some(v)) => Ok(Some(v)),
        Lookup::Hit(None) => {
            call.w.error(WRONG_TYPE);
            Err(())
        }
        _ => Ok(None),
    }
}

/// A bit offset as Redis parses it: `#n` means `n × bits` when `bits` is given (BITFIELD);
/// below 2^32, `proto-max-bulk-len` in bits.
pub(super) fn bit_offset(call: &mut Call<'_>, arg: &[u8], bits: Option<u32>) -> Option<u64> {
    let (hash, digits) = match (arg.first(), bits) {
        (Some(b'#'), Some(_)) => (true, &arg[1..]),
        _ => (false, arg),
    };
    let n = parse_i64(digits)
        .and_then(|n| {
            if hash {
                n.checked_mul(i64::from(bits.unwrap_or(1)))
            } else {
                Some(n)
            }
        })
        .filter(|&n| n >= 0 && ((n as u64) >> 3) < PROTO_MAX_BULK_LEN);
    if n.is_none() {
        call.w.error(BIT_OFFSET);
    }
    n.map(|n| n as u64)
}

pub(super) fn setbit(call: &mut Call<'_>, args: Args<'_>) {
    let Some(offset) = bit_offset(call, args.get(2), None) else {
        return;
    };
    let on = match parse_i64(args.get(3)) {
        Some(b @ (0 | 1)) => b as u8,
        _ => return call.w.error(b"ERR bit is not an integer or out of range"),
    };
    let byte = (offset >> 3) as usize;
    let shift = 7 - (offset & 7) as u8;
    let r = call.ctx.store.rewrite(call.conn.db, args.get(1), |item| {
        let (mut v, flags) = match item {
            None => (Vec::new(), 0),
            Some(item) => match string_value(item) {
                Some(v) => (v, item.flags()),
                None => return Rewrite::Keep(None),
            },
        };
        let grew = v.len() <= byte;
        if grew {
            v.resize(byte + 1, 0);
        }
        let old = (v[byte] >> shift) & 1;
        if !grew && item.is_some() && old == on {
            return Rewrite::Keep(Some(old));
        }
        v[byte] = (v[byte] & !(1 << shift)) | (on << shift);
        Rewrite::Write {
            value: v,
            flags,
            expiry: None,
            raw: true,
            result: Some(old),
        }
    });
    match r {
        Ok(Some(old)) => call.w.integer(i64::from(old)),
        Ok(None) => call.w.error(WRONG_TYPE),
        Err(e) => call.rewrite_refused(e),
    }
}

pub(super) fn getbit(call: &mut Call<'_>, args: Args<'_>) {
    let Some(offset) = bit_offset(call, args.get(2), None) else {
        return;
    };
    let Ok(v) = read_string(call, args.get(1)) else {
        return;
    };
    let byte = (offset >> 3) as usize;
    let bit = v
        .as_deref()
        .and_then(|v| v.get(byte))
        .map_or(0, |b| (b >> (7 - (offset & 7))) & 1);
    call.w.integer(i64::from(bit));
}

/// Resolves Redis's inclusive `start`/`end` (negative from the end) over `total` units;
/// `None` for an empty range.
fn clamp_range(start: i64, end: i64, total: i64) -> Option<(i64, i64)> {
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }
        .max(0)
        .min(total - 1);
    (start <= end).then_some((start, end))
}

/// BYTE or BIT after a range; `Err` when it is neither.
fn range_unit(arg: Option<&[u8]>) -> Result<bool, ()> {
    match arg {
        None => Ok(false),
        Some(a) if a.eq_ignore_ascii_case(b"bit") => Ok(true),
        Some(a) if a.eq_ignore_ascii_case(b"byte") => Ok(false),
        Some(_) => Err(()),
    }
}

fn bit_at(v: &[u8], i: i64) -> u8 {
    (v[(i >> 3) as usize] >> (7 - (i & 7))) & 1
}

/// Set bits in `v` between bit `s` and bit `e`, inclusive.
fn count_bits(v: &[u8], s: i64, e: i64) -> i64 {
    let (sb, eb) = ((s >> 3) as usize, (e >> 3) as usize);
    if sb == eb {
        return (s..=e).map(|i| i64::from(bit_at(v, i))).sum();
    }
    let head: i64 = (s..(sb as i64 + 1) * 8)
        .map(|i| i64::from(bit_at(v, i)))
        .sum();
    let tail: i64 = (eb as i64 * 8..=e).map(|i| i64::from(bit_at(v, i))).sum();
    let middle: u32 = v[sb + 1..eb].iter().map(|b| b.count_ones()).sum();
    head + i64::from(middle) + tail
}

pub(super) fn bitcount(call: &mut Call<'_>, args: Args<'_>) {
    let Ok(found) = read_string(call, args.get(1)) else {
        return;
    };
    let Some(v) = found else {
        return call.w.integer(0);
    };
    let (start, end, bits) = match args.len() {
        2 => (0, v.len() as i64 - 1, false),
        4 | 5 => {
            let Some(start) = call.integer(args.get(2)) else {
                return;
            };
            let Some(end) = call.integer(args.get(3)) else {
                return;
            };
            if start < 0 && end < 0 && start > end {
                return call.w.integer(0);
            }
            let Ok(bits) = range_unit((args.len() == 5).then(|| args.get(4))) else {
                return call.syntax_error();
            };
            (start, end, bits)
        }
        _ => return call.syntax_error(),
    };
    let total = v.len() as i64 * if bits { 8 } else { 1 };
    let n = match clamp_range(start, end, total) {
        None => 0,
        Some((s, e)) if bits => count_bits(&v, s, e),
        Some((s, e)) => v[s as usize..=e as usize]
            .iter()
            .map(|b| i64::from(b.count_ones()))
            .sum(),
    };
    call.w.integer(n);
}

pub(super) fn bitpos(call: &mut Call<'_>, args: Args<'_>) {
    let Some(bit) = call.integer(args.get(2)) else {
        return;
    };
    if bit != 0 && bit != 1 {
        return call.w.error(b"ERR The bit argument must be 1 or 0.");
    }
    let Ok(found) = read_string(call, args.get(1)) else {
        return;
    };
    let Some(v) = found else {
        return call.w.integer(if bit == 1 { -1 } else { 0 });
    };
    let len = v.len() as i64;
    let (range, end_given) = match args.len() {
        3 => (clamp_range(0, len * 8 - 1, len * 8), false),
        4..=6 => {
            let Some(start) = call.integer(args.get(3)) else {
                return;
            };
            let Ok(bits) = range_unit((args.len() == 6).then(|| args.get(5))) else {
                return call.syntax_error();
            };
            let end = if args.len() >= 5 {
                let Some(end) = call.integer(args.get(4)) else {
                    return;
                };
                end
            } else {
                -1
            };
            let range = if bits {
                clamp_range(start, end, len * 8)
            } else {
                clamp_range(start, end, len).map(|(s, e)| (s * 8, e * 8 + 7))
            };
            (range, args.len() >= 5)
        }
        _ => return call.syntax_error(),
    };
    let Some((s, e)) = range else {
        return call.w.integer(-1);
    };
    let want = bit as u8;
    let skip = if want == 1 { 0x00 } else { 0xff };
    let mut i = s;
    while i <= e {
        if i & 7 == 0 && i + 7 <= e && v[(i >> 3) as usize] == skip {
            i += 8;
            continue;
        }
        if bit_at(&v, i) == want {
            return call.w.integer(i);
        }
        i += 1;
    }
    // No clear bit in the string: past its end the bits count as clear, unless the
    // client gave the end of the range.
    let none = if want == 0 && !end_given { e + 1 } else { -1 };
    call.w.integer(none);
}

pub(super) fn bitop(call: &mut Call<'_>, args: Args<'_>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        And,
        Or,
        Xor,
        Not,
    }
    let name = args.get(1);
    let op = if name.eq_ignore_ascii_case(b"and") {
        Op::And
    } else if name.eq_ignore_ascii_case(b"or") {
        Op::Or
    } else if name.eq_ignore_ascii_case(b"xor") {
        Op::Xor
    } else if name.eq_ignore_ascii_case(b"not") {
        Op::Not
    } else {
        return call.syntax_error();
    };
    if op == Op::Not && args.len() != 4 {
        return call
            .w
            .error(b"ERR BITOP NOT must be called with a single source key.");
    }
    let mut sources = Vec::with_capacity(args.len() - 3);
    for key in args.iter_from(3) {
        let Ok(v) = read_string(call, key) else {
            return;
        };
        sources.push(v.unwrap_or_default());
    }
    let maxlen = sources.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![0u8; maxlen];
    for (j, byte) in out.iter_mut().enumerate() {
        let at = |s: &Vec<u8>| s.get(j).copied().unwrap_or(0);
        let mut acc = at(&sources[0]);
        if op == Op::Not {
            acc = !acc;
        }
        for s in &sources[1..] {
            match op {
                Op::And => acc &= at(s),
                Op::Or => acc |= at(s),
                Op::Xor => acc ^= at(s),
                Op::Not => {}
            }
        }
        *byte = acc;
    }
    let r = call.ctx.store.rewrite(call.conn.db, args.get(2), |_| {
        if maxlen == 0 {
            Rewrite::Delete(())
        } else {
            Rewrite::Write {
                value: out,
                flags: 0,
                expiry: Some(Expiry::Never),
                raw: true,
                result: (),
            }
        }
    });
    match r {
        Ok(()) => call.w.integer(maxlen as i64),
        Err(e) => call.rewrite_refused(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_as_redis() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_range(3, 1, 5), None);
        assert_eq!(clamp_range(0, -1, 0), None);
        assert_eq!(clamp_range(7, 9, 5), None);
    }

    #[test]
    fn bit_counts_cover_partial_bytes() {
        let v = [0xff, 0xf0, 0x0f];
        assert_eq!(count_bits(&v, 0, 23), 16);
        assert_eq!(count_bits(&v, 4, 11), 8);
        assert_eq!(count_bits(&v, 9, 9), 1);
        assert_eq!(count_bits(&v, 12, 19), 0);
        assert_eq!(count_bits(&v, 5, 21), 9);
    }
}
