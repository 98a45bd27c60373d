//! A connection's unsent requests. Large set values are not copied into the buffer: the
//! buffer holds everything else and notes where a value goes (a [`Splice`]), and the
//! value is sent straight from the workload's shared value bytes with vectored writes.
//!
//! Why: the load generator shares the machine's two cores with the server it measures,
//! so its own work per request holds back every server alike. With 50% sets, copying
//! each value into the buffer cost it 326-361 µs of CPU per request at 1 MiB values and
//! 32-42 µs at 100 KiB; sent from the shared bytes, 230-263 µs and 27-33 µs
//! (`scripts/bench.d/memcached-parity.py`, the same servers, docs/benchmarks.md).

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

/// Values at least this long are spliced rather than copied (below it a copy is cheaper
/// than the extra iovec).
pub const SPLICE_MIN: usize = 16 * 1024;

/// Most pieces one write hands the kernel.
const MAX_PIECES: usize = 64;

/// `len` bytes of the shared value go at `at` in the buffer, `done` of them already sent.
struct Splice {
    at: usize,
    len: usize,
    done: usize,
}

#[derive(Default)]
pub struct Output {
    buf: Vec<u8>,
    /// Bytes of `buf` sent.
    pos: usize,
    /// In buffer order; each is followed by at least one byte of `buf` (the value's
    /// `\r\n`), so no two share a position.
    splices: VecDeque<Splice>,
}

/// What a write of the pending output came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Sent {
    /// Everything went out.
    All,
    /// The socket would block; the rest waits for it.
    Partial,
}

impl Output {
    pub fn with_capacity(n: usize) -> Output {
        Output {
            buf: Vec::with_capacity(n),
            ..Output::default()
        }
    }

    /// The buffer requests are appended to.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// The first `len` bytes of the shared value go here (after what the buffer holds).
    pub fn splice(&mut self, len: usize) {
        self.splices.push_back(Splice {
            at: self.buf.len(),
            len,
            done: 0,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.pos == self.buf.len() && self.splices.is_empty()
    }

    /// Writes what is pending, the spliced parts from `value`, until done or the writer
    /// would block. `Ok(0)` from the writer is an error (`WriteZero`).
    pub fn write_to(&mut self, w: &mut impl Write, value: &[u8]) -> io::Result<Sent> {
        while !self.is_empty() {
            let n = {
                let mut pieces: [IoSlice<'_>; MAX_PIECES] = [IoSlice::new(&[]); MAX_PIECES];
                let mut count = 0;
                let mut p = self.pos;
                let mut used = 0;
                for s in self.splices.iter() {
                    if count + 2 > MAX_PIECES {
                        break;
                    }
                    if s.at > p {
                        pieces[count] = IoSlice::new(&self.buf[p..s.at]);
                        count += 1;
                        p = s.at;
                    }
                    pieces[count] = IoSlice::new(&value[s.done..s.len]);
                    count += 1;
                    used += 1;
                }
                let end = self.splices.get(used).map_or(self.buf.len(), |s| s.at);
                if count < MAX_PIECES && end > p {
                    pieces[count] = IoSlice::new(&self.buf[p..end]);
                    count += 1;
                }
                match w.write_vectored(&pieces[..count]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Sent::Partial),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            self.advance(n);
        }
        self.buf.clear();
        self.pos = 0;
        Ok(Sent::All)
    }

    /// `n` more bytes of the stream (buffer and splices in order) were sent.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            match self.splices.front_mut() {
                Some(s) if s.at == self.pos => {
                    let take = n.min(s.len - s.done);
                    s.done += take;
                    n -= take;
                    if s.done == s.len {
                        self.splices.pop_front();
                    }
                }
                next => {
                    let end = next.map_or(self.buf.len(), |s| s.at);
                    let take = n.min(end - self.pos);
                    self.pos += take;
                    n -= take;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes at most `max` bytes per call, and says `WouldBlock` on every third call.
    struct Trickle {
        got: Vec<u8>,
        max: usize,
        calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.write_vectored(&[IoSlice::new(buf)])
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls % 3 == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(self.max - n);
                self.got.extend_from_slice(&b[..take]);
                n += take;
                if n == self.max {
                    break;
                }
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn spliced_values_go_out_in_order_whatever_the_writes_take() {
        let value: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for max in [1, 7, 4096, 70_000, 1 << 20] {
            let mut out = Output::with_capacity(16);
            let mut want = Vec::new();
            for (i, len) in [20_000usize, 100_000, 16_384, 99_999]
                .into_iter()
                .enumerate()
            {
                let head = format!("set k{i} 0 0 {len}\r\n");
                out.buf().extend_from_slice(head.as_bytes());
                want.extend_from_slice(head.as_bytes());
                out.splice(len);
                want.extend_from_slice(&value[..len]);
                out.buf().extend_from_slice(b"\r\n");
                want.extend_from_slice(b"\r\n");
                if i == 1 {
                    out.buf().extend_from_slice(b"get k0\r\n");
                    want.extend_from_slice(b"get k0\r\n");
                }
            }
            let mut sink = Trickle {
                got: Vec::new(),
                max,
                calls: 0,
            };
            let mut writes = 0;
            while out.write_to(&mut sink, &value).unwrap() == Sent::Partial {
                writes += 1;
                assert!(writes < 1_000_000, "no progress at max {max}");
            }
            assert!(out.is_empty());
            assert_eq!(sink.got.len(), want.len(), "max {max}");
            assert!(sink.got == want, "bytes differ at max {max}");
        }
    }

    #[test]
    fn more_splices_than_one_write_takes() {
        let value = vec![b'v'; SPLICE_MIN];
        let mut out = Output::default();
        let mut want = Vec::new();
        for _ in 0..MAX_PIECES * 2 {
            out.buf().extend_from_slice(b"s\r\n");
            out.splice(SPLICE_MIN);
            out.buf().extend_from_slice(b"\r\n");
            want.extend_from_slice(b"s\r\n");
            want.extend_from_slice(&value);
            want.extend_from_slice(b"\r\n");
        }
        let mut sink = Vec::new();
        assert_eq!(out.write_to(&mut sink, &value).unwrap(), Sent::All);
        assert!(sink == want);
    }
}
