//! What the server is, for clients and tools that ask: ROLE (a master, with the replicas
//! reading its stream) and LOLWUT (the version line).

use super::registry::{spec, Spec};
use super::{Call, REDIS_VERSION};
use crate::protocol::resp::{parse_i64, Args};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("role", 1, ["noscript", "loading", "stale", "fast"], (0, 0, 0), "server", "2.8.12",
        "Return the role of the instance in the context of replication", role),
    spec!("lolwut", -1, ["readonly", "fast"], (0, 0, 0), "server", "5.0.0",
        "Display some computer art and the Redis version", lolwut),
];

/// `ROLE`: Redis's reply for a master: `master`, its replication offset and its replicas.
fn role(call: &mut Call<'_>, _args: Args<'_>) {
    super::replication::role_master(call);
}

/// `LOLWUT [VERSION n] [...]`: the text Redis 7.0 answers for its own version, as a
/// verbatim string. `VERSION` must be an integer, as in Redis; other arguments are the
/// artwork's, which slabd does not draw (Redis 7.0 draws it only for VERSION 5 and 6).
fn lolwut(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() >= 3
        && args.get(1).eq_ignore_ascii_case(b"version")
        && parse_i64(args.get(2)).is_none()
    {
        call.not_integer();
        return;
    }
    let mut text = Vec::with_capacity(32);
    text.extend_from_slice(b"Redis ver. ");
    text.extend_from_slice(REDIS_VERSION.as_bytes());
    text.push(b'\n');
    call.w.verbatim(b"txt", &text);
}
