//! Abuse limits: a RESP client's pending input is bounded by client-query-buffer-limit.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn query_buffer_limit_closes_a_client_that_sends_too_much() {
    let d = daemon(&[]);
    let mut admin = d.connect_resp();
    admin.check(
        &["CONFIG", "SET", "client-query-buffer-limit", "1mb"],
        "+OK\r\n",
    );
    admin.check(
        &["CONFIG", "GET", "client-query-buffer-limit"],
        "*2\r\n$25\r\nclient-query-buffer-limit\r\n$7\r\n1048576\r\n",
    );
    let mut c = d.connect_resp();
    // An MSET of five 400 KB values (each under -I): 2 MB pending, over the limit.
    let mut req = b"*11\r\n$4\r\nMSET\r\n".to_vec();
    for i in 0..5 {
        req.extend_from_slice(format!("$2\r\nk{i}\r\n$400000\r\n").as_bytes());
        req.extend(std::iter::repeat_n(b'x', 400_000));
        req.extend_from_slice(b"\r\n");
    }
    let _ = std::io::Write::write_all(&mut c.stream, &req);
    // Closed with input unread: the peer sees EOF or a reset.
    let mut b = [0u8; 64];
    let r = std::io::Read::read(&mut c.stream, &mut b);
    assert!(
        matches!(r, Ok(0))
            || r.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "{r:?}"
    );
    // Under the limit is fine.
    let mut ok = d.connect_resp();
    let value = "y".repeat(500_000);
    ok.check(&["SET", "k", &value], "+OK\r\n");
}

#[test]
fn a_request_stalled_half_sent_is_closed() {
    let d = daemon(&["--client-request-timeout", "1"]);
    let mut idle = d.connect_resp();
    idle.check(&["PING"], "+PONG\r\n");
    let mut slow = d.connect();
    slow.send(b"set k 0 0 10\r\nhal");
    // Closed within a couple of clock seconds (the read waits up to 10 s).
    assert!(slow.closed());
    // A connection with no request pending is not touched.
    idle.check(&["PING"], "+PONG\r\n");
    let mut c = d.connect();
    c.roundtrip(b"get k\r\n", b"END\r\n");
}
