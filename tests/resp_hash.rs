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
    r.check(&["HSET", "h", "f1"], "-ERR wrong number of arguments for 'hset' command\r\n");
    r.check(&["HSET", "h"], "-ERR wrong number of arguments for 'hset' command\r\n");
    r.check(&["HMSET", "h", "f4", "v4"], "+OK\r\n");
    r.check(&["HMSET", "h", "f4"], "-ERR wrong number of arguments for 'hmset' command\r\n");
    r.check(&["HGET", "h", "f1"], "$3\r\nv1b\r\n");
    r.check(&["HGET", "h", "nope"], "$-1\r\n");
    r.check(&["HGET", "nokey", "f1"], "$-1\r\n");
    r.check(&["HSETNX", "h", "f1", "x"], ":0\r\n");
    r.check(&["HSETNX", "h", "f5", "v5"], ":1\r\n");
    r.check(&["HMGET", "h", "f1", "nope", "f5"], "*3\r\n$3\r\nv1b\r\n$-1\r\n$2\r\nv5\r\n");
    r.check(&["HMGET", "nokey", "a", "b"], "*2\r\n$-1\r\n$-1\r\n");
    r.check(&["HLEN", "h"], ":5\r\n");
    r.check(&["HLEN", "nokey"], ":0\r\n");
    r.check(&["HEXISTS", "h", "f2"], ":1\r\n");
    r.check(&["HEXISTS", "h", "nope"], ":0\r\n");
    r.check(&["HSTRLEN", "h", "f1"], ":3\r\n");
    r.check(&["HSTRLEN", "h", "nope"], ":0\r\n");
    r.check(&["HSTRLEN", "nokey", "nope"], ":0\r\n");
    r.check(&["HKEYS", "h"], "*5\r\n$2\r\nf1\r\n$2\r\nf2\r\n$2\r\nf3\r\n$2\r\nf4\r\n$2\r\nf5\r\n");
    r.check(&["HVALS", "h"], "*5\r\n$3\r\nv1b\r\n$2\r\nv2\r\n$2\r\nv3\r\n$2\r\nv4\r\n$2\r\nv5\r\n");
    r.check(&["HGETALL", "h"], "*10\r\n$2\r\nf1\r\n$3\r\nv1b\r\n$2\r\nf2\r\n$2\r\nv2\r\n$2\r\nf3\r\n$2\r\nv3\r\n$2\r\nf4\r\n$2\r\nv4\r\n$2\r\nf5\r\n$2\r\nv5\r\n");
    r.check(&["HGETALL", "nokey"], "*0\r\n");
    r.check(&["HKEYS", "nokey"], "*0\r\n");
    r.check(&["HDEL", "h", "f1", "f2", "nope"], ":2\r\n");
    r.check(&["HDEL", "nokey", "f1"], ":0\r\n");
    r.check(&["HGETALL", "h"], "*6\r\n$2\r\nf3\r\n$2\r\nv3\r\n$2\r\nf4\r\n$2\r\nv4\r\n$2\r\nf5\r\n$2\r\nv5\r\n");
    r.check(&["HDEL", "h", "f3", "f4", "f5"], ":3\r\n");
    r.check(&["EXISTS", "h"], ":0\r\n");
    // HINCRBY / HINCRBYFLOAT
    r.check(&["HINCRBY", "n", "i", "5"], ":5\r\n");
    r.check(&["HINCRBY", "n", "i", "-7"], ":-2\r\n");
    r.check(&["HINCRBY", "n", "i", "x"], "-ERR value is not an integer or out of range\r\n");
    r.check(&["HSET", "n", "s", "abc", "big", "9223372036854775807", "f", "1.5", "sp", " 1"], ":4\r\n");
    r.check(&["HINCRBY", "n", "s", "1"], "-ERR hash value is not an integer\r\n");
    r.check(&["HINCRBY", "n", "sp", "1"], "-ERR hash value is not an integer\r\n");
    r.check(&["HINCRBY", "n", "big", "1"], "-ERR increment or decrement would overflow\r\n");
    r.check(&["HINCRBY", "n", "f", "1"], "-ERR hash value is not an integer\r\n");
    r.check(&["HINCRBYFLOAT", "n", "f", "0.25"], "$4\r\n1.75\r\n");
    r.check(&["HINCRBYFLOAT", "n", "i", "1"], "$2\r\n-1\r\n");
    r.check(&["HINCRBYFLOAT", "n", "new", "3.0e3"], "$4\r\n3000\r\n");
    r.check(&["HINCRBYFLOAT", "n", "s", "1"], "-ERR hash value is not a float\r\n");
    r.check(&["HINCRBYFLOAT", "n", "f", "abc"], "-ERR value is not a valid float\r\n");
    r.check(&["HINCRBYFLOAT", "n", "f", "inf"], "-ERR value is NaN or Infinity\r\n");
    r.check(&["HINCRBYFLOAT", "n", "big", "1"], "$19\r\n9223372036854775808\r\n");
    r.check(&["HGET", "n", "f"], "$308\r\n99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048\r\n");
    // wrong type
    r.check(&["SET", "str", "x"], "+OK\r\n");
    r.check(&["HSET", "str", "a", "b"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HGET", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HMGET", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HGETALL", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HLEN", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HDEL", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HINCRBY", "str", "a", "1"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HINCRBYFLOAT", "str", "a", "1"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HRANDFIELD", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HRANDFIELD", "str", "2"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HSCAN", "str", "0"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HSTRLEN", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HEXISTS", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HSETNX", "str", "a", "b"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HKEYS", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["HVALS", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    // HRANDFIELD argument errors and empty keys
    r.check(&["HRANDFIELD", "nokey"], "$-1\r\n");
    r.check(&["HRANDFIELD", "nokey", "3"], "*0\r\n");
    r.check(&["HRANDFIELD", "nokey", "-3", "WITHVALUES"], "*0\r\n");
    r.check(&["HRANDFIELD", "n", "x"], "-ERR value is not an integer or out of range\r\n");
    r.check(&["HRANDFIELD", "n", "1", "WITHVALUE"], "-ERR syntax error\r\n");
    r.check(&["HRANDFIELD", "n", "1", "WITHVALUES", "x"], "-ERR syntax error\r\n");
    r.check(&["HRANDFIELD", "n", "-9223372036854775808"], "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    r.check(&["HRANDFIELD", "n", "-9223372036854775807", "WITHVALUES"], "-ERR value is out of range\r\n");
    r.check(&["HRANDFIELD", "n", "4611686018427387904", "WITHVALUES"], "-ERR value is out of range\r\n");
    r.check(&["HRANDFIELD", "n", "0"], "*0\r\n");
    r.check(&["HRANDFIELD", "n", "0", "WITHVALUES"], "*0\r\n");
    r.check(&["HSET", "one", "f", "v"], ":1\r\n");
    r.check(&["HRANDFIELD", "one"], "$1\r\nf\r\n");
    r.check(&["HRANDFIELD", "one", "5"], "*1\r\n$1\r\nf\r\n");
    r.check(&["HRANDFIELD", "one", "5", "WITHVALUES"], "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.check(&["HRANDFIELD", "one", "-2", "WITHVALUES"], "*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.check(&["HRANDFIELD", "one", "-2"], "*2\r\n$1\r\nf\r\n$1\r\nf\r\n");
    // HSCAN
    r.check(&["HSCAN", "one", "0"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.check(&["HSCAN", "one", "0", "MATCH", "x*"], "*2\r\n$1\r\n0\r\n*0\r\n");
    r.check(&["HSCAN", "one", "0", "COUNT", "0"], "-ERR syntax error\r\n");
    r.check(&["HSCAN", "one", "0", "COUNT", "x"], "-ERR value is not an integer or out of range\r\n");
    r.check(&["HSCAN", "one", "0", "MATCH"], "-ERR syntax error\r\n");
    r.check(&["HSCAN", "one", "0", "FOO", "1"], "-ERR syntax error\r\n");
    r.check(&["HSCAN", "one", "abc"], "-ERR invalid cursor\r\n");
    r.check(&["HSCAN", "one", "-1"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.check(&["HSCAN", "nokey", "0", "COUNT", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    r.check(&["HSCAN", "nokey", "abc"], "-ERR invalid cursor\r\n");
    // arity
    r.check(&["HGET", "h"], "-ERR wrong number of arguments for 'hget' command\r\n");
    r.check(&["HGETALL"], "-ERR wrong number of arguments for 'hgetall' command\r\n");
    r.check(&["HINCRBY", "h", "f"], "-ERR wrong number of arguments for 'hincrby' command\r\n");
    r.check(&["HSTRLEN", "h"], "-ERR wrong number of arguments for 'hstrlen' command\r\n");
}

#[test]
fn hash_commands_resp3() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.cmd(&["HELLO", "3"]);
    r.check(&["HSET", "h", "a", "1", "b", "2"], ":2\r\n");
    r.check(&["HGETALL", "h"], "%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n");
    r.check(&["HGETALL", "nokey"], "%0\r\n");
    r.check(&["HKEYS", "h"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    r.check(&["HVALS", "h"], "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    r.check(&["HMGET", "h", "a", "x"], "*2\r\n$1\r\n1\r\n_\r\n");
    r.check(&["HGET", "h", "x"], "_\r\n");
    r.check(&["HRANDFIELD", "nokey"], "_\r\n");
    r.check(&["HRANDFIELD", "nokey", "2"], "*0\r\n");
    r.check(&["HSET", "one", "f", "v"], ":1\r\n");
    r.check(&["HRANDFIELD", "one", "1", "WITHVALUES"], "*1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.check(&["HRANDFIELD", "one", "-2", "WITHVALUES"], "*2\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.check(&["HSCAN", "one", "0"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
    r.check(&["HINCRBYFLOAT", "h", "a", "0.5"], "$3\r\n1.5\r\n");
    r.check(&["HEXISTS", "h", "a"], ":1\r\n");
}
