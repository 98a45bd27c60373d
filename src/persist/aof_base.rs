//! The AOF base as commands (`aof-use-rdb-preamble no`): what Redis 7.0's
//! `rewriteAppendOnlyFileRio` writes into `appendonly.aof.<n>.base.aof`, record for record.
//!
//! ```text
//! #TS:1700000000                      (aof-timestamp-enabled: the rewrite's start)
//! FUNCTION LOAD <code>                (one per library)
//! SELECT 0
//! SET k v                             (strings; `#slabd-mc-flags:<f>` + SET k v [PXAT ms]
//!                                      for a memcached item with client flags)
//! RPUSH l a b ... / SADD / ZADD s score member ... / HMSET h f v ...   (64 items a command)
//! PEXPIREAT k ms                      (after a key with an expiry)
//! ```
//!
//! Redis writes one database after another; slabd's snapshot visits stripes, so a SELECT
//! comes before each run of keys of one database (replay is the same). Scores are `%.17g`
//! as Redis's `rioWriteBulkDouble` prints them.

use std::io::Write;

use super::aof::encode;
use super::aof_log::MC_FLAGS_ANNOTATION;
use super::value::Value;

/// Redis's `AOF_REWRITE_ITEMS_PER_CMD`: elements (or pairs) per RPUSH/SADD/ZADD/HMSET.
pub const ITEMS_PER_CMD: usize = 64;

/// Writes the records of a command base file to `w` (wrap files in a `BufWriter`).
pub struct CommandWriter<W: Write> {
    w: W,
    buf: Vec<u8>,
    written: u64,
}

impl<W: Write> CommandWriter<W> {
    /// Starts the file: a `#TS:<unix seconds>` annotation first when `timestamp`, as Redis
    /// 7.0 writes at the start of a rewrite with `aof-timestamp-enabled`.
    pub fn new(w: W, timestamp: bool) -> std::io::Result<Self> {
        let mut cw = CommandWriter {
            w,
            buf: Vec::new(),
            written: 0,
        };
        if timestamp {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            cw.buf
                .extend_from_slice(format!("#TS:{now}\r\n").as_bytes());
            cw.flush_buf()?;
        }
        Ok(cw)
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// `FUNCTION LOAD <code>` for one library.
    pub fn function(&mut self, code: &[u8]) -> std::io::Result<()> {
        encode(&mut self.buf, &[b"FUNCTION", b"LOAD", code]);
        self.flush_buf()
    }

    /// `SELECT db`.
    pub fn select_db(&mut self, db: u32) -> std::io::Result<()> {
        encode(&mut self.buf, &[b"SELECT", db.to_string().as_bytes()]);
        self.flush_buf()
    }

    /// A string key: `SET key value` and `PEXPIREAT`, as Redis; with memcached client
    /// flags, their annotation and one `SET key value [PXAT ms]` (the record slabd's
    /// replay gives the flags back to; Redis skips the annotation).
    pub fn string_entry(
        &mut self,
        key: &[u8],
        value: &[u8],
        expire_ms: Option<i64>,
        mc_flags: u32,
    ) -> std::io::Result<()> {
        if mc_flags != 0 {
            self.buf.extend_from_slice(MC_FLAGS_ANNOTATION);
            self.buf.extend_from_slice(mc_flags.to_string().as_bytes());
            self.buf.extend_from_slice(b"\r\n");
            match expire_ms {
                Some(ms) => {
                    let at = ms.to_string();
                    encode(&mut self.buf, &[b"SET", key, value, b"PXAT", at.as_bytes()]);
                }
                None => encode(&mut self.buf, &[b"SET", key, value]),
            }
            return self.flush_buf();
        }
        encode(&mut self.buf, &[b"SET", key, value]);
        self.expiry(key, expire_ms);
        self.flush_buf()
    }

    /// A key of any type (an empty collection writes nothing, as Redis never holds one).
    pub fn value_entry(
        &mut self,
        key: &[u8],
        v: &Value,
        expire_ms: Option<i64>,
    ) -> std::io::Result<()> {
        match v {
            Value::String(s) => return self.string_entry(key, s, expire_ms, 0),
            Value::List(items) => self.batches(b"RPUSH", key, items.iter().map(|e| [&e[..]])),
            Value::Set(items) => self.batches(b"SADD", key, items.iter().map(|e| [&e[..]])),
            Value::Hash(pairs) => {
                self.batches(b"HMSET", key, pairs.iter().map(|(f, x)| [&f[..], &x[..]]))
            }
            Value::ZSet(pairs) => {
                let mut scores = Vec::with_capacity(pairs.len());
                for (_, s) in pairs {
                    let mut text = Vec::new();
                    crate::collections::zset::format_score(*s, &mut text);
                    scores.push(text);
                }
                self.batches(
                    b"ZADD",
                    key,
                    pairs
                        .iter()
                        .zip(&scores)
                        .map(|((m, _), s)| [&s[..], &m[..]]),
                )
            }
        }
        if !self.buf.is_empty() {
            self.expiry(key, expire_ms);
        }
        self.flush_buf()
    }

    /// `name key item...` commands of at most [`ITEMS_PER_CMD`] items (each `N` arguments).
    fn batches<'a, const N: usize>(
        &mut self,
        name: &[u8],
        key: &'a [u8],
        items: impl ExactSizeIterator<Item = [&'a [u8]; N]>,
    ) {
        let mut left = items.len();
        let mut args: Vec<&[u8]> = Vec::with_capacity(2 + ITEMS_PER_CMD * N);
        for item in items {
            if args.is_empty() {
                args.push(name);
                args.push(key);
            }
            args.extend_from_slice(&item);
            left -= 1;
            if args.len() == 2 + ITEMS_PER_CMD * N || left == 0 {
                encode(&mut self.buf, &args);
                args.clear();
            }
        }
    }

    fn expiry(&mut self, key: &[u8], expire_ms: Option<i64>) {
        if let Some(ms) = expire_ms {
            encode(
                &mut self.buf,
                &[b"PEXPIREAT", key, ms.to_string().as_bytes()],
            );
        }
    }

    /// The stream (flush and sync it yourself).
    pub fn finish(self) -> W {
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut CommandWriter<Vec<u8>>)) -> String {
        let mut w = CommandWriter::new(Vec::new(), false).unwrap();
        f(&mut w);
        let n = w.written();
        let out = w.finish();
        assert_eq!(n, out.len() as u64);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_as_redis_writes_them() {
        let out = text(|w| {
            w.select_db(3).unwrap();
            w.string_entry(b"k", b"v", None, 0).unwrap();
            w.string_entry(b"t", b"12", Some(1_700_000_000_123), 0)
                .unwrap();
        });
        assert_eq!(
            out,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n\
             *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *3\r\n$3\r\nSET\r\n$1\r\nt\r\n$2\r\n12\r\n\
             *3\r\n$9\r\nPEXPIREAT\r\n$1\r\nt\r\n$13\r\n1700000000123\r\n"
        );
    }

    #[test]
    fn memcached_flags_annotate_one_set() {
        let out = text(|w| w.string_entry(b"m", b"x", Some(5000), 7).unwrap());
        assert_eq!(
            out,
            "#slabd-mc-flags:7\r\n*5\r\n$3\r\nSET\r\n$1\r\nm\r\n$1\r\nx\r\n$4\r\nPXAT\r\n$4\r\n5000\r\n"
        );
    }

    #[test]
    fn collections_in_batches_of_64() {
        let list: Vec<Vec<u8>> = (0..130).map(|i| i.to_string().into_bytes()).collect();
        let out = text(|w| {
            w.value_entry(b"l", &Value::List(list.clone()), Some(9))
                .unwrap()
        });
        let cmds: Vec<&str> = out.split("*").filter(|s| !s.is_empty()).collect();
        // RPUSH l <64>, RPUSH l <64>, RPUSH l <2>, PEXPIREAT.
        assert_eq!(cmds.len(), 4, "{out}");
        assert!(cmds[0].starts_with("66\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\n0\r\n"));
        assert!(cmds[1].starts_with("66\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$2\r\n64\r\n"));
        assert!(cmds[2].starts_with("4\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$3\r\n128\r\n"));
        assert_eq!(cmds[3], "3\r\n$9\r\nPEXPIREAT\r\n$1\r\nl\r\n$1\r\n9\r\n");
        let out = text(|w| {
            let h = Value::Hash(vec![(b"f".to_vec(), b"v".to_vec())]);
            w.value_entry(b"h", &h, None).unwrap();
            let z = Value::ZSet(vec![(b"a".to_vec(), 0.1), (b"b".to_vec(), f64::INFINITY)]);
            w.value_entry(b"z", &z, None).unwrap();
            w.value_entry(b"s", &Value::Set(vec![b"m".to_vec()]), None)
                .unwrap();
            w.value_entry(b"e", &Value::Set(Vec::new()), Some(1))
                .unwrap();
        });
        assert_eq!(
            out,
            "*4\r\n$5\r\nHMSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n\
             *6\r\n$4\r\nZADD\r\n$1\r\nz\r\n$19\r\n0.10000000000000001\r\n$1\r\na\r\n$3\r\ninf\r\n$1\r\nb\r\n\
             *3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\nm\r\n"
        );
    }

    #[test]
    fn functions_and_timestamp() {
        let mut w = CommandWriter::new(Vec::new(), true).unwrap();
        w.function(b"#!lua name=l\n").unwrap();
        let out = String::from_utf8(w.finish()).unwrap();
        assert!(out.starts_with("#TS:"), "{out}");
        let (_, rest) = out.split_once("\r\n").unwrap();
        assert_eq!(
            rest,
            "*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n$13\r\n#!lua name=l\n\r\n"
        );
    }
}
