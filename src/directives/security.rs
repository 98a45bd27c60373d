//! Security directives: ACL, TLS, protected mode, client limits (see docs/security.md).

use super::{Directive, Kind};
use crate::directive;

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    // ACL users from a file (`ACL LOAD` / `ACL SAVE`); cannot be combined with `user` lines.
    directive!("aclfile", [], "", Kind::String, false),
    directive!("acllog-max-len", [], "128", Kind::Int { min: 0, max: i64::MAX }, true),
    // Redis's protected mode: with no password and a non-loopback bind, only loopback
    // clients are served.
    directive!("protected-mode", [], "yes", Kind::Bool, true),
    // Bytes of unparsed input a client may have buffered before it is closed.
    directive!("client-query-buffer-limit", [], "1gb",
        Kind::Memory { min: 1024 * 1024, max: i64::MAX }, true),
];
