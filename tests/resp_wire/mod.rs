//! A minimal RESP client for the integration tests: sends commands as multibulks and reads
//! back exactly one reply, returned as its raw wire bytes so tests assert the exact format.
#![allow(dead_code)]

use crate::common::{Conn, Daemon};

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

pub trait Resp {
    /// Reads one whole reply (nested aggregates included) and returns its bytes.
    fn reply(&mut self) -> Vec<u8>;
    /// Sends `args` and returns the reply as text (lossy for binary).
    fn cmd(&mut self, args: &[&str]) -> String;
    /// Sends `args` and asserts the exact reply.
    fn check(&mut self, args: &[&str], want: &str);
}

impl Resp for Conn {
    fn reply(&mut self) -> Vec<u8> {
        let line = self.read_line();
        let mut all = line.clone();
        let n = || -> i64 {
            std::str::from_utf8(&line[1..line.len() - 2])
                .unwrap()
                .parse()
                .unwrap()
        };
        match line[0] {
            b'$' | b'=' => {
                let n = n();
                if n >= 0 {
                    all.extend(self.read_exact(n as usize + 2));
                }
            }
            b'*' | b'~' | b'>' => {
                for _ in 0..n().max(0) {
                    all.extend(self.reply());
                }
            }
            b'%' => {
                for _ in 0..2 * n() {
                    all.extend(self.reply());
                }
            }
            _ => {}
        }
        all
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&encode(&raw));
        String::from_utf8_lossy(&self.reply()).into_owned()
    }

    fn check(&mut self, args: &[&str], want: &str) {
        assert_eq!(self.cmd(args), want, "command {args:?}");
    }
}

/// A daemon with a RESP port, plus its arguments.
pub fn daemon(extra: &[&str]) -> Daemon {
    let mut args = vec!["--resp-port", "0"];
    args.extend_from_slice(extra);
    Daemon::start(&args)
}

/// The integer in a `:n` reply.
pub fn int(reply: &str) -> i64 {
    reply
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix("\r\n"))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"))
}

/// An integer field of `INFO <section>` (panics naming the field when it is missing).
pub fn info_u64(c: &mut Conn, section: &str, field: &str) -> u64 {
    let info = c.cmd(&["INFO", section]);
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {info}"))
}
