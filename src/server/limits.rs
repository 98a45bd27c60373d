//! Limits on what all clients hold together: Redis's `maxmemory-clients` (client eviction).
//!
//! Each connection's buffers are bounded on their own (`-I`, `client-query-buffer-limit`,
//! the output limits); this bounds their sum. A connection's buffer capacity is kept in its
//! [`ClientInfo::mem`] and summed in the server's `read_buf_bytes` + `response_obj_bytes`
//! gauges (plus `tls_session_bytes`, the TLS sessions' state), updated only when a capacity changes. When a connection is about to grow its
//! read buffer past the limit, or ends a turn over it, the largest clients are closed
//! first, as Redis 7.0 does, until the total is under the limit again: the connection
//! itself at once, others through the hub (their worker closes them on its next turn).
//! Clients with `CLIENT NO-EVICT on` are never chosen. Nothing of this runs while the
//! limit is off (the default, as in Redis) or the total is under it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::commands::{ClientInfo, Context};
use crate::directives::{parse_memory, Directives};
use crate::hub::{flag, Event};
use crate::stats::ServerStats;

/// Redis's floor for an effective limit, so that a bad setting cannot lock everyone out.
const MIN_LIMIT: u64 = 128 * 1024;

/// The `maxmemory-clients` setting, kept in atomics (read on every buffer growth).
#[derive(Debug, Default)]
pub struct ClientMemory {
    /// An absolute limit in bytes (0: none).
    bytes: AtomicU64,
    /// A limit in percent of `maxmemory` (0: none).
    percent: AtomicU64,
    /// Clients closed because of the limit (INFO `evicted_clients`).
    pub evicted: AtomicU64,
    /// One eviction pass at a time: a second worker over the limit sees what the first
    /// chose instead of choosing more for the same excess.
    pass: parking_lot::Mutex<()>,
}

/// `maxmemory-clients`: a memory value or a percentage of `maxmemory` (Redis's errors).
pub fn canonical(value: &str) -> Result<String, String> {
    if let Some(n) = parse_memory(value).filter(|&n| n >= 0) {
        return Ok(n.to_string());
    }
    if let Some(p) = value
        .strip_suffix('%')
        .filter(|p| !p.is_empty())
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|&p| p >= 0)
    {
        if p > 100 {
            return Err("percentage argument must be less or equal to 100".into());
        }
        return Ok(format!("{p}%"));
    }
    Err("argument must be a memory or percent value".into())
}

impl ClientMemory {
    /// Takes the current value and follows CONFIG SET.
    pub fn follow(self: &std::sync::Arc<Self>, directives: &Directives) {
        self.apply(&directives.get("maxmemory-clients").unwrap_or_default());
        let me = self.clone();
        directives.on_change("maxmemory-clients", move |v| {
            me.apply(v);
            Ok(())
        });
    }

    fn apply(&self, v: &str) {
        let (bytes, percent) = match v.strip_suffix('%') {
            Some(p) => (0, p.parse().unwrap_or(0)),
            None => (v.parse().unwrap_or(0), 0),
        };
        self.bytes.store(bytes, Ordering::Relaxed);
        self.percent.store(percent, Ordering::Relaxed);
    }

    /// Whether a limit is set at all (the cheap test before anything else).
    #[inline]
    pub fn enabled(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) | self.percent.load(Ordering::Relaxed) != 0
    }

    /// The limit in bytes, 0 for none (a percentage of an unlimited `maxmemory` is none).
    pub fn limit(&self, ctx: &Context) -> u64 {
        let bytes = self.bytes.load(Ordering::Relaxed);
        let limit = if bytes > 0 {
            bytes
        } else {
            let percent = self.percent.load(Ordering::Relaxed);
            if percent == 0 {
                return 0;
            }
            ctx.store.stats().limit_maxbytes.saturating_mul(percent) / 100
        };
        if limit == 0 {
            0
        } else {
            limit.max(MIN_LIMIT)
        }
    }
}

/// Bytes all clients' buffers hold now.
pub fn client_bytes(server: &ServerStats) -> u64 {
    server.read_buf_bytes.load(Ordering::Relaxed)
        + server.response_obj_bytes.load(Ordering::Relaxed)
        + server.tls_session_bytes.load(Ordering::Relaxed)
}

/// Brings the total of all clients' buffers plus `growth` more bytes under
/// `maxmemory-clients` by closing the largest evictable clients. True when `me` is one of
/// them: the caller closes it at once, dropping its unsent output.
pub fn enforce(ctx: &Context, me: &ClientInfo, growth: u64) -> bool {
    let limits = &ctx.client_memory;
    if !limits.enabled() {
        return false;
    }
    let limit = limits.limit(ctx);
    if limit == 0 {
        return false;
    }
    if client_bytes(&ctx.server) + growth <= limit {
        return false;
    }
    let _one_pass = limits.pass.lock();
    // Summed from the clients themselves, not the gauge: a client closing meanwhile would
    // leave bytes in the gauge that no client in the list could free.
    let mem = |c: &ClientInfo| c.mem.load(Ordering::Relaxed) + u64::from(c.id == me.id) * growth;
    let mut clients: Vec<(u64, std::sync::Arc<ClientInfo>)> = ctx
        .clients
        .list()
        .into_iter()
        // Clients already chosen (closing on their own worker) no longer count.
        .filter(|c| !c.has_flag(flag::EVICTED))
        .map(|c| (mem(&c), c))
        .collect();
    let mut total: u64 = clients.iter().map(|(bytes, _)| bytes).sum();
    clients.retain(|(_, c)| !c.has_flag(flag::NO_EVICT));
    clients.sort_by_key(|(bytes, _)| std::cmp::Reverse(*bytes));
    let mut evicted_me = false;
    for (bytes, c) in clients {
        if total <= limit {
            break;
        }
        if bytes == 0 {
            break;
        }
        c.set_flag(flag::EVICTED, true);
        limits.evicted.fetch_add(1, Ordering::Relaxed);
        if ctx.verbosity.load(Ordering::Relaxed) >= 1 {
            eprintln!(
                "<{} evicting client ({bytes} bytes of buffers; maxmemory-clients {limit})",
                c.id
            );
        }
        total = total.saturating_sub(bytes);
        if c.id == me.id {
            evicted_me = true;
        } else {
            ctx.hub.post(c.target(), Event::Kill);
        }
    }
    evicted_me
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maxmemory_clients_takes_memory_values_and_percentages_as_redis_does() {
        assert_eq!(canonical("0").unwrap(), "0");
        assert_eq!(canonical("1mb").unwrap(), "1048576");
        assert_eq!(canonical("10%").unwrap(), "10%");
        assert_eq!(canonical("100%").unwrap(), "100%");
        assert_eq!(
            canonical("101%").unwrap_err(),
            "percentage argument must be less or equal to 100"
        );
        for bad in ["x", "%", "-1%", "-5", "1.5mb", ""] {
            assert_eq!(
                canonical(bad).unwrap_err(),
                "argument must be a memory or percent value",
                "{bad}"
            );
        }
    }

    #[test]
    fn the_limit_is_off_by_default_and_follows_the_setting() {
        let m = ClientMemory::default();
        assert!(!m.enabled());
        m.apply("1000");
        assert!(m.enabled());
        assert_eq!(m.bytes.load(Ordering::Relaxed), 1000);
        m.apply("5%");
        assert_eq!(m.percent.load(Ordering::Relaxed), 5);
        assert_eq!(m.bytes.load(Ordering::Relaxed), 0);
        m.apply("0");
        assert!(!m.enabled());
    }
}
