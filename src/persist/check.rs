//! `slabd check-rdb FILE` and `slabd check-aof [--fix|--truncate-to-timestamp T] FILE`: the
//! file checks of redis-check-rdb and redis-check-aof, with slabd's readers.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use super::aof::{AofError, CommandReader, Manifest, BAD_TIMESTAMP};
use super::rdb::{Reader, Record};

/// Counts of what a dump held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RdbSummary {
    pub keys: u64,
    pub expires: u64,
    pub already_expired: u64,
    /// Function libraries (`RDB_OPCODE_FUNCTION2`).
    pub functions: u64,
}

/// Reads a whole RDB stream, reporting as redis-check-rdb does. Returns the summary and
/// how many bytes it used (an AOF tail may follow), or the error message.
fn scan_rdb<R: Read>(src: R, out: &mut dyn Write) -> Result<(RdbSummary, u64, R), String> {
    let now_ms = super::unix_ms();
    let mut r = Reader::new(src, true).map_err(|e| e.to_string())?;
    let _ = writeln!(out, "[offset 0] RDB version {}", r.version());
    let mut sum = RdbSummary::default();
    loop {
        let at = r.offset();
        match r.next().map_err(|e| e.to_string())? {
            Some(Record::Aux(k, v)) => {
                let _ = writeln!(
                    out,
                    "[offset {at}] AUX FIELD {} = '{}'",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                );
            }
            Some(Record::SelectDb(db)) => {
                let _ = writeln!(out, "[offset {at}] Selecting DB ID {db}");
            }
            Some(Record::ResizeDb { .. }) => {}
            Some(Record::Function(_)) => sum.functions += 1,
            Some(Record::Entry(e)) => {
                sum.keys += 1;
                // Redis's check loads every value, so it reports what its loader refuses
                // (a member twice, a NaN score) in the loader's words.
                let limits = crate::collections::Thresholds::default();
                if let Some(d) = super::defects::find(r.value_type(), &e.value, &limits) {
                    return Err(format!(
                        "[offset {}] {}\n[additional info] While doing: read-object-value\n\
                         [additional info] Reading key '{}'",
                        r.offset(),
                        d.log_line(at),
                        String::from_utf8_lossy(&e.key)
                    ));
                }
                if let Some(ms) = e.expire_ms {
                    sum.expires += 1;
                    if ms < now_ms {
                        sum.already_expired += 1;
                    }
                }
            }
            Some(Record::Eof { checksum }) => {
                match checksum {
                    Some(0) => {
                        let _ = writeln!(
                            out,
                            "[offset {}] Checksum disabled: no check performed",
                            r.offset()
                        );
                    }
                    Some(c) => {
                        let _ = writeln!(out, "[offset {}] Checksum OK ({c:016x})", r.offset());
                    }
                    None => {}
                }
                break;
            }
            None => break,
        }
    }
    let used = r.offset();
    Ok((sum, used, r.into_inner()))
}

/// `slabd check-rdb FILE`: true when the file is a valid dump.
pub fn check_rdb(path: &Path, out: &mut dyn Write) -> bool {
    let _ = writeln!(out, "[offset 0] Checking RDB file {}", path.display());
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(out, "Cannot open {}: {e}", path.display());
            return false;
        }
    };
    match scan_rdb(BufReader::with_capacity(1 << 16, file), out) {
        Ok((sum, used, _)) => {
            let _ = writeln!(out, "[offset {used}] \\o/ RDB looks OK! \\o/");
            let _ = writeln!(out, "[info] {} keys read", sum.keys);
            let _ = writeln!(out, "[info] {} expires", sum.expires);
            let _ = writeln!(out, "[info] {} already expired", sum.already_expired);
            if sum.functions > 0 {
                let _ = writeln!(out, "[info] {} function libraries", sum.functions);
            }
            true
        }
        Err(e) => {
            let _ = writeln!(out, "--- RDB ERROR DETECTED ---");
            let _ = writeln!(out, "{e}");
            false
        }
    }
}

/// The state of one AOF file.
#[derive(Debug, PartialEq, Eq)]
pub enum AofStatus {
    Valid {
        commands: u64,
    },
    /// A torn tail: valid up to the given byte.
    Truncated {
        valid_up_to: u64,
    },
    Corrupt {
        message: String,
        valid_up_to: u64,
    },
    /// A `#TS:` annotation later than the timestamp asked for starts at `at`.
    PastTimestamp {
        at: u64,
    },
    /// A `#TS:` annotation that is not a number (with a timestamp asked for).
    BadTimestamp,
}

/// What `check-aof` does with a file that is not valid to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// Report only.
    No,
    /// `--fix`: truncate the last file at its torn or corrupt command.
    Fix,
    /// `--truncate-to-timestamp T`: truncate the last file at its first `#TS:` annotation
    /// later than T (Unix seconds).
    ToTimestamp(i64),
}

/// Checks one AOF file (an RDB preamble, commands, or both); with `to_timestamp`, up to
/// the first `#TS:` annotation later than it.
pub fn scan_aof_file(
    path: &Path,
    to_timestamp: Option<i64>,
    out: &mut dyn Write,
) -> std::io::Result<AofStatus> {
    let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut magic = [0u8; 5];
    let n = file.read(&mut magic)?;
    // Re-open rather than seek back through the buffer: simple and exact.
    let file = BufReader::with_capacity(1 << 16, File::open(path)?);
    let (mut cmds, base) = if n == 5 && &magic == b"REDIS" {
        let _ = writeln!(out, "The AOF appears to start with an RDB preamble.");
        match scan_rdb(file, out) {
            Ok((_, used, rest)) => {
                let _ = writeln!(out, "RDB preamble is OK, proceeding with AOF tail...");
                (CommandReader::new(rest, used), used)
            }
            Err(message) => {
                return Ok(AofStatus::Corrupt {
                    message,
                    valid_up_to: 0,
                })
            }
        }
    } else {
        (CommandReader::new(file, 0), 0)
    };
    if let Some(limit) = to_timestamp {
        cmds.stop_after(limit);
    }
    let mut count = 0;
    let _ = base;
    // Where an open MULTI began: a file ending inside it is torn there (redis-check-aof:
    // "Reached EOF before reading EXEC for MULTI").
    let mut multi_at = None;
    loop {
        let at = cmds.offset();
        match cmds.next() {
            Ok(Some(args)) => {
                count += 1;
                if args[0].eq_ignore_ascii_case(b"MULTI") {
                    multi_at = Some(at);
                } else if args[0].eq_ignore_ascii_case(b"EXEC")
                    || args[0].eq_ignore_ascii_case(b"DISCARD")
                {
                    multi_at = None;
                }
            }
            Ok(None) => {
                if let Some(at) = cmds.past_limit() {
                    return Ok(AofStatus::PastTimestamp { at });
                }
                if let Some(valid_up_to) = multi_at {
                    let _ = writeln!(out, "Reached EOF before reading EXEC for MULTI");
                    return Ok(AofStatus::Truncated { valid_up_to });
                }
                return Ok(AofStatus::Valid { commands: count });
            }
            Err(AofError::Truncated { valid_up_to }) => {
                return Ok(AofStatus::Truncated { valid_up_to })
            }
            Err(AofError::Corrupt { what, .. }) if what == BAD_TIMESTAMP => {
                return Ok(AofStatus::BadTimestamp)
            }
            Err(AofError::Corrupt { offset, what }) => {
                return Ok(AofStatus::Corrupt {
                    message: format!("Bad file format at byte {offset}: {what}"),
                    valid_up_to: offset,
                })
            }
            Err(AofError::Io(e)) => return Err(std::io::Error::other(e)),
        }
    }
}

/// The line `offset` is on (1 + the newlines before it), as redis-check-aof's
/// `ok_up_to_line` counts; 0 when the file cannot be read.
fn line_at(path: &Path, offset: u64) -> u64 {
    let Ok(file) = File::open(path) else {
        return 0;
    };
    let mut newlines = 0;
    let mut buf = [0u8; 1 << 16];
    let mut r = BufReader::new(file).take(offset);
    while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
            break;
        }
        newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    newlines + 1
}

/// `slabd check-aof [--fix|--truncate-to-timestamp T] FILE`: FILE is an AOF, or a manifest
/// (all its files are checked; only the last may be truncated). `--fix` truncates a torn or
/// corrupt tail; `--truncate-to-timestamp` cuts the last file at its first `#TS:`
/// annotation later than T, as redis-check-aof does (with its messages).
pub fn check_aof(path: &Path, repair: Repair, out: &mut dyn Write) -> bool {
    let fix = repair == Repair::Fix;
    let to_timestamp = match repair {
        Repair::ToTimestamp(t) => Some(t),
        _ => None,
    };
    // Each file with what redis-check-aof calls it: "BASE AOF", "INCR AOF", or "AOF" alone.
    let files: Vec<(std::path::PathBuf, &str)> = if path.to_string_lossy().ends_with(".manifest") {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                let _ = writeln!(out, "Cannot open {}: {e}", path.display());
                return false;
            }
        };
        let m = match Manifest::parse(&text) {
            Ok(m) => m,
            Err(e) => {
                let _ = writeln!(out, "Invalid AOF manifest {}: {e}", path.display());
                return false;
            }
        };
        let _ = writeln!(out, "Start checking Multi Part AOF");
        let dir = path.parent().unwrap_or(Path::new("."));
        m.load_order()
            .map(|f| {
                let kind = if m.base.as_ref() == Some(f) {
                    "BASE AOF"
                } else {
                    "INCR AOF"
                };
                (dir.join(&f.name), kind)
            })
            .collect()
    } else {
        let _ = writeln!(out, "Start checking Old-Style AOF");
        vec![(path.to_path_buf(), "AOF")]
    };
    let last = files.len().saturating_sub(1);
    let mut incrs_started = false;
    for (i, (f, kind)) in files.iter().enumerate() {
        if *kind == "BASE AOF" {
            let format = if is_rdb_file(f) { "RDB" } else { "RESP" };
            let _ = writeln!(out, "Start to check BASE AOF ({format} format).");
        } else if *kind == "INCR AOF" && !incrs_started {
            incrs_started = true;
            let _ = writeln!(out, "Start to check INCR files.");
        }
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        let status = match scan_aof_file(f, to_timestamp, out) {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(out, "Cannot read {}: {e}", f.display());
                return false;
            }
        };
        let (valid_up_to, why) = match status {
            AofStatus::Valid { .. } => {
                if let Some(t) = to_timestamp {
                    let _ = writeln!(
                        out,
                        "Truncate nothing in AOF {} to timestamp {t}",
                        f.display()
                    );
                }
                let _ = writeln!(out, "{kind} {} is valid", f.display());
                continue;
            }
            AofStatus::BadTimestamp => {
                let _ = writeln!(out, "Invalid timestamp annotation");
                return false;
            }
            AofStatus::PastTimestamp { at } => {
                let t = to_timestamp.unwrap_or_default();
                if !truncate_to_timestamp(f, at, t, i == last, out) {
                    return false;
                }
                continue;
            }
            AofStatus::Truncated { valid_up_to } => (valid_up_to, "truncated".to_string()),
            AofStatus::Corrupt {
                message,
                valid_up_to,
            } => (valid_up_to, message),
        };
        let _ = writeln!(
            out,
            "AOF analyzed: filename={}, size={size}, ok_up_to={valid_up_to}, ok_up_to_line={}, diff={}",
            f.display(),
            line_at(f, valid_up_to),
            size - valid_up_to
        );
        let _ = writeln!(out, "{why}");
        if fix && i != last {
            let _ = writeln!(
                out,
                "Failed to truncate AOF {} because it is not the last file",
                f.display()
            );
            return false;
        }
        if !fix {
            let _ = writeln!(
                out,
                "{kind} {} is not valid. Use the --fix option to try fixing it.",
                f.display()
            );
            return false;
        }
        let done = std::fs::OpenOptions::new()
            .write(true)
            .open(f)
            .and_then(|file| {
                file.set_len(valid_up_to)?;
                file.sync_all()
            });
        match done {
            Ok(()) => {
                let _ = writeln!(
                    out,
                    "Successfully truncated AOF {} to {valid_up_to} bytes",
                    f.display()
                );
            }
            Err(e) => {
                let _ = writeln!(out, "Failed to truncate AOF {}: {e}", f.display());
                return false;
            }
        }
    }
    if files.len() > 1 || path.to_string_lossy().ends_with(".manifest") {
        let _ = writeln!(out, "All AOF files and manifest are valid");
    }
    true
}

/// `--truncate-to-timestamp t`: cuts `f` at `at`, where its first annotation later than `t`
/// starts, with redis-check-aof's messages; false when it may not (nothing before the
/// annotation, or not the last file) or the truncation failed.
fn truncate_to_timestamp(f: &Path, at: u64, t: i64, last: bool, out: &mut dyn Write) -> bool {
    if at == 0 {
        let _ = writeln!(
            out,
            "AOF {} has nothing before timestamp {t}, aborting...",
            f.display()
        );
        return false;
    }
    if !last {
        let _ = writeln!(
            out,
            "Failed to truncate AOF {} to timestamp {t} to offset {at} because it is not the last file.",
            f.display()
        );
        let _ = writeln!(
            out,
            "If you insist, please delete all files after this file according to the manifest \
             file and delete the corresponding records in manifest file manually. Then re-run \
             redis-check-aof."
        );
        return false;
    }
    let done = std::fs::OpenOptions::new()
        .write(true)
        .open(f)
        .and_then(|file| {
            file.set_len(at)?;
            file.sync_all()
        });
    match done {
        Ok(()) => {
            let _ = writeln!(
                out,
                "Successfully truncated AOF {} to timestamp {t}",
                f.display()
            );
            true
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "Failed to truncate AOF {} to timestamp {t}: {e}",
                f.display()
            );
            false
        }
    }
}

/// Whether a file starts with an RDB header (an RDB-preamble AOF).
fn is_rdb_file(path: &Path) -> bool {
    let mut magic = [0u8; 5];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"REDIS"
}

/// Entry point for `slabd check-rdb|check-aof ...` (args after the subcommand). Returns the
/// process exit status.
pub fn run(sub: &str, args: &[String]) -> i32 {
    let mut out = std::io::stdout();
    match (sub, args) {
        ("check-rdb", [file]) => i32::from(!check_rdb(Path::new(file), &mut out)),
        ("check-aof", [file]) => i32::from(!check_aof(Path::new(file), Repair::No, &mut out)),
        ("check-aof", [flag, file]) if flag == "--fix" => {
            i32::from(!check_aof(Path::new(file), Repair::Fix, &mut out))
        }
        ("check-aof", [flag, t, file]) if flag == "--truncate-to-timestamp" => {
            let Ok(t) = t.parse::<i64>() else {
                let _ = writeln!(out, "Invalid timestamp, aborting...");
                return 1;
            };
            i32::from(!check_aof(
                Path::new(file),
                Repair::ToTimestamp(t),
                &mut out,
            ))
        }
        _ => {
            eprintln!("Usage: slabd check-rdb <file.rdb>\n       slabd check-aof [--fix|--truncate-to-timestamp $timestamp] <file.aof|file.manifest>");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> String {
        format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
            key.len(),
            value.len()
        )
    }

    /// integration/aof's "Truncate AOF to specific timestamp" file: annotations between
    /// the commands, two in a row before the last.
    fn annotated() -> String {
        [
            "#TS:1628217470\r\n".to_string(),
            set("foo1", "bar1"),
            "#TS:1628217471\r\n".to_string(),
            set("foo2", "bar2"),
            "#TS:1628217472\r\n".to_string(),
            "#TS:1628217473\r\n".to_string(),
            set("foo3", "bar3"),
            "#TS:1628217474\r\n".to_string(),
        ]
        .concat()
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("slabd-check-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn check(path: &Path, repair: Repair) -> (bool, String) {
        let mut out = Vec::new();
        let ok = check_aof(path, repair, &mut out);
        (ok, String::from_utf8(out).unwrap())
    }

    #[test]
    fn truncate_to_timestamp_cuts_at_the_first_later_annotation() {
        let dir = temp("ts");
        let f = dir.join("appendonly.aof");
        let text = annotated();
        std::fs::write(&f, &text).unwrap();
        let (ok, out) = check(&f, Repair::ToTimestamp(1628217474));
        assert!(ok, "{out}");
        assert!(out.contains("Truncate nothing in AOF"), "{out}");
        assert_eq!(std::fs::read_to_string(&f).unwrap(), text);
        // Each cut keeps everything before the first annotation past the limit.
        for (limit, keep) in [
            (1628217473, text.find("#TS:1628217474").unwrap()),
            (1628217471, text.find("#TS:1628217472").unwrap()),
            (1628217470, text.find("#TS:1628217471").unwrap()),
        ] {
            let (ok, out) = check(&f, Repair::ToTimestamp(limit));
            assert!(ok, "{out}");
            assert!(
                out.contains(&format!(
                    "Successfully truncated AOF {} to timestamp {limit}",
                    f.display()
                )),
                "{out}"
            );
            assert_eq!(std::fs::read_to_string(&f).unwrap(), text[..keep]);
        }
        let (ok, out) = check(&f, Repair::ToTimestamp(1628217469));
        assert!(!ok);
        assert!(
            out.contains("has nothing before timestamp 1628217469, aborting..."),
            "{out}"
        );
        std::fs::write(&f, format!("{}#TS:soon\r\n", set("a", "b"))).unwrap();
        let (ok, out) = check(&f, Repair::ToTimestamp(1));
        assert!(!ok);
        assert!(out.contains("Invalid timestamp annotation"), "{out}");
        // Without a timestamp asked for, annotations are skipped as before.
        assert!(check(&f, Repair::No).0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// integration/aof's "only truncates the last file for Multi Part AOF in
    /// truncate-to-timestamp mode": a later annotation in the base refuses, untouched.
    #[test]
    fn truncate_to_timestamp_only_cuts_the_last_file() {
        let dir = temp("ts-multi");
        let base = dir.join("appendonly.aof.1.base.aof");
        let incr = dir.join("appendonly.aof.1.incr.aof");
        let manifest = dir.join("appendonly.aof.manifest");
        std::fs::write(&base, annotated()).unwrap();
        std::fs::write(&incr, set("foo4", "bar4")).unwrap();
        std::fs::write(
            &manifest,
            "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        let (ok, out) = check(&manifest, Repair::ToTimestamp(1628217471));
        assert!(!ok);
        assert!(
            out.contains("to timestamp 1628217471 to offset")
                && out.contains("because it is not the last file."),
            "{out}"
        );
        assert_eq!(std::fs::read_to_string(&base).unwrap(), annotated());
        let (ok, out) = check(&manifest, Repair::ToTimestamp(1628217474));
        assert!(ok, "{out}");
        assert!(
            out.contains("All AOF files and manifest are valid"),
            "{out}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
