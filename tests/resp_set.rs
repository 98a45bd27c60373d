//! Set commands over RESP: every reply byte for byte as redis-server 7.0 sends it (the
//! expected bytes were recorded from redis-server 7.0.15 running the same commands), in
//! RESP2 and RESP3, plus the behaviour that depends on randomness or size (SPOP,
//! SRANDMEMBER, conversion from intset to hashtable, SSCAN over a large set).

mod common;
mod resp_wire;

use resp_wire::{daemon, int, Resp};

#[test]
fn set_commands_resp2() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // SADD / SREM / SCARD / SISMEMBER / SMISMEMBER / SMEMBERS
    r.check(&["SADD", "s", "3", "1", "2", "1"], ":3\r\n");
    r.check(
        &["SMEMBERS", "s"],
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n",
    );
    r.check(&["SADD", "s", "a"], ":1\r\n");
    r.check(&["SCARD", "s"], ":4\r\n");
    r.check(&["SISMEMBER", "s", "a"], ":1\r\n");
    r.check(&["SISMEMBER", "s", "x"], ":0\r\n");
    r.check(&["SISMEMBER", "nokey", "x"], ":0\r\n");
    r.check(
        &["SMISMEMBER", "s", "1", "x", "a"],
        "*3\r\n:1\r\n:0\r\n:1\r\n",
    );
    r.check(&["SMISMEMBER", "nokey", "1", "x"], "*2\r\n:0\r\n:0\r\n");
    r.check(&["SREM", "s", "1", "x", "a"], ":2\r\n");
    r.check(&["SREM", "nokey", "1"], ":0\r\n");
    r.check(&["SCARD", "nokey"], ":0\r\n");
    r.check(&["SMEMBERS", "nokey"], "*0\r\n");
    r.check(&["SADD", "i", "-5", "10", "0", "7"], ":4\r\n");
    r.check(
        &["SMEMBERS", "i"],
        "*4\r\n$2\r\n-5\r\n$1\r\n0\r\n$1\r\n7\r\n$2\r\n10\r\n",
    );
    r.check(&["SREM", "i", "-5", "10", "0", "7"], ":4\r\n");
    r.check(&["EXISTS", "i"], ":0\r\n");
    // wrong type
    r.check(&["SET", "str", "x"], "+OK\r\n");
    r.check(
        &["SADD", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SREM", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SMEMBERS", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SISMEMBER", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SMISMEMBER", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SCARD", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SPOP", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SPOP", "str", "2"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SRANDMEMBER", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SRANDMEMBER", "str", "2"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SSCAN", "str", "0"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SINTER", "s", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SUNION", "s", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SDIFF", "s", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SINTERSTORE", "d", "s", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SINTERCARD", "2", "s", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SMOVE", "str", "s", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["SMOVE", "s", "str", "2"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(&["SMOVE", "nokey", "str", "2"], ":0\r\n");
    // SPOP / SRANDMEMBER argument handling
    r.check(&["SPOP", "nokey"], "$-1\r\n");
    r.check(&["SPOP", "nokey", "2"], "*0\r\n");
    r.check(
        &["SPOP", "s", "-1"],
        "-ERR value is out of range, must be positive\r\n",
    );
    r.check(
        &["SPOP", "s", "x"],
        "-ERR value is out of range, must be positive\r\n",
    );
    r.check(&["SPOP", "s", "1", "2"], "-ERR syntax error\r\n");
    r.check(&["SPOP", "s", "0"], "*0\r\n");
    r.check(&["SRANDMEMBER", "nokey"], "$-1\r\n");
    r.check(&["SRANDMEMBER", "nokey", "2"], "*0\r\n");
    r.check(&["SRANDMEMBER", "nokey", "-2"], "*0\r\n");
    r.check(
        &["SRANDMEMBER", "s", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    r.check(&["SRANDMEMBER", "s", "1", "2"], "-ERR syntax error\r\n");
    r.check(&["SRANDMEMBER", "s", "0"], "*0\r\n");
    r.check(&["SRANDMEMBER", "s", "-9223372036854775808"], "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    r.check(&["SADD", "one", "m"], ":1\r\n");
    r.check(&["SRANDMEMBER", "one"], "$1\r\nm\r\n");
    r.check(&["SRANDMEMBER", "one", "3"], "*1\r\n$1\r\nm\r\n");
    r.check(
        &["SRANDMEMBER", "one", "-3"],
        "*3\r\n$1\r\nm\r\n$1\r\nm\r\n$1\r\nm\r\n",
    );
    r.check(&["SPOP", "one", "5"], "*1\r\n$1\r\nm\r\n");
    r.check(&["EXISTS", "one"], ":0\r\n");
    r.check(&["SADD", "one", "m"], ":1\r\n");
    r.check(&["SPOP", "one"], "$1\r\nm\r\n");
    r.check(&["EXISTS", "one"], ":0\r\n");
    r.check(&["SADD", "ints", "5", "3", "4"], ":3\r\n");
    r.check(
        &["SPOP", "ints", "3"],
        "*3\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n",
    );
    // set algebra
    r.check(&["SADD", "a", "1", "2", "3", "x"], ":4\r\n");
    r.check(&["SADD", "b", "2", "3", "4"], ":3\r\n");
    r.check(&["SADD", "c", "3", "5"], ":2\r\n");
    r.check(&["SINTER", "a", "b", "c"], "*1\r\n$1\r\n3\r\n");
    r.check(&["SINTER", "a", "nokey"], "*0\r\n");
    r.check(&["SINTERCARD", "2", "a", "b"], ":2\r\n");
    r.check(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"], ":1\r\n");
    r.check(&["SINTERCARD", "2", "a", "b", "LIMIT", "0"], ":2\r\n");
    r.check(
        &["SINTERCARD", "0", "a"],
        "-ERR numkeys should be greater than 0\r\n",
    );
    r.check(
        &["SINTERCARD", "x", "a"],
        "-ERR numkeys should be greater than 0\r\n",
    );
    r.check(
        &["SINTERCARD", "3", "a", "b"],
        "-ERR Number of keys can't be greater than number of args\r\n",
    );
    r.check(
        &["SINTERCARD", "2", "a", "b", "LIMIT", "-1"],
        "-ERR LIMIT can't be negative\r\n",
    );
    r.check(
        &["SINTERCARD", "2", "a", "b", "LIMIT"],
        "-ERR syntax error\r\n",
    );
    r.check(&["SINTERCARD", "1", "a", "b"], "-ERR syntax error\r\n");
    r.check(&["SINTERCARD", "1", "nokey"], ":0\r\n");
    r.check(&["SDIFF", "b", "c"], "*2\r\n$1\r\n2\r\n$1\r\n4\r\n");
    r.check(&["SDIFF", "b", "a", "c"], "*1\r\n$1\r\n4\r\n");
    r.check(&["SDIFF", "nokey", "a"], "*0\r\n");
    r.check(
        &["SUNION", "b", "c"],
        "*4\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n",
    );
    r.check(&["SUNION", "nokey"], "*0\r\n");
    r.check(&["SINTERSTORE", "d", "a", "b"], ":2\r\n");
    r.check(&["SMEMBERS", "d"], "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    r.check(&["SINTERSTORE", "d", "a", "nokey"], ":0\r\n");
    r.check(&["EXISTS", "d"], ":0\r\n");
    r.check(&["SUNIONSTORE", "d", "b", "c"], ":4\r\n");
    r.check(
        &["SMEMBERS", "d"],
        "*4\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n",
    );
    r.check(&["SDIFFSTORE", "d", "b", "c"], ":2\r\n");
    r.check(&["SMEMBERS", "d"], "*2\r\n$1\r\n2\r\n$1\r\n4\r\n");
    r.check(&["SET", "dst", "string"], "+OK\r\n");
    r.check(&["EXPIRE", "dst", "100"], ":1\r\n");
    r.check(&["SUNIONSTORE", "dst", "c"], ":2\r\n");
    r.check(&["TTL", "dst"], ":-1\r\n");
    r.check(&["TYPE", "dst"], "+set\r\n");
    r.check(&["SDIFFSTORE", "dst", "c", "c"], ":0\r\n");
    r.check(&["EXISTS", "dst"], ":0\r\n");
    // SMOVE
    r.check(&["SMOVE", "b", "c", "2"], ":1\r\n");
    r.check(&["SMOVE", "b", "c", "2"], ":0\r\n");
    r.check(&["SMOVE", "nokey", "c", "2"], ":0\r\n");
    r.check(&["SMOVE", "c", "c", "2"], ":1\r\n");
    r.check(&["SMOVE", "c", "c", "9"], ":0\r\n");
    r.check(&["SMOVE", "c", "new", "3"], ":1\r\n");
    r.check(&["SMEMBERS", "new"], "*1\r\n$1\r\n3\r\n");
    r.check(&["SMEMBERS", "c"], "*2\r\n$1\r\n2\r\n$1\r\n5\r\n");
    r.check(&["SADD", "solo", "z"], ":1\r\n");
    r.check(&["SMOVE", "solo", "new", "z"], ":1\r\n");
    r.check(&["EXISTS", "solo"], ":0\r\n");
    // SSCAN
    r.check(
        &["SSCAN", "c", "0"],
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n2\r\n$1\r\n5\r\n",
    );
    r.check(
        &["SSCAN", "c", "0", "MATCH", "5"],
        "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n5\r\n",
    );
    r.check(&["SSCAN", "c", "0", "COUNT", "0"], "-ERR syntax error\r\n");
    r.check(&["SSCAN", "c", "x"], "-ERR invalid cursor\r\n");
    r.check(
        &["SSCAN", "c", "", "COUNT", "2"],
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n2\r\n$1\r\n5\r\n",
    );
    r.check(&["SSCAN", "nokey", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    // arity
    r.check(
        &["SADD", "s"],
        "-ERR wrong number of arguments for 'sadd' command\r\n",
    );
    r.check(
        &["SINTERCARD", "1"],
        "-ERR wrong number of arguments for 'sintercard' command\r\n",
    );
    r.check(
        &["SMOVE", "a", "b"],
        "-ERR wrong number of arguments for 'smove' command\r\n",
    );
}

#[test]
fn set_commands_resp3() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.cmd(&["HELLO", "3"]);
    r.check(&["SADD", "s", "1", "2"], ":2\r\n");
    r.check(&["SMEMBERS", "s"], "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.check(&["SMEMBERS", "nokey"], "~0\r\n");
    r.check(&["SINTER", "s", "s"], "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.check(&["SINTER", "s", "nokey"], "~0\r\n");
    r.check(&["SUNION", "s", "nokey"], "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.check(&["SDIFF", "s", "nokey"], "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.check(&["SPOP", "nokey"], "_\r\n");
    r.check(&["SPOP", "nokey", "1"], "~0\r\n");
    r.check(&["SPOP", "s", "0"], "~0\r\n");
    r.check(&["SRANDMEMBER", "nokey"], "_\r\n");
    r.check(&["SRANDMEMBER", "nokey", "1"], "*0\r\n");
    r.check(&["SMISMEMBER", "s", "1", "9"], "*2\r\n:1\r\n:0\r\n");
    r.check(&["SISMEMBER", "s", "1"], ":1\r\n");
    r.check(&["SADD", "one", "m"], ":1\r\n");
    r.check(&["SPOP", "one", "1"], "~1\r\n$1\r\nm\r\n");
}

/// The bulk strings of a reply (aggregate headers dropped).
fn bulks(reply: &str) -> Vec<String> {
    reply
        .split("\r\n")
        .filter(|l| !l.starts_with('$') && !l.starts_with('*') && !l.starts_with('~'))
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn intset_until_a_string_or_too_many_members() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["SADD", "s", "1", "2", "3"], ":3\r\n");
    r.check(&["OBJECT", "ENCODING", "s"], "$6\r\nintset\r\n");
    r.check(&["SADD", "s", "x"], ":1\r\n");
    r.check(&["OBJECT", "ENCODING", "s"], "$9\r\nhashtable\r\n");
    r.check(&["SREM", "s", "x"], ":1\r\n");
    r.check(&["OBJECT", "ENCODING", "s"], "$9\r\nhashtable\r\n");
    r.check(&["CONFIG", "SET", "set-max-intset-entries", "3"], "+OK\r\n");
    r.check(&["SADD", "n", "1", "2", "3"], ":3\r\n");
    r.check(&["OBJECT", "ENCODING", "n"], "$6\r\nintset\r\n");
    r.check(&["SADD", "n", "4"], ":1\r\n");
    r.check(&["OBJECT", "ENCODING", "n"], "$9\r\nhashtable\r\n");
    // Not canonical integers: a hashtable from the start.
    r.check(&["SADD", "z", "01"], ":1\r\n");
    r.check(&["OBJECT", "ENCODING", "z"], "$9\r\nhashtable\r\n");
    r.check(&["SISMEMBER", "z", "1"], ":0\r\n");
    // STORE results follow the same rules.
    r.check(&["SUNIONSTORE", "u", "n"], ":4\r\n");
    r.check(&["OBJECT", "ENCODING", "u"], "$9\r\nhashtable\r\n");
    r.check(&["SINTERSTORE", "i", "n", "u", "s"], ":3\r\n");
    r.check(&["OBJECT", "ENCODING", "i"], "$6\r\nintset\r\n");
}

#[test]
fn sscan_of_a_large_set_returns_every_member() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    for i in 0..1000 {
        r.cmd(&["SADD", "big", &format!("m{i}")]);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let parts = bulks(&r.cmd(&["SSCAN", "big", &cursor, "COUNT", "30"]));
        cursor = parts[0].clone();
        seen.extend(parts[1..].iter().cloned());
        // Members removed mid-scan must not make the scan miss the others.
        r.cmd(&["SREM", "big", "m500"]);
        if cursor == "0" {
            break;
        }
    }
    seen.remove("m500");
    assert_eq!(seen.len(), 999);
}

#[test]
fn spop_and_srandmember_counts_on_both_forms() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    for (key, n, prefix) in [("ints", 50, ""), ("strs", 300, "m")] {
        for i in 0..n {
            r.cmd(&["SADD", key, &format!("{prefix}{i}")]);
        }
        let picks = bulks(&r.cmd(&["SRANDMEMBER", key, "10"]));
        let unique: std::collections::HashSet<_> = picks.iter().collect();
        assert_eq!((picks.len(), unique.len()), (10, 10));
        assert_eq!(bulks(&r.cmd(&["SRANDMEMBER", key, "-500"])).len(), 500);
        assert_eq!(bulks(&r.cmd(&["SRANDMEMBER", key, "100000"])).len(), n);
        let popped = bulks(&r.cmd(&["SPOP", key, "7"]));
        let unique: std::collections::HashSet<_> = popped.iter().collect();
        assert_eq!(unique.len(), 7);
        for m in &popped {
            r.check(&["SISMEMBER", key, m], ":0\r\n");
        }
        assert_eq!(int(&r.cmd(&["SCARD", key])), n as i64 - 7);
        let rest = bulks(&r.cmd(&["SPOP", key, "1000"]));
        assert_eq!(rest.len(), n - 7);
        r.check(&["EXISTS", key], ":0\r\n");
    }
}

/// A million members in one SADD: answered, counted, the server stays up, and the set is
/// gone (its memory with it) after DEL.
#[test]
fn one_sadd_with_a_million_members() {
    use resp_wire::encode;
    let d = daemon(&["-m", "512"]);
    let mut r = d.connect_resp();
    // One huge request: a debug build on a loaded machine can take longer than the
    // default 10 s read timeout to answer it (not a timing check).
    r.stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let names: Vec<Vec<u8>> = (0..1_000_000)
        .map(|i| format!("m{i}").into_bytes())
        .collect();
    let mut args: Vec<&[u8]> = vec![b"SADD", b"huge"];
    args.extend(names.iter().map(Vec::as_slice));
    r.send(&encode(&args));
    assert_eq!(String::from_utf8(r.reply()).unwrap(), ":1000000\r\n");
    r.check(&["SCARD", "huge"], ":1000000\r\n");
    r.check(&["SISMEMBER", "huge", "m999999"], ":1\r\n");
    let mut args: Vec<&[u8]> = vec![b"SREM", b"huge"];
    args.extend(names.iter().map(Vec::as_slice));
    r.send(&encode(&args));
    assert_eq!(String::from_utf8(r.reply()).unwrap(), ":1000000\r\n");
    r.check(&["EXISTS", "huge"], ":0\r\n");
    r.check(&["PING"], "+PONG\r\n");
}

/// SMOVE and the STORE forms are atomic as a whole: a client moving members back and forth
/// while another sums the two sets never sees a member in neither or both.
#[test]
fn smove_is_atomic_across_two_sets() {
    let d = daemon(&["-t", "2"]);
    let mut a = d.connect_resp();
    let mut b = d.connect_resp();
    a.check(&["SADD", "left", "x", "y"], ":2\r\n");
    let mover = std::thread::spawn(move || {
        for i in 0..300 {
            let (from, to) = if i % 2 == 0 {
                ("left", "right")
            } else {
                ("right", "left")
            };
            a.check(&["SMOVE", from, to, "x"], ":1\r\n");
        }
    });
    for _ in 0..300 {
        let union = bulks(&b.cmd(&["SUNION", "left", "right"]));
        assert_eq!(union.len(), 2, "{union:?}");
        let inter = b.cmd(&["SINTERCARD", "2", "left", "right"]);
        assert_eq!(inter, ":0\r\n");
    }
    mover.join().unwrap();
}

/// Keyspace events of hash and set writes, as redis-server 7.0.15 publishes them (recorded
/// with the same commands): one per write that changed something, `del` after the event
/// of a write that emptied the key, none for a write that changed nothing.
#[test]
fn keyspace_events_of_hash_and_set_writes() {
    let d = daemon(&[]);
    let mut a = d.connect_resp();
    let mut sub = d.connect_resp();
    a.check(
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        "+OK\r\n",
    );
    sub.check(
        &["PSUBSCRIBE", "__keyevent*"],
        "*3\r\n$10\r\npsubscribe\r\n$11\r\n__keyevent*\r\n:1\r\n",
    );
    let commands: &[&[&str]] = &[
        &["SADD", "s", "a", "b"],
        &["SADD", "s", "a"],
        &["SREM", "s", "a"],
        &["SPOP", "s"],
        &["HSET", "h", "f", "v"],
        &["HSETNX", "h", "f", "v"],
        &["HDEL", "h", "f"],
        &["HINCRBY", "h", "n", "1"],
        &["HINCRBYFLOAT", "h", "n", "1"],
        &["SADD", "x", "1"],
        &["SMOVE", "x", "y", "1"],
        &["SINTERSTORE", "d", "y"],
        &["SINTERSTORE", "d", "nokey"],
        &["COPY", "y", "z"],
    ];
    for c in commands {
        a.cmd(c);
    }
    let want = [
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$19\r\n__keyevent@0__:sadd\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$19\r\n__keyevent@0__:srem\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$19\r\n__keyevent@0__:spop\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$18\r\n__keyevent@0__:del\r\n$1\r\ns\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$19\r\n__keyevent@0__:hset\r\n$1\r\nh\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$19\r\n__keyevent@0__:hdel\r\n$1\r\nh\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nh\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$22\r\n__keyevent@0__:hincrby\r\n$1\r\nh\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$27\r\n__keyevent@0__:hincrbyfloat\r\n$1\r\nh\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$19\r\n__keyevent@0__:sadd\r\n$1\r\nx\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$19\r\n__keyevent@0__:srem\r\n$1\r\nx\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nx\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$19\r\n__keyevent@0__:sadd\r\n$1\r\ny\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$26\r\n__keyevent@0__:sinterstore\r\n$1\r\nd\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nd\r\n",
        "*4\r\n$8\r\npmessage\r\n$11\r\n__keyevent*\r\n$22\r\n__keyevent@0__:copy_to\r\n$1\r\nz\r\n",
    ];
    for w in want {
        assert_eq!(String::from_utf8(sub.reply()).unwrap(), w);
    }
}
