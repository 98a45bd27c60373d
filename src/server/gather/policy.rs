//! The placement policy, pure: each [`super::WINDOW`] the clock thread feeds it what the
//! active workers did ([`Load`], and each one's busy time), and it answers how many
//! workers to keep active ([`Policy::window`]) and whether connections should move from
//! one active worker to another ([`Policy::rebalance`]). The tests feed it synthetic loads.

use std::time::Instant;

use super::{
    DWELL, GATHER_AT, IDLE_NEEDED, IN_A_ROW, REBALANCE_GAP, RECALL_COST, RECALL_FOR, RETRY_AFTER,
    SPREAD_AT, SURE_IDLE, TRIAL_IN_A_ROW, TRIAL_MARGIN, TRIAL_SKIP, TRIAL_STEADY, TRIAL_SURE,
    TRIAL_WINDOWS, WAIT_NEEDED,
};

/// What the active workers did over one window, in CPUs.
pub(super) struct Load {
    /// Time on CPU, all active workers together.
    pub used: f64,
    /// Time runnable but waiting for a CPU (the run queue), all active workers together.
    pub waited: f64,
    /// Idle CPUs of the machine.
    pub idle_cpus: f64,
    /// Requests served per second, all workers together.
    pub rate: f64,
    /// Nearly every keyed access named the stripe the one before it named
    /// ([`super::ONE_KEY_SWITCHES`]): a one-key load, on which a second worker only
    /// contends for that key's lock, so no spread is tried.
    pub one_key: bool,
}

/// A spread made for waiting alone (no CPU idle) is on trial: waiting says the workers
/// share their CPUs with other threads, not whether one more worker helps. With two
/// client threads starving one worker (TLS) a second served 1.15x the rate; beside a
/// one-thread client (100 KiB values) the worker waits for the client's core, a second
/// worker waits too, both sleep and wake more, and `-t 1` served 1.15x the rate of two
/// at 0.82x the CPU per request. So the spread's rate is measured, then the rate with
/// one worker fewer, and the better count stays. A spread that serves [`TRIAL_SURE`]
/// times the windows that called for it (`before`) stays at once, with no windows back.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Trial {
    /// `from + 1` workers since the spread: windows seen, rates summed (after the skip);
    /// `before`: the rates and CPUs summed over the last [`TRIAL_WINDOWS`] windows on
    /// `from` that called for it ([`Calling`]; `None` for a kept spread's re-trial).
    Spread {
        from: usize,
        seen: u32,
        sum: f64,
        before: Option<(f64, f64)>,
    },
    /// Back to `from` to compare with the spread's mean rate; `used`: the CPUs the
    /// measured windows used, summed (the load's CPU per request, for [`Won`]).
    Back {
        from: usize,
        spread: f64,
        seen: u32,
        sum: f64,
        used: f64,
    },
}

/// A trial whose spread stayed, remembered for [`RECALL_FOR`]: when the load comes back
/// after its workers gathered (it paused), a spread for waiting from the same count at
/// about the same CPU per request ([`RECALL_COST`]) is made at once, not tried again.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Won {
    from: usize,
    /// CPU seconds per request on `from` workers (the trial's gathered side).
    cost: f64,
    at: Instant,
}

/// CPU seconds per request of a window (`None` when nothing was served).
fn cost(used: f64, rate: f64) -> Option<f64> {
    (rate > 0.0 && used > 0.0).then(|| used / rate)
}

/// The latest windows in a row that called for a spread, on the count they were measured
/// on: their rates and CPUs, the last [`TRIAL_WINDOWS`] of them kept. A trial compares its
/// spread with these first (the gathered side as it just was). Only the last ones count:
/// the first windows of a run are a client opening its connections, and a load that
/// warms up serves less early, which only makes a spread look better than it is; hence
/// [`TRIAL_SURE`] above [`TRIAL_MARGIN`], and the windows back for anything closer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Calling {
    rate: [f64; TRIAL_WINDOWS as usize],
    used: [f64; TRIAL_WINDOWS as usize],
    seen: usize,
}

impl Calling {
    fn push(&mut self, load: &Load) {
        let at = self.seen % self.rate.len();
        self.rate[at] = load.rate;
        self.used[at] = load.used;
        self.seen += 1;
    }

    /// (rates, CPUs) summed over the last [`TRIAL_WINDOWS`] windows, once there are as
    /// many and they agree within [`TRIAL_STEADY`]: a load that is still starting (a
    /// benchmark's warm-up of one connection, then its run; 1 MiB values served 203 req/s
    /// in those windows against 2,587 after) gives no side to compare with.
    fn side(&self) -> Option<(f64, f64)> {
        let low = self.rate.iter().copied().fold(f64::INFINITY, f64::min);
        let high = self.rate.iter().copied().fold(0.0, f64::max);
        (self.seen >= self.rate.len() && low > 0.0 && high <= low * TRIAL_STEADY)
            .then(|| (self.rate.iter().sum(), self.used.iter().sum()))
    }
}

/// One more window of a trial side: (windows seen, measured rates summed).
fn measured(seen: u32, sum: f64, rate: f64) -> (u32, f64) {
    let seen = seen + 1;
    (seen, if seen > TRIAL_SKIP { sum + rate } else { sum })
}

/// The policy's memory between windows: what the last windows called for, and when the
/// active count last changed. Pure (the clock thread feeds it measured loads, the tests
/// synthetic ones).
pub(super) struct Policy {
    workers: usize,
    /// The change the latest windows called for (+1, -1 or 0) and how many in a row did.
    want: (isize, u32),
    /// Those windows' rates, while they call for a spread ([`Calling`]).
    calling: Calling,
    changed: Instant,
    trial: Option<Trial>,
    /// Until then nothing spreads on trial ([`RETRY_AFTER`]).
    no_trial_until: Option<Instant>,
    /// When a spread that won its trial is tried again ([`RETRY_AFTER`]).
    recheck_at: Option<Instant>,
    /// The last trial, if its spread stayed ([`Won`]).
    won: Option<Won>,
    /// Whether spreads on trial happen at all (`-o worker_trial`).
    trials: bool,
    /// Trials started, trials whose spread stayed, and the last decided trial's mean rates
    /// (spread, back): INFO stats `worker_trials`, `worker_trials_kept`,
    /// `worker_trial_last`.
    pub tried: u64,
    pub kept: u64,
    pub last: (f64, f64),
    /// Spreads made on a remembered won trial ([`Won`]): INFO stats
    /// `worker_trials_recalled`.
    pub recalled: u64,
    /// The pair (loaded worker, least busy one) the last windows called to rebalance, and
    /// how many in a row did ([`Policy::rebalance`]).
    lean: (Option<(usize, usize)>, u32),
    /// When connections last moved between active workers for balance.
    rebalanced: Instant,
    /// Rebalances ordered: INFO stats `worker_rebalances`.
    pub rebalances: u64,
}

impl Policy {
    pub fn new(workers: usize, now: Instant) -> Policy {
        Policy {
            workers,
            want: (0, 0),
            calling: Calling::default(),
            changed: now,
            trial: None,
            no_trial_until: None,
            recheck_at: None,
            won: None,
            trials: true,
            tried: 0,
            kept: 0,
            last: (0.0, 0.0),
            recalled: 0,
            lean: (None, 0),
            rebalanced: now,
            rebalances: 0,
        }
    }

    /// `-o worker_trial`: whether waiting for a CPU alone may spread, on trial.
    pub fn with_trials(self, trials: bool) -> Policy {
        Policy { trials, ..self }
    }

    /// One window's load of the `active` workers, measured at `now`: the active count to
    /// have. A change needs [`IN_A_ROW`] windows calling for it and [`DWELL`] since the
    /// last one. Windows inside the dwell count toward the next change, so a load that
    /// stays saturated spreads one worker per [`DWELL`], as with a single window: the rule
    /// only delays the first step from rest, by one window.
    pub fn window(&mut self, now: Instant, active: usize, load: &Load) -> usize {
        if let Some(count) = self.judge(now, active, load) {
            return count;
        }
        if self.recheck(now, active, load) {
            return active;
        }
        let may_try = self.trials
            && !load.one_key
            && !matches!(self.no_trial_until, Some(until) if now < until);
        let next = decide(active, self.workers, load, may_try);
        let dir = next as isize - active as isize;
        if dir == self.want.0 {
            self.want.1 = self.want.1.saturating_add(1);
        } else {
            self.want = (dir, 1);
            self.calling = Calling::default();
        }
        if dir > 0 {
            self.calling.push(load);
        }
        if dir == 0 || self.want.1 < IN_A_ROW || now.duration_since(self.changed) < DWELL {
            return active;
        }
        if dir > 0 && load.idle_cpus < SURE_IDLE {
            if self.recalls(now, active, load) {
                self.recalled += 1;
                self.recheck_at = Some(now + RETRY_AFTER);
                return next;
            }
            if self.want.1 < TRIAL_IN_A_ROW {
                return active;
            }
            self.tried += 1;
            self.trial = Some(Trial::Spread {
                from: active,
                seen: 0,
                sum: 0.0,
                before: self.calling.side(),
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
            Trial::Spread {
                from,
                seen,
                sum,
                before,
            } if active == from + 1 => {
                let (seen, sum) = measured(seen, sum, load.rate);
                if seen == side {
                    if let Some((rates, used)) = before {
                        if mean(sum) > mean(rates) * TRIAL_SURE {
                            self.last = (mean(sum), mean(rates));
                            return Some(self.keep(now, from, used, rates));
                        }
                    }
                }
                self.trial = Some(if seen < side {
                    Trial::Spread {
                        from,
                        seen,
                        sum,
                        before,
                    }
                } else {
                    Trial::Back {
                        from,
                        spread: mean(sum),
                        seen: 0,
                        sum: 0.0,
                        used: 0.0,
                    }
                });
                Some(if seen < side { active } else { from })
            }
            Trial::Back {
                from,
                spread,
                seen,
                sum,
                used,
            } if active == from => {
                let (seen, sum) = measured(seen, sum, load.rate);
                let used = if seen > TRIAL_SKIP {
                    used + load.used
                } else {
                    used
                };
                if seen < side {
                    self.trial = Some(Trial::Back {
                        from,
                        spread,
                        seen,
                        sum,
                        used,
                    });
                    return Some(active);
                }
                self.last = (spread, mean(sum));
                if spread > mean(sum) * TRIAL_MARGIN {
                    return Some(self.keep(now, from, used, sum));
                }
                self.trial = None;
                self.won = None;
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

    /// The trial's spread from `from` stays (the count to have): re-tried after
    /// [`RETRY_AFTER`], and remembered ([`Won`]) with the CPU per request of the gathered
    /// side (`used` CPUs over windows that served `rates` summed).
    fn keep(&mut self, now: Instant, from: usize, used: f64, rates: f64) -> usize {
        self.trial = None;
        self.kept += 1;
        self.recheck_at = Some(now + RETRY_AFTER);
        self.won = cost(used, rates).map(|cost| Won {
            from,
            cost,
            at: now,
        });
        from + 1
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
            before: None,
        });
        true
    }

    /// Whether a spread for waiting from `active` may be made on a remembered won trial
    /// ([`Won`]): the same count, within [`RECALL_FOR`], and this window's CPU per request
    /// within [`RECALL_COST`] of the trial's.
    fn recalls(&self, now: Instant, active: usize, load: &Load) -> bool {
        let (Some(won), Some(cost)) = (self.won, cost(load.used, load.rate)) else {
            return false;
        };
        won.from == active
            && now.duration_since(won.at) < RECALL_FOR
            && cost < won.cost * RECALL_COST
            && cost * RECALL_COST > won.cost
    }

    /// The active count changed at `now` (by [`Policy::window`] or otherwise).
    pub fn changed(&mut self, now: Instant) {
        self.changed = now;
        self.want = (0, 0);
        self.calling = Calling::default();
    }

    /// One window's busy time (on CPU or waiting for one) of each active worker, when
    /// [`Policy::window`] kept the count: an order to move connections off a worker that
    /// carries more than its share to the least busy one ([`lopsided`]). Like a change of
    /// the count it needs [`IN_A_ROW`] windows naming the same pair, [`DWELL`] since the
    /// last change or rebalance, and no trial running (a trial compares counts on the
    /// placement it made).
    pub fn rebalance(&mut self, now: Instant, busy: &[f64]) -> Option<Rebalance> {
        let pair = lopsided(busy);
        if pair.is_some() && pair == self.lean.0 {
            self.lean.1 = self.lean.1.saturating_add(1);
        } else {
            self.lean = (pair, 1);
        }
        let (from, to) = pair?;
        if self.lean.1 < IN_A_ROW
            || self.trial.is_some()
            || now.duration_since(self.changed) < DWELL
            || now.duration_since(self.rebalanced) < DWELL
        {
            return None;
        }
        self.lean = (None, 0);
        self.rebalanced = now;
        self.rebalances += 1;
        // Half the difference moves: connections are taken as equal, so `from` keeps
        // what the two would each carry if they shared it.
        let share = (busy[from] - busy[to]) / (2.0 * busy[from]);
        Some(Rebalance {
            from,
            to,
            share: (share.clamp(0.0, 0.5) * 1000.0).round() as u32,
        })
    }
}

/// An order to move connections between two active workers ([`Policy::rebalance`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Rebalance {
    pub from: usize,
    pub to: usize,
    /// The share of `from`'s movable connections that move, in thousandths.
    pub share: u32,
}

/// The busiest active worker and the least busy, when the busiest carries more than its
/// share: saturated ([`SPREAD_AT`]) while the other is [`REBALANCE_GAP`] less busy. Each
/// worker keeps the connections it was given until something moves them, so without this
/// a worker whose clients grew busier (or that holds every transaction client) stays
/// saturated beside idle ones once the count stops growing. `busy`: per active worker.
fn lopsided(busy: &[f64]) -> Option<(usize, usize)> {
    if busy.len() < 2 {
        return None;
    }
    let (mut hot, mut cold) = (0, 0);
    for (w, &b) in busy.iter().enumerate() {
        if b > busy[hot] {
            hot = w;
        }
        if b < busy[cold] {
            cold = w;
        }
    }
    (busy[hot] >= SPREAD_AT && busy[hot] - busy[cold] >= REBALANCE_GAP).then_some((hot, cold))
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn d(active: usize, workers: usize, used: f64, waited: f64, idle_cpus: f64) -> usize {
        decide(
            active,
            workers,
            &Load {
                used,
                waited,
                idle_cpus,
                rate: 0.0,
                one_key: false,
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
        one_key: false,
    };
    const WARM: Load = Load {
        used: 0.6,
        waited: 0.0,
        idle_cpus: 1.4,
        rate: 0.0,
        one_key: false,
    };
    const COLD: Load = Load {
        used: 0.1,
        waited: 0.0,
        idle_cpus: 1.9,
        rate: 0.0,
        one_key: false,
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
                one_key: false,
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
            one_key: false,
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
            one_key: false,
        }
    }

    /// `active` workers sharing the CPUs with the clients, serving `rate`.
    fn crowded(active: usize, rate: f64) -> Load {
        Load {
            used: 0.47 * active as f64,
            waited: 0.47 * active as f64,
            idle_cpus: 0.05,
            rate,
            one_key: false,
        }
    }

    #[test]
    fn a_spread_for_waiting_stays_when_it_serves_more() {
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let s = starved(130.0);
        assert_eq!(
            run(&mut p, t0, 1400, &mut active, &[&s; 5]),
            vec![1, 1, 1, 1, 2]
        );
        // Two workers serve 150 (a skipped window, three measured): not TRIAL_SURE times
        // the 130 that called for it, so back to one for as long to compare (120): spread
        // again, and no more trial.
        let (two, one) = (crowded(2, 150.0), crowded(1, 120.0));
        let loads = [&two, &two, &two, &two, &one, &one, &one, &one];
        let seen = run(&mut p, t0, 2400, &mut active, &loads);
        assert_eq!(seen, vec![2, 2, 2, 1, 1, 1, 1, 2]);
        assert_eq!(p.trial, None);
        assert_eq!(run(&mut p, t0, 4000, &mut active, &[&two; 10]), vec![2; 10]);
    }

    #[test]
    fn a_clear_win_stays_with_no_windows_back() {
        // Waiting at 100 per window, then two workers serve 150: 1.5x the windows that
        // called for the spread. It stays after the spread's own four windows (1.8 s
        // from the first waiting window, where going back took until 2.6 s).
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let s = starved(100.0);
        assert_eq!(
            run(&mut p, t0, 1400, &mut active, &[&s; 5]),
            vec![1, 1, 1, 1, 2]
        );
        let two = crowded(2, 150.0);
        assert_eq!(run(&mut p, t0, 2400, &mut active, &[&two; 10]), vec![2; 10]);
        assert_eq!((p.tried, p.kept, p.last), (1, 1, (150.0, 100.0)));
        assert_eq!(p.trial, None);
        // Remembered with the waiting windows' CPU per request (0.5 CPU at 100/s).
        let won = p.won.expect("remembered");
        assert_eq!(won.from, 1);
        assert!((won.cost - 0.005).abs() < 1e-9);
        // A kept spread is re-tried later as any is, both sides measured.
        assert!(p.recheck_at.is_some());
    }

    #[test]
    fn a_spread_that_wins_by_less_than_sure_goes_back_to_compare() {
        // The first waiting windows served less (a load still warming up): the spread's
        // 115 is above them but not TRIAL_SURE times, so one worker is measured again.
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        run(&mut p, t0, 1400, &mut active, &[&starved(100.0); 5]);
        let (two, one) = (crowded(2, 115.0), crowded(1, 130.0));
        let loads = [&two, &two, &two, &two, &one, &one, &one, &one];
        let seen = run(&mut p, t0, 2400, &mut active, &loads);
        assert_eq!(seen, vec![2, 2, 2, 1, 1, 1, 1, 1]);
        assert_eq!((p.tried, p.kept, p.last), (1, 0, (115.0, 130.0)));
    }

    #[test]
    fn a_load_still_starting_is_measured_on_both_sides() {
        // The waiting windows were a warm-up and then the run (203, 203, 2,500 req/s), or
        // a ramp (60, 68, 76): the spread's 2,587 or 110 beats their mean by far, but
        // they are not one load, so one worker is measured again (and wins here).
        for before in [[203.0, 203.0, 2500.0], [60.0, 68.0, 76.0]] {
            let t0 = Instant::now();
            let mut p = Policy::new(2, t0);
            let mut active = 1;
            let (s0, s1, s2) = (starved(before[0]), starved(before[1]), starved(before[2]));
            let loads = [&s0, &s0, &s0, &s1, &s2];
            assert_eq!(
                run(&mut p, t0, 1400, &mut active, &loads),
                vec![1, 1, 1, 1, 2]
            );
            let spread = if before[2] > 1000.0 { 2587.0 } else { 110.0 };
            let (two, one) = (crowded(2, spread), crowded(1, spread * 1.1));
            let loads = [&two, &two, &two, &two, &one, &one, &one, &one];
            let seen = run(&mut p, t0, 2400, &mut active, &loads);
            assert_eq!(seen, vec![2, 2, 2, 1, 1, 1, 1, 1]);
            assert_eq!((p.tried, p.kept), (1, 0));
        }
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
            one_key: false,
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
    fn a_one_key_load_starts_no_trial_but_still_spreads_beside_idle_cores() {
        // The starved load that goes on trial after five windows, on one key: no trial.
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let s = Load {
            one_key: true,
            ..starved(100.0)
        };
        assert_eq!(run(&mut p, t0, 1400, &mut active, &[&s; 10]), vec![1; 10]);
        assert_eq!((p.tried, p.trial), (0, None));
        // Once keys vary, the same waiting is tried as before.
        let many = starved(100.0);
        assert_eq!(
            run(&mut p, t0, 3400, &mut active, &[&many; 5]),
            vec![1, 1, 1, 1, 2]
        );
        assert_eq!(p.tried, 1);
        // A sure spread (cores to spare) does not depend on the keys.
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let hot = Load {
            one_key: true,
            ..HOT
        };
        assert_eq!(run(&mut p, t0, 1400, &mut active, &[&hot; 2]), vec![1, 2]);
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
        // Not a clear win over the waiting windows (150 against 130): both sides measured.
        let s = starved(130.0);
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

    /// A policy whose first trial (decided at 3.8 s) kept the spread of a starved load,
    /// and whose load then paused until both workers gathered (at 4.2 s).
    fn won_then_paused(t0: Instant) -> (Policy, usize) {
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        run(&mut p, t0, 1400, &mut active, &[&starved(130.0); 5]);
        let (two, one) = (crowded(2, 150.0), crowded(1, 120.0));
        let won = [&two, &two, &two, &two, &one, &one, &one, &one];
        assert_eq!(run(&mut p, t0, 2400, &mut active, &won)[7], 2);
        assert_eq!(run(&mut p, t0, 5000, &mut active, &[&COLD; 2]), vec![2, 1]);
        (p, active)
    }

    #[test]
    fn a_load_that_won_its_trial_spreads_at_once_when_it_comes_back() {
        // A benchmark's next round, 20 s later: the same waiting (CPU per request 5 ms
        // against the trial's 3.9 ms) spreads on the second window, as a sure spread
        // does, with no new trial (it used to wait five windows and try again).
        let t0 = Instant::now();
        let (mut p, mut active) = won_then_paused(t0);
        let s = starved(100.0);
        assert_eq!(
            run(&mut p, t0, 25000, &mut active, &[&s; 6]),
            vec![1, 2, 2, 2, 2, 2]
        );
        assert_eq!((p.tried, p.kept, p.recalled, p.trial), (1, 1, 1, None));
        // Tried again RETRY_AFTER later while its workers still wait, as a kept spread is:
        // one worker serves more now, so it gathers and forgets.
        let (two, one) = (crowded(2, 110.0), crowded(1, 125.0));
        let lost = [&two, &two, &two, &two, &two, &one, &one, &one, &one];
        let seen = run(&mut p, t0, 35200, &mut active, &lost);
        assert_eq!(seen, vec![2, 2, 2, 2, 1, 1, 1, 1, 1]);
        assert_eq!((p.tried, p.won), (2, None));
        // Past the loss's RETRY_AFTER the waiting is tried again, not recalled.
        let seen = run(&mut p, t0, 50000, &mut active, &[&s; 5]);
        assert_eq!(seen, vec![1, 1, 1, 1, 2]);
        assert_eq!((p.tried, p.recalled), (3, 1));
    }

    #[test]
    fn another_load_or_a_late_one_is_tried_not_recalled() {
        let t0 = Instant::now();
        // Four times the CPU per request (large values, where a spread loses): a trial.
        let (mut p, mut active) = won_then_paused(t0);
        let big = starved(25.0);
        let seen = run(&mut p, t0, 25000, &mut active, &[&big; 5]);
        assert_eq!(seen, vec![1, 1, 1, 1, 2]);
        assert_eq!((p.tried, p.recalled), (2, 0));
        assert!(matches!(p.trial, Some(Trial::Spread { from: 1, .. })));
        // The same load after RECALL_FOR: a trial.
        let (mut p, mut active) = won_then_paused(t0);
        let late = 3800 + RECALL_FOR.as_millis() as u64;
        let seen = run(&mut p, t0, late, &mut active, &[&starved(100.0); 5]);
        assert_eq!(seen, vec![1, 1, 1, 1, 2]);
        assert_eq!((p.tried, p.recalled), (2, 0));
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

    /// Feeds `p` one window every 200 ms from `from` ms on with each active worker's busy
    /// time (the count held, as [`Policy::window`] keeps it): the orders it gave.
    fn lean(p: &mut Policy, t0: Instant, from: u64, busy: &[&[f64]]) -> Vec<Option<Rebalance>> {
        (0..busy.len())
            .map(|i| {
                let now = t0 + Duration::from_millis(from + 200 * i as u64);
                p.rebalance(now, busy[i])
            })
            .collect()
    }

    #[test]
    fn a_saturated_worker_beside_an_idle_active_one_sheds_half_the_difference() {
        // Every transaction client on worker 0 (its anchor), worker 1 active and idle: the
        // old policy moved nothing once the count stopped growing. Two windows in a row
        // past the dwell order worker 0 to hand over (0.98 - 0.06) / (2 * 0.98) of its
        // movable connections to worker 1.
        let t0 = Instant::now();
        let mut p = Policy::new(4, t0);
        let hot: &[f64] = &[0.98, 0.06];
        let order = Rebalance {
            from: 0,
            to: 1,
            share: 469,
        };
        assert_eq!(lean(&mut p, t0, 1400, &[hot, hot]), vec![None, Some(order)]);
        assert_eq!(p.rebalances, 1);
        // Not again within a dwell, however lopsided; the windows inside it count.
        let got = lean(&mut p, t0, 1800, &[hot; 5]);
        assert_eq!(got, vec![None, None, None, None, Some(order)]);
    }

    #[test]
    fn the_busiest_worker_sheds_to_the_least_busy_at_any_index() {
        let t0 = Instant::now();
        let mut p = Policy::new(4, t0);
        let busy: &[f64] = &[0.7, 1.0, 0.2, 0.5];
        let got = lean(&mut p, t0, 1400, &[busy, busy]);
        assert_eq!(
            got[1],
            Some(Rebalance {
                from: 1,
                to: 2,
                share: 400,
            })
        );
    }

    #[test]
    fn a_balanced_or_unsaturated_load_moves_nothing() {
        let t0 = Instant::now();
        let mut p = Policy::new(4, t0);
        // Both saturated; a gap under REBALANCE_GAP; nothing saturated; one worker.
        let loads: [&[f64]; 4] = [&[0.97, 0.92], &[0.95, 0.6], &[0.85, 0.05], &[1.0]];
        for busy in loads {
            assert_eq!(
                lean(&mut p, t0, 1400, &[busy; 6]),
                vec![None; 6],
                "{busy:?}"
            );
        }
        // One lopsided window between balanced ones (a burst) moves nothing.
        let (hot, even): (&[f64], &[f64]) = (&[0.98, 0.1], &[0.9, 0.9]);
        let got = lean(&mut p, t0, 3000, &[hot, even, hot, even, hot]);
        assert_eq!(got, vec![None; 5]);
    }

    #[test]
    fn no_rebalance_within_a_dwell_of_a_change_or_during_a_trial() {
        let t0 = Instant::now();
        let mut p = Policy::new(2, t0);
        let hot: &[f64] = &[0.98, 0.06];
        p.changed(t0 + Duration::from_millis(1000));
        assert_eq!(lean(&mut p, t0, 1200, &[hot; 4]), vec![None; 4]);
        // A spread on trial (waiting, no idle CPU) keeps the placement it compares.
        let mut p = Policy::new(2, t0);
        let mut active = 1;
        let s = starved(100.0);
        assert_eq!(run(&mut p, t0, 1400, &mut active, &[&s; 5])[4], 2);
        assert!(p.trial.is_some());
        assert_eq!(lean(&mut p, t0, 3000, &[hot; 4]), vec![None; 4]);
    }
}
