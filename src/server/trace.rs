//! `-v` / `-vv` logging of connections, requests and replies on stderr, in memcached's
//! format: `<FD request` for what a client sent, `>FD reply` for what it was answered,
//! `FD` the socket's file descriptor.
//!
//! - `-v`: connections opened and closed, and every request answered with a protocol error
//!   (memcached text `ERROR`/`CLIENT_ERROR`/`SERVER_ERROR`, a binary status other than
//!   not-found/exists/not-stored, a RESP `-` error), with that error.
//! - `-vv`: every request and its reply, as memcached 1.6 prints them: the command line;
//!   `sending key K` for each value of a get, then `END`; other reply lines as they are;
//!   `NOREPLY STORED` for a `noreply` request; nothing for `stats` output and for the meta
//!   commands' replies except `MN`, `me`'s and errors; the binary protocol's header dumps
//!   (`Read binary protocol data:` / `Writing bin response:`). RESP (slabd's addition)
//!   takes the same form: `<FD SET key value` with each argument printed as is, or quoted
//!   as Redis's `sdscatrepr` when it holds a space, a quote or a byte that is not printable;
//!   `>FD` and the reply's protocol bytes with each CRLF shown as one space (`>FD $3 bar`).
//!   AUTH's and HELLO AUTH's passwords show as `(redacted)`.
//!
//! Bounded: a request or reply is shown up to [`SHOWN`] bytes (then `...`), at most
//! [`MAX_LINES`] reply lines per request. With verbosity 0 the connection reads the level
//! once per turn and calls nothing here.

use std::io::Write;

use crate::commands::{ClientInfo, Protocol, Session};
use crate::hub::monitor::quote;
use crate::hub::redact::{Holder, Secrets};

/// Bytes of one request or reply line shown before `...`.
pub const SHOWN: usize = 512;
/// Reply lines (or binary response packets) shown for one request.
pub const MAX_LINES: usize = 64;

/// The number memcached puts after `<` and `>`: the connection's socket.
fn fd(info: &ClientInfo) -> i64 {
    match info.fd.load(std::sync::atomic::Ordering::Relaxed) {
        fd if fd >= 0 => i64::from(fd),
        _ => info.id as i64,
    }
}

/// Writes a whole block of lines at once (lines from different workers do not mix).
fn emit(text: &[u8]) {
    if !text.is_empty() {
        let _ = std::io::stderr().lock().write_all(text);
    }
}

/// `-v`: a connection was accepted (memcached's `-vv` line for it).
pub fn opened(fd: i32, protocol: Protocol) {
    let what = match protocol {
        Protocol::Detect => "new auto-negotiating client connection",
        Protocol::Memcache => "new ascii client connection.",
        Protocol::MemcacheBinary => "new binary client connection.",
        Protocol::Resp => "new resp client connection.",
    };
    emit(format!("<{fd} {what}\n").as_bytes());
}

/// `-vv`: the protocol of an auto-negotiating connection was decided by its first byte.
pub fn negotiated(info: &ClientInfo, protocol: Protocol) {
    let what = match protocol {
        Protocol::MemcacheBinary => "binary",
        Protocol::Resp => "resp",
        _ => "ascii",
    };
    emit(format!("{}: Client using the {what} protocol\n", fd(info)).as_bytes());
}

/// `-v`: the connection is gone.
pub fn closed(info: &ClientInfo) {
    emit(format!("<{} connection closed.\n", fd(info)).as_bytes());
}

/// `-v`: something happened to a connection (`<FD what`).
pub fn event(info: &ClientInfo, what: &str) {
    emit(format!("<{} {what}\n", fd(info)).as_bytes());
}

/// Logs one request that was answered (`request` its bytes, `reply` what it appended to
/// the output), at verbosity `level` (1 or more).
pub fn request(level: u8, session: &mut Session, request: &[u8], reply: &[u8]) {
    let fd = fd(&session.info);
    let mut text = Vec::new();
    match session.protocol {
        Protocol::Resp => resp(level, fd, request, reply, &mut text),
        Protocol::MemcacheBinary => binary(level, fd, request, reply, &mut text),
        _ => {
            let quiet = session.memcache.take_noreply_reply();
            text_protocol(level, fd, request, reply, quiet.as_deref(), &mut text);
        }
    }
    emit(&text);
}

/// Appends `bytes` up to [`SHOWN`] of them, then `...` when there were more.
fn shown(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() > SHOWN {
        out.extend_from_slice(&bytes[..SHOWN]);
        out.extend_from_slice(b"...");
    } else {
        out.extend_from_slice(bytes);
    }
}

fn first_line(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    bytes[..end].strip_suffix(b"\r").unwrap_or(&bytes[..end])
}

fn text_error(line: &[u8]) -> bool {
    line.starts_with(b"ERROR")
        || line.starts_with(b"CLIENT_ERROR")
        || line.starts_with(b"SERVER_ERROR")
}

/// memcached's text protocol, as memcached 1.6 logs it.
fn text_protocol(
    level: u8,
    fd: i64,
    request: &[u8],
    reply: &[u8],
    quiet: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let error = text_error(first_line(reply));
    if level < 2 && !error {
        return;
    }
    let line = first_line(request);
    let _ = write!(out, "<{fd} ");
    shown(out, line);
    out.push(b'\n');
    if let Some(would) = quiet {
        let _ = write!(out, ">{fd} NOREPLY ");
        shown(out, first_line(would));
        out.push(b'\n');
        return;
    }
    let command = line.split(|&b| b == b' ').next().unwrap_or_default();
    let silent = matches!(command, b"stats" | b"mg" | b"ms" | b"md" | b"ma");
    if silent && !error {
        return;
    }
    let mut rest = reply;
    let mut lines = 0;
    while !rest.is_empty() {
        if lines == MAX_LINES {
            let _ = writeln!(out, ">{fd} ...");
            return;
        }
        lines += 1;
        let line = first_line(rest);
        let mut used = (line.len() + 2).min(rest.len());
        let _ = write!(out, ">{fd} ");
        match value_line(line) {
            Some((key, len)) => {
                out.extend_from_slice(b"sending key ");
                shown(out, key);
                used = used.saturating_add(len).saturating_add(2).min(rest.len());
            }
            None => shown(out, line),
        }
        out.push(b'\n');
        rest = &rest[used..];
    }
}

/// `VALUE <key> <flags> <bytes> [<cas>]`: the key and the data block's length.
fn value_line(line: &[u8]) -> Option<(&[u8], usize)> {
    let mut words = line.split(|&b| b == b' ');
    if words.next()? != b"VALUE" {
        return None;
    }
    let key = words.next()?;
    let _flags = words.next()?;
    let len = std::str::from_utf8(words.next()?).ok()?.parse().ok()?;
    Some((key, len))
}

/// The binary protocol's 24-byte header as memcached dumps it: four bytes a line.
fn dump_header(out: &mut Vec<u8>, prefix: &str, header: &[u8]) {
    for row in header.chunks(4) {
        out.extend_from_slice(prefix.as_bytes());
        for b in row {
            let _ = write!(out, " 0x{b:02x}");
        }
        out.push(b'\n');
    }
}

const BIN_HEADER: usize = 24;

/// memcached's binary protocol: header dumps, the GET/SET lines, errors.
fn binary(level: u8, fd: i64, request: &[u8], reply: &[u8], out: &mut Vec<u8>) {
    if request.len() < BIN_HEADER {
        return;
    }
    let status = |p: &[u8]| u16::from_be_bytes([p[6], p[7]]);
    let is_error = |s: u16| !matches!(s, 0 | 1 | 2 | 5);
    let error = reply.len() >= BIN_HEADER && is_error(status(reply));
    if level < 2 && !error {
        return;
    }
    let _ = writeln!(out, "<{fd} Read binary protocol data:");
    dump_header(out, &format!("<{fd}   "), &request[..BIN_HEADER]);
    let opcode = request[1];
    let key_len = usize::from(u16::from_be_bytes([request[2], request[3]]));
    let extras = usize::from(request[4]);
    let body = u32::from_be_bytes([request[8], request[9], request[10], request[11]]) as usize;
    let key = request
        .get(BIN_HEADER + extras..BIN_HEADER + extras + key_len)
        .unwrap_or_default();
    match opcode {
        0x00 | 0x09 | 0x0c | 0x0d => {
            let _ = write!(out, "<{fd} GET ");
            shown(out, key);
            out.push(b'\n');
        }
        0x1c..=0x1f => {
            let _ = write!(out, "<{fd} TOUCH ");
            shown(out, key);
            out.push(b'\n');
        }
        0x01..=0x03 | 0x11..=0x13 => {
            // memcached names every update SET, ADD or REPLACE by comparing the opcode
            // with SET and ADD only: the quiet SETQ shows as REPLACE.
            let verb = match opcode {
                0x01 => "SET",
                0x02 => "ADD",
                _ => "REPLACE",
            };
            let value_len = body.saturating_sub(key_len + extras);
            let _ = write!(out, "<{fd} {verb} ");
            shown(out, key);
            let _ = writeln!(out, " Value len is {value_len}");
        }
        _ => {}
    }
    if opcode == 0x10 {
        // STAT: memcached writes its packets without logging them.
        return;
    }
    let mut rest = reply;
    let mut packets = 0;
    while rest.len() >= BIN_HEADER {
        if packets == MAX_LINES {
            let _ = writeln!(out, ">{fd} ...");
            return;
        }
        packets += 1;
        let len = u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        let end = BIN_HEADER.saturating_add(len).min(rest.len());
        if status(rest) != 0 {
            let _ = write!(out, ">{fd} Writing an error: ");
            shown(out, &rest[BIN_HEADER..end]);
            out.push(b'\n');
        }
        let _ = writeln!(out, ">{fd} Writing bin response:");
        dump_header(out, &format!(">{fd}  "), &rest[..BIN_HEADER]);
        rest = &rest[end..];
    }
}

/// RESP: the arguments on one line, the reply's protocol bytes on another.
fn resp(level: u8, fd: i64, request: &[u8], reply: &[u8], out: &mut Vec<u8>) {
    let error = reply.first() == Some(&b'-');
    if level < 2 && !error {
        return;
    }
    let _ = write!(out, "<{fd}");
    let start = out.len();
    let args: Vec<&[u8]> = resp_args(request).collect();
    let nth = |i: usize| args[i];
    let holder = args.first().map_or(Holder::None, |n| Holder::of_request(n));
    let secrets = Secrets::of(holder, nth, args.len());
    for (i, &arg) in args.iter().enumerate() {
        if out.len() - start > SHOWN {
            out.extend_from_slice(b" ...");
            break;
        }
        out.push(b' ');
        if secrets.hides(nth, args.len(), i) {
            out.extend_from_slice(b"(redacted)");
        } else if !arg.is_empty()
            && arg
                .iter()
                .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            out.extend_from_slice(arg);
        } else {
            quote(out, arg);
        }
    }
    out.push(b'\n');
    let _ = write!(out, ">{fd} ");
    let shown_reply = &reply[..reply.len().min(SHOWN)];
    let trimmed = shown_reply.strip_suffix(b"\r\n").unwrap_or(shown_reply);
    let mut i = 0;
    while i < trimmed.len() {
        match trimmed[i] {
            b'\r' if trimmed.get(i + 1) == Some(&b'\n') => {
                out.push(b' ');
                i += 1;
            }
            c if c.is_ascii_graphic() || c == b' ' => out.push(c),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
        i += 1;
    }
    if reply.len() > SHOWN {
        out.extend_from_slice(b"...");
    }
    out.push(b'\n');
}

/// The arguments of one whole RESP request: a multibulk, or an inline command's words.
fn resp_args(request: &[u8]) -> impl Iterator<Item = &[u8]> {
    let multibulk = request.first() == Some(&b'*');
    let mut rest = if multibulk {
        after_line(request)
    } else {
        first_line(request)
    };
    std::iter::from_fn(move || {
        if multibulk {
            let header = first_line(rest);
            let len: usize = std::str::from_utf8(header.get(1..)?).ok()?.parse().ok()?;
            let body = after_line(rest);
            let arg = body.get(..len)?;
            rest = body.get(len + 2..).unwrap_or_default();
            Some(arg)
        } else {
            let skip = rest.iter().position(|b| !b.is_ascii_whitespace())?;
            rest = &rest[skip..];
            let end = rest
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(rest.len());
            let (word, tail) = rest.split_at(end);
            rest = tail;
            Some(word)
        }
    })
}

fn after_line(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == b'\n') {
        Some(i) => &bytes[i + 1..],
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(level: u8, req: &[u8], reply: &[u8], quiet: Option<&[u8]>) -> String {
        let mut out = Vec::new();
        text_protocol(level, 24, req, reply, quiet, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn memcached_text_lines() {
        assert_eq!(
            text(2, b"get foo k\r\n", b"VALUE k 0 2\r\nhi\r\nEND\r\n", None),
            "<24 get foo k\n>24 sending key k\n>24 END\n"
        );
        assert_eq!(
            text(2, b"set a 0 0 1 noreply\r\n1\r\n", b"", Some(b"STORED\r\n")),
            "<24 set a 0 0 1 noreply\n>24 NOREPLY STORED\n"
        );
        assert_eq!(text(2, b"mg a v\r\n", b"EN\r\n", None), "<24 mg a v\n");
        assert_eq!(text(2, b"mn\r\n", b"MN\r\n", None), "<24 mn\n>24 MN\n");
        assert_eq!(
            text(2, b"stats\r\n", b"STAT pid 1\r\nEND\r\n", None),
            "<24 stats\n"
        );
        assert_eq!(text(1, b"get a\r\n", b"END\r\n", None), "");
        assert_eq!(
            text(1, b"bogus cmd\r\n", b"ERROR\r\n", None),
            "<24 bogus cmd\n>24 ERROR\n"
        );
    }

    #[test]
    fn text_reply_lines_are_bounded() {
        let reply = b"VALUE k 0 1\r\nx\r\n".repeat(100);
        let log = text(2, b"get k\r\n", &reply, None);
        assert_eq!(log.lines().count(), 1 + MAX_LINES + 1);
        assert!(log.ends_with(">24 ...\n"));
    }

    #[test]
    fn resp_lines() {
        let mut out = Vec::new();
        resp(
            2,
            7,
            b"*3\r\n$3\r\nSET\r\n$5\r\na key\r\n$1\r\nv\r\n",
            b"+OK\r\n",
            &mut out,
        );
        assert_eq!(out, b"<7 SET \"a key\" v\n>7 +OK\n");
        out.clear();
        resp(
            2,
            7,
            b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n",
            b"$2\r\nhi\r\n",
            &mut out,
        );
        assert_eq!(out, b"<7 GET a\n>7 $2 hi\n");
        out.clear();
        resp(
            1,
            7,
            b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n",
            b"$2\r\nhi\r\n",
            &mut out,
        );
        assert_eq!(out, b"");
        resp(
            1,
            7,
            b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n",
            b"-WRONGPASS x\r\n",
            &mut out,
        );
        assert_eq!(out, b"<7 AUTH (redacted)\n>7 -WRONGPASS x\n");
        out.clear();
        resp(
            2,
            7,
            b"HELLO 3 AUTH u pw SETNAME n\r\n",
            b"-ERR x\r\n",
            &mut out,
        );
        assert_eq!(
            out,
            b"<7 HELLO 3 AUTH (redacted) (redacted) SETNAME n\n>7 -ERR x\n"
        );
    }

    #[test]
    fn binary_dump() {
        let mut req = vec![0x80, 0x00, 0x00, 0x04, 0, 0, 0, 0, 0, 0, 0, 4];
        req.extend_from_slice(&[0; 12]);
        req.extend_from_slice(b"nope");
        let mut reply = vec![0x81, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9];
        reply.extend_from_slice(&[0; 12]);
        reply.extend_from_slice(b"Not found");
        let mut out = Vec::new();
        binary(2, 24, &req, &reply, &mut out);
        let log = String::from_utf8(out).unwrap();
        assert!(log.starts_with(
            "<24 Read binary protocol data:\n<24    0x80 0x00 0x00 0x04\n<24    0x00 0x00 0x00 0x00\n"
        ));
        assert!(log.contains(
            "<24 GET nope\n>24 Writing an error: Not found\n>24 Writing bin response:\n>24   0x81 0x00 0x00 0x00\n>24   0x00 0x00 0x00 0x01\n"
        ));
        let mut out = Vec::new();
        binary(1, 24, &req, &reply, &mut out);
        assert!(out.is_empty(), "a miss is no protocol error");
    }
}
