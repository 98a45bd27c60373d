//! Server commands: COMMAND, CONFIG, INFO, DBSIZE, FLUSHDB, FLUSHALL, TIME.

use std::io::Write as _;
use std::sync::atomic::Ordering;

use super::{commandstats, glob, lookup, unix_millis, Call, Spec, COMMANDS, REDIS_VERSION};
use crate::protocol::resp::{parse_i64, Args, Writer};
use crate::stats;

pub(super) fn dbsize(call: &mut Call<'_>, _args: Args<'_>) {
    let n = call.ctx.store.db_len(call.conn.db);
    call.w.integer(n as i64);
}

/// `[ASYNC|SYNC]`: the store invalidates in O(1) either way.
fn flush_mode_ok(call: &mut Call<'_>, args: Args<'_>) -> bool {
    let ok = match args.len() {
        1 => true,
        2 => {
            let m = args.get(1);
            m.eq_ignore_ascii_case(b"ASYNC") || m.eq_ignore_ascii_case(b"SYNC")
        }
        _ => false,
    };
    if !ok {
        call.syntax_error();
    }
    ok
}

pub(super) fn flushdb(call: &mut Call<'_>, args: Args<'_>) {
    if flush_mode_ok(call, args) {
        stats::bump(&call.stats.cmd_flush);
        call.ctx.store.flush_eager(Some(call.conn.db));
        call.w.ok();
    }
}

pub(super) fn flushall(call: &mut Call<'_>, args: Args<'_>) {
    if flush_mode_ok(call, args) {
        stats::bump(&call.stats.cmd_flush);
        call.ctx.store.flush_eager(None);
        call.w.ok();
    }
}

pub(super) fn time(call: &mut Call<'_>, _args: Args<'_>) {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    call.w.array(2);
    call.w.bulk_integer((micros / 1_000_000) as i64);
    call.w.bulk_integer((micros % 1_000_000) as i64);
}

// ---------------------------------------------------------------------------------------
// COMMAND

/// One `COMMAND INFO` entry: name, arity, flags, first/last key, step, ACL categories,
/// tips, key specs, subcommands (the last three empty).
fn command_info(w: &mut Writer<'_>, spec: &Spec) {
    w.array(10);
    w.bulk(spec.name.as_bytes());
    w.integer(i64::from(spec.arity));
    w.set(spec.flags.len());
    for f in spec.flags {
        w.simple(f.as_bytes());
    }
    w.integer(i64::from(spec.first_key));
    w.integer(i64::from(spec.last_key));
    w.integer(i64::from(spec.key_step));
    // ACL categories, in Redis's category order (the rank is the category's bit).
    let access: Option<(u8, &[u8])> = if spec.flags.contains(&"write") {
        Some((2, b"@write"))
    } else if spec.flags.contains(&"readonly") {
        Some((1, b"@read"))
    } else {
        None
    };
    let speed: (u8, &[u8]) = if spec.flags.contains(&"fast") {
        (14, b"@fast")
    } else {
        (15, b"@slow")
    };
    let group: (u8, &[u8]) = match spec.group {
        "string" => (7, b"@string"),
        "generic" => (0, b"@keyspace"),
        "connection" => (18, b"@connection"),
        "transactions" => (19, b"@transaction"),
        _ => (13, b"@admin"),
    };
    let mut categories = [access, Some(speed), Some(group)];
    categories.sort_by_key(|c| c.map(|(rank, _)| rank));
    w.set(categories.iter().flatten().count());
    for (_, name) in categories.iter().flatten() {
        w.simple(name);
    }
    w.array(0);
    w.array(0);
    w.array(0);
}

fn command_docs(w: &mut Writer<'_>, spec: &Spec) {
    w.bulk(spec.name.as_bytes());
    w.map(3);
    w.bulk(b"summary");
    w.bulk(spec.summary.as_bytes());
    w.bulk(b"since");
    w.bulk(spec.since.as_bytes());
    w.bulk(b"group");
    w.bulk(spec.group.as_bytes());
}

pub(super) fn command(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() == 1 {
        call.w.array(COMMANDS.len());
        for spec in COMMANDS {
            command_info(&mut call.w, spec);
        }
        return;
    }
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"COUNT") {
        if args.len() != 2 {
            return call.wrong_arity("command|count");
        }
        call.w.integer(COMMANDS.len() as i64);
    } else if sub.eq_ignore_ascii_case(b"INFO") {
        if args.len() == 2 {
            call.w.array(COMMANDS.len());
            for spec in COMMANDS {
                command_info(&mut call.w, spec);
            }
            return;
        }
        call.w.array(args.len() - 2);
        for name in args.iter_from(2) {
            match lookup(name) {
                Some(spec) => command_info(&mut call.w, spec),
                None => call.w.null(),
            }
        }
    } else if sub.eq_ignore_ascii_case(b"DOCS") {
        if args.len() == 2 {
            call.w.map(COMMANDS.len());
            for spec in COMMANDS {
                command_docs(&mut call.w, spec);
            }
            return;
        }
        let found = args.iter_from(2).filter(|n| lookup(n).is_some()).count();
        call.w.map(found);
        for name in args.iter_from(2) {
            if let Some(spec) = lookup(name) {
                command_docs(&mut call.w, spec);
            }
        }
    } else if sub.eq_ignore_ascii_case(b"LIST") {
        call.w.array(COMMANDS.len());
        for spec in COMMANDS {
            call.w.bulk(spec.name.as_bytes());
        }
    } else {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    }
}

// ---------------------------------------------------------------------------------------
// CONFIG

/// Parameters CONFIG GET reports, in Redis's names.
const CONFIG_PARAMS: &[&str] = &[
    "maxmemory",
    "maxmemory-policy",
    "maxclients",
    "requirepass",
    "databases",
    "port",
    "bind",
    "timeout",
    "proto-max-bulk-len",
    "save",
    "appendonly",
];

fn config_value(call: &Call<'_>, name: &str) -> Vec<u8> {
    let s = &call.ctx.settings;
    match name {
        "maxmemory" => call
            .ctx
            .store
            .stats()
            .limit_maxbytes
            .to_string()
            .into_bytes(),
        "maxmemory-policy" => {
            let p = if s.no_evict {
                "noeviction"
            } else {
                "allkeys-lru"
            };
            p.as_bytes().to_vec()
        }
        "maxclients" => call
            .ctx
            .maxconns
            .load(Ordering::Relaxed)
            .to_string()
            .into_bytes(),
        "requirepass" => call.ctx.requirepass.read().clone().unwrap_or_default(),
        "databases" => s.databases.to_string().into_bytes(),
        "port" => s.resp_port.to_string().into_bytes(),
        "bind" => s.listen.join(" ").into_bytes(),
        "timeout" => s.idle_timeout.to_string().into_bytes(),
        "proto-max-bulk-len" => s.proto_max_bulk_len.to_string().into_bytes(),
        "appendonly" => b"no".to_vec(),
        _ => Vec::new(),
    }
}

/// Redis's `memtoull`: a byte count with an optional unit (k, kb, m, mb, g, gb; k = 1000,
/// kb = 1024).
fn parse_memory(s: &[u8]) -> Option<u64> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let n: u64 = std::str::from_utf8(&s[..digits]).ok()?.parse().ok()?;
    let unit = s[digits..].to_ascii_lowercase();
    let mul: u64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mul)
}

/// A change CONFIG SET will apply once every pair has been checked.
enum ConfigChange {
    MaxMemory(u64),
    MaxClients(u64),
    RequirePass(Vec<u8>),
}

fn config_set_failed(call: &mut Call<'_>, name: &str, why: &str) {
    call.w.error_fmt(format_args!(
        "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
    ));
}

fn config_set(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() < 4 || args.len() % 2 == 1 {
        return call.wrong_arity("config|set");
    }
    // Names first, as Redis: the first unknown, immutable or repeated name is the error
    // (named as the client spelled it), before any value is looked at.
    let mut names = Vec::with_capacity(args.len() / 2);
    for i in (2..args.len()).step_by(2) {
        let raw = args.get(i);
        let spelled = String::from_utf8_lossy(raw);
        let name = spelled.to_ascii_lowercase();
        let settable = matches!(name.as_str(), "maxmemory" | "maxclients" | "requirepass");
        if !settable && !CONFIG_PARAMS.contains(&name.as_str()) {
            return call.w.error_fmt(format_args!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{spelled}'"
            ));
        }
        if !settable {
            return config_set_failed(call, &spelled, "can't set immutable config");
        }
        if names.contains(&name) {
            return config_set_failed(call, &spelled, "duplicate parameter");
        }
        names.push(name);
    }
    let mut changes = Vec::with_capacity(names.len());
    for (name, i) in names.iter().zip((2..args.len()).step_by(2)) {
        let value = args.get(i + 1);
        match name.as_str() {
            "maxmemory" => match parse_memory(value) {
                Some(0) => {
                    return config_set_failed(
                        call,
                        name,
                        "slabd needs a memory limit (0, unlimited, is not supported)",
                    )
                }
                Some(n) => changes.push(ConfigChange::MaxMemory(n)),
                None => return config_set_failed(call, name, "argument must be a memory value"),
            },
            "maxclients" => match parse_i64(value) {
                Some(n @ 1..=4_294_967_295) => changes.push(ConfigChange::MaxClients(n as u64)),
                _ => {
                    return config_set_failed(
                        call,
                        name,
                        "argument must be between 1 and 4294967295 inclusive",
                    )
                }
            },
            _ => changes.push(ConfigChange::RequirePass(value.to_vec())),
        }
    }
    for change in changes {
        match change {
            ConfigChange::MaxMemory(n) => {
                let bytes = usize::try_from(n).unwrap_or(usize::MAX);
                if let Err(e) = call.ctx.store.set_memory_limit(bytes) {
                    return config_set_failed(call, "maxmemory", &e.0);
                }
            }
            ConfigChange::MaxClients(n) => call
                .ctx
                .maxconns
                .store(usize::try_from(n).unwrap_or(usize::MAX), Ordering::Relaxed),
            ConfigChange::RequirePass(p) => {
                *call.ctx.requirepass.write() = (!p.is_empty()).then_some(p);
            }
        }
    }
    call.w.ok();
}

fn config_get(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() < 3 {
        return call.wrong_arity("config|get");
    }
    // (name as replied, parameter), in table order. A pattern without glob characters names
    // one parameter and Redis echoes it as the client spelled it.
    let mut matching: Vec<(&[u8], &str)> = Vec::new();
    for &p in CONFIG_PARAMS {
        let hit = args
            .iter_from(2)
            .find(|pat| glob::matches(pat, p.as_bytes(), true));
        if let Some(pat) = hit {
            let is_glob = pat.iter().any(|c| matches!(c, b'*' | b'?' | b'['));
            matching.push((if is_glob { p.as_bytes() } else { pat }, p));
        }
    }
    call.w.map(matching.len());
    for (shown, name) in matching {
        let value = config_value(call, name);
        call.w.bulk(shown);
        call.w.bulk(&value);
    }
}

pub(super) fn config(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"GET") {
        config_get(call, args);
    } else if sub.eq_ignore_ascii_case(b"SET") {
        config_set(call, args);
    } else if sub.eq_ignore_ascii_case(b"RESETSTAT") {
        for t in &call.ctx.threads {
            t.reset();
        }
        call.ctx.resp.commands.reset();
        call.w.ok();
    } else if sub.eq_ignore_ascii_case(b"REWRITE") {
        call.w
            .error(b"ERR The server is running without a config file");
    } else {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try CONFIG HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    }
}

// ---------------------------------------------------------------------------------------
// INFO

/// An INFO section: its name, and whether `INFO` / `INFO default` includes it (`all` and
/// `everything` include every one).
struct Section {
    name: &'static str,
    default: bool,
}

/// Sections in the order Redis 7.0 prints them (less `latencystats`: slabd keeps no
/// latency histograms).
const SECTIONS: &[Section] = &[
    Section {
        name: "server",
        default: true,
    },
    Section {
        name: "clients",
        default: true,
    },
    Section {
        name: "memory",
        default: true,
    },
    Section {
        name: "persistence",
        default: true,
    },
    Section {
        name: "stats",
        default: true,
    },
    Section {
        name: "replication",
        default: true,
    },
    Section {
        name: "cpu",
        default: true,
    },
    Section {
        name: "modules",
        default: true,
    },
    Section {
        name: "commandstats",
        default: false,
    },
    Section {
        name: "errorstats",
        default: true,
    },
    Section {
        name: "cluster",
        default: true,
    },
    Section {
        name: "keyspace",
        default: true,
    },
];

fn human_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")];
    for (size, unit) in UNITS {
        if n >= size {
            return format!("{:.2}{unit}", n as f64 / size as f64);
        }
    }
    format!("{n}B")
}

/// `os:` as Redis prints it (`Linux 6.8.0 x86_64`), from /proc where there is one.
fn os_description() -> String {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .map(|s| s.trim().to_string())
            .ok()
    };
    match (read("ostype"), read("osrelease")) {
        (Some(t), Some(r)) => format!("{t} {r} {}", std::env::consts::ARCH),
        _ => format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

fn write_section(call: &Call<'_>, section: &str, s: &mut Vec<u8>) {
    let ctx = call.ctx;
    let uptime = u64::from(ctx.store.clock().now().saturating_sub(2));
    let server = ctx.server.snapshot();
    let t = stats::sum(&ctx.threads);
    let _ = match section {
        "server" => write!(
            s,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nslabd_version:{}\r\n\
             redis_mode:standalone\r\nos:{}\r\narch_bits:{}\r\nmultiplexing_api:epoll\r\n\
             process_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\n\
             uptime_in_days:{}\r\nhz:10\r\nexecutable:{}\r\nconfig_file:\r\n",
            env!("CARGO_PKG_VERSION"),
            os_description(),
            usize::BITS,
            std::process::id(),
            ctx.settings.resp_port,
            unix_millis() * 1000,
            uptime / 86400,
            std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        "clients" => write!(
            s,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n\
             tracking_clients:0\r\n",
            server.curr_connections,
            ctx.maxconns.load(Ordering::Relaxed),
        ),
        "memory" => {
            let st = ctx.store.stats();
            write!(
                s,
                "# Memory\r\nused_memory:{}\r\nused_memory_human:{}\r\nused_memory_dataset:{}\r\n\
                 maxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
                 mem_allocator:slab\r\n",
                st.total_malloced,
                human_bytes(st.total_malloced),
                st.bytes,
                st.limit_maxbytes,
                human_bytes(st.limit_maxbytes),
                if ctx.settings.no_evict {
                    "noeviction"
                } else {
                    "allkeys-lru"
                },
            )
        }
        "persistence" => write!(
            s,
            "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\n\
             rdb_bgsave_in_progress:0\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\n\
             aof_enabled:0\r\naof_rewrite_in_progress:0\r\naof_last_write_status:ok\r\n",
            ctx.store.clock().started(),
        ),
        "stats" => {
            let st = ctx.store.stats();
            write!(
                s,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\n\
                 total_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\n\
                 evicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\n\
                 total_error_replies:{}\r\n",
                server.total_connections,
                t.resp_cmds,
                t.bytes_read,
                t.bytes_written,
                server.rejected_connections,
                t.expired_keys + st.reclaimed,
                st.evictions,
                t.get_hits,
                t.get_misses,
                ctx.resp.commands.total_errors(),
            )
        }
        // A master with no replicas and no backlog; the replication id only has to be 40
        // hex digits that stay the same for the life of the process.
        "replication" => write!(
            s,
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\
             master_failover_state:no-failover\r\nmaster_replid:{:032x}{:08x}\r\n\
             master_replid2:{:040}\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\n\
             repl_backlog_active:0\r\nrepl_backlog_size:1048576\r\n\
             repl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
            u128::from(ctx.store.clock().started())
                .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
            std::process::id(),
            0,
        ),
        "cpu" => {
            s.extend_from_slice(b"# CPU\r\n");
            commandstats::write_cpu(s);
            Ok(())
        }
        "modules" => write!(s, "# Modules\r\n"),
        "commandstats" => {
            s.extend_from_slice(b"# Commandstats\r\n");
            ctx.resp.commands.write_commandstats(s);
            Ok(())
        }
        "errorstats" => {
            s.extend_from_slice(b"# Errorstats\r\n");
            ctx.resp.commands.write_errorstats(s);
            Ok(())
        }
        "cluster" => write!(s, "# Cluster\r\ncluster_enabled:0\r\n"),
        "keyspace" => {
            let _ = write!(s, "# Keyspace\r\n");
            for (db, k) in ctx.store.keyspace().iter().enumerate() {
                if k.keys > 0 {
                    let _ = write!(
                        s,
                        "db{db}:keys={},expires={},avg_ttl=0\r\n",
                        k.keys, k.expires
                    );
                }
            }
            Ok(())
        }
        _ => Ok(()),
    };
}

/// `INFO [section ...]`: each section once, in Redis's order, whatever the order asked;
/// no argument means `default`; unknown names are ignored, as Redis does.
pub(super) fn info(call: &mut Call<'_>, args: Args<'_>) {
    let asked = |word: &[u8]| args.iter_from(1).any(|a| a.eq_ignore_ascii_case(word));
    let all = asked(b"all") || asked(b"everything");
    let default = args.len() == 1 || asked(b"default");
    let mut text = std::mem::take(&mut call.conn.scratch);
    text.clear();
    for section in SECTIONS {
        if all || (default && section.default) || asked(section.name.as_bytes()) {
            if !text.is_empty() {
                text.extend_from_slice(b"\r\n");
            }
            write_section(call, section.name, &mut text);
        }
    }
    call.w.verbatim(b"txt", &text);
    call.conn.scratch = text;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units_as_redis() {
        assert_eq!(parse_memory(b"100"), Some(100));
        assert_eq!(parse_memory(b"100mb"), Some(100 << 20));
        assert_eq!(parse_memory(b"1GB"), Some(1 << 30));
        assert_eq!(parse_memory(b"2k"), Some(2000));
        assert_eq!(parse_memory(b"abc"), None);
        assert_eq!(parse_memory(b"1tb"), None);
        assert_eq!(parse_memory(b""), None);
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(64 << 20), "64.00M");
    }
}
