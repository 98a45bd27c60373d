//! Reply encoding, RESP2 or RESP3 (chosen per connection by `HELLO`).
//!
//! Everything is appended to the connection's output buffer; numbers are formatted on the
//! stack, so a reply costs no allocation beyond the buffer's own growth.

use std::io::Write as _;

/// Appends replies to `out` in the connection's protocol version.
pub struct Writer<'a> {
    pub out: &'a mut Vec<u8>,
    /// RESP3 (after `HELLO 3`): maps, `_` nulls, doubles, booleans, verbatim strings.
    pub resp3: bool,
}

/// Formats `v` in decimal into the end of `buf`, returning the digits.
fn decimal(v: i64, buf: &mut [u8; 20]) -> &[u8] {
    let i = digits_before(v.unsigned_abs(), buf, 20);
    if v < 0 {
        buf[i - 1] = b'-';
        return &buf[i - 1..];
    }
    &buf[i..]
}

/// Writes `n` in decimal so that it ends at `end` of `buf`: where the digits start. Two
/// digits per step (a reply's lengths and counts are mostly one or two digits long, and
/// each step is one multiply-shift division).
#[inline]
fn digits_before(mut n: u64, buf: &mut [u8], end: usize) -> usize {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut i = end;
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    i
}

impl Writer<'_> {
    /// `<prefix>n\r\n`, built on the stack and appended at once (one capacity check, not
    /// three: a 600-element LRANGE writes 601 of these).
    fn line(&mut self, prefix: u8, n: i64) {
        if (0..10).contains(&n) {
            // A fixed-size append is a store, not a call to memcpy.
            self.out
                .extend_from_slice(&[prefix, b'0' + n as u8, b'\r', b'\n']);
            return;
        }
        let mut buf = [0u8; 24];
        buf[22..].copy_from_slice(b"\r\n");
        let mut i = digits_before(n.unsigned_abs(), &mut buf, 22);
        if n < 0 {
            i -= 1;
            buf[i] = b'-';
        }
        buf[i - 1] = prefix;
        self.out.extend_from_slice(&buf[i - 1..]);
    }

    /// `+text`
    pub fn simple(&mut self, text: &[u8]) {
        self.out.push(b'+');
        self.out.extend_from_slice(text);
        self.out.extend_from_slice(b"\r\n");
    }

    pub fn ok(&mut self) {
        self.out.extend_from_slice(b"+OK\r\n");
    }

    /// `-message`; the message starts with its code (`ERR …`, `WRONGTYPE …`). Line breaks
    /// in it become spaces, as Redis does, so the reply stays one line.
    pub fn error(&mut self, message: &[u8]) {
        self.out.push(b'-');
        self.out.extend(
            message
                .iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
        );
        self.out.extend_from_slice(b"\r\n");
    }

    /// An error built from format arguments (no allocation: `Vec` implements `io::Write`).
    pub fn error_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        let start = self.out.len();
        self.out.push(b'-');
        let _ = self.out.write_fmt(args);
        for c in &mut self.out[start + 1..] {
            if *c == b'\r' || *c == b'\n' {
                *c = b' ';
            }
        }
        self.out.extend_from_slice(b"\r\n");
    }

    /// `:n`
    pub fn integer(&mut self, n: i64) {
        self.line(b':', n);
    }

    /// `$len\r\nbytes\r\n`
    pub fn bulk(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        self.out.reserve(n + 25);
        if (10..100).contains(&n) {
            let (tens, ones) = (b'0' + (n / 10) as u8, b'0' + (n % 10) as u8);
            self.out
                .extend_from_slice(&[b'$', tens, ones, b'\r', b'\n']);
        } else {
            self.bulk_header(n);
        }
        self.out.extend_from_slice(bytes);
        self.out.extend_from_slice(b"\r\n");
    }

    /// A bulk string holding `n` in decimal.
    pub fn bulk_integer(&mut self, n: i64) {
        let mut buf = [0u8; 20];
        let digits = decimal(n, &mut buf);
        self.bulk_header(digits.len());
        self.out.extend_from_slice(digits);
        self.out.extend_from_slice(b"\r\n");
    }

    /// The header of a bulk string whose body the caller appends, followed by [`Self::crlf`].
    pub fn bulk_header(&mut self, len: usize) {
        self.line(b'$', len as i64);
    }

    pub fn crlf(&mut self) {
        self.out.extend_from_slice(b"\r\n");
    }

    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        self.out
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// A missing array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        self.out
            .extend_from_slice(if self.resp3 { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// `*n`: `n` replies follow.
    pub fn array(&mut self, n: usize) {
        self.line(b'*', n as i64);
    }

    /// `>n` (a push: Pub/Sub messages, invalidations) in RESP3; an array in RESP2.
    pub fn push(&mut self, n: usize) {
        self.line(if self.resp3 { b'>' } else { b'*' }, n as i64);
    }

    /// `%n` in RESP3; a flat array of `2n` elements in RESP2. `n` key/value pairs follow.
    pub fn map(&mut self, n: usize) {
        if self.resp3 {
            self.line(b'%', n as i64);
        } else {
            self.line(b'*', 2 * n as i64);
        }
    }

    /// `~n` in RESP3; an array in RESP2.
    pub fn set(&mut self, n: usize) {
        self.line(if self.resp3 { b'~' } else { b'*' }, n as i64);
    }

    /// `,1.5` in RESP3 (`inf`, `-inf`, `nan`); a bulk string of the same text in RESP2.
    pub fn double(&mut self, v: f64) {
        let mut buf = [0u8; 400];
        let len = {
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            let _ = if v.is_nan() {
                cursor.write_all(b"nan")
            } else if v.is_infinite() {
                cursor.write_all(if v > 0.0 { b"inf" } else { b"-inf" })
            } else {
                write!(cursor, "{v}")
            };
            cursor.position() as usize
        };
        if self.resp3 {
            self.out.push(b',');
            self.out.extend_from_slice(&buf[..len]);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(&buf[..len]);
        }
    }

    /// `#t`/`#f` in RESP3; `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, v: bool) {
        if self.resp3 {
            self.out
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.integer(i64::from(v));
        }
    }

    /// A verbatim string (`=len\r\ntxt:…`) in RESP3, a bulk string in RESP2. `format` is
    /// `txt` or `mkd`.
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        if self.resp3 {
            self.line(b'=', text.len() as i64 + 4);
            self.out.extend_from_slice(format);
            self.out.push(b':');
            self.out.extend_from_slice(text);
            self.out.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut Writer<'_>)) -> (String, String) {
        let mut a = Vec::new();
        f(&mut Writer {
            out: &mut a,
            resp3: false,
        });
        let mut b = Vec::new();
        f(&mut Writer {
            out: &mut b,
            resp3: true,
        });
        (String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap())
    }

    fn same(f: impl Fn(&mut Writer<'_>), want: &str) {
        assert_eq!(both(f), (want.to_string(), want.to_string()));
    }

    #[test]
    fn numbers_print_in_decimal_at_every_width() {
        let mut cases = vec![0i64, 1, 9, 10, 99, 100, 101, 999, 1000, i64::MAX, i64::MIN];
        let mut p = 1i64;
        while let Some(q) = p.checked_mul(10) {
            cases.extend([p - 1, p, p + 1, q / 2 + 7]);
            p = q;
        }
        for n in cases.into_iter().flat_map(|n| [n, n.wrapping_neg()]) {
            same(|w| w.integer(n), &format!(":{n}\r\n"));
            same(
                |w| w.bulk_integer(n),
                &format!("${}\r\n{n}\r\n", n.to_string().len()),
            );
        }
        same(|w| w.array(600), "*600\r\n");
        same(|w| w.bulk(b"abc"), "$3\r\nabc\r\n");
    }

    #[test]
    fn types_common_to_both_versions() {
        same(|w| w.simple(b"PONG"), "+PONG\r\n");
        same(|w| w.ok(), "+OK\r\n");
        same(|w| w.error(b"ERR syntax error"), "-ERR syntax error\r\n");
        same(|w| w.error(b"ERR a\r\nb"), "-ERR a  b\r\n");
        same(
            |w| w.error_fmt(format_args!("ERR unknown command '{}'", "x\ny")),
            "-ERR unknown command 'x y'\r\n",
        );
        same(|w| w.integer(0), ":0\r\n");
        same(|w| w.integer(-42), ":-42\r\n");
        same(|w| w.integer(i64::MIN), ":-9223372036854775808\r\n");
        same(|w| w.integer(i64::MAX), ":9223372036854775807\r\n");
        same(|w| w.bulk(b""), "$0\r\n\r\n");
        same(|w| w.bulk(b"a\r\nb"), "$4\r\na\r\nb\r\n");
        same(|w| w.bulk_integer(-15), "$3\r\n-15\r\n");
        same(|w| w.array(3), "*3\r\n");
        same(
            |w| {
                w.bulk_header(3);
                w.out.extend_from_slice(b"abc");
                w.crlf();
            },
            "$3\r\nabc\r\n",
        );
    }

    #[test]
    fn types_that_differ_in_resp3() {
        assert_eq!(both(|w| w.null()), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|w| w.null_array()), ("*-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|w| w.map(2)), ("*4\r\n".into(), "%2\r\n".into()));
        assert_eq!(both(|w| w.set(2)), ("*2\r\n".into(), "~2\r\n".into()));
        assert_eq!(
            both(|w| w.double(1.5)),
            ("$3\r\n1.5\r\n".into(), ",1.5\r\n".into())
        );
        assert_eq!(
            both(|w| w.double(f64::NEG_INFINITY)),
            ("$4\r\n-inf\r\n".into(), ",-inf\r\n".into())
        );
        assert_eq!(both(|w| w.double(f64::NAN)).1, ",nan\r\n");
        assert_eq!(both(|w| w.double(1e300)).1.len(), 1 + 301 + 2);
        assert_eq!(
            both(|w| w.boolean(true)),
            (":1\r\n".into(), "#t\r\n".into())
        );
        assert_eq!(
            both(|w| w.boolean(false)),
            (":0\r\n".into(), "#f\r\n".into())
        );
        assert_eq!(
            both(|w| w.verbatim(b"txt", b"a:1")),
            ("$3\r\na:1\r\n".into(), "=7\r\ntxt:a:1\r\n".into())
        );
    }
}
