//! LATENCY: the latency monitor (events over `latency-monitor-threshold` ms, the last 160
//! per event) and Redis 7's per-command latency histograms (LATENCY HISTOGRAM,
//! `INFO latencystats`).
//!
//! Histograms are per worker, per command: 40 log2 buckets of nanoseconds from 1024 ns
//! (Redis reports its HDR histogram at the same power-of-two boundaries), written with
//! relaxed atomics by the worker that ran the command and summed when asked.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::commandstats::COMMAND_SLOTS;
use super::registry::{registry, spec, Spec};
use super::Call;
use crate::directives::{trim_double, Directives};
use crate::protocol::resp::Args;
use crate::stats;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("latency", -2, ["admin", "loading", "stale"], (0, 0, 0), "server",
        "2.8.13", "A container for latency diagnostics commands", latency),
];

const BUCKETS: usize = 40;
/// Samples kept per event (Redis's LATENCY_TS_LEN).
const HISTORY: usize = 160;

/// The bucket of a duration: 0 up to 1024 ns, then one per doubling.
fn bucket(nanos: u64) -> usize {
    let b = 64 - (nanos.saturating_sub(1) >> 10).leading_zeros() as usize;
    b.min(BUCKETS - 1)
}

/// A bucket's upper bound in microseconds, as LATENCY HISTOGRAM prints it.
fn bucket_usec(b: usize) -> u64 {
    (1024u64 << b) / 1000
}

/// One worker's histograms, one row of buckets per command in the registry.
pub struct WorkerHistograms {
    rows: Box<[[AtomicU64; BUCKETS]]>,
}

impl Default for WorkerHistograms {
    fn default() -> Self {
        WorkerHistograms {
            rows: (0..COMMAND_SLOTS)
                .map(|_| std::array::from_fn(|_| AtomicU64::new(0)))
                .collect(),
        }
    }
}

impl WorkerHistograms {
    pub(super) fn record(&self, command: usize, nanos: u64) {
        if let Some(row) = self.rows.get(command) {
            stats::bump(&row[bucket(nanos)]);
        }
    }
}

/// One latency-monitor event's samples: (unix seconds, ms), newest last, one per second.
#[derive(Default)]
struct Event {
    samples: Vec<(u64, u64)>,
    max: u64,
}

/// Commands with subcommands: their histograms are kept per subcommand (`client|id`), as
/// Redis keys them.
const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "command", "config", "function", "latency", "memory", "module",
    "object", "pubsub", "script", "slowlog", "xgroup", "xinfo",
];

/// memcached commands, with histograms of their own (`memcache|get`) in the rows after
/// the registry's; `other` holds the rest.
pub const MEMCACHE_COMMANDS: &[&str] = &[
    "get",
    "gets",
    "gat",
    "gats",
    "set",
    "add",
    "replace",
    "append",
    "prepend",
    "cas",
    "delete",
    "incr",
    "decr",
    "touch",
    "mg",
    "ms",
    "md",
    "ma",
    "mn",
    "me",
    "flush_all",
    "stats",
    "other",
];

/// The histogram row of a memcached command named `name`.
fn memcache_row(name: &[u8]) -> usize {
    let i = MEMCACHE_COMMANDS
        .iter()
        .position(|c| c.as_bytes() == name)
        .unwrap_or(MEMCACHE_COMMANDS.len() - 1);
    registry().specs().len() + i
}

/// Histograms, latency events and the settings that drive them.
pub struct Latency {
    workers: Box<[WorkerHistograms]>,
    /// Subcommands' histograms (`config|resetstat`): rare commands, one lock.
    subcommands: Mutex<HashMap<String, [u64; BUCKETS]>>,
    /// By registry place: the command is one of [`CONTAINERS`] (a lookup per command, not a
    /// scan of the names).
    containers: Box<[bool]>,
    events: Mutex<HashMap<String, Event>>,
    /// `latency-monitor-threshold` in ms (0: off).
    threshold: Arc<AtomicI64>,
    /// `latency-tracking`.
    tracking: Arc<AtomicBool>,
    /// `latency-tracking-info-percentiles`: what `INFO latencystats` reports.
    percentiles: Arc<Mutex<Vec<f64>>>,
}

impl std::fmt::Debug for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latency").finish_non_exhaustive()
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Latency {
    pub fn new(workers: usize) -> Latency {
        Latency {
            workers: (0..workers.max(1))
                .map(|_| WorkerHistograms::default())
                .collect(),
            events: Mutex::default(),
            subcommands: Mutex::default(),
            containers: registry()
                .specs()
                .iter()
                .map(|s| CONTAINERS.contains(&s.name))
                .collect(),
            threshold: Arc::new(AtomicI64::new(0)),
            tracking: Arc::new(AtomicBool::new(true)),
            percentiles: Arc::new(Mutex::new(vec![50.0, 99.0, 99.9])),
        }
    }

    /// Keeps the settings in step with their directives.
    pub fn follow(&self, directives: &Directives) {
        let t = self.threshold.clone();
        t.store(
            directives.int("latency-monitor-threshold"),
            Ordering::Relaxed,
        );
        directives.on_change("latency-monitor-threshold", move |v| {
            t.store(v.parse().unwrap_or(0), Ordering::Relaxed);
            Ok(())
        });
        let on = self.tracking.clone();
        on.store(directives.int("latency-tracking") != 0, Ordering::Relaxed);
        directives.on_change("latency-tracking", move |v| {
            on.store(v == "yes", Ordering::Relaxed);
            Ok(())
        });
        let parse = |v: &str| {
            v.split_ascii_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect()
        };
        let p = self.percentiles.clone();
        *p.lock() = parse(
            &directives
                .get("latency-tracking-info-percentiles")
                .unwrap_or_default(),
        );
        directives.on_change("latency-tracking-info-percentiles", move |v| {
            *p.lock() = parse(v);
            Ok(())
        });
    }

    pub(super) fn worker(&self, i: usize) -> &WorkerHistograms {
        &self.workers[i.min(self.workers.len() - 1)]
    }

    /// Whether per-command histograms are kept (`latency-tracking`). Kept in a
    /// `bench-no-observe` build too: Redis 7 keeps them for every command by default, so
    /// the baseline that build gives must pay for them as well.
    #[inline]
    pub fn tracking(&self) -> bool {
        self.tracking.load(Ordering::Relaxed)
    }

    /// A command took `usec`: a `command` (or `fast-command`) event past the threshold.
    #[inline]
    pub fn command_ran(&self, usec: u64, fast: bool) {
        let t = self.threshold.load(Ordering::Relaxed);
        if crate::hub::OBSERVE && t > 0 && usec / 1000 >= t as u64 {
            self.add_sample(if fast { "fast-command" } else { "command" }, usec / 1000);
        }
    }

    fn add_sample(&self, event: &str, ms: u64) {
        self.add_sample_at(event, ms, unix_secs());
    }

    /// [`Self::add_sample`] at clock second `now`.
    fn add_sample_at(&self, event: &str, ms: u64, now: u64) {
        let mut events = self.events.lock();
        let e = events.entry(event.to_string()).or_default();
        e.max = e.max.max(ms);
        match e.samples.last_mut() {
            Some((ts, v)) if *ts == now => *v = (*v).max(ms),
            _ => {
                e.samples.push((now, ms));
                if e.samples.len() > HISTORY {
                    e.samples.remove(0);
                }
            }
        }
    }

    /// Records one run of command `index` (`args`: the request, for subcommands).
    pub(super) fn record(
        &self,
        worker: usize,
        index: usize,
        name: &str,
        args: Args<'_>,
        nanos: u64,
    ) {
        if args.len() >= 2 && self.containers.get(index) == Some(&true) {
            let sub = String::from_utf8_lossy(args.get(1)).to_ascii_lowercase();
            if sub.len() <= 32 && sub.bytes().all(|c| c.is_ascii_graphic()) {
                let full = format!("{name}|{sub}");
                let mut subs = self.subcommands.lock();
                subs.entry(full).or_insert([0; BUCKETS])[bucket(nanos)] += 1;
                return;
            }
        }
        self.worker(worker).record(index, nanos);
    }

    /// Records one run of the memcached command `name` (a command line's first word).
    pub fn record_memcache(&self, worker: usize, name: &[u8], nanos: u64) {
        self.worker(worker).record(memcache_row(name), nanos);
    }

    /// Every command (and subcommand) that ran, with its summed buckets, by name.
    fn rows(&self) -> Vec<(String, [u64; BUCKETS])> {
        let specs = registry().specs();
        let memcache = MEMCACHE_COMMANDS.iter().map(|c| format!("memcache|{c}"));
        let mut rows: Vec<(String, [u64; BUCKETS])> = specs
            .iter()
            .map(|s| s.name.to_string())
            .chain(memcache)
            .enumerate()
            .map(|(i, name)| (name, self.histogram(i)))
            .filter(|(_, h)| h.iter().any(|&n| n > 0))
            .collect();
        rows.extend(self.subcommands.lock().iter().map(|(k, v)| (k.clone(), *v)));
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows
    }

    /// A command's summed buckets.
    fn histogram(&self, command: usize) -> [u64; BUCKETS] {
        let mut sum = [0u64; BUCKETS];
        for w in self.workers.iter() {
            if let Some(row) = w.rows.get(command) {
                for (s, b) in sum.iter_mut().zip(row.iter()) {
                    *s += b.load(Ordering::Relaxed);
                }
            }
        }
        sum
    }

    /// CONFIG RESETSTAT: histograms back to zero.
    pub fn reset_histograms(&self) {
        self.subcommands.lock().clear();
        for w in self.workers.iter() {
            for row in w.rows.iter() {
                for b in row {
                    b.store(0, Ordering::Relaxed);
                }
            }
        }
    }

    /// `INFO latencystats`: the `latency-tracking-info-percentiles` of every command that
    /// ran (`p50=..,p99=..,p99.9=..` by default).
    pub fn write_info(&self, s: &mut Vec<u8>) {
        let percentiles = self.percentiles.lock().clone();
        for (name, h) in self.rows() {
            let calls: u64 = h.iter().sum();
            let pct = |p: f64| {
                let rank = ((p / 100.0) * calls as f64).ceil().max(1.0) as u64;
                let mut seen = 0;
                for (b, n) in h.iter().enumerate() {
                    seen += n;
                    if seen >= rank {
                        return (1024u64 << b) as f64 / 1000.0;
                    }
                }
                0.0
            };
            let _ = write!(s, "latency_percentiles_usec_{name}:");
            for (i, &p) in percentiles.iter().enumerate() {
                let sep = if i + 1 < percentiles.len() { "," } else { "" };
                let _ = write!(s, "p{}={:.3}{sep}", trim_double(p), pct(p));
            }
            s.extend_from_slice(b"\r\n");
        }
    }
}

impl Latency {
    /// Prometheus histograms `slabd_command_duration_seconds{cmd}` (bucket bounds at
    /// 1.024 µs doublings; `_sum` adds each call at its bucket's bound).
    pub fn write_prometheus(&self, out: &mut String) {
        use std::fmt::Write as _;
        let name = "slabd_command_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} RESP command run time (sum approximated by bucket bounds).\n\
             # TYPE {name} histogram"
        );
        for (cmd, h) in self.rows() {
            let calls: u64 = h.iter().sum();
            let mut cumulative = 0;
            let mut sum = 0.0;
            for (b, n) in h.iter().enumerate() {
                let bound = (1024u64 << b) as f64 / 1e9;
                cumulative += n;
                sum += *n as f64 * bound;
                if *n > 0 {
                    let _ = writeln!(
                        out,
                        "{name}_bucket{{cmd=\"{cmd}\",le=\"{bound:e}\"}} {cumulative}"
                    );
                }
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{cmd=\"{0}\",le=\"+Inf\"}} {calls}\n\
                 {name}_sum{{cmd=\"{0}\"}} {sum:e}\n{name}_count{{cmd=\"{0}\"}} {calls}",
                cmd
            );
        }
    }
}

const HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// `LATENCY LATEST|HISTORY|RESET|DOCTOR|GRAPH|HISTOGRAM|HELP`
pub(super) fn latency(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let is = |n: &str| sub.eq_ignore_ascii_case(n.as_bytes());
    let argc = args.len();
    if is("latest") && argc == 2 {
        latest(call);
    } else if is("history") && argc == 3 {
        history(call, args.get(2));
    } else if is("reset") {
        let n = {
            let mut events = call.ctx.resp.latency.events.lock();
            if argc == 2 {
                let n = events.len();
                events.clear();
                n
            } else {
                args.iter_from(2)
                    .filter(|e| events.remove(String::from_utf8_lossy(e).as_ref()).is_some())
                    .count()
            }
        };
        call.w.integer(n as i64);
    } else if is("doctor") && argc == 2 {
        doctor(call);
    } else if is("graph") && argc == 3 {
        graph(call, args.get(2));
    } else if is("histogram") {
        histogram(call, args);
    } else if is("help") && argc == 2 {
        call.w.array(HELP.len());
        for l in HELP {
            call.w.simple(l.as_bytes());
        }
    } else if ["latest", "history", "doctor", "graph", "help"]
        .iter()
        .any(|n| is(n))
    {
        let name = String::from_utf8_lossy(sub).to_ascii_lowercase();
        call.wrong_arity(&format!("latency|{name}"));
    } else {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try LATENCY HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    }
}

fn latest(call: &mut Call<'_>) {
    let rows: Vec<(String, u64, u64, u64)> = {
        let events = call.ctx.resp.latency.events.lock();
        let mut v: Vec<_> = events
            .iter()
            .filter_map(|(name, e)| {
                let (ts, ms) = *e.samples.last()?;
                Some((name.clone(), ts, ms, e.max))
            })
            .collect();
        v.sort();
        v
    };
    call.w.array(rows.len());
    for (name, ts, ms, max) in rows {
        call.w.array(4);
        call.w.bulk(name.as_bytes());
        call.w.integer(ts as i64);
        call.w.integer(ms as i64);
        call.w.integer(max as i64);
    }
}

fn samples(call: &Call<'_>, event: &[u8]) -> Vec<(u64, u64)> {
    let events = call.ctx.resp.latency.events.lock();
    events
        .get(String::from_utf8_lossy(event).as_ref())
        .map(|e| e.samples.clone())
        .unwrap_or_default()
}

fn history(call: &mut Call<'_>, event: &[u8]) {
    let s = samples(call, event);
    call.w.array(s.len());
    for (ts, ms) in s {
        call.w.array(2);
        call.w.integer(ts as i64);
        call.w.integer(ms as i64);
    }
}

fn graph(call: &mut Call<'_>, event: &[u8]) {
    let s = samples(call, event);
    let name = String::from_utf8_lossy(event).into_owned();
    if s.is_empty() {
        return call
            .w
            .error_fmt(format_args!("ERR No samples available for event '{name}'"));
    }
    let max = s.iter().map(|x| x.1).max().unwrap_or(0);
    let min = s.iter().map(|x| x.1).min().unwrap_or(0);
    let mut text = format!(
        "{name} - high {max} ms, low {min} ms (all time high {max} ms)\n{}\n",
        "-".repeat(80)
    );
    const ROWS: u64 = 4;
    for row in (1..=ROWS).rev() {
        for (_, ms) in &s {
            let level = (ms * ROWS).checked_div(max).unwrap_or(0);
            text.push(if level >= row { '#' } else { ' ' });
        }
        text.push('\n');
    }
    call.w.verbatim(b"txt", text.as_bytes());
}

fn doctor(call: &mut Call<'_>) {
    let threshold = call.ctx.resp.latency.threshold.load(Ordering::Relaxed);
    let events = call.ctx.resp.latency.events.lock().len();
    let text = if threshold == 0 && events == 0 {
        "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis \
         instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in \
         order to enable it. If we weren't in a deep space mission I'd suggest to take a \
         look at https://redis.io/topics/latency-monitor.\n"
            .to_string()
    } else if events == 0 {
        "Dave, no latency spike was observed during the lifetime of this Redis instance, not \
         in the slightest bit. I honestly think you ought to sleep better tonight.\n"
            .to_string()
    } else {
        let mut t = String::from(
            "Dave, I have observed latency spikes in this Redis instance. You don't mind \
             talking about it, do you Dave?\n\n",
        );
        let ev = call.ctx.resp.latency.events.lock();
        let mut names: Vec<_> = ev.keys().cloned().collect();
        names.sort();
        for (i, n) in names.iter().enumerate() {
            let e = &ev[n];
            let avg = e.samples.iter().map(|s| s.1).sum::<u64>() / e.samples.len().max(1) as u64;
            t.push_str(&format!(
                "{}. {n}: {} latency spikes (average {avg}ms, mean deviation 0ms, period 0 \
                 sec). Worst all time event {}ms.\n",
                i + 1,
                e.samples.len(),
                e.max
            ));
        }
        t
    };
    call.w.verbatim(b"txt", text.as_bytes());
}

/// `LATENCY HISTOGRAM [command ...]`: per command, calls and cumulative counts at each
/// power-of-two microsecond bound where the count grows.
fn histogram(call: &mut Call<'_>, args: Args<'_>) {
    let wanted: Vec<String> = args
        .iter_from(2)
        .map(|n| String::from_utf8_lossy(n).to_ascii_lowercase())
        .collect();
    let rows: Vec<(String, [u64; BUCKETS])> = call
        .ctx
        .resp
        .latency
        .rows()
        .into_iter()
        .filter(|(name, _)| {
            wanted.is_empty()
                || wanted.iter().any(|w| {
                    name == w
                        || name
                            .strip_prefix(w.as_str())
                            .is_some_and(|r| r.starts_with('|'))
                })
        })
        .collect();
    call.w.map(rows.len());
    for (name, h) in rows {
        call.w.bulk(name.as_bytes());
        call.w.map(2);
        call.w.bulk(b"calls");
        call.w.integer(h.iter().sum::<u64>() as i64);
        call.w.bulk(b"histogram_usec");
        let mut points = Vec::new();
        let mut cumulative = 0;
        for (b, n) in h.iter().enumerate() {
            if *n > 0 {
                cumulative += n;
                points.push((bucket_usec(b), cumulative));
            }
        }
        call.w.map(points.len());
        for (usec, c) in points {
            call.w.integer(usec as i64);
            call.w.integer(c as i64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_from_one_microsecond() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1024), 0);
        assert_eq!(bucket(1025), 1);
        assert_eq!(bucket(2048), 1);
        assert_eq!(bucket(2049), 2);
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_usec(0), 1);
        assert_eq!(bucket_usec(1), 2);
        assert_eq!(bucket_usec(10), 1048);
    }

    #[test]
    fn samples_keep_one_per_second_and_the_max() {
        // Fixed clock seconds: with the real clock the three calls could straddle a second
        // boundary on a loaded machine (it failed so once).
        let l = Latency::new(1);
        l.add_sample_at("command", 5, 1_000);
        l.add_sample_at("command", 9, 1_000);
        l.add_sample_at("command", 3, 1_000);
        l.add_sample_at("command", 4, 1_001);
        let ev = l.events.lock();
        let e = &ev["command"];
        assert_eq!(e.samples, vec![(1_000, 9), (1_001, 4)]);
        assert_eq!(e.max, 9);
    }
}

#[cfg(test)]
mod memcache_rows {
    use super::*;

    #[test]
    fn memcached_rows_fit_after_the_registry() {
        assert!(registry().specs().len() + MEMCACHE_COMMANDS.len() <= COMMAND_SLOTS);
        assert_eq!(memcache_row(b"get"), registry().specs().len());
        assert_eq!(
            memcache_row(b"verbosity"),
            registry().specs().len() + MEMCACHE_COMMANDS.len() - 1
        );
    }
}
