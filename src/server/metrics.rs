//! The Prometheus endpoint (`--metrics-port`, off by default, `--metrics-bind` 127.0.0.1 by
//! default): `GET /metrics` answers the text exposition format (version 0.0.4).
//!
//! What it serves is what `stats` and `INFO` hold, read the way a client reads them (the
//! memcached `stats`, `stats items`, `stats slabs` replies and RESP `INFO everything`, run
//! through [`crate::commands::process`] on a detached session), named as the widely used
//! exporters name them so their dashboards work: prometheus/memcached_exporter's
//! `memcached_*` and oliver006/redis_exporter's `redis_*` for the fields they export, and
//! `slabd_memcached_<stat>` / `slabd_redis_<field>` for every other numeric field.
//! `docs/metrics.md` has the rename table. Per-command latency histograms are
//! `slabd_command_duration_seconds` (buckets at powers of two microseconds).
//!
//! One thread, one scrape at a time, blocking sockets: a scrape every few seconds is all
//! it serves, and it never touches a worker.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use crate::commands::{self, ClientInfo, Context, Protocol, Session, Step};

/// Binds the endpoint when `metrics-port` is set; the listener's address, for the start-up
/// line.
pub fn start(ctx: &Arc<Context>) -> io::Result<Option<SocketAddr>> {
    let port = ctx.directives.int("metrics-port");
    if port <= 0 {
        return Ok(None);
    }
    let bind = ctx
        .directives
        .get("metrics-bind")
        .unwrap_or_else(|| "127.0.0.1".into());
    let listener = TcpListener::bind((bind.as_str(), port as u16))?;
    let addr = listener.local_addr()?;
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name("slabd-metrics".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve(&ctx, stream);
            }
        })?;
    Ok(Some(addr))
}

fn serve(ctx: &Context, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        req.extend_from_slice(&buf[..n]);
    }
    let line = req.split(|&c| c == b'\n').next().unwrap_or_default();
    let (status, body) = if line.starts_with(b"GET /metrics") {
        ("200 OK", render(ctx))
    } else if line.starts_with(b"GET / ") {
        ("200 OK", "slabd: metrics at /metrics\n".to_string())
    } else {
        ("404 Not Found", "not found\n".to_string())
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())
}

/// Runs one request on a session of its own and returns the reply.
fn ask(ctx: &Context, protocol: Protocol, request: &[u8]) -> String {
    let info = Arc::new(ClientInfo::detached("metrics", "metrics"));
    let mut session = Session::new(info, protocol, 0);
    let mut out = Vec::new();
    let mut input = request;
    while !input.is_empty() {
        match commands::process(ctx, &mut session, input, &mut out) {
            Step::Done(n) if n > 0 => input = &input[n.min(input.len())..],
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `STAT name value` lines as (name, value).
fn stat_lines(reply: &str) -> Vec<(String, String)> {
    reply
        .lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// A metric family being written: `# HELP`, `# TYPE`, then samples.
struct Out {
    text: String,
    declared: BTreeMap<String, ()>,
}

impl Out {
    fn sample(&mut self, name: &str, kind: &str, help: &str, labels: &str, value: f64) {
        if self.declared.insert(name.to_string(), ()).is_none() {
            let _ = writeln!(self.text, "# HELP {name} {help}");
            let _ = writeln!(self.text, "# TYPE {name} {kind}");
        }
        if labels.is_empty() {
            let _ = writeln!(self.text, "{name} {value}");
        } else {
            let _ = writeln!(self.text, "{name}{{{labels}}} {value}");
        }
    }
}

fn metric_name(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// memcached_exporter's names for `stats` fields: (stat, metric, type, labels).
const MEMCACHED_NAMES: &[(&str, &str, &str, &str)] = &[
    ("uptime", "memcached_uptime_seconds", "counter", ""),
    (
        "curr_connections",
        "memcached_current_connections",
        "gauge",
        "",
    ),
    (
        "total_connections",
        "memcached_connections_total",
        "counter",
        "",
    ),
    (
        "rejected_connections",
        "memcached_connections_rejected_total",
        "counter",
        "",
    ),
    ("max_connections", "memcached_max_connections", "gauge", ""),
    ("curr_items", "memcached_current_items", "gauge", ""),
    ("total_items", "memcached_items_total", "counter", ""),
    ("evictions", "memcached_items_evicted_total", "counter", ""),
    (
        "reclaimed",
        "memcached_items_reclaimed_total",
        "counter",
        "",
    ),
    ("bytes", "memcached_current_bytes", "gauge", ""),
    ("limit_maxbytes", "memcached_limit_bytes", "gauge", ""),
    ("bytes_read", "memcached_read_bytes_total", "counter", ""),
    (
        "bytes_written",
        "memcached_written_bytes_total",
        "counter",
        "",
    ),
    (
        "get_hits",
        "memcached_commands_total",
        "counter",
        "command=\"get\",status=\"hit\"",
    ),
    (
        "get_misses",
        "memcached_commands_total",
        "counter",
        "command=\"get\",status=\"miss\"",
    ),
    (
        "cmd_set",
        "memcached_commands_total",
        "counter",
        "command=\"set\",status=\"hit\"",
    ),
    (
        "touch_hits",
        "memcached_commands_total",
        "counter",
        "command=\"touch\",status=\"hit\"",
    ),
    (
        "touch_misses",
        "memcached_commands_total",
        "counter",
        "command=\"touch\",status=\"miss\"",
    ),
    (
        "delete_hits",
        "memcached_commands_total",
        "counter",
        "command=\"delete\",status=\"hit\"",
    ),
    (
        "delete_misses",
        "memcached_commands_total",
        "counter",
        "command=\"delete\",status=\"miss\"",
    ),
    (
        "incr_hits",
        "memcached_commands_total",
        "counter",
        "command=\"incr\",status=\"hit\"",
    ),
    (
        "incr_misses",
        "memcached_commands_total",
        "counter",
        "command=\"incr\",status=\"miss\"",
    ),
    (
        "decr_hits",
        "memcached_commands_total",
        "counter",
        "command=\"decr\",status=\"hit\"",
    ),
    (
        "decr_misses",
        "memcached_commands_total",
        "counter",
        "command=\"decr\",status=\"miss\"",
    ),
    (
        "cas_hits",
        "memcached_commands_total",
        "counter",
        "command=\"cas\",status=\"hit\"",
    ),
    (
        "cas_misses",
        "memcached_commands_total",
        "counter",
        "command=\"cas\",status=\"miss\"",
    ),
    (
        "cas_badval",
        "memcached_commands_total",
        "counter",
        "command=\"cas\",status=\"badval\"",
    ),
    (
        "cmd_flush",
        "memcached_commands_total",
        "counter",
        "command=\"flush\",status=\"hit\"",
    ),
];

/// redis_exporter's names for INFO fields: (field, metric, type).
const REDIS_NAMES: &[(&str, &str, &str)] = &[
    ("connected_clients", "redis_connected_clients", "gauge"),
    ("blocked_clients", "redis_blocked_clients", "gauge"),
    ("uptime_in_seconds", "redis_uptime_in_seconds", "gauge"),
    ("used_memory", "redis_memory_used_bytes", "gauge"),
    ("maxmemory", "redis_memory_max_bytes", "gauge"),
    (
        "total_connections_received",
        "redis_connections_received_total",
        "counter",
    ),
    (
        "total_commands_processed",
        "redis_commands_processed_total",
        "counter",
    ),
    ("expired_keys", "redis_expired_keys_total", "counter"),
    ("evicted_keys", "redis_evicted_keys_total", "counter"),
    ("keyspace_hits", "redis_keyspace_hits_total", "counter"),
    ("keyspace_misses", "redis_keyspace_misses_total", "counter"),
    (
        "rejected_connections",
        "redis_rejected_connections_total",
        "counter",
    ),
    (
        "total_error_replies",
        "redis_total_error_replies",
        "counter",
    ),
];

fn memcached_section(o: &mut Out, ctx: &Context) {
    o.sample(
        "memcached_up",
        "gauge",
        "Whether the server answers.",
        "",
        1.0,
    );
    for (k, v) in stat_lines(&ask(ctx, Protocol::Memcache, b"stats\r\n")) {
        let Ok(n) = v.parse::<f64>() else {
            if k == "version" {
                let labels = format!("version=\"{v}\"");
                o.sample("memcached_version", "gauge", "The version.", &labels, 1.0);
            }
            continue;
        };
        match MEMCACHED_NAMES.iter().find(|(s, ..)| *s == k) {
            Some((_, name, kind, labels)) => {
                let help = if labels.is_empty() {
                    format!("memcached stats {k}.")
                } else {
                    "Commands by kind and result (memcached stats, both protocols).".to_string()
                };
                o.sample(name, kind, &help, labels, n)
            }
            None => {
                let name = format!("slabd_memcached_{}", metric_name(&k));
                o.sample(&name, "gauge", &format!("memcached stats {k}."), "", n)
            }
        }
    }
    for (request, prefix) in [
        (&b"stats items\r\n"[..], "memcached_slab_items"),
        (b"stats slabs\r\n", "memcached_slab"),
    ] {
        for (k, v) in stat_lines(&ask(ctx, Protocol::Memcache, request)) {
            let parts: Vec<&str> = k.split(':').collect();
            let (slab, field) = match parts.as_slice() {
                ["items", slab, field] | [slab, field] if slab.parse::<u32>().is_ok() => {
                    (*slab, *field)
                }
                _ => continue,
            };
            let Ok(n) = v.parse::<f64>() else { continue };
            let name = format!("{prefix}_{}", metric_name(field));
            let labels = format!("slab=\"{slab}\"");
            o.sample(
                &name,
                "gauge",
                &format!("memcached stats per class {field}."),
                &labels,
                n,
            );
        }
    }
}

fn redis_section(o: &mut Out, ctx: &Context) {
    let info = ask(
        ctx,
        Protocol::Resp,
        b"*2\r\n$4\r\nINFO\r\n$10\r\neverything\r\n",
    );
    o.sample("redis_up", "gauge", "Whether the server answers.", "", 1.0);
    for line in info.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        if let Some(cmd) = k.strip_prefix("cmdstat_") {
            let field = |f: &str| {
                v.split(',')
                    .find_map(|kv| kv.strip_prefix(f))
                    .and_then(|x| x.strip_prefix('='))
                    .and_then(|x| x.parse::<f64>().ok())
            };
            let labels = format!("cmd=\"{cmd}\"");
            if let Some(calls) = field("calls") {
                o.sample(
                    "redis_commands_total",
                    "counter",
                    "Calls per command.",
                    &labels,
                    calls,
                );
            }
            if let Some(usec) = field("usec") {
                let help = "Time spent per command.";
                let secs = usec / 1e6;
                o.sample(
                    "redis_commands_duration_seconds_total",
                    "counter",
                    help,
                    &labels,
                    secs,
                );
            }
            continue;
        }
        if let Some(db) = k.strip_prefix("db").filter(|d| d.parse::<u32>().is_ok()) {
            for kv in v.split(',') {
                if let Some((f, n)) = kv.split_once('=') {
                    let Ok(n) = n.parse::<f64>() else { continue };
                    let labels = format!("db=\"db{db}\"");
                    let name = match f {
                        "keys" => "redis_db_keys",
                        "expires" => "redis_db_keys_expiring",
                        _ => continue,
                    };
                    o.sample(name, "gauge", "Keys per database.", &labels, n);
                }
            }
            continue;
        }
        let Ok(n) = v.trim().parse::<f64>() else {
            continue;
        };
        match REDIS_NAMES.iter().find(|(f, ..)| *f == k) {
            Some((_, name, kind)) => o.sample(name, kind, &format!("INFO {k}."), "", n),
            None => {
                let name = format!("slabd_redis_{}", metric_name(k));
                o.sample(&name, "gauge", &format!("INFO {k}."), "", n)
            }
        }
    }
    let hub = &ctx.hub;
    let channels = hub
        .pubsub
        .channels(hub, crate::hub::pubsub::Space::Channel, None)
        .len();
    o.sample(
        "redis_pubsub_channels",
        "gauge",
        "Channels with subscribers.",
        "",
        channels as f64,
    );
    o.sample(
        "redis_pubsub_patterns",
        "gauge",
        "Patterns subscribed.",
        "",
        hub.pubsub.numpat(hub) as f64,
    );
}

/// The whole scrape.
pub fn render(ctx: &Context) -> String {
    let mut o = Out {
        text: String::new(),
        declared: BTreeMap::new(),
    };
    memcached_section(&mut o, ctx);
    redis_section(&mut o, ctx);
    commands::resp::write_latency_histograms(ctx, &mut o.text);
    o.text
}
