//! Encoders for the compact blobs slabd writes inside RDB strings: Redis 7.0's listpack
//! (list quicklist nodes, small sorted sets), byte for byte as `lpAppend` lays it out, so
//! `redis-check-rdb`'s deep integrity check accepts it.
//!
//! ```text
//! <total bytes u32le> <count u16le, 65535 = unknown> <entry>* 0xff
//! entry: <encoding + data> <backlen: size of encoding + data, 7-bit groups, reversed>
//! ```
//!
//! A string that is a canonical integer is stored as the smallest integer encoding (7-bit
//! unsigned, 13, 16, 24, 32 or 64-bit signed), as Redis does; other strings as 6-bit,
//! 12-bit or 32-bit lengths.

use super::writer::canonical_int;

/// Redis's `list-max-listpack-size -2`: a quicklist node holds at most 8 KB.
pub const NODE_BYTES: usize = 8192;
/// Redis 7.0's default `zset-max-listpack-entries` / `zset-max-listpack-value`: a sorted
/// set within both is written as a listpack, a larger one as a skiplist (`ZSET_2`).
pub const ZSET_LISTPACK_ENTRIES: usize = 128;
pub const ZSET_LISTPACK_VALUE: usize = 64;

const HEADER: usize = 6;

/// A listpack being built.
pub struct Listpack {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

impl Listpack {
    pub fn new() -> Listpack {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER]);
        Listpack { buf, count: 0 }
    }

    /// Entries so far.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes the finished listpack would have.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Bytes `s` would add.
    pub fn entry_bytes(s: &[u8]) -> usize {
        let n = encoded_len(s);
        n + backlen_len(n)
    }

    /// Appends one element.
    pub fn push(&mut self, s: &[u8]) {
        let start = self.buf.len();
        encode(s, &mut self.buf);
        let n = self.buf.len() - start;
        push_backlen(n, &mut self.buf);
        self.count += 1;
    }

    /// The finished blob (header filled in, terminator added).
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let count = u16::try_from(self.count).unwrap_or(u16::MAX);
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Integer encodings: (range, first byte, data bytes); the 7-bit and 13-bit forms are special.
fn int_width(v: i64) -> usize {
    match v {
        0..=127 => 0,
        -4096..=4095 => 1,
        -32768..=32767 => 2,
        -8_388_608..=8_388_607 => 3,
        -2_147_483_648..=2_147_483_647 => 4,
        _ => 8,
    }
}

fn as_int(s: &[u8]) -> Option<i64> {
    if s.len() > 20 {
        return None;
    }
    canonical_int(s)
}

fn encoded_len(s: &[u8]) -> usize {
    if let Some(v) = as_int(s) {
        return match int_width(v) {
            0 => 1,
            1 => 2,
            w => 1 + w,
        };
    }
    match s.len() {
        0..=63 => 1 + s.len(),
        64..=4095 => 2 + s.len(),
        _ => 5 + s.len(),
    }
}

fn encode(s: &[u8], out: &mut Vec<u8>) {
    if let Some(v) = as_int(s) {
        match int_width(v) {
            0 => out.push(v as u8),
            1 => {
                let u = if v < 0 { (1 << 13) + v } else { v } as u16;
                out.push(0xc0 | (u >> 8) as u8);
                out.push(u as u8);
            }
            w => {
                out.push(match w {
                    2 => 0xf1,
                    3 => 0xf2,
                    4 => 0xf3,
                    _ => 0xf4,
                });
                out.extend_from_slice(&v.to_le_bytes()[..w]);
            }
        }
        return;
    }
    let n = s.len();
    if n < 64 {
        out.push(0x80 | n as u8);
    } else if n < 4096 {
        out.push(0xe0 | (n >> 8) as u8);
        out.push(n as u8);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
}

fn backlen_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// Redis's `lpEncodeBacklen`: the most significant group first, every group but the first
/// with its high bit set (so the entry can be walked from its last byte).
fn push_backlen(n: usize, out: &mut Vec<u8>) {
    let groups = backlen_len(n);
    for g in (0..groups).rev() {
        let bits = ((n >> (7 * g)) & 127) as u8;
        out.push(if g == groups - 1 { bits } else { bits | 128 });
    }
}

/// A list's elements cut into listpacks of at most [`NODE_BYTES`] (an element larger than
/// that gets a node of its own), as Redis's quicklist with the default fill holds them.
pub fn quicklist_nodes<'a>(elems: impl Iterator<Item = &'a [u8]>) -> Vec<Vec<u8>> {
    let mut nodes = Vec::new();
    let mut lp = Listpack::new();
    for e in elems {
        if !lp.is_empty() && lp.bytes() + Listpack::entry_bytes(e) > NODE_BYTES {
            nodes.push(std::mem::take(&mut lp).finish());
        }
        lp.push(e);
    }
    if !lp.is_empty() {
        nodes.push(lp.finish());
    }
    nodes
}

/// Redis's `d2string` for a score in a listpack: integers in decimal, infinities as
/// `inf`/`-inf`, other values in the shortest text that reads back exactly.
pub fn score_text(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 && v.is_sign_negative() {
        return "-0".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e17 {
        return format!("{}", v as i64);
    }
    format!("{v:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::persist::rdb::compact;

    #[test]
    fn entries_read_back_with_redis_layout() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 200];
        let elems: Vec<&[u8]> = vec![
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"32767",
            b"-32769",
            b"8388607",
            b"2147483647",
            b"2147483648",
            b"-9223372036854775808",
            b"007",
            b"-0",
            b"",
            b"abc",
            &mid,
            &long,
        ];
        let mut lp = Listpack::new();
        for e in &elems {
            lp.push(e);
        }
        let blob = lp.finish();
        let back = compact::listpack(&blob).unwrap();
        let want: Vec<Vec<u8>> = elems.iter().map(|e| e.to_vec()).collect();
        assert_eq!(back, want);
        // Exact bytes of a small listpack (lpNew + lpAppend "a", 1, 300).
        let mut lp = Listpack::new();
        lp.push(b"a");
        lp.push(b"1");
        lp.push(b"300");
        assert_eq!(
            lp.finish(),
            [15, 0, 0, 0, 3, 0, 0x81, b'a', 2, 0x01, 1, 0xc1, 0x2c, 2, 0xff]
        );
    }

    #[test]
    fn backlen_groups() {
        let mut out = Vec::new();
        push_backlen(127, &mut out);
        assert_eq!(out, [127]);
        out.clear();
        push_backlen(5005, &mut out);
        assert_eq!(out, [(5005 >> 7) as u8, (5005 & 127) as u8 | 128]);
        out.clear();
        push_backlen(20000, &mut out);
        assert_eq!(
            out,
            [
                (20000 >> 14) as u8,
                ((20000 >> 7) & 127) as u8 | 128,
                (20000 & 127) as u8 | 128
            ]
        );
    }

    #[test]
    fn nodes_split_at_8k() {
        let e = vec![b'e'; 1000];
        let elems: Vec<&[u8]> = (0..20).map(|_| e.as_slice()).collect();
        let nodes = quicklist_nodes(elems.iter().copied());
        assert!(nodes.len() >= 3);
        assert!(nodes.iter().all(|n| n.len() <= NODE_BYTES));
        let total: usize = nodes
            .iter()
            .map(|n| compact::listpack(n).unwrap().len())
            .sum();
        assert_eq!(total, 20);
        assert_eq!(score_text(1.0), "1");
        assert_eq!(score_text(-2.5), "-2.5");
        assert_eq!(score_text(f64::NEG_INFINITY), "-inf");
        assert_eq!(score_text(0.1), "0.1");
    }
}
