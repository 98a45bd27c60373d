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
//!   One worker fewer's rate is first the windows that called for the spread: a spread
//!   that served [`TRIAL_SURE`] times theirs stays at once (decided 1.8 s after the
//!   first waiting window), and only a closer one goes back to measure again (2.6 s).
//!   A load that won a trial, paused (its workers gathered) and came back within
//!   [`RECALL_FOR`] at about the same CPU per request ([`RECALL_COST`]) spreads again at
//!   once, on the remembered answer, and is re-tried after [`RETRY_AFTER`] like any kept
//!   spread.
//! - **gather** (`active - 1`, the last active worker hands its connections back) when the
//!   active workers together are busy at most [`GATHER_AT`] × (`active` - 1): what is
//!   left fits on one worker fewer with room to spare.
//! - **rebalance** (the count kept): when an active worker is saturated while another is
//!   [`REBALANCE_GAP`] less busy, the busier one moves half the difference (as a share of
//!   its movable connections) to the other ([`policy::Policy::rebalance`]; the same
//!   windows-in-a-row and dwell rules). Without it nothing moved a connection once the
//!   count stopped growing: a worker whose clients grew busier, or that held every
//!   transaction client, stayed saturated beside idle ones.
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
//! **Clients of exclusive sections** (EXEC, scripts, functions: [`Home::Exclusive`]) belong
//! on worker 0 while one worker serves: their sections then run back to back there and
//! find the idle workers' gates free, where from two workers each section waits for the
//! other's turn (MULTI/EXEC -P 16 at `-t 2`: 478-497k tx/s gathered, 345-380k spread).
//! That only holds while the other workers are idle. So the pin ([`Gather::pins_exclusive`])
//! is dropped when worker 0 is rebalanced (saturated beside an active worker with room:
//! on a machine with cores to spare, an all-MULTI workload spread one worker and then
//! kept every transaction client on worker 0), and set again when one worker is active.
//! A connection's anchor also decays: after [`EXCLUSIVE_DECAY`] requests with no section
//! it goes wherever the placement puts it (a pooled connection that runs MULTI now and
//! then).
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

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use mio::Waker;
use parking_lot::Mutex;

use super::worker::Handoff;
use crate::stats::{ServerStats, ThreadStats};

mod policy;

use policy::{Load, Policy, Rebalance};

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
/// Stripe switches per keyed access under which a window's load is on one key
/// ([`crate::storage::take_key_tally`]): a trial would put two workers on one stripe lock
/// (about 1 µs more per request while it lasts) and cannot win, so none starts. Many keys
/// switch about once per key; one in 64 allows the odd other command beside a hot key.
pub const ONE_KEY_SWITCHES: f64 = 1.0 / 64.0;
/// Keyed accesses a window needs before its switches say anything.
const ONE_KEY_MIN_ACCESSES: u64 = 1000;
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
/// How much more a spread on trial must serve than the last [`TRIAL_WINDOWS`] windows
/// that called for it (on one worker fewer, just before) to stay with no windows back on
/// that count. Those windows come earlier in the load, so a load still warming up (item
/// memory faulted in, connections opening) makes the spread look better than it is;
/// the margin is well above [`TRIAL_MARGIN`] for that, and a spread that wins by less
/// goes back and is measured against the later windows as before. A TLS load's spread
/// served 1.33-1.54x one worker's; 100 KiB values' spread loses (0.87x).
pub const TRIAL_SURE: f64 = 1.2;
/// How far apart (highest over lowest rate) the windows that called for a spread may be
/// and still be compared with it ([`TRIAL_SURE`]): a benchmark's warm-up then its run, or
/// a ramp, are not one load, and their mean flatters the spread.
pub const TRIAL_STEADY: f64 = 1.1;
/// Windows a trial skips after each change, while connections move and settle.
pub const TRIAL_SKIP: u32 = 1;
/// How long, after a trial found the spread served no more, nothing spreads on trial (a
/// load that stays so would otherwise try again every few windows); and how long a spread
/// that won its trial stays before it is tried again, while its workers still wait for a
/// CPU (a trial decided on a noisy window, or a load that changed since, is undone).
pub const RETRY_AFTER: Duration = Duration::from_secs(10);
/// How long a won trial's answer is remembered: the same load spreading again for waiting
/// within this time, after its workers gathered (a benchmark's rounds, a client that comes
/// and goes), spreads at once with no new trial. A TLS load served 1.33x the rate on two
/// workers, yet a trial took 2.6 s from the first waiting window to its decision (five
/// windows in a row, then four on each side), most of a 5 s run; 1.8 s now that a clear
/// win ([`TRIAL_SURE`]) skips the windows back.
pub const RECALL_FOR: Duration = Duration::from_secs(60);
/// How far a load's CPU per request may differ from the won trial's gathered side's and
/// still count as the same load: TLS GET/SET costs 6-12 us per request, 100 KiB values
/// (where a spread loses) 16-44 us; the same load's windows differ by well under this.
pub const RECALL_COST: f64 = 1.5;
/// How much less busy than a saturated active worker another active worker must be for
/// connections to move between them ([`Policy::rebalance`]): per-window loads of one
/// worker swing by a tenth or two, and a move costs its connections a hand-over.
pub const REBALANCE_GAP: f64 = 0.4;
/// Requests after its last exclusive section (EXEC, a script or function) for which a
/// connection still belongs on worker 0 ([`Home::Exclusive`]): one that runs them among
/// many plain requests (a pool connection that pipelines with MULTI now and then) gains
/// nothing there. A MULTI of five commands is seven requests.
pub const EXCLUSIVE_DECAY: u16 = 100;

/// Where a connection belongs, as its own commands left it (kept in its RESP state,
/// resolved to a worker by [`Home::worker`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Home {
    /// Wherever the placement puts it.
    #[default]
    Anywhere,
    /// Every receiver of its last PUBLISH / SPUBLISH sits on this worker.
    Receivers(usize),
    /// It ran an exclusive section, and this many requests since.
    Exclusive(u16),
}

impl Home {
    /// After a PUBLISH whose receivers all sit on `reach` (if one worker holds them all).
    pub fn published(reach: Option<usize>) -> Home {
        reach.map_or(Home::Anywhere, Home::Receivers)
    }

    /// Counts one request of the connection (an exclusive client's anchor decays).
    #[inline]
    pub fn request(&mut self) {
        if let Home::Exclusive(n) = self {
            *n = n.saturating_add(1);
        }
    }

    /// The worker the connection belongs on: its receivers' worker, or worker 0 for a
    /// client of exclusive sections while they gather there (`pinned`,
    /// [`Gather::pins_exclusive`]) and its last one is within [`EXCLUSIVE_DECAY`]
    /// requests.
    #[inline]
    pub fn worker(self, pinned: bool) -> Option<usize> {
        match self {
            Home::Anywhere => None,
            Home::Receivers(w) => Some(w),
            Home::Exclusive(n) => (pinned && n < EXCLUSIVE_DECAY).then_some(0),
        }
    }
}

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
    /// Clients of exclusive sections belong on worker 0 ([`Home::Exclusive`]): set while
    /// one worker is active, cleared when worker 0 is rebalanced.
    pin: AtomicBool,
    /// Per worker: a rebalance order for it ([`Gather::take_order`]), 0 when none.
    orders: Vec<AtomicU64>,
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
    /// Keyed accesses and stripe switches of every worker ([`keyed`]).
    keyed: (u64, u64),
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
            pin: AtomicBool::new(true),
            orders: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            control: Mutex::new(Control {
                at: None,
                policy: Policy::new(workers, Instant::now()).with_trials(trials),
                cpu: vec![(0, 0); workers],
                idle: (0, 0),
                served: 0,
                keyed: (0, 0),
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

    /// Whether clients of exclusive sections (EXEC, scripts) belong on worker 0
    /// ([`Home::worker`]). Sections run there back to back and find the idle workers'
    /// gates free, where from several workers each one waits for the others' turns
    /// (MULTI/EXEC -P 16 on 2 cores: 478-497k tx/s gathered, 345-380k spread). That holds
    /// only while the other workers are idle: once worker 0 is rebalanced (it carries
    /// more than its share while another active worker has room), they spread with the
    /// rest, until one worker is active again.
    #[inline]
    pub fn pins_exclusive(&self) -> bool {
        self.pin.load(Ordering::Relaxed)
    }

    /// Worker `worker`'s rebalance order, taken: the worker to move connections to and the
    /// share of its movable ones to move, in thousandths.
    pub fn take_order(&self, worker: usize) -> Option<(usize, u32)> {
        let order = self.orders.get(worker)?.swap(0, Ordering::Relaxed);
        (order != 0).then(|| ((order >> 32) as usize - 1, order as u32))
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
        let tally = keyed(threads);
        let Some(at) = c.at.replace(now) else {
            c.cpu = cpu;
            c.idle = idle;
            c.served = done;
            c.keyed = tally;
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
        let accesses = tally.0.saturating_sub(c.keyed.0);
        let switches = tally.1.saturating_sub(c.keyed.1);
        c.cpu = cpu;
        c.idle = idle;
        c.served = done;
        c.keyed = tally;
        let active = self.active();
        stats.workers_active.store(active as u64, Ordering::Relaxed);
        let each: Vec<f64> = busy.iter().zip(&wait).map(|(b, w)| b + w).collect();
        let load = Load {
            used: busy[..active].iter().sum(),
            waited: wait[..active].iter().sum(),
            idle_cpus,
            rate,
            one_key: accesses >= ONE_KEY_MIN_ACCESSES
                && (switches as f64) < ONE_KEY_SWITCHES * accesses as f64,
        };
        let next = c.policy.window(now, active, &load);
        let p = &c.policy;
        stats.worker_trials.store(p.tried, Ordering::Relaxed);
        stats.worker_trials_kept.store(p.kept, Ordering::Relaxed);
        stats
            .worker_trials_recalled
            .store(p.recalled, Ordering::Relaxed);
        stats
            .worker_trial_spread_rate
            .store(p.last.0 as u64, Ordering::Relaxed);
        stats
            .worker_trial_back_rate
            .store(p.last.1 as u64, Ordering::Relaxed);
        if next != active {
            self.change(&mut c, now, active, next, stats);
        } else if let Some(order) = c.policy.rebalance(now, &each[..active]) {
            self.order(order);
        }
        stats
            .worker_rebalances
            .store(c.policy.rebalances, Ordering::Relaxed);
        stats
            .worker_exclusive_pinned
            .store(u64::from(self.pins_exclusive()), Ordering::Relaxed);
    }

    /// Asks worker `from` to move a share of its movable connections to worker `to`
    /// ([`Policy::rebalance`]); worker 0's exclusive clients move with the rest from now.
    fn order(&self, order: Rebalance) {
        let Rebalance { from, to, share } = order;
        if share == 0 {
            return;
        }
        if from == 0 {
            self.pin.store(false, Ordering::Relaxed);
        }
        self.orders[from].store(
            ((to as u64 + 1) << 32) | u64::from(share),
            Ordering::Relaxed,
        );
        self.epoch.fetch_add(1, Ordering::Release);
        if let Some(p) = self.peer(from) {
            let _ = p.waker.wake();
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
        if next == 1 {
            self.pin.store(true, Ordering::Relaxed);
        }
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

/// Keyed accesses and stripe switches the workers have counted so far
/// ([`ONE_KEY_SWITCHES`]).
fn keyed(threads: &[ThreadStats]) -> (u64, u64) {
    threads.iter().fold((0, 0), |(a, s), t| {
        (
            a + t.keyed_accesses.load(Ordering::Relaxed),
            s + t.keyed_switches.load(Ordering::Relaxed),
        )
    })
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

    #[test]
    fn an_exclusive_client_belongs_on_worker_zero_only_while_pinned_and_recent() {
        let mut home = Home::Exclusive(0);
        assert_eq!(home.worker(true), Some(0));
        // Once worker 0 was rebalanced, exclusive clients go anywhere (the old anchor kept
        // them on worker 0 whatever the load).
        assert_eq!(home.worker(false), None);
        // The anchor decays after EXCLUSIVE_DECAY requests with no section.
        for _ in 1..EXCLUSIVE_DECAY {
            home.request();
        }
        assert_eq!(home.worker(true), Some(0));
        home.request();
        assert_eq!(home.worker(true), None);
        for _ in 0..70_000 {
            home.request();
        }
        assert_eq!(home, Home::Exclusive(u16::MAX));
        // A publisher's home holds pinned or not, and requests do not decay it.
        let mut home = Home::published(Some(3));
        home.request();
        assert_eq!((home.worker(true), home.worker(false)), (Some(3), Some(3)));
        assert_eq!(Home::published(None).worker(true), None);
    }

    #[test]
    fn worker_zero_rebalanced_unpins_exclusive_clients_until_one_worker_is_active() {
        let g = Gather::new(Mode::Gather, 4, true);
        assert!(g.pins_exclusive());
        assert_eq!(g.take_order(1), None);
        let epoch = g.epoch();
        g.order(Rebalance {
            from: 1,
            to: 2,
            share: 300,
        });
        assert!(
            g.pins_exclusive(),
            "another worker's rebalance keeps the pin"
        );
        assert_eq!(g.take_order(1), Some((2, 300)));
        assert_eq!(g.take_order(1), None);
        assert!(g.epoch() > epoch);
        g.order(Rebalance {
            from: 0,
            to: 3,
            share: 469,
        });
        assert!(!g.pins_exclusive());
        assert_eq!(g.take_order(0), Some((3, 469)));
        let stats = ServerStats::default();
        let mut c = g.control.lock();
        g.change(&mut c, Instant::now(), 2, 3, &stats);
        assert!(!g.pins_exclusive());
        g.change(&mut c, Instant::now(), 3, 1, &stats);
        assert!(g.pins_exclusive());
    }
}
