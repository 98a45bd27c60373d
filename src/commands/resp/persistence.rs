//! Persistence commands: SAVE, BGSAVE, LASTSAVE, SHUTDOWN, BGREWRITEAOF.

use std::sync::atomic::Ordering;

use super::registry::{spec, Spec};
use super::Call;
use crate::persist::service::RewriteStart;
use crate::persist::SaveError;
use crate::protocol::resp::Args;

/// This family's commands (see [`super::registry`]).
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("save", 1, ["admin", "noscript", "no_async_loading", "no_multi"], (0, 0, 0), "server",
        "1.0.0", "Synchronously save the dataset to disk", save),
    spec!("bgsave", -1, ["admin", "noscript", "no_async_loading"], (0, 0, 0), "server", "1.0.0",
        "Asynchronously save the dataset to disk", bgsave),
    spec!("lastsave", 1, ["loading", "stale", "fast"], (0, 0, 0), "server", "1.0.0",
        "Get the UNIX time stamp of the last successful save to disk", lastsave),
    spec!("shutdown", -1, ["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"],
        (0, 0, 0), "server", "1.0.0",
        "Synchronously save the dataset to disk and then shut down the server", shutdown),
    spec!("bgrewriteaof", 1, ["admin", "noscript", "no_async_loading"], (0, 0, 0), "server",
        "1.0.0", "Asynchronously rewrite the append-only file", bgrewriteaof),
    spec!("debug", -2, ["admin", "noscript", "loading", "stale"], (0, 0, 0), "server",
        "1.0.0", "A container for debugging commands", debug),
];

const IN_PROGRESS: &[u8] = b"ERR Background save already in progress";

/// The error Redis gives write commands after a failed background save.
pub(super) const MISCONF: &[u8] = b"MISCONF Redis is configured to save RDB snapshots, but it's \
currently unable to persist to disk. Commands that may modify the data set are disabled, because \
this instance is configured to report errors during writes if RDB snapshotting fails \
(stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

fn save(call: &mut Call<'_>, _args: Args<'_>) {
    if call.ctx.persist.bgsave_in_progress() {
        call.w.error(IN_PROGRESS);
        return;
    }
    match call.ctx.persist.save(call.ctx) {
        Ok(_) => call.w.ok(),
        Err(SaveError::InProgress) => call.w.error(IN_PROGRESS),
        Err(SaveError::Failed(_)) => call.w.error(b"ERR"),
    }
}

fn bgsave(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() > 2 || (args.len() == 2 && !args.get(1).eq_ignore_ascii_case(b"SCHEDULE")) {
        call.syntax_error();
        return;
    }
    match call.ctx.persist.bgsave() {
        Ok(()) => call.w.simple(b"Background saving started"),
        Err(_) => call.w.error(IN_PROGRESS),
    }
}

fn lastsave(call: &mut Call<'_>, _args: Args<'_>) {
    call.w.integer(call.ctx.persist.last_save() as i64);
}

/// `SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]`: saves when told to or when save points
/// are configured (a failed save, or the AOF's first rewrite still running, refuses to shut
/// down unless FORCE), then stops the server.
fn shutdown(call: &mut Call<'_>, args: Args<'_>) {
    let (mut nosave, mut save, mut force, mut abort) = (false, false, false, false);
    for a in args.iter_from(1) {
        match a.to_ascii_lowercase().as_slice() {
            b"nosave" => nosave = true,
            b"save" => save = true,
            b"now" => {}
            b"force" => force = true,
            b"abort" => abort = true,
            _ => {
                call.syntax_error();
                return;
            }
        }
    }
    if (nosave && save) || (abort && args.len() > 2) {
        call.syntax_error();
        return;
    }
    if abort {
        call.w.error(b"ERR No shutdown in progress.");
        return;
    }
    if call.ctx.persist.initial_aof_refuses_exit(force) {
        call.w.error(b"ERR Errors trying to SHUTDOWN. Check logs.");
        return;
    }
    let points = crate::persist::service::parse_save_points(
        &call.ctx.directives.get("save").unwrap_or_default(),
    )
    .unwrap_or_default();
    // A partly loaded data set is never saved.
    if !call.ctx.persist.is_loading() && (save || (!nosave && !points.is_empty())) {
        let saved = match call.ctx.persist.save(call.ctx) {
            Ok(_) => true,
            // A background save holds the lock: wait for it by saving behind it.
            Err(SaveError::InProgress) => crate::persist::save_on_exit_forced(call.ctx),
            Err(SaveError::Failed(_)) => false,
        };
        if !saved && !force {
            call.w.error(b"ERR Errors trying to SHUTDOWN. Check logs.");
            return;
        }
    }
    call.ctx
        .persist
        .shutdown_handled
        .store(true, Ordering::Relaxed);
    call.shutdown = true;
}

fn bgrewriteaof(call: &mut Call<'_>, _args: Args<'_>) {
    // With the AOF off too, as Redis 7.0: the base and manifest are written (DEBUG LOADAOF
    // then loads them), nothing is logged after.
    match call.ctx.persist.bgrewriteaof() {
        Some(RewriteStart::Started) => call
            .w
            .simple(b"Background append only file rewriting started"),
        Some(RewriteStart::Scheduled) => call
            .w
            .simple(b"Background append only file rewriting scheduled"),
        None => call
            .w
            .error(b"ERR Background append only file rewriting already in progress"),
    }
}

/// `DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]`: saves the dump, empties the data set and
/// loads the dump back, as Redis does (MERGE: a loaded function library replaces one of
/// the same name; without it the load fails on such a collision); `DEBUG LOADAOF` empties the data set and replays
/// the AOF; `DEBUG OBJECT key` describes a key; SLEEP, SET-ACTIVE-EXPIRE and PAUSE-CRON are in debugctl.rs.
fn debug(call: &mut Call<'_>, args: Args<'_>) {
    if args.get(1).eq_ignore_ascii_case(b"object") && args.len() == 3 {
        return debug_object(call, args.get(2));
    }
    if args.get(1).eq_ignore_ascii_case(b"protocol") && args.len() == 3 {
        return super::debug_protocol::protocol(call, args.get(2));
    }
    if super::debugctl::run(call, args) || super::digest::run(call, args) {
        return;
    }
    if args.get(1).eq_ignore_ascii_case(b"loadaof") && args.len() == 2 {
        match call.ctx.persist.debug_loadaof(call.ctx) {
            Ok(()) => call.w.ok(),
            Err(e) => call.w.error(e.as_bytes()),
        }
        return;
    }
    if !args.get(1).eq_ignore_ascii_case(b"reload") {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(args.get(1))
        ));
        return;
    }
    let (mut save, mut flush, mut merge) = (true, true, false);
    for a in args.iter_from(2) {
        match a.to_ascii_uppercase().as_slice() {
            b"MERGE" => merge = true,
            b"NOFLUSH" => flush = false,
            b"NOSAVE" => save = false,
            _ => {
                call.w.error(
                    b"ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                );
                return;
            }
        }
    }
    match call.ctx.persist.debug_reload(call.ctx, save, flush, merge) {
        Ok(()) => call.w.ok(),
        Err(e) => call.w.error(e.as_bytes()),
    }
}

/// `DEBUG OBJECT key`: Redis's one-line description. slabd has no object addresses or
/// shared refcounts, so `Value at` is 0 and `refcount` 1; `serializedlength` is a string's
/// byte length (0 for a collection), not the RDB-encoded length Redis computes.
fn debug_object(call: &mut Call<'_>, key: &[u8]) {
    let db = call.db();
    let found = call.ctx.store.inspect(db, key, |cur| {
        cur.map(|c| {
            let len = match c.item_type() {
                crate::storage::ItemType::String => c.bytes().map_or(0, |b| b.len()),
                _ => 0,
            };
            (super::object::encoding_of(c), len)
        })
    });
    let Some((encoding, len)) = found else {
        return call.w.error(b"ERR no such key");
    };
    let line = format!(
        "Value at:0x0 refcount:1 encoding:{encoding} serializedlength:{len} lru:0 lru_seconds_idle:0"
    );
    call.w.simple(line.as_bytes());
}

/// Refuses a command while loading (-LOADING unless Redis flags it `loading`) or, after a
/// failed background save, a write per `stop-writes-on-bgsave-error`. Called only when
/// the persistence gate is not 0.
#[cold]
pub(super) fn refused(call: &mut Call<'_>, spec: &Spec, gate: u8) -> bool {
    use crate::persist::service::{GATE_BGSAVE_FAILED, GATE_LOADING};
    if gate & GATE_LOADING != 0 && !call.conn.replay && !spec.flags.contains(&"loading") {
        call.w
            .error(b"LOADING Redis is loading the dataset in memory");
        return true;
    }
    if gate & GATE_BGSAVE_FAILED != 0
        && spec.flags.contains(&"write")
        && call.ctx.persist.refuse_writes(call.ctx)
    {
        call.w.error(MISCONF);
        return true;
    }
    false
}

/// Write commands logged as themselves: single-key collection writes whose effect the
/// key's previous value and the arguments fully decide (no time, no randomness). The
/// store appends the record under the key's lock when the command changes the key; any
/// other write is logged as the resulting state of its keys.
fn logged_as_command(name: &str) -> bool {
    matches!(
        name,
        "lpush"
            | "rpush"
            | "lpushx"
            | "rpushx"
            | "lpop"
            | "rpop"
            | "lset"
            | "linsert"
            | "lrem"
            | "ltrim"
            | "hset"
            | "hsetnx"
            | "hmset"
            | "hdel"
            | "hincrby"
            | "sadd"
            | "srem"
            | "zadd"
            | "zincrby"
            | "zrem"
            | "zremrangebyscore"
            | "zremrangebyrank"
            | "zremrangebylex"
            | "zpopmin"
            | "zpopmax"
    )
}

/// Whether a command is logged in the AOF: writes, and FUNCTION (its LOAD, DELETE, FLUSH
/// and RESTORE change the libraries; Redis flags those subcommands `write`).
pub(super) fn logged(spec: &Spec) -> bool {
    spec.flags.contains(&"write") || spec.name == "function"
}

/// Before a write command runs (AOF on): arms its record when it is logged as itself.
pub(super) fn arm(call: &Call<'_>, spec: &Spec, args: Args<'_>) -> bool {
    if args.len() < 2 || !logged_as_command(spec.name) {
        return false;
    }
    call.ctx.persist.aof.arm(
        call.conn.db,
        args.get(1),
        &mut (0..args.len()).map(|i| args.get(i)),
    );
    true
}

/// After a write command (AOF on; `armed` from [`arm`]): an armed command that changed its
/// key once is logged already; otherwise the state of the keys it touched is logged.
/// FLUSHALL, FLUSHDB and SWAPDB were logged by the store as they took effect. Under
/// `appendfsync always` this returns once the records are on disk.
pub(super) fn log_write(call: &Call<'_>, spec: &Spec, args: Args<'_>, armed: bool, ok: bool) {
    let ctx = call.ctx;
    let db = call.conn.db;
    let aof = &ctx.persist.aof;
    if armed && aof.disarm() {
        aof.commit_mine();
        return;
    }
    if !ok {
        aof.commit_mine();
        return;
    }
    match spec.name {
        "flushall" | "flushdb" | "swapdb" => aof.commit_mine(),
        "function" => {
            let sub = args.get(1);
            if [&b"load"[..], b"delete", b"flush", b"restore"]
                .iter()
                .any(|s| sub.eq_ignore_ascii_case(s))
            {
                aof.record_functions(ctx);
            }
        }
        "expire" | "pexpire" | "expireat" | "pexpireat" | "persist" => {
            aof.record_expiry(ctx, db, args.get(1));
        }
        "move" => {
            aof.record_keys(ctx, db, &mut std::iter::once(args.get(1)));
            if let Some(to) = std::str::from_utf8(args.get(2))
                .ok()
                .and_then(|s| s.parse::<u8>().ok())
            {
                aof.record_keys(ctx, to, &mut std::iter::once(args.get(1)));
            }
        }
        "sort" => aof.record_keys(ctx, db, &mut super::sort::store_key(args).into_iter()),
        // Keys after a count (the spec names none): `[timeout] numkeys key...`.
        "lmpop" | "zmpop" | "blmpop" | "bzmpop" => {
            let count_at = if spec.name.starts_with('b') { 2 } else { 1 };
            let n = std::str::from_utf8(args.get(count_at))
                .ok()
                .and_then(|t| t.parse::<usize>().ok())
                .unwrap_or(0)
                .min(args.len().saturating_sub(count_at + 1));
            let mut keys = (count_at + 1..count_at + 1 + n).map(|i| args.get(i));
            aof.record_keys(ctx, db, &mut keys);
        }
        "migrate" => aof.record_keys(ctx, db, &mut super::migrate::keys(args).into_iter()),
        // GETEX without an option changes nothing: Redis logs nothing for it.
        "getex" if args.len() == 2 => aof.commit_mine(),
        _ => {
            let mut keys = super::key_positions(spec, args.len()).map(|i| args.get(i));
            aof.record_keys(ctx, db, &mut keys);
        }
    }
}
