//! MIGRATE between two slabd servers: Redis 7.0's syntax (COPY, REPLACE, AUTH, AUTH2,
//! KEYS), its replies (+NOKEY, the target's error, -IOERR) and its effects (keys deleted
//! here only once the target acknowledged them, TTLs kept, the destination database) and
//! its kept connections (reused, re-selected, replaced when the target closed one, closed
//! after 10 s unused).
//! Migration to and from redis-server 7.0 is in scripts/compat.d/70-persistence.sh.

mod common;
mod resp_wire;

use std::net::TcpListener;

use common::{Conn, Daemon};
use resp_wire::{daemon, encode, int, Resp};

/// The target's address as MIGRATE's first two arguments.
fn target(d: &Daemon) -> (String, String) {
    let a = d.resp_addr.expect("resp port");
    (a.ip().to_string(), a.port().to_string())
}

#[test]
fn moves_copies_and_replaces_keys_with_their_ttl_and_database() {
    let (src, dst) = (daemon(&[]), daemon(&[]));
    let (host, port) = target(&dst);
    let (h, p) = (host.as_str(), port.as_str());
    let mut a = src.connect_resp();
    let mut b = dst.connect_resp();
    a.check(&["SET", "key", "Some Value"], "+OK\r\n");
    a.check(&["MIGRATE", h, p, "key", "0", "5000"], "+OK\r\n");
    a.check(&["EXISTS", "key"], ":0\r\n");
    b.check(&["GET", "key"], "$10\r\nSome Value\r\n");
    b.check(&["TTL", "key"], ":-1\r\n");

    // COPY keeps the source; the target already has the key: its BUSYKEY comes back.
    a.check(&["RPUSH", "list", "a", "b", "c", "d"], ":4\r\n");
    b.check(&["SET", "list", "somevalue"], "+OK\r\n");
    a.check(
        &["MIGRATE", h, p, "list", "0", "5000", "COPY"],
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n",
    );
    a.check(
        &["MIGRATE", h, p, "list", "0", "5000", "COPY", "REPLACE"],
        "+OK\r\n",
    );
    a.check(&["LLEN", "list"], ":4\r\n");
    b.check(
        &["LRANGE", "list", "0", "-1"],
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );

    // The TTL goes along; the destination database is MIGRATE's, not the caller's.
    a.check(&["SELECT", "3"], "+OK\r\n");
    a.check(&["SET", "t", "v", "EX", "100"], "+OK\r\n");
    a.check(&["HSET", "h", "f1", "v1", "f2", "v2"], ":2\r\n");
    a.check(
        &["MIGRATE", h, p, "", "9", "5000", "KEYS", "t", "h"],
        "+OK\r\n",
    );
    a.check(&["DBSIZE"], ":0\r\n");
    b.check(&["SELECT", "9"], "+OK\r\n");
    let ttl = int(&b.cmd(&["TTL", "t"]));
    assert!((97..=100).contains(&ttl), "{ttl}");
    b.check(&["HGET", "h", "f2"], "$2\r\nv2\r\n");
    b.check(&["TTL", "h"], ":-1\r\n");
}

#[test]
fn keys_option_migrates_just_existing_ones_and_deletes_just_acknowledged_ones() {
    let (src, dst) = (daemon(&[]), daemon(&[]));
    let (host, port) = target(&dst);
    let (h, p) = (host.as_str(), port.as_str());
    let mut a = src.connect_resp();
    let mut b = dst.connect_resp();
    a.check(
        &[
            "MIGRATE", h, p, "", "0", "5000", "KEYS", "nokey-1", "nokey-2",
        ],
        "+NOKEY\r\n",
    );
    a.check(&["MIGRATE", h, p, "missing", "0", "5000"], "+NOKEY\r\n");
    a.check(
        &["MIGRATE", h, p, "NotEmpty", "0", "5000", "KEYS", "a", "b"],
        "-ERR When using MIGRATE KEYS option, the key argument must be set to the empty string\r\n",
    );
    a.check(
        &["MSET", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"],
        "+OK\r\n",
    );
    b.check(&["MSET", "c", "_", "d", "_"], "+OK\r\n");
    // c and d are refused by the target (no REPLACE): they stay here, the rest move.
    a.check(
        &[
            "MIGRATE", h, p, "", "0", "5000", "KEYS", "a", "nokey", "b", "c", "d", "e",
        ],
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n",
    );
    a.check(&["DBSIZE"], ":2\r\n");
    a.check(&["MGET", "c", "d"], "*2\r\n$1\r\n3\r\n$1\r\n4\r\n");
    b.check(&["DBSIZE"], ":5\r\n");
    b.check(
        &["MGET", "a", "b", "c", "e"],
        "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n_\r\n$1\r\n5\r\n",
    );
}

#[test]
fn auth_and_auth2_log_in_on_the_target() {
    let src = daemon(&[]);
    let dst = daemon(&["--requirepass", "foobar"]);
    let (host, port) = target(&dst);
    let (h, p) = (host.as_str(), port.as_str());
    let mut a = src.connect_resp();
    let mut b = dst.connect_resp();
    b.check(&["AUTH", "foobar"], "+OK\r\n");
    a.check(&["RPUSH", "list", "a", "b"], ":2\r\n");
    a.check(
        &["MIGRATE", h, p, "list", "0", "5000"],
        "-ERR Target instance replied with error: NOAUTH Authentication required.\r\n",
    );
    a.check(
        &["MIGRATE", h, p, "list", "0", "5000", "AUTH", "foobar"],
        "+OK\r\n",
    );
    b.check(
        &["LRANGE", "list", "0", "-1"],
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    a.check(&["SET", "k", "v"], "+OK\r\n");
    a.check(
        &["MIGRATE", h, p, "k", "0", "5000", "AUTH", "wrong"],
        "-ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    // As in Redis, the kept connection is still logged in: the RESTORE after the failed
    // AUTH went through, though the key stays here (the reply was an error).
    b.check(&["GET", "k"], "$1\r\nv\r\n");
    a.check(
        &[
            "MIGRATE", h, p, "k", "0", "5000", "AUTH2", "default", "foobar",
        ],
        "-ERR Target instance replied with error: BUSYKEY Target key name already exists.\r\n",
    );
    a.check(
        &[
            "MIGRATE", h, p, "k", "0", "5000", "REPLACE", "AUTH2", "default", "foobar",
        ],
        "+OK\r\n",
    );
    a.check(&["EXISTS", "k"], ":0\r\n");
    b.check(&["GET", "k"], "$1\r\nv\r\n");
    // A password missing its value is a syntax error, as an unknown option is.
    a.check(
        &["MIGRATE", h, p, "k", "0", "5000", "AUTH"],
        "-ERR syntax error\r\n",
    );
    a.check(
        &["MIGRATE", h, p, "k", "0", "5000", "NOPE"],
        "-ERR syntax error\r\n",
    );
    a.check(
        &["MIGRATE", h, p, "k", "x", "5000"],
        "-ERR value is not an integer or out of range\r\n",
    );
}

#[test]
fn unreachable_or_silent_targets_give_ioerr_and_keep_the_key() {
    let src = daemon(&[]);
    let mut a = src.connect_resp();
    a.check(&["SET", "key", "v"], "+OK\r\n");
    // Nobody listens on a port just released.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    a.check(
        &["MIGRATE", "127.0.0.1", &port, "key", "0", "1000"],
        "-IOERR error or timeout connecting to the client\r\n",
    );
    // A target that accepts and never replies: the read times out.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    a.check(
        &["MIGRATE", "127.0.0.1", &port, "key", "0", "200"],
        "-IOERR error or timeout reading to target instance\r\n",
    );
    a.check(&["GET", "key"], "$1\r\nv\r\n");
}

/// The target's `connected_clients`.
fn clients(b: &mut impl Resp) -> usize {
    let info = b.cmd(&["INFO", "clients"]);
    let at = info.find("connected_clients:").expect("connected_clients") + 18;
    info[at..]
        .split("\r\n")
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

#[test]
fn connections_to_a_target_are_kept_reselected_replaced_and_closed_when_idle() {
    let (src, dst) = (daemon(&[]), daemon(&[]));
    let (host, port) = target(&dst);
    let (h, p) = (host.as_str(), port.as_str());
    let mut a = src.connect_resp();
    let mut b = dst.connect_resp();
    for k in ["k1", "k2", "k3", "k4"] {
        a.check(&["SET", k, k], "+OK\r\n");
    }
    a.check(&["MIGRATE", h, p, "k1", "0", "5000"], "+OK\r\n");
    assert_eq!(clients(&mut b), 2, "b and MIGRATE's kept connection");
    // The same connection, another database: SELECT is sent on it.
    a.check(&["MIGRATE", h, p, "k2", "5", "5000"], "+OK\r\n");
    a.check(&["MIGRATE", h, p, "k3", "5", "5000"], "+OK\r\n");
    assert_eq!(clients(&mut b), 2);
    b.check(&["SELECT", "5"], "+OK\r\n");
    b.check(
        &["MGET", "k1", "k2", "k3"],
        "*3\r\n$-1\r\n$2\r\nk2\r\n$2\r\nk3\r\n",
    );
    // The target closes the kept connection: the next MIGRATE opens a new one.
    b.check(
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
        ":1\r\n",
    );
    a.check(&["MIGRATE", h, p, "k4", "0", "5000"], "+OK\r\n");
    b.check(&["SELECT", "0"], "+OK\r\n");
    b.check(&["MGET", "k1", "k4"], "*2\r\n$2\r\nk1\r\n$2\r\nk4\r\n");
    assert_eq!(clients(&mut b), 2);
    // Unused for 10 seconds, it is closed.
    let start = std::time::Instant::now();
    while clients(&mut b) != 1 {
        assert!(
            start.elapsed().as_secs() < 16,
            "the kept connection stays open"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(
        start.elapsed().as_secs() >= 8,
        "closed before it was idle 10 s"
    );
}

#[test]
fn a_migrate_waiting_for_its_target_leaves_the_worker_serving_and_keeps_keys_written_meanwhile() {
    // One worker: a MIGRATE that held it would keep every other client waiting.
    let src = daemon(&["-t", "1"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut a = src.connect_resp();
    let mut c = src.connect_resp();
    a.check(&["SET", "k1", "one"], "+OK\r\n");
    a.check(&["SET", "k2", "two"], "+OK\r\n");
    a.send(&encode(&[
        b"MIGRATE",
        b"127.0.0.1",
        port.as_bytes(),
        b"",
        b"0",
        b"20000",
        b"KEYS",
        b"k1",
        b"k2",
    ]));
    let (peer, _) = listener.accept().unwrap();
    let mut peer = Conn::new(peer);
    let select = encode(&[b"SELECT", b"0"]);
    assert_eq!(peer.read_exact(select.len()), select);
    // The target has not answered: the worker serves others, and k2 is written meanwhile.
    c.check(&["PING"], "+PONG\r\n");
    c.check(&["SET", "k2", "new"], "+OK\r\n");
    peer.send(b"+OK\r\n+OK\r\n+OK\r\n");
    assert_eq!(a.reply(), b"+OK\r\n");
    // k1 was acknowledged and deleted; k2 changed after its payload was made: it stays.
    c.check(&["MGET", "k1", "k2"], "*2\r\n$-1\r\n$3\r\nnew\r\n");
    let stats = a.cmd(&["INFO", "stats"]);
    assert!(
        stats.contains("\r\nmigrate_cached_sockets:1\r\n"),
        "{stats}"
    );
}
