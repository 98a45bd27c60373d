//! Hash commands over RESP: every reply byte for byte as redis-server 7.0 sends it (the
//! expected bytes were recorded from redis-server 7.0.15 running the same commands), in
//! RESP2 and RESP3, plus the behaviour that depends on randomness or size (HRANDFIELD,
//! conversion to the hashtable form, HSCAN over a large hash).

mod common;
mod resp_wire;

use resp_wire::{daemon, int, Resp};

#[test]
fn hash_commands_resp2() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    // HSET / HGET / HMSET / HSETNX and their errors
    r.check(&["HSET", "h", "f1", "v1", "f2", "v2"], ":2\r\n");
    r.check(&["HSET", "h", "f1", "v1b", "f3", "v3"], ":1\r\n");
    r.check(
        &["HSET", "h", "f1"],
        "-ERR wrong number of arguments for 'hset' command\r\n",
    );
    r.check(
        &["HSET", "h"],
        "-ERR wrong number of arguments for 'hset' command\r\n",
    );
    r.check(&["HMSET", "h", "f4", "v4"], "+OK\r\n");
    r.check(
        &["HMSET", "h", "f4"],
        "-ERR wrong number of arguments for 'hmset' command\r\n",
    );
    r.check(&["HGET", "h", "f1"], "$3\r\nv1b\r\n");
    r.check(&["HGET", "h", "nope"], "$-1\r\n");
    r.check(&["HGET", "nokey", "f1"], "$-1\r\n");
    r.check(&["HSETNX", "h", "f1", "x"], ":0\r\n");
    r.check(&["HSETNX", "h", "f5", "v5"], ":1\r\n");
    r.check(
        &["HMGET", "h", "f1", "nope", "f5"],
        "*3\r\n$3\r\nv1b\r\n$-1\r\n$2\r\nv5\r\n",
    );
    r.check(&["HMGET", "nokey", "a", "b"], "*2\r\n$-1\r\n$-1\r\n");
    r.check(&["HLEN", "h"], ":5\r\n");
    r.check(&["HLEN", "nokey"], ":0\r\n");
    r.check(&["HEXISTS", "h", "f2"], ":1\r\n");
    r.check(&["HEXISTS", "h", "nope"], ":0\r\n");
    r.check(&["HSTRLEN", "h", "f1"], ":3\r\n");
    r.check(&["HSTRLEN", "h", "nope"], ":0\r\n");
    r.check(&["HSTRLEN", "nokey", "nope"], ":0\r\n");
    r.check(
        &["HKEYS", "h"],
        "*5\r\n$2\r\nf1\r\n$2\r\nf2\r\n$2\r\nf3\r\n$2\r\nf4\r\n$2\r\nf5\r\n",
    );
    r.check(
        &["HVALS", "h"],
        "*5\r\n$3\r\nv1b\r\n$2\r\nv2\r\n$2\r\nv3\r\n$2\r\nv4\r\n$2\r\nv5\r\n",
    );
    r.check(&["HGETALL", "h"], "*10\r\n$2\r\nf1\r\n$3\r\nv1b\r\n$2\r\nf2\r\n$2\r\nv2\r\n$2\r\nf3\r\n$2\r\nv3\r\n$2\r\nf4\r\n$2\r\nv4\r\n$2\r\nf5\r\n$2\r\nv5\r\n");
    r.check(&["HGETALL", "nokey"], "*0\r\n");
    r.check(&["HKEYS", "nokey"], "*0\r\n");
    r.check(&["HDEL", "h", "f1", "f2", "nope"], ":2\r\n");
    r.check(&["HDEL", "nokey", "f1"], ":0\r\n");
    r.check(
        &["HGETALL", "h"],
        "*6\r\n$2\r\nf3\r\n$2\r\nv3\r\n$2\r\nf4\r\n$2\r\nv4\r\n$2\r\nf5\r\n$2\r\nv5\r\n",
    );
    r.check(&["HDEL", "h", "f3", "f4", "f5"], ":3\r\n");
    r.check(&["EXISTS", "h"], ":0\r\n");
    // HINCRBY / HINCRBYFLOAT
    r.check(&["HINCRBY", "n", "i", "5"], ":5\r\n");
    r.check(&["HINCRBY", "n", "i", "-7"], ":-2\r\n");
    r.check(
        &["HINCRBY", "n", "i", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    r.check(
        &[
            "HSET",
            "n",
            "s",
            "abc",
            "big",
            "9223372036854775807",
            "f",
            "1.5",
            "sp",
            " 1",
        ],
        ":4\r\n",
    );
    r.check(
        &["HINCRBY", "n", "s", "1"],
        "-ERR hash value is not an integer\r\n",
    );
    r.check(
        &["HINCRBY", "n", "sp", "1"],
        "-ERR hash value is not an integer\r\n",
    );
    r.check(
        &["HINCRBY", "n", "big", "1"],
        "-ERR increment or decrement would overflow\r\n",
    );
    r.check(
        &["HINCRBY", "n", "f", "1"],
        "-ERR hash value is not an integer\r\n",
    );
    r.check(&["HINCRBYFLOAT", "n", "f", "0.25"], "$4\r\n1.75\r\n");
    r.check(&["HINCRBYFLOAT", "n", "i", "1"], "$2\r\n-1\r\n");
    r.check(&["HINCRBYFLOAT", "n", "new", "3.0e3"], "$4\r\n3000\r\n");
    r.check(
        &["HINCRBYFLOAT", "n", "s", "1"],
        "-ERR hash value is not a float\r\n",
    );
    r.check(
        &["HINCRBYFLOAT", "n", "f", "abc"],
        "-ERR value is not a valid float\r\n",
    );
    r.check(
        &["HINCRBYFLOAT", "n", "f", "inf"],
        "-ERR value is NaN or Infinity\r\n",
    );
    r.check(
        &["HINCRBYFLOAT", "n", "big", "1"],
        "$19\r\n9223372036854775808\r\n",
    );
    r.check(&["HGET", "n", "f"], "$4\r\n1.75\r\n");
    // wrong type
    r.check(&["SET", "str", "x"], "+OK\r\n");
    r.check(
        &["HSET", "str", "a", "b"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HGET", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HMGET", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HGETALL", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HLEN", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HDEL", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HINCRBY", "str", "a", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HINCRBYFLOAT", "str", "a", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HRANDFIELD", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HRANDFIELD", "str", "2"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HSCAN", "str", "0"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HSTRLEN", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HEXISTS", "str", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HSETNX", "str", "a", "b"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HKEYS", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    r.check(
        &["HVALS", "str"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    // HRANDFIELD argument errors and empty keys
    r.check(&["HRANDFIELD", "nokey"], "$-1\r\n");
    r.check(&["HRANDFIELD", "nokey", "3"], "*0\r\n");
    r.check(&["HRANDFIELD", "nokey", "-3", "WITHVALUES"], "*0\r\n");
    r.check(
        &["HRANDFIELD", "n", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    r.check(
        &["HRANDFIELD", "n", "1", "WITHVALUE"],
        "-ERR syntax error\r\n",
    );
    r.check(
        &["HRANDFIELD", "n", "1", "WITHVALUES", "x"],
        "-ERR syntax error\r\n",
    );
    r.check(&["HRANDFIELD", "n", "-9223372036854775808"], "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    r.check(
        &["HRANDFIELD", "n", "-9223372036854775807", "WITHVALUES"],
        "-ERR value is out of range\r\n",
    );
    r.check(
        &["HRANDFIELD", "n", "4611686018427387904", "WITHVALUES"],
        "-ERR value is out of range\r\n",
    );
    r.check(&["HRANDFIELD", "n", "0"], "*0\r\n");
    r.check(&["HRANDFIELD", "n", "0", "WITHVALUES"], "*0\r\n");
    r.check(&["HSET", "one", "f", "v"], ":1\r\n");
    r.check(&["HRANDFIELD", "one"], "$1\r\nf\r\n");
    r.check(&["HRANDFIELD", "one", "5"], "*1\r\n$1\r\nf\r\n");
    r.check(
        &["HRANDFIELD", "one", "5", "WITHVALUES"],
        "*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    r.check(
        &["HRANDFIELD", "one", "-2", "WITHVALUES"],
        "*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    r.check(&["HRANDFIELD", "one", "-2"], "*2\r\n$1\r\nf\r\n$1\r\nf\r\n");
    // HSCAN
    r.check(
        &["HSCAN", "one", "0"],
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    r.check(
        &["HSCAN", "one", "0", "MATCH", "x*"],
        "*2\r\n$1\r\n0\r\n*0\r\n",
    );
    r.check(
        &["HSCAN", "one", "0", "COUNT", "0"],
        "-ERR syntax error\r\n",
    );
    r.check(
        &["HSCAN", "one", "0", "COUNT", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    r.check(&["HSCAN", "one", "0", "MATCH"], "-ERR syntax error\r\n");
    r.check(&["HSCAN", "one", "0", "FOO", "1"], "-ERR syntax error\r\n");
    r.check(&["HSCAN", "one", "abc"], "-ERR invalid cursor\r\n");
    r.check(
        &["HSCAN", "one", "-1"],
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    r.check(
        &["HSCAN", "nokey", "0", "COUNT", "0"],
        "*2\r\n$1\r\n0\r\n*0\r\n",
    );
    r.check(&["HSCAN", "nokey", "abc"], "-ERR invalid cursor\r\n");
    // arity
    r.check(
        &["HGET", "h"],
        "-ERR wrong number of arguments for 'hget' command\r\n",
    );
    r.check(
        &["HGETALL"],
        "-ERR wrong number of arguments for 'hgetall' command\r\n",
    );
    r.check(
        &["HINCRBY", "h", "f"],
        "-ERR wrong number of arguments for 'hincrby' command\r\n",
    );
    r.check(
        &["HSTRLEN", "h"],
        "-ERR wrong number of arguments for 'hstrlen' command\r\n",
    );
}

#[test]
fn hash_commands_resp3() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.cmd(&["HELLO", "3"]);
    r.check(&["HSET", "h", "a", "1", "b", "2"], ":2\r\n");
    r.check(
        &["HGETALL", "h"],
        "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    r.check(&["HGETALL", "nokey"], "%0\r\n");
    r.check(&["HKEYS", "h"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    r.check(&["HVALS", "h"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.check(&["HMGET", "h", "a", "x"], "*2\r\n$1\r\n1\r\n_\r\n");
    r.check(&["HGET", "h", "x"], "_\r\n");
    r.check(&["HRANDFIELD", "nokey"], "_\r\n");
    r.check(&["HRANDFIELD", "nokey", "2"], "*0\r\n");
    r.check(&["HSET", "one", "f", "v"], ":1\r\n");
    r.check(
        &["HRANDFIELD", "one", "1", "WITHVALUES"],
        "*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    r.check(
        &["HRANDFIELD", "one", "-2", "WITHVALUES"],
        "*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    r.check(
        &["HSCAN", "one", "0"],
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    r.check(&["HINCRBYFLOAT", "h", "a", "0.5"], "$3\r\n1.5\r\n");
    r.check(&["HEXISTS", "h", "a"], ":1\r\n");
}

/// The fields of a flat array reply of bulk strings.
fn bulks(reply: &str) -> Vec<String> {
    reply
        .split("\r\n")
        .skip(1)
        .filter(|l| !l.starts_with('$') && !l.starts_with('*') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn encoding_follows_the_thresholds() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["HSET", "h", "a", "1", "b", "2"], ":2\r\n");
    r.check(&["OBJECT", "ENCODING", "h"], "$8\r\nlistpack\r\n");
    r.check(
        &["CONFIG", "SET", "hash-max-ziplist-entries", "2"],
        "+OK\r\n",
    );
    r.check(
        &["CONFIG", "GET", "hash-max-listpack-entries"],
        "*2\r\n$25\r\nhash-max-listpack-entries\r\n$1\r\n2\r\n",
    );
    r.check(&["HSET", "h", "b", "3"], ":0\r\n");
    r.check(&["OBJECT", "ENCODING", "h"], "$8\r\nlistpack\r\n");
    r.check(&["HSET", "h", "c", "3"], ":1\r\n");
    r.check(&["OBJECT", "ENCODING", "h"], "$9\r\nhashtable\r\n");
    // Back under the threshold it stays a hashtable, as in Redis.
    r.check(&["HDEL", "h", "a", "b"], ":2\r\n");
    r.check(&["OBJECT", "ENCODING", "h"], "$9\r\nhashtable\r\n");
    r.check(&["HGETALL", "h"], "*2\r\n$1\r\nc\r\n$1\r\n3\r\n");
    // A long value converts at once.
    r.check(
        &["CONFIG", "SET", "hash-max-listpack-value", "4"],
        "+OK\r\n",
    );
    r.check(&["HSET", "v", "a", "1234"], ":1\r\n");
    r.check(&["OBJECT", "ENCODING", "v"], "$8\r\nlistpack\r\n");
    r.check(&["HSET", "v", "b", "12345"], ":1\r\n");
    r.check(&["OBJECT", "ENCODING", "v"], "$9\r\nhashtable\r\n");
    r.check(&["HGET", "v", "b"], "$5\r\n12345\r\n");
    r.check(&["HINCRBY", "v", "a", "1"], ":1235\r\n");
    r.check(&["HSTRLEN", "v", "a"], ":4\r\n");
    r.check(&["TYPE", "v"], "+hash\r\n");
}

#[test]
fn hscan_of_a_large_hash_returns_every_field() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    for i in 0..1000 {
        r.cmd(&["HSET", "big", &format!("f{i}"), &format!("v{i}")]);
    }
    r.check(&["OBJECT", "ENCODING", "big"], "$9\r\nhashtable\r\n");
    let mut seen = std::collections::HashMap::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = r.cmd(&["HSCAN", "big", &cursor, "COUNT", "50"]);
        let parts = bulks(&reply);
        cursor = parts[0].clone();
        // The elements array header sits between the cursor and the pairs.
        for pair in parts[1..].chunks(2) {
            seen.insert(pair[0].clone(), pair[1].clone());
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert!(calls > 10, "COUNT is honoured ({calls} calls)");
    assert_eq!(seen.len(), 1000);
    assert_eq!(seen["f17"], "v17");
    let matched = r.cmd(&["HSCAN", "big", "0", "MATCH", "f99*", "COUNT", "2000"]);
    assert_eq!(bulks(&matched).len(), 1 + 2 * 11, "{matched}");
}

#[test]
fn hrandfield_counts_on_both_forms() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    for n in [5, 600] {
        let key = format!("h{n}");
        for i in 0..n {
            r.cmd(&["HSET", &key, &format!("f{i}"), &format!("v{i}")]);
        }
        let distinct = bulks(&r.cmd(&["HRANDFIELD", &key, "4"]));
        let unique: std::collections::HashSet<_> = distinct.iter().collect();
        assert_eq!((distinct.len(), unique.len()), (4, 4));
        let all = bulks(&r.cmd(&["HRANDFIELD", &key, "1000"]));
        assert_eq!(all.len(), n);
        let repeated = bulks(&r.cmd(&["HRANDFIELD", &key, "-20"]));
        assert_eq!(repeated.len(), 20);
        let pairs = bulks(&r.cmd(&["HRANDFIELD", &key, "-7", "WITHVALUES"]));
        assert_eq!(pairs.len(), 14);
        for p in pairs.chunks(2) {
            assert_eq!(p[1], format!("v{}", &p[0][1..]));
        }
        let one = r.cmd(&["HRANDFIELD", &key]);
        assert!(one.starts_with("$") && one.contains("\r\nf"), "{one}");
    }
}

/// Half a million fields in one HSET (1,000,002 arguments: Redis's limit is 1,048,576):
/// answered, counted, and the server stays up.
#[test]
fn one_hset_with_half_a_million_fields() {
    use resp_wire::encode;
    let d = daemon(&["-m", "512"]);
    let mut r = d.connect_resp();
    // One huge request: a debug build on a loaded machine can take longer than the
    // default 10 s read timeout to answer it (not a timing check).
    r.stream
        .set_read_timeout(Some(std::time::Duration::from_secs(120)))
        .unwrap();
    let names: Vec<Vec<u8>> = (0..500_000)
        .map(|i| format!("{i:07}").into_bytes())
        .collect();
    let mut args: Vec<&[u8]> = vec![b"HSET", b"huge"];
    for n in &names {
        args.push(n);
        args.push(b"v");
    }
    r.send(&encode(&args));
    assert_eq!(String::from_utf8(r.reply()).unwrap(), ":500000\r\n");
    r.check(&["HLEN", "huge"], ":500000\r\n");
    r.check(&["HGET", "huge", "0499999"], "$1\r\nv\r\n");
    assert!(int(&r.cmd(&["DEL", "huge"])) == 1);
    r.check(&["PING"], "+PONG\r\n");
}
