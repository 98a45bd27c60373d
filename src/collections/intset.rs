//! The intset encoding: a small set whose members are all integers, as a sorted array of
//! fixed-width little-endian numbers (Redis's intset), stored as the bytes of one slab item.
//!
//! ```text
//!  0  width  u8   2, 4 or 8: bytes per member, the narrowest that holds them all
//!  1  members     sorted ascending, `width` bytes each, little endian
//! ```
//!
//! The first byte tells an intset from a compact value (whose tag is 0xC1). Membership is a
//! binary search; an insert moves the tail (and widens every member when a wider number
//! arrives), which is why sets leave this form past `set-max-intset-entries` (512).
//!
//! Only canonical decimal text is a member here (what Redis's `string2ll` accepts: no `+`,
//! no leading zeros, no spaces, no `-0`), so a member reads back exactly as it was written.

/// An intset's bytes, read-only.
#[derive(Clone, Copy, Debug)]
pub struct IntSet<'a> {
    bytes: &'a [u8],
}

/// Whether a first byte is an intset width.
pub fn is_intset(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(2 | 4 | 8))
}

/// Parses canonical decimal text as Redis's `string2ll` does.
pub fn parse_member(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || neg) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > 1u64 << 63 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Decimal text of `v` into `buf`; returns the used part.
pub fn format_member(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

fn width_for(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

fn read_at(bytes: &[u8], width: usize, i: usize) -> i64 {
    let at = 1 + i * width;
    let b = &bytes[at..at + width];
    match width {
        2 => i64::from(i16::from_le_bytes([b[0], b[1]])),
        4 => i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
    }
}

fn write_at(bytes: &mut [u8], width: usize, i: usize, v: i64) {
    let at = 1 + i * width;
    let le = v.to_le_bytes();
    bytes[at..at + width].copy_from_slice(&le[..width]);
}

impl<'a> IntSet<'a> {
    /// A view of `bytes`, or None when they are not an intset.
    pub fn new(bytes: &'a [u8]) -> Option<IntSet<'a>> {
        is_intset(bytes).then_some(IntSet { bytes })
    }

    fn width(&self) -> usize {
        usize::from(self.bytes[0])
    }

    pub fn len(&self) -> usize {
        (self.bytes.len() - 1) / self.width()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th smallest member.
    pub fn get(&self, i: usize) -> i64 {
        read_at(self.bytes, self.width(), i)
    }

    /// Index of `v`, or where it would go.
    pub fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Members in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + 'a {
        let view = *self;
        (0..view.len()).map(move |i| view.get(i))
    }
}

/// An editable intset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntSetBuf {
    bytes: Vec<u8>,
}

impl Default for IntSetBuf {
    fn default() -> Self {
        IntSetBuf::new()
    }
}

impl IntSetBuf {
    pub fn new() -> IntSetBuf {
        IntSetBuf { bytes: vec![2] }
    }

    /// A copy of an intset's bytes (None when they are not one).
    pub fn from_bytes(bytes: &[u8]) -> Option<IntSetBuf> {
        IntSet::new(bytes)?;
        Some(IntSetBuf {
            bytes: bytes.to_vec(),
        })
    }

    pub fn view(&self) -> IntSet<'_> {
        IntSet { bytes: &self.bytes }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.len() == 1
    }

    /// Adds `v`; false when it was already a member.
    pub fn insert(&mut self, v: i64) -> bool {
        let Err(at) = self.view().search(v) else {
            return false;
        };
        let width = usize::from(self.bytes[0]);
        let need = width_for(v);
        if usize::from(need) > width {
            self.widen(need);
        }
        let width = usize::from(self.bytes[0]);
        let old_len = self.bytes.len();
        self.bytes.resize(old_len + width, 0);
        let from = 1 + at * width;
        self.bytes.copy_within(from..old_len, from + width);
        write_at(&mut self.bytes, width, at, v);
        true
    }

    fn widen(&mut self, to: u8) {
        let view = self.view();
        let members: Vec<i64> = view.iter().collect();
        let width = usize::from(to);
        let mut bytes = vec![0u8; 1 + members.len() * width];
        bytes[0] = to;
        for (i, v) in members.into_iter().enumerate() {
            write_at(&mut bytes, width, i, v);
        }
        self.bytes = bytes;
    }

    /// Removes `v`; false when it was not a member.
    pub fn remove(&mut self, v: i64) -> bool {
        let Ok(at) = self.view().search(v) else {
            return false;
        };
        self.remove_at(at);
        true
    }

    /// Removes the `i`-th smallest member and returns it.
    pub fn remove_at(&mut self, i: usize) -> i64 {
        let v = self.view().get(i);
        let width = usize::from(self.bytes[0]);
        let from = 1 + i * width;
        self.bytes.drain(from..from + width);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn parse_is_redis_string2ll() {
        for ok in [
            "0",
            "-1",
            "9223372036854775807",
            "-9223372036854775808",
            "42",
        ] {
            assert_eq!(parse_member(ok.as_bytes()), ok.parse().ok(), "{ok}");
        }
        for bad in [
            "",
            "-",
            "+1",
            "01",
            "-0",
            " 1",
            "1 ",
            "1.0",
            "9223372036854775808",
            "0x10",
            "-9223372036854775809",
            "12345678901234567890",
        ] {
            assert_eq!(parse_member(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn format_round_trips() {
        let mut buf = [0u8; 20];
        for v in [0, 1, -1, i64::MIN, i64::MAX, 1234567] {
            assert_eq!(format_member(v, &mut buf), v.to_string().as_bytes());
        }
    }

    #[test]
    fn widens_as_redis_does() {
        let mut s = IntSetBuf::new();
        assert!(s.insert(5));
        assert!(s.insert(-3));
        assert!(!s.insert(5));
        assert_eq!(s.as_bytes(), &[2, 0xfd, 0xff, 5, 0]);
        assert!(s.insert(70_000));
        assert_eq!(s.as_bytes()[0], 4);
        assert!(s.insert(i64::MIN));
        assert_eq!(s.as_bytes()[0], 8);
        assert_eq!(
            s.view().iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 5, 70_000]
        );
        assert!(s.remove(-3));
        assert!(!s.remove(-3));
        assert_eq!(s.len(), 3);
    }

    proptest! {
        #[test]
        fn matches_a_btreeset(ops in proptest::collection::vec((any::<bool>(), prop_oneof![-300i64..300, any::<i64>()]), 0..200)) {
            let mut model = BTreeSet::new();
            let mut s = IntSetBuf::new();
            for (add, v) in ops {
                if add {
                    prop_assert_eq!(s.insert(v), model.insert(v));
                } else {
                    prop_assert_eq!(s.remove(v), model.remove(&v));
                }
                prop_assert_eq!(s.view().iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            }
        }
    }
}
