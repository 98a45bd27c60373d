//! Large values (16 KiB and more) over the binary protocol, which the server receives
//! straight into their items and sends from them: values arriving in pieces (ending exactly
//! at a read, or with the next request behind them), every storage opcode's outcome, quiet
//! forms, CAS, and clients that go away mid-value. Responses as memcached 1.6.18's.

mod common;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::binary::{read_response, req, Response};
use common::{Conn, Daemon};

const GET: u8 = 0x00;
const SET: u8 = 0x01;
const ADD: u8 = 0x02;
const REPLACE: u8 = 0x03;
const NOOP: u8 = 0x0a;
const GETK: u8 = 0x0c;
const SETQ: u8 = 0x11;

fn value(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + ((i * 11 + usize::from(seed)) % 26) as u8)
        .collect()
}

fn set_req(op: u8, key: &[u8], v: &[u8], flags: u32, opaque: u32, cas: u64) -> Vec<u8> {
    let mut extras = flags.to_be_bytes().to_vec();
    extras.extend_from_slice(&0u32.to_be_bytes());
    req(op, &extras, key, v, opaque, cas)
}

/// A GET of `key` answers `v` with `flags` (and its CAS).
fn check_get(c: &mut Conn, key: &[u8], flags: u32, v: &[u8]) -> u64 {
    c.send(&req(GET, &[], key, &[], 77, 0));
    let r = read_response(c);
    assert_eq!((r.opcode, r.status, r.opaque), (GET, 0, 77));
    assert_eq!(r.extras, flags.to_be_bytes());
    assert!(r.key.is_empty());
    assert!(r.value == v, "value of {} bytes differs", v.len());
    r.cas
}

fn error(op: u8, status: u16, msg: &[u8], opaque: u32) -> Response {
    Response {
        opcode: op,
        status,
        extras: vec![],
        key: vec![],
        value: msg.to_vec(),
        opaque,
        cas: 0,
    }
}

#[test]
fn values_arriving_in_pieces_are_stored_whole_and_read_back() {
    let d = Daemon::start(&["-m", "64", "-t", "2", "-I", "2m"]);
    let mut c = d.connect();
    for (i, len) in [16 << 10, 100 << 10, 600 << 10, 1 << 20, (1 << 20) + 12345]
        .into_iter()
        .enumerate()
    {
        let v = value(len, i as u8);
        let packet = set_req(SET, b"big", &v, 0x0102_0304, i as u32, 0);
        let head = 24 + 8 + 3;
        // The header with a few value bytes, then single bytes, then uneven writes with
        // pauses; the last write ends exactly at the value's end (no request behind it, so
        // the set must answer without more input).
        c.send(&packet[..head + 3]);
        sleep(Duration::from_millis(20));
        for b in head + 3..head + 10 {
            c.send(&packet[b..b + 1]);
        }
        let mut at = head + 10;
        for step in [1000, 65_537, 300_000].iter().cycle() {
            if at == packet.len() {
                break;
            }
            let end = (at + step).min(packet.len());
            c.send(&packet[at..end]);
            at = end;
            sleep(Duration::from_millis(2));
        }
        let r = read_response(&mut c);
        assert_eq!(
            (r.opcode, r.status, r.opaque),
            (SET, 0, i as u32),
            "{len} bytes"
        );
        assert_ne!(r.cas, 0);
        assert_eq!(check_get(&mut c, b"big", 0x0102_0304, &v), r.cas);
    }
    // The last value bytes and the next request in one write; a GETK echoes the key.
    let v = value(200 << 10, 9);
    let packet = set_req(SET, b"k2", &v, 5, 1, 0);
    c.send(&packet[..5000]);
    sleep(Duration::from_millis(20));
    let mut rest = packet[5000..].to_vec();
    rest.extend_from_slice(&req(GETK, &[], b"k2", &[], 2, 0));
    c.send(&rest);
    let set = read_response(&mut c);
    assert_eq!((set.opcode, set.status, set.opaque), (SET, 0, 1));
    let get = read_response(&mut c);
    assert_eq!((get.opcode, get.status, get.opaque), (GETK, 0, 2));
    assert_eq!((get.key.as_slice(), get.cas), (&b"k2"[..], set.cas));
    assert!(get.value == v);
}

#[test]
fn storage_opcodes_with_large_values() {
    let d = Daemon::start(&["-m", "64", "-t", "2"]);
    let mut c = d.connect();
    let a = value(50 << 10, 1);
    let b = value(70 << 10, 2);
    // ADD of a missing key stores; ADD again: "Data exists for key.".
    c.send(&set_req(ADD, b"k", &a, 1, 10, 0));
    let added = read_response(&mut c);
    assert_eq!((added.opcode, added.status, added.opaque), (ADD, 0, 10));
    c.send(&set_req(ADD, b"k", &b, 2, 11, 0));
    assert_eq!(
        read_response(&mut c),
        error(ADD, 2, b"Data exists for key.", 11)
    );
    check_get(&mut c, b"k", 1, &a);
    // REPLACE of a missing key: "Not found"; of the existing one: stored.
    c.send(&set_req(REPLACE, b"nokey", &b, 2, 12, 0));
    assert_eq!(read_response(&mut c), error(REPLACE, 1, b"Not found", 12));
    c.send(&set_req(REPLACE, b"k", &b, 2, 13, 0));
    let replaced = read_response(&mut c);
    assert_eq!((replaced.status, replaced.opaque), (0, 13));
    check_get(&mut c, b"k", 2, &b);
    // SET with a stale CAS: "Data exists for key."; with the current one: stored.
    c.send(&set_req(SET, b"k", &a, 3, 14, added.cas));
    assert_eq!(
        read_response(&mut c),
        error(SET, 2, b"Data exists for key.", 14)
    );
    c.send(&set_req(SET, b"k", &a, 3, 15, replaced.cas));
    let swapped = read_response(&mut c);
    assert_eq!((swapped.status, swapped.opaque), (0, 15));
    check_get(&mut c, b"k", 3, &a);
    // SET with a CAS on a missing key: "Not found".
    c.send(&set_req(SET, b"gone", &a, 3, 16, 12345));
    assert_eq!(read_response(&mut c), error(SET, 1, b"Not found", 16));
    // SETQ answers nothing on success: the NOOP's response comes first.
    let mut pipeline = set_req(SETQ, b"q", &b, 4, 17, 0);
    pipeline.extend_from_slice(&req(NOOP, &[], &[], &[], 18, 0));
    c.send(&pipeline);
    let noop = read_response(&mut c);
    assert_eq!((noop.opcode, noop.status, noop.opaque), (NOOP, 0, 18));
    check_get(&mut c, b"q", 4, &b);
}

#[test]
fn clients_leaving_mid_value_give_their_items_back() {
    // 8 MiB of item memory; each abandoned value holds about 1 MiB while it is received,
    // so forty of them would exhaust it if their items were not freed.
    let d = Daemon::start(&["-m", "8", "-t", "2"]);
    let mut admin = d.connect();
    let base = admin.stat("curr_connections");
    let v = value(900_000, 4);
    let packet = set_req(SET, b"gone", &v, 0, 0, 0);
    for _ in 0..40 {
        let mut c = d.connect();
        c.send(&packet[..5000]);
        sleep(Duration::from_millis(5));
        drop(c);
        let started = Instant::now();
        while admin.stat("curr_connections") > base && started.elapsed() < Duration::from_secs(10) {
            sleep(Duration::from_millis(5));
        }
    }
    let mut c = d.connect();
    c.send(&set_req(SET, b"kept", &v, 0, 1, 0));
    let r = read_response(&mut c);
    assert_eq!((r.opcode, r.status), (SET, 0));
    check_get(&mut c, b"kept", 0, &v);
}
