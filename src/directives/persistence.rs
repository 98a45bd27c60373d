//! Snapshot and append-only-file directives.
//!
//! slabd does not persist yet: `save` and `appendonly` exist so that clients and Redis's
//! test suite can turn persistence off (`save ""`, `appendonly no`), and refuse to turn it
//! on rather than pretend.

use super::{Directive, Kind};
use crate::directive;

/// `save`: only "" (no save points) until snapshots exist.
fn save_points(v: &str) -> Result<String, String> {
    if v.trim().is_empty() {
        Ok(String::new())
    } else {
        Err("slabd does not save snapshots yet; only \"\" is accepted".into())
    }
}

/// `appendonly`: only `no` until the append-only file exists.
fn append_only(v: &str) -> Result<String, String> {
    match v.to_ascii_lowercase().as_str() {
        "no" => Ok("no".into()),
        "yes" => Err("slabd has no append-only file yet".into()),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    Directive { repeat: super::Repeat::Join, ..directive!("save", [], "", Kind::Custom(save_points), true) },
    directive!("appendonly", [], "no", Kind::Custom(append_only), true),
];
