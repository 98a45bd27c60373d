//! The append-only file end to end: replay after kill -9, torn tails, corruption, rewrite
//! under load, every acknowledged write kept with `appendfsync always`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Conn, Daemon};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("slabd-aof-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start(dir: &Path, extra: &[&str]) -> Daemon {
    let mut args = vec![
        "--resp-port",
        "0",
        "--dir",
        dir.to_str().unwrap(),
        "--appendonly",
        "yes",
    ];
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

fn kill9(d: Daemon) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(d.pid() as i32, libc::SIGKILL);
    }
    drop(d);
}

fn cmd(c: &mut Conn, args: &[&str]) -> String {
    let mut req = format!("*{}\r\n", args.len());
    for a in args {
        req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    c.send(req.as_bytes());
    String::from_utf8(c.read_line()).unwrap()
}

fn get(c: &mut Conn, key: &str) -> Option<String> {
    let head = cmd(c, &["GET", key]);
    if head == "$-1\r\n" {
        return None;
    }
    let line = String::from_utf8(c.read_line()).unwrap();
    Some(line.trim_end().to_string())
}

fn incr_file(dir: &Path) -> PathBuf {
    let d = dir.join("appendonlydir");
    let mut incrs: Vec<PathBuf> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    incrs.sort();
    incrs.pop().expect("an incremental file")
}

#[test]
fn replay_after_kill_keeps_both_protocols_writes() {
    let dir = temp_dir("replay");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "a", "1"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["INCRBY", "a", "41"]), ":42\r\n");
    assert_eq!(cmd(&mut r, &["SET", "t", "v", "EX", "1000"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["SET", "gone", "v"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["DEL", "gone"]), ":1\r\n");
    assert_eq!(
        cmd(&mut r, &["HSET", "h", "f1", "v1", "f2", "v2"]),
        ":2\r\n"
    );
    assert_eq!(cmd(&mut r, &["HDEL", "h", "f1"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["SADD", "s", "m1", "m2"]), ":2\r\n");
    assert_eq!(cmd(&mut r, &["PEXPIRE", "s", "100000"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["SELECT", "3"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["MSET", "x", "1", "y", "2"]), "+OK\r\n");
    let mut mc = d.connect();
    mc.roundtrip(b"set mc 77 0 2\r\nab\r\n", b"STORED\r\n");
    mc.roundtrip(b"append mc 0 0 1\r\nc\r\n", b"STORED\r\n");
    mc.roundtrip(b"set n 0 0 1\r\n5\r\n", b"STORED\r\n");
    mc.roundtrip(b"incr n 10\r\n", b"15\r\n");
    // A memcached item's flags ride in an annotation Redis's loader skips, before a SET.
    let log = std::fs::read(incr_file(&dir)).unwrap();
    let record = b"#slabd-mc-flags:77\r\n*3\r\n$3\r\nSET\r\n$2\r\nmc\r\n$3\r\nabc\r\n";
    assert!(log.windows(record.len()).any(|w| w == record));
    assert!(!log.windows(11).any(|w| w == b"SLABD.MCSET"));
    kill9(d);

    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(get(&mut r, "a").as_deref(), Some("42"));
    assert_eq!(get(&mut r, "gone"), None);
    let ttl: i64 = cmd(&mut r, &["TTL", "t"]).trim_end()[1..].parse().unwrap();
    assert!((990..=1000).contains(&ttl), "{ttl}");
    assert_eq!(cmd(&mut r, &["HGETALL", "h"]), "*2\r\n");
    assert_eq!(r.read_until(b"v2\r\n"), b"$2\r\nf2\r\n$2\r\nv2\r\n");
    assert_eq!(cmd(&mut r, &["SCARD", "s"]), ":2\r\n");
    let pttl: i64 = cmd(&mut r, &["PTTL", "s"]).trim_end()[1..].parse().unwrap();
    assert!((90_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(cmd(&mut r, &["SELECT", "3"]), "+OK\r\n");
    assert_eq!(get(&mut r, "y").as_deref(), Some("2"));
    let mut mc = d.connect();
    mc.roundtrip(
        b"get mc n\r\n",
        b"VALUE mc 77 3\r\nabc\r\nVALUE n 0 2\r\n15\r\nEND\r\n",
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn torn_tail_is_truncated_or_refused_as_configured() {
    let dir = temp_dir("torn");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "k", "v"]), "+OK\r\n");
    drop(r);
    kill9(d);
    let incr = incr_file(&dir);
    let good = std::fs::metadata(&incr).unwrap().len();
    let mut bytes = std::fs::read(&incr).unwrap();
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$5\r\nhal");
    std::fs::write(&incr, &bytes).unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args([
            "-p",
            "-1",
            "-l",
            "127.0.0.1",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .args(["--appendonly", "yes", "--aof-load-truncated", "no"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("at offset {good}")), "{err}");

    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(get(&mut r, "k").as_deref(), Some("v"));
    assert_eq!(get(&mut r, "z"), None);
    assert_eq!(
        std::fs::metadata(&incr).unwrap().len(),
        good,
        "the torn command was cut off"
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corruption_in_the_middle_names_file_and_offset() {
    let dir = temp_dir("corrupt");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "k1", "v"]), "+OK\r\n");
    drop(r);
    kill9(d);
    let incr = incr_file(&dir);
    let mut bytes = std::fs::read(&incr).unwrap();
    let at = bytes.len();
    bytes.extend_from_slice(b"garbage\r\n*2\r\n$3\r\nDEL\r\n$2\r\nk1\r\n");
    std::fs::write(&incr, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args([
            "-p",
            "-1",
            "-l",
            "127.0.0.1",
            "--dir",
            dir.to_str().unwrap(),
            "--appendonly",
            "yes",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Bad file format reading the append only file"),
        "{err}"
    );
    assert!(err.contains(&incr.display().to_string()), "{err}");
    assert!(err.contains(&format!("at byte {at}")), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writers on both protocols and many connections; kill -9 at a random moment; every
/// acknowledged write must be there after the restart (appendfsync always), with a
/// BGREWRITEAOF in the middle of one round.
#[test]
fn kill_under_load_loses_no_acknowledged_write() {
    let dir = temp_dir("kill");
    // 3 rounds by default; SLABD_KILL_ROUNDS=20 runs the full count.
    let rounds: usize = std::env::var("SLABD_KILL_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for round in 0..rounds {
        let d = start(&dir, &["--appendfsync", "always", "-t", "2"]);
        let acked: Arc<Mutex<Vec<(bool, String, String)>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for t in 0..4 {
            let (acked, stop) = (acked.clone(), stop.clone());
            let resp = t % 2 == 0;
            let addr = if resp { d.resp_addr.unwrap() } else { d.addr };
            threads.push(std::thread::spawn(move || {
                let Ok(s) = std::net::TcpStream::connect(addr) else {
                    return;
                };
                let mut c = Conn::new(s);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("r{round}t{t}k{i}");
                    let val = format!("v{i}");
                    let req = if resp {
                        format!(
                            "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{val}\r\n",
                            key.len(),
                            val.len()
                        )
                    } else {
                        format!("set {key} 0 0 {}\r\n{val}\r\n", val.len())
                    };
                    if std::io::Write::write_all(&mut c.stream, req.as_bytes()).is_err() {
                        return;
                    }
                    // "+OK\r\n" or "STORED\r\n".
                    let mut line = vec![0u8; if resp { 5 } else { 8 }];
                    if std::io::Read::read_exact(&mut c.stream, &mut line).is_err() {
                        return;
                    }
                    acked.lock().unwrap().push((resp, key, val));
                    i += 1;
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(300));
        if round % 3 == 1 {
            let mut r = d.connect_resp();
            assert_eq!(
                cmd(&mut r, &["BGREWRITEAOF"]),
                "+Background append only file rewriting started\r\n"
            );
        }
        std::thread::sleep(Duration::from_millis(200 + 150 * (round % 4) as u64));
        kill9(d);
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        assert!(
            acked.len() > 10,
            "round {round}: only {} writes",
            acked.len()
        );
        let d = start(&dir, &[]);
        let mut r = d.connect_resp();
        let deadline = Instant::now() + Duration::from_secs(60);
        for (_, key, val) in &acked {
            assert!(Instant::now() < deadline);
            assert_eq!(
                get(&mut r, key).as_deref(),
                Some(val.as_str()),
                "round {round}: acknowledged {key} lost"
            );
        }
        drop(r);
        d.terminate();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rewrite_replaces_the_files_and_config_set_turns_it_on() {
    let dir = temp_dir("rewrite");
    let d = wait_loaded(Daemon::start(&[
        "--resp-port",
        "0",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "before", "1"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut r, &["SET", "after", "2"]), "+OK\r\n");
    // Turning it on rewrites in the background (as Redis): wait for that rewrite first.
    wait_rewritten(&mut r);
    assert_eq!(
        cmd(&mut r, &["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
            .unwrap_or_default();
        // The manifest is replaced first, the old files deleted right after.
        if m.contains("appendonly.aof.2.base.rdb")
            && !dir.join("appendonlydir/appendonly.aof.1.base.rdb").exists()
        {
            assert_eq!(m, "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n");
            break;
        }
        assert!(Instant::now() < deadline, "rewrite did not finish: {m}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(cmd(&mut r, &["SET", "late", "3"]), "+OK\r\n");
    drop(r);
    assert!(d.terminate().success());
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["MGET", "before", "after", "late"]), "*3\r\n");
    assert_eq!(
        r.read_until(b"$1\r\n3\r\n"),
        b"$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    drop(d);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .arg("check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until INFO says no AOF rewrite runs or waits.
fn wait_rewritten(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = reply(c, &["INFO", "persistence"]);
        if info.contains("aof_rewrite_in_progress:0\r\n")
            && info.contains("aof_rewrite_scheduled:0\r\n")
        {
            return;
        }
        assert!(Instant::now() < deadline, "rewrite did not finish: {info}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// CONFIG SET appendonly yes answers at once and makes the files with a background
/// rewrite, as Redis's: with a single worker, another client is served while the rewrite
/// runs (held by `rdb-key-save-delay`), and the writes made meanwhile are in the AOF.
/// The old code rewrote on the worker before answering, so the rewrite was over by then.
#[test]
fn config_set_appendonly_rewrites_in_the_background() {
    let dir = temp_dir("enable-bg");
    let d = wait_loaded(Daemon::start(&[
        "--resp-port",
        "0",
        "-t",
        "1",
        "--appendfsync",
        "always",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    let mut a = d.connect_resp();
    let mut b = d.connect_resp();
    for i in 0..3 {
        assert_eq!(cmd(&mut a, &["SET", &format!("k{i}"), "v"]), "+OK\r\n");
    }
    // 2,000 s per key: the rewrite stays on its first key until the delay is lifted.
    assert_eq!(
        cmd(
            &mut a,
            &["CONFIG", "SET", "rdb-key-save-delay", "2000000000"]
        ),
        "+OK\r\n"
    );
    assert_eq!(
        cmd(&mut a, &["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    let info = reply(&mut b, &["INFO", "persistence"]);
    assert!(info.contains("aof_enabled:1\r\n"), "{info}");
    assert!(info.contains("aof_rewrite_in_progress:1\r\n"), "{info}");
    assert_eq!(cmd(&mut b, &["SET", "during", "1"]), "+OK\r\n");
    assert_eq!(get(&mut b, "k1").as_deref(), Some("v"));
    assert_eq!(
        cmd(&mut b, &["BGREWRITEAOF"]),
        "-ERR Background append only file rewriting already in progress\r\n"
    );
    assert_eq!(
        cmd(&mut a, &["CONFIG", "SET", "rdb-key-save-delay", "0"]),
        "+OK\r\n"
    );
    wait_rewritten(&mut a);
    let info = reply(&mut a, &["INFO", "persistence"]);
    assert!(info.contains("aof_last_bgrewrite_status:ok\r\n"), "{info}");
    assert_eq!(cmd(&mut a, &["SET", "after", "2"]), "+OK\r\n");
    drop((a, b));
    kill9(d);
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    for (key, val) in [("k0", "v"), ("k2", "v"), ("during", "1"), ("after", "2")] {
        assert_eq!(get(&mut r, key).as_deref(), Some(val), "{key}");
    }
    drop(r);
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends a command and reads its whole reply (simple, integer, bulk or flat array).
fn reply(c: &mut Conn, args: &[&str]) -> String {
    let mut out = cmd(c, args);
    let n: i64 = out[1..out.len() - 2].parse().unwrap_or(-1);
    match out.as_bytes()[0] {
        b'$' if n >= 0 => out.push_str(&String::from_utf8(c.read_exact(n as usize + 2)).unwrap()),
        b'*' => {
            for _ in 0..n.max(0) {
                let head = String::from_utf8(c.read_line()).unwrap();
                let len: usize = head[1..head.len() - 2].parse().unwrap();
                out.push_str(&head);
                out.push_str(&String::from_utf8(c.read_exact(len + 2)).unwrap());
            }
        }
        _ => {}
    }
    out
}

#[test]
fn collection_writes_are_logged_as_commands() {
    let dir = temp_dir("ascommand");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["RPUSH", "l", "a", "b"]), ":2\r\n");
    assert_eq!(cmd(&mut r, &["LPOP", "l"]), "$1\r\n");
    assert_eq!(r.read_line(), b"a\r\n");
    assert_eq!(cmd(&mut r, &["ZADD", "z", "1.5", "m"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["HSET", "h", "f", "v"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["PEXPIREAT", "h", "4102444800000"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["HINCRBY", "h", "n", "5"]), ":5\r\n");
    assert_eq!(cmd(&mut r, &["SELECT", "2"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["SADD", "s", "x"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["FLUSHDB"]), "+OK\r\n");
    let log = String::from_utf8(std::fs::read(incr_file(&dir)).unwrap()).unwrap();
    let want = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n\
        *4\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n\
        *2\r\n$4\r\nLPOP\r\n$1\r\nl\r\n\
        *4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\nm\r\n\
        *4\r\n$4\r\nHSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\nv\r\n";
    assert!(log.starts_with(want), "{log:?}");
    // PEXPIREAT is logged as the key's expiry; HINCRBY on a key with an expiry repeats it.
    assert!(
        log.ends_with(
            "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nh\r\n$13\r\n4102444800000\r\n\
             *4\r\n$7\r\nHINCRBY\r\n$1\r\nh\r\n$1\r\nn\r\n$1\r\n5\r\n\
             *3\r\n$9\r\nPEXPIREAT\r\n$1\r\nh\r\n$13\r\n4102444800000\r\n\
             *2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n\
             *3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\nx\r\n*1\r\n$7\r\nFLUSHDB\r\n"
        ),
        "{log:?}"
    );
    kill9(d);
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(
        reply(&mut r, &["LRANGE", "l", "0", "-1"]),
        "*1\r\n$1\r\nb\r\n"
    );
    assert_eq!(reply(&mut r, &["ZSCORE", "z", "m"]), "$3\r\n1.5\r\n");
    assert_eq!(reply(&mut r, &["HGET", "h", "n"]), "$1\r\n5\r\n");
    assert_eq!(reply(&mut r, &["PEXPIRETIME", "h"]), ":4102444800000\r\n");
    assert_eq!(cmd(&mut r, &["SELECT", "2"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["EXISTS", "s"]), ":0\r\n");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writers on several workers push to shared lists, bump shared counters and flush, while
/// (in the second round) the AOF is rewritten: after kill -9 the replay equals the data
/// the server held, so records reached the log in the order the writes happened.
#[test]
fn parallel_writes_and_a_rewrite_replay_to_the_same_data() {
    let dir = temp_dir("parallel");
    for round in 0..2 {
        let d = start(&dir, &["-t", "4"]);
        let addr = d.resp_addr.unwrap();
        let mut threads = Vec::new();
        for t in 0..4 {
            threads.push(std::thread::spawn(move || {
                let mut c = Conn::new(std::net::TcpStream::connect(addr).unwrap());
                for i in 0..300 {
                    let v = format!("t{t}i{i}");
                    cmd(&mut c, &["RPUSH", "shared", &v]);
                    cmd(&mut c, &["LPUSH", "shared", &v]);
                    reply(&mut c, &["ZINCRBY", "z", "1", &format!("m{}", i % 7)]);
                    cmd(&mut c, &["HINCRBY", "h", &format!("f{}", i % 5), "1"]);
                    if i % 50 == 0 {
                        reply(&mut c, &["LPOP", "shared"]);
                    }
                    if t == 0 && i % 100 == 99 {
                        cmd(&mut c, &["FLUSHALL"]);
                    }
                }
            }));
        }
        if round == 1 {
            std::thread::sleep(Duration::from_millis(50));
            let mut r = d.connect_resp();
            assert_eq!(
                cmd(&mut r, &["BGREWRITEAOF"]),
                "+Background append only file rewriting started\r\n"
            );
        }
        for t in threads {
            t.join().unwrap();
        }
        let mut r = d.connect_resp();
        let before: Vec<String> = [
            &["LRANGE", "shared", "0", "-1"][..],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["HGETALL", "h"],
        ]
        .iter()
        .map(|c| reply(&mut r, c))
        .collect();
        // Written within 10 ms under everysec; rewrites finish quickly at this size.
        std::thread::sleep(Duration::from_millis(1500));
        kill9(d);
        let d = start(&dir, &[]);
        let mut r = d.connect_resp();
        let after: Vec<String> = [
            &["LRANGE", "shared", "0", "-1"][..],
            &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
            &["HGETALL", "h"],
        ]
        .iter()
        .map(|c| reply(&mut r, c))
        .collect();
        assert_eq!(before, after, "round {round}");
        drop(r);
        d.terminate();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn debug_reload_and_loadaof_with_the_aof_on_log_nothing_and_keep_the_data() {
    let dir = temp_dir("reload");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["RPUSH", "l", "a", "b"]), ":2\r\n");
    let before = std::fs::read(incr_file(&dir)).unwrap();
    assert_eq!(cmd(&mut r, &["DEBUG", "RELOAD"]), "+OK\r\n");
    assert_eq!(std::fs::read(incr_file(&dir)).unwrap(), before);
    assert_eq!(cmd(&mut r, &["RPUSH", "l", "c"]), ":3\r\n");
    // DEBUG LOADAOF: empties and replays the AOF; logs nothing either.
    assert_eq!(cmd(&mut r, &["SET", "s", "v"]), "+OK\r\n");
    let before = std::fs::read(incr_file(&dir)).unwrap();
    assert_eq!(cmd(&mut r, &["DEBUG", "LOADAOF"]), "+OK\r\n");
    assert_eq!(std::fs::read(incr_file(&dir)).unwrap(), before);
    assert_eq!(cmd(&mut r, &["DBSIZE"]), ":2\r\n");
    assert_eq!(
        reply(&mut r, &["LRANGE", "l", "0", "-1"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    kill9(d);
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(
        reply(&mut r, &["LRANGE", "l", "0", "-1"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_delayed_flush_all_is_logged_when_it_takes_effect() {
    let dir = temp_dir("delayedflush");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut mc = d.connect();
    mc.roundtrip(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n");
    mc.roundtrip(b"flush_all 2\r\n", b"OK\r\n");
    // Written before the flush comes due: flushed with the rest.
    mc.roundtrip(b"set b 0 0 1\r\n2\r\n", b"STORED\r\n");
    mc.roundtrip(b"get b\r\n", b"VALUE b 0 1\r\n2\r\nEND\r\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        mc.send(b"get a\r\n");
        if mc.read_line() == b"END\r\n" {
            break;
        }
        mc.read_until(b"END\r\n");
        assert!(
            Instant::now() < deadline,
            "the delayed flush never came due"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    mc.roundtrip(b"set c 0 0 1\r\n3\r\n", b"STORED\r\n");
    mc.roundtrip(b"get a b c\r\n", b"VALUE c 0 1\r\n3\r\nEND\r\n");
    let log = String::from_utf8(std::fs::read(incr_file(&dir)).unwrap()).unwrap();
    let flush = log.find("*1\r\n$7\r\nFLUSHDB\r\n").expect("FLUSHDB logged");
    let (b, c) = (
        log.find("$1\r\nb\r\n").unwrap(),
        log.find("$1\r\nc\r\n").unwrap(),
    );
    assert!(b < flush && flush < c, "{log:?}");
    kill9(d);

    let d = start(&dir, &[]);
    let mut mc = d.connect();
    mc.roundtrip(b"get a b c\r\n", b"VALUE c 0 1\r\n3\r\nEND\r\n");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// LMPOP, BLMPOP and ZMPOP name their keys after a count (the command table gives none):
/// their pops reach the log (they were lost on replay before).
#[test]
fn pops_with_a_key_count_are_logged() {
    let dir = temp_dir("mpop");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["RPUSH", "l", "a", "b", "c"]), ":3\r\n");
    assert_eq!(cmd(&mut r, &["ZADD", "z", "1", "m", "2", "n"]), ":2\r\n");
    // Nested arrays: the first line, then the rest byte for byte.
    assert_eq!(cmd(&mut r, &["LMPOP", "1", "l", "LEFT"]), "*2\r\n");
    assert_eq!(r.read_exact(18), b"$1\r\nl\r\n*1\r\n$1\r\na\r\n");
    let blmpop = ["BLMPOP", "0", "2", "x", "l", "RIGHT", "COUNT", "2"];
    assert_eq!(cmd(&mut r, &blmpop), "*2\r\n");
    assert_eq!(r.read_exact(25), b"$1\r\nl\r\n*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    assert_eq!(cmd(&mut r, &["ZMPOP", "1", "z", "MIN"]), "*2\r\n");
    assert_eq!(
        r.read_exact(29),
        b"$1\r\nz\r\n*1\r\n*2\r\n$1\r\nm\r\n$1\r\n1\r\n"
    );
    drop(r);
    kill9(d);
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["EXISTS", "l"]), ":0\r\n");
    assert_eq!(
        reply(&mut r, &["ZRANGE", "z", "0", "-1"]),
        "*1\r\n$1\r\nn\r\n"
    );
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A command slabd does not know stops the start, whatever aof-load-truncated says (as
/// Redis: "Unknown command 'bla' reading the append only file").
#[test]
fn an_unknown_command_in_the_log_refuses_to_start() {
    let dir = temp_dir("unknown");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "k", "v"]), "+OK\r\n");
    drop(r);
    kill9(d);
    let incr = incr_file(&dir);
    let mut bytes = std::fs::read(&incr).unwrap();
    bytes.extend_from_slice(b"*3\r\n$3\r\nbla\r\n$1\r\nk\r\n$1\r\nv\r\n");
    std::fs::write(&incr, &bytes).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args([
            "-p",
            "-1",
            "-l",
            "127.0.0.1",
            "--dir",
            dir.to_str().unwrap(),
        ])
        .args(["--appendonly", "yes", "--aof-load-truncated", "yes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Unknown command 'bla' reading the append only file"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `aof-timestamp-enabled yes` puts Redis 7.0's `#TS:<unix seconds>` annotation before the
/// first record of a second (not before every record); the file still replays, and
/// `check-aof` accepts it.
#[test]
fn timestamp_annotations_are_written_when_enabled() {
    let dir = temp_dir("timestamps");
    let d = start(&dir, &["--appendfsync", "always"]);
    let mut r = d.connect_resp();
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "aof-timestamp-enabled", "yes"]),
        "+OK\r\n"
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(cmd(&mut r, &["SET", "foo", "bar"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["SET", "foo2", "bar2"]), "+OK\r\n");
    let text = String::from_utf8(std::fs::read(incr_file(&dir)).unwrap()).unwrap();
    let first = text.split("\r\n").next().unwrap();
    let ts: u64 = first
        .strip_prefix("#TS:")
        .unwrap_or_else(|| panic!("no #TS: first line in {text:?}"))
        .parse()
        .unwrap();
    assert!(ts >= before, "{ts} < {before}");
    // The two SETs came within a second or two: at most one more annotation.
    assert!(text.matches("#TS:").count() <= 2, "{text:?}");
    assert!(text.contains("$4\r\nfoo2\r\n$4\r\nbar2\r\n"), "{text:?}");
    drop(r);
    kill9(d);
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(get(&mut r, "foo").as_deref(), Some("bar"));
    assert_eq!(get(&mut r, "foo2").as_deref(), Some("bar2"));
    drop(r);
    drop(d);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .arg("check-aof")
        .arg(dir.join("appendonlydir/appendonly.aof.manifest"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits for a log line containing `text` (the lines before it are dropped).
fn wait_log(d: &Daemon, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = d
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no log line with {text:?}"));
        if line.contains(text) {
            return;
        }
    }
}

/// As Redis 7.0's `finishShutdown`: while the rewrite that `CONFIG SET appendonly yes`
/// started is still writing the first base, the AOF does not hold the data set, so
/// SHUTDOWN and SIGTERM refuse to stop ("Writing initial AOF, can't exit.") and the server
/// keeps serving; once the rewrite is done a stop keeps every key; SHUTDOWN FORCE stops
/// anyway ("Writing initial AOF. Exit anyway.") and removes the rewrite's temp file. The
/// old code stopped at once and the restart found an AOF without the keys written before
/// the CONFIG SET; session 12's left the temp file behind after a forced stop.
#[test]
fn shutdown_waits_for_the_initial_aof_unless_forced() {
    let dir = temp_dir("initial-aof");
    let d = wait_loaded(Daemon::start(&[
        "--resp-port",
        "0",
        "-t",
        "1",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    let mut a = d.connect_resp();
    assert_eq!(cmd(&mut a, &["SET", "k", "v"]), "+OK\r\n");
    // 2,000 s per key: the rewrite stays on its first key until the delay is lifted.
    let slow = ["CONFIG", "SET", "rdb-key-save-delay", "2000000000"];
    assert_eq!(cmd(&mut a, &slow), "+OK\r\n");
    assert_eq!(
        cmd(&mut a, &["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    assert_eq!(
        cmd(&mut a, &["SHUTDOWN"]),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    wait_log(&d, "Writing initial AOF, can't exit.");
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(d.pid() as i32, libc::SIGTERM);
    }
    wait_log(&d, "Writing initial AOF, can't exit.");
    wait_log(
        &d,
        "SIGTERM received but errors trying to shut down the server",
    );
    assert_eq!(cmd(&mut a, &["SET", "during", "1"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut a, &["CONFIG", "SET", "rdb-key-save-delay", "0"]),
        "+OK\r\n"
    );
    wait_rewritten(&mut a);
    drop(a);
    assert!(d.terminate().success());
    let d = start(&dir, &["-t", "1"]);
    let mut r = d.connect_resp();
    assert_eq!(get(&mut r, "k").as_deref(), Some("v"));
    assert_eq!(get(&mut r, "during").as_deref(), Some("1"));
    // Again from the AOF off, stopped with FORCE while the first base is being written.
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "appendonly", "no"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut r, &slow), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    r.send(b"*3\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n$5\r\nFORCE\r\n");
    wait_log(&d, "Writing initial AOF. Exit anyway.");
    wait_log(&d, "There is a child rewriting the AOF. Killing it!");
    assert!(d.wait().success());
    // As Redis's `killAppendOnlyChild`: the stopped rewrite's temp file is removed (the
    // old code exited with `temp-rewriteaof-bg-<pid>.aof` half written in the AOF dir).
    for d in [dir.clone(), dir.join("appendonlydir")] {
        let temps: Vec<String> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("temp-"))
            .collect();
        assert!(temps.is_empty(), "{temps:?} left in {}", d.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `aof-use-rdb-preamble no`: the rewrite writes its base as commands, as Redis 7.0's
/// `rewriteAppendOnlyFileRio` (`appendonly.aof.<n>.base.aof`: a `#TS:` annotation with
/// `aof-timestamp-enabled`, SELECT, SET, RPUSH, HMSET, SADD, ZADD, PEXPIREAT; a memcached
/// item's flags in their annotation), and a restart loads it. The old code always wrote an
/// RDB base (`.base.rdb`).
#[test]
fn rewrite_without_rdb_preamble_writes_commands() {
    let dir = temp_dir("no-preamble");
    let opts = [
        "--aof-use-rdb-preamble",
        "no",
        "--aof-timestamp-enabled",
        "yes",
    ];
    let d = start(&dir, &opts);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["SET", "t", "x", "PXAT", "99999999999999"]),
        "+OK\r\n"
    );
    assert_eq!(cmd(&mut r, &["RPUSH", "l", "a", "b"]), ":2\r\n");
    assert_eq!(cmd(&mut r, &["HSET", "h", "f", "1"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["SADD", "s", "m"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["ZADD", "z", "1.5", "a"]), ":1\r\n");
    assert_eq!(cmd(&mut r, &["SELECT", "2"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["SET", "d2", "y"]), "+OK\r\n");
    let mut mc = d.connect();
    mc.roundtrip(b"set mc 77 0 2\r\nab\r\n", b"STORED\r\n");
    assert_eq!(
        cmd(&mut r, &["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_rewritten(&mut r);
    let aof_dir = dir.join("appendonlydir");
    let m = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        m,
        "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    );
    let base = String::from_utf8(std::fs::read(aof_dir.join("appendonly.aof.2.base.aof")).unwrap())
        .unwrap();
    assert!(base.starts_with("#TS:"), "{base:?}");
    for rec in [
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n",
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n",
        "*3\r\n$3\r\nSET\r\n$1\r\nt\r\n$1\r\nx\r\n*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nt\r\n$14\r\n99999999999999\r\n",
        "*4\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\na\r\n$1\r\nb\r\n",
        "*4\r\n$5\r\nHMSET\r\n$1\r\nh\r\n$1\r\nf\r\n$1\r\n1\r\n",
        "*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\nm\r\n",
        "*4\r\n$4\r\nZADD\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\na\r\n",
        "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$2\r\nd2\r\n$1\r\ny\r\n",
        "#slabd-mc-flags:77\r\n*3\r\n$3\r\nSET\r\n$2\r\nmc\r\n$2\r\nab\r\n",
    ] {
        assert!(base.contains(rec), "{rec:?} not in {base:?}");
    }
    assert!(!base.contains("REDIS"), "{base:?}");
    drop(r);
    drop(mc);
    assert!(d.terminate().success());
    let d = start(&dir, &opts);
    let mut r = d.connect_resp();
    assert_eq!(get(&mut r, "k").as_deref(), Some("v"));
    assert_eq!(cmd(&mut r, &["PEXPIRETIME", "t"]), ":99999999999999\r\n");
    assert_eq!(cmd(&mut r, &["LLEN", "l"]), ":2\r\n");
    assert_eq!(cmd(&mut r, &["ZSCORE", "z", "a"]), "$3\r\n");
    assert_eq!(r.read_line(), b"1.5\r\n");
    assert_eq!(cmd(&mut r, &["SELECT", "2"]), "+OK\r\n");
    assert_eq!(get(&mut r, "d2").as_deref(), Some("y"));
    let mut mc = d.connect();
    mc.roundtrip(b"get mc\r\n", b"VALUE mc 77 2\r\nab\r\nEND\r\n");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// GETEX without an option changes nothing, so nothing is logged, as Redis (its
/// integration/aof "GETEX should not append to AOF"). The old code logged the key's
/// state, a SET, for it.
#[test]
fn getex_without_options_logs_nothing() {
    let dir = temp_dir("getex");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    assert_eq!(cmd(&mut r, &["SET", "foo", "bar"]), "+OK\r\n");
    assert_eq!(cmd(&mut r, &["GETEX", "foo"]), "$3\r\n");
    assert_eq!(r.read_line(), b"bar\r\n");
    assert_eq!(cmd(&mut r, &["SET", "marker", "1"]), "+OK\r\n");
    // The log is written within the slabd-aof thread's tick: wait for the last record.
    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = std::fs::read_to_string(incr_file(&dir)).unwrap();
        if log.contains("marker") {
            break log;
        }
        assert!(Instant::now() < deadline, "{log:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(log.matches("SET\r\n").count(), 2, "{log:?}");
    assert!(!log.contains("GETEX"), "{log:?}");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `aof-disable-auto-gc yes` keeps the files a rewrite replaces, named in the manifest as
/// history (type h) in Redis 7.0's order; `no` drops them from the manifest and deletes
/// them at once (integration/aof-multi-part "AOF enable/disable auto gc", whose sequence
/// numbers come from a test slabd skips). The old code refused the setting.
#[test]
fn aof_disable_auto_gc_keeps_history_files_until_turned_off() {
    let dir = temp_dir("auto-gc");
    let d = start(&dir, &["--auto-aof-rewrite-percentage", "0"]);
    let aof = dir.join("appendonlydir");
    let mut r = d.connect_resp();
    wait_rewritten(&mut r);
    assert_eq!(cmd(&mut r, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "aof-disable-auto-gc", "yes"]),
        "+OK\r\n"
    );
    for _ in 0..2 {
        assert_eq!(
            cmd(&mut r, &["BGREWRITEAOF"]),
            "+Background append only file rewriting started\r\n"
        );
        wait_rewritten(&mut r);
    }
    let manifest = || std::fs::read_to_string(aof.join("appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest(),
        "file appendonly.aof.3.base.rdb seq 3 type b\n\
         file appendonly.aof.2.incr.aof seq 2 type h\n\
         file appendonly.aof.2.base.rdb seq 2 type h\n\
         file appendonly.aof.1.incr.aof seq 1 type h\n\
         file appendonly.aof.1.base.rdb seq 1 type h\n\
         file appendonly.aof.3.incr.aof seq 3 type i\n"
    );
    let history = [
        "appendonly.aof.1.base.rdb",
        "appendonly.aof.2.base.rdb",
        "appendonly.aof.1.incr.aof",
        "appendonly.aof.2.incr.aof",
    ];
    for f in history {
        assert!(aof.join(f).exists(), "{f} was deleted");
    }
    assert_eq!(
        cmd(&mut r, &["CONFIG", "SET", "aof-disable-auto-gc", "no"]),
        "+OK\r\n"
    );
    assert_eq!(
        manifest(),
        "file appendonly.aof.3.base.rdb seq 3 type b\n\
         file appendonly.aof.3.incr.aof seq 3 type i\n"
    );
    for f in history {
        assert!(!aof.join(f).exists(), "{f} is still there");
    }
    assert_eq!(get(&mut r, "k").as_deref(), Some("v"));
    drop(r);
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}
