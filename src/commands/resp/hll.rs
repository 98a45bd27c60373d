//! HyperLogLog: PFADD, PFCOUNT, PFMERGE and PFDEBUG, on string values laid out byte for
//! byte as Redis 7.0 lays them out, so a value moves between slabd and Redis unchanged
//! (GET/SET, DUMP/RESTORE) and PFCOUNT gives the same number for the same input.
//!
//! # Format (Redis's `hyperloglog.c`)
//!
//! ```text
//!  0  "HYLL"                 magic
//!  4  encoding  u8           0 dense, 1 sparse
//!  5  3 unused bytes         zero
//!  8  cached cardinality     u64 little endian; bit 63 set = stale
//! 16  registers              dense: 16384 × 6 bits, LSB first (12288 bytes)
//!                            sparse: run-length opcodes
//!                              00xxxxxx           ZERO  1..64 zero registers
//!                              01xxxxxx yyyyyyyy  XZERO 1..16384 zero registers
//!                              1vvvvvxx           VAL   1..4 registers of value 1..32
//! ```
//!
//! An element's register is the low 14 bits of MurmurHash64A(element, seed 0xadc83b19);
//! its value the position of the first set bit in the remaining 50 (1-based, at most 51).
//! A sparse value is edited exactly as Redis edits it (split the run, then merge equal
//! neighbouring VAL opcodes near the change), because the bytes depend on that order; it
//! becomes dense when a register would exceed 32 or the value would pass
//! `hll-sparse-max-bytes` (3000). The count is Ertl's improved estimator,
//! as Redis computes it, in the same floating point order.

use super::registry::{spec, Spec};
use super::Call;
use crate::protocol::resp::Args;
use crate::storage::{ItemType, ItemView, Lookup, ReadOptions, Rewrite};

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("pfadd", -2, ["write", "denyoom", "fast"], (1, 1, 1), "hyperloglog", "2.8.9",
        "Adds the specified elements to the specified HyperLogLog.", pfadd),
    spec!("pfcount", -2, ["readonly", "may_replicate"], (1, -1, 1), "hyperloglog", "2.8.9",
        "Return the approximated cardinality of the set(s) observed by the HyperLogLog at key(s).",
        pfcount),
    spec!("pfmerge", -2, ["write", "denyoom"], (1, -1, 1), "hyperloglog", "2.8.9",
        "Merge N different HyperLogLogs into a single one.", pfmerge),
    spec!("pfdebug", 3, ["write", "denyoom", "admin"], (2, 2, 1), "hyperloglog", "2.8.9",
        "Internal commands for debugging HyperLogLog values", pfdebug),
    spec!("pfselftest", 1, ["admin"], (0, 0, 0), "hyperloglog", "2.8.9",
        "An internal command for testing HyperLogLog values", pfselftest),
];

const HDR: usize = 16;
const P: u32 = 14;
const Q: usize = 64 - P as usize;
const REGISTERS: usize = 1 << P;
const DENSE_BYTES: usize = REGISTERS * 6 / 8;
const DENSE_SIZE: usize = HDR + DENSE_BYTES;
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;
/// Redis's default `hll-sparse-max-bytes`: past this a sparse value turns dense.
#[cfg(test)]
const SPARSE_MAX_BYTES: usize = 3000;
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const CORRUPT: &[u8] = b"INVALIDOBJ Corrupted HLL object detected";
const NOT_HLL: &[u8] = b"WRONGTYPE Key is not a valid HyperLogLog string value.";
const WRONG_TYPE: &[u8] = b"WRONGTYPE Operation against a key holding the wrong kind of value";

/// Why a PF command cannot use a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PfError {
    /// Not a string.
    WrongType,
    /// A string, but no HLL header.
    NotHll,
    /// An HLL header over registers that do not add up.
    Corrupt,
}

impl PfError {
    fn reply(self, call: &mut Call<'_>) {
        call.w.error(match self {
            PfError::WrongType => WRONG_TYPE,
            PfError::NotHll => NOT_HLL,
            PfError::Corrupt => CORRUPT,
        });
    }
}

/// MurmurHash64A, the hash Redis's HyperLogLog uses (little-endian reads).
fn murmur64a(key: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(M);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut k = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// An element's register and the value it proposes for it.
fn pattern(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, 0xadc8_3b19);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u16::from(regs[byte]);
    let b1 = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

fn dense_put(regs: &mut [u8], i: usize, v: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u16::from(v);
    regs[byte] &= !((63u16 << fb) as u8);
    regs[byte] |= (v << fb) as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next &= !((63u16 >> (8 - fb)) as u8);
        *next |= (v >> (8 - fb)) as u8;
    }
}

/// One sparse opcode: `(registers covered, value, bytes)`.
fn sparse_op(b: &[u8]) -> (usize, u8, usize) {
    let op = b[0];
    if op & 0x80 != 0 {
        (usize::from(op & 3) + 1, ((op >> 2) & 0x1f) + 1, 1)
    } else if op & 0xc0 == 0x40 {
        let len = ((usize::from(op & 0x3f) << 8) | usize::from(b.get(1).copied().unwrap_or(0))) + 1;
        (len, 0, 2)
    } else {
        (usize::from(op & 0x3f) + 1, 0, 1)
    }
}

fn val_op(value: u8, len: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (len as u8 - 1)
}

/// Appends a run of `len` zero registers as ZERO or XZERO.
fn push_zeros(seq: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        seq.push(0x40 | ((len - 1) >> 8) as u8);
        seq.push(((len - 1) & 0xff) as u8);
    } else {
        seq.push((len - 1) as u8);
    }
}

/// An empty HLL: sparse, registers all zero, cached count 0 (valid).
fn new_sparse() -> Vec<u8> {
    let mut v = vec![0u8; HDR];
    v[..4].copy_from_slice(b"HYLL");
    v[4] = SPARSE;
    let mut left = REGISTERS;
    while left > 0 {
        let run = left.min(XZERO_MAX_LEN);
        push_zeros(&mut v, run);
        left -= run;
    }
    v
}

/// Redis's `isHLLObjectOrReply`: the header is sane (the registers are checked on use).
fn is_hll(v: &[u8]) -> bool {
    v.len() >= HDR
        && &v[..4] == b"HYLL"
        && v[4] <= SPARSE
        && (v[4] != DENSE || v.len() == DENSE_SIZE)
}

fn invalidate_cache(v: &mut [u8]) {
    v[15] |= 0x80;
}

/// Rewrites a sparse value as dense; `Err` when its runs do not cover 16384 registers.
fn sparse_to_dense(v: &mut Vec<u8>) -> Result<(), PfError> {
    if v[4] == DENSE {
        return Ok(());
    }
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..4].copy_from_slice(b"HYLL");
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    let (mut idx, mut p) = (0usize, HDR);
    while p < v.len() {
        let (len, value, bytes) = sparse_op(&v[p..]);
        if value > 0 {
            if idx + len > REGISTERS {
                break;
            }
            for i in idx..idx + len {
                dense_put(regs, i, value);
            }
        }
        idx += len;
        p += bytes;
    }
    if idx != REGISTERS {
        return Err(PfError::Corrupt);
    }
    *v = dense;
    Ok(())
}

/// Raises register `index` to `count` in a sparse value, as Redis's `hllSparseSet` does
/// (byte for byte). `Ok(true)` when it changed.
fn sparse_set(v: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, PfError> {
    if count > VAL_MAX_VALUE {
        return promote(v, index, count);
    }
    let end = v.len();
    let (mut p, mut first, mut span, mut prev) = (HDR, 0usize, 0usize, None);
    while p < end {
        let (len, _, bytes) = sparse_op(&v[p..]);
        span = len;
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += bytes;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(PfError::Corrupt);
    }
    let (runlen, value, oplen) = sparse_op(&v[p..]);
    if value > 0 {
        if value >= count {
            return Ok(false);
        }
        if runlen == 1 {
            v[p] = val_op(count, 1);
            merge_near(v, prev.unwrap_or(HDR));
            return Ok(true);
        }
    }
    if value == 0 && oplen == 1 && runlen == 1 {
        v[p] = val_op(count, 1);
        merge_near(v, prev.unwrap_or(HDR));
        return Ok(true);
    }
    let last = first + span - 1;
    let mut seq = Vec::with_capacity(5);
    if value == 0 {
        if index != first {
            push_zeros(&mut seq, index - first);
        }
        seq.push(val_op(count, 1));
        if index != last {
            push_zeros(&mut seq, last - index);
        }
    } else {
        if index != first {
            seq.push(val_op(value, index - first));
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.push(val_op(value, last - index));
        }
    }
    if seq.len() > oplen && v.len() + seq.len() - oplen > max_bytes {
        return promote(v, index, count);
    }
    v.splice(p..p + oplen, seq);
    merge_near(v, prev.unwrap_or(HDR));
    Ok(true)
}

/// Merges neighbouring VAL opcodes of one value (up to 4 registers), scanning at most 5
/// opcodes from `p`, as Redis does after each change.
fn merge_near(v: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < v.len() && scan > 0 {
        scan -= 1;
        let (len, value, bytes) = sparse_op(&v[p..]);
        if value == 0 {
            p += bytes;
            continue;
        }
        if p + 1 < v.len() && v[p + 1] & 0x80 != 0 {
            let (len2, value2, _) = sparse_op(&v[p + 1..]);
            if value == value2 && len + len2 <= VAL_MAX_LEN {
                v[p + 1] = val_op(value, len + len2);
                v.remove(p);
                continue;
            }
        }
        p += 1;
    }
}

fn promote(v: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, PfError> {
    sparse_to_dense(v)?;
    dense_put(&mut v[HDR..], index, count);
    Ok(true)
}

/// Raises register `index` to `count` in either encoding.
fn set_register(
    v: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, PfError> {
    match v[4] {
        DENSE => {
            let regs = &mut v[HDR..];
            if dense_get(regs, index) < count {
                dense_put(regs, index, count);
                Ok(true)
            } else {
                Ok(false)
            }
        }
        SPARSE => sparse_set(v, index, count, max_bytes),
        _ => Err(PfError::Corrupt),
    }
}

/// Register value histogram; `Err` for sparse runs that do not cover 16384 registers.
fn histogram(v: &[u8]) -> Result<[u32; 64], PfError> {
    let mut h = [0u32; 64];
    if v[4] == DENSE {
        for i in 0..REGISTERS {
            h[usize::from(dense_get(&v[HDR..], i))] += 1;
        }
        return Ok(h);
    }
    let (mut idx, mut p) = (0usize, HDR);
    while p < v.len() {
        let (len, value, bytes) = sparse_op(&v[p..]);
        h[usize::from(value)] += len as u32;
        idx += len;
        p += bytes;
    }
    if idx != REGISTERS {
        return Err(PfError::Corrupt);
    }
    Ok(h)
}

fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            return z;
        }
    }
}

fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    loop {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        z -= (1.0 - x).powf(2.0) * y;
        if before == z {
            return z / 3.0;
        }
    }
}

/// Ertl's estimator over a register histogram, in Redis's operation order.
fn estimate(h: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - f64::from(h[Q + 1])) / m);
    for j in (1..=Q).rev() {
        z += f64::from(h[j]);
        z *= 0.5;
    }
    z += m * sigma(f64::from(h[0]) / m);
    (ALPHA_INF * m * m / z).round() as u64
}

/// Folds a value's registers into `max` (register-wise maximum).
fn merge_into(max: &mut [u8], v: &[u8]) -> Result<(), PfError> {
    if v[4] == DENSE {
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_get(&v[HDR..], i));
        }
        return Ok(());
    }
    let (mut i, mut p) = (0usize, HDR);
    while p < v.len() {
        let (len, value, bytes) = sparse_op(&v[p..]);
        if value > 0 {
            if i + len > REGISTERS {
                break;
            }
            for m in &mut max[i..i + len] {
                *m = (*m).max(value);
            }
        }
        i += len;
        p += bytes;
    }
    if i != REGISTERS {
        return Err(PfError::Corrupt);
    }
    Ok(())
}

/// An item's value when it is an HLL.
fn hll_value(item: &dyn ItemView) -> Result<Vec<u8>, PfError> {
    if item.item_type() != ItemType::String {
        return Err(PfError::WrongType);
    }
    let mut v = Vec::with_capacity(item.value_len());
    item.copy_value_to(&mut v);
    if is_hll(&v) {
        Ok(v)
    } else {
        Err(PfError::NotHll)
    }
}

/// Reads the HLL at `key`: `Ok(None)` when absent.
fn read_hll(call: &Call<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, PfError> {
    let opts = ReadOptions::default();
    match call.ctx.store.get(call.conn.db, key, &opts, hll_value) {
        Lookup::Hit(r) => r.map(Some),
        _ => Ok(None),
    }
}

/// The `hll-sparse-max-bytes` directive.
fn sparse_max_bytes(call: &Call<'_>) -> usize {
    usize::try_from(call.ctx.directives.int("hll-sparse-max-bytes")).unwrap_or(usize::MAX)
}

pub(super) fn pfadd(call: &mut Call<'_>, args: Args<'_>) {
    let max_bytes = sparse_max_bytes(call);
    let r = call.ctx.store.rewrite(call.conn.db, args.get(1), |item| {
        let (mut v, flags) = match item {
            None => (new_sparse(), 0),
            Some(item) => match hll_value(item) {
                Ok(v) => (v, item.flags()),
                Err(e) => return Rewrite::Keep(Err(e)),
            },
        };
        let mut updated = item.is_none();
        for element in args.iter_from(2) {
            let (index, count) = pattern(element);
            match set_register(&mut v, index, count, max_bytes) {
                Ok(changed) => updated |= changed,
                Err(e) => return Rewrite::Keep(Err(e)),
            }
        }
        if !updated {
            return Rewrite::Keep(Ok(0));
        }
        invalidate_cache(&mut v);
        Rewrite::Write {
            value: v,
            flags,
            expiry: None,
            raw: true,
            result: Ok(1),
        }
    });
    match r {
        Ok(Ok(n)) => call.w.integer(n),
        Ok(Err(e)) => e.reply(call),
        Err(e) => call.rewrite_refused(e),
    }
}

pub(super) fn pfcount(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() > 2 {
        let mut max = vec![0u8; REGISTERS];
        for key in args.iter_from(1) {
            match read_hll(call, key) {
                Ok(None) => {}
                Ok(Some(v)) => {
                    if let Err(e) = merge_into(&mut max, &v) {
                        return e.reply(call);
                    }
                }
                Err(e) => return e.reply(call),
            }
        }
        let mut h = [0u32; 64];
        for &r in &max {
            h[usize::from(r)] += 1;
        }
        return call.w.integer(estimate(&h) as i64);
    }
    // One key: the count is cached in the value's header, as Redis does.
    let r = call.ctx.store.rewrite(call.conn.db, args.get(1), |item| {
        let Some(item) = item else {
            return Rewrite::Keep(Ok(0));
        };
        let mut v = match hll_value(item) {
            Ok(v) => v,
            Err(e) => return Rewrite::Keep(Err(e)),
        };
        if v[15] & 0x80 == 0 {
            let card = u64::from_le_bytes(v[8..16].try_into().expect("8 bytes"));
            return Rewrite::Keep(Ok(card));
        }
        let card = match histogram(&v) {
            Ok(h) => estimate(&h),
            Err(e) => return Rewrite::Keep(Err(e)),
        };
        v[8..16].copy_from_slice(&card.to_le_bytes());
        Rewrite::Write {
            value: v,
            flags: item.flags(),
            expiry: None,
            raw: true,
            result: Ok(card),
        }
    });
    match r {
        Ok(Ok(n)) => call.w.integer(n as i64),
        Ok(Err(e)) => e.reply(call),
        Err(e) => call.rewrite_refused(e),
    }
}

pub(super) fn pfmerge(call: &mut Call<'_>, args: Args<'_>) {
    let max_bytes = sparse_max_bytes(call);
    let mut max = vec![0u8; REGISTERS];
    let mut dense = false;
    for key in args.iter_from(1) {
        match read_hll(call, key) {
            Ok(None) => {}
            Ok(Some(v)) => {
                dense |= v[4] == DENSE;
                if let Err(e) = merge_into(&mut max, &v) {
                    return e.reply(call);
                }
            }
            Err(e) => return e.reply(call),
        }
    }
    let r = call.ctx.store.rewrite(call.conn.db, args.get(1), |item| {
        let (mut v, flags) = match item {
            None => (new_sparse(), 0),
            Some(item) => match hll_value(item) {
                Ok(v) => (v, item.flags()),
                Err(e) => return Rewrite::Keep(Err(e)),
            },
        };
        if dense {
            if let Err(e) = sparse_to_dense(&mut v) {
                return Rewrite::Keep(Err(e));
            }
        }
        for (j, &m) in max.iter().enumerate() {
            if m > 0 {
                // As Redis, a corrupt destination is left as it is found.
                let _ = set_register(&mut v, j, m, max_bytes);
            }
        }
        invalidate_cache(&mut v);
        Rewrite::Write {
            value: v,
            flags,
            expiry: None,
            raw: true,
            result: Ok(()),
        }
    });
    match r {
        Ok(Ok(())) => call.w.ok(),
        Ok(Err(e)) => e.reply(call),
        Err(e) => call.rewrite_refused(e),
    }
}

/// PFSELFTEST: the dense register accessors keep every register apart, and the estimate
/// of a growing set stays within Redis's error bound, in both encodings.
pub(super) fn pfselftest(call: &mut Call<'_>, _args: Args<'_>) {
    match self_test() {
        Ok(()) => call.w.ok(),
        Err(e) => call.w.error_fmt(format_args!("ERR TESTFAILED {e}")),
    }
}

fn self_test() -> Result<(), String> {
    let mut regs = vec![0u8; DENSE_BYTES];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut expect = vec![0u8; REGISTERS];
    for _ in 0..4 {
        for (i, e) in expect.iter_mut().enumerate() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            *e = (seed >> 58) as u8;
            dense_put(&mut regs, i, *e);
        }
        if let Some(i) = (0..REGISTERS).find(|&i| dense_get(&regs, i) != expect[i]) {
            return Err(format!("Register {i} should be {}", expect[i]));
        }
    }
    let mut sparse = new_sparse();
    let mut dense = new_sparse();
    sparse_to_dense(&mut dense).map_err(|_| "dense conversion failed")?;
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    for n in 1..=20_000u64 {
        let element = n.to_le_bytes();
        let (index, count) = pattern(&element);
        set_register(&mut sparse, index, count, 3000).map_err(|_| "sparse update failed")?;
        set_register(&mut dense, index, count, 3000).map_err(|_| "dense update failed")?;
        if n % 1000 == 0 || n < 100 {
            let a = histogram(&sparse)
                .map(|h| estimate(&h))
                .map_err(|_| "corrupt")?;
            let b = histogram(&dense)
                .map(|h| estimate(&h))
                .map_err(|_| "corrupt")?;
            let max = (5.0 * relerr * n as f64).max(2.0);
            if a != b || (a as f64 - n as f64).abs() > max {
                return Err(format!("Cardinality {n}: sparse {a}, dense {b}"));
            }
        }
    }
    Ok(())
}

/// What PFDEBUG answers.
enum Debug {
    Registers(Vec<u8>),
    Text(Vec<u8>),
    Status(&'static [u8]),
    Int(i64),
}

pub(super) fn pfdebug(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1).to_ascii_lowercase();
    let r = call.ctx.store.rewrite(call.conn.db, args.get(2), |item| {
        let Some(item) = item else {
            return Rewrite::Keep(Err(None));
        };
        let mut v = match hll_value(item) {
            Ok(v) => v,
            Err(e) => return Rewrite::Keep(Err(Some(e))),
        };
        let was_sparse = v[4] == SPARSE;
        let reply = match sub.as_slice() {
            b"getreg" | b"todense" => {
                if let Err(e) = sparse_to_dense(&mut v) {
                    return Rewrite::Keep(Err(Some(e)));
                }
                if sub == b"getreg" {
                    Debug::Registers((0..REGISTERS).map(|i| dense_get(&v[HDR..], i)).collect())
                } else {
                    Debug::Int(i64::from(was_sparse))
                }
            }
            b"decode" if was_sparse => Debug::Text(decode(&v)),
            b"decode" => Debug::Status(b"ERR HLL encoding is not sparse"),
            b"encoding" => Debug::Status(if was_sparse { b"sparse" } else { b"dense" }),
            _ => Debug::Status(b""),
        };
        if was_sparse && v[4] == DENSE {
            Rewrite::Write {
                value: v,
                flags: item.flags(),
                expiry: None,
                raw: true,
                result: Ok(reply),
            }
        } else {
            Rewrite::Keep(Ok(reply))
        }
    });
    match r {
        Ok(Ok(Debug::Registers(regs))) => {
            call.w.array(regs.len());
            for r in regs {
                call.w.integer(i64::from(r));
            }
        }
        Ok(Ok(Debug::Text(t))) => call.w.bulk(&t),
        Ok(Ok(Debug::Int(n))) => call.w.integer(n),
        Ok(Ok(Debug::Status(b""))) => call.w.error_fmt(format_args!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            String::from_utf8_lossy(args.get(1))
        )),
        Ok(Ok(Debug::Status(s))) if s.starts_with(b"ERR") => call.w.error(s),
        Ok(Ok(Debug::Status(s))) => call.w.simple(s),
        Ok(Err(None)) => call.w.error(b"ERR The specified key does not exist"),
        Ok(Err(Some(e))) => e.reply(call),
        Err(e) => call.rewrite_refused(e),
    }
}

/// PFDEBUG DECODE: `Z:n` XZERO, `z:n` ZERO, `v:value,len` VAL, space separated.
fn decode(v: &[u8]) -> Vec<u8> {
    let mut parts = Vec::new();
    let mut p = HDR;
    while p < v.len() {
        let (len, value, bytes) = sparse_op(&v[p..]);
        parts.push(match (value, bytes) {
            (0, 2) => format!("Z:{len}"),
            (0, _) => format!("z:{len}"),
            _ => format!("v:{value},{len}"),
        });
        p += bytes;
    }
    parts.join(" ").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add_all(v: &mut Vec<u8>, elements: impl IntoIterator<Item = String>) {
        for e in elements {
            let (i, c) = pattern(e.as_bytes());
            set_register(v, i, c, SPARSE_MAX_BYTES).unwrap();
        }
    }

    #[test]
    fn an_empty_hll_is_one_xzero_run() {
        let v = new_sparse();
        assert_eq!(v, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(estimate(&histogram(&v).unwrap()), 0);
    }

    /// Bytes recorded from redis-server 7.0: `PFADD h a b c`, and `PFADD h e0 … e499`
    /// followed by `PFCOUNT h` (506) and `GET h`.
    #[test]
    fn values_are_byte_identical_to_redis() {
        let mut v = new_sparse();
        add_all(&mut v, ["a", "b", "c"].map(String::from));
        invalidate_cache(&mut v);
        assert_eq!(&v[..16], b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80");
        assert_eq!(&v[16..], b"`\xf3\x80P\xb1\x84K\xfb\x80BZ");
        assert_eq!(estimate(&histogram(&v).unwrap()), 3);
        let mut v = new_sparse();
        add_all(&mut v, (0..500).map(|i| format!("e{i}")));
        assert_eq!(estimate(&histogram(&v).unwrap()), 506);
        let want: &[u8] = b"\x19\x80\x19\x80\x00\x84\x14\x88\x0b\x80\x19\x80\x2c\x80\x03\x80\x21\x80\x0c\x80\x3b\x84\x04\x84\x02\xa4\x0e\x88\x0f\x80\x09\x80\x88\x27\x80\x21\x84\x27\x84\x03\x88\x40\x40\x80\x25\x9c\x01\x90\x01\x88\x05\x80\x0b\x88\x07\x80\x2f\x84\x0d\x80\x27\x80\x40\x5c\x80\x17\x98\x88\x40\x4b\x84\x0e\x88\x40\x4c\x80\x40\x57\x88\x17\x88\x11\x80\x40\x42\x80\x00\x80\x0a\x94\x29\x88\x29\x8c\x0b\x80\x08\x80\x01\x80\x02\x84\x08\x80\x0c\x84\x80\x2f\x80\x1e\x80\x31\x84\x14\x88\x40\x4b\x80\x19\x88\x12\x80\x2d\x80\x1e\x80\x26\x80\x01\x88\x0a\x84\x2a\x80\x0a\x9c\x40\x57\x84\x02\x84\x40\x72\x8c\x14\x80\x88\x2f\x84\x40\x62\x84\x3d\x80\x2a\x84\x1a\x80\x07\x90\x40\x54\x80\x09\x80\x10\x80\x07\x84\x3f\x84\x16\x80\x21\x84\x3e\x80\x09\x80\x11\x80\x07\x80\x02\x80\x39\x80\x13\x80\x24\x80\x40\x62\x88\x1a\x90\x40\x71\x98\x00\x80\x40\x55\x84\x0b\x84\x0d\x80\x00\x80\x01\x84\x40\x66\x84\x18\x84\x0c\x80\x40\x67\x84\x17\x80\x01\x84\x13\x80\x40\x48\x84\x07\x84\x0b\x80\x40\x6f\x80\x16\x94\x40\x40\x8c\x00\x84\x80\x06\x84\x0d\x80\x25\x84\x1a\x80\x40\xad\x80\x10\x80\x40\x4a\x80\x00\x80\x06\x84\x27\x84\x40\x47\x8c\x38\x80\x0a\x80\x1a\x80\x14\x84\x40\x47\x84\x07\x80\x40\x4a\x84\x02\x80\x1d\x90\x28\x88\x03\x80\x2f\x84\x10\x84\x03\x94\x04\x84\x3b\x80\x06\x84\x0c\x84\x26\x84\x38\x80\x0c\x80\x26\x80\x38\x84\x1d\x84\x1a\x80\x40\x40\x84\x25\x84\x40\x76\x84\x19\x80\x19\x80\x2a\x84\x40\xe7\x8c\x19\x8c\x08\x84\x40\x59\x80\x04\x84\x40\x4d\x98\x38\x80\x1d\x80\x20\x80\x10\x80\x0f\x80\x0b\x88\x1d\x88\x05\x84\x2c\x9c\x0c\x80\x10\x80\x18\x80\x31\x8c\x16\x84\x09\x80\x2f\x88\x1b\x80\x0f\x8c\x40\x5b\x80\x02\x88\x3e\x80\x23\x84\x40\x49\x80\x36\x80\x1f\x80\x40\x63\x80\x12\x80\x17\x8c\x10\x80\x40\xcd\x80\x14\x80\x40\x61\x8c\x1a\x84\x03\x80\x00\x80\x2f\x8c\x31\x8c\x18\x80\x3e\x88\x1d\x84\x21\x80\x04\x84\x3f\x80\x08\x84\x0f\x84\x40\x5e\x80\x3a\x80\x35\x80\x00\x80\x17\x80\x22\x80\x20\x80\x14\x80\x12\x80\x40\x52\x84\x17\x88\x02\x84\x40\x46\x80\x1b\x80\x1d\x80\x05\x90\x00\x88\x3d\x8c\x0b\x88\x03\x8c\x01\x84\x01\x84\x1e\x88\x0c\x84\x03\x80\x1f\x84\x02\x84\x14\x88\x40\x67\x84\x40\x63\x88\x40\x4d\x80\x00\x84\x0a\x80\x1c\x84\x17\x8c\x40\x49\x80\x30\x88\x00\x84\x06\x80\x08\x84\x36\x84\x05\x80\x08\x80\x1c\x84\x07\x84\x19\x80\x28\x80\x40\x53\x80\x0b\x84\x07\x80\x22\x80\x25\x84\x1d\x84\x02\x80\x23\x84\x30\x80\x08\x8c\x40\x4f\x88\x14\x80\x29\x88\x00\x84\x02\x80\x0a\x88\x40\x45\x80\x10\x80\x40\xfc\x80\x34\x80\x2a\x88\x1d\x80\x28\x90\x11\x84\x22\x84\x0a\x84\x40\x70\x80\x13\x84\x08\x80\x00\x84\x01\x80\x18\x94\x18\x84\x08\x84\x1e\x80\x02\x80\x01\x80\x2b\x80\x40\x51\x8c\x2e\x84\x21\x84\x28\x81\x36\x8c\x16\x84\x10\x80\x0f\x81\x3c\x88\x1d\x80\x13\x80\x04\x84\x30\x84\x0e\x84\x00\x80\x06\x80\x40\x44\x80\x11\x84\x28\x84\x11\x88\x31\x80\x40\x45\x84\x17\x8c\x2c\x80\x40\x43\x90\x0b\x80\x05\x88\x40\x60\x80\x03\x80\x13\x90\x0d\x80\x40\x9b\x88\x1b\x84\x02\x84\x40\x4c\x88\x01\x80\x40\x66\x88\x26\x8c\x0e\x80\x0e\x84\x11\x80\x03\x80\x17\x80\x40\x4e\x84\x11\x84\x13\x84\x0d\x80\x02\x90\x22\x84\x0a\x84\x3d\x80\x04\x84\x12\x80\x06\x8c\x1b\x80\x31\x80\x24\x84\x26\x88\x2b\x84\x80\x0c\x80\x29\x80\x0a\x80\x04\x84\x04\x88\x17\x84\x13\x8c\x07\x84\x0d\x80\x3e\x80\x04\x80\x1c\x84\x02\x84\x01\x8c\x30\x84\x15\x80\x40\x51\x80\x1f\x84\x06\x80\x06\x80\x0a\x80\x0b\x84\x0d\x80\x05\x80\x03\x80\x1d\x84\x34\x81\x1b\x80\x26\x80\x0f\x88\x40\x48\x88\x0b\x98\x39\x80\x01\x88\x01\x88\x0a\x88\x22\x88\x0b\x80\x2a\x84\x0b\x80\x40\x69\x8c\x0c\x80\x37\x80\x19\x84\x08\x84\x1f\x88\x03\x80\x40\x5b\x84\x06\x8c\x13\x80\x39\x80\x04\x80\x40\x44\x80\x05\x80\x40\x4e\x80\x0d\x88\x12\x84\x01\x90\x40\x4f\x80\x23\x88\x40\x5a\x80\x10\x80\x04\x84\x20\x88\x00\x84\x8c\x1c\x88\x0f\x90\x2c\x84\x05\x80\x19\x80\x0c\x80\x1c\x80\x02\x90\x20\x80\x40\x5c\x80\x07\x84\x40\x7b\x80\x1d\x84\x1d\x80\x14\x88\x32\x80\x1e\x84\x00\x84\x0f\x84\x22\x84\x0e\x84\x01\x80\x15\x84\x0f\x84\x14\x84\x2f\x80\x0c\x80\x16\x80\x0d\x84\x25\x80\x0c\x84\x05\x88\x13\x80\x28\x84\x28\x8c\x00\x84\x02\x8c\x40\x77\x84\x2c\x80\x00\x88\x24\x80\x20\x80\x17\x88\x10\x84\x10\x88\x1a\x84\x19\x84\x28\x80\x06\x80\x13\x80\x01\x80\x0e\x90\x1c\x80\x04\x84\x0a\x80\x0a\x80\x40\x44\x84\x18\x84\x07\x88\x04\x80\x13\x80\x04\x90\x1e\x80\x00\x84\x11\x80\x13\x80\x10\x8c\x40\x5a\x8c\x16\x90\x88\x0e\x80\x08\x80\x0e\x80\x3c\x80\x08\x84\x40\x44";
        assert_eq!(&v[16..], want);
    }

    #[test]
    fn sparse_and_dense_count_the_same() {
        let mut sparse = new_sparse();
        add_all(&mut sparse, (0..500).map(|i| format!("e{i}")));
        assert_eq!(sparse[4], SPARSE);
        let mut dense = sparse.clone();
        sparse_to_dense(&mut dense).unwrap();
        let (a, b) = (
            estimate(&histogram(&sparse).unwrap()),
            estimate(&histogram(&dense).unwrap()),
        );
        assert_eq!(a, b);
        assert!((490..=510).contains(&a), "{a}");
    }

    #[test]
    fn many_elements_turn_dense_and_stay_accurate() {
        let mut v = new_sparse();
        add_all(&mut v, (0..100_000).map(|i| format!("e{i}")));
        assert_eq!(v[4], DENSE);
        assert_eq!(v.len(), DENSE_SIZE);
        // redis-server 7.0 counts the same 100,000 elements as 100853.
        assert_eq!(estimate(&histogram(&v).unwrap()), 100_853);
    }

    #[test]
    fn truncated_sparse_runs_are_corrupt() {
        let mut v = new_sparse();
        v.truncate(HDR + 1);
        v[HDR] = 0x00;
        assert_eq!(histogram(&v), Err(PfError::Corrupt));
        assert_eq!(sparse_to_dense(&mut v.clone()), Err(PfError::Corrupt));
        assert!(!is_hll(b"HYLL\x00"));
    }
}
