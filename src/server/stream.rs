//! A connection's socket: TCP, unix or TLS over TCP ([`Stream`]), and the two reads that
//! fill a connection's input without zeroing it first (into the read buffer's spare
//! capacity, or a value straight into its reserved item).

use std::io::{self, Write};
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token};

use super::tls::TlsStream;
use crate::storage::{Reserved, Store};

/// Most plaintext one TLS read hands over (a TLS record holds at most 16 KiB).
const TLS_READ_CHUNK: usize = 32 << 10;

/// A connected socket of either family, or a TLS session over TCP ([`super::tls`]).
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<TlsStream>),
}

impl Stream {
    pub(super) fn fd(&self) -> i32 {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
            Stream::Tls(s) => s.tcp.as_raw_fd(),
        }
    }

    /// Memory a TLS session holds beside the connection's own buffers (0 for plain).
    pub(super) fn session_bytes(&self) -> usize {
        match self {
            Stream::Tls(s) => s.memory(),
            _ => 0,
        }
    }

    /// The session is being dropped: [`Stream::session_bytes`] is 0 from now on.
    pub(super) fn end_session(&mut self) {
        if let Stream::Tls(s) = self {
            s.ended = true;
        }
    }

    /// TLS records are waiting for the socket (the connection is not done writing).
    pub(super) fn tls_pending(&self) -> bool {
        matches!(self, Stream::Tls(s) if s.has_pending())
    }

    /// Sends TLS records left over from an earlier turn (every turn asks: inlined, so a
    /// plain socket pays a compare).
    #[inline]
    pub(super) fn send_records(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(s) => s.send_records(),
            _ => Ok(()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            Stream::Tls(s) => s.write_plain(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            Stream::Unix(s) => s.write_vectored(bufs),
            Stream::Tls(s) => s.write_plain_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for Stream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(r, t, i),
            Stream::Unix(s) => s.register(r, t, i),
            Stream::Tls(s) => s.register(r, t, i),
        }
    }

    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(r, t, i),
            Stream::Unix(s) => s.reregister(r, t, i),
            Stream::Tls(s) => s.reregister(r, t, i),
        }
    }

    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(r),
            Stream::Unix(s) => s.deregister(r),
            Stream::Tls(s) => s.deregister(r),
        }
    }
}

/// Appends what the socket has to `buf`, up to its spare capacity, without zeroing that
/// space first (the kernel overwrites it).
pub(super) fn read_into_spare(stream: &mut Stream, buf: &mut Vec<u8>) -> io::Result<usize> {
    if let Stream::Tls(tls) = stream {
        let room = (buf.capacity() - buf.len()).min(TLS_READ_CHUNK);
        return tls.read_into(buf, room);
    }
    let spare: &mut [MaybeUninit<u8>] = buf.spare_capacity_mut();
    // SAFETY: `spare` is memory `buf` owns and nothing else borrows; read(2) writes at most
    // `spare.len()` bytes into it and reads none.
    let n = unsafe { libc::read(stream.fd(), spare.as_mut_ptr().cast(), spare.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize;
    // SAFETY: read(2) initialized the first `n` bytes of the spare capacity, which are
    // within the capacity (`n <= spare.len()`).
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// One `readv` into the rest of a value being received (into its reserved item) and then
/// the buffer's spare capacity (the value's `\r\n` and what follows it): (bytes read, room
/// offered).
pub(super) fn receive_direct(
    store: &Store,
    sink: &mut Reserved,
    fd: i32,
    buf: &mut Vec<u8>,
) -> io::Result<(usize, usize)> {
    let remaining = sink.remaining();
    let (n, offered) = store.receive_reserved(sink, fd, buf.spare_capacity_mut())?;
    let extra = n.saturating_sub(remaining);
    // SAFETY: readv(2) filled the value's part first, then initialized the first `extra`
    // bytes of the spare capacity it was given (`extra` <= its length; 0 when it was
    // given none).
    unsafe { buf.set_len(buf.len() + extra) };
    Ok((n, offered))
}
