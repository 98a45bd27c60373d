//! One word that says which observers are active, so that the request path pays one load
//! and one branch when none is.
//!
//! CLIENT PAUSE, client tracking, MONITOR, memcached's `watch`, keyspace notifications and
//! replicas
//! each keep their own state (a deadline, a client table, a watcher list, flags); each
//! also keeps its bit here in step, set while the feature is on, changed under the lock
//! that guards the feature's own state so that two changes cannot leave the bit stale.
//! RESP's `execute_as` loads the word once per command and goes to its cold path only
//! when a bit is set.

use std::sync::atomic::{AtomicU32, Ordering};

/// A CLIENT PAUSE may be in force (until its end is noticed or CLIENT UNPAUSE).
pub const PAUSE: u32 = 1 << 0;
/// Some client has CLIENT TRACKING on.
pub const TRACKING: u32 = 1 << 1;
/// Some connection runs MONITOR.
pub const MONITOR: u32 = 1 << 2;
/// Some connection runs memcached's `watch`.
pub const WATCH: u32 = 1 << 3;
/// `notify-keyspace-events` publishes something (`K` or `E` with a class).
pub const NOTIFY: u32 = 1 << 4;
/// A replica reads the replication stream ([`crate::repl`]).
pub const REPLICA: u32 = 1 << 5;

/// The word (see the module comment).
#[derive(Default, Debug)]
pub struct Observed(AtomicU32);

impl Observed {
    /// The active features' bits; always 0 in a `bench-no-observe` build.
    #[inline]
    pub fn get(&self) -> u32 {
        if super::OBSERVE {
            self.0.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Turns `bits` on or off, leaving the others as they are. Callers hold the lock of
    /// the feature the bits stand for.
    pub fn set(&self, bits: u32, on: bool) {
        if on {
            self.0.fetch_or(bits, Ordering::Relaxed);
        } else {
            self.0.fetch_and(!bits, Ordering::Relaxed);
        }
    }
}
