//! `ACL LOG`: recent refusals, similar ones grouped as Redis 7.0 groups them.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// Why a request was refused; the discriminant indexes `Users::denied`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogReason {
    Auth = 0,
    Command = 1,
    Key = 2,
    Channel = 3,
}

impl LogReason {
    pub fn name(self) -> &'static str {
        match self {
            LogReason::Auth => "auth",
            LogReason::Command => "command",
            LogReason::Key => "key",
            LogReason::Channel => "channel",
        }
    }
}

/// One `ACL LOG` entry.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub count: u64,
    pub reason: LogReason,
    /// `toplevel`, `multi` or `lua`.
    pub context: &'static str,
    /// The command, key or channel refused (`AUTH` for a failed login).
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// Unix milliseconds of the last occurrence.
    pub at_ms: u64,
    /// `CLIENT LIST` line of the last client.
    pub client_info: Vec<u8>,
}

/// Entries closer in time than this are grouped (Redis's ACL_LOG_GROUPING_MAX_TIME_DELTA).
const GROUPING_MS: u64 = 60_000;
/// How many of the newest entries a new one is compared with.
const GROUPING_SCAN: usize = 10;

/// Newest first, at most `acllog-max-len` entries.
#[derive(Debug, Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<LogEntry>>,
}

pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl AclLog {
    /// Adds an entry, or counts it in a similar recent one; keeps at most `max_len`.
    pub fn add(&self, mut e: LogEntry, max_len: usize) {
        let mut entries = self.entries.lock();
        let similar = entries.iter().take(GROUPING_SCAN).position(|o| {
            o.reason == e.reason
                && o.context == e.context
                && o.at_ms.abs_diff(e.at_ms) <= GROUPING_MS
                && o.object == e.object
                && o.username == e.username
        });
        if let Some(i) = similar {
            let mut old = entries.remove(i).expect("position is in range");
            old.count += 1;
            old.at_ms = e.at_ms;
            old.client_info = std::mem::take(&mut e.client_info);
            entries.push_front(old);
        } else {
            e.count = 1;
            entries.push_front(e);
            entries.truncate(max_len);
        }
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<LogEntry> {
        self.entries.lock().iter().take(count).cloned().collect()
    }
}
