//! Many threads on shared keys: increments, CAS loops and set/get must add up exactly, and
//! values under concurrent eviction must never be torn.

use slabd::storage::*;
use std::sync::Arc;
use std::thread;

const THREADS: usize = 4;

fn value_of(s: &Store, key: &[u8]) -> Option<(Vec<u8>, u64)> {
    match s.get(0, key, &ReadOptions::default(), |it| {
        let mut v = Vec::new();
        it.copy_value_to(&mut v);
        (v, it.cas())
    }) {
        Lookup::Hit(x) => Some(x),
        _ => None,
    }
}

#[test]
fn counters_and_cas_loops_add_up() {
    let clock = Arc::new(Clock::manual(1_700_000_000));
    let store = Arc::new(Store::new(StoreConfig::default(), clock).unwrap());
    store.store(&Write::new(0, b"incr", b"0", 0, Expiry::Never, Mode::Set));
    store.store(&Write::new(0, b"cas", b"0", 0, Expiry::Never, Mode::Set));
    let incrs = 5000u64;
    let cas_rounds = 1000u64;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = store.clone();
            thread::spawn(move || {
                for i in 0..incrs {
                    let r = s.arith(&Arith {
                        db: 0,
                        key: b"incr",
                        incr: true,
                        delta: 1,
                        compare_cas: None,
                        new_cas: None,
                        vivify: None,
                        touch: None,
                    });
                    assert!(matches!(r, ArithOutcome::Value { .. }));
                    // Shared set/get traffic on keys of every thread.
                    let key = format!("shared{}", i % 64);
                    let v = format!("{key}:{t}:{i}");
                    s.store(&Write::new(
                        0,
                        key.as_bytes(),
                        v.as_bytes(),
                        0,
                        Expiry::Never,
                        Mode::Set,
                    ));
                    if let Some((got, _)) = value_of(&s, key.as_bytes()) {
                        assert!(got.starts_with(key.as_bytes()), "torn value {got:?}");
                    }
                }
                let mut retries = 0u64;
                for _ in 0..cas_rounds {
                    loop {
                        let (v, cas) = value_of(&s, b"cas").unwrap();
                        let n: u64 = std::str::from_utf8(&v).unwrap().parse().unwrap();
                        let next = (n + 1).to_string();
                        let mut w =
                            Write::new(0, b"cas", next.as_bytes(), 0, Expiry::Never, Mode::Set);
                        w.compare_cas = Some(cas);
                        match s.store(&w) {
                            StoreOutcome::Stored { .. } => break,
                            StoreOutcome::Exists => retries += 1,
                            other => panic!("{other:?}"),
                        }
                    }
                }
                retries
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total = THREADS as u64;
    let (v, _) = value_of(&store, b"incr").unwrap();
    assert_eq!(
        String::from_utf8(v).unwrap().trim_end(),
        (total * incrs).to_string()
    );
    let (v, _) = value_of(&store, b"cas").unwrap();
    assert_eq!(
        String::from_utf8(v).unwrap(),
        (total * cas_rounds).to_string()
    );
    assert_eq!(store.stats().curr_items, 2 + 64);
}

/// A value that encodes its own key and length, so a torn or misplaced value is detected.
fn payload(key: u32, len: usize) -> Vec<u8> {
    let mut v = key.to_le_bytes().to_vec();
    v.extend((0..len).map(|i| (key as usize).wrapping_mul(7).wrapping_add(i) as u8));
    v
}

#[test]
fn concurrent_eviction_never_tears_values() {
    let clock = Arc::new(Clock::manual(1_700_000_000));
    let cfg = StoreConfig {
        memory_limit: 4 << 20,
        ..StoreConfig::default()
    };
    let store = Arc::new(Store::new(cfg, clock.clone()).unwrap());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = store.clone();
            let clock = clock.clone();
            thread::spawn(move || {
                let mut x = 0x9e37_79b9u32.wrapping_mul(t as u32 + 1);
                for i in 0..30_000u32 {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    let key = x % 20_000;
                    let len = [10usize, 100, 700, 3000, 600_000][(x >> 20) as usize % 5];
                    let len = if len == 600_000 && i % 64 != 0 {
                        50
                    } else {
                        len
                    };
                    let name = format!("k{key}");
                    match (x >> 8) % 4 {
                        0 | 1 => {
                            s.store(&Write::new(
                                0,
                                name.as_bytes(),
                                &payload(key, len),
                                0,
                                Expiry::Never,
                                Mode::Set,
                            ));
                        }
                        2 => {
                            if let Some((v, _)) = value_of(&s, name.as_bytes()) {
                                let len = v.len() - 4;
                                assert_eq!(v, payload(key, len), "torn value for {name}");
                            }
                        }
                        _ => {
                            if t == 0 && i % 1000 == 0 {
                                clock.advance(1);
                                s.maintain();
                                s.reassign(-1, 1 + (i % 7) as i32);
                            }
                            s.delete(&Delete {
                                db: 0,
                                key: name.as_bytes(),
                                compare_cas: None,
                                invalidate: None,
                                drop_value: false,
                            });
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let st = store.stats();
    // A class's first page may go past the limit, as in memcached.
    assert!(st.total_malloced <= (4 << 20) + st.pages_past_limit * (1 << 20));
    let mut live = 0;
    for key in 0..20_000u32 {
        if let Some((v, _)) = value_of(&store, format!("k{key}").as_bytes()) {
            assert_eq!(v, payload(key, v.len() - 4));
            live += 1;
        }
    }
    assert_eq!(live, store.stats().curr_items);
}
