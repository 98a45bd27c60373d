//! Streaming RDB reader: one [`Record`] per call, so a dump larger than memory is never held
//! whole. Lengths read from the file are never trusted for allocation: byte strings grow as
//! their bytes arrive, element vectors start small.

use std::io::Read;

use super::{compact, opcodes, types, RdbError, RdbErrorKind, AUX_MC_FLAGS, RDB_MAX_READ_VERSION};
use crate::persist::crc64::crc64;
use crate::persist::lzf;
use crate::persist::value::{Entry, Value};

type Result<T> = std::result::Result<T, RdbErrorKind>;

/// One top-level item of an RDB file.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An AUX field other than slabd's own.
    Aux(Vec<u8>, Vec<u8>),
    SelectDb(u32),
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    Entry(Entry),
    /// A function library's code (`RDB_OPCODE_FUNCTION2`, Redis 7.0).
    Function(Vec<u8>),
    /// The end: `checksum` is the stored CRC (None for versions < 5; Some(0) when the
    /// writer did not compute one). A wrong non-zero checksum is an error instead.
    Eof {
        checksum: Option<u64>,
    },
}

/// Reads records from an RDB stream (wrap files in a `BufReader`).
pub struct Reader<R: Read> {
    src: R,
    offset: u64,
    crc: u64,
    version: u32,
    db: u32,
    verify_checksum: bool,
    done: bool,
    /// The RDB type byte of the last value read (the loader names it in its errors).
    value_type: u8,
    /// What the reader was doing, in redis-check-rdb's words (its `rdbstate.doing`).
    doing: Doing,
    /// redis-check-rdb's `rdbstate.key_type`: the type of the entry being read, -1 once
    /// an entry is read whole, and 0 before the first (Redis's state starts zeroed).
    key_type: i32,
    /// The key of the entry whose value failed to read (redis-check-rdb's `rdbstate.key`).
    failed_key: Option<Vec<u8>>,
}

/// What a reader was doing when it failed: redis-check-rdb 7.0's `rdb_check_doing_string`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doing {
    Start,
    ReadType,
    ReadExpire,
    ReadKey,
    ReadObjectValue,
    CheckSum,
    ReadLen,
    ReadAux,
    ReadModuleAux,
    ReadFunctions,
}

impl Doing {
    /// redis-check-rdb's name for it (`[additional info] While doing: ...`).
    pub fn name(self) -> &'static str {
        match self {
            Doing::Start => "start",
            Doing::ReadType => "read-type",
            Doing::ReadExpire => "read-expire",
            Doing::ReadKey => "read-key",
            Doing::ReadObjectValue => "read-object-value",
            Doing::CheckSum => "check-sum",
            Doing::ReadLen => "read-len",
            Doing::ReadAux => "read-aux",
            Doing::ReadModuleAux => "read-module-aux",
            Doing::ReadFunctions => "read-functions",
        }
    }
}

/// Whether `t` is a value type (not an opcode): Redis 7.0's `rdbIsObjectType`, plus the
/// set listpack and third stream layout of Redis 7.2 (version 11 files).
fn is_object_type(t: u8) -> bool {
    matches!(t, 0..=7 | 9..=21)
}

impl<R: Read> Reader<R> {
    /// Reads the `REDISnnnn` header. With `verify_checksum` false the trailing CRC is read
    /// but not compared (Redis's `rdbchecksum no`).
    pub fn new(src: R, verify_checksum: bool) -> std::result::Result<Self, RdbError> {
        let mut r = Reader {
            src,
            offset: 0,
            crc: 0,
            version: 0,
            db: 0,
            verify_checksum,
            done: false,
            value_type: 0,
            doing: Doing::Start,
            key_type: 0,
            failed_key: None,
        };
        let mut magic = [0u8; 9];
        r.read_exact(&mut magic)
            .map_err(|kind| RdbError { offset: 0, kind })?;
        let err = |kind| RdbError { offset: 0, kind };
        if &magic[..5] != b"REDIS" {
            return Err(err(RdbErrorKind::BadMagic));
        }
        let version = std::str::from_utf8(&magic[5..])
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
            .ok_or(err(RdbErrorKind::BadMagic))?;
        if version == 0 || version > RDB_MAX_READ_VERSION {
            return Err(err(RdbErrorKind::Version(version)));
        }
        r.version = version;
        Ok(r)
    }

    /// A reader without the file header, for a DUMP payload's body (see
    /// [`crate::persist::dump`]): [`Self::typed_value`] reads its one value.
    pub fn bare(src: R) -> Self {
        Reader {
            src,
            offset: 0,
            crc: 0,
            version: super::RDB_VERSION,
            db: 0,
            verify_checksum: false,
            done: true,
            value_type: 0,
            doing: Doing::Start,
            key_type: 0,
            failed_key: None,
        }
    }

    /// One value preceded by its RDB type byte (a DUMP payload's body). Opcodes are not
    /// values and are refused.
    pub fn typed_value(&mut self) -> Result<Value> {
        let t = self.u8()?;
        if t >= opcodes::FUNCTION2 {
            return Err(RdbErrorKind::UnknownType(t));
        }
        self.value(t)
    }

    /// The file's RDB version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The RDB type byte of the last value read (of the last `Record::Entry`).
    pub fn value_type(&self) -> u8 {
        self.value_type
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// What the reader was doing when it last stopped (after an error: what failed).
    pub fn doing(&self) -> Doing {
        self.doing
    }

    /// redis-check-rdb's `key_type`: the RDB type of the entry being read when reading
    /// stopped, `None` between entries (Redis's -1). Before the first entry it is `Some(0)`,
    /// as in Redis, whose state starts zeroed.
    pub fn key_type(&self) -> Option<u8> {
        u8::try_from(self.key_type).ok()
    }

    /// The key of the entry whose value failed to read, if that is what failed.
    pub fn failed_key(&self) -> Option<&[u8]> {
        self.failed_key.as_deref()
    }

    /// The underlying stream, positioned right after what was read (after the checksum once
    /// `Eof` was returned: an AOF tail may follow).
    pub fn into_inner(self) -> R {
        self.src
    }

    /// The next record; `Ok(None)` after `Eof` was returned.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> std::result::Result<Option<Record>, RdbError> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset;
        self.next_record().map(Some).map_err(|kind| RdbError {
            offset: start,
            kind,
        })
    }

    fn next_record(&mut self) -> Result<Record> {
        let mut expire_ms = None;
        let mut mc_flags = 0;
        loop {
            self.doing = Doing::ReadType;
            let t = self.u8()?;
            match t {
                opcodes::EOF => return self.eof(),
                opcodes::SELECTDB => {
                    self.doing = Doing::ReadLen;
                    let db = self.len()?;
                    self.db = u32::try_from(db)
                        .map_err(|_| RdbErrorKind::Corrupt("database number out of range"))?;
                    return Ok(Record::SelectDb(self.db));
                }
                opcodes::RESIZEDB => {
                    self.doing = Doing::ReadLen;
                    let keys = self.len()?;
                    let expires = self.len()?;
                    return Ok(Record::ResizeDb { keys, expires });
                }
                opcodes::AUX => {
                    self.doing = Doing::ReadAux;
                    let k = self.string()?;
                    let v = self.string()?;
                    if k == AUX_MC_FLAGS {
                        mc_flags = std::str::from_utf8(&v)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .ok_or(RdbErrorKind::Corrupt(
                                "slabd-mc-flags is not a 32-bit number",
                            ))?;
                        continue;
                    }
                    return Ok(Record::Aux(k, v));
                }
                opcodes::EXPIRETIME_MS => {
                    self.doing = Doing::ReadExpire;
                    let mut b = [0u8; 8];
                    self.read_exact(&mut b)?;
                    expire_ms = Some(i64::from_le_bytes(b));
                }
                opcodes::EXPIRETIME => {
                    self.doing = Doing::ReadExpire;
                    let mut b = [0u8; 4];
                    self.read_exact(&mut b)?;
                    expire_ms = Some(i64::from(i32::from_le_bytes(b)) * 1000);
                }
                opcodes::IDLE => {
                    self.len()?;
                }
                opcodes::FREQ => {
                    self.u8()?;
                }
                opcodes::MODULE_AUX => {
                    self.doing = Doing::ReadModuleAux;
                    return Err(RdbErrorKind::Unsupported("module auxiliary data", t));
                }
                opcodes::FUNCTION2 => {
                    self.doing = Doing::ReadFunctions;
                    return Ok(Record::Function(self.string()?));
                }
                opcodes::FUNCTION => {
                    self.doing = Doing::ReadFunctions;
                    // Redis 7.0 refuses the release candidates' format too.
                    return Err(RdbErrorKind::Unsupported("pre-release function library", t));
                }
                _ => {
                    // Refused before a key is read, as Redis's "Invalid object type".
                    if !is_object_type(t) {
                        return Err(RdbErrorKind::UnknownType(t));
                    }
                    self.key_type = i32::from(t);
                    self.doing = Doing::ReadKey;
                    let key = self.string()?;
                    self.doing = Doing::ReadObjectValue;
                    let value = match self.value(t) {
                        Ok(value) => value,
                        Err(e) => {
                            self.failed_key = Some(key);
                            return Err(e);
                        }
                    };
                    self.key_type = -1;
                    return Ok(Record::Entry(Entry {
                        db: self.db,
                        key,
                        value,
                        expire_ms,
                        mc_flags,
                    }));
                }
            }
        }
    }

    fn eof(&mut self) -> Result<Record> {
        self.done = true;
        if self.version < 5 {
            return Ok(Record::Eof { checksum: None });
        }
        self.doing = Doing::CheckSum;
        let expected = self.crc;
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        let found = u64::from_le_bytes(b);
        if self.verify_checksum && found != 0 && found != expected {
            return Err(RdbErrorKind::Checksum { expected, found });
        }
        Ok(Record::Eof {
            checksum: Some(found),
        })
    }

    /// A value of type `t`; a compact encoding that does not check out is reported as
    /// Redis reports it ("Zset ziplist integrity check failed").
    fn value(&mut self, t: u8) -> Result<Value> {
        self.value_type = t;
        match (self.value_of_type(t), types::compact_name(t)) {
            (Err(RdbErrorKind::Corrupt(why)), Some(encoding)) => {
                Err(RdbErrorKind::Integrity(encoding, why))
            }
            (v, _) => v,
        }
    }

    fn value_of_type(&mut self, t: u8) -> Result<Value> {
        Ok(match t {
            types::STRING => Value::String(self.string()?),
            types::LIST => Value::List(self.strings()?),
            types::SET => Value::Set(self.strings()?),
            types::HASH => {
                let n = self.len()?;
                let mut v = Vec::with_capacity(n.min(1024) as usize);
                for _ in 0..n {
                    v.push((self.string()?, self.string()?));
                }
                Value::Hash(v)
            }
            types::ZSET | types::ZSET_2 => {
                let n = self.len()?;
                let mut v = Vec::with_capacity(n.min(1024) as usize);
                for _ in 0..n {
                    let member = self.string()?;
                    let score = if t == types::ZSET_2 {
                        self.binary_double()?
                    } else {
                        self.string_double()?
                    };
                    v.push((member, score));
                }
                Value::ZSet(v)
            }
            types::HASH_ZIPMAP => Value::Hash(compact::zipmap(&self.string()?)?),
            types::LIST_ZIPLIST => Value::List(compact::ziplist(&self.string()?)?),
            types::SET_INTSET => Value::Set(compact::intset(&self.string()?)?),
            types::SET_LISTPACK => Value::Set(compact::listpack(&self.string()?)?),
            types::HASH_ZIPLIST => Value::Hash(pairs(compact::ziplist(&self.string()?)?)?),
            types::HASH_LISTPACK => Value::Hash(pairs(compact::listpack(&self.string()?)?)?),
            types::ZSET_ZIPLIST => Value::ZSet(scored(compact::ziplist(&self.string()?)?)?),
            types::ZSET_LISTPACK => Value::ZSet(scored(compact::listpack(&self.string()?)?)?),
            types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => Value::List(self.quicklist(t)?),
            types::MODULE | types::MODULE_2 => return Err(RdbErrorKind::Unsupported("module", t)),
            types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 | types::STREAM_LISTPACKS_3 => {
                return Err(RdbErrorKind::Unsupported("stream", t))
            }
            _ => return Err(RdbErrorKind::UnknownType(t)),
        })
    }

    fn quicklist(&mut self, t: u8) -> Result<Vec<Vec<u8>>> {
        let nodes = self.len()?;
        let mut out = Vec::new();
        for _ in 0..nodes {
            // Quicklist 2 nodes say whether they hold one plain element (1) or a listpack (2).
            let container = if t == types::LIST_QUICKLIST_2 {
                self.len()?
            } else {
                2
            };
            let blob = self.string()?;
            if blob.is_empty() {
                // Redis refuses a node of 0 bytes (plain or packed).
                return Err(RdbErrorKind::Corrupt("empty quicklist node"));
            }
            match (t, container) {
                (types::LIST_QUICKLIST, _) => out.extend(compact::ziplist(&blob)?),
                (_, 1) => out.push(blob),
                (_, 2) => out.extend(compact::listpack(&blob)?),
                _ => {
                    return Err(RdbErrorKind::Corrupt(
                        "quicklist node with an unknown container",
                    ))
                }
            }
        }
        Ok(out)
    }

    fn strings(&mut self) -> Result<Vec<Vec<u8>>> {
        let n = self.len()?;
        let mut v = Vec::with_capacity(n.min(1024) as usize);
        for _ in 0..n {
            v.push(self.string()?);
        }
        Ok(v)
    }

    fn binary_double(&mut self) -> Result<f64> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(f64::from_le_bytes(b))
    }

    /// Pre-ZSET_2 scores: a length byte (253 NaN, 254 +inf, 255 -inf) then ASCII.
    fn string_double(&mut self) -> Result<f64> {
        let len = self.u8()?;
        match len {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let mut b = vec![0u8; usize::from(n)];
                self.read_exact(&mut b)?;
                parse_score(&b)
            }
        }
    }

    fn u8(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// A length, or `Err(encoding)` for a specially encoded string.
    fn len_or_encoding(&mut self) -> Result<std::result::Result<u64, u8>> {
        let first = self.u8()?;
        Ok(match first >> 6 {
            0 => Ok(u64::from(first & 0x3f)),
            1 => Ok(u64::from(first & 0x3f) << 8 | u64::from(self.u8()?)),
            2 => match first {
                0x80 => {
                    let mut b = [0u8; 4];
                    self.read_exact(&mut b)?;
                    Ok(u64::from(u32::from_be_bytes(b)))
                }
                0x81 => {
                    let mut b = [0u8; 8];
                    self.read_exact(&mut b)?;
                    Ok(u64::from_be_bytes(b))
                }
                _ => return Err(RdbErrorKind::Corrupt("unknown length encoding")),
            },
            _ => Err(first & 0x3f),
        })
    }

    fn len(&mut self) -> Result<u64> {
        self.len_or_encoding()?
            .map_err(|_| RdbErrorKind::Corrupt("encoded string where a length was expected"))
    }

    fn string(&mut self) -> Result<Vec<u8>> {
        match self.len_or_encoding()? {
            Ok(n) => self.bytes(n),
            Err(0) => Ok((self.u8()? as i8).to_string().into_bytes()),
            Err(1) => {
                let mut b = [0u8; 2];
                self.read_exact(&mut b)?;
                Ok(i16::from_le_bytes(b).to_string().into_bytes())
            }
            Err(2) => {
                let mut b = [0u8; 4];
                self.read_exact(&mut b)?;
                Ok(i32::from_le_bytes(b).to_string().into_bytes())
            }
            Err(3) => {
                let clen = self.len()?;
                let len = self.len()?;
                let compressed = self.bytes(clen)?;
                let len = usize::try_from(len)
                    .map_err(|_| RdbErrorKind::Corrupt("LZF length out of range"))?;
                Ok(lzf::decompress(&compressed, len)?)
            }
            Err(_) => Err(RdbErrorKind::Corrupt("unknown string encoding")),
        }
    }

    /// `n` bytes, grown a chunk at a time so a lying length fails at end of file instead of
    /// allocating what it claims.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>> {
        const CHUNK: u64 = 1 << 20;
        let mut v = Vec::with_capacity(n.min(CHUNK) as usize);
        let mut left = n;
        while left > 0 {
            let step = left.min(CHUNK) as usize;
            let old = v.len();
            v.resize(old + step, 0);
            self.read_exact(&mut v[old..])?;
            left -= step as u64;
        }
        Ok(v)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.src.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                RdbErrorKind::Eof
            } else {
                RdbErrorKind::Io(e)
            }
        })?;
        self.offset += buf.len() as u64;
        if self.verify_checksum {
            self.crc = crc64(self.crc, buf);
        }
        Ok(())
    }
}

fn pairs(flat: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    if flat.len() % 2 != 0 {
        return Err(RdbErrorKind::Corrupt("odd number of entries in a hash"));
    }
    let mut out = Vec::with_capacity(flat.len() / 2);
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn scored(flat: Vec<Vec<u8>>) -> Result<Vec<(Vec<u8>, f64)>> {
    pairs(flat)?
        .into_iter()
        .map(|(m, s)| Ok((m, parse_score(&s)?)))
        .collect()
}

fn parse_score(b: &[u8]) -> Result<f64> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or(RdbErrorKind::Corrupt("sorted set score is not a number"))
}
