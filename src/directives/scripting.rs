//! Scripting directives: Lua time and memory limits.

use super::Directive;

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
];
