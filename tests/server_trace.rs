//! `-v` / `-vv` logging: memcached 1.6's `<FD request` / `>FD reply` lines for the text and
//! binary protocols (compared with what memcached 1.6.18 -vv prints), and the same form
//! for RESP.

mod common;

use std::sync::mpsc::Receiver;
use std::time::Duration;

use common::Daemon;

/// stderr lines until `last` (inclusive), with the connection's fd replaced by `FD`.
fn lines_until(log: &Receiver<String>, last: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut fd = None;
    loop {
        let line = log
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no {last:?} in the log; got {out:#?}"));
        if fd.is_none() {
            if let Some(rest) = line.strip_prefix('<') {
                fd = rest.split(' ').next().map(str::to_owned);
            }
        }
        let line = match &fd {
            Some(fd) => line
                .replacen(&format!("<{fd} "), "<FD ", 1)
                .replacen(&format!(">{fd} "), ">FD ", 1)
                .replacen(&format!("{fd}: "), "FD: ", 1),
            None => line,
        };
        let done = line == last;
        out.push(line);
        if done {
            return out;
        }
    }
}

#[test]
fn vv_logs_text_requests_and_replies_as_memcached() {
    let d = Daemon::start(&["-vv"]);
    let mut c = d.connect();
    c.send(
        b"set foo 5 0 3\r\nbar\r\nget foo\r\nget nope\r\nbogus cmd\r\nmg foo v\r\nmn\r\n\
          set a 0 0 1 noreply\r\n1\r\nget foo a\r\nstats\r\nset big 0 0 2000000\r\n",
    );
    c.read_until(b"SERVER_ERROR object too large for cache\r\n");
    drop(c);
    let got = lines_until(&d.log, "<FD connection closed.");
    let want = [
        "<FD new auto-negotiating client connection",
        "FD: Client using the ascii protocol",
        "<FD set foo 5 0 3",
        ">FD STORED",
        "<FD get foo",
        ">FD sending key foo",
        ">FD END",
        "<FD get nope",
        ">FD END",
        "<FD bogus cmd",
        ">FD ERROR",
        "<FD mg foo v",
        "<FD mn",
        ">FD MN",
        "<FD set a 0 0 1 noreply",
        ">FD NOREPLY STORED",
        "<FD get foo a",
        ">FD sending key foo",
        ">FD sending key a",
        ">FD END",
        "<FD stats",
        "<FD set big 0 0 2000000",
        ">FD SERVER_ERROR object too large for cache",
        "<FD connection closed.",
    ];
    assert_eq!(got, want);
}

#[test]
fn vv_logs_binary_headers_as_memcached() {
    let d = Daemon::start(&["-vv"]);
    let mut c = d.connect();
    // GET "nope": a miss, answered with status 1 and "Not found".
    let mut req = vec![0x80, 0x00, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 4];
    req.extend_from_slice(&[0; 12]);
    req.extend_from_slice(b"nope");
    c.send(&req);
    c.read_exact(24 + 9);
    drop(c);
    let got = lines_until(&d.log, "<FD connection closed.");
    let want = [
        "<FD new auto-negotiating client connection",
        "FD: Client using the binary protocol",
        "<FD Read binary protocol data:",
        "<FD    0x80 0x00 0x00 0x04",
        "<FD    0x00 0x00 0x00 0x00",
        "<FD    0x00 0x00 0x00 0x04",
        "<FD    0x00 0x00 0x00 0x00",
        "<FD    0x00 0x00 0x00 0x00",
        "<FD    0x00 0x00 0x00 0x00",
        "<FD GET nope",
        ">FD Writing an error: Not found",
        ">FD Writing bin response:",
        ">FD   0x81 0x00 0x00 0x00",
        ">FD   0x00 0x00 0x00 0x01",
        ">FD   0x00 0x00 0x00 0x09",
        ">FD   0x00 0x00 0x00 0x00",
        ">FD   0x00 0x00 0x00 0x00",
        ">FD   0x00 0x00 0x00 0x00",
        "<FD connection closed.",
    ];
    assert_eq!(got, want);
}

#[test]
fn vv_logs_resp_requests_and_replies() {
    let d = Daemon::start(&["-vv"]);
    let mut c = d.connect();
    c.roundtrip(
        b"*3\r\n$3\r\nSET\r\n$5\r\na key\r\n$2\r\nhi\r\n",
        b"+OK\r\n",
    );
    c.roundtrip(b"*2\r\n$3\r\nGET\r\n$5\r\na key\r\n", b"$2\r\nhi\r\n");
    c.roundtrip(b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n", b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n");
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    drop(c);
    let got = lines_until(&d.log, "<FD connection closed.");
    let want = [
        "<FD new auto-negotiating client connection",
        "FD: Client using the resp protocol",
        "<FD SET \"a key\" hi",
        ">FD +OK",
        "<FD GET \"a key\"",
        ">FD $2 hi",
        "<FD AUTH (redacted)",
        ">FD -ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        "<FD PING",
        ">FD +PONG",
        "<FD connection closed.",
    ];
    assert_eq!(got, want);
}

#[test]
fn v_logs_protocol_errors_and_connections_only() {
    let d = Daemon::start(&["-v"]);
    let mut c = d.connect();
    c.roundtrip(b"set k 0 0 1\r\nv\r\n", b"STORED\r\n");
    c.roundtrip(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n");
    c.roundtrip(b"bogus\r\n", b"ERROR\r\n");
    c.roundtrip(
        b"incr k 1\r\n",
        b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
    );
    drop(c);
    let first = lines_until(&d.log, "<FD connection closed.");
    let mut r = d.connect();
    r.roundtrip(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    r.roundtrip(
        b"*1\r\n$4\r\nNOPE\r\n",
        b"-ERR unknown command 'NOPE', with args beginning with: \r\n",
    );
    drop(r);
    let want = [
        "<FD new auto-negotiating client connection",
        "<FD bogus",
        ">FD ERROR",
        "<FD incr k 1",
        ">FD CLIENT_ERROR cannot increment or decrement non-numeric value",
        "<FD connection closed.",
    ];
    assert_eq!(first, want);
    let got = lines_until(&d.log, "<FD connection closed.");
    let want = [
        "<FD new auto-negotiating client connection",
        "<FD NOPE",
        ">FD -ERR unknown command 'NOPE', with args beginning with: ",
        "<FD connection closed.",
    ];
    assert_eq!(got, want);
}
