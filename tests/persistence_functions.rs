//! Function libraries in the files: saved in the dump (Redis 7.0's RDB_OPCODE_FUNCTION2
//! records), kept by DEBUG RELOAD, logged in the AOF as the libraries' state, and in the
//! rewritten AOF's base.

mod common;
mod resp_wire;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Conn, Daemon};
use resp_wire::{encode, Resp};
use slabd::persist::rdb::{Reader, Record};

const LIB1: &str = "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)";
const LIB2: &str = "#!lua name=lib2\nredis.register_function('f2', function(k, a) return a[1] end)";

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("slabd-fn-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start(dir: &Path, extra: &[&str]) -> Daemon {
    let mut args = vec!["--resp-port", "0", "--dir", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let d = Daemon::start(&args);
    let mut c = d.connect_resp();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !c.cmd(&["info", "persistence"]).contains("\nloading:0\r\n") {
        assert!(Instant::now() < deadline, "still loading");
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

fn kill9(d: Daemon) {
    // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
    unsafe {
        libc::kill(d.pid() as i32, libc::SIGKILL);
    }
    drop(d);
}

/// FUNCTION DUMP's payload.
fn function_dump(c: &mut Conn) -> Vec<u8> {
    c.send(&encode(&[b"FUNCTION", b"DUMP"]));
    let reply = c.reply();
    let nl = reply.iter().position(|&b| b == b'\n').unwrap();
    reply[nl + 1..reply.len() - 2].to_vec()
}

fn incr_file(dir: &Path) -> PathBuf {
    let mut incrs: Vec<PathBuf> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    incrs.sort();
    incrs.pop().expect("an incremental file")
}

/// The function records of an RDB file, in order.
fn rdb_functions(path: &Path) -> Vec<Vec<u8>> {
    let f = std::fs::File::open(path).unwrap();
    let mut r = Reader::new(std::io::BufReader::new(f), true).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        if let Record::Function(code) = rec {
            out.push(code);
        }
    }
    out
}

#[test]
fn libraries_survive_save_debug_reload_and_restart() {
    let dir = temp_dir("rdb");
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    r.check(&["function", "load", LIB1], "$4\r\nlib1\r\n");
    r.check(&["function", "load", LIB2], "$4\r\nlib2\r\n");
    r.check(&["set", "k", "v"], "+OK\r\n");
    r.check(&["save"], "+OK\r\n");
    assert_eq!(
        rdb_functions(&dir.join("dump.rdb")),
        vec![LIB1.as_bytes().to_vec(), LIB2.as_bytes().to_vec()]
    );
    // DEBUG RELOAD empties the libraries with the data and loads both back.
    r.check(&["function", "delete", "lib1"], "+OK\r\n");
    r.check(&["debug", "reload", "nosave"], "+OK\r\n");
    r.check(&["fcall", "f1", "0"], ":1\r\n");
    r.check(&["fcall", "f2", "0", "x"], "$1\r\nx\r\n");
    drop(d);
    let d = start(&dir, &[]);
    let mut r = d.connect_resp();
    r.check(&["fcall", "f1", "0"], ":1\r\n");
    r.check(&["get", "k"], "$1\r\nv\r\n");
    r.check(&["function", "flush"], "+OK\r\n");
    r.check(&["save"], "+OK\r\n");
    assert!(rdb_functions(&dir.join("dump.rdb")).is_empty());
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn library_changes_are_logged_and_replayed() {
    let dir = temp_dir("aof");
    let d = start(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = d.connect_resp();
    let before = std::fs::read(incr_file(&dir)).unwrap().len();
    r.check(&["function", "load", LIB1], "$4\r\nlib1\r\n");
    r.check(&["function", "load", LIB2], "$4\r\nlib2\r\n");
    r.check(&["function", "delete", "lib1"], "+OK\r\n");
    r.check(
        &["function", "delete", "nosuch"],
        "-ERR Library not found\r\n",
    );
    // Each change logs the libraries' state: the last record holds lib2 only.
    let payload = function_dump(&mut r);
    let log = std::fs::read(incr_file(&dir)).unwrap();
    let last = encode(&[b"FUNCTION", b"RESTORE", &payload, b"FLUSH"]);
    assert!(log.ends_with(&last), "{:?}", String::from_utf8_lossy(&log));
    assert_eq!(
        log[before..]
            .windows(b"$7\r\nRESTORE\r\n".len())
            .filter(|w| w == b"$7\r\nRESTORE\r\n")
            .count(),
        3
    );
    kill9(d);
    let d = start(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = d.connect_resp();
    r.check(&["fcall", "f2", "0", "y"], "$1\r\ny\r\n");
    r.check(&["fcall", "f1", "0"], "-ERR Function not found\r\n");
    // A rewrite puts the libraries in the base; FUNCTION FLUSH is logged as itself.
    r.check(
        &["bgrewriteaof"],
        "+Background append only file rewriting started\r\n",
    );
    // The first base (1) was written when the AOF was created; the rewrite's is 2.
    let manifest = dir.join("appendonlydir/appendonly.aof.manifest");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("appendonly.aof.2.base.rdb")
    {
        assert!(Instant::now() < deadline, "rewrite still running");
        std::thread::sleep(Duration::from_millis(20));
    }
    let base = dir.join("appendonlydir/appendonly.aof.2.base.rdb");
    assert_eq!(rdb_functions(&base), vec![LIB2.as_bytes().to_vec()]);
    r.check(&["function", "load", LIB1], "$4\r\nlib1\r\n");
    drop(d);
    let d = start(&dir, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = d.connect_resp();
    r.check(&["fcall", "f1", "0"], ":1\r\n");
    r.check(&["fcall", "f2", "0", "z"], "$1\r\nz\r\n");
    r.check(&["function", "flush"], "+OK\r\n");
    let log = std::fs::read(incr_file(&dir)).unwrap();
    assert!(log.ends_with(b"*2\r\n$8\r\nFUNCTION\r\n$5\r\nFLUSH\r\n"));
    kill9(d);
    let d = start(&dir, &["--appendonly", "yes"]);
    let mut r = d.connect_resp();
    r.check(&["function", "list"], "*0\r\n");
    drop(d);
    let _ = std::fs::remove_dir_all(&dir);
}
