//! Decoders for the compact blobs Redis embeds in RDB strings: listpack (Redis ≥ 7.0 for
//! lists, hashes and sorted sets), ziplist (older dumps), intset and zipmap. Every decoder
//! checks bounds against the blob and returns its elements as byte strings (integers in
//! their decimal form, as Redis returns them).

use super::RdbErrorKind;

type Result<T> = std::result::Result<T, RdbErrorKind>;

fn bad(what: &'static str) -> RdbErrorKind {
    RdbErrorKind::Corrupt(what)
}

fn int_bytes(v: i64) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn take<'a>(b: &'a [u8], pos: &mut usize, n: usize, what: &'static str) -> Result<&'a [u8]> {
    let end = pos.checked_add(n).ok_or(bad(what))?;
    let s = b.get(*pos..end).ok_or(bad(what))?;
    *pos = end;
    Ok(s)
}

fn le_int(s: &[u8]) -> i64 {
    // Sign-extend a little-endian integer of 1..=8 bytes.
    let mut v: u64 = 0;
    for (i, &b) in s.iter().enumerate() {
        v |= u64::from(b) << (8 * i);
    }
    let shift = 64 - 8 * s.len() as u32;
    ((v << shift) as i64) >> shift
}

/// Size in bytes of a listpack entry's back-length for an entry of `len` bytes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// A back-length as Redis's `lpDecodeBacklen` reads it, from its last byte backwards:
/// 7 bits per byte, the high bit set on every byte but the first.
fn decode_backlen(back: &[u8]) -> Option<usize> {
    let mut val = 0usize;
    for (i, &byte) in back.iter().rev().enumerate() {
        val |= usize::from(byte & 127) << (7 * i);
        if byte & 128 == 0 {
            return (i + 1 == back.len()).then_some(val);
        }
    }
    None
}

/// The entries of a listpack:
/// `<total u32le> <count u16le> <entry>* 0xff`, each entry `<encoding+data> <backlen>`.
pub fn listpack(b: &[u8]) -> Result<Vec<Vec<u8>>> {
    if b.len() < 7 {
        return Err(bad("listpack shorter than its header"));
    }
    let total = u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")) as usize;
    if total != b.len() {
        return Err(bad("listpack total length does not match its blob"));
    }
    let mut out = Vec::new();
    let mut pos = 6;
    loop {
        let start = pos;
        let first = *b.get(pos).ok_or(bad("listpack without terminator"))?;
        if first == 0xff {
            if pos + 1 != b.len() {
                return Err(bad("listpack has bytes after its terminator"));
            }
            break;
        }
        pos += 1;
        let what = "listpack entry runs past its blob";
        let elem = if first & 0x80 == 0 {
            int_bytes(i64::from(first & 0x7f))
        } else if first & 0xc0 == 0x80 {
            take(b, &mut pos, usize::from(first & 0x3f), what)?.to_vec()
        } else if first & 0xe0 == 0xc0 {
            let lo = take(b, &mut pos, 1, what)?[0];
            let raw = (i64::from(first & 0x1f) << 8) | i64::from(lo);
            int_bytes(if raw >= 1 << 12 { raw - (1 << 13) } else { raw })
        } else if first & 0xf0 == 0xe0 {
            let lo = take(b, &mut pos, 1, what)?[0];
            let len = (usize::from(first & 0x0f) << 8) | usize::from(lo);
            take(b, &mut pos, len, what)?.to_vec()
        } else {
            match first {
                0xf0 => {
                    let l = take(b, &mut pos, 4, what)?;
                    let len = u32::from_le_bytes(l.try_into().expect("4 bytes")) as usize;
                    take(b, &mut pos, len, what)?.to_vec()
                }
                0xf1 => int_bytes(le_int(take(b, &mut pos, 2, what)?)),
                0xf2 => int_bytes(le_int(take(b, &mut pos, 3, what)?)),
                0xf3 => int_bytes(le_int(take(b, &mut pos, 4, what)?)),
                0xf4 => int_bytes(le_int(take(b, &mut pos, 8, what)?)),
                _ => return Err(bad("listpack entry with an unknown encoding")),
            }
        };
        let len = pos - start;
        let back = take(b, &mut pos, backlen_size(len), what)?;
        if decode_backlen(back) != Some(len) {
            return Err(bad("listpack entry back-length does not match the entry"));
        }
        out.push(elem);
    }
    let count = u16::from_le_bytes([b[4], b[5]]);
    if count != u16::MAX && usize::from(count) != out.len() {
        return Err(bad("listpack element count does not match its entries"));
    }
    Ok(out)
}

/// The entries of a ziplist:
/// `<zlbytes u32le> <zltail u32le> <zllen u16le> <entry>* 0xff`, each entry
/// `<prevlen 1|5 bytes> <encoding> <data>`.
pub fn ziplist(b: &[u8]) -> Result<Vec<Vec<u8>>> {
    if b.len() < 11 {
        return Err(bad("ziplist shorter than its header"));
    }
    let total = u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")) as usize;
    if total != b.len() {
        return Err(bad("ziplist total length does not match its blob"));
    }
    let what = "ziplist entry runs past its blob";
    let mut out = Vec::new();
    let mut pos = 10;
    // As Redis's deep check: each entry's prevlen is the previous entry's size (0 for the
    // first), and zltail is where the last entry starts.
    let (mut prev_size, mut last) = (0, None);
    loop {
        let start = pos;
        let first = *b.get(pos).ok_or(bad("ziplist without terminator"))?;
        if first == 0xff {
            if pos + 1 != b.len() {
                return Err(bad("ziplist has bytes after its terminator"));
            }
            break;
        }
        let prevlen = if first < 254 {
            pos += 1;
            usize::from(first)
        } else {
            pos += 1;
            let l = take(b, &mut pos, 4, what)?;
            u32::from_le_bytes(l.try_into().expect("4 bytes")) as usize
        };
        if prevlen != prev_size {
            return Err(bad(
                "ziplist entry prevlen is not the previous entry's size",
            ));
        }
        let enc = *b.get(pos).ok_or(bad(what))?;
        pos += 1;
        let elem = match enc >> 6 {
            0 => take(b, &mut pos, usize::from(enc & 0x3f), what)?.to_vec(),
            1 => {
                let lo = take(b, &mut pos, 1, what)?[0];
                let len = (usize::from(enc & 0x3f) << 8) | usize::from(lo);
                take(b, &mut pos, len, what)?.to_vec()
            }
            2 => {
                let l = take(b, &mut pos, 4, what)?;
                let len = u32::from_be_bytes(l.try_into().expect("4 bytes")) as usize;
                take(b, &mut pos, len, what)?.to_vec()
            }
            _ => match enc {
                0xc0 => int_bytes(le_int(take(b, &mut pos, 2, what)?)),
                0xd0 => int_bytes(le_int(take(b, &mut pos, 4, what)?)),
                0xe0 => int_bytes(le_int(take(b, &mut pos, 8, what)?)),
                0xf0 => int_bytes(le_int(take(b, &mut pos, 3, what)?)),
                0xfe => int_bytes(le_int(take(b, &mut pos, 1, what)?)),
                0xf1..=0xfd => int_bytes(i64::from(enc & 0x0f) - 1),
                _ => return Err(bad("ziplist entry with an unknown encoding")),
            },
        };
        out.push(elem);
        (prev_size, last) = (pos - start, Some(start));
    }
    let tail = u32::from_le_bytes(b[4..8].try_into().expect("4 bytes")) as usize;
    if tail > b.len() - 1 || last.is_some_and(|l| l != tail) {
        return Err(bad("ziplist tail offset is not its last entry"));
    }
    let count = u16::from_le_bytes([b[8], b[9]]);
    if count != u16::MAX && usize::from(count) != out.len() {
        return Err(bad("ziplist element count does not match its entries"));
    }
    Ok(out)
}

/// The members of an intset: `<encoding u32le: 2|4|8> <length u32le> <members, le>`.
pub fn intset(b: &[u8]) -> Result<Vec<Vec<u8>>> {
    if b.len() < 8 {
        return Err(bad("intset shorter than its header"));
    }
    let width = u32::from_le_bytes(b[0..4].try_into().expect("4 bytes")) as usize;
    let len = u32::from_le_bytes(b[4..8].try_into().expect("4 bytes")) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err(bad("intset with an unknown encoding"));
    }
    if len.checked_mul(width) != Some(b.len() - 8) {
        return Err(bad("intset length does not match its blob"));
    }
    Ok(b[8..]
        .chunks_exact(width)
        .map(|c| int_bytes(le_int(c)))
        .collect())
}

/// The field/value pairs of a zipmap (Redis < 2.6 hashes):
/// `<zmlen u8> (<len> <key> <len> <free u8> <value> <free bytes>)* 0xff`, where a length
/// is one byte below 254 or 254 followed by a u32le.
pub fn zipmap(b: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let what = "zipmap entry runs past its blob";
    let mut pos = 1;
    let mut out = Vec::new();
    let read_len = |pos: &mut usize| -> Result<Option<usize>> {
        let first = *b.get(*pos).ok_or(bad(what))?;
        *pos += 1;
        match first {
            0xff => Ok(None),
            254 => {
                let l = take(b, pos, 4, what)?;
                Ok(Some(
                    u32::from_le_bytes(l.try_into().expect("4 bytes")) as usize
                ))
            }
            253 => Err(bad("zipmap length byte 253 is reserved")),
            n => Ok(Some(usize::from(n))),
        }
    };
    while let Some(klen) = read_len(&mut pos)? {
        let key = take(b, &mut pos, klen, what)?.to_vec();
        let vlen = read_len(&mut pos)?.ok_or(bad("zipmap key without a value"))?;
        let free = usize::from(take(b, &mut pos, 1, what)?[0]);
        let value = take(b, &mut pos, vlen, what)?.to_vec();
        take(b, &mut pos, free, what)?;
        out.push((key, value));
    }
    if pos != b.len() {
        return Err(bad("zipmap has bytes after its terminator"));
    }
    if out.is_empty() {
        // Redis's zipmapValidateIntegrity refuses an empty zipmap.
        return Err(bad("empty zipmap"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    /// A listpack built by hand: "a", 5 (7-bit), -100 (13-bit), 1000000 (int24),
    /// a 70-byte string (12-bit length), i64::MIN.
    #[test]
    fn listpack_every_encoding() {
        let long = "x".repeat(70);
        let mut body = vec![0x81, b'a', 2, 5, 1];
        let m100 = (1i32 << 13) - 100;
        body.extend_from_slice(&[0xc0 | (m100 >> 8) as u8, (m100 & 0xff) as u8, 2]);
        body.extend_from_slice(&[0xf2, 0x40, 0x42, 0x0f, 4]);
        body.extend_from_slice(&[0xe0, 70]);
        body.extend_from_slice(long.as_bytes());
        body.push(72);
        body.push(0xf4);
        body.extend_from_slice(&i64::MIN.to_le_bytes());
        body.push(9);
        body.push(0xff);
        let mut lp = ((body.len() + 6) as u32).to_le_bytes().to_vec();
        lp.extend_from_slice(&6u16.to_le_bytes());
        lp.extend_from_slice(&body);
        let want = v(&["a", "5", "-100", "1000000", &long, &i64::MIN.to_string()]);
        assert_eq!(listpack(&lp).unwrap(), want);
        // Any truncation is an error, never a panic.
        for cut in 0..lp.len() {
            assert!(listpack(&lp[..cut]).is_err());
        }
    }

    #[test]
    fn ziplist_every_encoding() {
        let mut body = vec![0, 0x02, b'h', b'i'];
        body.extend_from_slice(&[4, 0xfe, 0x9c]); // -100 as int8
        body.extend_from_slice(&[3, 0xf4]); // immediate 3
        body.extend_from_slice(&[2, 0xc0, 0xe8, 0x03]); // 1000 int16
        body.extend_from_slice(&[4, 0xe0]);
        body.extend_from_slice(&(-5_000_000_000i64).to_le_bytes());
        body.push(0xff);
        let mut zl = ((body.len() + 10) as u32).to_le_bytes().to_vec();
        zl.extend_from_slice(&23u32.to_le_bytes()); // the last entry's offset
        zl.extend_from_slice(&5u16.to_le_bytes());
        zl.extend_from_slice(&body);
        assert_eq!(
            ziplist(&zl).unwrap(),
            v(&["hi", "-100", "3", "1000", "-5000000000"])
        );
        for cut in 0..zl.len() {
            assert!(ziplist(&zl[..cut]).is_err());
        }
        // A wrong zltail, or a prevlen that is not the previous entry's size, is refused
        // as Redis's deep check refuses it (the elements would still decode).
        let mut bad_tail = zl.clone();
        bad_tail[4] = 19;
        assert!(ziplist(&bad_tail).is_err());
        let mut bad_prev = zl.clone();
        bad_prev[14] = 5; // the second entry's prevlen: the first is 4 bytes
        assert!(ziplist(&bad_prev).is_err());
        let mut first_prev = zl.clone();
        first_prev[10] = 1;
        assert!(ziplist(&first_prev).is_err());
    }

    #[test]
    fn listpack_back_length_must_match() {
        // "ab" (3 bytes) then 7: back-lengths 3 and 1.
        let lp = b"\x0d\x00\x00\x00\x02\x00\x82ab\x03\x07\x01\xff";
        assert_eq!(listpack(lp).unwrap(), v(&["ab", "7"]));
        let mut bad = lp.to_vec();
        bad[9] = 4;
        assert!(listpack(&bad).is_err());
        // A back-length byte with the continuation bit where one byte is expected.
        bad[9] = 0x83;
        assert!(listpack(&bad).is_err());
        assert_eq!(decode_backlen(&[1, 0x80 | 3]), Some(131));
        assert_eq!(decode_backlen(&[0x81]), None);
    }

    #[test]
    fn intset_widths() {
        let mut b = 4u32.to_le_bytes().to_vec();
        b.extend_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&(-7i32).to_le_bytes());
        b.extend_from_slice(&70000i32.to_le_bytes());
        assert_eq!(intset(&b).unwrap(), v(&["-7", "70000"]));
        assert!(intset(&b[..b.len() - 1]).is_err());
    }

    #[test]
    fn zipmap_pairs() {
        let b = [2, 1, b'a', 2, 1, b'x', b'y', 0, 1, b'b', 1, 0, b'z', 0xff];
        assert_eq!(
            zipmap(&b).unwrap(),
            vec![
                (b"a".to_vec(), b"xy".to_vec()),
                (b"b".to_vec(), b"z".to_vec())
            ]
        );
        assert!(zipmap(&b[..5]).is_err());
    }
}
