//! Property tests: the store against a plain HashMap model under random operations with
//! the same manual clock, and the page budget under random sizes and page moves.

use proptest::prelude::*;
use slabd::storage::*;
use std::collections::HashMap;
use std::sync::Arc;

const KEYS: &[&[u8]] = &[b"a", b"b", b"counter", b"long-key-0123456789"];

#[derive(Clone, Debug)]
enum Op {
    Store(usize, Mode, Vec<u8>, u32, Option<u32>),
    Cas(usize, bool, Vec<u8>),
    Get(usize),
    Delete(usize),
    Arith(usize, bool, u64),
    Touch(usize, Option<u32>),
    Advance(u32),
    Flush(u32),
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (0u64..200).prop_map(|n| n.to_string().into_bytes()),
        Just(b"18446744073709551614".to_vec()),
    ]
}

fn ttl() -> impl Strategy<Value = Option<u32>> {
    prop_oneof![Just(None), (1u32..20).prop_map(Some)]
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let mode = prop_oneof![
        Just(Mode::Set),
        Just(Mode::Add),
        Just(Mode::Replace),
        Just(Mode::Append),
        Just(Mode::Prepend)
    ];
    prop_oneof![
        4 => (key.clone(), mode, value(), any::<u32>(), ttl()).prop_map(|(k, m, v, f, t)| Op::Store(k, m, v, f, t)),
        2 => (key.clone(), any::<bool>(), value()).prop_map(|(k, r, v)| Op::Cas(k, r, v)),
        4 => key.clone().prop_map(Op::Get),
        1 => key.clone().prop_map(Op::Delete),
        3 => (key.clone(), any::<bool>(), prop_oneof![0u64..30, Just(u64::MAX)]).prop_map(|(k, i, d)| Op::Arith(k, i, d)),
        1 => (key.clone(), ttl()).prop_map(|(k, t)| Op::Touch(k, t)),
        2 => (1u32..8).prop_map(Op::Advance),
        1 => (0u32..6).prop_map(Op::Flush),
    ]
}

#[derive(Clone, Debug)]
struct ModelItem {
    value: Vec<u8>,
    flags: u32,
    exp: Option<u64>,
    cas: u64,
}

struct Model {
    items: HashMap<Vec<u8>, ModelItem>,
    last_cas: u64,
    flushed_below: u64,
    pending_flush: Option<u64>,
}

impl Model {
    /// Applies a due delayed flush and drops invisible items, as the store does on access.
    fn settle(&mut self, now: u64) {
        if let Some(at) = self.pending_flush {
            if now >= at {
                self.flushed_below = self.flushed_below.max(self.last_cas);
                self.pending_flush = None;
            }
        }
        let below = self.flushed_below;
        self.items
            .retain(|_, it| it.exp.map_or(true, |e| e > now) && it.cas > below);
    }

    fn stored(&mut self, cas: u64) {
        self.last_cas = self.last_cas.max(cas);
    }
}

/// strtoull as memcached uses it: leading blanks, an optional sign, digits, then the end or
/// a blank.
fn parse_counter(v: &[u8]) -> Option<u64> {
    let blank = |b: &u8| b" \t\n\x0b\x0c\r".contains(b);
    let start = v.iter().position(|b| !blank(b))?;
    let s = &v[start..];
    let (neg, s) = match s.first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || s.get(n).is_some_and(|b| !blank(b)) {
        return None;
    }
    let x: u64 = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
    match (neg, x) {
        (false, x) => Some(x),
        (true, 0) => Some(0),
        (true, _) => None,
    }
}

fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = Arc::new(Clock::manual(1_800_000_000));
    let store = Store::new(StoreConfig::default(), clock.clone()).unwrap();
    let mut m = Model {
        items: HashMap::new(),
        last_cas: 0,
        flushed_below: 0,
        pending_flush: None,
    };
    let exp_of = |t: Option<u32>| match t {
        None => Expiry::Never,
        Some(s) => Expiry::at_secs(clock.unix_now() + u64::from(s)),
    };
    for op in ops {
        let now = clock.unix_now();
        m.settle(now);
        let shown = format!("{op:?}");
        match op {
            Op::Store(k, mode, v, flags, t) => {
                let key = KEYS[k];
                let exp = exp_of(t);
                let out = store.store(&Write::new(0, key, &v, flags, exp, mode));
                let old = m.items.get(key).cloned();
                let want_stored = match mode {
                    Mode::Set => true,
                    Mode::Add => old.is_none(),
                    _ => old.is_some(),
                };
                if want_stored {
                    let StoreOutcome::Stored { cas } = out else {
                        return Err(TestCaseError::fail(format!("{shown}: {out:?}")));
                    };
                    m.stored(cas);
                    let item = match (mode, old) {
                        (Mode::Append, Some(o)) => ModelItem {
                            value: [o.value, v].concat(),
                            cas,
                            ..o
                        },
                        (Mode::Prepend, Some(o)) => ModelItem {
                            value: [v, o.value].concat(),
                            cas,
                            ..o
                        },
                        _ => ModelItem {
                            value: v,
                            flags,
                            exp: t.map(|s| now + u64::from(s)),
                            cas,
                        },
                    };
                    m.items.insert(key.to_vec(), item);
                } else {
                    prop_assert_eq!(out, StoreOutcome::NotStored, "{:?}", mode);
                }
            }
            Op::Cas(k, right, v) => {
                let key = KEYS[k];
                let old = m.items.get(key).cloned();
                let mut w = Write::new(0, key, &v, 1, Expiry::Never, Mode::Set);
                w.compare_cas = Some(match (&old, right) {
                    (Some(o), true) => o.cas,
                    (Some(o), false) => o.cas + 1,
                    (None, _) => 12345,
                });
                let out = store.store(&w);
                match old {
                    None => prop_assert_eq!(out, StoreOutcome::NotFound),
                    Some(_) if !right => prop_assert_eq!(out, StoreOutcome::Exists),
                    Some(_) => {
                        let StoreOutcome::Stored { cas } = out else {
                            return Err(TestCaseError::fail(format!("cas: {out:?}")));
                        };
                        m.stored(cas);
                        m.items.insert(
                            key.to_vec(),
                            ModelItem {
                                value: v,
                                flags: 1,
                                exp: None,
                                cas,
                            },
                        );
                    }
                }
            }
            Op::Get(k) => {
                let key = KEYS[k];
                let got = store.get(0, key, &ReadOptions::default(), |it| {
                    let mut v = Vec::new();
                    it.copy_value_to(&mut v);
                    let exp = it.expiry().unix_secs();
                    (v, it.flags(), exp, it.cas())
                });
                match m.items.get(key) {
                    None => prop_assert!(matches!(got, Lookup::Miss(_)), "{:?}", got),
                    Some(o) => {
                        prop_assert_eq!(got, Lookup::Hit((o.value.clone(), o.flags, o.exp, o.cas)))
                    }
                }
            }
            Op::Delete(k) => {
                let key = KEYS[k];
                let out = store.delete(&Delete {
                    db: 0,
                    key,
                    compare_cas: None,
                    invalidate: None,
                    drop_value: false,
                });
                let want = if m.items.remove(key).is_some() {
                    DeleteOutcome::Deleted
                } else {
                    DeleteOutcome::NotFound
                };
                prop_assert_eq!(out, want);
            }
            Op::Arith(k, incr, delta) => {
                let key = KEYS[k];
                let out = store.arith(&Arith {
                    db: 0,
                    key,
                    incr,
                    delta,
                    compare_cas: None,
                    new_cas: None,
                    vivify: None,
                    touch: None,
                });
                match m.items.get_mut(key) {
                    None => prop_assert_eq!(out, ArithOutcome::NotFound),
                    Some(o) => match parse_counter(&o.value) {
                        None => prop_assert_eq!(out, ArithOutcome::NonNumeric),
                        Some(cur) => {
                            let new = if incr {
                                cur.wrapping_add(delta)
                            } else {
                                cur.saturating_sub(delta)
                            };
                            let ArithOutcome::Value { value, cas, .. } = out else {
                                return Err(TestCaseError::fail(format!("arith: {out:?}")));
                            };
                            prop_assert_eq!(value, new);
                            let mut text = new.to_string().into_bytes();
                            if text.len() <= o.value.len() {
                                text.resize(o.value.len(), b' ');
                            }
                            o.value = text;
                            o.cas = cas;
                            m.last_cas = m.last_cas.max(cas);
                        }
                    },
                }
            }
            Op::Touch(k, t) => {
                let key = KEYS[k];
                let ok = store.touch(0, key, exp_of(t));
                match m.items.get_mut(key) {
                    None => prop_assert!(!ok),
                    Some(o) => {
                        prop_assert!(ok);
                        o.exp = t.map(|s| now + u64::from(s));
                    }
                }
            }
            Op::Advance(s) => clock.advance(s),
            Op::Flush(delay) => {
                store.flush(None, delay);
                if delay == 0 {
                    m.flushed_below = m.flushed_below.max(m.last_cas);
                    m.pending_flush = None;
                } else {
                    m.pending_flush = Some(now + u64::from(delay));
                }
            }
        }
    }
    m.settle(clock.unix_now());
    for key in KEYS {
        store.get(0, key, &ReadOptions::default(), |_| ());
    }
    prop_assert_eq!(store.stats().curr_items, m.items.len() as u64);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn store_matches_hashmap_model(ops in proptest::collection::vec(op(), 1..80)) {
        check(ops)?;
    }
}

#[derive(Clone, Debug)]
enum BudgetOp {
    Set(u16, usize),
    Delete(u16),
    Maintain,
    Reassign(i32, i32),
}

fn budget_op() -> impl Strategy<Value = BudgetOp> {
    let size = prop_oneof![
        8 => 0usize..600,
        3 => 600usize..20_000,
        1 => 20_000usize..700_000,
    ];
    prop_oneof![
        12 => (0u16..3000, size).prop_map(|(k, s)| BudgetOp::Set(k, s)),
        3 => (0u16..3000).prop_map(BudgetOp::Delete),
        1 => Just(BudgetOp::Maintain),
        1 => (-1i32..45, 1i32..45).prop_map(|(a, b)| BudgetOp::Reassign(a, b)),
    ]
}

/// A value that says which key and length it was written for.
fn payload(key: u16, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (usize::from(key) * 31 + i) as u8)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn page_budget_is_never_exceeded(ops in proptest::collection::vec(budget_op(), 1..600)) {
        let limit = 4usize << 20;
        let clock = Arc::new(Clock::manual(1_800_000_000));
        let cfg = StoreConfig { memory_limit: limit, item_size_max: 1 << 20, ..StoreConfig::default() };
        let store = Store::new(cfg, clock).unwrap();
        let mut last: HashMap<u16, usize> = HashMap::new();
        for op in ops {
            match op {
                BudgetOp::Set(k, len) => {
                    let key = format!("key{k}");
                    let out = store.store(&Write::new(0, key.as_bytes(), &payload(k, len), 0, Expiry::Never, Mode::Set));
                    match out {
                        StoreOutcome::Stored { .. } => { last.insert(k, len); }
                        StoreOutcome::NoMemory => { last.remove(&k); }
                        other => prop_assert!(false, "{:?}", other),
                    }
                }
                BudgetOp::Delete(k) => {
                    last.remove(&k);
                    store.delete(&Delete { db: 0, key: format!("key{k}").as_bytes(), compare_cas: None, invalidate: None, drop_value: false });
                }
                BudgetOp::Maintain => store.maintain(),
                BudgetOp::Reassign(a, b) => { store.reassign(a, b); }
            }
            let st = store.stats();
            // A class's first page may go past the limit, as in memcached (one per class).
            let bound = limit as u64 + st.pages_past_limit * (1 << 20);
            prop_assert!(st.total_malloced <= bound, "{} > {}", st.total_malloced, bound);
            prop_assert!(st.pages_past_limit <= st.curr_slab_classes);
            let pages: u64 = store.slab_stats().iter().map(|c| c.total_pages).sum();
            prop_assert_eq!(pages * (1 << 20), st.total_malloced);
        }
        // Whatever survived eviction is exactly what was last written.
        let mut live = 0;
        for (&k, &len) in &last {
            let key = format!("key{k}");
            if let Lookup::Hit(v) = store.get(0, key.as_bytes(), &ReadOptions::default(), |it| {
                let mut v = Vec::new();
                it.copy_value_to(&mut v);
                v
            }) {
                prop_assert_eq!(v, payload(k, len));
                live += 1;
            }
        }
        prop_assert_eq!(live, store.stats().curr_items);
    }
}
