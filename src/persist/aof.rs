//! The append-only file: RESP commands, one after another, as Redis 7.0 writes them, and
//! the multi-part layout's manifest.
//!
//! ```text
//! appenddirname/
//!   appendonly.aof.manifest         file appendonly.aof.1.base.rdb seq 1 type b
//!                                   file appendonly.aof.1.incr.aof seq 1 type i
//!   appendonly.aof.1.base.rdb       RDB preamble (or .base.aof: commands)
//!   appendonly.aof.1.incr.aof       *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n ...
//! ```
//!
//! A command cut short by the end of the file is a torn tail (a crash mid-write): the
//! loader may truncate it (`aof-load-truncated yes`). Anything else that is not a command
//! is corruption and names the byte offset where the bad command starts.

use std::io::{BufRead, Read};

use crate::protocol::resp::splitargs;

/// Largest bulk string the loader accepts (Redis's default `proto-max-bulk-len`).
const MAX_BULK: u64 = 512 * 1024 * 1024;
/// Most arguments one command may have.
const MAX_ARGS: u64 = 1 << 31;

/// Appends `args` as one RESP multibulk command.
pub fn encode(out: &mut Vec<u8>, args: &[&[u8]]) {
    push_header(out, b'*', args.len());
    for a in args {
        push_header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// [`encode`] for arguments given one by one.
pub fn encode_iter(out: &mut Vec<u8>, args: &mut dyn ExactSizeIterator<Item = &[u8]>) {
    push_header(out, b'*', args.len());
    for a in args {
        push_header(out, b'$', a.len());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

fn push_header(out: &mut Vec<u8>, kind: u8, n: usize) {
    out.push(kind);
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
}

/// Why reading commands stopped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AofError {
    /// The file ends inside the command that starts at `valid_up_to`.
    #[error("unexpected end of file inside the command at byte {valid_up_to}")]
    Truncated { valid_up_to: u64 },
    /// Bytes that are not a command, in the command that starts at `offset`.
    #[error("bad file format at byte {offset}: {what}")]
    Corrupt { offset: u64, what: &'static str },
    #[error("I/O error: {0}")]
    Io(String),
}

/// Reads commands from an AOF (or the tail after an RDB preamble).
pub struct CommandReader<R: BufRead> {
    src: R,
    offset: u64,
    line: Vec<u8>,
    /// Client flags from a `#slabd-mc-flags:` annotation right before the last command.
    mc_flags: Option<u32>,
    /// `check-aof --truncate-to-timestamp`: stop at a `#TS:` annotation later than this.
    timestamp_limit: Option<i64>,
    /// Where the `#TS:` annotation that passed `timestamp_limit` starts.
    past_limit: Option<u64>,
}

/// What [`AofError::Corrupt`] says of a `#TS:` annotation that is not a number, when
/// reading stops at a timestamp ([`CommandReader::stop_after`]).
pub const BAD_TIMESTAMP: &str = "invalid timestamp annotation";

impl<R: BufRead> CommandReader<R> {
    /// `offset` is where `src` starts in its file (for messages).
    pub fn new(src: R, offset: u64) -> Self {
        CommandReader {
            src,
            offset,
            line: Vec::new(),
            mc_flags: None,
            timestamp_limit: None,
            past_limit: None,
        }
    }

    /// For `check-aof --truncate-to-timestamp`: [`CommandReader::next`] ends (`Ok(None)`)
    /// at the first `#TS:<unix seconds>` annotation (Redis 7.0's `aof-timestamp-enabled`)
    /// later than `limit`, and [`CommandReader::past_limit`] says where that line starts.
    /// A `#TS:` line that is not a number is then an error ([`BAD_TIMESTAMP`]).
    pub fn stop_after(&mut self, limit: i64) {
        self.timestamp_limit = Some(limit);
    }

    /// Where reading stopped at a timestamp past the limit ([`CommandReader::stop_after`]).
    pub fn past_limit(&self) -> Option<u64> {
        self.past_limit
    }

    /// memcached client flags given by a `#slabd-mc-flags:<flags>` annotation line right
    /// before the command [`CommandReader::next`] returned last (see
    /// `aof_log::MC_FLAGS_ANNOTATION`).
    pub fn mc_flags(&self) -> Option<u32> {
        self.mc_flags
    }

    /// Bytes consumed so far, counting from the start of the file: after a command, where
    /// the next one begins.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next command's arguments; `Ok(None)` at a clean end of file. Lines starting with
    /// `#` (Redis's annotations) are skipped.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Vec<Vec<u8>>>, AofError> {
        self.mc_flags = None;
        loop {
            let start = self.offset;
            let corrupt = |what| AofError::Corrupt {
                offset: start,
                what,
            };
            let truncated = AofError::Truncated { valid_up_to: start };
            match self.read_line()? {
                None => return Ok(None),
                Some(false) => return Err(truncated),
                Some(true) => {}
            }
            if let (Some(limit), Some(ts)) = (self.timestamp_limit, self.line.strip_prefix(b"#TS:"))
            {
                let ts = std::str::from_utf8(ts)
                    .ok()
                    .and_then(|t| t.parse::<i64>().ok())
                    .ok_or(corrupt(BAD_TIMESTAMP))?;
                if ts > limit {
                    self.past_limit = Some(start);
                    return Ok(None);
                }
                continue;
            }
            if self.line.first() == Some(&b'#') {
                self.mc_flags = self
                    .line
                    .strip_prefix(super::aof_log::MC_FLAGS_ANNOTATION)
                    .and_then(|f| std::str::from_utf8(f).ok())
                    .and_then(|f| f.parse().ok());
                continue;
            }
            let argc = self.header(b'*').ok_or(corrupt("expected '*<count>'"))?;
            if argc == 0 || argc > MAX_ARGS {
                return Err(corrupt("bad argument count"));
            }
            let mut args = Vec::with_capacity(argc.min(64) as usize);
            for _ in 0..argc {
                match self.read_line()? {
                    Some(true) => {}
                    _ => return Err(truncated),
                }
                let len = self.header(b'$').ok_or(corrupt("expected '$<length>'"))?;
                if len > MAX_BULK {
                    return Err(corrupt("bulk string longer than 512 MB"));
                }
                let mut arg = Vec::with_capacity(len.min(1 << 20) as usize);
                let got = Read::take(&mut self.src, len + 2)
                    .read_to_end(&mut arg)
                    .map_err(|e| AofError::Io(e.to_string()))?;
                self.offset += got as u64;
                if (got as u64) < len + 2 {
                    return Err(truncated);
                }
                if !arg.ends_with(b"\r\n") {
                    return Err(corrupt("bulk string not followed by CRLF"));
                }
                arg.truncate(len as usize);
                args.push(arg);
            }
            return Ok(Some(args));
        }
    }

    /// Reads one line into `self.line` (without CRLF): `Some(true)` complete, `Some(false)`
    /// cut short by end of file, `None` at end of file.
    fn read_line(&mut self) -> Result<Option<bool>, AofError> {
        self.line.clear();
        // A header line is short; bound it so garbage without newlines is not slurped.
        let n = Read::take(&mut self.src, 64)
            .read_until(b'\n', &mut self.line)
            .map_err(|e| AofError::Io(e.to_string()))?;
        self.offset += n as u64;
        if n == 0 {
            return Ok(None);
        }
        if !self.line.ends_with(b"\n") {
            // 64 bytes without a newline is not a header line; fewer is the end of file.
            if n == 64 {
                self.line.clear();
                return Ok(Some(true));
            }
            return Ok(Some(false));
        }
        self.line.pop();
        if self.line.pop() != Some(b'\r') {
            self.line.clear();
        }
        Ok(Some(true))
    }

    /// The number after `kind` on the current line.
    fn header(&self, kind: u8) -> Option<u64> {
        let digits = self.line.strip_prefix(&[kind])?;
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    }
}

/// One line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// A manifest file's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `b`: the rewrite's snapshot.
    Base,
    /// `i`: commands since the base.
    Incr,
    /// `h`: superseded, to be deleted.
    History,
}

/// A manifest Redis would refuse: its error string and, when Redis logs them, the line
/// number and the (trimmed) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestError {
    pub message: &'static str,
    pub line: Option<(usize, String)>,
}

/// `appendonly.aof.manifest`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<ManifestFile>,
    pub incrs: Vec<ManifestFile>,
    pub history: Vec<ManifestFile>,
}

impl Manifest {
    /// A rewrite's end, as Redis 7.0's `getNewBaseFileNameAndMarkPreAsHistory` and
    /// `markRewrittenIncrAofAsHistory`: the old base, then each replaced incremental file,
    /// goes to the head of the history list (deleted at once unless
    /// `aof-disable-auto-gc`).
    pub fn to_history(&mut self, old_base: Option<ManifestFile>, replaced: &[ManifestFile]) {
        for f in old_base.into_iter().chain(replaced.iter().cloned()) {
            let kind = FileKind::History;
            self.history.insert(0, ManifestFile { kind, ..f });
        }
    }

    /// Parses a manifest as Redis 7.0 does (same error strings).
    pub fn parse(text: &str) -> Result<Manifest, &'static str> {
        Manifest::parse_at(text).map_err(|e| e.message)
    }

    /// [`Manifest::parse`], with the line an error is on (Redis's `aofLoadManifestFromFile`
    /// logs it): lines count from 1, comments included; a line without its newline, or of
    /// more than 1024 bytes, is "too long".
    pub fn parse_at(text: &str) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::default();
        let mut linenum = 0;
        let err = |message: &'static str, line: Option<(usize, &str)>| ManifestError {
            message,
            line: line.map(|(n, l)| (n, l.to_string())),
        };
        for raw in text.split_inclusive('\n') {
            linenum += 1;
            if raw.starts_with('#') {
                continue;
            }
            if !raw.ends_with('\n') || raw.len() > 1024 {
                return Err(err("The AOF manifest file contains too long line", None));
            }
            let line = raw.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
            let at = Some((linenum, line));
            let invalid = "Invalid AOF manifest file format";
            if line.is_empty() {
                return Err(err(invalid, at));
            }
            let argv = split_args(line).ok_or(err(invalid, at))?;
            if argv.len() < 6 || argv.len() % 2 != 0 {
                return Err(err(invalid, at));
            }
            let (mut name, mut seq, mut kind) = (None, 0u64, None);
            for pair in argv.chunks(2) {
                match pair[0].to_ascii_lowercase().as_str() {
                    "file" => {
                        if pair[1].contains('/') {
                            return Err(err("File can't be a path, just a filename", at));
                        }
                        name = Some(pair[1].clone());
                    }
                    "seq" => seq = leading_number(&pair[1]),
                    "type" => kind = pair[1].chars().next(),
                    _ => {}
                }
            }
            let (Some(name), Some(kind)) = (name, kind) else {
                return Err(err(invalid, at));
            };
            if seq == 0 {
                return Err(err(invalid, at));
            }
            let kind = match kind {
                'b' => FileKind::Base,
                'i' => FileKind::Incr,
                'h' => FileKind::History,
                _ => return Err(err("Unknown AOF file type", at)),
            };
            let file = ManifestFile { name, seq, kind };
            match kind {
                FileKind::Base if m.base.is_some() => {
                    return Err(err("Found duplicate base file information", at))
                }
                FileKind::Base => m.base = Some(file),
                FileKind::History => m.history.push(file),
                FileKind::Incr => {
                    if m.incrs.last().is_some_and(|l| l.seq >= seq) {
                        return Err(err("Found a non-monotonic sequence number", at));
                    }
                    m.incrs.push(file);
                }
            }
        }
        if linenum == 0 {
            return Err(err("Found an empty AOF manifest", None));
        }
        Ok(m)
    }

    /// The manifest's text: base, then history, then incremental files (Redis's order).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let all = self
            .base
            .iter()
            .chain(self.history.iter())
            .chain(self.incrs.iter());
        for f in all {
            let kind = match f.kind {
                FileKind::Base => 'b',
                FileKind::Incr => 'i',
                FileKind::History => 'h',
            };
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                repr(&f.name),
                f.seq,
                kind
            ));
        }
        out
    }

    /// Files to load, in order: the base, then every incremental file.
    pub fn load_order(&self) -> impl Iterator<Item = &ManifestFile> {
        self.base.iter().chain(self.incrs.iter())
    }
}

fn leading_number(s: &str) -> u64 {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().unwrap_or(0)
}

/// A file name as the manifest writes it: bare, or quoted with C escapes when it has
/// spaces, quotes or unprintable bytes (Redis's `sdscatrepr`).
fn repr(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'\'')
    {
        return name.to_string();
    }
    let mut out = String::from("\"");
    for b in name.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// A manifest line's words, split by Redis's `sdssplitargs` (the RESP parser's splitter);
/// `None` for unbalanced quotes or a word that is not UTF-8.
fn split_args(line: &str) -> Option<Vec<String>> {
    let words = splitargs::split_args(line.as_bytes()).ok()?;
    words
        .into_iter()
        .map(|w| String::from_utf8(w).ok())
        .collect()
}

/// The old-style single append-only file, `dir/appendfilename` (Redis before 7.0).
fn old_style_path(d: &crate::directives::Directives) -> std::path::PathBuf {
    let (_, name) = super::aof_log::names(d);
    std::path::PathBuf::from(d.get("dir").unwrap_or_else(|| ".".into())).join(name)
}

/// Whether start-up finds an old-style append-only file to move into the multi-part layout:
/// Redis 7.0's three cases in `loadAppendOnlyFiles`. `dir/appendfilename` exists and the
/// AOF directory does not, or holds no manifest, or its manifest names only that file as
/// the base (an upgrade stopped before its rename) and the directory does not hold it.
pub fn needs_upgrade(d: &crate::directives::Directives) -> bool {
    let (dir, name) = super::aof_log::names(d);
    if !old_style_path(d).is_file() {
        return false;
    }
    if !dir.is_dir() {
        return true;
    }
    let Ok(text) = std::fs::read_to_string(dir.join(format!("{name}.manifest"))) else {
        return true;
    };
    // A manifest Redis would refuse is reported by the replay.
    Manifest::parse(&text).is_ok_and(|m| match &m.base {
        None => m.incrs.is_empty(),
        Some(b) => m.incrs.is_empty() && b.name == name && !dir.join(&name).exists(),
    })
}

/// Redis 7.0's `aofUpgradePrepare`: names the old-style file the base (sequence 1) in the
/// manifest, then moves it into the AOF directory, so an upgrade stopped between the two
/// steps is finished by the next start.
pub(super) fn upgrade_old_style(d: &crate::directives::Directives) -> Result<(), String> {
    if !needs_upgrade(d) {
        return Ok(());
    }
    let (dir, name) = super::aof_log::names(d);
    let sub = d
        .get("appenddirname")
        .unwrap_or_else(|| "appendonlydir".into());
    std::fs::create_dir_all(&dir).map_err(|e| {
        format!(
            "Can't open or create append-only dir {sub}: {}",
            super::strerror(&e)
        )
    })?;
    let mut m = std::fs::read_to_string(dir.join(format!("{name}.manifest")))
        .ok()
        .and_then(|text| Manifest::parse(&text).ok())
        .unwrap_or_default();
    m.base = Some(ManifestFile {
        name: name.clone(),
        seq: 1,
        kind: FileKind::Base,
    });
    super::aof_log::write_manifest(&dir, &name, &m).map_err(|e| e.to_string())?;
    std::fs::rename(old_style_path(d), dir.join(&name)).map_err(|e| {
        format!(
            "Error trying to move the old AOF file {name} into dir {sub}: {}",
            super::strerror(&e)
        )
    })?;
    super::save::sync_dir(&dir).map_err(|e| e.to_string())?;
    eprintln!(
        "Successfully migrated an old-style AOF file ({name}) into the AOF directory ({sub})."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> (Vec<Vec<Vec<u8>>>, Option<AofError>) {
        let mut r = CommandReader::new(bytes, 0);
        let mut cmds = Vec::new();
        loop {
            match r.next() {
                Ok(Some(c)) => cmds.push(c),
                Ok(None) => return (cmds, None),
                Err(e) => return (cmds, Some(e)),
            }
        }
    }

    #[test]
    fn encode_is_resp_multibulk() {
        let mut out = Vec::new();
        encode(&mut out, &[b"SET", b"k", b""]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        let (cmds, err) = read_all(&out);
        assert_eq!(
            cmds,
            vec![vec![b"SET".to_vec(), b"k".to_vec(), b"".to_vec()]]
        );
        assert_eq!(err, None);
    }

    #[test]
    fn every_cut_is_a_torn_tail_at_the_last_command() {
        let mut file = Vec::new();
        encode(&mut file, &[b"SELECT", b"0"]);
        let first = file.len() as u64;
        encode(&mut file, &[b"SET", b"key", b"a\r\nvalue"]);
        for cut in 1..file.len() {
            let (cmds, err) = read_all(&file[..cut]);
            if (cut as u64) < first {
                assert_eq!(
                    err,
                    Some(AofError::Truncated { valid_up_to: 0 }),
                    "cut {cut}"
                );
            } else if cut as u64 == first {
                assert_eq!((cmds.len(), err), (1, None));
            } else {
                assert_eq!(cmds.len(), 1);
                assert_eq!(
                    err,
                    Some(AofError::Truncated { valid_up_to: first }),
                    "cut {cut}"
                );
            }
        }
    }

    #[test]
    fn garbage_in_the_middle_names_its_offset() {
        let mut file = Vec::new();
        encode(&mut file, &[b"SET", b"a", b"1"]);
        let at = file.len() as u64;
        file.extend_from_slice(b"+OK\r\n");
        encode(&mut file, &[b"SET", b"b", b"2"]);
        let (cmds, err) = read_all(&file);
        assert_eq!(cmds.len(), 1);
        assert_eq!(
            err,
            Some(AofError::Corrupt {
                offset: at,
                what: "expected '*<count>'"
            })
        );
        // A bulk length that lies about its CRLF.
        let (_, err) = read_all(b"*1\r\n$2\r\nabcd\r\n");
        assert!(matches!(err, Some(AofError::Corrupt { offset: 0, .. })));
    }

    #[test]
    fn annotations_are_skipped() {
        let mut file = b"#TS:1700000000\r\n".to_vec();
        encode(&mut file, &[b"PING"]);
        assert_eq!(read_all(&file), (vec![vec![b"PING".to_vec()]], None));
    }

    #[test]
    fn a_flags_annotation_belongs_to_the_next_command_only() {
        let mut file = b"#slabd-mc-flags:77\r\n".to_vec();
        encode(&mut file, &[b"SET", b"k", b"v"]);
        encode(&mut file, &[b"SET", b"j", b"w"]);
        file.extend_from_slice(b"#TS:1700000000\r\n");
        encode(&mut file, &[b"SET", b"i", b"x"]);
        let mut r = CommandReader::new(&file[..], 0);
        let mut got = Vec::new();
        while let Some(args) = r.next().unwrap() {
            got.push((args[1].clone(), r.mc_flags()));
        }
        let want = [(b"k", Some(77)), (b"j", None), (b"i", None)];
        let want: Vec<_> = want.iter().map(|(k, f)| (k.to_vec(), *f)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn manifest_round_trip_and_errors() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.1.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.render(), text);
        let names: Vec<_> = m.load_order().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "appendonly.aof.1.base.rdb",
                "appendonly.aof.1.incr.aof",
                "appendonly.aof.2.incr.aof"
            ]
        );
        let quoted = Manifest {
            base: Some(ManifestFile {
                name: "a b\".aof".into(),
                seq: 3,
                kind: FileKind::Base,
            }),
            ..Manifest::default()
        };
        assert_eq!(quoted.render(), "file \"a b\\\".aof\" seq 3 type b\n");
        assert_eq!(Manifest::parse(&quoted.render()).unwrap(), quoted);
        assert_eq!(Manifest::parse(""), Err("Found an empty AOF manifest"));
        assert_eq!(
            Manifest::parse("file x seq 1\n"),
            Err("Invalid AOF manifest file format")
        );
        assert_eq!(
            Manifest::parse("file x seq 1 type z\n"),
            Err("Unknown AOF file type")
        );
        assert_eq!(
            Manifest::parse("file a/x seq 1 type i\n"),
            Err("File can't be a path, just a filename")
        );
        assert_eq!(
            Manifest::parse("file x seq 2 type i\nfile y seq 1 type i\n"),
            Err("Found a non-monotonic sequence number")
        );
    }
}
