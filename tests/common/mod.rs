//! Starts the real `slabd` binary for integration tests and talks raw bytes to it.
//!
//! Contract with the binary: at start-up it writes one stderr line per listener,
//! `listening on <tcp|resp|unix> <address>`, then a line `ready`.
#![allow(dead_code)]

pub mod binary;
pub mod store;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Child,
    /// The memcached port (`-p -1` picks a free one).
    pub addr: SocketAddr,
    /// The RESP port, when started with `--resp-port 0`.
    pub resp_addr: Option<SocketAddr>,
    /// The UDP port, when started with `-U -1`.
    pub udp_addr: Option<SocketAddr>,
    /// stderr lines after `ready`.
    pub log: mpsc::Receiver<String>,
}

impl Daemon {
    /// Starts slabd on free loopback ports with `args` added (`-p -1 -l 127.0.0.1` come
    /// first, and `--enable-debug-command yes`, as Redis's own test servers run: `args` may
    /// say otherwise).
    pub fn start(args: &[&str]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_slabd"))
            .args(["-p", "-1", "-l", "127.0.0.1"])
            .args(["--enable-debug-command", "yes"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn slabd");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(l).is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
        });
        let mut addr = None;
        let mut resp_addr = None;
        let mut udp_addr = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!("slabd did not report ready (args {args:?})");
                }
            };
            if line == "ready" {
                break;
            }
            if let Some(rest) = line.strip_prefix("listening on ") {
                let mut parts = rest.split_whitespace();
                let kind = parts.next().unwrap_or("");
                let a = parts.next().unwrap_or("");
                match kind {
                    "tcp" if addr.is_none() => addr = a.parse().ok(),
                    "resp" => resp_addr = a.parse().ok(),
                    "udp" => udp_addr = a.parse().ok(),
                    _ => {}
                }
            }
        }
        Daemon {
            child,
            addr: addr.expect("no tcp listener reported"),
            resp_addr,
            udp_addr,
            log: rx,
        }
    }

    pub fn connect(&self) -> Conn {
        Conn::new(TcpStream::connect(self.addr).expect("connect"))
    }

    pub fn connect_resp(&self) -> Conn {
        Conn::new(TcpStream::connect(self.resp_addr.expect("no resp port")).expect("connect"))
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().expect("wait")
    }

    /// Waits for the daemon to exit on its own (after `shutdown`).
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait")
    }

    /// The daemon's process id (to read its /proc entry).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client connection with a 10 s read timeout.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Conn {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads until exactly `n` bytes have arrived.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill();
        }
        self.buf.drain(..n).collect()
    }

    /// Reads until the input ends with `suffix` (and returns everything read).
    pub fn read_until(&mut self, suffix: &[u8]) -> Vec<u8> {
        while !self.buf.ends_with(suffix) {
            self.fill();
        }
        std::mem::take(&mut self.buf)
    }

    /// Reads one line including its `\r\n`.
    pub fn read_line(&mut self) -> Vec<u8> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return self.buf.drain(..p + 2).collect();
            }
            self.fill();
        }
    }

    /// Sends memcached's `stats` and returns the number its `STAT name` line reports.
    pub fn stat(&mut self, name: &str) -> u64 {
        self.send(b"stats\r\n");
        let text = String::from_utf8(self.read_until(b"END\r\n")).unwrap();
        let prefix = format!("STAT {name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in stats: {text}"))
    }

    /// Sends `req` and asserts the reply is exactly `expect`.
    pub fn roundtrip(&mut self, req: &[u8], expect: &[u8]) {
        self.send(req);
        let got = self.read_exact(expect.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expect),
            "request {:?}",
            String::from_utf8_lossy(req)
        );
    }

    /// True when the server closed the connection (reads EOF within the timeout).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 256];
        loop {
            match self.stream.read(&mut b) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&b[..n]),
                // A socket read with a timeout is not restarted after a signal (socket(7)).
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    fn fill(&mut self) {
        let mut b = [0u8; 65536];
        let n = loop {
            match self.stream.read(&mut b) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.expect("read (timed out?)"),
            }
        };
        assert!(
            n > 0,
            "connection closed; had {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        self.buf.extend_from_slice(&b[..n]);
    }
}
