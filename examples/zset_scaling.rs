//! How the sorted-set tree and the list scale: nanoseconds per operation on 1,000,000
//! members against 1,000, in one process (no protocol, no lock, no other thread), the
//! operations of issue 8's complexity target.
//!
//! ```text
//! cargo run --release --example zset_scaling
//! ```
//!
//! Members are `member:%012d` with score = index, as `scripts/bench.d/collections_lz.py`
//! loads them; each operation picks a random member (xorshift), so at 1M the tree (about
//! 55 MB) is read from memory, not from cache — what the server sees, minus its own costs.

use std::hint::black_box;
use std::time::Instant;

use slabd::collections::list::{Fill, List};
use slabd::collections::zset::{ScoreBound, Tree};

fn member(i: u64) -> Vec<u8> {
    format!("member:{i:012}").into_bytes()
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Nanoseconds per call of `f` over `rounds` calls.
fn time(rounds: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        f();
    }
    start.elapsed().as_nanos() as f64 / rounds as f64
}

// One function per operation (never inlined), so that a cache simulator can count each
// one's misses alone:
// `valgrind --tool=callgrind --cache-sim=yes --toggle-collect='zset_scaling::op_*'`
// with `ZS_SIZE=1000000 ZS_ROUNDS=20000`.
#[inline(never)]
fn op_zadd(t: &mut Tree, m: &[u8], s: f64) {
    assert!(t.set_score(m, s));
}

#[inline(never)]
fn op_zrank(t: &Tree, m: &[u8]) {
    black_box(t.rank(m));
}

#[inline(never)]
fn op_range(t: &Tree, value: f64) {
    let min = ScoreBound {
        value,
        exclusive: false,
    };
    let start = t.count_before(|s, _| min.below_min(s));
    black_box(t.iter_from(start).take(10).count());
}

#[inline(never)]
fn op_lindex(list: &List, i: usize) {
    black_box(list.get(i));
}

fn measure(n: u64, rounds: usize) -> [f64; 4] {
    let mut t = Tree::new();
    for i in 0..n {
        t.insert(&member(i), i as f64);
    }
    let mut list = List::new();
    for i in 0..n {
        list.push_back(format!("element:{i:012}").as_bytes(), Fill::default());
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Members to touch, made before timing (the server parses them from the request).
    let picks: Vec<(Vec<u8>, f64)> = (0..rounds)
        .map(|_| (member(rng.below(n)), rng.below(n) as f64))
        .collect();
    let mut k = 0;
    let zadd = time(rounds, || {
        let (m, s) = &picks[k % rounds];
        op_zadd(&mut t, m, *s);
        k += 1;
    });
    let zrank = time(rounds, || {
        op_zrank(&t, &picks[k % rounds].0);
        k += 1;
    });
    let range = time(rounds, || {
        op_range(&t, picks[k % rounds].1);
        k += 1;
    });
    let lindex = time(rounds, || {
        op_lindex(&list, n as usize / 2 + k % 2);
        k += 1;
    });
    [zadd, zrank, range, lindex]
}

fn main() {
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let rounds = env("ZS_ROUNDS", 400_000);
    if let Some(n) = std::env::var("ZS_SIZE").ok().and_then(|v| v.parse().ok()) {
        // One size only (for a cache simulator).
        println!("{:?}", measure(n, rounds));
        return;
    }
    let big = measure(1_000_000, rounds);
    let small = measure(1_000, rounds);
    println!("| operation | ns at 1,000,000 | ns at 1,000 | ratio |");
    println!("|---|---:|---:|---:|");
    let names = [
        "ZADD (move a member)",
        "ZRANK",
        "ZRANGEBYSCORE start + 10",
        "LINDEX middle",
    ];
    for (i, name) in names.iter().enumerate() {
        println!(
            "| {name} | {:.0} | {:.0} | {:.2} |",
            big[i],
            small[i],
            big[i] / small[i]
        );
    }
}
