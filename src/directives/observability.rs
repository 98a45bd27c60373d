//! Observability directives: notifications, slow log, latency, output limits, metrics.

use super::{Directive, Kind};
use crate::directive;
use crate::hub::{limits, notify};

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    directive!("notify-keyspace-events", [], "", Kind::Custom(notify::canonical), true),
    directive!("client-output-buffer-limit", [],
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::Custom(limits::canonical), true),
    directive!("slowlog-log-slower-than", [], "10000",
        Kind::Int { min: -1, max: i64::MAX }, true),
    directive!("slowlog-max-len", [], "128", Kind::Int { min: 0, max: i64::MAX }, true),
    directive!("latency-monitor-threshold", [], "0", Kind::Int { min: 0, max: i64::MAX }, true),
    directive!("latency-tracking", [], "yes", Kind::Bool, true),
    directive!("tracking-table-max-keys", [], "1000000",
        Kind::Int { min: 0, max: i64::MAX }, true),
    directive!("metrics-port", [], "0", Kind::Int { min: 0, max: 65535 }, false),
    directive!("metrics-bind", [], "127.0.0.1", Kind::String, false),
];
