//! get and set on one and two threads (`cargo bench --bench store`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use slabd::storage::{Clock, Expiry, Lookup, Mode, ReadOptions, Store, StoreConfig, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KEYS: usize = 100_000;

fn keys() -> Vec<[u8; 16]> {
    (0..KEYS)
        .map(|i| {
            let mut k = [b'0'; 16];
            k[..3].copy_from_slice(b"key");
            let s = format!("{i:013}");
            k[3..].copy_from_slice(s.as_bytes());
            k
        })
        .collect()
}

fn loaded_store(keys: &[[u8; 16]]) -> Arc<Store> {
    let store = Store::new(StoreConfig::default(), Arc::new(Clock::system())).unwrap();
    let value = [b'v'; 100];
    for k in keys {
        store.store(&Write::new(0, k, &value, 0, Expiry::Never, Mode::Set));
    }
    Arc::new(store)
}

fn get_one(store: &Store, key: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    let opts = ReadOptions {
        is_fetch: true,
        ..ReadOptions::default()
    };
    matches!(
        store.get(0, key, &opts, |it| it.copy_value_to(out)),
        Lookup::Hit(())
    )
}

/// Runs `op` on `threads` threads, `iters` times in total, and returns the wall time.
/// Each thread gets its own value buffer.
fn parallel(threads: usize, iters: u64, op: impl Fn(usize, u64, &mut Vec<u8>) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let op = &op;
            s.spawn(move || {
                let mut buf = Vec::with_capacity(256);
                for i in 0..iters / threads as u64 {
                    op(t, i, &mut buf);
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let keys = keys();
    let store = loaded_store(&keys);
    let value = [b'w'; 100];
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(1));
    let mut out = Vec::with_capacity(256);
    let mut i = 0usize;
    g.bench_function("get/1t", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            assert!(get_one(&store, &keys[i], &mut out));
        })
    });
    g.bench_function("set/1t", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            store.store(&Write::new(
                0,
                &keys[i],
                &value,
                0,
                Expiry::Never,
                Mode::Set,
            ));
        })
    });
    // Two threads: the time for both to finish their half, per operation.
    g.bench_function("get/2t", |b| {
        b.iter_custom(|iters| {
            parallel(2, iters, |t, i, out| {
                let k = &keys[(i as usize * 7919 + t * 13) % KEYS];
                assert!(get_one(&store, k, out));
            })
        })
    });
    g.bench_function("set/2t", |b| {
        b.iter_custom(|iters| {
            parallel(2, iters, |t, i, _| {
                let k = &keys[(i as usize * 7919 + t * 13) % KEYS];
                store.store(&Write::new(0, k, &value, 0, Expiry::Never, Mode::Set));
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
