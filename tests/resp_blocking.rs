//! Blocking pops with several clients on different workers (`-t 4`, connections handed out
//! round robin): timeouts, wake-up by a push from another connection (plain, in MULTI/EXEC,
//! over LMOVE), first-come first-served order, CLIENT UNBLOCK, and no blocking inside
//! MULTI. Replies are Redis 7.0's bytes.

mod common;
mod resp_wire;

use std::time::{Duration, Instant};

use common::Conn;
use resp_wire::{daemon, encode, Resp};

fn send(c: &mut Conn, args: &[&str]) {
    let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&encode(&raw));
}

fn reply(c: &mut Conn) -> String {
    String::from_utf8_lossy(&c.reply()).into_owned()
}

/// Waits until INFO reports `n` blocked clients (as Redis's `wait_for_blocked_clients_count`).
fn wait_blocked(c: &mut Conn, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    let start = Instant::now();
    loop {
        if c.cmd(&["INFO", "clients"]).contains(&want) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never saw {want:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn timeout_replies_null_array_or_null() {
    let d = daemon(&["-t", "4"]);
    let mut c = d.connect_resp();
    let start = Instant::now();
    c.check(&["BLPOP", "k", "0.2"], "*-1\r\n");
    assert!(start.elapsed() >= Duration::from_millis(200));
    c.check(&["BRPOPLPUSH", "k", "d", "0.05"], "$-1\r\n");
    c.check(&["BLMOVE", "k", "d", "LEFT", "RIGHT", "0.05"], "$-1\r\n");
    c.check(&["BZPOPMIN", "k", "0.05"], "*-1\r\n");
    c.check(&["BLMPOP", "0.05", "1", "k", "LEFT"], "*-1\r\n");
    c.check(&["BZMPOP", "0.05", "1", "k", "MAX"], "*-1\r\n");
    c.cmd(&["HELLO", "3"]);
    c.check(&["BLPOP", "k", "0.05"], "_\r\n");
    c.check(&["BLMOVE", "k", "d", "LEFT", "RIGHT", "0.05"], "_\r\n");
    // The connection goes on normally after a timeout.
    c.check(&["RPUSH", "k", "v"], ":1\r\n");
}

#[test]
fn push_from_another_worker_wakes_the_waiter() {
    let d = daemon(&["-t", "4"]);
    let mut waiter = d.connect_resp();
    let mut pusher = d.connect_resp();
    send(&mut waiter, &["BLPOP", "a", "k", "0"]);
    wait_blocked(&mut pusher, 1);
    pusher.check(&["RPUSH", "k", "x", "y"], ":2\r\n");
    assert_eq!(reply(&mut waiter), "*2\r\n$1\r\nk\r\n$1\r\nx\r\n");
    pusher.check(&["LRANGE", "k", "0", "-1"], "*1\r\n$1\r\ny\r\n");
    wait_blocked(&mut pusher, 0);
    // BZPOPMAX woken by ZADD.
    send(&mut waiter, &["BZPOPMAX", "z", "5"]);
    wait_blocked(&mut pusher, 1);
    pusher.check(&["ZADD", "z", "1", "a", "2", "b"], ":2\r\n");
    assert_eq!(
        reply(&mut waiter),
        "*3\r\n$1\r\nz\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    // BLMOVE woken by an LMOVE into its source.
    pusher.check(&["RPUSH", "src", "e"], ":1\r\n");
    send(&mut waiter, &["BLMOVE", "mid", "dst", "LEFT", "RIGHT", "0"]);
    wait_blocked(&mut pusher, 1);
    pusher.check(&["LMOVE", "src", "mid", "LEFT", "LEFT"], "$1\r\ne\r\n");
    assert_eq!(reply(&mut waiter), "$1\r\ne\r\n");
    pusher.check(&["LRANGE", "dst", "0", "-1"], "*1\r\n$1\r\ne\r\n");
    pusher.check(&["EXISTS", "mid", "src"], ":0\r\n");
    // BLMPOP takes up to COUNT from the first key pushed to.
    send(
        &mut waiter,
        &["BLMPOP", "0", "2", "p", "q", "RIGHT", "COUNT", "2"],
    );
    wait_blocked(&mut pusher, 1);
    pusher.check(&["RPUSH", "q", "1", "2", "3"], ":3\r\n");
    assert_eq!(
        reply(&mut waiter),
        "*2\r\n$1\r\nq\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
}

#[test]
fn waiters_are_served_in_the_order_they_blocked() {
    let d = daemon(&["-t", "4"]);
    let mut waiters: Vec<Conn> = (0..3).map(|_| d.connect_resp()).collect();
    let mut pusher = d.connect_resp();
    for (i, w) in waiters.iter_mut().enumerate() {
        send(w, &["BRPOP", "k", "0"]);
        wait_blocked(&mut pusher, i + 1);
    }
    pusher.check(&["LPUSH", "k", "a", "b", "c"], ":3\r\n");
    // LPUSH a b c leaves c b a: BRPOP takes a, then b, then c, first waiter first.
    for (w, v) in waiters.iter_mut().zip(["a", "b", "c"]) {
        assert_eq!(reply(w), format!("*2\r\n$1\r\nk\r\n$1\r\n{v}\r\n"));
    }
    wait_blocked(&mut pusher, 0);
    pusher.check(&["EXISTS", "k"], ":0\r\n");
    // One element for two waiters: the first gets it, the second still waits.
    for (i, w) in waiters.iter_mut().take(2).enumerate() {
        send(w, &["BLPOP", "k", "0"]);
        wait_blocked(&mut pusher, i + 1);
    }
    pusher.check(&["RPUSH", "k", "only"], ":1\r\n");
    assert_eq!(reply(&mut waiters[0]), "*2\r\n$1\r\nk\r\n$4\r\nonly\r\n");
    wait_blocked(&mut pusher, 1);
    pusher.check(&["RPUSH", "k", "next"], ":1\r\n");
    assert_eq!(reply(&mut waiters[1]), "*2\r\n$1\r\nk\r\n$4\r\nnext\r\n");
}

#[test]
fn push_inside_exec_wakes_the_waiter() {
    let d = daemon(&["-t", "4"]);
    let mut waiter = d.connect_resp();
    let mut tx = d.connect_resp();
    send(&mut waiter, &["BLPOP", "k", "0"]);
    wait_blocked(&mut tx, 1);
    tx.check(&["MULTI"], "+OK\r\n");
    tx.check(&["RPUSH", "k", "a"], "+QUEUED\r\n");
    tx.check(&["RPUSH", "k", "b"], "+QUEUED\r\n");
    tx.check(&["EXEC"], "*2\r\n:1\r\n:2\r\n");
    assert_eq!(reply(&mut waiter), "*2\r\n$1\r\nk\r\n$1\r\na\r\n");
    tx.check(&["LRANGE", "k", "0", "-1"], "*1\r\n$1\r\nb\r\n");
}

#[test]
fn blocking_pops_inside_multi_do_not_block() {
    let d = daemon(&["-t", "2"]);
    let mut c = d.connect_resp();
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["BLPOP", "k", "0"], "+QUEUED\r\n");
    c.check(&["BRPOPLPUSH", "k", "d", "0"], "+QUEUED\r\n");
    c.check(&["BZPOPMIN", "z", "0"], "+QUEUED\r\n");
    c.check(&["RPUSH", "k", "v"], "+QUEUED\r\n");
    c.check(&["BLPOP", "k", "0"], "+QUEUED\r\n");
    c.check(
        &["EXEC"],
        "*5\r\n*-1\r\n$-1\r\n*-1\r\n:1\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n",
    );
}

#[test]
fn client_unblock_ends_the_wait() {
    let d = daemon(&["-t", "4"]);
    let mut waiter = d.connect_resp();
    let mut admin = d.connect_resp();
    let id = waiter.cmd(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end().to_string();
    send(&mut waiter, &["BLPOP", "k", "0"]);
    wait_blocked(&mut admin, 1);
    admin.check(&["CLIENT", "UNBLOCK", &id, "TIMEOUT"], ":1\r\n");
    assert_eq!(reply(&mut waiter), "*-1\r\n");
    send(&mut waiter, &["BZPOPMIN", "z", "0"]);
    wait_blocked(&mut admin, 1);
    admin.check(&["CLIENT", "UNBLOCK", &id, "ERROR"], ":1\r\n");
    assert_eq!(
        reply(&mut waiter),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    admin.check(&["CLIENT", "UNBLOCK", &id], ":0\r\n");
    waiter.check(&["PING"], "+PONG\r\n");
}

#[test]
fn wrong_type_after_blocking_is_an_error_for_the_waiter() {
    let d = daemon(&["-t", "4"]);
    let mut waiter = d.connect_resp();
    let mut other = d.connect_resp();
    send(&mut waiter, &["BLPOP", "k", "0"]);
    wait_blocked(&mut other, 1);
    // A SET does not wake the waiter (not a push); a push to a new list does.
    other.check(&["SET", "k", "str"], "+OK\r\n");
    other.check(&["DEL", "k"], ":1\r\n");
    other.check(&["RPUSH", "k", "v"], ":1\r\n");
    assert_eq!(reply(&mut waiter), "*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
}

#[test]
fn rename_and_swapdb_wake_waiters() {
    let d = daemon(&["-t", "4"]);
    let mut waiter = d.connect_resp();
    let mut other = d.connect_resp();
    send(&mut waiter, &["BLPOP", "k", "0"]);
    wait_blocked(&mut other, 1);
    other.check(&["RPUSH", "tmp", "v"], ":1\r\n");
    other.check(&["RENAME", "tmp", "k"], "+OK\r\n");
    assert_eq!(reply(&mut waiter), "*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
    other.check(&["SELECT", "1"], "+OK\r\n");
    other.check(&["RPUSH", "s", "h"], ":1\r\n");
    send(&mut waiter, &["BRPOP", "s", "0"]);
    wait_blocked(&mut other, 1);
    other.check(&["SWAPDB", "0", "1"], "+OK\r\n");
    assert_eq!(reply(&mut waiter), "*2\r\n$1\r\ns\r\n$1\r\nh\r\n");
}

/// As Redis: the clients a command wakes, and those their re-runs wake in turn, are served
/// before the pushing client's next command runs, even when that command is already in
/// the same read (pipelined) and the waiters live on other workers.
#[test]
fn woken_clients_are_served_before_the_pushers_next_command() {
    let d = daemon(&["-t", "4"]);
    let mut c = d.connect_resp();
    let mut one = d.connect_resp();
    let mut two = d.connect_resp();
    // Circular BRPOPLPUSH: the element goes list1 -> list2 -> list1.
    send(&mut one, &["BRPOPLPUSH", "list1", "list2", "0"]);
    wait_blocked(&mut c, 1);
    send(&mut two, &["BRPOPLPUSH", "list2", "list1", "0"]);
    wait_blocked(&mut c, 2);
    let mut pipeline = encode(&[b"RPUSH", b"list1", b"foo"]);
    pipeline.extend_from_slice(&encode(&[b"LRANGE", b"list1", b"0", b"-1"]));
    pipeline.extend_from_slice(&encode(&[b"LLEN", b"list2"]));
    c.send(&pipeline);
    assert_eq!(reply(&mut c), ":1\r\n");
    assert_eq!(reply(&mut c), "*1\r\n$3\r\nfoo\r\n");
    assert_eq!(reply(&mut c), ":0\r\n");
    assert_eq!(reply(&mut one), "$3\r\nfoo\r\n");
    assert_eq!(reply(&mut two), "$3\r\nfoo\r\n");
    // Two waiters on one key, three elements: both are served before the next command.
    send(&mut one, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 1);
    send(&mut two, &["BLPOP", "q", "0"]);
    wait_blocked(&mut c, 2);
    let mut pipeline = encode(&[b"RPUSH", b"q", b"a", b"b", b"c"]);
    pipeline.extend_from_slice(&encode(&[b"LRANGE", b"q", b"0", b"-1"]));
    c.send(&pipeline);
    assert_eq!(reply(&mut c), ":3\r\n");
    assert_eq!(reply(&mut c), "*1\r\n$1\r\nc\r\n");
    assert_eq!(reply(&mut one), "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(reply(&mut two), "*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
}

/// As Redis: the reply to a push comes after the clients it woke have been served, so a
/// third client that acts on that reply sees their writes (Redis's "PUSH resulting from
/// BRPOPLPUSH affect WATCH").
#[test]
fn a_pushs_reply_comes_after_the_woken_clients_writes() {
    let d = daemon(&["-t", "4"]);
    let mut pusher = d.connect_resp();
    let mut other = d.connect_resp();
    let mut waiters: Vec<Conn> = (0..3).map(|_| d.connect_resp()).collect();
    for round in 0..20 {
        for (i, w) in waiters.iter_mut().enumerate() {
            let (src, dst) = (format!("src{i}"), format!("src{}", i + 1));
            send(w, &["BRPOPLPUSH", &src, &dst, "0"]);
        }
        wait_blocked(&mut other, 3);
        // src0 -> src1 -> src2 -> src3, across workers.
        pusher.check(&["LPUSH", "src0", "e"], ":1\r\n");
        assert_eq!(other.cmd(&["LLEN", "src3"]), ":1\r\n", "round {round}");
        for w in &mut waiters {
            assert_eq!(reply(w), "$1\r\ne\r\n");
        }
        other.check(&["DEL", "src3"], ":1\r\n");
    }
}
