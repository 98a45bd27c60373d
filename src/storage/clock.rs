//! The store's clock: coarse seconds since the process started, as memcached's `current_time`.
//!
//! Item times (expiry, last access) are kept as `u32` seconds relative to `started`, so they fit
//! the item header. The server refreshes the clock from the system once a second; tests build a
//! manual clock and move it with [`Clock::advance`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Relative times over this many seconds in the memcached protocol are absolute unix times.
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// When an item stops being visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Lives until evicted or deleted.
    Never,
    /// Expires at this unix time in seconds; a time not after now means already expired.
    At(u64),
}

/// A coarse clock shared by the store and the server.
#[derive(Debug)]
pub struct Clock {
    /// Unix time of relative second 0. Two seconds before start, as memcached does, so that
    /// relative time 0 never collides with "no time".
    started: u64,
    now: AtomicU32,
    manual: bool,
}

fn system_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Clock {
    /// A clock that follows the system time when [`Clock::tick`] is called.
    pub fn system() -> Clock {
        let started = system_unix().saturating_sub(2);
        Clock {
            started,
            now: AtomicU32::new(2),
            manual: false,
        }
    }

    /// A clock that only moves when told to; starts at unix time `unix_now`.
    pub fn manual(unix_now: u64) -> Clock {
        Clock {
            started: unix_now.saturating_sub(2),
            now: AtomicU32::new(2),
            manual: true,
        }
    }

    /// How long to wait before the next `tick`: just past the next whole second of the
    /// system clock. Ticking on the second keeps `unix_now` equal to the system's whole
    /// seconds, so a Redis EXAT/EXPIREAT time reads back as the TTL Redis reports instead of
    /// up to two seconds more.
    pub fn until_next_tick() -> Duration {
        let into_second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Duration::from_nanos(u64::from(1_000_000_000 - into_second)) + Duration::from_millis(1)
    }

    /// Refreshes the clock from the system time (a manual clock ignores this).
    pub fn tick(&self) {
        if self.manual {
            return;
        }
        let rel = system_unix().saturating_sub(self.started);
        self.now
            .store(u32::try_from(rel).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Moves a manual clock forward.
    pub fn advance(&self, secs: u32) {
        self.now.fetch_add(secs, Ordering::Relaxed);
    }

    /// Seconds since the clock started.
    pub fn now(&self) -> u32 {
        self.now.load(Ordering::Relaxed)
    }

    /// Unix time of relative second 0.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// The current unix time in seconds, as the clock sees it.
    pub fn unix_now(&self) -> u64 {
        self.started + u64::from(self.now())
    }

    /// Converts a relative time (seconds since start) to unix time.
    pub fn to_unix(&self, rel: u32) -> u64 {
        self.started + u64::from(rel)
    }

    /// Converts a unix time to relative seconds, saturating at both ends
    /// (a time before the start becomes 1, "long ago").
    pub fn to_rel(&self, unix: u64) -> u32 {
        if unix <= self.started {
            1
        } else {
            u32::try_from(unix - self.started).unwrap_or(u32::MAX)
        }
    }

    /// memcached's exptime: 0 never expires, negative is already expired, up to 30 days is
    /// relative seconds, more is an absolute unix time.
    pub fn memcache_expiry(&self, exptime: i64) -> Expiry {
        if exptime == 0 {
            Expiry::Never
        } else if exptime < 0 {
            Expiry::At(0)
        } else if exptime > REALTIME_MAXDELTA {
            Expiry::At(exptime as u64)
        } else {
            Expiry::At(self.unix_now() + exptime as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memcache_exptime_boundaries() {
        let c = Clock::manual(1_700_000_000);
        assert_eq!(c.memcache_expiry(0), Expiry::Never);
        assert_eq!(c.memcache_expiry(-1), Expiry::At(0));
        assert_eq!(c.memcache_expiry(10), Expiry::At(1_700_000_010));
        assert_eq!(
            c.memcache_expiry(REALTIME_MAXDELTA),
            Expiry::At(1_700_000_000 + REALTIME_MAXDELTA as u64)
        );
        assert_eq!(
            c.memcache_expiry(REALTIME_MAXDELTA + 1),
            Expiry::At(REALTIME_MAXDELTA as u64 + 1)
        );
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        let t = c.now();
        c.tick();
        assert_eq!(c.now(), t);
        c.advance(5);
        assert_eq!(c.unix_now(), 1_005);
        assert_eq!(c.to_rel(c.to_unix(77)), 77);
        assert_eq!(c.to_rel(0), 1);
    }
}
