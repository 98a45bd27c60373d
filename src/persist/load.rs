//! Loading an RDB file into the store at start-up (and DEBUG RELOAD).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::rdb::{Reader, Record};
use super::value::{Entry, Value};
use crate::storage::{Expiry, Mode, Store, StoreOutcome, Write};

/// Microseconds to wait after each key (Redis's `key-load-delay`, for tests of the
/// loading state).
pub static KEY_LOAD_DELAY_US: AtomicU64 = AtomicU64::new(0);

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub keys_loaded: u64,
    /// Keys whose expiry had passed (Redis's `rdb_last_load_keys_expired`).
    pub keys_expired: u64,
    /// Keys of a type slabd cannot store yet, or in a database beyond `databases`.
    pub keys_skipped: u64,
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
}

/// Loads `path` into `store`; `now_ms` decides which keys have already expired. Stops at
/// the first key that does not fit (the store would otherwise evict keys loaded before it).
pub fn load_rdb(
    store: &Store,
    path: &Path,
    verify_checksum: bool,
    now_ms: i64,
    other: &mut dyn FnMut(&Entry) -> bool,
) -> Result<LoadReport, LoadError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| LoadError::Open(name.clone(), e))?;
    let src = BufReader::with_capacity(1 << 20, file);
    load_from(store, src, &name, verify_checksum, now_ms, other).map(|(report, _, _)| report)
}

/// Loads an RDB stream that may be followed by more data (an AOF with an RDB preamble):
/// returns the report, the bytes the RDB used and the stream positioned after it.
pub fn load_rdb_stream<R: Read>(
    store: &Store,
    src: R,
    name: &str,
    now_ms: i64,
    other: &mut dyn FnMut(&Entry) -> bool,
) -> Result<(LoadReport, u64, R), LoadError> {
    load_from(store, src, name, true, now_ms, other)
}

fn load_from<R: Read>(
    store: &Store,
    src: R,
    name: &str,
    verify_checksum: bool,
    now_ms: i64,
    other: &mut dyn FnMut(&Entry) -> bool,
) -> Result<(LoadReport, u64, R), LoadError> {
    let name = name.to_string();
    let mut r = Reader::new(src, verify_checksum).map_err(|e| LoadError::Rdb(name.clone(), e))?;
    let mut report = LoadReport::default();
    let evictions_before = store.stats().evictions;
    let databases = u32::from(store.config().databases);
    while let Some(rec) = r.next().map_err(|e| LoadError::Rdb(name.clone(), e))? {
        let Record::Entry(e) = rec else { continue };
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
        if !matches!(e.value, Value::String(_)) {
            if !e.value.is_empty() && other(&e) {
                report.keys_loaded += 1;
            } else {
                report.keys_skipped += 1;
            }
            continue;
        }
        match store_entry(store, &e) {
            Some(StoreOutcome::Stored { .. }) => report.keys_loaded += 1,
            Some(StoreOutcome::NoMemory) => {
                report.memory_full = true;
                report.keys_no_memory += 1;
            }
            Some(_) | None => report.keys_skipped += 1,
        }
        // Every 1024 keys: has the store started evicting what was loaded?
        if report.keys_loaded % 1024 == 0 && store.stats().evictions > evictions_before {
            report.memory_full = true;
        }
    }
    let used = r.offset();
    Ok((report, used, r.into_inner()))
}

/// Stores one entry; None for a type the store cannot hold yet.
pub fn store_entry(store: &Store, e: &Entry) -> Option<StoreOutcome> {
    let expiry = match e.expire_ms {
        None => Expiry::Never,
        // Round up: an item must not expire before its time.
        Some(ms) => Expiry::AtMs(ms.max(0) as u64),
    };
    match &e.value {
        Value::String(v) => Some(store.store(&Write::new(
            e.db as u8,
            &e.key,
            v,
            e.mc_flags,
            expiry,
            Mode::Set,
        ))),
        _ => None,
    }
}
