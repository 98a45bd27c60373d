//! Redis commands (RESP2/RESP3) against the store.
//!
//! [`process`] parses one request with [`Parser`], finds its [`Spec`] in the [`registry`], checks
//! arity and authentication as Redis does (unknown command, then arity, then NOAUTH), and runs
//! the handler, which writes its reply straight into the connection's output buffer.
//!
//! Submodules by Redis's command groups: [`connection`] (PING, HELLO, AUTH, SELECT, CLIENT…),
//! [`server`] (COMMAND, CONFIG, INFO, FLUSHALL…), [`strings`], [`keys`] and [`transaction`]
//! (MULTI, EXEC, WATCH…). After MULTI, [`execute`] queues commands instead of running them.
//!
//! EXEC runs its queue with no other client's command in between (the atomicity gate,
//! see [`transaction`] and [`crate::commands::gate`]).
//!
//! `docs/resp.md` describes the ports, the shared keyspace, and where slabd differs from
//! Redis 7 (1-second expiry resolution, key and value limits…).

mod acl;
mod bitfield;
mod bitops;
mod blocking;
mod client;
mod cluster;
mod command_docs;
mod commandstats;
mod config;
mod config_rewrite;
mod connection;
mod copy;
mod debug_protocol;
mod debugctl;
mod digest;
mod dump;
mod functions;
mod geo;
mod geosearch;
pub(crate) mod glob;
mod hash;
mod hll;
mod keys;
mod latency;
mod lcs;
mod list;
mod memory;
mod migrate;
mod monitor;
mod object;
mod persistence;
mod pubsub;
#[cfg(test)]
mod random_commands;
mod registry;
mod replication;
mod reset;
mod role;
mod scripting;
mod server;
mod set;
mod slowlog;
mod sort;
mod strings;
mod tracking;
mod transaction;
mod typed;
mod zset;
mod zsetops;
mod zsetrange;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use self::commandstats::{CommandStats, WorkerCommandStats};
use self::registry::{registry, Spec};
use super::timing::{Ran, Timer};
use super::{ClientInfo, Context, Session, Step};
use crate::auth::{Login, LoginState};
use crate::hub::{observed, OnTimeout, Wait};
use crate::protocol::resp::{parse_i64, Args, Limits, Parsed, Parser, Writer};
use crate::server::gather::Home;
use crate::stats::{self, ThreadStats};
use crate::storage::Expiry;

/// Version reported to clients that check it (`HELLO`, `INFO redis_version`): the Redis
/// release whose commands and replies slabd follows.
pub const REDIS_VERSION: &str = "7.0.0";

/// Redis's reply when memory is full; the store says so when it cannot evict (`-M`) or an
/// item cannot be placed.
const OOM: &[u8] = b"OOM command not allowed when used memory > 'maxmemory'.";

/// A scratch buffer that grew past this is shrunk back after the command, so one large
/// `KEYS` reply does not pin memory for the life of the connection.
const SCRATCH_KEEP: usize = 64 * 1024;

/// RESP state shared by all connections.
#[derive(Debug)]
pub struct Shared {
    /// `INFO commandstats` / `errorstats`, one part per worker thread.
    commands: CommandStats,
    /// SLOWLOG.
    slowlog: slowlog::SlowLog,
    /// LATENCY: events and per-command histograms.
    latency: latency::Latency,
    /// The `maxmemory-policy` CONFIG SET chose (see `config.rs`).
    maxmemory_policy: std::sync::atomic::AtomicU8,
    /// `DEBUG SET-SKIP-CHECKSUM-VALIDATION`: RESTORE skips the payload's CRC-64.
    skip_checksum: std::sync::atomic::AtomicBool,
    /// The bytes the last CONFIG SET maxmemory asked for and the store's limit it gave
    /// (whole pages at most that): CONFIG GET shows what was set, as Redis, while the
    /// limit is still that one (see `config.rs`).
    maxmemory_set: parking_lot::Mutex<Option<(u64, u64)>>,
}

impl Shared {
    pub fn new(workers: usize) -> Shared {
        Shared {
            commands: CommandStats::new(workers),
            slowlog: slowlog::SlowLog::default(),
            latency: latency::Latency::new(workers),
            maxmemory_policy: std::sync::atomic::AtomicU8::new(0),
            skip_checksum: std::sync::atomic::AtomicBool::new(false),
            maxmemory_set: parking_lot::Mutex::new(None),
        }
    }

    /// (bytes asked for, limit given) of the last CONFIG SET maxmemory.
    fn maxmemory_set(&self) -> Option<(u64, u64)> {
        *self.maxmemory_set.lock()
    }

    fn set_maxmemory_shown(&self, set: Option<(u64, u64)>) {
        *self.maxmemory_set.lock() = set;
    }

    /// The `maxmemory` CONFIG GET shows while the store's limit is `limit`: the bytes
    /// CONFIG SET asked for if it gave this limit, else the limit.
    fn maxmemory_shown(&self, limit: u64) -> u64 {
        match self.maxmemory_set() {
            Some((asked, given)) if given == limit => asked,
            _ => limit,
        }
    }

    /// Takes the `--maxmemory-policy` given at start-up.
    pub fn start_policy(&self, settings: &crate::config::Settings, store: &crate::storage::Store) {
        config::start_policy(self, settings, store);
    }

    /// Follows the slow log and latency directives.
    pub fn follow(&self, directives: &crate::directives::Directives) {
        self.slowlog.follow(directives);
        self.latency.follow(directives);
    }
}

/// Per connection state of the RESP protocol.
#[derive(Debug, Default)]
pub struct State {
    parser: Parser,
    conn: Conn,
}

/// What a connection's commands change about it.
#[derive(Debug, Default)]
struct Conn {
    /// Selected database.
    db: u8,
    /// `HELLO 3` switched this connection to RESP3.
    resp3: bool,
    /// Reused buffer for values that are reshaped before they are sent (GETRANGE, INFO, KEYS).
    scratch: Vec<u8>,
    /// The name last published in [`ClientInfo::last_cmd_name`], so that a run of the same
    /// command takes that lock once, not per request.
    last_cmd: &'static str,
    /// `last_cmd`'s place in the [`registry`] (None when `last_cmd` names a subcommand): a
    /// run of the same command (a pipeline, a client's loop) finds it by comparing names,
    /// without hashing the name again.
    last_index: Option<usize>,
    /// MULTI queue and WATCHed keys.
    tx: transaction::Transaction,
    /// EXEC is running the queue (ACL refusals then say the rules changed since queuing).
    running_exec: bool,
    /// Channels, patterns and shard channels subscribed to.
    subs: pubsub::Subscriptions,
    /// CLIENT REPLY OFF: replies are dropped.
    reply_off: bool,
    /// CLIENT REPLY SKIP: the replies of this many more commands are dropped.
    reply_skip: u8,
    /// MONITOR was run: this connection receives every command's line.
    monitor: bool,
    /// CLIENT TRACKING state.
    tracking: tracking::Tracking,
    /// Replaying the append-only file: runs while the server is loading.
    replay: bool,
    /// REPLCONF rdb-only 1: a SYNC / PSYNC sends the dump and no stream.
    rdb_only: bool,
    /// REPLCONF listening-port, for INFO replication and ROLE once it is a replica.
    listening_port: u16,
    /// Where this connection belongs ([`crate::server::gather`]): on the worker holding
    /// every receiver of its last PUBLISH / SPUBLISH, if one does, or on worker 0 for a
    /// while after it ran EXEC, a script or a function (while one worker serves, their
    /// exclusive sections then find the other workers' gates free).
    home: Home,
}

impl State {
    /// This session replays the append-only file (its commands run while loading).
    pub fn set_replay(&mut self) {
        self.conn.replay = true;
    }

    /// `HELLO 3` was sent: replies and pushes are RESP3.
    pub fn resp3(&self) -> bool {
        self.conn.resp3
    }

    /// Where this connection belongs (its last PUBLISH's receivers' worker, or worker 0
    /// for a client of exclusive sections): [`Home::worker`] resolves it.
    #[inline]
    pub fn home(&self) -> Home {
        self.conn.home
    }

    /// In Redis's `pubsub` output class (subscribed to something, or MONITOR).
    pub fn subscribed(&self) -> bool {
        self.conn.subs.active() || self.conn.monitor
    }
}

/// Per-command latency histograms in Prometheus's text format (the metrics endpoint).
pub fn write_latency_histograms(ctx: &Context, out: &mut String) {
    ctx.resp.latency.write_prometheus(out);
}

/// A blocked command's wait ended without serving it: its timeout reply, or `-UNBLOCKED`
/// from CLIENT UNBLOCK ... ERROR (`failed`). The command is counted now, as Redis counts it
/// when the client is unblocked.
pub fn wait_ended(ctx: &Context, session: &Session, failed: bool) {
    let stats = ctx.resp.commands.worker(session.worker);
    if let Some(i) = registry().index(session.resp.conn.last_cmd.as_bytes()) {
        stats.ran(i, 0, failed);
    }
    if failed {
        stats.error(b"-UNBLOCKED client unblocked via CLIENT UNBLOCK");
    }
}

/// The connection is closing: leave its channels.
pub fn close(ctx: &Context, session: &mut Session) {
    let who = session.info.target();
    pubsub::leave_all(ctx, &mut session.resp.conn.subs, who);
    if session.resp.conn.monitor {
        monitor::stop(ctx, who);
    }
    if session.resp.conn.tracking.is_on() {
        tracking::stop(ctx, who.id);
    }
    transaction::forget(ctx, &mut session.resp.conn.tx, &session.info);
    if session.info.has_flag(crate::hub::flag::REPLICA) {
        ctx.hub.repl.detach(who.id);
    }
}

/// One command being run: everything a handler may touch.
struct Call<'a> {
    ctx: &'a Context,
    info: &'a ClientInfo,
    conn: &'a mut Conn,
    /// Who the connection is logged in as (AUTH changes it; as in Redis, setting
    /// `requirepass` later does not log out connected clients).
    login: &'a mut Login,
    stats: &'a ThreadStats,
    /// Index of the worker running the command.
    worker: usize,
    /// This worker's per command and per error counters.
    cmdstats: &'a WorkerCommandStats,
    w: Writer<'a>,
    /// Close the connection after the reply (QUIT).
    close: bool,
    /// Stop the server after the reply (SHUTDOWN).
    shutdown: bool,
    /// Bytes received and not yet consumed, this request's included: Redis's query buffer
    /// length while the command runs (`CLIENT LIST qbuf=`).
    pending: usize,
    /// The connection's parked request, if this call re-runs one (see [`Call::block`]).
    wait: &'a mut Option<Wait>,
    /// Commands running: 1 for a client's own, more inside EXEC (which may not block).
    depth: u8,
    /// The command called [`Call::block`].
    blocked: bool,
}

impl<'a> Call<'a> {
    /// A call for a command run on this connection's behalf (by a script), writing its
    /// reply to `out`.
    fn nested<'b>(&'b mut self, out: &'b mut Vec<u8>, resp3: bool) -> Call<'b>
    where
        'a: 'b,
    {
        Call {
            ctx: self.ctx,
            info: self.info,
            conn: &mut *self.conn,
            login: &mut *self.login,
            stats: self.stats,
            worker: self.worker,
            cmdstats: self.cmdstats,
            w: Writer { out, resp3 },
            close: false,
            shutdown: false,
            pending: self.pending,
            wait: &mut *self.wait,
            depth: self.depth + 1,
            blocked: false,
        }
    }
}

impl Call<'_> {
    /// Publishes the command's name for `CLIENT LIST cmd=` when it changed. `name` is the
    /// command now running: the registry's name of the command at `index`,
    /// or a subcommand's name (`client|kill`) with no index.
    fn note_command(&mut self, name: &'static str, index: Option<usize>) {
        // Names are the registry's own strings: the same command is the same pointer.
        if !std::ptr::eq(self.conn.last_cmd, name) {
            *self.info.last_cmd_name.lock() = name;
            self.conn.last_cmd = name;
        }
        self.conn.last_index = index;
    }

    fn db(&self) -> u8 {
        self.conn.db
    }

    /// A keyspace event for `key` in the selected database (see [`crate::hub::notify`]):
    /// `class` one of its constants, `event` Redis's name (`set`, `del`, `expire`...).
    pub(super) fn notify(&self, class: u32, event: &str, key: &[u8]) {
        self.ctx.notify(class, event, self.conn.db, key);
    }

    /// Whether the command may block: not inside MULTI/EXEC (or a script), where Redis's
    /// blocking commands answer at once as if they had timed out.
    pub(super) fn may_block(&self) -> bool {
        self.depth <= 1
    }

    /// Blocks the running command on `keys` (in the selected database) until one of them
    /// is signalled (`ctx.hub.signal_key`) or `timeout` passes (`None`: forever); the
    /// handler writes nothing. When a signal wakes the connection the same request runs
    /// again: the handler either answers it (the wait ends) or calls `block` again, which
    /// keeps its place in each key's queue and its first deadline. When time is up the
    /// client gets `on_timeout`'s reply. Only call it when [`Call::may_block`].
    pub(super) fn block<'k>(
        &mut self,
        keys: impl IntoIterator<Item = &'k [u8]>,
        timeout: Option<std::time::Duration>,
        on_timeout: OnTimeout,
    ) {
        let db = self.conn.db;
        let who = self.info.target();
        match self.wait.as_mut() {
            Some(w) => {
                // A re-run that found nothing: park again, same place, same deadline.
                w.woken = false;
            }
            None => {
                let keys: Vec<(u8, Box<[u8]>)> =
                    keys.into_iter().map(|k| (db, Box::from(k))).collect();
                self.ctx.hub.waiters.register(who, &keys);
                let bit = if on_timeout == OnTimeout::Rerun {
                    crate::hub::flag::PAUSED
                } else {
                    crate::hub::flag::BLOCKED
                };
                self.info.set_flag(bit, true);
                *self.wait = Some(Wait {
                    keys,
                    deadline: timeout.map(|t| Instant::now() + t),
                    on_timeout,
                    consumed: 0,
                    // Run once more right away: a write racing the registration is seen.
                    woken: true,
                    armed: false,
                });
            }
        }
        self.blocked = true;
    }

    fn syntax_error(&mut self) {
        self.w.error(b"ERR syntax error");
    }

    fn not_integer(&mut self) {
        self.w.error(b"ERR value is not an integer or out of range");
    }

    /// `ERR wrong number of arguments for 'name' command` (`name` lowercase, `a|b` for
    /// subcommands).
    fn wrong_arity(&mut self, name: &str) {
        self.w.error_fmt(format_args!(
            "ERR wrong number of arguments for '{name}' command"
        ));
    }

    /// Parses an integer argument, replying with Redis's error when it is not one.
    fn integer(&mut self, arg: &[u8]) -> Option<i64> {
        let v = parse_i64(arg);
        if v.is_none() {
            self.not_integer();
        }
        v
    }
}

/// Unix time in milliseconds from the system clock (TIME and the PX options' base).
fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Handles at most one request from the start of `input`, appending its reply to `out`.
pub fn process(ctx: &Context, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    let Session {
        info,
        worker,
        resp: State { parser, conn },
        wait,
        login,
        ..
    } = session;
    let login = login.get_or_insert_with(|| ctx.users.new_login());
    if login.current(&ctx.users) == LoginState::Gone {
        return Step::Close;
    }
    let limits = Limits {
        max_bulk: ctx.settings.proto_max_bulk_len,
        authenticated: login.authenticated,
    };
    let stats = &ctx.threads[*worker];
    let consumed = match parser.parse(input, limits) {
        Ok(Parsed::Incomplete) => return Step::Incomplete,
        Ok(Parsed::Empty { consumed }) => return Step::Done(consumed),
        Ok(Parsed::Command { consumed }) => consumed,
        Err(e) => {
            let mut w = Writer {
                out,
                resp3: conn.resp3,
            };
            w.error_fmt(format_args!("ERR {e}"));
            stats::bump(&stats.resp_errors);
            ctx.resp.commands.worker(*worker).error(b"-ERR");
            return Step::Close;
        }
    };
    let args = parser.args(input);
    let start = out.len();
    let mut call = Call {
        ctx,
        info,
        stats,
        worker: *worker,
        cmdstats: ctx.resp.commands.worker(*worker),
        w: Writer {
            out,
            resp3: conn.resp3,
        },
        conn,
        login,
        close: false,
        shutdown: false,
        pending: input.len(),
        wait,
        depth: 0,
        blocked: false,
    };
    execute(&mut call, args);
    if call.blocked {
        if let Some(w) = call.wait.as_mut() {
            w.consumed = consumed;
        }
        return Step::Blocked;
    }
    // (Un)subscribe confirmations are pushes, which CLIENT REPLY does not silence.
    let pushed = call.conn.last_cmd.ends_with("subscribe");
    if (call.conn.reply_off || call.conn.reply_skip > 0) && !pushed {
        call.w.out.truncate(start);
        call.conn.reply_skip = call.conn.reply_skip.saturating_sub(1);
    }
    let failed = call.w.out.get(start) == Some(&b'-');
    let close = call.close;
    let shutdown = call.shutdown;
    if call.conn.scratch.capacity() > SCRATCH_KEEP {
        call.conn.scratch = Vec::new();
    }
    parser.trim();
    stats::bump(&stats.resp_cmds);
    if failed {
        stats::bump(&stats.resp_errors);
    }
    if shutdown {
        // A busy script would hold its worker for ever.
        ctx.scripting.run.abort();
        Step::Shutdown
    } else if close {
        Step::Close
    } else {
        Step::Done(consumed)
    }
}

/// Runs one command, or queues it inside MULTI.
fn execute(call: &mut Call<'_>, args: Args<'_>) {
    execute_as(call, args, command_index(call.conn, args.get(0)));
}

/// The registry place of command `name`: the connection's last command's when `name` is
/// that command (any case), else a registry lookup.
#[inline]
fn command_index(conn: &Conn, name: &[u8]) -> Option<usize> {
    match conn.last_index {
        Some(i) if name.eq_ignore_ascii_case(conn.last_cmd.as_bytes()) => Some(i),
        _ => registry().index(name),
    }
}

/// [`execute`] of a command whose place in the [`registry`] the caller already looked up
/// (`None`: no such command), so a script's `redis.call` hashes its name once.
fn execute_as(call: &mut Call<'_>, args: Args<'_>, index: Option<usize>) {
    let start = call.w.out.len();
    let index = match admit(call, args, index) {
        Ok(index) => index,
        Err(index) => {
            if let Some(i) = index {
                call.cmdstats.rejected(i);
            }
            transaction::rejected(call, index.map(|i| registry().spec(i)), start);
            call.cmdstats.error(&call.w.out[start..]);
            return;
        }
    };
    let spec = registry().spec(index);
    if call.depth == 0 {
        // The client's own command, as Redis's `lastcmd`: EXEC's queued commands and a
        // script's calls leave `CLIENT LIST cmd=` at `exec` / `evalsha` (and take no lock
        // per call).
        call.info.last_cmd.store(
            call.ctx.store.clock().now(),
            std::sync::atomic::Ordering::Relaxed,
        );
        call.note_command(spec.name, Some(index));
        call.conn.home.request();
    }
    // One load says whether any observer is on; with none, one branch skips them all.
    let observed = call.ctx.hub.observed();
    if call.depth == 0
        && observed & (observed::PAUSE | observed::TRACKING) != 0
        && paused_or_tracked(call, spec, args, observed)
    {
        return;
    }
    if call.conn.tx.queuing() && !transaction::runs_at_once(spec) {
        transaction::queue(call, index, args);
        if call.w.out.get(start) == Some(&b'-') {
            call.cmdstats.error(&call.w.out[start..]);
        }
        return;
    }
    let monitored = observed & observed::MONITOR != 0;
    // Scripts (skip_monitor) are shown before they run, so that the commands they call
    // follow them, as Redis 7.0's EVAL/FCALL feed MONITOR themselves.
    let before = monitored && spec.has(registry::flag::SKIP_MONITOR);
    if before && call.wait.is_none() {
        monitor::feed(call, spec, args, super::timing::wall_now_us());
    }
    let timer = if call.depth == 0 {
        Timer::start()
    } else if call.depth == 1 && call.conn.running_exec {
        Timer::in_queue()
    } else {
        Timer::nested()
    };
    // A replica is attached: note this thread's writes so far (see `crate::repl`).
    let replicated = observed & observed::REPLICA != 0;
    let dirty_before = if replicated {
        crate::repl::propagate::dirty()
    } else {
        0
    };
    let armed = call.ctx.persist.aof.is_on()
        && spec.flags.contains(&"write")
        && persistence::arm(call, spec, args);
    call.depth += 1;
    (spec.handler)(call, args);
    call.depth -= 1;
    if monitored && !before && !call.blocked {
        monitor::feed(call, spec, args, timer.wall_us());
    }
    if call.conn.tracking.is_on() {
        tracking::after_command(call, spec, args);
    }
    if replicated && !call.blocked {
        replication::after_command(call, spec, args, start, dirty_before);
    }
    let ran = timer.stop();
    let failed = call.w.out.get(start) == Some(&b'-');
    if armed || (call.ctx.persist.aof.is_on() && !call.blocked && persistence::logged(spec)) {
        persistence::log_write(call, spec, args, armed, !failed && !call.blocked);
    }
    // A command that blocks is counted once, when it is served or its wait ends.
    if !call.blocked {
        call.cmdstats.ran(index, ran.usec, failed);
    }
    observe(call, index, spec, args, ran);
    if failed {
        call.cmdstats.error(&call.w.out[start..]);
    }
}

/// The client's own command, with CLIENT PAUSE or tracking on: parks it when a pause
/// covers it (true), else notes what a tracking client reads.
#[cold]
fn paused_or_tracked(call: &mut Call<'_>, spec: &Spec, args: Args<'_>, observed: u32) -> bool {
    if observed & observed::PAUSE != 0 && client::paused(call, spec, args) {
        return true;
    }
    if observed & observed::TRACKING != 0 {
        tracking::before_command(call);
    }
    false
}

/// A command ran: its latency histogram, the slow log, the latency monitor.
fn observe(call: &Call<'_>, index: usize, spec: &Spec, args: Args<'_>, ran: Ran) {
    let shared = &call.ctx.resp;
    let usec = ran.usec;
    if shared.latency.tracking() {
        shared
            .latency
            .record(call.worker, index, spec.name, args, ran.nanos);
    }
    if shared.slowlog.wants(usec) && !spec.flags.contains(&"skip_slowlog") && !call.blocked {
        shared.slowlog.record(call, spec.secrets, args, usec);
    }
    if usec >= 1000 {
        shared
            .latency
            .command_ran(usec, spec.flags.contains(&"fast"));
    }
}

/// A memcached text command ran (`line` its request): the same as a RESP command's run,
/// its latency histogram (`memcache|get`), the slow log (the command line's words; no data
/// block) and the latency monitor's `command`/`fast-command` events.
pub fn memcache_ran(ctx: &Context, info: &ClientInfo, worker: usize, line: &[u8], ran: Ran) {
    let at = line.iter().position(|&b| b != b' ').unwrap_or(line.len());
    let line = &line[at..];
    let name_len = line
        .iter()
        .position(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(name_len);
    if !ctx.resp.slowlog.wants(ran.usec) {
        // Only the slow log wants the other words: most commands never scan their line.
        return memcache_ran_words(ctx, info, worker, name, std::iter::empty(), ran);
    }
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let rest = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
    let words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
    memcache_ran_words(ctx, info, worker, name, words, ran);
}

/// [`memcache_ran`] for a command given as its name and further words (a binary
/// request: the text command it matches and its key).
pub fn memcache_ran_words<'a>(
    ctx: &Context,
    info: &ClientInfo,
    worker: usize,
    name: &'a [u8],
    words: impl IntoIterator<Item = &'a [u8]>,
    ran: Ran,
) {
    let shared = &ctx.resp;
    let usec = ran.usec;
    if shared.latency.tracking() {
        shared.latency.record_memcache(worker, name, ran.nanos);
    }
    if shared.slowlog.wants(usec) {
        let args: Vec<&[u8]> = std::iter::once(name).chain(words).collect();
        shared.slowlog.record_args(info, &args, args.len(), usec);
    }
    let slow = matches!(name, b"stats" | b"flush_all" | b"lru_crawler" | b"slabs");
    shared.latency.command_ran(usec, !slow);
}

/// `enable-debug-command`: `yes`, or `local` and the client is on this host.
fn debug_allowed(call: &Call<'_>) -> bool {
    match call.ctx.directives.int("enable-debug-command") {
        1 => true,
        2 => crate::auth::startup::is_local(&call.info.addr),
        _ => false,
    }
}

/// The checks Redis makes before running or queuing a command, in its order: unknown
/// command, arity, authentication (and slabd's key length). On refusal the error is
/// written and the command's index in the [`registry`], if known, returned as the error.
fn admit(
    call: &mut Call<'_>,
    args: Args<'_>,
    index: Option<usize>,
) -> Result<usize, Option<usize>> {
    let Some(index) = index else {
        unknown_command(&mut call.w, args);
        return Err(None);
    };
    let spec = registry().spec(index);
    let argc = args.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || argc < -spec.arity {
        call.wrong_arity(spec.name);
        return Err(Some(index));
    }
    if spec.bits & registry::flag::PROTECTED != 0 && !debug_allowed(call) {
        call.w.error(
            b"ERR DEBUG command not allowed. If the enable-debug-command option is set to \
              \"local\", you can run it from a local connection, otherwise you need to set this \
              option in the configuration file, and then restart the server.",
        );
        return Err(Some(index));
    }
    if !call.login.authenticated && !spec.allowed_before_auth() {
        call.w.error(b"NOAUTH Authentication required.");
        return Err(Some(index));
    }
    if !call.login.user.unrestricted() && !acl::permitted(call, args, index) {
        return Err(Some(index));
    }
    if call.depth == 0 && call.ctx.gates.busy() && !scripting::allowed_when_busy(spec, args) {
        scripting::busy_error(call);
        return Err(Some(index));
    }
    let gate = call
        .ctx
        .persist
        .gate
        .load(std::sync::atomic::Ordering::Relaxed);
    if gate != 0 && persistence::refused(call, spec, gate) {
        return Err(Some(index));
    }
    let key_max = call.ctx.store.key_max();
    // No argument is longer than the buffer holding them all (a request, a pipeline):
    // only a buffer over the limit needs the key positions walked.
    if args.longest() > key_max
        && key_positions(spec, args.len()).any(|i| args.get(i).len() > key_max)
    {
        call.w.error_fmt(format_args!(
            "ERR key too long (slabd keys are at most {key_max} bytes)"
        ));
        return Err(Some(index));
    }
    if call.conn.subs.active() && !call.conn.resp3 && !pubsub::allowed_when_subscribed(spec.name) {
        pubsub::refuse_when_subscribed(call, spec.name);
        return Err(Some(index));
    }
    Ok(index)
}

/// Argument indexes that are keys, from the command's first/last/step as COMMAND reports.
fn key_positions(spec: &Spec, argc: usize) -> impl Iterator<Item = usize> {
    let first = spec.first_key.max(0) as usize;
    let last = if spec.last_key < 0 {
        argc as i64 + i64::from(spec.last_key)
    } else {
        i64::from(spec.last_key)
    };
    let last = usize::try_from(last)
        .unwrap_or(0)
        .min(argc.saturating_sub(1));
    let step = spec.key_step.max(1) as usize;
    (first..=last).step_by(step).filter(move |_| first > 0)
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' `, cut as Redis cuts it:
/// the name to 128 bytes, the argument list to about 128 bytes.
fn unknown_command(w: &mut Writer<'_>, args: Args<'_>) {
    let name = args.get(0);
    let mut msg = [0u8; 512];
    let mut len = 0;
    let mut put = |bytes: &[u8], len: &mut usize| {
        let n = bytes.len().min(msg.len() - *len);
        msg[*len..*len + n].copy_from_slice(&bytes[..n]);
        *len += n;
    };
    put(b"ERR unknown command '", &mut len);
    put(&name[..name.len().min(128)], &mut len);
    put(b"', with args beginning with: ", &mut len);
    let list_start = len;
    for arg in args.iter_from(1) {
        let used = len - list_start;
        if used >= 128 {
            break;
        }
        put(b"'", &mut len);
        put(&arg[..arg.len().min(128 - used)], &mut len);
        put(b"' ", &mut len);
    }
    w.error(&msg[..len]);
}

/// Expiry options as SET, GETEX and the EXPIRE family take them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TimeUnit {
    Seconds,
    Millis,
}

/// A client's expire time as unix milliseconds; `None` when it overflows (Redis's
/// `invalid expire time`).
fn expire_millis(now_ms: u64, amount: i64, unit: TimeUnit, absolute: bool) -> Option<i64> {
    let ms = match unit {
        TimeUnit::Seconds => amount.checked_mul(1000)?,
        TimeUnit::Millis => amount,
    };
    if absolute {
        Some(ms)
    } else {
        ms.checked_add(i64::try_from(now_ms).ok()?)
    }
}

/// A client's expire time, resolved against the right clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ExpireAt {
    /// Unix milliseconds.
    at_ms: i64,
    /// Already past: relative times against the store clock they count from, absolute
    /// times against the system clock (Redis deletes such a key at once).
    past: bool,
}

impl ExpireAt {
    /// Resolves `amount` as EX/PX (relative) or EXAT/PXAT (absolute); `None` when it
    /// overflows (Redis's `invalid expire time`).
    fn resolve(ctx: &Context, amount: i64, unit: TimeUnit, absolute: bool) -> Option<ExpireAt> {
        let base = now_millis(ctx);
        let at_ms = expire_millis(base, amount, unit, absolute)?;
        let now = if absolute { unix_millis() } else { base };
        Some(ExpireAt {
            at_ms,
            past: at_ms <= 0 || at_ms as u64 <= now,
        })
    }

    /// The store keeps the exact millisecond. A past time is `AtMs(0)`, expired at once.
    fn expiry(self) -> Expiry {
        if self.past {
            Expiry::AtMs(0)
        } else {
            Expiry::AtMs(self.at_ms as u64)
        }
    }
}

/// The base of relative expire times and TTLs: the real clock in milliseconds (the store
/// clock's `now_ms`, which a test's manual clock moves).
fn now_millis(ctx: &Context) -> u64 {
    ctx.store.clock().now_ms()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_case() {
        assert_eq!(registry().lookup(b"GeT").map(|s| s.name), Some("get"));
        assert!(registry().lookup(b"gets").is_none());
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let keys = |name: &[u8], argc| {
            key_positions(registry().lookup(name).unwrap(), argc).collect::<Vec<_>>()
        };
        assert_eq!(keys(b"get", 2), vec![1]);
        assert_eq!(keys(b"mset", 5), vec![1, 3]);
        assert_eq!(keys(b"del", 4), vec![1, 2, 3]);
        assert_eq!(keys(b"rename", 3), vec![1, 2]);
        assert_eq!(keys(b"ping", 1), Vec::<usize>::new());
        assert_eq!(keys(b"expire", 4), vec![1]);
    }

    #[test]
    fn unknown_command_text() {
        let mut p = Parser::default();
        let input = b"foo a b c\r\n";
        p.parse(
            input,
            Limits {
                max_bulk: 100,
                authenticated: true,
            },
        )
        .unwrap();
        let mut out = Vec::new();
        unknown_command(
            &mut Writer {
                out: &mut out,
                resp3: false,
            },
            p.args(input),
        );
        assert_eq!(
            out,
            b"-ERR unknown command 'foo', with args beginning with: 'a' 'b' 'c' \r\n"
        );
    }

    #[test]
    fn unknown_command_text_is_cut_near_128_bytes() {
        let long = "x".repeat(300);
        let input = format!("{long} {long} {long}\r\n");
        let mut p = Parser::default();
        p.parse(
            input.as_bytes(),
            Limits {
                max_bulk: 100,
                authenticated: true,
            },
        )
        .unwrap();
        let mut out = Vec::new();
        unknown_command(
            &mut Writer {
                out: &mut out,
                resp3: false,
            },
            p.args(input.as_bytes()),
        );
        let want = format!(
            "-ERR unknown command '{}', with args beginning with: '{}' \r\n",
            "x".repeat(128),
            "x".repeat(128)
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn expire_times_round_up_and_overflow_as_redis() {
        let now = 1_700_000_000_000;
        let at = |a, u, abs| expire_millis(now, a, u, abs);
        assert_eq!(at(10, TimeUnit::Seconds, false), Some(1_700_000_010_000));
        assert_eq!(at(1, TimeUnit::Millis, false), Some(1_700_000_000_001));
        assert_eq!(at(1500, TimeUnit::Millis, true), Some(1500));
        assert_eq!(at(-5, TimeUnit::Seconds, false), Some(1_699_999_995_000));
        assert_eq!(at(i64::MAX, TimeUnit::Seconds, false), None);
        assert_eq!(at(i64::MAX, TimeUnit::Millis, false), None);
        assert_eq!(at(i64::MIN / 999, TimeUnit::Seconds, true), None);
        let future = |at_ms| ExpireAt { at_ms, past: false }.expiry();
        assert_eq!(future(1_700_000_000_001), Expiry::AtMs(1_700_000_000_001));
        assert_eq!(future(1_700_000_001_000), Expiry::AtMs(1_700_000_001_000));
        assert_eq!(
            ExpireAt {
                at_ms: 5,
                past: true
            }
            .expiry(),
            Expiry::AtMs(0)
        );
    }

    #[test]
    fn past_is_judged_by_the_clock_the_time_counts_from() {
        let clock = std::sync::Arc::new(crate::storage::Clock::manual(1_000_000));
        let store =
            crate::storage::Store::new(crate::storage::StoreConfig::default(), clock).unwrap();
        let ctx = Context::new(store, crate::config::Settings::default());
        // Relative: against the store clock (here far behind the system clock).
        let r = ExpireAt::resolve(&ctx, 1, TimeUnit::Seconds, false).unwrap();
        assert_eq!((r.past, r.expiry()), (false, Expiry::AtMs(1_000_001_000)));
        let r = ExpireAt::resolve(&ctx, -1, TimeUnit::Seconds, false).unwrap();
        assert!(r.past);
        // Absolute: against the system clock.
        let r = ExpireAt::resolve(&ctx, 1_000_001, TimeUnit::Seconds, true).unwrap();
        assert!(r.past);
        let r = ExpireAt::resolve(&ctx, 4_000_000_000, TimeUnit::Seconds, true).unwrap();
        assert_eq!(
            (r.past, r.expiry()),
            (false, Expiry::AtMs(4_000_000_000_000))
        );
    }
}
