//! Cases the Redis 7.0 test suite (`scripts/compat.d/60-redis-suite.sh`) found where slabd
//! answered differently from redis-server 7.0; each reply is the one redis-server sends.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

/// keyspace.tcl's DBSIZE: the suite flushes before every file, and DBSIZE must not count
/// what was flushed (redis-server: `:0` right after FLUSHALL / FLUSHDB).
#[test]
fn dbsize_after_flush_counts_no_flushed_item() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["SET", "a", "1"], "+OK\r\n");
    r.check(&["SELECT", "1"], "+OK\r\n");
    r.check(&["SET", "b", "2"], "+OK\r\n");
    r.check(&["SET", "c", "3"], "+OK\r\n");
    r.check(&["FLUSHALL"], "+OK\r\n");
    r.check(&["DBSIZE"], ":0\r\n");
    r.check(&["SELECT", "0"], "+OK\r\n");
    r.check(&["DBSIZE"], ":0\r\n");
    r.check(&["INFO", "keyspace"], "$12\r\n# Keyspace\r\n\r\n");
    r.check(&["SET", "a", "1"], "+OK\r\n");
    r.check(&["SET", "d", "4"], "+OK\r\n");
    r.check(&["DBSIZE"], ":2\r\n");
    r.check(&["FLUSHDB"], "+OK\r\n");
    r.check(&["DBSIZE"], ":0\r\n");
    r.check(&["SET", "e", "5"], "+OK\r\n");
    r.check(&["DBSIZE"], ":1\r\n");
}

/// string.tcl "MSETNX with not existing keys - same key twice": the key is set twice, the
/// last value wins (slabd added it, then found it present and answered 0).
#[test]
fn msetnx_same_key_twice() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["MSETNX", "x1", "xxx", "x1", "yyy"], ":1\r\n");
    r.check(&["GET", "x1"], "$3\r\nyyy\r\n");
    r.check(&["MSETNX", "x1", "xxx", "x1", "zzz"], ":0\r\n");
    r.check(&["GET", "x1"], "$3\r\nyyy\r\n");
    r.check(&["MSETNX", "a", "1", "b", "2", "a", "3"], ":1\r\n");
    r.check(&["MGET", "a", "b"], "*2\r\n$1\r\n3\r\n$1\r\n2\r\n");
}

/// incr.tcl "No negative zero": 1/41 is stored with the digits Redis keeps (17 decimals), so
/// adding -1/41 gives 0; sums whose only error is f64 rounding still print as Redis does.
#[test]
fn incrbyfloat_keeps_digits_that_cancel() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // Redis (long double) answers 0.02439024390243902; f64 gives …903 in the last place.
    r.cmd(&["INCRBYFLOAT", "f", "0.024390243902439025"]);
    r.check(
        &["INCRBYFLOAT", "f", "-0.024390243902439025"],
        "$1\r\n0\r\n",
    );
    r.check(&["INCRBYFLOAT", "f", "0.1"], "$3\r\n0.1\r\n");
    r.check(&["INCRBYFLOAT", "f", "0.2"], "$3\r\n0.3\r\n");
    r.check(&["SET", "g", "1"], "+OK\r\n");
    r.check(
        &["INCRBYFLOAT", "g", "0.0000001234567890123"],
        "$19\r\n1.00000012345678901\r\n",
    );
}

/// string.tcl "Extended SET EXAT option", expire.tcl "EXPIREAT - Check for EXPIRE alike
/// behavior": an absolute time `now + n` reads back as TTL n or n - 1 as in Redis (the store
/// clock used to trail the system clock by up to two seconds, giving n + 1 or n + 2).
#[test]
fn exat_reads_back_as_redis_ttl() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = (now + 10).to_string();
    r.check(&["SET", "foo", "bar", "EXAT", &at], "+OK\r\n");
    let ttl = resp_wire::int(&r.cmd(&["TTL", "foo"]));
    assert!((9..=10).contains(&ttl), "TTL {ttl} after EXAT now+10");
    r.check(&["EXPIRETIME", "foo"], &format!(":{at}\r\n"));
    let at = (now + 15).to_string();
    r.check(&["EXPIREAT", "foo", &at], ":1\r\n");
    let ttl = resp_wire::int(&r.cmd(&["TTL", "foo"]));
    assert!((14..=15).contains(&ttl), "TTL {ttl} after EXPIREAT now+15");
}

/// introspection.tcl "CONFIG SET duplicate configs": a parameter named twice is refused
/// before any value is parsed or applied; the first bad name is the one reported.
#[test]
fn config_set_duplicate_parameter() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(
        &["CONFIG", "SET", "maxmemory", "10000001", "maxmemory", "10000002"],
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n",
    );
    r.check(
        &["CONFIG", "SET", "maxmemory", "abc", "MAXMEMORY", "2"],
        "-ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter\r\n",
    );
    r.check(
        &[
            "CONFIG",
            "SET",
            "maxmemory",
            "1",
            "foo",
            "1",
            "maxmemory",
            "2",
        ],
        "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n",
    );
}

/// introspection.tcl "CLIENT LIST" / "CLIENT INFO": the caller's own line shows its query
/// buffer holding the request being run, as Redis does (qbuf=26 for `CLIENT INFO` sent as a
/// multibulk, 13 for the inline `CLIENT INFO\r\n`).
#[test]
fn client_info_qbuf_holds_the_request() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.send(b"*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n");
    let line = String::from_utf8(r.reply()).unwrap();
    assert!(line.contains(" qbuf=26 "), "{line}");
    r.send(b"CLIENT INFO\r\n");
    let line = String::from_utf8(r.reply()).unwrap();
    assert!(line.contains(" qbuf=13 "), "{line}");
    let list = r.cmd(&["CLIENT", "LIST"]);
    assert!(list.contains(" qbuf=26 "), "{list}");
}

/// The crash report of `d`'s log once the process ended (lines after `ready`).
fn crash_log(mut d: common::Daemon) -> (std::process::ExitStatus, String) {
    let log = std::mem::replace(&mut d.log, std::sync::mpsc::channel().1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while d.is_running() {
        assert!(
            std::time::Instant::now() < deadline,
            "slabd is still running"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let status = d.wait();
    // The reader of the log ends at the end of the pipe, once the process is gone.
    let text: Vec<String> = log.iter().collect();
    (status, text.join("\n"))
}

/// integration/logging "Crash report generated on DEBUG SEGFAULT" / "on SIGABRT": the
/// server dies of the signal with a crash report in its log, as Redis's sigsegvHandler
/// writes one ("crashed by signal"); a signal sent by kill names its sender.
#[test]
fn debug_segfault_and_sigabrt_die_with_a_crash_report() {
    use std::os::unix::process::ExitStatusExt;
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.send(&resp_wire::encode(&[b"DEBUG", b"SEGFAULT"]));
    let (status, log) = crash_log(d);
    assert_eq!(status.signal(), Some(libc::SIGSEGV));
    assert!(log.contains("crashed by signal: 11, si_code: -6"), "{log}");
    assert!(log.contains("BUG REPORT END"), "{log}");

    let d = daemon(&[]);
    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(d.pid() as i32, libc::SIGABRT) }, 0);
    let (status, log) = crash_log(d);
    assert_eq!(status.signal(), Some(libc::SIGABRT));
    assert!(log.contains("crashed by signal: 6, si_code: 0"), "{log}");
    assert!(
        log.contains(&format!("Killed by PID: {}, UID: ", std::process::id())),
        "{log}"
    );
}

/// introspection-2.tcl's COMMAND GETKEYSANDFLAGS: each key with Redis's key-spec flags
/// (RESP2 an array of statuses, RESP3 a set), as redis-server 7.0.15 replies.
#[test]
fn command_getkeysandflags_reports_key_spec_flags() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(
        &[
            "COMMAND",
            "GETKEYSANDFLAGS",
            "LMOVE",
            "k1",
            "k2",
            "left",
            "right",
        ],
        "*2\r\n*2\r\n$2\r\nk1\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n\
         *2\r\n$2\r\nk2\r\n*2\r\n+RW\r\n+insert\r\n",
    );
    r.check(
        &["COMMAND", "GETKEYSANDFLAGS", "sort", "k1", "store", "k2"],
        "*2\r\n*2\r\n$2\r\nk1\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$2\r\nk2\r\n*2\r\n+OW\r\n+update\r\n",
    );
    r.check(
        &["COMMAND", "GETKEYSANDFLAGS", "object", "encoding", "k"],
        "*1\r\n*2\r\n$1\r\nk\r\n*1\r\n+RO\r\n",
    );
    r.check(
        &["COMMAND", "GETKEYSANDFLAGS", "get"],
        "-ERR wrong number of arguments for 'command|getkeysandflags' command\r\n",
    );
    assert!(r.cmd(&["HELLO", "3"]).starts_with("%7\r\n"));
    r.check(
        &["COMMAND", "GETKEYSANDFLAGS", "set", "k", "v"],
        "*1\r\n*2\r\n$1\r\nk\r\n~2\r\n+OW\r\n+update\r\n",
    );
}

/// COMMAND INFO of a container (OBJECT, MEMORY, ...): no key positions of its own, as
/// Redis 7.0.15 (`*10 $6 object :-2 *0 :0 :0 :0 *1 +@slow ...`).
#[test]
fn command_info_of_a_container_has_no_key_positions() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    let info = r.cmd(&["COMMAND", "INFO", "object"]);
    assert!(
        info.starts_with(
            "*1\r\n*10\r\n$6\r\nobject\r\n:-2\r\n*0\r\n:0\r\n:0\r\n:0\r\n*1\r\n+@slow\r\n"
        ),
        "{info}"
    );
}

/// introspection.tcl's "CONFIG GET multiple args": the replication and sampling settings
/// Redis lists, with redis-server 7.0.15's values.
#[test]
fn config_get_lists_replicaof_and_maxmemory_settings() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(
        &["CONFIG", "GET", "replicaof"],
        "*2\r\n$9\r\nreplicaof\r\n$0\r\n\r\n",
    );
    r.check(
        &["CONFIG", "GET", "slaveof"],
        "*2\r\n$7\r\nslaveof\r\n$0\r\n\r\n",
    );
    r.check(
        &["CONFIG", "GET", "maxmemory-samples"],
        "*2\r\n$17\r\nmaxmemory-samples\r\n$1\r\n5\r\n",
    );
    r.check(
        &["CONFIG", "GET", "repl-backlog-size"],
        "*2\r\n$17\r\nrepl-backlog-size\r\n$7\r\n1048576\r\n",
    );
    r.check(
        &["CONFIG", "GET", "maxmemory-eviction-tenacity"],
        "*2\r\n$27\r\nmaxmemory-eviction-tenacity\r\n$2\r\n10\r\n",
    );
    let all = r.cmd(&["CONFIG", "GET", "maxmemory", "maxmemory*", "bind", "*of"]);
    for name in [
        "maxmemory",
        "maxmemory-samples",
        "maxmemory-clients",
        "bind",
        "slaveof",
    ] {
        assert!(all.contains(&format!("\r\n{name}\r\n")), "{name} in {all}");
    }
    r.check(
        &["CONFIG", "SET", "replicaof", "127.0.0.1 6379"],
        "-ERR CONFIG SET failed (possibly related to argument 'replicaof') - can't set immutable config\r\n",
    );
}

/// introspection.tcl's "CONFIG SET with multiple args" and the rollback tests: CONFIG GET
/// maxmemory shows the bytes CONFIG SET gave (the store keeps whole pages below them), and
/// a CONFIG SET whose later parameter fails to apply puts the earlier ones back.
#[test]
fn config_set_shows_maxmemory_as_set_and_rolls_back() {
    let d = daemon(&["-m", "64"]);
    let mut r = d.connect_resp();
    r.check(
        &[
            "CONFIG",
            "SET",
            "maxmemory",
            "10000001",
            "repl-backlog-size",
            "10000002",
        ],
        "+OK\r\n",
    );
    r.check(
        &["CONFIG", "GET", "maxmemory"],
        "*2\r\n$9\r\nmaxmemory\r\n$8\r\n10000001\r\n",
    );
    r.check(
        &["CONFIG", "GET", "repl-backlog-size"],
        "*2\r\n$17\r\nrepl-backlog-size\r\n$8\r\n10000002\r\n",
    );
    // A value that fails its check changes nothing (Redis names the first bad one).
    r.check(
        &["CONFIG", "SET", "maxmemory", "20000000", "maxmemory-clients", "200%"],
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100\r\n",
    );
    // A port already in use fails to apply after maxmemory was applied: rolled back.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let reply = r.cmd(&["CONFIG", "SET", "maxmemory", "20000000", "port", &port]);
    assert!(
        reply.starts_with("-ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port"),
        "{reply}"
    );
    r.check(
        &["CONFIG", "GET", "maxmemory"],
        "*2\r\n$9\r\nmaxmemory\r\n$8\r\n10000001\r\n",
    );
    r.check(&["CONFIG", "SET", "maxmemory", "64mb"], "+OK\r\n");
    r.check(
        &["CONFIG", "GET", "maxmemory"],
        "*2\r\n$9\r\nmaxmemory\r\n$8\r\n67108864\r\n",
    );
    // The lower limit is applied last, so a failed CONFIG SET evicts nothing: 12 values of
    // 900 KB would not fit the 9 pages of 10000001 bytes.
    let value = "v".repeat(900_000);
    for i in 0..12 {
        r.check(&["SET", &format!("big{i}"), &value], "+OK\r\n");
    }
    let reply = r.cmd(&["CONFIG", "SET", "maxmemory", "10000001", "port", &port]);
    assert!(reply.starts_with("-ERR CONFIG SET failed"), "{reply}");
    r.check(&["DBSIZE"], ":12\r\n");
}

/// introspection.tcl's "CONFIG sanity" sets every parameter to the value CONFIG GET gave:
/// those slabd fixes at start (Redis changes them at run time) accept their own value and
/// refuse any other; Redis's immutable ones refuse both.
#[test]
fn config_set_accepts_the_current_value_of_a_fixed_parameter() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(
        &[
            "CONFIG",
            "SET",
            "bind",
            "127.0.0.1",
            "proto-max-bulk-len",
            "536870912",
        ],
        "+OK\r\n",
    );
    r.check(&["CONFIG", "SET", "metrics-port", "0"], "+OK\r\n");
    r.check(
        &["CONFIG", "SET", "proto-max-bulk-len", "5000000"],
        "-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - can't set immutable config\r\n",
    );
    r.check(
        &["CONFIG", "SET", "daemonize", "no"],
        "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n",
    );
}
