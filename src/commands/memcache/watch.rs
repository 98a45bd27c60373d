//! memcached's `watch [fetchers|mutations|evictions|connevents|...]`: the connection
//! answers `OK` and from then on receives log lines (see [`crate::hub::monitor`]).

use std::sync::atomic::Ordering;

use super::Value;
use crate::commands::{Context, Session, Step};
use crate::hub::flag;
use crate::hub::monitor::{stream, watch_stream, ItemLog};
use crate::storage::{
    Clock, Expiry, ItemType, ItemView, Lookup, Miss, Mode, ReadOptions, StoreOutcome, Write,
};

/// Handles a `watch` request at the start of `input`; `None` when it is another command.
pub(super) fn command(
    ctx: &Context,
    session: &mut Session,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Option<Step> {
    let rest = input.strip_prefix(b"watch")?;
    if !matches!(rest.first(), None | Some(b' ' | b'\r' | b'\n')) {
        return None;
    }
    let Some(nl) = input.iter().position(|&c| c == b'\n') else {
        return Some(Step::Incomplete);
    };
    let line = input[..nl].strip_suffix(b"\r").unwrap_or(&input[..nl]);
    if !ctx.settings.watch_enabled {
        out.extend_from_slice(b"CLIENT_ERROR watch commands not allowed\r\n");
        return Some(Step::Done(nl + 1));
    }
    let mut streams = 0;
    let mut words = line.split(|&c| c == b' ').filter(|w| !w.is_empty());
    words.next();
    let mut any = false;
    for w in words {
        any = true;
        match watch_stream(w) {
            Some(s) => streams |= s,
            None => {
                out.extend_from_slice(b"ERROR\r\n");
                return Some(Step::Done(nl + 1));
            }
        }
    }
    if !any {
        streams = stream::FETCHERS;
    }
    out.extend_from_slice(b"OK\r\n");
    session.info.set_flag(flag::MONITOR, true);
    ctx.hub.watchers.add(session.info.target(), streams);
    Some(Step::Done(nl + 1))
}

fn fd(session_fd: &std::sync::atomic::AtomicI32) -> i32 {
    session_fd.load(Ordering::Relaxed)
}

/// `type=item_get` for one key of a get: `seen` is the class and size of the item found.
pub(super) fn fetched<R>(
    ctx: &Context,
    session: &Session,
    key: &[u8],
    found: &Lookup<R>,
    seen: Option<(u8, usize)>,
) {
    let status = match found {
        Lookup::Hit(_) => "found",
        Lookup::Miss(Miss::Expired) => "expired",
        Lookup::Miss(Miss::Flushed) => "flushed",
        _ => "not_found",
    };
    let (class, size) = seen.unwrap_or((0, 0));
    let item = ItemLog {
        key,
        class,
        size,
        fd: fd(&session.info.fd),
    };
    ctx.hub.watchers.item_get(&ctx.hub, &item, status);
}

/// memcached looks a key up (`do_item_get`) before it stores it (`do_store_item`), deletes
/// it, adds a delta to it, or throws away the stale item of a refused `set`, so a
/// `fetchers` watcher sees an `item_get` line (the item as it was, or `not_found`,
/// `expired`, `flushed`) before the command acts. Nothing happens unless someone watches
/// fetchers.
pub(super) fn looked_up(ctx: &Context, session: &Session, key: &[u8]) {
    if !ctx.hub.watchers.wanted(stream::FETCHERS) {
        return;
    }
    let opts = ReadOptions {
        no_bump: true,
        strings_only: true,
        ..ReadOptions::default()
    };
    let found = ctx.store.get(0, key, &opts, seen);
    let old = match &found {
        Lookup::Hit(s) => Some(*s),
        _ => None,
    };
    fetched(ctx, session, key, &found, old);
}

/// Runs a storage command's write as memcached logs it (both protocols): the look-up's
/// `item_get` line, the write, then `item_store` with `cmd`, memcached's verb (`cas` for a
/// set/add/replace with a CAS). The `item_get` line reports the store's own look-up (the
/// item as it was, or `not_found`, `expired`, `flushed`), which memcached's
/// `do_store_item` also makes. A watched append or prepend reports the whole new value.
pub(super) fn store(
    ctx: &Context,
    session: &Session,
    w: &Write<'_>,
    value: Value<'_>,
    value_len: usize,
    cmd: &str,
) -> StoreOutcome {
    let fetching = ctx.hub.watchers.wanted(stream::FETCHERS);
    let watching = ctx.hub.watchers.wanted(stream::MUTATIONS);
    let joins = watching && matches!(w.mode, Mode::Append | Mode::Prepend);
    let old = |old: Result<&dyn ItemView, Miss>| {
        // A collection is absent to memcached's commands.
        let old = old.and_then(|o| match o.item_type() {
            ItemType::String => Ok(o),
            _ => Err(Miss::Absent),
        });
        let seen = fetching.then(|| old.map(seen));
        let joined = old
            .ok()
            .filter(|_| joins)
            .map(|o| (o.value_len(), o.expiry()));
        (seen, joined)
    };
    let (outcome, (seen, old)) = match value {
        Value::Reserved(r) => ctx.store.commit_reserved(w, r, old),
        Value::Bytes(_) => ctx.store.store_and(w, old),
    };
    if let Some(seen) = seen {
        let found = match seen {
            Ok(s) => Lookup::Hit(s),
            Err(miss) => Lookup::Miss(miss),
        };
        fetched(ctx, session, w.key, &found, seen.ok());
    }
    if watching {
        let (size, expiry) = match old {
            Some((len, expiry)) => (len + value_len, expiry),
            None => (value_len, w.expiry),
        };
        let log = StoreLog {
            key: w.key,
            size,
            cmd,
            outcome,
            expiry,
        };
        stored(ctx, session, log);
    }
    outcome
}

/// A counter a delta created (binary incr/decr with an initial value, `ma` with `N`):
/// memcached stores it as an `add` (`do_store_item`), so after the delta's own look-up
/// the watcher sees another `item_get` (`not_found`) and an `item_store`.
pub(super) fn created(ctx: &Context, session: &Session, key: &[u8], digits: usize, expiry: Expiry) {
    if ctx.hub.watchers.wanted(stream::FETCHERS) {
        // The add's look-up ran before the item existed: memcached holds the key's lock.
        fetched(ctx, session, key, &Lookup::<()>::Miss(Miss::Absent), None);
    }
    if ctx.hub.watchers.wanted(stream::MUTATIONS) {
        let log = StoreLog {
            key,
            size: digits,
            cmd: "add",
            outcome: StoreOutcome::Stored { cas: 0 },
            expiry,
        };
        stored(ctx, session, log);
    }
}

/// `type=item_store` for a storage command: `size` the value's length after the write
/// (an append's whole value), `expiry` the item's.
pub(super) fn stored(ctx: &Context, session: &Session, store: StoreLog<'_>) {
    let status = match store.outcome {
        StoreOutcome::Stored { .. } => "stored",
        StoreOutcome::NotStored => "not_stored",
        StoreOutcome::Exists => "exists",
        StoreOutcome::NotFound => "not_found",
        StoreOutcome::TooLarge => "too_large",
        StoreOutcome::NoMemory => "no_memory",
    };
    let item = ItemLog {
        key: store.key,
        class: ctx.store.class_of(store.key.len(), store.size),
        size: store.size,
        fd: fd(&session.info.fd),
    };
    let ttl = memcached_ttl(ctx.store.clock(), store.expiry);
    ctx.hub
        .watchers
        .item_store(&ctx.hub, &item, status, store.cmd, u64::from(ttl));
}

/// One storage command's outcome, for its `item_store` line.
pub(super) struct StoreLog<'a> {
    pub key: &'a [u8],
    pub size: usize,
    pub cmd: &'a str,
    pub outcome: StoreOutcome,
    pub expiry: Expiry,
}

/// The `ttl=` memcached prints: the item's expiry minus its `current_time`, as an unsigned
/// 32-bit number (an already expired item wraps around: memcached's clock starts 62
/// seconds "after" its process started, slabd's 2).
fn memcached_ttl(clock: &Clock, expiry: Expiry) -> u32 {
    match expiry {
        Expiry::Never => 0,
        Expiry::AtMs(ms) => {
            let secs = ms / 1000;
            let current = clock.now().wrapping_add(60);
            if secs <= clock.started() {
                1u32.wrapping_sub(current)
            } else {
                (secs.wrapping_sub(clock.unix_now())) as u32
            }
        }
    }
}

/// The class and size of an item a get found, for its `item_get` line.
pub(super) fn seen(item: &dyn ItemView) -> (u8, usize) {
    (item.slab_class(), item.value_len())
}
