//! Snapshot and append-only-file directives (Redis's names and defaults, except `save`,
//! which is off by default: a cache does not write to disk unless asked).

use super::{Directive, Kind};
use crate::directive;

/// `save`: "" (no save points) or pairs of "seconds changes", as Redis 7.0 writes them.
fn save_points(v: &str) -> Result<String, String> {
    let points = crate::persist::service::parse_save_points(v)?;
    Ok(points
        .iter()
        .map(|(s, c)| format!("{s} {c}"))
        .collect::<Vec<_>>()
        .join(" "))
}

/// `dir`: an existing directory.
fn directory(v: &str) -> Result<String, String> {
    if std::path::Path::new(v).is_dir() {
        Ok(v.to_string())
    } else {
        Err(format!("No such file or directory: {v}"))
    }
}

/// `dbfilename`, `appendfilename`, `appenddirname`: a name, not a path.
fn file_name(v: &str) -> Result<String, String> {
    if v.is_empty() || v.contains('/') {
        Err("dbfilename can't be a path, just a filename".into())
    } else {
        Ok(v.to_string())
    }
}

const MEM: Kind = Kind::Memory {
    min: 0,
    max: i64::MAX,
};

// key-load-delay and rdb-key-save-delay are hidden in Redis (CONFIG GET names them only
// exactly), as here.
#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    Directive { repeat: super::Repeat::Join, ..directive!("save", [], "", Kind::Custom(save_points), true) },
    directive!("dir", [], ".", Kind::Custom(directory), true),
    directive!("dbfilename", [], "dump.rdb", Kind::Custom(file_name), true),
    directive!("rdbcompression", [], "yes", Kind::Bool, true),
    directive!("rdbchecksum", [], "yes", Kind::Bool, false),
    directive!("stop-writes-on-bgsave-error", [], "yes", Kind::Bool, true),
    directive!("appendonly", [], "no", Kind::Bool, true),
    directive!("appendfsync", [], "everysec", Kind::Enum(&["always", "everysec", "no"]), true),
    directive!("appendfilename", [], "appendonly.aof", Kind::Custom(file_name), false),
    directive!("appenddirname", [], "appendonlydir", Kind::Custom(file_name), false),
    directive!("auto-aof-rewrite-percentage", [], "100", Kind::Int { min: 0, max: i32::MAX as i64 }, true),
    directive!("auto-aof-rewrite-min-size", [], "64mb", MEM, true),
    directive!("aof-use-rdb-preamble", [], "yes", Kind::Bool, true),
    directive!("aof-load-truncated", [], "yes", Kind::Bool, true),
    directive!("aof-timestamp-enabled", [], "no", Kind::Bool, true),
    directive!("aof-disable-auto-gc", [], "no", Kind::Bool, true),
    Directive { hidden: true, ..directive!("key-load-delay", [], "0", Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, true) },
    Directive { hidden: true, ..directive!("rdb-key-save-delay", [], "0", Kind::Int { min: i32::MIN as i64, max: i32::MAX as i64 }, true) },
];
