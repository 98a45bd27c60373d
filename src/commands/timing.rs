//! How long commands run, for INFO commandstats, the slow log, the latency monitor and the
//! latency histograms, with as few clock reads as a pipeline allows.
//!
//! Each RESP or memcached command is timed by one [`Timer`]. A worker thread keeps the
//! time its last command ended: when the next command starts with nothing else done in
//! between (the next request of the same pipelined batch), that end is its start, so a
//! batch of N commands reads the monotonic clock N + 1 times rather than 2N. The server
//! calls [`gap`] whenever the worker does something that is no command's time (socket I/O,
//! another connection's turn), and the next command reads the clock afresh. A chained
//! command's time therefore also covers its own parsing and the previous command's
//! bookkeeping, a few tens of nanoseconds.
//!
//! Commands run inside another (a script's `redis.call`) use [`Timer::nested`]: two reads
//! of their own, and the chain is left alone, so the script's own time between two calls
//! is never charged to a call. EXEC's queued commands run back to back with nothing but
//! EXEC's bookkeeping between them, so they chain among themselves ([`Timer::in_queue`]):
//! a queue of N commands reads the clock N + 1 times.
//!
//! Microseconds follow Redis (`call()`): the difference of two whole-microsecond clock
//! readings, which averages to the true duration even for sub-microsecond commands
//! (truncating each duration would add 0 for every fast command).
//!
//! MONITOR stamps each command with the Unix time it started ([`Timer::wall_us`]): the
//! timer's monotonic start plus a wall-clock reading the thread took at most
//! [`WALL_REFRESH_NS`] earlier, so a monitored pipeline reads no extra clock per command
//! (a second `clock_gettime` and its conversion were a quarter of MONITOR's own cost).

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    /// When this thread's last chained command ended (ns on [`now_ns`]'s clock), if nothing
    /// happened since.
    static LAST_END: Cell<Option<u64>> = const { Cell::new(None) };
    /// The same for the commands of the EXEC running on this thread.
    static QUEUE_END: Cell<Option<u64>> = const { Cell::new(None) };
}

/// A wall-clock time is derived from a reading at most this old (ns); a step of the
/// system clock shows in MONITOR's stamps within a millisecond.
const WALL_REFRESH_NS: u64 = 1_000_000;

thread_local! {
    /// This thread's last wall-clock reading: (ns on [`now_ns`]'s clock, µs since the
    /// Unix epoch).
    static WALL: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

/// The monotonic clock (`CLOCK_MONOTONIC`, the one `Instant` reads) in nanoseconds since
/// boot: one clock read and a multiply-add, so a command's two ends cost one subtraction
/// each. (`Instant::now` and its `duration_since` an epoch spent most of a timer's
/// instructions on `Timespec` arithmetic and checks, for one or two reads a command.)
#[inline]
fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes only the timespec it is given, owned here;
    // CLOCK_MONOTONIC always exists on Linux, so it cannot fail (and on failure `ts` stays
    // zero, a valid if wrong time).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The Unix time in µs at `mono` (ns on [`now_ns`]'s clock, not in the future), from
/// this thread's wall-clock reading if it is recent enough.
fn wall_us_at(mono: u64) -> u64 {
    if let Some((base, wall)) = WALL.get() {
        let since = mono.wrapping_sub(base);
        if since < WALL_REFRESH_NS {
            return wall + since / 1000;
        }
    }
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    let now = now_ns();
    WALL.set(Some((now, wall)));
    wall.saturating_sub(now.saturating_sub(mono) / 1000)
}

/// The Unix time in µs now: the end of this thread's last chained command if nothing
/// happened since (a pipelined request starts there), else a clock reading.
pub fn wall_now_us() -> u64 {
    wall_us_at(LAST_END.get().unwrap_or_else(now_ns))
}

/// The worker did something that is no command's time: the next command reads the clock.
#[inline]
pub fn gap() {
    LAST_END.with(|l| l.set(None));
}

/// EXEC starts or ends running its queue: its first command reads the clock.
#[inline]
pub fn gap_in_queue() {
    QUEUE_END.with(|l| l.set(None));
}

/// Which chain a [`Timer`] continues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chain {
    /// The worker's top-level commands ([`Timer::start`]).
    Top,
    /// EXEC's queued commands ([`Timer::in_queue`]).
    Queue,
    /// None ([`Timer::nested`]).
    Off,
}

/// One command's run time, started by [`Timer::start`], [`Timer::in_queue`] or
/// [`Timer::nested`].
#[derive(Debug)]
pub struct Timer {
    began: u64,
    chain: Chain,
}

/// What [`Timer::stop`] measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ran {
    /// Nanoseconds, for the latency histograms.
    pub nanos: u64,
    /// Whole-microsecond readings' difference (Redis's duration), for commandstats, the
    /// slow log and the latency monitor.
    pub usec: u64,
}

impl Timer {
    /// A top-level command starts: at the previous command's end if it just ended on this
    /// thread, else now.
    #[inline]
    pub fn start() -> Timer {
        let began = LAST_END.with(Cell::take).unwrap_or_else(now_ns);
        Timer {
            began,
            chain: Chain::Top,
        }
    }

    /// A command of EXEC's queue starts: where the previous one ended, or now for the first.
    #[inline]
    pub fn in_queue() -> Timer {
        let began = QUEUE_END.with(Cell::take).unwrap_or_else(now_ns);
        Timer {
            began,
            chain: Chain::Queue,
        }
    }

    /// A command run inside another starts now; it leaves the chains alone.
    pub fn nested() -> Timer {
        Timer {
            began: now_ns(),
            chain: Chain::Off,
        }
    }

    /// The Unix time in µs when the command started (MONITOR's stamp).
    pub fn wall_us(&self) -> u64 {
        wall_us_at(self.began)
    }

    /// The command ended now (one clock read); a chained command's end is kept as the
    /// next command's start.
    #[inline]
    pub fn stop(self) -> Ran {
        let now = now_ns();
        match self.chain {
            Chain::Top => LAST_END.with(|l| l.set(Some(now))),
            Chain::Queue => QUEUE_END.with(|l| l.set(Some(now))),
            Chain::Off => {}
        }
        ran_between(self.began, now)
    }
}

/// The run from `began` to `ended` (ns), microseconds counted on whole microseconds.
fn ran_between(began: u64, ended: u64) -> Ran {
    Ran {
        nanos: ended.saturating_sub(began),
        usec: (ended / 1000).saturating_sub(began / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_are_differences_of_whole_microsecond_readings() {
        // 400 ns across a microsecond boundary counts 1 µs, within one counts 0.
        assert_eq!(
            ran_between(900, 1_300),
            Ran {
                nanos: 400,
                usec: 1
            }
        );
        assert_eq!(
            ran_between(1_100, 1_500),
            Ran {
                nanos: 400,
                usec: 0
            }
        );
        assert_eq!(
            ran_between(1_999, 12_000),
            Ran {
                nanos: 10_001,
                usec: 11
            }
        );
    }

    #[test]
    fn a_chained_command_starts_where_the_previous_one_ended() {
        gap();
        let first = Timer::start();
        let first_began = first.began;
        first.stop();
        let ended = LAST_END.with(Cell::get).expect("the end is kept");
        assert!(ended >= first_began);
        let second = Timer::start();
        assert_eq!(second.began, ended);
        assert_eq!(
            LAST_END.with(Cell::get),
            None,
            "taken by the second command"
        );
        second.stop();
        gap();
        assert_eq!(LAST_END.with(Cell::get), None);
    }

    #[test]
    fn wall_time_follows_the_monotonic_clock_between_readings() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        let t = Timer::nested();
        let at = t.wall_us();
        let (base, wall) = WALL.get().expect("read");
        // Derived from the reading just taken: 300 µs later on the monotonic clock is
        // 300 µs later on the wall clock, without a new reading.
        assert_eq!(wall_us_at(base + 300_000), wall + 300);
        assert_eq!(WALL.get(), Some((base, wall)));
        // Past the refresh interval the clock is read again.
        wall_us_at(base + WALL_REFRESH_NS);
        assert_ne!(WALL.get().expect("read").0, base);
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_micros() as u64;
        // The Unix time, within the system clock's own jitter against the monotonic clock
        // (tens of µs, at times ms, on a VM whose clock is adjusted).
        let slack = 100_000;
        assert!(
            before - slack <= at && at <= after + slack,
            "{before} {at} {after}"
        );
        let now = wall_now_us();
        assert!(
            before - slack <= now && now <= after + slack,
            "{before} {now} {after}"
        );
    }

    #[test]
    fn a_nested_command_neither_takes_nor_leaves_an_end() {
        gap();
        let outer = Timer::start();
        let inner = Timer::nested();
        inner.stop();
        assert_eq!(LAST_END.with(Cell::get), None);
        outer.stop();
        let ended = LAST_END.with(Cell::get).expect("the outer end is kept");
        Timer::nested().stop();
        assert_eq!(LAST_END.with(Cell::get), Some(ended));
        gap();
    }

    #[test]
    fn queued_commands_chain_among_themselves_and_leave_the_top_chain_alone() {
        gap();
        let exec = Timer::start();
        gap_in_queue();
        let first = Timer::in_queue();
        let first_end = {
            first.stop();
            QUEUE_END.with(Cell::get).expect("the first end is kept")
        };
        let second = Timer::in_queue();
        assert_eq!(second.began, first_end);
        // A script's call inside the queue neither takes nor leaves the queue's end.
        Timer::nested().stop();
        second.stop();
        assert!(QUEUE_END.with(Cell::get).is_some());
        assert_eq!(LAST_END.with(Cell::get), None);
        gap_in_queue();
        assert_eq!(QUEUE_END.with(Cell::get), None);
        exec.stop();
        assert!(LAST_END.with(Cell::get).is_some());
        gap();
    }
}
