//! The Prometheus endpoint: off unless `--metrics-port` is given; then `GET /metrics`
//! answers the text format with the exporters' names.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use common::Daemon;

fn scrape(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn metrics_follow_both_protocols() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = Daemon::start(&["--resp-port", "0", "--metrics-port", &port.to_string()]);
    let mut mc = d.connect();
    mc.roundtrip(b"set k 0 0 1\r\nv\r\n", b"STORED\r\n");
    mc.roundtrip(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n");
    let mut r = d.connect_resp();
    r.roundtrip(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"$1\r\nv\r\n");
    let text = scrape(port, "/metrics");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.contains("Content-Type: text/plain; version=0.0.4"),
        "{text}"
    );
    for line in [
        "# TYPE memcached_up gauge\nmemcached_up 1\n",
        "memcached_current_items 1\n",
        // Both protocols' reads count as memcached `get_hits`.
        "memcached_commands_total{command=\"get\",status=\"hit\"} 2\n",
        "memcached_commands_total{command=\"set\",status=\"hit\"} 1\n",
        "# TYPE redis_commands_total counter\n",
        "redis_commands_total{cmd=\"get\"} 1\n",
        "slabd_command_duration_seconds_count{cmd=\"get\"} 1\n",
        "slabd_command_duration_seconds_bucket{cmd=\"get\",le=\"+Inf\"} 1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(scrape(port, "/nope").starts_with("HTTP/1.1 404 Not Found\r\n"));
}
