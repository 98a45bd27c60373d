//! memcached's `watch`: fetchers, mutations, evictions and connevents lines in memcached
//! 1.6's log format, for requests served by other workers.

mod common;

use common::{Conn, Daemon};

/// The next log line (memcached ends them with a bare `\n`), after `ts=... gid=... `.
fn body(c: &mut Conn) -> String {
    let mut raw = Vec::new();
    while raw.last() != Some(&b'\n') {
        raw.extend(c.read_exact(1));
    }
    let line = String::from_utf8(raw).unwrap();
    let mut parts = line.splitn(3, ' ');
    let ts = parts.next().unwrap();
    let gid = parts.next().unwrap();
    assert!(ts.starts_with("ts=") && ts[3..].contains('.'), "{line}");
    assert!(gid.starts_with("gid="), "{line}");
    parts.next().unwrap().to_string()
}

#[test]
fn fetchers_and_mutations() {
    let d = Daemon::start(&["-t", "2"]);
    let mut w = d.connect();
    w.roundtrip(b"watch fetchers mutations\r\n", b"OK\r\n");
    let mut c = d.connect();
    c.roundtrip(b"get vfoo\r\n", b"END\r\n");
    c.roundtrip(b"set vfoo 0 0 4\r\nvbar\r\n", b"STORED\r\n");
    c.roundtrip(b"get vfoo\r\n", b"VALUE vfoo 0 4\r\nvbar\r\nEND\r\n");
    c.roundtrip(b"add vfoo 0 50 1\r\nx\r\n", b"NOT_STORED\r\n");
    c.roundtrip(b"append vfoo 0 0 2\r\nyy\r\n", b"STORED\r\n");
    let mut big = b"set big 0 0 5000\r\n".to_vec();
    big.extend_from_slice(&[b'x'; 5000]);
    big.extend_from_slice(b"\r\n");
    c.roundtrip(&big, b"STORED\r\n");
    let fd = {
        let first = body(&mut w);
        let cfd = first
            .split(' ')
            .find_map(|f| f.strip_prefix("cfd="))
            .unwrap()
            .to_string();
        assert_eq!(
            first,
            format!("type=item_get key=vfoo status=not_found clsid=0 cfd={cfd} size=0\n")
        );
        cfd
    };
    // As memcached 1.6: a store looks its key up first, so an item_get line precedes
    // each item_store (the old item, or not_found).
    let miss = format!("type=item_get key=vfoo status=not_found clsid=0 cfd={fd} size=0\n");
    assert_eq!(body(&mut w), miss);
    assert_eq!(
        body(&mut w),
        format!("type=item_store key=vfoo status=stored cmd=set ttl=0 clsid=1 cfd={fd} size=4\n")
    );
    for _ in 0..2 {
        // The get, then the add's look-up.
        let got = body(&mut w);
        assert!(
            got.starts_with("type=item_get key=vfoo status=found clsid=")
                && got.ends_with(&format!(" cfd={fd} size=4\n")),
            "{got}"
        );
    }
    assert_eq!(
        body(&mut w),
        format!(
            "type=item_store key=vfoo status=not_stored cmd=add ttl=50 clsid=1 cfd={fd} size=1\n"
        )
    );
    // As memcached: an append reports the whole value; the class is the one the item's
    // size takes in slabd's table (memcached's own item header is larger: 19 there).
    assert!(body(&mut w).starts_with("type=item_get key=vfoo status=found"));
    assert_eq!(
        body(&mut w),
        format!(
            "type=item_store key=vfoo status=stored cmd=append ttl=0 clsid=1 cfd={fd} size=6\n"
        )
    );
    assert_eq!(
        body(&mut w),
        format!("type=item_get key=big status=not_found clsid=0 cfd={fd} size=0\n")
    );
    assert_eq!(
        body(&mut w),
        format!(
            "type=item_store key=big status=stored cmd=set ttl=0 clsid=20 cfd={fd} size=5000\n"
        )
    );
}

/// Meta `ms` writes log `item_store` lines with memcached's verb for their mode (a CAS
/// makes set/replace `cas`; append reports the whole value).
#[test]
fn meta_set_is_logged_as_mutations() {
    let d = Daemon::start(&["-t", "2"]);
    let mut w = d.connect();
    w.roundtrip(b"watch mutations\r\n", b"OK\r\n");
    let mut c = d.connect();
    c.roundtrip(b"ms mk 2 T0\r\nhi\r\n", b"HD\r\n");
    c.roundtrip(b"ms mk 1 ME\r\nx\r\n", b"NS\r\n");
    c.roundtrip(b"ms mk 3 MA\r\nyyy\r\n", b"HD\r\n");
    c.roundtrip(b"ms mk 1 C1\r\nz\r\n", b"EX\r\n");
    let first = body(&mut w);
    let fd = first
        .split(' ')
        .find_map(|f| f.strip_prefix("cfd="))
        .unwrap()
        .to_string();
    assert_eq!(
        first,
        format!("type=item_store key=mk status=stored cmd=set ttl=0 clsid=1 cfd={fd} size=2\n")
    );
    assert_eq!(
        body(&mut w),
        format!("type=item_store key=mk status=not_stored cmd=add ttl=0 clsid=1 cfd={fd} size=1\n")
    );
    assert_eq!(
        body(&mut w),
        format!("type=item_store key=mk status=stored cmd=append ttl=0 clsid=1 cfd={fd} size=5\n")
    );
    assert_eq!(
        body(&mut w),
        format!("type=item_store key=mk status=exists cmd=cas ttl=0 clsid=1 cfd={fd} size=1\n")
    );
}

#[test]
fn connection_events_and_unknown_streams() {
    let d = Daemon::start(&["-t", "2"]);
    let mut w = d.connect();
    w.roundtrip(b"watch connevents\r\n", b"OK\r\n");
    let mut c = d.connect();
    c.roundtrip(b"version\r\n", b"VERSION 1.6.18\r\n");
    let new = body(&mut w);
    assert!(
        new.starts_with("type=conn_new rip=127.0.0.1 rport=")
            && new.contains(" transport=tcp cfd="),
        "{new}"
    );
    c.send(b"quit\r\n");
    assert!(c.closed());
    let close = body(&mut w);
    assert!(
        close.starts_with("type=conn_close rip=127.0.0.1 rport=")
            && close.contains(" transport=tcp reason=normal cfd="),
        "{close}"
    );
    let mut other = d.connect();
    other.roundtrip(b"watch bogus\r\n", b"ERROR\r\n");
}

#[test]
fn evictions_are_logged() {
    let d = Daemon::start(&["-t", "2", "-m", "8"]);
    let mut w = d.connect();
    w.roundtrip(b"watch evictions\r\n", b"OK\r\n");
    let mut c = d.connect();
    let value = vec![b'B'; 11000];
    for i in 0..2000 {
        let mut req = format!("set n,foo{i} 0 0 11000\r\n").into_bytes();
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n");
        c.roundtrip(&req, b"STORED\r\n");
    }
    let ev = body(&mut w);
    assert!(
        ev.starts_with("type=eviction key=n%2Cfoo") && ev.contains(" fetch=no ttl=-1 la="),
        "{ev}"
    );
    assert!(ev.ends_with(" size=11000\n"), "{ev}");
}

/// A client that closes the connection with a request memcached hangs up on (an HTTP
/// request line) is logged with `reason=error`, as memcached does.
#[test]
fn a_protocol_error_close_is_logged_as_error() {
    let d = Daemon::start(&["-t", "2"]);
    let mut w = d.connect();
    w.roundtrip(b"watch connevents\r\n", b"OK\r\n");
    let mut c = d.connect();
    c.send(b"GET / HTTP/1.1\r\n");
    assert!(c.closed());
    assert!(body(&mut w).starts_with("type=conn_new "));
    let close = body(&mut w);
    assert!(
        close.contains(" transport=tcp reason=error cfd="),
        "{close}"
    );
}

/// `-W`: `watch` answers memcached's client error.
#[test]
fn disable_watch_refuses_watch() {
    let d = Daemon::start(&["-W"]);
    let mut w = d.connect();
    w.roundtrip(
        b"watch mutations\r\n",
        b"CLIENT_ERROR watch commands not allowed\r\n",
    );
}

/// A watcher that does not read fills its `watcher_logbuf_size` buffer (here 8 KB): later
/// lines are skipped and counted, and once it reads again the next line is preceded by
/// `skipped=N`; `log_watcher_*` stats count it all.
#[test]
fn a_full_watcher_buffer_skips_lines_and_says_how_many() {
    // The watcher on its own worker (round-robin, not gathered on worker 0 with the client).
    let d = Daemon::start(&["-t", "2", "-o", "watcher_logbuf_size=8,worker_gather=0"]);
    let mut w = d.connect();
    w.roundtrip(b"watch fetchers\r\n", b"OK\r\n");
    let mut c = d.connect();
    assert_eq!(c.stat("log_watchers"), 1);
    // ~250-byte lines: far more than the socket buffers and 8 KB hold.
    let key = "k".repeat(200);
    let mut batch = Vec::new();
    for _ in 0..100 {
        batch.extend_from_slice(format!("get {key}\r\n").as_bytes());
    }
    for _ in 0..400 {
        c.send(&batch);
        c.read_exact(500);
    }
    assert_eq!(c.stat("log_worker_written"), 40_000);
    // The watcher's worker takes the lines in its own time.
    let (mut skipped, mut sent) = (0, 0);
    for _ in 0..100 {
        skipped = c.stat("log_watcher_skipped");
        sent = c.stat("log_watcher_sent");
        if skipped + sent == 40_000 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(skipped + sent, 40_000);
    assert!(skipped > 0, "nothing skipped");
    // Read until the skipped line, keeping the lines coming. Those `get x` lines may be
    // skipped too while the buffer is still full, so they can add to the count.
    let (mut seen, mut extra) = (0u64, 0u64);
    let mut raw = Vec::new();
    let count = loop {
        let b = w.read_exact(1)[0];
        raw.push(b);
        if b != b'\n' {
            continue;
        }
        let line = String::from_utf8(std::mem::take(&mut raw)).unwrap();
        if let Some(n) = line.strip_prefix("skipped=") {
            break n.trim_end().parse::<u64>().unwrap();
        }
        seen += 1;
        if seen % 100 == 0 {
            c.roundtrip(b"get x\r\n", b"END\r\n");
            extra += 1;
        }
    };
    assert!(
        count > 0 && count <= skipped + extra,
        "{count} of {skipped} (+{extra} keep-alive gets)"
    );
    let next = body(&mut w);
    assert!(next.starts_with("type=item_get key="), "{next}");
}

/// The next `n` lines, with the client's `cfd=N` shown as `cfd=F`.
fn bodies(w: &mut Conn, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let line = body(w);
            let (head, tail) = line.split_once(" cfd=").unwrap();
            let rest = tail.split_once(' ').map_or("\n", |(_, r)| r);
            let sep = if rest == "\n" { "" } else { " " };
            format!("{head} cfd=F{sep}{rest}")
        })
        .collect()
}

/// delete, incr/decr, touch, gat and the meta commands log the `item_get` line of the
/// look-up memcached 1.6.18 does first (`do_item_get`); a counter `ma N` creates is stored
/// as an `add`. Expected lines as memcached 1.6.18 writes them for the same requests.
#[test]
fn text_commands_log_their_look_ups() {
    let d = Daemon::start(&["-t", "2"]);
    let mut w = d.connect();
    w.roundtrip(b"watch fetchers mutations\r\n", b"OK\r\n");
    let mut c = d.connect();
    c.roundtrip(b"set a 0 0 3\r\nabc\r\n", b"STORED\r\n");
    c.roundtrip(b"touch a 100\r\n", b"TOUCHED\r\n");
    c.roundtrip(b"touch nokey 10\r\n", b"NOT_FOUND\r\n");
    c.roundtrip(b"gat 200 a\r\n", b"VALUE a 0 3\r\nabc\r\nEND\r\n");
    c.roundtrip(b"set n 0 0 2\r\n10\r\n", b"STORED\r\n");
    c.roundtrip(b"incr n 5\r\n", b"15\r\n");
    c.roundtrip(b"decr n 1\r\n", b"14\r\n");
    c.roundtrip(b"incr nokey 1\r\n", b"NOT_FOUND\r\n");
    c.roundtrip(
        b"incr a 1\r\n",
        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    c.roundtrip(b"delete a\r\n", b"DELETED\r\n");
    c.roundtrip(b"delete a\r\n", b"NOT_FOUND\r\n");
    c.roundtrip(b"mg n v\r\n", b"VA 2\r\n14\r\n");
    c.roundtrip(b"mg nokey v\r\n", b"EN\r\n");
    c.roundtrip(b"md n\r\n", b"HD\r\n");
    c.roundtrip(b"md n\r\n", b"NF\r\n");
    c.roundtrip(b"ma cnt N0 J7\r\n", b"HD\r\n");
    c.roundtrip(b"ma cnt\r\n", b"HD\r\n");
    c.roundtrip(b"cas n 0 0 1 1\r\nx\r\n", b"NOT_FOUND\r\n");
    let expected = [
        "type=item_get key=a status=not_found clsid=0 cfd=F size=0\n",
        "type=item_store key=a status=stored cmd=set ttl=0 clsid=1 cfd=F size=3\n",
        "type=item_get key=a status=found clsid=1 cfd=F size=3\n",
        "type=item_get key=nokey status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=a status=found clsid=1 cfd=F size=3\n",
        "type=item_get key=n status=not_found clsid=0 cfd=F size=0\n",
        "type=item_store key=n status=stored cmd=set ttl=0 clsid=1 cfd=F size=2\n",
        "type=item_get key=n status=found clsid=1 cfd=F size=2\n",
        "type=item_get key=n status=found clsid=1 cfd=F size=2\n",
        "type=item_get key=nokey status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=a status=found clsid=1 cfd=F size=3\n",
        "type=item_get key=a status=found clsid=1 cfd=F size=3\n",
        "type=item_get key=a status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=n status=found clsid=1 cfd=F size=2\n",
        "type=item_get key=nokey status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=n status=found clsid=1 cfd=F size=2\n",
        "type=item_get key=n status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=cnt status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=cnt status=not_found clsid=0 cfd=F size=0\n",
        "type=item_store key=cnt status=stored cmd=add ttl=0 clsid=1 cfd=F size=1\n",
        "type=item_get key=cnt status=found clsid=1 cfd=F size=1\n",
        "type=item_get key=n status=not_found clsid=0 cfd=F size=0\n",
        "type=item_store key=n status=not_found cmd=cas ttl=0 clsid=1 cfd=F size=1\n",
    ];
    assert_eq!(bodies(&mut w, expected.len()), expected);
}

/// Binary-protocol requests log the same `watch` lines as their text counterparts,
/// including the quiet forms, as memcached 1.6.18 writes them; FLUSH, NOOP and VERSION
/// log nothing.
#[test]
fn binary_commands_log_fetchers_and_mutations() {
    use common::binary::{read_response, req};
    let d = Daemon::start(&["-t", "2"]);
    let mut w = d.connect();
    w.roundtrip(b"watch fetchers mutations\r\n", b"OK\r\n");
    let mut c = d.connect();
    let mut call = |op: u8, key: &[u8], extras: &[u8], value: &[u8], cas: u64| {
        c.send(&req(op, extras, key, value, 0, cas));
        if matches!(op, 0x09 | 0x11 | 0x14) {
            return 0; // a GETQ miss, SETQ and DELETEQ success: no response
        }
        read_response(&mut c).status
    };
    let set = |flags: u32, exp: u32| [flags.to_be_bytes(), exp.to_be_bytes()].concat();
    let delta = |d: u64, init: u64, exp: u32| {
        [
            &d.to_be_bytes()[..],
            &init.to_be_bytes(),
            &exp.to_be_bytes(),
        ]
        .concat()
    };
    let exp = |e: u32| e.to_be_bytes().to_vec();
    assert_eq!(call(0x01, b"bk", &set(5, 0), b"hello", 0), 0);
    assert_eq!(call(0x00, b"bk", &[], b"", 0), 0);
    assert_eq!(call(0x0c, b"bk", &[], b"", 0), 0);
    assert_eq!(call(0x00, b"bmiss", &[], b"", 0), 1);
    call(0x09, b"bmiss", &[], b"", 0);
    assert_eq!(call(0x0a, b"", &[], b"", 0), 0);
    assert_eq!(call(0x02, b"bk", &set(0, 0), b"x", 0), 2);
    assert_eq!(call(0x03, b"bk", &set(0, 60), b"yy", 0), 0);
    assert_eq!(call(0x0e, b"bk", &[], b"zz", 0), 0);
    assert_eq!(call(0x0f, b"bmiss", &[], b"zz", 0), 5);
    assert_eq!(call(0x01, b"bk", &set(0, 0), b"c", 12345), 2);
    assert_eq!(call(0x1c, b"bk", &exp(100), b"", 0), 0);
    assert_eq!(call(0x1d, b"bk", &exp(100), b"", 0), 0);
    assert_eq!(call(0x23, b"bmiss", &exp(100), b"", 0), 1);
    assert_eq!(call(0x05, b"bn", &delta(1, 7, 0), b"", 0), 0);
    assert_eq!(call(0x05, b"bn", &delta(1, 7, 0), b"", 0), 0);
    assert_eq!(call(0x06, b"bn", &delta(3, 7, 0), b"", 0), 0);
    assert_eq!(call(0x05, b"bmiss", &delta(1, 7, u32::MAX), b"", 0), 1);
    assert_eq!(call(0x05, b"bk", &delta(1, 7, 0), b"", 0), 6);
    assert_eq!(call(0x04, b"bk", &[], b"", 0), 0);
    assert_eq!(call(0x04, b"bk", &[], b"", 0), 1);
    call(0x11, b"bq", &set(0, 0), b"q", 0);
    call(0x14, b"bq", &[], b"", 0);
    assert_eq!(call(0x08, b"", &[], b"", 0), 0);
    assert_eq!(call(0x0b, b"", &[], b"", 0), 0);
    let expected = [
        "type=item_get key=bk status=not_found clsid=0 cfd=F size=0\n",
        "type=item_store key=bk status=stored cmd=set ttl=0 clsid=1 cfd=F size=5\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=5\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=5\n",
        "type=item_get key=bmiss status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=bmiss status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=5\n",
        "type=item_store key=bk status=not_stored cmd=add ttl=0 clsid=1 cfd=F size=1\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=5\n",
        "type=item_store key=bk status=stored cmd=replace ttl=60 clsid=1 cfd=F size=2\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=2\n",
        "type=item_store key=bk status=stored cmd=append ttl=60 clsid=1 cfd=F size=4\n",
        "type=item_get key=bmiss status=not_found clsid=0 cfd=F size=0\n",
        "type=item_store key=bmiss status=not_stored cmd=prepend ttl=0 clsid=1 cfd=F size=2\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=4\n",
        "type=item_store key=bk status=exists cmd=cas ttl=0 clsid=1 cfd=F size=1\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=4\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=4\n",
        "type=item_get key=bmiss status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=bn status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=bn status=not_found clsid=0 cfd=F size=0\n",
        "type=item_store key=bn status=stored cmd=add ttl=0 clsid=1 cfd=F size=1\n",
        "type=item_get key=bn status=found clsid=1 cfd=F size=1\n",
        "type=item_get key=bn status=found clsid=1 cfd=F size=1\n",
        "type=item_get key=bmiss status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=4\n",
        "type=item_get key=bk status=found clsid=1 cfd=F size=4\n",
        "type=item_get key=bk status=not_found clsid=0 cfd=F size=0\n",
        "type=item_get key=bq status=not_found clsid=0 cfd=F size=0\n",
        "type=item_store key=bq status=stored cmd=set ttl=0 clsid=1 cfd=F size=1\n",
        "type=item_get key=bq status=found clsid=1 cfd=F size=1\n",
    ];
    assert_eq!(bodies(&mut w, expected.len()), expected);
    // Nothing after the DELETEQ: FLUSH and VERSION log no line.
    d.connect().roundtrip(b"get zz\r\n", b"END\r\n");
    assert_eq!(
        bodies(&mut w, 1),
        ["type=item_get key=zz status=not_found clsid=0 cfd=F size=0\n"]
    );
}

/// A refused oversized `set` throws away the key's old item after looking it up, in both
/// protocols, as memcached's stale-data check does (`watch fetchers`).
#[test]
fn a_refused_set_logs_its_stale_check() {
    use common::binary::{read_response, req};
    let d = Daemon::start(&["-t", "2"]);
    let mut w = d.connect();
    w.roundtrip(b"watch fetchers\r\n", b"OK\r\n");
    let mut c = d.connect();
    c.roundtrip(b"set big 0 0 3\r\nabc\r\n", b"STORED\r\n");
    let mut huge = b"set big 0 0 2000000\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 2_000_000));
    huge.extend_from_slice(b"\r\n");
    c.roundtrip(&huge, b"SERVER_ERROR object too large for cache\r\n");
    c.roundtrip(b"get big\r\n", b"END\r\n");
    let mut b = d.connect();
    b.send(&req(0x01, &[0; 8], b"bb", b"y", 0, 0));
    assert_eq!(read_response(&mut b).status, 0);
    b.send(&req(0x01, &[0; 8], b"bb", &vec![b'y'; 2_000_000], 0, 0));
    assert_eq!(read_response(&mut b).status, 3);
    // The two connections may be on different workers, whose lines reach the watcher in
    // either order: each connection's own lines are in order.
    let (text, binary): (Vec<String>, Vec<String>) = bodies(&mut w, 5)
        .into_iter()
        .partition(|l| l.contains(" key=big "));
    assert_eq!(
        text,
        [
            "type=item_get key=big status=not_found clsid=0 cfd=F size=0\n",
            "type=item_get key=big status=found clsid=1 cfd=F size=3\n",
            "type=item_get key=big status=not_found clsid=0 cfd=F size=0\n",
        ]
    );
    assert_eq!(
        binary,
        [
            "type=item_get key=bb status=not_found clsid=0 cfd=F size=0\n",
            "type=item_get key=bb status=found clsid=1 cfd=F size=1\n",
        ]
    );
}
