//! Persistence end to end: the real binary saves, restarts and loads, with both protocols.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Conn, Daemon};
use slabd::persist::rdb::{Reader, Record};
use slabd::persist::value::{Entry, Value};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("slabd-persist-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start(dir: &Path, extra: &[&str]) -> Daemon {
    let mut args = vec!["--resp-port", "0", "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    wait_loaded(Daemon::start(&args))
}

/// Start-up loading runs beside the server: wait until it is done.
fn wait_loaded(d: Daemon) -> Daemon {
    let mut c = d.connect_resp();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        c.send(b"*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n");
        let header = c.read_line();
        let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
            .unwrap()
            .parse()
            .unwrap();
        let body = c.read_exact(len + 2);
        if body.windows(12).any(|w| w == b"\nloading:0\r\n") {
            return d;
        }
        assert!(Instant::now() < deadline, "still loading");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn entries(path: &Path) -> Vec<Entry> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = Reader::new(std::io::BufReader::new(f), true).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        if let Record::Entry(e) = rec {
            out.push(e);
        }
    }
    out
}

/// Sends a RESP command and returns the whole reply line (simple replies only).
fn cmd(c: &mut Conn, args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    c.send(req.as_bytes());
    String::from_utf8(c.read_line()).unwrap()
}

fn info_field(c: &mut Conn, field: &str) -> String {
    c.send(b"*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n");
    let header = c.read_line();
    let len: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    let body = String::from_utf8(c.read_exact(len + 2)).unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in {body}"))
        .to_string()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn save_and_restart_keeps_both_protocols_data() {
    let dir = temp_dir("restart");
    let d = start(&dir, &[]);
    let mut mc = d.connect();
    mc.roundtrip(b"set mc 4242 0 5\r\nhello\r\n", b"STORED\r\n");
    mc.roundtrip(b"set mcttl 7 1000 2\r\nhi\r\n", b"STORED\r\n");
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "plain", "v1"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["SET", "int", "12345"]), "+OK\r\n");
    let long = "x".repeat(5000);
    assert_eq!(cmd(&mut r, &["SET", "long", &long]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["SELECT", "5"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["SET", "in5", "five", "EX", "5000"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut r, &["HSET", "h", "f", "v"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["SADD", "s", "1", "2", "x"]), ":3\r\n");
    assert_eq!(info_field(&mut r, "rdb_changes_since_last_save"), "8");
    assert_eq!(cmd(&mut r, &["SAVE"]), "+OK\r\n");
    assert_eq!(info_field(&mut r, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_field(&mut r, "rdb_saves"), "1");
    // SHUTDOWN NOSAVE: no reply, the server exits.
    r.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
    assert!(r.closed());
    assert!(d.wait().success());

    let d = start(&dir, &[]);
    let mut mc = d.connect();
    mc.roundtrip(
        b"get mc mcttl\r\n",
        b"VALUE mc 4242 5\r\nhello\r\nVALUE mcttl 7 2\r\nhi\r\nEND\r\n",
    );
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["GET", "int"]), "$5\r\n");
    assert_eq!(r.read_line(), b"12345\r\n");
    assert_eq!(cmd(&mut r, &["STRLEN", "long"]), ":5000\r\n");
    let ttl: i64 = cmd(&mut r, &["TTL", "mcttl"]).trim_end()[1..]
        .parse()
        .unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert_eq!(cmd(&mut r, &["SELECT", "5"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["GET", "in5"]), "$4\r\n");
    assert_eq!(r.read_line(), b"five\r\n");
    let ttl: i64 = cmd(&mut r, &["TTL", "in5"]).trim_end()[1..]
        .parse()
        .unwrap();
    assert!((4990..=5000).contains(&ttl), "{ttl}");
    assert_eq!(info_field(&mut r, "rdb_last_load_keys_loaded"), "8");
    assert_eq!(cmd(&mut r, &["HGET", "h", "f"]), "$1\r\n");
    assert_eq!(r.read_line(), b"v\r\n");
    assert_eq!(cmd(&mut r, &["SISMEMBER", "s", "x"]), ":1\r\n");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn keys_that_expire_while_down_are_gone() {
    let dir = temp_dir("expire");
    // The dump must hold `short` with its expiry still ahead; on a loaded machine the
    // SAVE can come after a short TTL has passed (then the save rightly skips the key),
    // so the TTL grows until the dump holds it. The restart then waits for the expiry
    // written in the dump, not for a fixed time.
    let mut saved = None;
    for px in ["1200", "5000", "20000"] {
        let d = start(&dir, &[]);
        let mut r = d.connect_resp();
        assert_eq!(cmd(&mut r, &["SET", "short", "v", "PX", px]), "+OK\r\n");
        assert_eq!(cmd(&mut r, &["SET", "long", "v", "EX", "100"]), "+OK\r\n");
        assert_eq!(cmd(&mut r, &["SAVE"]), "+OK\r\n");
        drop(d);
        let dump = entries(&dir.join("dump.rdb"));
        assert!(dump
            .iter()
            .any(|e| e.key == b"long" && e.expire_ms.is_some()));
        if let Some(e) = dump.iter().find(|e| e.key == b"short") {
            saved = e.expire_ms;
            assert!(saved.is_some(), "short saved without its expiry");
            break;
        }
    }
    let expire_ms = saved.expect("short was never saved before it expired");
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    while now_ms() <= expire_ms + 50 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["EXISTS", "short", "long"]), ":1\r\n");
    assert_eq!(info_field(&mut r, "rdb_last_load_keys_expired"), "1");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_with_save_points_saves_and_save_points_fire() {
    let dir = temp_dir("savepoints");
    let d = start(&dir, &["--save", "1 1"]);
    let mut r = d.connect_resp();
    let before: u64 = cmd(&mut r, &["LASTSAVE"]).trim_end()[1..].parse().unwrap();
    assert_eq!(cmd(&mut r, &["CONFIG", "GET", "save"]), "*2\r\n");
    assert_eq!(
        r.read_until(b"3\r\n1 1\r\n"),
        b"$4\r\nsave\r\n$3\r\n1 1\r\n"
    );
    assert_eq!(cmd(&mut r, &["SET", "a", "1"]), "+OK\r\n");
    // One change and one second: the save point fires within about two seconds.
    wait_for("a save point", || dir.join("dump.rdb").exists());
    wait_for("LASTSAVE to move", || {
        cmd(&mut r, &["LASTSAVE"]).trim_end()[1..]
            .parse::<u64>()
            .unwrap()
            >= before
            && info_field(&mut r, "rdb_saves") == "1"
    });
    assert_eq!(entries(&dir.join("dump.rdb")).len(), 1);
    assert_eq!(cmd(&mut r, &["SET", "b", "2"]), "+OK\r\n");
    assert!(d.terminate().success());
    let keys: Vec<Vec<u8>> = entries(&dir.join("dump.rdb"))
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys.len(), 2, "SIGTERM saved both keys");
    let _ = std::fs::remove_dir_all(&dir);
}

/// As Redis's `prepareForShutdown`: the exit save on SIGTERM/SIGINT runs before the server
/// stops serving, and when it fails (here `dump.rdb` is a directory, so the rename fails)
/// the server keeps running; SHUTDOWN NOSAVE then stops it. The old code stopped serving
/// first and exited whatever the save did.
#[test]
fn a_failed_exit_save_on_a_signal_keeps_the_server_up() {
    let dir = temp_dir("exitfail");
    let d = start(&dir, &["--save", "3600 1"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "a", "1"]), "+OK\r\n");
    std::fs::create_dir(dir.join("dump.rdb")).unwrap();
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(d.pid() as i32, libc::SIGINT);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = d
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("no log line about the failed exit save");
        if line.contains("Error trying to save the DB, can't exit") {
            break;
        }
    }
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG\r\n");
    assert_eq!(cmd(&mut r, &["SET", "b", "2"]), "+OK\r\n");
    // The directory is gone: the next signal's save succeeds and the server exits.
    std::fs::remove_dir(dir.join("dump.rdb")).unwrap();
    assert!(d.terminate().success());
    assert_eq!(entries(&dir.join("dump.rdb")).len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flushall_with_save_points_saves_the_empty_data_set() {
    let dir = temp_dir("flushall");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "key", "value"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["FLUSHALL"]), "+OK\r\n");
    // No save points: nothing is saved and the changes stay counted.
    assert_ne!(info_field(&mut r, "rdb_changes_since_last_save"), "0");
    assert!(!dir.join("dump.rdb").exists());
    assert_eq!(cmd(&mut r, &["CONFIG", "SET", "save", "3600 1"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["SET", "key", "value"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["FLUSHALL"]), "+OK\r\n");
    // As Redis 7.0 (flushAllDataAndResetRDB): the empty data set is saved at once.
    assert_eq!(info_field(&mut r, "rdb_changes_since_last_save"), "0");
    assert_eq!(entries(&dir.join("dump.rdb")).len(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// FLUSHALL right behind BGSAVE (one write, so it runs before the save's thread starts)
/// aborts the save as Redis's kill of its child does: nothing is saved and the changes stay
/// counted (integration/rdb "Test FLUSHALL aborts bgsave"). A save whose thread started
/// after the FLUSHALL used to clear the abort and save the emptied set.
#[test]
fn flushall_right_behind_bgsave_aborts_it() {
    let dir = temp_dir("flushall-abort");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "rdb-key-save-delay", "1000"]),
        "+OK\r\n"
    );
    for round in 0..10 {
        for i in 0..50 {
            assert_eq!(cmd(&mut r, &["SET", &format!("k{i}"), "v"]), "+OK\r\n");
        }
        r.send(b"*1\r\n$6\r\nBGSAVE\r\n*1\r\n$8\r\nFLUSHALL\r\n");
        assert_eq!(
            String::from_utf8(r.read_line()).unwrap(),
            "+Background saving started\r\n"
        );
        assert_eq!(String::from_utf8(r.read_line()).unwrap(), "+OK\r\n");
        wait_for("the aborted save to end", || {
            info_field(&mut r, "rdb_bgsave_in_progress") == "0"
        });
        assert_ne!(
            info_field(&mut r, "rdb_changes_since_last_save"),
            "0",
            "round {round}: the aborted save counted as a save"
        );
        assert!(!dir.join("dump.rdb").exists(), "round {round}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgsave_while_a_writer_runs_is_a_consistent_prefix() {
    let dir = temp_dir("prefix");
    let d = start(&dir, &["-m", "256"]);
    let mut r = d.connect_resp();
    // Enough data that the snapshot takes a while: 100k keys of 100 bytes.
    let value = "v".repeat(100);
    for chunk in 0..100 {
        let mut req = Vec::new();
        for i in 0..1000 {
            let k = format!("pre{}", chunk * 1000 + i);
            req.extend_from_slice(
                format!(
                    "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$100\r\n{value}\r\n",
                    k.len()
                )
                .as_bytes(),
            );
        }
        r.send(&req);
        for _ in 0..1000 {
            assert_eq!(r.read_line(), b"+OK\r\n");
        }
    }
    let addr = d.resp_addr.unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut w = Conn::new(std::net::TcpStream::connect(addr).unwrap());
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let k = format!("seq{n}");
                assert_eq!(cmd(&mut w, &["SET", &k, "x"]), "+OK\r\n");
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(cmd(&mut r, &["BGSAVE"]), "+Background saving started\r\n");
    wait_for("the background save", || {
        info_field(&mut r, "rdb_bgsave_in_progress") == "0"
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert_eq!(info_field(&mut r, "rdb_last_bgsave_status"), "ok");
    let saved = entries(&dir.join("dump.rdb"));
    let mut seqs: Vec<u64> = saved
        .iter()
        .filter_map(|e| {
            std::str::from_utf8(&e.key)
                .unwrap()
                .strip_prefix("seq")
                .map(|n| n.parse().unwrap())
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(saved.len() - seqs.len(), 100_000, "every preloaded key");
    // The writer's keys in the file are exactly seq0..seqN for some N: a prefix.
    for (i, s) in seqs.iter().enumerate() {
        assert_eq!(
            *s, i as u64,
            "gap in the writer's sequence: not a point in time"
        );
    }
    assert!(
        (seqs.len() as u64) < written,
        "the writer went on after the snapshot"
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn failed_background_save_refuses_writes_only_as_configured() {
    let dir = temp_dir("unwritable");
    let d = start(&dir, &["--save", "3600 1"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "a", "1"]), "+OK\r\n");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(cmd(&mut r, &["BGSAVE"]), "+Background saving started\r\n");
    wait_for("the background save", || {
        info_field(&mut r, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(&mut r, "rdb_last_bgsave_status"), "err");
    let refused = cmd(&mut r, &["SET", "b", "2"]);
    assert!(
        refused.starts_with("-MISCONF Redis is configured to save RDB snapshots"),
        "{refused}"
    );
    assert_eq!(cmd(&mut r, &["GET", "a"]), "$1\r\n");
    assert_eq!(r.read_line(), b"1\r\n");
    assert_eq!(cmd(&mut r, &["SAVE"]), "-ERR\r\n");
    assert_eq!(
        cmd(
            &mut r,
            &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]
        ),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut r, &["SET", "b", "2"]), "+OK\r\n");
    assert_eq!(
        cmd(
            &mut r,
            &["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]
        ),
        "+OK\r\n"
    );
    assert!(cmd(&mut r, &["SET", "b", "2"]).starts_with("-MISCONF"));
    // The directory is back: the next save succeeds and writes are accepted again.
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(cmd(&mut r, &["BGSAVE"]), "+Background saving started\r\n");
    wait_for("the background save", || {
        info_field(&mut r, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(&mut r, "rdb_last_bgsave_status"), "ok");
    assert_eq!(cmd(&mut r, &["SET", "b", "2"]), "+OK\r\n");
    // SHUTDOWN with a save point saves first.
    assert_eq!(cmd(&mut r, &["SET", "c", "3"]), "+OK\r\n");
    r.send(b"*1\r\n$8\r\nSHUTDOWN\r\n");
    assert!(r.closed());
    assert!(d.wait().success());
    assert_eq!(entries(&dir.join("dump.rdb")).len(), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_errors_match_redis() {
    let dir = temp_dir("errors");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["BGSAVE", "NOW"]), "-ERR syntax error\r\n");
    assert_eq!(
        cmd(&mut r, &["SHUTDOWN", "SAVE", "NOSAVE"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["SAVE", "x"]),
        "-ERR wrong number of arguments for 'save' command\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "save", "100"]),
        "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "dbfilename", "a/b"]),
        "-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename\r\n"
    );
    assert_eq!(info_field(&mut r, "rdb_last_bgsave_status"), "ok");
    assert_eq!(info_field(&mut r, "rdb_bgsave_in_progress"), "0");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_dump_stops_start_up() {
    let dir = temp_dir("corrupt");
    std::fs::write(dir.join("dump.rdb"), b"REDIS0010\xfe\x00\x00\x01k").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args([
            "-p",
            "-1",
            "-l",
            "127.0.0.1",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unexpected end of file (at byte 11)"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn loading_answers_loading_to_both_protocols() {
    let dir = temp_dir("loading");
    let mut w = slabd::persist::rdb::Writer::new(Vec::new(), Default::default()).unwrap();
    for i in 0..10 {
        w.entry(&Entry::string(format!("k{i}").as_bytes(), b"v"))
            .unwrap();
    }
    std::fs::write(dir.join("dump.rdb"), w.finish().unwrap()).unwrap();
    // 0.3 s per key: about 3 s of loading.
    let d = Daemon::start(&[
        "--resp-port",
        "0",
        "--dir",
        dir.to_str().unwrap(),
        "--key-load-delay",
        "300000",
    ]);
    let mut r = d.connect_resp();
    assert_eq!(
        cmd(&mut r, &["GET", "k1"]),
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["SAVE"]),
        "-LOADING Redis is loading the dataset in memory\r\n"
    );
    assert_eq!(info_field(&mut r, "loading"), "1");
    let mut mc = d.connect();
    mc.roundtrip(b"get k1\r\n", b"SERVER_ERROR loading\r\n");
    mc.roundtrip(b"version\r\n", b"VERSION ");
    // The binary protocol: GET k1 gets ETMPFAIL (0x86), the protocol's "warming up".
    let mut bin = d.connect();
    let mut req = vec![
        0x80, 0x00, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0xde, 0xad, 0xbe, 0xef,
    ];
    req.extend_from_slice(&[0; 8]);
    req.extend_from_slice(b"k1");
    bin.send(&req);
    let mut want = vec![
        0x81, 0x00, 0, 0, 0, 0, 0x00, 0x86, 0, 0, 0, 17, 0xde, 0xad, 0xbe, 0xef,
    ];
    want.extend_from_slice(&[0; 8]);
    want.extend_from_slice(b"Temporary failure");
    assert_eq!(bin.read_exact(want.len()), want);
    let d = wait_loaded(d);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":10\r\n");
    mc.read_line();
    mc.roundtrip(b"get k9\r\n", b"VALUE k9 0 1\r\nv\r\nEND\r\n");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_rdb_subcommand() {
    let dir = temp_dir("check");
    let mut w = slabd::persist::rdb::Writer::new(Vec::new(), Default::default()).unwrap();
    w.entry(&Entry {
        db: 0,
        key: b"k".to_vec(),
        value: Value::String(b"v".to_vec()),
        expire_ms: Some(1),
        mc_flags: 0,
    })
    .unwrap();
    let bytes = w.finish().unwrap();
    std::fs::write(dir.join("ok.rdb"), &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["check-rdb"])
        .arg(dir.join("ok.rdb"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\\o/ RDB looks OK! \\o/\n[info] 1 keys read\n[info] 1 expires\n[info] 1 already expired\n"), "{text}");
    std::fs::write(dir.join("bad.rdb"), &bytes[..bytes.len() - 3]).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["check-rdb"])
        .arg(dir.join("bad.rdb"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--- RDB ERROR DETECTED ---"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends a RESP command and reads a reply of `lines` lines (arrays of bulk strings).
fn cmd_lines(c: &mut Conn, args: &[&str], lines: usize) -> String {
    let mut out = cmd(c, args);
    for _ in 1..lines {
        out.push_str(&String::from_utf8(c.read_line()).unwrap());
    }
    out
}

#[test]
fn lists_and_sorted_sets_survive_a_restart_in_both_forms() {
    let dir = temp_dir("listzset");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(
        cmd(&mut r, &["RPUSH", "l", "a", "1", "300", "-5"]),
        ":4\r\n"
    );
    assert_eq!(cmd(&mut r, &["LPUSH", "l", "first"]), ":5\r\n");
    // A list of several quicklist nodes (object form), with a TTL.
    let elem = "e".repeat(100);
    for i in 0..30 {
        let mut args = vec!["RPUSH", "bl"];
        let items: Vec<String> = (0..100).map(|j| format!("{elem}{}", i * 100 + j)).collect();
        args.extend(items.iter().map(|s| s.as_str()));
        assert_eq!(cmd(&mut r, &args), format!(":{}\r\n", (i + 1) * 100));
    }
    assert_eq!(cmd(&mut r, &["PEXPIRE", "bl", "100000"]), ":1\r\n");
    assert_eq!(
        cmd(
            &mut r,
            &["ZADD", "z", "1", "a", "2.5", "b", "-inf", "c", "1", "0"]
        ),
        ":4\r\n"
    );
    let mut args = vec!["ZADD".to_string(), "bz".to_string()];
    for i in 0..300 {
        args.push(format!("{}.25", i));
        args.push(format!("m{i}"));
    }
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    assert_eq!(cmd(&mut r, &refs), ":300\r\n");
    assert_eq!(cmd(&mut r, &["SAVE"]), "+OK\r\n");
    let saved = entries(&dir.join("dump.rdb"));
    let l = saved.iter().find(|e| e.key == b"l").expect("l saved");
    assert_eq!(
        l.value,
        Value::List(
            ["first", "a", "1", "300", "-5"]
                .map(|s| s.as_bytes().to_vec())
                .to_vec()
        )
    );
    let bz = saved.iter().find(|e| e.key == b"bz").expect("bz saved");
    assert_eq!(bz.value.len(), 300);
    r.send(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n");
    assert!(r.closed());
    assert!(d.wait().success());

    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(info_field(&mut r, "rdb_last_load_keys_loaded"), "4");
    assert_eq!(
        cmd_lines(&mut r, &["LRANGE", "l", "0", "-1"], 11),
        "*5\r\n$5\r\nfirst\r\n$1\r\na\r\n$1\r\n1\r\n$3\r\n300\r\n$2\r\n-5\r\n"
    );
    assert_eq!(cmd(&mut r, &["LLEN", "bl"]), ":3000\r\n");
    assert_eq!(
        cmd_lines(&mut r, &["LINDEX", "bl", "2999"], 2),
        format!("$104\r\n{elem}2999\r\n")
    );
    let pttl: i64 = cmd(&mut r, &["PTTL", "bl"]).trim_end()[1..]
        .parse()
        .unwrap();
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(
        cmd_lines(&mut r, &["ZRANGE", "z", "0", "-1", "WITHSCORES"], 17),
        "*8\r\n$1\r\nc\r\n$4\r\n-inf\r\n$1\r\n0\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n\
         $1\r\nb\r\n$3\r\n2.5\r\n"
    );
    assert_eq!(cmd(&mut r, &["ZCARD", "bz"]), ":300\r\n");
    assert_eq!(
        cmd_lines(&mut r, &["ZSCORE", "bz", "m150"], 2),
        "$6\r\n150.25\r\n"
    );
    assert_eq!(
        cmd_lines(&mut r, &["OBJECT", "ENCODING", "bz"], 2),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(
        cmd_lines(&mut r, &["OBJECT", "ENCODING", "z"], 2),
        "$8\r\nlistpack\r\n"
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debug_reload_saves_empties_and_loads() {
    let dir = temp_dir("reload");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "s", "v"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["RPUSH", "l", "a", "b"]), ":2\r\n");
    assert_eq!(cmd(&mut r, &["ZADD", "z", "2", "m"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":3\r\n");
    assert_eq!(cmd(&mut r, &["LLEN", "l"]), ":2\r\n");
    // NOSAVE: what changed since the dump is gone after the reload.
    assert_eq!(cmd(&mut r, &["SET", "late", "x"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["DEBUG", "RELOAD", "NOSAVE"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["EXISTS", "late"]), ":0\r\n");
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":3\r\n");
    assert_eq!(
        cmd(&mut r, &["DEBUG", "RELOAD", "BOGUS"]),
        "-ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["DEBUG", "NOPE"]),
        "-ERR unknown subcommand 'NOPE'. Try DEBUG HELP.\r\n"
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `DEBUG POPULATE <count> [<prefix>] [<size>]` writes Redis 7.0's keys and values (the
/// value cut or padded with zero bytes to `size`), leaves existing keys alone, answers
/// Redis's errors, and what it wrote is saved and loaded like any key.
#[test]
fn debug_populate_fills_as_redis_does() {
    let dir = temp_dir("populate");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "key:1", "mine"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["DEBUG", "POPULATE", "3"]), "+OK\r\n");
    assert_eq!(cmd_lines(&mut r, &["GET", "key:0"], 2), "$7\r\nvalue:0\r\n");
    assert_eq!(cmd_lines(&mut r, &["GET", "key:1"], 2), "$4\r\nmine\r\n");
    assert_eq!(cmd_lines(&mut r, &["GET", "key:2"], 2), "$7\r\nvalue:2\r\n");
    assert_eq!(
        cmd(&mut r, &["DEBUG", "POPULATE", "2", "p", "9"]),
        "+OK\r\n"
    );
    assert_eq!(
        cmd_lines(&mut r, &["GET", "p:1"], 2),
        "$9\r\nvalue:1\0\0\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["DEBUG", "POPULATE", "1", "q", "3"]),
        "+OK\r\n"
    );
    assert_eq!(cmd_lines(&mut r, &["GET", "q:0"], 2), "$3\r\nval\r\n");
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":6\r\n");
    assert_eq!(
        cmd(&mut r, &["DEBUG", "POPULATE", "-1"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["DEBUG", "POPULATE", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["DEBUG", "POPULATE", "1", "k", "-5"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        cmd(&mut r, &["DEBUG", "POPULATE", "9223372036854775807"]),
        "-ERR OOM in dictTryExpand\r\n"
    );
    assert_eq!(cmd(&mut r, &["SAVE"]), "+OK\r\n");
    drop(r);
    assert!(d.terminate().success());
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(info_field(&mut r, "rdb_last_load_keys_loaded"), "6");
    assert_eq!(
        cmd_lines(&mut r, &["GET", "p:0"], 2),
        "$9\r\nvalue:0\0\0\r\n"
    );
    drop(r);
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An old-style single `appendonly.aof` in `dir` (Redis before 7.0) is moved into the
/// multi-part layout at start, as Redis 7.0's `aofUpgradePrepare`: the manifest names it
/// the base (sequence 1) and a new incremental file, its keys are loaded, new writes go
/// to the incremental file, and a restart loads both. The same when an upgrade stopped
/// between writing the manifest and moving the file. The old code ignored the file and
/// started empty.
#[test]
fn an_old_style_aof_is_upgraded_to_the_multi_part_layout() {
    let set = |k: &str, v: &str| {
        format!(
            "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
            k.len(),
            v.len()
        )
    };
    for interrupted in [false, true] {
        let dir = temp_dir(if interrupted {
            "upgrade-resumed"
        } else {
            "upgrade"
        });
        std::fs::write(
            dir.join("appendonly.aof"),
            [set("k1", "v1"), set("k2", "v2")].concat(),
        )
        .unwrap();
        let aof_dir = dir.join("appendonlydir");
        let manifest = aof_dir.join("appendonly.aof.manifest");
        if interrupted {
            std::fs::create_dir_all(&aof_dir).unwrap();
            std::fs::write(&manifest, "file appendonly.aof seq 1 type b\n").unwrap();
        }
        let d = start(&dir, &["--appendonly", "yes"]);
        let mut r = d.connect_resp();
        assert_eq!(cmd(&mut r, &["GET", "k2"]), "$2\r\n");
        assert_eq!(r.read_line(), b"v2\r\n");
        assert!(!dir.join("appendonly.aof").exists());
        assert!(aof_dir.join("appendonly.aof").exists());
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        assert_eq!(cmd(&mut r, &["SET", "k3", "v3"]), "+OK\r\n");
        drop(r);
        assert!(d.terminate().success());
        let incr = std::fs::read_to_string(aof_dir.join("appendonly.aof.1.incr.aof")).unwrap();
        assert!(incr.ends_with(&set("k3", "v3")), "{incr:?}");
        let d = start(&dir, &["--appendonly", "yes"]);
        let mut r = d.connect_resp();
        assert_eq!(cmd(&mut r, &["MGET", "k1", "k3"]), "*2\r\n");
        assert_eq!(r.read_until(b"v3\r\n"), b"$2\r\nv1\r\n$2\r\nv3\r\n");
        drop(d);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// INFO's `rdb_last_cow_size` (Redis: the last BGSAVE child's copy-on-write memory) is
/// slabd's counterpart: the most the last background save's copies, made and not yet
/// written, took at once. A foreground SAVE leaves it as it was (Redis's SAVE has no
/// child). The old code always answered 0.
#[test]
fn bgsave_reports_its_copies_as_rdb_last_cow_size() {
    let dir = temp_dir("cow-size");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(info_field(&mut r, "rdb_last_cow_size"), "0");
    assert_eq!(
        cmd(&mut r, &["DEBUG", "POPULATE", "2000", "key", "1000"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut r, &["SAVE"]), "+OK\r\n");
    assert_eq!(info_field(&mut r, "rdb_last_cow_size"), "0");
    assert_eq!(cmd(&mut r, &["BGSAVE"]), "+Background saving started\r\n");
    wait_for("the save", || {
        info_field(&mut r, "rdb_bgsave_in_progress") == "0"
    });
    assert_eq!(info_field(&mut r, "rdb_last_bgsave_status"), "ok");
    let copied: u64 = info_field(&mut r, "rdb_last_cow_size").parse().unwrap();
    // At least one key's copy; never more than the data (2 MB) and the records.
    assert!(
        (1000..4_000_000).contains(&copied),
        "rdb_last_cow_size:{copied}"
    );
    drop(r);
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}
