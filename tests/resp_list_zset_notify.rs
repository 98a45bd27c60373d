//! Keyspace notifications of list and sorted-set writes, as redis-server 7.0.15 publishes
//! them (the expected events were recorded from it running the same commands): one per
//! write that changed something (LTRIM: every existing list), `del` after the event of a
//! write that emptied the key, none for a write that changed nothing; LMOVE announces the
//! destination's push before the source's pop. Blocking pops announce as their plain forms.

mod common;
mod resp_wire;

use common::Conn;
use resp_wire::{daemon, Resp};

/// The next `pmessage` for pattern `__keyevent@0__:*`, as `(event, key)`.
fn next_event(sub: &mut Conn) -> (String, String) {
    let raw = String::from_utf8(sub.reply()).unwrap();
    let parts: Vec<&str> = raw.split("\r\n").collect();
    // *4 $8 pmessage $16 pattern $n channel $n key
    assert_eq!(parts[2], "pmessage", "{raw:?}");
    let event = parts[6]
        .strip_prefix("__keyevent@0__:")
        .unwrap()
        .to_string();
    (event, parts[8].to_string())
}

fn subscribe(a: &mut Conn, sub: &mut Conn) {
    a.check(
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        "+OK\r\n",
    );
    sub.check(
        &["PSUBSCRIBE", "__keyevent@0__:*"],
        "*3\r\n$10\r\npsubscribe\r\n$16\r\n__keyevent@0__:*\r\n:1\r\n",
    );
}

#[test]
fn keyspace_events_of_list_and_sorted_set_writes() {
    let d = daemon(&[]);
    let mut a = d.connect_resp();
    let mut sub = d.connect_resp();
    subscribe(&mut a, &mut sub);
    let commands: &[&[&str]] = &[
        &["RPUSH", "l", "a", "b", "c"],
        &["LPUSH", "l", "z"],
        &["LPUSHX", "l", "y"],
        &["RPUSHX", "nol", "y"],
        &["LPOP", "l"],
        &["RPOP", "l", "2"],
        &["LPOP", "l", "0"],
        &["LINSERT", "l", "BEFORE", "a", "x"],
        &["LINSERT", "l", "BEFORE", "nope", "x"],
        &["LSET", "l", "0", "q"],
        &["LREM", "l", "0", "nope"],
        &["LREM", "l", "1", "q"],
        &["LTRIM", "l", "0", "-1"],
        &["RPUSH", "l", "b", "c"],
        &["LMOVE", "l", "m", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l", "l"],
        &["LMOVE", "l", "m", "RIGHT", "LEFT"],
        &["LMOVE", "m", "m", "LEFT", "LEFT"],
        &["LMPOP", "2", "nol", "m", "LEFT", "COUNT", "5"],
        &["RPUSH", "t", "1", "2", "3"],
        &["LTRIM", "t", "5", "10"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z", "INCR", "5", "a"],
        &["ZINCRBY", "z", "0", "a"],
        &["ZINCRBY", "z", "1", "a"],
        &["ZREM", "z", "nope"],
        &["ZREM", "z", "a"],
        &["ZPOPMIN", "z"],
        &["ZPOPMAX", "z", "5"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZREMRANGEBYSCORE", "z", "1", "1"],
        &["ZREMRANGEBYRANK", "z", "0", "0"],
        &["ZREMRANGEBYLEX", "z", "-", "+"],
        &["ZADD", "z", "1", "a", "2", "b"],
        &["ZRANGESTORE", "d", "z", "0", "-1"],
        &["ZRANGESTORE", "d", "z", "5", "6"],
        &["ZRANGESTORE", "d", "z", "5", "6"],
        &["ZUNIONSTORE", "u", "1", "z"],
        &["ZINTERSTORE", "u", "2", "z", "nope"],
        &["ZDIFFSTORE", "u", "1", "z"],
        &["ZMPOP", "1", "z", "MIN", "COUNT", "9"],
    ];
    for c in commands {
        a.cmd(c);
    }
    // A marker: every event before it has been published.
    a.cmd(&["SET", "end", "1"]);
    let want = [
        ("rpush", "l"),
        ("lpush", "l"),
        ("lpush", "l"),
        ("lpop", "l"),
        ("rpop", "l"),
        ("linsert", "l"),
        ("lset", "l"),
        ("lrem", "l"),
        ("ltrim", "l"),
        ("rpush", "l"),
        ("rpush", "m"),
        ("lpop", "l"),
        ("lpush", "l"),
        ("rpop", "l"),
        ("lpush", "m"),
        ("rpop", "l"),
        ("lpush", "m"),
        ("lpop", "m"),
        ("lpop", "m"),
        ("del", "m"),
        ("rpush", "t"),
        ("ltrim", "t"),
        ("del", "t"),
        ("zadd", "z"),
        ("zincr", "z"),
        ("zincr", "z"),
        ("zrem", "z"),
        ("zpopmin", "z"),
        ("zpopmax", "z"),
        ("del", "z"),
        ("zadd", "z"),
        ("zremrangebyscore", "z"),
        ("zremrangebyrank", "z"),
        ("zremrangebylex", "z"),
        ("del", "z"),
        ("zadd", "z"),
        ("zrangestore", "d"),
        ("del", "d"),
        ("zunionstore", "u"),
        ("del", "u"),
        ("zdiffstore", "u"),
        ("zpopmin", "z"),
        ("del", "z"),
        ("set", "end"),
    ];
    for (event, key) in want {
        assert_eq!(next_event(&mut sub), (event.to_string(), key.to_string()));
    }
}

#[test]
fn blocking_pops_announce_as_their_plain_forms() {
    let d = daemon(&["-t", "2"]);
    let mut a = d.connect_resp();
    let mut sub = d.connect_resp();
    let mut waiter = d.connect_resp();
    subscribe(&mut a, &mut sub);
    let blocked = |a: &mut Conn| {
        while !a
            .cmd(&["INFO", "clients"])
            .contains("blocked_clients:1\r\n")
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    };
    waiter.send(&resp_wire::encode(&[
        b"BLMOVE", b"src", b"dst", b"RIGHT", b"LEFT", b"0",
    ]));
    blocked(&mut a);
    a.check(&["RPUSH", "src", "v"], ":1\r\n");
    assert_eq!(String::from_utf8(waiter.reply()).unwrap(), "$1\r\nv\r\n");
    waiter.send(&resp_wire::encode(&[b"BZPOPMAX", b"z", b"0"]));
    blocked(&mut a);
    a.check(&["ZADD", "z", "1", "m"], ":1\r\n");
    waiter.reply();
    a.cmd(&["SET", "end", "1"]);
    for (event, key) in [
        ("rpush", "src"),
        ("lpush", "dst"),
        ("rpop", "src"),
        ("del", "src"),
        ("zadd", "z"),
        ("zpopmax", "z"),
        ("del", "z"),
        ("set", "end"),
    ] {
        assert_eq!(next_event(&mut sub), (event.to_string(), key.to_string()));
    }
}
