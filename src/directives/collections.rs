//! Encoding thresholds of the collection types (Redis 7.0 names, with the older
//! `*-ziplist-*` names as aliases): below them a collection stays in its compact form.

use super::{Directive, Kind};
use crate::directive;

/// Entry counts are plain integers; value sizes take memory units, as Redis 7.0 has them.
const COUNT: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const BYTES: Kind = Kind::Memory {
    min: 0,
    max: i64::MAX,
};

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    directive!("hash-max-listpack-entries", ["hash-max-ziplist-entries"], "512", COUNT, true),
    directive!("hash-max-listpack-value", ["hash-max-ziplist-value"], "64", BYTES, true),
    directive!("set-max-intset-entries", [], "512", COUNT, true),
    directive!("zset-max-listpack-entries", ["zset-max-ziplist-entries"], "128", COUNT, true),
    directive!("zset-max-listpack-value", ["zset-max-ziplist-value"], "64", BYTES, true),
    directive!("list-max-listpack-size", ["list-max-ziplist-size"], "-2",
        Kind::Int { min: i64::MIN, max: i64::MAX }, true),
    directive!("list-compress-depth", [], "0", Kind::Int { min: 0, max: i64::MAX }, true),
];
