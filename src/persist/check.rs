//! `slabd check-rdb FILE` and `slabd check-aof [--fix|--truncate-to-timestamp T] FILE`: the
//! file checks of redis-check-rdb and redis-check-aof, with slabd's readers.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use super::rdb::{Doing, RdbErrorKind, Reader, Record};

/// Counts of what a dump held.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RdbSummary {
    pub keys: u64,
    pub expires: u64,
    pub already_expired: u64,
    /// Function libraries (`RDB_OPCODE_FUNCTION2`).
    pub functions: u64,
}

/// Why a check failed: redis-check-rdb's error block (the `[offset N]` line and its
/// `[additional info]` lines), and what was read up to there.
struct Failure {
    report: Vec<u8>,
    sum: RdbSummary,
}

/// redis-check-rdb 7.0's `rdb_type_string`: the name of an RDB type in its reports.
fn type_name(t: u8) -> &'static str {
    const NAMES: [&str; 19] = [
        "string",
        "list-linked",
        "set-hashtable",
        "zset-v1",
        "hash-hashtable",
        "zset-v2",
        "module-value",
        "",
        "",
        "hash-zipmap",
        "list-ziplist",
        "set-intset",
        "zset-ziplist",
        "hash-ziplist",
        "quicklist",
        "stream",
        "hash-listpack",
        "zset-listpack",
        "quicklist-v2",
    ];
    NAMES.get(usize::from(t)).copied().unwrap_or("unknown")
}

/// redis-check-rdb's `rdbCheckError` block: `[offset N] msg`, what it was doing, the key
/// (up to a NUL byte, as C prints it) and the type being read, when there are.
fn error_block(
    offset: u64,
    msg: &str,
    doing: Doing,
    key: Option<&[u8]>,
    key_type: Option<u8>,
) -> Vec<u8> {
    let mut b = Vec::new();
    let _ = writeln!(b, "[offset {offset}] {msg}");
    let _ = writeln!(b, "[additional info] While doing: {}", doing.name());
    if let Some(key) = key {
        let key = key.split(|&c| c == 0).next().unwrap_or_default();
        b.extend_from_slice(b"[additional info] Reading key '");
        b.extend_from_slice(key);
        b.extend_from_slice(b"'\n");
    }
    if let Some(t) = key_type {
        let _ = writeln!(b, "[additional info] Reading type {t} ({})", type_name(t));
    }
    b
}

/// redis-check-rdb's words for a reader error (slabd's own for what Redis reports from
/// deep in its loader, whose messages name lines of rdb.c).
fn redis_message(kind: &RdbErrorKind) -> String {
    match kind {
        RdbErrorKind::Eof => "Unexpected EOF reading RDB file".into(),
        RdbErrorKind::BadMagic => "Wrong signature trying to load DB from file".into(),
        RdbErrorKind::Version(v) => format!("Can't handle RDB format version {v}"),
        RdbErrorKind::Checksum { .. } => "RDB CRC error".into(),
        RdbErrorKind::UnknownType(t) => format!("Invalid object type: {t}"),
        other => other.to_string(),
    }
}

/// Reads a whole RDB stream, reporting as redis-check-rdb does (each line's offset is where
/// its record ends, as Redis's `processed_bytes`). Returns the summary and how many bytes it
/// used (an AOF tail may follow), or the error report.
fn scan_rdb<R: Read>(src: R, out: &mut dyn Write) -> Result<(RdbSummary, u64, R), Failure> {
    let now_ms = super::unix_ms();
    let mut r = Reader::new(src, true).map_err(|e| {
        // The header is 9 bytes, read at once: a short file has consumed none of them.
        let offset = if matches!(e.kind, RdbErrorKind::Eof) {
            0
        } else {
            9
        };
        Failure {
            report: error_block(offset, &redis_message(&e.kind), Doing::Start, None, Some(0)),
            sum: RdbSummary::default(),
        }
    })?;
    let mut sum = RdbSummary::default();
    loop {
        let at = r.offset();
        let rec = match r.next() {
            Ok(rec) => rec,
            Err(e) => {
                // Redis counts a key once it is read, before its value.
                if r.failed_key().is_some() {
                    sum.keys += 1;
                }
                let report = error_block(
                    r.offset(),
                    &redis_message(&e.kind),
                    r.doing(),
                    r.failed_key(),
                    r.key_type(),
                );
                return Err(Failure { report, sum });
            }
        };
        let end = r.offset();
        match rec {
            Some(Record::Aux(k, v)) => {
                let _ = writeln!(
                    out,
                    "[offset {end}] AUX FIELD {} = '{}'",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                );
            }
            Some(Record::SelectDb(db)) => {
                let _ = writeln!(out, "[offset {end}] Selecting DB ID {db}");
            }
            Some(Record::ResizeDb { .. }) => {}
            Some(Record::Function(_)) => sum.functions += 1,
            Some(Record::Entry(e)) => {
                sum.keys += 1;
                // Redis's check loads every value, so it reports what its loader refuses
                // (a member twice, a NaN score) in the loader's words.
                let limits = crate::collections::Thresholds::default();
                if let Some(d) = super::defects::find(r.value_type(), &e.value, &limits) {
                    let report = error_block(
                        end,
                        &d.log_line(at),
                        Doing::ReadObjectValue,
                        Some(&e.key),
                        Some(r.value_type()),
                    );
                    return Err(Failure { report, sum });
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
                            "[offset {end}] RDB file was saved with checksum disabled: no check performed."
                        );
                    }
                    Some(_) => {
                        let _ = writeln!(out, "[offset {end}] Checksum OK");
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

/// redis-check-rdb's report on a stream named `name` (`redis_check_rdb_main`): the bytes
/// the dump used when it is valid (an AOF's RDB preamble: its tail follows), else None.
pub fn check_rdb_named<R: Read>(name: &str, src: R, out: &mut dyn Write) -> Option<u64> {
    let _ = writeln!(out, "[offset 0] Checking RDB file {name}");
    match scan_rdb(src, out) {
        Ok((sum, used, _)) => {
            let _ = writeln!(out, "[offset {used}] \\o/ RDB looks OK! \\o/");
            show_generic_info(&sum, out);
            Some(used)
        }
        Err(f) => {
            let _ = writeln!(out, "--- RDB ERROR DETECTED ---");
            let _ = out.write_all(&f.report);
            show_generic_info(&f.sum, out);
            None
        }
    }
}

/// redis-check-rdb's `rdbShowGenericInfo`.
fn show_generic_info(sum: &RdbSummary, out: &mut dyn Write) {
    let _ = writeln!(out, "[info] {} keys read", sum.keys);
    let _ = writeln!(out, "[info] {} expires", sum.expires);
    let _ = writeln!(out, "[info] {} already expired", sum.already_expired);
}

/// `slabd check-rdb FILE`: true when the file is a valid dump.
pub fn check_rdb(path: &Path, out: &mut dyn Write) -> bool {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(out, "[offset 0] Checking RDB file {}", path.display());
            let _ = writeln!(out, "Cannot open {}: {e}", path.display());
            return false;
        }
    };
    let name = path.display().to_string();
    check_rdb_named(&name, BufReader::with_capacity(1 << 16, file), out).is_some()
}

/// Entry point for `slabd check-rdb|check-aof ...` (args after the subcommand). Returns the
/// process exit status.
pub fn run(sub: &str, args: &[String]) -> i32 {
    let mut out = std::io::stdout();
    match (sub, args) {
        ("check-rdb", [file]) => i32::from(!check_rdb(Path::new(file), &mut out)),
        ("check-aof", _) => super::check_aof::run(args, &mut out, &mut std::io::stdin().lock()),
        _ => {
            eprintln!("Usage: slabd check-rdb <file.rdb>\n       slabd check-aof [--fix|--truncate-to-timestamp $timestamp] <file.aof|file.manifest>");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// redis-check-rdb 7.0.15's whole report on each file (its first line names the file).
    #[test]
    fn check_rdb_errors_read_as_redis_check_rdb() {
        let h = b"REDIS0010".to_vec();
        let cat = |parts: &[&[u8]]| parts.concat();
        let tail = |keys: u64| {
            format!("[info] {keys} keys read\n[info] 0 expires\n[info] 0 already expired\n")
        };
        let crc = 12345u64.to_le_bytes();
        let one = 1i64.to_le_bytes();
        let cases: Vec<(&str, Vec<u8>, String)> = vec![
            ("short", b"REDIS00".to_vec(), format!("[offset 0] Unexpected EOF reading RDB file\n[additional info] While doing: start\n[additional info] Reading type 0 (string)\n{}", tail(0))),
            ("magic", cat(&[b"XEDIS0010\xff", &[0; 8]]), format!("[offset 9] Wrong signature trying to load DB from file\n[additional info] While doing: start\n[additional info] Reading type 0 (string)\n{}", tail(0))),
            ("aux", cat(&[&h, b"\xfa\x09redis-ver"]), format!("[offset 20] Unexpected EOF reading RDB file\n[additional info] While doing: read-aux\n[additional info] Reading type 0 (string)\n{}", tail(0))),
            ("value", cat(&[&h, b"\xfe\x00\x00\x01k\x05ab"]), format!("[offset 11] Selecting DB ID 0\n--- RDB ERROR DETECTED ---\n[offset 15] Unexpected EOF reading RDB file\n[additional info] While doing: read-object-value\n[additional info] Reading key 'k'\n[additional info] Reading type 0 (string)\n{}", tail(1))),
            ("key", cat(&[&h, b"\xfe\x00\xfc", &one, b"\x00\x05ab"]), format!("[offset 11] Selecting DB ID 0\n--- RDB ERROR DETECTED ---\n[offset 22] Unexpected EOF reading RDB file\n[additional info] While doing: read-key\n[additional info] Reading type 0 (string)\n{}", tail(0))),
            ("type", cat(&[&h, b"\xfe\x00\x00\x01k\x01v\x16\x01k"]), format!("[offset 11] Selecting DB ID 0\n--- RDB ERROR DETECTED ---\n[offset 17] Invalid object type: 22\n[additional info] While doing: read-type\n{}", tail(1))),
            ("crc", cat(&[&h, b"\x00\x01k\x01v\xff", &crc]), format!("[offset 23] RDB CRC error\n[additional info] While doing: check-sum\n{}", tail(1))),
            ("expire", cat(&[&h, b"\x00\x01k\x01v\xfc\x01\x02"]), format!("[offset 15] Unexpected EOF reading RDB file\n[additional info] While doing: read-expire\n{}", tail(1))),
            ("nokeys", cat(&[&h, b"\xff", &crc]), format!("[offset 18] RDB CRC error\n[additional info] While doing: check-sum\n[additional info] Reading type 0 (string)\n{}", tail(0))),
        ];
        for (name, bytes, want) in cases {
            let mut out = Vec::new();
            assert_eq!(
                check_rdb_named("x.rdb", &bytes[..], &mut out),
                None,
                "{name}"
            );
            let out = String::from_utf8(out).unwrap();
            // The error block follows any progress lines (Redis's line when there are none).
            let want = if want.contains("--- RDB ERROR DETECTED ---") {
                format!("[offset 0] Checking RDB file x.rdb\n{want}")
            } else {
                format!("[offset 0] Checking RDB file x.rdb\n--- RDB ERROR DETECTED ---\n{want}")
            };
            assert_eq!(out, want, "{name}");
        }
    }

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

    enum Repair {
        No,
        ToTimestamp(i64),
    }

    fn check(path: &Path, repair: Repair) -> (bool, String) {
        let p = path.to_string_lossy().into_owned();
        let args = match repair {
            Repair::No => vec![p],
            Repair::ToTimestamp(t) => vec!["--truncate-to-timestamp".into(), t.to_string(), p],
        };
        let mut out = Vec::new();
        let rc = super::super::check_aof::run(&args, &mut out, &mut std::io::empty());
        (rc == 0, String::from_utf8(out).unwrap())
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
