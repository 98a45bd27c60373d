//! memcached text protocol commands (classic and meta) against the store.
//!
//! [`process`] parses one request with [`crate::protocol::memcache::parse`], runs it and
//! appends the reply. Counters move as memcached 1.6.18's do (checked side by side: mg counts
//! hits and misses but not cmd_get, only `me` counts cmd_meta, a refused oversized value
//! counts store_too_large but not cmd_set); each session bumps only its own worker's
//! [`ThreadStats`].
//!
//! Where slabd knowingly differs from memcached 1.6.18:
//! - a rejected storage command's error is sent at once, not after its data was discarded;
//! - meta flags newer than 1.6.18 are accepted: `E` (new CAS) on mg/ms/md/ma, `x` on md,
//!   `S` on ms (ignored, the length is positional);
//! - `stats` and `stats settings` print every name memcached 1.6.18 prints, in its order;
//!   counters of machinery slabd does not have (segmented LRU moves, log watchers, page
//!   mover rescues, extstore and TLS settings) print 0 or memcached's defaults
//!   (`stats.rs`, `zeros`); `lru tune|mode` and `lru_crawler tocrawl|sleep` are
//!   answered as memcached answers them and change only what `stats settings` shows
//!   (`lru temp_ttl` sets the store's temporary TTL).

mod admin;
mod auth;
pub mod binary;
mod limits;
mod pause;
mod watch;
pub use auth::add_file_users;
mod login;
mod meta;
mod receive;
pub mod send;
mod stats;

use crate::hub::monitor::stream;
use crate::hub::notify;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::{Context, Protocol, Session, Step};
use crate::config::{BindingProtocol, Settings};
use crate::protocol::memcache::{
    parse, write_u64, Command, Error, Limits, Parsed, Reply, StoreLine, StoreVerb,
};
use crate::stats::{bump, ThreadStats};
use crate::storage::{
    Arith, ArithOutcome, Delete, DeleteOutcome, Expiry, Lookup, Miss, Mode, ReadOptions, Reserved,
    StoreOutcome, Write,
};
use limits::Admit;

/// The memcached release whose protocol and replies slabd reproduces (`version`, `stats`).
pub const MEMCACHED_VERSION: &str = "1.6.18";

/// memcached's smallest `cache_memlimit`, in megabytes.
const MEMLIMIT_MIN_MB: u64 = 8;

/// Per connection state of the memcached protocol.
#[derive(Debug, Default)]
pub struct State {
    /// Bytes of a rejected storage command's data block still to be thrown away.
    swallow: usize,
    /// ASCII login: bytes of the `user pass\r\n` block the `set` line announced.
    login_pending: Option<usize>,
    /// SASL PLAIN was started without its message; SASL_STEP carries it.
    sasl_started: bool,
    /// What [`ClientInfo::memcache_nread`](crate::commands::ClientInfo) says, so that it
    /// is written only when it changes.
    nread: bool,
    /// Replies in the unwritten output, under `-o read_buf_mem_limit` (see `limits.rs`).
    replies: usize,
    /// `-vv`: the reply a `noreply` request would have had (memcached logs
    /// `NOREPLY STORED`); see [`crate::server::trace`].
    noreply_reply: Option<Vec<u8>>,
    /// Large values may be received straight into their item (a stream connection; see
    /// `receive.rs`).
    direct: bool,
    /// The storage command whose value is being received, and its key.
    receiving: Option<receive::Receiving>,
    recv_key: Vec<u8>,
    /// Large values of replies in the write buffer, sent from their pinned items
    /// (`send.rs`).
    pub pinned: std::cell::RefCell<send::PinnedOutput>,
}

impl State {
    /// The next input bytes are the rest of a refused data block, no request.
    pub fn swallowing(&self) -> bool {
        self.swallow > 0
    }

    /// `-vv`: what the last `noreply` request would have answered.
    pub fn take_noreply_reply(&mut self) -> Option<Vec<u8>> {
        self.noreply_reply.take()
    }

    /// Lets large values be received straight into their items (stream connections).
    pub fn allow_direct(&mut self) {
        self.direct = true;
    }

    /// The item whose value the connection reads from the socket next, while bytes of the
    /// value are still to come.
    pub fn value_sink(&mut self) -> Option<&mut Reserved> {
        self.receiving
            .as_mut()
            .map(|r| &mut r.reserved)
            .filter(|r| r.remaining() > 0)
    }

    /// A binary value is in its item whole but its command has not run: the connection
    /// serves the session even with no input (a binary value has no `\r\n` to wait for).
    pub fn value_received(&self) -> bool {
        self.receiving
            .as_ref()
            .is_some_and(receive::Receiving::binary_complete)
    }
}

/// The connection is closing: frees an item whose value was still being received and
/// gives back the items of unsent replies.
pub fn close(ctx: &Context, session: &mut Session) {
    receive::abandon(ctx, session);
    session.memcache.pinned.get_mut().clear(&ctx.store);
}

/// Server-wide state of the memcached protocol (`stats detail`, run-time tunables).
#[derive(Debug)]
pub struct Shared {
    /// `stats detail on`: count requests per key prefix (memcached takes a global lock for
    /// this too, so it is off by default).
    detail: AtomicBool,
    prefixes: Mutex<HashMap<Vec<u8>, PrefixCounts>>,
    /// `lru_crawler enable|disable` (starts as `-o lru_crawler`).
    crawler: AtomicBool,
    /// `stats sizes_enable|sizes_disable` (starts as `-o track_sizes`).
    track_sizes: AtomicBool,
    /// memcached's segmented-LRU tunables, set by `lru` and printed by `stats settings`.
    lru: Mutex<LruTuning>,
    /// Listening sockets, for `stats conns`.
    listeners: Mutex<Vec<ListenerInfo>>,
    /// Replies a connection may have unwritten (`-o read_buf_mem_limit`; None: no limit).
    response_budget: Option<usize>,
}

/// A listening socket as `stats conns` shows it.
#[derive(Clone, Debug)]
struct ListenerInfo {
    fd: u32,
    /// `tcp:ADDR`, `udp:ADDR` or `unix:PATH`.
    addr: String,
    udp: bool,
}

/// What `lru tune|mode|temp_ttl` set. slabd's CLOCK has no segments: kept for `stats
/// settings` and so that tools that tune memcached get memcached's replies.
#[derive(Clone, Copy, Debug)]
struct LruTuning {
    segmented: bool,
    hot_pct: u32,
    warm_pct: u32,
    hot_factor: f64,
    warm_factor: f64,
    temp_lru: bool,
    temporary_ttl: i32,
}

impl Shared {
    pub fn new(settings: &Settings) -> Shared {
        Shared {
            detail: AtomicBool::new(false),
            prefixes: Mutex::default(),
            crawler: AtomicBool::new(settings.lru_crawler),
            track_sizes: AtomicBool::new(settings.track_sizes),
            lru: Mutex::new(LruTuning {
                segmented: true,
                hot_pct: 20,
                warm_pct: 40,
                hot_factor: 0.2,
                warm_factor: 2.0,
                temp_lru: settings.temporary_ttl.is_some(),
                temporary_ttl: settings.temporary_ttl.unwrap_or(61),
            }),
            listeners: Mutex::default(),
            response_budget: limits::response_budget(settings),
        }
    }

    /// Records a listening socket for `stats conns` (`addr` as `tcp:…`, `udp:…`, `unix:…`).
    /// A listener closed at run time (CONFIG SET port / tls-port).
    pub fn remove_listener(&self, fd: i32) {
        self.listeners.lock().retain(|l| l.fd != fd as u32);
    }

    pub fn add_listener(&self, fd: i32, addr: String) {
        let udp = addr.starts_with("udp:");
        self.listeners.lock().push(ListenerInfo {
            fd: fd as u32,
            addr,
            udp,
        });
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct PrefixCounts {
    get: u64,
    hit: u64,
    set: u64,
    del: u64,
}

/// Which per-prefix counter a request moves.
#[derive(Clone, Copy)]
enum PrefixOp {
    Get { hit: bool },
    Set,
    Delete,
}

impl Shared {
    fn record(&self, key: &[u8], op: PrefixOp) {
        if !self.detail.load(Ordering::Relaxed) {
            return;
        }
        // memcached's default stat_key_prefix; keys without it are not counted.
        let Some(end) = key.iter().position(|&b| b == b':') else {
            return;
        };
        let mut map = self.prefixes.lock();
        let counts = match map.get_mut(&key[..end]) {
            Some(c) => c,
            None => map.entry(key[..end].to_vec()).or_default(),
        };
        match op {
            PrefixOp::Get { hit } => {
                counts.get += 1;
                counts.hit += u64::from(hit);
            }
            PrefixOp::Set => counts.set += 1,
            PrefixOp::Delete => counts.del += 1,
        }
    }
}

/// The protocol a connection on the memcached port speaks, from its first byte and `-B`
/// (memcached's `try_read_command_negotiate`; RESP is slabd's own addition, behind the same
/// user model as the text protocol's login).
pub fn detect(settings: &Settings, first: u8) -> Protocol {
    match settings.binding_protocol {
        BindingProtocol::Binary => Protocol::MemcacheBinary,
        BindingProtocol::Auto if first == crate::protocol::memcache::binary::REQUEST_MAGIC => {
            Protocol::MemcacheBinary
        }
        _ if first == b'*' => Protocol::Resp,
        _ => Protocol::Memcache,
    }
}

/// Handles at most one request (or one piece of a data block being thrown away).
pub fn process(ctx: &Context, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    if session.memcache.swallow > 0 {
        if input.is_empty() {
            return Step::Incomplete;
        }
        let n = session.memcache.swallow.min(input.len());
        session.memcache.swallow -= n;
        return Step::Done(n);
    }
    if session.memcache.receiving.is_some() {
        return receive::step(ctx, session, input, out);
    }
    if ctx.settings.null_server {
        return null_reply(input, out);
    }
    match session.login(&ctx.users) {
        None => return Step::Close,
        Some(login) if !login.authenticated => return login::exchange(ctx, session, input, out),
        Some(_) => {}
    }
    if let Some(step) = watch::command(ctx, session, input, out) {
        return step;
    }
    let limits = Limits {
        item_size_max: ctx.settings.item_size_max,
    };
    let mut parsed = parse(input, &limits);
    let stats = &ctx.threads[session.worker];
    // A whole line without its data block: the connection is in memcached's conn_nread.
    let nread = matches!(parsed, Parsed::Incomplete) && memchr::memchr(b'\n', input).is_some();
    if nread != session.memcache.nread {
        session.memcache.nread = nread;
        session.info.memcache_nread.store(nread, Ordering::Relaxed);
    }
    match parsed {
        Parsed::Incomplete if nread => {
            receive::begin(ctx, session, input, &limits).unwrap_or(Step::Incomplete)
        }
        Parsed::Incomplete => Step::Incomplete,
        Parsed::Rejected {
            error,
            consumed,
            swallow,
            noreply,
            stale,
        } => {
            if error.closes() {
                return Step::Close;
            }
            if error == Error::TooLarge {
                bump(&stats.store_too_large);
            }
            if let Some(key) = stale {
                watch::looked_up(ctx, session, key.bytes());
                ctx.store.delete(&Delete {
                    db: 0,
                    key: key.bytes(),
                    compare_cas: None,
                    invalidate: None,
                    drop_value: false,
                });
            }
            if !noreply {
                Reply::Error(error).write(out);
            }
            session.memcache.swallow = swallow;
            Step::Done(consumed)
        }
        // `ref mut`: a command is ~300 bytes (a meta key's decoded buffer); each move of it
        // was a copy (~150 instructions a request in callgrind).
        Parsed::Request {
            ref mut command,
            consumed,
        } => {
            if let Some(step) = pause::held(&ctx.hub, session, command) {
                return step;
            }
            if ctx.hub.watchers.wanted(stream::MONITOR) {
                let hub = &ctx.hub;
                let at = crate::commands::timing::wall_now_us();
                hub.watchers
                    .monitor_memcache(hub, at, &session.info.addr, &input[..consumed]);
            }
            session
                .info
                .last_cmd
                .store(ctx.store.clock().now(), Ordering::Relaxed);
            if login::refused(session, command, out) {
                return Step::Done(consumed);
            }
            if let Some(budget) = ctx.memcache.response_budget {
                let replies = match command {
                    Command::Get { keys, .. } => keys.iter().count().max(1),
                    _ => 1,
                };
                if limits::admit(budget, &mut session.memcache, out, replies) != Admit::Run {
                    bump(&stats.response_obj_oom);
                    if !matches!(command, Command::Get { .. }) {
                        // memcached closes without sending what was pending.
                        out.clear();
                        session.memcache.pinned.get_mut().clear(&ctx.store);
                        return Step::Close;
                    }
                    out.extend_from_slice(b"SERVER_ERROR out of memory writing get response\r\n");
                    return Step::Done(consumed);
                }
            }
            let timer = crate::hub::OBSERVE.then(crate::commands::timing::Timer::start);
            let step = match command.noreply_mut().filter(|n| **n) {
                Some(noreply) if ctx.verbosity.load(Ordering::Relaxed) >= 2 => {
                    // memcached logs the reply it did not send: run it with the reply on,
                    // keep the reply for the log and send nothing.
                    *noreply = false;
                    let mark = out.len();
                    let step = execute(ctx, session, command, out);
                    session.memcache.noreply_reply = Some(out.split_off(mark));
                    step
                }
                _ => execute(ctx, session, command, out),
            };
            if let Some(timer) = timer {
                let ran = timer.stop();
                let info = &session.info;
                super::resp::memcache_ran(ctx, info, session.worker, &input[..consumed], ran);
            }
            step.unwrap_or(Step::Done(consumed))
        }
    }
}

/// `-o null_server`: frames one request (a line, and a storage command's data block) and
/// answers fixed bytes, touching no storage.
fn null_reply(input: &[u8], out: &mut Vec<u8>) -> Step {
    let Some(nl) = memchr::memchr(b'\n', input) else {
        return Step::Incomplete;
    };
    let line = &input[..nl];
    let stores = [
        &b"set "[..],
        b"add ",
        b"replace ",
        b"append ",
        b"prepend ",
        b"cas ",
    ];
    if !stores.iter().any(|v| line.starts_with(v)) {
        out.extend_from_slice(b"END\r\n");
        return Step::Done(nl + 1);
    }
    let len = line
        .split(|&b| b == b' ' || b == b'\r')
        .filter(|w| !w.is_empty())
        .nth(4)
        .and_then(crate::protocol::memcache::parse_u64)
        .unwrap_or(0) as usize;
    let need = nl + 1 + len + 2;
    if input.len() < need {
        return Step::Incomplete;
    }
    out.extend_from_slice(b"STORED\r\n");
    Step::Done(need)
}

/// Runs one command, then logs what it changed when the append-only file is on.
// By reference: a command is ~300 bytes (a meta key's decoded buffer), which each move
// copied (~150 instructions a request in callgrind).
fn execute(ctx: &Context, session: &Session, cmd: &Command<'_>, out: &mut Vec<u8>) -> Option<Step> {
    if ctx.persist.gate.load(std::sync::atomic::Ordering::Relaxed)
        & crate::persist::service::GATE_LOADING
        != 0
        && !matches!(
            cmd,
            Command::Version
                | Command::Quit
                | Command::Shutdown { .. }
                | Command::Stats(_)
                | Command::Verbosity { .. }
        )
    {
        out.extend_from_slice(b"SERVER_ERROR loading\r\n");
        return None;
    }
    if !ctx.persist.aof.is_on() {
        return execute_command(ctx, session, cmd, out);
    }
    use crate::persist::aof_log::{record_memcache, record_memcache_flush};
    let key: Option<Vec<u8>> = match cmd {
        Command::Store { key, .. }
        | Command::Delete { key, .. }
        | Command::Arith { key, .. }
        | Command::Touch { key, .. } => Some(key.to_vec()),
        Command::MetaGet { key, .. }
        | Command::MetaSet { key, .. }
        | Command::MetaDelete { key, .. }
        | Command::MetaArith { key, .. } => Some(key.bytes().to_vec()),
        _ => None,
    };
    let touched: Vec<Vec<u8>> = match cmd {
        Command::Get {
            keys,
            touch: Some(_),
            ..
        } => keys.iter().map(|k| k.to_vec()).collect(),
        _ => Vec::new(),
    };
    let flush = matches!(cmd, Command::FlushAll { delay: 0, .. });
    let step = execute_command(ctx, session, cmd, out);
    for k in key.iter().chain(touched.iter()) {
        record_memcache(ctx, k);
    }
    if flush {
        record_memcache_flush(ctx);
    }
    step
}

/// Runs one command; `Some(step)` when the connection does something other than go on.
fn execute_command(
    ctx: &Context,
    session: &Session,
    cmd: &Command<'_>,
    out: &mut Vec<u8>,
) -> Option<Step> {
    let clock = ctx.store.clock();
    match *cmd {
        Command::Get { keys, cas, touch } => {
            let opts = ReadOptions {
                touch: touch.map(|t| clock.memcache_expiry(t)),
                is_fetch: true,
                strings_only: true,
                ..ReadOptions::default()
            };
            for key in keys.iter() {
                get_one(ctx, session, key, cas, &opts, out);
            }
            Reply::End.write(out);
        }
        Command::Store {
            verb,
            key,
            flags,
            exptime,
            data,
            cas_unique,
            noreply,
        } => {
            let line = StoreLine {
                verb,
                key,
                flags,
                exptime,
                len: data.len(),
                cas_unique,
                noreply,
                line_len: 0,
            };
            store(ctx, session, &line, Value::Bytes(data), out);
        }
        Command::Delete { key, noreply } => delete(ctx, session, key, noreply, out),
        Command::Arith {
            incr,
            key,
            delta,
            noreply,
        } => arith(ctx, session, key, incr, delta, noreply, out),
        Command::Touch {
            key,
            exptime,
            noreply,
        } => touch(ctx, session, key, exptime, noreply, out),
        Command::MetaGet { ref key, ref flags } => meta::get(ctx, session, key, flags, out),
        Command::MetaSet {
            ref key,
            ref flags,
            data,
        } => meta::set(ctx, session, key, flags, data, out),
        Command::MetaDelete { ref key, ref flags } => meta::delete(ctx, session, key, flags, out),
        Command::MetaArith { ref key, ref flags } => meta::arith(ctx, session, key, flags, out),
        Command::MetaDebug { ref key } => meta::debug(ctx, session, key, out),
        Command::MetaNoop => Reply::MetaNoop.write(out),
        _ => return admin::execute(ctx, session, cmd, out),
    }
    None
}

/// `delete <key> [noreply]`.
fn delete(ctx: &Context, session: &Session, key: &[u8], noreply: bool, out: &mut Vec<u8>) {
    let stats = &ctx.threads[session.worker];
    ctx.memcache.record(key, PrefixOp::Delete);
    watch::looked_up(ctx, session, key);
    let (outcome, class) = ctx.store.delete_in_class(&Delete {
        db: 0,
        key,
        compare_cas: None,
        invalidate: None,
        drop_value: false,
    });
    let reply = match outcome {
        DeleteOutcome::Deleted => {
            count_delete(stats, class);
            ctx.notify(notify::GENERIC, "del", 0, key);
            Reply::Deleted
        }
        DeleteOutcome::NotFound | DeleteOutcome::Exists => {
            bump(&stats.delete_misses);
            Reply::NotFound
        }
    };
    if !noreply {
        reply.write(out);
    }
}

/// `incr|decr <key> <delta> [noreply]`.
fn arith(
    ctx: &Context,
    session: &Session,
    key: &[u8],
    incr: bool,
    delta: u64,
    noreply: bool,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    watch::looked_up(ctx, session, key);
    let outcome = ctx.store.arith(&Arith {
        db: 0,
        key,
        incr,
        delta,
        compare_cas: None,
        new_cas: None,
        vivify: None,
        touch: None,
    });
    count_arith(ctx, stats, key, incr, &outcome);
    if matches!(outcome, ArithOutcome::Value { .. }) {
        ctx.notify(notify::STRING, "incrby", 0, key);
    }
    if noreply {
        return;
    }
    match outcome {
        ArithOutcome::Value { value, .. } => {
            write_u64(out, value);
            out.extend_from_slice(b"\r\n");
        }
        ArithOutcome::NotFound | ArithOutcome::Exists => Reply::NotFound.write(out),
        ArithOutcome::NonNumeric => Reply::NonNumeric.write(out),
        ArithOutcome::NoMemory => Reply::NoMemory.write(out),
    }
}

/// `touch <key> <exptime> [noreply]`: a read that touches; it sees strings only, so a
/// collection is NOT_FOUND.
fn touch(
    ctx: &Context,
    session: &Session,
    key: &[u8],
    exptime: i64,
    noreply: bool,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    bump(&stats.cmd_touch);
    let touch = ReadOptions {
        touch: Some(ctx.store.clock().memcache_expiry(exptime)),
        is_fetch: true,
        strings_only: true,
        ..ReadOptions::default()
    };
    let found = ctx.store.get(0, key, &touch, watch::seen);
    if ctx.hub.watchers.wanted(stream::FETCHERS) {
        let seen = match found {
            Lookup::Hit(seen) => Some(seen),
            _ => None,
        };
        watch::fetched(ctx, session, key, &found, seen);
    }
    let reply = if let Lookup::Hit((class, _)) = found {
        bump(&stats.touch_hits);
        bump(&stats.classes.of(class).touch_hits);
        ctx.notify(notify::GENERIC, "expire", 0, key);
        Reply::Touched
    } else {
        bump(&stats.touch_misses);
        Reply::NotFound
    };
    if !noreply {
        reply.write(out);
    }
}

/// Where a storage command's value is: in the request, or already received into a
/// reserved item (`receive.rs`).
pub(super) enum Value<'a> {
    Bytes(&'a [u8]),
    Reserved(Reserved),
}

/// Runs a classic storage command (`set`, `add`, ..., `cas`) and writes its reply.
fn store(ctx: &Context, session: &Session, l: &StoreLine<'_>, value: Value<'_>, out: &mut Vec<u8>) {
    let stats = &ctx.threads[session.worker];
    let clock = ctx.store.clock();
    let StoreLine {
        verb,
        key,
        flags,
        exptime,
        cas_unique,
        noreply,
        ..
    } = *l;
    let data_len = l.len;
    let data: &[u8] = match &value {
        Value::Bytes(d) => d,
        Value::Reserved(_) => &[],
    };
    let mode = match verb {
        StoreVerb::Set | StoreVerb::Cas => Mode::Set,
        StoreVerb::Add => Mode::Add,
        StoreVerb::Replace => Mode::Replace,
        StoreVerb::Append => Mode::Append,
        StoreVerb::Prepend => Mode::Prepend,
    };
    let mut w = Write::new(0, key, data, flags, clock.memcache_expiry(exptime), mode);
    if verb == StoreVerb::Cas {
        w.compare_cas = Some(cas_unique);
    }
    let class = ctx.store.class_of(key.len(), data_len);
    count_set(stats, class);
    ctx.memcache.record(key, PrefixOp::Set);
    let cmd = match verb {
        StoreVerb::Set => "set",
        StoreVerb::Add => "add",
        StoreVerb::Replace => "replace",
        StoreVerb::Append => "append",
        StoreVerb::Prepend => "prepend",
        StoreVerb::Cas => "cas",
    };
    let append = matches!(verb, StoreVerb::Append | StoreVerb::Prepend);
    let outcome = watch::store(ctx, session, &w, value, data_len, cmd);
    count_store(stats, class, verb == StoreVerb::Cas, outcome);
    if matches!(outcome, StoreOutcome::Stored { .. }) {
        ctx.notify(
            notify::STRING,
            if append { "append" } else { "set" },
            0,
            key,
        );
        if exptime != 0 && !append {
            ctx.notify(notify::GENERIC, "expire", 0, key);
        }
    }
    let reply = match outcome {
        StoreOutcome::Stored { .. } => Reply::Stored,
        StoreOutcome::NotStored => Reply::NotStored,
        StoreOutcome::Exists => Reply::Exists,
        StoreOutcome::NotFound => Reply::NotFound,
        StoreOutcome::TooLarge => Reply::TooLarge,
        StoreOutcome::NoMemory => Reply::NoMemory,
    };
    if !noreply {
        reply.write(out);
    }
}

/// One key of get/gets/gat/gats: `VALUE key flags bytes [cas]` and the data, or nothing.
fn get_one(
    ctx: &Context,
    session: &Session,
    key: &[u8],
    cas: bool,
    opts: &ReadOptions,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    bump(&stats.cmd_get);
    if opts.touch.is_some() {
        bump(&stats.cmd_touch);
    }
    let mut seen = None;
    let mut class = 0;
    let found = ctx.store.get(0, key, opts, |item| {
        seen = Some(watch::seen(item));
        class = item.slab_class();
        out.extend_from_slice(b"VALUE ");
        out.extend_from_slice(key);
        out.push(b' ');
        write_u64(out, u64::from(item.flags()));
        out.push(b' ');
        write_u64(out, item.value_len() as u64);
        if cas {
            out.push(b' ');
            write_u64(out, item.cas());
        }
        out.extend_from_slice(b"\r\n");
        if !send::pin_value(ctx, session, item, out.len()) {
            item.copy_value_to(out);
        }
        out.extend_from_slice(b"\r\n");
    });
    let hit = matches!(found, Lookup::Hit(()));
    if ctx.hub.watchers.wanted(stream::FETCHERS) {
        watch::fetched(ctx, session, key, &found, seen);
    }
    count_lookup(stats, opts.touch.is_some(), &found, class);
    ctx.memcache.record(key, PrefixOp::Get { hit });
}

/// Read counters as memcached 1.6.18 keeps them: a read that touches (gat, mg T) counts as
/// a touch hit or miss instead of a get hit or miss; misses are also counted by kind. A hit
/// also counts for the item's slab `class`.
fn count_lookup<R>(stats: &ThreadStats, touch: bool, found: &Lookup<R>, class: u8) {
    let hit = matches!(found, Lookup::Hit(_));
    let per_class = stats.classes.of(class);
    match (touch, hit) {
        (true, true) => {
            bump(&stats.touch_hits);
            bump(&per_class.touch_hits);
        }
        (true, false) => bump(&stats.touch_misses),
        (false, true) => {
            bump(&stats.get_hits);
            bump(&per_class.get_hits);
        }
        (false, false) => bump(&stats.get_misses),
    }
    match found {
        Lookup::Miss(Miss::Expired) => bump(&stats.get_expired),
        Lookup::Miss(Miss::Flushed) => bump(&stats.get_flushed),
        _ => {}
    }
}

/// A storage command: `cmd_set` for the slab `class` the new item goes to (memcached counts
/// it once the item is allocated, so a value larger than `-I`, class 0, counts nowhere).
fn count_set(stats: &ThreadStats, class: u8) {
    if class != 0 {
        bump(&stats.cmd_set);
        bump(&stats.classes.of(class).cmd_set);
    }
}

/// memcached counts cas_hits / cas_badval in the class of the item replaced; slabd uses
/// the class of the new value (the same class unless the value's size changed class).
fn count_store(stats: &ThreadStats, class: u8, cas: bool, outcome: StoreOutcome) {
    let per_class = stats.classes.of(class);
    match outcome {
        StoreOutcome::TooLarge => bump(&stats.store_too_large),
        StoreOutcome::NoMemory => bump(&stats.store_no_memory),
        StoreOutcome::Stored { .. } if cas => {
            bump(&stats.cas_hits);
            bump(&per_class.cas_hits);
        }
        StoreOutcome::Exists if cas => {
            bump(&stats.cas_badval);
            bump(&per_class.cas_badval);
        }
        StoreOutcome::NotFound if cas => bump(&stats.cas_misses),
        _ => {}
    }
}

fn count_delete(stats: &ThreadStats, class: u8) {
    bump(&stats.delete_hits);
    bump(&stats.classes.of(class).delete_hits);
}

/// incr/decr hits, also per class: that of an item holding the new value's digits (the
/// item's own class unless the number's length crossed a class boundary).
fn count_arith(ctx: &Context, stats: &ThreadStats, key: &[u8], incr: bool, outcome: &ArithOutcome) {
    let class = match outcome {
        ArithOutcome::Value { value, .. } => {
            let mut digits = 1;
            let mut v = *value;
            while v >= 10 {
                v /= 10;
                digits += 1;
            }
            Some(stats.classes.of(ctx.store.class_of(key.len(), digits)))
        }
        _ => None,
    };
    match (incr, class) {
        (true, Some(c)) => {
            bump(&stats.incr_hits);
            bump(&c.incr_hits);
        }
        (true, None) => bump(&stats.incr_misses),
        (false, Some(c)) => {
            bump(&stats.decr_hits);
            bump(&c.decr_hits);
        }
        (false, None) => bump(&stats.decr_misses),
    }
}

/// flush_all's delay in seconds from now: relative up to 30 days, else a unix time.
fn flush_delay(clock: &crate::storage::Clock, delay: i64) -> u32 {
    match clock.memcache_expiry(delay) {
        Expiry::Never => 0,
        Expiry::AtMs(ms) => {
            u32::try_from((ms / 1000).saturating_sub(clock.unix_now())).unwrap_or(u32::MAX)
        }
    }
}

/// Remaining seconds of an expiry as the meta `t` flag and `me` show it (-1: never).
fn ttl_remaining(clock: &crate::storage::Clock, expiry: Expiry) -> i64 {
    match expiry {
        Expiry::Never => -1,
        Expiry::AtMs(ms) => (ms / 1000) as i64 - clock.unix_now() as i64,
    }
}

#[cfg(test)]
mod tests;
