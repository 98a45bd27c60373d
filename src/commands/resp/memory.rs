//! `MEMORY USAGE key [SAMPLES count]`, STATS, DOCTOR, MALLOC-STATS, PURGE and HELP
//! (Redis 7.0).
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
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
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
    let plain = |name: &str| sub.eq_ignore_ascii_case(name.as_bytes());
    if ["stats", "doctor", "malloc-stats", "purge"]
        .iter()
        .any(|n| plain(n))
    {
        if args.len() != 2 {
            let name = String::from_utf8_lossy(sub).to_ascii_lowercase();
            return call.wrong_arity(&format!("memory|{name}"));
        }
        if plain("stats") {
            return stats(call);
        } else if plain("doctor") {
            return doctor(call);
        } else if plain("malloc-stats") {
            return call
                .w
                .bulk(b"Stats not supported for the current allocator");
        }
        return call.w.ok();
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

/// MEMORY STATS: Redis's fields that slabd can fill, from the slab store's counters.
/// `total.allocated` is the memory slabd has taken for items (pages) and its index;
/// slabd keeps no peak, so `peak.allocated` is the current figure.
fn stats(call: &mut Call<'_>) {
    let st = call.ctx.store.stats();
    let (_, lua) = call.ctx.scripting.usage();
    let clients = crate::server::limits::client_bytes(&call.ctx.server);
    let total = st.total_malloced + st.hash_bytes;
    let overhead = st.hash_bytes + clients + lua as u64;
    let dataset = st.bytes;
    let per_key = total.checked_div(st.curr_items).unwrap_or(0);
    let percent = |part: u64, whole: u64| {
        if whole == 0 {
            0.0
        } else {
            part as f64 * 100.0 / whole as f64
        }
    };
    let ints: [(&str, u64); 11] = [
        ("peak.allocated", total),
        ("total.allocated", total),
        ("replication.backlog", 0),
        ("clients.slaves", 0),
        ("clients.normal", clients),
        ("aof.buffer", 0),
        ("lua.caches", lua as u64),
        ("overhead.hashtable.main", st.hash_bytes),
        ("overhead.total", overhead),
        ("keys.count", st.curr_items),
        ("keys.bytes-per-key", per_key),
    ];
    let w = &mut call.w;
    w.map(ints.len() + 3);
    for (name, v) in ints {
        w.bulk(name.as_bytes());
        w.integer(v as i64);
    }
    w.bulk(b"dataset.bytes");
    w.integer(dataset as i64);
    w.bulk(b"dataset.percentage");
    w.double(percent(dataset, total));
    w.bulk(b"peak.percentage");
    w.double(100.0);
}

/// MEMORY DOCTOR: Redis's wording; slabd's only finding is items evicted to make room.
fn doctor(call: &mut Call<'_>) {
    let st = call.ctx.store.stats();
    let report = if st.total_malloced < 5 << 20 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector \
         can't be used in these conditions. Please, leave for your mission on Earth and fill \
         it with some data. The new Sam and I will be back to our programming as soon as I \
         finished rebooting."
            .to_string()
    } else if st.evictions > 0 {
        format!(
            "Sam, I detected a few issues in this Redis instance memory implants:\n\n \
             * Evictions: {} items were evicted to make room (-m {} bytes is full). This is \
             what a cache does; if it is not what you want, give slabd more memory (-m or \
             CONFIG SET maxmemory).\n\nI'm here to keep you safe, Sam. I want to help you.\n",
            st.evictions, st.limit_maxbytes
        )
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what \
         occurs on this base."
            .to_string()
    };
    call.w.verbatim(b"txt", report.as_bytes());
}
