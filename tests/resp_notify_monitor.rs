//! Keyspace notifications (`notify-keyspace-events`) and MONITOR, for writes over both
//! protocols, with the listener on another worker (`-t 2`).

mod common;
mod resp_wire;

use common::Conn;
use resp_wire::{daemon, encode, Resp};

fn send(c: &mut Conn, args: &[&str]) {
    let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&encode(&raw));
}

fn next(c: &mut Conn) -> String {
    String::from_utf8_lossy(&c.reply()).into_owned()
}

fn pmessage(pattern: &str, channel: &str, payload: &str) -> String {
    format!(
        "*4\r\n$8\r\npmessage\r\n${}\r\n{pattern}\r\n${}\r\n{channel}\r\n${}\r\n{payload}\r\n",
        pattern.len(),
        channel.len(),
        payload.len()
    )
}

/// Subscribes `c` to every keyspace and keyevent channel.
fn listen(c: &mut Conn) {
    send(c, &["PSUBSCRIBE", "__key*__:*"]);
    next(c);
}

/// Asserts the next two messages are the keyspace and keyevent pair of one event.
fn expect_event(c: &mut Conn, db: u8, event: &str, key: &str) {
    assert_eq!(
        next(c),
        pmessage("__key*__:*", &format!("__keyspace@{db}__:{key}"), event)
    );
    assert_eq!(
        next(c),
        pmessage("__key*__:*", &format!("__keyevent@{db}__:{event}"), key)
    );
}

/// GETEX raises Redis 7.0's events: `expire` for EX/PX/EXAT/PXAT, `del` for a time
/// already past (the key is deleted once read), `persist` only when PERSIST removed a time,
/// nothing without an option or on a miss. The old code raised none.
#[test]
fn getex_raises_expire_persist_and_del() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    let mut l = d.connect_resp();
    admin.check(
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        "+OK\r\n",
    );
    listen(&mut l);
    admin.check(&["SET", "k", "v"], "+OK\r\n");
    expect_event(&mut l, 0, "set", "k");
    admin.check(&["GETEX", "k"], "$1\r\nv\r\n");
    admin.check(&["GETEX", "k", "PERSIST"], "$1\r\nv\r\n");
    admin.check(&["GETEX", "nokey", "EX", "10"], "$-1\r\n");
    admin.check(&["GETEX", "k", "EX", "100"], "$1\r\nv\r\n");
    expect_event(&mut l, 0, "expire", "k");
    admin.check(&["GETEX", "k", "PERSIST"], "$1\r\nv\r\n");
    expect_event(&mut l, 0, "persist", "k");
    admin.check(&["GETEX", "k", "EXAT", "1"], "$1\r\nv\r\n");
    expect_event(&mut l, 0, "del", "k");
    admin.check(&["EXISTS", "k"], ":0\r\n");
    // Nothing was published in between: the next event is this SET's.
    admin.check(&["SET", "last", "1"], "+OK\r\n");
    expect_event(&mut l, 0, "set", "last");
}

#[test]
fn resp_writes_publish_their_events() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    let mut l = d.connect_resp();
    admin.check(
        &["CONFIG", "GET", "notify-keyspace-events"],
        "*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n",
    );
    admin.check(
        &["CONFIG", "SET", "notify-keyspace-events", "KEA"],
        "+OK\r\n",
    );
    admin.check(
        &["CONFIG", "GET", "notify-keyspace-events"],
        "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n",
    );
    listen(&mut l);
    admin.check(&["SET", "k", "1"], "+OK\r\n");
    expect_event(&mut l, 0, "set", "k");
    admin.check(&["INCR", "k"], ":2\r\n");
    expect_event(&mut l, 0, "incrby", "k");
    admin.check(&["APPEND", "k", "0"], ":2\r\n");
    expect_event(&mut l, 0, "append", "k");
    admin.check(&["EXPIRE", "k", "100"], ":1\r\n");
    expect_event(&mut l, 0, "expire", "k");
    admin.check(&["PERSIST", "k"], ":1\r\n");
    expect_event(&mut l, 0, "persist", "k");
    admin.check(&["RENAME", "k", "k2"], "+OK\r\n");
    expect_event(&mut l, 0, "rename_from", "k");
    expect_event(&mut l, 0, "rename_to", "k2");
    admin.check(&["SET", "x", "v", "EX", "100"], "+OK\r\n");
    expect_event(&mut l, 0, "set", "x");
    expect_event(&mut l, 0, "expire", "x");
    admin.check(&["SELECT", "3"], "+OK\r\n");
    admin.check(&["SET", "y", "v"], "+OK\r\n");
    expect_event(&mut l, 3, "set", "y");
    admin.check(&["SELECT", "0"], "+OK\r\n");
    // DEL of a missing key changes nothing and says nothing.
    admin.check(&["DEL", "missing", "x"], ":1\r\n");
    expect_event(&mut l, 0, "del", "x");
    admin.check(&["SETNX", "k2", "z"], ":0\r\n");
    admin.check(&["GETDEL", "k2"], "$2\r\n20\r\n");
    expect_event(&mut l, 0, "del", "k2");
}

#[test]
fn classes_filter_and_k_or_e_choose_the_channels() {
    let d = daemon(&["-t", "2", "--notify-keyspace-events", "Eg"]);
    let mut admin = d.connect_resp();
    let mut l = d.connect_resp();
    listen(&mut l);
    // `$` is off: SET is silent; `g` on: DEL is heard, on the keyevent channel only.
    admin.check(&["SET", "k", "v"], "+OK\r\n");
    admin.check(&["DEL", "k"], ":1\r\n");
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyevent@0__:del", "k")
    );
    admin.check(
        &["CONFIG", "SET", "notify-keyspace-events", "KQ"],
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
         Invalid event class character. Use 'Ag$lshzxeKEtmd'.\r\n",
    );
}

#[test]
fn memcached_writes_publish_the_same_events() {
    let d = daemon(&["-t", "2", "--notify-keyspace-events", "KA"]);
    let mut l = d.connect_resp();
    listen(&mut l);
    let mut mc = d.connect();
    mc.roundtrip(b"set k 0 0 1\r\nv\r\n", b"STORED\r\n");
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyspace@0__:k", "set")
    );
    mc.roundtrip(b"append k 0 0 1\r\nw\r\n", b"STORED\r\n");
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyspace@0__:k", "append")
    );
    mc.roundtrip(b"set n 0 100 1\r\n1\r\n", b"STORED\r\n");
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyspace@0__:n", "set")
    );
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyspace@0__:n", "expire")
    );
    mc.roundtrip(b"incr n 5\r\n", b"6\r\n");
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyspace@0__:n", "incrby")
    );
    mc.roundtrip(b"touch n 10\r\n", b"TOUCHED\r\n");
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyspace@0__:n", "expire")
    );
    mc.roundtrip(b"delete k\r\n", b"DELETED\r\n");
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyspace@0__:k", "del")
    );
    mc.roundtrip(b"delete k\r\n", b"NOT_FOUND\r\n");
    mc.roundtrip(b"add n 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
    // Nothing was published for the last two: the next message is this one.
    mc.roundtrip(b"set z 0 0 1\r\nz\r\n", b"STORED\r\n");
    assert_eq!(
        next(&mut l),
        pmessage("__key*__:*", "__keyspace@0__:z", "set")
    );
}

/// `new` (n) is announced once per key a write creates, before the write's own event,
/// for either protocol and any type; overwriting an existing key announces nothing.
#[test]
fn new_keys_are_announced_once() {
    let d = daemon(&["-t", "2", "--notify-keyspace-events", "En$"]);
    let mut l = d.connect_resp();
    listen(&mut l);
    let mut admin = d.connect_resp();
    admin.check(&["SET", "foo", "bar"], "+OK\r\n");
    admin.check(&["SET", "foo", "baz"], "+OK\r\n");
    admin.check(&["SET", "bar", "bar"], "+OK\r\n");
    let event = |e: &str, k: &str| pmessage("__key*__:*", &format!("__keyevent@0__:{e}"), k);
    assert_eq!(next(&mut l), event("new", "foo"));
    assert_eq!(next(&mut l), event("set", "foo"));
    assert_eq!(next(&mut l), event("set", "foo"));
    assert_eq!(next(&mut l), event("new", "bar"));
    assert_eq!(next(&mut l), event("set", "bar"));
    let mut mc = d.connect();
    mc.roundtrip(b"set mc 0 0 1\r\nv\r\n", b"STORED\r\n");
    assert_eq!(next(&mut l), event("new", "mc"));
    assert_eq!(next(&mut l), event("set", "mc"));
    admin.check(
        &["CONFIG", "SET", "notify-keyspace-events", "En"],
        "+OK\r\n",
    );
    admin.check(&["HSET", "h", "f", "v"], ":1\r\n");
    admin.check(&["HSET", "h", "g", "v"], ":1\r\n");
    admin.check(&["SET", "last", "v"], "+OK\r\n");
    assert_eq!(next(&mut l), event("new", "h"));
    assert_eq!(next(&mut l), event("new", "last"));
}

/// Splits a MONITOR line into its timestamp and the rest (`[db addr] "args"...`).
fn monitor_line(c: &mut Conn) -> String {
    let line = String::from_utf8(c.read_line()).unwrap();
    let body = line.strip_prefix('+').expect("a simple string");
    let (ts, rest) = body.split_once(' ').unwrap();
    let (secs, micros) = ts.split_once('.').unwrap();
    assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
    rest.to_string()
}

/// As Redis 7.0: EVAL is shown before the commands its script calls, which show as `lua`;
/// a transaction's queued commands show between MULTI and EXEC.
#[test]
fn monitor_shows_scripts_before_their_commands() {
    let d = daemon(&["-t", "2"]);
    let mut m = d.connect_resp();
    m.check(&["MONITOR"], "+OK\r\n");
    let mut c = d.connect_resp();
    c.check(
        &[
            "EVAL",
            "redis.call('set',KEYS[1],ARGV[1])",
            "1",
            "foo",
            "bar",
        ],
        "$-1\r\n",
    );
    let eval = monitor_line(&mut m);
    assert!(
        eval.ends_with(
            "] \"EVAL\" \"redis.call('set',KEYS[1],ARGV[1])\" \"1\" \"foo\" \"bar\"\r\n"
        ),
        "{eval}"
    );
    assert_eq!(monitor_line(&mut m), "[0 lua] \"set\" \"foo\" \"bar\"\r\n");
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["SET", "a", "b"], "+QUEUED\r\n");
    c.check(&["EXEC"], "*1\r\n+OK\r\n");
    assert!(monitor_line(&mut m).ends_with("] \"MULTI\"\r\n"));
    assert!(monitor_line(&mut m).ends_with("] \"SET\" \"a\" \"b\"\r\n"));
    assert!(monitor_line(&mut m).ends_with("] \"EXEC\"\r\n"));
}

#[test]
fn monitor_shows_both_protocols_commands() {
    let d = daemon(&["-t", "2"]);
    let mut m = d.connect_resp();
    m.check(&["MONITOR"], "+OK\r\n");
    let mut c = d.connect_resp();
    let addr = c.cmd(&["CLIENT", "INFO"]);
    let addr = addr
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    assert_eq!(
        monitor_line(&mut m),
        format!("[0 {addr}] \"CLIENT\" \"INFO\"\r\n")
    );
    c.check(&["SET", "k", "a \"b\"\n"], "+OK\r\n");
    assert_eq!(
        monitor_line(&mut m),
        format!("[0 {addr}] \"SET\" \"k\" \"a \\\"b\\\"\\n\"\r\n")
    );
    c.check(&["AUTH", "secret"], "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n");
    assert_eq!(
        monitor_line(&mut m),
        format!("[0 {addr}] \"AUTH\" \"(redacted)\"\r\n")
    );
    // Refused commands are not shown; admin commands (CONFIG) are not either.
    c.check(
        &["GET"],
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.cmd(&["CONFIG", "GET", "maxmemory"]);
    // Redis 7.0 feeds monitors after the command ran: SELECT shows its new database.
    c.check(&["SELECT", "2"], "+OK\r\n");
    assert_eq!(
        monitor_line(&mut m),
        format!("[2 {addr}] \"SELECT\" \"2\"\r\n")
    );
    c.check(&["GET", "x"], "$-1\r\n");
    assert_eq!(
        monitor_line(&mut m),
        format!("[2 {addr}] \"GET\" \"x\"\r\n")
    );
    let mut mc = d.connect();
    mc.roundtrip(b"get k\r\n", b"VALUE k 0 6\r\na \"b\"\n\r\nEND\r\n");
    let line = monitor_line(&mut m);
    assert!(line.starts_with("[0 127.0.0.1:"), "{line}");
    assert!(line.ends_with("] \"get\" \"k\"\r\n"), "{line}");
}

#[test]
fn expired_and_evicted_items_are_announced() {
    let d = daemon(&["-t", "2", "-m", "8", "--notify-keyspace-events", "Exe"]);
    let mut l = d.connect_resp();
    send(
        &mut l,
        &[
            "SUBSCRIBE",
            "__keyevent@0__:expired",
            "__keyevent@0__:evicted",
        ],
    );
    next(&mut l);
    next(&mut l);
    let mut c = d.connect_resp();
    c.check(&["SET", "short", "v", "EX", "1"], "+OK\r\n");
    std::thread::sleep(std::time::Duration::from_millis(2200));
    // Read (or crawled) after its time: gone, and announced.
    c.check(&["GET", "short"], "$-1\r\n");
    assert_eq!(
        next(&mut l),
        "*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:expired\r\n$5\r\nshort\r\n"
    );
    // Fill 8 MB with 100 KB values over memcached: the oldest are evicted.
    let mut mc = d.connect();
    let value = vec![b'x'; 100_000];
    for i in 0..200 {
        let mut req = format!("set big{i} 0 0 {}\r\n", value.len()).into_bytes();
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n");
        mc.roundtrip(&req, b"STORED\r\n");
    }
    let m = next(&mut l);
    assert!(
        m.starts_with("*3\r\n$7\r\nmessage\r\n$22\r\n__keyevent@0__:evicted\r\n$4\r\nbig"),
        "{m}"
    );
}

/// Secrets as redis-server 7.0.15's MONITOR shows them (each expected line below is what it
/// printed for the same command): AUTH's arguments, HELLO's `AUTH user pass`, MIGRATE's
/// `AUTH pass` and `AUTH2 user pass`, and nothing of commands that hold no secret or of
/// words that only look like the options (after MIGRATE's KEYS, after an unknown option).
/// (Redis shows a HELLO without a protocol version unredacted, as it fails before parsing
/// it; slabd redacts it too, see hub::redact.)
#[test]
fn monitor_redacts_secrets_as_redis() {
    let d = daemon(&["-t", "2"]);
    let mut m = d.connect_resp();
    m.check(&["MONITOR"], "+OK\r\n");
    let mut c = d.connect_resp();
    let cases: &[(&[&str], &str)] = &[
        (&["auth", "pw"], r#""auth" "(redacted)""#),
        (&["auth", "u", "pw"], r#""auth" "(redacted)" "(redacted)""#),
        (
            &["hello", "2", "AUTH", "u", "p", "SETNAME", "n"],
            r#""hello" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "n""#,
        ),
        (
            &[
                "migrate",
                "127.0.0.1",
                "1",
                "key",
                "9",
                "5000",
                "COPY",
                "AUTH",
                "pw",
            ],
            r#""migrate" "127.0.0.1" "1" "key" "9" "5000" "COPY" "AUTH" "(redacted)""#,
        ),
        (
            &[
                "migrate",
                "127.0.0.1",
                "1",
                "",
                "9",
                "5000",
                "AUTH2",
                "u",
                "pw",
                "KEYS",
                "a",
            ],
            r#""migrate" "127.0.0.1" "1" "" "9" "5000" "AUTH2" "(redacted)" "(redacted)" "KEYS" "a""#,
        ),
        (
            &[
                "migrate",
                "127.0.0.1",
                "1",
                "",
                "9",
                "5000",
                "KEYS",
                "auth",
                "x",
            ],
            r#""migrate" "127.0.0.1" "1" "" "9" "5000" "KEYS" "auth" "x""#,
        ),
        (
            &[
                "migrate",
                "127.0.0.1",
                "1",
                "k",
                "9",
                "5000",
                "bogus",
                "AUTH",
                "pw",
            ],
            r#""migrate" "127.0.0.1" "1" "k" "9" "5000" "bogus" "AUTH" "pw""#,
        ),
        (&["set", "auth", "pw"], r#""set" "auth" "pw""#),
        (
            &["hello", "3", "setname", "auth"],
            r#""hello" "3" "setname" "auth""#,
        ),
    ];
    for (args, shown) in cases {
        send(&mut c, args);
        let line = monitor_line(&mut m);
        assert!(
            line.ends_with(&format!("] {shown}\r\n")),
            "{args:?}: {line}"
        );
    }
}
