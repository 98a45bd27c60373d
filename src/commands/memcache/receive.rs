//! Large values received straight into slab memory (memcached's `conn_nread` into an
//! allocated item), instead of being buffered whole in the connection's read buffer and
//! copied into the slab.
//!
//! When a `set`/`add`/`replace`/`cas` line of a value of [`DIRECT_MIN`] bytes or more is
//! whole but its data block is not, [`begin`] reserves the item (`storage::Reserved`, not
//! visible to anyone), copies the value bytes already read into it, and consumes them. The
//! connection then reads the rest of the value from the socket into the item's chunks
//! (`Store::receive_reserved`, one `readv` that also takes the `\r\n` and whatever follows
//! into the read buffer); over TLS, or when bytes are already buffered, [`step`] copies
//! them in. Once the value is in, [`step`] checks the `\r\n` and links the item with the
//! command's usual checks, counters and reply (`super::store`). A bad data block frees the
//! item (`CLIENT_ERROR bad data chunk`); so does a client that goes away mid-value
//! ([`abandon`], from `Session::close`).
//!
//! Anything that needs the whole request in the input takes the buffered path instead: `-v`
//! logging, MONITOR, the append-only file, loading, `read_buf_mem_limit`, CLIENT PAUSE, a
//! command the user may not run, and a reservation that finds no memory (the buffered
//! path then answers memcached's error and drops the old value as memcached does).

use crate::commands::timing::Timer;
use std::sync::atomic::Ordering;

use super::{login, store, Value};
use crate::commands::{Context, Session, Step};
use crate::hub::monitor::stream;
use crate::protocol::memcache::{
    pending_store, Command, Error, Limits, Reply, StoreLine, StoreVerb,
};
use crate::storage::{Mode, Reserved, Write};

/// Values at least this long are received into their item; shorter ones are buffered
/// (the copy costs less than reserving ahead).
pub const DIRECT_MIN: usize = 16 << 10;

/// A storage command whose value is being received.
#[derive(Debug)]
pub struct Receiving {
    pub(super) reserved: Reserved,
    verb: StoreVerb,
    flags: u32,
    exptime: i64,
    cas_unique: u64,
    noreply: bool,
}

/// The write a storage line asks for (its value aside).
fn write_of<'a>(ctx: &Context, l: &StoreLine<'a>) -> Write<'a> {
    let mode = match l.verb {
        StoreVerb::Set | StoreVerb::Cas => Mode::Set,
        StoreVerb::Add => Mode::Add,
        StoreVerb::Replace => Mode::Replace,
        StoreVerb::Append => Mode::Append,
        StoreVerb::Prepend => Mode::Prepend,
    };
    let expiry = ctx.store.clock().memcache_expiry(l.exptime);
    let mut w = Write::new(0, l.key, &[], l.flags, expiry, mode);
    if l.verb == StoreVerb::Cas {
        w.compare_cas = Some(l.cas_unique);
    }
    w
}

/// Starts receiving a large value into its item when `input` holds a whole storage line
/// and part of its data block (see the module doc); `None` leaves the request to the
/// buffered path.
pub(super) fn begin(
    ctx: &Context,
    session: &mut Session,
    input: &[u8],
    limits: &Limits,
) -> Option<Step> {
    if !session.memcache.direct {
        return None;
    }
    let l = pending_store(input, limits)?;
    if l.len < DIRECT_MIN
        || ctx.verbosity.load(Ordering::Relaxed) != 0
        || ctx.persist.aof.is_on()
        || ctx.persist.gate.load(Ordering::Relaxed) & crate::persist::service::GATE_LOADING != 0
        || ctx.memcache.response_budget.is_some()
        || ctx.hub.watchers.wanted(stream::MONITOR)
        || ctx.hub.pause.maybe()
    {
        return None;
    }
    let command = Command::Store {
        verb: l.verb,
        key: l.key,
        flags: l.flags,
        exptime: l.exptime,
        data: &[],
        cas_unique: l.cas_unique,
        noreply: l.noreply,
    };
    if !login::allowed(session, &command) {
        return None;
    }
    let mut reserved = ctx.store.reserve(&write_of(ctx, &l), l.len)?;
    let took = ctx.store.fill_reserved(&mut reserved, &input[l.line_len..]);
    let m = &mut session.memcache;
    m.recv_key.clear();
    m.recv_key.extend_from_slice(l.key);
    m.receiving = Some(Receiving {
        reserved,
        verb: l.verb,
        flags: l.flags,
        exptime: l.exptime,
        cas_unique: l.cas_unique,
        noreply: l.noreply,
    });
    Some(Step::Done(l.line_len + took))
}

/// The next input of a connection receiving a value: more of the value (copied in), then
/// its `\r\n`, at which the command runs.
pub(super) fn step(ctx: &Context, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    let Some(r) = session.memcache.receiving.as_mut() else {
        return Step::Incomplete;
    };
    if r.reserved.remaining() > 0 {
        if input.is_empty() {
            return Step::Incomplete;
        }
        return Step::Done(ctx.store.fill_reserved(&mut r.reserved, input));
    }
    if input.len() < 2 {
        return Step::Incomplete;
    }
    let Some(r) = session.memcache.receiving.take() else {
        return Step::Incomplete;
    };
    session.memcache.nread = false;
    session.info.memcache_nread.store(false, Ordering::Relaxed);
    if &input[..2] != b"\r\n" {
        ctx.store.abandon(r.reserved);
        if !r.noreply {
            Reply::Error(Error::BadDataChunk).write(out);
        }
        return Step::Done(2);
    }
    let timer = Timer::start();
    let key = std::mem::take(&mut session.memcache.recv_key);
    let line = StoreLine {
        verb: r.verb,
        key: &key,
        flags: r.flags,
        exptime: r.exptime,
        len: r.reserved.value_len(),
        cas_unique: r.cas_unique,
        noreply: r.noreply,
        line_len: 0,
    };
    store(ctx, session, &line, Value::Reserved(r.reserved), out);
    session.memcache.recv_key = key;
    let name: &[u8] = match r.verb {
        StoreVerb::Set => b"set",
        StoreVerb::Add => b"add",
        StoreVerb::Replace => b"replace",
        StoreVerb::Append => b"append",
        StoreVerb::Prepend => b"prepend",
        StoreVerb::Cas => b"cas",
    };
    let ran = timer.stop();
    crate::commands::resp::memcache_ran(ctx, &session.info, session.worker, name, ran);
    let now = ctx.store.clock().now();
    session.info.last_cmd.store(now, Ordering::Relaxed);
    Step::Done(2)
}

/// Frees the item of a value that will not come (the connection is closing).
pub(super) fn abandon(ctx: &Context, session: &mut Session) {
    if let Some(r) = session.memcache.receiving.take() {
        ctx.store.abandon(r.reserved);
    }
}
