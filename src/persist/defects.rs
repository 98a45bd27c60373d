//! Collections a file holds that cannot be built (a member or field twice, a NaN score),
//! named as redis-server 7.0.15 names them. Redis fails the whole load on them (start-up,
//! an AOF's RDB preamble) and redis-check-rdb reports them, so slabd does both; RESTORE
//! logs the same words.
//!
//! Redis finds some of them only under `sanitize-dump-payload yes` (a field twice in a
//! small plain hash, a member twice in an intset) and otherwise loads a value that breaks
//! later; slabd validates in full whatever that setting says, so it reports them always,
//! with the words Redis uses when it does find them.

use std::collections::HashSet;

use super::rdb::types;
use super::value::Value;
use crate::collections::intset::parse_member;
use crate::collections::Thresholds;

/// Why a collection was refused: Redis's message and the line of `rdb.c` redis-server
/// 7.0.15 (Debian's build) names beside it, so a log reader that parses Redis's
/// `Internal error in RDB reading offset N, function at rdb.c:L -> ...` parses slabd's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defect {
    pub message: String,
    /// None for an encoding Redis 7.0 does not read (the set listpack of RDB 11).
    pub line: Option<u32>,
}

impl std::fmt::Display for Defect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Defect {
    /// Redis's log line for it, the failing record starting at byte `offset`.
    pub fn log_line(&self, offset: u64) -> String {
        match self.line {
            Some(line) => format!(
                "Internal error in RDB reading offset {offset}, function at rdb.c:{line} -> {}",
                self.message
            ),
            None => format!(
                "Internal error in RDB reading offset {offset} -> {}",
                self.message
            ),
        }
    }
}

/// The first element that breaks a collection: its index and whether it is a NaN score
/// (otherwise a member or field seen before).
fn first_bad(value: &Value) -> Option<(usize, bool)> {
    let mut seen = HashSet::new();
    let mut dup = |m: &[u8]| !seen.insert(m.to_vec());
    match value {
        Value::String(_) | Value::List(_) => None,
        Value::Set(v) => v.iter().position(|m| dup(m)).map(|i| (i, false)),
        Value::Hash(v) => v.iter().position(|(f, _)| dup(f)).map(|i| (i, false)),
        // Redis checks the score before adding the member, element by element.
        Value::ZSet(v) => v
            .iter()
            .position(|(m, s)| s.is_nan() || dup(m))
            .map(|i| (i, v[i].1.is_nan())),
    }
}

/// What is wrong with `value`, read as RDB type `rdb_type`; None when nothing is.
/// `limits` decide which of Redis's code paths would have met the problem.
pub fn find(rdb_type: u8, value: &Value, limits: &Thresholds) -> Option<Defect> {
    let (at, nan) = first_bad(value)?;
    Some(describe(rdb_type, value, at, nan, limits))
}

/// Redis's words for a collection whose element `at` is a NaN score (`nan`) or a repeat.
fn describe(rdb_type: u8, value: &Value, at: usize, nan: bool, limits: &Thresholds) -> Defect {
    let said = |message: &str, line: u32| Defect {
        message: message.to_string(),
        line: Some(line),
    };
    match (rdb_type, value) {
        (types::SET, Value::Set(v)) => {
            // Redis fills an intset while the members so far are integers and the set
            // is small enough, a hash table otherwise: two places, two lines.
            let intset = v.len() <= limits.set().intset_entries
                && v[..=at].iter().all(|m| parse_member(m).is_some());
            said(
                "Duplicate set members detected",
                if intset { 1809 } else { 1829 },
            )
        }
        (types::ZSET | types::ZSET_2, _) if nan => said("Zset with NAN score detected", 1882),
        (types::ZSET | types::ZSET_2, _) => said("Duplicate zset fields detected", 1894),
        (types::HASH, Value::Hash(v)) if v.len() > limits.hash().entries => {
            said("Duplicate hash fields detected", 2019)
        }
        (types::HASH, _) => said("Hash with dup elements", 1951),
        (types::HASH_ZIPMAP, Value::Hash(v)) => said(
            &format!(
                "Hash zipmap with dup elements, or big length ({})",
                v[at].0.len()
            ),
            2154,
        ),
        (t, _) => {
            let name = types::compact_name(t).unwrap_or("Collection");
            Defect {
                message: format!("{name} integrity check failed."),
                line: match t {
                    types::SET_INTSET => Some(2214),
                    types::ZSET_ZIPLIST => Some(2229),
                    types::ZSET_LISTPACK => Some(2255),
                    types::HASH_ZIPLIST => Some(2275),
                    types::HASH_LISTPACK => Some(2301),
                    _ => None,
                },
            }
        }
    }
}

/// [`find`] for a value the collections refused to build: always a defect (the build
/// found one; if this scan does not, the type's own words are used).
pub fn of_refused(rdb_type: u8, value: &Value, limits: &Thresholds) -> Defect {
    let (at, nan) = first_bad(value).unwrap_or((0, false));
    describe(rdb_type, value, at, nan, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(t: u8, v: Value) -> Option<String> {
        find(t, &v, &Thresholds::default()).map(|d| d.log_line(0))
    }

    #[test]
    fn redis_words_and_lines() {
        let s = |m: &[&str]| m.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        let line = |l: u32, m: &str| {
            Some(format!(
                "Internal error in RDB reading offset 0, function at rdb.c:{l} -> {m}"
            ))
        };
        let dup_set = "Duplicate set members detected";
        assert_eq!(
            found(types::SET, Value::Set(s(&["1", "2", "1"]))),
            line(1809, dup_set)
        );
        assert_eq!(
            found(types::SET, Value::Set(s(&["a", "b", "a"]))),
            line(1829, dup_set)
        );
        // A string member after the integers moves Redis to its hash table.
        assert_eq!(
            found(types::SET, Value::Set(s(&["1", "x", "1"]))),
            line(1829, dup_set)
        );
        assert_eq!(found(types::SET, Value::Set(s(&["1", "2"]))), None);
        let z = |m: &[(&str, f64)]| {
            Value::ZSet(m.iter().map(|(k, s)| (k.as_bytes().to_vec(), *s)).collect())
        };
        assert_eq!(
            found(types::ZSET_2, z(&[("a", 1.0), ("b", f64::NAN)])),
            line(1882, "Zset with NAN score detected")
        );
        // The repeat comes first.
        assert_eq!(
            found(types::ZSET, z(&[("a", 1.0), ("a", 2.0), ("b", f64::NAN)])),
            line(1894, "Duplicate zset fields detected")
        );
        assert_eq!(
            found(types::ZSET_LISTPACK, z(&[("a", 1.0), ("a", 2.0)])),
            line(2255, "Zset listpack integrity check failed.")
        );
        let h = |n: usize, dup: &str| {
            let mut v: Vec<_> = (0..n)
                .map(|i| (format!("f{i}").into_bytes(), b"v".to_vec()))
                .collect();
            v.push((dup.as_bytes().to_vec(), b"w".to_vec()));
            Value::Hash(v)
        };
        assert_eq!(
            found(types::HASH, h(2, "f0")),
            line(1951, "Hash with dup elements")
        );
        assert_eq!(
            found(types::HASH, h(600, "f7")),
            line(2019, "Duplicate hash fields detected")
        );
        assert_eq!(found(types::HASH, h(600, "g")), None);
        assert_eq!(
            found(types::HASH_ZIPMAP, h(1, "f0")),
            line(2154, "Hash zipmap with dup elements, or big length (2)")
        );
        assert_eq!(
            found(types::SET_LISTPACK, Value::Set(s(&["a", "a"]))),
            Some(
                "Internal error in RDB reading offset 0 -> Set listpack integrity check failed."
                    .into()
            )
        );
        assert_eq!(found(types::LIST, Value::List(s(&["a", "a"]))), None);
    }
}
