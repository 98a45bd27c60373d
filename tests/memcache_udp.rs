//! memcached's UDP transport (`-U`), datagram by datagram as memcached 1.6.18 answers (the
//! same requests were sent to the real server): frame headers, replies split over
//! datagrams, both protocols, and the datagrams memcached drops.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::Daemon;

/// A request datagram: id, sequence 0, total `total`, payload.
fn datagram(id: u16, total: u16, payload: &[u8]) -> Vec<u8> {
    let mut d = id.to_be_bytes().to_vec();
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(&total.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(payload);
    d
}

/// Every datagram that arrives before a 300 ms pause: (id, seq, total, payload).
fn replies(u: &UdpSocket) -> Vec<(u16, u16, u16, Vec<u8>)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = u.recv(&mut buf) {
        let h = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        assert_eq!(h(6), 0, "reserved bytes");
        got.push((h(0), h(2), h(4), buf[8..n].to_vec()));
    }
    got
}

fn client(d: &Daemon) -> UdpSocket {
    let u = UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    u.connect(d.udp_addr.expect("no udp port")).unwrap();
    u
}

#[test]
fn udp_requests_and_replies() {
    let d = Daemon::start(&["-U", "-1"]);
    let u = client(&d);
    u.send(&datagram(5, 1, b"set foo 0 0 3\r\nbar\r\n"))
        .unwrap();
    assert_eq!(replies(&u), [(5, 0, 1, b"STORED\r\n".to_vec())]);
    u.send(&datagram(6, 1, b"get foo\r\n")).unwrap();
    assert_eq!(
        replies(&u),
        [(6, 0, 1, b"VALUE foo 0 3\r\nbar\r\nEND\r\n".to_vec())]
    );
    // Two requests in one datagram: two replies, each numbered from 0.
    u.send(&datagram(7, 1, b"get foo\r\nversion\r\n")).unwrap();
    assert_eq!(
        replies(&u),
        [
            (7, 0, 1, b"VALUE foo 0 3\r\nbar\r\nEND\r\n".to_vec()),
            (7, 0, 1, b"VERSION 1.6.18\r\n".to_vec())
        ]
    );
    // The binary protocol, by the first payload byte.
    let mut version = vec![0x80, 0x0b];
    version.extend_from_slice(&[0; 10]);
    version.extend_from_slice(&[0, 0, 0, 1]);
    version.extend_from_slice(&[0; 8]);
    u.send(&datagram(8, 1, &version)).unwrap();
    let got = replies(&u);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].3[..2], &[0x81, 0x0b]);
    assert_eq!(&got[0].3[24..], b"1.6.18");
}

#[test]
fn a_reply_split_over_datagrams() {
    let d = Daemon::start(&["-U", "-1"]);
    let mut c = d.connect();
    let value = vec![b'v'; 3000];
    let mut set = b"set big 0 0 3000\r\n".to_vec();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    c.roundtrip(&set, b"STORED\r\n");
    let u = client(&d);
    u.send(&datagram(10, 1, b"get big\r\n")).unwrap();
    let got = replies(&u);
    // 3025 reply bytes in 1392-byte payloads (1400-byte datagrams): 1392 + 1392 + 241.
    let shape: Vec<(u16, u16, u16, usize)> = got
        .iter()
        .map(|(id, seq, total, p)| (*id, *seq, *total, p.len()))
        .collect();
    assert_eq!(shape, [(10, 0, 3, 1392), (10, 1, 3, 1392), (10, 2, 3, 241)]);
    let whole: Vec<u8> = got.into_iter().flat_map(|g| g.3).collect();
    let mut want = b"VALUE big 0 3000\r\n".to_vec();
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\nEND\r\n");
    assert_eq!(whole, want);
}

#[test]
fn datagrams_memcached_drops() {
    let d = Daemon::start(&["-U", "-1"]);
    let u = client(&d);
    // Header only, a multi-datagram request, noreply: no reply at all.
    u.send(&[0, 1, 0, 0, 0, 1, 0, 0]).unwrap();
    u.send(&datagram(2, 2, b"get foo\r\n")).unwrap();
    u.send(&datagram(3, 1, b"set a 0 0 1 noreply\r\nx\r\n"))
        .unwrap();
    u.send(&[1, 2, 3]).unwrap();
    assert_eq!(replies(&u), []);
    // Still serving, and the noreply set was stored.
    u.send(&datagram(4, 1, b"get a\r\n")).unwrap();
    assert_eq!(
        replies(&u),
        [(4, 0, 1, b"VALUE a 0 1\r\nx\r\nEND\r\n".to_vec())]
    );
}

#[test]
fn udp_is_off_by_default() {
    let d = Daemon::start(&[]);
    assert_eq!(d.udp_addr, None);
}

#[test]
fn stats_conns_lists_the_listeners() {
    let d = Daemon::start(&["-U", "-1"]);
    let mut c = d.connect();
    c.send(b"stats conns\r\n");
    let conns = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    let udp = d.udp_addr.unwrap();
    assert!(
        conns.contains(&format!(":addr tcp:{}\r\n", d.addr)),
        "{conns}"
    );
    assert!(conns.contains(":state conn_listening\r\n"), "{conns}");
    assert!(conns.contains(":UDP UDP\r\n"), "{conns}");
    assert!(conns.contains(&format!(":addr udp:{udp}\r\n")), "{conns}");
    assert!(conns.contains(":state conn_read\r\n"), "{conns}");
}
