//! The store through its public API with a manual clock: the helpers the storage_*
//! tests share.

use slabd::storage::*;
use std::sync::Arc;

pub const T0: u64 = 1_700_000_000;

pub fn store_with(cfg: StoreConfig) -> (Store, Arc<Clock>) {
    let clock = Arc::new(Clock::manual(T0));
    (Store::new(cfg, clock.clone()).unwrap(), clock)
}

pub fn store() -> (Store, Arc<Clock>) {
    store_with(StoreConfig::default())
}

pub fn set(s: &Store, key: &[u8], value: &[u8]) -> StoreOutcome {
    s.store(&Write::new(0, key, value, 0, Expiry::Never, Mode::Set))
}

pub fn fetch(s: &Store, key: &[u8]) -> Option<Vec<u8>> {
    match get(s, key) {
        Lookup::Hit(v) => Some(v),
        _ => None,
    }
}

pub fn get(s: &Store, key: &[u8]) -> Lookup<Vec<u8>> {
    let opts = ReadOptions {
        is_fetch: true,
        ..ReadOptions::default()
    };
    s.get(0, key, &opts, |it| {
        let mut v = Vec::new();
        it.copy_value_to(&mut v);
        assert_eq!(v.len(), it.value_len());
        v
    })
}

pub fn cas_of(s: &Store, key: &[u8]) -> u64 {
    match s.get(0, key, &ReadOptions::default(), |it| it.cas()) {
        Lookup::Hit(c) => c,
        other => panic!("no item: {other:?}"),
    }
}

pub fn stored_cas(o: StoreOutcome) -> u64 {
    match o {
        StoreOutcome::Stored { cas } => cas,
        other => panic!("not stored: {other:?}"),
    }
}
