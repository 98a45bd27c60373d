//! RESTORE of corrupt payloads and start-up loading of corrupt dumps (Redis 7.0's
//! integration/corrupt-dump): a damaged payload gets Redis's `Bad data format` and stores
//! nothing, the server keeps serving, and whatever RESTORE accepts is a whole value that
//! DUMPs and restores again. Every reply was checked against redis-server 7.0.15 with
//! `sanitize-dump-payload yes` (slabd validates in full whatever that setting says).

mod common;
mod resp_wire;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Conn;
use resp_wire::{daemon, encode, Resp};

fn raw(c: &mut Conn, args: &[&[u8]]) -> Vec<u8> {
    c.send(&encode(args));
    c.reply()
}

const BAD_FORMAT: &[u8] = b"-ERR Bad data format\r\n";

/// Payloads slabd accepted before and redis-server 7.0.15 refuses (sanitize yes): each
/// decodes to elements, but its compact encoding does not check out.
const REFUSED: &[(&str, &[u8])] = &[
    // Quicklist of one ziplist whose second entry's prevlen (2, then 14) is not the first
    // entry's size (4): suite tests "quicklist small/big ziplist prev len" (valid CRC).
    ("ql_small_prev", b"\x0E\x01\x13\x13\x00\x00\x00\x0E\x00\x00\x00\x02\x00\x00\x02\x61\x00\x02\x02\x62\x00\xFF\x09\x00\xC7\x71\x03\x97\x07\x75\xB0\x63"),
    ("ql_big_prev", b"\x0E\x01\x13\x13\x00\x00\x00\x0E\x00\x00\x00\x02\x00\x00\x02\x61\x00\x0E\x02\x62\x00\xFF\x09\x00\x49\x97\x30\xB2\x0D\xA1\xED\xAA"),
    // Quicklist 2 with one plain node of 0 bytes ("quicklist encoded_len is 0").
    ("ql_len0", b"\x12\x01\x01\x00\x0a\x00\x8f\xc6\xc0\x57\x1c\x0a\xb3\x3c"),
    // Zset ziplist whose zltail (2) is not its last entry ("zset ziplist invalid tail
    // offset"; the CRC is wrong, so checksum validation is skipped).
    ("zset_tail", b"\x0C\x19\x19\x00\x00\x00\x02\x00\x00\x00\x06\x00\x00\xF1\x02\xF1\x02\x02\x5F\x31\x04\xF2\x02\xF3\x02\xF3\xFF\x09\x00\x4D\x72\x7B\x97\xCD\x9A\x70\xC1"),
    // Hash listpack f=v whose first back-length says 3 where the entry is 2 bytes.
    ("lp_backlen", b"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81f\x03\x81v\x02\xff\x0a\x00\0\0\0\0\0\0\0\0"),
    // An empty zipmap ("hash empty zipmap").
    ("zipmap_empty", b"\x09\x02\x00\xFF\x09\x00\xC0\xF1\xB8\x67\x4C\x16\xAC\xE3"),
];

#[test]
fn damaged_compact_encodings_are_refused_and_store_nothing() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"], "+OK\r\n");
    for (key, payload) in REFUSED {
        let k = key.as_bytes();
        assert_eq!(
            raw(&mut r, &[b"RESTORE", k, b"0", payload, b"REPLACE"]),
            BAD_FORMAT,
            "{key}"
        );
        r.check(&["EXISTS", key], ":0\r\n");
    }
    // The same listpack with the right back-length restores.
    let ok = b"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81f\x02\x81v\x02\xff\x0a\x00\0\0\0\0\0\0\0\0";
    assert_eq!(raw(&mut r, &[b"RESTORE", b"h", b"0", ok]), b"+OK\r\n");
    r.check(&["HGETALL", "h"], "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.check(&["PING"], "+PONG\r\n");
}

#[test]
fn checksum_validation_can_be_skipped_and_sanitize_is_shown() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    let ok = b"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81f\x02\x81v\x02\xff\x0a\x00\0\0\0\0\0\0\0\0";
    let wrong = b"-ERR DUMP payload version or checksum are wrong\r\n";
    assert_eq!(raw(&mut r, &[b"RESTORE", b"h", b"0", ok]), wrong);
    r.check(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"], "+OK\r\n");
    // The version is still checked (11 is newer than 7.0's 10).
    let newer = b"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81f\x02\x81v\x02\xff\x0b\x00\0\0\0\0\0\0\0\0";
    assert_eq!(raw(&mut r, &[b"RESTORE", b"h", b"0", newer]), wrong);
    assert_eq!(raw(&mut r, &[b"RESTORE", b"h", b"0", ok]), b"+OK\r\n");
    r.check(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0"], "+OK\r\n");
    assert_eq!(
        raw(&mut r, &[b"RESTORE", b"h", b"0", ok, b"REPLACE"]),
        wrong
    );

    let get = "*2\r\n$21\r\nsanitize-dump-payload\r\n";
    r.check(
        &["CONFIG", "GET", "sanitize-dump-payload"],
        &format!("{get}$2\r\nno\r\n"),
    );
    r.check(
        &["CONFIG", "SET", "sanitize-dump-payload", "maybe"],
        "-ERR CONFIG SET failed (possibly related to argument 'sanitize-dump-payload') - argument(s) must be one of the following: no, yes, clients\r\n",
    );
    r.check(
        &["CONFIG", "SET", "sanitize-dump-payload", "clients"],
        "+OK\r\n",
    );
    r.check(
        &["CONFIG", "GET", "sanitize-dump-payload"],
        &format!("{get}$7\r\nclients\r\n"),
    );
}

/// xorshift64: the same corruptions on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Read commands (and one write) for a restored key of each type.
fn traffic(ty: &str) -> &'static [&'static [&'static str]] {
    match ty {
        "+hash\r\n" => &[
            &["HGETALL"],
            &["HLEN"],
            &["HRANDFIELD", "-5"],
            &["HSET", "f", "v"],
        ],
        "+set\r\n" => &[
            &["SMEMBERS"],
            &["SCARD"],
            &["SRANDMEMBER", "-5"],
            &["SADD", "m"],
        ],
        "+list\r\n" => &[
            &["LRANGE", "0", "-1"],
            &["LINDEX", "-1"],
            &["LPOP"],
            &["RPUSH", "e"],
        ],
        "+zset\r\n" => &[
            &["ZRANGE", "0", "-1", "WITHSCORES"],
            &["ZCARD"],
            &["ZPOPMIN"],
        ],
        _ => &[&["GET"], &["STRLEN"], &["APPEND", "x"]],
    }
}

/// Redis's corrupt-dump-fuzzer, minus streams (it creates one, which slabd does not have):
/// DUMP a key of each encoding, change one or two random bytes, RESTORE it with checksum
/// validation off, and run traffic on what was accepted. The server answers every
/// command, and an accepted value DUMPs and RESTOREs again as the same value.
#[test]
fn randomly_corrupted_payloads_never_break_the_server() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1"], "+OK\r\n");
    let mut setup: Vec<Vec<String>> = vec![
        vec!["SET".into(), "str".into(), "hello world".into()],
        vec!["SET".into(), "int".into(), "12345".into()],
    ];
    for (key, n) in [("", 3), ("big", 200)] {
        for j in 0..n {
            let val = if j % 2 == 0 {
                j.to_string()
            } else {
                format!("_{j}")
            };
            let long = format!("{val}-{}", "x".repeat(j % 70));
            setup.push(vec![
                "HSET".into(),
                format!("hash{key}"),
                j.to_string(),
                long.clone(),
            ]);
            setup.push(vec!["RPUSH".into(), format!("list{key}"), long.clone()]);
            setup.push(vec![
                "ZADD".into(),
                format!("zset{key}"),
                j.to_string(),
                val.clone(),
            ]);
            setup.push(vec!["SADD".into(), format!("set{key}"), val]);
            setup.push(vec![
                "SADD".into(),
                format!("intset{key}"),
                (j * 1000).to_string(),
            ]);
        }
    }
    for c in &setup {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        assert!(!r.cmd(&args).starts_with('-'), "{c:?}");
    }
    let keys = [
        "str",
        "int",
        "hash",
        "list",
        "zset",
        "set",
        "intset",
        "hashbig",
        "listbig",
        "zsetbig",
        "setbig",
        "intsetbig",
    ];
    let dumps: Vec<Vec<u8>> = keys
        .iter()
        .map(|k| {
            let reply = raw(&mut r, &[b"DUMP", k.as_bytes()]);
            let nl = reply.iter().position(|&b| b == b'\n').unwrap();
            reply[nl + 1..reply.len() - 2].to_vec()
        })
        .collect();
    let mut rng = Rng(0x5eed_c0ff_ee00_d00d);
    let (mut accepted, mut refused) = (0, 0);
    for round in 0..1500 {
        let mut p = dumps[round % dumps.len()].clone();
        for _ in 0..1 + usize::from(rng.below(10) == 0) {
            let at = rng.below(p.len());
            p[at] = rng.below(256) as u8;
        }
        let reply = raw(&mut r, &[b"RESTORE", b"_k", b"0", &p, b"REPLACE"]);
        if reply != b"+OK\r\n" {
            assert!(
                reply == BAD_FORMAT
                    || reply == b"-ERR DUMP payload version or checksum are wrong\r\n",
                "round {round}: {}",
                String::from_utf8_lossy(&reply)
            );
            refused += 1;
            continue;
        }
        accepted += 1;
        // A whole value: it DUMPs and restores again, to the same payload.
        let again = raw(&mut r, &[b"DUMP", b"_k"]);
        let nl = again.iter().position(|&b| b == b'\n').unwrap();
        let body = &again[nl + 1..again.len() - 2];
        assert_eq!(
            raw(&mut r, &[b"RESTORE", b"_c", b"0", body, b"REPLACE"]),
            b"+OK\r\n"
        );
        assert_eq!(raw(&mut r, &[b"DUMP", b"_c"]), again, "round {round}");
        let ty = r.cmd(&["TYPE", "_k"]);
        for cmd in traffic(&ty) {
            let mut args: Vec<&str> = vec![cmd[0], "_k"];
            args.extend_from_slice(&cmd[1..]);
            let reply = r.cmd(&args);
            assert!(
                !reply.starts_with("-ERR"),
                "round {round}: {args:?} -> {reply}"
            );
        }
        r.check(&["DEL", "_k", "_c"], ":2\r\n");
    }
    r.check(&["DBSIZE"], &format!(":{}\r\n", keys.len()));
    r.check(&["PING"], "+PONG\r\n");
    assert!(
        accepted > 50 && refused > 50,
        "{accepted} accepted, {refused} refused"
    );
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("slabd-corrupt-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts slabd on `dir/dump.rdb` with its stderr in `dir/log`; returns the child.
fn start_on(dir: &std::path::Path, rdb: &[u8]) -> std::process::Child {
    std::fs::write(dir.join("dump.rdb"), rdb).unwrap();
    let log = std::fs::File::create(dir.join("log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-p", "-1", "-l", "127.0.0.1", "--resp-port", "0", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn slabd")
}

/// The log once it holds `line` (waits up to 20 s).
fn log_with(dir: &std::path::Path, line: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut s = String::new();
        std::fs::File::open(dir.join("log"))
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        if s.contains(line) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An RDB file (version 10, checksum 0 = not computed) holding `keys` in db 0.
fn rdb(keys: &[u8]) -> Vec<u8> {
    let mut f = b"REDIS0010\xfe\x00".to_vec();
    f.extend_from_slice(keys);
    f.extend_from_slice(b"\xff\0\0\0\0\0\0\0\0");
    f
}

#[test]
fn empty_keys_in_a_dump_are_skipped_with_redis_lines() {
    let dir = temp_dir("empty");
    // An empty set, an empty quicklist 2, a hash ziplist with no entries, and k=v.
    let mut child = start_on(
        &dir,
        &rdb(b"\x02\x01s\x00\x12\x01l\x00\x0d\x01h\x0b\x0b\x00\x00\x00\x0a\x00\x00\x00\x00\x00\xff\x00\x01k\x01v"),
    );
    let done = "Done loading RDB, keys loaded: 1, keys expired: 0, empty keys skipped: 3.";
    let log = log_with(&dir, done);
    let _ = child.kill();
    let _ = child.wait();
    for k in ["s", "l", "h"] {
        assert!(
            log.contains(&format!("rdbLoadObject skipping empty key: {k}\n")),
            "{log}"
        );
    }
    assert!(log.contains(done), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_ziplist_in_a_dump_stops_start_up_as_redis_does() {
    let dir = temp_dir("ziplist");
    // A hash ziplist a=b whose second entry's prevlen is 9 (the first entry is 3 bytes).
    let mut child = start_on(
        &dir,
        &rdb(b"\x0d\x01h\x11\x11\x00\x00\x00\x0d\x00\x00\x00\x02\x00\x00\x01a\x09\x01b\xff"),
    );
    assert_eq!(exit_code(&mut child), Some(1));
    let log = log_with(&dir, "Terminating");
    // The error, then redis-check-rdb's report on the file, then Redis's last line.
    assert_eq!(
        log.matches("Hash ziplist integrity check failed").count(),
        2,
        "{log}"
    );
    assert!(log.contains("--- RDB ERROR DETECTED ---"), "{log}");
    assert!(
        log.ends_with("Terminating server after rdb file reading failure.\n"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The exit code of a slabd expected to stop by itself (within 20 s).
fn exit_code(child: &mut std::process::Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("slabd kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_repeated_member_or_a_nan_score_in_a_dump_stops_start_up_as_redis_does() {
    let nan = f64::NAN.to_le_bytes();
    let one = 1f64.to_le_bytes();
    let cat = |parts: &[&[u8]]| parts.concat();
    // Each file holds k=v, then the bad collection; the lines are redis-server 7.0.15's
    // for the same file (the offset is where slabd read the key's record from; Redis
    // prints the bytes loaded at its last progress report, 0 in files this small).
    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "set",
            b"\x02\x01s\x02\x01a\x01a".to_vec(),
            "Internal error in RDB reading offset 16, function at rdb.c:1829 -> Duplicate set members detected",
        ),
        (
            "intset",
            b"\x02\x01s\x03\x011\x012\x011".to_vec(),
            "Internal error in RDB reading offset 16, function at rdb.c:1809 -> Duplicate set members detected",
        ),
        (
            "zset2-nan",
            cat(&[b"\x05\x01z\x01\x01m", &nan]),
            "Internal error in RDB reading offset 16, function at rdb.c:1882 -> Zset with NAN score detected",
        ),
        (
            "zset1-nan",
            b"\x03\x01z\x01\x01m\xfd".to_vec(),
            "Internal error in RDB reading offset 16, function at rdb.c:1882 -> Zset with NAN score detected",
        ),
        (
            "zset-dup",
            cat(&[b"\x05\x01z\x02\x01m", &one, b"\x01m", &one]),
            "Internal error in RDB reading offset 16, function at rdb.c:1894 -> Duplicate zset fields detected",
        ),
        (
            // A hash listpack {a: 1, a: 2} (redis-server 7.0.15 refuses it with
            // sanitize-dump-payload yes; slabd validates in full always).
            "hash-listpack",
            b"\x10\x01h\x11\x11\x00\x00\x00\x04\x00\x81a\x02\x01\x01\x81a\x02\x02\x01\xff".to_vec(),
            "Internal error in RDB reading offset 16, function at rdb.c:2301 -> Hash listpack integrity check failed.",
        ),
    ];
    for (name, bad, line) in cases {
        let dir = temp_dir(name);
        let mut child = start_on(&dir, &rdb(&cat(&[b"\x00\x01k\x01v", &bad])));
        assert_eq!(exit_code(&mut child), Some(1), "{name}");
        let log = log_with(&dir, "Terminating");
        // The loader's line, then redis-check-rdb's report with the same line, then
        // Redis's last line.
        assert_eq!(log.matches(line).count(), 2, "{name}: {log}");
        assert!(log.contains("--- RDB ERROR DETECTED ---"), "{name}: {log}");
        assert!(
            log.contains("[additional info] Reading key '"),
            "{name}: {log}"
        );
        assert!(
            log.ends_with("Terminating server after rdb file reading failure.\n"),
            "{name}: {log}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
