//! Collections meet the string commands and the memcached protocol: RESP string commands
//! on a hash or set answer as redis-server 7.0.15 does (expected bytes recorded from it),
//! and the memcached protocol sees strings only (a collection is a miss to get/gets/mg/gat,
//! NOT_FOUND to touch/incr/decr/cas, NOT_STORED to append/prepend/add, and set/ms replace
//! it).

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn string_commands_on_collections() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["HSET", "h", "a", "1"], ":1\r\n");
    r.check(&["SADD", "s", "x"], ":1\r\n");
    r.check(
        &["GET", "h"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["GET", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["STRLEN", "h"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["APPEND", "h", "x"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["INCR", "h"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["DECRBY", "h", "2"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["INCRBYFLOAT", "h", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["GETRANGE", "h", "0", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SETRANGE", "h", "0", "x"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SETRANGE", "h", "0", ""],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(&["MGET", "h", "s", "nokey"], "*3\r\n$-1\r\n$-1\r\n$-1\r\n");
    r.check(
        &["GETSET", "h", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SET", "h", "x", "GET"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SET", "h", "x", "NX", "GET"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["GETDEL", "h"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["GETEX", "h"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["GETEX", "h", "EX", "100"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(&["TTL", "h"], ":-1\r\n");
    // The type check and the touch are one look: a collection keeps its expiry.
    r.check(&["EXPIRE", "h", "100"], ":1\r\n");
    for opt in [&["PERSIST"][..], &["PXAT", "1"], &["EX", "5"]] {
        let mut cmd = vec!["GETEX", "h"];
        cmd.extend_from_slice(opt);
        r.check(
            &cmd,
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        );
    }
    r.check(&["TTL", "h"], ":100\r\n");
    r.check(&["PERSIST", "h"], ":1\r\n");
    r.check(&["SETNX", "h", "1"], ":0\r\n");
    r.check(&["TYPE", "h"], "+hash\r\n");
    r.check(&["SET", "h", "str"], "+OK\r\n");
    r.check(&["TYPE", "h"], "+string\r\n");
    r.check(&["GET", "h"], "$3\r\nstr\r\n");
    r.check(
        &["SET", "s", "v", "GET", "XX"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(&["SET", "k", "v", "GET"], "$-1\r\n");
    r.check(&["SET", "k", "w", "GET", "XX"], "$1\r\nv\r\n");
    r.check(&["SET", "k", "w", "GET", "NX"], "$1\r\nw\r\n");
    r.check(&["GET", "k"], "$1\r\nw\r\n");
    r.check(&["EXPIRE", "s", "100"], ":1\r\n");
    r.check(&["TTL", "s"], ":100\r\n");
}

#[test]
fn memcached_sees_strings_only() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["SADD", "s", "x"], ":1\r\n");
    r.check(&["HSET", "h", "a", "1"], ":1\r\n");
    let mut m = d.connect();
    for (req, want) in [
        ("get s\r\n", "END\r\n"),
        ("gets s h\r\n", "END\r\n"),
        ("mg s v\r\n", "EN\r\n"),
        ("gat 10 h\r\n", "END\r\n"),
        ("touch s 10\r\n", "NOT_FOUND\r\n"),
        ("incr s 1\r\n", "NOT_FOUND\r\n"),
        ("decr h 1\r\n", "NOT_FOUND\r\n"),
        ("ma h\r\n", "NF\r\n"),
        ("append s 0 0 1\r\nz\r\n", "NOT_STORED\r\n"),
        ("prepend h 0 0 1\r\nz\r\n", "NOT_STORED\r\n"),
        ("cas s 0 0 1 1\r\nz\r\n", "NOT_FOUND\r\n"),
        ("add h 0 0 1\r\nz\r\n", "NOT_STORED\r\n"),
    ] {
        m.roundtrip(req.as_bytes(), want.as_bytes());
    }
    // Nothing above changed them.
    r.check(&["TYPE", "s"], "+set\r\n");
    r.check(&["TTL", "s"], ":-1\r\n");
    r.check(&["HGET", "h", "a"], "$1\r\n1\r\n");
    // set and ms replace a collection with a string.
    m.roundtrip(b"set s 0 0 1\r\nz\r\n", b"STORED\r\n");
    m.roundtrip(b"get s\r\n", b"VALUE s 0 1\r\nz\r\nEND\r\n");
    m.roundtrip(b"ms h 1\r\nq\r\n", b"HD\r\n");
    r.check(&["TYPE", "s"], "+string\r\n");
    r.check(&["GET", "h"], "$1\r\nq\r\n");
}

#[test]
fn memory_usage_counts_collections() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["MEMORY", "USAGE", "nokey"], "$-1\r\n");
    r.check(&["SET", "s", "0123456789"], "+OK\r\n");
    // 24-byte header + 5 bytes of index + 1-byte key + 10-byte value.
    r.check(&["MEMORY", "USAGE", "s"], ":40\r\n");
    r.check(&["MEMORY", "USAGE", "s", "SAMPLES", "0"], ":40\r\n");
    r.check(
        &["MEMORY", "USAGE", "s", "SAMPLES", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    r.check(
        &["MEMORY", "USAGE", "s", "SAMPLES", "-1"],
        "-ERR syntax error\r\n",
    );
    r.check(&["MEMORY", "USAGE", "s", "FOO"], "-ERR syntax error\r\n");
    r.check(
        &["MEMORY", "USAGE"],
        "-ERR wrong number of arguments for 'memory|usage' command\r\n",
    );
    r.check(
        &["MEMORY", "FOO"],
        "-ERR unknown subcommand 'FOO'. Try MEMORY HELP.\r\n",
    );
    for i in 0..1000 {
        r.cmd(&["SADD", "big", &format!("member{i}")]);
    }
    let usage = resp_wire::int(&r.cmd(&["MEMORY", "USAGE", "big"]));
    // A table of 1000 members: at least their bytes, at most a few hundred bytes each.
    assert!((10_000..200_000).contains(&usage), "{usage}");
}
