//! String-value directives: the HyperLogLog sparse size limit.

use super::{Directive, Kind};
use crate::directive;

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    // Past this many bytes a sparse HyperLogLog turns dense (commands::resp::hll).
    directive!("hll-sparse-max-bytes", [], "3000",
        Kind::Memory { min: 0, max: i64::MAX }, true),
];
