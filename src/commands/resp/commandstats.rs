//! Per command and per error counters for `INFO commandstats`, `INFO errorstats` and
//! `total_error_replies`, and the `INFO cpu` figures.
//!
//! Each worker owns one [`WorkerCommandStats`] (a fixed array indexed by the command's place
//! in the command [`registry`]), writes it with relaxed load+store like [`crate::stats`], and INFO sums
//! all workers. Error codes are a fixed table of the prefixes slabd replies with, so that
//! counting an error never allocates or locks.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use super::registry::registry;
use crate::stats;

/// Room for the command table; a unit test checks that the command table fits.
pub(super) const COMMAND_SLOTS: usize = 640;

/// Error codes (the reply's first word) counted in `INFO errorstats`. A reply whose first
/// word is not here counts as `ERR`, the code Redis gives errors without one.
const ERROR_CODES: &[&str] = &[
    "ERR",
    "WRONGTYPE",
    "NOAUTH",
    "WRONGPASS",
    "EXECABORT",
    "OOM",
    "NOPROTO",
    "NOPERM",
    "NOSCRIPT",
    "UNBLOCKED",
    "BUSY",
    "BUSYKEY",
    "NOTBUSY",
    "UNKILLABLE",
    "LOADING",
    "MISCONF",
    "IOERR",
];

/// One command's counters (Redis `cmdstat_<name>`).
#[derive(Debug, Default)]
struct CommandCounters {
    calls: AtomicU64,
    usec: AtomicU64,
    /// Refused before running: arity, authentication, key length.
    rejected: AtomicU64,
    /// Ran and replied with an error.
    failed: AtomicU64,
}

/// One worker's counters, aligned so that two workers never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
pub struct WorkerCommandStats {
    commands: [CommandCounters; COMMAND_SLOTS],
    errors: [AtomicU64; ERROR_CODES.len()],
}

impl Default for WorkerCommandStats {
    fn default() -> Self {
        WorkerCommandStats {
            commands: std::array::from_fn(|_| CommandCounters::default()),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl WorkerCommandStats {
    /// A command ran for `usec` microseconds; `failed` when its reply was an error.
    pub(super) fn ran(&self, command: usize, usec: u64, failed: bool) {
        if let Some(c) = self.commands.get(command) {
            stats::bump(&c.calls);
            stats::add(&c.usec, usec);
            if failed {
                stats::bump(&c.failed);
            }
        }
    }

    /// A command was refused before it ran.
    pub(super) fn rejected(&self, command: usize) {
        if let Some(c) = self.commands.get(command) {
            stats::bump(&c.rejected);
        }
    }

    /// An error reply was sent; `reply` is the reply from its leading `-`.
    pub(super) fn error(&self, reply: &[u8]) {
        let text = reply.get(1..).unwrap_or_default();
        let code_len = text
            .iter()
            .position(|&c| c == b' ' || c == b'\r')
            .unwrap_or(text.len());
        let code = &text[..code_len];
        let slot = ERROR_CODES
            .iter()
            .position(|c| c.as_bytes() == code)
            .unwrap_or(0);
        stats::bump(&self.errors[slot]);
    }

    fn reset(&self) {
        for c in &self.commands {
            for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                a.store(0, Ordering::Relaxed);
            }
        }
        for e in &self.errors {
            e.store(0, Ordering::Relaxed);
        }
    }
}

/// Every worker's counters.
#[derive(Debug)]
pub struct CommandStats {
    workers: Vec<WorkerCommandStats>,
}

impl CommandStats {
    pub fn new(workers: usize) -> CommandStats {
        CommandStats {
            workers: (0..workers.max(1))
                .map(|_| WorkerCommandStats::default())
                .collect(),
        }
    }

    pub(super) fn worker(&self, worker: usize) -> &WorkerCommandStats {
        &self.workers[worker % self.workers.len()]
    }

    /// `CONFIG RESETSTAT`.
    pub(super) fn reset(&self) {
        for w in &self.workers {
            w.reset();
        }
    }

    fn sum(&self, read: impl Fn(&WorkerCommandStats) -> &AtomicU64) -> u64 {
        self.workers
            .iter()
            .map(|w| read(w).load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// All error replies (`total_error_replies`).
    pub(super) fn total_errors(&self) -> u64 {
        (0..ERROR_CODES.len())
            .map(|i| self.sum(|w| &w.errors[i]))
            .sum()
    }

    /// The `# Commandstats` lines: every command called, refused or failed at least once.
    pub(super) fn write_commandstats(&self, s: &mut Vec<u8>) {
        for (i, spec) in registry().specs().iter().enumerate().take(COMMAND_SLOTS) {
            let calls = self.sum(|w| &w.commands[i].calls);
            let usec = self.sum(|w| &w.commands[i].usec);
            let rejected = self.sum(|w| &w.commands[i].rejected);
            let failed = self.sum(|w| &w.commands[i].failed);
            if calls == 0 && rejected == 0 && failed == 0 {
                continue;
            }
            let per_call = if calls == 0 {
                0.0
            } else {
                usec as f64 / calls as f64
            };
            let _ = write!(
                s,
                "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},\
                 rejected_calls={rejected},failed_calls={failed}\r\n",
                spec.name
            );
        }
    }

    /// The `# Errorstats` lines: every error code replied at least once.
    pub(super) fn write_errorstats(&self, s: &mut Vec<u8>) {
        for (i, code) in ERROR_CODES.iter().enumerate() {
            let count = self.sum(|w| &w.errors[i]);
            if count > 0 {
                let _ = write!(s, "errorstat_{code}:count={count}\r\n");
            }
        }
    }
}

/// The `# CPU` lines, from getrusage: the process, its children, and the calling thread
/// (Redis's "main thread": the one running commands, here the worker serving INFO).
pub(super) fn write_cpu(s: &mut Vec<u8>) {
    let usage = |who| {
        // SAFETY: getrusage only writes the struct it is given, which is zeroed and owned
        // here; RUSAGE_SELF/CHILDREN/THREAD are valid `who` values on Linux.
        unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            libc::getrusage(who, &mut u);
            u
        }
    };
    let secs = |t: libc::timeval| format!("{}.{:06}", t.tv_sec, t.tv_usec);
    let me = usage(libc::RUSAGE_SELF);
    let children = usage(libc::RUSAGE_CHILDREN);
    let thread = usage(libc::RUSAGE_THREAD);
    let _ = write!(
        s,
        "used_cpu_sys:{}\r\nused_cpu_user:{}\r\nused_cpu_sys_children:{}\r\n\
         used_cpu_user_children:{}\r\nused_cpu_sys_main_thread:{}\r\n\
         used_cpu_user_main_thread:{}\r\n",
        secs(me.ru_stime),
        secs(me.ru_utime),
        secs(children.ru_stime),
        secs(children.ru_utime),
        secs(thread.ru_stime),
        secs(thread.ru_utime),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_table_fits() {
        assert!(registry().specs().len() <= COMMAND_SLOTS);
    }

    #[test]
    fn errors_count_by_code_and_sum_over_workers() {
        let st = CommandStats::new(2);
        st.worker(0).error(b"-ERR syntax error\r\n");
        st.worker(1)
            .error(b"-WRONGTYPE Operation against a key\r\n");
        st.worker(1).error(b"-ERR x\r\n");
        st.worker(1).error(b"-NEWCODE y\r\n");
        let mut s = Vec::new();
        st.write_errorstats(&mut s);
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "errorstat_ERR:count=3\r\nerrorstat_WRONGTYPE:count=1\r\n"
        );
        assert_eq!(st.total_errors(), 4);
        st.reset();
        assert_eq!(st.total_errors(), 0);
    }

    #[test]
    fn commandstats_lines() {
        let st = CommandStats::new(2);
        let get = registry().index(b"get").unwrap();
        let set = registry().index(b"set").unwrap();
        st.worker(0).ran(get, 3, false);
        st.worker(1).ran(get, 4, true);
        st.worker(1).rejected(set);
        let mut s = Vec::new();
        st.write_commandstats(&mut s);
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "cmdstat_get:calls=2,usec=7,usec_per_call=3.50,rejected_calls=0,failed_calls=1\r\n\
             cmdstat_set:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n"
        );
    }
}
