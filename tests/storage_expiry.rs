//! Active expiry: expired items are reclaimed by the background cycle without reads.

use slabd::storage::{Clock, Expiry, Mode, Store, StoreConfig, Write};
use std::sync::Arc;

fn store() -> (Store, Arc<Clock>) {
    let clock = Arc::new(Clock::manual(1_700_000_000));
    (
        Store::new(StoreConfig::default(), clock.clone()).unwrap(),
        clock,
    )
}

#[test]
fn active_expiry_reclaims_without_reads() {
    let (s, clock) = store();
    let now = clock.now_ms();
    for i in 0..20_000u64 {
        let key = format!("k{i}");
        let ttl = 1_000 + (i % 5) * 1_000;
        let w = Write::new(
            0,
            key.as_bytes(),
            b"value",
            0,
            Expiry::AtMs(now + ttl),
            Mode::Set,
        );
        s.store(&w);
    }
    for i in 0..100u64 {
        let key = format!("forever{i}");
        s.store(&Write::new(
            0,
            key.as_bytes(),
            b"v",
            0,
            Expiry::Never,
            Mode::Set,
        ));
    }
    s.expire_cycle();
    assert_eq!(s.stats().expired_keys, 0);
    clock.advance_ms(2_500);
    s.expire_cycle();
    assert!(s.expired_stale_perc() > 0.0);
    // Cycles are time-bounded; a few of them reclaim what expired (2 of 5 TTLs).
    for _ in 0..50 {
        s.expire_cycle();
    }
    let st = s.stats();
    assert_eq!(st.expired_keys, 8_000);
    assert_eq!(st.curr_items, 12_100);
    clock.advance_ms(10_000);
    for _ in 0..100 {
        s.expire_cycle();
    }
    let st = s.stats();
    assert_eq!((st.curr_items, st.expired_keys), (100, 20_000));
    assert_eq!(s.db_len(0), 100);
    assert!(st.reclaimed >= 20_000);
    assert_eq!(st.crawler_reclaimed, 0);
}
