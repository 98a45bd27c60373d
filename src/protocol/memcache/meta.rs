//! Meta commands (mg, ms, md, ma, me): key, flag tokens and base64 keys.
//!
//! Flags are single letters, some followed by a token (`T30`, `Oabc`). The parsed flags keep
//! the raw flag text so that replies can echo return flags in the order the client sent them.

use super::{
    data_block, ok, parse_data_len, parse_exptime, parse_u64, reject, valid_key, Command, Error,
    Key, Limits, Parsed, Tokens, ITEM_OVERHEAD,
};
use crate::storage::KEY_MAX;

/// Longest opaque token (`O`) memcached echoes.
pub const MAX_OPAQUE: usize = 32;

/// Which meta command a flag list belongs to (each allows different flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaKind {
    Get,
    Set,
    Delete,
    Arith,
}

impl MetaKind {
    fn allows(self, flag: u8) -> bool {
        let allowed: &[u8] = match self {
            MetaKind::Get => b"bcfhklOqstuvCEFNRT",
            MetaKind::Set => b"bcCEFIkOqsSTM",
            MetaKind::Delete => b"bCEIkOqsTx",
            MetaKind::Arith => b"bCENJDTMqOstcvk",
        };
        allowed.contains(&flag)
    }
}

/// The flags of one meta request.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetaFlags<'a> {
    /// The flag tokens as sent, for echoing return flags in request order.
    pub tokens: &'a [u8],
    pub base64: bool,
    pub return_cas: bool,
    pub return_flags: bool,
    pub return_hit: bool,
    pub return_key: bool,
    pub return_last_access: bool,
    pub quiet: bool,
    pub return_size: bool,
    pub return_ttl: bool,
    pub no_bump: bool,
    pub return_value: bool,
    pub invalidate: bool,
    pub drop_value: bool,
    pub opaque: Option<&'a [u8]>,
    pub compare_cas: Option<u64>,
    pub new_cas: Option<u64>,
    pub client_flags: Option<u32>,
    pub vivify: Option<i64>,
    pub recache: Option<i64>,
    pub ttl: Option<i64>,
    pub delta: Option<u64>,
    pub initial: Option<u64>,
    /// `M` mode character, validated for the command.
    pub mode: Option<u8>,
}

impl<'a> MetaFlags<'a> {
    /// Flag letters in request order (each token's first byte).
    pub fn letters(&self) -> impl Iterator<Item = u8> + 'a {
        Tokens(self.tokens).map(|t| t[0])
    }

    /// Parses the flag tokens of a `kind` request.
    pub fn parse(kind: MetaKind, tokens: &'a [u8]) -> Result<MetaFlags<'a>, Error> {
        let mut f = MetaFlags {
            tokens,
            ..MetaFlags::default()
        };
        let mut seen = [false; 128];
        let (unknown, duplicate) = match kind {
            MetaKind::Get | MetaKind::Set => (Error::InvalidFlag, Error::DuplicateFlag),
            MetaKind::Delete | MetaKind::Arith => {
                (Error::InvalidOrDuplicateFlag, Error::InvalidOrDuplicateFlag)
            }
        };
        // In ma every malformed token reads "invalid or duplicate flag"; elsewhere TTL-like
        // tokens and numbers have their own messages.
        let arith = kind == MetaKind::Arith;
        let ttl_err = if arith {
            Error::InvalidOrDuplicateFlag
        } else {
            Error::BadToken
        };
        let num_err = if arith {
            Error::InvalidOrDuplicateFlag
        } else {
            Error::BadFormat
        };
        for t in Tokens(tokens) {
            let flag = t[0];
            let arg = &t[1..];
            if flag >= 128 || !kind.allows(flag) {
                return Err(unknown);
            }
            if seen[flag as usize] {
                return Err(duplicate);
            }
            seen[flag as usize] = true;
            match flag {
                b'b' => f.base64 = true,
                b'c' => f.return_cas = true,
                b'f' => f.return_flags = true,
                b'h' => f.return_hit = true,
                b'k' => f.return_key = true,
                b'l' => f.return_last_access = true,
                b'q' => f.quiet = true,
                b's' => f.return_size = true,
                b't' => f.return_ttl = true,
                b'u' => f.no_bump = true,
                b'v' => f.return_value = true,
                b'I' => f.invalidate = true,
                b'x' => f.drop_value = true,
                b'O' => {
                    if arg.len() > MAX_OPAQUE {
                        return Err(Error::OpaqueTooLong);
                    }
                    f.opaque = Some(arg);
                }
                b'C' => f.compare_cas = Some(parse_u64(arg).ok_or(num_err)?),
                b'E' => f.new_cas = Some(parse_u64(arg).ok_or(num_err)?),
                b'F' => f.client_flags = Some(parse_u64(arg).ok_or(num_err)? as u32),
                b'S' => {
                    parse_u64(arg).ok_or(num_err)?;
                }
                b'N' => f.vivify = Some(parse_exptime(arg).ok_or(ttl_err)?),
                b'R' => f.recache = Some(parse_exptime(arg).ok_or(ttl_err)?),
                b'T' => f.ttl = Some(parse_exptime(arg).ok_or(ttl_err)?),
                b'D' => f.delta = Some(parse_u64(arg).ok_or(Error::InvalidOrDuplicateFlag)?),
                b'J' => f.initial = Some(parse_u64(arg).ok_or(Error::InvalidOrDuplicateFlag)?),
                b'M' => {
                    let (valid, err): (&[u8], Error) = if arith {
                        (b"IiDd+-", Error::InvalidArithMode)
                    } else {
                        (b"EeAaPpRrSs", Error::InvalidSetMode)
                    };
                    match arg {
                        [m] if valid.contains(m) => f.mode = Some(m.to_ascii_uppercase()),
                        _ => return Err(err),
                    }
                }
                _ => return Err(unknown),
            }
        }
        Ok(f)
    }
}

/// Parses mg, ms, md, ma and me (`name` is the command word, `args` what follows it).
pub(super) fn parse<'a>(
    name: &[u8],
    mut args: Tokens<'a>,
    input: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<'a> {
    let Some(raw_key) = args.next() else {
        return if name == b"me" {
            reject(Error::BadFormat, line_len)
        } else {
            reject(Error::UnknownCommand, line_len)
        };
    };
    if !valid_key(raw_key) {
        return reject(Error::BadFormat, line_len);
    }
    match name {
        b"ms" => parse_set(raw_key, args, input, line_len, limits),
        b"me" => {
            let base64 = args.next() == Some(b"b".as_slice());
            match make_key(raw_key, base64) {
                Ok(key) => ok(Command::MetaDebug { key }, line_len),
                Err(_) => reject(Error::BadFormat, line_len),
            }
        }
        _ => {
            let kind = match name {
                b"mg" => MetaKind::Get,
                b"md" => MetaKind::Delete,
                _ => MetaKind::Arith,
            };
            let flags = match MetaFlags::parse(kind, args.0) {
                Ok(f) => f,
                Err(e) => return reject(e, line_len),
            };
            let key = match make_key(raw_key, flags.base64) {
                Ok(k) => k,
                Err(e) => return reject(e, line_len),
            };
            let command = match kind {
                MetaKind::Get => Command::MetaGet { key, flags },
                MetaKind::Delete => Command::MetaDelete { key, flags },
                _ => Command::MetaArith { key, flags },
            };
            ok(command, line_len)
        }
    }
}

fn parse_set<'a>(
    raw_key: &'a [u8],
    mut args: Tokens<'a>,
    input: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<'a> {
    let Some(len) = args.next().and_then(parse_data_len) else {
        return reject(Error::BadFormat, line_len);
    };
    // From here on a rejected ms still has a data block to throw away.
    let swallowing = |error, stale| Parsed::Rejected {
        error,
        consumed: line_len,
        swallow: len + 2,
        noreply: false,
        stale,
    };
    let flags = match MetaFlags::parse(MetaKind::Set, args.0) {
        Ok(f) => f,
        Err(e) => return swallowing(e, None),
    };
    let key = match make_key(raw_key, flags.base64) {
        Ok(k) => k,
        Err(e) => return swallowing(e, None),
    };
    if key.bytes().len() + len + 2 + ITEM_OVERHEAD > limits.item_size_max {
        return swallowing(Error::TooLarge, Some(key));
    }
    let Some(data) = data_block(input, line_len, len) else {
        return Parsed::Incomplete;
    };
    let consumed = line_len + len + 2;
    match data {
        Some(data) => ok(Command::MetaSet { key, flags, data }, consumed),
        None => reject(Error::BadDataChunk, consumed),
    }
}

fn make_key(raw: &[u8], base64: bool) -> Result<Key<'_>, Error> {
    let mut key = Key::plain(raw);
    if base64 {
        let n = base64_decode(raw, &mut key.decoded).ok_or(Error::KeyDecode)?;
        if n == 0 {
            return Err(Error::KeyDecode);
        }
        key.decoded_len = n as u8;
        key.base64 = true;
    }
    Ok(key)
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Strict padded base64 into `out`; `None` on bad input or when it does not fit.
fn base64_decode(input: &[u8], out: &mut [u8; KEY_MAX]) -> Option<usize> {
    if input.is_empty() || input.len() % 4 != 0 {
        return None;
    }
    let mut n = 0;
    let quads = input.len() / 4;
    for (i, quad) in input.chunks_exact(4).enumerate() {
        let pad = match quad {
            [_, _, b'=', b'='] => 2,
            [_, _, _, b'='] => 1,
            _ => 0,
        };
        if pad > 0 && i + 1 != quads {
            return None;
        }
        let mut acc = 0u32;
        for &c in &quad[..4 - pad] {
            acc = (acc << 6) | base64_value(c)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        for &b in &bytes[..3 - pad] {
            *out.get_mut(n)? = b;
            n += 1;
        }
    }
    Some(n)
}

/// Appends `input` base64-encoded with padding (keys echoed by `k` with `b`).
pub fn base64_encode(input: &[u8], out: &mut Vec<u8>) {
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let acc = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64_ALPHABET[((acc >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for input in [&b"f"[..], b"fo", b"foo", b"foob", b"\x00\xff\x10"] {
            let mut enc = Vec::new();
            base64_encode(input, &mut enc);
            let mut buf = [0u8; KEY_MAX];
            let n = base64_decode(&enc, &mut buf).unwrap();
            assert_eq!(&buf[..n], input);
        }
        let mut enc = Vec::new();
        base64_encode(b"foo", &mut enc);
        assert_eq!(enc, b"Zm9v");
    }

    #[test]
    fn base64_rejects_bad_input() {
        let mut buf = [0u8; KEY_MAX];
        for bad in [
            &b"Zm9"[..],
            b"Zm9v=",
            b"====",
            b"Zm=v",
            b"Zm9v!AAA",
            b"Zg==Zg==",
        ] {
            assert_eq!(base64_decode(bad, &mut buf), None, "{:?}", bad);
        }
        // Decodes to more than a key may hold.
        let long = vec![b'A'; 340];
        assert_eq!(base64_decode(&long, &mut buf), None);
    }

    #[test]
    fn flags_keep_request_order() {
        let f = MetaFlags::parse(MetaKind::Get, b"k v  t O12 c").unwrap();
        assert_eq!(f.letters().collect::<Vec<_>>(), b"kvtOc");
        assert_eq!(f.opaque, Some(&b"12"[..]));
        assert!(f.return_key && f.return_value && f.return_ttl && f.return_cas);
    }

    #[test]
    fn flag_errors_per_command() {
        let cases: &[(MetaKind, &[u8], Error)] = &[
            (MetaKind::Get, b"zz", Error::InvalidFlag),
            (MetaKind::Get, b"v v", Error::DuplicateFlag),
            (MetaKind::Get, b"Tabc", Error::BadToken),
            (MetaKind::Get, b"N", Error::BadToken),
            (MetaKind::Set, b"X", Error::InvalidFlag),
            (MetaKind::Set, b"Fabc", Error::BadFormat),
            (MetaKind::Set, b"F-1", Error::BadFormat),
            (MetaKind::Set, b"Tx", Error::BadToken),
            (MetaKind::Set, b"MZ", Error::InvalidSetMode),
            (MetaKind::Set, b"M", Error::InvalidSetMode),
            (MetaKind::Delete, b"v", Error::InvalidOrDuplicateFlag),
            (MetaKind::Delete, b"q q", Error::InvalidOrDuplicateFlag),
            (MetaKind::Arith, b"Dabc", Error::InvalidOrDuplicateFlag),
            (MetaKind::Arith, b"N", Error::InvalidOrDuplicateFlag),
            (
                MetaKind::Arith,
                b"J18446744073709551616",
                Error::InvalidOrDuplicateFlag,
            ),
            (MetaKind::Arith, b"MX", Error::InvalidArithMode),
        ];
        for (kind, flags, err) in cases {
            assert_eq!(
                MetaFlags::parse(*kind, flags).unwrap_err(),
                *err,
                "{kind:?} {:?}",
                String::from_utf8_lossy(flags)
            );
        }
        let long = [b'O'; 34];
        assert_eq!(
            MetaFlags::parse(MetaKind::Get, &long).unwrap_err(),
            Error::OpaqueTooLong
        );
    }

    #[test]
    fn numeric_flags() {
        let f = MetaFlags::parse(MetaKind::Set, b"T-1 F4294967297 C5 E9 MA I q").unwrap();
        assert_eq!(f.ttl, Some(-1));
        assert_eq!(f.client_flags, Some(1));
        assert_eq!(f.compare_cas, Some(5));
        assert_eq!(f.new_cas, Some(9));
        assert_eq!(f.mode, Some(b'A'));
        assert!(f.invalidate && f.quiet);
        let a = MetaFlags::parse(MetaKind::Arith, b"N0 J13 D5 M- v").unwrap();
        assert_eq!(
            (a.vivify, a.initial, a.delta, a.mode),
            (Some(0), Some(13), Some(5), Some(b'-'))
        );
    }
}
