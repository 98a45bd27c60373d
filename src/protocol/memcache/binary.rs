//! memcached binary protocol (memcached 1.6's `protocol_binary.h`): packet framing, request
//! validation and response composition.
//!
//! # Format
//!
//! Every packet starts with a 24-byte header (big-endian):
//!
//! ```text
//!  0 magic (0x80 request, 0x81 response)   1 opcode   2 key length (u16)
//!  4 extras length (u8)   5 data type   6 vbucket (request) / status (response, u16)
//!  8 total body length (u32) = extras + key + value   12 opaque (u32, echoed)   16 CAS (u64)
//! ```
//!
//! followed by extras, key and value. [`frame`] borrows the input and waits (without
//! allocating, whatever the header claims) until the header, extras and key are buffered:
//! at most 24 + 255 + 65535 bytes. [`classify`] then applies memcached 1.6.18's per-opcode
//! checks (`dispatch_bin_command`) and says how the packet is answered; a value-bearing
//! request is read whole only once its size was found acceptable.
//!
//! Where slabd knowingly differs from memcached 1.6.18: an unknown opcode's remaining body
//! is thrown away (memcached swallows `bodylen` bytes *after* the key and extras it already
//! read, eating the start of the next request).

use super::write_u64;
use crate::storage::KEY_MAX;

/// First byte of a request packet; also how a connection is recognised as binary.
pub const REQUEST_MAGIC: u8 = 0x80;
/// First byte of a response packet.
pub const RESPONSE_MAGIC: u8 = 0x81;
/// Size of a packet header.
pub const HEADER_LEN: usize = 24;
/// memcached's `MAX_SASL_MECH_LEN`.
pub const SASL_MECH_MAX: usize = 32;

/// Opcodes (`PROTOCOL_BINARY_CMD_*`).
pub mod opcode {
    pub const GET: u8 = 0x00;
    pub const SET: u8 = 0x01;
    pub const ADD: u8 = 0x02;
    pub const REPLACE: u8 = 0x03;
    pub const DELETE: u8 = 0x04;
    pub const INCREMENT: u8 = 0x05;
    pub const DECREMENT: u8 = 0x06;
    pub const QUIT: u8 = 0x07;
    pub const FLUSH: u8 = 0x08;
    pub const GETQ: u8 = 0x09;
    pub const NOOP: u8 = 0x0a;
    pub const VERSION: u8 = 0x0b;
    pub const GETK: u8 = 0x0c;
    pub const GETKQ: u8 = 0x0d;
    pub const APPEND: u8 = 0x0e;
    pub const PREPEND: u8 = 0x0f;
    pub const STAT: u8 = 0x10;
    pub const SETQ: u8 = 0x11;
    pub const ADDQ: u8 = 0x12;
    pub const REPLACEQ: u8 = 0x13;
    pub const DELETEQ: u8 = 0x14;
    pub const INCREMENTQ: u8 = 0x15;
    pub const DECREMENTQ: u8 = 0x16;
    pub const QUITQ: u8 = 0x17;
    pub const FLUSHQ: u8 = 0x18;
    pub const APPENDQ: u8 = 0x19;
    pub const PREPENDQ: u8 = 0x1a;
    pub const TOUCH: u8 = 0x1c;
    pub const GAT: u8 = 0x1d;
    pub const GATQ: u8 = 0x1e;
    pub const SASL_LIST_MECHS: u8 = 0x20;
    pub const SASL_AUTH: u8 = 0x21;
    pub const SASL_STEP: u8 = 0x22;
    pub const GATK: u8 = 0x23;
    pub const GATKQ: u8 = 0x24;
}

/// Response status (`PROTOCOL_BINARY_RESPONSE_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Status {
    Success = 0x00,
    KeyNotFound = 0x01,
    KeyExists = 0x02,
    TooLarge = 0x03,
    Invalid = 0x04,
    NotStored = 0x05,
    DeltaBadValue = 0x06,
    AuthError = 0x20,
    AuthContinue = 0x21,
    UnknownCommand = 0x81,
    NoMemory = 0x82,
    /// `ETMPFAIL`, the protocol's "warming up": slabd answers it while a dump loads.
    TemporaryFailure = 0x86,
}

impl Status {
    /// The body memcached sends with an error status (`write_bin_error`).
    pub fn message(self) -> &'static [u8] {
        match self {
            Status::Success | Status::AuthContinue => b"",
            Status::KeyNotFound => b"Not found",
            Status::KeyExists => b"Data exists for key.",
            Status::TooLarge => b"Too large.",
            Status::Invalid => b"Invalid arguments",
            Status::NotStored => b"Not stored.",
            Status::DeltaBadValue => b"Non-numeric server-side value for incr or decr",
            Status::AuthError => b"Auth failure.",
            Status::UnknownCommand => b"Unknown command",
            Status::NoMemory => b"Out of memory",
            Status::TemporaryFailure => b"Temporary failure",
        }
    }
}

/// A request header, in host order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub opcode: u8,
    pub key_len: u16,
    pub extras_len: u8,
    pub data_type: u8,
    pub vbucket: u16,
    pub body_len: u32,
    /// Echoed unchanged (byte for byte) in every response to this request.
    pub opaque: u32,
    pub cas: u64,
}

impl Header {
    fn read(b: &[u8]) -> Header {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        Header {
            opcode: b[1],
            key_len: u16_at(2),
            extras_len: b[4],
            data_type: b[5],
            vbucket: u16_at(6),
            body_len: u32_at(8),
            opaque: u32_at(12),
            cas: (u64::from(u32_at(16)) << 32) | u64::from(u32_at(20)),
        }
    }

    /// Header, extras and key: what must be buffered before the request is looked at.
    pub fn head_len(&self) -> usize {
        HEADER_LEN + usize::from(self.extras_len) + usize::from(self.key_len)
    }

    /// Value bytes after the key (valid once [`Frame::LyingLength`] was ruled out).
    pub fn value_len(&self) -> usize {
        (self.body_len as usize)
            .saturating_sub(usize::from(self.extras_len) + usize::from(self.key_len))
    }
}

/// A request whose header, extras and key are buffered.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub header: Header,
    pub extras: &'a [u8],
    pub key: &'a [u8],
    /// Whatever input follows the key (the value, possibly not all of it yet).
    pub rest: &'a [u8],
}

impl Packet<'_> {
    /// Big-endian u32 of the extras at `at` (the caller checked the extras' length).
    pub fn extra_u32(&self, at: usize) -> u32 {
        let e = &self.extras[at..at + 4];
        u32::from_be_bytes([e[0], e[1], e[2], e[3]])
    }

    /// Big-endian u64 of the extras at `at`.
    pub fn extra_u64(&self, at: usize) -> u64 {
        (u64::from(self.extra_u32(at)) << 32) | u64::from(self.extra_u32(at + 4))
    }
}

/// Outcome of [`frame`].
#[derive(Debug)]
pub enum Frame<'a> {
    /// Header, extras or key not all buffered yet.
    Incomplete,
    /// The first byte is not [`REQUEST_MAGIC`]: memcached closes without a reply.
    BadMagic,
    /// Key and extras claim more than the whole body: memcached answers
    /// `UnknownCommand` and closes.
    LyingLength(Header),
    Packet(Packet<'a>),
}

/// Splits the start of `input` into a request's header, extras and key.
pub fn frame(input: &[u8]) -> Frame<'_> {
    if input.len() < HEADER_LEN {
        return Frame::Incomplete;
    }
    if input[0] != REQUEST_MAGIC {
        return Frame::BadMagic;
    }
    let header = Header::read(&input[..HEADER_LEN]);
    let head_len = header.head_len();
    if input.len() < head_len {
        return Frame::Incomplete;
    }
    if usize::from(header.key_len) + usize::from(header.extras_len) > header.body_len as usize {
        return Frame::LyingLength(header);
    }
    let extras_end = HEADER_LEN + usize::from(header.extras_len);
    Frame::Packet(Packet {
        header,
        extras: &input[HEADER_LEN..extras_end],
        key: &input[extras_end..head_len],
        rest: &input[head_len..],
    })
}

/// Which storage command a set-family opcode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
}

/// A request that passed memcached's checks, with its opcode's quiet variant folded in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// get, getk, gat, gatk, touch. `touch` reads the expiration extra; `with_key` echoes
    /// the key; `with_value` is false only for TOUCH.
    Get {
        touch: bool,
        with_key: bool,
        with_value: bool,
    },
    Store(StoreOp),
    Delete,
    Arith {
        incr: bool,
    },
    Quit,
    Flush,
    Noop,
    Version,
    Stat,
    SaslListMechs,
    SaslAuth,
    SaslStep,
}

impl Op {
    /// Whether the request carries a value that is part of this packet.
    pub fn has_value(self) -> bool {
        matches!(self, Op::Store(_) | Op::SaslAuth | Op::SaslStep)
    }
}

/// A request memcached refuses: the status to send, whether the connection then closes, and
/// how many value bytes (after the key) are thrown away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reject {
    pub status: Status,
    pub close: bool,
    pub swallow: usize,
}

impl Reject {
    fn protocol_error() -> Reject {
        Reject {
            status: Status::Invalid,
            close: true,
            swallow: 0,
        }
    }
}

/// memcached's `dispatch_bin_command` checks: the operation and whether it is quiet, or how
/// the request is refused. (The SASL gate comes first and is the caller's.)
pub fn classify(h: &Header) -> Result<(Op, bool), Reject> {
    use opcode::*;
    if usize::from(h.key_len) > KEY_MAX {
        return Err(Reject::protocol_error());
    }
    let quiet = matches!(
        h.opcode,
        SETQ | ADDQ
            | REPLACEQ
            | DELETEQ
            | INCREMENTQ
            | DECREMENTQ
            | QUITQ
            | FLUSHQ
            | APPENDQ
            | PREPENDQ
            | GETQ
            | GETKQ
            | GATQ
            | GATKQ
    );
    let (ext, key, body) = (
        usize::from(h.extras_len),
        usize::from(h.key_len),
        h.body_len as usize,
    );
    let empty = ext == 0 && key == 0 && body == 0;
    let (op, ok) = match h.opcode {
        VERSION => (Op::Version, empty),
        NOOP => (Op::Noop, empty),
        QUIT | QUITQ => (Op::Quit, empty),
        SASL_LIST_MECHS => (Op::SaslListMechs, empty),
        FLUSH | FLUSHQ => (Op::Flush, key == 0 && body == ext && (ext == 0 || ext == 4)),
        SET | SETQ | ADD | ADDQ | REPLACE | REPLACEQ => {
            let op = match h.opcode {
                SET | SETQ => StoreOp::Set,
                ADD | ADDQ => StoreOp::Add,
                _ => StoreOp::Replace,
            };
            (Op::Store(op), ext == 8 && key != 0 && body >= key + 8)
        }
        APPEND | APPENDQ | PREPEND | PREPENDQ => {
            let op = if matches!(h.opcode, APPEND | APPENDQ) {
                StoreOp::Append
            } else {
                StoreOp::Prepend
            };
            (Op::Store(op), key > 0 && ext == 0)
        }
        GET | GETQ | GETK | GETKQ => (
            Op::Get {
                touch: false,
                with_key: matches!(h.opcode, GETK | GETKQ),
                with_value: true,
            },
            ext == 0 && body == key && key > 0,
        ),
        TOUCH | GAT | GATQ | GATK | GATKQ => (
            Op::Get {
                touch: true,
                with_key: matches!(h.opcode, GATK | GATKQ),
                with_value: h.opcode != TOUCH,
            },
            ext == 4 && key != 0,
        ),
        DELETE | DELETEQ => (Op::Delete, key > 0 && ext == 0 && body == key),
        INCREMENT | INCREMENTQ | DECREMENT | DECREMENTQ => (
            Op::Arith {
                incr: matches!(h.opcode, INCREMENT | INCREMENTQ),
            },
            key > 0 && ext == 20 && body == key + ext,
        ),
        STAT => (Op::Stat, ext == 0),
        SASL_AUTH | SASL_STEP => {
            let op = if h.opcode == SASL_AUTH {
                Op::SaslAuth
            } else {
                Op::SaslStep
            };
            (op, ext == 0 && key != 0)
        }
        _ => {
            return Err(Reject {
                status: Status::UnknownCommand,
                close: false,
                swallow: h.value_len(),
            })
        }
    };
    if ok {
        Ok((op, quiet))
    } else {
        Err(Reject::protocol_error())
    }
}

/// Appends a response header.
#[allow(clippy::too_many_arguments)]
pub fn write_header(
    out: &mut Vec<u8>,
    opcode: u8,
    status: Status,
    key_len: usize,
    extras_len: usize,
    body_len: usize,
    opaque: u32,
    cas: u64,
) {
    let mut h = [0u8; HEADER_LEN];
    h[0] = RESPONSE_MAGIC;
    h[1] = opcode;
    h[2..4].copy_from_slice(&(key_len as u16).to_be_bytes());
    h[4] = extras_len as u8;
    h[6..8].copy_from_slice(&(status as u16).to_be_bytes());
    h[8..12].copy_from_slice(&(body_len as u32).to_be_bytes());
    h[12..16].copy_from_slice(&opaque.to_be_bytes());
    h[16..24].copy_from_slice(&cas.to_be_bytes());
    out.extend_from_slice(&h);
}

/// Appends a whole response: header, extras, key and value.
pub fn write_response(
    out: &mut Vec<u8>,
    h: &Header,
    status: Status,
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) {
    let body = extras.len() + key.len() + value.len();
    write_header(
        out,
        h.opcode,
        status,
        key.len(),
        extras.len(),
        body,
        h.opaque,
        cas,
    );
    out.extend_from_slice(extras);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// Appends an error response with memcached's text for `status`.
pub fn write_error(out: &mut Vec<u8>, h: &Header, status: Status) {
    write_response(out, h, status, 0, &[], &[], status.message());
}

/// Collects `STAT` responses: one packet per statistic, key = name, value = text, ended by
/// [`StatPackets::finish`]'s empty packet.
pub struct StatPackets<'a> {
    pub out: &'a mut Vec<u8>,
    pub opaque: u32,
}

impl StatPackets<'_> {
    /// Starts a packet for a stat called `name`; the value is appended by the caller, then
    /// [`StatPackets::end`] fixes the lengths. Returns the packet's start offset.
    pub fn begin(&mut self, name: &[u8]) -> usize {
        let at = self.out.len();
        write_header(
            self.out,
            opcode::STAT,
            Status::Success,
            name.len(),
            0,
            0,
            self.opaque,
            0,
        );
        self.out.extend_from_slice(name);
        at
    }

    /// Writes the body length of the packet begun at `at`.
    pub fn end(&mut self, at: usize) {
        let body = (self.out.len() - at - HEADER_LEN) as u32;
        self.out[at + 8..at + 12].copy_from_slice(&body.to_be_bytes());
    }

    /// A stat with a decimal value.
    pub fn num(&mut self, name: &[u8], v: u64) {
        let at = self.begin(name);
        write_u64(self.out, v);
        self.end(at);
    }

    /// The terminating empty packet.
    pub fn finish(&mut self) {
        write_header(
            self.out,
            opcode::STAT,
            Status::Success,
            0,
            0,
            0,
            self.opaque,
            0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(op: u8, extras: &[u8], key: &[u8], value: &[u8], opaque: u32, cas: u64) -> Vec<u8> {
        let mut v = vec![REQUEST_MAGIC, op];
        v.extend_from_slice(&(key.len() as u16).to_be_bytes());
        v.push(extras.len() as u8);
        v.extend_from_slice(&[0, 0, 0]);
        let body = (extras.len() + key.len() + value.len()) as u32;
        v.extend_from_slice(&body.to_be_bytes());
        v.extend_from_slice(&opaque.to_be_bytes());
        v.extend_from_slice(&cas.to_be_bytes());
        v.extend_from_slice(extras);
        v.extend_from_slice(key);
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn every_prefix_of_the_head_is_incomplete() {
        let r = req(opcode::SET, &[0; 8], b"key", b"value", 7, 0);
        for n in 0..HEADER_LEN + 8 + 3 {
            assert!(matches!(frame(&r[..n]), Frame::Incomplete), "{n}");
        }
        let Frame::Packet(p) = frame(&r) else {
            panic!("not a packet")
        };
        assert_eq!(p.key, b"key");
        assert_eq!(p.rest, b"value");
        assert_eq!(p.header.opaque, 7);
        assert_eq!(p.header.value_len(), 5);
        assert_eq!(classify(&p.header), Ok((Op::Store(StoreOp::Set), false)));
    }

    #[test]
    fn bad_magic_and_lying_lengths() {
        assert!(matches!(frame(&[0x81; 24]), Frame::BadMagic));
        let mut r = req(opcode::GET, &[], b"abc", b"", 0, 0);
        r[8..12].copy_from_slice(&2u32.to_be_bytes());
        assert!(matches!(frame(&r), Frame::LyingLength(_)));
    }

    #[test]
    fn a_huge_claimed_body_needs_only_the_head() {
        let mut r = req(opcode::SET, &[0; 8], b"k", b"", 0, 0);
        r[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        let Frame::Packet(p) = frame(&r) else {
            panic!("not a packet")
        };
        assert_eq!(p.header.value_len(), u32::MAX as usize - 9);
    }

    #[test]
    fn memcached_checks_per_opcode() {
        let h = |op: u8, ext: u8, key: u16, body: u32| Header {
            opcode: op,
            key_len: key,
            extras_len: ext,
            data_type: 0,
            vbucket: 0,
            body_len: body,
            opaque: 0,
            cas: 0,
        };
        let invalid = Err(Reject::protocol_error());
        assert_eq!(classify(&h(opcode::GET, 0, 3, 4)), invalid);
        assert_eq!(classify(&h(opcode::GET, 0, 0, 0)), invalid);
        assert_eq!(classify(&h(opcode::VERSION, 0, 0, 1)), invalid);
        assert_eq!(classify(&h(opcode::SET, 4, 3, 10)), invalid);
        assert_eq!(classify(&h(opcode::INCREMENT, 20, 1, 22)), invalid);
        assert_eq!(classify(&h(opcode::GET, 0, 251, 251)), invalid);
        assert_eq!(classify(&h(opcode::FLUSHQ, 4, 0, 4)), Ok((Op::Flush, true)));
        assert_eq!(
            classify(&h(opcode::GATKQ, 4, 1, 5)),
            Ok((
                Op::Get {
                    touch: true,
                    with_key: true,
                    with_value: true
                },
                true
            ))
        );
        assert_eq!(
            classify(&h(0x1b, 0, 1, 9)),
            Err(Reject {
                status: Status::UnknownCommand,
                close: false,
                swallow: 8
            })
        );
    }

    #[test]
    fn responses_and_stats_packets() {
        let h = Header {
            opcode: opcode::GETQ,
            key_len: 0,
            extras_len: 0,
            data_type: 0,
            vbucket: 0,
            body_len: 0,
            opaque: 0x01020304,
            cas: 0,
        };
        let mut out = Vec::new();
        write_error(&mut out, &h, Status::KeyNotFound);
        let mut want = vec![0x81, 0x09, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 1, 2, 3, 4];
        want.extend_from_slice(&[0; 8]);
        want.extend_from_slice(b"Not found");
        assert_eq!(out, want);

        let mut out = Vec::new();
        let mut s = StatPackets {
            out: &mut out,
            opaque: 5,
        };
        s.num(b"pid", 42);
        s.finish();
        assert_eq!(out.len(), 24 + 5 + 24);
        assert_eq!(&out[8..12], &5u32.to_be_bytes());
        assert_eq!(&out[24..29], b"pid42");
        assert_eq!(out[29 + 1], opcode::STAT);
    }
}
