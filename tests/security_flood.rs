//! Abuse under load: connection floods past `-c`, accept backpressure, and clients that
//! claim huge requests or trickle them in while the server's memory stays bounded and
//! other clients are still served. No timing is asserted; waits have deadlines only so
//! that a broken server fails the test instead of hanging it.

mod common;
mod resp_wire;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Conn, Daemon};
use resp_wire::{daemon, Resp};

/// memcached `stats` value by name.
fn stat(c: &mut Conn, name: &str) -> u64 {
    c.send(b"stats\r\n");
    let all = c.read_until(b"END\r\n");
    let text = String::from_utf8_lossy(&all);
    let prefix = format!("STAT {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no stat {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A field of `INFO section`.
fn info(c: &mut Conn, section: &str, name: &str) -> u64 {
    let text = c.cmd(&["INFO", section]);
    let prefix = format!("{name}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Polls `cond` until it holds (a deadline of 20 s turns a hang into a failure).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a client reads first: the refusal line, or nothing (the connection was kept).
fn first_bytes(s: &mut TcpStream) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(n) => b[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

/// Everything a refused client reads before the server closes it.
fn refusal(s: &mut TcpStream) -> Vec<u8> {
    // Generous: the acceptor may be slow to get a turn on a loaded machine.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    all
}

#[test]
fn ten_thousand_connections_past_c_are_refused_in_each_protocol_and_service_goes_on() {
    let d = daemon(&["-c", "40"]);
    let mut admin = d.connect();
    let mut resp = d.connect_resp();
    admin.roundtrip(b"set k 0 0 5\r\nhello\r\n", b"STORED\r\n");
    // Fill the server to -c and hold it there.
    let mut held = Vec::new();
    while held.len() < 38 {
        held.push(TcpStream::connect(d.addr).unwrap());
    }
    // Every connection past -c is told why in its port's protocol, then closed.
    let mut c = TcpStream::connect(d.addr).unwrap();
    assert_eq!(refusal(&mut c), b"ERROR Too many open connections\r\n");
    let mut r = TcpStream::connect(d.resp_addr.unwrap()).unwrap();
    assert_eq!(refusal(&mut r), b"-ERR max number of clients reached\r\n");
    // The flood: 10,000 connections opened and dropped as fast as the client can.
    let mut refused_seen = 2;
    for i in 0..10_000 {
        let addr = if i % 2 == 0 {
            d.addr
        } else {
            d.resp_addr.unwrap()
        };
        let s = TcpStream::connect(addr).unwrap();
        if i % 1000 == 0 {
            let mut s = s;
            if !first_bytes(&mut s).is_empty() {
                refused_seen += 1;
            }
        }
    }
    drop(held);
    // Still serving the clients it kept, with the right data.
    admin.roundtrip(b"get k\r\n", b"VALUE k 0 5\r\nhello\r\nEND\r\n");
    resp.check(&["GET", "k"], "$5\r\nhello\r\n");
    assert!(stat(&mut admin, "rejected_connections") >= refused_seen);
    // Once the flood is gone (every connection made was accepted or refused, the kernel's
    // queue is empty, and the accepted ones closed), new clients get in again.
    let made = 2 + 38 + 2 + 10_000;
    eventually("the flood's connections taken and closed", || {
        stat(&mut admin, "total_connections") + stat(&mut admin, "rejected_connections") >= made
            && stat(&mut admin, "curr_connections") <= 2
    });
    let mut fresh = d.connect();
    fresh.roundtrip(b"get k\r\n", b"VALUE k 0 5\r\nhello\r\nEND\r\n");
    assert_eq!(stat(&mut admin, "accepting_conns"), 1);
    assert_eq!(stat(&mut admin, "listen_disabled_num"), 0);
}

#[test]
fn without_maxconns_fast_the_server_stops_accepting_at_c_and_resumes_when_one_closes() {
    let d = Daemon::start(&["-c", "4", "-o", "no_maxconns_fast"]);
    let mut admin = d.connect();
    let mut held: Vec<Conn> = (0..3).map(|_| d.connect()).collect();
    for c in &mut held {
        c.roundtrip(b"get nothing\r\n", b"END\r\n");
    }
    // The fifth client waits in the kernel's queue: not refused, not served.
    let mut queued = TcpStream::connect(d.addr).unwrap();
    queued.write_all(b"get nothing\r\n").unwrap();
    eventually("accepting paused", || {
        stat(&mut admin, "listen_disabled_num") == 1
    });
    assert_eq!(stat(&mut admin, "accepting_conns"), 0);
    assert_eq!(first_bytes(&mut queued), b"");
    let text = {
        admin.send(b"stats\r\n");
        String::from_utf8_lossy(&admin.read_until(b"END\r\n")).into_owned()
    };
    assert!(!text.contains("rejected_connections"), "{text}");
    assert!(text.contains("STAT curr_connections 4\r\n"), "{text}");
    // One leaves: the queued client is accepted and answered.
    drop(held.pop());
    let mut queued = Conn::new(queued);
    assert_eq!(queued.read_line(), b"END\r\n");
    assert_eq!(stat(&mut admin, "accepting_conns"), 1);
    assert!(stat(&mut admin, "time_in_listen_disabled_us") > 0);
    admin.send(b"stats settings\r\n");
    let settings = admin.read_until(b"END\r\n");
    assert!(String::from_utf8_lossy(&settings).contains("STAT maxconns_fast no\r\n"));
}

/// The server closed the connection: EOF, or a reset (it dropped input it had not read).
fn gone(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    loop {
        match s.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// Peak resident memory of a process in KiB (/proc/PID/status `VmHWM`).
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn clients_claiming_huge_requests_are_bounded_by_maxmemory_clients_largest_first() {
    let d = daemon(&["--maxmemory-clients", "4mb", "-c", "400"]);
    let mut admin = d.connect_resp();
    admin.check(
        &["CONFIG", "GET", "maxmemory-clients"],
        "*2\r\n$17\r\nmaxmemory-clients\r\n$7\r\n4194304\r\n",
    );
    let mut bystander = d.connect();
    bystander.roundtrip(b"set small 0 0 2\r\nok\r\n", b"STORED\r\n");
    let before = peak_rss_kib(d.pid());
    // 100 clients each claim a 100 MB value (10 GB claimed in all) and send 1 MiB of it:
    // unbounded, the server would hold 100-200 MiB of their partial requests.
    let chunk = vec![b'x'; 64 << 10];
    let mut flood: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(d.resp_addr.unwrap()).unwrap();
            s.write_all(b"*3\r\n$3\r\nSET\r\n$4\r\nhuge\r\n$100000000\r\n")
                .unwrap();
            s
        })
        .collect();
    for _ in 0..16 {
        for s in &mut flood {
            // An evicted client's writes fail; the flood goes on regardless.
            let _ = s.write_all(&chunk);
        }
    }
    // Each client that gets all its bytes read holds a 2 MiB buffer, so once every byte
    // sent was read or dropped, at most two of them are left.
    // (Evicted clients close on their own worker's next turn: then the total is under.)
    let mut last = (0, 0);
    eventually("the flood was read and its largest clients closed", || {
        last = (
            info(&mut admin, "stats", "evicted_clients"),
            info(&mut admin, "memory", "mem_clients_normal"),
        );
        last.0 >= 98 && last.1 <= 4 << 20
    });
    let grown_kib = peak_rss_kib(d.pid()).saturating_sub(before);
    assert!(
        grown_kib < 48 << 10,
        "peak RSS grew by {grown_kib} KiB while 100 clients sent 100 MiB of partial requests"
    );
    // The small clients were never the largest: still connected and served.
    bystander.roundtrip(b"get small\r\n", b"VALUE small 0 2\r\nok\r\nEND\r\n");
    admin.check(&["GET", "small"], "$2\r\nok\r\n");
    admin.check(&["EXISTS", "huge"], ":0\r\n");
    // The limit is a setting like Redis's (percent of maxmemory, or off).
    admin.check(&["CONFIG", "SET", "maxmemory-clients", "10%"], "+OK\r\n");
    admin.check(
        &["CONFIG", "SET", "maxmemory-clients", "101%"],
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - \
         percentage argument must be less or equal to 100\r\n",
    );
    admin.check(&["CONFIG", "SET", "maxmemory-clients", "0"], "+OK\r\n");
    drop(flood);
}

#[test]
fn no_evict_clients_are_passed_over_and_a_client_alone_over_the_limit_is_closed() {
    let d = daemon(&["--maxmemory-clients", "2mb"]);
    let mut admin = d.connect_resp();
    let mut keeper = d.connect_resp();
    keeper.check(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n");
    // The keeper holds a 600 KB partial request (a 1 MiB buffer): more than anyone, but
    // not evictable.
    keeper.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$900000\r\n");
    keeper.send(&vec![b'a'; 600_000]);
    eventually("the keeper's bytes were read", || {
        info(&mut admin, "memory", "mem_clients_normal") >= 600_000
    });
    // A second client sending as much pushes the total over 2 MiB: it is the one closed.
    let mut pusher = d.connect_resp();
    pusher.send(b"*3\r\n$3\r\nSET\r\n$1\r\nj\r\n$900000\r\n");
    let _ = pusher.stream.write_all(&vec![b'b'; 600_000]);
    assert!(gone(&mut pusher.stream));
    assert_eq!(info(&mut admin, "stats", "evicted_clients"), 1);
    // The keeper finishes its request and is answered.
    keeper.send(&vec![b'a'; 300_000]);
    keeper.send(b"\r\n");
    assert_eq!(keeper.read_line(), b"+OK\r\n");
    admin.check(&["STRLEN", "k"], ":900000\r\n");
}
