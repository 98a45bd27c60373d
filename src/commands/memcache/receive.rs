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
//! The binary protocol's SET, ADD and REPLACE (and their quiet and CAS forms) take the same
//! path once their header, extras and key are buffered ([`begin_binary`]); with no `\r\n`
//! after a binary value, the command runs as soon as the last value byte is in, even when
//! that byte came straight from the socket (the connection then serves the session with no
//! input: [`super::Memcache::value_received`]).
//!
//! Anything that needs the whole request in the input takes the buffered path instead: `-v`
//! logging, MONITOR, the append-only file, loading, `read_buf_mem_limit`, CLIENT PAUSE, a
//! command the user may not run, and a reservation that finds no memory (the buffered
//! path then answers memcached's error and drops the old value as memcached does).

use crate::commands::timing::Timer;
use std::sync::atomic::Ordering;

use super::{binary, login, store, Value};
use crate::commands::{Context, Session, Step};
use crate::hub::monitor::stream;
use crate::protocol::memcache::binary::{Header, Packet, StoreOp};
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
    finish: Finish,
}

/// The command a received value completes.
#[derive(Debug)]
enum Finish {
    /// A text storage line (run at the value's `\r\n`).
    Text {
        verb: StoreVerb,
        flags: u32,
        exptime: i64,
        cas_unique: u64,
        noreply: bool,
    },
    /// A binary SET/ADD/REPLACE (run at the value's last byte).
    Binary {
        header: Header,
        op: StoreOp,
        quiet: bool,
        flags: u32,
        exptime: u32,
    },
}

impl Receiving {
    /// A binary value whose bytes are all in: its command is due.
    pub(super) fn binary_complete(&self) -> bool {
        matches!(self.finish, Finish::Binary { .. }) && self.reserved.remaining() == 0
    }
}

/// Whether the connection may receive a value into its item now (see the module doc).
fn direct_allowed(ctx: &Context, session: &Session) -> bool {
    session.memcache.direct
        && ctx.verbosity.load(Ordering::Relaxed) == 0
        && !ctx.persist.aof.is_on()
        && ctx.persist.gate.load(Ordering::Relaxed) & crate::persist::service::GATE_LOADING == 0
        && ctx.memcache.response_budget.is_none()
        && !ctx.hub.watchers.wanted(stream::MONITOR)
        && !ctx.hub.pause.maybe()
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
    if l.len < DIRECT_MIN || !direct_allowed(ctx, session) {
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
        finish: Finish::Text {
            verb: l.verb,
            flags: l.flags,
            exptime: l.exptime,
            cas_unique: l.cas_unique,
            noreply: l.noreply,
        },
    });
    Some(Step::Done(l.line_len + took))
}

/// Starts receiving a binary SET/ADD/REPLACE's large value into its item when the packet's
/// header, extras and key are in `p` but not all of its value (`head`: bytes before the
/// value). The caller checked the packet (opcode, lengths, -I, permissions). `None` leaves
/// the request to the buffered path.
pub(super) fn begin_binary(
    ctx: &Context,
    session: &mut Session,
    p: &Packet<'_>,
    op: StoreOp,
    quiet: bool,
) -> Option<Step> {
    let h = p.header;
    let len = h.value_len();
    if !matches!(op, StoreOp::Set | StoreOp::Add | StoreOp::Replace)
        || len < DIRECT_MIN
        || p.rest.len() >= len
        || !direct_allowed(ctx, session)
    {
        return None;
    }
    let (flags, exptime) = (p.extra_u32(0), p.extra_u32(4));
    let w = binary::store_write(ctx, &h, p.key, op, flags, exptime, &[]);
    let mut reserved = ctx.store.reserve(&w, len)?;
    let took = ctx.store.fill_reserved(&mut reserved, p.rest);
    let m = &mut session.memcache;
    m.recv_key.clear();
    m.recv_key.extend_from_slice(p.key);
    m.receiving = Some(Receiving {
        reserved,
        finish: Finish::Binary {
            header: h,
            op,
            quiet,
            flags,
            exptime,
        },
    });
    Some(Step::Done(h.head_len() + took))
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
        let took = ctx.store.fill_reserved(&mut r.reserved, input);
        if r.binary_complete() {
            finish_binary(ctx, session, out);
        }
        return Step::Done(took);
    }
    if r.binary_complete() {
        // The last bytes came straight from the socket: nothing of the input is used.
        finish_binary(ctx, session, out);
        return Step::Done(0);
    }
    if input.len() < 2 {
        return Step::Incomplete;
    }
    let Some(r) = session.memcache.receiving.take() else {
        return Step::Incomplete;
    };
    let Finish::Text {
        verb,
        flags,
        exptime,
        cas_unique,
        noreply,
    } = r.finish
    else {
        return Step::Incomplete;
    };
    session.memcache.nread = false;
    session.info.memcache_nread.store(false, Ordering::Relaxed);
    if &input[..2] != b"\r\n" {
        ctx.store.abandon(r.reserved);
        if !noreply {
            Reply::Error(Error::BadDataChunk).write(out);
        }
        return Step::Done(2);
    }
    let timer = Timer::start();
    let key = std::mem::take(&mut session.memcache.recv_key);
    let line = StoreLine {
        verb,
        key: &key,
        flags,
        exptime,
        len: r.reserved.value_len(),
        cas_unique,
        noreply,
        line_len: 0,
    };
    store(ctx, session, &line, Value::Reserved(r.reserved), out);
    session.memcache.recv_key = key;
    let name: &[u8] = match verb {
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

/// Runs the binary storage command whose value is all in, and writes its response.
fn finish_binary(ctx: &Context, session: &mut Session, out: &mut Vec<u8>) {
    let Some(r) = session.memcache.receiving.take() else {
        return;
    };
    let Finish::Binary {
        header,
        op,
        quiet,
        flags,
        exptime,
    } = r.finish
    else {
        return;
    };
    let timer = Timer::start();
    let key = std::mem::take(&mut session.memcache.recv_key);
    let value = Value::Reserved(r.reserved);
    binary::store_value(
        ctx,
        session,
        &header,
        &key,
        op,
        quiet,
        (flags, exptime),
        value,
        out,
    );
    let name: &[u8] = match op {
        StoreOp::Add => b"add",
        StoreOp::Replace => b"replace",
        _ => b"set",
    };
    let ran = timer.stop();
    let info = &session.info;
    crate::commands::resp::memcache_ran_words(
        ctx,
        info,
        session.worker,
        name,
        Some(key.as_slice()),
        ran,
    );
    session.memcache.recv_key = key;
}

/// Frees the item of a value that will not come (the connection is closing).
pub(super) fn abandon(ctx: &Context, session: &mut Session) {
    if let Some(r) = session.memcache.receiving.take() {
        ctx.store.abandon(r.reserved);
    }
}
