//! Sorted sets: a packed run of entries for small sets (Redis's `listpack` encoding), a
//! counted B+tree with a member index for large ones (Redis's `skiplist` encoding); score
//! parsing and printing and range bounds as Redis 7.0 has them.
//!
//! # Packed form (one slab item)
//!
//! ```text
//!  count (u32 LE) | entry* ; entry = score (f64 LE) | member length (LEB128) | member
//! ```
//!
//! Entries are in (score, member) order. A set stays packed while it has at most
//! `zset-max-listpack-entries` (128) members of at most `zset-max-listpack-value` (64)
//! bytes; beyond either it becomes a [`Tree`] and, as in Redis, does not go back except
//! when a command builds a new set (ZUNIONSTORE, ZRANGESTORE...).

mod index;
mod node;
mod tree;

pub use tree::{cmp_key, Tree};

use std::cmp::Ordering;
use std::io::Write as _;

use crate::collections::varint;

use tree::{entry_size, insert_entry, read_entry, write_entry};

/// `zset-max-listpack-entries` / `-value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_value: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_entries: 128,
            max_value: 64,
        }
    }
}

/// Parses a score as Redis's `getDoubleFromObject` does (strtod of the whole argument,
/// no leading space, no NaN, no overflow to infinity or underflow to zero).
pub fn parse_score(arg: &[u8]) -> Option<f64> {
    if let Some(v) = parse_small_integer(arg) {
        return Some(v);
    }
    let text = std::str::from_utf8(arg).ok()?;
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    let unsigned = text.trim_start_matches(['+', '-']);
    if v.is_infinite() && !unsigned.get(..3)?.eq_ignore_ascii_case("inf") {
        return None; // overflow (ERANGE)
    }
    if v == 0.0 {
        let mantissa = unsigned.split(['e', 'E']).next().unwrap_or("");
        if mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return None; // underflow (ERANGE)
        }
    }
    Some(v)
}

/// `-?[0-9]{1,15}`, the commonest score, without the float parser: at most 15 digits
/// are exact in a double, so this is the value strtod gives (`-0` included).
fn parse_small_integer(arg: &[u8]) -> Option<f64> {
    let (neg, digits) = match arg.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, arg),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut n = 0u64;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    let v = n as f64;
    Some(if neg { -v } else { v })
}

/// Parses the number of a range bound as `strtod` does for `zslParseRange` (overflow to
/// infinity allowed, an empty string is 0, leading spaces skipped).
fn parse_bound_number(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if text.is_empty() {
        return Some(0.0);
    }
    let v: f64 = text.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

/// Appends `v` as C's `%.17g` prints it (Redis 7.0's score replies): `inf`, `-inf`,
/// `0.10000000000000001`, `1e+20`.
pub fn format_score(v: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(ScoreText::new(v).as_bytes());
}

/// A score's `%.17g` text on the stack, so that a reply costs no allocation: at most 24
/// bytes (`-1.7976931348623157e+308`, `-0.00012345678901234567`).
pub struct ScoreText {
    buf: [u8; 32],
    len: usize,
}

impl ScoreText {
    pub fn new(v: f64) -> ScoreText {
        let mut t = ScoreText {
            buf: [0; 32],
            len: 0,
        };
        if v.is_infinite() {
            t.extend(if v > 0.0 { b"inf" } else { b"-inf" });
        } else if v == 0.0 {
            t.extend(if v.is_sign_negative() { b"-0" } else { b"0" });
        } else if !t.integral(v) {
            t.general(v);
        }
        t
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    fn extend(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// A whole number below 1e17 prints as its digits (17 significant digits hold all of
    /// them, and `%g` keeps an exponent below the precision in fixed notation): the
    /// commonest score, without formatting a float (Rust's exact formatting fell back to
    /// big-number arithmetic, 3,000 instructions per ZPOPMIN reply).
    fn integral(&mut self, v: f64) -> bool {
        let a = v.abs();
        if a >= 1e17 || (a as u64) as f64 != a {
            return false;
        }
        if v < 0.0 {
            self.push(b'-');
        }
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut n = a as u64;
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.extend(&digits[i..]);
        true
    }

    /// Any other finite, non-zero score.
    fn general(&mut self, v: f64) {
        let mut buf = [0u8; 40];
        let n = {
            let mut c = std::io::Cursor::new(&mut buf[..]);
            let _ = write!(c, "{:.16e}", v);
            c.position() as usize
        };
        let text = &buf[..n];
        let neg = text[0] == b'-';
        let body = if neg { &text[1..] } else { text };
        let e_at = body.iter().position(|&b| b == b'e').unwrap_or(body.len());
        let mut digits = [0u8; 17];
        let mut nd = 0;
        for &b in &body[..e_at] {
            if b.is_ascii_digit() && nd < 17 {
                digits[nd] = b;
                nd += 1;
            }
        }
        let exp: i32 = std::str::from_utf8(&body[e_at + 1..])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        while nd > 1 && digits[nd - 1] == b'0' {
            nd -= 1;
        }
        if neg {
            self.push(b'-');
        }
        if !(-4..17).contains(&exp) {
            self.push(digits[0]);
            if nd > 1 {
                self.push(b'.');
                self.extend(&digits[1..nd]);
            }
            let e = exp.unsigned_abs();
            self.extend(if exp < 0 { b"e-" } else { b"e+" });
            if e >= 100 {
                self.push(b'0' + (e / 100) as u8);
            }
            self.extend(&[b'0' + (e / 10 % 10) as u8, b'0' + (e % 10) as u8]);
        } else if exp >= 0 {
            let int = exp as usize + 1;
            self.extend(&digits[..int.min(nd)]);
            for _ in nd..int {
                self.push(b'0');
            }
            if nd > int {
                self.push(b'.');
                self.extend(&digits[int..nd]);
            }
        } else {
            self.extend(b"0.");
            for _ in 0..(-exp - 1) {
                self.push(b'0');
            }
            self.extend(&digits[..nd]);
        }
    }
}

/// One end of a score range (`5`, `(5`, `-inf`, `+inf`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

impl ScoreBound {
    /// Parses a bound as `ZRANGEBYSCORE` takes it; `None` means Redis's
    /// `ERR min or max is not a float`.
    pub fn parse(arg: &[u8]) -> Option<ScoreBound> {
        match arg.split_first() {
            Some((b'(', rest)) => Some(ScoreBound {
                value: parse_bound_number(rest)?,
                exclusive: true,
            }),
            _ => Some(ScoreBound {
                value: parse_bound_number(arg)?,
                exclusive: false,
            }),
        }
    }

    /// Whether `score` is below this bound taken as a minimum.
    pub fn below_min(&self, score: f64) -> bool {
        if self.exclusive {
            score <= self.value
        } else {
            score < self.value
        }
    }

    /// Whether `score` is within this bound taken as a maximum.
    pub fn within_max(&self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

/// One end of a lex range (`-`, `+`, `[a`, `(a`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LexBound<'a> {
    Min,
    Max,
    Inclusive(&'a [u8]),
    Exclusive(&'a [u8]),
}

impl<'a> LexBound<'a> {
    /// `None` means Redis's `ERR min or max not valid string range item`.
    pub fn parse(arg: &'a [u8]) -> Option<LexBound<'a>> {
        match arg {
            b"+" => Some(LexBound::Max),
            b"-" => Some(LexBound::Min),
            [b'(', rest @ ..] => Some(LexBound::Exclusive(rest)),
            [b'[', rest @ ..] => Some(LexBound::Inclusive(rest)),
            _ => None,
        }
    }

    /// Whether `member` is below this bound taken as a minimum.
    pub fn below_min(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(b) => member < *b,
            LexBound::Exclusive(b) => member <= *b,
        }
    }

    /// Whether `member` is within this bound taken as a maximum.
    pub fn within_max(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(b) => member <= *b,
            LexBound::Exclusive(b) => member < *b,
        }
    }
}

/// A packed sorted set read in place.
#[derive(Clone, Copy, Debug)]
pub struct Packed<'a>(pub &'a [u8]);

impl<'a> Packed<'a> {
    /// An empty packed set.
    pub fn empty() -> Vec<u8> {
        0u32.to_le_bytes().to_vec()
    }

    /// Whether `bytes` is a well-formed packed set (entries in order, no duplicates).
    pub fn validate(bytes: &[u8]) -> bool {
        let Some(count) = bytes.get(..4) else {
            return false;
        };
        let count = u32::from_le_bytes([count[0], count[1], count[2], count[3]]) as usize;
        let mut pos = 4;
        let mut prev: Option<(f64, &[u8])> = None;
        for _ in 0..count {
            if pos + 9 > bytes.len() {
                return false;
            }
            let Some((len, n)) = varint::read_checked(bytes, pos + 8, 9) else {
                return false;
            };
            let i = pos + 8 + n;
            if len > bytes.len() - i {
                return false;
            }
            let (score, s, e) = read_entry(bytes, pos);
            if score.is_nan() {
                return false;
            }
            let key = (score, &bytes[s..e]);
            if prev.is_some_and(|p| cmp_key(p, key) != Ordering::Less) {
                return false;
            }
            prev = Some(key);
            pos = e;
        }
        pos == bytes.len()
    }

    pub fn len(&self) -> usize {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]]) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (index, byte offset, score) of `member`.
    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        let mut pos = 4;
        let mut i = 0;
        while pos < self.0.len() {
            let (score, s, e) = read_entry(self.0, pos);
            if &self.0[s..e] == member {
                return Some((i, pos, score));
            }
            pos = e;
            i += 1;
        }
        None
    }

    /// (index, byte offset) of the first entry for which `before` is false.
    fn lower_bound(&self, before: impl Fn(f64, &[u8]) -> bool) -> (usize, usize) {
        let mut pos = 4;
        let mut i = 0;
        while pos < self.0.len() {
            let (score, s, e) = read_entry(self.0, pos);
            if !before(score, &self.0[s..e]) {
                break;
            }
            pos = e;
            i += 1;
        }
        (i, pos)
    }

    fn offset(&self, index: usize) -> usize {
        let mut pos = 4;
        for _ in 0..index {
            pos = read_entry(self.0, pos).2;
        }
        pos
    }

    pub fn iter(&self) -> PackedIter<'a> {
        PackedIter {
            buf: self.0,
            pos: 4,
        }
    }
}

/// Entries of a packed set in order.
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<(f64, &'a [u8])> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (score, s, e) = read_entry(self.buf, self.pos);
        self.pos = e;
        Some((score, &self.buf[s..e]))
    }
}

/// A sorted set as a command reads it: packed bytes in place, or the tree.
#[derive(Clone, Copy, Debug)]
pub enum ZRef<'a> {
    Packed(Packed<'a>),
    Tree(&'a Tree),
}

impl<'a> ZRef<'a> {
    pub fn len(&self) -> usize {
        match self {
            ZRef::Packed(p) => p.len(),
            ZRef::Tree(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `OBJECT ENCODING`'s name for this form.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZRef::Packed(_) => "listpack",
            ZRef::Tree(_) => "skiplist",
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZRef::Packed(p) => p.find(member).map(|f| f.2),
            ZRef::Tree(t) => t.score(member),
        }
    }

    /// 0-based rank (ascending) and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZRef::Packed(p) => p.find(member).map(|(i, _, s)| (i, s)),
            ZRef::Tree(t) => t.rank(member),
        }
    }

    /// Number of entries before the first for which the monotone `before` is false.
    pub fn count_before(&self, before: impl Fn(f64, &[u8]) -> bool) -> usize {
        match self {
            ZRef::Packed(p) => p.lower_bound(before).0,
            ZRef::Tree(t) => t.count_before(before),
        }
    }

    /// Ranks `[start, end)` of the entries with scores in `min..max`.
    pub fn score_range(&self, min: &ScoreBound, max: &ScoreBound) -> (usize, usize) {
        let start = self.count_before(|s, _| min.below_min(s));
        let end = self.count_before(|s, _| max.within_max(s));
        (start, end.max(start))
    }

    /// Ranks `[start, end)` of the entries with members in `min..max` (members of equal
    /// score, as Redis requires for lex ranges).
    pub fn lex_range(&self, min: &LexBound<'_>, max: &LexBound<'_>) -> (usize, usize) {
        let start = self.count_before(|_, m| min.below_min(m));
        let end = self.count_before(|_, m| max.within_max(m));
        (start, end.max(start))
    }

    /// Entries from rank `rank` on, ascending.
    pub fn iter_from(&self, rank: usize) -> Iter<'a> {
        match self {
            ZRef::Packed(p) => Iter::Packed(PackedIter {
                buf: p.0,
                pos: if rank >= p.len() {
                    p.0.len()
                } else {
                    p.offset(rank)
                },
            }),
            ZRef::Tree(t) => Iter::Tree(t.iter_from(rank)),
        }
    }

    /// Entries from rank `rank` down to rank 0, descending.
    pub fn iter_rev_from(&self, rank: usize) -> RevIter<'a> {
        match self {
            ZRef::Packed(p) => {
                let mut offsets = Vec::new();
                if rank < p.len() {
                    let mut pos = 4;
                    for _ in 0..=rank {
                        offsets.push(pos);
                        pos = read_entry(p.0, pos).2;
                    }
                }
                RevIter::Packed { buf: p.0, offsets }
            }
            ZRef::Tree(t) => RevIter::Tree(t.iter_rev_from(rank)),
        }
    }

    /// The entry of rank `rank < len`.
    pub fn get(&self, rank: usize) -> Option<(f64, &'a [u8])> {
        self.iter_from(rank).next()
    }
}

/// Ascending iterator over either form.
pub enum Iter<'a> {
    Packed(PackedIter<'a>),
    Tree(tree::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<(f64, &'a [u8])> {
        match self {
            Iter::Packed(i) => i.next(),
            Iter::Tree(i) => i.next(),
        }
    }
}

/// Descending iterator over either form.
pub enum RevIter<'a> {
    Packed { buf: &'a [u8], offsets: Vec<usize> },
    Tree(tree::RevIter<'a>),
}

impl<'a> Iterator for RevIter<'a> {
    type Item = (f64, &'a [u8]);

    fn next(&mut self) -> Option<(f64, &'a [u8])> {
        match self {
            RevIter::Packed { buf, offsets } => {
                let pos = offsets.pop()?;
                let (score, s, e) = read_entry(buf, pos);
                Some((score, &buf[s..e]))
            }
            RevIter::Tree(i) => i.next(),
        }
    }
}

/// An owned sorted set that commands change.
#[derive(Clone, Debug)]
pub enum ZSet {
    Packed(Vec<u8>),
    Tree(Box<Tree>),
}

impl Default for ZSet {
    fn default() -> ZSet {
        ZSet::Packed(Packed::empty())
    }
}

impl ZSet {
    /// A new empty set in the form Redis's `zsetTypeCreate` picks for a first member of
    /// `first_len` bytes.
    pub fn new_for(first_len: usize, limits: Limits) -> ZSet {
        if limits.max_entries == 0 || first_len > limits.max_value {
            ZSet::Tree(Box::default())
        } else {
            ZSet::default()
        }
    }

    /// A set built from scratch with `len` members of at most `max_len` bytes, in the
    /// form Redis gives a new set of that size (ZUNIONSTORE, ZRANGESTORE...).
    pub fn new_sized(len: usize, max_len: usize, limits: Limits) -> ZSet {
        if len > limits.max_entries || max_len > limits.max_value {
            ZSet::Tree(Box::default())
        } else {
            ZSet::default()
        }
    }

    pub fn as_ref(&self) -> ZRef<'_> {
        match self {
            ZSet::Packed(b) => ZRef::Packed(Packed(b)),
            ZSet::Tree(t) => ZRef::Tree(t),
        }
    }

    pub fn len(&self) -> usize {
        self.as_ref().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes of the large form, for the memory budget (0 for packed).
    pub fn heap_bytes(&self) -> usize {
        match self {
            ZSet::Packed(_) => 0,
            ZSet::Tree(t) => t.heap_bytes(),
        }
    }

    /// Adds a member that is not in the set, converting to the tree past `limits`.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: Limits) {
        if let ZSet::Packed(buf) = self {
            let p = Packed(buf);
            if p.len() < limits.max_entries && member.len() <= limits.max_value {
                let (_, pos) =
                    p.lower_bound(|s, m| cmp_key((s, m), (score, member)) == Ordering::Less);
                let count = p.len() as u32 + 1;
                // Redis's listpack keeps an integral score as an integer, so -0 reads 0.
                insert_entry(buf, pos, score + 0.0, member);
                buf[..4].copy_from_slice(&count.to_le_bytes());
                return;
            }
            let mut tree = Tree::new();
            for (s, m) in p.iter() {
                tree.insert(m, s);
            }
            *self = ZSet::Tree(Box::new(tree));
        }
        if let ZSet::Tree(t) = self {
            t.insert(member, score);
        }
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Packed(buf) => {
                let (_, pos, score) = Packed(buf).find(member)?;
                remove_packed_at(buf, pos, member.len());
                Some(score)
            }
            ZSet::Tree(t) => t.remove(member),
        }
    }

    /// Changes the score of a member that is in the set.
    pub fn set_score(&mut self, member: &[u8], score: f64, limits: Limits) {
        let found = self.update_score(member, Some(score), limits, |_| Some(score));
        debug_assert!(found.is_some(), "set_score of a member not in the set");
    }

    /// Looks `member` up and gives `f` its score; sets the score `f` returns, if any.
    /// Returns the old score (None, `f` not called: not in the set). `hint`, the score
    /// the member will likely get, lets a tree load the leaf it moves to while the lookup
    /// waits on memory ([`Tree::update_score`]); one lookup serves the read and the write.
    pub fn update_score(
        &mut self,
        member: &[u8],
        hint: Option<f64>,
        limits: Limits,
        f: impl FnOnce(f64) -> Option<f64>,
    ) -> Option<f64> {
        if let ZSet::Tree(t) = self {
            return t.update_score(member, hint, f);
        }
        let cur = self.as_ref().score(member)?;
        if let Some(score) = f(cur) {
            self.remove(member);
            self.insert(member, score, limits);
        }
        Some(cur)
    }

    /// Removes and returns the entry of rank `rank < len`.
    pub fn remove_rank(&mut self, rank: usize) -> (f64, Vec<u8>) {
        match self {
            ZSet::Packed(buf) => {
                let p = Packed(buf);
                let pos = p.offset(rank);
                let (score, s, e) = read_entry(buf, pos);
                let member = buf[s..e].to_vec();
                remove_packed_at(buf, pos, member.len());
                (score, member)
            }
            ZSet::Tree(t) => t.remove_rank(rank),
        }
    }

    /// Removes ranks `[start, end)`.
    pub fn remove_ranks(&mut self, start: usize, end: usize) {
        match self {
            ZSet::Packed(buf) => {
                let p = Packed(buf);
                let (a, b) = (p.offset(start), p.offset(end));
                let count = (p.len() - (end - start)) as u32;
                buf.drain(a..b);
                buf[..4].copy_from_slice(&count.to_le_bytes());
            }
            ZSet::Tree(t) => {
                for _ in start..end {
                    t.remove_rank(start);
                }
            }
        }
    }
}

fn remove_packed_at(buf: &mut Vec<u8>, pos: usize, len: usize) {
    buf.drain(pos..pos + entry_size(len));
    let count = Packed(buf).len() as u32 - 1;
    buf[..4].copy_from_slice(&count.to_le_bytes());
}

/// Appends a packed entry (for building a packed set in order).
pub fn push_packed(buf: &mut Vec<u8>, score: f64, member: &[u8]) {
    write_entry(buf, score, member);
    let count = Packed(buf).len() as u32 + 1;
    buf[..4].copy_from_slice(&count.to_le_bytes());
}

#[cfg(test)]
mod tests;
