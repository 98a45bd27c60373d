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

fn measure(n: u64) -> [f64; 4] {
    let mut t = Tree::new();
    for i in 0..n {
        t.insert(&member(i), i as f64);
    }
    let mut list = List::new();
    for i in 0..n {
        list.push_back(format!("element:{i:012}").as_bytes(), Fill::default());
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let rounds = 400_000;
    // Members to touch, made before timing (the server parses them from the request).
    let picks: Vec<(Vec<u8>, f64)> = (0..rounds)
        .map(|_| (member(rng.below(n)), rng.below(n) as f64))
        .collect();
    let mut k = 0;
    let zadd = time(rounds, || {
        let (m, s) = &picks[k % rounds];
        assert!(t.set_score(m, *s));
        k += 1;
    });
    let zrank = time(rounds, || {
        black_box(t.rank(&picks[k % rounds].0));
        k += 1;
    });
    let range = time(rounds, || {
        let min = ScoreBound {
            value: picks[k % rounds].1,
            exclusive: false,
        };
        let start = t.count_before(|s, _| min.below_min(s));
        black_box(t.iter_from(start).take(10).count());
        k += 1;
    });
    let lindex = time(rounds, || {
        black_box(list.get(n as usize / 2 + k % 2));
        k += 1;
    });
    [zadd, zrank, range, lindex]
}

fn main() {
    let big = measure(1_000_000);
    let small = measure(1_000);
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
