//! Large values (16 KiB and more), which the server receives straight into their items:
//! values arriving in pieces, every storage verb's outcome, bad data blocks, pipelined
//! requests after the value, and clients that go away mid-value (the reserved item must be
//! freed). Replies checked against memcached 1.6.18.

mod common;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{Conn, Daemon};

fn value(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i * 7 + usize::from(seed)) % 26) as u8)
        .collect()
}

fn get_reply(key: &str, flags: u32, v: &[u8]) -> Vec<u8> {
    let mut r = format!("VALUE {key} {flags} {}\r\n", v.len()).into_bytes();
    r.extend_from_slice(v);
    r.extend_from_slice(b"\r\nEND\r\n");
    r
}

/// One whole get reply (VALUE blocks read by their lengths, then END).
fn read_get(c: &mut Conn) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = c.read_line();
        out.extend_from_slice(&line);
        if line == b"END\r\n" {
            return out;
        }
        let text = String::from_utf8(line).unwrap();
        let len: usize = text.trim_end().split(' ').nth(3).unwrap().parse().unwrap();
        out.extend_from_slice(&c.read_exact(len + 2));
    }
}

fn set_request(verb: &str, key: &str, flags: u32, v: &[u8], extra: &str) -> Vec<u8> {
    let mut r = format!("{verb} {key} {flags} 0 {}{extra}\r\n", v.len()).into_bytes();
    r.extend_from_slice(v);
    r.extend_from_slice(b"\r\n");
    r
}

#[test]
fn values_arriving_in_pieces_are_stored_whole() {
    let d = Daemon::start(&["-m", "64", "-t", "2", "-I", "2m"]);
    let mut c = d.connect();
    for (i, len) in [16 << 10, 100 << 10, 600 << 10, 1 << 20, (1 << 20) + 12345]
        .into_iter()
        .enumerate()
    {
        let v = value(len, i as u8);
        let req = set_request("set", "big", 7, &v, "");
        // The line with a few value bytes, then single bytes, then the rest in uneven
        // writes with pauses, so the server sees many partial reads.
        let line_end = req.iter().position(|&b| b == b'\n').unwrap() + 1;
        c.send(&req[..line_end + 3]);
        sleep(Duration::from_millis(20));
        for b in line_end + 3..line_end + 10 {
            c.send(&req[b..b + 1]);
        }
        let mut at = line_end + 10;
        for step in [1000, 65_537, 300_000].iter().cycle() {
            if at >= req.len() - 1 {
                break;
            }
            let end = (at + step).min(req.len() - 1);
            c.send(&req[at..end]);
            at = end;
            sleep(Duration::from_millis(2));
        }
        // The last byte of the `\r\n` arrives with the next request.
        let mut tail = req[req.len() - 1..].to_vec();
        tail.extend_from_slice(b"get big\r\n");
        c.send(&tail);
        let mut expect = b"STORED\r\n".to_vec();
        expect.extend_from_slice(&get_reply("big", 7, &v));
        assert_eq!(c.read_exact(expect.len()), expect, "value of {len} bytes");
    }
}

#[test]
fn storage_verbs_with_large_values() {
    let d = Daemon::start(&["-m", "64", "-t", "2"]);
    let mut c = d.connect();
    let a = value(200_000, 1);
    let b = value(50_000, 2);
    c.roundtrip(&set_request("add", "k", 1, &a, ""), b"STORED\r\n");
    c.roundtrip(&set_request("add", "k", 2, &b, ""), b"NOT_STORED\r\n");
    c.roundtrip(
        &set_request("replace", "nope", 0, &b, ""),
        b"NOT_STORED\r\n",
    );
    c.roundtrip(&set_request("cas", "nope", 0, &b, " 1"), b"NOT_FOUND\r\n");
    c.roundtrip(&set_request("cas", "k", 0, &b, " 999999"), b"EXISTS\r\n");
    c.send(b"get k\r\n");
    assert_eq!(
        c.read_exact(get_reply("k", 1, &a).len()),
        get_reply("k", 1, &a)
    );
    c.send(b"gets k\r\n");
    let header = String::from_utf8(c.read_line()).unwrap();
    let cas: u64 = header
        .trim_end()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    c.read_exact(a.len() + 7);
    c.roundtrip(
        &set_request("cas", "k", 3, &b, &format!(" {cas}")),
        b"STORED\r\n",
    );
    c.send(b"get k\r\n");
    assert_eq!(
        c.read_exact(get_reply("k", 3, &b).len()),
        get_reply("k", 3, &b)
    );
    c.roundtrip(&set_request("replace", "k", 4, &a, ""), b"STORED\r\n");
    // noreply: nothing is sent; the next request's reply comes first.
    c.send(&set_request("set", "q", 5, &b, " noreply"));
    c.send(b"get q\r\n");
    assert_eq!(
        c.read_exact(get_reply("q", 5, &b).len()),
        get_reply("q", 5, &b)
    );
    c.send(b"stats\r\n");
    let stats = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    assert!(stats.contains("STAT curr_items 2\r\n"), "{stats}");
    assert!(stats.contains("STAT cmd_set 8\r\n"), "{stats}");
    assert!(stats.contains("STAT cas_misses 1\r\n"), "{stats}");
    assert!(stats.contains("STAT cas_badval 1\r\n"), "{stats}");
    assert!(stats.contains("STAT cas_hits 1\r\n"), "{stats}");
}

#[test]
fn a_bad_data_block_stores_nothing_and_the_connection_goes_on() {
    let d = Daemon::start(&["-m", "64", "-t", "2"]);
    let mut c = d.connect();
    let v = value(40_000, 3);
    let mut req = format!("set k 0 0 {}\r\n", v.len()).into_bytes();
    req.extend_from_slice(&v);
    req.extend_from_slice(b"XYget k\r\n");
    c.roundtrip(&req, b"CLIENT_ERROR bad data chunk\r\nEND\r\n");
    c.roundtrip(b"set small 0 0 1\r\nx\r\n", b"STORED\r\n");
}

#[test]
fn a_claimed_length_past_the_item_limit_reserves_nothing() {
    let d = Daemon::start(&["-m", "8", "-t", "2"]);
    let mut c = d.connect();
    // memcached refuses at once and throws the claimed bytes away.
    c.roundtrip(
        b"set k 0 0 1000000000\r\n0123456789",
        b"SERVER_ERROR object too large for cache\r\n",
    );
}

#[test]
fn clients_leaving_mid_value_give_their_items_back() {
    // 8 MiB of item memory; each abandoned value holds about 1 MiB while it is received.
    let d = Daemon::start(&["-m", "8", "-t", "2"]);
    let mut admin = d.connect();
    let base = admin.stat("curr_connections");
    for _ in 0..40 {
        let mut c = d.connect();
        c.send(b"set gone 0 0 900000\r\n0123456789");
        // Wait until the server has read the line (the connection shows conn_nread), so
        // the close comes while the value is being received.
        let started = Instant::now();
        loop {
            admin.send(b"stats conns\r\n");
            let conns = String::from_utf8(admin.read_until(b"END\r\n")).unwrap();
            if conns.contains("conn_nread") || started.elapsed() > Duration::from_secs(10) {
                break;
            }
            sleep(Duration::from_millis(2));
        }
        drop(c);
        let started = Instant::now();
        while admin.stat("curr_connections") > base && started.elapsed() < Duration::from_secs(10) {
            sleep(Duration::from_millis(5));
        }
    }
    let v = value(900_000, 4);
    admin.roundtrip(&set_request("set", "kept", 0, &v, ""), b"STORED\r\n");
    admin.send(b"get kept\r\n");
    assert_eq!(
        admin.read_exact(get_reply("kept", 0, &v).len()),
        get_reply("kept", 0, &v)
    );
}

#[test]
fn values_sent_from_their_items_survive_overwrite_delete_and_eviction() {
    // 16 MiB: the replies a client does not read pin more than that in old values while
    // another client overwrites and deletes them and fills memory with new ones.
    let d = Daemon::start(&["-m", "16", "-t", "2"]);
    let mut reader = d.connect();
    let mut writer = d.connect();
    let keys = ["a", "b", "c"];
    let olds: Vec<Vec<u8>> = (0..3).map(|i| value(700_000, i as u8)).collect();
    for (k, v) in keys.iter().zip(&olds) {
        writer.roundtrip(&set_request("set", k, 1, v, ""), b"STORED\r\n");
    }
    // 10 rounds of three 700 KB values: far more than the socket buffers take.
    let rounds = 10;
    reader.send(b"get a b c\r\n".repeat(rounds).as_slice());
    sleep(Duration::from_millis(100));
    for (i, k) in keys.iter().enumerate() {
        let new = value(700_000, 100 + i as u8);
        writer.roundtrip(&set_request("set", k, 2, &new, ""), b"STORED\r\n");
    }
    writer.roundtrip(b"delete a\r\n", b"DELETED\r\n");
    for i in 0..40 {
        let filler = value(500_000, i);
        writer.roundtrip(
            &set_request("set", &format!("f{i}"), 0, &filler, ""),
            b"STORED\r\n",
        );
    }
    let mut one = Vec::new();
    for (k, v) in keys.iter().zip(&olds) {
        one.extend_from_slice(format!("VALUE {k} 1 {}\r\n", v.len()).as_bytes());
        one.extend_from_slice(v);
        one.extend_from_slice(b"\r\n");
    }
    one.extend_from_slice(b"END\r\n");
    // Replies already being written when the values changed still carry the old values
    // whole; later ones carry whatever was current when they ran, never torn bytes.
    for round in 0..rounds {
        let got = read_get(&mut reader);
        if round == 0 {
            assert!(got == one, "first reply is the old values whole");
        }
        assert!(got.ends_with(b"END\r\n"));
        for piece in got.split(|&b| b == b'\n').filter(|l| l.len() > 1000) {
            let body = piece.strip_suffix(b"\r").unwrap();
            assert!(
                olds.iter().any(|o| o == body)
                    || (0..3).any(|i| value(700_000, 100 + i as u8) == body),
                "round {round}: a value that was never stored"
            );
        }
    }
    // The connection goes on, and new values are sent from their items too.
    let last = value(500_000, 39);
    reader.roundtrip(b"get f39\r\n", &get_reply("f39", 0, &last));
}

#[test]
fn a_value_over_many_small_chunks_is_received_whole() {
    // 16 KiB chunks: a 745,472-byte value spans 46 of them, more than one readv takes
    // (memcached's t/chunked-items.t).
    let d = Daemon::start(&["-m", "48", "-t", "2", "-o", "slab_chunk_max=16"]);
    let mut c = d.connect();
    for len in [200 << 10, 745_472, 1_000_000] {
        let v = value(len, 9);
        let mut req = set_request("set", "many", 0, &v, "");
        req.extend_from_slice(b"get many\r\n");
        let mut expect = b"STORED\r\n".to_vec();
        expect.extend_from_slice(&get_reply("many", 0, &v));
        c.roundtrip(&req, &expect);
    }
}
