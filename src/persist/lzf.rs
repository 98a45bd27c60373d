//! LZF, the compression Redis applies to RDB strings longer than 20 bytes
//! (`rdbcompression yes`). The stream is a sequence of runs, each led by a control byte:
//!
//! ```text
//! 000LLLLL <L+1 literal bytes>                      literal run, 1..=32 bytes
//! LLLOOOOO OOOOOOOO                                 back reference, length L+2 (L < 7)
//! 111OOOOO LLLLLLLL OOOOOOOO                        back reference, length 7+L+2
//! ```
//!
//! where the offset O (13 bits, high part in the control byte) means "copy from O+1 bytes
//! before the current output position"; references may overlap their own output.

/// Longest back reference: 7 + 255 + 2 bytes.
const MAX_REF: usize = 264;
/// Farthest back reference: 8192 bytes.
const MAX_OFF: usize = 1 << 13;
/// Longest literal run.
const MAX_LIT: usize = 32;
const HASH_BITS: u32 = 14;

/// Why a compressed string could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LzfError {
    #[error("LZF data is truncated")]
    Truncated,
    #[error("LZF back reference points before the start of the output")]
    BadReference,
    #[error("LZF output would exceed the declared length")]
    Overflow,
    #[error("LZF output is shorter than the declared length")]
    Short,
}

/// Expands `input` into exactly `expected_len` bytes.
pub fn decompress(input: &[u8], expected_len: usize) -> Result<Vec<u8>, LzfError> {
    // The declared length comes from the file; reserve at most what the input can expand to
    // (a back reference turns 2 bytes into at most 264).
    let mut out = Vec::with_capacity(expected_len.min(input.len().saturating_mul(132) + 64));
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let len = ctrl + 1;
            let lit = input.get(ip..ip + len).ok_or(LzfError::Truncated)?;
            if out.len() + len > expected_len {
                return Err(LzfError::Overflow);
            }
            out.extend_from_slice(lit);
            ip += len;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += usize::from(*input.get(ip).ok_or(LzfError::Truncated)?);
                ip += 1;
            }
            len += 2;
            let low = usize::from(*input.get(ip).ok_or(LzfError::Truncated)?);
            ip += 1;
            let dist = ((ctrl & 0x1f) << 8) + low + 1;
            if dist > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > expected_len {
                return Err(LzfError::Overflow);
            }
            let start = out.len() - dist;
            if dist >= len {
                out.extend_from_within(start..start + len);
            } else {
                for i in 0..len {
                    let b = out[start + i];
                    out.push(b);
                }
            }
        }
    }
    if out.len() != expected_len {
        return Err(LzfError::Short);
    }
    Ok(out)
}

fn hash3(b: &[u8]) -> usize {
    let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
    (v.wrapping_mul(2_654_435_761) >> (32 - HASH_BITS)) as usize
}

/// The match table of [`compress`], kept per thread: clearing a fresh 16K-entry table for
/// every string cost more than compressing a 256-byte value (a quarter of a save's time).
struct Table {
    /// Per hash: the call's generation (high 32 bits) and position + 1 of the last 3-byte
    /// sequence seen with it; an entry of another generation counts as empty.
    slots: Box<[u64]>,
    generation: u32,
}

impl Table {
    /// Starts a call: every entry becomes empty.
    fn next_call(&mut self) -> u64 {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slots.fill(0);
            self.generation = 1;
        }
        u64::from(self.generation) << 32
    }
}

thread_local! {
    static TABLE: std::cell::RefCell<Table> = std::cell::RefCell::new(Table {
        slots: vec![0u64; 1 << HASH_BITS].into_boxed_slice(),
        generation: 0,
    });
}

/// Compresses `input` into `out` (cleared first). Returns false when the result would not
/// fit in `max_len` bytes (Redis then stores the string uncompressed).
pub fn compress(input: &[u8], out: &mut Vec<u8>, max_len: usize) -> bool {
    out.clear();
    if input.is_empty() {
        return false;
    }
    TABLE.with(|t| compress_with(&mut t.borrow_mut(), input, out, max_len))
}

fn compress_with(t: &mut Table, input: &[u8], out: &mut Vec<u8>, max_len: usize) -> bool {
    let gen = t.next_call();
    let table = &mut t.slots;
    let mut lit_start = 0;
    let mut ip = 0;
    while ip + 2 < input.len() {
        let h = hash3(&input[ip..]);
        let slot = table[h];
        let candidate = if slot >> 32 == gen >> 32 {
            (slot & 0xffff_ffff) as usize
        } else {
            0
        };
        table[h] = gen | (ip + 1) as u64;
        if candidate > 0 {
            let r = candidate - 1;
            let dist = ip - r;
            if dist <= MAX_OFF && input[r..r + 3] == input[ip..ip + 3] {
                let max = (input.len() - ip).min(MAX_REF);
                let mut len = 3;
                while len < max && input[r + len] == input[ip + len] {
                    len += 1;
                }
                push_literals(out, &input[lit_start..ip]);
                let off = dist - 1;
                let l = len - 2;
                if l < 7 {
                    out.push(((l << 5) | (off >> 8)) as u8);
                } else {
                    out.push(((7 << 5) | (off >> 8)) as u8);
                    out.push((l - 7) as u8);
                }
                out.push((off & 0xff) as u8);
                if out.len() > max_len {
                    return false;
                }
                ip += len;
                lit_start = ip;
                continue;
            }
        }
        ip += 1;
    }
    push_literals(out, &input[lit_start..]);
    out.len() <= max_len
}

fn push_literals(out: &mut Vec<u8>, mut lit: &[u8]) {
    while !lit.is_empty() {
        let n = lit.len().min(MAX_LIT);
        out.push((n - 1) as u8);
        out.extend_from_slice(&lit[..n]);
        lit = &lit[n..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn repetitive_data_shrinks_and_round_trips() {
        let input = b"abcabcabcabcabcabcabcabcabcabcabcabcabcabcabc hello hello hello".repeat(40);
        let mut out = Vec::new();
        assert!(compress(&input, &mut out, input.len() - 4));
        assert!(out.len() < input.len() / 4);
        assert_eq!(decompress(&out, input.len()).unwrap(), input);
    }

    #[test]
    fn literal_only_stream() {
        // "ab" as one literal run of 2 bytes.
        assert_eq!(decompress(&[1, b'a', b'b'], 2).unwrap(), b"ab");
        // 'a' then a back reference of length 2+2=4 at distance 1: "aaaaa".
        assert_eq!(decompress(&[0, b'a', 2 << 5, 0], 5).unwrap(), b"aaaaa");
    }

    #[test]
    fn corrupt_streams_are_errors() {
        assert_eq!(decompress(&[5, b'a'], 6), Err(LzfError::Truncated));
        assert_eq!(decompress(&[1 << 5, 10], 3), Err(LzfError::BadReference));
        assert_eq!(decompress(&[0, b'a'], 3), Err(LzfError::Short));
        assert_eq!(
            decompress(&[2, b'a', b'b', b'c'], 2),
            Err(LzfError::Overflow)
        );
    }

    #[test]
    fn incompressible_input_is_refused() {
        let input: Vec<u8> = (0..64u32).map(|i| (i * 97 % 251) as u8).collect();
        let mut out = Vec::new();
        assert!(!compress(&input, &mut out, input.len() - 4));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), any::<u8>()], 1..3000)) {
            let mut out = Vec::new();
            if compress(&data, &mut out, data.len() * 2 + 64) {
                prop_assert_eq!(decompress(&out, data.len()).unwrap(), data);
            }
        }
    }
}
