//! Collections inside the `-m` budget: a server started with `-m 8` is filled with many
//! times that in hashes and sets, small (compact items) and large (heap tables); every
//! write succeeds (old keys are evicted to make room), `used_memory` stays at the limit
//! and the process's resident memory stays bounded.

mod common;
mod resp_wire;

use resp_wire::{daemon, encode, int, Resp};

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {info}"))
}

/// Sends `commands` pipelined and checks every reply.
fn pipeline(r: &mut common::Conn, commands: &[(Vec<u8>, &str)]) {
    let mut bytes = Vec::new();
    for (c, _) in commands {
        bytes.extend_from_slice(c);
    }
    r.send(&bytes);
    for (i, (_, want)) in commands.iter().enumerate() {
        assert_eq!(String::from_utf8(r.reply()).unwrap(), *want, "command {i}");
    }
}

#[test]
fn collections_fill_minus_m_8_by_eviction() {
    let d = daemon(&["-m", "8"]);
    let mut r = d.connect_resp();
    let value = "v".repeat(16);
    let fields: Vec<String> = (0..10).map(|i| format!("field{i:03}")).collect();
    let members: Vec<String> = (0..1000).map(|i| format!("member-{i:06}")).collect();
    // 60,000 small hashes of 10 fields (about 18 MB of compact items) and, among them,
    // 300 sets of 1,000 members (heap tables, about 20 MB charged to the budget).
    let mut batch = Vec::new();
    for k in 0..60_000 {
        let key = format!("hash:{k:07}");
        let mut args: Vec<&[u8]> = vec![b"HSET", key.as_bytes()];
        for f in &fields {
            args.push(f.as_bytes());
            args.push(value.as_bytes());
        }
        batch.push((encode(&args), ":10\r\n"));
        if k % 200 == 0 {
            let key = format!("set:{:05}", k / 200);
            let mut args: Vec<&[u8]> = vec![b"SADD", key.as_bytes()];
            args.extend(members.iter().map(String::as_bytes));
            batch.push((encode(&args), ":1000\r\n"));
        }
        if batch.len() >= 200 {
            pipeline(&mut r, &batch);
            batch.clear();
        }
    }
    pipeline(&mut r, &batch);
    let info = r.cmd(&["INFO", "memory"]);
    let used = info_field(&info, "used_memory");
    let limit = info_field(&info, "maxmemory");
    assert_eq!(limit, 8 << 20);
    assert!(
        used <= limit + (1 << 20),
        "used_memory {used} over the limit {limit}"
    );
    let keys = int(&r.cmd(&["DBSIZE"]));
    assert!(
        keys > 0 && keys < 60_300,
        "evictions made room: {keys} keys"
    );
    // The latest writes are there and whole.
    r.check(&["SCARD", "set:00299"], ":1000\r\n");
    r.check(&["HLEN", "hash:0059999"], ":10\r\n");
    let rss = rss_kib(d.pid());
    assert!(rss < 96 * 1024, "resident memory {rss} KiB for -m 8");
    r.check(&["PING"], "+PONG\r\n");
}

/// After `-m 8` is full of small hashes (one class holding every page), a value that needs
/// chunks of classes with few or no pages (a chained 0.6-4 MB string) is stored by moving
/// pages from the full class at once: never OOM, `used_memory` never past the limit, and a
/// page move evicts only the items of the pages it takes (an item in the writer's own
/// locked stripe used to make every page busy, so each try evicted a page's items and took
/// nothing, until the cache was empty and the write failed with OOM).
#[test]
fn a_write_in_an_empty_class_moves_pages_after_hashes_fill_minus_m_8() {
    let d = daemon(&["-m", "8"]);
    let mut r = d.connect_resp();
    let value = "v".repeat(16);
    let fields: Vec<String> = (0..10).map(|i| format!("field{i:03}")).collect();
    let mut batch = Vec::new();
    for k in 0..40_000 {
        let key = format!("hash:{k:07}");
        let mut args: Vec<&[u8]> = vec![b"HSET", key.as_bytes()];
        for f in &fields {
            args.push(f.as_bytes());
            args.push(value.as_bytes());
        }
        batch.push((encode(&args), ":10\r\n"));
        if batch.len() >= 500 {
            pipeline(&mut r, &batch);
            batch.clear();
        }
    }
    pipeline(&mut r, &batch);
    let full = int(&r.cmd(&["DBSIZE"]));
    let limit = 8u64 << 20;
    for (i, size) in [600_000usize, 1_000_000, 1_500_000, 3_000_000, 4_000_000]
        .into_iter()
        .enumerate()
    {
        let key = format!("big:{i}");
        let big = "x".repeat(size);
        r.check(&["SET", &key, &big], "+OK\r\n");
        r.check(&["STRLEN", &key], &format!(":{size}\r\n"));
        let used = info_field(&r.cmd(&["INFO", "memory"]), "used_memory");
        assert!(
            used <= limit,
            "used_memory {used} past the limit after {size} bytes"
        );
        if i == 0 {
            // Two pages moved (the head's class and the tail's): about 2/8 of the hashes.
            let left = int(&r.cmd(&["DBSIZE"]));
            assert!(
                left > full / 2,
                "{left} of {full} keys left after one 600 KB SET"
            );
        }
    }
    assert!(int(&r.cmd(&["DBSIZE"])) > 1);
}

/// INFO's `used_memory` counts the heap objects of large collections with the slab pages
/// (it read 1,048,576, one page, after a 1,000,000-element list), and drops when they go.
#[test]
fn used_memory_counts_heap_objects() {
    let d = daemon(&["-m", "256"]);
    let mut r = d.connect_resp();
    let members: Vec<String> = (0..200_000).map(|i| format!("member-{i:07}")).collect();
    let mut args: Vec<&[u8]> = vec![b"SADD", b"s"];
    args.extend(members.iter().map(String::as_bytes));
    pipeline(&mut r, &[(encode(&args), ":200000\r\n")]);
    let usage = int(&r.cmd(&["MEMORY", "USAGE", "s"])) as u64;
    assert!(usage > 200_000 * 16, "MEMORY USAGE {usage}");
    let used = info_field(&r.cmd(&["INFO", "memory"]), "used_memory");
    assert!(
        used >= usage,
        "used_memory {used} < the set's {usage} bytes"
    );
    r.check(&["DEL", "s"], ":1\r\n");
    let after = info_field(&r.cmd(&["INFO", "memory"]), "used_memory");
    assert!(
        after + usage / 2 < used,
        "used_memory {after} after DEL (was {used})"
    );
}
