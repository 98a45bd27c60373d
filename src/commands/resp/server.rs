//! Server commands: COMMAND, CONFIG, INFO, DBSIZE, FLUSHDB, FLUSHALL, TIME.

use crate::auth::{catalog, LogReason};
use std::io::Write as _;
use std::sync::atomic::Ordering;

use super::registry::{spec, Spec};
use super::{command_docs, commandstats, registry, unix_millis, Call, REDIS_VERSION};
use crate::protocol::resp::{Args, Writer};
use crate::stats;

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("command", -1, ["loading", "stale"], (0, 0, 0), "server", "2.8.13",
        "Get array of Redis command details", command),
    spec!("info", -1, ["loading", "stale"], (0, 0, 0), "server", "1.0.0",
        "Get information and statistics about the server", info),
    spec!("dbsize", 1, ["readonly", "fast"], (0, 0, 0), "server", "1.0.0",
        "Return the number of keys in the selected database", dbsize),
    spec!("flushdb", -1, ["write"], (0, 0, 0), "server", "1.0.0",
        "Remove all keys from the current database", flushdb),
    spec!("flushall", -1, ["write"], (0, 0, 0), "server", "1.0.0",
        "Remove all keys from all databases", flushall),
    spec!("time", 1, ["loading", "stale", "fast"], (0, 0, 0), "server", "2.6.0",
        "Return the current server time", time),
];

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
        call.ctx.hub.tracking.flushed(&call.ctx.hub);
        call.w.ok();
    }
}

pub(super) fn flushall(call: &mut Call<'_>, args: Args<'_>) {
    if flush_mode_ok(call, args) {
        stats::bump(&call.stats.cmd_flush);
        call.ctx.store.flush_eager(None);
        call.ctx.hub.tracking.flushed(&call.ctx.hub);
        // Stops a background save; with save points, saves the empty data set at once
        // (Redis: a new snapshot, `rdb_changes_since_last_save` back to 0).
        call.ctx.persist.flushed_all(call.ctx);
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

/// The command flags COMMAND INFO shows, in the order Redis 7.0 shows them.
const REPLY_FLAGS: [&str; 20] = [
    "write",
    "readonly",
    "denyoom",
    "module",
    "admin",
    "pubsub",
    "noscript",
    "blocking",
    "loading",
    "stale",
    "skip_monitor",
    "skip_slowlog",
    "asking",
    "fast",
    "no_auth",
    "no_mandatory_keys",
    "no_async_loading",
    "no_multi",
    "movablekeys",
    "allow_busy",
];

/// One `COMMAND INFO` entry: name, arity, flags, first/last key, step and ACL categories
/// from slabd's table; tips, key specs and subcommands as Redis 7.0 has them.
fn command_info(w: &mut Writer<'_>, spec: &Spec) {
    w.array(10);
    if let Some(head) = command_docs::container_head(spec.name.as_bytes()) {
        // A container (OBJECT, MEMORY, ...): Redis 7.0's own flags for it and no keys
        // (slabd's table keeps its subcommands' flags and positions for its own checks).
        command_docs::write(w, head);
    } else {
        w.bulk(spec.name.as_bytes());
        w.integer(i64::from(spec.arity));
        // Redis 7.0's order (addReplyFlagsForCommand), without the flag it hides
        // (may_replicate).
        let shown = |f: &&&str| spec.flags.contains(*f);
        w.set(REPLY_FLAGS.iter().filter(shown).count());
        for f in REPLY_FLAGS.iter().filter(shown) {
            w.simple(f.as_bytes());
        }
        w.integer(i64::from(spec.first_key));
        w.integer(i64::from(spec.last_key));
        w.integer(i64::from(spec.key_step));
        // ACL categories: Redis 7.0's, from the catalog ACL rules use (crate::auth::catalog).
        let entry = catalog::lookup(spec.name.as_bytes()).map(catalog::entry);
        let categories = entry.map_or(0, |e| e.categories);
        w.set(categories.count_ones() as usize);
        for (bit, name) in catalog::CATEGORIES.iter().enumerate() {
            if categories & (1 << bit) != 0 {
                w.simple(format!("@{name}").as_bytes());
            }
        }
    }
    match command_docs::info(spec.name.as_bytes()) {
        Some(tail) => command_docs::write(w, tail),
        None => {
            w.set(0);
            w.set(0);
            w.set(0);
        }
    }
}

/// What COMMAND INFO / DOCS name: one of slabd's commands, or a subcommand of one
/// (`client|list`, as Redis 7.0 looks names up).
#[derive(Clone, Copy)]
enum Named {
    Command(&'static Spec),
    Subcommand(&'static str),
}

fn named(name: &[u8]) -> Option<Named> {
    if let Some(spec) = registry().lookup(name) {
        return Some(Named::Command(spec));
    }
    let full = command_docs::subcommand(name)?;
    let container = full.split('|').next().unwrap_or("");
    registry()
        .lookup(container.as_bytes())
        .map(|_| Named::Subcommand(full))
}

fn named_info(w: &mut Writer<'_>, named: Named) {
    match named {
        Named::Command(spec) => command_info(w, spec),
        Named::Subcommand(full) => match command_docs::info(full.as_bytes()) {
            Some(line) => command_docs::write(w, line),
            None => w.null(),
        },
    }
}

/// One COMMAND DOCS pair: the name, then its map (Redis 7.0's; summary, since and group
/// from slabd's table for a command Redis does not have).
fn command_docs(w: &mut Writer<'_>, named: Named) {
    let name = match named {
        Named::Command(spec) => spec.name,
        Named::Subcommand(full) => full,
    };
    w.bulk(name.as_bytes());
    if let Some(line) = command_docs::docs(name.as_bytes()) {
        return command_docs::write(w, line);
    }
    if let Named::Command(spec) = named {
        w.map(3);
        w.bulk(b"summary");
        w.bulk(spec.summary.as_bytes());
        w.bulk(b"since");
        w.bulk(spec.since.as_bytes());
        w.bulk(b"group");
        w.bulk(spec.group.as_bytes());
    } else {
        w.map(0);
    }
}

pub(super) fn command(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() == 1 {
        call.w.array(registry().specs().len());
        for spec in registry().specs() {
            command_info(&mut call.w, spec);
        }
        return;
    }
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"COUNT") {
        if args.len() != 2 {
            return call.wrong_arity("command|count");
        }
        call.w.integer(registry().specs().len() as i64);
    } else if sub.eq_ignore_ascii_case(b"INFO") {
        if args.len() == 2 {
            call.w.array(registry().specs().len());
            for spec in registry().specs() {
                command_info(&mut call.w, spec);
            }
            return;
        }
        call.w.array(args.len() - 2);
        for name in args.iter_from(2) {
            match named(name) {
                Some(n) => named_info(&mut call.w, n),
                None => call.w.null(),
            }
        }
    } else if sub.eq_ignore_ascii_case(b"DOCS") {
        if args.len() == 2 {
            call.w.map(registry().specs().len());
            for spec in registry().specs() {
                command_docs(&mut call.w, Named::Command(spec));
            }
            return;
        }
        let found = args.iter_from(2).filter_map(named).count();
        call.w.map(found);
        for name in args.iter_from(2) {
            if let Some(n) = named(name) {
                command_docs(&mut call.w, n);
            }
        }
    } else if sub.eq_ignore_ascii_case(b"LIST") {
        command_list(call, args);
    } else if sub.eq_ignore_ascii_case(b"GETKEYS") {
        if args.len() < 4 {
            return call.wrong_arity("command|getkeys");
        }
        getkeys(call, args, false);
    } else if sub.eq_ignore_ascii_case(b"GETKEYSANDFLAGS") {
        if args.len() < 4 {
            return call.wrong_arity("command|getkeysandflags");
        }
        getkeys(call, args, true);
    } else if sub.eq_ignore_ascii_case(b"HELP") {
        super::scripting::help(call, COMMAND_HELP);
    } else {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try COMMAND HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`: every
/// command and, as Redis 7.0 lists them, each container's subcommands (`client|list`).
fn command_list(call: &mut Call<'_>, args: Args<'_>) {
    enum Filter<'a> {
        All,
        Category(Option<u32>),
        Pattern(&'a [u8]),
        Module,
    }
    let filter = match args.len() {
        2 => Filter::All,
        5 if args.get(2).eq_ignore_ascii_case(b"filterby") => {
            let (kind, value) = (args.get(3), args.get(4));
            if kind.eq_ignore_ascii_case(b"aclcat") {
                Filter::Category(catalog::category(value))
            } else if kind.eq_ignore_ascii_case(b"pattern") {
                Filter::Pattern(value)
            } else if kind.eq_ignore_ascii_case(b"module") {
                Filter::Module
            } else {
                return call.syntax_error();
            }
        }
        _ => return call.syntax_error(),
    };
    let mut names: Vec<&str> = Vec::new();
    for spec in registry().specs() {
        let id = catalog::lookup(spec.name.as_bytes());
        let wanted = |name: &str, id: Option<catalog::CommandId>| match filter {
            Filter::All => true,
            Filter::Category(None) | Filter::Module => false,
            Filter::Category(Some(bit)) => {
                id.is_some_and(|i| catalog::entry(i).categories & bit != 0)
            }
            Filter::Pattern(p) => super::glob::matches(p, name.as_bytes(), true),
        };
        if wanted(spec.name, id) {
            names.push(spec.name);
        }
        if !id.is_some_and(|i| catalog::entry(i).container) {
            continue;
        }
        for (i, e) in catalog::entries().iter().enumerate() {
            let sub = e.name.strip_prefix(spec.name);
            if sub.is_some_and(|s| s.starts_with('|')) && wanted(e.name, Some(i as u16)) {
                names.push(e.name);
            }
        }
    }
    call.w.array(names.len());
    for name in names {
        call.w.bulk(name.as_bytes());
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

/// Sections in the order Redis 7.0 prints them.
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
        name: "latencystats",
        default: false,
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
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\n\
             redis_git_dirty:0\r\nslabd_version:{}\r\n\
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
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:{}\r\n\
             tracking_clients:{}\r\n",
            server.curr_connections,
            ctx.maxconns.load(Ordering::Relaxed),
            // Clients in BLPOP & co, and those CLIENT PAUSE holds (Redis 7.0 counts its
            // postponed clients too); the connection registry is touched on connect and
            // close only, so INFO walks it rather than every block keeping a count.
            ctx.clients
                .list()
                .iter()
                .filter(|c| c.has_flag(crate::hub::flag::BLOCKED | crate::hub::flag::PAUSED))
                .count(),
            ctx.hub.tracking.clients(),
        ),
        "memory" => {
            let st = ctx.store.stats();
            // Slab pages in use plus the heap objects of large collections (charged to -m).
            // UNLINK and FLUSH* ASYNC free at once: no lazy-free objects are ever pending.
            let used = st.total_malloced + ctx.store.object_bytes();
            write!(
                s,
                "# Memory\r\nused_memory:{}\r\nused_memory_human:{}\r\nused_memory_dataset:{}\r\n\
                 maxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
                 mem_clients_normal:{}\r\nmem_allocator:slab\r\nused_memory_lua:{}\r\n\
                 number_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\n\
                 number_of_libraries:{}\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
                used,
                human_bytes(used),
                st.bytes,
                st.limit_maxbytes,
                human_bytes(st.limit_maxbytes),
                super::config::maxmemory_policy_name(ctx),
                crate::server::limits::client_bytes(&ctx.server),
                ctx.scripting.usage().1,
                ctx.scripting.usage().0,
                ctx.scripting.run.function_counts().1,
                ctx.scripting.run.function_counts().0,
            )
        }
        "persistence" => ctx.persist.write_info(ctx, s),
        "stats" => {
            let st = ctx.store.stats();
            write!(
                s,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\n\
                 total_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\n\
                 expired_stale_perc:{:.2}\r\nevicted_keys:{}\r\nevicted_clients:{}\r\n\
                 keyspace_hits:{}\r\n\
                 keyspace_misses:{}\r\ntotal_error_replies:{}\r\nacl_access_denied_auth:{}\r\n\
                 acl_access_denied_cmd:{}\r\nacl_access_denied_key:{}\r\n\
                 acl_access_denied_channel:{}\r\n",
                server.total_connections,
                t.resp_cmds,
                t.bytes_read,
                t.bytes_written,
                server.rejected_connections,
                st.expired_keys,
                ctx.store.expired_stale_perc(),
                st.evictions,
                ctx.client_memory.evicted.load(Ordering::Relaxed),
                t.get_hits,
                t.get_misses,
                ctx.resp.commands.total_errors(),
                ctx.users.denied_count(LogReason::Auth),
                ctx.users.denied_count(LogReason::Command),
                ctx.users.denied_count(LogReason::Key),
                ctx.users.denied_count(LogReason::Channel),
            )
            .map(|()| ctx.hub.write_info_stats(s))
            .and_then(|()| {
                // Redis's latest_fork_usec (here: every stripe locked at a save's start)
                // and migrate_cached_sockets; slabd's own: workers taking connections,
                // connections moved, trials (server::gather).
                let (pause_us, saves) = ctx.store.snapshot_pause();
                write!(
                    s,
                    "latest_fork_usec:{pause_us}\r\ntotal_forks:{saves}\r\n\
                     migrate_cached_sockets:{}\r\nreply_buffer_shrinks:{}\r\n\
                     reply_buffer_expands:{}\r\nworkers_active:{}\r\nworker_moves:{}\r\n\
                     worker_trials:{}\r\nworker_trials_kept:{}\r\nworker_trial_last:{},{}\r\n\
                     worker_trials_recalled:{}\r\nworker_rebalances:{}\r\n\
                     worker_exclusive_pinned:{}\r\n",
                    super::migrate::cached_sockets(),
                    t.reply_buffer_shrinks,
                    t.reply_buffer_expands,
                    server.workers_active,
                    server.worker_moves,
                    server.worker_trials,
                    server.worker_trials_kept,
                    server.worker_trial_spread_rate,
                    server.worker_trial_back_rate,
                    server.worker_trials_recalled,
                    server.worker_rebalances,
                    server.worker_exclusive_pinned
                )
            })
        }
        "replication" => super::replication::write_info(&ctx.hub.repl, s),
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
        "latencystats" => {
            s.extend_from_slice(b"# Latencystats\r\n");
            ctx.resp.latency.write_info(s);
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

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

/// Commands whose keys follow a key count: (name, count at, first key at, a store key at 1).
const NUMKEYS_COMMANDS: &[(&str, usize, usize, bool)] = &[
    ("eval", 2, 3, false),
    ("evalsha", 2, 3, false),
    ("eval_ro", 2, 3, false),
    ("evalsha_ro", 2, 3, false),
    ("fcall", 2, 3, false),
    ("fcall_ro", 2, 3, false),
    ("lmpop", 1, 2, false),
    ("zmpop", 1, 2, false),
    ("blmpop", 2, 3, false),
    ("bzmpop", 2, 3, false),
    ("sintercard", 1, 2, false),
    ("zintercard", 1, 2, false),
    ("zunion", 1, 2, false),
    ("zinter", 1, 2, false),
    ("zdiff", 1, 2, false),
    ("zunionstore", 2, 3, true),
    ("zinterstore", 2, 3, true),
    ("zdiffstore", 2, 3, true),
];

/// Subcommands that take keys, with their arity as Redis 7.0.15 has it: the catalog says
/// where their keys are, this how many arguments they take. (XINFO's and XGROUP's join when
/// slabd serves streams; a unit test keeps this in step with the catalog.)
const SUBCOMMAND_ARITY: &[(&str, i32)] = &[
    ("memory|usage", -3),
    ("object|encoding", 3),
    ("object|freq", 3),
    ("object|idletime", 3),
    ("object|refcount", 3),
];

/// COMMAND GETKEYS <command> <args...>: the key arguments, as Redis finds them; with
/// `flags` (GETKEYSANDFLAGS) each as `[key, {key-spec flags}]`.
fn getkeys(call: &mut Call<'_>, args: Args<'_>, flags: bool) {
    let argc = args.len() - 2;
    let Some(spec) = registry().lookup(args.get(2)) else {
        return call.w.error(b"ERR Invalid command specified");
    };
    let id = catalog::lookup(spec.name.as_bytes());
    if let Some(container) = id.filter(|&id| catalog::entry(id).container) {
        return subcommand_keys(call, args, container, flags);
    }
    let numkeys = NUMKEYS_COMMANDS.iter().find(|c| c.0 == spec.name);
    if spec.first_key <= 0 && numkeys.is_none() {
        return call.w.error(b"ERR The command has no key arguments");
    }
    if (spec.arity > 0 && spec.arity as usize != argc) || (argc as i64) < -i64::from(spec.arity) {
        return call
            .w
            .error(b"ERR Invalid number of arguments specified for command");
    }
    let mut keys: Vec<usize> = Vec::new();
    if let Some(&(_, count_at, first, store)) = numkeys {
        let n = std::str::from_utf8(args.get(2 + count_at))
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .filter(|&n| n >= 0 && (n as usize) <= argc - first);
        let Some(n) = n else {
            return if spec.flags.contains(&"no_mandatory_keys") {
                call.w.array(0)
            } else {
                call.w.error(b"ERR Invalid arguments specified for command")
            };
        };
        if store {
            keys.push(1);
        }
        keys.extend(first..first + n as usize);
    } else if let (true, Some(id)) = (matches!(spec.name, "georadius" | "georadiusbymember"), id) {
        // Redis finds these keys by their specs: the source, then the STORE and the
        // STOREDIST key (the first of each keyword from argument 6, or 5).
        catalog::for_each_key_flags(id, argc, |i| args.get(2 + i), |p, _| keys.push(p));
    } else {
        keys.extend(super::key_positions(spec, argc));
        if spec.name == "sort" {
            keys.extend(super::sort::store_key_index(argc, |i| args.get(2 + i)));
        }
    }
    reply_keys(call, args, id, &keys, flags);
}

/// The keys at `keys` (positions after COMMAND GETKEYS), with their key-spec flags when
/// `flags` (from the catalog's specs for that position; none if no spec covers it).
fn reply_keys(
    call: &mut Call<'_>,
    args: Args<'_>,
    id: Option<catalog::CommandId>,
    keys: &[usize],
    flags: bool,
) {
    let arg = |i: usize| args.get(2 + i);
    let mut spec_flags: Vec<(usize, u16)> = Vec::new();
    if let (true, Some(id)) = (flags, id) {
        catalog::for_each_key_flags(id, args.len() - 2, arg, |p, f| spec_flags.push((p, f)));
    }
    call.w.array(keys.len());
    for &i in keys {
        if !flags {
            call.w.bulk(arg(i));
            continue;
        }
        call.w.array(2);
        call.w.bulk(arg(i));
        let f = spec_flags
            .iter()
            .find(|(p, _)| *p == i)
            .map_or(0, |&(_, f)| f);
        call.w.set(f.count_ones() as usize);
        for (bit, name) in catalog::KEY_FLAG_NAMES.iter().enumerate() {
            if f & (1 << bit) != 0 {
                call.w.simple(name.as_bytes());
            }
        }
    }
}

/// COMMAND GETKEYS for a container's subcommand (`OBJECT ENCODING key`, `MEMORY USAGE
/// key`): Redis looks the subcommand up, then checks it as it would a command.
fn subcommand_keys(
    call: &mut Call<'_>,
    args: Args<'_>,
    container: catalog::CommandId,
    flags: bool,
) {
    let argc = args.len() - 2;
    let arg = |i: usize| args.get(2 + i);
    let id = catalog::subcommand(container, argc, arg);
    if id == container {
        return call.w.error(b"ERR Invalid command specified");
    }
    let name = catalog::entry(id).name;
    let Some(&(_, arity)) = SUBCOMMAND_ARITY.iter().find(|(n, _)| *n == name) else {
        return call.w.error(b"ERR The command has no key arguments");
    };
    if (arity > 0 && arity as usize != argc) || (argc as i64) < -i64::from(arity) {
        return call
            .w
            .error(b"ERR Invalid number of arguments specified for command");
    }
    let mut keys: Vec<usize> = Vec::new();
    catalog::for_each_key(id, argc, arg, |i, _| keys.push(i));
    reply_keys(call, args, Some(id), &keys, flags);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommand_arities_cover_the_keyed_subcommands_served() {
        // Every subcommand with keys, of a container slabd serves, has its arity here, and
        // every row names such a subcommand.
        for e in catalog::entries() {
            let Some((container, _)) = e.name.split_once('|') else {
                continue;
            };
            let served = registry().lookup(container.as_bytes()).is_some();
            let listed = SUBCOMMAND_ARITY.iter().any(|(n, _)| *n == e.name);
            assert_eq!(served && !e.keys.is_empty(), listed, "{}", e.name);
        }
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(64 << 20), "64.00M");
    }
}
