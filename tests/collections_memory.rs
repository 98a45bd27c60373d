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
