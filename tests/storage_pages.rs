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
