//! zset commands over RESP with Redis 7.0's exact replies, RESP2 and RESP3.
//!
//! Generated: `scripts/resp-golden.py SOCKET tests/golden/zset.txt` sends each block's
//! commands to redis-server 7.0.15 and records its replies byte for byte; slabd must give
//! the same bytes.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn zset_add_flags() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["ZADD", "z", "1", "a", "2", "b", "3", "c"], ":3\r\n");
    c.check(&["ZADD", "z", "1", "a"], ":0\r\n");
    c.check(&["ZADD", "z", "CH", "5", "a", "2", "b", "6", "d"], ":2\r\n");
    c.check(&["ZADD", "z", "NX", "10", "a", "11", "e"], ":1\r\n");
    c.check(&["ZADD", "z", "XX", "20", "a", "21", "f"], ":0\r\n");
    c.check(&["ZADD", "z", "XX", "CH", "20", "a", "22", "b"], ":1\r\n");
    c.check(&["ZADD", "z", "GT", "1", "a", "30", "b"], ":0\r\n");
    c.check(&["ZADD", "z", "LT", "CH", "1", "a", "40", "b"], ":1\r\n");
    c.check(&["ZADD", "z", "GT", "CH", "50", "b", "50", "c"], ":2\r\n");
    c.check(&["ZRANGE", "z", "0", "-1", "WITHSCORES"], "*10\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nd\r\n$1\r\n6\r\n$1\r\ne\r\n$2\r\n11\r\n$1\r\nb\r\n$2\r\n50\r\n$1\r\nc\r\n$2\r\n50\r\n");
    c.check(&["ZADD", "z", "INCR", "5", "a"], "$1\r\n6\r\n");
    c.check(&["ZADD", "z", "INCR", "NX", "5", "a"], "$-1\r\n");
    c.check(&["ZADD", "z", "INCR", "XX", "5", "newx"], "$-1\r\n");
    c.check(&["ZADD", "z", "INCR", "GT", "-100", "a"], "$-1\r\n");
    c.check(
        &["ZADD", "z", "INCR", "1", "a", "2", "b"],
        "-ERR INCR option supports a single increment-element pair\r\n",
    );
    c.check(
        &["ZADD", "z", "NX", "XX", "1", "a"],
        "-ERR XX and NX options at the same time are not compatible\r\n",
    );
    c.check(
        &["ZADD", "z", "GT", "LT", "1", "a"],
        "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n",
    );
    c.check(
        &["ZADD", "z", "NX", "GT", "1", "a"],
        "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n",
    );
    c.check(
        &["ZADD", "z", "1"],
        "-ERR wrong number of arguments for 'zadd' command\r\n",
    );
    c.check(&["ZADD", "z", "1", "a", "2"], "-ERR syntax error\r\n");
    c.check(
        &["ZADD", "z", "x", "a"],
        "-ERR value is not a valid float\r\n",
    );
    c.check(
        &["ZADD", "z", "nan", "a"],
        "-ERR value is not a valid float\r\n",
    );
    c.check(
        &["ZADD", "z", "1e400", "a"],
        "-ERR value is not a valid float\r\n",
    );
    c.check(
        &["ZADD", "z", "inf", "a", "+inf", "b", "-inf", "c"],
        ":0\r\n",
    );
    c.check(&["ZRANGE", "z", "0", "-1", "WITHSCORES"], "*10\r\n$1\r\nc\r\n$4\r\n-inf\r\n$1\r\nd\r\n$1\r\n6\r\n$1\r\ne\r\n$2\r\n11\r\n$1\r\na\r\n$3\r\ninf\r\n$1\r\nb\r\n$3\r\ninf\r\n");
    c.check(&["ZADD", "z", "INCR", "+inf", "a"], "$3\r\ninf\r\n");
    c.check(
        &["ZADD", "z", "INCR", "-inf", "a"],
        "-ERR resulting score is not a number (NaN)\r\n",
    );
    c.check(&["ZADD", "nz", "XX", "1", "a"], ":0\r\n");
    c.check(&["EXISTS", "nz"], ":0\r\n");
    c.check(
        &["ZADD"],
        "-ERR wrong number of arguments for 'zadd' command\r\n",
    );
    c.check(
        &["ZADD", "z"],
        "-ERR wrong number of arguments for 'zadd' command\r\n",
    );
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["ZADD", "s", "1", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["ZINCRBY", "s", "1", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn zset_incr_scores() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["ZINCRBY", "z", "1.1", "a"],
        "$18\r\n1.1000000000000001\r\n",
    );
    c.check(&["ZINCRBY", "z", "2", "a"], "$18\r\n3.1000000000000001\r\n");
    c.check(
        &["ZINCRBY", "z", "x", "a"],
        "-ERR value is not a valid float\r\n",
    );
    c.check(
        &["ZINCRBY", "z", "1e300", "b"],
        "$23\r\n1.0000000000000001e+300\r\n",
    );
    c.check(
        &["ZINCRBY", "z", "-0.1", "c"],
        "$20\r\n-0.10000000000000001\r\n",
    );
    c.check(&["ZSCORE", "z", "a"], "$18\r\n3.1000000000000001\r\n");
    c.check(&["ZSCORE", "z", "b"], "$23\r\n1.0000000000000001e+300\r\n");
    c.check(&["ZSCORE", "z", "c"], "$20\r\n-0.10000000000000001\r\n");
    c.check(&["ZSCORE", "z", "nope"], "$-1\r\n");
    c.check(&["ZSCORE", "nz", "a"], "$-1\r\n");
    c.check(
        &[
            "ZADD",
            "z",
            "0.1",
            "d",
            "1e20",
            "e",
            "1e-5",
            "f",
            "123456789012345678",
            "g",
            "100",
            "h",
            "12345.678",
            "i",
            "-0",
            "j",
        ],
        ":7\r\n",
    );
    c.check(&["ZRANGE", "z", "0", "-1", "WITHSCORES"], "*20\r\n$1\r\nc\r\n$20\r\n-0.10000000000000001\r\n$1\r\nj\r\n$1\r\n0\r\n$1\r\nf\r\n$22\r\n1.0000000000000001e-05\r\n$1\r\nd\r\n$19\r\n0.10000000000000001\r\n$1\r\na\r\n$18\r\n3.1000000000000001\r\n$1\r\nh\r\n$3\r\n100\r\n$1\r\ni\r\n$9\r\n12345.678\r\n$1\r\ng\r\n$22\r\n1.2345678901234568e+17\r\n$1\r\ne\r\n$5\r\n1e+20\r\n$1\r\nb\r\n$23\r\n1.0000000000000001e+300\r\n");
    c.check(
        &["ZMSCORE", "z", "a", "nope", "d"],
        "*3\r\n$18\r\n3.1000000000000001\r\n$-1\r\n$19\r\n0.10000000000000001\r\n",
    );
    c.check(&["ZMSCORE", "nz", "a", "b"], "*2\r\n$-1\r\n$-1\r\n");
    c.check(&["ZADD", "z", "inf", "k"], ":1\r\n");
    c.check(
        &["ZINCRBY", "z", "-inf", "k"],
        "-ERR resulting score is not a number (NaN)\r\n",
    );
}

#[test]
fn zset_incr_scores_resp3() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.cmd(&["HELLO", "3"]);
    c.check(&["ZINCRBY", "z", "1.1", "a"], ",1.1000000000000001\r\n");
    c.check(&["ZADD", "z", "3", "b", "inf", "c", "-inf", "d"], ":3\r\n");
    c.check(&["ZSCORE", "z", "a"], ",1.1000000000000001\r\n");
    c.check(&["ZSCORE", "z", "c"], ",inf\r\n");
    c.check(&["ZSCORE", "z", "nope"], "_\r\n");
    c.check(
        &["ZMSCORE", "z", "a", "nope", "c", "d"],
        "*4\r\n,1.1000000000000001\r\n_\r\n,inf\r\n,-inf\r\n",
    );
    c.check(&["ZRANGE", "z", "0", "-1", "WITHSCORES"], "*4\r\n*2\r\n$1\r\nd\r\n,-inf\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n*2\r\n$1\r\nb\r\n,3\r\n*2\r\n$1\r\nc\r\n,inf\r\n");
    c.check(
        &["ZRANGE", "z", "0", "-1"],
        "*4\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    c.check(
        &[
            "ZRANGEBYSCORE",
            "z",
            "-inf",
            "+inf",
            "WITHSCORES",
            "LIMIT",
            "1",
            "2",
        ],
        "*2\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n*2\r\n$1\r\nb\r\n,3\r\n",
    );
    c.check(&["ZPOPMIN", "z"], "*2\r\n$1\r\nd\r\n,-inf\r\n");
    c.check(
        &["ZPOPMIN", "z", "2"],
        "*2\r\n*2\r\n$1\r\na\r\n,1.1000000000000001\r\n*2\r\n$1\r\nb\r\n,3\r\n",
    );
    c.check(&["ZPOPMAX", "z", "5"], "*1\r\n*2\r\n$1\r\nc\r\n,inf\r\n");
    c.check(&["ZPOPMIN", "z", "1"], "*0\r\n");
    c.check(&["ZRANK", "z", "a"], "_\r\n");
}

#[test]
fn zset_rem_card_count() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        ":5\r\n",
    );
    c.check(&["ZCARD", "z"], ":5\r\n");
    c.check(&["ZCARD", "nz"], ":0\r\n");
    c.check(&["ZREM", "z", "a", "x"], ":1\r\n");
    c.check(&["ZREM", "z", "x"], ":0\r\n");
    c.check(&["ZREM", "nz", "a"], ":0\r\n");
    c.check(&["ZCOUNT", "z", "-inf", "+inf"], ":4\r\n");
    c.check(&["ZCOUNT", "z", "2", "3"], ":2\r\n");
    c.check(&["ZCOUNT", "z", "(2", "3"], ":1\r\n");
    c.check(&["ZCOUNT", "z", "(2", "(3"], ":0\r\n");
    c.check(&["ZCOUNT", "z", "3", "2"], ":0\r\n");
    c.check(
        &["ZCOUNT", "z", "x", "3"],
        "-ERR min or max is not a float\r\n",
    );
    c.check(&["ZCOUNT", "z", "1", "("], ":0\r\n");
    c.check(&["ZCOUNT", "nz", "1", "2"], ":0\r\n");
    c.check(&["ZREM", "z", "b", "c", "d", "e"], ":4\r\n");
    c.check(&["EXISTS", "z"], ":0\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["ZREM", "s", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["ZCARD", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["ZCOUNT", "s", "1", "2"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn zset_lex() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ],
        ":5\r\n",
    );
    c.check(&["ZLEXCOUNT", "z", "-", "+"], ":5\r\n");
    c.check(&["ZLEXCOUNT", "z", "[b", "[d"], ":3\r\n");
    c.check(&["ZLEXCOUNT", "z", "(b", "(d"], ":1\r\n");
    c.check(&["ZLEXCOUNT", "z", "+", "-"], ":0\r\n");
    c.check(
        &["ZLEXCOUNT", "z", "a", "b"],
        "-ERR min or max not valid string range item\r\n",
    );
    c.check(&["ZLEXCOUNT", "nz", "-", "+"], ":0\r\n");
    c.check(
        &["ZRANGEBYLEX", "z", "-", "+"],
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(
        &["ZRANGEBYLEX", "z", "[b", "(e"],
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
    c.check(
        &["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "1", "2"],
        "*2\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    c.check(
        &["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "-1", "2"],
        "*0\r\n",
    );
    c.check(
        &["ZRANGEBYLEX", "z", "-", "+", "LIMIT", "1", "-1"],
        "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(
        &["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
        "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n",
    );
    c.check(
        &["ZREVRANGEBYLEX", "z", "+", "-"],
        "*5\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n",
    );
    c.check(
        &["ZREVRANGEBYLEX", "z", "(d", "[a", "LIMIT", "0", "2"],
        "*2\r\n$1\r\nc\r\n$1\r\nb\r\n",
    );
    c.check(
        &["ZRANGE", "z", "[b", "[d", "BYLEX"],
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
    c.check(
        &["ZRANGE", "z", "[d", "[b", "BYLEX", "REV"],
        "*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n",
    );
    c.check(
        &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"],
        "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n",
    );
    c.check(
        &["ZRANGEBYLEX", "z", "b", "d"],
        "-ERR min or max not valid string range item\r\n",
    );
    c.check(&["ZREMRANGEBYLEX", "z", "[b", "(d"], ":2\r\n");
    c.check(
        &["ZRANGE", "z", "0", "-1"],
        "*3\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(
        &["ZREMRANGEBYLEX", "z", "x", "y"],
        "-ERR min or max not valid string range item\r\n",
    );
    c.check(&["ZREMRANGEBYLEX", "nz", "-", "+"], ":0\r\n");
}

#[test]
fn zset_ranges() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        ":5\r\n",
    );
    c.check(
        &["ZRANGE", "z", "0", "-1"],
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(
        &["ZRANGE", "z", "1", "2", "WITHSCORES"],
        "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );
    c.check(&["ZRANGE", "z", "-2", "-1"], "*2\r\n$1\r\nd\r\n$1\r\ne\r\n");
    c.check(&["ZRANGE", "z", "3", "1"], "*0\r\n");
    c.check(
        &["ZRANGE", "z", "0", "-1", "REV"],
        "*5\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n",
    );
    c.check(
        &["ZRANGE", "z", "0", "1", "REV", "WITHSCORES"],
        "*4\r\n$1\r\ne\r\n$1\r\n5\r\n$1\r\nd\r\n$1\r\n4\r\n",
    );
    c.check(
        &["ZRANGE", "z", "(1", "4", "BYSCORE"],
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
    c.check(
        &["ZRANGE", "z", "4", "(1", "BYSCORE", "REV"],
        "*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n",
    );
    c.check(
        &[
            "ZRANGE",
            "z",
            "-inf",
            "+inf",
            "BYSCORE",
            "LIMIT",
            "1",
            "2",
            "WITHSCORES",
        ],
        "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );
    c.check(
        &[
            "ZRANGE", "z", "-inf", "+inf", "BYSCORE", "REV", "LIMIT", "0", "1",
        ],
        "*0\r\n",
    );
    c.check(&["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"], "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n");
    c.check(
        &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "-1"],
        "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(
        &["ZRANGE", "z", "0", "-1", "BYSCORE", "BYLEX"],
        "-ERR syntax error\r\n",
    );
    c.check(&["ZRANGE", "z", "0", "-1", "FOO"], "-ERR syntax error\r\n");
    c.check(
        &["ZRANGE", "z", "x", "1"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(
        &["ZRANGE", "z", "0", "1", "BYSCORE", "LIMIT", "x", "1"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["ZRANGE", "nz", "0", "-1"], "*0\r\n");
    c.check(
        &["ZREVRANGE", "z", "0", "1"],
        "*2\r\n$1\r\ne\r\n$1\r\nd\r\n",
    );
    c.check(
        &["ZREVRANGE", "z", "0", "1", "WITHSCORES"],
        "*4\r\n$1\r\ne\r\n$1\r\n5\r\n$1\r\nd\r\n$1\r\n4\r\n",
    );
    c.check(
        &["ZREVRANGE", "z", "0", "1", "REV"],
        "-ERR syntax error\r\n",
    );
    c.check(&["ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"], "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n");
    c.check(
        &["ZRANGEBYSCORE", "z", "2", "4"],
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n",
    );
    c.check(
        &["ZRANGEBYSCORE", "z", "(2", "(4", "WITHSCORES"],
        "*2\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );
    c.check(
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "10"],
        "*3\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
    );
    c.check(
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "10", "10"],
        "*0\r\n",
    );
    c.check(
        &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "0", "0"],
        "*0\r\n",
    );
    c.check(
        &["ZRANGEBYSCORE", "z", "2", "4", "REV"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["ZRANGEBYSCORE", "z", "2", "4", "BYSCORE"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["ZRANGEBYSCORE", "z", "x", "4"],
        "-ERR min or max is not a float\r\n",
    );
    c.check(
        &["ZREVRANGEBYSCORE", "z", "4", "2"],
        "*3\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n",
    );
    c.check(
        &[
            "ZREVRANGEBYSCORE",
            "z",
            "+inf",
            "-inf",
            "WITHSCORES",
            "LIMIT",
            "1",
            "2",
        ],
        "*4\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );
    c.check(&["ZREVRANGEBYSCORE", "z", "2", "4"], "*0\r\n");
    c.check(&["ZRANK", "z", "c"], ":2\r\n");
    c.check(&["ZREVRANK", "z", "c"], ":2\r\n");
    c.check(&["ZRANK", "z", "x"], "$-1\r\n");
    c.check(&["ZRANK", "nz", "a"], "$-1\r\n");
    c.check(&["ZREVRANK", "nz", "a"], "$-1\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["ZRANGE", "s", "0", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["ZRANK", "s", "a"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn zset_rangestore() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        ":5\r\n",
    );
    c.check(&["ZRANGESTORE", "dst", "z", "0", "1"], ":2\r\n");
    c.check(
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n",
    );
    c.check(
        &[
            "ZRANGESTORE",
            "dst",
            "z",
            "(1",
            "4",
            "BYSCORE",
            "LIMIT",
            "1",
            "5",
        ],
        ":2\r\n",
    );
    c.check(
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        "*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n",
    );
    c.check(
        &["ZRANGESTORE", "dst", "z", "4", "1", "BYSCORE", "REV"],
        ":4\r\n",
    );
    c.check(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], "*8\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n");
    c.check(&["ZRANGESTORE", "dst", "z", "10", "20"], ":0\r\n");
    c.check(&["EXISTS", "dst"], ":0\r\n");
    c.check(&["ZRANGESTORE", "dst", "nz", "0", "-1"], ":0\r\n");
    c.check(
        &["ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES"],
        "-ERR syntax error\r\n",
    );
    c.check(&["ZRANGESTORE", "dst", "z", "[a", "[c", "BYLEX"], ":3\r\n");
    c.check(
        &["ZRANGE", "dst", "0", "-1"],
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
    );
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["ZRANGESTORE", "dst", "s", "0", "1"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(&["ZRANGESTORE", "s", "z", "0", "1"], ":2\r\n");
    c.check(&["TYPE", "s"], "+zset\r\n");
}

#[test]
fn zset_pops() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
        ],
        ":5\r\n",
    );
    c.check(&["ZPOPMIN", "z"], "*2\r\n$1\r\na\r\n$1\r\n1\r\n");
    c.check(&["ZPOPMAX", "z"], "*2\r\n$1\r\ne\r\n$1\r\n5\r\n");
    c.check(
        &["ZPOPMIN", "z", "2"],
        "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n",
    );
    c.check(&["ZPOPMAX", "z", "0"], "*0\r\n");
    c.check(&["ZPOPMAX", "z", "10"], "*2\r\n$1\r\nd\r\n$1\r\n4\r\n");
    c.check(&["EXISTS", "z"], ":0\r\n");
    c.check(&["ZPOPMIN", "z"], "*0\r\n");
    c.check(&["ZPOPMIN", "z", "1"], "*0\r\n");
    c.check(
        &["ZPOPMIN", "z", "-1"],
        "-ERR value is out of range, must be positive\r\n",
    );
    c.check(
        &["ZPOPMIN", "z", "x"],
        "-ERR value is out of range, must be positive\r\n",
    );
    c.check(&["ZPOPMIN", "z", "1", "2"], "-ERR syntax error\r\n");
    c.check(&["ZADD", "a", "1", "x", "2", "y"], ":2\r\n");
    c.check(&["ZADD", "b", "3", "z"], ":1\r\n");
    c.check(
        &["ZMPOP", "2", "nz", "a", "MIN"],
        "*2\r\n$1\r\na\r\n*1\r\n*2\r\n$1\r\nx\r\n$1\r\n1\r\n",
    );
    c.check(
        &["ZMPOP", "2", "a", "b", "MAX", "COUNT", "10"],
        "*2\r\n$1\r\na\r\n*1\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n",
    );
    c.check(&["ZMPOP", "1", "a", "MIN"], "*-1\r\n");
    c.check(&["ZMPOP", "1", "nz", "MIN"], "*-1\r\n");
    c.check(
        &["ZMPOP", "0", "a", "MIN"],
        "-ERR numkeys should be greater than 0\r\n",
    );
    c.check(&["ZMPOP", "1", "a", "MIDDLE"], "-ERR syntax error\r\n");
    c.check(
        &["ZMPOP", "1", "a", "MIN", "COUNT", "0"],
        "-ERR count should be greater than 0\r\n",
    );
    c.check(&["ZMPOP", "2", "a", "MIN"], "-ERR syntax error\r\n");
    c.check(
        &["ZMPOP", "1", "b", "MIN", "COUNT", "1", "FOO"],
        "-ERR syntax error\r\n",
    );
    c.check(&["ZADD", "b", "3", "z", "4", "w", "5", "v"], ":2\r\n");
    c.check(
        &["BZPOPMIN", "b", "0"],
        "*3\r\n$1\r\nb\r\n$1\r\nz\r\n$1\r\n3\r\n",
    );
    c.check(
        &["BZPOPMAX", "nz", "b", "0"],
        "*3\r\n$1\r\nb\r\n$1\r\nv\r\n$1\r\n5\r\n",
    );
    c.check(
        &["BZMPOP", "0", "1", "b", "MIN"],
        "*2\r\n$1\r\nb\r\n*1\r\n*2\r\n$1\r\nw\r\n$1\r\n4\r\n",
    );
    c.check(&["BZPOPMIN", "b", "0.01"], "*-1\r\n");
    c.check(
        &["BZPOPMIN", "b", "x"],
        "-ERR timeout is not a float or out of range\r\n",
    );
    c.check(&["BZPOPMIN", "b", "-1"], "-ERR timeout is negative\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["ZPOPMIN", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["ZMPOP", "2", "nz", "s", "MIN"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(
        &["BZPOPMIN", "s", "0"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn zset_pops_resp3() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.cmd(&["HELLO", "3"]);
    c.check(&["ZADD", "z", "1", "a", "2", "b", "3", "c"], ":3\r\n");
    c.check(&["ZPOPMIN", "z"], "*2\r\n$1\r\na\r\n,1\r\n");
    c.check(&["ZPOPMAX", "z", "1"], "*1\r\n*2\r\n$1\r\nc\r\n,3\r\n");
    c.check(
        &["ZMPOP", "1", "z", "MIN", "COUNT", "5"],
        "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n,2\r\n",
    );
    c.check(&["ZMPOP", "1", "z", "MIN"], "_\r\n");
    c.check(&["ZADD", "z", "1", "a"], ":1\r\n");
    c.check(
        &["BZPOPMIN", "z", "0"],
        "*3\r\n$1\r\nz\r\n$1\r\na\r\n,1\r\n",
    );
    c.check(&["BZPOPMIN", "z", "0.01"], "_\r\n");
}

#[test]
fn zset_remrange() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
        ],
        ":6\r\n",
    );
    c.check(&["ZREMRANGEBYRANK", "z", "0", "1"], ":2\r\n");
    c.check(
        &["ZRANGE", "z", "0", "-1"],
        "*4\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n",
    );
    c.check(&["ZREMRANGEBYRANK", "z", "-1", "-1"], ":1\r\n");
    c.check(&["ZREMRANGEBYRANK", "z", "5", "10"], ":0\r\n");
    c.check(
        &["ZREMRANGEBYRANK", "z", "x", "1"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["ZREMRANGEBYSCORE", "z", "(3", "4"], ":1\r\n");
    c.check(&["ZRANGE", "z", "0", "-1"], "*2\r\n$1\r\nc\r\n$1\r\ne\r\n");
    c.check(
        &["ZREMRANGEBYSCORE", "z", "x", "1"],
        "-ERR min or max is not a float\r\n",
    );
    c.check(&["ZREMRANGEBYSCORE", "z", "-inf", "+inf"], ":2\r\n");
    c.check(&["EXISTS", "z"], ":0\r\n");
    c.check(&["ZREMRANGEBYRANK", "nz", "0", "-1"], ":0\r\n");
    c.check(&["ZREMRANGEBYSCORE", "nz", "0", "1"], ":0\r\n");
}

#[test]
fn zset_algebra() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["ZADD", "a", "1", "x", "2", "y", "3", "z"], ":3\r\n");
    c.check(&["ZADD", "b", "10", "y", "20", "z", "30", "w"], ":3\r\n");
    c.check(
        &["ZUNION", "2", "a", "b"],
        "*4\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n$1\r\nw\r\n",
    );
    c.check(&["ZUNION", "2", "a", "b", "WITHSCORES"], "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n");
    c.check(&["ZUNION", "2", "a", "b", "WEIGHTS", "2", "0.5", "WITHSCORES"], "*8\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\ny\r\n$1\r\n9\r\n$1\r\nw\r\n$2\r\n15\r\n$1\r\nz\r\n$2\r\n16\r\n");
    c.check(&["ZUNION", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"], "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n3\r\n$1\r\nw\r\n$2\r\n30\r\n");
    c.check(&["ZUNION", "2", "a", "b", "AGGREGATE", "MAX", "WITHSCORES"], "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n10\r\n$1\r\nz\r\n$2\r\n20\r\n$1\r\nw\r\n$2\r\n30\r\n");
    c.check(
        &["ZINTER", "2", "a", "b", "WITHSCORES"],
        "*4\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n",
    );
    c.check(
        &["ZINTER", "2", "a", "b", "AGGREGATE", "MAX"],
        "*2\r\n$1\r\ny\r\n$1\r\nz\r\n",
    );
    c.check(
        &["ZDIFF", "2", "a", "b", "WITHSCORES"],
        "*2\r\n$1\r\nx\r\n$1\r\n1\r\n",
    );
    c.check(&["ZDIFF", "2", "b", "a"], "*1\r\n$1\r\nw\r\n");
    c.check(&["ZUNIONSTORE", "dst", "2", "a", "b"], ":4\r\n");
    c.check(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"], "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n");
    c.check(
        &["ZINTERSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"],
        ":2\r\n",
    );
    c.check(
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        "*4\r\n$1\r\ny\r\n$2\r\n22\r\n$1\r\nz\r\n$2\r\n43\r\n",
    );
    c.check(&["ZDIFFSTORE", "dst", "2", "a", "b"], ":1\r\n");
    c.check(
        &["ZRANGE", "dst", "0", "-1", "WITHSCORES"],
        "*2\r\n$1\r\nx\r\n$1\r\n1\r\n",
    );
    c.check(&["ZINTERSTORE", "dst", "2", "a", "nz"], ":0\r\n");
    c.check(&["EXISTS", "dst"], ":0\r\n");
    c.check(&["ZINTERCARD", "2", "a", "b"], ":2\r\n");
    c.check(&["ZINTERCARD", "2", "a", "b", "LIMIT", "1"], ":1\r\n");
    c.check(&["ZINTERCARD", "2", "a", "b", "LIMIT", "0"], ":2\r\n");
    c.check(
        &["ZINTERCARD", "2", "a", "b", "LIMIT", "-1"],
        "-ERR LIMIT can't be negative\r\n",
    );
    c.check(
        &["ZINTERCARD", "0", "a"],
        "-ERR at least 1 input key is needed for 'zintercard' command\r\n",
    );
    c.check(
        &["ZUNION", "0", "a"],
        "-ERR at least 1 input key is needed for 'zunion' command\r\n",
    );
    c.check(
        &["ZUNIONSTORE", "dst", "0", "a"],
        "-ERR at least 1 input key is needed for 'zunionstore' command\r\n",
    );
    c.check(&["ZUNION", "3", "a", "b"], "-ERR syntax error\r\n");
    c.check(
        &["ZUNION", "2", "a", "b", "WEIGHTS", "1"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"],
        "-ERR weight value is not a float\r\n",
    );
    c.check(
        &["ZUNION", "2", "a", "b", "AGGREGATE", "AVG"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["ZUNIONSTORE", "dst", "2", "a", "b", "WITHSCORES"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["ZUNION", "x", "a"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["ZUNION", "2", "a", "b", "WEIGHTS", "inf", "0", "WITHSCORES"], "*8\r\n$1\r\nw\r\n$1\r\n0\r\n$1\r\nx\r\n$3\r\ninf\r\n$1\r\ny\r\n$3\r\ninf\r\n$1\r\nz\r\n$3\r\ninf\r\n");
    c.check(&["SADD", "st", "x", "q", "7"], ":3\r\n");
    c.check(&["ZUNION", "2", "a", "st", "WITHSCORES"], "*10\r\n$1\r\n7\r\n$1\r\n1\r\n$1\r\nq\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n3\r\n");
    c.check(
        &["ZINTER", "2", "st", "a", "WEIGHTS", "5", "1", "WITHSCORES"],
        "*2\r\n$1\r\nx\r\n$1\r\n6\r\n",
    );
    c.check(&["ZDIFF", "2", "st", "a"], "*2\r\n$1\r\n7\r\n$1\r\nq\r\n");
    c.check(&["ZINTERCARD", "2", "a", "st"], ":1\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["ZUNION", "2", "a", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    c.check(&["ZINTERSTORE", "s", "2", "a", "b"], ":2\r\n");
    c.check(&["TYPE", "s"], "+zset\r\n");
}

#[test]
fn zset_algebra_resp3() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.cmd(&["HELLO", "3"]);
    c.check(&["ZADD", "a", "1", "x", "2", "y"], ":2\r\n");
    c.check(&["ZADD", "b", "1", "y"], ":1\r\n");
    c.check(
        &["ZUNION", "2", "a", "b", "WITHSCORES"],
        "*2\r\n*2\r\n$1\r\nx\r\n,1\r\n*2\r\n$1\r\ny\r\n,3\r\n",
    );
    c.check(
        &["ZINTER", "2", "a", "b", "WITHSCORES"],
        "*1\r\n*2\r\n$1\r\ny\r\n,3\r\n",
    );
    c.check(&["ZDIFF", "2", "a", "b"], "*1\r\n$1\r\nx\r\n");
}

#[test]
fn zset_scan() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["ZADD", "z", "1", "a", "2", "b", "1.5", "c"], ":3\r\n");
    c.check(&["ZSCAN", "z", "0"], "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n");
    c.check(
        &["ZSCAN", "z", "0", "MATCH", "a*"],
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    c.check(&["ZSCAN", "z", "0", "COUNT", "1"], "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nc\r\n$3\r\n1.5\r\n$1\r\nb\r\n$1\r\n2\r\n");
    c.check(&["ZSCAN", "z", "x"], "-ERR invalid cursor\r\n");
    c.check(&["ZSCAN", "z", "0", "COUNT", "0"], "-ERR syntax error\r\n");
    c.check(
        &["ZSCAN", "z", "0", "COUNT", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["ZSCAN", "z", "0", "FOO", "1"], "-ERR syntax error\r\n");
    c.check(&["ZSCAN", "nz", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
    c.check(&["ZSCAN", "nz", "0", "FOO"], "*2\r\n$1\r\n0\r\n*0\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["ZSCAN", "s", "0"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}

#[test]
fn zset_randmember_errors() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["ZADD", "z", "1", "a"], ":1\r\n");
    c.check(&["ZRANDMEMBER", "z"], "$1\r\na\r\n");
    c.check(&["ZRANDMEMBER", "z", "1"], "*1\r\n$1\r\na\r\n");
    c.check(
        &["ZRANDMEMBER", "z", "1", "WITHSCORES"],
        "*2\r\n$1\r\na\r\n$1\r\n1\r\n",
    );
    c.check(&["ZRANDMEMBER", "z", "-2"], "*2\r\n$1\r\na\r\n$1\r\na\r\n");
    c.check(&["ZRANDMEMBER", "z", "0"], "*0\r\n");
    c.check(
        &["ZRANDMEMBER", "z", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["ZRANDMEMBER", "z", "1", "FOO"], "-ERR syntax error\r\n");
    c.check(
        &["ZRANDMEMBER", "z", "1", "WITHSCORES", "x"],
        "-ERR syntax error\r\n",
    );
    c.check(&["ZRANDMEMBER", "z", "-9223372036854775808"], "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n");
    c.check(
        &["ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"],
        "-ERR value is out of range\r\n",
    );
    c.check(&["ZRANDMEMBER", "nz"], "$-1\r\n");
    c.check(&["ZRANDMEMBER", "nz", "5"], "*0\r\n");
    c.check(&["SET", "s", "v"], "+OK\r\n");
    c.check(
        &["ZRANDMEMBER", "s"],
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
}
