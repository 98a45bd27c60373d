//! The LEB128 varint the packed collection encodings share (7 bits per byte, low group
//! first, high bit set while more follow). Each encoding reads and writes it in place
//! (`compact.rs`, `table.rs`, `list/node.rs`, `zset/node.rs`); its size is computed here.

/// Bytes the varint of `v` takes (1 for 0..=127).
pub fn len(v: usize) -> usize {
    let bits = usize::BITS - v.leading_zeros();
    (bits.max(1) as usize).div_ceil(7)
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
