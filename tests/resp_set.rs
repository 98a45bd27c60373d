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
    r.check(&["SMEMBERS", "s"], "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
    r.check(&["SADD", "s", "a"], ":1\r\n");
    r.check(&["SCARD", "s"], ":4\r\n");
    r.check(&["SISMEMBER", "s", "a"], ":1\r\n");
    r.check(&["SISMEMBER", "s", "x"], ":0\r\n");
    r.check(&["SISMEMBER", "nokey", "x"], ":0\r\n");
    r.check(&["SMISMEMBER", "s", "1", "x", "a"], "*3\r\n:1\r\n:0\r\n:1\r\n");
    r.check(&["SMISMEMBER", "nokey", "1", "x"], "*2\r\n:0\r\n:0\r\n");
    r.check(&["SREM", "s", "1", "x", "a"], ":2\r\n");
    r.check(&["SREM", "nokey", "1"], ":0\r\n");
    r.check(&["SCARD", "nokey"], ":0\r\n");
    r.check(&["SMEMBERS", "nokey"], "*0\r\n");
    r.check(&["SADD", "i", "-5", "10", "0", "7"], ":4\r\n");
    r.check(&["SMEMBERS", "i"], "*4\r\n$2\r\n-5\r\n$1\r\n0\r\n$1\r\n7\r\n$2\r\n10\r\n");
    r.check(&["SREM", "i", "-5", "10", "0", "7"], ":4\r\n");
    r.check(&["EXISTS", "i"], ":0\r\n");
    // wrong type
    r.check(&["SET", "str", "x"], "+OK\r\n");
    r.check(&["SADD", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SREM", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SMEMBERS", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SISMEMBER", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SMISMEMBER", "str", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SCARD", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SPOP", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SPOP", "str", "2"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SRANDMEMBER", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SRANDMEMBER", "str", "2"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SSCAN", "str", "0"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SINTER", "s", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SUNION", "s", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SDIFF", "s", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SINTERSTORE", "d", "s", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SINTERCARD", "2", "s", "str"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SMOVE", "str", "s", "a"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SMOVE", "s", "str", "2"], "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    r.check(&["SMOVE", "nokey", "str", "2"], ":0\r\n");
    // SPOP / SRANDMEMBER argument handling
    r.check(&["SPOP", "nokey"], "$-1\r\n");
    r.check(&["SPOP", "nokey", "2"], "*0\r\n");
    r.check(&["SPOP", "s", "-1"], "-ERR value is out of range, must be positive\r\n");
    r.check(&["SPOP", "s", "x"], "-ERR value is out of range, must be positive\r\n");
    r.check(&["SPOP", "s", "1", "2"], "-ERR syntax error\r\n");
    r.check(&["SPOP", "s", "0"], "*0\r\n");
    r.check(&["SRANDMEMBER", "nokey"], "$-1\r\n");
    r.check(&["SRANDMEMBER", "nokey", "2"], "*0\r\n");
    r.check(&["SRANDMEMBER", "nokey", "-2"], "*0\r\n");
    r.check(&["SRANDMEMBER", "s", "x"], "-ERR value is not an integer or out of range\r\n");
    r.check(&["SRANDMEMBER", "s", "1", "2"], "-ERR syntax error\r\n");
    r.check(&["SRANDMEMBER", "s", "0"], "*0\r\n");
    r.check(&["SRANDMEMBER", "s", "-9223372036854775808"], "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    r.check(&["SADD", "one", "m"], ":1\r\n");
    r.check(&["SRANDMEMBER", "one"], "$1\r\nm\r\n");
    r.check(&["SRANDMEMBER", "one", "3"], "*1\r\n$1\r\nm\r\n");
    r.check(&["SRANDMEMBER", "one", "-3"], "*3\r\n$1\r\nm\r\n$1\r\nm\r\n$1\r\nm\r\n");
    r.check(&["SPOP", "one", "5"], "*1\r\n$1\r\nm\r\n");
    r.check(&["EXISTS", "one"], ":0\r\n");
    r.check(&["SADD", "one", "m"], ":1\r\n");
    r.check(&["SPOP", "one"], "$1\r\nm\r\n");
    r.check(&["EXISTS", "one"], ":0\r\n");
    r.check(&["SADD", "ints", "5", "3", "4"], ":3\r\n");
    r.check(&["SPOP", "ints", "3"], "*3\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    // set algebra
    r.check(&["SADD", "a", "1", "2", "3", "x"], ":4\r\n");
    r.check(&["SADD", "b", "2", "3", "4"], ":3\r\n");
    r.check(&["SADD", "c", "3", "5"], ":2\r\n");
    r.check(&["SINTER", "a", "b", "c"], "*1\r\n$1\r\n3\r\n");
    r.check(&["SINTER", "a", "nokey"], "*0\r\n");
    r.check(&["SINTERCARD", "2", "a", "b"], ":2\r\n");
    r.check(&["SINTERCARD", "2", "a", "b", "LIMIT", "1"], ":1\r\n");
    r.check(&["SINTERCARD", "2", "a", "b", "LIMIT", "0"], ":2\r\n");
    r.check(&["SINTERCARD", "0", "a"], "-ERR numkeys should be greater than 0\r\n");
    r.check(&["SINTERCARD", "x", "a"], "-ERR numkeys should be greater than 0\r\n");
    r.check(&["SINTERCARD", "3", "a", "b"], "-ERR Number of keys can't be greater than number of args\r\n");
    r.check(&["SINTERCARD", "2", "a", "b", "LIMIT", "-1"], "-ERR LIMIT can't be negative\r\n");
    r.check(&["SINTERCARD", "2", "a", "b", "LIMIT"], "-ERR syntax error\r\n");
    r.check(&["SINTERCARD", "1", "a", "b"], "-ERR syntax error\r\n");
    r.check(&["SINTERCARD", "1", "nokey"], ":0\r\n");
    r.check(&["SDIFF", "b", "c"], "*2\r\n$1\r\n2\r\n$1\r\n4\r\n");
    r.check(&["SDIFF", "b", "a", "c"], "*1\r\n$1\r\n4\r\n");
    r.check(&["SDIFF", "nokey", "a"], "*0\r\n");
    r.check(&["SUNION", "b", "c"], "*4\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
    r.check(&["SUNION", "nokey"], "*0\r\n");
    r.check(&["SINTERSTORE", "d", "a", "b"], ":2\r\n");
    r.check(&["SMEMBERS", "d"], "*2\r\n$1\r\n2\r\n$1\r\n3\r\n");
    r.check(&["SINTERSTORE", "d", "a", "nokey"], ":0\r\n");
    r.check(&["EXISTS", "d"], ":0\r\n");
    r.check(&["SUNIONSTORE", "d", "b", "c"], ":4\r\n");
    r.check(&["SMEMBERS", "d"], "*4\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n");
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
    r.check(&["SSCAN", "c", "0"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n2\r\n$1\r\n5\r\n");
    r.check(&["SSCAN", "c", "0", "MATCH", "5"], "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n5\r\n");
    r.check(&["SSCAN", "c", "0", "COUNT", "0"], "-ERR syntax error\r\n");
    r.check(&["SSCAN", "c", "x"], "-ERR invalid cursor\r\n");
    r.check(&["SSCAN", "c", "", "COUNT", "2"], "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n2\r\n$1\r\n5\r\n");
    r.check(&["SSCAN", "nokey", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    // arity
    r.check(&["SADD", "s"], "-ERR wrong number of arguments for 'sadd' command\r\n");
    r.check(&["SINTERCARD", "1"], "-ERR wrong number of arguments for 'sintercard' command\r\n");
    r.check(&["SMOVE", "a", "b"], "-ERR wrong number of arguments for 'smove' command\r\n");
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
