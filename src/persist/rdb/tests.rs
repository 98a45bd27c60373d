use super::*;
use crate::persist::crc64::crc64;
use crate::persist::value::{Entry, Value};

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn read_all(bytes: &[u8]) -> Result<Vec<Record>, RdbError> {
    let mut r = Reader::new(bytes, true)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next()? {
        out.push(rec);
    }
    Ok(out)
}

fn entries(bytes: &[u8]) -> Vec<Entry> {
    read_all(bytes)
        .unwrap()
        .into_iter()
        .filter_map(|r| match r {
            Record::Entry(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn sample() -> Vec<Entry> {
    let long = "compressible ".repeat(50);
    vec![
        Entry::string(b"s", b"hello"),
        Entry::string(b"int", b"-12345"),
        Entry::string(b"big", b"12345678901"),
        Entry::string(b"zero-padded", b"007"),
        Entry::string(b"long", long.as_bytes()),
        Entry::string(b"", b""),
        Entry {
            db: 0,
            key: b("ttl"),
            value: Value::String(b("v")),
            expire_ms: Some(4_102_444_800_000),
            mc_flags: 0,
        },
        Entry {
            db: 0,
            key: b("mc"),
            value: Value::String(b("v")),
            expire_ms: None,
            mc_flags: 0xdead_beef,
        },
        Entry {
            db: 0,
            key: b("l"),
            value: Value::List(vec![b("a"), b("1"), b(&long)]),
            expire_ms: None,
            mc_flags: 0,
        },
        Entry {
            db: 0,
            key: b("set"),
            value: Value::Set(vec![b("x"), b("y")]),
            expire_ms: None,
            mc_flags: 0,
        },
        Entry {
            db: 0,
            key: b("h"),
            value: Value::Hash(vec![(b("f"), b("v")), (b("n"), b("42"))]),
            expire_ms: Some(1),
            mc_flags: 0,
        },
        Entry {
            db: 0,
            key: b("z"),
            value: Value::ZSet(vec![
                (b("a"), 1.5),
                (b("b"), f64::INFINITY),
                (b("c"), -0.25),
            ]),
            expire_ms: None,
            mc_flags: 0,
        },
    ]
}

fn write(entries: &[Entry], opts: WriterOptions) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), opts).unwrap();
    w.default_aux(1234, false).unwrap();
    let mut db = u32::MAX;
    for e in entries {
        if e.db != db {
            w.select_db(e.db).unwrap();
            db = e.db;
        }
        w.entry(e).unwrap();
    }
    w.finish().unwrap()
}

#[test]
fn round_trip_every_type() {
    let mut all = sample();
    let mut other = Entry::string(b"in-db-15", b"x");
    other.db = 15;
    all.push(other);
    for opts in [
        WriterOptions::default(),
        WriterOptions {
            compress: false,
            checksum: false,
        },
    ] {
        let bytes = write(&all, opts);
        assert_eq!(&bytes[..9], b"REDIS0010");
        assert_eq!(entries(&bytes), all);
    }
}

#[test]
fn strings_use_redis_encodings() {
    let mut w = Writer::new(Vec::new(), WriterOptions::default()).unwrap();
    w.string(b"-1").unwrap();
    w.string(b"300").unwrap();
    w.string(b"70000").unwrap();
    w.string(b"007").unwrap();
    let out = w.finish().unwrap();
    assert_eq!(
        &out[9..out.len() - 9],
        &[0xc0, 0xff, 0xc1, 0x2c, 0x01, 0xc2, 0x70, 0x11, 0x01, 0x00, 3, b'0', b'0', b'7']
    );
    let long = "a".repeat(100);
    let mut w = Writer::new(Vec::new(), WriterOptions::default()).unwrap();
    w.string(long.as_bytes()).unwrap();
    let out = w.finish().unwrap();
    // 0xc3 <compressed len 5> <plain len 100 in 14 bits> then "a" and one back reference of 99.
    assert_eq!(
        &out[9..out.len() - 9],
        &[0xc3, 5, 0x40, 100, 0, b'a', 0xe0, 90, 0]
    );
}

#[test]
fn checksum_is_crc64_of_everything_before_it() {
    let bytes = write(&sample(), WriterOptions::default());
    let (body, sum) = bytes.split_at(bytes.len() - 8);
    assert_eq!(u64::from_le_bytes(sum.try_into().unwrap()), crc64(0, body));
    let mut bad = bytes.clone();
    let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
    bad[at] = b'j';
    let err = read_all(&bad).unwrap_err();
    assert!(matches!(err.kind, RdbErrorKind::Checksum { .. }), "{err}");
    assert!(Reader::new(&bad[..], false).is_ok());
    // With checksum 0 (rdbchecksum no) nothing is verified.
    let plain = write(
        &sample(),
        WriterOptions {
            compress: true,
            checksum: false,
        },
    );
    assert_eq!(&plain[plain.len() - 8..], &[0; 8]);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let bytes = write(&sample(), WriterOptions::default());
    for cut in 0..bytes.len() {
        assert!(read_all(&bytes[..cut]).is_err(), "cut at {cut}");
    }
}

#[test]
fn mc_flags_aux_is_consumed_not_reported() {
    let bytes = write(&[sample()[7].clone()], WriterOptions::default());
    let recs = read_all(&bytes).unwrap();
    assert!(!recs
        .iter()
        .any(|r| matches!(r, Record::Aux(k, _) if k == AUX_MC_FLAGS)));
    assert!(recs
        .iter()
        .any(|r| matches!(r, Record::Aux(k, v) if k == b"redis-ver" && v == b"7.0.15")));
}

/// Hand-assembled file with the encodings Redis writes but slabd does not.
fn handmade(records: &[u8], version: &str) -> Vec<u8> {
    let mut f = format!("REDIS{version}").into_bytes();
    f.extend_from_slice(records);
    f.push(0xff);
    let sum = crc64(0, &f);
    f.extend_from_slice(&sum.to_le_bytes());
    f
}

fn listpack(elems: &[&[u8]]) -> Vec<u8> {
    // Strings of < 64 bytes only: 10xxxxxx encoding, 1-byte backlen.
    let mut body = Vec::new();
    for e in elems {
        body.push(0x80 | e.len() as u8);
        body.extend_from_slice(e);
        body.push(e.len() as u8 + 1);
    }
    body.push(0xff);
    let mut lp = ((body.len() + 6) as u32).to_le_bytes().to_vec();
    lp.extend_from_slice(&(elems.len() as u16).to_le_bytes());
    lp.extend(body);
    lp
}

fn rdb_string(s: &[u8]) -> Vec<u8> {
    assert!(s.len() < 64);
    let mut v = vec![s.len() as u8];
    v.extend_from_slice(s);
    v
}

#[test]
fn redis_7_compact_encodings() {
    let mut recs = Vec::new();
    // quicklist 2: a packed node and a plain node
    recs.push(types::LIST_QUICKLIST_2);
    recs.extend(rdb_string(b"list"));
    recs.push(2);
    recs.push(2);
    recs.extend(rdb_string(&listpack(&[b"a", b"b"])));
    recs.push(1);
    recs.extend(rdb_string(b"plain"));
    // hash listpack
    recs.push(types::HASH_LISTPACK);
    recs.extend(rdb_string(b"hash"));
    recs.extend(rdb_string(&listpack(&[b"f", b"v"])));
    // zset listpack
    recs.push(types::ZSET_LISTPACK);
    recs.extend(rdb_string(b"zset"));
    recs.extend(rdb_string(&listpack(&[b"m", b"2.5"])));
    // intset (int16: 1, 2)
    recs.push(types::SET_INTSET);
    recs.extend(rdb_string(b"ints"));
    recs.extend(rdb_string(&[2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 2, 0]));
    // old zset with string scores, seconds expiry
    recs.push(opcodes::EXPIRETIME);
    recs.extend(100i32.to_le_bytes());
    recs.push(types::ZSET);
    recs.extend(rdb_string(b"oldz"));
    recs.extend([2, 1, b'a', 3, b'1', b'.', b'5', 1, b'b', 254]);
    // LZF string: "aaaaa..."
    recs.push(types::STRING);
    recs.extend(rdb_string(b"lzf"));
    recs.extend([0xc3, 5, 10, 0, b'a', 0xe0, 0, 0]);
    // idle and freq hints are skipped
    recs.extend([opcodes::IDLE, 5, opcodes::FREQ, 9]);
    recs.push(types::STRING);
    recs.extend(rdb_string(b"k"));
    recs.extend(rdb_string(b"v"));
    let got = entries(&handmade(&recs, "0010"));
    let want = vec![
        Entry {
            db: 0,
            key: b("list"),
            value: Value::List(vec![b("a"), b("b"), b("plain")]),
            expire_ms: None,
            mc_flags: 0,
        },
        Entry {
            db: 0,
            key: b("hash"),
            value: Value::Hash(vec![(b("f"), b("v"))]),
            expire_ms: None,
            mc_flags: 0,
        },
        Entry {
            db: 0,
            key: b("zset"),
            value: Value::ZSet(vec![(b("m"), 2.5)]),
            expire_ms: None,
            mc_flags: 0,
        },
        Entry {
            db: 0,
            key: b("ints"),
            value: Value::Set(vec![b("1"), b("2")]),
            expire_ms: None,
            mc_flags: 0,
        },
        Entry {
            db: 0,
            key: b("oldz"),
            value: Value::ZSet(vec![(b("a"), 1.5), (b("b"), f64::INFINITY)]),
            expire_ms: Some(100_000),
            mc_flags: 0,
        },
        Entry::string(b"lzf", b"aaaaaaaaaa"),
        Entry::string(b"k", b"v"),
    ];
    assert_eq!(got, want);
}

#[test]
fn unsupported_types_are_named() {
    let mut recs = vec![types::STREAM_LISTPACKS_2];
    recs.extend(rdb_string(b"s"));
    let err = read_all(&handmade(&recs, "0010")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "stream values are not supported by slabd (RDB type 19) (at byte 9)"
    );
    let err = read_all(&handmade(&[opcodes::FUNCTION, 1, b'x'], "0010")).unwrap_err();
    assert!(
        err.to_string().starts_with("pre-release function library"),
        "{err}"
    );
    assert!(matches!(
        read_all(b"REDIS0012").unwrap_err().kind,
        RdbErrorKind::Version(12)
    ));
    assert!(matches!(
        read_all(b"RADIS0010").unwrap_err().kind,
        RdbErrorKind::BadMagic
    ));
}

#[test]
fn lying_lengths_do_not_allocate() {
    // A string claiming 2^60 bytes in a 20-byte file.
    let mut recs = vec![types::STRING, 0x81];
    recs.extend((1u64 << 60).to_be_bytes());
    let f = handmade(&recs, "0010");
    assert!(matches!(read_all(&f).unwrap_err().kind, RdbErrorKind::Eof));
    let mut recs = vec![types::LIST];
    recs.extend(rdb_string(b"l"));
    recs.push(0x81);
    recs.extend((1u64 << 60).to_be_bytes());
    assert!(read_all(&handmade(&recs, "0010")).is_err());
}

#[test]
fn function_libraries_round_trip() {
    let code = b"#!lua name=l\nredis.register_function('f', function() return 1 end)";
    let mut w = Writer::new(Vec::new(), WriterOptions::default()).unwrap();
    w.function(code).unwrap();
    w.string_entry(b"k", b"v", None, 0).unwrap();
    let file = w.finish().unwrap();
    // Redis 7.0's record: the opcode, then the code as an RDB string (LZF when it pays).
    assert_eq!(file[9], opcodes::FUNCTION2);
    let recs = read_all(&file).unwrap();
    assert_eq!(recs[0], Record::Function(code.to_vec()));
    assert!(matches!(&recs[1], Record::Entry(e) if e.key == b"k"));
}
