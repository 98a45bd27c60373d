//! Loading an RDB file into the store at start-up (and DEBUG RELOAD).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::rdb::{Reader, Record};
use super::typed::build;
use super::value::{Entry, Value};
use crate::collections::Thresholds;
use crate::storage::{Expiry, Mode, RewriteError, Store, StoreOutcome, Ttl, Write};

/// Microseconds to wait after each key (Redis's `key-load-delay`, for tests of the
/// loading state).
pub static KEY_LOAD_DELAY_US: AtomicU64 = AtomicU64::new(0);

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub keys_loaded: u64,
    /// Keys whose expiry had passed (Redis's `rdb_last_load_keys_expired`).
    pub keys_expired: u64,
    /// Keys in a database beyond `databases`, empty collections, or values too large
    /// for the store.
    pub keys_skipped: u64,
    /// Of those, empty collections (Redis's "empty keys skipped").
    pub keys_empty: u64,
    /// Keys left out because memory was full (the dump is larger than `-m`).
    pub keys_no_memory: u64,
    /// Set when loading stopped early because memory was full.
    pub memory_full: bool,
}

/// Why a load failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot open {0}: {1}")]
    Open(String, std::io::Error),
    #[error("{0}: {1}")]
    Rdb(String, super::rdb::RdbError),
    #[error("{0}: failed loading a function library: {1}")]
    Function(String, String),
    /// A collection that cannot be built (a member twice, a NaN score): Redis fails the
    /// whole load on it, and so does slabd. Shown as Redis's log line.
    #[error("{}", .defect.log_line(*.offset))]
    Refused {
        /// Where the key's record began.
        offset: u64,
        key: Vec<u8>,
        defect: super::defects::Defect,
    },
}

/// What a load needs besides the store: the collection encodings' limits, and what to do
/// with a function library's code (load it into the scripting engine).
pub struct Sinks<'a> {
    pub limits: &'a Thresholds,
    pub function: &'a mut dyn FnMut(&[u8]) -> Result<(), String>,
}

/// Loads `path` into `store`; `now_ms` decides which keys have already expired. Stops at
/// the first key that does not fit (the store would otherwise evict keys loaded before it).
pub fn load_rdb(
    store: &Store,
    path: &Path,
    verify_checksum: bool,
    now_ms: i64,
    sinks: &mut Sinks<'_>,
) -> Result<LoadReport, LoadError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| LoadError::Open(name.clone(), e))?;
    let src = BufReader::with_capacity(1 << 20, file);
    load_from(store, src, &name, verify_checksum, now_ms, sinks).map(|(report, _, _)| report)
}

/// Loads an RDB stream that may be followed by more data (an AOF with an RDB preamble):
/// returns the report, the bytes the RDB used and the stream positioned after it.
pub fn load_rdb_stream<R: Read>(
    store: &Store,
    src: R,
    name: &str,
    now_ms: i64,
    sinks: &mut Sinks<'_>,
) -> Result<(LoadReport, u64, R), LoadError> {
    load_from(store, src, name, true, now_ms, sinks)
}

fn load_from<R: Read>(
    store: &Store,
    src: R,
    name: &str,
    verify_checksum: bool,
    now_ms: i64,
    sinks: &mut Sinks<'_>,
) -> Result<(LoadReport, u64, R), LoadError> {
    let name = name.to_string();
    let mut r = Reader::new(src, verify_checksum).map_err(|e| LoadError::Rdb(name.clone(), e))?;
    let mut report = LoadReport::default();
    let evictions_before = store.evictions();
    let databases = u32::from(store.config().databases);
    loop {
        let at = r.offset();
        let Some(rec) = r.next().map_err(|e| LoadError::Rdb(name.clone(), e))? else {
            break;
        };
        let e = match rec {
            Record::Entry(e) => e,
            Record::ResizeDb { keys, .. } => {
                store.reserve_keys(keys);
                continue;
            }
            Record::Function(code) => {
                (sinks.function)(&code).map_err(|msg| LoadError::Function(name.clone(), msg))?;
                continue;
            }
            _ => continue,
        };
        let delay = KEY_LOAD_DELAY_US.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(std::time::Duration::from_micros(delay));
        }
        if report.memory_full {
            report.keys_no_memory += 1;
            continue;
        }
        if e.expire_ms.is_some_and(|ms| ms <= now_ms) {
            report.keys_expired += 1;
            continue;
        }
        if e.db >= databases {
            report.keys_skipped += 1;
            continue;
        }
        if e.value.is_empty() {
            // Redis 7.0 skips an empty collection in a dump with this line (the first 10).
            if report.keys_empty < 10 {
                eprintln!(
                    "rdbLoadObject skipping empty key: {}",
                    String::from_utf8_lossy(&e.key)
                );
            }
            report.keys_empty += 1;
        }
        match store_entry(store, &e, sinks.limits) {
            Stored::Yes => report.keys_loaded += 1,
            Stored::NoMemory => {
                report.memory_full = true;
                report.keys_no_memory += 1;
            }
            Stored::Skipped => report.keys_skipped += 1,
            Stored::Malformed => {
                let defect = super::defects::of_refused(r.value_type(), &e.value, sinks.limits);
                return Err(LoadError::Refused {
                    offset: at,
                    key: e.key,
                    defect,
                });
            }
        }
        // Every 1024 keys: has the store started evicting what was loaded?
        if report.keys_loaded % 1024 == 0 && store.evictions() > evictions_before {
            report.memory_full = true;
        }
    }
    let used = r.offset();
    Ok((report, used, r.into_inner()))
}

/// Loads a function library found in a file; one of the same name is replaced when
/// `replace` (DEBUG RELOAD MERGE) and is an error otherwise, as Redis's loader does.
pub fn load_function(
    ctx: &crate::commands::Context,
    code: &[u8],
    replace: bool,
) -> Result<(), String> {
    ctx.scripting.function_load(code, replace).map(|_| ())
}

/// What became of one entry.
enum Stored {
    Yes,
    NoMemory,
    Skipped,
    /// A member or field twice, a NaN score.
    Malformed,
}

/// Stores one entry: a string with its memcached flags through the store's write path, a
/// collection built in the encoding its settings call for (no command replay).
fn store_entry(store: &Store, e: &Entry, limits: &Thresholds) -> Stored {
    let expiry = match e.expire_ms {
        None => Expiry::Never,
        Some(ms) => Expiry::AtMs(ms.max(0) as u64),
    };
    let db = e.db as u8;
    if let Value::String(v) = &e.value {
        let w = Write::new(db, &e.key, v, e.mc_flags, expiry, Mode::Set);
        return match store.store(&w) {
            StoreOutcome::Stored { .. } => Stored::Yes,
            StoreOutcome::NoMemory => Stored::NoMemory,
            _ => Stored::Skipped,
        };
    }
    if e.value.is_empty() {
        return Stored::Skipped;
    }
    let Ok(built) = build(&e.value, limits) else {
        return Stored::Malformed;
    };
    match store.modify(db, &e.key, |_| built.into_update(Ttl::Set(expiry), ())) {
        Ok(()) => Stored::Yes,
        Err(RewriteError::NoMemory) => Stored::NoMemory,
        Err(RewriteError::TooLarge) => Stored::Skipped,
    }
}
