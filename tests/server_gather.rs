//! Connections moving between workers (server::gather). `-o worker_shuffle` moves every
//! plain connection that read something to the next worker at the end of each turn, so
//! these tests move connections constantly; each checks INFO `worker_moves` so that it
//! cannot pass without moves. Replies are exact bytes (Redis 7.0's, memcached 1.6's).

mod common;
mod resp_wire;

use std::time::{Duration, Instant};

use common::{Conn, Daemon};
use resp_wire::{daemon, encode, int, Resp};

fn shuffled() -> Daemon {
    daemon(&["-t", "3", "-o", "worker_shuffle"])
}

/// INFO stats' `worker_moves`.
fn moves(c: &mut Conn) -> u64 {
    resp_wire::info_u64(c, "stats", "worker_moves")
}

fn pause() {
    std::thread::sleep(Duration::from_millis(3));
}

/// Sends `wire` in `size`-byte pieces, a pause after each (the connection may move between
/// them), and checks that the replies are `want`.
fn send_cut(c: &mut Conn, wire: &[u8], size: usize, want: &[u8]) {
    for chunk in wire.chunks(size) {
        c.send(chunk);
        pause();
    }
    let got = c.read_exact(want.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}

#[test]
fn pipelined_requests_cut_anywhere_keep_order_across_moves() {
    let d = shuffled();
    let mut c = d.connect_resp();
    let mut want = Vec::new();
    let mut wire = Vec::new();
    for i in 1..=300 {
        wire.extend(encode(&[b"INCR", b"n"]));
        want.extend(format!(":{i}\r\n").into_bytes());
        let v = format!("v{i}");
        wire.extend(encode(&[b"SET", b"k", v.as_bytes()]));
        want.extend(b"+OK\r\n");
        wire.extend(encode(&[b"GET", b"k"]));
        want.extend(format!("${}\r\n{v}\r\n", v.len()).into_bytes());
    }
    // Cut at odd sizes so that requests are split across reads, with the connection moving
    // between the pieces.
    send_cut(&mut c, &wire, 37, &want);
    c.check(&["CLIENT", "ID"], ":1\r\n");
    assert!(moves(&mut c) >= 20, "the connection hardly moved");
}

#[test]
fn memcached_text_pipeline_survives_moves() {
    let d = shuffled();
    let mut c = d.connect();
    let mut wire = Vec::new();
    let mut want = Vec::new();
    for i in 0..200 {
        let v = format!("value-{i}");
        wire.extend(format!("set k{i} 0 0 {}\r\n{v}\r\n", v.len()).into_bytes());
        want.extend(b"STORED\r\n");
        wire.extend(format!("get k{i}\r\n").into_bytes());
        want.extend(format!("VALUE k{i} 0 {}\r\n{v}\r\nEND\r\n", v.len()).into_bytes());
    }
    send_cut(&mut c, &wire, 29, &want);
    let mut r = d.connect_resp();
    assert!(moves(&mut r) >= 20, "the connection hardly moved");
}

#[test]
fn subscriber_blocked_pop_and_monitor_see_a_moving_client() {
    let d = shuffled();
    let mut sub = d.connect_resp();
    sub.check(
        &["SUBSCRIBE", "ch"],
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
    );
    let mut mon = d.connect_resp();
    mon.check(&["MONITOR"], "+OK\r\n");
    let mut blocked = d.connect_resp();
    blocked.send(&encode(&[b"BLPOP", b"q", b"0"]));
    let mut c = d.connect_resp();
    // Wait until the pop is parked, moving `c` all the while.
    let start = Instant::now();
    while !c
        .cmd(&["INFO", "clients"])
        .contains("blocked_clients:1\r\n")
    {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "BLPOP never blocked"
        );
        pause();
    }
    for i in 0..20 {
        let m = format!("m{i}");
        c.check(&["PUBLISH", "ch", &m], ":1\r\n");
        let want = format!("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n${}\r\n{m}\r\n", m.len());
        assert_eq!(String::from_utf8_lossy(&sub.reply()), want);
    }
    c.check(&["RPUSH", "q", "x"], ":1\r\n");
    assert_eq!(
        String::from_utf8_lossy(&blocked.reply()),
        "*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    );
    // The moving client's commands reach MONITOR in order.
    let mut seen = Vec::new();
    while seen.len() < 21 {
        let line = String::from_utf8_lossy(&mon.read_line()).into_owned();
        if line.contains("\"PUBLISH\"") || line.contains("\"RPUSH\"") {
            seen.push(line);
        }
    }
    assert!(
        seen[0].ends_with("\"PUBLISH\" \"ch\" \"m0\"\r\n"),
        "{}",
        seen[0]
    );
    assert!(
        seen[20].ends_with("\"RPUSH\" \"q\" \"x\"\r\n"),
        "{}",
        seen[20]
    );
    // The subscriber and the blocked client stay usable where they are.
    sub.check(
        &["UNSUBSCRIBE", "ch"],
        "*3\r\n$11\r\nunsubscribe\r\n$2\r\nch\r\n:0\r\n",
    );
    blocked.check(&["PING"], "+PONG\r\n");
    assert!(moves(&mut c) >= 20, "the client hardly moved");
}

#[test]
fn client_kill_reaches_a_client_that_keeps_moving() {
    let d = shuffled();
    let mut victim = d.connect_resp();
    let id = int(&victim.cmd(&["CLIENT", "ID"]));
    // A client that keeps sending, so it is often between workers when the kill comes.
    let addr = d.resp_addr.unwrap();
    let busy = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut s = victim.stream;
        let mut n = 0u64;
        let mut b = [0u8; 64];
        loop {
            if s.write_all(&encode(&[b"INCR", b"n"])).is_err() {
                return n;
            }
            // `:N\r\n` arrives in one segment; 0 bytes or an error: killed.
            match s.read(&mut b) {
                Ok(m) if m > 0 && b[..m].ends_with(b"\r\n") => n += 1,
                _ => return n,
            }
        }
    });
    let mut k = Conn::new(std::net::TcpStream::connect(addr).unwrap());
    std::thread::sleep(Duration::from_millis(100));
    let list = k.cmd(&["CLIENT", "LIST"]);
    let mine = format!("id={id} ");
    assert_eq!(
        list.lines().filter(|l| l.starts_with(&mine)).count(),
        1,
        "{list}"
    );
    k.check(&["CLIENT", "KILL", "ID", &id.to_string()], ":1\r\n");
    let served = busy.join().unwrap();
    assert!(served > 0);
    assert!(!k.cmd(&["CLIENT", "LIST"]).contains(&mine));
    assert!(moves(&mut k) >= 10, "the client hardly moved");
}

#[test]
fn connection_counts_and_lists_stay_right_after_moves() {
    let d = shuffled();
    let mut conns: Vec<Conn> = (0..6).map(|_| d.connect()).collect();
    for round in 0..10 {
        for c in conns.iter_mut() {
            c.roundtrip(format!("incr x{round} 1\r\n").as_bytes(), b"NOT_FOUND\r\n");
        }
    }
    let mut r = d.connect_resp();
    assert!(moves(&mut r) >= 30, "connections hardly moved");
    // Six memcached clients, this RESP one and the one asking.
    let mut m = d.connect();
    assert_eq!(m.stat("curr_connections"), 8);
    m.send(b"stats conns\r\n");
    let text = String::from_utf8(m.read_until(b"END\r\n")).unwrap();
    let clients = text.lines().filter(|l| l.contains(":listen_addr ")).count();
    assert_eq!(clients, 8, "{text}");
    let list = r.cmd(&["CLIENT", "LIST"]);
    assert_eq!(list.lines().filter(|l| l.starts_with("id=")).count(), 8);
    for c in conns.iter_mut() {
        c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
    }
    drop(conns);
    let start = Instant::now();
    while m.stat("curr_connections") != 2 {
        assert!(start.elapsed() < Duration::from_secs(10));
        pause();
    }
}

#[test]
fn gathering_starts_with_one_active_worker_and_off_keeps_all() {
    let d = daemon(&["-t", "3", "-o", "worker_gather=1"]);
    let mut c = d.connect_resp();
    assert!(c.cmd(&["INFO", "stats"]).contains("workers_active:1\r\n"));
    let d = daemon(&["-t", "3", "-o", "worker_gather=0"]);
    let mut c = d.connect_resp();
    let info = c.cmd(&["INFO", "stats"]);
    assert!(
        info.contains("workers_active:3\r\nworker_moves:0\r\n"),
        "{info}"
    );
}
