//! SLOWLOG: commands that ran longer than `slowlog-log-slower-than` microseconds, the most
//! recent `slowlog-max-len` of them.
//!
//! The log is one mutex taken only when a command was slow; the threshold is an atomic the
//! directive's listener keeps current, so a fast command pays one relaxed load.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

use super::registry::{spec, Spec};
use super::Call;
use crate::commands::ClientInfo;
use crate::directives::Directives;
use crate::hub::redact::{Holder, Secrets};
use crate::protocol::resp::Args;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("slowlog", -2, ["admin", "loading", "stale"], (0, 0, 0), "server", "2.2.12",
        "A container for slow log commands", slowlog),
];

/// Arguments kept per entry, as Redis (the last says how many more there were).
const MAX_ARGS: usize = 32;
/// Bytes kept per argument, as Redis.
const MAX_ARG_LEN: usize = 128;

/// One slow command.
#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    unix_secs: u64,
    usec: u64,
    args: Vec<Vec<u8>>,
    addr: String,
    name: Vec<u8>,
}

/// The slow log and its settings.
#[derive(Debug)]
pub struct SlowLog {
    entries: Mutex<VecDeque<Entry>>,
    next_id: AtomicU64,
    /// `slowlog-log-slower-than` (µs; negative: off).
    threshold: Arc<AtomicI64>,
    /// `slowlog-max-len`.
    max_len: Arc<AtomicI64>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            entries: Mutex::default(),
            next_id: AtomicU64::new(0),
            threshold: Arc::new(AtomicI64::new(10_000)),
            max_len: Arc::new(AtomicI64::new(128)),
        }
    }
}

impl SlowLog {
    /// Keeps the settings in step with their directives.
    pub fn follow(&self, directives: &Directives) {
        for (name, slot) in [
            ("slowlog-log-slower-than", &self.threshold),
            ("slowlog-max-len", &self.max_len),
        ] {
            slot.store(directives.int(name), Ordering::Relaxed);
            let me = slot.clone();
            directives.on_change(name, move |v| {
                me.store(v.parse().unwrap_or(0), Ordering::Relaxed);
                Ok(())
            });
        }
    }

    /// Whether a command that took `usec` goes in the log.
    #[inline]
    pub fn wants(&self, usec: u64) -> bool {
        let t = self.threshold.load(Ordering::Relaxed);
        crate::hub::OBSERVE && t >= 0 && usec >= t as u64
    }

    /// Adds a slow command (after [`SlowLog::wants`]).
    pub(super) fn record(&self, call: &Call<'_>, holder: Holder, args: Args<'_>, usec: u64) {
        let arg = |i| args.get(i);
        let secrets = Secrets::of(holder, arg, args.len());
        let argv: Vec<&[u8]> = (0..args.len().min(MAX_ARGS))
            .map(|i| {
                if secrets.hides(arg, args.len(), i) {
                    &b"(redacted)"[..]
                } else {
                    args.get(i)
                }
            })
            .collect();
        self.record_args(call.info, &argv, args.len(), usec);
    }

    /// Adds a slow command given as its first arguments (up to [`MAX_ARGS`] of `argc`;
    /// a memcached command line's words).
    pub fn record_args(&self, info: &ClientInfo, args: &[&[u8]], argc: usize, usec: u64) {
        let kept = argc.min(MAX_ARGS);
        let mut v = Vec::with_capacity(kept);
        for (i, &a) in args.iter().enumerate().take(kept) {
            if kept < argc && i == kept - 1 {
                let more = argc - kept + 1;
                v.push(format!("... ({more} more arguments)").into_bytes());
                break;
            }
            if a.len() > MAX_ARG_LEN {
                let mut cut = a[..MAX_ARG_LEN].to_vec();
                let more = a.len() - MAX_ARG_LEN;
                cut.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
                v.push(cut);
            } else {
                v.push(a.to_vec());
            }
        }
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_secs: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            usec,
            args: v,
            addr: info.addr.clone(),
            name: info.name.lock().clone().unwrap_or_default(),
        };
        let max = usize::try_from(self.max_len.load(Ordering::Relaxed)).unwrap_or(0);
        let mut log = self.entries.lock();
        log.push_front(entry);
        log.truncate(max);
    }
}

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// `SLOWLOG GET [count] | LEN | RESET | HELP`
pub(super) fn slowlog(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let is = |n: &str| sub.eq_ignore_ascii_case(n.as_bytes());
    let log = &call.ctx.resp.slowlog;
    if is("len") && args.len() == 2 {
        let n = log.entries.lock().len();
        call.w.integer(n as i64);
    } else if is("reset") && args.len() == 2 {
        log.entries.lock().clear();
        call.w.ok();
    } else if is("help") && args.len() == 2 {
        call.w.array(HELP.len());
        for l in HELP {
            call.w.simple(l.as_bytes());
        }
    } else if is("get") && args.len() <= 3 {
        let count = if args.len() == 3 {
            match super::parse_i64(args.get(2)) {
                Some(n) if n >= -1 => n,
                Some(_) => {
                    return call
                        .w
                        .error(b"ERR count should be greater than or equal to -1")
                }
                None => return call.not_integer(),
            }
        } else {
            10
        };
        let entries: Vec<Entry> = {
            let l = log.entries.lock();
            let take = if count < 0 { l.len() } else { count as usize };
            l.iter().take(take).cloned().collect()
        };
        call.w.array(entries.len());
        for e in entries {
            call.w.array(6);
            call.w.integer(e.id as i64);
            call.w.integer(e.unix_secs as i64);
            call.w.integer(e.usec as i64);
            call.w.array(e.args.len());
            for a in &e.args {
                call.w.bulk(a);
            }
            call.w.bulk(e.addr.as_bytes());
            call.w.bulk(&e.name);
        }
    } else if ["len", "reset", "help", "get"].iter().any(|n| is(n)) {
        let name = String::from_utf8_lossy(sub).to_ascii_lowercase();
        call.wrong_arity(&format!("slowlog|{name}"));
    } else {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try SLOWLOG HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    }
}
