//! Per command and per error counters for `INFO commandstats`, `INFO errorstats` and
//! `total_error_replies`, and the `INFO cpu` figures.
//!
//! Each worker owns one [`WorkerCommandStats`] (a fixed array indexed by the command's place
//! in the command [`registry`]), writes it with relaxed load+store like [`crate::stats`], and INFO sums
//! all workers. The error codes slabd replies with are a fixed table, so that counting one
//! never allocates or locks; any other code (a script's `redis.error_reply("MY_CODE ...")`)
//! goes to a short per-worker list behind an uncontended lock, as Redis 7.0 counts every
//! code it sees.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::registry::registry;
use crate::stats;

/// Room for the command table; a unit test checks that the command table fits.
pub(super) const COMMAND_SLOTS: usize = 640;

/// Error codes (the reply's first word) counted without a lock in `INFO errorstats`.
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
    /// Codes not in [`ERROR_CODES`], at most [`OTHER_CODES`] of them.
    others: Mutex<Vec<(Box<[u8]>, u64)>>,
}

/// How many codes outside [`ERROR_CODES`] a worker counts by name; later new ones count as
/// `ERR` (Redis 7.0 keeps every code: a script could make that grow without end).
const OTHER_CODES: usize = 128;

/// Redis's error code of an error reply from its leading `-`: the text before the first
/// space within its first 32 bytes, else `ERR` (networking.c, afterErrorReply).
fn error_code(reply: &[u8]) -> &[u8] {
    let head = &reply[..reply.len().min(32)];
    match head.iter().position(|&c| c == b' ') {
        Some(space) if reply.first() == Some(&b'-') && space > 0 => &reply[1..space],
        _ => b"ERR",
    }
}

impl Default for WorkerCommandStats {
    fn default() -> Self {
        WorkerCommandStats {
            commands: std::array::from_fn(|_| CommandCounters::default()),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            others: Mutex::new(Vec::new()),
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
        let code = error_code(reply);
        if let Some(slot) = ERROR_CODES.iter().position(|c| c.as_bytes() == code) {
            stats::bump(&self.errors[slot]);
            return;
        }
        let mut others = self.others.lock();
        if let Some(entry) = others.iter_mut().find(|(c, _)| &c[..] == code) {
            entry.1 += 1;
        } else if others.len() < OTHER_CODES {
            others.push((code.into(), 1));
        } else {
            stats::bump(&self.errors[0]);
        }
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
        self.others.lock().clear();
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
        self.error_counts().iter().map(|(_, n)| n).sum()
    }

    /// Every code replied at least once and its count over all workers, in byte order
    /// (Redis keeps them in a radix tree and lists them so).
    fn error_counts(&self) -> Vec<(Vec<u8>, u64)> {
        let mut counts: Vec<(Vec<u8>, u64)> = ERROR_CODES
            .iter()
            .enumerate()
            .map(|(i, code)| (code.as_bytes().to_vec(), self.sum(|w| &w.errors[i])))
            .collect();
        for w in &self.workers {
            for (code, n) in w.others.lock().iter() {
                match counts.iter_mut().find(|(c, _)| c[..] == code[..]) {
                    Some(entry) => entry.1 += n,
                    None => counts.push((code.to_vec(), *n)),
                }
            }
        }
        counts.retain(|(_, n)| *n > 0);
        counts.sort();
        counts
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
        for (code, count) in self.error_counts() {
            s.extend_from_slice(b"errorstat_");
            s.extend_from_slice(&code);
            let _ = write!(s, ":count={count}\r\n");
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
        st.worker(0).error(b"-NEWCODE z\r\n");
        st.worker(0).error(b"-ABC\r\n");
        let mut s = Vec::new();
        st.write_errorstats(&mut s);
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "errorstat_ERR:count=3\r\nerrorstat_NEWCODE:count=2\r\n\
             errorstat_WRONGTYPE:count=1\r\n"
        );
        assert_eq!(st.total_errors(), 6);
        st.reset();
        assert_eq!(st.total_errors(), 0);
        let mut s = Vec::new();
        st.write_errorstats(&mut s);
        assert!(s.is_empty());
    }

    #[test]
    fn the_code_is_the_first_word_within_32_bytes_as_redis_reads_it() {
        assert_eq!(error_code(b"-MY_ERR_CODE custom msg\r\n"), b"MY_ERR_CODE");
        assert_eq!(error_code(b"-NOSPACE\r\n"), b"ERR");
        assert_eq!(error_code(b"- leading space\r\n"), b"");
        let long = b"-AVERYLONGERRORCODEOFTHIRTYTWOBYTES x\r\n";
        assert_eq!(error_code(long), b"ERR");
        assert_eq!(error_code(b"+OK\r\n"), b"ERR");
    }

    #[test]
    fn new_codes_past_the_limit_count_as_err() {
        let st = CommandStats::new(1);
        for i in 0..OTHER_CODES + 5 {
            st.worker(0).error(format!("-C{i} x\r\n").as_bytes());
        }
        let mut s = Vec::new();
        st.write_errorstats(&mut s);
        let text = String::from_utf8(s).unwrap();
        assert_eq!(text.lines().count(), OTHER_CODES + 1);
        assert!(text.contains("errorstat_ERR:count=5\r\n"));
        assert_eq!(st.total_errors(), OTHER_CODES as u64 + 5);
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
