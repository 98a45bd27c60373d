//! DUMP and RESTORE: a key's value as Redis 7.0's serialized payload (RDB type byte and
//! encoding, RDB version 10, CRC-64; see [`crate::persist::dump`]), so payloads move
//! between slabd and redis-server 7.0 in both directions. RESTORE decodes and builds the
//! value before it takes the key's stripe lock, then checks and replaces the key in one
//! step under it.

use super::registry::{spec, Spec};
use super::Call;
use crate::hub::notify;
use crate::persist::{dump, typed};
use crate::protocol::resp::{parse_i64, Args};
use crate::storage::{Expiry, Ttl, Update};
use std::sync::atomic::Ordering;

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("dump", 2, ["readonly"], (1, 1, 1), "generic", "2.6.0",
        "Return a serialized version of the value stored at the specified key.", dump),
    spec!("restore", -4, ["write", "denyoom"], (1, 1, 1), "generic", "2.6.0",
        "Create a key using the provided serialized value, previously obtained using DUMP.",
        restore),
];

/// `DUMP key`: the payload, or nil when the key does not exist.
fn dump(call: &mut Call<'_>, args: Args<'_>) {
    let value = call
        .ctx
        .store
        .inspect(call.db(), args.get(1), |cur| cur.map(typed::value_of));
    match value {
        None => call.w.null(),
        Some(Some(v)) => {
            let compress = call.ctx.directives.int("rdbcompression") != 0;
            call.w.bulk(&dump::encode(&v, compress));
        }
        // A stored value persistence cannot read (never for the types slabd has).
        Some(None) => call.w.error(b"ERR DUMP of this value is not supported"),
    }
}

/// RESTORE's options after the payload.
struct Options {
    replace: bool,
    absttl: bool,
}

/// Parses `[REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]` as Redis 7.0 does
/// (IDLETIME and FREQ exclude each other). slabd checks IDLETIME and FREQ but keeps no
/// idle time or frequency to set: a restored key starts as just accessed.
fn parse_options(call: &mut Call<'_>, args: Args<'_>) -> Option<Options> {
    let mut o = Options {
        replace: false,
        absttl: false,
    };
    let (mut idle, mut freq) = (false, false);
    let mut j = 4;
    while j < args.len() {
        let a = args.get(j);
        let more = j + 1 < args.len();
        if a.eq_ignore_ascii_case(b"replace") {
            o.replace = true;
        } else if a.eq_ignore_ascii_case(b"absttl") {
            o.absttl = true;
        } else if a.eq_ignore_ascii_case(b"idletime") && more && !freq {
            let v = call.integer(args.get(j + 1))?;
            if v < 0 {
                call.w.error(b"ERR Invalid IDLETIME value, must be >= 0");
                return None;
            }
            idle = true;
            j += 1;
        } else if a.eq_ignore_ascii_case(b"freq") && more && !idle {
            let v = call.integer(args.get(j + 1))?;
            if !(0..=255).contains(&v) {
                call.w
                    .error(b"ERR Invalid FREQ value, must be >= 0 and <= 255");
                return None;
            }
            freq = true;
            j += 1;
        } else {
            call.syntax_error();
            return None;
        }
        j += 1;
    }
    Some(o)
}

/// Logs why a payload was refused at `verbose`, as Redis's loader reports it in RESTORE
/// (the reason names the damaged encoding: "Hash ziplist integrity check failed ...").
fn log_refusal(call: &Call<'_>, body: &[u8]) {
    let level = call.ctx.directives.get("loglevel").unwrap_or_default();
    if level == "verbose" || level == "debug" {
        eprintln!("RESTORE: Bad data format: {}", dump::refusal(body));
    }
}

/// Why RESTORE did not store the key, in the order Redis checks.
enum Refusal {
    Busy,
    NotInteger,
    NegativeTtl,
    Payload,
    Format,
}

/// What RESTORE did.
enum Restored {
    Stored,
    /// The expiry had passed: nothing stored (`deleted`: REPLACE removed the old key).
    Expired {
        deleted: bool,
    },
}

/// `RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]`
fn restore(call: &mut Call<'_>, args: Args<'_>) {
    let Some(opts) = parse_options(call, args) else {
        return;
    };
    // Everything that can fail is decided before the key's lock; a refusal is reported in
    // Redis's order, the existing key first.
    let ttl = match parse_i64(args.get(2)) {
        None => Err(Refusal::NotInteger),
        Some(t) if t < 0 => Err(Refusal::NegativeTtl),
        Some(t) => Ok(t),
    };
    let check_crc = !call.ctx.resp.skip_checksum.load(Ordering::Relaxed);
    let built = ttl.and_then(|ttl| {
        let body = dump::verify_with(args.get(3), check_crc).ok_or(Refusal::Payload)?;
        let value = dump::decode(body);
        let built = value
            .as_ref()
            .and_then(|v| typed::build(v, &call.ctx.collections).ok());
        built.map(|b| (ttl, b)).ok_or_else(|| {
            log_refusal(call, body);
            Refusal::Format
        })
    });
    let now = super::now_millis(call.ctx);
    let (db, key) = (call.db(), args.get(1));
    let outcome = call.ctx.store.modify(db, key, |cur| {
        let exists = cur.is_some();
        if exists && !opts.replace {
            return Update::Keep(Err(Refusal::Busy));
        }
        let (ttl, built) = match built {
            Ok(b) => b,
            Err(e) => return Update::Keep(Err(e)),
        };
        let at = match (ttl, opts.absttl) {
            (0, _) => None,
            (t, true) => Some(t),
            (t, false) => Some(t.saturating_add(now as i64)),
        };
        match at {
            Some(at) if at <= now as i64 => {
                Update::Delete(Ok(Restored::Expired { deleted: exists }))
            }
            _ => {
                let ttl = Ttl::Set(at.map_or(Expiry::Never, |ms| Expiry::AtMs(ms as u64)));
                built.into_update(ttl, Ok(Restored::Stored))
            }
        }
    });
    match outcome {
        Ok(Ok(Restored::Stored)) => {
            call.notify(notify::GENERIC, "restore", key);
            call.ctx.hub.signal_key(db, key);
            call.w.ok();
        }
        Ok(Ok(Restored::Expired { deleted })) => {
            if deleted {
                call.notify(notify::GENERIC, "del", key);
            }
            call.w.ok();
        }
        Ok(Err(Refusal::Busy)) => call.w.error(b"BUSYKEY Target key name already exists."),
        Ok(Err(Refusal::NotInteger)) => call.not_integer(),
        Ok(Err(Refusal::NegativeTtl)) => call.w.error(b"ERR Invalid TTL value, must be >= 0"),
        Ok(Err(Refusal::Payload)) => call
            .w
            .error(b"ERR DUMP payload version or checksum are wrong"),
        Ok(Err(Refusal::Format)) => call.w.error(b"ERR Bad data format"),
        Err(e) => call.rewrite_refused(e),
    }
}
