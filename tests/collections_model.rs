//! Hashes and sets against simple models (HashMap, HashSet): random command sequences run
//! through the whole RESP layer into a real store (`commands::process`, no socket), with
//! thresholds lowered so that both the compact and the large form, and the conversion
//! between them, are exercised; every reply is compared with what the model predicts.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use proptest::prelude::*;
use slabd::commands::{process, Context, Protocol, Session, Step};
use slabd::config::Settings;
use slabd::storage::{Clock, Store, StoreConfig};

struct Rig {
    ctx: Context,
    session: Session,
}

fn bulk(b: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", b.len()).into_bytes();
    v.extend_from_slice(b);
    v.extend_from_slice(b"\r\n");
    v
}

impl Rig {
    fn new() -> Rig {
        let settings = Settings {
            threads: 1,
            ..Settings::default()
        };
        let store = Store::new(
            StoreConfig {
                memory_limit: 64 << 20,
                ..StoreConfig::default()
            },
            Arc::new(Clock::manual(1_700_000_000)),
        )
        .unwrap();
        let ctx = Context::new(store, settings);
        let info = ctx
            .clients
            .open("127.0.0.1:5000".into(), "127.0.0.1:6379".into(), 0);
        let session = Session::new(info, Protocol::Resp, 0);
        let mut rig = Rig { ctx, session };
        for (name, value) in [
            ("hash-max-listpack-entries", "4"),
            ("hash-max-listpack-value", "6"),
            ("set-max-intset-entries", "4"),
        ] {
            assert_eq!(
                rig.cmd(&[b"CONFIG", b"SET", name.as_bytes(), value.as_bytes()]),
                b"+OK\r\n"
            );
        }
        rig
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend(bulk(a));
        }
        let mut out = Vec::new();
        match process(&self.ctx, &mut self.session, &req, &mut out) {
            Step::Done(n) => assert_eq!(n, req.len()),
            other => panic!("{other:?}"),
        }
        out
    }
}

fn int(n: usize) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

/// Parses a flat array of bulk strings.
fn bulks(reply: &[u8]) -> Vec<Vec<u8>> {
    let text = reply;
    let mut out = Vec::new();
    let mut i = text.iter().position(|&c| c == b'\n').unwrap() + 1;
    while i < text.len() {
        let nl = i + text[i..].iter().position(|&c| c == b'\n').unwrap();
        let len: usize = std::str::from_utf8(&text[i + 1..nl - 1])
            .unwrap()
            .parse()
            .unwrap();
        out.push(text[nl + 1..nl + 1 + len].to_vec());
        i = nl + 1 + len + 2;
    }
    out
}

#[derive(Debug, Clone)]
enum HashOp {
    Set(Vec<(u8, Vec<u8>)>),
    Del(Vec<u8>),
    Get(u8),
    Len,
    All,
}

fn hash_op() -> impl Strategy<Value = HashOp> {
    let value = prop_oneof![
        proptest::collection::vec(b'a'..b'e', 0..4),
        proptest::collection::vec(b'a'..b'e', 7..9),
    ];
    prop_oneof![
        proptest::collection::vec((0u8..10, value), 1..4).prop_map(HashOp::Set),
        proptest::collection::vec(0u8..10, 1..4).prop_map(HashOp::Del),
        (0u8..10).prop_map(HashOp::Get),
        Just(HashOp::Len),
        Just(HashOp::All),
    ]
}

fn field(f: u8) -> Vec<u8> {
    format!("f{f}").into_bytes()
}

#[derive(Debug, Clone)]
enum SetOp {
    Add(Vec<Vec<u8>>),
    Rem(Vec<Vec<u8>>),
    IsMember(Vec<u8>),
    Card,
    Members,
    Pop,
}

fn member() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (-6i64..6).prop_map(|v| v.to_string().into_bytes()),
        "[a-c]{1,2}".prop_map(String::into_bytes),
    ]
}

fn set_op() -> impl Strategy<Value = SetOp> {
    prop_oneof![
        proptest::collection::vec(member(), 1..4).prop_map(SetOp::Add),
        proptest::collection::vec(member(), 1..4).prop_map(SetOp::Rem),
        member().prop_map(SetOp::IsMember),
        Just(SetOp::Card),
        Just(SetOp::Members),
        Just(SetOp::Pop),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hash_matches_a_hashmap(ops in proptest::collection::vec(hash_op(), 1..60)) {
        let mut rig = Rig::new();
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for op in ops {
            match op {
                HashOp::Set(pairs) => {
                    let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"h".to_vec()];
                    let mut added = HashSet::new();
                    for (f, v) in &pairs {
                        args.push(field(*f));
                        args.push(v.clone());
                        if !model.contains_key(&field(*f)) {
                            added.insert(field(*f));
                        }
                        model.insert(field(*f), v.clone());
                    }
                    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    prop_assert_eq!(rig.cmd(&refs), int(added.len()));
                }
                HashOp::Del(fields) => {
                    let mut args: Vec<Vec<u8>> = vec![b"HDEL".to_vec(), b"h".to_vec()];
                    let mut gone = 0;
                    for f in &fields {
                        args.push(field(*f));
                        gone += usize::from(model.remove(&field(*f)).is_some());
                    }
                    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                    prop_assert_eq!(rig.cmd(&refs), int(gone));
                }
                HashOp::Get(f) => {
                    let want = model.get(&field(f)).map_or(b"$-1\r\n".to_vec(), |v| bulk(v));
                    prop_assert_eq!(rig.cmd(&[b"HGET", b"h", &field(f)]), want);
                }
                HashOp::Len => prop_assert_eq!(rig.cmd(&[b"HLEN", b"h"]), int(model.len())),
                HashOp::All => {
                    let got = bulks(&rig.cmd(&[b"HGETALL", b"h"]));
                    let pairs: HashMap<Vec<u8>, Vec<u8>> =
                        got.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
                    prop_assert_eq!(&pairs, &model);
                }
            }
            let exists = rig.cmd(&[b"EXISTS", b"h"]);
            prop_assert_eq!(exists, int(usize::from(!model.is_empty())));
        }
    }

    #[test]
    fn set_matches_a_hashset(ops in proptest::collection::vec(set_op(), 1..60)) {
        let mut rig = Rig::new();
        let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
        for op in ops {
            match op {
                SetOp::Add(ms) | SetOp::Rem(ms) if ms.is_empty() => {}
                SetOp::Add(ms) => {
                    let mut args: Vec<&[u8]> = vec![b"SADD", b"s"];
                    args.extend(ms.iter().map(Vec::as_slice));
                    let before = model.len();
                    model.extend(ms.iter().cloned());
                    prop_assert_eq!(rig.cmd(&args), int(model.len() - before));
                }
                SetOp::Rem(ms) => {
                    let mut args: Vec<&[u8]> = vec![b"SREM", b"s"];
                    args.extend(ms.iter().map(Vec::as_slice));
                    let before = model.len();
                    for m in &ms {
                        model.remove(m);
                    }
                    prop_assert_eq!(rig.cmd(&args), int(before - model.len()));
                }
                SetOp::IsMember(m) => {
                    let want = int(usize::from(model.contains(&m)));
                    prop_assert_eq!(rig.cmd(&[b"SISMEMBER", b"s", &m]), want);
                }
                SetOp::Card => prop_assert_eq!(rig.cmd(&[b"SCARD", b"s"]), int(model.len())),
                SetOp::Members => {
                    let got: BTreeSet<Vec<u8>> = bulks(&rig.cmd(&[b"SMEMBERS", b"s"])).into_iter().collect();
                    prop_assert_eq!(&got, &model);
                }
                SetOp::Pop => {
                    let reply = rig.cmd(&[b"SPOP", b"s"]);
                    if model.is_empty() {
                        prop_assert_eq!(reply, b"$-1\r\n".to_vec());
                    } else {
                        let m = bulks(&[b"*1\r\n".as_slice(), &reply].concat()).remove(0);
                        prop_assert!(model.remove(&m), "popped {:?} not in the model", m);
                    }
                }
            }
            let exists = rig.cmd(&[b"EXISTS", b"s"]);
            prop_assert_eq!(exists, int(usize::from(!model.is_empty())));
        }
    }
}
