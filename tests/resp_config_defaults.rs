//! CONFIG GET / SET answers that follow redis-server 7.0.15's built-in defaults and flags
//! (the replies checked here are the ones redis-server 7.0.15 gives, started with no
//! config file): `hash-max-listpack-entries` is 512, `daemonize` is read-only, and the
//! hidden test knobs answer only to their exact name.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

/// `HSET key f0 v f1 v ...` with `n` fields.
fn hset_fields(c: &mut common::Conn, key: &str, n: usize) {
    let fields: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    let mut args = vec!["HSET", key];
    for f in &fields {
        args.push(f);
        args.push("v");
    }
    assert_eq!(c.cmd(&args), format!(":{n}\r\n"));
}

#[test]
fn hash_max_listpack_entries_defaults_to_512() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["CONFIG", "GET", "hash-max-listpack-entries"],
        "*2\r\n$25\r\nhash-max-listpack-entries\r\n$3\r\n512\r\n",
    );
    c.check(
        &["CONFIG", "GET", "hash-max-ziplist-entries"],
        "*2\r\n$24\r\nhash-max-ziplist-entries\r\n$3\r\n512\r\n",
    );
    // The encoding follows: 512 fields stay compact, the 513th makes a table.
    hset_fields(&mut c, "h", 512);
    c.check(&["OBJECT", "ENCODING", "h"], "$8\r\nlistpack\r\n");
    c.check(&["HSET", "h", "x", "y"], ":1\r\n");
    c.check(&["OBJECT", "ENCODING", "h"], "$9\r\nhashtable\r\n");
    // The sorted-set threshold stays at Redis's 128.
    c.check(
        &["CONFIG", "GET", "zset-max-listpack-entries"],
        "*2\r\n$25\r\nzset-max-listpack-entries\r\n$3\r\n128\r\n",
    );
}

#[test]
fn daemonize_reads_no_and_is_immutable() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["CONFIG", "GET", "daemonize"],
        "*2\r\n$9\r\ndaemonize\r\n$2\r\nno\r\n",
    );
    c.check(
        &["CONFIG", "GET", "daemon*"],
        "*2\r\n$9\r\ndaemonize\r\n$2\r\nno\r\n",
    );
    for value in ["yes", "no"] {
        c.check(
            &["CONFIG", "SET", "daemonize", value],
            "-ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config\r\n",
        );
    }
    c.check(
        &["CONFIG", "GET", "daemonize"],
        "*2\r\n$9\r\ndaemonize\r\n$2\r\nno\r\n",
    );
}

#[test]
fn hidden_configs_answer_only_to_their_exact_name() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for name in ["key-load-delay", "rdb-key-save-delay"] {
        c.check(
            &["CONFIG", "GET", name],
            &format!("*2\r\n${}\r\n{name}\r\n$1\r\n0\r\n", name.len()),
        );
    }
    // Echoed as spelled, as Redis does for an exact name.
    c.check(
        &["CONFIG", "GET", "KEY-LOAD-DELAY"],
        "*2\r\n$14\r\nKEY-LOAD-DELAY\r\n$1\r\n0\r\n",
    );
    for pattern in [
        "key-load*",
        "*load-delay",
        "rdb-key-save-dela?",
        "[k]ey-load-delay",
    ] {
        c.check(&["CONFIG", "GET", pattern], "*0\r\n");
    }
    let all = c.cmd(&["CONFIG", "GET", "*"]);
    assert!(all.contains("\r\nhash-max-listpack-entries\r\n"), "{all}");
    assert!(!all.contains("key-load-delay"), "{all}");
    assert!(!all.contains("rdb-key-save-delay"), "{all}");
    // An exact name beside a pattern still finds it.
    let both = c.cmd(&["CONFIG", "GET", "*load*", "key-load-delay"]);
    assert!(both.contains("\r\nkey-load-delay\r\n$1\r\n0\r\n"), "{both}");
    // Still settable, as in Redis.
    c.check(&["CONFIG", "SET", "key-load-delay", "5"], "+OK\r\n");
    c.check(
        &["CONFIG", "GET", "key-load-delay"],
        "*2\r\n$14\r\nkey-load-delay\r\n$1\r\n5\r\n",
    );
}
