//! The store's operations through its public API, with a manual clock.

mod common;

use common::store::*;
use slabd::storage::*;
#[test]
fn set_get_replace_and_delete() {
    let (s, _) = store();
    assert_eq!(get(&s, b"a"), Lookup::Miss(Miss::Absent));
    let c1 = stored_cas(set(&s, b"a", b"one"));
    assert_eq!(fetch(&s, b"a").unwrap(), b"one");
    let c2 = stored_cas(set(&s, b"a", b"two!"));
    assert!(c2 > c1, "every write gets a new CAS");
    assert_eq!(fetch(&s, b"a").unwrap(), b"two!");
    assert_eq!(s.db_len(0), 1);
    let d = Delete {
        db: 0,
        key: b"a",
        compare_cas: None,
        invalidate: None,
        drop_value: false,
    };
    assert_eq!(s.delete(&d), DeleteOutcome::Deleted);
    assert_eq!(s.delete(&d), DeleteOutcome::NotFound);
    assert_eq!(get(&s, b"a"), Lookup::Miss(Miss::Absent));
    assert_eq!(s.db_len(0), 0);
    assert_eq!(s.stats().curr_items, 0);
    assert_eq!(s.stats().total_items, 2);
}

#[test]
fn databases_are_separate_namespaces() {
    let (s, _) = store();
    s.store(&Write::new(3, b"k", b"three", 0, Expiry::Never, Mode::Set));
    assert_eq!(get(&s, b"k"), Lookup::Miss(Miss::Absent));
    assert_eq!(s.db_len(3), 1);
    assert_eq!(s.db_len(0), 0);
    s.flush(Some(0), 0);
    assert_eq!(s.db_len(3), 1);
    let hit = s.get(3, b"k", &ReadOptions::default(), |it| it.value_len());
    assert_eq!(hit, Lookup::Hit(5));
}

#[test]
fn add_replace_append_prepend() {
    let (s, _) = store();
    let w = |key: &'static [u8], v: &'static [u8], mode| {
        s.store(&Write::new(0, key, v, 7, Expiry::Never, mode))
    };
    assert_eq!(w(b"k", b"x", Mode::Replace), StoreOutcome::NotStored);
    assert_eq!(w(b"k", b"x", Mode::Append), StoreOutcome::NotStored);
    assert_eq!(w(b"k", b"x", Mode::Prepend), StoreOutcome::NotStored);
    assert!(matches!(
        w(b"k", b"mid", Mode::Add),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(w(b"k", b"again", Mode::Add), StoreOutcome::NotStored);
    s.store(&Write::new(0, b"k", b"<", 99, Expiry::Never, Mode::Prepend));
    s.store(&Write::new(0, b"k", b">", 99, Expiry::Never, Mode::Append));
    assert_eq!(fetch(&s, b"k").unwrap(), b"<mid>");
    // Append and prepend keep the item's flags.
    assert_eq!(
        s.get(0, b"k", &ReadOptions::default(), |i| i.flags()),
        Lookup::Hit(7)
    );
    assert!(matches!(
        w(b"k", b"new", Mode::Replace),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(fetch(&s, b"k").unwrap(), b"new");
}

#[test]
fn cas_semantics() {
    let (s, _) = store();
    let mut w = Write::new(0, b"k", b"v1", 0, Expiry::Never, Mode::Set);
    w.compare_cas = Some(1);
    assert_eq!(s.store(&w), StoreOutcome::NotFound);
    let c = stored_cas(set(&s, b"k", b"v0"));
    w.compare_cas = Some(c + 100);
    assert_eq!(s.store(&w), StoreOutcome::Exists);
    w.compare_cas = Some(c);
    let c2 = stored_cas(s.store(&w));
    assert_ne!(c2, c);
    assert_eq!(
        s.store(&w),
        StoreOutcome::Exists,
        "old CAS no longer matches"
    );
    // Append with a wrong CAS is refused; add ignores the CAS.
    let mut a = Write::new(0, b"k", b"+", 0, Expiry::Never, Mode::Append);
    a.compare_cas = Some(c);
    assert_eq!(s.store(&a), StoreOutcome::Exists);
    a.compare_cas = Some(c2);
    assert!(matches!(s.store(&a), StoreOutcome::Stored { .. }));
    // new_cas sets the item's CAS explicitly.
    let mut e = Write::new(0, b"k", b"e", 0, Expiry::Never, Mode::Set);
    e.new_cas = Some(c2 + 1000);
    assert_eq!(s.store(&e), StoreOutcome::Stored { cas: c2 + 1000 });
    assert_eq!(cas_of(&s, b"k"), c2 + 1000);
}

#[test]
fn cas_disabled_reports_zero() {
    let (s, _) = store_with(StoreConfig {
        use_cas: false,
        ..StoreConfig::default()
    });
    assert_eq!(set(&s, b"k", b"v"), StoreOutcome::Stored { cas: 0 });
    assert_eq!(cas_of(&s, b"k"), 0);
}

#[test]
fn expiry_boundaries() {
    let (s, clock) = store();
    let now = clock.unix_now();
    let put = |key: &[u8], e| s.store(&Write::new(0, key, b"v", 0, e, Mode::Set));
    put(b"past", Expiry::at_secs(now - 1));
    put(b"now", Expiry::at_secs(now));
    put(b"zero", Expiry::at_secs(0));
    put(b"soon", Expiry::at_secs(now + 1));
    put(b"never", Expiry::Never);
    put(b"rel", clock.memcache_expiry(REALTIME_MAXDELTA));
    put(b"neg", clock.memcache_expiry(-1));
    assert_eq!(get(&s, b"past"), Lookup::Miss(Miss::Expired));
    assert_eq!(get(&s, b"now"), Lookup::Miss(Miss::Expired));
    assert_eq!(get(&s, b"zero"), Lookup::Miss(Miss::Expired));
    assert_eq!(get(&s, b"neg"), Lookup::Miss(Miss::Expired));
    assert_eq!(
        get(&s, b"past"),
        Lookup::Miss(Miss::Absent),
        "reclaimed on access"
    );
    assert!(fetch(&s, b"soon").is_some());
    clock.advance(1);
    assert_eq!(get(&s, b"soon"), Lookup::Miss(Miss::Expired));
    clock.advance(REALTIME_MAXDELTA as u32 - 2);
    assert!(fetch(&s, b"rel").is_some());
    clock.advance(1);
    assert_eq!(get(&s, b"rel"), Lookup::Miss(Miss::Expired));
    assert!(fetch(&s, b"never").is_some());
    assert_eq!(s.stats().curr_items, 1);
}

#[test]
fn keep_ttl_and_expiry_view() {
    let (s, clock) = store();
    let exp = Expiry::at_secs(clock.unix_now() + 50);
    s.store(&Write::new(0, b"k", b"v", 0, exp, Mode::Set));
    let mut w = Write::new(0, b"k", b"w", 0, Expiry::Never, Mode::Set);
    w.keep_ttl = true;
    s.store(&w);
    assert_eq!(
        s.get(0, b"k", &ReadOptions::default(), |i| i.expiry()),
        Lookup::Hit(exp)
    );
}

#[test]
fn touch_and_get_and_touch() {
    let (s, clock) = store();
    assert!(!s.touch(0, b"k", Expiry::Never));
    let c = stored_cas(s.store(&Write::new(
        0,
        b"k",
        b"v",
        0,
        Expiry::at_secs(clock.unix_now() + 5),
        Mode::Set,
    )));
    assert!(s.touch(0, b"k", Expiry::at_secs(clock.unix_now() + 100)));
    assert_eq!(cas_of(&s, b"k"), c, "touch keeps the CAS");
    clock.advance(10);
    assert!(fetch(&s, b"k").is_some());
    let opts = ReadOptions {
        touch: Some(Expiry::at_secs(clock.unix_now() + 1)),
        ..ReadOptions::default()
    };
    let e = s.get(0, b"k", &opts, |i| i.expiry());
    assert_eq!(e, Lookup::Hit(Expiry::at_secs(clock.unix_now() + 1)));
    clock.advance(1);
    assert_eq!(get(&s, b"k"), Lookup::Miss(Miss::Expired));
}

#[test]
fn read_metadata_last_access_and_hit_before() {
    let (s, clock) = store();
    set(&s, b"k", b"v");
    clock.advance(7);
    let meta = |s: &Store, no_bump| {
        let opts = ReadOptions {
            no_bump,
            is_fetch: true,
            ..ReadOptions::default()
        };
        match s.get(0, b"k", &opts, |i| (i.last_access(), i.hit_before())) {
            Lookup::Hit(m) => m,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(meta(&s, true), (7, false));
    assert_eq!(meta(&s, false), (7, false), "no_bump did not mark the item");
    assert_eq!(meta(&s, false), (0, true));
}

#[test]
fn flush_immediate_and_delayed() {
    let (s, clock) = store();
    set(&s, b"a", b"1");
    s.flush(None, 0);
    assert_eq!(get(&s, b"a"), Lookup::Miss(Miss::Flushed));
    set(&s, b"b", b"2");
    assert!(
        fetch(&s, b"b").is_some(),
        "written after the flush in the same second"
    );
    s.flush(None, 10);
    set(&s, b"c", b"3");
    clock.advance(9);
    assert!(fetch(&s, b"b").is_some());
    assert!(fetch(&s, b"c").is_some());
    clock.advance(1);
    assert_eq!(get(&s, b"b"), Lookup::Miss(Miss::Flushed));
    assert_eq!(get(&s, b"c"), Lookup::Miss(Miss::Flushed));
    set(&s, b"d", b"4");
    assert!(fetch(&s, b"d").is_some());
    // A touch does not count as a write.
    set(&s, b"e", b"5");
    s.flush(None, 5);
    clock.advance(2);
    assert!(s.touch(0, b"e", Expiry::Never));
    clock.advance(3);
    assert_eq!(get(&s, b"e"), Lookup::Miss(Miss::Flushed));
}

#[test]
fn incr_decr_rules() {
    let (s, _) = store();
    let arith = |incr, delta| {
        s.arith(&Arith {
            db: 0,
            key: b"n",
            incr,
            delta,
            compare_cas: None,
            new_cas: None,
            vivify: None,
            touch: None,
        })
    };
    let value = |o: ArithOutcome| match o {
        ArithOutcome::Value { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(arith(true, 1), ArithOutcome::NotFound);
    set(&s, b"n", b"10");
    assert_eq!(value(arith(false, 1)), 9);
    assert_eq!(fetch(&s, b"n").unwrap(), b"9 ", "memcached pads in place");
    assert_eq!(value(arith(true, 1)), 10);
    assert_eq!(fetch(&s, b"n").unwrap(), b"10");
    assert_eq!(value(arith(true, 90)), 100);
    assert_eq!(fetch(&s, b"n").unwrap(), b"100");
    assert_eq!(value(arith(false, 1000)), 0, "decr floors at 0");
    assert_eq!(fetch(&s, b"n").unwrap(), b"0  ");
    set(&s, b"n", b"18446744073709551615");
    assert_eq!(value(arith(true, 2)), 1, "incr wraps");
    set(&s, b"n", b"abc");
    assert_eq!(arith(true, 1), ArithOutcome::NonNumeric);
    set(&s, b"n", b"");
    assert_eq!(arith(true, 1), ArithOutcome::NonNumeric);
    set(&s, b"n", b"5");
    let c = cas_of(&s, b"n");
    let r = s.arith(&Arith {
        db: 0,
        key: b"n",
        incr: true,
        delta: 1,
        compare_cas: Some(c + 1),
        new_cas: None,
        vivify: None,
        touch: None,
    });
    assert_eq!(r, ArithOutcome::Exists);
    match arith(true, 1) {
        ArithOutcome::Value { cas, .. } => assert_ne!(cas, c),
        other => panic!("{other:?}"),
    }
}

#[test]
fn arith_vivify_and_touch() {
    let (s, clock) = store();
    let exp = Expiry::at_secs(clock.unix_now() + 30);
    let a = Arith {
        db: 0,
        key: b"v",
        incr: true,
        delta: 5,
        compare_cas: None,
        new_cas: None,
        vivify: Some((42, exp)),
        touch: None,
    };
    match s.arith(&a) {
        ArithOutcome::Value {
            value,
            created,
            expiry,
            ..
        } => {
            assert_eq!((value, created, expiry), (42, true, exp));
        }
        other => panic!("{other:?}"),
    }
    let t = Expiry::at_secs(clock.unix_now() + 99);
    match s.arith(&Arith {
        touch: Some(t),
        ..a
    }) {
        ArithOutcome::Value {
            value,
            created,
            expiry,
            ..
        } => assert_eq!((value, created, expiry), (47, false, t)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn meta_invalidate_and_win_tokens() {
    let (s, clock) = store();
    set(&s, b"k", b"v");
    let md = Delete {
        db: 0,
        key: b"k",
        compare_cas: None,
        invalidate: Some(Some(Expiry::at_secs(clock.unix_now() + 30))),
        drop_value: false,
    };
    assert_eq!(s.delete(&md), DeleteOutcome::Deleted);
    let read = |s: &Store| {
        s.get(0, b"k", &ReadOptions::default(), |i| {
            (i.is_stale(), i.won(), i.win_taken())
        })
    };
    assert_eq!(read(&s), Lookup::Hit((true, true, false)));
    assert_eq!(read(&s), Lookup::Hit((true, false, true)));
    // A set with an older CAS and invalidate keeps the item stale.
    let cur = cas_of(&s, b"k");
    let mut w = Write::new(0, b"k", b"new", 0, Expiry::Never, Mode::Set);
    w.compare_cas = Some(cur - 1);
    assert_eq!(s.store(&w), StoreOutcome::Exists);
    w.invalidate = true;
    assert!(matches!(s.store(&w), StoreOutcome::Stored { .. }));
    assert_eq!(
        read(&s),
        Lookup::Hit((true, false, true)),
        "token stays sent"
    );
    // A plain set clears it.
    set(&s, b"k", b"fresh");
    assert_eq!(read(&s), Lookup::Hit((false, false, false)));
}

#[test]
fn recache_and_vivify() {
    let (s, clock) = store();
    s.store(&Write::new(
        0,
        b"k",
        b"v",
        0,
        Expiry::at_secs(clock.unix_now() + 100),
        Mode::Set,
    ));
    let opts = ReadOptions {
        recache_below: Some(30),
        ..ReadOptions::default()
    };
    let read =
        |s: &Store, key: &[u8], o: &ReadOptions| s.get(0, key, o, |i| (i.won(), i.win_taken()));
    assert_eq!(read(&s, b"k", &opts), Lookup::Hit((false, false)));
    clock.advance(80);
    assert_eq!(read(&s, b"k", &opts), Lookup::Hit((true, false)));
    assert_eq!(read(&s, b"k", &opts), Lookup::Hit((false, true)));
    let viv = ReadOptions {
        vivify: Some(Expiry::at_secs(clock.unix_now() + 30)),
        ..ReadOptions::default()
    };
    assert_eq!(read(&s, b"new", &viv), Lookup::Vivified);
    assert_eq!(read(&s, b"new", &viv), Lookup::Hit((false, true)));
    assert_eq!(fetch(&s, b"new").unwrap(), b"");
}

#[test]
fn delete_with_cas_and_drop_value() {
    let (s, _) = store();
    s.store(&Write::new(0, b"k", b"value", 5, Expiry::Never, Mode::Set));
    let c = cas_of(&s, b"k");
    let mut d = Delete {
        db: 0,
        key: b"k",
        compare_cas: Some(c + 1),
        invalidate: None,
        drop_value: true,
    };
    assert_eq!(s.delete(&d), DeleteOutcome::Exists);
    d.compare_cas = Some(c);
    assert_eq!(s.delete(&d), DeleteOutcome::Deleted);
    assert_eq!(fetch(&s, b"k").unwrap(), b"");
}

#[test]
fn store_and_sees_previous_item() {
    let (s, _) = store();
    let w = Write::new(0, b"k", b"new", 0, Expiry::Never, Mode::Set);
    let (o, prev) = s.store_and(&w, |old| old.map(|i| i.value_len()));
    assert!(matches!(o, StoreOutcome::Stored { .. }));
    assert_eq!(prev, Err(Miss::Absent));
    let (_, prev) = s.store_and(
        &Write::new(0, b"k", b"x", 0, Expiry::Never, Mode::Set),
        |old| {
            old.map(|i| {
                let mut v = Vec::new();
                i.copy_value_to(&mut v);
                v
            })
        },
    );
    assert_eq!(prev.unwrap(), b"new");
}

/// memcached's `watch fetchers` logs a store's look-up as `expired` or `flushed`: the
/// store tells its closure why there was no live item.
#[test]
fn store_and_says_why_there_was_no_item() {
    let (s, clock) = store();
    set(&s, b"f", b"2");
    s.flush(None, 0);
    let soon = Expiry::at_secs(clock.unix_now() + 1);
    assert!(matches!(
        s.store(&Write::new(0, b"e", b"1", 0, soon, Mode::Set)),
        StoreOutcome::Stored { .. }
    ));
    clock.advance(2);
    let seen = |key: &[u8]| {
        let w = Write::new(0, key, b"3", 0, Expiry::Never, Mode::Add);
        s.store_and(&w, |old| old.map(|i| i.value_len()))
    };
    let (o, prev) = seen(b"e");
    assert!(matches!(o, StoreOutcome::Stored { .. }));
    assert_eq!(prev, Err(Miss::Expired));
    assert_eq!(seen(b"f").1, Err(Miss::Flushed));
    assert_eq!(seen(b"f").1, Ok(1), "the add stored it");
}

#[test]
fn rewrite_keep_write_delete() {
    let (s, clock) = store();
    let exp = Expiry::at_secs(clock.unix_now() + 60);
    let r = s.rewrite(0, b"k", |old| {
        assert!(old.is_none());
        Rewrite::Write {
            value: b"abc".to_vec(),
            flags: 3,
            expiry: Some(exp),
            raw: false,
            result: 1,
        }
    });
    assert_eq!(r, Ok(1));
    let r = s.rewrite(0, b"k", |old| {
        let old = old.unwrap();
        let mut v = Vec::new();
        old.copy_value_to(&mut v);
        v.extend_from_slice(b"def");
        Rewrite::Write {
            value: v,
            flags: old.flags(),
            expiry: None,
            raw: true,
            result: 2,
        }
    });
    assert_eq!(r, Ok(2));
    assert_eq!(fetch(&s, b"k").unwrap(), b"abcdef");
    // A string marked raw (APPEND, SETRANGE) is still a string to the memcached protocol.
    let strings_only = ReadOptions {
        strings_only: true,
        ..ReadOptions::default()
    };
    assert_eq!(
        s.get(0, b"k", &strings_only, |i| i.value_len()),
        Lookup::Hit(6)
    );
    assert_eq!(
        s.get(0, b"k", &ReadOptions::default(), |i| i.expiry()),
        Lookup::Hit(exp)
    );
    assert_eq!(s.rewrite(0, b"k", |_| Rewrite::Keep(3)), Ok(3));
    assert_eq!(s.rewrite(0, b"k", |_| Rewrite::Delete(4)), Ok(4));
    assert_eq!(get(&s, b"k"), Lookup::Miss(Miss::Absent));
    // Rewrites are RESP's: no -I limit, only memory (64 MB here).
    let write = |len: usize| {
        s.rewrite(0, b"k", |_| Rewrite::Write {
            value: vec![7u8; len],
            flags: 0,
            expiry: None,
            raw: false,
            result: (),
        })
    };
    assert_eq!(write(2 << 20), Ok(()));
    assert_eq!(fetch(&s, b"k").map(|v| v.len()), Some(2 << 20));
    assert_eq!(write(65 << 20), Err(RewriteError::NoMemory));
}

#[test]
fn chained_items_round_trip() {
    let (s, _) = store();
    let max = s.config().item_size_max;
    for len in [
        600_000usize,
        (1 << 19) - 24 - 3,
        (1 << 19) - 24 - 2,
        max - 24 - 3,
    ] {
        let v: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        assert!(
            matches!(set(&s, b"big", &v), StoreOutcome::Stored { .. }),
            "{len}"
        );
        assert_eq!(fetch(&s, b"big").unwrap(), v, "{len}");
    }
    let v = vec![1u8; max - 24 - 2];
    assert_eq!(set(&s, b"big", &v), StoreOutcome::TooLarge);
    // Append across the chain boundary.
    let v: Vec<u8> = vec![7u8; 500_000];
    set(&s, b"big", &v);
    let tail = vec![8u8; 100_000];
    s.store(&Write::new(
        0,
        b"big",
        &tail,
        0,
        Expiry::Never,
        Mode::Append,
    ));
    let got = fetch(&s, b"big").unwrap();
    assert_eq!(got.len(), 600_000);
    assert!(got[..500_000].iter().all(|&b| b == 7) && got[500_000..].iter().all(|&b| b == 8));
    let st = s.stats();
    assert_eq!(st.curr_items, 1);
}

/// ms with `E`: a client-chosen CAS.
fn set_with_cas(s: &Store, key: &[u8], value: &[u8], new_cas: u64) -> StoreOutcome {
    let mut w = Write::new(0, key, value, 0, Expiry::Never, Mode::Set);
    w.new_cas = Some(new_cas);
    s.store(&w)
}

#[test]
fn flush_ignores_client_chosen_cas() {
    let (s, clock) = store();
    for i in 0..50 {
        set(&s, format!("k{i}").as_bytes(), b"x");
    }
    // Chosen far above the counter: still flushed, as it was written before the flush.
    assert_eq!(
        stored_cas(set_with_cas(&s, b"high", b"h", 1 << 40)),
        1 << 40
    );
    s.flush(None, 0);
    assert_eq!(get(&s, b"high"), Lookup::Miss(Miss::Flushed));
    // Chosen below the counter at the flush: written after it, so visible (the bug was an
    // HD reply for an item that could never be read).
    assert_eq!(stored_cas(set_with_cas(&s, b"foo", b"22", 2)), 2);
    assert_eq!(fetch(&s, b"foo").unwrap(), b"22");
    assert_eq!(cas_of(&s, b"foo"), 2);
    // A delayed flush treats chosen CASes the same way.
    s.flush(None, 5);
    set_with_cas(&s, b"before", b"b", 1 << 41);
    clock.advance(5);
    assert_eq!(get(&s, b"before"), Lookup::Miss(Miss::Flushed));
    assert_eq!(get(&s, b"foo"), Lookup::Miss(Miss::Flushed));
    set_with_cas(&s, b"after", b"a", 1);
    assert_eq!(fetch(&s, b"after").unwrap(), b"a");
    // A cas compare uses the chosen value; an incr keeps working on such items, in place
    // or not, with or without a new chosen CAS.
    let mut w = Write::new(0, b"after", b"10", 0, Expiry::Never, Mode::Set);
    w.compare_cas = Some(1);
    w.new_cas = Some(7);
    assert_eq!(stored_cas(s.store(&w)), 7);
    let incr = |new_cas| {
        s.arith(&Arith {
            db: 0,
            key: b"after",
            incr: true,
            delta: 1,
            compare_cas: None,
            new_cas,
            vivify: None,
            touch: None,
        })
    };
    let value_cas = |o| match o {
        ArithOutcome::Value { value, cas, .. } => (value, cas),
        other => panic!("{other:?}"),
    };
    assert_eq!(value_cas(incr(Some(9))), (11, 9));
    assert_eq!(cas_of(&s, b"after"), 9);
    let (v, c) = value_cas(incr(None));
    assert_eq!(v, 12);
    assert!(c > 9 && c == cas_of(&s, b"after"));
    set(&s, b"plain", b"5");
    assert_eq!(
        s.arith(&Arith {
            db: 0,
            key: b"plain",
            incr: false,
            delta: 1,
            compare_cas: None,
            new_cas: Some(1 << 50),
            vivify: None,
            touch: None,
        }),
        ArithOutcome::Value {
            value: 4,
            cas: 1 << 50,
            expiry: Expiry::Never,
            created: false
        }
    );
    assert_eq!(fetch(&s, b"plain").unwrap(), b"4");
    // Chained items carry the slot too.
    let big: Vec<u8> = (0..700_000).map(|i| (i % 253) as u8).collect();
    assert_eq!(stored_cas(set_with_cas(&s, b"big", &big, 3)), 3);
    assert_eq!(fetch(&s, b"big").unwrap(), big);
    assert_eq!(cas_of(&s, b"big"), 3);
    s.flush(None, 0);
    assert_eq!(get(&s, b"big"), Lookup::Miss(Miss::Flushed));
    assert_eq!(get(&s, b"plain"), Lookup::Miss(Miss::Flushed));
}

#[test]
fn eager_flush_unlinks_at_once_and_only_its_database() {
    let (s, _clock) = store();
    for i in 0..500u32 {
        let k = format!("k{i}");
        assert!(matches!(
            set(&s, k.as_bytes(), b"v"),
            StoreOutcome::Stored { .. }
        ));
        let w = Write::new(1, k.as_bytes(), b"w", 0, Expiry::Never, Mode::Set);
        assert!(matches!(s.store(&w), StoreOutcome::Stored { .. }));
    }
    assert_eq!(s.db_len(0), 500);
    let before = s.stats().curr_items;
    s.flush_eager(Some(0));
    assert_eq!(s.db_len(0), 0);
    assert_eq!(s.db_len(1), 500);
    assert_eq!(s.stats().curr_items, before - 500);
    assert_eq!(s.keyspace()[0].keys, 0);
    // The memory came back: every chunk of db 0's items is free again.
    let used: u64 = s.slab_stats().iter().map(|c| c.used_chunks).sum();
    assert_eq!(used, 500);
    // A write right after the flush, in the same second, is visible.
    assert!(matches!(
        set(&s, b"k1", b"new"),
        StoreOutcome::Stored { .. }
    ));
    assert_eq!(fetch(&s, b"k1"), Some(b"new".to_vec()));
    s.flush_eager(None);
    assert_eq!(s.db_len(0) + s.db_len(1), 0);
}
