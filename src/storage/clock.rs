//! The store's clocks: coarse seconds since the process started (memcached's `current_time`,
//! for access times and the cheap half of expiry checks) and the real clock in milliseconds
//! (for the exact half of expiry checks and for Redis's EX/PX/PXAT).
//!
//! Item times are kept as `u32` seconds relative to `started` (plus a millisecond remainder
//! for expiry, see `item.rs`), so they fit the item header. The server refreshes the coarse
//! clock from the system once a second, just past each whole second, so it never runs ahead
//! of the real clock; tests build a manual clock and move it with [`Clock::advance`] and
//! [`Clock::advance_ms`].

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Relative times over this many seconds in the memcached protocol are absolute unix times.
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// When an item stops being visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// Lives until evicted or deleted.
    Never,
    /// Expires at this unix time in milliseconds: visible while the real clock is before it,
    /// gone from that millisecond on (a time not after now means already expired). Any
    /// `u64` is kept exactly (far-future times use an optional header field).
    AtMs(u64),
}

impl Expiry {
    /// An expiry at a whole unix second.
    pub fn at_secs(secs: u64) -> Expiry {
        Expiry::AtMs(secs.saturating_mul(1000))
    }

    /// The unix time in milliseconds, `None` for [`Expiry::Never`].
    pub fn unix_ms(self) -> Option<u64> {
        match self {
            Expiry::Never => None,
            Expiry::AtMs(ms) => Some(ms),
        }
    }

    /// The unix time in whole seconds, rounded up (memcached's and Redis's second-based
    /// views), `None` for [`Expiry::Never`].
    pub fn unix_secs(self) -> Option<u64> {
        self.unix_ms().map(|ms| ms.div_ceil(1000))
    }
}

/// A coarse clock shared by the store and the server, with a real-time reading beside it.
#[derive(Debug)]
pub struct Clock {
    /// Unix time of relative second 0. Two seconds before start, as memcached does, so that
    /// relative time 0 never collides with "no time".
    started: u64,
    now: AtomicU32,
    /// A manual clock's milliseconds into its current second.
    manual_ms: AtomicU32,
    manual: bool,
}

pub(super) fn system_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Clock {
    /// A clock that follows the system time when [`Clock::tick`] is called.
    pub fn system() -> Clock {
        let started = (system_unix_ms() / 1000).saturating_sub(2);
        Clock {
            started,
            now: AtomicU32::new(2),
            manual_ms: AtomicU32::new(0),
            manual: false,
        }
    }

    /// A clock that only moves when told to; starts at unix time `unix_now` (seconds).
    pub fn manual(unix_now: u64) -> Clock {
        Clock {
            started: unix_now.saturating_sub(2),
            now: AtomicU32::new(2),
            manual_ms: AtomicU32::new(0),
            manual: true,
        }
    }

    /// How long to wait before the next `tick`: just past the next whole second of the
    /// system clock. Ticking on the second keeps `unix_now` equal to the system's whole
    /// seconds (never ahead of it, which the expiry check relies on).
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
        let rel = (system_unix_ms() / 1000).saturating_sub(self.started);
        self.now
            .store(u32::try_from(rel).unwrap_or(u32::MAX), Ordering::Relaxed);
    }

    /// Moves a manual clock forward by whole seconds.
    pub fn advance(&self, secs: u32) {
        self.now.fetch_add(secs, Ordering::Relaxed);
    }

    /// Moves a manual clock forward by milliseconds.
    pub fn advance_ms(&self, ms: u64) {
        let total = u64::from(self.manual_ms.load(Ordering::Relaxed)) + ms;
        self.manual_ms
            .store((total % 1000) as u32, Ordering::Relaxed);
        self.advance(u32::try_from(total / 1000).unwrap_or(u32::MAX));
    }

    /// Seconds since the clock started (coarse: never ahead of the real clock).
    pub fn now(&self) -> u32 {
        self.now.load(Ordering::Relaxed)
    }

    /// The real time in unix milliseconds (a manual clock: its own seconds and milliseconds).
    pub fn now_ms(&self) -> u64 {
        if self.manual {
            self.unix_now() * 1000 + u64::from(self.manual_ms.load(Ordering::Relaxed))
        } else {
            system_unix_ms()
        }
    }

    /// Unix time of relative second 0.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// The current unix time in seconds, as the coarse clock sees it.
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
    ///
    /// Relative seconds count from the real current second, not the coarse clock: expiry is
    /// judged by the real clock, and the coarse one lags each whole second by its tick, so
    /// `exptime 1` counted from it was already past for a set made in that lag (dead on
    /// arrival, 1-2 sets a second). As memcached's, an item set with `exptime N` lives more
    /// than N-1 and at most N seconds.
    pub fn memcache_expiry(&self, exptime: i64) -> Expiry {
        if exptime == 0 {
            Expiry::Never
        } else if exptime < 0 {
            Expiry::AtMs(0)
        } else if exptime > REALTIME_MAXDELTA {
            Expiry::at_secs(exptime as u64)
        } else {
            Expiry::at_secs(self.now_ms() / 1000 + exptime as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_exptime_counts_from_the_real_second_when_the_tick_is_late() {
        // A system clock nobody ticks: its coarse seconds stay where they started while the
        // real clock moves on, as between a whole second and the clock thread's tick.
        let c = Clock::system();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let Expiry::AtMs(at) = c.memcache_expiry(1) else {
            panic!("exptime 1 never expires");
        };
        let now = c.now_ms();
        assert!(at > now, "dead on arrival: expires at {at}, now {now}");
        assert!(
            at <= now + 1000,
            "lives past a second: expires at {at}, now {now}"
        );
    }

    #[test]
    fn memcache_exptime_boundaries() {
        let c = Clock::manual(1_700_000_000);
        assert_eq!(c.memcache_expiry(0), Expiry::Never);
        assert_eq!(c.memcache_expiry(-1), Expiry::AtMs(0));
        assert_eq!(c.memcache_expiry(10), Expiry::at_secs(1_700_000_010));
        assert_eq!(
            c.memcache_expiry(REALTIME_MAXDELTA),
            Expiry::at_secs(1_700_000_000 + REALTIME_MAXDELTA as u64)
        );
        assert_eq!(
            c.memcache_expiry(REALTIME_MAXDELTA + 1),
            Expiry::at_secs(REALTIME_MAXDELTA as u64 + 1)
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
        assert_eq!(c.now_ms(), 1_005_000);
        c.advance_ms(1_999);
        assert_eq!((c.unix_now(), c.now_ms()), (1_006, 1_006_999));
        c.advance_ms(2);
        assert_eq!((c.unix_now(), c.now_ms()), (1_007, 1_007_001));
        assert_eq!(c.to_rel(c.to_unix(77)), 77);
        assert_eq!(c.to_rel(0), 1);
    }

    #[test]
    fn system_clock_is_never_ahead_of_the_real_clock() {
        let c = Clock::system();
        c.tick();
        assert!(c.unix_now() * 1000 <= c.now_ms());
        assert_eq!(Expiry::AtMs(1_001).unix_secs(), Some(2));
        assert_eq!(Expiry::Never.unix_ms(), None);
    }
}
