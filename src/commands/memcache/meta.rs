//! Meta commands: mg, ms, md, ma, me against the store, replies as memcached 1.6.18 sends
//! them (return flags in request order, then Z/X/W).

use super::watch;
use super::{
    count_arith, count_delete, count_lookup, count_set, count_store, ttl_remaining, PrefixOp,
};
use crate::commands::{Context, Session};
use crate::hub::monitor::stream;
use crate::protocol::memcache::{base64_encode, write_i64, write_u64, Key, MetaFlags, Reply};
use crate::stats::bump;
use crate::storage::{
    Arith, ArithOutcome, Delete, DeleteOutcome, Expiry, ItemView, Lookup, Mode, ReadOptions,
    StoreOutcome, Write,
};

/// What the flags of a reply line may report, gathered while the item lock is held.
#[derive(Default)]
struct Shown {
    cas: u64,
    client_flags: u32,
    hit_before: bool,
    last_access: u32,
    size: usize,
    ttl: i64,
    win_taken: bool,
    stale: bool,
    won: bool,
}

impl Shown {
    fn of(ctx: &Context, item: &dyn ItemView) -> Shown {
        Shown {
            cas: item.cas(),
            client_flags: item.flags(),
            hit_before: item.hit_before(),
            last_access: item.last_access(),
            size: item.value_len(),
            ttl: ttl_remaining(ctx.store.clock(), item.expiry()),
            win_taken: item.win_taken(),
            stale: item.is_stale(),
            won: item.won(),
        }
    }
}

/// Appends ` k<key>` (with ` b` for a base64 key), as memcached's return-key flag.
fn write_key(key: &Key<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b" k");
    if key.base64 {
        base64_encode(key.bytes(), out);
        out.extend_from_slice(b" b");
    } else {
        out.extend_from_slice(key.raw);
    }
}

/// Return flags in request order. `item` is `None` for replies without an item (NF, EX, NS):
/// those still echo O and k.
fn write_flags(key: &Key<'_>, flags: &MetaFlags<'_>, item: Option<&Shown>, out: &mut Vec<u8>) {
    for letter in flags.letters() {
        match (letter, item) {
            (b'O', _) => {
                out.extend_from_slice(b" O");
                out.extend_from_slice(flags.opaque.unwrap_or_default());
            }
            (b'k', _) => write_key(key, out),
            (b'c', Some(s)) => {
                out.extend_from_slice(b" c");
                write_u64(out, s.cas);
            }
            (b'f', Some(s)) => {
                out.extend_from_slice(b" f");
                write_u64(out, u64::from(s.client_flags));
            }
            (b'h', Some(s)) => out.extend_from_slice(if s.hit_before { b" h1" } else { b" h0" }),
            (b'l', Some(s)) => {
                out.extend_from_slice(b" l");
                write_u64(out, u64::from(s.last_access));
            }
            (b's', Some(s)) => {
                out.extend_from_slice(b" s");
                write_u64(out, s.size as u64);
            }
            (b't', Some(s)) => {
                out.extend_from_slice(b" t");
                write_i64(out, s.ttl);
            }
            _ => {}
        }
    }
    if let Some(s) = item {
        if s.win_taken {
            out.extend_from_slice(b" Z");
        }
        if s.stale {
            out.extend_from_slice(b" X");
        }
        if s.won {
            out.extend_from_slice(b" W");
        }
    }
}

fn expiry(ctx: &Context, ttl: i64) -> Expiry {
    ctx.store.clock().memcache_expiry(ttl)
}

/// A TTL token as a number of seconds for `R` (negative never wins).
fn seconds(t: i64) -> Option<u32> {
    u32::try_from(t).ok()
}

pub(super) fn get(
    ctx: &Context,
    session: &Session,
    key: &Key<'_>,
    flags: &MetaFlags<'_>,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    if flags.ttl.is_some() {
        bump(&stats.cmd_touch);
    }
    let opts = ReadOptions {
        touch: flags.ttl.map(|t| expiry(ctx, t)),
        no_bump: flags.no_bump,
        vivify: flags.vivify.map(|t| expiry(ctx, t)),
        recache_below: flags.recache.and_then(seconds),
        is_fetch: true,
        strings_only: true,
    };
    // memcached applies flags in request order, so `t` before `T` reports the TTL the item
    // had before this touch.
    let ttl_before_touch = if flags.ttl.is_some() && flags.return_ttl && t_before_touch(flags) {
        let peek = ReadOptions {
            no_bump: true,
            strings_only: true,
            ..ReadOptions::default()
        };
        match ctx.store.get(0, key.bytes(), &peek, |item| {
            ttl_remaining(ctx.store.clock(), item.expiry())
        }) {
            Lookup::Hit(ttl) => Some(ttl),
            _ => None,
        }
    } else {
        None
    };
    let mut class = 0;
    let mut seen = None;
    let found = ctx.store.get(0, key.bytes(), &opts, |item| {
        class = item.slab_class();
        seen = Some(watch::seen(item));
        let mut shown = Shown::of(ctx, item);
        if let Some(ttl) = ttl_before_touch {
            shown.ttl = ttl;
        }
        write_get_hit(key, flags, item, shown, out)
    });
    if ctx.hub.watchers.wanted(stream::FETCHERS) {
        watch::fetched(ctx, session, key.bytes(), &found, seen);
    }
    count_lookup(stats, flags.ttl.is_some(), &found, class);
    ctx.memcache.record(
        key.bytes(),
        PrefixOp::Get {
            hit: matches!(found, Lookup::Hit(())),
        },
    );
    match found {
        Lookup::Hit(()) => {}
        Lookup::Miss(_) => write_miss(key, flags, out),
        Lookup::Vivified => {
            // memcached answers the vivifying request with the new empty item and W.
            let peek = ReadOptions {
                no_bump: true,
                strings_only: true,
                ..ReadOptions::default()
            };
            let again = ctx.store.get(0, key.bytes(), &peek, |item| {
                let shown = Shown {
                    won: true,
                    win_taken: false,
                    ..Shown::of(ctx, item)
                };
                write_get_hit(key, flags, item, shown, out)
            });
            if !matches!(again, Lookup::Hit(())) {
                write_miss(key, flags, out);
            }
        }
    }
}

/// Whether the request lists `t` before `T`.
fn t_before_touch(flags: &MetaFlags<'_>) -> bool {
    let mut letters = flags.letters();
    letters.position(|l| l == b't') < flags.letters().position(|l| l == b'T')
}

/// `EN` with the opaque and key echoed, unless quiet.
fn write_miss(key: &Key<'_>, flags: &MetaFlags<'_>, out: &mut Vec<u8>) {
    if !flags.quiet {
        out.extend_from_slice(b"EN");
        write_flags(key, flags, None, out);
        out.extend_from_slice(b"\r\n");
    }
}

fn write_get_hit(
    key: &Key<'_>,
    flags: &MetaFlags<'_>,
    item: &dyn ItemView,
    shown: Shown,
    out: &mut Vec<u8>,
) {
    if flags.return_value {
        out.extend_from_slice(b"VA ");
        write_u64(out, item.value_len() as u64);
    } else {
        out.extend_from_slice(b"HD");
    }
    write_flags(key, flags, Some(&shown), out);
    out.extend_from_slice(b"\r\n");
    if flags.return_value {
        item.copy_value_to(out);
        out.extend_from_slice(b"\r\n");
    }
}

pub(super) fn set(
    ctx: &Context,
    session: &crate::commands::Session,
    key: &Key<'_>,
    flags: &MetaFlags<'_>,
    data: &[u8],
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    let class = ctx.store.class_of(key.bytes().len(), data.len());
    count_set(stats, class);
    let mode = match flags.mode {
        Some(b'E') => Mode::Add,
        Some(b'A') => Mode::Append,
        Some(b'P') => Mode::Prepend,
        Some(b'R') => Mode::Replace,
        _ => Mode::Set,
    };
    let ttl = flags.ttl.map_or(Expiry::Never, |t| expiry(ctx, t));
    let mut w = Write::new(
        0,
        key.bytes(),
        data,
        flags.client_flags.unwrap_or(0),
        ttl,
        mode,
    );
    w.compare_cas = flags.compare_cas;
    w.new_cas = flags.new_cas;
    w.invalidate = flags.invalidate;
    ctx.memcache.record(key.bytes(), PrefixOp::Set);
    // memcached's verb for the mode; a CAS upgrades set and replace to `cas`.
    let cmd = match (mode, flags.compare_cas.is_some()) {
        (Mode::Set | Mode::Replace, true) => "cas",
        (Mode::Add, _) => "add",
        (Mode::Append, _) => "append",
        (Mode::Prepend, _) => "prepend",
        (Mode::Replace, _) => "replace",
        _ => "set",
    };
    let value = super::Value::Bytes(data);
    let outcome = super::watch::store(ctx, session, &w, value, data.len(), cmd);
    count_store(stats, class, flags.compare_cas.is_some(), outcome);
    let code: &[u8] = match outcome {
        StoreOutcome::Stored { .. } => b"HD",
        StoreOutcome::NotStored => b"NS",
        StoreOutcome::Exists => b"EX",
        StoreOutcome::NotFound => b"NF",
        StoreOutcome::TooLarge => return Reply::TooLarge.write(out),
        StoreOutcome::NoMemory => return Reply::NoMemory.write(out),
    };
    if flags.quiet && code == b"HD" {
        return;
    }
    out.extend_from_slice(code);
    // ms reports only the CAS (0 on failure, as protocol.txt allows), the key and opaque.
    let shown = Shown {
        cas: match outcome {
            StoreOutcome::Stored { cas } => cas,
            _ => 0,
        },
        ..Shown::default()
    };
    for letter in flags.letters() {
        match letter {
            b'c' => {
                out.extend_from_slice(b" c");
                write_u64(out, shown.cas);
            }
            b'O' => {
                out.extend_from_slice(b" O");
                out.extend_from_slice(flags.opaque.unwrap_or_default());
            }
            b'k' => write_key(key, out),
            _ => {}
        }
    }
    out.extend_from_slice(b"\r\n");
}

pub(super) fn delete(
    ctx: &Context,
    session: &Session,
    key: &Key<'_>,
    flags: &MetaFlags<'_>,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    ctx.memcache.record(key.bytes(), PrefixOp::Delete);
    watch::looked_up(ctx, session, key.bytes());
    let (outcome, class) = ctx.store.delete_in_class(&Delete {
        db: 0,
        key: key.bytes(),
        compare_cas: flags.compare_cas,
        invalidate: flags.invalidate.then(|| flags.ttl.map(|t| expiry(ctx, t))),
        drop_value: flags.drop_value,
    });
    let code: &[u8] = match outcome {
        DeleteOutcome::Deleted => {
            count_delete(stats, class);
            if flags.quiet {
                return;
            }
            b"HD"
        }
        DeleteOutcome::NotFound => {
            bump(&stats.delete_misses);
            b"NF"
        }
        DeleteOutcome::Exists => b"EX",
    };
    out.extend_from_slice(code);
    write_flags(key, flags, None, out);
    out.extend_from_slice(b"\r\n");
}

pub(super) fn arith(
    ctx: &Context,
    session: &Session,
    key: &Key<'_>,
    flags: &MetaFlags<'_>,
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    let incr = !matches!(flags.mode, Some(b'D') | Some(b'-'));
    watch::looked_up(ctx, session, key.bytes());
    let outcome = ctx.store.arith(&Arith {
        db: 0,
        key: key.bytes(),
        incr,
        delta: flags.delta.unwrap_or(1),
        compare_cas: flags.compare_cas,
        new_cas: flags.new_cas,
        // A created item takes T's TTL over N's, as memcached does.
        vivify: flags.vivify.map(|t| {
            (
                flags.initial.unwrap_or(0),
                expiry(ctx, flags.ttl.unwrap_or(t)),
            )
        }),
        touch: flags.ttl.map(|t| expiry(ctx, t)),
    });
    count_arith(ctx, stats, key.bytes(), incr, &outcome);
    match outcome {
        ArithOutcome::Value {
            value,
            cas,
            expiry,
            created,
        } => {
            if created {
                let digits = decimal_len(value) as usize;
                watch::created(ctx, session, key.bytes(), digits, expiry);
            }
            // memcached 1.6.18 hides only the success of an existing item in quiet mode; an
            // item created by N is still reported.
            if flags.quiet && !created {
                return;
            }
            let shown = Shown {
                cas,
                ttl: ttl_remaining(ctx.store.clock(), expiry),
                ..Shown::default()
            };
            if flags.return_value {
                out.extend_from_slice(b"VA ");
                write_u64(out, decimal_len(value));
            } else {
                out.extend_from_slice(b"HD");
            }
            for letter in flags.letters() {
                match letter {
                    b'c' => {
                        out.extend_from_slice(b" c");
                        write_u64(out, shown.cas);
                    }
                    b't' => {
                        out.extend_from_slice(b" t");
                        write_i64(out, shown.ttl);
                    }
                    b'O' => {
                        out.extend_from_slice(b" O");
                        out.extend_from_slice(flags.opaque.unwrap_or_default());
                    }
                    b'k' => write_key(key, out),
                    _ => {}
                }
            }
            out.extend_from_slice(b"\r\n");
            if flags.return_value {
                write_u64(out, value);
                out.extend_from_slice(b"\r\n");
            }
        }
        ArithOutcome::NonNumeric => Reply::NonNumeric.write(out),
        ArithOutcome::NoMemory => out.extend_from_slice(b"NS\r\n"),
        ArithOutcome::NotFound | ArithOutcome::Exists => {
            out.extend_from_slice(if outcome == ArithOutcome::NotFound {
                b"NF"
            } else {
                b"EX"
            });
            write_flags(key, flags, None, out);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Number of decimal digits of `v`.
fn decimal_len(mut v: u64) -> u64 {
    let mut n = 1;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// `me`: `ME key exp=… la=… cas=… fetch=… cls=… size=…` or `EN`.
pub(super) fn debug(ctx: &Context, session: &Session, key: &Key<'_>, out: &mut Vec<u8>) {
    let stats = &ctx.threads[session.worker];
    bump(&stats.cmd_meta);
    let peek = ReadOptions {
        no_bump: true,
        ..ReadOptions::default()
    };
    let mut seen = None;
    let found = ctx.store.get(0, key.bytes(), &peek, |item| {
        seen = Some(watch::seen(item));
        out.extend_from_slice(b"ME ");
        out.extend_from_slice(key.raw);
        out.extend_from_slice(b" exp=");
        // memcached 1.6.18 prints `current_time - exptime`: a negative count of seconds left.
        write_i64(
            out,
            match item.expiry() {
                Expiry::Never => -1,
                e => -ttl_remaining(ctx.store.clock(), e),
            },
        );
        out.extend_from_slice(b" la=");
        write_u64(out, u64::from(item.last_access()));
        out.extend_from_slice(b" cas=");
        write_u64(out, item.cas());
        out.extend_from_slice(if item.hit_before() {
            b" fetch=yes"
        } else {
            b" fetch=no"
        });
        out.extend_from_slice(b" cls=");
        write_u64(out, u64::from(item.slab_class()));
        out.extend_from_slice(b" size=");
        write_u64(out, item.total_size() as u64);
        out.extend_from_slice(b"\r\n");
    });
    if ctx.hub.watchers.wanted(stream::FETCHERS) {
        watch::fetched(ctx, session, key.bytes(), &found, seen);
    }
    if !matches!(found, Lookup::Hit(())) {
        out.extend_from_slice(b"EN\r\n");
    }
}
