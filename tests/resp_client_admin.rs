//! CLIENT KILL, PAUSE/UNPAUSE, UNBLOCK, REPLY, NO-EVICT and the CLIENT LIST fields that
//! show other connections' state, across workers (`-t 2`).

mod common;
mod resp_wire;

use std::time::{Duration, Instant};

use common::Conn;
use resp_wire::{daemon, encode, info_u64, int, Resp};

fn send(c: &mut Conn, args: &[&str]) {
    let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&encode(&raw));
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {name} in {line}"))
}

fn client_line(c: &mut Conn, id: i64) -> String {
    let list = c.cmd(&["CLIENT", "LIST", "ID", &id.to_string()]);
    list.lines().nth(1).unwrap_or_default().to_string()
}

#[test]
fn kill_by_id_addr_and_type_closes_the_other_connection() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    let mut victim = d.connect_resp();
    let id = int(&victim.cmd(&["CLIENT", "ID"]));
    admin.check(&["CLIENT", "KILL", "ID", &id.to_string()], ":1\r\n");
    assert!(victim.closed());
    admin.check(&["CLIENT", "KILL", "ID", &id.to_string()], ":0\r\n");

    let mut victim = d.connect_resp();
    let info = victim.cmd(&["CLIENT", "INFO"]);
    let addr = field(&info, "addr").to_string();
    admin.check(&["CLIENT", "KILL", &addr], "+OK\r\n");
    assert!(victim.closed());
    admin.check(&["CLIENT", "KILL", &addr], "-ERR No such client\r\n");

    let mut sub = d.connect_resp();
    send(&mut sub, &["SUBSCRIBE", "c"]);
    sub.reply();
    let mut normal = d.connect_resp();
    admin.check(&["CLIENT", "KILL", "TYPE", "pubsub"], ":1\r\n");
    assert!(sub.closed());
    normal.check(&["PING"], "+PONG\r\n");
    // SKIPME yes (the default) spares the caller.
    admin.check(&["CLIENT", "KILL", "TYPE", "normal"], ":1\r\n");
    assert!(normal.closed());
    admin.check(&["PING"], "+PONG\r\n");
    admin.check(
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no"],
        ":1\r\n",
    );
    assert!(admin.closed());
}

#[test]
fn kill_by_user_closes_that_users_connections_only() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    admin.check(
        &["ACL", "SETUSER", "killme", "on", "nopass", "+@all", "~*"],
        "+OK\r\n",
    );
    // An ACL user with no connection: nothing to kill, but no error (Redis 7.0).
    admin.check(&["CLIENT", "KILL", "USER", "killme"], ":0\r\n");
    let mut a = d.connect_resp();
    let mut b = d.connect_resp();
    a.check(&["AUTH", "killme", "x"], "+OK\r\n");
    b.check(&["AUTH", "killme", "x"], "+OK\r\n");
    let mut other = d.connect_resp();
    admin.check(&["CLIENT", "KILL", "USER", "killme"], ":2\r\n");
    assert!(a.closed());
    assert!(b.closed());
    other.check(&["PING"], "+PONG\r\n");
    admin.check(&["CLIENT", "KILL", "USER", "killme"], ":0\r\n");
}

#[test]
fn config_set_timeout_closes_idle_clients_but_not_subscribers_or_blocked_ones() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    admin.check(
        &["CONFIG", "GET", "timeout"],
        "*2\r\n$7\r\ntimeout\r\n$1\r\n0\r\n",
    );
    for (bad, why) in [
        ("x", "argument couldn't be parsed into an integer"),
        ("-1", "argument must be between 0 and 2147483647 inclusive"),
    ] {
        admin.check(
            &["CONFIG", "SET", "timeout", bad],
            &format!("-ERR CONFIG SET failed (possibly related to argument 'timeout') - {why}\r\n"),
        );
    }
    let mut sub = d.connect_resp();
    send(&mut sub, &["SUBSCRIBE", "c"]);
    sub.reply();
    let mut blocked = d.connect_resp();
    send(&mut blocked, &["BLPOP", "q", "0"]);
    let mut idle = d.connect_resp();
    idle.check(&["PING"], "+PONG\r\n");
    admin.check(&["CONFIG", "SET", "timeout", "1"], "+OK\r\n");
    admin.check(
        &["CONFIG", "GET", "timeout"],
        "*2\r\n$7\r\ntimeout\r\n$1\r\n1\r\n",
    );
    // closed() waits up to 10 s for the server to close the idle client.
    assert!(idle.closed());
    // The admin spoke last before the wait: it is idle too by now, so reconnect.
    let mut admin = d.connect_resp();
    admin.check(&["CONFIG", "SET", "timeout", "0"], "+OK\r\n");
    admin.check(&["PUBLISH", "c", "m"], ":1\r\n");
    assert_eq!(
        String::from_utf8(sub.reply()).unwrap(),
        "*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n"
    );
    admin.check(&["RPUSH", "q", "v"], ":1\r\n");
    assert_eq!(
        String::from_utf8(blocked.reply()).unwrap(),
        "*2\r\n$1\r\nq\r\n$1\r\nv\r\n"
    );
}

#[test]
fn kill_filter_errors() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["CLIENT", "KILL", "ID", "0"],
        "-ERR client-id should be greater than 0\r\n",
    );
    c.check(
        &["CLIENT", "KILL", "TYPE", "x"],
        "-ERR Unknown client type 'x'\r\n",
    );
    c.check(
        &["CLIENT", "KILL", "USER", "nobody"],
        "-ERR No such user 'nobody'\r\n",
    );
    c.check(&["CLIENT", "KILL", "ID", "1", "X"], "-ERR syntax error\r\n");
    c.check(&["CLIENT", "KILL", "FOO", "1"], "-ERR syntax error\r\n");
    c.check(
        &["CLIENT", "KILL"],
        "-ERR wrong number of arguments for 'client|kill' command\r\n",
    );
}

#[test]
fn pause_write_parks_writes_until_it_ends() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    let mut writer = d.connect_resp();
    admin.check(&["CLIENT", "PAUSE", "300", "WRITE"], "+OK\r\n");
    // Reads go on during a WRITE pause.
    writer.check(&["GET", "k"], "$-1\r\n");
    let began = Instant::now();
    writer.check(&["SET", "k", "v"], "+OK\r\n");
    assert!(began.elapsed() >= Duration::from_millis(200));
    admin.check(&["GET", "k"], "$1\r\nv\r\n");
}

/// Redis 7.0 defers expiry while clients are paused: an expired key reads as missing but
/// is neither reclaimed nor counted (by reads or active expiry) until the pause ends.
#[test]
fn pause_defers_expiry_until_it_ends() {
    let d = daemon(&["-t", "2"]);
    let mut c = d.connect_resp();
    let expired = info_u64(&mut c, "stats", "expired_keys");
    c.check(&["SET", "a", "1", "PX", "10"], "+OK\r\n");
    c.check(&["SET", "b", "2", "PX", "10"], "+OK\r\n");
    c.check(&["CLIENT", "PAUSE", "100000", "WRITE"], "+OK\r\n");
    std::thread::sleep(Duration::from_millis(50));
    c.check(&["GET", "a"], "$-1\r\n");
    c.check(&["GET", "a"], "$-1\r\n");
    c.check(&["EXISTS", "a", "b"], ":0\r\n");
    // Long enough for an active-expiry cycle (10 a second) to have passed the keys.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(info_u64(&mut c, "stats", "expired_keys"), expired);
    c.check(&["CLIENT", "UNPAUSE"], "+OK\r\n");
    c.check(&["GET", "a"], "$-1\r\n");
    c.check(&["GET", "b"], "$-1\r\n");
    assert_eq!(info_u64(&mut c, "stats", "expired_keys"), expired + 2);
}

#[test]
fn unpause_releases_parked_clients_and_pipelined_requests_keep_their_order() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    let mut writer = d.connect_resp();
    admin.check(&["CLIENT", "PAUSE", "100000", "WRITE"], "+OK\r\n");
    let mut batch = encode(&[b"SET", b"k", b"1"]);
    batch.extend(encode(&[b"GET", b"k"]));
    writer.send(&batch);
    // Parked: nothing comes back while the pause lasts.
    writer
        .stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut b = [0u8; 16];
    assert!(std::io::Read::read(&mut writer.stream, &mut b).is_err());
    writer
        .stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    admin.check(&["CLIENT", "UNPAUSE"], "+OK\r\n");
    assert_eq!(writer.reply(), b"+OK\r\n");
    assert_eq!(writer.reply(), b"$1\r\n1\r\n");
}

/// CLIENT PAUSE holds memcached connections too: WRITE lets reads through and parks a
/// storage command (and what was pipelined after it) until CLIENT UNPAUSE; ALL parks reads.
#[test]
fn pause_holds_memcached_requests() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    let mut mc = d.connect();
    admin.check(&["CLIENT", "PAUSE", "100000", "WRITE"], "+OK\r\n");
    mc.roundtrip(b"get k\r\n", b"END\r\n");
    mc.send(b"set k 0 0 1\r\nv\r\nget k\r\n");
    let silent = |c: &mut Conn| {
        c.stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut b = [0u8; 16];
        let nothing = std::io::Read::read(&mut c.stream, &mut b).is_err();
        c.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        nothing
    };
    assert!(
        silent(&mut mc),
        "a write during CLIENT PAUSE WRITE was answered"
    );
    admin.check(&["GET", "k"], "$-1\r\n");
    admin.check(&["CLIENT", "UNPAUSE"], "+OK\r\n");
    mc.roundtrip(b"", b"STORED\r\nVALUE k 0 1\r\nv\r\nEND\r\n");
    admin.check(&["CLIENT", "PAUSE", "300", "ALL"], "+OK\r\n");
    let began = Instant::now();
    mc.roundtrip(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n");
    assert!(began.elapsed() >= Duration::from_millis(200));
}

#[test]
fn pause_errors() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["CLIENT", "PAUSE", "x"],
        "-ERR timeout is not an integer or out of range\r\n",
    );
    c.check(&["CLIENT", "PAUSE", "-1"], "-ERR timeout is negative\r\n");
    c.check(&["CLIENT", "PAUSE", "10", "READ"], "-ERR syntax error\r\n");
}

#[test]
fn unblock_answers_zero_for_a_client_that_is_not_blocked() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let mut other = d.connect_resp();
    let id = int(&other.cmd(&["CLIENT", "ID"]));
    c.check(&["CLIENT", "UNBLOCK", &id.to_string()], ":0\r\n");
    c.check(&["CLIENT", "UNBLOCK", "99999", "ERROR"], ":0\r\n");
    c.check(
        &["CLIENT", "UNBLOCK", &id.to_string(), "NOW"],
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
    );
    c.check(
        &["CLIENT", "UNBLOCK", "x"],
        "-ERR value is not an integer or out of range\r\n",
    );
}

#[test]
fn reply_off_and_skip() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    send(&mut c, &["CLIENT", "REPLY", "OFF"]);
    send(&mut c, &["SET", "a", "1"]);
    send(&mut c, &["GET", "a"]);
    c.check(&["CLIENT", "REPLY", "ON"], "+OK\r\n");
    send(&mut c, &["CLIENT", "REPLY", "SKIP"]);
    send(&mut c, &["GET", "a"]);
    c.check(&["ECHO", "after"], "$5\r\nafter\r\n");
    c.check(&["CLIENT", "REPLY", "MAYBE"], "-ERR syntax error\r\n");
}

#[test]
fn client_list_shows_flags_subscriptions_and_protocol() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    let mut sub = d.connect_resp();
    let id = int(&sub.cmd(&["CLIENT", "ID"]));
    sub.cmd(&["HELLO", "3"]);
    sub.check(&["CLIENT", "NO-EVICT", "on"], "+OK\r\n");
    send(&mut sub, &["SUBSCRIBE", "a", "b"]);
    sub.reply();
    sub.reply();
    send(&mut sub, &["PSUBSCRIBE", "p*"]);
    sub.reply();
    let line = client_line(&mut admin, id);
    assert_eq!(field(&line, "flags"), "Pe");
    assert_eq!(field(&line, "sub"), "2");
    assert_eq!(field(&line, "psub"), "1");
    assert_eq!(field(&line, "ssub"), "0");
    assert_eq!(field(&line, "resp"), "3");
    assert_eq!(field(&line, "cmd"), "psubscribe");
    let pubsub = admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]);
    assert_eq!(pubsub.matches("id=").count(), 1, "{pubsub}");
    let normal = admin.cmd(&["CLIENT", "LIST", "TYPE", "normal"]);
    assert!(!normal.contains(&format!("id={id} ")), "{normal}");
}

/// CLIENT LIST shows the user each connection authenticated as, and its socket's fd.
#[test]
fn client_list_shows_the_authenticated_user() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    admin.check(
        &["ACL", "SETUSER", "alice", "on", ">pw", "~*", "+@all"],
        "+OK\r\n",
    );
    let mut a = d.connect_resp();
    let id = int(&a.cmd(&["CLIENT", "ID"]));
    assert_eq!(field(&client_line(&mut admin, id), "user"), "default");
    a.check(&["AUTH", "alice", "pw"], "+OK\r\n");
    let line = client_line(&mut admin, id);
    assert_eq!(field(&line, "user"), "alice");
    assert!(field(&line, "fd").parse::<i32>().unwrap() > 2, "{line}");
}

/// A memcached binary request: header, extras, key, value.
fn binary(opcode: u8, extras: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    let body = extras.len() + key.len() + value.len();
    let mut p = vec![0x80, opcode];
    p.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.extend_from_slice(&[extras.len() as u8, 0, 0, 0]);
    p.extend_from_slice(&(body as u32).to_be_bytes());
    p.extend_from_slice(&[0; 12]);
    p.extend_from_slice(extras);
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

/// CLIENT PAUSE WRITE holds binary storage requests too (reads go through); the held SET
/// is answered after CLIENT UNPAUSE.
#[test]
fn pause_holds_memcached_binary_requests() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    let mut mc = d.connect();
    admin.check(&["CLIENT", "PAUSE", "100000", "WRITE"], "+OK\r\n");
    // GET k: a miss (status 1, "Not found").
    mc.send(&binary(0x00, &[], b"k", &[]));
    let miss = mc.read_exact(24 + 9);
    assert_eq!(&miss[..2], &[0x81, 0x00]);
    assert_eq!(&miss[6..8], &[0, 1], "status Key not found");
    mc.send(&binary(0x01, &[0; 8], b"k", b"v"));
    mc.stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut b = [0u8; 8];
    let silent = std::io::Read::read(&mut mc.stream, &mut b).is_err();
    mc.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(
        silent,
        "a binary SET during CLIENT PAUSE WRITE was answered"
    );
    admin.check(&["GET", "k"], "$-1\r\n");
    admin.check(&["CLIENT", "UNPAUSE"], "+OK\r\n");
    let stored = mc.read_exact(24);
    assert_eq!(&stored[..2], &[0x81, 0x01]);
    assert_eq!(&stored[6..8], &[0, 0], "status No error");
    admin.check(&["GET", "k"], "$1\r\nv\r\n");
}

/// Waits until INFO reports `n` blocked clients (CLIENT PAUSE counts the ones it holds).
fn wait_blocked(c: &mut Conn, n: usize) {
    let want = format!("blocked_clients:{n}\r\n");
    let start = Instant::now();
    while !c.cmd(&["INFO", "clients"]).contains(&want) {
        assert!(start.elapsed() < Duration::from_secs(10), "never {want}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// CLIENT PAUSE WRITE holds what may write, as Redis 7.0: an EXEC whose queue writes, a
/// script that declares no flags (or is not known), a function without `no-writes`; it
/// lets through an EXEC of reads and scripts or functions flagged `no-writes`. The held
/// ones run, in order, at CLIENT UNPAUSE.
#[test]
fn pause_write_holds_writing_transactions_and_scripts_only() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    admin.check(&["SET", "k", "v"], "+OK\r\n");
    let lib = "#!lua name=lib\nredis.register_function{function_name='ro', \
               callback=function() return 'ro' end, flags={'no-writes'}}\n\
               redis.register_function('rw', function() return 'rw' end)";
    admin.check(&["FUNCTION", "LOAD", lib], "$3\r\nlib\r\n");
    let mut tx = d.connect_resp();
    tx.check(&["MULTI"], "+OK\r\n");
    tx.check(&["SET", "k", "w"], "+QUEUED\r\n");
    admin.check(&["CLIENT", "PAUSE", "100000", "WRITE"], "+OK\r\n");
    // Let through: reads in a transaction, no-writes scripts and functions.
    let mut c = d.connect_resp();
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["GET", "k"], "+QUEUED\r\n");
    c.check(
        &["EVAL", "#!lua flags=no-writes\nreturn 12", "0"],
        "+QUEUED\r\n",
    );
    c.check(&["EXEC"], "*2\r\n$1\r\nv\r\n:12\r\n");
    c.check(&["EVAL", "#!lua flags=no-writes\nreturn 1", "0"], ":1\r\n");
    c.check(
        &["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"],
        "$1\r\nv\r\n",
    );
    c.check(&["FCALL", "ro", "0"], "$2\r\nro\r\n");
    assert!(admin
        .cmd(&["INFO", "clients"])
        .contains("blocked_clients:0\r\n"));
    // Held: a writing EXEC, scripts without flags, a function without no-writes.
    send(&mut tx, &["EXEC"]);
    wait_blocked(&mut admin, 1);
    let mut eval = d.connect_resp();
    send(&mut eval, &["EVAL", "return 1", "0"]);
    wait_blocked(&mut admin, 2);
    let mut shebang = d.connect_resp();
    send(&mut shebang, &["EVAL", "#!lua\nreturn 2", "0"]);
    wait_blocked(&mut admin, 3);
    let mut fcall = d.connect_resp();
    send(&mut fcall, &["FCALL", "rw", "0"]);
    wait_blocked(&mut admin, 4);
    admin.check(&["GET", "k"], "$1\r\nv\r\n");
    admin.check(&["CLIENT", "UNPAUSE"], "+OK\r\n");
    assert_eq!(tx.reply(), b"*1\r\n+OK\r\n");
    assert_eq!(eval.reply(), b":1\r\n");
    assert_eq!(shebang.reply(), b":2\r\n");
    assert_eq!(fcall.reply(), b"$2\r\nrw\r\n");
    admin.check(&["GET", "k"], "$1\r\nw\r\n");
}

/// `CLIENT LIST cmd=` names the client's own last command, as Redis's `lastcmd`: the
/// commands a script or EXEC ran for it do not replace it (redis-server 7.0.15 shows
/// `cmd=eval`, `cmd=evalsha` and `cmd=exec` here; slabd showed `incr`, `expire`, `set`).
#[test]
fn client_list_cmd_is_the_clients_own_command_not_what_a_script_or_exec_ran() {
    let d = daemon(&[]);
    let mut admin = d.connect_resp();
    let mut c = d.connect_resp();
    let id = int(&c.cmd(&["CLIENT", "ID"]));
    c.check(
        &[
            "EVAL",
            "redis.call('set','k','1') return redis.call('incr','k')",
            "0",
        ],
        ":2\r\n",
    );
    assert_eq!(field(&client_line(&mut admin, id), "cmd"), "eval");
    let sha = c.cmd(&["SCRIPT", "LOAD", "return redis.call('expire','k',100)"]);
    let sha = sha.lines().nth(1).unwrap().to_string();
    c.check(&["EVALSHA", &sha, "0"], ":1\r\n");
    assert_eq!(field(&client_line(&mut admin, id), "cmd"), "evalsha");
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["SET", "a", "1"], "+QUEUED\r\n");
    c.check(&["CLIENT", "INFO"], "+QUEUED\r\n");
    let exec = c.cmd(&["EXEC"]);
    assert!(exec.starts_with("*2\r\n+OK\r\n$"), "{exec:?}");
    assert_eq!(field(&client_line(&mut admin, id), "cmd"), "exec");
}
