//! `slabd-load`: the project's load generator for memcached-text and RESP servers.
//!
//! ```text
//!  main ── spawns --threads ──▶ driver::run_thread (one mio::Poll, its share of --conns)
//!                                 │ warm-up (optional): every key set once, pipelined
//!                                 │ barrier
//!                                 ▼ measure: closed loop (--pipeline deep) or open loop (--rate)
//!  main ◀── Tally per thread (latency histogram, counts) ── merged, printed as one human
//!           line and one JSON line
//! ```
//!
//! Only loopback servers are accepted: this is a benchmark tool, not a traffic cannon.

// A binary's root sits beside its module folder, so the submodules are named by path.
#[path = "slabd-load/driver.rs"]
mod driver;
#[path = "slabd-load/histogram.rs"]
mod histogram;
#[path = "slabd-load/keyspace.rs"]
mod keyspace;
#[path = "slabd-load/link.rs"]
mod link;
#[path = "slabd-load/output.rs"]
mod output;
#[path = "slabd-load/wire.rs"]
mod wire;

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Barrier;
use std::time::Duration;

use clap::Parser;

use driver::{LoadError, Stop, Tally, Workload, MAX_MULTIGET};
use keyspace::Keyspace;
use wire::Protocol;

#[derive(Parser, Debug)]
#[command(
    name = "slabd-load",
    about = "Load generator for memcached-text and RESP servers"
)]
struct Args {
    /// Server address (loopback only).
    #[arg(long, default_value = "127.0.0.1:11211")]
    server: SocketAddr,
    #[arg(long, value_enum, default_value = "memcache")]
    protocol: Protocol,
    /// Connections in total.
    #[arg(long, default_value_t = 50)]
    conns: usize,
    /// Threads sharing the connections (each runs one event loop).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Number of distinct keys.
    #[arg(long, default_value_t = 100_000)]
    keys: u32,
    /// Key length in bytes (`k` and a zero-padded key number).
    #[arg(long, default_value_t = 32)]
    key_size: usize,
    /// Value size in bytes, or a range MIN-MAX (sizes spread log-uniformly, fixed per key).
    #[arg(long, default_value = "100")]
    value_size: String,
    /// Fraction of requests that are gets (the rest are sets).
    #[arg(long, default_value_t = 0.9)]
    get_ratio: f64,
    /// Keys per get (more than one sends a multi-get: `get k1 k2…` or `MGET`).
    #[arg(long, default_value_t = 1)]
    multiget: usize,
    /// Requests in flight per connection in closed loop.
    #[arg(long, default_value_t = 1)]
    pipeline: usize,
    /// Draw keys from Zipf(S) (rank 0 hottest) instead of uniformly.
    #[arg(long, value_name = "S")]
    zipf: Option<f64>,
    /// Seconds to measure for.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests instead of after --duration (0: warm-up only).
    #[arg(long)]
    requests: Option<u64>,
    /// Open loop: requests per second over all connections, sent on a fixed schedule.
    #[arg(long)]
    rate: Option<f64>,
    /// On a get miss, set the key (the cache-aside pattern; for hit-ratio runs).
    #[arg(long)]
    cache_aside: bool,
    /// Set every key once before measuring.
    #[arg(long)]
    warm: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Speak TLS (memcached's -Z, Redis's tls-port); the server certificate is not checked.
    #[arg(long)]
    tls: bool,
    /// A name echoed in the output, for scripts.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Debug)]
enum ArgError {
    NotLoopback(SocketAddr),
    Range(&'static str),
    ValueSize(String),
    Keyspace(keyspace::KeyspaceError),
}

impl std::fmt::Display for ArgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArgError::NotLoopback(a) => write!(f, "--server {a}: only loopback addresses"),
            ArgError::Range(what) => write!(f, "{what}"),
            ArgError::ValueSize(s) => write!(f, "--value-size {s:?}: expected N or MIN-MAX"),
            ArgError::Keyspace(e) => write!(f, "{e}"),
        }
    }
}

fn parse_value_size(s: &str) -> Result<(usize, usize), ArgError> {
    let bad = || ArgError::ValueSize(s.to_string());
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
        None => {
            let n = s.parse().map_err(|_| bad())?;
            (n, n)
        }
    };
    if lo == 0 || lo > hi || hi > 64 << 20 {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn workload(a: &Args) -> Result<Workload, ArgError> {
    if !a.server.ip().is_loopback() {
        return Err(ArgError::NotLoopback(a.server));
    }
    if a.conns == 0 || a.conns > 10_000 {
        return Err(ArgError::Range("--conns must be 1..=10000"));
    }
    if a.threads == 0 || a.threads > a.conns {
        return Err(ArgError::Range("--threads must be 1..=conns"));
    }
    if !(0.0..=1.0).contains(&a.get_ratio) {
        return Err(ArgError::Range("--get-ratio must be within 0..=1"));
    }
    if a.multiget == 0 || a.multiget > MAX_MULTIGET {
        return Err(ArgError::Range("--multiget must be 1..=100"));
    }
    if a.pipeline == 0 || a.pipeline > 1024 {
        return Err(ArgError::Range("--pipeline must be 1..=1024"));
    }
    if !(a.duration > 0.0 && a.duration <= 3600.0) {
        return Err(ArgError::Range("--duration must be within (0, 3600]"));
    }
    if a.rate.is_some_and(|r| !(r > 0.0 && r <= 1e8)) {
        return Err(ArgError::Range("--rate must be within (0, 1e8]"));
    }
    if a.zipf.is_some_and(|s| !(s > 0.0 && s <= 10.0)) {
        return Err(ArgError::Range("--zipf must be within (0, 10]"));
    }
    let (vmin, vmax) = parse_value_size(&a.value_size)?;
    let keyspace =
        Keyspace::new(a.keys, a.key_size, a.zipf, vmin, vmax).map_err(ArgError::Keyspace)?;
    let stop = match a.requests {
        Some(n) => Stop::Requests(n),
        None => Stop::After(Duration::from_secs_f64(a.duration)),
    };
    Ok(Workload {
        addr: a.server,
        proto: a.protocol,
        value: vec![b'v'; keyspace.max_value_size()],
        keyspace,
        get_ratio: a.get_ratio,
        multiget: a.multiget,
        pipeline: a.pipeline,
        cache_aside: a.cache_aside,
        rate: a.rate,
        stop,
        max_time: Duration::from_secs_f64(a.duration.max(300.0)),
        conns: a.conns,
        warm: a.warm,
        seed: a.seed,
        tls: a.tls.then(link::tls_config),
    })
}

fn run(w: &Workload, threads: usize) -> Result<Tally, LoadError> {
    let barrier = Barrier::new(threads);
    let results: Vec<Result<Tally, LoadError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let first = w.conns * t / threads;
                let count = w.conns * (t + 1) / threads - first;
                let barrier = &barrier;
                s.spawn(move || driver::run_thread(w, first, count, barrier))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("load thread panicked"))
            .collect()
    });
    let mut total = Tally::default();
    for r in results {
        total.merge(&r?);
    }
    Ok(total)
}

fn micros(nanos: u64) -> f64 {
    nanos as f64 / 1000.0
}

fn report(a: &Args, w: &Workload, t: &Tally) {
    let secs = t.elapsed.as_secs_f64().max(1e-9);
    let ops = t.completed as f64 / secs;
    let keys_per_get = w.multiget as f64;
    let keys =
        (t.completed as f64 - t.sets as f64).max(0.0) * keys_per_get / secs + t.sets as f64 / secs;
    let lookups = t.hits + t.misses;
    let hit_ratio = if lookups == 0 {
        0.0
    } else {
        t.hits as f64 / lookups as f64
    };
    let (p50, p99, p999, max) = (
        micros(t.latency.quantile(0.5)),
        micros(t.latency.quantile(0.99)),
        micros(t.latency.quantile(0.999)),
        micros(t.latency.max()),
    );
    let lag99 = micros(t.send_lag.quantile(0.99));
    let mode = match w.rate {
        Some(r) => format!("open loop at {r:.0}/s (send lag p99 {lag99:.0} us)"),
        None => format!("closed loop, pipeline {}", w.pipeline),
    };
    let proto = match w.proto {
        Protocol::Memcache => "memcache",
        Protocol::Resp => "resp",
    };
    let human = format!(
        "{proto} {} {} conns, {mode}: {ops:.0} req/s ({keys:.0} keys/s), \
         p50 {p50:.1} us, p99 {p99:.1} us, p99.9 {p999:.1} us, max {max:.0} us, \
         hit ratio {hit_ratio:.4}, errors {}, unfinished {}",
        w.addr, w.conns, t.errors, t.unfinished
    );
    let json = format!(
        "{{\"label\":\"{}\",\"protocol\":\"{proto}\",\"server\":\"{}\",\"conns\":{},\
         \"pipeline\":{},\"multiget\":{},\"rate\":{},\"elapsed_s\":{secs:.3},\
         \"completed\":{},\"samples\":{},\"ops_per_sec\":{ops:.1},\"keys_per_sec\":{keys:.1},\
         \"p50_us\":{p50:.2},\"p99_us\":{p99:.2},\"p999_us\":{p999:.2},\"max_us\":{max:.2},\
         \"gets\":{},\"sets\":{},\"hits\":{},\"misses\":{},\"hit_ratio\":{hit_ratio:.5},\
         \"send_lag_p99_us\":{lag99:.2},\"errors\":{},\"warm_errors\":{},\"unfinished\":{},\"missed_slots\":{}}}",
        a.label.escape_default(),
        w.addr,
        w.conns,
        w.pipeline,
        w.multiget,
        w.rate.map_or("null".to_string(), |r| format!("{r:.1}")),
        t.completed,
        t.latency.count(),
        t.gets,
        t.sets,
        t.hits,
        t.misses,
        t.errors,
        t.warm_errors,
        t.unfinished,
        t.missed_slots,
    );
    // A reader that stopped listening (`| head -1`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout().lock(), "{human}\n{json}");
}

fn main() -> ExitCode {
    let args = Args::parse();
    let w = match workload(&args) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("slabd-load: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&w, args.threads) {
        Ok(t) => {
            report(&args, &w, &t);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("slabd-load: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_sizes_parse() {
        assert_eq!(parse_value_size("100").unwrap(), (100, 100));
        assert_eq!(parse_value_size("32-16384").unwrap(), (32, 16384));
        assert!(parse_value_size("0").is_err());
        assert!(parse_value_size("9-3").is_err());
        assert!(parse_value_size("x").is_err());
    }

    #[test]
    fn only_loopback_servers() {
        let a = Args::parse_from(["slabd-load", "--server", "10.0.0.1:11211"]);
        assert!(matches!(workload(&a), Err(ArgError::NotLoopback(_))));
        let a = Args::parse_from(["slabd-load", "--server", "127.0.0.1:1"]);
        assert!(workload(&a).is_ok());
    }
}
