//! Reply composer: status lines, VALUE headers and numbers written straight into the
//! connection's output buffer, with no intermediate allocation.

use super::Error;

/// A fixed reply line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    Stored,
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    Ok,
    End,
    Reset,
    NonNumeric,
    NoMemory,
    TooLarge,
    /// Meta codes.
    MetaNoop,
    Error(Error),
}

impl Reply {
    pub fn line(self) -> &'static [u8] {
        match self {
            Reply::Stored => b"STORED",
            Reply::NotStored => b"NOT_STORED",
            Reply::Exists => b"EXISTS",
            Reply::NotFound => b"NOT_FOUND",
            Reply::Deleted => b"DELETED",
            Reply::Touched => b"TOUCHED",
            Reply::Ok => b"OK",
            Reply::End => b"END",
            Reply::Reset => b"RESET",
            Reply::NonNumeric => b"CLIENT_ERROR cannot increment or decrement non-numeric value",
            Reply::NoMemory => b"SERVER_ERROR out of memory storing object",
            Reply::TooLarge => b"SERVER_ERROR object too large for cache",
            Reply::MetaNoop => b"MN",
            Reply::Error(e) => e.wire(),
        }
    }

    /// Appends the line and its `\r\n`.
    pub fn write(self, out: &mut Vec<u8>) {
        let line = self.line();
        if !line.is_empty() {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// `00` to `99`, for writing numbers two digits at a time.
pub static DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// Appends `v` in decimal, two digits at a time (half the divisions of one at a time;
/// `watch` lines hold five numbers each). Up to eight digits (a `watch` line's micros,
/// gid, class, fd, size and ttl; a reply's flags and length) are appended as one
/// fixed-size piece, without the stack buffer and the variable-length copy (a `memcpy`
/// call) of longer numbers.
pub fn write_u64(out: &mut Vec<u8>, v: u64) {
    let pair = |p: u64| DIGIT_PAIRS[p as usize];
    let digit = |d: u64| b'0' + d as u8;
    match v {
        0..=9 => out.push(digit(v)),
        10..=99 => out.extend_from_slice(&pair(v)),
        100..=999 => {
            let [b, c] = pair(v % 100);
            out.extend_from_slice(&[digit(v / 100), b, c]);
        }
        1_000..=9_999 => {
            let ([a, b], [c, d]) = (pair(v / 100), pair(v % 100));
            out.extend_from_slice(&[a, b, c, d]);
        }
        10_000..=99_999_999 => {
            let (high, low) = (v / 10_000, v % 10_000);
            let ([c, d], [e, f]) = (pair(low / 100), pair(low % 100));
            match high {
                0..=9 => out.extend_from_slice(&[digit(high), c, d, e, f]),
                10..=99 => {
                    let [a, b] = pair(high);
                    out.extend_from_slice(&[a, b, c, d, e, f]);
                }
                100..=999 => {
                    let [a, b] = pair(high % 100);
                    out.extend_from_slice(&[digit(high / 100), a, b, c, d, e, f]);
                }
                _ => {
                    let ([a, b], [g, h]) = (pair(high / 100), pair(high % 100));
                    out.extend_from_slice(&[a, b, g, h, c, d, e, f]);
                }
            }
        }
        _ => write_long(out, v),
    }
}

/// [`write_u64`] for nine digits or more.
fn write_long(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[(v % 100) as usize]);
        v /= 100;
    }
    if v >= 10 {
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[v as usize]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends `v` in decimal with a leading `-` when negative.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        let edges = [
            0u64,
            7,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            12345,
            1234567890,
            u64::MAX,
        ];
        let powers = (0..20).flat_map(|p| [10u64.pow(p) - 1, 10u64.pow(p)]);
        for v in edges.into_iter().chain(powers) {
            out.clear();
            write_u64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
            // After other bytes, as in a line: only the number's digits are added.
            out.clear();
            out.extend_from_slice(b"x=");
            write_u64(&mut out, v);
            assert_eq!(out, format!("x={v}").as_bytes());
        }
        for v in [0i64, -1, -30, i64::MIN, i64::MAX] {
            out.clear();
            write_i64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
    }

    #[test]
    fn lines() {
        let mut out = Vec::new();
        Reply::Stored.write(&mut out);
        Reply::Error(Error::BadDataChunk).write(&mut out);
        Reply::Error(Error::LineTooLong).write(&mut out);
        assert_eq!(out, b"STORED\r\nCLIENT_ERROR bad data chunk\r\n");
    }
}
