//! The classic memcached text protocol against the real binary, asserting exact reply bytes
//! (checked against memcached 1.6.18).

mod common;

use common::{Conn, Daemon};

fn daemon() -> Daemon {
    Daemon::start(&["-m", "8", "-t", "2"])
}

/// The CAS value of a `gets` reply for one key.
fn gets_cas(c: &mut Conn, key: &str) -> u64 {
    c.send(format!("gets {key}\r\n").as_bytes());
    let reply = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    let header = reply.lines().next().unwrap().to_string();
    header.split(' ').nth(4).unwrap().parse().unwrap()
}

#[test]
fn storage_commands() {
    let d = daemon();
    let mut c = d.connect();
    c.roundtrip(b"set a 5 0 3\r\nabc\r\n", b"STORED\r\n");
    c.roundtrip(b"get a\r\n", b"VALUE a 5 3\r\nabc\r\nEND\r\n");
    c.roundtrip(b"add a 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
    c.roundtrip(b"add b 0 0 1\r\nx\r\n", b"STORED\r\n");
    c.roundtrip(b"replace a 7 0 2\r\nzz\r\n", b"STORED\r\n");
    c.roundtrip(b"replace nope 0 0 1\r\nz\r\n", b"NOT_STORED\r\n");
    c.roundtrip(b"append a 0 0 2\r\nAA\r\n", b"STORED\r\n");
    c.roundtrip(b"prepend a 0 0 2\r\nPP\r\n", b"STORED\r\n");
    c.roundtrip(b"append nope 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
    c.roundtrip(b"prepend nope 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
    c.roundtrip(b"get a\r\n", b"VALUE a 7 6\r\nPPzzAA\r\nEND\r\n");
    // Flags are kept modulo 2^32 as memcached does; an empty value is fine.
    c.roundtrip(b"set f 4294967297 0 0\r\n\r\n", b"STORED\r\n");
    c.roundtrip(b"get f\r\n", b"VALUE f 1 0\r\n\r\nEND\r\n");
    // Telnet-style bare newline after the command line.
    c.roundtrip(
        b"set t 0 0 2\nhi\r\nget t\n",
        b"STORED\r\nVALUE t 0 2\r\nhi\r\nEND\r\n",
    );
}

#[test]
fn get_many_keys_gets_gat_gats() {
    let d = daemon();
    let mut c = d.connect();
    c.roundtrip(
        b"set a 0 0 1\r\n1\r\nset b 2 0 1\r\n2\r\n",
        b"STORED\r\nSTORED\r\n",
    );
    c.roundtrip(
        b"get a nope b a\r\n",
        b"VALUE a 0 1\r\n1\r\nVALUE b 2 1\r\n2\r\nVALUE a 0 1\r\n1\r\nEND\r\n",
    );
    let cas = gets_cas(&mut c, "a");
    assert!(cas > 0);
    c.roundtrip(b"gat 100 a nope\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n");
    c.roundtrip(
        b"gats 100 a\r\n",
        format!("VALUE a 0 1 {cas}\r\n1\r\nEND\r\n").as_bytes(),
    );
    c.roundtrip(b"gat 10\r\n", b"END\r\n");
    c.roundtrip(
        b"gat abc a\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    );
    // A get line with thousands of keys (longer than 2048 bytes) is served.
    let mut many = b"get".to_vec();
    for _ in 0..2000 {
        many.extend_from_slice(b" a");
    }
    many.extend_from_slice(b"\r\n");
    c.send(&many);
    let reply = c.read_until(b"END\r\n");
    assert_eq!(reply.len(), 2000 * b"VALUE a 0 1\r\n1\r\n".len() + 5);
}

#[test]
fn cas_command() {
    let d = daemon();
    let mut c = d.connect();
    c.roundtrip(b"cas a 0 0 1 5\r\nx\r\n", b"NOT_FOUND\r\n");
    c.roundtrip(b"set a 0 0 1\r\nx\r\n", b"STORED\r\n");
    let cas = gets_cas(&mut c, "a");
    c.roundtrip(
        format!("cas a 0 0 1 {}\r\ny\r\n", cas + 1000).as_bytes(),
        b"EXISTS\r\n",
    );
    c.roundtrip(
        format!("cas a 0 0 1 {cas}\r\ny\r\n").as_bytes(),
        b"STORED\r\n",
    );
    c.roundtrip(
        format!("cas a 0 0 1 {cas}\r\nz\r\n").as_bytes(),
        b"EXISTS\r\n",
    );
    c.roundtrip(b"get a\r\n", b"VALUE a 0 1\r\ny\r\nEND\r\n");
    c.roundtrip(b"cas a 0 0 1\r\nx\r\n", b"ERROR\r\nERROR\r\n");
    c.roundtrip(
        b"cas a 0 0 1 abc\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
}

#[test]
fn cas_race_between_two_connections() {
    let d = daemon();
    let mut a = d.connect();
    let mut b = d.connect();
    a.roundtrip(b"set k 0 0 1\r\n0\r\n", b"STORED\r\n");
    let ca = gets_cas(&mut a, "k");
    let cb = gets_cas(&mut b, "k");
    assert_eq!(ca, cb);
    b.roundtrip(
        format!("cas k 0 0 1 {cb}\r\nb\r\n").as_bytes(),
        b"STORED\r\n",
    );
    a.roundtrip(
        format!("cas k 0 0 1 {ca}\r\na\r\n").as_bytes(),
        b"EXISTS\r\n",
    );
    a.roundtrip(b"get k\r\n", b"VALUE k 0 1\r\nb\r\nEND\r\n");
    // Many rounds from both sides: exactly one cas per observed value wins.
    for _ in 0..50 {
        let ca = gets_cas(&mut a, "k");
        let cb = gets_cas(&mut b, "k");
        a.send(format!("cas k 0 0 1 {ca}\r\na\r\n").as_bytes());
        b.send(format!("cas k 0 0 1 {cb}\r\nb\r\n").as_bytes());
        let ra = a.read_line();
        let rb = b.read_line();
        let stored = [&ra, &rb]
            .iter()
            .filter(|r| r.as_slice() == b"STORED\r\n")
            .count();
        assert_eq!(stored, 1, "{:?} {:?}", ra, rb);
    }
}

#[test]
fn delete_incr_decr_touch() {
    let d = daemon();
    let mut c = d.connect();
    c.roundtrip(b"set a 0 0 1\r\nx\r\n", b"STORED\r\n");
    c.roundtrip(b"delete a\r\ndelete a\r\n", b"DELETED\r\nNOT_FOUND\r\n");
    c.roundtrip(b"delete a 0\r\n", b"NOT_FOUND\r\n");
    c.roundtrip(
        b"delete a 5\r\n",
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
    );
    c.roundtrip(b"delete\r\n", b"ERROR\r\n");
    c.roundtrip(b"set n 0 0 2\r\n10\r\n", b"STORED\r\n");
    c.roundtrip(b"incr n 5\r\ndecr n 100\r\n", b"15\r\n0\r\n");
    c.roundtrip(b"incr nope 1\r\n", b"NOT_FOUND\r\n");
    c.roundtrip(b"incr n\r\n", b"ERROR\r\n");
    for bad in ["abc", "-1", "18446744073709551616"] {
        c.roundtrip(
            format!("incr n {bad}\r\n").as_bytes(),
            b"CLIENT_ERROR invalid numeric delta argument\r\n",
        );
    }
    c.roundtrip(
        b"set m 0 0 20\r\n18446744073709551615\r\nincr m 2\r\n",
        b"STORED\r\n1\r\n",
    );
    c.roundtrip(
        b"set s 0 0 3\r\nabc\r\nincr s 1\r\n",
        b"STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    // A result longer than the old value.
    c.roundtrip(
        b"set w 0 0 2\r\n99\r\nincr w 1\r\nget w\r\n",
        b"STORED\r\n100\r\nVALUE w 0 3\r\n100\r\nEND\r\n",
    );
    c.roundtrip(
        b"touch w 100\r\ntouch nope 10\r\n",
        b"TOUCHED\r\nNOT_FOUND\r\n",
    );
    c.roundtrip(
        b"touch w abc\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    );
    c.roundtrip(b"touch w\r\n", b"ERROR\r\n");
}

#[test]
fn noreply_everywhere() {
    let d = daemon();
    let mut c = d.connect();
    c.send(b"set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\n");
    c.send(b"replace a 0 0 1 noreply\r\n3\r\nappend a 0 0 1 noreply\r\n4\r\n");
    c.send(b"prepend a 0 0 1 noreply\r\n5\r\ncas a 0 0 1 1 noreply\r\n6\r\n");
    c.send(b"set n 0 0 1 noreply\r\n1\r\nincr n 5 noreply\r\ndecr n 1 noreply\r\n");
    c.send(b"touch n 100 noreply\r\ndelete nope noreply\r\ndelete nope 0 noreply\r\n");
    c.send(b"verbosity 1 noreply\r\nset a 0 0 1 noreply\r\nxy\r\n");
    c.roundtrip(
        b"get a n\r\n",
        b"ERROR\r\nVALUE a 0 3\r\n534\r\nVALUE n 0 1\r\n5\r\nEND\r\n",
    );
    c.send(b"flush_all noreply\r\n");
    c.roundtrip(b"get a\r\n", b"END\r\n");
}

#[test]
fn every_error_of_the_issue() {
    let d = daemon();
    let mut c = d.connect();
    c.roundtrip(b"foo\r\n", b"ERROR\r\n");
    c.roundtrip(b"GET a\r\n", b"ERROR\r\n");
    c.roundtrip(b"\r\n", b"ERROR\r\n");
    c.roundtrip(
        b"set a 0 0 -1\r\n",
        b"CLIENT_ERROR bad command line format\r\n",
    );
    c.roundtrip(
        b"set a abc 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    c.roundtrip(b"set a 0 0\r\n", b"ERROR\r\n");
    c.roundtrip(
        b"set a 0 0 1\r\nxy\r\nget a\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
    );
    c.roundtrip(
        b"touch a x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    );
    c.roundtrip(
        b"incr a x\r\n",
        b"CLIENT_ERROR invalid numeric delta argument\r\n",
    );
    let long_key = "k".repeat(251);
    c.roundtrip(
        format!("get {long_key}\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\n",
    );
    c.roundtrip(
        format!("set {long_key} 0 0 1\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\n",
    );
    // memcached stores keys with control characters (memcaslap sends such keys).
    c.roundtrip(b"set a\x01b 0 0 1\r\nz\r\n", b"STORED\r\n");
    c.roundtrip(b"get a\x01b\r\n", b"VALUE a\x01b 0 1\r\nz\r\nEND\r\n");
    c.roundtrip(
        format!("get {}\r\n", "k".repeat(250)).as_bytes(),
        b"END\r\n",
    );
    c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
}

#[test]
fn too_large_values_are_refused_and_their_data_discarded() {
    let d = daemon();
    let mut c = d.connect();
    c.send(b"set big 0 0 2000000\r\n");
    assert_eq!(
        c.read_line(),
        b"SERVER_ERROR object too large for cache\r\n"
    );
    // The data trickles in after the error; none of it is read as commands.
    let chunk = vec![b'x'; 100_000];
    for _ in 0..20 {
        c.send(&chunk);
    }
    c.send(b"\r\n");
    c.roundtrip(b"get big\r\n", b"END\r\n");
    // An announced size that is never sent costs nothing and the connection stays usable
    // once the claimed bytes (here: a small claim) arrive.
    c.send(b"set a 0 0 4294967295\r\n");
    assert_eq!(c.read_line(), b"CLIENT_ERROR bad command line format\r\n");
    c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
    c.send(b"set big 0 0 1048576 noreply\r\n");
    c.send(&vec![b'y'; 1_048_578]);
    c.roundtrip(b"mn\r\n", b"MN\r\n");
    // Just under the limit is stored.
    let n = 1_048_576 - 200;
    c.send(format!("set ok 0 0 {n}\r\n").as_bytes());
    c.send(&vec![b'z'; n]);
    c.roundtrip(b"\r\n", b"STORED\r\n");
}

#[test]
fn too_large_set_and_ms_unlink_the_old_value() {
    let d = daemon();
    let mut c = d.connect();
    let big = vec![b'B'; 1_050_000];
    let refuse = |c: &mut Conn, line: &str, reply: &[u8]| {
        c.send(line.as_bytes());
        c.send(&big);
        c.roundtrip(b"\r\n", reply);
    };
    let too_large = b"SERVER_ERROR object too large for cache\r\n";
    for k in ["s", "q", "m", "r", "a"] {
        c.roundtrip(format!("set {k} 0 0 1\r\nx\r\n").as_bytes(), b"STORED\r\n");
    }
    refuse(&mut c, "set s 0 0 1050000\r\n", too_large);
    refuse(&mut c, "set q 0 0 1050000 noreply\r\n", b"");
    refuse(&mut c, "ms m 1050000 MA\r\n", too_large);
    // Only set and ms: memcached keeps the old value after a refused replace or append.
    refuse(&mut c, "replace r 0 0 1050000\r\n", too_large);
    refuse(&mut c, "append a 0 0 1050000\r\n", too_large);
    c.roundtrip(
        b"get s q m r a\r\n",
        b"VALUE r 0 1\r\nx\r\nVALUE a 0 1\r\nx\r\nEND\r\n",
    );
}

#[test]
fn delete_noreply_silences_its_errors() {
    let d = daemon();
    let mut c = d.connect();
    let long_key = "k".repeat(251);
    c.send(b"set k 0 0 1\r\nx\r\n");
    c.send(b"delete k 10 noreply\r\ndelete k noreply noreply\r\n");
    c.send(format!("delete {long_key} noreply\r\n").as_bytes());
    c.roundtrip(b"get k\r\n", b"STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\n");
    c.roundtrip(
        b"delete k 1 2\r\n",
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
    );
    c.roundtrip(b"delete k 0 0 noreply\r\n", b"ERROR\r\n");
    c.roundtrip(b"delete k noreply\r\nget k\r\n", b"END\r\n");
}

#[test]
fn http_request_lines_close() {
    let d = daemon();
    for line in [
        &b"GET / HTTP/1.0\r\n"[..],
        b"DELETE HTTP/1.1\r\n",
        b"HTTP/1.1\r\n",
    ] {
        let mut c = d.connect();
        c.send(line);
        assert!(c.closed(), "{}", String::from_utf8_lossy(line));
    }
    let mut c = d.connect();
    // Only unknown commands: a known one keeps its meaning.
    c.roundtrip(b"get a HTTP/1.1\r\n", b"END\r\n");
    c.roundtrip(b"x HTTPS\r\n", b"ERROR\r\n");
}

#[test]
fn long_lines_close_except_get() {
    let d = daemon();
    let mut c = d.connect();
    c.send(&vec![b'x'; 4096]);
    assert!(c.closed());
    let mut c = d.connect();
    let mut line = b"get ".to_vec();
    line.extend(std::iter::repeat(b'k').take(4000));
    c.send(&line);
    c.send(b" a\r\n");
    // The 4000-byte key is too long: an error, but the connection stays open.
    c.roundtrip(b"", b"CLIENT_ERROR bad command line format\r\n");
    c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
}

#[test]
fn pipelining_thousands_in_one_write() {
    let d = daemon();
    let mut c = d.connect();
    let mut req = Vec::new();
    let mut expect = Vec::new();
    for i in 0..3000 {
        req.extend_from_slice(
            format!("set k{i} {i} 0 {}\r\n{i}\r\n", i.to_string().len()).as_bytes(),
        );
        expect.extend_from_slice(b"STORED\r\n");
        req.extend_from_slice(format!("get k{i}\r\n").as_bytes());
        expect.extend_from_slice(
            format!("VALUE k{i} {i} {}\r\n{i}\r\nEND\r\n", i.to_string().len()).as_bytes(),
        );
        req.extend_from_slice(b"incr nope 1\r\n");
        expect.extend_from_slice(b"NOT_FOUND\r\n");
    }
    c.roundtrip(&req, &expect);
}

#[test]
fn requests_split_at_every_byte() {
    let d = daemon();
    let mut c = d.connect();
    let req = b"set s 3 0 5\r\nhello\r\ngets s\r\nappend s 0 0 1\r\n!\r\nget s\r\ndelete s\r\n";
    for &b in req.iter() {
        c.send(&[b]);
    }
    let reply = c.read_until(b"DELETED\r\n");
    let text = String::from_utf8(reply).unwrap();
    assert!(text.starts_with("STORED\r\nVALUE s 3 5 "), "{text}");
    assert!(
        text.ends_with("\r\nhello\r\nEND\r\nSTORED\r\nVALUE s 3 6\r\nhello!\r\nEND\r\nDELETED\r\n"),
        "{text}"
    );
}

#[test]
fn expiry_and_delayed_flush() {
    let d = daemon();
    let mut c = d.connect();
    c.roundtrip(b"set short 0 1 1\r\nx\r\n", b"STORED\r\n");
    c.roundtrip(b"set long 0 100 1\r\ny\r\n", b"STORED\r\n");
    c.roundtrip(b"set neg 0 -1 1\r\nz\r\n", b"STORED\r\n");
    c.roundtrip(b"get neg\r\n", b"END\r\n");
    c.roundtrip(b"flush_all 1\r\n", b"OK\r\n");
    c.roundtrip(b"get long\r\n", b"VALUE long 0 1\r\ny\r\nEND\r\n");
    std::thread::sleep(std::time::Duration::from_millis(2100));
    c.roundtrip(b"get short long\r\n", b"END\r\n");
    c.roundtrip(
        b"set again 0 0 1\r\na\r\nget again\r\n",
        b"STORED\r\nVALUE again 0 1\r\na\r\nEND\r\n",
    );
}

#[test]
fn eviction_keeps_storing_at_small_memory() {
    let d = Daemon::start(&["-m", "2"]);
    let mut c = d.connect();
    let value = vec![b'v'; 10_000];
    let mut req = Vec::new();
    for i in 0..2000 {
        req.extend_from_slice(format!("set e{i} 0 0 {}\r\n", value.len()).as_bytes());
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n");
    }
    let expect = b"STORED\r\n".repeat(2000);
    c.roundtrip(&req, &expect);
    c.roundtrip(b"get e0\r\n", b"END\r\n");
    c.send(b"get e1999\r\n");
    let last = c.read_until(b"END\r\n");
    assert!(last.starts_with(b"VALUE e1999 0 10000\r\n"));
    c.send(b"stats\r\n");
    let stats = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    let evictions: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("STAT evictions "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(evictions > 1000, "{evictions}");
}

#[test]
fn quit_verbosity_and_command_log() {
    let d = Daemon::start(&["-vv"]);
    let mut c = d.connect();
    c.roundtrip(b"verbosity 2\r\nget logged_key\r\n", b"OK\r\nEND\r\n");
    let mut seen = false;
    while let Ok(line) = d.log.recv_timeout(std::time::Duration::from_secs(5)) {
        if line.starts_with('<') && line.ends_with(" get logged_key") {
            seen = true;
            break;
        }
    }
    assert!(seen, "no -vv command log line");
    c.send(b"quit\r\nversion\r\n");
    assert!(c.closed());
}

#[test]
fn shutdown_and_flush_permissions() {
    let d = Daemon::start(&["-F"]);
    let mut c = d.connect();
    c.roundtrip(b"flush_all\r\n", b"CLIENT_ERROR flush_all not allowed\r\n");
    c.roundtrip(b"shutdown\r\n", b"ERROR: shutdown not enabled\r\n");
    // memcached checks -A before the mode.
    c.roundtrip(b"shutdown foo\r\n", b"ERROR: shutdown not enabled\r\n");
    let mut d = Daemon::start(&["-A"]);
    let mut c = d.connect();
    c.roundtrip(
        b"shutdown foo\r\n",
        b"CLIENT_ERROR invalid shutdown mode\r\n",
    );
    c.roundtrip(
        b"shutdown graceful now\r\n",
        b"CLIENT_ERROR invalid shutdown mode\r\n",
    );
    c.send(b"shutdown\r\n");
    assert!(c.closed());
    for _ in 0..100 {
        if !d.is_running() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("shutdown did not stop the daemon");
}
