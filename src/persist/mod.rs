//! Persistence: file formats (Redis RDB version 10, the Redis 7.0 append-only file) and,
//! behind narrow hooks, saving and loading the store.
//!
//! The format layer is pure: [`rdb::Reader`] and [`rdb::Writer`] speak [`value::Entry`]
//! (an intermediate model of Redis's core types), so they know nothing of slab items.
//! See docs/persistence.md for the files slabd writes and how memcached items map onto them.

pub mod aof;
pub mod aof_base;
pub mod aof_log;
pub mod check;
pub mod check_aof;
pub mod crc64;
pub mod defects;
pub mod dump;
pub mod group;
pub mod load;
pub mod lzf;
pub mod rdb;
pub mod replay;
pub mod save;
pub mod service;
pub mod typed;
pub mod value;
pub mod writeback;

pub use service::{
    save_on_exit, save_on_exit_forced, save_on_signal, start, Persistence, SaveError,
};

/// Wall-clock time in Unix milliseconds (expiry times in files are absolute).
pub fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// C's `strerror` text of an I/O error (Redis's messages quote it without Rust's
/// " (os error N)").
pub fn strerror(e: &std::io::Error) -> String {
    let text = match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => e.to_string(),
    };
    match text.rsplit_once(" (os error") {
        Some((msg, _)) => msg.to_string(),
        None => text,
    }
}
