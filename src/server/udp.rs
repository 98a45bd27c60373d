//! memcached's UDP transport (`-U PORT`, off by default): each datagram carries an 8-byte
//! frame header and whole requests of either memcached protocol; the replies go back to the
//! sender split into datagrams of at most 1400 bytes, each with its own header.
//!
//! ```text
//!  0 request id (u16, echoed)   2 sequence number (u16)   4 datagrams in total (u16)
//!  6 reserved (u16, 0)          8 payload
//! ```
//!
//! As memcached 1.6.18 does: a datagram of 8 bytes or fewer, or one that says it is part of
//! a multi-datagram request (total ≠ 1), is dropped without a reply; each datagram picks its
//! protocol by its first payload byte (0x80 binary, else text) and every whole request in it
//! is answered; `quit` and half a request end nothing but the datagram. Where slabd differs:
//! memcached numbers each reply object (one per key of a multi-key `get`) from sequence 0;
//! slabd sends the replies to one datagram as one message numbered 0..n, as the protocol
//! description has it.
//!
//! Each UDP socket is served by `-t` threads blocking in `recv_from` on clones of it (as
//! memcached's `num_threads_per_udp`); their counters go to the workers' stats slots.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{resolve, BindError, Lifecycle};
use crate::commands::{self, ClientInfo, Context, Protocol, Session, Step};
use crate::config::Settings;
use crate::stats::add;

/// The frame header's size.
pub const HEADER_LEN: usize = 8;
/// Largest datagram sent, header included (memcached's `UDP_MAX_PAYLOAD_SIZE`).
pub const DATAGRAM_MAX: usize = 1400;
/// Largest datagram read (memcached's `UDP_READ_BUFFER_SIZE`).
const READ_BUFFER: usize = 65536;
/// How often a blocked `recv_from` looks at whether the server is stopping.
const STOP_POLL: Duration = Duration::from_millis(200);

/// Binds `-U` on every `-l` address (nothing when `-U` is off).
pub fn bind(settings: &Settings) -> Result<Vec<UdpSocket>, BindError> {
    if !settings.udp_enabled {
        return Ok(Vec::new());
    }
    resolve(&settings.listen, settings.udp_port)?
        .into_iter()
        .map(|addr| {
            let err = |source| BindError {
                addr: addr.to_string(),
                source,
            };
            let socket = UdpSocket::bind(addr).map_err(err)?;
            socket.set_read_timeout(Some(STOP_POLL)).map_err(err)?;
            Ok(socket)
        })
        .collect()
}

/// Starts the threads serving each socket; they end once `lifecycle` is stopping.
pub fn start(
    ctx: &Arc<Context>,
    sockets: Vec<UdpSocket>,
    lifecycle: &Arc<Lifecycle>,
) -> io::Result<()> {
    for socket in sockets {
        if let Ok(addr) = socket.local_addr() {
            ctx.memcache
                .add_listener(socket.as_raw_fd(), format!("udp:{addr}"));
        }
        for worker in 0..ctx.threads.len() {
            let socket = socket.try_clone()?;
            let ctx = ctx.clone();
            let lifecycle = lifecycle.clone();
            std::thread::Builder::new()
                .name(format!("slabd-udp-{worker}"))
                .spawn(move || serve(&ctx, &socket, worker, &lifecycle))?;
        }
    }
    Ok(())
}

/// The pseudo-connection a UDP thread answers from: not in the client registry (memcached
/// does not list UDP in `stats conns` as a client either).
fn session(socket: &UdpSocket, worker: usize) -> Session {
    let local = socket
        .local_addr()
        .map(|a| format!("udp:{a}"))
        .unwrap_or_default();
    let info = Arc::new(ClientInfo::detached(&local, &local));
    info.fd.store(socket.as_raw_fd(), Ordering::Relaxed);
    Session::new(info, Protocol::Memcache, worker)
}

fn serve(ctx: &Context, socket: &UdpSocket, worker: usize, lifecycle: &Lifecycle) {
    let mut buf = vec![0u8; READ_BUFFER];
    let mut out = Vec::new();
    let mut datagram = Vec::with_capacity(DATAGRAM_MAX);
    let mut session = session(socket, worker);
    while !lifecycle.is_stopping() {
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(got) => got,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => continue,
        };
        let stats = &ctx.threads[worker];
        add(&stats.bytes_read, n as u64);
        let Some(request_id) = accept(&buf[..n]) else {
            continue;
        };
        // A datagram is a connection of its own: protocol by its first byte, nothing
        // carried over from the previous datagram.
        session.protocol = Protocol::Detect;
        session.memcache = Default::default();
        let mut payload = &buf[HEADER_LEN..n];
        while !payload.is_empty() {
            out.clear();
            // The worker's atomicity gate, as a TCP request on that worker holds it: no
            // UDP write lands inside an EXEC or a script.
            ctx.gates.begin_turn(worker);
            let step = commands::process(ctx, &mut session, payload, &mut out);
            ctx.gates.end_turn();
            let sent = send(socket, peer, request_id, &out, &mut datagram);
            add(&stats.bytes_written, sent as u64);
            match step {
                Step::Done(used) => payload = &payload[used..],
                Step::Shutdown => {
                    lifecycle.stop();
                    break;
                }
                Step::Incomplete | Step::Close | Step::Blocked => break,
            }
        }
    }
}

/// The request id of a datagram memcached would answer: longer than its header and not
/// one part of a multi-datagram request.
pub fn accept(datagram: &[u8]) -> Option<u16> {
    if datagram.len() <= HEADER_LEN || datagram[4..6] != [0, 1] {
        return None;
    }
    Some(u16::from_be_bytes([datagram[0], datagram[1]]))
}

/// Sends `reply` in datagrams of at most [`DATAGRAM_MAX`] bytes; returns the bytes sent.
fn send(
    socket: &UdpSocket,
    peer: SocketAddr,
    request_id: u16,
    reply: &[u8],
    datagram: &mut Vec<u8>,
) -> usize {
    let chunks = reply.chunks(DATAGRAM_MAX - HEADER_LEN);
    let total = chunks.len().min(usize::from(u16::MAX)) as u16;
    let mut sent = 0;
    for (seq, chunk) in chunks.take(usize::from(total)).enumerate() {
        datagram.clear();
        datagram.extend_from_slice(&request_id.to_be_bytes());
        datagram.extend_from_slice(&(seq as u16).to_be_bytes());
        datagram.extend_from_slice(&total.to_be_bytes());
        datagram.extend_from_slice(&[0, 0]);
        datagram.extend_from_slice(chunk);
        if let Ok(n) = socket.send_to(datagram, peer) {
            sent += n;
        }
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_memcached_drops() {
        assert_eq!(accept(&[0, 7, 0, 0, 0, 1, 0, 0]), None);
        assert_eq!(accept(&[0, 7, 0, 0, 0, 2, 0, 0, b'x']), None);
        assert_eq!(accept(&[1, 7, 0, 3, 0, 1, 0, 0, b'x']), Some(0x0107));
    }
}
