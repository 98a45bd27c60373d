//! The DEBUG subcommands Redis's test suite uses to provoke slow commands, hold the
//! background work still and shape lists: `DEBUG SLEEP`, `DEBUG SET-ACTIVE-EXPIRE`,
//! `DEBUG PAUSE-CRON`, `DEBUG QUICKLIST-PACKED-THRESHOLD`; and `DEBUG SEGFAULT`, which
//! crashes the server (integration/logging checks its crash report).
//! (DEBUG itself, with RELOAD, LOADAOF and OBJECT, is in persistence.rs; it hands these
//! here.)

use std::sync::atomic::Ordering;

use super::Call;
use crate::collections::list::packed_threshold;
use crate::directives::parse_memory;
use crate::protocol::resp::Args;

/// Runs `DEBUG <sub> ...` if `sub` is one of this file's; false if it is not.
pub(super) fn run(call: &mut Call<'_>, args: Args<'_>) -> bool {
    let sub = args.get(1);
    if args.len() == 2 && sub.eq_ignore_ascii_case(b"segfault") {
        // As Redis: the server dies of SIGSEGV, with its crash report in the log.
        crate::server::signals::crash();
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
