//! `OBJECT ENCODING | FREQ | IDLETIME | REFCOUNT | HELP` (Redis 7.0).
//!
//! Encodings use Redis 7.0's names for the form slabd keeps: a compact hash or sorted set
//! is `listpack`, a large one `hashtable` / `skiplist`; a set of integers is `intset`,
//! otherwise `hashtable`; a list is `quicklist` (Redis 7.0 has no other list encoding);
//! a string is `int`, `embstr` (up to 44 bytes) or `raw`, judged from its bytes as Redis
//! would have created it, except that a string edited in place (APPEND to an existing key,
//! SETRANGE, SETBIT, BITFIELD, BITOP, the HyperLogLog commands) is `raw` whatever its
//! bytes, as Redis leaves it until it is written anew. slabd evicts by two-level CLOCK, not LFU, so FREQ answers as
//! Redis does without an LFU policy.

use super::registry::{spec, Spec};
use super::Call;
use crate::collections::intset::parse_member;
use crate::protocol::resp::Args;
use crate::storage::{Current, ItemType, Lookup, ReadOptions};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("object", -2, [], (2, 2, 1), "generic", "2.2.3",
        "A container for object introspection commands", object),
];

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

const NO_LFU: &[u8] = b"ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// Integers Redis keeps as shared objects (`OBJ_SHARED_INTEGERS`), whose REFCOUNT reads
/// as `INT_MAX`.
const SHARED_INTEGERS: i64 = 10_000;

/// Redis's OBJECT ENCODING name for a stored value.
pub(super) fn encoding_of(cur: &Current<'_>) -> &'static str {
    match (cur.item_type(), cur.is_object()) {
        (ItemType::String, _) if cur.is_raw_string() => "raw",
        (ItemType::String, _) => {
            let bytes = cur.bytes().unwrap_or_default();
            if bytes.len() <= 20 && parse_member(&bytes).is_some() {
                "int"
            } else if bytes.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
        (ItemType::List, _) => "quicklist",
        (ItemType::Hash | ItemType::ZSet, false) => "listpack",
        (ItemType::Hash | ItemType::Set, true) => "hashtable",
        (ItemType::Set, false) => "intset",
        (ItemType::ZSet, true) => "skiplist",
    }
}

/// `OBJECT subcommand [key]`
pub(super) fn object(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let known = ["ENCODING", "FREQ", "IDLETIME", "REFCOUNT", "HELP"]
        .into_iter()
        .find(|s| sub.eq_ignore_ascii_case(s.as_bytes()));
    let Some(sub) = known else {
        return call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try OBJECT HELP.",
            String::from_utf8_lossy(sub)
        ));
    };
    let want = if sub == "HELP" { 2 } else { 3 };
    if args.len() != want {
        return call.wrong_arity(&format!("object|{}", sub.to_ascii_lowercase()));
    }
    if sub == "HELP" {
        call.w.array(HELP.len());
        for line in HELP {
            call.w.simple(line.as_bytes());
        }
        return;
    }
    let key = args.get(2);
    let db = call.db();
    if sub == "IDLETIME" {
        let opts = ReadOptions {
            no_bump: true,
            ..ReadOptions::default()
        };
        return match call
            .ctx
            .store
            .get(db, key, &opts, |item| item.last_access())
        {
            Lookup::Hit(secs) => call.w.integer(i64::from(secs)),
            _ => call.w.null(),
        };
    }
    let found = call.ctx.store.inspect(db, key, |cur| {
        cur.map(|c| {
            let shared = c.item_type() == ItemType::String
                && c.bytes()
                    .and_then(|b| parse_member(&b))
                    .is_some_and(|v| (0..SHARED_INTEGERS).contains(&v));
            (encoding_of(c), shared)
        })
    });
    let Some((encoding, shared)) = found else {
        return call.w.null();
    };
    match sub {
        "ENCODING" => call.w.bulk(encoding.as_bytes()),
        "REFCOUNT" => call.w.integer(if shared { i64::from(i32::MAX) } else { 1 }),
        _ => call.w.error(NO_LFU),
    }
}
