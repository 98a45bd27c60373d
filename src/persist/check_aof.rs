//! `slabd check-aof [--fix|--truncate-to-timestamp T] FILE`: redis-check-aof 7.0.15, step
//! for step, so that its output is the same byte for byte on the same files: the file names
//! as given (a manifest's files by name, with `dirname(manifest)/name` where Redis prints the
//! path), `ok_up_to_line` counting the lines the parser consumed (one counter across a
//! manifest's files, as Redis's global), errors as `0x<offset, %16llx>: <what>`, "AOF … is
//! empty" for an empty file, the `--fix` question on stdin, and the manifest's fatal error
//! in Redis's log format.
//!
//! Reading never allocates what the file claims: a bulk string is skipped in chunks, only
//! its first bytes (to recognise MULTI and EXEC) and last two (the `\r\n`) are kept.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};

use super::aof::Manifest;

/// `exit(1)` in redis-check-aof: the message is already printed.
struct Exit;

type Res<T> = Result<T, Exit>;

/// How one file ended (Redis's `AOF_CHECK_*`).
enum Outcome {
    Ok,
    Empty,
    Truncated,
    TimestampTruncated,
}

/// A file read the way stdio's `fgets`/`fread` read it: a position and an end-of-file flag.
struct Src {
    r: BufReader<File>,
    pos: u64,
    eof: bool,
}

impl Src {
    /// `fgets(buf, cap, fp)`: up to `cap - 1` bytes, through a newline. False when nothing
    /// was read at the end of the file.
    fn fgets(&mut self, cap: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        while out.len() < cap - 1 {
            let buf = match self.r.fill_buf() {
                Ok(b) => b,
                Err(_) => {
                    self.eof = true;
                    break;
                }
            };
            if buf.is_empty() {
                self.eof = true;
                break;
            }
            let want = (cap - 1 - out.len()).min(buf.len());
            let (n, done) = match buf[..want].iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (want, false),
            };
            out.extend_from_slice(&buf[..n]);
            self.r.consume(n);
            self.pos += n as u64;
            if done {
                break;
            }
        }
        !out.is_empty()
    }

    /// `fread` of `len` bytes, keeping at most `keep` leading bytes in `head` and the last
    /// two in `tail`; returns how many were read.
    fn skip(&mut self, len: u64, keep: usize, head: &mut Vec<u8>, tail: &mut [u8; 2]) -> u64 {
        head.clear();
        let mut got = 0u64;
        while got < len {
            let buf = match self.r.fill_buf() {
                Ok(b) if !b.is_empty() => b,
                _ => {
                    self.eof = true;
                    break;
                }
            };
            let n = (buf.len() as u64).min(len - got) as usize;
            if head.len() < keep {
                let k = (keep - head.len()).min(n);
                head.extend_from_slice(&buf[..k]);
            }
            for &b in &buf[..n] {
                tail[0] = tail[1];
                tail[1] = b;
            }
            self.r.consume(n);
            got += n as u64;
        }
        self.pos += got;
        got
    }

    /// The next byte without consuming it (`fgets(buf, 2)` then `fseek(-1)`, which clears
    /// the end-of-file flag); None at the end.
    fn peek(&mut self) -> Option<u8> {
        match self.r.fill_buf() {
            Ok(b) if !b.is_empty() => {
                self.eof = false;
                Some(b[0])
            }
            _ => {
                self.eof = true;
                None
            }
        }
    }
}

/// C's `strtol(s, &end, 10)`: the value (clamped as `LONG_MIN`/`LONG_MAX`), where parsing
/// stopped, and whether it overflowed (`ERANGE`).
fn strtol(s: &[u8]) -> (i64, usize, bool) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let neg = i < s.len() && s[i] == b'-';
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = (v * 10 + i128::from(s[i] - b'0')).min(i128::from(i64::MAX) + 1);
        i += 1;
    }
    if i == start {
        return (0, 0, false);
    }
    let v = if neg { -v } else { v };
    let over = v > i128::from(i64::MAX) || v < i128::from(i64::MIN);
    (
        v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
        i,
        over,
    )
}

/// `%02x` of a C `char` (signed: bytes from 0x80 print as `ffffff80`).
fn hex_c(b: u8) -> String {
    if b >= 0x80 {
        format!("ffffff{b:02x}")
    } else {
        format!("{b:02x}")
    }
}

/// glibc's `dirname`.
fn dirname(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" }.into();
    }
    match trimmed.rfind('/') {
        None => ".".into(),
        Some(i) => {
            let d = trimmed[..i].trim_end_matches('/');
            if d.is_empty() { "/" } else { d }.into()
        }
    }
}

struct Checker<'a> {
    out: &'a mut dyn Write,
    input: &'a mut dyn BufRead,
    /// Redis's globals: the line counter (never reset), the last error and where it was.
    line: i64,
    error: Vec<u8>,
    epos: u64,
    to_timestamp: i64,
    fix: bool,
    buf: Vec<u8>,
}

macro_rules! say {
    ($c:expr, $($arg:tt)*) => {{ let _ = writeln!($c.out, $($arg)*); }};
}

impl Checker<'_> {
    fn set_error(&mut self, msg: &[u8]) {
        self.error = format!("0x{:16x}: ", self.epos).into_bytes();
        self.error.extend_from_slice(msg);
    }

    /// `consumeNewline` on the two bytes at `at` (0 past the end of what was read).
    fn newline(&mut self, b0: u8, b1: u8) -> bool {
        if (b0, b1) != (b'\r', b'\n') {
            let msg = format!("Expected \\r\\n, got: {}{}", hex_c(b0), hex_c(b1));
            self.set_error(msg.as_bytes());
            return false;
        }
        self.line += 1;
        true
    }

    /// `readLong`: a `<prefix><number>\r\n` line.
    fn read_long(&mut self, src: &mut Src, prefix: u8) -> Option<i64> {
        self.epos = src.pos;
        let mut buf = std::mem::take(&mut self.buf);
        let got = src.fgets(128, &mut buf);
        let result = if !got {
            None
        } else if buf[0] != prefix {
            let mut msg = format!("Expected prefix '{}', got: '", prefix as char).into_bytes();
            msg.push(buf[0]);
            msg.push(b'\'');
            self.set_error(&msg);
            None
        } else {
            let (v, used, _) = strtol(&buf[1..]);
            let at = 1 + used;
            let b0 = buf.get(at).copied().unwrap_or(0);
            let b1 = if b0 == 0 {
                0
            } else {
                buf.get(at + 1).copied().unwrap_or(0)
            };
            self.newline(b0, b1).then_some(v)
        };
        self.buf = buf;
        result
    }

    /// `readString`: a bulk string; its first bytes up to a NUL (for `strcasecmp`).
    fn read_string(&mut self, src: &mut Src) -> Option<Vec<u8>> {
        let len = self.read_long(src, b'$')?;
        if !(0..=i64::MAX - 2).contains(&len) {
            let msg = format!(
                "Expected to read string of {len} bytes, which is not in the suitable range"
            );
            self.set_error(msg.as_bytes());
            return None;
        }
        let len = len as u64 + 2;
        self.epos = src.pos;
        let (mut head, mut tail) = (Vec::new(), [0u8; 2]);
        let real = src.skip(len, 8, &mut head, &mut tail);
        if real != len {
            let msg = format!("Expected to read {len} bytes, got {real} bytes");
            self.set_error(msg.as_bytes());
            return None;
        }
        if !self.newline(tail[0], tail[1]) {
            return None;
        }
        head.truncate((len - 2).min(head.len() as u64) as usize);
        if let Some(nul) = head.iter().position(|&b| b == 0) {
            head.truncate(nul);
        }
        Some(head)
    }

    /// `processRESP`: one command; `multi` counts an open MULTI.
    fn process_resp(&mut self, src: &mut Src, path: &str, multi: &mut i32) -> bool {
        let Some(argc) = self.read_long(src, b'*') else {
            return false;
        };
        for i in 0..argc.max(0) {
            let Some(s) = self.read_string(src) else {
                return false;
            };
            if i == 0 {
                if s.eq_ignore_ascii_case(b"multi") {
                    *multi += 1;
                    if *multi != 1 {
                        self.set_error(format!("Unexpected MULTI in AOF {path}").as_bytes());
                        return false;
                    }
                } else if s.eq_ignore_ascii_case(b"exec") {
                    *multi -= 1;
                    if *multi != 0 {
                        self.set_error(format!("Unexpected EXEC in AOF {path}").as_bytes());
                        return false;
                    }
                }
            }
        }
        true
    }

    /// `processAnnotations`: false when the file was cut at a later `#TS:`.
    fn process_annotation(&mut self, src: &mut Src, path: &str, last: bool) -> Res<bool> {
        self.epos = src.pos;
        let mut buf = Vec::new();
        if !src.fgets(1024, &mut buf) {
            say!(
                self,
                "Failed to read annotations from AOF {path}, aborting..."
            );
            return Err(Exit);
        }
        let t = self.to_timestamp;
        if t == 0 || !buf.starts_with(b"#TS:") {
            return Ok(true);
        }
        let (ts, used, over) = strtol(&buf[4..]);
        if over || buf.get(4 + used) != Some(&b'\r') {
            say!(self, "Invalid timestamp annotation");
            return Err(Exit);
        }
        if ts <= t {
            return Ok(true);
        }
        if self.epos == 0 {
            say!(
                self,
                "AOF {path} has nothing before timestamp {t}, aborting..."
            );
            return Err(Exit);
        }
        if !last {
            say!(self, "Failed to truncate AOF {path} to timestamp {t} to offset {} because it is not the last file.", self.epos);
            say!(self, "If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof.");
            return Err(Exit);
        }
        if truncate(path, self.epos).is_err() {
            say!(self, "Failed to truncate AOF {path} to timestamp {t}");
            return Err(Exit);
        }
        Ok(false)
    }

    /// `checkSingleAof`.
    fn check_single(&mut self, name: &str, path: &str, last: bool, preamble: bool) -> Res<Outcome> {
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(f) => f,
            Err(e) => {
                say!(
                    self,
                    "Cannot open file {path}: {}, aborting...",
                    super::strerror(&e)
                );
                return Err(Exit);
            }
        };
        let size = match file.metadata() {
            Ok(m) => m.len(),
            Err(_) => {
                say!(self, "Cannot stat file: {name}, aborting...");
                return Err(Exit);
            }
        };
        if size == 0 {
            return Ok(Outcome::Empty);
        }
        let mut src = Src {
            r: BufReader::with_capacity(1 << 16, file),
            pos: 0,
            eof: false,
        };
        if preamble {
            let used = super::check::check_rdb_named(name, &mut src.r, self.out);
            let Some(used) = used else {
                say!(self, "RDB preamble of AOF file is not sane, aborting.");
                return Err(Exit);
            };
            say!(self, "RDB preamble is OK, proceeding with AOF tail...");
            if src.r.seek(SeekFrom::Start(used)).is_err() {
                return Err(Exit);
            }
            src.pos = used;
        }
        let (mut pos, mut multi) = (0u64, 0i32);
        loop {
            if multi == 0 {
                pos = src.pos;
            }
            let Some(first) = src.peek() else { break };
            if first == b'#' {
                if !self.process_annotation(&mut src, path, last)? {
                    return Ok(Outcome::TimestampTruncated);
                }
            } else if first == b'*' {
                if !self.process_resp(&mut src, path, &mut multi) {
                    break;
                }
            } else {
                say!(self, "AOF {name} format error");
                break;
            }
        }
        if src.eof && multi != 0 && self.error.is_empty() {
            self.set_error(b"Reached EOF before reading EXEC for MULTI");
        }
        if !self.error.is_empty() {
            let _ = self.out.write_all(&self.error);
            say!(self, "");
        }
        let diff = size - pos;
        let t = self.to_timestamp;
        if diff == 0 && t != 0 {
            say!(self, "Truncate nothing in AOF {name} to timestamp {t}");
            return Ok(Outcome::Ok);
        }
        say!(self, "AOF analyzed: filename={name}, size={size}, ok_up_to={pos}, ok_up_to_line={}, diff={diff}", self.line);
        if diff == 0 {
            return Ok(Outcome::Ok);
        }
        if !self.fix {
            say!(
                self,
                "AOF {name} is not valid. Use the --fix option to try fixing it."
            );
            return Err(Exit);
        }
        if !last {
            say!(
                self,
                "Failed to truncate AOF {name} because it is not the last file"
            );
            return Err(Exit);
        }
        say!(
            self,
            "This will shrink the AOF {name} from {size} bytes, with {diff} bytes, to {pos} bytes"
        );
        let _ = write!(self.out, "Continue? [y/N]: ");
        let _ = self.out.flush();
        let mut answer = [0u8; 1];
        if self.input.read(&mut answer).unwrap_or(0) == 0 || !answer[0].eq_ignore_ascii_case(&b'y')
        {
            say!(self, "Aborting...");
            return Err(Exit);
        }
        if truncate(path, pos).is_err() {
            say!(self, "Failed to truncate AOF {name}");
            return Err(Exit);
        }
        Ok(Outcome::Truncated)
    }

    /// Prints what `checkMultiPartAof` and `checkOldStyleAof` print after a file.
    fn report(&mut self, kind: &str, name: &str, outcome: Outcome) {
        let t = self.to_timestamp;
        match outcome {
            Outcome::Ok => say!(self, "{kind}{name} is valid"),
            Outcome::Empty => say!(self, "{kind}{name} is empty"),
            Outcome::TimestampTruncated => {
                say!(self, "Successfully truncated AOF {name} to timestamp {t}")
            }
            Outcome::Truncated => say!(self, "Successfully truncated AOF {name}"),
        }
    }

    /// `checkMultiPartAof`.
    fn check_multi_part(&mut self, dir: &str, manifest: &str) -> Res<()> {
        say!(self, "Start checking Multi Part AOF");
        let m = self.load_manifest(manifest)?;
        let total = usize::from(m.base.is_some()) + m.incrs.len();
        let mut n = 0;
        if let Some(base) = &m.base {
            let path = format!("{dir}/{}", base.name);
            n += 1;
            let rdb = file_is_rdb(&path).map_err(|e| self.cannot_open(&path, &e))?;
            say!(
                self,
                "Start to check BASE AOF ({} format).",
                if rdb { "RDB" } else { "RESP" }
            );
            let outcome = self.check_single(&base.name, &path, n == total, rdb)?;
            self.report("BASE AOF ", &base.name, outcome);
        }
        if !m.incrs.is_empty() {
            say!(self, "Start to check INCR files.");
            for f in &m.incrs {
                let path = format!("{dir}/{}", f.name);
                n += 1;
                let outcome = self.check_single(&f.name, &path, n == total, false)?;
                self.report("INCR AOF ", &f.name, outcome);
            }
        }
        say!(self, "All AOF files and manifest are valid");
        Ok(())
    }

    /// `aofLoadManifestFromFile`, whose errors redis-check-aof logs (`serverLog`, with
    /// the `<pid>:C <time> # ` prefix of a process that is not the server) before exiting.
    fn load_manifest(&mut self, path: &str) -> Res<Manifest> {
        let text = match std::fs::read(path) {
            Ok(t) => String::from_utf8_lossy(&t).into_owned(),
            Err(e) => {
                let msg = format!(
                    "Fatal error: can't open the AOF manifest file {path} for reading: {}",
                    super::strerror(&e)
                );
                self.log(&msg);
                return Err(Exit);
            }
        };
        match Manifest::parse_at(&text) {
            Ok(m) => Ok(m),
            Err(e) => {
                self.log("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
                if let Some((n, line)) = &e.line {
                    self.log(&format!("Reading the manifest file, at line {n}\n"));
                    self.log(&format!(">>> '{line}'\n"));
                }
                self.log(&format!("{}\n", e.message));
                Err(Exit)
            }
        }
    }

    fn log(&mut self, msg: &str) {
        let _ = writeln!(
            self.out,
            "{}:C {} # {msg}",
            std::process::id(),
            log_time(super::unix_ms())
        );
    }

    fn cannot_open(&mut self, path: &str, e: &std::io::Error) -> Exit {
        say!(self, "Cannot open file {path}: {}", super::strerror(e));
        Exit
    }
}

/// `dd Mon yyyy hh:mm:ss.mmm` (UTC) as Redis's log lines.
fn log_time(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02} {} {year} {:02}:{:02}:{:02}.{:03}",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

fn truncate(path: &str, len: u64) -> std::io::Result<()> {
    let f = std::fs::OpenOptions::new().write(true).open(path)?;
    f.set_len(len)?;
    f.sync_all()
}

/// `fileIsRDB`: at least 8 bytes, starting with `REDIS`.
fn file_is_rdb(path: &str) -> std::io::Result<bool> {
    let mut f = File::open(path)?;
    if f.metadata()?.len() < 8 {
        return Ok(false);
    }
    let mut magic = [0u8; 5];
    Ok(f.read_exact(&mut magic).is_ok() && &magic == b"REDIS")
}

/// `fileIsManifest`: a line (of at most 1024 bytes a read) starting with `file`, not `#`.
fn file_is_manifest(path: &str) -> std::io::Result<bool> {
    let file = File::open(path)?;
    let mut src = Src {
        r: BufReader::new(file),
        pos: 0,
        eof: false,
    };
    let mut buf = Vec::new();
    let mut found = false;
    while src.fgets(1025, &mut buf) {
        if buf[0] != b'#' && buf.starts_with(b"file") {
            found = true;
        }
    }
    Ok(found)
}

/// Runs redis-check-aof's `main` on `args` (after `check-aof`); the exit status.
pub fn run(args: &[String], out: &mut dyn Write, input: &mut dyn BufRead) -> i32 {
    let (path, fix, to_timestamp) = match args {
        [file] => (file, false, 0),
        [flag, file] if flag == "--fix" => (file, true, 0),
        [flag, t, file] if flag == "--truncate-to-timestamp" => {
            let (v, used, over) = strtol(t.as_bytes());
            if over || used != t.len() && !t.is_empty() {
                let _ = writeln!(out, "Invalid timestamp, aborting...");
                return 1;
            }
            (file, false, v)
        }
        _ => {
            let _ = writeln!(
                out,
                "Usage: slabd check-aof [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>"
            );
            return 1;
        }
    };
    let mut c = Checker {
        out,
        input,
        line: 1,
        error: Vec::new(),
        epos: 0,
        to_timestamp,
        fix,
        buf: Vec::new(),
    };
    let result = (|| -> Res<()> {
        let manifest = file_is_manifest(path).map_err(|e| c.cannot_open(path, &e))?;
        if manifest {
            return c.check_multi_part(&dirname(path), path);
        }
        let rdb = file_is_rdb(path).map_err(|e| c.cannot_open(path, &e))?;
        say!(c, "Start checking Old-Style AOF");
        let outcome = c.check_single(path, path, true, rdb)?;
        c.report("AOF ", path, outcome);
        Ok(())
    })();
    i32::from(result.is_err())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("slabd-checkaof-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn check(args: &[&str], input: &str) -> (i32, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        let rc = run(&args, &mut out, &mut input.as_bytes());
        (rc, String::from_utf8(out).unwrap())
    }

    /// Outputs of redis-check-aof 7.0.15 on the same files (run by hand, session 13).
    #[test]
    fn old_style_files_as_redis_check_aof_reports_them() {
        let dir = temp("old");
        let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
        std::fs::write(p("empty.aof"), "").unwrap();
        std::fs::write(p("ok.aof"), "*1\r\n$4\r\nPING\r\n").unwrap();
        std::fs::write(p("torn.aof"), "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET").unwrap();
        std::fs::write(p("bad.aof"), "garbage\r\n").unwrap();
        std::fs::write(p("t2.aof"), "*2\r\n$3").unwrap();
        std::fs::write(p("m.aof"), "*1\r\n$5\r\nMULTI\r\n*1\r\n$3\r\nSET\r\n").unwrap();
        let e = p("empty.aof");
        assert_eq!(
            check(&[&e], ""),
            (
                0,
                format!("Start checking Old-Style AOF\nAOF {e} is empty\n")
            )
        );
        let f = p("ok.aof");
        assert_eq!(check(&[&f], ""), (0, format!("Start checking Old-Style AOF\nAOF analyzed: filename={f}, size=14, ok_up_to=14, ok_up_to_line=4, diff=0\nAOF {f} is valid\n")));
        let f = p("torn.aof");
        assert_eq!(check(&[&f], ""), (1, format!("Start checking Old-Style AOF\n0x              16: Expected to read 5 bytes, got 3 bytes\nAOF analyzed: filename={f}, size=25, ok_up_to=14, ok_up_to_line=6, diff=11\nAOF {f} is not valid. Use the --fix option to try fixing it.\n")));
        let f = p("bad.aof");
        assert_eq!(check(&[&f], ""), (1, format!("Start checking Old-Style AOF\nAOF {f} format error\nAOF analyzed: filename={f}, size=9, ok_up_to=0, ok_up_to_line=1, diff=9\nAOF {f} is not valid. Use the --fix option to try fixing it.\n")));
        let f = p("t2.aof");
        assert_eq!(check(&[&f], ""), (1, format!("Start checking Old-Style AOF\n0x               4: Expected \\r\\n, got: 0000\nAOF analyzed: filename={f}, size=6, ok_up_to=0, ok_up_to_line=2, diff=6\nAOF {f} is not valid. Use the --fix option to try fixing it.\n")));
        let f = p("m.aof");
        assert_eq!(check(&[&f], ""), (1, format!("Start checking Old-Style AOF\n0x              17: Reached EOF before reading EXEC for MULTI\nAOF analyzed: filename={f}, size=28, ok_up_to=0, ok_up_to_line=7, diff=28\nAOF {f} is not valid. Use the --fix option to try fixing it.\n")));
        // --fix asks first; "n" leaves the file alone, "y" truncates it.
        let f = p("torn.aof");
        let (rc, out) = check(&["--fix", &f], "n\n");
        assert_eq!(rc, 1);
        assert!(out.ends_with(&format!("This will shrink the AOF {f} from 25 bytes, with 11 bytes, to 14 bytes\nContinue? [y/N]: Aborting...\n")), "{out}");
        let (rc, out) = check(&["--fix", &f], "y\n");
        assert_eq!(rc, 0, "{out}");
        assert!(
            out.ends_with(&format!(
                "Continue? [y/N]: Successfully truncated AOF {f}\n"
            )),
            "{out}"
        );
        assert_eq!(std::fs::read(&f).unwrap().len(), 14);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn multi_part_names_files_by_name_and_counts_lines_across_them() {
        let dir = temp("multi");
        std::fs::write(dir.join("a.1.base.aof"), "*1\r\n$4\r\nPING\r\n").unwrap();
        std::fs::write(dir.join("a.1.incr.aof"), "").unwrap();
        std::fs::write(dir.join("a.2.incr.aof"), "#TS:1\r\n*1\r\n$4\r\nPING\r\n").unwrap();
        let m = dir.join("a.manifest");
        std::fs::write(&m, "file a.1.base.aof seq 1 type b\nfile a.1.incr.aof seq 1 type i\nfile a.2.incr.aof seq 2 type i\n").unwrap();
        let (rc, out) = check(&[&m.to_string_lossy()], "");
        assert_eq!(rc, 0, "{out}");
        assert_eq!(out, "Start checking Multi Part AOF\nStart to check BASE AOF (RESP format).\nAOF analyzed: filename=a.1.base.aof, size=14, ok_up_to=14, ok_up_to_line=4, diff=0\nBASE AOF a.1.base.aof is valid\nStart to check INCR files.\nINCR AOF a.1.incr.aof is empty\nAOF analyzed: filename=a.2.incr.aof, size=21, ok_up_to=21, ok_up_to_line=7, diff=0\nINCR AOF a.2.incr.aof is valid\nAll AOF files and manifest are valid\n");
        std::fs::write(&m, "file a.1.base.aof seq 1 type b\nfile b seq 1 type x\n").unwrap();
        let (rc, out) = check(&[&m.to_string_lossy()], "");
        assert_eq!(rc, 1);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "Start checking Multi Part AOF");
        assert!(lines[1].ends_with(" # "), "{out}");
        assert_eq!(lines[2], "*** FATAL AOF MANIFEST FILE ERROR ***");
        assert!(
            lines[4].ends_with(" # Reading the manifest file, at line 2"),
            "{out}"
        );
        assert!(lines[6].ends_with(" # >>> 'file b seq 1 type x'"), "{out}");
        assert!(lines[8].ends_with(" # Unknown AOF file type"), "{out}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn helpers_match_c() {
        assert_eq!(strtol(b" -12x"), (-12, 4, false));
        assert_eq!(strtol(b"x"), (0, 0, false));
        assert!(strtol(b"99999999999999999999").2);
        assert_eq!(hex_c(0x0d), "0d");
        assert_eq!(hex_c(0x80), "ffffff80");
        assert_eq!(dirname("appendonly.aof.manifest"), ".");
        assert_eq!(dirname("/a/b/m"), "/a/b");
        assert_eq!(dirname("/m"), "/");
        assert_eq!(log_time(1_796_190_987_123), "02 Dec 2026 05:56:27.123");
    }
}
