//! Hit-ratio experiment behind the eviction policy choice (not a correctness test; run with
//! `cargo test --release --test storage_hitratio -- --ignored --nocapture`).
//!
//! Cache-aside traffic: Zipf-distributed keys, a value size fixed per key (mixed sizes from
//! 50 bytes to 4 KB), a small `-m`; a miss stores the value. The clock advances one second
//! per 10,000 requests and `maintain()` runs every second, so automove is in play.

use slabd::storage::*;
use std::sync::Arc;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for i in 1..=n {
            sum += 1.0 / (i as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

fn value_len(key: usize) -> usize {
    // A mix: mostly small values, some medium, a few large.
    let h = (key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
    match h % 10 {
        0..=5 => 50 + (h % 200) as usize,
        6..=8 => 300 + (h % 1000) as usize,
        _ => 2000 + (h % 2000) as usize,
    }
}

fn run(policy: EvictionPolicy, keys: usize, s: f64, memory_mb: usize, requests: usize) -> f64 {
    let clock = Arc::new(Clock::manual(1_700_000_000));
    let cfg = StoreConfig {
        memory_limit: memory_mb << 20,
        item_size_max: 512 << 10,
        slab_chunk_max: 512 << 10,
        ..StoreConfig::default()
    };
    let store = Store::new(cfg, clock.clone()).unwrap();
    store.set_eviction_policy(policy);
    let zipf = Zipf::new(keys, s);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let value = vec![b'x'; 4096];
    let (mut hits, mut counted) = (0u64, 0u64);
    let opts = ReadOptions {
        is_fetch: true,
        ..ReadOptions::default()
    };
    for r in 0..requests {
        let k = zipf.sample(&mut rng);
        let key = format!("key:{k}");
        let hit = matches!(store.get(0, key.as_bytes(), &opts, |_| ()), Lookup::Hit(()));
        if !hit {
            store.store(&Write::new(
                0,
                key.as_bytes(),
                &value[..value_len(k)],
                0,
                Expiry::Never,
                Mode::Set,
            ));
        }
        // The first fifth warms the cache.
        if r >= requests / 5 {
            counted += 1;
            hits += u64::from(hit);
        }
        if r % 10_000 == 9_999 {
            clock.advance(1);
            store.maintain();
        }
    }
    hits as f64 / counted as f64
}

#[test]
#[ignore = "experiment: prints hit ratios, takes a while"]
fn eviction_policy_hit_ratios() {
    for (keys, s, mb) in [
        (200_000, 0.99, 8),
        (200_000, 0.8, 16),
        (1_000_000, 0.99, 16),
    ] {
        for policy in [
            EvictionPolicy::Clock,
            EvictionPolicy::Clock2,
            EvictionPolicy::Fifo,
            EvictionPolicy::Random,
        ] {
            let ratio = run(policy, keys, s, mb, 2_000_000);
            println!(
                "keys {keys} zipf {s} -m {mb}: {policy:?} hit ratio {:.4}",
                ratio
            );
        }
    }
}
