use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;

fn contents(list: &List) -> Vec<Vec<u8>> {
    list.iter().map(<[u8]>::to_vec).collect()
}

#[test]
fn entry_encoding_walks_both_ways() {
    for len in [0usize, 1, 126, 127, 128, 16383, 16384, 70000] {
        let v = vec![b'x'; len];
        let mut buf = vec![0u8; entry_size(len)];
        write_entry(&mut buf, &v);
        let (s, e, next) = read_entry(&buf, 0);
        assert_eq!((e - s, next), (len, buf.len()), "len {len}");
        assert_eq!(entry_start_before(&buf, buf.len()), 0, "len {len}");
    }
    assert_eq!(entry_size(10), 12);
}

#[test]
fn pushes_and_pops_at_both_ends() {
    let mut l = List::new();
    let fill = Fill::default();
    l.push_back(b"b", fill);
    l.push_front(b"a", fill);
    l.push_back(b"c", fill);
    assert_eq!(contents(&l), [b"a", b"b", b"c"]);
    assert_eq!(l.front(), Some(&b"a"[..]));
    assert_eq!(l.back(), Some(&b"c"[..]));
    l.drop_front();
    l.drop_back();
    assert_eq!(contents(&l), [b"b"]);
    l.drop_back();
    assert!(l.is_empty());
    assert_eq!(l.front(), None);
}

#[test]
fn large_list_splits_into_8k_nodes() {
    let mut l = List::new();
    for i in 0..100_000u32 {
        l.push_back(format!("{i:010}").as_bytes(), Fill::new(-2));
    }
    // 12 bytes an entry, 8192-byte nodes: 682 entries a node.
    assert_eq!(l.node_count(), 100_000usize.div_ceil(682));
    assert_eq!(l.get(50_000), Some(&b"0000050000"[..]));
    assert_eq!(l.get(99_999), Some(&b"0000099999"[..]));
    assert_eq!(l.get(100_000), None);
    assert!(l.to_packed(Fill::new(-2), false).is_none());
}

#[test]
fn positive_fill_counts_entries() {
    let mut l = List::new();
    for i in 0..10u8 {
        l.push_back(&[i], Fill::new(3));
    }
    assert_eq!(l.node_count(), 4);
    l.insert(1, b"x", Fill::new(3));
    assert_eq!(l.get(1), Some(&b"x"[..]));
    assert_eq!(l.len(), 11);
}

#[test]
fn packed_round_trip() {
    let mut l = List::new();
    for v in [&b"one"[..], b"", b"three"] {
        l.push_back(v, Fill::default());
    }
    let bytes = l.to_packed(Fill::default(), false).unwrap();
    assert!(Packed::validate(&bytes));
    let p = Packed(&bytes);
    assert_eq!(p.len(), 3);
    assert_eq!(p.iter().next_back(), Some(&b"three"[..]));
    let back = List::from_packed(p);
    assert_eq!(contents(&back), contents(&l));
    assert!(!Packed::validate(&bytes[..bytes.len() - 1]));
    assert!(!Packed::validate(b"\x05\0\0\0\x01a"));
}

#[derive(Clone, Debug)]
enum Op {
    PushBack(Vec<u8>),
    PushFront(Vec<u8>),
    PopFront,
    PopBack,
    DropFront(usize),
    DropBack(usize),
    Insert(usize, Vec<u8>),
    Remove(usize),
    Set(usize, Vec<u8>),
    RemoveMatching(u8, usize, bool),
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::collection::vec(0u8..4, 0..3),
        1 => proptest::collection::vec(any::<u8>(), 100..300),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        value().prop_map(Op::PushBack),
        value().prop_map(Op::PushFront),
        Just(Op::PopFront),
        Just(Op::PopBack),
        (0usize..5).prop_map(Op::DropFront),
        (0usize..5).prop_map(Op::DropBack),
        (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
        any::<usize>().prop_map(Op::Remove),
        (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
        (0u8..4, 0usize..3, any::<bool>()).prop_map(|(b, n, r)| Op::RemoveMatching(b, n, r)),
    ]
}

fn check(list: &List, model: &VecDeque<Vec<u8>>) {
    assert!(
        list.bytes_consistent(),
        "kept heap bytes differ from a recount"
    );
    assert_eq!(list.len(), model.len());
    let fwd: Vec<_> = list.iter().collect();
    assert_eq!(fwd.len(), model.len());
    for (a, b) in fwd.iter().zip(model) {
        assert_eq!(*a, &b[..]);
    }
    for (i, want) in model.iter().enumerate() {
        assert_eq!(list.get(i), Some(&want[..]));
        assert_eq!(list.iter_from(i).next(), Some(&want[..]));
        assert_eq!(list.iter_rev_from(i).next(), Some(&want[..]));
        for n in [1, 3, model.len()] {
            let mut got = Vec::new();
            ListRef::List(list).for_each_from(i, n, |v| got.push(v.to_vec()));
            let want: Vec<_> = model.iter().skip(i).take(n).cloned().collect();
            assert_eq!(got, want, "from {i}, {n} elements");
        }
    }
    if let Some(p) = list.to_packed(Fill::new(-5), false) {
        for i in 0..model.len() {
            let mut got = Vec::new();
            ListRef::Packed(Packed(&p)).for_each_from(i, 4, |v| got.push(v.to_vec()));
            let want: Vec<_> = model.iter().skip(i).take(4).cloned().collect();
            assert_eq!(got, want, "packed, from {i}");
        }
    }
    let rev: Vec<_> = list.iter_rev_from(model.len().wrapping_sub(1)).collect();
    assert_eq!(rev.len(), model.len());
    if let Some(p) = list.to_packed(Fill::new(4), false) {
        assert!(Packed::validate(&p));
        assert_eq!(contents(&List::from_packed(Packed(&p))), contents(list));
    }
}

proptest! {
    #[test]
    fn behaves_as_a_deque(
        ops in proptest::collection::vec(op(), 0..200),
        fill in -2i64..6,
        plain in prop_oneof![Just(2usize), Just(200), Just(DEFAULT_PACKED_THRESHOLD)],
    ) {
        // Fill -2 keeps one node; small positive fills exercise splits; a low packed
        // threshold puts 2-byte or 200+-byte elements in nodes of their own.
        let fill = Fill {
            size: if fill < 0 { fill } else { fill + 1 },
            packed_threshold: plain,
        };
        let mut list = List::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for op in ops {
            match op {
                Op::PushBack(v) => { list.push_back(&v, fill); model.push_back(v); }
                Op::PushFront(v) => { list.push_front(&v, fill); model.push_front(v); }
                Op::PopFront => {
                    assert_eq!(list.front().map(<[u8]>::to_vec), model.pop_front());
                    list.drop_front();
                }
                Op::PopBack => {
                    assert_eq!(list.back().map(<[u8]>::to_vec), model.pop_back());
                    list.drop_back();
                }
                Op::DropFront(n) => {
                    list.drop_front_n(n);
                    model.drain(..n.min(model.len()));
                }
                Op::DropBack(n) => {
                    list.drop_back_n(n);
                    model.truncate(model.len().saturating_sub(n));
                }
                Op::Insert(i, v) => {
                    let i = i % (model.len() + 1);
                    list.insert(i, &v, fill);
                    model.insert(i, v);
                }
                Op::Remove(i) if !model.is_empty() => {
                    let i = i % model.len();
                    list.remove(i);
                    model.remove(i);
                }
                Op::Set(i, v) if !model.is_empty() => {
                    let i = i % model.len();
                    list.set(i, &v, fill);
                    model[i] = v;
                }
                Op::RemoveMatching(b, limit, from_back) => {
                    let hit = |v: &[u8]| v.first() == Some(&b);
                    let n = list.remove_matching(hit, limit, from_back);
                    let mut removed = 0;
                    let mut keep = VecDeque::new();
                    let mut items: Vec<_> = model.drain(..).collect();
                    if from_back { items.reverse(); }
                    for v in items {
                        if hit(&v) && (limit == 0 || removed < limit) {
                            removed += 1;
                        } else if from_back {
                            keep.push_front(v);
                        } else {
                            keep.push_back(v);
                        }
                    }
                    model = keep;
                    prop_assert_eq!(n, removed);
                }
                _ => {}
            }
            check(&list, &model);
            prop_assert!(list.large_alone(fill), "a large element shares a node");
        }
    }
}

#[test]
fn full_nodes_give_back_their_room() {
    // 20-byte elements (22-byte entries) in 8 KiB nodes: every node but the one still
    // taking pushes holds exactly its entries.
    for front in [false, true] {
        let mut l = List::new();
        for i in 0..5000 {
            let v = format!("element:{i:012}");
            if front {
                l.push_front(v.as_bytes(), Fill::default());
            } else {
                l.push_back(v.as_bytes(), Fill::default());
            }
        }
        assert!(l.node_count() > 10);
        let open = if front { 0 } else { l.node_count() - 1 };
        for (k, n) in l.nodes.iter().enumerate() {
            if k != open {
                assert_eq!((n.head, n.heap_bytes()), (0, n.count * 22), "front {front}");
            }
        }
        assert!(l.bytes_consistent());
        assert_eq!(l.len(), 5000);
    }
}
