//! Security directives: ACL, TLS, protected mode, client limits (see docs/security.md).

use super::{Directive, Kind};
use crate::directive;

#[rustfmt::skip]
pub(super) static DIRECTIVES: &[Directive] = &[
    // ACL users from a file (`ACL LOAD` / `ACL SAVE`); cannot be combined with `user` lines.
    directive!("aclfile", [], "", Kind::String, false),
    directive!("acllog-max-len", [], "128", Kind::Int { min: 0, max: i64::MAX }, true),
    directive!("acl-pubsub-default", [], "resetchannels",
        Kind::Enum(&["resetchannels", "allchannels"]), true),
    // Redis's protected mode: with no password and a non-loopback bind, only loopback
    // clients are served.
    directive!("protected-mode", [], "yes", Kind::Bool, true),
    // Who may run DEBUG (Redis 7.0's protected command): nobody (`no`, the default), any
    // client (`yes`), or clients on this host (`local`: loopback and unix sockets).
    directive!("enable-debug-command", [], "no", Kind::Enum(&["no", "yes", "local"]), false),
    // Bytes of unparsed input a client may have buffered before it is closed.
    directive!("client-query-buffer-limit", [], "1gb",
        Kind::Memory { min: 1024 * 1024, max: i64::MAX }, true),
    // All clients' buffers together (server::limits): past it the largest are closed.
    directive!("maxmemory-clients", [], "0",
        Kind::Custom(crate::server::limits::canonical), true),
    // Seconds a partial request may wait for the rest of its bytes (slowloris); 0 is off.
    directive!("client-request-timeout", [], "0", Kind::Int { min: 0, max: 86_400 }, true),
    // TLS for RESP (server::tls): a port of its own beside the plain one.
    directive!("tls-port", [], "0", Kind::Int { min: 0, max: 65535 }, true),
    directive!("tls-cert-file", [], "", Kind::String, true),
    directive!("tls-key-file", [], "", Kind::String, true),
    directive!("tls-key-file-pass", [], "", Kind::String, true),
    directive!("tls-ca-cert-file", [], "", Kind::String, true),
    directive!("tls-ca-cert-dir", [], "", Kind::String, true),
    directive!("tls-auth-clients", [], "yes", Kind::Enum(&["no", "yes", "optional"]), true),
    directive!("tls-protocols", [], "", Kind::String, true),
    directive!("tls-ciphersuites", [], "", Kind::String, true),
    directive!("tls-ciphers", [], "", Kind::String, true),
    directive!("tls-prefer-server-ciphers", [], "no", Kind::Bool, true),
    directive!("tls-session-caching", [], "yes", Kind::Bool, true),
    directive!("tls-replication", [], "no", Kind::Bool, true),
    directive!("tls-cluster", [], "no", Kind::Bool, true),
];
