//! Scripting directives: Lua time and memory limits.

use super::{Directive, Kind};
use crate::directive;

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    // Milliseconds a script (or function) runs before other clients get -BUSY and SCRIPT
    // KILL may end it; 0: never. Redis 7.0 kept the old name as an alias.
    directive!("busy-reply-threshold", ["lua-time-limit"], "5000",
        Kind::Int { min: 0, max: i64::MAX }, true),
];
