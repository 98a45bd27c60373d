//! Parsed flags and `-o` options laid over [`Settings`], and the checks between them.

use std::path::PathBuf;

use clap::ArgMatches;

use super::{auth::authentication, BindingProtocol, ConfigError, Settings};
use super::{ITEM_SIZE_LIMIT, ITEM_SIZE_MIN, SLAB_PAGE_SIZE};

/// memcached `-o` options that tune parts of memcached slabd does not have (its LRU
/// segments, hash function, log buffers). Accepted so existing configs start unchanged.
const COMPAT_SUBOPTIONS: &[&str] = &[
    "modern",
    "no_hashexpand",
    "hash_algorithm",
    "tail_repair_time",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "lru_segmented",
    "no_lru_segmented",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "slab_automove_ratio",
    "slab_automove_window",
    "slab_automove_freeratio",
    "no_chunked_items",
    "inline_ascii_resp",
    "no_inline_ascii_resp",
    // memcached's test harness passes it; slabd never drops privileges it was not asked to.
    "relaxed_privileges",
];

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| ConfigError::new(flag, format!("invalid number '{v}'")))
}

/// A byte count with an optional k, m or g suffix (powers of 1024).
fn size(flag: &str, v: &str) -> Result<usize, ConfigError> {
    let bad = || ConfigError::new(flag, format!("invalid size '{v}'"));
    let t = v.trim();
    let (digits, shift) = match t.as_bytes().last().map(u8::to_ascii_lowercase) {
        Some(b'k') => (&t[..t.len() - 1], 10),
        Some(b'm') => (&t[..t.len() - 1], 20),
        Some(b'g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: usize = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift).ok_or_else(bad)
}

/// Lays the flags present in `m` over `s`.
pub(super) fn apply(
    s: &mut Settings,
    m: &ArgMatches,
    chunk_max_given: &mut bool,
) -> Result<(), ConfigError> {
    let get = |id: &str| m.get_one::<String>(id).map(String::as_str);
    // memcached: -1 asks for a free port (slabd's 0 does too, see the module comment).
    let port = |flag: &str, v: &str| -> Result<u16, ConfigError> {
        let p: i64 = number(flag, v)?;
        if p == -1 {
            return Ok(0);
        }
        u16::try_from(p).map_err(|_| ConfigError::new(flag, format!("Invalid port number {p}")))
    };
    if let Some(v) = get("port") {
        s.port = port("-p", v)?;
        // memcached: `-p 0` is no TCP port at all (-1 is the free one).
        s.tcp_enabled = number::<i64>("-p", v)? != 0;
    }
    if let Some(v) = get("udp-port") {
        s.udp_enabled = number::<i64>("-U", v)? != 0;
        s.udp_port = port("-U", v)?;
        // memcached: a UDP port without -p is the TCP port too (-U -1: both free ports).
        if s.udp_enabled && get("port").is_none() {
            s.port = s.udp_port;
        }
    }
    if let Some(v) = get("unix-socket") {
        s.unix_socket = Some(PathBuf::from(v));
    }
    if let Some(v) = get("unix-mask") {
        s.unix_mask = u32::from_str_radix(v.trim(), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| ConfigError::new("-a", format!("invalid octal mask '{v}'")))?;
    }
    if let Some(list) = m.get_many::<String>("listen") {
        s.listen = list
            .flat_map(|v| v.split(','))
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if s.listen.is_empty() {
            return Err(ConfigError::new("-l", "no address given"));
        }
    }
    if let Some(v) = get("user") {
        s.user = Some(v.to_string());
    }
    if let Some(v) = get("memory-limit") {
        // Plain numbers are megabytes as in memcached; a suffix gives a byte size.
        let bytes = if v.trim().bytes().all(|b| b.is_ascii_digit()) {
            number::<usize>("-m", v)?.checked_mul(1 << 20)
        } else {
            Some(size("-m", v)?)
        };
        s.memory_limit = bytes
            .filter(|b| *b > 0)
            .ok_or_else(|| ConfigError::new("-m", "memory limit must be greater than 0"))?;
    }
    if let Some(v) = get("conn-limit") {
        s.maxconns = number("-c", v)?;
        if s.maxconns == 0 {
            return Err(ConfigError::new(
                "-c",
                "Maximum connections must be greater than 0",
            ));
        }
    }
    if let Some(v) = get("threads") {
        s.threads = number("-t", v)?;
        if s.threads == 0 {
            return Err(ConfigError::new(
                "-t",
                "Number of threads must be greater than 0",
            ));
        }
    }
    if let Some(v) = get("max-reqs-per-event") {
        s.reqs_per_event = number("-R", v)?;
        if s.reqs_per_event == 0 {
            return Err(ConfigError::new(
                "-R",
                "Number of requests per event must be greater than 0",
            ));
        }
    }
    if let Some(v) = get("listen-backlog") {
        s.backlog = number("-b", v)?;
        if s.backlog < 0 {
            return Err(ConfigError::new("-b", "backlog must not be negative"));
        }
    }
    if let Some(v) = get("slab-growth-factor") {
        s.growth_factor = number("-f", v)?;
        if !(s.growth_factor > 1.0 && s.growth_factor.is_finite()) {
            return Err(ConfigError::new("-f", "Factor must be greater than 1"));
        }
    }
    if let Some(v) = get("slab-min-size") {
        s.chunk_size = number("-n", v)?;
        if s.chunk_size == 0 {
            return Err(ConfigError::new("-n", "Chunk size must be greater than 0"));
        }
    }
    if let Some(v) = get("max-item-size") {
        s.item_size_max = size("-I", v)?;
    }
    if let Some(v) = get("binding-protocol") {
        s.binding_protocol = match v {
            "auto" => BindingProtocol::Auto,
            "ascii" => BindingProtocol::Ascii,
            "binary" => BindingProtocol::Binary,
            _ => {
                return Err(ConfigError::new(
                    "-B",
                    format!(
                        "Invalid value for binding protocol: {v} -- should be one of auto, binary, or ascii"
                    ),
                ))
            }
        };
    }
    if get("binding-protocol").is_some() {
        s.binding_explicit = true;
    }
    s.sasl |= m.get_flag("enable-sasl");
    if let Some(v) = get("auth-file") {
        s.auth_file = Some(PathBuf::from(v));
    }
    if let Some(v) = get("pidfile") {
        s.pid_file = Some(PathBuf::from(v));
    }
    let verbose = m.get_count("verbose");
    if verbose > 0 {
        s.verbose = verbose;
    }
    s.daemonize |= m.get_flag("daemon");
    s.no_evict |= m.get_flag("disable-evictions");
    eviction_policy(s, m)?;
    s.refuse_root |= m.get_flag("refuse-root");
    s.tls.enabled |= m.get_flag("enable-ssl");
    s.no_cas |= m.get_flag("disable-cas");
    s.shutdown_enabled |= m.get_flag("enable-shutdown");
    s.flush_enabled &= !m.get_flag("disable-flush-all");
    s.watch_enabled &= !m.get_flag("disable-watch");
    if let Some(list) = m.get_many::<String>("extended") {
        for opts in list {
            for opt in opts.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                suboption(s, opt, chunk_max_given)?;
            }
        }
    }
    if let Some(v) = get("resp-port") {
        s.resp_port = number("--resp-port", v)?;
        s.resp_enabled = true;
    }
    if let Some(v) = get("proto-max-bulk-len") {
        s.proto_max_bulk_len = size("--proto-max-bulk-len", v)?;
    }
    if let Some(v) = get("requirepass") {
        s.requirepass = Some(v.as_bytes().to_vec());
    }
    if let Some(v) = get("databases") {
        let n: u32 = number("--databases", v)?;
        s.databases = u8::try_from(n)
            .ok()
            .filter(|n| (1..=16).contains(n))
            .ok_or_else(|| ConfigError::new("--databases", "databases must be between 1 and 16"))?;
    }
    Ok(())
}

/// `--maxmemory-policy` (a config file's `maxmemory-policy` line): `noeviction` is `-M`;
/// the evicting policies slabd follows are kept for [`crate::commands::Context`]; the rest
/// are refused as CONFIG SET refuses them. Later flags override a config file's, so an
/// evicting policy undoes the file's `-M` and `-M` the file's policy; naming both at once
/// is an error.
fn eviction_policy(s: &mut Settings, m: &ArgMatches) -> Result<(), ConfigError> {
    let no_evict = m.get_flag("disable-evictions");
    if no_evict {
        s.maxmemory_policy = None;
    }
    let Some(v) = m.get_one::<String>("maxmemory-policy") else {
        return Ok(());
    };
    let flag = "--maxmemory-policy";
    match v.to_ascii_lowercase().as_str() {
        "noeviction" => {
            s.no_evict = true;
            s.maxmemory_policy = None;
        }
        _ if no_evict => {
            return Err(ConfigError::new(
                flag,
                format!("{v} evicts, but -M (noeviction) is given too"),
            ))
        }
        p @ ("allkeys-lru" | "allkeys-lfu" | "allkeys-random") => {
            s.no_evict = false;
            s.maxmemory_policy = Some(p.to_string());
        }
        p if p.starts_with("volatile-") => {
            return Err(ConfigError::new(
                flag,
                format!("slabd evicts any key, not only those with an expiry: {p} has no equivalent (use allkeys-lru, allkeys-lfu or allkeys-random)"),
            ))
        }
        _ => {
            return Err(ConfigError::new(
                flag,
                "must be one of allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
            ))
        }
    }
    Ok(())
}

/// One `-o` option: `name`, `name=value` or `no_name`.
fn suboption(s: &mut Settings, opt: &str, chunk_max_given: &mut bool) -> Result<(), ConfigError> {
    let (name, value) = match opt.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (opt, None),
    };
    let numeric = || -> Result<&str, ConfigError> {
        value.ok_or_else(|| ConfigError::new("-o", format!("Missing numeric argument for {name}")))
    };
    match name {
        "slab_reassign" => s.slab_reassign = true,
        "no_slab_reassign" => s.slab_reassign = false,
        "slab_automove" => {
            // memcached: a bare `slab_automove` means 1.
            let n: i64 = match value {
                Some(v) => number("-o slab_automove", v)?,
                None => 1,
            };
            s.slab_automove = u8::try_from(n)
                .ok()
                .filter(|n| *n <= 2)
                .ok_or_else(|| ConfigError::new("-o", "slab_automove must be between 0 and 2"))?;
        }
        "no_slab_automove" => s.slab_automove = 0,
        // memcached 1.6's pre-1.5 defaults: no page mover, crawler or LRU maintainer
        // (slabd keeps its own chunk sizes and hash).
        "no_modern" => {
            s.slab_reassign = false;
            s.slab_automove = 0;
            s.lru_crawler = false;
            s.lru_maintainer = false;
        }
        "lru_crawler" => s.lru_crawler = true,
        "no_lru_crawler" => s.lru_crawler = false,
        "lru_maintainer" => s.lru_maintainer = true,
        "no_lru_maintainer" => s.lru_maintainer = false,
        "idle_timeout" => s.idle_timeout = number("-o idle_timeout", numeric()?)?,
        "track_sizes" => s.track_sizes = true,
        "null_server" => s.null_server = true,
        "worker_gather" => {
            use crate::server::gather::Mode;
            s.worker_gather = match value {
                None | Some("1") => Mode::Gather,
                Some("0") => Mode::Off,
                Some(_) => {
                    return Err(ConfigError::new("-o", "worker_gather must be 0 or 1"));
                }
            };
        }
        "worker_trial" => {
            s.worker_trial = match value {
                None | Some("1") => true,
                Some("0") => false,
                Some(_) => return Err(ConfigError::new("-o", "worker_trial must be 0 or 1")),
            };
        }
        "no_worker_trial" => s.worker_trial = false,
        "no_worker_gather" => s.worker_gather = crate::server::gather::Mode::Off,
        "worker_shuffle" => s.worker_gather = crate::server::gather::Mode::Shuffle,
        "worker_spread" => s.worker_gather = crate::server::gather::Mode::Spread,
        "temporary_ttl" => {
            let v =
                value.ok_or_else(|| ConfigError::new("-o", "Missing temporary_ttl argument"))?;
            s.temporary_ttl = Some(number("-o temporary_ttl", v)?);
        }
        "watcher_logbuf_size" | "worker_logbuf_size" => {
            let missing = format!("Missing {name} argument");
            let v = value.ok_or_else(|| ConfigError::new("-o", missing))?;
            let kb: u32 = v.trim().parse().map_err(|_| {
                ConfigError::new("-o", format!("could not parse argument to {name}"))
            })?;
            let bytes = (kb as usize) << 10;
            if name == "watcher_logbuf_size" {
                s.watcher_logbuf_size = bytes;
            } else {
                s.worker_logbuf_size = bytes;
            }
        }
        "read_buf_mem_limit" => {
            let v = value
                .ok_or_else(|| ConfigError::new("-o", "Missing read_buf_mem_limit argument"))?;
            let mb: u32 = v.trim().parse().map_err(|_| {
                ConfigError::new("-o", "could not parse argument to read_buf_mem_limit")
            })?;
            s.read_buf_mem_limit = (mb as usize) << 20;
        }
        "hashpower" => {
            let n: i64 = number("-o hashpower", numeric()?)?;
            if n < 12 {
                return Err(ConfigError::new(
                    "-o",
                    format!("Initial hashtable multiplier of {n} is too low"),
                ));
            }
            if n > 32 {
                return Err(ConfigError::new(
                    "-o",
                    format!("Initial hashtable multiplier of {n} is too high"),
                ));
            }
            s.hashpower = n as u8;
        }
        "slab_chunk_max" => {
            // memcached 1.6.24 and later (1b3b855): kilobytes, 1 to 1024; earlier 1.6
            // releases documented kilobytes but read bytes.
            let v =
                value.ok_or_else(|| ConfigError::new("-o", "Missing slab_chunk_max argument"))?;
            let kb: i64 = v.trim().parse().map_err(|_| {
                ConfigError::new("-o", "could not parse argument to slab_chunk_max")
            })?;
            if kb <= 0 {
                return Err(ConfigError::new("-o", "slab_chunk_max must be >= 0"));
            }
            if kb > 1024 {
                let msg = "slab_chunk_max must be specified in kilobytes.";
                return Err(ConfigError::new("-o", msg));
            }
            s.slab_chunk_max = (kb as usize) << 10;
            *chunk_max_given = true;
        }
        "maxconns_fast" => s.maxconns_fast = true,
        "no_maxconns_fast" => s.maxconns_fast = false,
        "ssl_chain_cert" => s.tls.chain_cert = value.map(str::to_string),
        "ssl_key" => s.tls.key = value.map(str::to_string),
        "ssl_ca_cert" => s.tls.ca_cert = value.map(str::to_string),
        "ssl_verify_mode" => {
            s.tls.verify_mode = number::<u8>("-o ssl_verify_mode", numeric()?)?;
            if s.tls.verify_mode > 3 {
                return Err(ConfigError::new("-o", "ssl_verify_mode must be 0..3"));
            }
        }
        "ssl_min_version" => s.tls.min_version = value.map(str::to_string),
        "ssl_ciphers" => s.tls.ciphers = value.map(str::to_string),
        "ssl_keyformat" | "ssl_wbuf_size" | "ssl_session_cache" | "ssl_kernel_tls" => {
            s.ignored_options.push(opt.to_string())
        }
        _ if COMPAT_SUBOPTIONS.contains(&name) => s.ignored_options.push(opt.to_string()),
        _ => {
            return Err(ConfigError::new(
                "-o",
                format!("Illegal suboption \"{opt}\""),
            ))
        }
    }
    Ok(())
}

/// Checks that hold between flags, after the file and the command line are both read.
pub(super) fn validate(s: &mut Settings, chunk_max_given: bool) -> Result<(), ConfigError> {
    authentication(s)?;
    if s.tls.enabled && !s.tcp_enabled {
        let msg = "ERROR: You cannot enable SSL without a TCP port.";
        return Err(ConfigError::new("-Z", msg));
    }
    let i = s.item_size_max;
    if i < ITEM_SIZE_MIN {
        return Err(ConfigError::new(
            "-I",
            "Item max size cannot be less than 1024 bytes.",
        ));
    }
    if i > ITEM_SIZE_LIMIT {
        return Err(ConfigError::new(
            "-I",
            "Cannot set item size limit higher than a gigabyte.",
        ));
    }
    if i > s.memory_limit / 2 {
        return Err(ConfigError::new(
            "-I",
            "Cannot set item size limit higher than 1/2 of memory max.",
        ));
    }
    if !chunk_max_given {
        // memcached refuses a small -I against the default 512k chunk; the only sensible
        // value then is one chunk per item.
        s.slab_chunk_max = s.slab_chunk_max.min(i);
        return Ok(());
    }
    let c = s.slab_chunk_max;
    if c > i {
        return Err(ConfigError::new(
            "-o",
            format!("slab_chunk_max (bytes: {c}) cannot be larger than -I (item_size_max {i})"),
        ));
    }
    if i % c != 0 {
        return Err(ConfigError::new(
            "-I",
            format!(
                "-I (item_size_max: {i}) must be evenly divisible by slab_chunk_max (bytes: {c})"
            ),
        ));
    }
    if SLAB_PAGE_SIZE % c != 0 {
        return Err(ConfigError::new(
            "-o",
            format!("slab_chunk_max (bytes: {c}) must divide evenly into {SLAB_PAGE_SIZE} (slab_page_size)"),
        ));
    }
    Ok(())
}
