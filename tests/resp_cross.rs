//! One keyspace for both protocols: values, flags, TTLs and counters written by one are seen
//! by the other, and `stats` and `INFO` count the same traffic.

mod common;
mod resp_wire;

use resp_wire::{daemon, int, Resp};

#[test]
fn memcached_writes_are_redis_strings() {
    let d = daemon(&[]);
    let mut mc = d.connect();
    let mut r = d.connect_resp();
    mc.roundtrip(b"set k 42 0 5\r\nhello\r\n", b"STORED\r\n");
    r.check(&["GET", "k"], "$5\r\nhello\r\n");
    r.check(&["TYPE", "k"], "+string\r\n");
    r.check(&["STRLEN", "k"], ":5\r\n");
    // Flags survive a RESP append and a RESP read.
    r.check(&["APPEND", "k", " world"], ":11\r\n");
    mc.roundtrip(b"get k\r\n", b"VALUE k 42 11\r\nhello world\r\nEND\r\n");
    r.check(&["SETRANGE", "k", "0", "J"], ":11\r\n");
    mc.roundtrip(b"get k\r\n", b"VALUE k 42 11\r\nJello world\r\nEND\r\n");
    // A RESP SET replaces the value and the flags.
    r.check(&["SET", "k", "redis"], "+OK\r\n");
    mc.roundtrip(b"get k\r\n", b"VALUE k 0 5\r\nredis\r\nEND\r\n");
    r.check(&["DEL", "k"], ":1\r\n");
    mc.roundtrip(b"get k\r\n", b"END\r\n");
}

#[test]
fn ttls_agree() {
    let d = daemon(&[]);
    let mut mc = d.connect();
    let mut r = d.connect_resp();
    mc.roundtrip(b"set t 0 100 1\r\nv\r\n", b"STORED\r\n");
    let ttl = int(&r.cmd(&["TTL", "t"]));
    assert!((99..=100).contains(&ttl), "{ttl}");
    r.check(&["EXPIRE", "t", "500"], ":1\r\n");
    mc.send(b"mg t t\r\n");
    let line = String::from_utf8(mc.read_line()).unwrap();
    let left: i64 = line.trim().strip_prefix("HD t").unwrap().parse().unwrap();
    assert!((499..=501).contains(&left), "{line}");
    r.check(&["PERSIST", "t"], ":1\r\n");
    mc.roundtrip(b"mg t t\r\n", b"HD t-1\r\n");
}

#[test]
fn counters_are_shared() {
    let d = daemon(&[]);
    let mut mc = d.connect();
    let mut r = d.connect_resp();
    r.check(&["SET", "n", "10"], "+OK\r\n");
    mc.roundtrip(b"incr n 5\r\n", b"15\r\n");
    r.check(&["INCR", "n"], ":16\r\n");
    mc.roundtrip(b"get n\r\n", b"VALUE n 0 2\r\n16\r\nEND\r\n");
}

#[test]
fn memcached_sees_database_0_only() {
    let d = daemon(&[]);
    let mut mc = d.connect();
    let mut r = d.connect_resp();
    r.check(&["SELECT", "1"], "+OK\r\n");
    r.check(&["SET", "db1", "x"], "+OK\r\n");
    mc.roundtrip(b"get db1\r\n", b"END\r\n");
    r.check(&["MOVE", "db1", "0"], ":1\r\n");
    mc.roundtrip(b"get db1\r\n", b"VALUE db1 0 1\r\nx\r\nEND\r\n");
    mc.roundtrip(b"flush_all\r\n", b"OK\r\n");
    r.check(&["SELECT", "0"], "+OK\r\n");
    r.check(&["GET", "db1"], "$-1\r\n");
}

#[test]
fn stats_and_info_count_the_same_traffic() {
    let d = daemon(&[]);
    let mut mc = d.connect();
    let mut r = d.connect_resp();
    let hits = mc.stat("get_hits");
    let misses = mc.stat("get_misses");
    r.check(&["SET", "a", "1"], "+OK\r\n");
    r.check(&["GET", "a"], "$1\r\n1\r\n");
    r.check(&["GET", "b"], "$-1\r\n");
    mc.roundtrip(b"get a\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n");
    assert_eq!(mc.stat("get_hits"), hits + 2);
    assert_eq!(mc.stat("get_misses"), misses + 1);
    let info = r.cmd(&["INFO", "stats"]);
    assert!(
        info.contains(&format!("keyspace_hits:{}\r\n", hits + 2)),
        "{info}"
    );
    assert!(
        info.contains(&format!("keyspace_misses:{}\r\n", misses + 1)),
        "{info}"
    );
}
