//! How much of a connection's buffer recent use needs: the most bytes one buffer held in
//! the current and the previous clock second, and the capacity to shrink it to.

use super::{READ_CHUNK, SHRINK_FACTOR};

/// The most bytes one buffer held in the current and the previous clock second.
#[derive(Debug, Default)]
pub(super) struct Usage {
    second: u32,
    current: usize,
    previous: usize,
}

impl Usage {
    fn roll(&mut self, now: u32) {
        if now != self.second {
            let next_second = now == self.second.wrapping_add(1);
            self.previous = if next_second { self.current } else { 0 };
            self.current = 0;
            self.second = now;
        }
    }

    pub(super) fn note(&mut self, now: u32, bytes: usize) {
        self.roll(now);
        self.current = self.current.max(bytes);
    }

    /// The capacity to shrink a buffer of `capacity` to, when it is far more than recent
    /// use (nothing when `idle`); `None` keeps it.
    pub(super) fn keep(&mut self, now: u32, capacity: usize, idle: bool) -> Option<usize> {
        if idle {
            return (capacity > 0).then_some(0);
        }
        self.roll(now);
        let recent = self.current.max(self.previous);
        let oversized = capacity > READ_CHUNK && capacity > recent.saturating_mul(SHRINK_FACTOR);
        oversized.then(|| recent.saturating_mul(2).max(READ_CHUNK))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_in_use_is_kept_and_shrinks_two_seconds_after_use_drops() {
        let mut u = Usage::default();
        let cap = 256 << 10;
        u.note(10, 100 << 10);
        assert_eq!(u.keep(10, cap, false), None);
        // Small requests in the next second: the previous second's peak still counts.
        u.note(11, 100);
        assert_eq!(u.keep(11, cap, false), None);
        u.note(12, 100);
        assert_eq!(u.keep(12, cap, false), Some(READ_CHUNK));
    }

    #[test]
    fn a_gap_of_seconds_forgets_the_old_peak() {
        let mut u = Usage::default();
        u.note(10, 1 << 20);
        u.note(15, 100);
        assert_eq!(u.keep(15, 2 << 20, false), Some(READ_CHUNK));
    }

    #[test]
    fn shrinking_keeps_twice_the_recent_peak_and_never_goes_below_the_start_size() {
        let mut u = Usage::default();
        u.note(3, 50 << 10);
        assert_eq!(u.keep(3, 1 << 20, false), Some(100 << 10));
        assert_eq!(u.keep(3, 300 << 10, false), Some(100 << 10));
        assert_eq!(u.keep(3, 200 << 10, false), None);
        assert_eq!(u.keep(3, READ_CHUNK, false), None);
    }

    #[test]
    fn idle_gives_everything_back() {
        let mut u = Usage::default();
        u.note(3, 1 << 20);
        assert_eq!(u.keep(3, 2 << 20, true), Some(0));
        assert_eq!(u.keep(3, 0, true), None);
    }
}
