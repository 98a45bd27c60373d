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
//!   connections) when the active workers are busy (on CPU or waiting in the run queue)
//!   [`SPREAD_AT`] of the time or more on average, *and* another worker would get the
//!   server more CPU: the machine has [`IDLE_NEEDED`] of a CPU idle, or the workers
//!   wait for a CPU [`WAIT_NEEDED`] of the time or more (other threads, the clients on a
//!   small machine, share their CPUs, and one more thread gets a larger share, as `-t`
//!   threads always did). A worker on CPU nearly all the time beside a one-thread client
//!   on the other core stays alone: a second worker only adds sleeps and wakes. The
//!   signal is each worker's `/proc/self/task/TID/schedstat` (time on CPU and waiting to
//!   run), read by the clock thread; machine idle time is `/proc/stat`'s idle + iowait.
//!   A spread is sure only beside [`SURE_IDLE`] idle CPUs (cores to spare); any other is
//!   a trial ([`Trial`], after [`TRIAL_IN_A_ROW`] windows calling for it): the rate it
//!   serves is compared with one worker fewer's, and the spread stays only if it served
//!   [`TRIAL_MARGIN`] times more; a kept spread is tried again after [`RETRY_AFTER`].
//! - **gather** (`active - 1`, the last active worker hands its connections back) when the
//!   active workers together are busy at most [`GATHER_AT`] × (`active` - 1): what is
//!   left fits on one worker fewer with room to spare.
//!
//! The gap between the two thresholds (0.9 per worker against 0.5), [`IN_A_ROW`] (two)
//! windows in a row calling for a change before it is made, and a [`DWELL`] after every
//! change keep the count from oscillating: one noisy window spreads nothing (one memcaslap
//! run spread once mid-run on the one-window rule). Windows inside the dwell count toward
//! the next change, so a load that stays saturated still spreads one worker per dwell. A machine with more cores than load
//! loses nothing: a saturated worker with idle CPUs beside it spreads within a window or
//! two, one worker per [`DWELL`], up to `-t`. The check costs the clock thread one
//! `schedstat` read per worker and one of `/proc/stat` every [`WINDOW`]; a worker pays one
//! relaxed atomic load per turn to see whether `active` changed.
//!
//! What moves is decided by the worker at the end of a turn ([`super::connection`]'s
//! `Connection::movable`): only connections in the plain state (no subscription, MONITOR,
//! `watch`, tracking, MULTI, parked or blocked request, nothing unsent). The others stay
//! where they are until they become plain (an inactive worker looks again once a second).
//!
//! Where the kernel keeps no `schedstat` (no CONFIG_SCHED_INFO, a sandbox's /proc), every
//! worker stays active: nothing would tell a saturated worker from an idle one.
//!
//! **Publishers** follow their receivers. A connection whose last PUBLISH (or SPUBLISH)
//! reached subscribers that all sit on one worker ([`crate::hub::Reach::home`]) belongs on
//! that worker: each message then costs a copy per subscriber, where from another worker
//! it also costs a mailbox post and, often, a wake-up of the subscribers' worker (Pub/Sub
//! fan-out at `-t 2` made twice the context switches of `-t 1`). So a spread leaves such
//! publishers where they are (`Connection::anchored`), and a plain publisher on another
//! worker moves to the receivers' worker at the end of the turn it published in, if that
//! worker is active, at most once a clock second (a client alternating between two
//! workers' channels does not move every turn). Only the last PUBLISH counts: a connection
//! that published once and now only reads or writes keys stays anchored until it
//! publishes elsewhere (it moves again when its worker stops being active).
//!
//! `-o worker_gather=0` turns this off (connections stay where the acceptor put them,
//! round-robin over every worker, as before). `-o worker_shuffle` is a test aid: every
//! plain connection that ran a request moves to the next worker at the end of the turn.
//! `-o worker_spread` is another: every worker active, publishers pulled as above.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use mio::Waker;
use parking_lot::Mutex;

use super::worker::Handoff;
use crate::stats::{ServerStats, ThreadStats};

/// How often the clock thread measures the workers.
pub const WINDOW: Duration = Duration::from_millis(200);
/// The least time between two changes of the active count.
pub const DWELL: Duration = Duration::from_millis(1000);
/// Average busy fraction (on CPU or waiting for one) of the active workers at which
/// another one is woken.
pub const SPREAD_AT: f64 = 0.9;
/// Average fraction of the time the active workers wait for a CPU at which another
/// worker gets the server more CPU time.
pub const WAIT_NEEDED: f64 = 0.1;
/// Idle CPUs the machine must have for another worker to help.
pub const IDLE_NEEDED: f64 = 0.5;
/// Idle CPUs beside which a saturated worker spreads with no trial: a CPU and a half
/// stays idle only on a machine with cores to spare. On two CPUs shared with a one-thread
/// client, 0.5-0.9 idle came from the client's pauses (a warm-up faulting fresh item
/// memory in, a stall of a window or two), and the spread it made stayed for the run.
pub const SURE_IDLE: f64 = 1.5;
/// How much more the spread must serve than one worker fewer to stay: the extra worker
/// costs CPU per request (100 KiB values: 18.7 against 16 us), so a tie gathers, and a
/// trial's three windows per side differ by a few percent on the same load.
pub const TRIAL_MARGIN: f64 = 1.03;
/// Busy fraction per remaining worker under which the active workers gather.
pub const GATHER_AT: f64 = 0.5;
/// Windows in a row that must call for the same change before it is made: one noisy
/// window (a burst of the machine's other work, a client's pause) moves nothing.
pub const IN_A_ROW: u32 = 2;
/// Windows in a row that must call for a spread on trial: a client opening its
/// connections makes the worker wait for a CPU for a window or two (100 KiB values: 0.45
/// of the time in two windows as a benchmark started), and a trial costs its windows on
/// the worse count, so only waiting that lasts a second is tried.
pub const TRIAL_IN_A_ROW: u32 = 5;
/// Windows a trial measures on each side (after [`TRIAL_SKIP`] windows).
pub const TRIAL_WINDOWS: u32 = 3;
/// Windows a trial skips after each change, while connections move and settle.
pub const TRIAL_SKIP: u32 = 1;
/// How long, after a trial found the spread served no more, nothing spreads on trial (a
/// load that stays so would otherwise try again every few windows); and how long a spread
/// that won its trial stays before it is tried again, while its workers still wait for a
/// CPU (a trial decided on a noisy window, or a load that changed since, is undone).
pub const RETRY_AFTER: Duration = Duration::from_secs(10);

/// How connections are placed on workers (`-o worker_gather`, `-o worker_shuffle`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Round-robin over every worker; nothing moves.
    Off,
    /// Gather on as few workers as the load needs (this module).
    Gather,
    /// Testing: plain connections move to the next worker after each turn they ran in.
    Shuffle,
    /// Testing: every worker stays active (no measuring), but publishers still move to
    /// their receivers' worker, as under [`Mode::Gather`].
    Spread,
}

impl Mode {
    /// Publishers move to the worker holding their receivers (see the module doc).
    pub fn pulls_publishers(self) -> bool {
        matches!(self, Mode::Gather | Mode::Spread)
    }
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
    /// Each worker's thread id, set by the worker when it starts (0 until then).
    tids: Vec<AtomicI32>,
    peers: OnceLock<Vec<Peer>>,
    control: Mutex<Control>,
}

/// The clock thread's last sample.
struct Control {
    at: Option<Instant>,
    policy: Policy,
    /// Per worker: nanoseconds on CPU and waiting to run (runnable, not running).
    cpu: Vec<(u64, u64)>,
    idle: (u64, u64),
    /// Requests served by every worker ([`served`]).
    served: u64,
}

impl Gather {
    /// `trials`: whether waiting for a CPU alone may spread (on trial, [`Trial`]);
    /// `-o worker_trial=0` turns that off, so only idle CPUs spread (the trials' cost is
    /// measured against it).
    pub fn new(mode: Mode, workers: usize, trials: bool) -> Gather {
        let active = match mode {
            Mode::Gather => 1,
            _ => workers,
        };
        Gather {
            mode,
            workers,
            active: AtomicUsize::new(active.max(1)),
            epoch: AtomicU64::new(0),
            tids: (0..workers).map(|_| AtomicI32::new(0)).collect(),
            peers: OnceLock::new(),
            control: Mutex::new(Control {
                at: None,
                policy: Policy {
                    trials,
                    ..Policy::new(workers, Instant::now())
                },
                cpu: vec![(0, 0); workers],
                idle: (0, 0),
                served: 0,
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
        // SAFETY: gettid(2) takes no arguments and cannot fail.
        let tid = unsafe { libc::gettid() };
        self.tids[id].store(tid, Ordering::Relaxed);
    }

    /// The clock thread's check, called every 100 ms or so; measures every [`WINDOW`].
    pub fn tick(&self, stats: &ServerStats, threads: &[ThreadStats]) {
        if self.mode != Mode::Gather || self.workers < 2 {
            return;
        }
        let mut c = self.control.lock();
        let now = Instant::now();
        if c.at.is_some_and(|at| now.duration_since(at) < WINDOW) {
            return;
        }
        let Some(cpu) = self.tids.iter().map(sched_ns).collect::<Option<Vec<_>>>() else {
            // No scheduler statistics (a kernel without CONFIG_SCHED_INFO, a sandbox's
            // /proc): nothing tells a saturated worker from an idle one, so every worker
            // stays active, as with `-o worker_gather=0`.
            let active = self.active();
            if active != self.workers {
                self.change(&mut c, now, active, self.workers, stats);
            }
            return;
        };
        let idle = machine_idle();
        let done = served(threads);
        let Some(at) = c.at.replace(now) else {
            c.cpu = cpu;
            c.idle = idle;
            c.served = done;
            return;
        };
        let wall = now.duration_since(at).as_nanos().max(1) as f64;
        let share = |n: u64, o: u64| n.saturating_sub(o) as f64 / wall;
        let busy: Vec<f64> = cpu
            .iter()
            .zip(&c.cpu)
            .map(|(n, o)| share(n.0, o.0))
            .collect();
        let wait: Vec<f64> = cpu
            .iter()
            .zip(&c.cpu)
            .map(|(n, o)| share(n.1, o.1))
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
        let rate = done.saturating_sub(c.served) as f64 / (wall / 1e9);
        c.cpu = cpu;
        c.idle = idle;
        c.served = done;
        let active = self.active();
        stats.workers_active.store(active as u64, Ordering::Relaxed);
        let load = Load {
            used: busy[..active].iter().sum(),
            waited: wait[..active].iter().sum(),
            idle_cpus,
            rate,
        };
        let next = c.policy.window(now, active, &load);
        let p = &c.policy;
        stats.worker_trials.store(p.tried, Ordering::Relaxed);
        stats.worker_trials_kept.store(p.kept, Ordering::Relaxed);
        stats
            .worker_trial_spread_rate
            .store(p.last.0 as u64, Ordering::Relaxed);
        stats
            .worker_trial_back_rate
            .store(p.last.1 as u64, Ordering::Relaxed);
        if next != active {
            self.change(&mut c, now, active, next, stats);
        }
    }

    /// Makes `next` workers active (from `active`) and wakes those that move connections.
    fn change(
        &self,
        c: &mut Control,
        now: Instant,
        active: usize,
        next: usize,
        stats: &ServerStats,
    ) {
        c.policy.changed(now);
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

/// What the active workers did over one window, in CPUs.
struct Load {
    /// Time on CPU, all active workers together.
    used: f64,
    /// Time runnable but waiting for a CPU (the run queue), all active workers together.
    waited: f64,
    /// Idle CPUs of the machine.
    idle_cpus: f64,
    /// Requests served per second, all workers together.
    rate: f64,
}

/// Requests the workers have served so far, the trials' measure of throughput: memcached
/// gets (keys), stores, touches, meta commands, deletes and arithmetic, and RESP commands.
fn served(threads: &[ThreadStats]) -> u64 {
    threads
        .iter()
        .map(|t| {
            let s = t.snapshot();
            s.cmd_get
                + s.cmd_set
                + s.cmd_touch
                + s.cmd_meta
                + s.delete_hits
                + s.delete_misses
                + s.incr_hits
                + s.incr_misses
                + s.decr_hits
                + s.decr_misses
                + s.resp_cmds
        })
        .sum()
}

/// A spread made for waiting alone (no CPU idle) is on trial: waiting says the workers
/// share their CPUs with other threads, not whether one more worker helps. With two
/// client threads starving one worker (TLS) a second served 1.15x the rate; beside a
/// one-thread client (100 KiB values) the worker waits for the client's core, a second
/// worker waits too, both sleep and wake more, and `-t 1` served 1.15x the rate of two
/// at 0.82x the CPU per request. So the spread's rate is measured, then the rate with
/// one worker fewer, and the better count stays.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Trial {
    /// `from + 1` workers since the spread: windows seen, rates summed (after the skip).
    Spread { from: usize, seen: u32, sum: f64 },
    /// Back to `from` to compare with the spread's mean rate.
    Back {
        from: usize,
        spread: f64,
        seen: u32,
        sum: f64,
    },
}

/// One more window of a trial side: (windows seen, measured rates summed).
fn measured(seen: u32, sum: f64, rate: f64) -> (u32, f64) {
    let seen = seen + 1;
    (seen, if seen > TRIAL_SKIP { sum + rate } else { sum })
}

/// The policy's memory between windows: what the last windows called for, and when the
/// active count last changed. Pure (the clock thread feeds it measured loads, the tests
/// synthetic ones).
struct Policy {
    workers: usize,
    /// The change the latest windows called for (+1, -1 or 0) and how many in a row did.
    want: (isize, u32),
    changed: Instant,
    trial: Option<Trial>,
    /// Until then nothing spreads on trial ([`RETRY_AFTER`]).
    no_trial_until: Option<Instant>,
    /// When a spread that won its trial is tried again ([`RETRY_AFTER`]).
    recheck_at: Option<Instant>,
    /// Whether spreads on trial happen at all (`-o worker_trial`).
    trials: bool,
    /// Trials started, trials whose spread stayed, and the last decided trial's mean rates
    /// (spread, back): INFO stats `worker_trials`, `worker_trials_kept`,
    /// `worker_trial_last`.
    tried: u64,
    kept: u64,
    last: (f64, f64),
}

impl Policy {
    fn new(workers: usize, now: Instant) -> Policy {
        Policy {
            workers,
            want: (0, 0),
            changed: now,
            trial: None,
            no_trial_until: None,
            recheck_at: None,
            trials: true,
            tried: 0,
            kept: 0,
            last: (0.0, 0.0),
        }
    }

    /// One window's load of the `active` workers, measured at `now`: the active count to
    /// have. A change needs [`IN_A_ROW`] windows calling for it and [`DWELL`] since the
    /// last one. Windows inside the dwell count toward the next change, so a load that
    /// stays saturated spreads one worker per [`DWELL`], as with a single window: the rule
    /// only delays the first step from rest, by one window.
    fn window(&mut self, now: Instant, active: usize, load: &Load) -> usize {
        if let Some(count) = self.judge(now, active, load) {
            return count;
        }
        if self.recheck(now, active, load) {
            return active;
        }
        let may_try = self.trials && !matches!(self.no_trial_until, Some(until) if now < until);
        let next = decide(active, self.workers, load, may_try);
        let dir = next as isize - active as isize;
        if dir == self.want.0 {
            self.want.1 = self.want.1.saturating_add(1);
        } else {
            self.want = (dir, 1);
        }
        if dir == 0 || self.want.1 < IN_A_ROW || now.duration_since(self.changed) < DWELL {
            return active;
        }
        if dir > 0 && load.idle_cpus < SURE_IDLE {
            if self.want.1 < TRIAL_IN_A_ROW {
                return active;
            }
            self.tried += 1;
            self.trial = Some(Trial::Spread {
                from: active,
                seen: 0,
                sum: 0.0,
            });
        }
        next
    }

    /// A trial's step ([`Trial`]): the active count while one runs (the usual rules
    /// wait), `None` when none does.
    fn judge(&mut self, now: Instant, active: usize, load: &Load) -> Option<usize> {
        let side = TRIAL_SKIP + TRIAL_WINDOWS;
        let mean = |sum: f64| sum / f64::from(TRIAL_WINDOWS);
        match self.trial? {
            Trial::Spread { from, seen, sum } if active == from + 1 => {
                let (seen, sum) = measured(seen, sum, load.rate);
                self.trial = Some(if seen < side {
                    Trial::Spread { from, seen, sum }
                } else {
                    Trial::Back {
                        from,
                        spread: mean(sum),
                        seen: 0,
                        sum: 0.0,
                    }
                });
                Some(if seen < side { active } else { from })
            }
            Trial::Back {
                from,
                spread,
                seen,
                sum,
            } if active == from => {
                let (seen, sum) = measured(seen, sum, load.rate);
                if seen < side {
                    self.trial = Some(Trial::Back {
                        from,
                        spread,
                        seen,
                        sum,
                    });
                    return Some(active);
                }
                self.trial = None;
                self.last = (spread, mean(sum));
                if spread > mean(sum) * TRIAL_MARGIN {
                    self.kept += 1;
                    self.recheck_at = Some(now + RETRY_AFTER);
                    return Some(from + 1);
                }
                self.no_trial_until = Some(now + RETRY_AFTER);
                Some(from)
            }
            // The count changed otherwise (the server is stopping).
            _ => {
                self.trial = None;
                None
            }
        }
    }

    /// Whether a spread that won its trial [`RETRY_AFTER`] ago, whose workers still wait
    /// for a CPU, goes on trial again (measured as it is, then with one worker fewer).
    fn recheck(&mut self, now: Instant, active: usize, load: &Load) -> bool {
        let due = self.recheck_at.is_some_and(|at| now >= at);
        if !due || self.trial.is_some() || active < 2 {
            return false;
        }
        self.recheck_at = None;
        if load.waited < WAIT_NEEDED * active as f64 {
            return false;
        }
        self.tried += 1;
        self.trial = Some(Trial::Spread {
            from: active - 1,
            seen: 0,
            sum: 0.0,
        });
        true
    }

    /// The active count changed at `now` (by [`Policy::window`] or otherwise).
    fn changed(&mut self, now: Instant) {
        self.changed = now;
        self.want = (0, 0);
    }
}

/// The change one window's load calls for: the active count it would have.
/// `may_try`: whether a spread on trial may happen (below [`SURE_IDLE`] idle CPUs).
fn decide(active: usize, workers: usize, l: &Load, may_try: bool) -> usize {
    let n = active as f64;
    // Busy (running or waiting to run) nearly all the time, and either CPUs idle beside
    // it, or waiting for a CPU: other threads (the clients, on a small machine) share its
    // CPUs, and one more worker may get the server a larger share, as `-t` threads do
    // (a trial decides, [`Trial`]).
    let saturated = l.used + l.waited >= SPREAD_AT * n;
    let helps = l.idle_cpus >= SURE_IDLE
        || (may_try && (l.idle_cpus >= IDLE_NEEDED || l.waited >= WAIT_NEEDED * n));
    if active < workers && saturated && helps {
        active + 1
    } else if active > 1 && l.used + l.waited <= GATHER_AT * (n - 1.0) {
        active - 1
    } else {
        active
    }
}

/// A thread's time on CPU and waiting to run, in nanoseconds
/// (`/proc/self/task/TID/schedstat`): zeros for a worker not started yet, `None` when
/// the kernel does not say.
fn sched_ns(tid: &AtomicI32) -> Option<(u64, u64)> {
    let tid = tid.load(Ordering::Relaxed);
    if tid == 0 {
        return Some((0, 0));
    }
    let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
    let mut f = text.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((f.next()??, f.next()??))
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
    fn schedstat_is_read_for_a_live_thread_and_missing_for_no_thread() {
        // SAFETY: gettid(2) takes no arguments and cannot fail.
        let me = AtomicI32::new(unsafe { libc::gettid() });
        // A new thread may read zeros until the scheduler first accounts it.
        assert!(sched_ns(&me).is_some(), "this thread's schedstat");
        assert_eq!(sched_ns(&AtomicI32::new(0)), Some((0, 0)));
        assert_eq!(sched_ns(&AtomicI32::new(i32::MAX)), None);
    }

    fn d(active: usize, workers: usize, used: f64, waited: f64, idle_cpus: f64) -> usize {
        decide(
            active,
            workers,
            &Load {
                used,
                waited,
                idle_cpus,
                rate: 0.0,
            },
            true,
        )
    }

    #[test]
    fn spreads_when_saturated_and_another_worker_helps() {
        // On CPU 95% with one CPU idle: wake another.
        assert_eq!(d(1, 2, 0.95, 0.0, 1.0), 2);
        // On CPU 97%, nothing idle, hardly waiting (a one-thread client has the other
        // core): a second worker would only add sleeps and wakes. Stay.
        assert_eq!(d(1, 2, 0.97, 0.02, 0.05), 1);
        // On CPU 75% and waiting 20% for a CPU the clients' threads hold: spread.
        assert_eq!(d(1, 2, 0.75, 0.2, 0.0), 2);
        // Not busy: stay.
        assert_eq!(d(1, 2, 0.6, 0.0, 1.5), 1);
        // Already every worker.
        assert_eq!(d(2, 2, 1.9, 0.1, 1.0), 2);
    }

    /// Saturated beside cores to spare: spreads with no trial.
    const HOT: Load = Load {
        used: 0.97,
        waited: 0.0,
        idle_cpus: 2.0,
        rate: 0.0,
    };
    const WARM: Load = Load {
        used: 0.6,
        waited: 0.0,
        idle_cpus: 1.4,
        rate: 0.0,
    };
    const COLD: Load = Load {
        used: 0.1,
        waited: 0.0,
        idle_cpus: 1.9,
        rate: 0.0,
    };

    /// Feeds `p` one window every 200 ms from `from` ms on; the active count after each.
    fn run(
        p: &mut Policy,
        t0: Instant,
        from: u64,
        active: &mut usize,
        loads: &[&Load],
    ) -> Vec<usize> {
        let mut seen = Vec::new();
        for (i, load) in loads.iter().enumerate() {
            let now = t0 + Duration::from_millis(from + 200 * i as u64);
            let next = p.window(now, *active, load);
            if next != *active {
                p.changed(now);
                *active = next;
            }
            seen.push(*active);
        }
        seen
    }

    #[test]
    fn one_saturated_window_between_quiet_ones_spreads_nothing() {
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        // Past the start's dwell: hot, warm, hot, warm... never two hot windows in a row.
        let loads = [&HOT, &WARM, &HOT, &WARM, &HOT, &COLD, &HOT, &WARM];
        assert_eq!(run(&mut p, t0, 2000, &mut active, &loads), vec![1; 8]);
        // Two in a row spread.
        assert_eq!(
            run(&mut p, t0, 4000, &mut active, &[&HOT, &HOT]),
            vec![1, 2]
        );
    }

    #[test]
    fn a_saturated_load_spreads_one_worker_per_dwell_as_before() {
        let t0 = Instant::now();
        let mut p = Policy::new(4, t0);
        let mut active = 1;
        let mut seen = Vec::new();
        // Every active worker saturated, CPUs idle beside them (a machine with more cores
        // than load), windows at 200 ms, 400 ms, ...
        for i in 1..=16u64 {
            let now = t0 + Duration::from_millis(200 * i);
            let hot = Load {
                used: 0.97 * active as f64,
                waited: 0.0,
                idle_cpus: 2.0,
                rate: 0.0,
            };
            let next = p.window(now, active, &hot);
            if next != active {
                p.changed(now);
                active = next;
            }
            seen.push(active);
        }
        // Spreads at 1.0 s, 2.0 s and 3.0 s: each step one dwell after the last (the
        // windows inside the dwell count), as the one-window rule did.
        assert_eq!(seen, vec![1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4, 4]);
    }

    #[test]
    fn gathering_also_needs_two_quiet_windows() {
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 2;
        // One idle window in a busy run (a client's pause) keeps both workers.
        let two = Load {
            used: 1.6,
            waited: 0.1,
            idle_cpus: 0.2,
            rate: 0.0,
        };
        let loads = [&two, &COLD, &two, &COLD, &two];
        assert_eq!(run(&mut p, t0, 2000, &mut active, &loads), vec![2; 5]);
        assert_eq!(
            run(&mut p, t0, 3000, &mut active, &[&COLD, &COLD]),
            vec![2, 1]
        );
    }

    /// One worker starved of a CPU with none idle (waiting half the time), serving `rate`.
    fn starved(rate: f64) -> Load {
        Load {
            used: 0.5,
            waited: 0.5,
            idle_cpus: 0.05,
            rate,
        }
    }

    /// `active` workers sharing the CPUs with the clients, serving `rate`.
    fn crowded(active: usize, rate: f64) -> Load {
        Load {
            used: 0.47 * active as f64,
            waited: 0.47 * active as f64,
            idle_cpus: 0.05,
            rate,
        }
    }

    #[test]
    fn a_spread_for_waiting_stays_when_it_serves_more() {
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let s = starved(100.0);
        assert_eq!(
            run(&mut p, t0, 1400, &mut active, &[&s; 5]),
            vec![1, 1, 1, 1, 2]
        );
        // Two workers serve 150 (a skipped window, three measured), then back to one
        // for as long to compare (120): spread again, and no more trial.
        let (two, one) = (crowded(2, 150.0), crowded(1, 120.0));
        let loads = [&two, &two, &two, &two, &one, &one, &one, &one];
        let seen = run(&mut p, t0, 2400, &mut active, &loads);
        assert_eq!(seen, vec![2, 2, 2, 1, 1, 1, 1, 2]);
        assert_eq!(p.trial, None);
        assert_eq!(run(&mut p, t0, 4000, &mut active, &[&two; 10]), vec![2; 10]);
    }

    #[test]
    fn a_spread_for_waiting_that_serves_less_is_undone_and_not_retried_at_once() {
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let s = starved(100.0);
        run(&mut p, t0, 1400, &mut active, &[&s; 5]);
        // Two workers serve 110, one 125 (a one-thread client beside them).
        let (two, one) = (crowded(2, 110.0), crowded(1, 125.0));
        let loads = [&two, &two, &two, &two, &one, &one, &one, &one];
        let seen = run(&mut p, t0, 2400, &mut active, &loads);
        assert_eq!(seen, vec![2, 2, 2, 1, 1, 1, 1, 1]);
        // Still waiting: no spread for RETRY_AFTER...
        assert_eq!(run(&mut p, t0, 4000, &mut active, &[&s; 20]), vec![1; 20]);
        // ...but idle CPUs beside a saturated worker still spread, with no trial.
        assert_eq!(
            run(&mut p, t0, 8000, &mut active, &[&HOT, &HOT]),
            vec![1, 2]
        );
        assert_eq!(p.trial, None);
        // After RETRY_AFTER waiting spreads (and is tried) again.
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        run(&mut p, t0, 1400, &mut active, &[&s; 5]);
        run(&mut p, t0, 2400, &mut active, &loads);
        let later = 3800 + RETRY_AFTER.as_millis() as u64;
        assert_eq!(
            run(&mut p, t0, later, &mut active, &[&s; 5]),
            vec![1, 1, 1, 1, 2]
        );
        assert!(matches!(p.trial, Some(Trial::Spread { from: 1, .. })));
    }

    #[test]
    fn without_trials_waiting_never_spreads_but_idle_cpus_do() {
        let t0 = Instant::now();
        let mut p = Policy {
            trials: false,
            ..Policy::new(2, t0)
        };
        let mut active = 1;
        let s = starved(100.0);
        assert_eq!(run(&mut p, t0, 2000, &mut active, &[&s; 20]), vec![1; 20]);
        assert_eq!(p.trial, None);
        assert_eq!(
            run(&mut p, t0, 8000, &mut active, &[&HOT, &HOT]),
            vec![1, 2]
        );
        assert_eq!(p.trial, None);
    }

    #[test]
    fn a_spread_beside_a_stalled_client_is_a_trial_too() {
        // One worker saturated with most of a CPU idle: on two CPUs, the one-thread
        // client paused (a warm-up faulting item memory in). Tried, and undone when one
        // worker serves as much.
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let stalled = Load {
            used: 0.99,
            waited: 0.0,
            idle_cpus: 0.85,
            rate: 4000.0,
        };
        assert_eq!(
            run(&mut p, t0, 1400, &mut active, &[&stalled; 5]),
            vec![1, 1, 1, 1, 2]
        );
        assert_eq!(p.tried, 1);
        let (two, one) = (crowded(2, 101.0), crowded(1, 100.0));
        let loads = [&two, &two, &two, &two, &one, &one, &one, &one];
        // A tie within TRIAL_MARGIN gathers: the extra worker costs CPU per request.
        assert_eq!(
            run(&mut p, t0, 2400, &mut active, &loads),
            vec![2, 2, 2, 1, 1, 1, 1, 1]
        );
        assert_eq!((p.kept, p.last), (0, (101.0, 100.0)));
        assert_eq!(
            run(&mut p, t0, 4000, &mut active, &[&stalled; 10]),
            vec![1; 10]
        );
    }

    #[test]
    fn a_start_up_burst_of_waiting_is_not_tried() {
        // A client opening 50 connections: the worker waits for a CPU for four windows,
        // then runs alone beside it (on CPU, hardly waiting). Nothing spreads.
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let (s, alone) = (starved(100.0), crowded(1, 120.0));
        let calm = Load {
            waited: 0.02,
            ..alone
        };
        let loads = [&s, &s, &s, &s, &calm, &calm, &s, &s, &s, &s, &calm];
        assert_eq!(run(&mut p, t0, 1400, &mut active, &loads), vec![1; 11]);
        assert_eq!(p.tried, 0);
    }

    #[test]
    fn a_kept_spread_is_tried_again_while_its_workers_wait() {
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let s = starved(100.0);
        run(&mut p, t0, 1400, &mut active, &[&s; 5]);
        let (two, one) = (crowded(2, 150.0), crowded(1, 120.0));
        let won = [&two, &two, &two, &two, &one, &one, &one, &one];
        assert_eq!(run(&mut p, t0, 2400, &mut active, &won)[7], 2);
        assert_eq!((p.tried, p.kept), (1, 1));
        // Decided at 3.8 s: two workers until 13.8 s...
        assert_eq!(run(&mut p, t0, 4000, &mut active, &[&two; 49]), vec![2; 49]);
        assert_eq!(p.trial, None);
        // ...then measured again, and gathered now that one worker serves more.
        let (two, one) = (crowded(2, 110.0), crowded(1, 125.0));
        let lost = [&two, &two, &two, &two, &two, &one, &one, &one, &one];
        let seen = run(&mut p, t0, 13800, &mut active, &lost);
        assert_eq!(seen, vec![2, 2, 2, 2, 1, 1, 1, 1, 1]);
        assert_eq!((p.tried, p.kept, p.last), (2, 1, (110.0, 125.0)));
    }

    #[test]
    fn gathers_with_a_gap_below_spreading() {
        // Two workers busy 1.2 CPUs together stay spread (no oscillation band)...
        assert_eq!(d(2, 4, 1.1, 0.1, 0.0), 2);
        // ...and gather once one worker would be at most half busy.
        assert_eq!(d(2, 4, 0.45, 0.0, 3.0), 1);
        assert_eq!(d(3, 4, 0.9, 0.05, 3.0), 2);
        assert_eq!(d(1, 4, 0.0, 0.0, 3.0), 1);
    }
}
