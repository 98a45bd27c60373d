//! `client-output-buffer-limit` as Redis 7.0 applies it: checked before the output is
//! written (a client over its hard limit gets none of it), soft limits closed after their
//! seconds even with no traffic, slow subscribers closed while others keep receiving.

mod common;
mod resp_wire;

use std::io::Read;
use std::time::{Duration, Instant};

use common::Conn;
use resp_wire::{daemon, encode, int, Resp};

/// Sends `args` without reading the reply.
fn send(c: &mut Conn, args: &[&str]) {
    let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&encode(&raw));
}

/// Every byte the server sends until it closes the connection (panics on a timeout).
fn bytes_until_closed(c: &mut Conn) -> Vec<u8> {
    let mut got = Vec::new();
    let mut b = [0u8; 65536];
    loop {
        match c.stream.read(&mut b) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&b[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // The peer closed with our request partly unread: a reset, after no bytes.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("not closed: {e}; got {} bytes", got.len()),
        }
    }
}

/// Whether `CLIENT LIST` shows a client named `name`.
fn listed(c: &mut Conn, name: &str) -> bool {
    c.cmd(&["CLIENT", "LIST"])
        .contains(&format!(" name={name} "))
}

/// The `omem=` of the client named `name` in `CLIENT LIST`.
fn omem(c: &mut Conn, name: &str) -> Option<u64> {
    let list = c.cmd(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))?;
    let v = line.split(" omem=").nth(1)?.split(' ').next()?;
    v.parse().ok()
}

#[test]
fn a_reply_past_the_normal_hard_limit_closes_the_client_before_any_byte() {
    let d = daemon(&["-t", "2"]);
    let mut r = d.connect_resp();
    let item = "x".repeat(1000);
    for _ in 0..150 {
        send(&mut r, &["RPUSH", "mylist", &item]);
    }
    for i in 1..=150 {
        assert_eq!(int(&String::from_utf8_lossy(&r.reply())), i);
    }
    r.check(
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100000 0 0",
        ],
        "+OK\r\n",
    );
    let mut big = d.connect_resp();
    big.check(&["CLIENT", "SETNAME", "mybiglist"], "+OK\r\n");
    send(&mut big, &["LRANGE", "mylist", "0", "-1"]);
    assert_eq!(bytes_until_closed(&mut big), b"");
    assert!(!listed(&mut r, "mybiglist"));
    // Under the limit a reply goes out whole.
    let mut small = d.connect_resp();
    let reply = small.cmd(&["LRANGE", "mylist", "0", "89"]);
    assert!(reply.starts_with("*90\r\n$1000\r\n"), "{}", &reply[..20]);
    assert_eq!(reply.len(), 5 + 90 * (7 + 1002));
}

#[test]
fn a_pipeline_whose_replies_pass_the_limit_gets_none_of_them() {
    let d = daemon(&["-t", "2"]);
    let mut r = d.connect_resp();
    r.check(
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100000 0 0",
        ],
        "+OK\r\n",
    );
    r.check(&["SET", "bigkey", &"x".repeat(10000)], "+OK\r\n");
    let mut p = d.connect_resp();
    p.check(&["CLIENT", "SETNAME", "multicommands"], "+OK\r\n");
    // 60 requests in one write (more than -R 20 per turn): 15 x 10 KB of replies.
    let mut buf = Vec::new();
    for i in 0..15 {
        let i = i.to_string();
        for args in [
            &["SET", &i, &i][..],
            &["GET", &i],
            &["DEL", &i],
            &["GET", "bigkey"],
        ] {
            let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            buf.extend(encode(&raw));
        }
    }
    p.send(&buf);
    assert_eq!(bytes_until_closed(&mut p), b"");
    r.check(&["PING"], "+PONG\r\n");
    assert!(!listed(&mut r, "multicommands"));
}

#[test]
fn a_transaction_runs_whole_though_its_reply_passes_the_limit() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    let item = "x".repeat(1000);
    for _ in 0..150 {
        send(&mut r, &["RPUSH", "mylist2", &item]);
    }
    for _ in 0..150 {
        r.reply();
    }
    r.check(
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100000 0 0",
        ],
        "+OK\r\n",
    );
    let mut t = d.connect_resp();
    t.check(&["SET", "k1", "v1"], "+OK\r\n");
    t.check(&["MULTI"], "+OK\r\n");
    for args in [
        &["SET", "k2", "v2"][..],
        &["GET", "k2"],
        &["LRANGE", "mylist2", "0", "-1"],
        &["SET", "k3", "v3"],
        &["DEL", "k1"],
    ] {
        t.check(args, "+QUEUED\r\n");
    }
    send(&mut t, &["EXEC"]);
    assert_eq!(bytes_until_closed(&mut t), b"");
    r.check(&["GET", "k1"], "$-1\r\n");
    r.check(&["GET", "k2"], "$2\r\nv2\r\n");
    r.check(&["GET", "k3"], "$2\r\nv3\r\n");
}

#[test]
fn huge_random_counts_stop_at_the_hard_limit_and_close_the_client() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["HSET", "myhash", "a", "b"], ":1\r\n");
    r.check(&["SADD", "myset", "m"], ":1\r\n");
    r.check(
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1000000 0 0",
        ],
        "+OK\r\n",
    );
    for args in [
        &["HRANDFIELD", "myhash", "-999999999"][..],
        &["HRANDFIELD", "myhash", "-999999999", "WITHVALUES"],
        &["SRANDMEMBER", "myset", "-999999999"],
    ] {
        let mut c = d.connect_resp();
        send(&mut c, args);
        assert_eq!(bytes_until_closed(&mut c), b"", "{args:?}");
    }
    // A script's calls are not a client's output: the error, as without a limit.
    r.check(
        &[
            "EVAL",
            "return redis.pcall('srandmember', 'myset', -999999999)",
            "0",
        ],
        "-ERR count is out of range: the reply would be larger than 1000000 bytes\r\n",
    );
    let reply = r.cmd(&["SRANDMEMBER", "myset", "-1000"]);
    assert_eq!(reply, format!("*1000\r\n{}", "$1\r\nm\r\n".repeat(1000)));
}

#[test]
fn a_slow_subscriber_is_closed_at_its_hard_limit_while_others_receive() {
    let d = daemon(&["-t", "2"]);
    let mut r = d.connect_resp();
    r.check(
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 100000 0 0",
        ],
        "+OK\r\n",
    );
    let mut slow = d.connect_resp();
    slow.check(&["CLIENT", "SETNAME", "slow"], "+OK\r\n");
    let mut fast = d.connect_resp();
    for c in [&mut slow, &mut fast] {
        c.check(
            &["SUBSCRIBE", "foo"],
            "*3\r\n$9\r\nsubscribe\r\n$3\r\nfoo\r\n:1\r\n",
        );
    }
    let payload = "x".repeat(1000);
    let message = format!("*3\r\n$7\r\nmessage\r\n$3\r\nfoo\r\n$1000\r\n{payload}\r\n");
    let mut sent = 0;
    // The socket buffers take some first; then the unsent output passes 100,000 bytes.
    while listed(&mut r, "slow") {
        assert!(sent < 100_000, "the slow subscriber was never closed");
        let n = int(&r.cmd(&["PUBLISH", "foo", &payload]));
        assert!(n == 2 || n == 1, "{n}");
        sent += 1;
        assert_eq!(String::from_utf8(fast.reply()).unwrap(), message);
    }
    assert_eq!(r.cmd(&["PUBLISH", "foo", "last"]), ":1\r\n");
    assert_eq!(
        String::from_utf8(fast.reply()).unwrap(),
        "*3\r\n$7\r\nmessage\r\n$3\r\nfoo\r\n$4\r\nlast\r\n"
    );
}

#[test]
fn a_soft_limit_closes_an_idle_subscriber_after_its_seconds() {
    let d = daemon(&["-t", "2"]);
    let mut r = d.connect_resp();
    r.check(
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "pubsub 0 100000 2",
        ],
        "+OK\r\n",
    );
    let mut slow = d.connect_resp();
    slow.check(&["CLIENT", "SETNAME", "softie"], "+OK\r\n");
    slow.check(
        &["SUBSCRIBE", "foo"],
        "*3\r\n$9\r\nsubscribe\r\n$3\r\nfoo\r\n:1\r\n",
    );
    let payload = "x".repeat(1000);
    let mut published = 0;
    while omem(&mut r, "softie").expect("closed too early") <= 100_000 {
        assert!(published < 100_000, "never over the soft limit");
        r.cmd(&["PUBLISH", "foo", &payload]);
        published += 1;
    }
    // Over the soft limit, then no traffic at all: closed after 2 s (Redis: within its
    // seconds plus the cron's resolution), not at once.
    let over = Instant::now();
    assert!(listed(&mut r, "softie"), "closed at once");
    while listed(&mut r, "softie") {
        assert!(
            over.elapsed() < Duration::from_millis(4500),
            "still there after {:?}",
            over.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        over.elapsed() >= Duration::from_millis(1000),
        "closed after only {:?}",
        over.elapsed()
    );
}
