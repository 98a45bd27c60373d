//! list commands over RESP with Redis 7.0's exact replies, RESP2 and RESP3.
//!
//! Generated: `scripts/resp-golden.py SOCKET tests/golden/list.txt` sends each block's
//! commands to redis-server 7.0.15 and records its replies byte for byte; slabd must give
//! the same bytes.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn list_push_pop() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["LPUSH", "l", "a", "b", "c"], ":3\r\n");
    c.check(&["RPUSH", "l", "d", "e"], ":5\r\n");
    c.check(&["LLEN", "l"], ":5\r\n");
    c.check(
        &["LRANGE", "l", "0", "-1"],
        "*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(&["LPUSHX", "l", "x"], ":6\r\n");
    c.check(&["RPUSHX", "l", "y"], ":7\r\n");
    c.check(&["LPUSHX", "nol", "x"], ":0\r\n");
    c.check(&["RPUSHX", "nol", "x"], ":0\r\n");
    c.check(&["EXISTS", "nol"], ":0\r\n");
    c.check(&["LPOP", "l"], "$1\r\nx\r\n");
    c.check(&["RPOP", "l"], "$1\r\ny\r\n");
    c.check(&["LPOP", "l", "2"], "*2\r\n$1\r\nc\r\n$1\r\nb\r\n");
    c.check(&["RPOP", "l", "2"], "*2\r\n$1\r\ne\r\n$1\r\nd\r\n");
    c.check(&["LPOP", "l", "0"], "*0\r\n");
    c.check(&["LPOP", "l", "10"], "*1\r\n$1\r\na\r\n");
    c.check(&["EXISTS", "l"], ":0\r\n");
    c.check(&["LPOP", "l"], "$-1\r\n");
    c.check(&["LPOP", "l", "2"], "*-1\r\n");
    c.check(&["RPOP", "l", "0"], "*-1\r\n");
    c.check(
        &["LPOP", "l", "-1"],
        "-ERR value is out of range, must be positive\r\n",
    );
    c.check(
        &["LPOP", "l", "x"],
        "-ERR value is out of range, must be positive\r\n",
    );
    c.check(
        &["LPOP", "l", "1", "2"],
        "-ERR wrong number of arguments for 'lpop' command\r\n",
    );
    c.check(
        &["RPOP"],
        "-ERR wrong number of arguments for 'rpop' command\r\n",
    );
    c.check(
        &["LPUSH"],
        "-ERR wrong number of arguments for 'lpush' command\r\n",
    );
    c.check(
        &["LPUSH", "l"],
        "-ERR wrong number of arguments for 'lpush' command\r\n",
    );
    c.check(&["LLEN", "l"], ":0\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["LPUSH", "s", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["RPUSH", "s", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LPUSHX", "s", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LPOP", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["RPOP", "s", "2"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LLEN", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LRANGE", "s", "0", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn list_pop_count_resp3() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.cmd(&["HELLO", "3"]);
    c.check(&["RPUSH", "l", "a", "b", "c"], ":3\r\n");
    c.check(&["LPOP", "l", "2"], "*2\r\n$1\r\na\r\n$1\r\nb\r\n");
    c.check(&["RPOP", "l", "5"], "*1\r\n$1\r\nc\r\n");
    c.check(&["LPOP", "l", "2"], "_\r\n");
    c.check(&["LPOP", "l"], "_\r\n");
    c.check(&["LPOP", "l", "0"], "_\r\n");
    c.check(&["LINDEX", "l", "0"], "_\r\n");
    c.check(&["LPOS", "l", "a"], "_\r\n");
}

#[test]
fn list_range_index() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["RPUSH", "l", "a", "b", "c", "d", "e"], ":5\r\n");
    c.check(&["LRANGE", "l", "0", "0"], "*1\r\n$1\r\na\r\n");
    c.check(&["LRANGE", "l", "-2", "-1"], "*2\r\n$1\r\nd\r\n$1\r\ne\r\n");
    c.check(
        &["LRANGE", "l", "-100", "100"],
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(&["LRANGE", "l", "3", "1"], "*0\r\n");
    c.check(&["LRANGE", "l", "5", "10"], "*0\r\n");
    c.check(&["LRANGE", "l", "0", "-6"], "*0\r\n");
    c.check(
        &["LRANGE", "l", "-9223372036854775808", "9223372036854775807"],
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(
        &["LRANGE", "l", "x", "1"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(
        &["LRANGE", "l", "0", "y"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["LRANGE", "nol", "0", "-1"], "*0\r\n");
    c.check(&["LINDEX", "l", "0"], "$1\r\na\r\n");
    c.check(&["LINDEX", "l", "-1"], "$1\r\ne\r\n");
    c.check(&["LINDEX", "l", "4"], "$1\r\ne\r\n");
    c.check(&["LINDEX", "l", "5"], "$-1\r\n");
    c.check(&["LINDEX", "l", "-6"], "$-1\r\n");
    c.check(
        &["LINDEX", "l", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["LINDEX", "nol", "x"], "$-1\r\n");
    c.check(&["LINDEX", "nol", "0"], "$-1\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["LINDEX", "s", "x"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LRANGE", "s", "0", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(&["LLEN", "nol"], ":0\r\n");
}

#[test]
fn list_set_insert() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["RPUSH", "l", "a", "b", "c"], ":3\r\n");
    c.check(&["LSET", "l", "0", "A"], "+OK\r\n");
    c.check(&["LSET", "l", "-1", "C"], "+OK\r\n");
    c.check(&["LSET", "l", "3", "x"], "-ERR index out of range\r\n");
    c.check(&["LSET", "l", "-4", "x"], "-ERR index out of range\r\n");
    c.check(
        &["LSET", "l", "x", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["LSET", "nol", "0", "x"], "-ERR no such key\r\n");
    c.check(&["LSET", "nol", "x", "x"], "-ERR no such key\r\n");
    c.check(
        &["LRANGE", "l", "0", "-1"],
        "*3\r\n$1\r\nA\r\n$1\r\nb\r\n$1\r\nC\r\n",
    );
    c.check(&["LINSERT", "l", "BEFORE", "b", "x"], ":4\r\n");
    c.check(&["LINSERT", "l", "after", "b", "y"], ":5\r\n");
    c.check(&["LINSERT", "l", "AFTER", "C", "z"], ":6\r\n");
    c.check(&["LINSERT", "l", "BEFORE", "missing", "x"], ":-1\r\n");
    c.check(
        &["LINSERT", "l", "MIDDLE", "b", "x"],
        "-ERR syntax error\r\n",
    );
    c.check(&["LINSERT", "nol", "BEFORE", "a", "b"], ":0\r\n");
    c.check(
        &["LRANGE", "l", "0", "-1"],
        "*6\r\n$1\r\nA\r\n$1\r\nx\r\n$1\r\nb\r\n$1\r\ny\r\n$1\r\nC\r\n$1\r\nz\r\n",
    );
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["LSET", "s", "0", "x"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LINSERT", "s", "BEFORE", "a", "b"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LINSERT", "s", "MIDDLE", "a", "b"],
        "-ERR syntax error\r\n",
    );
}

#[test]
fn list_rem_trim() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"], ":7\r\n");
    c.check(&["LREM", "l", "2", "a"], ":2\r\n");
    c.check(
        &["LRANGE", "l", "0", "-1"],
        "*5\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\na\r\n",
    );
    c.check(&["LREM", "l", "-1", "a"], ":1\r\n");
    c.check(
        &["LRANGE", "l", "0", "-1"],
        "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    c.check(&["LREM", "l", "0", "b"], ":2\r\n");
    c.check(&["LRANGE", "l", "0", "-1"], "*2\r\n$1\r\nc\r\n$1\r\na\r\n");
    c.check(&["LREM", "l", "0", "z"], ":0\r\n");
    c.check(
        &["LREM", "l", "x", "a"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["LREM", "nol", "0", "a"], ":0\r\n");
    c.check(&["LREM", "l", "0", "c"], ":1\r\n");
    c.check(&["EXISTS", "l"], ":1\r\n");
    c.check(&["RPUSH", "t", "1", "2", "3", "4", "5", "6"], ":6\r\n");
    c.check(&["LTRIM", "t", "1", "-2"], "+OK\r\n");
    c.check(
        &["LRANGE", "t", "0", "-1"],
        "*4\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n",
    );
    c.check(&["LTRIM", "t", "-100", "100"], "+OK\r\n");
    c.check(
        &["LRANGE", "t", "0", "-1"],
        "*4\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n",
    );
    c.check(&["LTRIM", "t", "2", "1"], "+OK\r\n");
    c.check(&["EXISTS", "t"], ":0\r\n");
    c.check(&["LTRIM", "nol", "0", "1"], "+OK\r\n");
    c.check(
        &["LTRIM", "t", "x", "1"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["LREM", "s", "0", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LTRIM", "s", "0", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn list_pos() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"],
        ":8\r\n",
    );
    c.check(&["LPOS", "l", "c"], ":2\r\n");
    c.check(&["LPOS", "l", "c", "RANK", "2"], ":6\r\n");
    c.check(&["LPOS", "l", "c", "RANK", "-1"], ":7\r\n");
    c.check(&["LPOS", "l", "c", "RANK", "-3"], ":2\r\n");
    c.check(
        &["LPOS", "l", "c", "COUNT", "0"],
        "*3\r\n:2\r\n:6\r\n:7\r\n",
    );
    c.check(&["LPOS", "l", "c", "COUNT", "2"], "*2\r\n:2\r\n:6\r\n");
    c.check(
        &["LPOS", "l", "c", "COUNT", "0", "RANK", "-1"],
        "*3\r\n:7\r\n:6\r\n:2\r\n",
    );
    c.check(
        &["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "3"],
        "*1\r\n:2\r\n",
    );
    c.check(
        &["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"],
        "*2\r\n:2\r\n:6\r\n",
    );
    c.check(&["LPOS", "l", "c", "MAXLEN", "1"], "$-1\r\n");
    c.check(&["LPOS", "l", "x"], "$-1\r\n");
    c.check(&["LPOS", "l", "x", "COUNT", "5"], "*0\r\n");
    c.check(&["LPOS", "l", "c", "RANK", "0"], "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n");
    c.check(
        &["LPOS", "l", "c", "COUNT", "-1"],
        "-ERR COUNT can't be negative\r\n",
    );
    c.check(
        &["LPOS", "l", "c", "MAXLEN", "-1"],
        "-ERR MAXLEN can't be negative\r\n",
    );
    c.check(
        &["LPOS", "l", "c", "RANK", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(
        &["LPOS", "l", "c", "RANK", "-9223372036854775808"],
        ":7\r\n",
    );
    c.check(&["LPOS", "l", "c", "FOO", "1"], "-ERR syntax error\r\n");
    c.check(&["LPOS", "l", "c", "RANK"], "-ERR syntax error\r\n");
    c.check(&["LPOS", "nol", "c"], "$-1\r\n");
    c.check(&["LPOS", "nol", "c", "COUNT", "1"], "*0\r\n");
    c.check(&["LPOS", "l", "c", "RANK", "10"], "$-1\r\n");
    c.check(&["LPOS", "l", "c", "RANK", "10", "COUNT", "0"], "*0\r\n");
}

#[test]
fn list_move() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["RPUSH", "src", "a", "b", "c"], ":3\r\n");
    c.check(&["RPUSH", "dst", "x"], ":1\r\n");
    c.check(&["LMOVE", "src", "dst", "LEFT", "RIGHT"], "$1\r\na\r\n");
    c.check(&["LMOVE", "src", "dst", "RIGHT", "LEFT"], "$1\r\nc\r\n");
    c.check(&["LRANGE", "src", "0", "-1"], "*1\r\n$1\r\nb\r\n");
    c.check(
        &["LRANGE", "dst", "0", "-1"],
        "*3\r\n$1\r\nc\r\n$1\r\nx\r\n$1\r\na\r\n",
    );
    c.check(&["RPOPLPUSH", "src", "dst"], "$1\r\nb\r\n");
    c.check(&["EXISTS", "src"], ":0\r\n");
    c.check(&["LMOVE", "src", "dst", "LEFT", "LEFT"], "$-1\r\n");
    c.check(&["RPOPLPUSH", "src", "dst"], "$-1\r\n");
    c.check(&["LMOVE", "dst", "dst", "LEFT", "RIGHT"], "$1\r\nb\r\n");
    c.check(
        &["LRANGE", "dst", "0", "-1"],
        "*4\r\n$1\r\nc\r\n$1\r\nx\r\n$1\r\na\r\n$1\r\nb\r\n",
    );
    c.check(&["RPOPLPUSH", "dst", "dst"], "$1\r\nb\r\n");
    c.check(
        &["LRANGE", "dst", "0", "-1"],
        "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nx\r\n$1\r\na\r\n",
    );
    c.check(&["LMOVE", "dst", "new", "RIGHT", "RIGHT"], "$1\r\na\r\n");
    c.check(&["LRANGE", "new", "0", "-1"], "*1\r\n$1\r\na\r\n");
    c.check(
        &["LMOVE", "dst", "new", "UP", "LEFT"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["LMOVE", "dst", "new", "LEFT", "DOWN"],
        "-ERR syntax error\r\n",
    );
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["LMOVE", "dst", "s", "LEFT", "LEFT"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LMOVE", "s", "dst", "LEFT", "LEFT"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["RPOPLPUSH", "dst", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LRANGE", "dst", "0", "-1"],
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nx\r\n",
    );
    c.check(&["LMOVE", "nol", "s", "LEFT", "LEFT"], "$-1\r\n");
}

#[test]
fn list_mpop() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["RPUSH", "a", "1", "2", "3"], ":3\r\n");
    c.check(&["RPUSH", "b", "4", "5"], ":2\r\n");
    c.check(
        &["LMPOP", "2", "nol", "a", "LEFT"],
        "*2\r\n$1\r\na\r\n*1\r\n$1\r\n1\r\n",
    );
    c.check(
        &["LMPOP", "2", "a", "b", "RIGHT", "COUNT", "10"],
        "*2\r\n$1\r\na\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n",
    );
    c.check(
        &["LMPOP", "2", "a", "b", "LEFT", "COUNT", "1"],
        "*2\r\n$1\r\nb\r\n*1\r\n$1\r\n4\r\n",
    );
    c.check(&["LMPOP", "1", "nol", "LEFT"], "*-1\r\n");
    c.check(
        &["LMPOP", "0", "a", "LEFT"],
        "-ERR numkeys should be greater than 0\r\n",
    );
    c.check(
        &["LMPOP", "-1", "a", "LEFT"],
        "-ERR numkeys should be greater than 0\r\n",
    );
    c.check(
        &["LMPOP", "x", "a", "LEFT"],
        "-ERR numkeys should be greater than 0\r\n",
    );
    c.check(&["LMPOP", "3", "a", "b", "LEFT"], "-ERR syntax error\r\n");
    c.check(&["LMPOP", "1", "a", "MIDDLE"], "-ERR syntax error\r\n");
    c.check(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "0"],
        "-ERR count should be greater than 0\r\n",
    );
    c.check(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "-1"],
        "-ERR count should be greater than 0\r\n",
    );
    c.check(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "x"],
        "-ERR count should be greater than 0\r\n",
    );
    c.check(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"],
        "-ERR syntax error\r\n",
    );
    c.check(&["LMPOP", "1", "a", "LEFT", "FOO"], "-ERR syntax error\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["LMPOP", "2", "nol", "s", "LEFT"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["LMPOP", "2", "b", "s", "LEFT"],
        "*2\r\n$1\r\nb\r\n*1\r\n$1\r\n5\r\n",
    );
}

#[test]
fn list_mpop_resp3() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.cmd(&["HELLO", "3"]);
    c.check(&["RPUSH", "a", "1", "2", "3"], ":3\r\n");
    c.check(
        &["LMPOP", "1", "a", "LEFT", "COUNT", "2"],
        "*2\r\n$1\r\na\r\n*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
    );
    c.check(&["LMPOP", "1", "nol", "LEFT"], "_\r\n");
    c.check(&["BLPOP", "nol", "0.01"], "_\r\n");
    c.check(&["BRPOPLPUSH", "nol", "x", "0.01"], "_\r\n");
}

#[test]
fn list_blocking_nonblocking_path() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["RPUSH", "a", "1", "2"], ":2\r\n");
    c.check(&["BLPOP", "nol", "a", "0"], "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    c.check(&["BRPOP", "a", "0"], "*2\r\n$1\r\na\r\n$1\r\n2\r\n");
    c.check(&["BLPOP", "a", "0.5"], "*-1\r\n");
    c.check(&["BLPOP", "a", "-1"], "-ERR timeout is negative\r\n");
    c.check(
        &["BLPOP", "a", "x"],
        "-ERR timeout is not a float or out of range\r\n",
    );
    c.check(&["BLPOP", "a", "0", "0.01"], "*-1\r\n");
    c.check(
        &["BLMOVE", "nol", "x", "LEFT", "RIGHT", "x"],
        "-ERR timeout is not a float or out of range\r\n",
    );
    c.check(
        &["BLMOVE", "nol", "x", "LEFT", "X", "1"],
        "-ERR syntax error\r\n",
    );
    c.check(&["RPUSH", "src", "s1"], ":1\r\n");
    c.check(
        &["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
        "$2\r\ns1\r\n",
    );
    c.check(&["BRPOPLPUSH", "dst", "src", "0"], "$2\r\ns1\r\n");
    c.check(
        &["BLMPOP", "0", "1", "src", "LEFT", "COUNT", "3"],
        "*2\r\n$3\r\nsrc\r\n*1\r\n$2\r\ns1\r\n",
    );
    c.check(
        &["BLMPOP", "x", "1", "src", "LEFT"],
        "-ERR timeout is not a float or out of range\r\n",
    );
    c.check(
        &["BLMPOP", "0", "0", "src", "LEFT"],
        "-ERR numkeys should be greater than 0\r\n",
    );
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["BLPOP", "s", "0"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["BRPOPLPUSH", "s", "x", "0"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}
