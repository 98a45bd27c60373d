//! The LEB128 varint the packed collection encodings share (7 bits per byte, low group
//! first, high bit set while more follow), shared by `compact.rs`, `table.rs`,
//! `list/node.rs` and `zset/node.rs`: [`len`] sizes it, [`write`] / [`push`] encode it,
//! [`read`] decodes the collections' own (trusted, in-memory) bytes, and [`read_checked`]
//! decodes bytes from outside (a dump being loaded) for each encoding's validator.

/// Bytes the varint of `v` takes (1 for 0..=127).
pub fn len(v: usize) -> usize {
    let bits = usize::BITS - v.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
}

/// Reads the varint at `at` of bytes the collection wrote itself: (value, bytes used).
/// Panics past the end of `b` (never for bytes the encodings wrote).
#[inline(always)]
pub fn read(b: &[u8], at: usize) -> (usize, usize) {
    let first = b[at];
    if first < 0x80 {
        return (usize::from(first), 1);
    }
    let mut n = 0usize;
    let mut i = 0;
    loop {
        let byte = b[at + i];
        n |= usize::from(byte & 0x7f) << (7 * i);
        i += 1;
        if byte & 0x80 == 0 || i == 10 {
            return (n, i);
        }
    }
}

/// Writes the varint of `v` at the start of `dst`: bytes used. Panics when `dst` is
/// shorter than [`len`]`(v)` (callers size their room with it first).
#[inline(always)]
pub fn write(dst: &mut [u8], mut v: usize) -> usize {
    let mut i = 0;
    while v >= 0x80 {
        dst[i] = (v & 0x7f) as u8 | 0x80;
        v >>= 7;
        i += 1;
    }
    dst[i] = v as u8;
    i + 1
}

/// Appends the varint of `v` to `out`.
#[inline(always)]
pub fn push(out: &mut Vec<u8>, mut v: usize) {
    while v >= 0x80 {
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads the varint at `at` of untrusted bytes: (value, bytes used), or None when it is
/// cut short by the end of `b` or takes more than `max` bytes (at most 9: 63 bits).
pub fn read_checked(b: &[u8], at: usize, max: usize) -> Option<(usize, usize)> {
    let mut n = 0usize;
    for i in 0..max.min(9) {
        let byte = *b.get(at.checked_add(i)?)?;
        n |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_at_group_boundaries() {
        for (v, n) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (usize::MAX, 10),
        ] {
            assert_eq!(super::len(v), n, "{v}");
        }
    }

    #[test]
    fn written_values_read_back_both_ways() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, 1 << 35, (1 << 63) - 1] {
            let mut slice = [0u8; 10];
            let n = super::write(&mut slice, v);
            let mut vec = vec![7u8];
            super::push(&mut vec, v);
            assert_eq!((n, &vec[1..]), (super::len(v), &slice[..n]), "{v}");
            assert_eq!(super::read(&vec, 1), (v, n), "{v}");
            assert_eq!(super::read_checked(&vec, 1, 9), Some((v, n)), "{v}");
            assert_eq!(super::read_checked(&vec, 1, n), Some((v, n)), "{v}");
            if n > 1 {
                assert_eq!(super::read_checked(&vec, 1, n - 1), None, "{v}: too long");
                assert_eq!(super::read_checked(&vec[..n], 1, 9), None, "{v}: cut short");
            }
        }
        assert_eq!(super::read_checked(&[0x80; 12], 0, 12), None, "ten groups");
        assert_eq!(super::read_checked(&[5], 1, 9), None, "past the end");
    }
}
