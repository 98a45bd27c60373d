//! `client-output-buffer-limit`: how much unsent output a connection may hold.
//!
//! Three classes as Redis has them (`normal`, `replica`/`slave`, `pubsub`), each a hard
//! limit, a soft limit and the seconds a connection may stay over the soft one. The values
//! are process-wide atomics ([`LIMITS`]): read on every message delivered, set by
//! `CONFIG SET client-output-buffer-limit` (which, as in Redis, changes only the classes
//! it names, so the directive's canonical form is built from the current values).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::directives::parse_memory;

/// One class's limits; 0 disables a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_secs: u64,
}

/// The classes slabd's connections can be in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputClass {
    Normal,
    /// Reads the replication stream (after SYNC / PSYNC).
    Replica,
    /// Subscribed to a channel or pattern, or MONITOR / `watch`.
    Pubsub,
}

/// The setting's default, Redis's.
pub const DEFAULT: &str = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

const CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// hard, soft, seconds for normal, replica, pubsub.
pub struct OutputLimits {
    values: [AtomicU64; 9],
}

/// The server's limits.
pub static LIMITS: OutputLimits = OutputLimits {
    values: [
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(256 << 20),
        AtomicU64::new(64 << 20),
        AtomicU64::new(60),
        AtomicU64::new(32 << 20),
        AtomicU64::new(8 << 20),
        AtomicU64::new(60),
    ],
};

fn class_index(name: &str) -> Option<usize> {
    match name.to_ascii_lowercase().as_str() {
        "normal" => Some(0),
        "slave" | "replica" => Some(1),
        "pubsub" => Some(2),
        _ => None,
    }
}

/// Parses `class hard soft seconds ...` over `current`, Redis's errors on bad input.
fn parse_over(v: &str, mut current: [u64; 9]) -> Result<[u64; 9], String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    if words.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    for w in words.chunks(4) {
        let class = class_index(w[0])
            .ok_or("Invalid client class specified in buffer limit configuration.")?;
        let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let hard = parse_memory(w[1]).filter(|n| *n >= 0).ok_or_else(bad)?;
        let soft = parse_memory(w[2]).filter(|n| *n >= 0).ok_or_else(bad)?;
        let secs: i64 = w[3].parse().map_err(|_| bad())?;
        if secs < 0 {
            return Err(bad().into());
        }
        current[class * 3] = hard as u64;
        current[class * 3 + 1] = soft as u64;
        current[class * 3 + 2] = secs as u64;
    }
    Ok(current)
}

fn render(v: &[u64; 9]) -> String {
    let mut parts = Vec::new();
    for (i, class) in CLASSES.iter().enumerate() {
        parts.push(format!(
            "{class} {} {} {}",
            v[i * 3],
            v[i * 3 + 1],
            v[i * 3 + 2]
        ));
    }
    parts.join(" ")
}

/// The directive's check: the full setting after applying `v` to the current one.
pub fn canonical(v: &str) -> Result<String, String> {
    parse_over(v, LIMITS.snapshot()).map(|n| render(&n))
}

impl OutputLimits {
    fn snapshot(&self) -> [u64; 9] {
        std::array::from_fn(|i| self.values[i].load(Ordering::Relaxed))
    }

    /// Sets the classes `v` names.
    pub fn apply(&self, v: &str) -> Result<(), String> {
        let n = parse_over(v, self.snapshot())?;
        for (slot, x) in self.values.iter().zip(n) {
            slot.store(x, Ordering::Relaxed);
        }
        Ok(())
    }

    pub fn get(&self, class: OutputClass) -> OutputLimit {
        let b = match class {
            OutputClass::Normal => 0,
            OutputClass::Replica => 3,
            OutputClass::Pubsub => 6,
        };
        let v = |i: usize| self.values[b + i].load(Ordering::Relaxed);
        OutputLimit {
            hard: v(0),
            soft: v(1),
            soft_secs: v(2),
        }
    }
}

/// Redis's reply-buffer resizing (`server::connection::reply_buffer`), as `DEBUG
/// REPLYBUFFER` sets it.
#[derive(Debug)]
pub struct ReplyBufferPolicy {
    /// `PEAK-RESET-TIME`: milliseconds between peak resets; negative: never.
    pub peak_reset_ms: AtomicI64,
    /// `RESIZING 0|1`.
    pub resizing: AtomicBool,
}

/// Redis's `REPLY_BUFFER_DEFAULT_PEAK_RESET_TIME` (`DEBUG REPLYBUFFER PEAK-RESET-TIME reset`).
pub const PEAK_RESET_DEFAULT_MS: i64 = 5000;

impl Default for ReplyBufferPolicy {
    fn default() -> ReplyBufferPolicy {
        ReplyBufferPolicy {
            peak_reset_ms: AtomicI64::new(PEAK_RESET_DEFAULT_MS),
            resizing: AtomicBool::new(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_renders_as_redis() {
        let base = parse_over(DEFAULT, [0; 9]).unwrap();
        assert_eq!(render(&base), DEFAULT);
        let n = parse_over("pubsub 1mb 512kb 5 replica 1 2 3", base).unwrap();
        assert_eq!(
            render(&n),
            "normal 0 0 0 slave 1 2 3 pubsub 1048576 524288 5"
        );
        assert_eq!(
            parse_over("pubsub 1 2", base).unwrap_err(),
            "Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(
            parse_over("master 1 2 3", base).unwrap_err(),
            "Invalid client class specified in buffer limit configuration."
        );
        assert_eq!(
            parse_over("pubsub x 2 3", base).unwrap_err(),
            "Error in hard, soft or soft_seconds setting in buffer limit configuration."
        );
    }
}
