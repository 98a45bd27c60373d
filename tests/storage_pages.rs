//! The global page pool: pages freed by deletes, flushes and expiry return to a pool any
//! class can take (live items left in them are rescued into other chunks), and a class's
//! first page may go past the limit, so a small `-m` never wedges a size.

use slabd::storage::{Clock, Delete, Expiry, Mode, Store, StoreConfig, StoreOutcome, Write};
use std::sync::Arc;

fn store(mb: usize) -> Store {
    let cfg = StoreConfig {
        memory_limit: mb << 20,
        item_size_max: 1 << 20,
        ..StoreConfig::default()
    };
    Store::new(cfg, Arc::new(Clock::manual(1_700_000_000))).unwrap()
}

fn set(s: &Store, key: &[u8], len: usize) -> StoreOutcome {
    s.store(&Write::new(
        0,
        key,
        &vec![b'v'; len],
        0,
        Expiry::Never,
        Mode::Set,
    ))
}

fn del(s: &Store, key: &[u8]) {
    s.delete(&Delete {
        db: 0,
        key,
        compare_cas: None,
        invalidate: None,
        drop_value: false,
    });
}

#[test]
fn a_class_without_pages_takes_its_first_page_past_the_limit() {
    // memcached 1.6.18 stores the big value; before, this answered out of memory forever.
    let s = store(16);
    let mut len = 40;
    for i in 0..16 {
        assert!(matches!(
            set(&s, format!("small{i}").as_bytes(), len),
            StoreOutcome::Stored { .. }
        ));
        len = len * 5 / 4 + 100;
    }
    // Fill the rest of memory with one size so no class has a page to spare.
    let mut i = 0;
    while s.stats().total_malloced < 16 << 20 {
        set(&s, format!("fill{i}").as_bytes(), 1000);
        i += 1;
    }
    assert!(matches!(
        set(&s, b"big", 100_000),
        StoreOutcome::Stored { .. }
    ));
}

#[test]
fn freed_pages_go_to_the_global_pool_and_live_items_are_rescued() {
    let s = store(32);
    // 100-byte values fill a class's pages; then almost all of them are deleted.
    let n = 150_000;
    for i in 0..n {
        set(&s, format!("a{i:07}").as_bytes(), 100);
    }
    let pages_before = s.stats().total_malloced;
    for i in 0..n {
        if i % 1000 != 0 {
            del(&s, format!("a{i:07}").as_bytes());
        }
    }
    for _ in 0..40 {
        s.maintain();
    }
    let st = s.stats();
    assert!(st.slab_global_page_pool > 0, "no page returned to the pool");
    assert!(st.slab_reassign_rescues > 0, "no item rescued");
    assert!(st.total_malloced < pages_before);
    // Every survivor is still readable, with its value.
    for i in (0..n).step_by(1000) {
        let key = format!("a{i:07}");
        let got = s.get(0, key.as_bytes(), &Default::default(), |it| it.value_len());
        assert_eq!(got, slabd::storage::Lookup::Hit(100), "{key}");
    }
    // Another size takes the pooled pages without evicting anything.
    let before = s.stats().evictions;
    for i in 0..20_000 {
        assert!(matches!(
            set(&s, format!("b{i}").as_bytes(), 1000),
            StoreOutcome::Stored { .. }
        ));
    }
    assert_eq!(s.stats().evictions, before);
}

#[test]
fn a_flush_gives_its_pages_back_by_the_next_maintenance_pass() {
    // A workload that changes sizes after flush_all: one page per class per pass (memcached's
    // pace) left the flushed class holding its pages for a minute while the new size evicted
    // its own fresh items. Now the pass after the flush reclaims every flushed item and
    // gives every page it empties to the pool.
    let s = store(32);
    let mut i = 0;
    while s.stats().total_malloced < 32 << 20 {
        for _ in 0..1024 {
            set(&s, format!("small{i}").as_bytes(), 100);
            i += 1;
        }
    }
    s.flush(None, 0);
    s.maintain();
    assert!(
        s.stats().slab_global_page_pool >= 24,
        "pages in the pool after the pass: {}",
        s.stats().slab_global_page_pool
    );
    let before = s.stats().evictions;
    let n = 20_000;
    for i in 0..n {
        assert!(matches!(
            set(&s, format!("big{i}").as_bytes(), 1000),
            StoreOutcome::Stored { .. }
        ));
    }
    assert_eq!(
        s.stats().evictions,
        before,
        "the new size evicted its own items"
    );
    for i in 0..n {
        let key = format!("big{i}");
        let got = s.get(0, key.as_bytes(), &Default::default(), |it| it.value_len());
        assert_eq!(got, slabd::storage::Lookup::Hit(1000), "{key}");
    }
}

/// A value whose every byte depends on its key and place, so a chunk copied to the wrong
/// item or a tail left out shows.
fn pattern(key: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (key * 31 + i * 7 + i / 251) as u8)
        .collect()
}

fn fetch(s: &Store, key: &[u8]) -> Option<Vec<u8>> {
    let opts = slabd::storage::ReadOptions {
        is_fetch: true,
        ..Default::default()
    };
    match s.get(0, key, &opts, |it| {
        let mut v = Vec::new();
        it.copy_value_to(&mut v);
        v
    }) {
        slabd::storage::Lookup::Hit(v) => Some(v),
        _ => None,
    }
}

#[test]
fn page_moves_rescue_chained_items_and_their_tails() {
    // memcached's t/chunked-items.t lost its growing 'appender' item when a page move (the
    // automover, or an allocation taking a page) evicted every item of the page: page moves
    // now copy live items, heads and tails, to free chunks of the class as memcached does.
    let cfg = StoreConfig {
        memory_limit: 48 << 20,
        item_size_max: 1 << 20,
        slab_chunk_max: 16 << 10,
        ..StoreConfig::default()
    };
    let s = Store::new(cfg, Arc::new(Clock::manual(1_700_000_000))).unwrap();
    let n = 400;
    let len = |i: usize| 20_000 + (i * 997) % 60_000;
    for i in 0..n {
        let (key, value) = (format!("c{i}"), pattern(i, len(i)));
        let w = Write::new(0, key.as_bytes(), &value, 0, Expiry::Never, Mode::Set);
        assert!(matches!(s.store(&w), StoreOutcome::Stored { .. }));
    }
    // Free chunks in every class the chains use: every third item goes.
    for i in (0..n).step_by(3) {
        del(&s, format!("c{i}").as_bytes());
    }
    let evicted_before = s.stats().evictions;
    let mut moved = 0;
    for round in 0..6 {
        for c in s.slab_stats() {
            if c.total_pages >= 2 {
                let dst = if c.id == 1 { 2 } else { 1 };
                let out = s.reassign(i32::from(c.id), dst);
                if matches!(out, slabd::storage::ReassignOutcome::Ok) {
                    moved += 1;
                }
            }
        }
        assert!(moved > 0 || round < 5, "no page moved");
    }
    let st = s.stats();
    assert!(st.slab_reassign_chunk_rescues > 0, "no tail rescued");
    assert!(st.slab_reassign_rescues > 0, "no head rescued");
    // Only an item with no free chunk outside its page to go to is evicted (memcached's
    // evictions_nomem), and every other one is whole.
    let evicted = st.evictions - evicted_before;
    assert_eq!(evicted, st.slab_reassign_evictions_nomem);
    let mut missing = 0;
    for i in (0..n).filter(|i| i % 3 != 0) {
        let want = pattern(i, len(i));
        match fetch(&s, format!("c{i}").as_bytes()) {
            Some(got) => assert!(got == want, "c{i} changed"),
            None => missing += 1,
        }
    }
    assert_eq!(missing, evicted);
    assert!(evicted < 10, "{evicted} evicted of {}", n * 2 / 3);
}
