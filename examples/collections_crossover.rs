//! Where a hash should leave the compact form: bytes per field and time per HGET / HSET
//! (update of an existing field) for the compact run (`listpack`) and the table
//! (`hashtable`) at growing sizes, with 8-byte fields and 16-byte values.
//!
//! ```text
//! cargo run --release --example collections_crossover
//! ```
//!
//! The compact form's bytes are what the slab item holds (plus the item header and key,
//! the same for both forms); the table's are [`Table::heap_bytes`], what the store charges
//! to `-m`, plus the 4-byte handle the item keeps. The compact form is rewritten into a
//! fresh buffer on every update (the store copies the item's bytes out and back), which is
//! what its HSET time includes.

use std::hint::black_box;
use std::time::Instant;

use slabd::collections::compact::CompactBuf;
use slabd::collections::hash::{HashMut, HashRef};
use slabd::collections::table::Table;
use slabd::collections::HashLimits;

const LIMITS: HashLimits = HashLimits {
    entries: usize::MAX,
    value: usize::MAX,
};

fn field(i: usize) -> [u8; 8] {
    let mut f = *b"f0000000";
    f[1..].copy_from_slice(format!("{i:07}").as_bytes());
    f
}

/// Nanoseconds per call of `f` over `rounds` calls.
fn time(rounds: usize, mut f: impl FnMut(usize)) -> f64 {
    let start = Instant::now();
    for i in 0..rounds {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / rounds as f64
}

fn main() {
    let value = [b'v'; 16];
    println!("fields  compact B/field  table B/field  compact HGET ns  table HGET ns  compact HSET ns  table HSET ns");
    for n in [8usize, 16, 32, 64, 128, 256, 512, 1024] {
        let mut compact = HashMut::Compact(CompactBuf::new());
        let mut table = Table::default();
        for i in 0..n {
            compact.set(&field(i), &value, LIMITS);
            table.insert(&field(i), &value);
        }
        let HashMut::Compact(buf) = compact else {
            unreachable!("limits keep it compact")
        };
        let rounds = 2_000_000 / n.max(64) * 16;
        let fields: Vec<[u8; 8]> = (0..n).map(field).collect();
        let view = HashRef::Compact(buf.view());
        let c_get = time(rounds, |i| {
            black_box(view.get(&fields[(i * 7919) % n]));
        });
        let tref = HashRef::Table(&table);
        let t_get = time(rounds, |i| {
            black_box(tref.get(&fields[(i * 7919) % n]));
        });
        let c_set = time(rounds / 4, |i| {
            let mut h = HashMut::Compact(CompactBuf::from_bytes(buf.as_bytes()).unwrap());
            h.set(&fields[(i * 7919) % n], &value, LIMITS);
            black_box(h.finish(true));
        });
        let t_set = time(rounds, |i| {
            black_box(table.insert(&fields[(i * 7919) % n], &value));
        });
        println!(
            "{n:6}  {:15.1}  {:13.1}  {c_get:15.1}  {t_get:13.1}  {c_set:15.1}  {t_set:13.1}",
            buf.as_bytes().len() as f64 / n as f64,
            (table.heap_bytes() + 4) as f64 / n as f64,
        );
    }
}
