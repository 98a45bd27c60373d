//! memcached binary protocol requests against the store, answered as memcached 1.6.18's
//! `proto_bin.c` answers them: the same store, CAS and counters as the text protocol.
//!
//! Quiet opcodes (GETQ, SETQ, ...) send nothing on success and, for reads, nothing on a
//! miss; errors are always sent. A request is answered with the opcode and opaque it came
//! with. Errors that memcached answers by closing (bad magic, lying lengths, a key over 250
//! bytes, a malformed request for its opcode, anything before a SASL login) close here too.

use std::sync::atomic::Ordering;

use super::{
    auth, count_arith, count_delete, count_lookup, count_set, count_store, flush_delay, receive,
    send, stats, watch, PrefixOp, Value,
};
use crate::commands::{Context, Session, Step};
use crate::hub::monitor::stream;
use crate::protocol::memcache::binary::{
    self, classify, frame, Frame, Header, Op, Packet, Status, StoreOp,
};
use crate::protocol::memcache::{StatsGroup, ITEM_OVERHEAD};
use crate::stats::bump;
use crate::storage::{
    Arith, ArithOutcome, Delete, DeleteOutcome, Lookup, Mode, ReadOptions, StoreOutcome, Write,
};

/// Binary incr/decr's "do not create" expiration.
const NO_VIVIFY: u32 = 0xffff_ffff;

/// Handles at most one binary request (or one piece of a value being thrown away).
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
    let p = match frame(input) {
        Frame::Incomplete => return Step::Incomplete,
        Frame::BadMagic => return Step::Close,
        Frame::LyingLength(h) => {
            binary::write_error(out, &h, Status::UnknownCommand);
            return Step::Close;
        }
        Frame::Packet(p) => p,
    };
    let h = p.header;
    match auth::binary_allowed(ctx, session, h.opcode) {
        None => return Step::Close,
        Some(false) => {
            binary::write_error(out, &h, Status::AuthError);
            return Step::Close;
        }
        Some(true) => {}
    }
    let head = h.head_len();
    let (op, quiet) = match classify(&h) {
        Ok(found) => found,
        Err(reject) => {
            binary::write_error(out, &h, reject.status);
            if reject.close {
                return Step::Close;
            }
            session.memcache.swallow = reject.swallow;
            return Step::Done(head);
        }
    };
    if let Some(refused) = refuse_early(ctx, session, &p, op) {
        binary::write_error(out, &h, refused);
        session.memcache.swallow = h.value_len();
        return Step::Done(head);
    }
    let (value, consumed) = if op.has_value() {
        let len = h.value_len();
        if p.rest.len() < len {
            if let Op::Store(store_op) = op {
                // A large value goes straight into its item (commands::memcache::receive).
                let step = receive::begin_binary(ctx, session, &p, store_op, quiet);
                return step.unwrap_or(Step::Incomplete);
            }
            return Step::Incomplete;
        }
        (&p.rest[..len], head + len)
    } else {
        (&[][..], head)
    };
    let writes = matches!(
        op,
        Op::Store(_) | Op::Delete | Op::Arith { .. } | Op::Flush | Op::Get { touch: true, .. }
    );
    if let Some(step) = super::pause::held_binary(&ctx.hub, session, writes) {
        return step;
    }
    session
        .info
        .last_cmd
        .store(ctx.store.clock().now(), Ordering::Relaxed);
    let timer = crate::hub::OBSERVE.then(crate::commands::timing::Timer::start);
    let step = execute(ctx, session, &p, op, quiet, value, out);
    if let Some(timer) = timer {
        let ran = timer.stop();
        let name = text_name(op);
        let key = (!p.key.is_empty()).then_some(p.key);
        let info = &session.info;
        crate::commands::resp::memcache_ran_words(ctx, info, session.worker, name, key, ran);
    }
    if ctx.persist.aof.is_on() {
        match op {
            Op::Store(_) | Op::Delete | Op::Arith { .. } | Op::Get { touch: true, .. } => {
                crate::persist::aof_log::record_memcache(ctx, p.key)
            }
            Op::Flush => crate::persist::aof_log::record_memcache_flush(ctx),
            _ => {}
        }
    }
    step.unwrap_or(Step::Done(consumed))
}

/// The text command a binary opcode matches, for the slow log and latency histograms.
fn text_name(op: Op) -> &'static [u8] {
    match op {
        Op::Get { touch: false, .. } => b"get",
        Op::Get {
            with_value: false, ..
        } => b"touch",
        Op::Get { .. } => b"gat",
        Op::Store(StoreOp::Set) => b"set",
        Op::Store(StoreOp::Add) => b"add",
        Op::Store(StoreOp::Replace) => b"replace",
        Op::Store(StoreOp::Append) => b"append",
        Op::Store(StoreOp::Prepend) => b"prepend",
        Op::Delete => b"delete",
        Op::Arith { incr: true } => b"incr",
        Op::Arith { incr: false } => b"decr",
        Op::Flush => b"flush_all",
        Op::Stat => b"stats",
        Op::Quit => b"quit",
        Op::Noop => b"noop",
        Op::Version => b"version",
        Op::SaslListMechs | Op::SaslAuth | Op::SaslStep => b"sasl",
    }
}

/// Refusals memcached makes before it reads a value: too large for `-I`, SASL off, an
/// overlong mechanism name. The value is then thrown away unread.
fn refuse_early(ctx: &Context, session: &Session, p: &Packet<'_>, op: Op) -> Option<Status> {
    let h = &p.header;
    // While a dump or AOF loads, data commands get the protocol's "warming up" status
    // (as the text protocol gets SERVER_ERROR loading and RESP -LOADING).
    if ctx.persist.gate.load(Ordering::Relaxed) & crate::persist::service::GATE_LOADING != 0
        && !matches!(op, Op::Quit | Op::Noop | Op::Version | Op::Stat)
        && !matches!(op, Op::SaslListMechs | Op::SaslAuth | Op::SaslStep)
    {
        return Some(Status::TemporaryFailure);
    }
    // The user's ACL, as the text protocol checks it (memcached has no ACL status: the
    // refusal is an auth error).
    if let Some(login) = session.login.as_ref() {
        if crate::auth::memcache::check_binary(&login.user, op, p.key).is_err() {
            return Some(Status::AuthError);
        }
    }
    match op {
        Op::Store(store_op) => {
            let len = h.value_len();
            if p.key.len() + len + 2 + ITEM_OVERHEAD <= ctx.settings.item_size_max {
                return None;
            }
            bump(&ctx.threads[session.worker].store_too_large);
            if store_op == StoreOp::Set {
                // memcached unlinks the old item so a failed set leaves nothing stale.
                watch::looked_up(ctx, session, p.key);
                ctx.store.delete(&Delete {
                    db: 0,
                    key: p.key,
                    compare_cas: None,
                    invalidate: None,
                    drop_value: false,
                });
            }
            Some(Status::TooLarge)
        }
        Op::SaslListMechs | Op::SaslAuth | Op::SaslStep if !auth::sasl_enabled(ctx) => {
            Some(Status::UnknownCommand)
        }
        Op::SaslAuth | Op::SaslStep if p.key.len() > binary::SASL_MECH_MAX => Some(Status::Invalid),
        Op::SaslAuth | Op::SaslStep if h.value_len() > ctx.settings.item_size_max => {
            Some(Status::NoMemory)
        }
        _ => None,
    }
}

/// Runs one request; `Some(step)` when the connection does something other than go on.
fn execute(
    ctx: &Context,
    session: &mut Session,
    p: &Packet<'_>,
    op: Op,
    quiet: bool,
    value: &[u8],
    out: &mut Vec<u8>,
) -> Option<Step> {
    let h = &p.header;
    let success = |out: &mut Vec<u8>, cas: u64, body: &[u8]| {
        if !quiet {
            binary::write_response(out, h, Status::Success, cas, &[], &[], body);
        }
    };
    match op {
        Op::Get {
            touch,
            with_key,
            with_value,
        } => get(ctx, session, p, touch, with_key, with_value, quiet, out),
        Op::Store(store_op) => store(ctx, session, p, store_op, quiet, value, out),
        Op::Delete => delete(ctx, session, p, quiet, out),
        Op::Arith { incr } => arith(ctx, session, p, incr, quiet, out),
        Op::Quit => {
            success(out, 0, &[]);
            return Some(Step::Close);
        }
        Op::Flush => {
            if !ctx.settings.flush_enabled {
                binary::write_error(out, h, Status::AuthError);
                return None;
            }
            let delay = if p.extras.len() == 4 {
                p.extra_u32(0)
            } else {
                0
            };
            let clock = ctx.store.clock();
            ctx.store
                .flush(Some(0), flush_delay(clock, i64::from(delay)));
            bump(&ctx.threads[session.worker].cmd_flush);
            success(out, 0, &[]);
        }
        Op::Noop => success(out, 0, &[]),
        Op::Version => success(out, 0, super::MEMCACHED_VERSION.as_bytes()),
        Op::Stat => stat(ctx, h, p.key, out),
        Op::SaslListMechs | Op::SaslAuth | Op::SaslStep => {
            auth::sasl(ctx, session, h, p.key, value, out)
        }
    }
    None
}

/// GET, GETQ, GETK, GETKQ, GAT, GATQ, GATK, GATKQ and TOUCH. A hit carries the flags as
/// extras, the key for the K variants, and the value unless it is TOUCH.
#[allow(clippy::too_many_arguments)]
fn get(
    ctx: &Context,
    session: &Session,
    p: &Packet<'_>,
    touch: bool,
    with_key: bool,
    with_value: bool,
    quiet: bool,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    let h = &p.header;
    let clock = ctx.store.clock();
    let opts = ReadOptions {
        touch: touch.then(|| clock.memcache_expiry(i64::from(p.extra_u32(0)))),
        is_fetch: with_value,
        ..ReadOptions::default()
    };
    if touch {
        bump(&stats.cmd_touch);
    } else {
        bump(&stats.cmd_get);
    }
    let key = p.key;
    let mut class = 0;
    let mut seen = None;
    let found = ctx.store.get(0, key, &opts, |item| {
        class = item.slab_class();
        seen = Some(watch::seen(item));
        let key_len = if with_key { key.len() } else { 0 };
        let value_len = if with_value { item.value_len() } else { 0 };
        binary::write_header(
            out,
            h.opcode,
            Status::Success,
            key_len,
            4,
            4 + key_len + value_len,
            h.opaque,
            item.cas(),
        );
        out.extend_from_slice(&item.flags().to_be_bytes());
        if with_key {
            out.extend_from_slice(key);
        }
        if with_value && !send::pin_value(ctx, session, item, out.len()) {
            item.copy_value_to(out);
        }
    });
    if ctx.hub.watchers.wanted(stream::FETCHERS) {
        watch::fetched(ctx, session, key, &found, seen);
    }
    count_lookup(stats, touch, &found, class);
    let hit = matches!(found, Lookup::Hit(()));
    ctx.memcache.record(key, PrefixOp::Get { hit });
    if hit || quiet {
        return;
    }
    if with_key {
        binary::write_response(out, h, Status::KeyNotFound, 0, &[], key, &[]);
    } else {
        binary::write_error(out, h, Status::KeyNotFound);
    }
}

/// SET, ADD, REPLACE, APPEND, PREPEND and their quiet forms. A non-zero CAS in the header
/// makes set/add/replace a compare-and-swap, as memcached's `NREAD_CAS`.
fn store(
    ctx: &Context,
    session: &Session,
    p: &Packet<'_>,
    op: StoreOp,
    quiet: bool,
    value: &[u8],
    out: &mut Vec<u8>,
) {
    let extras = match op {
        StoreOp::Append | StoreOp::Prepend => (0, 0),
        _ => (p.extra_u32(0), p.extra_u32(4)),
    };
    let value = Value::Bytes(value);
    store_value(
        ctx, session, &p.header, p.key, op, quiet, extras, value, out,
    );
}

/// The store's write for a binary storage request (its value aside when it is received
/// into a reserved item).
pub(super) fn store_write<'a>(
    ctx: &Context,
    h: &Header,
    key: &'a [u8],
    op: StoreOp,
    flags: u32,
    exptime: u32,
    value: &'a [u8],
) -> Write<'a> {
    let mode = match op {
        StoreOp::Set => Mode::Set,
        StoreOp::Add => Mode::Add,
        StoreOp::Replace => Mode::Replace,
        StoreOp::Append => Mode::Append,
        StoreOp::Prepend => Mode::Prepend,
    };
    let expiry = ctx.store.clock().memcache_expiry(i64::from(exptime));
    let mut w = Write::new(0, key, value, flags, expiry, mode);
    if h.cas != 0 {
        w.compare_cas = Some(h.cas);
        if matches!(op, StoreOp::Set | StoreOp::Add | StoreOp::Replace) {
            w.mode = Mode::Set;
        }
    }
    w
}

/// Runs a binary storage request with its value, whole in `value` or received into a
/// reserved item, and writes its response. `extras`: the flags and exptime.
#[allow(clippy::too_many_arguments)]
pub(super) fn store_value(
    ctx: &Context,
    session: &Session,
    h: &Header,
    key: &[u8],
    op: StoreOp,
    quiet: bool,
    extras: (u32, u32),
    value: Value<'_>,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    let (bytes, value_len) = match &value {
        Value::Bytes(b) => (*b, b.len()),
        Value::Reserved(r) => (&[][..], r.value_len()),
    };
    let w = store_write(ctx, h, key, op, extras.0, extras.1, bytes);
    let cas = h.cas != 0 && matches!(op, StoreOp::Set | StoreOp::Add | StoreOp::Replace);
    let class = ctx.store.class_of(key.len(), value_len);
    count_set(stats, class);
    ctx.memcache.record(key, PrefixOp::Set);
    // memcached's verb: a CAS makes set/add/replace `cas` (`NREAD_CAS`).
    let cmd = match op {
        _ if cas => "cas",
        StoreOp::Set => "set",
        StoreOp::Add => "add",
        StoreOp::Replace => "replace",
        StoreOp::Append => "append",
        StoreOp::Prepend => "prepend",
    };
    let outcome = watch::store(ctx, session, &w, value, value_len, cmd);
    count_store(stats, class, cas, outcome);
    let status = match outcome {
        StoreOutcome::Stored { cas } => {
            if !quiet {
                binary::write_response(out, h, Status::Success, cas, &[], &[], &[]);
            }
            return;
        }
        StoreOutcome::Exists => Status::KeyExists,
        StoreOutcome::NotFound => Status::KeyNotFound,
        StoreOutcome::TooLarge if !matches!(op, StoreOp::Append | StoreOp::Prepend) => {
            Status::TooLarge
        }
        StoreOutcome::NoMemory if !matches!(op, StoreOp::Append | StoreOp::Prepend) => {
            Status::NoMemory
        }
        _ if cas => Status::NotStored,
        _ => match op {
            StoreOp::Add => Status::KeyExists,
            StoreOp::Replace => Status::KeyNotFound,
            _ => Status::NotStored,
        },
    };
    binary::write_error(out, h, status);
}

/// DELETE and DELETEQ; a non-zero CAS must match the item's.
fn delete(ctx: &Context, session: &Session, p: &Packet<'_>, quiet: bool, out: &mut Vec<u8>) {
    let stats = &ctx.threads[session.worker];
    let h = &p.header;
    ctx.memcache.record(p.key, PrefixOp::Delete);
    watch::looked_up(ctx, session, p.key);
    let (outcome, class) = ctx.store.delete_in_class(&Delete {
        db: 0,
        key: p.key,
        compare_cas: (h.cas != 0).then_some(h.cas),
        invalidate: None,
        drop_value: false,
    });
    match outcome {
        DeleteOutcome::Deleted => {
            count_delete(stats, class);
            if !quiet {
                binary::write_response(out, h, Status::Success, 0, &[], &[], &[]);
            }
        }
        DeleteOutcome::NotFound => {
            bump(&stats.delete_misses);
            binary::write_error(out, h, Status::KeyNotFound);
        }
        DeleteOutcome::Exists => binary::write_error(out, h, Status::KeyExists),
    }
}

/// INCREMENT and DECREMENT: extras are delta (u64), initial (u64) and expiration (u32). A
/// miss creates the item with `initial` unless the expiration is 0xffffffff.
fn arith(
    ctx: &Context,
    session: &Session,
    p: &Packet<'_>,
    incr: bool,
    quiet: bool,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    let h = &p.header;
    let clock = ctx.store.clock();
    let (delta, initial, exptime) = (p.extra_u64(0), p.extra_u64(8), p.extra_u32(16));
    watch::looked_up(ctx, session, p.key);
    let outcome = ctx.store.arith(&Arith {
        db: 0,
        key: p.key,
        incr,
        delta,
        compare_cas: (h.cas != 0).then_some(h.cas),
        new_cas: None,
        vivify: (exptime != NO_VIVIFY)
            .then(|| (initial, clock.memcache_expiry(i64::from(exptime)))),
        touch: None,
    });
    let status = match outcome {
        ArithOutcome::Value {
            value,
            cas,
            created,
            expiry,
        } => {
            if created {
                let digits = value.checked_ilog10().map_or(1, |d| d as usize + 1);
                watch::created(ctx, session, p.key, digits, expiry);
            } else {
                count_arith(ctx, stats, p.key, incr, &outcome);
            }
            if !quiet {
                binary::write_response(
                    out,
                    h,
                    Status::Success,
                    cas,
                    &[],
                    &[],
                    &value.to_be_bytes(),
                );
            }
            return;
        }
        ArithOutcome::NotFound => {
            bump(if incr {
                &stats.incr_misses
            } else {
                &stats.decr_misses
            });
            Status::KeyNotFound
        }
        ArithOutcome::NonNumeric => Status::DeltaBadValue,
        ArithOutcome::Exists => Status::KeyExists,
        ArithOutcome::NoMemory => Status::NoMemory,
    };
    binary::write_error(out, h, status);
}

/// STAT: the key names the group as memcached's `process_bin_stat` reads it (a prefix
/// match for reset, settings and detail); an unknown group is `KeyNotFound`.
fn stat(ctx: &Context, h: &Header, key: &[u8], out: &mut Vec<u8>) {
    let group = if key.is_empty() {
        Some(StatsGroup::General)
    } else if key.starts_with(b"reset") {
        Some(StatsGroup::Reset)
    } else if key.starts_with(b"settings") {
        Some(StatsGroup::Settings)
    } else if let Some(sub) = key.strip_prefix(b"detail") {
        if sub.starts_with(b" dump") {
            Some(StatsGroup::DetailDump)
        } else if sub.starts_with(b" on") {
            Some(StatsGroup::DetailOn)
        } else if sub.starts_with(b" off") {
            Some(StatsGroup::DetailOff)
        } else {
            None
        }
    } else {
        match key {
            b"items" => Some(StatsGroup::Items),
            b"slabs" => Some(StatsGroup::Slabs),
            b"sizes" => Some(StatsGroup::Sizes),
            b"sizes_enable" => Some(StatsGroup::SizesEnable),
            b"sizes_disable" => Some(StatsGroup::SizesDisable),
            _ => None,
        }
    };
    match group {
        Some(group) => stats::stats(ctx, 0, group, &mut stats::StatWriter::binary(out, h.opaque)),
        None => binary::write_error(out, h, Status::KeyNotFound),
    }
}
