//! Resident memory per item: loads N items (16-byte keys, 100-byte values) into a store in
//! this process, or into a running memcached over TCP, and reads VmRSS before and after.
//!
//! ```text
//! slabd-memtest store [items] [memory_mb]
//! slabd-memtest memcached <host:port> <pid> [items]
//! slabd-memtest gets [items] [gets]
//! ```
//!
//! `gets` loads the items and then reads them round-robin, for instruction counts of the
//! get path (`valgrind --tool=callgrind`, run twice with different `gets` and subtract).

use slabd::storage::{Clock, Expiry, Lookup, Mode, ReadOptions, Store, StoreConfig, Write};
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;

const VALUE_LEN: usize = 100;

fn rss_kib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn key(i: usize) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(format!("key:{i:012}").as_bytes());
    k
}

fn report(what: &str, items: usize, before: u64, after: u64) {
    let per_item = (after - before) as f64 * 1024.0 / items as f64;
    println!(
        "{what}: {items} items, RSS before {before} KiB, after {after} KiB, {per_item:.1} bytes/item"
    );
}

fn store_mode(items: usize, memory_mb: usize) -> Result<(), String> {
    let cfg = StoreConfig {
        memory_limit: memory_mb << 20,
        ..StoreConfig::default()
    };
    let store = Store::new(cfg, Arc::new(Clock::system())).map_err(|e| e.to_string())?;
    let before = rss_kib("self");
    let value = [b'v'; VALUE_LEN];
    for i in 0..items {
        let k = key(i);
        store.store(&Write::new(0, &k, &value, 0, Expiry::Never, Mode::Set));
    }
    let after = rss_kib("self");
    let st = store.stats();
    report("slabd store", items, before, after);
    println!(
        "curr_items {} evictions {} item memory {} bytes ({:.1}/item) index {} bytes ({:.1}/item)",
        st.curr_items,
        st.evictions,
        st.total_malloced,
        st.total_malloced as f64 / items as f64,
        st.hash_bytes,
        st.hash_bytes as f64 / items as f64
    );
    for c in store.slab_stats().iter().filter(|c| c.number > 0) {
        println!(
            "class {} chunk {} items {} pages {} requested {}",
            c.id, c.chunk_size, c.number, c.total_pages, c.mem_requested
        );
    }
    Ok(())
}

fn memcached_mode(addr: &str, pid: &str, items: usize) -> Result<(), String> {
    let before = rss_kib(pid);
    let stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let mut out =
        std::io::BufWriter::with_capacity(1 << 20, stream.try_clone().map_err(|e| e.to_string())?);
    let mut reader = BufReader::new(stream);
    let value = [b'v'; VALUE_LEN];
    for i in 0..items {
        let k = key(i);
        out.write_all(b"set ")
            .and_then(|_| out.write_all(&k))
            .map_err(|e| e.to_string())?;
        write!(out, " 0 0 {VALUE_LEN} noreply\r\n").map_err(|e| e.to_string())?;
        out.write_all(&value)
            .and_then(|_| out.write_all(b"\r\n"))
            .map_err(|e| e.to_string())?;
    }
    out.write_all(b"version\r\n")
        .and_then(|_| out.flush())
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.starts_with("VERSION") {
        return Err(format!("unexpected reply: {line:?}"));
    }
    let after = rss_kib(pid);
    report("memcached", items, before, after);
    Ok(())
}

fn gets_mode(items: usize, gets: usize) -> Result<(), String> {
    let store =
        Store::new(StoreConfig::default(), Arc::new(Clock::system())).map_err(|e| e.to_string())?;
    let value = [b'v'; VALUE_LEN];
    let keys: Vec<[u8; 16]> = (0..items).map(key).collect();
    for k in &keys {
        store.store(&Write::new(0, k, &value, 0, Expiry::Never, Mode::Set));
    }
    let opts = ReadOptions {
        is_fetch: true,
        ..ReadOptions::default()
    };
    let mut out = Vec::with_capacity(VALUE_LEN);
    let mut hits = 0usize;
    for i in 0..gets {
        out.clear();
        let k = &keys[i.wrapping_mul(7919) % items.max(1)];
        if let Lookup::Hit(()) = store.get(0, k, &opts, |it| it.copy_value_to(&mut out)) {
            hits += 1;
        }
    }
    println!("gets: {items} items, {gets} gets, {hits} hits");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num =
        |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let result = match args.first().map(String::as_str) {
        Some("store") => store_mode(num(1, 2_000_000), num(2, 1024)),
        Some("gets") => gets_mode(num(1, 100_000), num(2, 1_000_000)),
        Some("memcached") if args.len() >= 3 => {
            memcached_mode(&args[1], &args[2], num(3, 2_000_000))
        }
        _ => Err(
            "usage: slabd-memtest store [items] [memory_mb] | memcached <host:port> <pid> [items] | gets [items] [gets]"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("slabd-memtest: {e}");
            ExitCode::FAILURE
        }
    }
}
