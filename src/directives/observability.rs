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
    directive!("latency-tracking-info-percentiles", [], "50 99 99.9",
        Kind::Custom(percentiles), true),
    directive!("tracking-table-max-keys", [], "1000000",
        Kind::Int { min: 0, max: i64::MAX }, true),
    directive!("metrics-port", [], "0", Kind::Int { min: 0, max: 65535 }, false),
    directive!("metrics-bind", [], "127.0.0.1", Kind::String, false),
];

/// `latency-tracking-info-percentiles`: numbers in [0, 100] separated by spaces (none is
/// allowed), shown as Redis shows them (`%f` without trailing zeros: `0.0 50.0` is `0 50`).
fn percentiles(v: &str) -> Result<String, String> {
    let mut out = Vec::new();
    for w in v.split_ascii_whitespace() {
        let p: f64 = w
            .parse()
            .ok()
            .filter(|p: &f64| !p.is_nan())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        out.push(trim_double(p));
    }
    Ok(out.join(" "))
}

/// `%f` without its trailing zeros (and dot), as Redis's trimDoubleString leaves it.
pub fn trim_double(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::percentiles;

    #[test]
    fn percentiles_as_redis_shows_them() {
        assert_eq!(percentiles("0.0 50.0 100.0").unwrap(), "0 50 100");
        assert_eq!(percentiles("50 99 99.9").unwrap(), "50 99 99.9");
        assert_eq!(percentiles("").unwrap(), "");
        assert_eq!(
            percentiles("10.0 50.0 a").unwrap_err(),
            "Invalid latency-tracking-info-percentiles parameters"
        );
        assert_eq!(
            percentiles("10.0 50.0 101.0").unwrap_err(),
            "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
        );
    }
}
