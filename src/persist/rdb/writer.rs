//! RDB writer. Strings are stored as Redis stores them (small canonical integers in the
//! integer encodings, strings over 20 bytes LZF-compressed when that saves at least 4
//! bytes and `compress` is on). Lists are written as Redis 7.0 writes them (quicklist 2 of
//! listpack nodes of at most 8 KB), sorted sets as a listpack when Redis's default limits
//! keep them one (128 members of at most 64 bytes) and as a skiplist (`ZSET_2`) otherwise;
//! hashes and sets use the plain types, which Redis converts to its compact encodings on
//! load.

use std::io::Write;

use super::{opcodes, pack, types, AUX_MC_FLAGS, RDB_VERSION};
use crate::persist::crc64::crc64;
use crate::persist::lzf;
use crate::persist::value::{Entry, Value};

/// Redis's `rdbcompression` and `rdbchecksum`.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    pub compress: bool,
    pub checksum: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            compress: true,
            checksum: true,
        }
    }
}

/// Writes an RDB stream (wrap files in a `BufWriter`).
pub struct Writer<W: Write> {
    w: W,
    crc: u64,
    opts: WriterOptions,
    lzf_buf: Vec<u8>,
    written: u64,
}

impl<W: Write> Writer<W> {
    /// Writes the `REDIS0010` header.
    pub fn new(w: W, opts: WriterOptions) -> std::io::Result<Self> {
        let mut wr = Writer {
            w,
            crc: 0,
            opts,
            lzf_buf: Vec::new(),
            written: 0,
        };
        wr.raw(format!("REDIS{RDB_VERSION:04}").as_bytes())?;
        Ok(wr)
    }

    /// A writer without the file header, for a DUMP payload (see [`crate::persist::dump`]).
    pub fn bare(w: W, compress: bool) -> Self {
        Writer {
            w,
            crc: 0,
            opts: WriterOptions {
                compress,
                checksum: false,
            },
            lzf_buf: Vec::new(),
            written: 0,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The AUX fields Redis 7.0 writes at the top of a dump, plus `slabd-ver`.
    pub fn default_aux(&mut self, used_mem: u64, aof_base: bool) -> std::io::Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // redis-ver: tools key their parsing on it, and the file is what 7.0 writes.
        self.aux(b"redis-ver", b"7.0.15")?;
        self.aux(b"redis-bits", b"64")?;
        self.aux(b"ctime", now.to_string().as_bytes())?;
        self.aux(b"used-mem", used_mem.to_string().as_bytes())?;
        self.aux(b"aof-base", if aof_base { b"1" } else { b"0" })?;
        self.aux(b"slabd-ver", env!("CARGO_PKG_VERSION").as_bytes())
    }

    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.raw(&[opcodes::AUX])?;
        self.string(key)?;
        self.string(value)
    }

    /// A function library (`RDB_OPCODE_FUNCTION2` and its code), as Redis 7.0 writes each
    /// library before the databases.
    pub fn function(&mut self, code: &[u8]) -> std::io::Result<()> {
        self.raw(&[opcodes::FUNCTION2])?;
        self.string(code)
    }

    pub fn select_db(&mut self, db: u32) -> std::io::Result<()> {
        self.raw(&[opcodes::SELECTDB])?;
        self.len(u64::from(db))
    }

    pub fn resize_db(&mut self, keys: u64, expires: u64) -> std::io::Result<()> {
        self.raw(&[opcodes::RESIZEDB])?;
        self.len(keys)?;
        self.len(expires)
    }

    /// Everything of a key before its value: memcached flags (when not 0), expiry, the
    /// type byte and the key. The caller then writes the value with [`Self::len`],
    /// [`Self::string`] and [`Self::binary_double`] as the type requires.
    pub fn key_header(
        &mut self,
        expire_ms: Option<i64>,
        mc_flags: u32,
        rdb_type: u8,
        key: &[u8],
    ) -> std::io::Result<()> {
        if mc_flags != 0 {
            self.aux(AUX_MC_FLAGS, mc_flags.to_string().as_bytes())?;
        }
        if let Some(ms) = expire_ms {
            self.raw(&[opcodes::EXPIRETIME_MS])?;
            self.raw(&ms.to_le_bytes())?;
        }
        self.raw(&[rdb_type])?;
        self.string(key)
    }

    /// A string key.
    pub fn string_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_ms: Option<i64>,
        mc_flags: u32,
    ) -> std::io::Result<()> {
        self.key_header(expire_ms, mc_flags, types::STRING, key)?;
        self.string(value)
    }

    /// A whole entry (its `db` is the caller's business: call [`Self::select_db`] first).
    pub fn entry(&mut self, e: &Entry) -> std::io::Result<()> {
        self.key_header(e.expire_ms, e.mc_flags, rdb_type(&e.value), &e.key)?;
        self.value_body(&e.value)
    }

    /// A key with a borrowed value (its `db` as for [`Self::entry`]).
    pub fn value_entry(
        &mut self,
        key: &[u8],
        v: &Value,
        expire_ms: Option<i64>,
    ) -> std::io::Result<()> {
        self.key_header(expire_ms, 0, rdb_type(v), key)?;
        self.value_body(v)
    }

    /// A value as DUMP serializes it: its RDB type byte, then its encoding.
    pub fn typed_value(&mut self, v: &Value) -> std::io::Result<()> {
        self.raw(&[rdb_type(v)])?;
        self.value_body(v)
    }

    /// A value's encoding for its [`rdb_type`] (no type byte).
    fn value_body(&mut self, v: &Value) -> std::io::Result<()> {
        match v {
            Value::String(s) => self.string(s),
            Value::List(v) => {
                let nodes = pack::quicklist_nodes(v.iter().map(|e| e.as_slice()));
                self.len(nodes.len() as u64)?;
                nodes.iter().try_for_each(|n| {
                    self.len(QUICKLIST_PACKED)?;
                    self.string(n)
                })
            }
            Value::Set(v) => {
                self.len(v.len() as u64)?;
                v.iter().try_for_each(|s| self.string(s))
            }
            Value::ZSet(v) if zset_fits_listpack(v) => {
                let mut lp = pack::Listpack::new();
                for (m, s) in v {
                    lp.push(m);
                    lp.push(pack::score_text(*s).as_bytes());
                }
                self.string(&lp.finish())
            }
            Value::Hash(v) => {
                self.len(v.len() as u64)?;
                v.iter().try_for_each(|(k, val)| {
                    self.string(k)?;
                    self.string(val)
                })
            }
            Value::ZSet(v) => {
                self.len(v.len() as u64)?;
                v.iter().try_for_each(|(m, s)| {
                    self.string(m)?;
                    self.binary_double(*s)
                })
            }
        }
    }

    /// The stream of a [`Self::bare`] writer (no EOF opcode, no checksum).
    pub fn finish_bare(self) -> W {
        self.w
    }

    /// The EOF opcode and checksum; returns the stream (flush and sync it yourself).
    pub fn finish(mut self) -> std::io::Result<W> {
        self.raw(&[opcodes::EOF])?;
        let crc = if self.opts.checksum { self.crc } else { 0 };
        self.w.write_all(&crc.to_le_bytes())?;
        self.written += 8;
        Ok(self.w)
    }

    pub fn len(&mut self, n: u64) -> std::io::Result<()> {
        if n < 1 << 6 {
            self.raw(&[n as u8])
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if n <= u64::from(u32::MAX) {
            self.raw(&[0x80])?;
            self.raw(&(n as u32).to_be_bytes())
        } else {
            self.raw(&[0x81])?;
            self.raw(&n.to_be_bytes())
        }
    }

    pub fn string(&mut self, s: &[u8]) -> std::io::Result<()> {
        if s.len() <= 11 {
            if let Some(v) = canonical_int(s) {
                if let Ok(v) = i8::try_from(v) {
                    return self.raw(&[0xc0, v as u8]);
                }
                if let Ok(v) = i16::try_from(v) {
                    self.raw(&[0xc1])?;
                    return self.raw(&v.to_le_bytes());
                }
                if let Ok(v) = i32::try_from(v) {
                    self.raw(&[0xc2])?;
                    return self.raw(&v.to_le_bytes());
                }
            }
        }
        if self.opts.compress && s.len() > 20 {
            let mut buf = std::mem::take(&mut self.lzf_buf);
            let res = if lzf::compress(s, &mut buf, s.len() - 4) {
                self.raw(&[0xc3])
                    .and_then(|_| self.len(buf.len() as u64))
                    .and_then(|_| self.len(s.len() as u64))
                    .and_then(|_| self.raw(&buf))
                    .map(|_| true)
            } else {
                Ok(false)
            };
            self.lzf_buf = buf;
            if res? {
                return Ok(());
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }

    pub fn binary_double(&mut self, v: f64) -> std::io::Result<()> {
        self.raw(&v.to_le_bytes())
    }

    fn raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        if self.opts.checksum {
            self.crc = crc64(self.crc, b);
        }
        self.written += b.len() as u64;
        self.w.write_all(b)
    }
}

/// The RDB type slabd writes for a value.
pub fn rdb_type(v: &Value) -> u8 {
    match v {
        Value::String(_) => types::STRING,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::Set(_) => types::SET,
        Value::Hash(_) => types::HASH,
        Value::ZSet(v) if zset_fits_listpack(v) => types::ZSET_LISTPACK,
        Value::ZSet(_) => types::ZSET_2,
    }
}

/// Quicklist node container: a listpack (Redis's `QUICKLIST_NODE_CONTAINER_PACKED`).
const QUICKLIST_PACKED: u64 = 2;

/// Whether Redis 7.0 (default limits) keeps this sorted set as a listpack. The sorted
/// order of `v` is kept: a listpack zset must be in (score, member) order.
fn zset_fits_listpack(v: &[(Vec<u8>, f64)]) -> bool {
    v.len() <= pack::ZSET_LISTPACK_ENTRIES
        && v.iter().all(|(m, _)| m.len() <= pack::ZSET_LISTPACK_VALUE)
        && v.windows(2)
            .all(|w| w[0].1 < w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0))
}

/// The integer a string spells in canonical form (no sign but '-', no leading zeros, no
/// "-0"), as Redis's `string2ll` requires before it stores a string as an integer.
pub(super) fn canonical_int(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || s.len() > 1) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}
