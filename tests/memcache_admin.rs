//! Administrative commands and option semantics, byte for byte as memcached 1.6.18 answers
//! them (each reply below was read from the real server with the same requests).

mod common;

use common::Daemon;

#[test]
fn exptime_is_a_32_bit_signed_number() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    // 4294967295 is -1 (expired), 4294967296 is 0 (never), 2147483648 is negative.
    c.roundtrip(b"set e1 0 4294967295 1\r\nx\r\n", b"STORED\r\n");
    c.roundtrip(b"get e1\r\n", b"END\r\n");
    c.roundtrip(b"set e2 0 4294967296 1\r\nx\r\n", b"STORED\r\n");
    c.roundtrip(b"get e2\r\n", b"VALUE e2 0 1\r\nx\r\nEND\r\n");
    c.roundtrip(b"set e3 0 2147483648 1\r\nx\r\n", b"STORED\r\n");
    c.roundtrip(b"get e3\r\n", b"END\r\n");
    c.roundtrip(
        b"set e4 0 99999999999999999999 1\r\nx\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    c.roundtrip(b"touch e2 4294967295\r\n", b"TOUCHED\r\n");
    c.roundtrip(b"get e2\r\n", b"END\r\n");
}

#[test]
fn lru_and_crawler_commands() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    for (req, reply) in [
        (&b"lru mode flat"[..], &b"OK"[..]),
        (b"lru mode segmented", b"OK"),
        (b"lru mode x", b"ERROR"),
        (b"lru temp_ttl 10", b"OK"),
        (b"lru temp_ttl x", b"ERROR"),
        (b"lru tune 10 20 0.1 2", b"OK"),
        (
            b"lru tune 50 40 0.1 2",
            b"ERROR hot and warm pcts must not exceed 80",
        ),
        (
            b"lru tune 10 20 0 2",
            b"ERROR hot/warm age factors must be greater than 0",
        ),
        (b"lru", b"ERROR"),
        (b"lru_crawler crawl 0", b"BADCLASS invalid class id"),
        (
            b"lru_crawler crawl hash",
            b"ERROR an unknown error happened",
        ),
        (b"lru_crawler tocrawl 10", b"OK"),
        (
            b"lru_crawler tocrawl x",
            b"CLIENT_ERROR bad command line format",
        ),
        (b"lru_crawler sleep 10", b"OK"),
        (
            b"lru_crawler sleep 2000000",
            b"CLIENT_ERROR sleep must be one second or less",
        ),
        (
            b"lru_crawler enable",
            b"ERROR failed to start lru crawler thread",
        ),
        (b"lru_crawler disable", b"OK"),
        (
            b"lru_crawler crawl all",
            b"CLIENT_ERROR lru crawler disabled",
        ),
        (b"lru_crawler enable", b"OK"),
        (b"lru_crawler crawl all", b"OK"),
        (b"lru_crawler", b"ERROR"),
        (
            b"slabs reassign a b",
            b"CLIENT_ERROR bad command line format",
        ),
        (b"slabs reassign 1", b"ERROR"),
        (b"slabs reassign 1 2 3", b"ERROR"),
        (b"shutdown foo", b"ERROR: shutdown not enabled"),
    ] {
        let mut r = req.to_vec();
        r.extend_from_slice(b"\r\n");
        let mut want = reply.to_vec();
        want.extend_from_slice(b"\r\n");
        c.roundtrip(&r, &want);
    }
    c.send(b"stats settings\r\n");
    let settings = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    assert!(settings.contains("STAT temp_lru yes\r\n"), "{settings}");
    assert!(settings.contains("STAT temporary_ttl 10\r\n"), "{settings}");
    assert!(settings.contains("STAT hot_lru_pct 10\r\n"), "{settings}");
    // metadump hash (memcached 1.6.19+) walks every item and ends.
    c.roundtrip(b"lru_crawler metadump hash\r\n", b"END\r\n");
}

#[test]
fn cachedump() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(b"set a 0 0 3\r\nabc\r\n", b"STORED\r\n");
    c.roundtrip(b"set b 0 2000000000 2\r\nxy\r\n", b"STORED\r\n");
    // Both are in slabd's smallest class (memcached's 48-byte header puts them in class 1 too).
    c.roundtrip(b"stats cachedump 2 0\r\n", b"END\r\n");
    c.send(b"stats cachedump 1 0\r\n");
    let dump = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    let mut lines: Vec<&str> = dump.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        ["END", "ITEM a [3 b; 0 s]", "ITEM b [2 b; 2000000000 s]"]
    );
    c.send(b"stats cachedump 1 1\r\n");
    assert_eq!(
        c.read_until(b"END\r\n")
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        2
    );
    for (req, reply) in [
        (
            &b"stats cachedump"[..],
            &b"CLIENT_ERROR bad command line"[..],
        ),
        (b"stats cachedump 1", b"CLIENT_ERROR bad command line"),
        (
            b"stats cachedump x 1",
            b"CLIENT_ERROR bad command line format",
        ),
        (b"stats cachedump 200 1", b"CLIENT_ERROR Illegal slab id"),
    ] {
        let mut r = req.to_vec();
        r.extend_from_slice(b"\r\n");
        let mut want = reply.to_vec();
        want.extend_from_slice(b"\r\n");
        c.roundtrip(&r, &want);
    }
}

/// `MEMCACHED_PORT_FILENAME`: the bound ports as memcached writes them (memcached's test
/// harness reads `-p -1` / `-U -1` ports from it); `-U -1` alone makes TCP a free port too.
/// `-m` over the maximum fails before anything is bound or announced.
#[test]
fn port_file_and_early_memory_check() {
    let dir = std::env::temp_dir().join(format!("slabd-ports-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-U", "-1", "-l", "127.0.0.1"])
        .env("MEMCACHED_PORT_FILENAME", &dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut text = String::new();
    for _ in 0..200 {
        if let Ok(t) = std::fs::read_to_string(&dir) {
            text = t;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&dir);
    let lines: Vec<(&str, u16)> = text
        .lines()
        .map(|l| {
            let (kind, port) = l.split_once(": ").unwrap();
            (kind, port.parse().unwrap())
        })
        .collect();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert_eq!((lines[0].0, lines[1].0), ("TCP INET", "UDP INET"));
    assert!(lines[0].1 != 0 && lines[0].1 != 11211 && lines[1].1 != 0);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-p", "-1", "-l", "127.0.0.1", "-m", "40000"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("listening on"), "{err}");
    assert!(
        err.contains("memory limit 40000 MB is above the maximum"),
        "{err}"
    );
}

/// `-o read_buf_mem_limit=1` with 32 threads leaves each worker memcached's two 16 KiB
/// buffers: one reads, one holds 13 response objects. A multi-get needing more answers
/// `SERVER_ERROR out of memory writing get response`; other requests stacked past it close
/// the connection without their replies (memcached's t/conn-limits.t); both count
/// `response_obj_oom`.
#[test]
fn read_buf_mem_limit_refuses_replies_past_the_budget() {
    let d = Daemon::start(&["-o", "read_buf_mem_limit=1", "-t", "32"]);
    let mut c = d.connect();
    let keys = vec!["foo"; 14].join(" ");
    c.roundtrip(
        format!("get {keys}\r\n").as_bytes(),
        b"SERVER_ERROR out of memory writing get response\r\n",
    );
    let keys = vec!["foo"; 13].join(" ");
    c.roundtrip(format!("get {keys}\r\n").as_bytes(), b"END\r\n");
    let mut flood = d.connect();
    flood.send("mg foo v\r\n".repeat(100).as_bytes());
    let mut got = Vec::new();
    std::io::Read::read_to_end(&mut flood.stream, &mut got).unwrap();
    assert_eq!(got, b"");
    c.send(b"stats\r\n");
    let stats = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    assert!(stats.contains("STAT response_obj_oom 2\r\n"), "{stats}");
}

/// `-o null_server` (the benchmarks' ceiling): fixed replies, nothing stored.
#[test]
fn null_server_answers_fixed_bytes_and_stores_nothing() {
    let d = Daemon::start(&["-o", "null_server"]);
    let mut c = d.connect();
    c.roundtrip(
        b"set a 0 0 3\r\nabc\r\nget a\r\ncas a 0 0 2 7\r\nxy\r\n",
        b"STORED\r\nEND\r\nSTORED\r\n",
    );
    // A data block split over writes is framed whole.
    c.send(b"set b 0 0 10\r\n01234");
    c.roundtrip(b"56789\r\nstats\r\n", b"STORED\r\nEND\r\n");
}
