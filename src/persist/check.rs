//! `slabd check-rdb FILE` and `slabd check-aof [--fix] FILE`: the file checks of
//! redis-check-rdb and redis-check-aof, with slabd's readers.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use super::aof::{AofError, CommandReader, Manifest};
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
}

/// Checks one AOF file (an RDB preamble, commands, or both).
pub fn scan_aof_file(path: &Path, out: &mut dyn Write) -> std::io::Result<AofStatus> {
    let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut magic = [0u8; 5];
    let n = file.read(&mut magic)?;
    // Re-open rather than seek back through the buffer: simple and exact.
    let file = BufReader::with_capacity(1 << 16, File::open(path)?);
    let (mut cmds, base) = if n == 5 && &magic == b"REDIS" {
        let _ = writeln!(out, "RDB preamble detected in {}", path.display());
        match scan_rdb(file, out) {
            Ok((_, used, rest)) => (CommandReader::new(rest, used), used),
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
    let mut count = 0;
    let _ = base;
    loop {
        match cmds.next() {
            Ok(Some(_)) => count += 1,
            Ok(None) => return Ok(AofStatus::Valid { commands: count }),
            Err(AofError::Truncated { valid_up_to }) => {
                return Ok(AofStatus::Truncated { valid_up_to })
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

/// `slabd check-aof [--fix] FILE`: FILE is an AOF, or a manifest (all its files are
/// checked; only the last may be fixed). `--fix` truncates a torn or corrupt tail.
pub fn check_aof(path: &Path, fix: bool, out: &mut dyn Write) -> bool {
    let files: Vec<std::path::PathBuf> = if path.to_string_lossy().ends_with(".manifest") {
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
        let dir = path.parent().unwrap_or(Path::new("."));
        m.load_order().map(|f| dir.join(&f.name)).collect()
    } else {
        vec![path.to_path_buf()]
    };
    let last = files.len().saturating_sub(1);
    for (i, f) in files.iter().enumerate() {
        let _ = writeln!(out, "Checking {}", f.display());
        let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
        let status = match scan_aof_file(f, out) {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(out, "Cannot read {}: {e}", f.display());
                return false;
            }
        };
        let (valid_up_to, why) = match status {
            AofStatus::Valid { commands } => {
                let _ = writeln!(
                    out,
                    "AOF {} is valid ({commands} commands, {size} bytes)",
                    f.display()
                );
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
            "AOF analyzed: filename={}, size={size}, ok_up_to={valid_up_to}, diff={}",
            f.display(),
            size - valid_up_to
        );
        let _ = writeln!(out, "{why}");
        if !fix || i != last {
            let _ = writeln!(
                out,
                "AOF {} is not valid. Use the --fix option to try fixing it.",
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
    true
}

/// Entry point for `slabd check-rdb|check-aof ...` (args after the subcommand). Returns the
/// process exit status.
pub fn run(sub: &str, args: &[String]) -> i32 {
    let mut out = std::io::stdout();
    match (sub, args) {
        ("check-rdb", [file]) => i32::from(!check_rdb(Path::new(file), &mut out)),
        ("check-aof", [file]) => i32::from(!check_aof(Path::new(file), false, &mut out)),
        ("check-aof", [flag, file]) if flag == "--fix" => {
            i32::from(!check_aof(Path::new(file), true, &mut out))
        }
        _ => {
            eprintln!("Usage: slabd check-rdb <file.rdb>\n       slabd check-aof [--fix] <file.aof|file.manifest>");
            1
        }
    }
}
