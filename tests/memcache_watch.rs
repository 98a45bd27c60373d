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
    assert_eq!(
        body(&mut w),
        format!("type=item_store key=vfoo status=stored cmd=set ttl=0 clsid=1 cfd={fd} size=4\n")
    );
    let got = body(&mut w);
    assert!(
        got.starts_with("type=item_get key=vfoo status=found clsid=")
            && got.ends_with(&format!(" cfd={fd} size=4\n")),
        "{got}"
    );
    assert_eq!(
        body(&mut w),
        format!(
            "type=item_store key=vfoo status=not_stored cmd=add ttl=50 clsid=1 cfd={fd} size=1\n"
        )
    );
    // As memcached: an append reports the whole value; the class is the one the item's
    // size takes in slabd's table (memcached's own item header is larger: 19 there).
    assert_eq!(
        body(&mut w),
        format!(
            "type=item_store key=vfoo status=stored cmd=append ttl=0 clsid=1 cfd={fd} size=6\n"
        )
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
