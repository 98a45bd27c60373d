//! BITFIELD and BITFIELD_RO: signed (i1…i64) and unsigned (u1…u63) integers at any bit
//! offset of a string, with OVERFLOW WRAP (default), SAT and FAIL, as Redis 7.0 computes
//! them (including its overflow checks' exact arithmetic on 64-bit fields).

use super::bitops::{bit_offset, string_value, WRONG_TYPE};
use super::Call;
use crate::protocol::resp::{parse_i64, Args};
use crate::storage::{ItemView, Lookup, ReadOptions, Rewrite};

const BAD_TYPE: &[u8] =
    b"ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not \
supported but i64 is.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    Get,
    Set,
    Incrby,
}

#[derive(Clone, Copy, Debug)]
struct Op {
    kind: OpKind,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: Overflow,
}

/// Reads `bits` bits at bit `offset` (MSB first); bits past the end read as zero.
fn get_unsigned(v: &[u8], offset: u64, bits: u32) -> u64 {
    let mut value = 0u64;
    for i in 0..u64::from(bits) {
        let at = offset + i;
        let bit = v
            .get((at >> 3) as usize)
            .map_or(0, |b| (b >> (7 - (at & 7))) & 1);
        value = (value << 1) | u64::from(bit);
    }
    value
}

fn get_signed(v: &[u8], offset: u64, bits: u32) -> i64 {
    let u = get_unsigned(v, offset, bits);
    if bits < 64 && u & (1 << (bits - 1)) != 0 {
        (u | (u64::MAX << bits)) as i64
    } else {
        u as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`; `v` is long enough.
fn put(v: &mut [u8], offset: u64, bits: u32, value: u64) {
    for i in 0..u64::from(bits) {
        let bit = ((value >> (u64::from(bits) - 1 - i)) & 1) as u8;
        let at = offset + i;
        let byte = &mut v[(at >> 3) as usize];
        let shift = 7 - (at & 7) as u8;
        *byte = (*byte & !(1 << shift)) | (bit << shift);
    }
}

/// Redis's `checkUnsignedBitfieldOverflow`: `Some(limit)` on overflow (the value to store
/// for WRAP and SAT).
fn unsigned_overflow(value: u64, incr: i64, bits: u32, mode: Overflow) -> Option<u64> {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    let maxincr = max.wrapping_sub(value) as i64;
    let minincr = value.wrapping_neg() as i64;
    let wrap = || value.wrapping_add(incr as u64) & !(u64::MAX.checked_shl(bits).unwrap_or(0));
    if value > max || (incr > 0 && incr > maxincr) {
        Some(if mode == Overflow::Sat { max } else { wrap() })
    } else if incr < 0 && incr < minincr {
        Some(if mode == Overflow::Sat { 0 } else { wrap() })
    } else {
        None
    }
}

/// Redis's `checkSignedBitfieldOverflow`, same contract.
fn signed_overflow(value: i64, incr: i64, bits: u32, mode: Overflow) -> Option<i64> {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let maxincr = (max as u64).wrapping_sub(value as u64) as i64;
    let minincr = min.wrapping_sub(value);
    let wrap = || {
        let c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let mask = u64::MAX << bits;
            if c & (1 << (bits - 1)) != 0 {
                (c | mask) as i64
            } else {
                (c & !mask) as i64
            }
        } else {
            c as i64
        }
    };
    if value > max || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr) {
        Some(if mode == Overflow::Sat { max } else { wrap() })
    } else if value < min
        || (bits != 64 && incr < minincr)
        || (value < 0 && incr < 0 && incr < minincr)
    {
        Some(if mode == Overflow::Sat { min } else { wrap() })
    } else {
        None
    }
}

/// `i8`, `u16`…: `(signed, bits)`.
fn field_type(arg: &[u8]) -> Option<(bool, u32)> {
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return None,
    };
    let bits = parse_i64(&arg[1..])?;
    let max = if signed { 64 } else { 63 };
    (1..=max).contains(&bits).then_some((signed, bits as u32))
}

/// Parses the subcommands; writes the error and returns `None` on a bad one.
fn parse_ops(call: &mut Call<'_>, args: Args<'_>) -> Option<Vec<Op>> {
    let mut ops = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 2;
    while j < args.len() {
        let sub = args.get(j);
        let left = args.len() - j - 1;
        let kind = if sub.eq_ignore_ascii_case(b"get") && left >= 2 {
            OpKind::Get
        } else if sub.eq_ignore_ascii_case(b"set") && left >= 3 {
            OpKind::Set
        } else if sub.eq_ignore_ascii_case(b"incrby") && left >= 3 {
            OpKind::Incrby
        } else if sub.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            let mode = args.get(j + 1);
            overflow = if mode.eq_ignore_ascii_case(b"wrap") {
                Overflow::Wrap
            } else if mode.eq_ignore_ascii_case(b"sat") {
                Overflow::Sat
            } else if mode.eq_ignore_ascii_case(b"fail") {
                Overflow::Fail
            } else {
                call.w.error(b"ERR Invalid OVERFLOW type specified");
                return None;
            };
            j += 2;
            continue;
        } else {
            call.syntax_error();
            return None;
        };
        let Some((signed, bits)) = field_type(args.get(j + 1)) else {
            call.w.error(BAD_TYPE);
            return None;
        };
        let offset = bit_offset(call, args.get(j + 2), Some(bits))?;
        let value = if kind == OpKind::Get {
            0
        } else {
            call.integer(args.get(j + 3))?
        };
        ops.push(Op {
            kind,
            signed,
            bits,
            offset,
            value,
            overflow,
        });
        j += if kind == OpKind::Get { 3 } else { 4 };
    }
    Some(ops)
}

/// Runs one SET or INCRBY on `v`: the reply (`None` = null for FAIL) and whether it
/// changed the value.
fn apply(v: &mut [u8], op: &Op) -> (Option<i64>, bool) {
    if op.signed {
        let old = get_signed(v, op.offset, op.bits);
        let (new, overflow, reply) = if op.kind == OpKind::Incrby {
            let of = signed_overflow(old, op.value, op.bits, op.overflow);
            let new = of.unwrap_or_else(|| old.wrapping_add(op.value));
            (new, of.is_some(), new)
        } else {
            let of = signed_overflow(op.value, 0, op.bits, op.overflow);
            (of.unwrap_or(op.value), of.is_some(), old)
        };
        if overflow && op.overflow == Overflow::Fail {
            return (None, false);
        }
        put(v, op.offset, op.bits, new as u64);
        (Some(reply), old != new)
    } else {
        let old = get_unsigned(v, op.offset, op.bits);
        let (new, overflow, reply) = if op.kind == OpKind::Incrby {
            let of = unsigned_overflow(old, op.value, op.bits, op.overflow);
            let new = of.unwrap_or_else(|| old.wrapping_add(op.value as u64));
            (new, of.is_some(), new)
        } else {
            let value = op.value as u64;
            let of = unsigned_overflow(value, 0, op.bits, op.overflow);
            (of.unwrap_or(value), of.is_some(), old)
        };
        if overflow && op.overflow == Overflow::Fail {
            return (None, false);
        }
        put(v, op.offset, op.bits, new);
        (Some(reply as i64), old != new)
    }
}

fn read(v: &[u8], op: &Op) -> i64 {
    if op.signed {
        get_signed(v, op.offset, op.bits)
    } else {
        get_unsigned(v, op.offset, op.bits) as i64
    }
}

/// The replies of a write BITFIELD, or `None` for a key of another type.
type Replies = Option<Vec<Option<i64>>>;

fn run(call: &mut Call<'_>, args: Args<'_>, read_only: bool) {
    let Some(ops) = parse_ops(call, args) else {
        return;
    };
    let writes = ops.iter().any(|op| op.kind != OpKind::Get);
    if !writes {
        let opts = ReadOptions::default();
        let found = call
            .ctx
            .store
            .get(call.conn.db, args.get(1), &opts, |item: &dyn ItemView| {
                string_value(item)
            });
        let v = match found {
            Lookup::Hit(Some(v)) => v,
            Lookup::Hit(None) => return call.w.error(WRONG_TYPE),
            _ => Vec::new(),
        };
        call.w.array(ops.len());
        for op in &ops {
            call.w.integer(read(&v, op));
        }
        return;
    }
    if read_only {
        return call
            .w
            .error(b"ERR BITFIELD_RO only supports the GET subcommand");
    }
    let highest = ops
        .iter()
        .filter(|op| op.kind != OpKind::Get)
        .map(|op| op.offset + u64::from(op.bits) - 1)
        .max()
        .unwrap_or(0);
    let need = (highest >> 3) as usize + 1;
    let r = call.ctx.store.rewrite(call.conn.db, args.get(1), |item| {
        let (mut v, flags) = match item {
            None => (Vec::new(), 0),
            Some(item) => match string_value(item) {
                Some(v) => (v, item.flags()),
                None => return Rewrite::Keep(None),
            },
        };
        let mut changed = item.is_none() || v.len() < need;
        if v.len() < need {
            v.resize(need, 0);
        }
        let mut replies = Vec::with_capacity(ops.len());
        for op in &ops {
            if op.kind == OpKind::Get {
                replies.push(Some(read(&v, op)));
            } else {
                let (reply, did) = apply(&mut v, op);
                changed |= did;
                replies.push(reply);
            }
        }
        if changed {
            Rewrite::Write {
                value: v,
                flags,
                expiry: None,
                raw: true,
                result: Some(replies),
            }
        } else {
            Rewrite::Keep(Some(replies))
        }
    });
    let replies: Replies = match r {
        Ok(r) => r,
        Err(e) => return call.rewrite_refused(e),
    };
    let Some(replies) = replies else {
        return call.w.error(WRONG_TYPE);
    };
    call.w.array(replies.len());
    for reply in replies {
        match reply {
            Some(n) => call.w.integer(n),
            None => call.w.null(),
        }
    }
}

pub(super) fn bitfield(call: &mut Call<'_>, args: Args<'_>) {
    run(call, args, false);
}

pub(super) fn bitfield_ro(call: &mut Call<'_>, args: Args<'_>) {
    run(call, args, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_read_and_write_msb_first() {
        let mut v = vec![0u8; 2];
        put(&mut v, 4, 8, 0xab);
        assert_eq!(v, [0x0a, 0xb0]);
        assert_eq!(get_unsigned(&v, 4, 8), 0xab);
        assert_eq!(get_signed(&v, 4, 8), 0xab_u8 as i8 as i64);
        assert_eq!(get_unsigned(&v, 12, 8), 0);
    }

    #[test]
    fn overflow_modes_follow_redis() {
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Wrap), Some(4));
        assert_eq!(unsigned_overflow(250, 10, 8, Overflow::Sat), Some(255));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Sat), Some(0));
        assert_eq!(unsigned_overflow(5, -10, 8, Overflow::Wrap), Some(251));
        assert_eq!(unsigned_overflow(5, 10, 8, Overflow::Wrap), None);
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Wrap), Some(-126));
        assert_eq!(signed_overflow(120, 10, 8, Overflow::Sat), Some(127));
        assert_eq!(signed_overflow(-120, -10, 8, Overflow::Sat), Some(-128));
        assert_eq!(
            signed_overflow(i64::MAX, 1, 64, Overflow::Wrap),
            Some(i64::MIN)
        );
        assert_eq!(signed_overflow(300, 0, 8, Overflow::Wrap), Some(44));
        assert_eq!(field_type(b"u64"), None);
        assert_eq!(field_type(b"i64"), Some((true, 64)));
        assert_eq!(field_type(b"x8"), None);
    }
}
