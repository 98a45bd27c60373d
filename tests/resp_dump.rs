//! DUMP and RESTORE over RESP: payloads recorded from redis-server 7.0.15 restore in slabd,
//! slabd's payloads are byte for byte Redis's where the encodings agree, and every error
//! reply is Redis's.

mod common;
mod resp_wire;

use common::Conn;
use resp_wire::{daemon, encode, int, Resp};

/// Sends a command with binary arguments; the raw reply.
fn raw(c: &mut Conn, args: &[&[u8]]) -> Vec<u8> {
    c.send(&encode(args));
    c.reply()
}

/// A bulk reply's bytes.
fn bulk(reply: &[u8]) -> Vec<u8> {
    let nl = reply.iter().position(|&b| b == b'\n').unwrap();
    assert_eq!(reply[0], b'$', "not a bulk: {reply:?}");
    reply[nl + 1..reply.len() - 2].to_vec()
}

/// `DUMP` replies of redis-server 7.0.15 for: HSET h f v n 12 (listpack), SADD s 1 2 3
/// (intset), RPUSH l a b (quicklist), ZADD z 1 a 2.5 b (listpack), SADD t x (hashtable).
const REDIS_HASH: &[u8] = b"\x10\x12\x12\x00\x00\x00\x04\x00\x81f\x02\x81v\x02\x81n\x02\x0c\x01\xff\x0a\x00\x016\x94\x81\xd3[\x89t";
const REDIS_INTSET: &[u8] = b"\x0b\x0e\x02\x00\x00\x00\x03\x00\x00\x00\x01\x00\x02\x00\x03\x00\x0a\x00\xa5\x02\x5c\xe2mnM\x1b";
const REDIS_LIST: &[u8] =
    b"\x12\x01\x02\x0d\x0d\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff\x0a\x00h\xeb\x0a\x89\x13A\xbb\xb1";
const REDIS_ZSET: &[u8] = b"\x11\x14\x14\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81b\x02\x832.5\x04\xff\x0a\x00\xd4Ln\xa4\xf6D\xd9\xd7";
const REDIS_SET: &[u8] = b"\x02\x01\x01x\x0a\x00\xff\xe8\x80\xbav\x0c/\x09";
/// SET foo bar; DUMP foo.
const REDIS_STRING: &[u8] = b"\x00\x03bar\x0a\x00\xe6\xbeI`\xeef\xfd\x17";

#[test]
fn redis_payloads_restore_and_slabd_dumps_match() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    for (key, payload) in [
        ("h", REDIS_HASH),
        ("s", REDIS_INTSET),
        ("l", REDIS_LIST),
        ("z", REDIS_ZSET),
        ("t", REDIS_SET),
        ("foo", REDIS_STRING),
    ] {
        assert_eq!(
            raw(&mut r, &[b"RESTORE", key.as_bytes(), b"0", payload]),
            b"+OK\r\n"
        );
    }
    r.check(
        &["hgetall", "h"],
        "*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nn\r\n$2\r\n12\r\n",
    );
    r.check(&["object", "encoding", "h"], "$8\r\nlistpack\r\n");
    r.check(
        &["smembers", "s"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    r.check(&["object", "encoding", "s"], "$6\r\nintset\r\n");
    r.check(&["lrange", "l", "0", "-1"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    r.check(
        &["zrange", "z", "0", "-1", "withscores"],
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$3\r\n2.5\r\n",
    );
    r.check(&["smembers", "t"], "*1\r\n$1\r\nx\r\n");
    r.check(&["get", "foo"], "$3\r\nbar\r\n");
    r.check(&["ttl", "foo"], ":-1\r\n");
    // Where slabd writes Redis's encoding, the payload is Redis's, byte for byte.
    for (key, payload) in [
        ("l", REDIS_LIST),
        ("z", REDIS_ZSET),
        ("t", REDIS_SET),
        ("foo", REDIS_STRING),
    ] {
        assert_eq!(bulk(&raw(&mut r, &[b"DUMP", key.as_bytes()])), payload);
    }
    r.check(&["dump", "nosuch"], "$-1\r\n");
}

#[test]
fn every_type_round_trips_with_ttl_and_replace() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["rpush", "big", "x"], ":1\r\n");
    let elems: Vec<String> = (0..2000).map(|i| format!("element-{i}")).collect();
    let mut cmd = vec!["rpush", "big"];
    cmd.extend(elems.iter().map(|s| s.as_str()));
    r.check(&cmd, ":2001\r\n");
    let mut cmd = vec!["hset", "hbig"];
    for e in &elems {
        cmd.push(e);
        cmd.push("v");
    }
    r.check(&cmd, ":2000\r\n");
    let mut cmd = vec!["zadd", "zbig"];
    let scores: Vec<String> = (0..2000).map(|i| format!("{}", i * 3)).collect();
    for (s, e) in scores.iter().zip(&elems) {
        cmd.push(s);
        cmd.push(e);
    }
    r.check(&cmd, ":2000\r\n");
    let mut cmd = vec!["sadd", "sbig"];
    cmd.extend(elems.iter().map(|s| s.as_str()));
    r.check(&cmd, ":2000\r\n");
    for key in ["big", "hbig", "zbig", "sbig"] {
        let before = raw(&mut r, &[b"DUMP", key.as_bytes()]);
        let payload = bulk(&before);
        // Busy without REPLACE, replaced with it, with a relative TTL.
        assert_eq!(
            raw(&mut r, &[b"RESTORE", key.as_bytes(), b"0", &payload]),
            b"-BUSYKEY Target key name already exists.\r\n"
        );
        let copy = format!("{key}-copy");
        assert_eq!(
            raw(&mut r, &[b"RESTORE", copy.as_bytes(), b"100000", &payload]),
            b"+OK\r\n"
        );
        let pttl = int(&r.cmd(&["pttl", &copy]));
        assert!((90_000..=100_000).contains(&pttl), "pttl {pttl}");
        assert_eq!(raw(&mut r, &[b"DUMP", copy.as_bytes()]), before);
        assert_eq!(
            raw(
                &mut r,
                &[b"RESTORE", key.as_bytes(), b"0", &payload, b"REPLACE"]
            ),
            b"+OK\r\n"
        );
        assert_eq!(raw(&mut r, &[b"DUMP", key.as_bytes()]), before);
    }
    r.check(&["object", "encoding", "hbig"], "$9\r\nhashtable\r\n");
    r.check(&["object", "encoding", "zbig"], "$8\r\nskiplist\r\n");
    r.check(&["zscore", "zbig-copy", "element-1999"], "$4\r\n5997\r\n");
}

#[test]
fn restore_errors_and_expiry_as_redis() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["set", "k", "v"], "+OK\r\n");
    let p = bulk(&raw(&mut r, &[b"DUMP", b"k"]));
    let mut bad_crc = p.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let cases: [(&[&[u8]], &[u8]); 9] = [
        (
            &[b"RESTORE", b"k", b"0", b"..."],
            b"-BUSYKEY Target key name already exists.\r\n",
        ),
        (
            &[b"RESTORE", b"n", b"x", &p],
            b"-ERR value is not an integer or out of range\r\n",
        ),
        (
            &[b"RESTORE", b"n", b"-1", &p],
            b"-ERR Invalid TTL value, must be >= 0\r\n",
        ),
        (
            &[b"RESTORE", b"n", b"0", &bad_crc],
            b"-ERR DUMP payload version or checksum are wrong\r\n",
        ),
        (
            &[b"RESTORE", b"n", b"0", b"..."],
            b"-ERR DUMP payload version or checksum are wrong\r\n",
        ),
        (
            &[b"RESTORE", b"n", b"0", &p, b"bogus"],
            b"-ERR syntax error\r\n",
        ),
        (
            &[b"RESTORE", b"n", b"0", &p, b"idletime", b"-1"],
            b"-ERR Invalid IDLETIME value, must be >= 0\r\n",
        ),
        (
            &[b"RESTORE", b"n", b"0", &p, b"freq", b"256"],
            b"-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n",
        ),
        (
            &[b"RESTORE", b"n", b"0", &p, b"idletime", b"1", b"freq", b"2"],
            b"-ERR syntax error\r\n",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(raw(&mut r, args), want, "{args:?}");
    }
    // A well-sealed payload of an unknown type (99) and a truncated list.
    let seal = |body: &[u8]| {
        let mut v = body.to_vec();
        v.extend_from_slice(&10u16.to_le_bytes());
        let crc = slabd::persist::crc64::crc64(0, &v);
        v.extend_from_slice(&crc.to_le_bytes());
        v
    };
    for body in [
        &b"\x63\x01a"[..],
        b"\x01\x05\x01a",
        b"\x00\x80\xff\xff\xff\xffab",
    ] {
        assert_eq!(
            raw(&mut r, &[b"RESTORE", b"n", b"0", &seal(body)]),
            b"-ERR Bad data format\r\n"
        );
    }
    r.check(&["exists", "n"], ":0\r\n");
    // ABSTTL in the past with REPLACE deletes the key and answers OK; in the future sets it.
    assert_eq!(
        raw(
            &mut r,
            &[b"RESTORE", b"k", b"1000", &p, b"ABSTTL", b"REPLACE"]
        ),
        b"+OK\r\n"
    );
    r.check(&["exists", "k"], ":0\r\n");
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    let at = at.to_string();
    assert_eq!(
        raw(
            &mut r,
            &[
                b"RESTORE",
                b"k",
                at.as_bytes(),
                &p,
                b"absttl",
                b"idletime",
                b"5"
            ]
        ),
        b"+OK\r\n"
    );
    r.check(&["pexpiretime", "k"], &format!(":{at}\r\n"));
}
