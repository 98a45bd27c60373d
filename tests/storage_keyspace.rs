//! Keyspace walks, background maintenance and page moves.

use slabd::storage::*;
use std::collections::HashSet;
use std::sync::Arc;

fn store_with(cfg: StoreConfig) -> (Store, Arc<Clock>) {
    let clock = Arc::new(Clock::manual(1_700_000_000));
    (Store::new(cfg, clock.clone()).unwrap(), clock)
}

fn put(s: &Store, db: u8, key: &[u8], value: &[u8], e: Expiry) -> StoreOutcome {
    s.store(&Write::new(db, key, value, 0, e, Mode::Set))
}

fn value(s: &Store, db: u8, key: &[u8]) -> Option<Vec<u8>> {
    match s.get(db, key, &ReadOptions::default(), |i| {
        let mut v = Vec::new();
        i.copy_value_to(&mut v);
        v
    }) {
        Lookup::Hit(v) => Some(v),
        _ => None,
    }
}

#[test]
fn scan_sees_every_key_once_per_pass() {
    let (s, _) = store_with(StoreConfig::default());
    for i in 0..5000 {
        put(&s, 1, format!("k{i}").as_bytes(), b"v", Expiry::Never);
    }
    put(&s, 0, b"other-db", b"v", Expiry::Never);
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut calls = 0;
    loop {
        cursor = s.scan(1, cursor, 10, |it| seen.push(it.key().to_vec()));
        calls += 1;
        if cursor == 0 {
            break;
        }
    }
    assert!(calls > 1);
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), 5000);
    assert_eq!(seen.len(), 5000);
    assert!(!unique.contains(b"other-db".as_slice()));
}

/// Redis's unit/keyspace "RANDOMKEY": with two keys, 100 calls return each of them.
/// (A walk from a random stripe to the next non-empty one returned one key ~always.)
#[test]
fn random_key_returns_every_key_of_a_sparse_database() {
    let (s, _clock) = store_with(StoreConfig::default());
    // Sixteen pairs in sixteen databases: whatever stripes the keys hash to, a walk
    // biased by the gaps between them misses one key of some pair.
    for db in 0..16u8 {
        let (a, b) = (
            format!("foo{db}").into_bytes(),
            format!("bar{db}").into_bytes(),
        );
        put(&s, db, &a, b"1", Expiry::Never);
        put(&s, db, &b, b"2", Expiry::Never);
        let seen: HashSet<Vec<u8>> = (0..100).map(|_| s.random_key(db).unwrap()).collect();
        assert_eq!(seen, HashSet::from([a, b]), "db {db}");
    }
}

/// RANDOMKEY draws every key with the same chance. 1,024 keys in the store's 1,024
/// stripes fill them unevenly (about 37% empty, some with 4 or 5 keys): the former draw,
/// a random non-empty stripe and then a key in it, favoured keys alone in their stripe
/// about 1.6 times and gave a chi-square near 10,000 over 50,000 draws. Uniform draws give
/// 1,023 ± 45; the bound sits ten standard deviations above (a false alarm is far rarer
/// than one in 10^12).
#[test]
fn random_key_draws_every_key_equally_often() {
    let (s, _clock) = store_with(StoreConfig::default());
    let keys = 1024;
    for i in 0..keys {
        put(&s, 4, format!("key:{i}").as_bytes(), b"v", Expiry::Never);
    }
    let draws = 50_000;
    let mut counts = std::collections::HashMap::new();
    for _ in 0..draws {
        *counts.entry(s.random_key(4).unwrap()).or_insert(0u64) += 1;
    }
    assert_eq!(counts.len(), keys, "every key drawn at least once");
    let expected = draws as f64 / keys as f64;
    let chi2: f64 = counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    let df = (keys - 1) as f64;
    assert!(
        chi2 < df + 10.0 * (2.0 * df).sqrt(),
        "chi-square {chi2:.0} over {df} degrees of freedom: not uniform"
    );
}

#[test]
fn random_key_keyspace_for_each_and_sizes() {
    let (s, clock) = store_with(StoreConfig::default());
    assert_eq!(s.random_key(2), None);
    put(&s, 2, b"a", b"1", Expiry::Never);
    put(&s, 2, b"b", b"22", Expiry::at_secs(clock.unix_now() + 100));
    put(&s, 3, b"c", b"333", Expiry::Never);
    let k = s.random_key(2).unwrap();
    assert!(k == b"a" || k == b"b");
    let ks = s.keyspace();
    assert_eq!(ks.len(), 16);
    assert_eq!(
        ks[2],
        KeyspaceStats {
            keys: 2,
            expires: 1
        }
    );
    assert_eq!(
        ks[3],
        KeyspaceStats {
            keys: 1,
            expires: 0
        }
    );
    let mut all = Vec::new();
    s.for_each(|db, it| all.push((db, it.key().to_vec())));
    all.sort();
    assert_eq!(
        all,
        vec![(2, b"a".to_vec()), (2, b"b".to_vec()), (3, b"c".to_vec())]
    );
    // 24-byte header + 1 + 1, + 1 + 2, + 1 + 3: all round up to 32.
    assert_eq!(s.size_histogram(), vec![(32, 3)]);
}

#[test]
fn rename_within_and_across_databases() {
    let (s, _) = store_with(StoreConfig::default());
    assert_eq!(s.rename(0, b"nope", 0, b"x", false), Ok(false));
    put(&s, 0, b"src", b"payload", Expiry::Never);
    put(&s, 0, b"dst", b"old", Expiry::Never);
    assert_eq!(s.rename(0, b"src", 0, b"dst", true), Ok(false));
    assert_eq!(s.rename(0, b"src", 0, b"src", true), Ok(false));
    assert_eq!(s.rename(0, b"src", 0, b"src", false), Ok(true));
    assert_eq!(s.rename(0, b"src", 0, b"dst", false), Ok(true));
    assert_eq!(value(&s, 0, b"dst").unwrap(), b"payload");
    assert_eq!(value(&s, 0, b"src"), None);
    assert_eq!(s.rename(0, b"dst", 5, b"moved", false), Ok(true));
    assert_eq!(value(&s, 5, b"moved").unwrap(), b"payload");
    assert_eq!(s.db_len(0), 0);
    assert_eq!(s.db_len(5), 1);
    // Many renames hit both the one-stripe and the two-stripe paths.
    for i in 0..500 {
        let from = format!("r{i}");
        let to = format!("r{}", i + 1);
        if i == 0 {
            put(&s, 0, from.as_bytes(), b"x", Expiry::Never);
        }
        assert_eq!(
            s.rename(0, from.as_bytes(), 0, to.as_bytes(), false),
            Ok(true)
        );
    }
    assert_eq!(value(&s, 0, b"r500").unwrap(), b"x");
    assert_eq!(s.db_len(0), 1);
}

#[test]
fn crawler_reclaims_expired_items_without_traffic() {
    let (s, clock) = store_with(StoreConfig::default());
    for i in 0..3000 {
        let e = if i % 2 == 0 {
            Expiry::at_secs(clock.unix_now() + 10)
        } else {
            Expiry::Never
        };
        put(&s, 0, format!("k{i}").as_bytes(), b"v", e);
    }
    s.flush(Some(1), 0);
    s.maintain();
    assert_eq!(s.stats().curr_items, 3000);
    clock.advance(10);
    s.crawl();
    let st = s.stats();
    assert_eq!(st.curr_items, 1500);
    assert_eq!(st.crawler_reclaimed, 1500);
    assert_eq!(st.expired_unfetched, 1500);
    let class = s.slab_stats().into_iter().find(|c| c.number > 0).unwrap();
    assert_eq!(class.free_chunks, 1500);
}

/// A crawl walks a class once, however far short of its slot budget the class is: 3,000
/// items are checked 3,000 times (the budget of 20,480 slots once walked them ~7 times).
#[test]
fn a_crawl_checks_each_item_once() {
    let (s, _) = store_with(StoreConfig::default());
    for i in 0..3000 {
        put(&s, 0, format!("k{i}").as_bytes(), b"v", Expiry::Never);
    }
    s.crawl();
    assert_eq!(s.stats().crawler_items_checked, 3000);
    s.crawl();
    assert_eq!(s.stats().crawler_items_checked, 6000);
}

#[test]
fn reassign_moves_a_page_and_keeps_items_consistent() {
    let cfg = StoreConfig {
        memory_limit: 8 << 20,
        slab_automove: 0,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    let small = vec![b's'; 40];
    for i in 0..40_000 {
        put(&s, 0, format!("s{i}").as_bytes(), &small, Expiry::Never);
    }
    let sizes = s.class_sizes();
    let small_class = s.slab_stats().into_iter().find(|c| c.number > 0).unwrap();
    assert!(small_class.total_pages >= 2);
    let big_id = sizes.iter().position(|&c| c >= 2000).unwrap() as i32 + 1;
    assert_eq!(
        s.reassign(small_class.id as i32, small_class.id as i32),
        ReassignOutcome::Same
    );
    assert_eq!(s.reassign(0, big_id), ReassignOutcome::BadClass);
    assert_eq!(s.reassign(1, 99), ReassignOutcome::BadClass);
    assert_eq!(s.reassign(big_id, 1), ReassignOutcome::NoSpare);
    assert_eq!(
        s.reassign(small_class.id as i32, big_id),
        ReassignOutcome::Ok
    );
    let after: Vec<_> = s.slab_stats();
    let moved = &after[small_class.id as usize - 1];
    assert_eq!(moved.total_pages, small_class.total_pages - 1);
    assert_eq!(after[big_id as usize - 1].total_pages, 1);
    assert_eq!(s.stats().slabs_moved, 1);
    // Every remaining item still reads back intact.
    let mut live = 0;
    for i in 0..40_000 {
        if let Some(v) = value(&s, 0, format!("s{i}").as_bytes()) {
            assert_eq!(v, small);
            live += 1;
        }
    }
    assert_eq!(live, s.stats().curr_items);
    assert_eq!(moved.number, live);
    assert!(live <= moved.total_pages * moved.chunks_per_page);
    // The moved page serves the big class.
    let big = vec![b'b'; 1900];
    assert!(matches!(
        put(&s, 0, b"big", &big, Expiry::Never),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(value(&s, 0, b"big").unwrap(), big);
    let unsafe_store = store_with(StoreConfig {
        slab_reassign: false,
        ..StoreConfig::default()
    })
    .0;
    assert_eq!(unsafe_store.reassign(1, 2), ReassignOutcome::Unsafe);
}

#[test]
fn automove_feeds_a_starving_class() {
    let cfg = StoreConfig {
        memory_limit: 8 << 20,
        ..StoreConfig::default()
    };
    let (s, clock) = store_with(cfg);
    // Fill all memory with small items, then, later, switch to large ones: the small
    // class's oldest item is old, the large class evicts young items.
    for i in 0..80_000 {
        put(&s, 0, format!("s{i}").as_bytes(), &[1u8; 40], Expiry::Never);
    }
    clock.advance(600);
    let big = vec![2u8; 3000];
    let mut stored_big = 0;
    for round in 0..20 {
        for i in 0..50 {
            if let StoreOutcome::Stored { .. } = put(
                &s,
                0,
                format!("b{round}-{i}").as_bytes(),
                &big,
                Expiry::Never,
            ) {
                stored_big += 1;
            }
        }
        clock.advance(1);
        s.maintain();
    }
    assert!(s.stats().slabs_moved > 0);
    let big_class = s
        .slab_stats()
        .into_iter()
        .find(|c| c.chunk_size >= 3000 && c.number > 0)
        .unwrap();
    assert!(big_class.total_pages > 1, "{big_class:?}");
    assert!(stored_big > 0);
}

#[test]
fn memory_limit_can_be_lowered_and_raised() {
    let cfg = StoreConfig {
        memory_limit: 32 << 20,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    for i in 0..200_000 {
        put(
            &s,
            0,
            format!("k{i}").as_bytes(),
            &[0u8; 100],
            Expiry::Never,
        );
    }
    assert!(s.stats().total_malloced > 16 << 20);
    assert!(s.set_memory_limit(4 << 20).is_err());
    s.set_memory_limit(16 << 20).unwrap();
    s.maintain();
    let st = s.stats();
    assert_eq!(st.limit_maxbytes, 16 << 20);
    let bound = (16 << 20) + st.pages_past_limit * (1 << 20);
    assert!(st.total_malloced <= bound, "{}", st.total_malloced);
    let live = (0..200_000)
        .filter(|i| value(&s, 0, format!("k{i}").as_bytes()).is_some())
        .count() as u64;
    assert_eq!(live, st.curr_items);
    s.set_memory_limit(64 << 20).unwrap();
    for i in 0..200_000 {
        put(
            &s,
            0,
            format!("n{i}").as_bytes(),
            &[0u8; 100],
            Expiry::Never,
        );
    }
    assert!(s.stats().total_malloced > 16 << 20);
}

#[test]
fn swap_db_exchanges_whole_databases() {
    let (s, clock) = store_with(StoreConfig::default());
    for i in 0..300 {
        put(&s, 1, format!("a{i}").as_bytes(), b"one", Expiry::Never);
    }
    put(&s, 2, b"b", b"two", Expiry::at_secs(clock.unix_now() + 100));
    put(&s, 1, b"shared", b"from-1", Expiry::Never);
    put(&s, 2, b"shared", b"from-2", Expiry::Never);
    put(&s, 3, b"c", b"three", Expiry::Never);
    s.swap_db(1, 2);
    assert_eq!(value(&s, 1, b"shared").unwrap(), b"from-2");
    assert_eq!(value(&s, 2, b"shared").unwrap(), b"from-1");
    assert_eq!(value(&s, 1, b"b").unwrap(), b"two");
    assert_eq!(value(&s, 2, b"a7").unwrap(), b"one");
    assert_eq!(value(&s, 1, b"a7"), None);
    assert_eq!((s.db_len(1), s.db_len(2), s.db_len(3)), (2, 301, 1));
    let ks = s.keyspace();
    assert_eq!((ks[1].keys, ks[1].expires), (2, 1));
    assert_eq!((ks[2].keys, ks[2].expires), (301, 0));
    let mut scanned = 0;
    let mut cursor = 0;
    loop {
        cursor = s.scan(1, cursor, 100, |it| {
            assert!(it.key() == b"b" || it.key() == b"shared");
            scanned += 1;
        });
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(scanned, 2);
    // Writes, deletes, flushes and moves after the swap address the new contents.
    put(&s, 1, b"new", b"n", Expiry::Never);
    assert_eq!(value(&s, 2, b"new"), None);
    let del = Delete {
        db: 2,
        key: b"shared",
        compare_cas: None,
        invalidate: None,
        drop_value: false,
    };
    assert_eq!(s.delete(&del), DeleteOutcome::Deleted);
    assert_eq!(value(&s, 1, b"shared").unwrap(), b"from-2");
    assert_eq!(s.rename(1, b"b", 3, b"b", true), Ok(true), "MOVE");
    assert_eq!(value(&s, 3, b"b").unwrap(), b"two");
    s.flush(Some(2), 0);
    assert_eq!(value(&s, 2, b"a7"), None);
    assert_eq!(value(&s, 1, b"shared").unwrap(), b"from-2");
    // Swapping back, and swapping a db with itself, restore the original numbering.
    s.swap_db(2, 1);
    s.swap_db(3, 3);
    assert_eq!(value(&s, 2, b"new").unwrap(), b"n");
    assert_eq!(value(&s, 3, b"c").unwrap(), b"three");
    let mut dbs = HashSet::new();
    s.for_each(|db, _| {
        dbs.insert(db);
    });
    assert_eq!(dbs, HashSet::from([2, 3]));
}

#[test]
fn swap_db_waits_for_an_operation_in_flight() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (s, _) = store_with(StoreConfig::default());
    put(&s, 0, b"k", b"zero", Expiry::Never);
    put(&s, 1, b"k", b"one", Expiry::Never);
    let finished = AtomicBool::new(false);
    let (inside_tx, inside_rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let seen = s.get(0, b"k", &ReadOptions::default(), |it| {
                inside_tx.send(()).unwrap();
                // Long enough that a swap not waiting for this stripe would finish first.
                std::thread::sleep(std::time::Duration::from_millis(50));
                let mut v = Vec::new();
                it.copy_value_to(&mut v);
                finished.store(true, Ordering::SeqCst);
                v
            });
            assert_eq!(seen, Lookup::Hit(b"zero".to_vec()));
        });
        inside_rx.recv().unwrap();
        s.swap_db(0, 1);
        assert!(
            finished.load(Ordering::SeqCst),
            "the swap returned while a read of db 0 was still running"
        );
    });
    assert_eq!(value(&s, 0, b"k").unwrap(), b"one");
}

#[test]
fn concurrent_swaps_lose_no_update() {
    let (s, _) = store_with(StoreConfig::default());
    for db in [0, 1] {
        put(&s, db, b"n", b"0", Expiry::Never);
    }
    const THREADS: u64 = 2;
    const INCRS: u64 = 3000;
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let s = &s;
            scope.spawn(move || {
                for i in 0..INCRS {
                    let out = s.arith(&Arith {
                        db: ((i + t) % 2) as u8,
                        key: b"n",
                        incr: true,
                        delta: 1,
                        compare_cas: None,
                        new_cas: None,
                        vivify: None,
                        touch: None,
                    });
                    assert!(matches!(out, ArithOutcome::Value { .. }), "{out:?}");
                }
            });
        }
        scope.spawn(|| {
            for _ in 0..200 {
                s.swap_db(0, 1);
            }
        });
    });
    let counter = |db| {
        let v = value(&s, db, b"n").unwrap();
        String::from_utf8(v).unwrap().trim().parse::<u64>().unwrap()
    };
    assert_eq!(counter(0) + counter(1), THREADS * INCRS);
    assert_eq!((s.db_len(0), s.db_len(1)), (1, 1));
    assert_eq!(s.stats().curr_items, 2);
}
