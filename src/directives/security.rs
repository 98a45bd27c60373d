//! Security directives: ACL, TLS, protected mode, client limits.

use super::Directive;

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
];
