//! `MEMORY USAGE key [SAMPLES count]` and `MEMORY HELP` (Redis 7.0).
//!
//! USAGE counts what slabd spends on the key: the item (24-byte header, key, value bytes,
//! as the slab chunk holds them), its index slot, and for a large collection the heap
//! object charged to `-m`. SAMPLES is accepted and checked as Redis does; slabd always
//! counts the whole value.

use super::registry::{spec, Spec};
use super::Call;
use crate::protocol::resp::{parse_i64, Args};

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("memory", -2, [], (0, 0, 0), "server", "4.0.0",
        "A container for memory diagnostics commands", memory),
];

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

/// Item header, and an index slot (a 4-byte chunk id and a control byte).
const ITEM_OVERHEAD: usize = 24 + 5;

/// `MEMORY subcommand ...`
pub(super) fn memory(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    if sub.eq_ignore_ascii_case(b"HELP") {
        if args.len() != 2 {
            return call.wrong_arity("memory|help");
        }
        call.w.array(HELP.len());
        for line in HELP {
            call.w.simple(line.as_bytes());
        }
        return;
    }
    if !sub.eq_ignore_ascii_case(b"USAGE") {
        return call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try MEMORY HELP.",
            String::from_utf8_lossy(sub)
        ));
    }
    if args.len() < 3 {
        return call.wrong_arity("memory|usage");
    }
    let mut i = 3;
    while i < args.len() {
        if args.get(i).eq_ignore_ascii_case(b"SAMPLES") && i + 1 < args.len() {
            match parse_i64(args.get(i + 1)) {
                None => return call.not_integer(),
                Some(n) if n < 0 => return call.syntax_error(),
                Some(_) => {}
            }
            i += 2;
        } else {
            return call.syntax_error();
        }
    }
    let key = args.get(2);
    let usage = call.ctx.store.inspect(call.db(), key, |cur| {
        cur.map(|c| {
            let object = c.object().map_or(0, |o| o.mem_usage());
            ITEM_OVERHEAD + key.len() + c.value_len() + object
        })
    });
    match usage {
        Some(n) => call.w.integer(n as i64),
        None => call.w.null(),
    }
}
