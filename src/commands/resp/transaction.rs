//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! After MULTI every command but EXEC, DISCARD, MULTI, WATCH and QUIT is checked (unknown
//! command, arity, authentication, key length) and queued with `+QUEUED`; a command that
//! fails those checks is answered with its error and makes EXEC answer `-EXECABORT`. EXEC
//! runs the queue and replies with an array of the replies, as Redis 7.0 does.
//!
//! **Isolation.** EXEC checks the watched keys and runs its queue inside one exclusive
//! section of the atomicity gate ([`crate::commands::gate`]): no other client's command,
//! over RESP or memcached, on any worker, runs between the check and the last queued
//! command, as in Redis. Commands outside transactions pay one uncontended lock per
//! event-loop turn for this, not one per request.
//!
//! WATCH is optimistic, with two signals: every client write of a watched key raises the
//! watcher's flag ([`crate::commands::watch`], Redis's touched keys: a key created and
//! deleted again, an EXPIRE to the same time, a SET of the same bytes all count), and EXEC
//! also compares a fingerprint of each key taken at WATCH (CAS, expiry, flags, length; a
//! hash of the value when CAS is off, `-C`) or that it was absent, which sees what the
//! store does on its own: expiry and eviction make a watched key absent, FLUSHDB/FLUSHALL
//! and SWAPDB remove or replace it (a key absent before and after stays untouched, as in
//! Redis). EXEC replies with a null array when either says the key changed.
//!
//! Queued arguments are copied out of the input buffer (the input is reused once the
//! request is answered). A queue holds at most [`QUEUE_MAX_COMMANDS`] commands and
//! [`QUEUE_MAX_BYTES`] bytes (each argument costs its length plus 16), and a connection
//! watches at most [`WATCH_MAX_KEYS`] keys; past a bound the command gets an error (and a
//! queue's EXEC then aborts), so a client cannot make the server hold unbounded memory.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use super::registry::{flag, registry, spec, Spec};
use super::Call;
use crate::commands::watch::{DirtyFlag, Watches};
use crate::commands::ClientInfo;
use crate::protocol::resp::Args;
use crate::server::gather::Home;
use crate::storage::{Expiry, Lookup, ReadOptions};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("multi", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0),
        "transactions", "1.2.0", "Mark the start of a transaction block", multi),
    spec!("exec", 1, ["noscript", "loading", "stale", "skip_slowlog"], (0, 0, 0),
        "transactions", "1.2.0", "Execute all commands issued after MULTI", exec),
    spec!("discard", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0),
        "transactions", "2.0.0", "Discard all commands issued after MULTI", discard),
    spec!("watch", -2, ["noscript", "loading", "stale", "fast", "allow_busy"], (1, -1, 1),
        "transactions", "2.2.0",
        "Watch the given keys to determine execution of the MULTI/EXEC block", watch),
    spec!("unwatch", 1, ["noscript", "loading", "stale", "fast", "allow_busy"], (0, 0, 0),
        "transactions", "2.2.0", "Forget about all watched keys", unwatch),
];

/// Most commands one MULTI may queue (Redis's multibulk argument limit).
pub const QUEUE_MAX_COMMANDS: usize = 1 << 20;
/// Most bytes one MULTI may queue: the bytes copied (a command's arguments and the protocol
/// headers between them) plus 16 per argument for its position.
pub const QUEUE_MAX_BYTES: usize = 64 << 20;
/// Most keys one connection may watch at a time.
pub const WATCH_MAX_KEYS: usize = 1 << 16;
/// Bookkeeping charged per queued argument against [`QUEUE_MAX_BYTES`].
const ARG_OVERHEAD: usize = 16;
/// A queue that grew past this is freed after EXEC or DISCARD rather than kept for reuse.
const QUEUE_KEEP: usize = 64 * 1024;

/// A watched key's state, compared at EXEC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fingerprint {
    cas: u64,
    expiry: Expiry,
    flags: u32,
    len: usize,
    /// Hash of the value when the store keeps no CAS (`-C`), else 0.
    value_hash: u64,
}

/// Commands queued since MULTI, with their arguments copied.
#[derive(Debug, Default)]
struct Queue {
    bytes: Vec<u8>,
    /// `(start, end)` of each argument in `bytes`.
    args: Vec<(usize, usize)>,
    /// End of each command's arguments in `args`, and the command's place in the
    /// [`registry`] (looked up once, when it was queued).
    ends: Vec<(usize, usize)>,
}

impl Queue {
    fn cost(&self) -> usize {
        self.bytes.len() + self.args.len() * ARG_OVERHEAD
    }

    /// Empties the queue, keeping a small one's buffers for the next MULTI.
    fn clear(&mut self) {
        if self.bytes.capacity() + self.args.capacity() * ARG_OVERHEAD > QUEUE_KEEP {
            *self = Queue::default();
        } else {
            self.bytes.clear();
            self.args.clear();
            self.ends.clear();
        }
    }
}

/// A connection's transaction state.
#[derive(Debug, Default)]
pub(super) struct Transaction {
    /// Between MULTI and EXEC/DISCARD: commands are queued.
    open: bool,
    /// A command was rejected while queuing: EXEC answers `-EXECABORT`.
    dirty: bool,
    queue: Queue,
    /// Watched keys (see [`watch_id`]) and what each was at WATCH (`None`: absent).
    watched: HashMap<Box<[u8]>, Option<Fingerprint>>,
    /// Raised by any write of a watched key (registered in [`Watches`]); made at the
    /// connection's first WATCH.
    touched: Option<DirtyFlag>,
}

impl Transaction {
    /// Commands are being queued.
    pub(super) fn queuing(&self) -> bool {
        self.open
    }

    /// Ends the transaction and forgets watched keys (EXEC, DISCARD, EXECABORT).
    fn reset(&mut self, watches: &Watches, info: &ClientInfo) {
        self.open = false;
        self.dirty = false;
        self.queue.clear();
        self.unwatch_all(watches);
        info.set_flag(crate::hub::flag::MULTI, false);
        info.multi.clear();
    }

    /// Forgets every watched key (UNWATCH, and when the transaction ends).
    fn unwatch_all(&mut self, watches: &Watches) {
        if let Some(flag) = &self.touched {
            for id in self.watched.keys() {
                watches.unwatch(id[0], &id[1..], flag);
            }
            flag.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        self.watched.clear();
    }

    /// A watched key was written since WATCH.
    fn touched(&self) -> bool {
        self.touched
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
    }
}

/// The connection is closing or RESET: ends its transaction and its watches.
pub(super) fn forget(ctx: &crate::commands::Context, tx: &mut Transaction, info: &ClientInfo) {
    tx.reset(&ctx.watches, info);
}

/// Commands that run at once even after MULTI (Redis's list).
pub(super) fn runs_at_once(spec: &Spec) -> bool {
    matches!(
        spec.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// After a command was refused before running (its error, starting at `start` in the
/// output, is written): inside MULTI the transaction is marked to abort; a refused EXEC
/// aborts it at once, its error reworded as Redis does
/// (`-EXECABORT Transaction discarded because of: wrong number of arguments…`).
pub(super) fn rejected(call: &mut Call<'_>, spec: Option<&Spec>, start: usize) {
    if spec.is_some_and(|s| s.name == "exec") {
        let out = &mut *call.w.out;
        let code_end = if out[start..].starts_with(b"-ERR ") {
            start + 5
        } else {
            start + 1
        };
        out.splice(
            start..code_end,
            b"-EXECABORT Transaction discarded because of: "
                .iter()
                .copied(),
        );
        call.conn.tx.reset(&call.ctx.watches, call.info);
    } else if call.conn.tx.open {
        call.conn.tx.dirty = true;
    }
}

/// Copies a command (`index` in the [`registry`]) into the queue and answers `+QUEUED`,
/// or refuses it past the bounds or, as Redis does, when the command is flagged
/// `no_multi` (SAVE, SHUTDOWN).
pub(super) fn queue(call: &mut Call<'_>, index: usize, args: Args<'_>) {
    if registry().spec(index).has(flag::NO_MULTI) {
        call.conn.tx.dirty = true;
        call.w
            .error(b"ERR Command not allowed inside a transaction");
        return;
    }
    let q = &mut call.conn.tx.queue;
    // One copy of the arguments with the headers between them (a few bytes each), or
    // argument by argument when they do not lie in order.
    let span = args.span();
    let copied = match span {
        Some((_, bytes)) => bytes.len(),
        None => args.iter_from(0).map(<[u8]>::len).sum(),
    };
    let cost = copied + args.len() * ARG_OVERHEAD;
    if q.ends.len() >= QUEUE_MAX_COMMANDS || q.cost() + cost > QUEUE_MAX_BYTES {
        call.conn.tx.dirty = true;
        call.w.error_fmt(format_args!(
            "ERR MULTI queue is full (slabd queues at most {QUEUE_MAX_COMMANDS} commands \
             and {QUEUE_MAX_BYTES} bytes)"
        ));
        return;
    }
    match span {
        Some((from, bytes)) => {
            let base = q.bytes.len();
            q.bytes.extend_from_slice(bytes);
            let moved = args.ranges().iter();
            q.args
                .extend(moved.map(|&(s, e)| (s - from + base, e - from + base)));
        }
        None => {
            for arg in args.iter_from(0) {
                let start = q.bytes.len();
                q.bytes.extend_from_slice(arg);
                q.args.push((start, q.bytes.len()));
            }
        }
    }
    q.ends.push((q.args.len(), index));
    // What Redis would hold: it queues nothing more once the transaction is doomed
    // (`queueMultiCommand` after an error or a touched watched key).
    if !call.conn.tx.dirty && !call.conn.tx.touched() {
        call.info.multi.queued(args);
    }
    call.w.simple(b"QUEUED");
}

pub(super) fn multi(call: &mut Call<'_>, _args: Args<'_>) {
    if call.conn.tx.open {
        call.w.error(b"ERR MULTI calls can not be nested");
        return;
    }
    call.conn.tx.open = true;
    call.info.set_flag(crate::hub::flag::MULTI, true);
    call.w.ok();
}

pub(super) fn discard(call: &mut Call<'_>, _args: Args<'_>) {
    if !call.conn.tx.open {
        call.w.error(b"ERR DISCARD without MULTI");
        return;
    }
    call.conn.tx.reset(&call.ctx.watches, call.info);
    call.w.ok();
}

pub(super) fn exec(call: &mut Call<'_>, _args: Args<'_>) {
    if !call.conn.tx.open {
        call.w.error(b"ERR EXEC without MULTI");
        return;
    }
    if call.conn.tx.dirty {
        call.conn.tx.reset(&call.ctx.watches, call.info);
        call.w
            .error(b"EXECABORT Transaction discarded because of previous errors.");
        return;
    }
    let ctx = call.ctx;
    ctx.gates.exclusive(|_| run_queue(call));
    // Transaction clients gather on worker 0 as script clients do (`server::gather`): their
    // sections run there back to back and find the other workers' gates free rather than
    // waiting for their turns.
    call.conn.home = Home::Exclusive(0);
}

/// Whether any queued command (known ones: unknown ones were refused) satisfies `pred`
/// (CLIENT PAUSE WRITE holds an EXEC whose queue may write).
pub(super) fn queued_any(call: &Call<'_>, pred: impl Fn(&Spec, Args<'_>) -> bool) -> bool {
    let q = &call.conn.tx.queue;
    let mut from = 0;
    q.ends.iter().any(|&(end, index)| {
        let args = Args::new(&q.bytes, &q.args[from..end]);
        from = end;
        pred(registry().spec(index), args)
    })
}

/// Checks the watched keys and runs the queue; called with no other command running.
fn run_queue(call: &mut Call<'_>) {
    let changed = call.conn.tx.touched()
        || call
            .conn
            .tx
            .watched
            .iter()
            .any(|(id, seen)| fingerprint(call, id[0], &id[1..]) != *seen);
    if changed {
        call.conn.tx.reset(&call.ctx.watches, call.info);
        call.w.null_array();
        return;
    }
    let mut queue = std::mem::take(&mut call.conn.tx.queue);
    call.conn.tx.reset(&call.ctx.watches, call.info);
    call.w.array(queue.ends.len());
    let mut from = 0;
    call.conn.running_exec = true;
    crate::commands::timing::gap_in_queue();
    for &(end, index) in &queue.ends {
        let args = Args::new(&queue.bytes, &queue.args[from..end]);
        super::execute_as(call, args, Some(index));
        from = end;
        // HELLO 3 in the queue switches the replies after it, as in Redis.
        call.w.resp3 = call.conn.resp3;
    }
    call.conn.running_exec = false;
    crate::commands::timing::gap_in_queue();
    queue.clear();
    call.conn.tx.queue = queue;
}

pub(super) fn watch(call: &mut Call<'_>, args: Args<'_>) {
    if call.conn.tx.open {
        call.w.error(b"ERR WATCH inside MULTI is not allowed");
        return;
    }
    let db = call.db();
    let mut id = Vec::new();
    let watched = &call.conn.tx.watched;
    let new = args
        .iter_from(1)
        .filter(|key| !watched.contains_key(watch_id(db, key, &mut id)))
        .count();
    if watched.len() + new > WATCH_MAX_KEYS {
        call.w.error_fmt(format_args!(
            "ERR too many watched keys (slabd watches at most {WATCH_MAX_KEYS} per connection)"
        ));
        return;
    }
    let flag = call
        .conn
        .tx
        .touched
        .get_or_insert_with(|| call.info.dirty_cas.clone())
        .clone();
    for key in args.iter_from(1) {
        let name = watch_id(db, key, &mut id);
        if !call.conn.tx.watched.contains_key(name) {
            // Registered before the state is read, so no write falls between the two.
            call.ctx.watches.watch(db, key, &flag);
            let seen = fingerprint(call, db, key);
            call.conn.tx.watched.insert(name.into(), seen);
        }
    }
    call.w.ok();
}

pub(super) fn unwatch(call: &mut Call<'_>, _args: Args<'_>) {
    call.conn.tx.unwatch_all(&call.ctx.watches);
    call.w.ok();
}

/// A watched key's name in [`Transaction::watched`]: the database, then the key (at most
/// `Store::key_max` bytes, checked before any command runs).
fn watch_id<'a>(db: u8, key: &[u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
    buf.clear();
    buf.push(db);
    buf.extend_from_slice(key);
    buf
}

/// What `key` in `db` is now; `None` when there is no live item.
fn fingerprint(call: &Call<'_>, db: u8, key: &[u8]) -> Option<Fingerprint> {
    let peek = ReadOptions {
        no_bump: true,
        is_fetch: false,
        ..ReadOptions::default()
    };
    let hash_value = !call.ctx.store.config().use_cas;
    let found = call.ctx.store.get(db, key, &peek, |item| {
        let value_hash = if hash_value {
            let mut value = Vec::with_capacity(item.value_len());
            item.copy_value_to(&mut value);
            let mut h = std::collections::hash_map::DefaultHasher::new();
            value.hash(&mut h);
            h.finish()
        } else {
            0
        };
        Fingerprint {
            cas: item.cas(),
            expiry: item.expiry(),
            flags: item.flags(),
            len: item.value_len(),
            value_hash,
        }
    });
    match found {
        Lookup::Hit(f) => Some(f),
        Lookup::Miss(_) | Lookup::Vivified => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::commands::{Context, Protocol, Session, Step};
    use crate::config::Settings;
    use crate::storage::{Clock, Store, StoreConfig};

    fn context() -> Context {
        let clock = Arc::new(Clock::manual(1_700_000_000));
        Context::new(
            Store::new(StoreConfig::default(), clock).unwrap(),
            Settings::default(),
        )
    }

    fn wire(args: &[&[u8]]) -> Vec<u8> {
        let mut w = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            w.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            w.extend_from_slice(a);
            w.extend_from_slice(b"\r\n");
        }
        w
    }

    fn run(ctx: &Context, session: &mut Session, args: &[&[u8]]) -> Vec<u8> {
        let input = wire(args);
        let mut out = Vec::new();
        let step = super::super::process(ctx, session, &input, &mut out);
        assert_eq!(step, Step::Done(input.len()));
        out
    }

    #[test]
    fn a_queue_past_its_byte_bound_is_refused_and_exec_aborts() {
        let ctx = context();
        let info = ctx.clients.open("t".into(), "t".into(), 0);
        let mut s = Session::new(info, Protocol::Resp, 0);
        assert_eq!(run(&ctx, &mut s, &[b"MULTI"]), b"+OK\r\n");
        let value = vec![b'v'; 1000 * 1000];
        // "SET", "\r\n$1\r\n", "k", "\r\n$1000000\r\n", the value: copied as one span.
        let per_command = 3 * ARG_OVERHEAD + 3 + 6 + 1 + 12 + value.len();
        let fit = QUEUE_MAX_BYTES / per_command;
        for _ in 0..fit {
            assert_eq!(run(&ctx, &mut s, &[b"SET", b"k", &value]), b"+QUEUED\r\n");
        }
        let refused = run(&ctx, &mut s, &[b"SET", b"k", &value]);
        assert!(refused.starts_with(b"-ERR MULTI queue is full"));
        assert_eq!(
            run(&ctx, &mut s, &[b"EXEC"]),
            b"-EXECABORT Transaction discarded because of previous errors.\r\n"
        );
        // The large queue was given back.
        assert_eq!(s.resp.conn.tx.queue.bytes.capacity(), 0);
        assert_eq!(run(&ctx, &mut s, &[b"GET", b"k"]), b"$-1\r\n");
    }

    #[test]
    fn save_inside_multi_is_refused_and_exec_aborts() {
        let ctx = context();
        let info = ctx.clients.open("t".into(), "t".into(), 0);
        let mut s = Session::new(info, Protocol::Resp, 0);
        assert_eq!(run(&ctx, &mut s, &[b"MULTI"]), b"+OK\r\n");
        assert_eq!(run(&ctx, &mut s, &[b"SET", b"k", b"v"]), b"+QUEUED\r\n");
        assert_eq!(
            run(&ctx, &mut s, &[b"SAVE"]),
            b"-ERR Command not allowed inside a transaction\r\n"
        );
        assert_eq!(
            run(&ctx, &mut s, &[b"EXEC"]),
            b"-EXECABORT Transaction discarded because of previous errors.\r\n"
        );
        assert_eq!(run(&ctx, &mut s, &[b"GET", b"k"]), b"$-1\r\n");
    }

    #[test]
    fn watching_past_the_key_bound_is_refused() {
        let ctx = context();
        let info = ctx.clients.open("t".into(), "t".into(), 0);
        let mut s = Session::new(info, Protocol::Resp, 0);
        let names: Vec<Vec<u8>> = (0..WATCH_MAX_KEYS)
            .map(|i| format!("k{i}").into_bytes())
            .collect();
        let mut args: Vec<&[u8]> = vec![b"WATCH"];
        args.extend(names.iter().map(Vec::as_slice));
        assert_eq!(run(&ctx, &mut s, &args), b"+OK\r\n");
        // Watching a key already watched adds nothing; a new one is past the bound.
        assert_eq!(run(&ctx, &mut s, &[b"WATCH", b"k0"]), b"+OK\r\n");
        let refused = run(&ctx, &mut s, &[b"WATCH", b"new"]);
        assert!(refused.starts_with(b"-ERR too many watched keys"));
        assert_eq!(run(&ctx, &mut s, &[b"UNWATCH"]), b"+OK\r\n");
        assert_eq!(run(&ctx, &mut s, &[b"WATCH", b"new"]), b"+OK\r\n");
    }

    #[test]
    fn without_cas_a_watch_compares_the_value() {
        let clock = Arc::new(Clock::manual(1_700_000_000));
        let config = StoreConfig {
            use_cas: false,
            ..StoreConfig::default()
        };
        let ctx = Context::new(Store::new(config, clock).unwrap(), Settings::default());
        let info = ctx.clients.open("t".into(), "t".into(), 0);
        let mut s = Session::new(info, Protocol::Resp, 0);
        run(&ctx, &mut s, &[b"SET", b"k", b"aa"]);
        run(&ctx, &mut s, &[b"WATCH", b"k"]);
        run(&ctx, &mut s, &[b"SET", b"k", b"ab"]);
        run(&ctx, &mut s, &[b"MULTI"]);
        assert_eq!(run(&ctx, &mut s, &[b"EXEC"]), b"*-1\r\n");
        run(&ctx, &mut s, &[b"WATCH", b"k"]);
        run(&ctx, &mut s, &[b"GET", b"k"]);
        run(&ctx, &mut s, &[b"MULTI"]);
        assert_eq!(run(&ctx, &mut s, &[b"EXEC"]), b"*0\r\n");
    }
}
