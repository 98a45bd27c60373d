//! Connection buffers: large values in a row, mixed sizes pipelined and split, the RESP
//! read bound (larger than memcache's `-I` plus a line), and replies larger than the
//! output bound.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Daemon;

fn resp_request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// True when the server closed the connection: EOF, or a reset because it closed with our
/// request bytes still unread.
fn server_closed(stream: &mut TcpStream) -> bool {
    let mut b = [0u8; 4096];
    loop {
        match stream.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return e.kind() == ErrorKind::ConnectionReset,
        }
    }
}

fn set_request(key: &str, value: &[u8]) -> Vec<u8> {
    let mut req = format!("set {key} 0 0 {}\r\n", value.len()).into_bytes();
    req.extend_from_slice(value);
    req.extend_from_slice(b"\r\n");
    req
}

fn get_reply(key: &str, value: &[u8]) -> Vec<u8> {
    let mut reply = format!("VALUE {key} 0 {}\r\n", value.len()).into_bytes();
    reply.extend_from_slice(value);
    reply.extend_from_slice(b"\r\nEND\r\n");
    reply
}

#[test]
fn large_and_small_requests_pipelined_and_split_keep_their_bytes() {
    let d = Daemon::start(&["-t", "1", "-m", "64"]);
    let mut c = d.connect();
    // Sizes that straddle every buffer size the read buffer passes through.
    let sizes = [100_000, 10, 300_000, 16_384, 1, 70_000, 900_000, 5];
    let mut req = Vec::new();
    let mut expect = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let key = format!("k{i}");
        let value: Vec<u8> = (0..n).map(|j| b'a' + ((i + j) % 26) as u8).collect();
        req.extend_from_slice(&set_request(&key, &value));
        expect.extend_from_slice(b"STORED\r\n");
        req.extend_from_slice(format!("get {key}\r\n").as_bytes());
        expect.extend_from_slice(&get_reply(&key, &value));
    }
    // Twice: once in one write, once in odd-sized pieces with pauses between them.
    c.send(&req);
    assert!(c.read_exact(expect.len()) == expect, "one write");
    for piece in req.chunks(77_777) {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(c.read_exact(expect.len()) == expect, "split writes");
}

#[test]
fn memcache_request_past_item_size_and_line_closes() {
    let d = Daemon::start(&["-t", "1", "-I", "1m"]);
    let mut c = d.connect();
    // A command line with no end: more than -I plus 64 KiB without a request in it.
    let _ = c.stream.write_all(&vec![b'x'; (1 << 20) + (128 << 10)]);
    assert!(server_closed(&mut c.stream));
}

#[test]
fn resp_request_larger_than_item_size_is_served() {
    let d = Daemon::start(&["-t", "1", "-I", "1m", "--resp-port", "0"]);
    let mut c = d.connect_resp();
    let a = vec![b'a'; 600_000];
    let b = vec![b'b'; 600_000];
    c.roundtrip(&resp_request(&[b"MSET", b"a", &a, b"b", &b]), b"+OK\r\n");
    let mut expect = b"*2\r\n$600000\r\n".to_vec();
    expect.extend_from_slice(&a);
    expect.extend_from_slice(b"\r\n$600000\r\n");
    expect.extend_from_slice(&b);
    expect.extend_from_slice(b"\r\n");
    c.roundtrip(&resp_request(&[b"MGET", b"a", b"b"]), &expect);
}

#[test]
fn resp_request_past_its_bound_closes() {
    // The RESP bound is max(64 MiB, proto-max-bulk-len + 64 KiB): 70 values of 1,000,000
    // bytes exceed it.
    let d = Daemon::start(&[
        "-t",
        "1",
        "-I",
        "1m",
        "--proto-max-bulk-len",
        "1m",
        "--resp-port",
        "0",
    ]);
    let mut c = d.connect_resp();
    let value = vec![b'v'; 1_000_000];
    let pairs = 70;
    let _ = c
        .stream
        .write_all(format!("*{}\r\n$4\r\nMSET\r\n", 1 + 2 * pairs).as_bytes());
    let mut refused = false;
    for i in 0..pairs {
        let key = format!("k{i}");
        let arg = resp_request(&[key.as_bytes(), &value]);
        // Only the arguments: skip the `*2\r\n` header resp_request put first.
        if c.stream.write_all(&arg[4..]).is_err() {
            refused = true;
            break;
        }
    }
    assert!(
        refused || server_closed(&mut c.stream),
        "a 70 MB request was not refused"
    );
    let mut other = d.connect_resp();
    other.roundtrip(&resp_request(&[b"EXISTS", b"k0"]), b":0\r\n");
}

#[test]
fn a_reply_larger_than_the_output_bound_is_sent_whole_before_the_next() {
    let d = Daemon::start(&["-t", "1", "-m", "64", "-I", "1m"]);
    let mut c = d.connect();
    let value = vec![b'z'; 1_000_000];
    let keys: Vec<String> = (0..6).map(|i| format!("big{i}")).collect();
    for k in &keys {
        c.roundtrip(&set_request(k, &value), b"STORED\r\n");
    }
    // Each get asks for a 6 MB reply, over the 4 MiB output bound; three of them and a
    // small request arrive together.
    let get = format!("get {}\r\n", keys.join(" "));
    let mut one = Vec::new();
    for k in &keys {
        one.extend_from_slice(format!("VALUE {k} 0 1000000\r\n").as_bytes());
        one.extend_from_slice(&value);
        one.extend_from_slice(b"\r\n");
    }
    one.extend_from_slice(b"END\r\n");
    c.send(get.repeat(3).as_bytes());
    c.send(b"get missing\r\n");
    for round in 0..3 {
        assert!(c.read_exact(one.len()) == one, "reply {round}");
    }
    c.roundtrip(b"", b"END\r\n");
}

#[test]
fn buffer_memory_is_reported_and_given_back_when_idle() {
    let d = Daemon::start(&["-t", "1", "-m", "64", "-I", "1m"]);
    // The watcher's own buffers stay far below the big value's size.
    let mut watcher = d.connect();
    // memcached-protocol values this large go straight between socket and item, so the
    // buffers are grown by RESP's (which are buffered whole).
    let mut big = d.connect();
    let value = vec![b'q'; 600_000];
    let mut set = b"*3\r\n$3\r\nSET\r\n$1\r\nq\r\n$600000\r\n".to_vec();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    let mut get_resp = b"$600000\r\n".to_vec();
    get_resp.extend_from_slice(&value);
    get_resp.extend_from_slice(b"\r\n");
    big.roundtrip(&set, b"+OK\r\n");
    big.roundtrip(b"*2\r\n$3\r\nGET\r\n$1\r\nq\r\n", &get_resp);
    // The connection keeps its buffers right after using them.
    assert!(watcher.stat("read_buf_bytes") >= 600_000);
    assert!(watcher.stat("response_obj_bytes") >= 600_000);
    // A memcached client's large value grows neither (received into and sent from the
    // item).
    let mut mc = d.connect();
    let other = vec![b'm'; 600_000];
    mc.roundtrip(&set_request("m", &other), b"STORED\r\n");
    mc.roundtrip(b"get m\r\n", &get_reply("m", &other));
    drop(mc);
    // Idle for two clock seconds, it gives them back (the watcher keeps asking, so only
    // its own small buffers remain).
    let mut released = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(100));
        if watcher.stat("read_buf_bytes") < 100_000 && watcher.stat("response_obj_bytes") < 600_000
        {
            released = true;
            break;
        }
    }
    assert!(released, "idle connection kept its buffers");
    big.roundtrip(b"*2\r\n$3\r\nGET\r\n$1\r\nq\r\n", &get_resp);
    assert!(watcher.stat("read_buf_count") == 2);
    drop(big);
    let mut closed = false;
    for _ in 0..100 {
        if watcher.stat("curr_connections") == 1 {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(closed);
    // Closing takes the connection's buffers out of the gauges.
    assert!(watcher.stat("read_buf_count") <= 1);
    assert!(watcher.stat("read_buf_bytes") < 100_000);
    assert!(watcher.stat("response_obj_bytes") < 100_000);
}
