//! Request framing: RESP arrays of bulk strings and inline commands.
//!
//! # Format
//! A request starting with `*` is a multibulk: `*<argc>\r\n` then `argc` times
//! `$<len>\r\n<len bytes>\r\n`. Anything else is an inline command: one line split on
//! whitespace, with `"…"` (C escapes, `\xHH`) and `'…'` quoting, as redis-cli and telnet send.
//!
//! Arguments are never copied out of a multibulk: the parser records their positions in the
//! caller's buffer. A request that has not fully arrived yields [`Parsed::Incomplete`] and the
//! parser remembers how far it got, so a large request arriving in pieces is scanned once.
//! Nothing is reserved for lengths a client merely announces.

use std::fmt;

use super::splitargs;

/// Largest argument count of a multibulk request (Redis 6's limit, kept as the issue asks).
pub const MULTIBULK_MAX: i64 = 1 << 20;
/// Longest inline request, and longest `*`/`$` header line, without a line end.
pub const INLINE_MAX: usize = 64 * 1024;
/// Before AUTH, a multibulk may have at most this many arguments (as Redis).
const UNAUTH_MULTIBULK_MAX: i64 = 10;
/// Before AUTH, a bulk may be at most this long (as Redis).
const UNAUTH_BULK_MAX: i64 = 16 * 1024;

/// What the parser accepts for the next request.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest bulk string (Redis `proto-max-bulk-len`, 512 MB by default).
    pub max_bulk: usize,
    /// False while a password is required and not yet given: tighter limits apply.
    pub authenticated: bool,
}

/// Result of one call to [`Parser::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A whole request used `consumed` bytes; its arguments are in [`Parser::args`].
    Command { consumed: usize },
    /// A request with no arguments (blank line, `*0`, `*-1`): skip `consumed` bytes silently.
    Empty { consumed: usize },
    /// More bytes are needed. The next call must pass the same bytes with more appended.
    Incomplete,
}

/// Malformed framing. Redis answers `-ERR <message>` and closes the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    InvalidMultibulkLength,
    InvalidBulkLength,
    /// A multibulk argument did not start with `$`.
    ExpectedDollar(u8),
    UnbalancedQuotes,
    TooBigInline,
    TooBigMultibulkCount,
    TooBigBulkCount,
    UnauthenticatedMultibulkLength,
    UnauthenticatedBulkLength,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            ProtocolError::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            ProtocolError::InvalidBulkLength => f.write_str("invalid bulk length"),
            ProtocolError::ExpectedDollar(c) => write!(f, "expected '$', got '{}'", char::from(*c)),
            ProtocolError::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            ProtocolError::TooBigInline => f.write_str("too big inline request"),
            ProtocolError::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            ProtocolError::TooBigBulkCount => f.write_str("too big bulk count string"),
            ProtocolError::UnauthenticatedMultibulkLength => {
                f.write_str("unauthenticated multibulk length")
            }
            ProtocolError::UnauthenticatedBulkLength => f.write_str("unauthenticated bulk length"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Where a multibulk that is still arriving stopped.
#[derive(Clone, Copy, Debug)]
struct Pending {
    argc: usize,
    /// Offset of the next unparsed argument header.
    pos: usize,
    /// Input length at the last call; a shorter input means the caller started over.
    seen: usize,
}

/// Incremental request parser. One per connection; its buffers are reused across requests.
#[derive(Debug, Default)]
pub struct Parser {
    /// Argument positions: in the input for a multibulk, in `inline` for an inline command.
    ranges: Vec<(usize, usize)>,
    /// Unescaped arguments of the last inline command.
    inline: Vec<u8>,
    from_inline: bool,
    pending: Option<Pending>,
}

/// The arguments of the request just parsed (command name first).
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    buf: &'a [u8],
    ranges: &'a [(usize, usize)],
}

impl<'a> Args<'a> {
    /// Arguments held elsewhere: `ranges` are `(start, end)` offsets into `buf` (a MULTI
    /// queue keeps copies of queued commands this way).
    pub fn new(buf: &'a [u8], ranges: &'a [(usize, usize)]) -> Args<'a> {
        Args { buf, ranges }
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// A bound on every argument's length: the length of the buffer they are held in.
    pub fn longest(&self) -> usize {
        self.buf.len()
    }

    /// Argument `i`. Panics when `i >= len()`, like slice indexing.
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (s, e) = self.ranges[i];
        &self.buf[s..e]
    }

    /// The bytes from the first argument's start to the last one's end (with whatever lies
    /// between them: a multibulk's headers) and where that span starts in the buffer, when
    /// the arguments lie in order, as the parser and a MULTI queue leave them.
    pub fn span(&self) -> Option<(usize, &'a [u8])> {
        let (&(start, _), &(_, end)) = (self.ranges.first()?, self.ranges.last()?);
        let mut at = start;
        for &(s, e) in self.ranges {
            if s < at || e < s {
                return None;
            }
            at = e;
        }
        Some((start, &self.buf[start..end]))
    }

    /// Each argument's `(start, end)` in the buffer.
    pub fn ranges(&self) -> &'a [(usize, usize)] {
        self.ranges
    }

    /// Arguments from `from` on.
    pub fn iter_from(self, from: usize) -> impl Iterator<Item = &'a [u8]> + 'a {
        let buf = self.buf;
        self.ranges[from.min(self.ranges.len())..]
            .iter()
            .map(move |&(s, e)| &buf[s..e])
    }
}

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no spaces, fits an i64.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] => return if neg { None } else { Some(0) },
        [b'0', ..] => return None,
        _ => {}
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

fn find(haystack: &[u8], byte: u8) -> Option<usize> {
    haystack.iter().position(|&c| c == byte)
}

/// The common header, read in one pass: `input[0]` (`*` or `$`) followed by 1 to 18 digits
/// without a leading zero, then `\r`. Gives the number and the offset of the `\r`; anything
/// else (a sign, a leading zero, more digits, a line still arriving, another byte) is left to
/// the general path, which gives the same result or error for it.
#[inline]
fn quick_header(input: &[u8]) -> Option<(i64, usize)> {
    let mut n: i64 = 0;
    for (i, &c) in input.iter().enumerate().skip(1).take(19) {
        match c {
            b'0'..=b'9' if i <= 18 && !(i == 1 && c == b'0') => n = n * 10 + i64::from(c - b'0'),
            b'\r' if i > 1 => return Some((n, i)),
            _ => return None,
        }
    }
    None
}

impl Parser {
    /// Parses one request from the start of `input`.
    pub fn parse(&mut self, input: &[u8], limits: Limits) -> Result<Parsed, ProtocolError> {
        match input.first() {
            None => Ok(Parsed::Incomplete),
            Some(b'*') => self.parse_multibulk(input, limits),
            Some(_) => {
                self.pending = None;
                self.parse_inline(input)
            }
        }
    }

    /// The arguments of the last [`Parsed::Command`]; `input` is the buffer it was parsed from.
    pub fn args<'a>(&'a self, input: &'a [u8]) -> Args<'a> {
        Args {
            buf: if self.from_inline {
                &self.inline
            } else {
                input
            },
            ranges: &self.ranges,
        }
    }

    fn parse_multibulk(&mut self, input: &[u8], limits: Limits) -> Result<Parsed, ProtocolError> {
        let resumed = self.pending.take().filter(|p| p.seen <= input.len());
        let (argc, mut pos) = match resumed {
            Some(p) => (p.argc, p.pos),
            None => {
                let (n, cr) = match quick_header(input) {
                    Some(header) => header,
                    None => match Self::multibulk_count(input)? {
                        Some(header) => header,
                        None => return Ok(Parsed::Incomplete),
                    },
                };
                if cr + 2 > input.len() {
                    return Ok(Parsed::Incomplete);
                }
                if n > MULTIBULK_MAX {
                    return Err(ProtocolError::InvalidMultibulkLength);
                }
                if n > UNAUTH_MULTIBULK_MAX && !limits.authenticated {
                    return Err(ProtocolError::UnauthenticatedMultibulkLength);
                }
                if n <= 0 {
                    return Ok(Parsed::Empty { consumed: cr + 2 });
                }
                self.ranges.clear();
                self.from_inline = false;
                (n as usize, cr + 2)
            }
        };
        while self.ranges.len() < argc {
            let rest = &input[pos..];
            let quick = match rest.first() {
                Some(b'$') => {
                    quick_header(rest).filter(|&(n, _)| n as u64 <= limits.max_bulk as u64)
                }
                _ => None,
            };
            let (len, cr) = match quick {
                Some(header) => header,
                None => match Self::bulk_header(rest, limits)? {
                    Some(header) => header,
                    None => return Ok(self.suspend(argc, pos, input.len())),
                },
            };
            if cr + 2 > rest.len() {
                return Ok(self.suspend(argc, pos, input.len()));
            }
            if len > UNAUTH_BULK_MAX && !limits.authenticated {
                return Err(ProtocolError::UnauthenticatedBulkLength);
            }
            let start = pos + cr + 2;
            let end = start + len as usize;
            // Like Redis, the two bytes after the data are skipped without being checked.
            if end + 2 > input.len() {
                return Ok(self.suspend(argc, pos, input.len()));
            }
            self.ranges.push((start, end));
            pos = end + 2;
        }
        Ok(Parsed::Command { consumed: pos })
    }

    /// The general path for a `*<count>\r` line: `None` while the line has not arrived.
    fn multibulk_count(input: &[u8]) -> Result<Option<(i64, usize)>, ProtocolError> {
        let Some(cr) = find(input, b'\r') else {
            return if input.len() > INLINE_MAX {
                Err(ProtocolError::TooBigMultibulkCount)
            } else {
                Ok(None)
            };
        };
        if cr + 2 > input.len() {
            return Ok(None);
        }
        let n = parse_i64(&input[1..cr]).ok_or(ProtocolError::InvalidMultibulkLength)?;
        Ok(Some((n, cr)))
    }

    /// The general path for a `$<len>\r` line: `None` while the line has not arrived.
    fn bulk_header(rest: &[u8], limits: Limits) -> Result<Option<(i64, usize)>, ProtocolError> {
        let Some(cr) = find(rest, b'\r') else {
            return if rest.len() > INLINE_MAX {
                Err(ProtocolError::TooBigBulkCount)
            } else {
                Ok(None)
            };
        };
        if cr + 2 > rest.len() {
            return Ok(None);
        }
        if rest[0] != b'$' {
            return Err(ProtocolError::ExpectedDollar(rest[0]));
        }
        let len = parse_i64(&rest[1..cr])
            .filter(|&n| n >= 0 && n as u64 <= limits.max_bulk as u64)
            .ok_or(ProtocolError::InvalidBulkLength)?;
        Ok(Some((len, cr)))
    }

    /// Gives back memory after an unusually large request, so one big MSET does not pin its
    /// argument table for the life of the connection.
    pub fn trim(&mut self) {
        const KEEP: usize = 1024;
        if self.ranges.capacity() > KEEP {
            self.ranges = Vec::new();
        }
        if self.inline.capacity() > INLINE_MAX {
            self.inline = Vec::new();
        }
    }

    fn suspend(&mut self, argc: usize, pos: usize, seen: usize) -> Parsed {
        self.pending = Some(Pending { argc, pos, seen });
        Parsed::Incomplete
    }

    fn parse_inline(&mut self, input: &[u8]) -> Result<Parsed, ProtocolError> {
        let Some(nl) = find(input, b'\n') else {
            return if input.len() > INLINE_MAX {
                Err(ProtocolError::TooBigInline)
            } else {
                Ok(Parsed::Incomplete)
            };
        };
        let line = input[..nl].strip_suffix(b"\r").unwrap_or(&input[..nl]);
        self.ranges.clear();
        self.inline.clear();
        self.from_inline = true;
        self.split_inline(line)?;
        Ok(if self.ranges.is_empty() {
            Parsed::Empty { consumed: nl + 1 }
        } else {
            Parsed::Command { consumed: nl + 1 }
        })
    }

    /// Splits a line as Redis's `sdssplitargs`, unescaping into `self.inline`.
    fn split_inline(&mut self, line: &[u8]) -> Result<(), ProtocolError> {
        splitargs::split_into(line, &mut self.inline, &mut self.ranges)
            .map_err(|_| ProtocolError::UnbalancedQuotes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: Limits = Limits {
        max_bulk: 1 << 20,
        authenticated: true,
    };

    fn parse_all(input: &[u8]) -> Result<(Parsed, Vec<Vec<u8>>), ProtocolError> {
        let mut p = Parser::default();
        let r = p.parse(input, OPEN)?;
        let args = match r {
            Parsed::Command { .. } => {
                let a = p.args(input);
                a.iter_from(0).map(<[u8]>::to_vec).collect()
            }
            _ => Vec::new(),
        };
        Ok((r, args))
    }

    fn vecs(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.to_vec()).collect()
    }

    #[test]
    fn multibulk_arguments_are_slices_of_the_input() {
        let input = b"*2\r\n$3\r\nGET\r\n$3\r\nfoo\r\nrest";
        let (r, args) = parse_all(input).unwrap();
        assert_eq!(r, Parsed::Command { consumed: 22 });
        assert_eq!(args, vecs(&[b"GET", b"foo"]));
        let mut p = Parser::default();
        p.parse(input, OPEN).unwrap();
        let a = p.args(input);
        assert_eq!(a.get(1).as_ptr(), input[17..].as_ptr());
    }

    #[test]
    fn binary_and_empty_bulks() {
        let (_, args) = parse_all(b"*3\r\n$3\r\nSET\r\n$0\r\n\r\n$4\r\na\r\nb\r\n").unwrap();
        assert_eq!(args, vecs(&[b"SET", b"", b"a\r\nb"]));
    }

    #[test]
    fn every_split_point_is_incomplete_then_whole() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n";
        for cut in 0..input.len() {
            let mut p = Parser::default();
            assert_eq!(
                p.parse(&input[..cut], OPEN).unwrap(),
                Parsed::Incomplete,
                "cut {cut}"
            );
            // Resuming with the whole input finishes the same request.
            let r = p.parse(input, OPEN).unwrap();
            assert_eq!(
                r,
                Parsed::Command {
                    consumed: input.len()
                },
                "cut {cut}"
            );
            let a = p.args(input);
            assert_eq!(a.len(), 3);
            assert_eq!(a.get(2), b"hello");
        }
    }

    #[test]
    fn byte_by_byte_arrival_resumes() {
        let input = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
        let mut p = Parser::default();
        for n in 1..input.len() {
            assert_eq!(p.parse(&input[..n], OPEN).unwrap(), Parsed::Incomplete);
        }
        assert_eq!(
            p.parse(input, OPEN).unwrap(),
            Parsed::Command {
                consumed: input.len()
            }
        );
        assert_eq!(p.args(input).get(1), b"hello world");
    }

    #[test]
    fn inline_byte_by_byte() {
        let input = b"SET k v\r\n";
        let mut p = Parser::default();
        for n in 1..input.len() {
            assert_eq!(p.parse(&input[..n], OPEN).unwrap(), Parsed::Incomplete);
        }
        assert_eq!(
            p.parse(input, OPEN).unwrap(),
            Parsed::Command { consumed: 9 }
        );
    }

    #[test]
    fn pipelined_requests_parse_one_at_a_time() {
        let input = b"*1\r\n$4\r\nPING\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
        let mut p = Parser::default();
        let mut at = 0;
        let mut n = 0;
        while at < input.len() {
            match p.parse(&input[at..], OPEN).unwrap() {
                Parsed::Command { consumed } => {
                    assert_eq!(p.args(&input[at..]).get(0), b"PING");
                    at += consumed;
                    n += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn empty_requests_are_skipped() {
        assert_eq!(
            parse_all(b"*0\r\n").unwrap().0,
            Parsed::Empty { consumed: 4 }
        );
        assert_eq!(
            parse_all(b"*-1\r\n").unwrap().0,
            Parsed::Empty { consumed: 5 }
        );
        assert_eq!(parse_all(b"\r\n").unwrap().0, Parsed::Empty { consumed: 2 });
        assert_eq!(
            parse_all(b"   \n").unwrap().0,
            Parsed::Empty { consumed: 4 }
        );
    }

    #[test]
    fn multibulk_errors() {
        use ProtocolError::*;
        let cases: &[(&[u8], ProtocolError)] = &[
            (b"*x\r\n", InvalidMultibulkLength),
            (b"*+1\r\n", InvalidMultibulkLength),
            (b"*01\r\n", InvalidMultibulkLength),
            (b"*\r\n", InvalidMultibulkLength),
            (b"*1048577\r\n", InvalidMultibulkLength),
            (b"*99999999999999999999\r\n", InvalidMultibulkLength),
            (b"*1\r\n#3\r\n", ExpectedDollar(b'#')),
            (b"*1\r\n$-1\r\n", InvalidBulkLength),
            (b"*1\r\n$04\r\nPING\r\n", InvalidBulkLength),
            (b"*1\r\n$\r\n", InvalidBulkLength),
            (b"*1\r\n$1048577\r\n", InvalidBulkLength),
        ];
        for (input, want) in cases {
            let mut p = Parser::default();
            assert_eq!(
                p.parse(input, OPEN),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn limits_at_the_boundary_are_accepted() {
        let mut p = Parser::default();
        assert_eq!(p.parse(b"*1048576\r\n", OPEN), Ok(Parsed::Incomplete));
        let mut p = Parser::default();
        assert_eq!(p.parse(b"*1\r\n$1048576\r\n", OPEN), Ok(Parsed::Incomplete));
    }

    #[test]
    fn unauthenticated_limits() {
        let closed = Limits {
            max_bulk: 1 << 20,
            authenticated: false,
        };
        let mut p = Parser::default();
        assert_eq!(
            p.parse(b"*11\r\n", closed),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            p.parse(b"*1\r\n$16385\r\n", closed),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
        assert_eq!(
            p.parse(b"*10\r\n$16384\r\n", closed),
            Ok(Parsed::Incomplete)
        );
    }

    #[test]
    fn header_lines_without_end_are_bounded() {
        let mut long = b"*".to_vec();
        long.resize(INLINE_MAX + 1, b'1');
        assert_eq!(
            Parser::default().parse(&long, OPEN),
            Err(ProtocolError::TooBigMultibulkCount)
        );
        let mut long = b"*1\r\n$".to_vec();
        long.resize(INLINE_MAX + 10, b'1');
        assert_eq!(
            Parser::default().parse(&long, OPEN),
            Err(ProtocolError::TooBigBulkCount)
        );
        let mut long = b"GET ".to_vec();
        long.resize(INLINE_MAX + 1, b'a');
        assert_eq!(
            Parser::default().parse(&long, OPEN),
            Err(ProtocolError::TooBigInline)
        );
        long.truncate(INLINE_MAX);
        assert_eq!(Parser::default().parse(&long, OPEN), Ok(Parsed::Incomplete));
    }

    #[test]
    fn a_large_announced_bulk_reserves_nothing() {
        let mut p = Parser::default();
        assert_eq!(
            p.parse(b"*2\r\n$3\r\nSET\r\n$1000000\r\nabc", OPEN),
            Ok(Parsed::Incomplete)
        );
        assert!(p.ranges.capacity() < 16);
        assert!(p.inline.capacity() == 0);
    }

    #[test]
    fn inline_splitting_and_quotes() {
        let (_, a) = parse_all(b"  SET  key   value \r\n").unwrap();
        assert_eq!(a, vecs(&[b"SET", b"key", b"value"]));
        let (_, a) = parse_all(b"ECHO \"a\\x41\\n\\\"q\" 'it\\'s' \"\"\n").unwrap();
        assert_eq!(a, vecs(&[b"ECHO", b"aA\n\"q", b"it's", b""]));
        let (_, a) = parse_all(b"ECHO \"\\q\\x4\"\n").unwrap();
        assert_eq!(a, vecs(&[b"ECHO", b"qx4"]));
        let (_, a) = parse_all(b"PING\n").unwrap();
        assert_eq!(a, vecs(&[b"PING"]));
        let (_, a) = parse_all(b"SET a\x0bb c\0 ignored\n").unwrap();
        assert_eq!(a, vecs(&[b"SET", b"a\x0bb", b"c"]));
        assert_eq!(
            parse_all(b"\0PING\r\n").unwrap().0,
            Parsed::Empty { consumed: 7 }
        );
    }

    #[test]
    fn inline_unbalanced_quotes() {
        for input in [
            &b"SET a \"b\r\n"[..],
            b"SET a 'b'c\r\n",
            b"SET a \"b\"c\r\n",
            b"SET a 'b\r\n",
        ] {
            assert_eq!(
                Parser::default().parse(input, OPEN),
                Err(ProtocolError::UnbalancedQuotes),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn inline_after_multibulk_uses_its_own_buffer() {
        let mut p = Parser::default();
        let first = b"*1\r\n$4\r\nPING\r\n";
        p.parse(first, OPEN).unwrap();
        let second = b"ECHO 'x y'\r\n";
        p.parse(second, OPEN).unwrap();
        let a = p.args(second);
        assert_eq!(a.get(1), b"x y");
        p.parse(first, OPEN).unwrap();
        assert_eq!(p.args(first).get(0), b"PING");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut p = Parser::default();
            let mut at = 0;
            while at < input.len() {
                match p.parse(&input[at..], OPEN) {
                    Ok(Parsed::Command { consumed }) => {
                        let a = p.args(&input[at..]);
                        for i in 0..a.len() {
                            let _ = a.get(i);
                        }
                        proptest::prop_assert!(consumed > 0);
                        at += consumed;
                    }
                    Ok(Parsed::Empty { consumed }) => {
                        proptest::prop_assert!(consumed > 0);
                        at += consumed;
                    }
                    Ok(Parsed::Incomplete) | Err(_) => break,
                }
            }
        }

        #[test]
        fn any_split_of_a_valid_request_parses_the_same(
            args in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..20), 1..6),
            cut in 0usize..400,
        ) {
            let mut wire = format!("*{}\r\n", args.len()).into_bytes();
            for a in &args {
                wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                wire.extend_from_slice(a);
                wire.extend_from_slice(b"\r\n");
            }
            let cut = cut % wire.len();
            let mut p = Parser::default();
            proptest::prop_assert_eq!(p.parse(&wire[..cut], OPEN), Ok(Parsed::Incomplete));
            proptest::prop_assert_eq!(p.parse(&wire, OPEN), Ok(Parsed::Command { consumed: wire.len() }));
            let got: Vec<Vec<u8>> = p.args(&wire).iter_from(0).map(<[u8]>::to_vec).collect();
            proptest::prop_assert_eq!(got, args);
        }

        #[test]
        fn quick_headers_agree_with_the_general_path(
            lead in proptest::sample::select(vec![b'*', b'$']),
            body in proptest::collection::vec(proptest::sample::select(b"0123456789-+\r\n x".to_vec()), 0..24),
        ) {
            let mut line = vec![lead];
            line.extend_from_slice(&body);
            if let Some((n, cr)) = quick_header(&line) {
                proptest::prop_assert_eq!(find(&line, b'\r'), Some(cr));
                proptest::prop_assert_eq!(parse_i64(&line[1..cr]), Some(n));
            }
            // And a complete `$` line the quick path reads gives the general path's answer.
            let limits = Limits { max_bulk: 1000, authenticated: true };
            let general = Parser::bulk_header(&line, limits);
            if lead == b'$' {
                if let Some((n, cr)) = quick_header(&line).filter(|&(n, _)| n <= 1000) {
                    if cr + 2 <= line.len() {
                        proptest::prop_assert_eq!(general, Ok(Some((n, cr))));
                    }
                }
            }
        }
    }

    #[test]
    fn trim_gives_back_large_tables() {
        let mut wire = b"*2000\r\n".to_vec();
        for _ in 0..2000 {
            wire.extend_from_slice(b"$1\r\nx\r\n");
        }
        let mut p = Parser::default();
        assert_eq!(
            p.parse(&wire, OPEN),
            Ok(Parsed::Command {
                consumed: wire.len()
            })
        );
        p.trim();
        assert_eq!(p.ranges.capacity(), 0);
        assert_eq!(
            p.parse(b"*1\r\n$1\r\ny\r\n", OPEN),
            Ok(Parsed::Command { consumed: 11 })
        );
    }

    #[test]
    fn string2ll_rules() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"+1",
            b"01",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn error_messages_are_redis_text() {
        assert_eq!(
            ProtocolError::ExpectedDollar(b'#').to_string(),
            "Protocol error: expected '$', got '#'"
        );
        assert_eq!(
            ProtocolError::InvalidMultibulkLength.to_string(),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            ProtocolError::UnbalancedQuotes.to_string(),
            "Protocol error: unbalanced quotes in request"
        );
    }
}
