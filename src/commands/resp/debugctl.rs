//! The DEBUG subcommands Redis's test suite uses to provoke slow commands, hold the
//! background work still, shape lists and fill the data set: `DEBUG SLEEP`,
//! `DEBUG SET-ACTIVE-EXPIRE`, `DEBUG PAUSE-CRON`, `DEBUG QUICKLIST-PACKED-THRESHOLD`,
//! `DEBUG POPULATE`, `DEBUG LOG`, `DEBUG REPLYBUFFER`; and `DEBUG SEGFAULT`, which crashes the server
//! (integration/logging checks its crash report).
//! (DEBUG itself, with RELOAD, LOADAOF and OBJECT, is in persistence.rs; it hands these
//! here.)

use std::sync::atomic::Ordering;

use super::Call;
use crate::collections::list::packed_threshold;
use crate::directives::parse_memory;
use crate::protocol::resp::{parse_i64, Args};
use crate::storage::{Expiry, Mode, StoreOutcome, Write};

/// Runs `DEBUG <sub> ...` if `sub` is one of this file's; false if it is not.
pub(super) fn run(call: &mut Call<'_>, args: Args<'_>) -> bool {
    let sub = args.get(1);
    if args.len() == 2 && sub.eq_ignore_ascii_case(b"segfault") {
        // As Redis: the server dies of SIGSEGV, with its crash report in the log.
        crate::server::signals::crash();
    }
    if sub.eq_ignore_ascii_case(b"populate") && (3..=5).contains(&args.len()) {
        populate(call, args);
        return true;
    }
    if sub.eq_ignore_ascii_case(b"replybuffer") && args.len() == 4 {
        replybuffer(call, args);
        return true;
    }
    if args.len() != 3 {
        return false;
    }
    let hub = &call.ctx.hub;
    if sub.eq_ignore_ascii_case(b"sleep") {
        sleep(args.get(2));
    } else if sub.eq_ignore_ascii_case(b"set-active-expire") {
        hub.active_expire_off
            .store(atoi(args.get(2)) == 0, Ordering::Relaxed);
    } else if sub.eq_ignore_ascii_case(b"set-skip-checksum-validation") {
        call.ctx
            .resp
            .skip_checksum
            .store(atoi(args.get(2)) != 0, Ordering::Relaxed);
    } else if sub.eq_ignore_ascii_case(b"error") {
        // The text as an error reply (the writer makes line breaks spaces, as Redis does):
        // clients test their error handling with it (`DEBUG ERROR "LOADING ..."`).
        call.w.error(args.get(2));
        return true;
    } else if sub.eq_ignore_ascii_case(b"log") {
        eprintln!("DEBUG LOG: {}", String::from_utf8_lossy(args.get(2)));
    } else if sub.eq_ignore_ascii_case(b"pause-cron") {
        hub.cron_paused
            .store(atoi(args.get(2)) != 0, Ordering::Relaxed);
    } else if sub.eq_ignore_ascii_case(b"quicklist-packed-threshold") {
        let Some(bytes) = memtoull(args.get(2)).and_then(packed_threshold) else {
            call.w
                .error(b"ERR argument must be a memory value bigger than 1 and smaller than 4gb");
            return true;
        };
        call.ctx
            .collections
            .list_packed_threshold
            .store(bytes, Ordering::Relaxed);
    } else {
        return false;
    }
    call.w.ok();
    true
}

/// `DEBUG REPLYBUFFER PEAK-RESET-TIME <never|reset|ms>` and `DEBUG REPLYBUFFER RESIZING
/// <0|1>`, as Redis 7.0: how the 100 ms pass resizes every client's reply buffer
/// (`CLIENT LIST`'s `rbs`/`rbp`; `server::connection::reply_buffer`).
fn replybuffer(call: &mut Call<'_>, args: Args<'_>) {
    let policy = &call.ctx.hub.reply_buffer;
    let (what, value) = (args.get(2), args.get(3));
    if what.eq_ignore_ascii_case(b"peak-reset-time") {
        let ms = if value.eq_ignore_ascii_case(b"never") {
            -1
        } else if value.eq_ignore_ascii_case(b"reset") {
            crate::hub::limits::PEAK_RESET_DEFAULT_MS
        } else if let Some(ms) = parse_i64(value) {
            ms
        } else {
            return call.w.error(b"ERR value is not an integer or out of range");
        };
        policy.peak_reset_ms.store(ms, Ordering::Relaxed);
    } else if what.eq_ignore_ascii_case(b"resizing") {
        policy.resizing.store(atoi(value) != 0, Ordering::Relaxed);
    } else {
        return call.w.error_fmt(format_args!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(args.get(1))
        ));
    }
    call.w.ok();
}

/// `DEBUG POPULATE <count> [<prefix>] [<size>]`, as Redis 7.0: string keys
/// `<prefix>:<n>` (prefix `key`; the name cut at 127 bytes, as Redis's 128-byte buffer
/// does) for n in 0..count in the selected database, each `value:<n>`, or with a size that
/// text cut or padded with zero bytes to `size` bytes. Existing keys (of any type) are
/// left alone. Like Redis it is not propagated: the AOF does not record it. A count whose
/// index alone (8 bytes a key) could not fit in `-m` gets Redis's `OOM in dictTryExpand`
/// (nothing is reserved for it: the keys are written one by one); a value larger than
/// `-m` gets the OOM error, as a SET of it would.
fn populate(call: &mut Call<'_>, args: Args<'_>) {
    let positive = |arg: &[u8]| match parse_i64(arg) {
        None => Err(&b"ERR value is not an integer or out of range"[..]),
        Some(n) if n < 0 => Err(&b"ERR value is out of range, must be positive"[..]),
        Some(n) => Ok(n as u64),
    };
    let count = match positive(args.get(2)) {
        Ok(n) => n,
        Err(e) => return call.w.error(e),
    };
    let limit = call.ctx.store.config().memory_limit as u64;
    if count > limit / 8 {
        return call.w.error(b"ERR OOM in dictTryExpand");
    }
    let size = if args.len() == 5 {
        match positive(args.get(4)) {
            Ok(n) => n,
            Err(e) => return call.w.error(e),
        }
    } else {
        0
    };
    if size > limit {
        return call.write_refused(StoreOutcome::NoMemory);
    }
    let prefix: &[u8] = if args.len() >= 4 { args.get(3) } else { b"key" };
    let (mut key, mut value) = (Vec::new(), Vec::new());
    for n in 0..count {
        key.clear();
        key.extend_from_slice(prefix);
        key.push(b':');
        key.extend_from_slice(n.to_string().as_bytes());
        key.truncate(127);
        value.clear();
        value.extend_from_slice(b"value:");
        value.extend_from_slice(n.to_string().as_bytes());
        if size > 0 {
            value.resize(size as usize, 0);
        }
        let w = Write {
            large: true,
            ..Write::new(call.db(), &key, &value, 0, Expiry::Never, Mode::Add)
        };
        if let o @ (StoreOutcome::TooLarge | StoreOutcome::NoMemory) = call.ctx.store.store(&w) {
            return call.write_refused(o);
        }
    }
    call.w.ok();
}

/// `DEBUG SLEEP <seconds>`: blocks the worker running it (under EXEC or a script, every
/// worker, as the transaction holds them all) for that long, as Redis blocks its one
/// thread; the latency monitor and the slow log then see one slow command. The number is
/// read as C's strtod reads it (a bad or negative one sleeps 0 s).
fn sleep(seconds: &[u8]) {
    let secs = leading_float(seconds);
    if secs > 0.0 && secs.is_finite() {
        std::thread::sleep(std::time::Duration::from_secs_f64(
            secs.min(f64::from(u32::MAX)),
        ));
    }
}

/// The longest prefix of `s` that is a decimal number (C's strtod on Redis's argument;
/// 0 when there is none). Only the first 64 bytes are looked at.
fn leading_float(s: &[u8]) -> f64 {
    let s = &s[..s.len().min(64)];
    let s = std::str::from_utf8(s).unwrap_or("").trim_start();
    (1..=s.len())
        .rev()
        .filter(|&n| s.is_char_boundary(n))
        .find_map(|n| s[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Redis's `memtoull`: digits and an optional unit (b, k, kb, m, mb, g, gb); no sign.
fn memtoull(s: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(s).ok()?;
    if s.starts_with('-') {
        return None;
    }
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        // strtoull of no digits: 0, when the unit is one Redis knows.
        return parse_memory(&format!("0{s}")).map(|_| 0);
    }
    parse_memory(s).and_then(|v| u64::try_from(v).ok())
}

/// C's atoi: an optional sign and the digits that follow (0 when there are none).
fn atoi(s: &[u8]) -> i64 {
    let s = s.trim_ascii_start();
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |n, &b| {
            n.wrapping_mul(10).wrapping_add(i64::from(b - b'0'))
        });
    if neg {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_c_reads_them() {
        assert_eq!(leading_float(b"0.2"), 0.2);
        assert_eq!(leading_float(b" 1.5s"), 1.5);
        assert_eq!(leading_float(b"1e-1x"), 0.1);
        assert_eq!(leading_float(b"abc"), 0.0);
        assert_eq!(leading_float(b"-3"), -3.0);
        assert_eq!(leading_float(b""), 0.0);
        assert_eq!(atoi(b"1"), 1);
        assert_eq!(atoi(b"0"), 0);
        assert_eq!(atoi(b" -12x"), -12);
        assert_eq!(atoi(b"yes"), 0);
        assert_eq!(memtoull(b"1b"), Some(1));
        assert_eq!(memtoull(b"10kb"), Some(10 * 1024));
        assert_eq!(memtoull(b"2k"), Some(2000));
        assert_eq!(memtoull(b"0"), Some(0));
        assert_eq!(memtoull(b"-1"), None);
        assert_eq!(memtoull(b"5x"), None);
    }
}
