//! The store's memory limit through its public API, with a manual clock: eviction
//! order and what it spares, chained items, free-chunk reuse, size and config limits.

mod common;

use common::store::*;
use slabd::storage::*;
use std::sync::Arc;

#[test]
fn eviction_at_memory_limit() {
    let cfg = StoreConfig {
        memory_limit: 4 << 20,
        item_size_max: 1 << 20,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    let value = vec![b'x'; 100];
    let n = 200_000;
    for i in 0..n {
        let key = format!("key:{i}");
        assert!(matches!(
            set(&s, key.as_bytes(), &value),
            StoreOutcome::Stored { .. }
        ));
    }
    let st = s.stats();
    assert!(st.total_malloced <= (4 << 20) + st.pages_past_limit * (1 << 20));
    assert!(st.evictions > 0);
    assert_eq!(st.curr_items + st.evictions, n);
    // The most recent key survives.
    assert!(fetch(&s, format!("key:{}", n - 1).as_bytes()).is_some());
    let slabs = s.slab_stats();
    let class = slabs.iter().find(|c| c.number > 0).unwrap();
    assert_eq!(class.number, st.curr_items);
    assert!(class.evicted > 0);
    // `stats reset` zeroes the counters, not the gauges.
    s.reset_stats();
    let after = s.stats();
    assert_eq!((after.evictions, after.total_items), (0, 0));
    assert_eq!(after.curr_items, st.curr_items);
    let class = s.slab_stats().into_iter().find(|c| c.number > 0).unwrap();
    assert_eq!((class.evicted, class.evicted_nonzero), (0, 0));
    assert_eq!(class.number, st.curr_items);
}

#[test]
fn chained_items_keep_storing_when_every_page_holds_tails() {
    // memcached's t/chunked-items.t: once the largest class owns all memory, values whose
    // last piece needs a class without pages must still be stored (by eviction).
    let cfg = StoreConfig {
        memory_limit: 8 << 20,
        slab_chunk_max: 16384,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    let big = vec![b'a'; 600_000];
    for i in 0..40 {
        let key = format!("toast{i}");
        assert!(matches!(
            set(&s, key.as_bytes(), &big),
            StoreOutcome::Stored { .. }
        ));
    }
    let mut len = 200 * 1024;
    while len < 1024 * 1024 {
        let key = format!("foo_{len}");
        let value = vec![b'B'; len];
        let outcome = set(&s, key.as_bytes(), &value);
        assert!(
            matches!(outcome, StoreOutcome::Stored { .. }),
            "{len}: {outcome:?}"
        );
        assert_eq!(fetch(&s, key.as_bytes()).as_deref(), Some(&value[..]));
        len += 2048;
    }
    // A small class that never had a page takes one from the pages full of tails.
    for i in 0..2000 {
        let key = format!("small{i}");
        assert!(matches!(
            set(&s, key.as_bytes(), b"seedstring"),
            StoreOutcome::Stored { .. }
        ));
    }
    assert_eq!(fetch(&s, b"small1999").as_deref(), Some(&b"seedstring"[..]));
    let st = s.stats();
    // At most the small class's first page past the limit, as memcached allows.
    assert!(
        st.total_malloced <= (8 << 20) + st.pages_past_limit * (1 << 20),
        "{}",
        st.total_malloced
    );
    // Every chunk of a chain that left with a moved page was freed: what is linked still
    // reads back whole.
    let mut len = 200 * 1024;
    while len < 1024 * 1024 {
        let key = format!("foo_{len}");
        if let Some(v) = fetch(&s, key.as_bytes()) {
            assert_eq!(v, vec![b'B'; len]);
        }
        len += 2048;
    }
}

#[test]
fn clock_hand_spares_recently_read_items() {
    let cfg = StoreConfig {
        memory_limit: 2 << 20,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    let value = vec![b'x'; 100];
    // Fill one page of the class, then read the first key repeatedly while writing more.
    for i in 0..30_000 {
        set(&s, format!("k{i}").as_bytes(), &value);
        assert!(
            fetch(&s, b"k0").is_some(),
            "hot key evicted after {i} writes"
        );
    }
    assert!(s.stats().evictions > 10_000);
}

#[test]
fn no_evict_returns_no_memory_and_frees_on_delete() {
    let cfg = StoreConfig {
        memory_limit: 2 << 20,
        evict: false,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    let value = vec![b'x'; 100];
    let mut stored = 0;
    let mut first_fail = None;
    for i in 0..40_000 {
        match set(&s, format!("k{i}").as_bytes(), &value) {
            StoreOutcome::Stored { .. } => stored += 1,
            StoreOutcome::NoMemory => {
                first_fail.get_or_insert(i);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(first_fail.is_some());
    assert_eq!(s.stats().evictions, 0);
    assert_eq!(s.stats().curr_items, stored);
    // Deleting one makes room for one.
    s.delete(&Delete {
        db: 0,
        key: b"k0",
        compare_cas: None,
        invalidate: None,
        drop_value: false,
    });
    assert!(matches!(
        set(&s, b"again", &value),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(set(&s, b"again2", &value), StoreOutcome::NoMemory);
}

#[test]
fn free_chunks_are_reused_before_new_pages() {
    let (s, _) = store();
    for round in 0..50 {
        for i in 0..1000 {
            set(&s, format!("k{i}").as_bytes(), &[round as u8; 100]);
        }
    }
    let class = s.slab_stats().into_iter().find(|c| c.number > 0).unwrap();
    assert_eq!(class.number, 1000);
    assert_eq!(class.total_pages, 1);
    assert_eq!(class.used_chunks, 1000);
}

#[test]
fn too_large_and_key_stats() {
    let (s, _) = store();
    let v = vec![0u8; 1 << 20];
    assert_eq!(set(&s, b"k", &v), StoreOutcome::TooLarge);
    set(&s, b"k", b"12345");
    let st = s.stats();
    assert_eq!(st.bytes, 24 + 1 + 5);
    assert_eq!(st.limit_maxbytes, 64 << 20);
    let found = s.get(0, b"k", &ReadOptions::default(), |i| {
        (i.slab_class(), i.total_size())
    });
    assert_eq!(found, Lookup::Hit((1, 30)));
}

#[test]
fn config_errors_use_memcached_wording() {
    let clock = Arc::new(Clock::manual(T0));
    let bad = |c: StoreConfig| Store::new(c, clock.clone()).err().unwrap().0;
    assert_eq!(
        bad(StoreConfig {
            memory_limit: 1 << 20,
            ..StoreConfig::default()
        }),
        "Cannot set item size limit higher than 1/2 of memory max."
    );
    assert_eq!(
        bad(StoreConfig {
            growth_factor: 1.0,
            ..StoreConfig::default()
        }),
        "Factor must be greater than 1"
    );
    assert_eq!(
        bad(StoreConfig {
            item_size_max: 600,
            ..StoreConfig::default()
        }),
        "Item max size cannot be less than 1024 bytes."
    );
    assert!(bad(StoreConfig {
        memory_limit: 64 << 30,
        ..StoreConfig::default()
    })
    .contains("maximum"));
    let sizes = Store::new(
        StoreConfig {
            growth_factor: 2.0,
            ..StoreConfig::default()
        },
        clock.clone(),
    )
    .unwrap()
    .class_sizes();
    assert_eq!(&sizes[..3], &[72, 144, 288]);
    assert_eq!(*sizes.last().unwrap(), 1 << 19);
}

#[test]
fn eviction_order_is_clock_over_chunks() {
    let cfg = StoreConfig {
        memory_limit: 2 << 20,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    let v = vec![b'x'; 300_000];
    let class = s.class_sizes().iter().position(|&c| c >= 300_030).unwrap();
    let slots = 2 * ((1 << 20) / s.class_sizes()[class]);
    assert!(slots >= 4);
    // Peeks do not mark items; hits do.
    let present = |key: &str| {
        let opts = ReadOptions {
            no_bump: true,
            ..ReadOptions::default()
        };
        matches!(s.get(0, key.as_bytes(), &opts, |_| ()), Lookup::Hit(()))
    };
    let hit = |key: &str| assert!(fetch(&s, key.as_bytes()).is_some(), "{key}");
    for i in 0..slots {
        set(&s, format!("k{i}").as_bytes(), &v);
    }
    assert_eq!(s.stats().evictions, 0);
    // Nothing referenced: the oldest chunk goes first.
    set(&s, b"n0", &v);
    assert!(!present("k0"));
    // A referenced item is passed over once; the next one goes.
    hit("k1");
    set(&s, b"n1", &v);
    assert!(present("k1") && !present("k2"));
    // Hit twice: survives two passes of the hand, while unreferenced items go.
    hit("k1");
    hit("k1");
    for i in 0..slots - 1 {
        set(&s, format!("m{i}").as_bytes(), &v);
    }
    assert!(present("k1"), "k1 survives the first pass");
    for i in 3..slots {
        assert!(!present(&format!("k{i}")));
    }
    for i in 0..2 * slots {
        set(&s, format!("p{i}").as_bytes(), &v);
    }
    assert!(
        !present("k1"),
        "without new hits k1 goes within two more passes"
    );
}

/// memcached's `temporary_ttl`: items that expire within that many seconds are never
/// evicted for others; once memory is full of them a new item gets out of memory, and they
/// make room again when they expire. Off, the same items are evicted as usual.
#[test]
fn temporary_items_are_not_evicted() {
    let cfg = StoreConfig {
        memory_limit: 4 << 20,
        item_size_max: 1 << 20,
        ..StoreConfig::default()
    };
    let (s, clock) = store_with(cfg);
    s.set_temporary_ttl(Some(60));
    let value = vec![b'x'; 100];
    let soon = Expiry::at_secs(T0 + 30);
    let mut stored = 0u64;
    let mut refused = false;
    for i in 0..200_000 {
        let key = format!("temp:{i}");
        match s.store(&Write::new(0, key.as_bytes(), &value, 0, soon, Mode::Set)) {
            StoreOutcome::Stored { .. } => stored += 1,
            StoreOutcome::NoMemory => {
                refused = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(refused, "memory never filled");
    let st = s.stats();
    assert_eq!((st.evictions, st.curr_items), (0, stored));
    assert_eq!(set(&s, b"lasting", &value), StoreOutcome::NoMemory);
    // Expired, they are reclaimed for new items.
    clock.advance(31);
    assert!(matches!(
        set(&s, b"lasting", &value),
        StoreOutcome::Stored { .. }
    ));
    // Off: items with a short TTL are evicted like any other.
    s.set_temporary_ttl(None);
    let later = Expiry::at_secs(T0 + 31 + 30);
    for i in 0..200_000 {
        let key = format!("again:{i}");
        let w = Write::new(0, key.as_bytes(), &value, 0, later, Mode::Set);
        assert!(matches!(s.store(&w), StoreOutcome::Stored { .. }));
    }
    assert!(s.stats().evictions > 0);
}
