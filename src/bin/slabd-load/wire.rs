//! Requests and replies on the wire: memcached's text protocol and Redis's RESP.
//!
//! Requests are appended to a connection's output buffer; replies are read piece by piece
//! from its input buffer, value bytes skipped as they arrive so a 100 KiB value never has
//! to sit whole in the buffer.

use crate::keyspace::Keyspace;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    Memcache,
    Resp,
}

/// The longest reply line accepted (a `VALUE` header with a 250-byte key fits easily).
pub const MAX_LINE: usize = 1024;

/// Appends a get of `keys` (a multi-get when more than one: `get k1 k2…` or `MGET`).
pub fn encode_get(proto: Protocol, ks: &Keyspace, keys: &[u32], out: &mut Vec<u8>) {
    match proto {
        Protocol::Memcache => {
            out.extend_from_slice(b"get");
            for &k in keys {
                out.push(b' ');
                ks.write_key(k, out);
            }
            out.extend_from_slice(b"\r\n");
        }
        Protocol::Resp => {
            let verb: &[u8] = if keys.len() == 1 { b"GET" } else { b"MGET" };
            write_array_header(keys.len() + 1, out);
            write_bulk(verb, out);
            for &k in keys {
                write_len(b'$', ks.key_size, out);
                ks.write_key(k, out);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

/// Appends a set of `key` to a value of `value.len()` bytes.
pub fn encode_set(proto: Protocol, ks: &Keyspace, key: u32, value: &[u8], out: &mut Vec<u8>) {
    encode_set_head(proto, ks, key, value.len(), out);
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends what precedes the value in a set of `key` to `len` bytes (the value and its
/// `\r\n` follow).
pub fn encode_set_head(proto: Protocol, ks: &Keyspace, key: u32, len: usize, out: &mut Vec<u8>) {
    match proto {
        Protocol::Memcache => {
            out.extend_from_slice(b"set ");
            ks.write_key(key, out);
            out.extend_from_slice(b" 0 0 ");
            write_decimal(len, out);
            out.extend_from_slice(b"\r\n");
        }
        Protocol::Resp => {
            write_array_header(3, out);
            write_bulk(b"SET", out);
            write_len(b'$', ks.key_size, out);
            ks.write_key(key, out);
            out.extend_from_slice(b"\r\n");
            write_len(b'$', len, out);
        }
    }
}

fn write_array_header(n: usize, out: &mut Vec<u8>) {
    write_len(b'*', n, out);
}

fn write_bulk(s: &[u8], out: &mut Vec<u8>) {
    write_len(b'$', s.len(), out);
    out.extend_from_slice(s);
    out.extend_from_slice(b"\r\n");
}

fn write_len(prefix: u8, n: usize, out: &mut Vec<u8>) {
    out.push(prefix);
    write_decimal(n, out);
    out.extend_from_slice(b"\r\n");
}

fn write_decimal(mut n: usize, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// What the reply at the head of the queue answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Get { multi: bool },
    Set,
}

/// One key's fate inside a get reply.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyOutcome {
    /// memcached names the keys it found (misses are simply absent).
    Found(u32),
    /// RESP answers every key in request order, a null bulk for a miss.
    Nth { hit: bool },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Wait for more bytes.
    NeedMore,
    /// Consumed something; call again.
    Progress,
    Key(KeyOutcome),
    /// The reply is complete; `ok` is false for an error reply (`SERVER_ERROR`, `-ERR`…).
    Done {
        ok: bool,
    },
}

#[derive(Debug, PartialEq, Eq)]
pub enum WireError {
    LineTooLong,
    Unexpected(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::LineTooLong => write!(f, "reply line longer than {MAX_LINE} bytes"),
            WireError::Unexpected(l) => write!(f, "unexpected reply line {l:?}"),
        }
    }
}

/// Where the reader is inside the reply at the head of the queue.
#[derive(Default)]
pub struct ReplyReader {
    /// Value bytes (plus their CRLF) still to skip.
    skip: usize,
    /// RESP: bulk strings still expected in this reply; `None` before the reply started.
    bulks_left: Option<usize>,
}

impl ReplyReader {
    /// Reads the next piece of the reply to `expect` from `buf`; returns the bytes used.
    pub fn step(
        &mut self,
        proto: Protocol,
        expect: Expect,
        buf: &[u8],
    ) -> Result<(usize, Step), WireError> {
        if self.skip > 0 {
            let n = self.skip.min(buf.len());
            self.skip -= n;
            if self.skip > 0 {
                return Ok((n, Step::NeedMore));
            }
            return Ok((n, Step::Progress));
        }
        if proto == Protocol::Resp && self.bulks_left == Some(0) {
            self.bulks_left = None;
            return Ok((0, Step::Done { ok: true }));
        }
        let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
            if buf.len() > MAX_LINE {
                return Err(WireError::LineTooLong);
            }
            return Ok((0, Step::NeedMore));
        };
        let line = &buf[..eol];
        let used = eol + 2;
        let step = match proto {
            Protocol::Memcache => self.memcache_line(expect, line)?,
            Protocol::Resp => self.resp_line(expect, line)?,
        };
        Ok((used, step))
    }

    fn memcache_line(&mut self, expect: Expect, line: &[u8]) -> Result<Step, WireError> {
        match expect {
            Expect::Set => Ok(Step::Done {
                ok: line == b"STORED",
            }),
            Expect::Get { .. } => {
                if line == b"END" {
                    return Ok(Step::Done { ok: true });
                }
                if let Some(rest) = line.strip_prefix(b"VALUE ") {
                    let mut parts = rest.split(|&b| b == b' ');
                    let key = parts.next().and_then(Keyspace::parse_key);
                    let bytes = parts.nth(1).and_then(parse_usize);
                    return match (key, bytes) {
                        (Some(k), Some(n)) => {
                            self.skip = n + 2;
                            Ok(Step::Key(KeyOutcome::Found(k)))
                        }
                        _ => Err(unexpected(line)),
                    };
                }
                Ok(Step::Done { ok: false })
            }
        }
    }

    fn resp_line(&mut self, expect: Expect, line: &[u8]) -> Result<Step, WireError> {
        if line.first() == Some(&b'-') {
            self.bulks_left = None;
            return Ok(Step::Done { ok: false });
        }
        match expect {
            Expect::Set => {
                if line == b"+OK" {
                    Ok(Step::Done { ok: true })
                } else {
                    Err(unexpected(line))
                }
            }
            Expect::Get { multi } => {
                if self.bulks_left.is_none() {
                    if !multi {
                        self.bulks_left = Some(1);
                    } else if let Some(n) = line.strip_prefix(b"*").and_then(parse_usize) {
                        self.bulks_left = Some(n);
                        return Ok(Step::Progress);
                    } else {
                        return Err(unexpected(line));
                    }
                }
                let Some(len) = line.strip_prefix(b"$") else {
                    return Err(unexpected(line));
                };
                self.bulks_left = self.bulks_left.map(|n| n.saturating_sub(1));
                if len == b"-1" {
                    return Ok(Step::Key(KeyOutcome::Nth { hit: false }));
                }
                let n = parse_usize(len).ok_or_else(|| unexpected(line))?;
                self.skip = n + 2;
                Ok(Step::Key(KeyOutcome::Nth { hit: true }))
            }
        }
    }
}

fn unexpected(line: &[u8]) -> WireError {
    WireError::Unexpected(String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned())
}

fn parse_usize(s: &[u8]) -> Option<usize> {
    if s.is_empty() || s.len() > 12 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |n, &d| n * 10 + usize::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` one byte at a time (the worst split) and collects the steps.
    fn read_all(proto: Protocol, expect: Expect, input: &[u8]) -> Vec<Step> {
        let mut r = ReplyReader::default();
        let mut steps = Vec::new();
        let mut avail = 0;
        let mut pos = 0;
        while avail <= input.len() {
            let (n, step) = r.step(proto, expect, &input[pos..avail]).unwrap();
            pos += n;
            match step {
                Step::NeedMore => avail += 1,
                Step::Progress => {}
                Step::Done { .. } => {
                    steps.push(step);
                    assert_eq!(pos, input.len(), "reply ends where the bytes end");
                    return steps;
                }
                other => steps.push(other),
            }
        }
        panic!("reply never completed: {steps:?}");
    }

    fn keyspace() -> Keyspace {
        Keyspace::new(1000, 4, None, 3, 3).unwrap()
    }

    #[test]
    fn memcache_requests() {
        let ks = keyspace();
        let mut out = Vec::new();
        encode_get(Protocol::Memcache, &ks, &[7, 12], &mut out);
        encode_set(Protocol::Memcache, &ks, 5, b"abc", &mut out);
        assert_eq!(out, b"get k007 k012\r\nset k005 0 0 3\r\nabc\r\n");
    }

    #[test]
    fn resp_requests() {
        let ks = keyspace();
        let mut out = Vec::new();
        encode_get(Protocol::Resp, &ks, &[7], &mut out);
        encode_get(Protocol::Resp, &ks, &[1, 2], &mut out);
        encode_set(Protocol::Resp, &ks, 5, b"abc", &mut out);
        assert_eq!(
            out,
            &b"*2\r\n$3\r\nGET\r\n$4\r\nk007\r\n\
               *3\r\n$4\r\nMGET\r\n$4\r\nk001\r\n$4\r\nk002\r\n\
               *3\r\n$3\r\nSET\r\n$4\r\nk005\r\n$3\r\nabc\r\n"[..]
        );
    }

    #[test]
    fn memcache_multiget_reply_names_found_keys() {
        let steps = read_all(
            Protocol::Memcache,
            Expect::Get { multi: true },
            b"VALUE k001 0 3\r\na\r\n\r\nVALUE k009 5 2 77\r\nxy\r\nEND\r\n",
        );
        assert_eq!(
            steps,
            vec![
                Step::Key(KeyOutcome::Found(1)),
                Step::Key(KeyOutcome::Found(9)),
                Step::Done { ok: true }
            ]
        );
    }

    #[test]
    fn memcache_set_and_errors() {
        let set = Expect::Set;
        let get = Expect::Get { multi: false };
        assert_eq!(
            read_all(Protocol::Memcache, set, b"STORED\r\n"),
            vec![Step::Done { ok: true }]
        );
        assert_eq!(
            read_all(Protocol::Memcache, set, b"SERVER_ERROR out of memory\r\n"),
            vec![Step::Done { ok: false }]
        );
        assert_eq!(
            read_all(Protocol::Memcache, get, b"END\r\n"),
            vec![Step::Done { ok: true }]
        );
    }

    #[test]
    fn resp_replies() {
        let get = Expect::Get { multi: false };
        let mget = Expect::Get { multi: true };
        assert_eq!(
            read_all(Protocol::Resp, get, b"$5\r\nhello\r\n"),
            vec![
                Step::Key(KeyOutcome::Nth { hit: true }),
                Step::Done { ok: true }
            ]
        );
        assert_eq!(
            read_all(Protocol::Resp, get, b"$-1\r\n"),
            vec![
                Step::Key(KeyOutcome::Nth { hit: false }),
                Step::Done { ok: true }
            ]
        );
        assert_eq!(
            read_all(Protocol::Resp, mget, b"*2\r\n$-1\r\n$2\r\n\r\n\r\n"),
            vec![
                Step::Key(KeyOutcome::Nth { hit: false }),
                Step::Key(KeyOutcome::Nth { hit: true }),
                Step::Done { ok: true }
            ]
        );
        assert_eq!(
            read_all(Protocol::Resp, Expect::Set, b"+OK\r\n"),
            vec![Step::Done { ok: true }]
        );
        assert_eq!(
            read_all(Protocol::Resp, Expect::Set, b"-OOM command not allowed\r\n"),
            vec![Step::Done { ok: false }]
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_hang() {
        let mut r = ReplyReader::default();
        let get = Expect::Get { multi: false };
        assert!(r.step(Protocol::Resp, get, b"+OK\r\n").is_err());
        let mut r = ReplyReader::default();
        assert_eq!(
            r.step(Protocol::Memcache, get, &[b'x'; MAX_LINE + 1]),
            Err(WireError::LineTooLong)
        );
    }
}
