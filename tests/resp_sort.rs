//! SORT and SORT_RO over RESP: every reply byte for byte as redis-server 7.0.15 sent it for
//! the same commands (recorded by running each test's commands against it).

mod common;
mod resp_wire;

use std::time::{Duration, Instant};

use common::Conn;
use resp_wire::{daemon, encode, int, Resp};

/// The bulk strings of an array reply, in order.
fn bulks(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let mut out = Vec::new();
    while let Some(l) = lines.next() {
        if l.starts_with('$') {
            out.push(lines.next().unwrap_or_default().to_string());
        }
    }
    out
}

#[test]
fn sort_lists_sets_and_sorted_sets() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // numeric and ALPHA sorts of a list, DESC, LIMIT (Redis's clamping)
    r.check(&["rpush", "l", "3", "1", "2", "10", "1.5", "-4"], ":6\r\n");
    r.check(
        &["sort", "l"],
        "*6\r\n$2\r\n-4\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    );
    r.check(
        &["sort", "l", "desc"],
        "*6\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n2\r\n$3\r\n1.5\r\n$1\r\n1\r\n$2\r\n-4\r\n",
    );
    r.check(
        &["sort", "l", "alpha"],
        "*6\r\n$2\r\n-4\r\n$1\r\n1\r\n$3\r\n1.5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    r.check(
        &["sort", "l", "alpha", "desc"],
        "*6\r\n$1\r\n3\r\n$1\r\n2\r\n$2\r\n10\r\n$3\r\n1.5\r\n$1\r\n1\r\n$2\r\n-4\r\n",
    );
    r.check(
        &["sort", "l", "limit", "1", "2"],
        "*2\r\n$1\r\n1\r\n$3\r\n1.5\r\n",
    );
    r.check(
        &["sort", "l", "limit", "-5", "2"],
        "*2\r\n$2\r\n-4\r\n$1\r\n1\r\n",
    );
    r.check(
        &["sort", "l", "limit", "2", "-7"],
        "*4\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    );
    r.check(&["sort", "l", "limit", "100", "1"], "*0\r\n");
    r.check(&["sort", "l", "limit", "0", "0"], "*0\r\n");
    r.check(
        &["sort", "l", "limit", "1", "9223372036854775807"],
        "*5\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    );
    r.check(
        &["sort", "l", "asc", "desc", "asc"],
        "*6\r\n$2\r\n-4\r\n$1\r\n1\r\n$3\r\n1.5\r\n$1\r\n2\r\n$1\r\n3\r\n$2\r\n10\r\n",
    );
    r.check(
        &["sort_ro", "l", "desc", "limit", "0", "3"],
        "*3\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n2\r\n",
    );
    // BY without '*': no sorting; lists keep their order, reversed by DESC
    r.check(
        &["sort", "l", "by", "nosort"],
        "*6\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n$2\r\n10\r\n$3\r\n1.5\r\n$2\r\n-4\r\n",
    );
    r.check(
        &["sort", "l", "by", "nosort", "desc"],
        "*6\r\n$2\r\n-4\r\n$3\r\n1.5\r\n$2\r\n10\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n3\r\n",
    );
    r.check(
        &["sort", "l", "by", "nosort", "desc", "limit", "1", "2"],
        "*2\r\n$3\r\n1.5\r\n$2\r\n10\r\n",
    );
    r.check(
        &["sort", "l", "by", "nosort", "limit", "1", "2"],
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
    );
    r.check(&["sort", "l", "by", "nosort", "limit", "10", "2"], "*0\r\n");
    // sorted sets: by member (numeric fails), ALPHA, or their score order
    r.check(
        &[
            "zadd", "z", "1", "a", "5", "b", "2", "c", "10", "d", "3", "e",
        ],
        ":5\r\n",
    );
    r.check(
        &["sort", "z", "alpha", "desc"],
        "*5\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n",
    );
    r.check(
        &["sort", "z", "by", "nosort"],
        "*5\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nd\r\n",
    );
    r.check(
        &["sort", "z", "by", "nosort", "desc"],
        "*5\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\ne\r\n$1\r\nc\r\n$1\r\na\r\n",
    );
    r.check(
        &["sort", "z", "by", "nosort", "desc", "limit", "1", "2"],
        "*2\r\n$1\r\nb\r\n$1\r\ne\r\n",
    );
    r.check(
        &["sort", "z", "by", "nosort", "limit", "-10", "100"],
        "*5\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nd\r\n",
    );
    r.check(&["sort", "z", "by", "nosort", "limit", "5", "10"], "*0\r\n");
    // sets: an intset iterates in order; ALPHA sorts
    r.check(&["sadd", "st", "5", "3", "9", "1"], ":4\r\n");
    r.check(
        &["sort", "st"],
        "*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n9\r\n",
    );
    r.check(
        &["sort", "st", "by", "nosort"],
        "*4\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n9\r\n",
    );
    r.check(
        &["sort", "st", "desc", "limit", "1", "2"],
        "*2\r\n$1\r\n5\r\n$1\r\n3\r\n",
    );
    r.check(&["sadd", "st2", "b", "a", "c", "aa"], ":4\r\n");
    r.check(
        &["sort", "st2", "alpha"],
        "*4\r\n$1\r\na\r\n$2\r\naa\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    // a missing key is an empty list
    r.check(&["sort", "missing"], "*0\r\n");
    r.check(&["sort", "missing", "by", "nosort", "get", "#"], "*0\r\n");
    // equal weights sort by the element's bytes; duplicates kept
    r.check(
        &["rpush", "dups", "b", "a", "b", "a", "1", "01", "1.0"],
        ":7\r\n",
    );
    r.check(
        &["sort", "dups", "alpha"],
        "*7\r\n$2\r\n01\r\n$1\r\n1\r\n$3\r\n1.0\r\n$1\r\na\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nb\r\n",
    );
    r.check(
        &["sort", "dups", "alpha", "desc"],
        "*7\r\n$1\r\nb\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\na\r\n$3\r\n1.0\r\n$1\r\n1\r\n$2\r\n01\r\n",
    );
    r.check(&["rpush", "eq", "2", "02", "2.0", "1"], ":4\r\n");
    r.check(
        &["sort", "eq"],
        "*4\r\n$1\r\n1\r\n$2\r\n02\r\n$1\r\n2\r\n$3\r\n2.0\r\n",
    );
    // C strtod: spaces before, hex, exponents, infinities; an empty string is 0
    r.check(
        &[
            "rpush", "sp", " 5", "", "0x10", "1e2", "inf", "-inf", "-0", "+.5",
        ],
        ":8\r\n",
    );
    r.check(&["sort", "sp"], "*8\r\n$4\r\n-inf\r\n$0\r\n\r\n$2\r\n-0\r\n$3\r\n+.5\r\n$2\r\n 5\r\n$4\r\n0x10\r\n$3\r\n1e2\r\n$3\r\ninf\r\n");
    r.check(&["sort", "sp", "desc"], "*8\r\n$3\r\ninf\r\n$3\r\n1e2\r\n$4\r\n0x10\r\n$2\r\n 5\r\n$3\r\n+.5\r\n$2\r\n-0\r\n$0\r\n\r\n$4\r\n-inf\r\n");
}

#[test]
fn sort_errors_in_redis_order() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // errors, in Redis's order: options first, then the key's type, then the weights
    r.check(&["set", "s", "str"], "+OK\r\n");
    r.check(&["hset", "h", "a", "1"], ":1\r\n");
    r.check(&["rpush", "l", "1", "2"], ":2\r\n");
    r.check(
        &["sort", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["sort", "h"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(&["sort", "s", "foo"], "-ERR syntax error\r\n");
    r.check(&["sort", "l", "foo"], "-ERR syntax error\r\n");
    r.check(
        &["sort", "l", "limit", "x", "1"],
        "-ERR value is not an integer or out of range\r\n",
    );
    r.check(
        &["sort", "l", "limit", "1", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    r.check(&["sort", "l", "limit", "1"], "-ERR syntax error\r\n");
    r.check(&["sort", "l", "store"], "-ERR syntax error\r\n");
    r.check(&["sort", "l", "get"], "-ERR syntax error\r\n");
    r.check(&["sort", "l", "by"], "-ERR syntax error\r\n");
    r.check(&["sort_ro", "l", "store", "x"], "-ERR syntax error\r\n");
    r.check(&["sort_ro", "s", "store", "x"], "-ERR syntax error\r\n");
    r.check(
        &["sort_ro", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(&["rpush", "bad", "1", "x", "2"], ":3\r\n");
    r.check(
        &["sort", "bad"],
        "-ERR One or more scores can't be converted into double\r\n",
    );
    r.check(
        &["sort", "bad", "desc", "limit", "0", "1"],
        "-ERR One or more scores can't be converted into double\r\n",
    );
    r.check(
        &["sort", "bad", "alpha"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\nx\r\n",
    );
    r.check(
        &["sort", "bad", "by", "nosort"],
        "*3\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n2\r\n",
    );
    r.check(&["rpush", "nan", "nan"], ":1\r\n");
    r.check(
        &["sort", "nan"],
        "-ERR One or more scores can't be converted into double\r\n",
    );
    r.check(&["rpush", "trail", "1 "], ":1\r\n");
    r.check(
        &["sort", "trail"],
        "-ERR One or more scores can't be converted into double\r\n",
    );
    r.check(&["rpush", "big", "1e400"], ":1\r\n");
    r.check(
        &["sort", "big"],
        "-ERR One or more scores can't be converted into double\r\n",
    );
    r.check(&["rpush", "tiny", "1e-400"], ":1\r\n");
    r.check(
        &["sort", "tiny"],
        "-ERR One or more scores can't be converted into double\r\n",
    );
    r.check(&["set", "w_1", "notnum"], "+OK\r\n");
    r.check(
        &["sort", "l", "by", "w_*"],
        "-ERR One or more scores can't be converted into double\r\n",
    );
    r.check(
        &["sort", "l", "by", "w_*", "alpha"],
        "*2\r\n$1\r\n2\r\n$1\r\n1\r\n",
    );
}

#[test]
fn sort_by_and_get_patterns() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // BY and GET patterns: weight_* (a string key), wobj_*->field (a hash field), #
    r.check(&["rpush", "l", "3", "1", "2"], ":3\r\n");
    r.check(&["set", "w_3", "30"], "+OK\r\n");
    r.check(&["set", "w_1", "10"], "+OK\r\n");
    r.check(&["set", "w_2", "5"], "+OK\r\n");
    r.check(&["hset", "o_1", "f", "100"], ":1\r\n");
    r.check(&["hset", "o_3", "f", "-1"], ":1\r\n");
    r.check(&["hset", "o_3", "g", "x"], ":1\r\n");
    r.check(
        &["sort", "l", "by", "w_*"],
        "*3\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n3\r\n",
    );
    r.check(
        &["sort", "l", "by", "w_*", "desc"],
        "*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n",
    );
    r.check(
        &["sort", "l", "by", "w_*", "alpha"],
        "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n2\r\n",
    );
    r.check(
        &["sort", "l", "by", "w_*", "alpha", "desc"],
        "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n",
    );
    r.check(
        &["sort", "l", "by", "w_*", "limit", "1", "1"],
        "*1\r\n$1\r\n1\r\n",
    );
    r.check(&["sort", "l", "by", "w_*", "get", "#", "get", "w_*", "get", "o_*->f", "get", "nothing", "get", "#x"], "*15\r\n$1\r\n2\r\n$1\r\n5\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\n1\r\n$2\r\n10\r\n$3\r\n100\r\n$-1\r\n$-1\r\n$1\r\n3\r\n$2\r\n30\r\n$2\r\n-1\r\n$-1\r\n$-1\r\n");
    r.check(
        &["sort", "l", "by", "o_*->f"],
        "*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n",
    );
    r.check(
        &["sort", "l", "by", "o_*->f", "desc"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    r.check(
        &["sort", "l", "by", "o_*->f", "alpha"],
        "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n",
    );
    r.check(
        &["sort", "l", "by", "o_*->f", "alpha", "desc"],
        "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n2\r\n",
    );
    r.check(
        &["sort", "l", "get", "o_*->", "get", "o_*->g"],
        "*6\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\nx\r\n",
    );
    r.check(
        &["sort", "l", "by", "nosort", "get", "o_*->f", "get", "w_*"],
        "*6\r\n$2\r\n-1\r\n$2\r\n30\r\n$3\r\n100\r\n$2\r\n10\r\n$-1\r\n$1\r\n5\r\n",
    );
    // a key of another type, or a hash read as a string, is missing
    r.check(&["rpush", "w_9", "x"], ":1\r\n");
    r.check(&["sadd", "w_8", "x"], ":1\r\n");
    r.check(&["rpush", "k", "9", "8", "3"], ":3\r\n");
    r.check(
        &["sort", "k", "by", "w_*", "get", "w_*"],
        "*3\r\n$-1\r\n$-1\r\n$2\r\n30\r\n",
    );
    r.check(
        &["sort", "k", "by", "o_*->f", "get", "o_*->f"],
        "*3\r\n$2\r\n-1\r\n$-1\r\n$-1\r\n",
    );
    // '->' at the end is part of the key; only the first '->' after '*' splits
    r.check(&["set", "x:3->", "100"], "+OK\r\n");
    r.check(
        &["sort", "l", "by", "nosort", "get", "x:*->"],
        "*3\r\n$3\r\n100\r\n$-1\r\n$-1\r\n",
    );
    r.check(&["hset", "hh_1", "f->g", "9"], ":1\r\n");
    r.check(
        &["sort", "l", "by", "hh_*->f->g", "get", "hh_*->f->g"],
        "*3\r\n$-1\r\n$-1\r\n$1\r\n9\r\n",
    );
    r.check(
        &["sort", "l", "by", "*->f"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    r.check(
        &["sort", "l", "get", "#->f", "get", "*"],
        "*6\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n",
    );
    // alpha BY: elements without a BY value come first
    r.check(&["set", "a_2", "b"], "+OK\r\n");
    r.check(&["set", "a_3", "a"], "+OK\r\n");
    r.check(
        &["sort", "l", "by", "a_*", "alpha"],
        "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n2\r\n",
    );
    r.check(
        &["sort", "l", "by", "a_*", "alpha", "desc"],
        "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n1\r\n",
    );
}

#[test]
fn sort_store() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // STORE: a list replacing any type, without expiry; empty results delete the key
    r.check(&["rpush", "l", "3", "1", "2"], ":3\r\n");
    r.check(&["set", "w_1", "x"], "+OK\r\n");
    r.check(&["sort", "l", "store", "dst"], ":3\r\n");
    r.check(
        &["lrange", "dst", "0", "-1"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    r.check(&["type", "dst"], "+list\r\n");
    r.check(&["object", "encoding", "dst"], "$9\r\nquicklist\r\n");
    r.check(
        &["sort", "l", "by", "nosort", "desc", "store", "dst"],
        ":3\r\n",
    );
    r.check(
        &["lrange", "dst", "0", "-1"],
        "*3\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n3\r\n",
    );
    r.check(&["expire", "dst", "100"], ":1\r\n");
    r.check(&["sort", "l", "desc", "store", "dst"], ":3\r\n");
    r.check(&["ttl", "dst"], ":-1\r\n");
    r.check(&["set", "strdst", "v"], "+OK\r\n");
    r.check(&["sort", "l", "store", "strdst"], ":3\r\n");
    r.check(
        &["lrange", "strdst", "0", "-1"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    r.check(
        &["sort", "l", "get", "w_*", "get", "#", "store", "dst"],
        ":6\r\n",
    );
    r.check(
        &["lrange", "dst", "0", "-1"],
        "*6\r\n$1\r\nx\r\n$1\r\n1\r\n$0\r\n\r\n$1\r\n2\r\n$0\r\n\r\n$1\r\n3\r\n",
    );
    r.check(
        &["sort", "l", "limit", "10", "10", "store", "dst"],
        ":0\r\n",
    );
    r.check(&["exists", "dst"], ":0\r\n");
    r.check(&["sort", "missing", "store", "dst2"], ":0\r\n");
    r.check(&["exists", "dst2"], ":0\r\n");
    r.check(&["sort", "l", "STORE", "a", "STORE", "b"], ":3\r\n");
    r.check(&["exists", "a", "b"], ":1\r\n");
    // a set sorted by a constant for STORE is sorted by ALPHA
    r.check(&["sadd", "myset", "c", "a", "b", "aa", "10", "9"], ":6\r\n");
    r.check(&["sort", "myset", "by", "_", "store", "out"], ":6\r\n");
    r.check(
        &["lrange", "out", "0", "-1"],
        "*6\r\n$2\r\n10\r\n$1\r\n9\r\n$1\r\na\r\n$2\r\naa\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    r.check(&["sort", "myset", "alpha", "store", "out"], ":6\r\n");
    r.check(
        &["lrange", "out", "0", "-1"],
        "*6\r\n$2\r\n10\r\n$1\r\n9\r\n$1\r\na\r\n$2\r\naa\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    // STORE compares whole values in ALPHA
    r.check(&["rpush", "nul", "a\x00c", "a\x00b"], ":2\r\n");
    r.check(&["sort", "nul", "alpha", "store", "out"], ":2\r\n");
    r.check(
        &["lrange", "out", "0", "-1"],
        "*2\r\n$3\r\na\x00b\r\n$3\r\na\x00c\r\n",
    );
}

#[test]
fn sort_by_and_get_need_read_access_to_every_key() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // BY with a pattern and GET need a selector that reads every key
    r.check(&["rpush", "l", "2", "1"], ":2\r\n");
    r.check(&["set", "v1", "x"], "+OK\r\n");
    r.check(
        &[
            "acl", "setuser", "u1", "on", "nopass", "+sort", "+sort_ro", "~l",
        ],
        "+OK\r\n",
    );
    r.check(
        &[
            "acl", "setuser", "u2", "on", "nopass", "+sort", "~l", "%R~*",
        ],
        "+OK\r\n",
    );
    r.check(
        &[
            "acl", "setuser", "u3", "on", "nopass", "+sort", "~l", "%W~*",
        ],
        "+OK\r\n",
    );
    r.check(&["auth", "u1", "x"], "+OK\r\n");
    r.check(
        &["sort", "l", "by", "v*"],
        "-ERR BY option of SORT denied due to insufficient ACL permissions.\r\n",
    );
    r.check(
        &["sort", "l", "get", "v*"],
        "-ERR GET option of SORT denied due to insufficient ACL permissions.\r\n",
    );
    r.check(
        &["sort_ro", "l", "get", "#"],
        "-ERR GET option of SORT denied due to insufficient ACL permissions.\r\n",
    );
    r.check(
        &["sort", "l", "by", "nosort"],
        "*2\r\n$1\r\n2\r\n$1\r\n1\r\n",
    );
    r.check(&["sort", "l"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.check(&["auth", "u3", "x"], "+OK\r\n");
    r.check(
        &["sort", "l", "by", "v*"],
        "-ERR BY option of SORT denied due to insufficient ACL permissions.\r\n",
    );
    r.check(&["auth", "u2", "x"], "+OK\r\n");
    r.check(
        &["sort", "l", "by", "v*", "get", "#"],
        "-ERR One or more scores can't be converted into double\r\n",
    );
}

#[test]
fn sort_resp3() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.cmd(&["HELLO", "3"]);
    r.check(&["rpush", "l", "3", "1", "2"], ":3\r\n");
    r.check(&["set", "w_1", "10"], "+OK\r\n");
    r.check(
        &["sort", "l", "get", "#", "get", "w_*"],
        "*6\r\n$1\r\n1\r\n$2\r\n10\r\n$1\r\n2\r\n_\r\n$1\r\n3\r\n_\r\n",
    );
    r.check(&["sort", "l", "by", "nosort", "store", "d"], ":3\r\n");
    r.check(&["sort_ro", "missing"], "*0\r\n");
    r.check(
        &["sort", "l", "limit", "x", "1"],
        "-ERR value is not an integer or out of range\r\n",
    );
}

/// Keyspace events of SORT ... STORE, as redis-server 7.0.15 publishes them: `sortstore`
/// (class list) when it stores, `del` when an empty result deletes an existing key,
/// nothing when there was nothing to delete.
#[test]
fn sort_store_keyspace_events() {
    let d = daemon(&[]);
    let mut a = d.connect_resp();
    let mut sub = d.connect_resp();
    a.check(&["RPUSH", "l", "2", "1"], ":2\r\n");
    a.check(
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        "+OK\r\n",
    );
    sub.check(
        &["PSUBSCRIBE", "__keyevent*"],
        "*3\r\n$10\r\npsubscribe\r\n$11\r\n__keyevent*\r\n:1\r\n",
    );
    a.check(&["SORT", "l", "STORE", "d"], ":2\r\n");
    a.check(&["SORT", "nokey", "STORE", "d"], ":0\r\n");
    a.check(&["SORT", "nokey", "STORE", "d"], ":0\r\n");
    a.check(&["SORT", "l"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    a.check(&["SET", "end", "x"], "+OK\r\n");
    let want = [
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$24\r\n__keyevent@0__:sortstore\r\n$1\r\nd\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nd\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$18\r\n__keyevent@0__:set\r\n$3\r\nend\r\n",
    ];
    for w in want {
        assert_eq!(String::from_utf8(sub.reply()).unwrap(), w);
    }
}

/// Large forms (a list of many nodes, a hash-table set, a tree sorted set) sort the same
/// as a model: by weight keys, by hash fields, LIMIT, DESC, and ALPHA.
#[test]
fn sort_large_collections_by_weights() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    let n = 3000usize;
    // Distinct weights in a scrambled order.
    let weight = |i: usize| (i * 7919) % 10007;
    let members: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    for chunk in members.chunks(500) {
        let mut l = vec!["RPUSH", "l"];
        let mut s = vec!["SADD", "s"];
        let mut z = vec!["ZADD", "z"];
        let scores: Vec<String> = chunk.iter().map(|m| format!("-{m}")).collect();
        for (m, sc) in chunk.iter().zip(&scores) {
            l.push(m);
            s.push(m);
            z.push(sc);
            z.push(m);
        }
        r.cmd(&l);
        r.cmd(&s);
        r.cmd(&z);
    }
    for i in 0..n {
        let w = weight(i).to_string();
        r.check(&["SET", &format!("w_{i}"), &w], "+OK\r\n");
        r.check(&["HSET", &format!("o_{i}"), "f", &w], ":1\r\n");
    }
    r.check(&["OBJECT", "ENCODING", "s"], "$9\r\nhashtable\r\n");
    r.check(&["OBJECT", "ENCODING", "z"], "$8\r\nskiplist\r\n");
    let mut by_weight: Vec<usize> = (0..n).collect();
    by_weight.sort_by_key(|&i| weight(i));
    let want: Vec<String> = by_weight.iter().map(|i| i.to_string()).collect();
    for key in ["l", "s", "z"] {
        assert_eq!(bulks(&r.cmd(&["SORT", key, "BY", "w_*"])), want, "{key}");
        assert_eq!(bulks(&r.cmd(&["SORT", key, "BY", "o_*->f"])), want, "{key}");
        let mut desc = want.clone();
        desc.reverse();
        assert_eq!(
            bulks(&r.cmd(&["SORT", key, "BY", "w_*", "DESC", "LIMIT", "10", "5"])),
            desc[10..15],
            "{key}"
        );
        let mut numeric: Vec<usize> = (0..n).collect();
        numeric.sort();
        let numeric: Vec<String> = numeric.iter().map(|i| i.to_string()).collect();
        assert_eq!(bulks(&r.cmd(&["SORT", key])), numeric, "{key}");
        let mut alpha = numeric.clone();
        alpha.sort();
        assert_eq!(bulks(&r.cmd(&["SORT", key, "ALPHA"])), alpha, "{key}");
        let got = bulks(&r.cmd(&["SORT", key, "BY", "w_*", "GET", "#", "GET", "o_*->f"]));
        let pairs: Vec<String> = by_weight
            .iter()
            .flat_map(|&i| [i.to_string(), weight(i).to_string()])
            .collect();
        assert_eq!(got, pairs, "{key}");
    }
    // Their own orders with BY nosort: the list's, the sorted set's (scores -i).
    let list_order: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    assert_eq!(bulks(&r.cmd(&["SORT", "l", "BY", "nosort"])), list_order);
    let mut zorder = list_order.clone();
    zorder.reverse();
    assert_eq!(
        bulks(&r.cmd(&["SORT", "z", "BY", "nosort", "LIMIT", "5", "3"])),
        zorder[5..8]
    );
    assert_eq!(
        bulks(&r.cmd(&["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "5", "3"])),
        list_order[5..8]
    );
    // A big STORE becomes a large list.
    assert_eq!(
        int(&r.cmd(&["SORT", "s", "BY", "w_*", "STORE", "out"])),
        n as i64
    );
    assert_eq!(bulks(&r.cmd(&["LRANGE", "out", "0", "-1"])), want);
}

/// SORT ... STORE into a key a client is blocked on (BLPOP) wakes it, as Redis's
/// `setKey` of a new list does; SORT in MULTI/EXEC sees the transaction's writes.
#[test]
fn sort_store_wakes_a_blocked_pop_and_runs_in_multi() {
    let d = daemon(&["-t", "2"]);
    let mut waiter = d.connect_resp();
    let mut r = d.connect_resp();
    r.check(&["RPUSH", "l", "b", "a"], ":2\r\n");
    waiter.send(&encode(&[b"BLPOP", b"dst", b"0"]));
    let start = Instant::now();
    while !r
        .cmd(&["INFO", "clients"])
        .contains("blocked_clients:1\r\n")
    {
        assert!(start.elapsed() < Duration::from_secs(10), "never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
    r.check(&["SORT", "l", "ALPHA", "STORE", "dst"], ":2\r\n");
    assert_eq!(
        String::from_utf8(waiter.reply()).unwrap(),
        "*2\r\n$3\r\ndst\r\n$1\r\na\r\n"
    );
    r.check(&["LRANGE", "dst", "0", "-1"], "*1\r\n$1\r\nb\r\n");
    r.check(&["MULTI"], "+OK\r\n");
    r.check(&["RPUSH", "l", "c"], "+QUEUED\r\n");
    r.check(&["SORT", "l", "ALPHA", "DESC"], "+QUEUED\r\n");
    r.check(
        &["SORT", "l", "BY", "nosort", "STORE", "dst"],
        "+QUEUED\r\n",
    );
    r.check(
        &["EXEC"],
        "*3\r\n:3\r\n*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n:3\r\n",
    );
    // From a script, a set sorted BY a constant is sorted (ALPHA), as in Redis.
    r.check(&["SADD", "set", "c", "a", "b"], ":3\r\n");
    r.check(
        &[
            "EVAL",
            "return redis.call('sort', KEYS[1], 'by', 'nosort')",
            "1",
            "set",
        ],
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
}

/// The append-only file logs the key SORT ... STORE wrote (the last STORE option), so a
/// restart replays it.
#[test]
fn sort_store_is_in_the_append_only_file() {
    let dir = std::env::temp_dir().join(format!("slabd-sort-aof-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let args = [
        "--resp-port",
        "0",
        "--dir",
        dir.to_str().unwrap(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let loaded = |r: &mut Conn| {
        let start = Instant::now();
        while !r.cmd(&["INFO", "persistence"]).contains("\nloading:0\r\n") {
            assert!(start.elapsed() < Duration::from_secs(30), "still loading");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let d = common::Daemon::start(&args);
    let mut r = d.connect_resp();
    loaded(&mut r);
    r.check(&["RPUSH", "l", "3", "1", "2"], ":3\r\n");
    r.check(&["SET", "old", "x"], "+OK\r\n");
    r.check(&["SORT", "l", "STORE", "ignored", "STORE", "d"], ":3\r\n");
    r.check(
        &[
            "SORT", "l", "GET", "store", "LIMIT", "0", "1", "STORE", "one",
        ],
        ":1\r\n",
    );
    r.check(&["SORT", "nokey", "STORE", "old"], ":0\r\n");
    drop(d);
    let d = common::Daemon::start(&args);
    let mut r = d.connect_resp();
    loaded(&mut r);
    r.check(
        &["LRANGE", "d", "0", "-1"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    r.check(&["LRANGE", "one", "0", "-1"], "*1\r\n$0\r\n\r\n");
    r.check(&["EXISTS", "ignored", "old"], ":0\r\n");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_getkeys_finds_the_last_store_key() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // Replies recorded from redis-server 7.0.15.
    let cases: [(&[&str], &str); 7] = [
        (
            &["sort", "abc", "store", "def"],
            "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n",
        ),
        (&["sort_ro", "abc"], "*1\r\n$3\r\nabc\r\n"),
        (
            &[
                "sort", "abc", "store", "invalid", "store", "stillbad", "store", "def",
            ],
            "*2\r\n$3\r\nabc\r\n$3\r\ndef\r\n",
        ),
        (
            &[
                "sort", "abc", "limit", "0", "1", "store", "x", "by", "w", "get", "#", "get", "o",
            ],
            "*2\r\n$3\r\nabc\r\n$1\r\nx\r\n",
        ),
        (&["sort", "abc", "store"], "*1\r\n$3\r\nabc\r\n"),
        (&["sort_ro", "abc", "store", "x"], "*1\r\n$3\r\nabc\r\n"),
        (
            &["sort", "abc", "limit", "store", "x"],
            "*1\r\n$3\r\nabc\r\n",
        ),
    ];
    for (args, reply) in cases {
        let mut cmd = vec!["command", "getkeys"];
        cmd.extend_from_slice(args);
        r.check(&cmd, reply);
    }
}
