//! Bad and huge input for lists and sorted sets: a push of 1,000,000 elements in one
//! command, a ZADD of 500,000 members, absurd ranges and counts. Redis's replies, memory
//! within `-m`, and the server stays up.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

/// A request of `args` built without going through `&str` (1,000,000 arguments).
fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

fn used_memory(c: &mut common::Conn) -> u64 {
    let info = c.cmd(&["INFO", "memory"]);
    let line = info
        .split("\r\n")
        .find(|l| l.starts_with("used_memory:"))
        .expect("used_memory");
    line["used_memory:".len()..].parse().unwrap()
}

#[test]
fn a_million_elements_in_one_push() {
    let d = daemon(&["-m", "256"]);
    let mut c = d.connect_resp();
    let mut args = vec![b"RPUSH".to_vec(), b"big".to_vec()];
    args.extend((0..1_000_000u32).map(|i| format!("{i:08}").into_bytes()));
    c.send(&multibulk(&args));
    assert_eq!(c.reply(), b":1000000\r\n");
    c.check(&["LLEN", "big"], ":1000000\r\n");
    c.check(&["LINDEX", "big", "500000"], "$8\r\n00500000\r\n");
    c.check(&["LINDEX", "big", "-1"], "$8\r\n00999999\r\n");
    c.check(
        &["LRANGE", "big", "999998", "9223372036854775807"],
        "*2\r\n$8\r\n00999998\r\n$8\r\n00999999\r\n",
    );
    c.check(&["LPOS", "big", "00999999", "MAXLEN", "10"], "$-1\r\n");
    c.check(&["LPOS", "big", "00999999", "RANK", "-1"], ":999999\r\n");
    let used = used_memory(&mut c);
    assert!(used < 64 << 20, "used_memory {used}");
    c.check(&["LTRIM", "big", "1", "-2"], "+OK\r\n");
    c.check(&["LLEN", "big"], ":999998\r\n");
    c.check(&["DEL", "big"], ":1\r\n");
    c.check(&["PING"], "+PONG\r\n");
}

#[test]
fn half_a_million_members_in_one_zadd() {
    let d = daemon(&["-m", "256"]);
    let mut c = d.connect_resp();
    // One huge request: a debug build on a loaded machine can take longer than the
    // default 10 s read timeout to answer it (not a timing check).
    c.stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let mut args = vec![b"ZADD".to_vec(), b"z".to_vec()];
    // 1,000,002 arguments: under Redis's limit of 1,048,576 per request.
    for i in 0..500_000u32 {
        args.push(format!("{}", i % 1000).into_bytes());
        args.push(format!("m{i:07}").into_bytes());
    }
    c.send(&multibulk(&args));
    assert_eq!(c.reply(), b":500000\r\n");
    c.check(&["ZCARD", "z"], ":500000\r\n");
    // Score 0 holds m0000000, m0001000, ... (500 members), then score 1.
    c.check(&["ZRANK", "z", "m0000001"], ":500\r\n");
    c.check(&["ZSCORE", "z", "m0499999"], "$3\r\n999\r\n");
    c.check(&["ZCOUNT", "z", "(998", "+inf"], ":500\r\n");
    c.check(
        &["ZRANGE", "z", "-1", "9223372036854775807"],
        "*1\r\n$8\r\nm0499999\r\n",
    );
    c.check(
        &["ZRANGEBYSCORE", "z", "999", "999", "LIMIT", "499", "5"],
        "*1\r\n$8\r\nm0499999\r\n",
    );
    c.check(&["OBJECT", "ENCODING", "z"], "$8\r\nskiplist\r\n");
    let used = used_memory(&mut c);
    assert!(used < 128 << 20, "used_memory {used}");
    c.check(&["ZREMRANGEBYRANK", "z", "0", "249999"], ":250000\r\n");
    c.check(&["ZCARD", "z"], ":250000\r\n");
    c.check(&["DEL", "z"], ":1\r\n");
    c.check(&["PING"], "+PONG\r\n");
}

#[test]
fn absurd_counts_and_ranges() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["RPUSH", "l", "a", "b"], ":2\r\n");
    c.check(
        &["LPOP", "l", "9223372036854775807"],
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    c.check(
        &["LPOP", "l", "99999999999999999999"],
        "-ERR value is out of range, must be positive\r\n",
    );
    c.check(&["ZADD", "z", "1", "a"], ":1\r\n");
    c.check(
        &["ZPOPMIN", "z", "9223372036854775807"],
        "*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    c.check(&["ZADD", "z", "1", "a", "2", "b"], ":2\r\n");
    c.check(
        &[
            "ZRANGEBYSCORE",
            "z",
            "-inf",
            "+inf",
            "LIMIT",
            "9223372036854775807",
            "1",
        ],
        "*0\r\n",
    );
    c.check(
        &["ZRANGE", "z", "-9223372036854775808", "9223372036854775807"],
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    // A negative count repeats members: five replies, each a or b.
    let five = c.cmd(&["ZRANDMEMBER", "z", "-5"]);
    assert!(five.starts_with("*5\r\n"), "{five:?}");
    assert_eq!(five.matches("$1\r\n").count(), 5, "{five:?}");
    c.check(&["PING"], "+PONG\r\n");
}

/// `DEBUG QUICKLIST-PACKED-THRESHOLD` as Redis 7.0 answers it (memtoull units, at most 4 GiB
/// less 1 MiB, 0 restores 1 GiB), and lists that put elements over it in nodes of their
/// own still read and edit in order (Redis's unit/type/list "plain node" tests).
#[test]
fn quicklist_packed_threshold() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let err = "-ERR argument must be a memory value bigger than 1 and smaller than 4gb\r\n";
    for bad in ["-1", "5x", "4gb", "4294967296"] {
        c.check(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", bad], err);
    }
    for good in ["4095mb", "1K", "b", "0"] {
        c.check(&["DEBUG", "quicklist-packed-threshold", good], "+OK\r\n");
    }
    c.check(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1b"], "+OK\r\n");
    let big = |ch: char| ch.to_string().repeat(500);
    let (a, b, d5, e) = (big('a'), big('b'), big('d'), big('e'));
    c.check(&["LPUSH", "l", &a, &b], ":2\r\n");
    c.check(&["LINSERT", "l", "AFTER", &b, "x"], ":3\r\n");
    c.check(&["LINSERT", "l", "BEFORE", "x", &d5], ":4\r\n");
    c.check(&["LSET", "l", "2", &e], "+OK\r\n");
    c.check(&["LSET", "l", "0", "y"], "+OK\r\n");
    let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
    let want = format!("*4\r\n{}{}{}{}", bulk("y"), bulk(&d5), bulk(&e), bulk(&a));
    c.check(&["LRANGE", "l", "0", "-1"], &want);
    c.check(&["LREM", "l", "0", &e], ":1\r\n");
    c.check(&["LPOP", "l"], &bulk("y"));
    c.check(&["RPOP", "l"], &bulk(&a));
    c.check(&["LLEN", "l"], ":1\r\n");
    c.check(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0"], "+OK\r\n");
}
