//! Millisecond expiry, long keys and large values over RESP, against the real binary.
//!
//! The timed tests sleep (expiry is about time), but assert behaviour only: a key is
//! present before its expiry and gone after it, within generous margins.

mod common;
mod resp_wire;

use resp_wire::{daemon, int, Resp};
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn px_150_is_present_at_100_ms_and_gone_by_200_ms() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    // The key expires at the server's SET time + 150 ms, SET being run between `t0` and
    // `t1`. So a GET sent before t1 + 150 ms may find it, one answered before t0 + 150 ms
    // must find it, and one sent at or after t1 + 150 ms must not: asserted per GET from
    // the times the test saw, so a test thread that oversleeps on a loaded host does not
    // fail a correct server.
    let t0 = std::time::Instant::now();
    c.check(&["SET", "k", "v", "PX", "150"], "+OK\r\n");
    let t1 = std::time::Instant::now();
    let pttl = int(&c.cmd(&["PTTL", "k"]));
    assert!((100..=150).contains(&pttl), "pttl {pttl}");
    let ms = |at: std::time::Instant, from: std::time::Instant| {
        at.saturating_duration_since(from).as_millis()
    };
    for wait in [100, 100] {
        sleep(Duration::from_millis(wait));
        let sent = std::time::Instant::now();
        let reply = c.cmd(&["GET", "k"]);
        let answered = std::time::Instant::now();
        match reply.as_str() {
            "$1\r\nv\r\n" => {
                assert!(ms(sent, t1) < 150, "present {} ms after SET", ms(sent, t1));
            }
            "$-1\r\n" => {
                assert!(
                    ms(answered, t0) >= 150,
                    "gone {} ms after SET",
                    ms(answered, t0)
                );
            }
            other => panic!("GET k: {other:?}"),
        }
    }
    // The second GET was sent at least 200 ms after SET, so it found the key gone.
    c.check(&["EXISTS", "k"], ":0\r\n");
}

#[test]
fn ex_1_lives_at_least_a_second_whenever_it_is_set() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    // Set at several fractions of a second: each key must outlive 1 s from its SET.
    let mut set_at = Vec::new();
    for i in 0..4 {
        let key = format!("k{i}");
        set_at.push((key.clone(), std::time::Instant::now()));
        c.check(&["SET", &key, "v", "EX", "1"], "+OK\r\n");
        sleep(Duration::from_millis(230));
    }
    for (key, at) in &set_at {
        let left = Duration::from_millis(950).saturating_sub(at.elapsed());
        sleep(left);
        // Still there just before its second is up...
        if at.elapsed() < Duration::from_millis(990) {
            c.check(&["EXISTS", key], ":1\r\n");
        }
    }
    sleep(Duration::from_millis(1100));
    // ...and gone a little after.
    for (key, _) in &set_at {
        c.check(&["EXISTS", key], ":0\r\n");
    }
}

#[test]
fn pxat_and_pexpiretime_are_exact_to_the_millisecond() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let at = unix_ms() + 123_457;
    c.check(&["SET", "k", "v", "PXAT", &at.to_string()], "+OK\r\n");
    c.check(&["PEXPIRETIME", "k"], &format!(":{at}\r\n"));
    // EXPIRETIME rounds to the nearest second, as Redis does.
    c.check(&["EXPIRETIME", "k"], &format!(":{}\r\n", (at + 500) / 1000));
    let pttl = int(&c.cmd(&["PTTL", "k"]));
    assert!((123_000..=123_457).contains(&pttl), "pttl {pttl}");
    c.check(&["TTL", "k"], ":123\r\n");
    c.check(&["PEXPIREAT", "k", &(at + 1).to_string()], ":1\r\n");
    c.check(&["PEXPIRETIME", "k"], &format!(":{}\r\n", at + 1));
    // GT/LT compare milliseconds.
    c.check(&["PEXPIREAT", "k", &at.to_string(), "GT"], ":0\r\n");
    c.check(&["PEXPIREAT", "k", &at.to_string(), "LT"], ":1\r\n");
    c.check(&["PEXPIRETIME", "k"], &format!(":{at}\r\n"));
    c.check(&["SET", "k", "w", "KEEPTTL"], "+OK\r\n");
    c.check(&["PEXPIRETIME", "k"], &format!(":{at}\r\n"));
    c.check(&["PERSIST", "k"], ":1\r\n");
    c.check(&["PEXPIRETIME", "k"], ":-1\r\n");
}

#[test]
fn expireat_beyond_2106_is_kept_exactly() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["SET", "k", "v"], "+OK\r\n");
    // 2106-02-07 is the end of u32 unix seconds; these are far past it.
    for secs in ["4294967297", "9999999999", "253402300799"] {
        c.check(&["EXPIREAT", "k", secs], ":1\r\n");
        c.check(&["EXPIRETIME", "k"], &format!(":{secs}\r\n"));
        c.check(&["PEXPIRETIME", "k"], &format!(":{secs}000\r\n"));
        c.check(&["GET", "k"], "$1\r\nv\r\n");
    }
    // Back to a near time on the same key, then a far one again.
    let near = unix_ms() + 60_000;
    c.check(&["PEXPIREAT", "k", &near.to_string()], ":1\r\n");
    c.check(&["PEXPIRETIME", "k"], &format!(":{near}\r\n"));
    c.check(&["SET", "f", "v", "PXAT", "9000000000000123"], "+OK\r\n");
    c.check(&["PEXPIRETIME", "f"], ":9000000000000123\r\n");
}

/// GETEX with EXAT/PXAT past 2106 on a key stored without a far time: the item needs the
/// far-expiry slot. The old code dropped the time silently (TTL -1 after GETEX answered).
#[test]
fn getex_beyond_2106_is_kept_exactly() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["SET", "k", "v"], "+OK\r\n");
    c.check(&["GETEX", "k", "EXAT", "9000000000"], "$1\r\nv\r\n");
    c.check(&["EXPIRETIME", "k"], ":9000000000\r\n");
    c.check(&["SET", "p", "w", "EX", "100"], "+OK\r\n");
    c.check(&["GETEX", "p", "PXAT", "9000000000123"], "$1\r\nw\r\n");
    c.check(&["PEXPIRETIME", "p"], ":9000000000123\r\n");
    c.check(&["GET", "p"], "$1\r\nw\r\n");
    // And back to a near time, then none.
    c.check(&["GETEX", "p", "EX", "100"], "$1\r\nw\r\n");
    let ttl = int(&c.cmd(&["TTL", "p"]));
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    c.check(&["GETEX", "p", "PERSIST"], "$1\r\nw\r\n");
    c.check(&["TTL", "p"], ":-1\r\n");
}

#[test]
fn keys_longer_than_250_bytes_over_resp() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for len in [250, 251, 255, 256, 1000, 64 * 1024] {
        let key = "k".repeat(len);
        c.check(&["SET", &key, &len.to_string()], "+OK\r\n");
        c.check(
            &["GET", &key],
            &format!("${}\r\n{len}\r\n", len.to_string().len()),
        );
        c.check(&["PEXPIRE", &key, "100000"], ":1\r\n");
        c.check(&["EXISTS", &key], ":1\r\n");
    }
    let long = "k".repeat(1000);
    let other = "o".repeat(300);
    c.check(&["RENAME", &long, &other], "+OK\r\n");
    c.check(&["GET", &other], "$4\r\n1000\r\n");
    c.check(&["DBSIZE"], ":6\r\n");
}

#[test]
fn values_of_megabytes_over_resp_and_larger_than_memory_is_oom() {
    let d = daemon(&["-m", "64"]);
    let mut c = d.connect_resp();
    for mb in [2usize, 4] {
        let big = "x".repeat(mb << 20);
        c.check(&["SET", "big", &big], "+OK\r\n");
        c.check(&["STRLEN", "big"], &format!(":{}\r\n", big.len()));
        let got = c.cmd(&["GET", "big"]);
        assert!(
            got == format!("${}\r\n{big}\r\n", big.len()),
            "{mb} MB value"
        );
    }
    c.check(&["APPEND", "big", "yz"], &format!(":{}\r\n", (4 << 20) + 2));
    c.check(&["GETRANGE", "big", "-2", "-1"], "$2\r\nyz\r\n");
    let huge = "y".repeat(80 << 20);
    c.check(
        &["SET", "huge", &huge],
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n",
    );
    // The connection is still usable and the smaller value is still there.
    c.check(&["STRLEN", "big"], &format!(":{}\r\n", (4 << 20) + 2));
}

#[test]
fn expired_keys_are_reclaimed_without_reads() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for i in 0..2000 {
        c.check(&["SET", &format!("k{i}"), "v", "PX", "100"], "+OK\r\n");
    }
    c.check(&["SET", "stays", "v"], "+OK\r\n");
    // Expiry cycles run every 100 ms; allow a generous second and a half.
    let mut n = 0;
    for _ in 0..30 {
        sleep(Duration::from_millis(100));
        n = int(&c.cmd(&["DBSIZE"]));
        if n == 1 {
            break;
        }
    }
    assert_eq!(n, 1, "expired keys still counted");
    let info = c.cmd(&["INFO", "stats"]);
    assert!(info.contains("\r\nexpired_keys:2000\r\n"), "{info}");
    assert!(info.contains("\r\nexpired_stale_perc:"), "{info}");
}
