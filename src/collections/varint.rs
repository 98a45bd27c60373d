//! The LEB128 varint the packed collection encodings share (7 bits per byte, low group
//! first, high bit set while more follow). Each encoding reads and writes it in place
//! (`compact.rs`, `table.rs`, `list/node.rs`, `zset/node.rs`); its size is computed here,
//! and [`read`] decodes it from the collections' own (trusted, in-memory) bytes. Bytes
//! from outside (a dump being loaded) go through each encoding's checked validator.

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
}
