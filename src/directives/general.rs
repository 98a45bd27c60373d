//! Server-wide directives that Redis clients and Redis's test suite set and read.

use super::{Directive, Kind};
use crate::directive;
use crate::server::oom;

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    directive!("hz", [], "10", Kind::Int { min: 1, max: 500 }, true),
    directive!("loglevel", [], "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]), true),
    directive!("lazyfree-lazy-eviction", [], "no", Kind::Bool, true),
    directive!("lazyfree-lazy-expire", [], "no", Kind::Bool, true),
    directive!("lazyfree-lazy-server-del", [], "no", Kind::Bool, true),
    directive!("lazyfree-lazy-user-del", [], "no", Kind::Bool, true),
    directive!("lazyfree-lazy-user-flush", [], "no", Kind::Bool, true),
    directive!("activedefrag", [], "no", Kind::Bool, true),
    // Kept and shown: slabd checks every RESTORE payload and loaded dump in full whatever
    // it says (Redis's `yes`), so a corrupt payload is refused before it is stored.
    directive!("sanitize-dump-payload", [], "no", Kind::Enum(&["no", "yes", "clients"]), true),
    // Replication's password: kept and shown (redis-benchmark's suite sets it); slabd has no
    // replica link to use it.
    directive!("masterauth", [], "", Kind::String, true),
    // slabd is a master only (src/repl): shown as a server that is no replica shows them
    // (CONFIG GET replicaof answers ""), and a `replicaof host port` line is refused.
    directive!("replicaof", ["slaveof"], "", Kind::Custom(no_replication), false),
    directive!("repl-backlog-size", [], "1mb", Kind::Memory { min: 1, max: i64::MAX }, true),
    directive!("repl-ping-replica-period", ["repl-ping-slave-period"], "10",
        Kind::Int { min: 1, max: i64::MAX }, true),
    // Kept and shown: every full resync is made on disk (a dump read back) and sent at once.
    directive!("repl-diskless-sync", [], "yes", Kind::Bool, true),
    directive!("repl-diskless-sync-delay", [], "5", Kind::Int { min: 0, max: i64::MAX }, true),
    // Redis's sampled LRU/LFU knobs: kept and shown; slabd's CLOCK hand samples nothing.
    directive!("maxmemory-samples", [], "5", Kind::Int { min: 1, max: 64 }, true),
    directive!("maxmemory-eviction-tenacity", [], "10", Kind::Int { min: 0, max: 100 }, true),
    directive!("oom-score-adj", [], "no", Kind::Custom(oom::canonical_mode), true),
    directive!("oom-score-adj-values", [], "0 200 800",
        Kind::Custom(oom::canonical_values), true),
];

/// `replicaof`: only the empty value (no primary), as replication is not implemented.
fn no_replication(value: &str) -> Result<String, String> {
    if value.is_empty() {
        Ok(String::new())
    } else {
        Err("replication is not implemented".into())
    }
}
