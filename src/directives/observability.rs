//! Observability directives: notifications, slow log, latency, output limits, metrics.

use super::Directive;

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
];
