//! `slabd check-rdb FILE` and `slabd check-aof [--fix|--truncate-to-timestamp T] FILE`: the
//! file checks of redis-check-rdb and redis-check-aof, with slabd's readers.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

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

/// Reads a whole RDB stream, reporting as redis-check-rdb does (each line's offset is where
/// its record ends, as Redis's `processed_bytes`). Returns the summary and how many bytes it
/// used (an AOF tail may follow), or the error message.
fn scan_rdb<R: Read>(src: R, out: &mut dyn Write) -> Result<(RdbSummary, u64, R), String> {
    let now_ms = super::unix_ms();
    let mut r = Reader::new(src, true).map_err(|e| e.to_string())?;
    let mut sum = RdbSummary::default();
    loop {
        let at = r.offset();
        let rec = r.next().map_err(|e| e.to_string())?;
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
                    return Err(format!(
                        "[offset {end}] {}\n[additional info] While doing: read-object-value\n\
                         [additional info] Reading key '{}'",
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
            let _ = writeln!(out, "[info] {} keys read", sum.keys);
            let _ = writeln!(out, "[info] {} expires", sum.expires);
            let _ = writeln!(out, "[info] {} already expired", sum.already_expired);
            Some(used)
        }
        Err(e) => {
            let _ = writeln!(out, "--- RDB ERROR DETECTED ---");
            let _ = writeln!(out, "{e}");
            None
        }
    }
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
