//! Connection gathering: live connections sit on as few awake workers as the load needs.
//!
//! On a small machine each worker sleep/wake costs several microseconds of CPU (the
//! scheduler's context switch; `finish_task_switch` was 22–24% of memcaslap profiles on a
//! 2-core VM), and two half-busy workers sleep and wake far more often than one busy one:
//! `-t 1` served 1.6× the request rate of `-t 2` there. So workers `0..active` take new
//! connections and keep theirs; the others hand their connections to the active ones and
//! sleep with none. `active` starts at 1 and changes only here:
//!
//! - **spread** (`active + 1`, the new worker gets a share of every active worker's
//!   connections) when the active workers are on CPU [`SPREAD_AT`] or more of the wall
//!   time on average *and* the machine has at least [`IDLE_NEEDED`] of a CPU idle. The
//!   signal is each worker's own CPU clock (`pthread_getcpuclockid`), read by the clock
//!   thread, not wall time outside `epoll_wait`: a worker busy all the time but on CPU
//!   half of it is starved by other processes, and a second worker would only share the
//!   same CPUs; a worker on CPU all the time while CPUs idle is what another worker fixes.
//!   Machine idle time is `/proc/stat`'s idle + iowait.
//! - **gather** (`active - 1`, the last active worker hands its connections back) when the
//!   active workers together use at most [`GATHER_AT`] × (`active` - 1) CPUs: what is left
//!   fits on one worker fewer with room to spare.
//!
//! The gap between the two thresholds (0.85 per worker against 0.5) and a [`DWELL`] after
//! every change keep the count from oscillating. A machine with more cores than load
//! loses nothing: a saturated worker with idle CPUs beside it spreads within a window or
//! two, one worker per [`DWELL`], up to `-t`. The check costs the clock thread a few
//! `clock_gettime` calls and one read of `/proc/stat` every [`WINDOW`]; a worker pays one
//! relaxed atomic load per turn to see whether `active` changed.
//!
//! What moves is decided by the worker at the end of a turn ([`super::connection`]'s
//! `Connection::movable`): only connections in the plain state (no subscription, MONITOR,
//! `watch`, tracking, MULTI, parked or blocked request, nothing unsent). The others stay
//! where they are until they become plain (an inactive worker looks again once a second).
//!
//! `-o worker_gather=0` turns this off (connections stay where the acceptor put them,
//! round-robin over every worker, as before). `-o worker_shuffle` is a test aid: every
//! plain connection that ran a request moves to the next worker at the end of the turn.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use mio::Waker;
use parking_lot::Mutex;

use super::worker::Handoff;
use crate::stats::ServerStats;

/// How often the clock thread measures the workers.
pub const WINDOW: Duration = Duration::from_millis(200);
/// The least time between two changes of the active count.
pub const DWELL: Duration = Duration::from_millis(1000);
/// Average on-CPU fraction of the active workers at which another one is woken.
pub const SPREAD_AT: f64 = 0.85;
/// Idle CPUs the machine must have for another worker to help.
pub const IDLE_NEEDED: f64 = 0.5;
/// On-CPU fraction per remaining worker under which the active workers gather.
pub const GATHER_AT: f64 = 0.5;

/// How connections are placed on workers (`-o worker_gather`, `-o worker_shuffle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Round-robin over every worker; nothing moves.
    Off,
    /// Gather on as few workers as the load needs (this module).
    Gather,
    /// Testing: plain connections move to the next worker after each turn they ran in.
    Shuffle,
}

/// A worker as other threads reach it: its hand-off channel and its waker.
pub struct Peer {
    pub handoffs: Sender<Handoff>,
    pub waker: Arc<Waker>,
}

/// The placement policy's shared state.
pub struct Gather {
    pub mode: Mode,
    workers: usize,
    /// Workers `0..active` take and keep connections.
    active: AtomicUsize,
    /// Bumped at every change of `active` (workers compare it once per turn).
    epoch: AtomicU64,
    /// Each worker's CPU-time clock, set by the worker when it starts (-1 until then).
    clocks: Vec<AtomicI32>,
    peers: OnceLock<Vec<Peer>>,
    control: Mutex<Control>,
}

/// The clock thread's last sample.
struct Control {
    at: Option<Instant>,
    changed: Instant,
    cpu: Vec<u64>,
    idle: (u64, u64),
}

impl Gather {
    pub fn new(mode: Mode, workers: usize) -> Gather {
        let active = match mode {
            Mode::Gather => 1,
            _ => workers,
        };
        Gather {
            mode,
            workers,
            active: AtomicUsize::new(active.max(1)),
            epoch: AtomicU64::new(0),
            clocks: (0..workers).map(|_| AtomicI32::new(-1)).collect(),
            peers: OnceLock::new(),
            control: Mutex::new(Control {
                at: None,
                changed: Instant::now(),
                cpu: vec![0; workers],
                idle: (0, 0),
            }),
        }
    }

    pub fn set_peers(&self, peers: Vec<Peer>) {
        let _ = self.peers.set(peers);
    }

    pub fn peer(&self, worker: usize) -> Option<&Peer> {
        self.peers.get()?.get(worker)
    }

    /// How many workers take and keep connections.
    #[inline]
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    #[inline]
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether connections may move between workers at all.
    pub fn moves(&self) -> bool {
        self.mode != Mode::Off && self.workers > 1
    }

    /// Called by worker `id` on its own thread when it starts.
    pub fn register_thread(&self, id: usize) {
        let mut clock: libc::clockid_t = 0;
        // SAFETY: pthread_getcpuclockid writes one clockid_t into the local it points to;
        // pthread_self() is the calling thread, alive for the call.
        let r = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut clock) };
        if r == 0 {
            self.clocks[id].store(clock, Ordering::Relaxed);
        }
    }

    /// The clock thread's check, called every 100 ms or so; measures every [`WINDOW`].
    pub fn tick(&self, stats: &ServerStats) {
        if self.mode != Mode::Gather || self.workers < 2 {
            return;
        }
        let mut c = self.control.lock();
        let now = Instant::now();
        if c.at.is_some_and(|at| now.duration_since(at) < WINDOW) {
            return;
        }
        let cpu: Vec<u64> = self.clocks.iter().map(thread_cpu_ns).collect();
        let idle = machine_idle();
        let Some(at) = c.at.replace(now) else {
            c.cpu = cpu;
            c.idle = idle;
            return;
        };
        let wall = now.duration_since(at).as_nanos().max(1) as f64;
        let busy: Vec<f64> = cpu
            .iter()
            .zip(&c.cpu)
            .map(|(n, o)| n.saturating_sub(*o) as f64 / wall)
            .collect();
        let (idle_ticks, total_ticks) = (
            idle.0.saturating_sub(c.idle.0),
            idle.1.saturating_sub(c.idle.1),
        );
        let idle_cpus = if total_ticks == 0 {
            0.0
        } else {
            idle_ticks as f64 / total_ticks as f64 * cpus() as f64
        };
        c.cpu = cpu;
        c.idle = idle;
        let active = self.active();
        stats.workers_active.store(active as u64, Ordering::Relaxed);
        if now.duration_since(c.changed) < DWELL {
            return;
        }
        let used: f64 = busy[..active].iter().sum();
        let next = decide(active, self.workers, used, idle_cpus);
        if next != active {
            c.changed = now;
            self.active.store(next, Ordering::Relaxed);
            self.epoch.fetch_add(1, Ordering::Release);
            stats.workers_active.store(next as u64, Ordering::Relaxed);
            // Every worker that has connections to hand over or take looks at once.
            for w in 0..active.max(next) {
                if let Some(p) = self.peer(w) {
                    let _ = p.waker.wake();
                }
            }
        }
    }
}

/// The active count after a window in which the active workers used `used` CPUs together
/// while the machine had `idle_cpus` idle.
fn decide(active: usize, workers: usize, used: f64, idle_cpus: f64) -> usize {
    if active < workers && used >= SPREAD_AT * active as f64 && idle_cpus >= IDLE_NEEDED {
        active + 1
    } else if active > 1 && used <= GATHER_AT * (active - 1) as f64 {
        active - 1
    } else {
        active
    }
}

/// A worker thread's CPU time in nanoseconds (0 before it registered its clock).
fn thread_cpu_ns(clock: &AtomicI32) -> u64 {
    let id = clock.load(Ordering::Relaxed);
    if id == -1 {
        return 0;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the local it points to.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The machine's idle (idle + iowait) and total CPU ticks from `/proc/stat`.
fn machine_idle() -> (u64, u64) {
    let Ok(text) = std::fs::read_to_string("/proc/stat") else {
        return (0, 0);
    };
    let Some(line) = text.lines().next() else {
        return (0, 0);
    };
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|f| f.parse().ok())
        .collect();
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (idle, fields.iter().sum())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_only_when_saturated_with_idle_cpus() {
        // One worker on CPU 95% with one CPU idle: wake another.
        assert_eq!(decide(1, 2, 0.95, 1.0), 2);
        // Saturated but the machine is busy (the client takes the other core): stay.
        assert_eq!(decide(1, 2, 0.95, 0.1), 1);
        // Not saturated: stay.
        assert_eq!(decide(1, 2, 0.6, 1.5), 1);
        // Already every worker.
        assert_eq!(decide(2, 2, 1.9, 1.0), 2);
    }

    #[test]
    fn gathers_with_a_gap_below_spreading() {
        // Two workers using 1.2 CPUs together stay spread (no oscillation band)...
        assert_eq!(decide(2, 4, 1.2, 0.0), 2);
        // ...and gather once one worker would be at most half busy.
        assert_eq!(decide(2, 4, 0.45, 3.0), 1);
        assert_eq!(decide(3, 4, 0.9, 3.0), 2);
        assert_eq!(decide(1, 4, 0.0, 3.0), 1);
    }
}
