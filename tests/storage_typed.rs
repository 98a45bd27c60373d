//! The typed-values API: compact encodings as item bytes, heap objects owned by items and
//! charged to the memory budget, and whole-key operations that carry objects along.

use slabd::storage::{
    Clock, Current, Expiry, ItemType, Lookup, Mode, Object, ReadOptions, RewriteError, Store,
    StoreConfig, Ttl, Update, Write,
};
use std::any::Any;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A stand-in collection: a list of byte strings.
#[derive(Clone, Default)]
struct TestList {
    items: Vec<Vec<u8>>,
    drops: Option<Arc<AtomicUsize>>,
}

impl Drop for TestList {
    fn drop(&mut self) {
        if let Some(d) = &self.drops {
            d.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Object for TestList {
    fn value_type(&self) -> ItemType {
        ItemType::List
    }
    fn mem_usage(&self) -> usize {
        64 + self.items.iter().map(|i| i.len() + 24).sum::<usize>()
    }
    fn duplicate(&self) -> Box<dyn Object> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

fn store_with(cfg: StoreConfig) -> (Store, Arc<Clock>) {
    let clock = Arc::new(Clock::manual(1_700_000_000));
    (Store::new(cfg, clock.clone()).unwrap(), clock)
}

fn store() -> (Store, Arc<Clock>) {
    store_with(StoreConfig::default())
}

fn list_of(n: usize, len: usize) -> Box<dyn Object> {
    Box::new(TestList {
        items: (0..n).map(|i| vec![b'a' + (i % 26) as u8; len]).collect(),
        drops: None,
    })
}

/// Pushes `v` onto the list at `key`, creating it.
fn push(s: &Store, key: &[u8], v: &[u8]) -> Result<usize, RewriteError> {
    s.modify(0, key, |cur| match cur {
        Some(cur) => {
            let list = cur.downcast_mut::<TestList>().expect("a list object");
            list.items.push(v.to_vec());
            Update::Changed(list.items.len())
        }
        None => Update::Object {
            object: Box::new(TestList {
                items: vec![v.to_vec()],
                drops: None,
            }),
            ttl: Ttl::Keep,
            result: 1,
        },
    })
}

fn len_of(s: &Store, key: &[u8]) -> Option<usize> {
    s.inspect(0, key, |cur| {
        cur.and_then(|c| c.downcast_ref::<TestList>())
            .map(|l| l.items.len())
    })
}

#[test]
fn compact_bytes_carry_their_type_tag() {
    let (s, _) = store();
    let r = s.modify(0, b"h", |cur| {
        assert!(cur.is_none());
        Update::Bytes {
            ty: ItemType::Hash,
            value: b"\x01f\x01v".to_vec(),
            ttl: Ttl::Keep,
            result: 7,
        }
    });
    assert_eq!(r, Ok(7));
    let seen = s.inspect(0, b"h", |cur| {
        let c = cur.unwrap();
        (
            c.item_type(),
            c.is_object(),
            c.bytes().unwrap().into_owned(),
            c.expiry(),
        )
    });
    assert_eq!(
        seen,
        (ItemType::Hash, false, b"\x01f\x01v".to_vec(), Expiry::Never)
    );
    // Plain reads see the type too (TYPE, WRONGTYPE checks).
    let t = s.get(0, b"h", &ReadOptions::default(), |i| i.item_type());
    assert_eq!(t, Lookup::Hit(ItemType::Hash));
    // Keep and Delete.
    assert_eq!(s.modify(0, b"h", |_| Update::Keep(1)), Ok(1));
    assert_eq!(s.modify(0, b"h", |_| Update::Delete(2)), Ok(2));
    assert!(s.inspect(0, b"h", |c| c.is_none()));
}

#[test]
fn objects_are_charged_and_recharged_and_freed() {
    let (s, _) = store();
    let base = s.stats().bytes;
    for i in 0..100 {
        assert_eq!(push(&s, b"l", &[b'x'; 100]), Ok(i + 1));
    }
    assert_eq!(len_of(&s, b"l"), Some(100));
    let charged = s.object_bytes();
    assert_eq!(charged, 64 + 100 * 124);
    // `bytes` counts the handle item and the object.
    assert!(s.stats().bytes >= base + charged);
    assert_eq!(s.stats().curr_items, 1);
    // TYPE of an object item.
    let t = s.get(0, b"l", &ReadOptions::default(), |i| i.item_type());
    assert_eq!(t, Lookup::Hit(ItemType::List));
    // A string SET over it frees the object.
    s.store(&Write::new(0, b"l", b"v", 0, Expiry::Never, Mode::Set));
    assert_eq!(s.object_bytes(), 0);
    assert_eq!(len_of(&s, b"l"), None);
}

#[test]
fn objects_die_with_their_item_on_delete_expiry_flush() {
    let (s, clock) = store();
    let drops = Arc::new(AtomicUsize::new(0));
    let mk = || TestList {
        items: vec![b"x".to_vec()],
        drops: Some(drops.clone()),
    };
    let put = |key: &[u8], ttl: Ttl| {
        s.modify(0, key, |_| Update::Object {
            object: Box::new(mk()),
            ttl,
            result: (),
        })
        .unwrap()
    };
    put(b"del", Ttl::Keep);
    put(b"exp", Ttl::Set(Expiry::AtMs(clock.now_ms() + 1_500)));
    put(b"flush", Ttl::Keep);
    // Overwriting an object with another drops the first.
    put(b"over", Ttl::Keep);
    put(b"over", Ttl::Keep);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let d = slabd::storage::Delete {
        db: 0,
        key: b"del",
        compare_cas: None,
        invalidate: None,
        drop_value: false,
    };
    assert_eq!(s.delete(&d), slabd::storage::DeleteOutcome::Deleted);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    clock.advance_ms(1_499);
    assert_eq!(len_of(&s, b"exp"), Some(1));
    clock.advance_ms(1);
    assert_eq!(len_of(&s, b"exp"), None);
    assert_eq!(drops.load(Ordering::SeqCst), 3);
    s.flush_eager(None);
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    assert_eq!(s.object_bytes(), 0);
}

#[test]
fn expiry_policies_of_typed_writes() {
    let (s, clock) = store();
    let at = Expiry::AtMs(clock.now_ms() + 10_000);
    s.modify(0, b"k", |_| Update::Object {
        object: list_of(3, 4),
        ttl: Ttl::Set(at),
        result: (),
    })
    .unwrap();
    // Changed and Keep-ttl writes keep the expiry; a conversion to bytes too.
    push(&s, b"k", b"z").unwrap();
    assert_eq!(s.inspect(0, b"k", |c| c.unwrap().expiry()), at);
    s.modify(0, b"k", |_| Update::Bytes {
        ty: ItemType::List,
        value: b"compact".to_vec(),
        ttl: Ttl::Keep,
        result: (),
    })
    .unwrap();
    assert_eq!(s.inspect(0, b"k", |c| c.unwrap().expiry()), at);
    assert_eq!(s.object_bytes(), 0);
    // EXPIRE on a collection is the same touch as on a string.
    assert!(s.touch(0, b"k", Expiry::Never));
    assert_eq!(s.inspect(0, b"k", |c| c.unwrap().expiry()), Expiry::Never);
}

#[test]
fn rename_move_and_copy_carry_objects() {
    let (s, _) = store();
    s.modify(0, b"a", |_| Update::Object {
        object: list_of(10, 10),
        ttl: Ttl::Keep,
        result: (),
    })
    .unwrap();
    let one = s.object_bytes();
    // Across stripes and databases; the object moves, nothing is duplicated.
    assert_eq!(s.rename(0, b"a", 0, b"b", false), Ok(true));
    assert_eq!(len_of(&s, b"a"), None);
    assert_eq!(len_of(&s, b"b"), Some(10));
    assert_eq!(s.object_bytes(), one);
    assert_eq!(s.rename(0, b"b", 3, b"b", true), Ok(true));
    let in_db3 = s.inspect(3, b"b", |c| c.map(|c| c.item_type()));
    assert_eq!(in_db3, Some(ItemType::List));
    // COPY duplicates (and charges) the object; the copies are independent.
    assert_eq!(s.copy(3, b"b", 0, b"c", false), Ok(true));
    assert_eq!(s.object_bytes(), 2 * one);
    assert_eq!(s.copy(3, b"b", 0, b"c", false), Ok(false));
    assert_eq!(s.copy(3, b"b", 0, b"c", true), Ok(true));
    assert_eq!(s.object_bytes(), 2 * one);
    assert_eq!(s.copy(3, b"b", 3, b"b", true), Ok(false));
    push(&s, b"c", b"new").unwrap();
    assert_eq!(len_of(&s, b"c"), Some(11));
    assert_eq!(
        s.inspect(3, b"b", |c| c
            .and_then(|c| c.downcast_ref::<TestList>())
            .map(|l| l.items.len())),
        Some(10)
    );
    // SWAPDB carries it along too.
    s.swap_db(0, 3);
    assert_eq!(len_of(&s, b"b"), Some(10));
    // Strings copy too.
    s.store(&Write::new(0, b"s", b"str", 0, Expiry::Never, Mode::Set));
    assert_eq!(s.copy(0, b"s", 0, b"t", false), Ok(true));
    let t = s.get(0, b"t", &ReadOptions::default(), |i| i.value_len());
    assert_eq!(t, Lookup::Hit(3));
}

#[test]
fn for_each_value_sees_every_type() {
    let (s, _) = store();
    s.store(&Write::new(2, b"s", b"str", 0, Expiry::Never, Mode::Set));
    s.modify(0, b"l", |_| Update::Object {
        object: list_of(2, 2),
        ttl: Ttl::Keep,
        result: (),
    })
    .unwrap();
    s.modify(1, b"h", |_| Update::Bytes {
        ty: ItemType::Hash,
        value: b"enc".to_vec(),
        ttl: Ttl::Keep,
        result: (),
    })
    .unwrap();
    let mut seen = Vec::new();
    s.for_each_value(|db, c: &Current<'_>| {
        let what = match c.bytes() {
            Some(b) => b.into_owned(),
            None => {
                format!("obj{}", c.downcast_ref::<TestList>().unwrap().items.len()).into_bytes()
            }
        };
        seen.push((db, c.key().to_vec(), c.item_type(), what));
    });
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (0, b"l".to_vec(), ItemType::List, b"obj2".to_vec()),
            (1, b"h".to_vec(), ItemType::Hash, b"enc".to_vec()),
            (2, b"s".to_vec(), ItemType::String, b"str".to_vec()),
        ]
    );
}

#[test]
fn objects_are_bounded_by_the_memory_limit() {
    let cfg = StoreConfig {
        memory_limit: 8 << 20,
        item_size_max: 1 << 20,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    // 200 lists of ~100 KB each: 20 MB of objects into an 8 MB budget.
    for i in 0..200 {
        let key = format!("list{i}");
        let r = s.modify(0, key.as_bytes(), |_| Update::Object {
            object: list_of(800, 100),
            ttl: Ttl::Keep,
            result: (),
        });
        assert_eq!(r, Ok(()), "write {i} must succeed by eviction");
        let st = s.stats();
        assert!(
            s.object_bytes() + st.total_malloced <= (8 << 20) + st.pages_past_limit * (1 << 20),
            "objects {} + pages {} over the limit",
            s.object_bytes(),
            st.total_malloced
        );
    }
    // The newest survives; old ones were evicted.
    assert_eq!(len_of(&s, b"list199"), Some(800));
    assert!(s.stats().curr_items < 200);
    // Strings can still be written after objects took the budget.
    for i in 0..1000 {
        let key = format!("s{i}");
        let out = s.store(&Write::new(
            0,
            key.as_bytes(),
            &[b'v'; 1000],
            0,
            Expiry::Never,
            Mode::Set,
        ));
        assert!(
            matches!(out, slabd::storage::StoreOutcome::Stored { .. }),
            "{i}: {out:?}"
        );
    }
}

#[test]
fn without_eviction_objects_over_the_limit_are_no_memory() {
    let cfg = StoreConfig {
        memory_limit: 8 << 20,
        evict: false,
        ..StoreConfig::default()
    };
    let (s, _) = store_with(cfg);
    let mut refused = None;
    for i in 0..200 {
        let key = format!("list{i}");
        let r = s.modify(0, key.as_bytes(), |_| Update::Object {
            object: list_of(800, 100),
            ttl: Ttl::Keep,
            result: (),
        });
        if r.is_err() {
            refused = Some((i, r));
            break;
        }
    }
    let (i, r) = refused.expect("the budget must run out");
    assert_eq!(r, Err(RewriteError::NoMemory));
    assert!((60..=90).contains(&i), "refused at {i}");
    assert_eq!(len_of(&s, b"list0"), Some(800));
}

#[test]
fn large_objects_are_freed_off_the_request_path() {
    let (s, _) = store();
    let drops = Arc::new(AtomicUsize::new(0));
    s.modify(0, b"big", |_| Update::Object {
        object: Box::new(TestList {
            items: (0..2000).map(|_| vec![0u8; 100]).collect(),
            drops: Some(drops.clone()),
        }),
        ttl: Ttl::Keep,
        result: (),
    })
    .unwrap();
    assert!(s.object_bytes() > 64 << 10);
    s.modify(0, b"big", |_| Update::Delete(())).unwrap();
    assert_eq!(s.object_bytes(), 0);
    // Dropped on the lazyfree thread: wait for it (bounded).
    for _ in 0..500 {
        if drops.load(Ordering::SeqCst) == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
