//! Replication as a master: SYNC / PSYNC, the RDB of a full resync, and the stream of
//! commands as Redis 7.0 propagates them (rewrites, MULTI/EXEC, no-op writes left out).
//! Writers and the replica are on different workers (`-t 2`: round-robin hand-out).

mod common;
mod resp_wire;

use common::Conn;
use resp_wire::{daemon, info_u64, Resp};

/// The next command of the stream, its words joined by spaces (the name lowercased, as
/// Redis's test helper reads it).
fn next_command(replica: &mut Conn) -> String {
    let raw = replica.reply();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let mut lines = text.split("\r\n");
    let head = lines.next().unwrap();
    assert!(head.starts_with('*'), "not a command: {text:?}");
    let words: Vec<String> = lines
        .filter(|l| !l.starts_with('$') && !l.is_empty())
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                w.to_lowercase()
            } else {
                w.to_string()
            }
        })
        .collect();
    words.join(" ")
}

/// Reads the `$<len>` payload of a full resync and returns it.
fn read_rdb(replica: &mut Conn) -> Vec<u8> {
    let line = replica.read_line();
    assert_eq!(line[0], b'$', "{line:?}");
    let n: usize = std::str::from_utf8(&line[1..line.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    replica.read_exact(n)
}

#[test]
fn psync_sends_the_dump_then_the_rewritten_stream() {
    let d = daemon(&["-t", "2"]);
    let mut c = d.connect_resp();
    c.check(&["SET", "before", "in-the-dump"], "+OK\r\n");
    let mut replica = d.connect_resp();
    replica.check(&["REPLCONF", "listening-port", "7701"], "+OK\r\n");
    replica.check(&["REPLCONF", "capa", "eof", "capa", "psync2"], "+OK\r\n");
    replica.send(b"*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n");
    let full = String::from_utf8(replica.read_line()).unwrap();
    let words: Vec<&str> = full.trim_end().split(' ').collect();
    assert_eq!(words[0], "+FULLRESYNC");
    assert_eq!(words[1].len(), 40);
    assert!(words[1].bytes().all(|b| b.is_ascii_hexdigit()));
    let rdb = read_rdb(&mut replica);
    assert!(rdb.starts_with(b"REDIS0010"), "{:?}", &rdb[..9]);
    assert!(rdb.windows(11).any(|w| w == b"in-the-dump"));

    assert_eq!(info_u64(&mut c, "replication", "connected_slaves"), 1);
    let info = c.cmd(&["INFO", "replication"]);
    assert!(
        info.contains("slave0:ip=127.0.0.1,port=7701,state=online"),
        "{info}"
    );
    assert!(c
        .cmd(&["ROLE"])
        .contains("$9\r\n127.0.0.1\r\n$4\r\n7701\r\n"));
    assert!(c
        .cmd(&["CLIENT", "LIST", "TYPE", "replica"])
        .contains("flags=S"));

    c.check(&["SET", "k", "v", "EX", "100"], "+OK\r\n");
    c.check(&["DEL", "missing"], ":0\r\n");
    c.check(&["EXPIRE", "k", "200"], ":1\r\n");
    c.check(&["GETEX", "k"], "$1\r\nv\r\n");
    c.check(&["GETDEL", "k"], "$1\r\nv\r\n");
    c.check(&["INCRBYFLOAT", "f", "1.5"], "$3\r\n1.5\r\n");
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["SET", "a", "1"], "+QUEUED\r\n");
    c.check(&["GET", "a"], "+QUEUED\r\n");
    c.check(&["SELECT", "3"], "+QUEUED\r\n");
    c.check(&["INCR", "a"], "+QUEUED\r\n");
    c.cmd(&["EXEC"]);
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["SET", "b", "1"], "+QUEUED\r\n");
    c.cmd(&["EXEC"]);
    c.check(&["RPUSH", "l", "x", "y"], ":2\r\n");
    c.check(&["BLPOP", "l", "0"], "*2\r\n$1\r\nl\r\n$1\r\nx\r\n");

    let want = [
        "select 0",
        "set k v PXAT",
        "pexpireat k",
        "del k",
        "set f 1.5 KEEPTTL",
        "multi",
        "set a 1",
        "select 3",
        "incr a",
        "exec",
        "set b 1",
        "rpush l x y",
        "lpop l",
    ];
    for w in want {
        let got = next_command(&mut replica);
        assert!(got.starts_with(w), "want {w:?}, got {got:?}");
    }
    // SET ... EX 100 became an absolute time about 100 s ahead.
    drop(replica);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while info_u64(&mut c, "replication", "connected_slaves") != 0 {
        assert!(std::time::Instant::now() < deadline, "replica not detached");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn sync_is_inline_and_replconf_is_checked() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["REPLCONF", "listening-port"],
        "-ERR wrong number of arguments for 'replconf' command\r\n",
    );
    c.check(
        &["REPLCONF", "nope", "1"],
        "-ERR Unrecognized REPLCONF option: nope\r\n",
    );
    c.check(&["WAIT", "0", "0"], ":0\r\n");
    c.check(&["WAIT", "1", "-1"], "-ERR timeout is negative\r\n");
    let mut replica = d.connect_resp();
    replica.send(b"SYNC\r\n");
    let rdb = read_rdb(&mut replica);
    assert!(rdb.starts_with(b"REDIS0010"));
    c.check(&["PUBLISH", "ch", "hi"], ":0\r\n");
    c.check(&["SELECT", "2"], "+OK\r\n");
    c.check(&["SET", "x", "1", "GET"], "$-1\r\n");
    assert_eq!(next_command(&mut replica), "select 0");
    assert_eq!(next_command(&mut replica), "publish ch hi");
    assert_eq!(next_command(&mut replica), "select 2");
    assert_eq!(next_command(&mut replica), "set x 1");
    // rdb-only: the dump and nothing after it.
    let mut dumper = d.connect_resp();
    dumper.check(&["REPLCONF", "rdb-only", "1"], "+OK\r\n");
    dumper.send(b"SYNC\r\n");
    read_rdb(&mut dumper);
    assert_eq!(info_u64(&mut c, "replication", "connected_slaves"), 1);
}
