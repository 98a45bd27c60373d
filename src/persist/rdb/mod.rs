//! Redis RDB files, version 10 (Redis 7.0): a streaming [`Reader`] that understands every
//! encoding Redis 7.0 (and older versions) write for strings, lists, sets, hashes and sorted
//! sets, and a [`Writer`] that produces files redis-server 7.0 loads.
//!
//! # Format
//!
//! ```text
//! "REDIS0010"
//! ( AUX 0xfa <string key> <string value>           redis-ver, ctime, used-mem, ...
//! | SELECTDB 0xfe <len db> | RESIZEDB 0xfb <len keys> <len expires>
//! | [EXPIRETIME_MS 0xfc <i64le ms> | EXPIRETIME 0xfd <i32le s>]
//!   [IDLE 0xf8 <len> | FREQ 0xf9 <u8>] <type u8> <string key> <value> )*
//! EOF 0xff <crc64 u64le of every byte before it, 0 = not computed>
//! ```
//!
//! A length is `00xxxxxx` (6 bits), `01xxxxxx xxxxxxxx` (14 bits, big-endian), `0x80
//! <u32be>` or `0x81 <u64be>`; `11xxxxxx` instead marks a specially encoded string: an
//! integer (`0xc0` i8, `0xc1` i16le, `0xc2` i32le) or LZF (`0xc3 <len compressed> <len
//! plain> <bytes>`).
//!
//! slabd writes strings (0), lists as quicklist 2 of listpacks (18, what Redis 7.0 writes),
//! sorted sets as listpack (17) or zset-2 (5) as Redis 7.0 would, and sets (2) and hashes
//! (4) in the plain types, which Redis converts to its compact encodings on load; it puts
//! slabd-only data in AUX fields, which Redis must skip (see docs/persistence.md).

pub mod compact;
pub mod pack;
mod reader;
mod writer;

pub use reader::{Doing, Reader, Record};
pub use writer::{Writer, WriterOptions};

/// The version slabd writes.
pub const RDB_VERSION: u32 = 10;
/// Highest version the reader accepts (Redis 7.2 writes 11; its only new core encoding,
/// the set listpack, is understood).
pub const RDB_MAX_READ_VERSION: u32 = 11;

/// AUX field slabd writes right before a key with memcached client flags: the flags in
/// decimal. Redis ignores AUX fields it does not know.
pub const AUX_MC_FLAGS: &[u8] = b"slabd-mc-flags";

pub(crate) mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;

    /// The name Redis 7.0's loader gives a compact encoding in its integrity errors.
    pub fn compact_name(t: u8) -> Option<&'static str> {
        Some(match t {
            HASH_ZIPMAP => "Zipmap",
            LIST_ZIPLIST => "List ziplist",
            SET_INTSET => "Intset",
            ZSET_ZIPLIST => "Zset ziplist",
            HASH_ZIPLIST => "Hash ziplist",
            LIST_QUICKLIST => "Ziplist",
            HASH_LISTPACK => "Hash listpack",
            ZSET_LISTPACK => "Zset listpack",
            LIST_QUICKLIST_2 => "Quicklist",
            SET_LISTPACK => "Set listpack",
            _ => return None,
        })
    }
}

pub(crate) mod opcodes {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// What is wrong with a file.
#[derive(Debug, thiserror::Error)]
pub enum RdbErrorKind {
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("unexpected end of file")]
    Eof,
    #[error("not an RDB file (no REDIS magic)")]
    BadMagic,
    #[error("RDB version {0} is not supported (slabd reads 1 to {max})", max = RDB_MAX_READ_VERSION)]
    Version(u32),
    #[error("{0} values are not supported by slabd (RDB type {1})")]
    Unsupported(&'static str, u8),
    #[error("unknown RDB type or opcode {0}")]
    UnknownType(u8),
    #[error("RDB CRC error: wrong RDB checksum: expected {expected:016x}, file has {found:016x}")]
    Checksum { expected: u64, found: u64 },
    #[error("corrupt: {0}")]
    Corrupt(&'static str),
    /// A compact encoding (ziplist, listpack, intset, zipmap) that does not check out.
    #[error("{0} integrity check failed: {1}")]
    Integrity(&'static str, &'static str),
    #[error("bad LZF data: {0}")]
    Lzf(#[from] crate::persist::lzf::LzfError),
}

/// An [`RdbErrorKind`] with the byte offset where reading the failing item began.
#[derive(Debug, thiserror::Error)]
#[error("{kind} (at byte {offset})")]
pub struct RdbError {
    pub offset: u64,
    pub kind: RdbErrorKind,
}

#[cfg(test)]
mod tests;
