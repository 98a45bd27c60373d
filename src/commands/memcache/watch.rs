//! memcached's `watch [fetchers|mutations|evictions|connevents|...]`: the connection
//! answers `OK` and from then on receives log lines (see [`crate::hub::monitor`]).

use std::sync::atomic::Ordering;

use crate::commands::{Context, Session, Step};
use crate::hub::flag;
use crate::hub::monitor::{stream, watch_stream, ItemLog};
use crate::storage::{ItemView, Lookup, Miss, StoreOutcome};

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

/// `type=item_store` for a storage command.
pub(super) fn stored(
    ctx: &Context,
    session: &Session,
    key: &[u8],
    size: usize,
    cmd: &str,
    outcome: StoreOutcome,
    ttl: u64,
) {
    let status = match outcome {
        StoreOutcome::Stored { .. } => "stored",
        StoreOutcome::NotStored => "not_stored",
        StoreOutcome::Exists => "exists",
        StoreOutcome::NotFound => "not_found",
        StoreOutcome::TooLarge => "too_large",
        StoreOutcome::NoMemory => "no_memory",
    };
    let item = ItemLog {
        key,
        class: 0,
        size,
        fd: fd(&session.info.fd),
    };
    ctx.hub
        .watchers
        .item_store(&ctx.hub, &item, status, cmd, ttl);
}

/// The class and size of an item a get found, for its `item_get` line.
pub(super) fn seen(item: &dyn ItemView) -> (u8, usize) {
    (item.slab_class(), item.value_len())
}
