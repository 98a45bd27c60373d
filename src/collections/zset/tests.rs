use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn score_text(v: f64) -> String {
    let mut out = Vec::new();
    format_score(v, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn scores_print_as_percent_17g() {
    let cases = [
        (1.1, "1.1000000000000001"),
        (3.0, "3"),
        (1e20, "1e+20"),
        (0.1, "0.10000000000000001"),
        (1e300, "1.0000000000000001e+300"),
        (1.5, "1.5"),
        (0.0001, "0.0001"),
        (0.00001234, "1.234e-05"),
        (123456789012345678.0, "1.2345678901234568e+17"),
        (1e16, "10000000000000000"),
        (1e17, "1e+17"),
        (-2.5, "-2.5"),
        (5e-324, "4.9406564584124654e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (100.0, "100"),
        (12345.678, "12345.678"),
        (0.0, "0"),
        (-0.0, "-0"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
    ];
    for (v, want) in cases {
        assert_eq!(score_text(v), want, "{v:e}");
    }
}

/// The whole-number shortcut prints what the general `%.17g` path prints.
fn general_text(v: f64) -> String {
    let mut t = ScoreText {
        buf: [0; 32],
        len: 0,
    };
    t.general(v);
    String::from_utf8(t.as_bytes().to_vec()).unwrap()
}

#[test]
fn whole_scores_print_as_the_general_path() {
    let mut cases = vec![1.0, 7.0, 10.0, 99.0, 100.0, 12345.0, 9007199254740992.0];
    cases.extend([9007199254740994.0, 99999999999999984.0, 1e16, 5e16 + 8.0]);
    for v in cases.into_iter().flat_map(|v: f64| [v, -v]) {
        assert_eq!(score_text(v), general_text(v), "{v:e}");
    }
    assert_eq!(score_text(-7.0), "-7");
    assert_eq!(score_text(99999999999999984.0), "99999999999999984");
    assert_eq!(score_text(1e17), "1e+17");
    assert_eq!(score_text(-1e300), "-1.0000000000000001e+300");
    assert_eq!(score_text(-1.5e-300), "-1.5000000000000001e-300");
    assert_eq!(
        score_text(-1.2345678901234568e-4),
        "-0.00012345678901234567"
    );
}

proptest! {
    #[test]
    fn whole_scores_below_1e17_print_as_the_general_path(n in 1u64..100_000_000_000_000_000, neg: bool) {
        let v = if neg { -(n as f64) } else { n as f64 };
        prop_assert_eq!(score_text(v), general_text(v));
    }

    #[test]
    fn integer_scores_parse_as_the_float_parser(text in "-?[0-9]{1,17}") {
        let want: f64 = text.parse().unwrap();
        let got = parse_score(text.as_bytes()).unwrap();
        prop_assert_eq!(got.to_bits(), want.to_bits());
    }
}

#[test]
fn scores_parse_as_redis() {
    for (text, want) in [
        ("1", Some(1.0)),
        ("-1.5", Some(-1.5)),
        ("-0", Some(-0.0)),
        ("007", Some(7.0)),
        ("-", None),
        ("--1", None),
        ("1-", None),
        ("+inf", Some(f64::INFINITY)),
        ("-inf", Some(f64::NEG_INFINITY)),
        ("inf", Some(f64::INFINITY)),
        ("Infinity", Some(f64::INFINITY)),
        ("1e3", Some(1000.0)),
        (".5", Some(0.5)),
        ("0e0", Some(0.0)),
        ("nan", None),
        ("1e400", None),
        ("1e-400", None),
        ("", None),
        (" 1", None),
        ("1 ", None),
        ("abc", None),
    ] {
        assert_eq!(parse_score(text.as_bytes()), want, "{text:?}");
    }
}

#[test]
fn bounds_parse_as_redis() {
    let b = ScoreBound::parse(b"(1.5").unwrap();
    assert_eq!((b.value, b.exclusive), (1.5, true));
    assert!(ScoreBound::parse(b"-inf").unwrap().value.is_infinite());
    assert!(ScoreBound::parse(b"1e400").is_some());
    assert!(ScoreBound::parse(b"x").is_none());
    assert!(ScoreBound::parse(b"(nan").is_none());
    assert_eq!(LexBound::parse(b"[a"), Some(LexBound::Inclusive(b"a")));
    assert_eq!(LexBound::parse(b"(a"), Some(LexBound::Exclusive(b"a")));
    assert_eq!(LexBound::parse(b"+"), Some(LexBound::Max));
    assert_eq!(LexBound::parse(b"-"), Some(LexBound::Min));
    assert_eq!(LexBound::parse(b"a"), None);
    assert_eq!(LexBound::parse(b"+a"), None);
}

/// The model: members with scores, and the same entries in sorted-set order.
#[derive(Default)]
struct Model {
    scores: BTreeMap<Vec<u8>, f64>,
}

impl Model {
    fn ordered(&self) -> Vec<(f64, Vec<u8>)> {
        let mut v: Vec<_> = self.scores.iter().map(|(m, s)| (*s, m.clone())).collect();
        v.sort_by(|a, b| cmp_key((a.0, &a.1), (b.0, &b.1)));
        v
    }
}

fn check(z: &ZSet, model: &Model) {
    if let ZSet::Tree(t) = z {
        assert!(
            t.bytes_consistent(),
            "kept heap bytes differ from a recount"
        );
    }
    let r = z.as_ref();
    let want = model.ordered();
    assert_eq!(r.len(), want.len());
    let got: Vec<_> = r.iter_from(0).map(|(s, m)| (s, m.to_vec())).collect();
    assert_eq!(got, want);
    let mut rev: Vec<_> = r
        .iter_rev_from(want.len().wrapping_sub(1))
        .map(|(s, m)| (s, m.to_vec()))
        .collect();
    rev.reverse();
    assert_eq!(rev, want);
    for (i, (s, m)) in want.iter().enumerate() {
        assert_eq!(r.rank(m), Some((i, *s)));
        assert_eq!(r.score(m), Some(*s));
        assert_eq!(
            r.get(i).map(|(s, m)| (s, m.to_vec())),
            Some((*s, m.clone()))
        );
        let mut back = r.iter_rev_from(i);
        assert_eq!(back.next().map(|(_, m)| m.to_vec()), Some(m.clone()));
    }
    for probe in [-3.0, -1.0, 0.0, 0.5, 1.0, 2.0, 5.0] {
        for exclusive in [false, true] {
            let b = ScoreBound {
                value: probe,
                exclusive,
            };
            let below = want.iter().filter(|(s, _)| b.below_min(*s)).count();
            assert_eq!(r.count_before(|s, _| b.below_min(s)), below);
            let within = want.iter().filter(|(s, _)| b.within_max(*s)).count();
            assert_eq!(r.count_before(|s, _| b.within_max(s)), within);
        }
    }
    if let ZSet::Packed(bytes) = z {
        assert!(Packed::validate(bytes));
    }
}

#[derive(Clone, Debug)]
enum Op {
    Add(Vec<u8>, f64),
    /// ZADD's path: the hinted score (possibly not the one set), the new score (None:
    /// the closure declines the change).
    Update(Vec<u8>, Option<f64>, Option<f64>),
    Remove(Vec<u8>),
    RemoveRank(usize),
    RemoveRanks(usize, usize),
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(b'a'..b'h', 0..3),
        1 => proptest::collection::vec(any::<u8>(), 60..80),
    ]
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        (-2i32..4).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(0.5),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (member(), score()).prop_map(|(m, s)| Op::Add(m, s)),
        3 => (member(), proptest::option::of(score()), proptest::option::of(score()))
            .prop_map(|(m, h, s)| Op::Update(m, h, s)),
        2 => member().prop_map(Op::Remove),
        1 => any::<usize>().prop_map(Op::RemoveRank),
        1 => (any::<usize>(), 0usize..6).prop_map(|(a, n)| Op::RemoveRanks(a, n)),
    ]
}

proptest! {
    #[test]
    fn behaves_as_a_map(ops in proptest::collection::vec(op(), 0..300), entries in 0usize..6) {
        let limits = Limits { max_entries: entries, max_value: 64 };
        let mut z = ZSet::default();
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Add(m, s) => {
                    if model.scores.contains_key(&m) {
                        z.set_score(&m, s, limits);
                    } else {
                        z.insert(&m, s, limits);
                    }
                    model.scores.insert(m, s);
                }
                Op::Update(m, hint, new) => {
                    let mut seen = None;
                    let got = z.update_score(&m, hint, limits, |cur| {
                        seen = Some(cur);
                        new
                    });
                    let old = model.scores.get(&m).copied();
                    prop_assert_eq!(got, old);
                    prop_assert_eq!(seen, old, "f sees the old score, and only for a member");
                    if let (Some(_), Some(s)) = (old, new) {
                        model.scores.insert(m, s);
                    }
                }
                Op::Remove(m) => {
                    prop_assert_eq!(z.remove(&m), model.scores.remove(&m));
                }
                Op::RemoveRank(r) if !model.scores.is_empty() => {
                    let r = r % model.scores.len();
                    let (s, m) = model.ordered()[r].clone();
                    prop_assert_eq!(z.remove_rank(r), (s, m.clone()));
                    model.scores.remove(&m);
                }
                Op::RemoveRanks(a, n) if !model.scores.is_empty() => {
                    let a = a % model.scores.len();
                    let b = (a + n).min(model.scores.len());
                    for (_, m) in &model.ordered()[a..b] {
                        model.scores.remove(m);
                    }
                    z.remove_ranks(a, b);
                }
                _ => {}
            }
            check(&z, &model);
        }
    }
}

#[test]
fn large_tree_against_model() {
    let mut t = Tree::new();
    let mut model = BTreeMap::new();
    let mut x: u64 = 12345;
    for round in 0..20_000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let m = format!("m{}", x % 3000).into_bytes();
        let s = f64::from((x >> 20) as u32 % 50);
        if x % 3 == 0 {
            assert_eq!(t.remove(&m), model.remove(&m));
        } else if let Some(old) = model.insert(m.clone(), s) {
            if x % 5 == 0 {
                assert_eq!(t.remove(&m), Some(old));
                t.insert(&m, s);
            } else {
                assert_eq!(t.score(&m), Some(old));
                assert!(t.set_score(&m, s));
            }
        } else {
            t.insert(&m, s);
        }
        if round % 500 == 0 {
            assert!(t.bytes_consistent(), "heap bytes drifted by round {round}");
        }
        if round % 4000 == 0 {
            let z = ZSet::Tree(Box::new(t.clone()));
            check(
                &z,
                &Model {
                    scores: model.clone(),
                },
            );
        }
    }
    let z = ZSet::Tree(Box::new(t));
    check(&z, &Model { scores: model });
}

#[test]
fn a_set_loaded_in_order_keeps_room_in_its_leaves() {
    // Unit-test leaves hold at most 4 entries and stop at 3 when grown at an end.
    for descending in [false, true] {
        let mut t = Tree::new();
        for i in 0..30 {
            let i = if descending { 29 - i } else { i };
            t.insert(format!("m{i:02}").as_bytes(), f64::from(i));
        }
        assert_eq!(t.leaf_count(), 10, "descending: {descending}");
        // One insert into each leaf finds room: no leaf splits.
        for i in (1..30).step_by(3) {
            t.insert(format!("n{i:02}").as_bytes(), f64::from(i) + 0.5);
        }
        assert_eq!(t.leaf_count(), 10, "descending: {descending}");
        assert!(t.bytes_consistent());
        let got: Vec<f64> = t.iter_from(0).map(|(s, _)| s).collect();
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(got.len(), 40);
    }
}

#[test]
fn node_headers_keep_their_hot_fields_in_few_lines() {
    use super::node::{Inner, Leaf, LEAF_SLOTS, SLOTS};
    use std::mem::{align_of, offset_of, size_of};
    // A leaf header: aligned whole lines; the lookup's first reads (tags, count, parent)
    // in the first line, the buffer at the start of the second, the offsets after it.
    assert_eq!(align_of::<Leaf>(), 64);
    assert_eq!(
        size_of::<Leaf>(),
        (64 + 24 + 4 * LEAF_SLOTS).div_ceil(64) * 64
    );
    assert_eq!(offset_of!(Leaf, tags), 0);
    for end in [
        offset_of!(Leaf, count) + 4,
        offset_of!(Leaf, parent) + 4,
        offset_of!(Leaf, prev) + 4,
        offset_of!(Leaf, next) + 4,
    ] {
        assert!(end <= 64, "{end}");
    }
    assert_eq!(offset_of!(Leaf, buf), 64);
    assert_eq!(offset_of!(Leaf, offsets), 64 + size_of::<Vec<u8>>());
    // An inner node: what a walk up reads (parent, children, sizes of 4 bytes) comes
    // before the separators.
    assert_eq!(size_of::<[u32; SLOTS]>(), 4 * SLOTS);
    assert!(offset_of!(Inner, parent) < offset_of!(Inner, children));
    assert_eq!(
        offset_of!(Inner, children) + 4 * SLOTS,
        offset_of!(Inner, sizes)
    );
    assert!(offset_of!(Inner, sizes) + 4 * SLOTS <= offset_of!(Inner, sep_scores));
    assert!(offset_of!(Inner, sep_scores) < offset_of!(Inner, sep_members));
    let n = Inner::default();
    assert_eq!(std::mem::size_of_val(&n.sizes), 4 * SLOTS);
}
