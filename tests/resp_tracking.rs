//! Client-side caching: CLIENT TRACKING in default, BCAST, OPTIN and NOLOOP modes, RESP3
//! pushes and RESP2 redirection to `__redis__:invalidate`, invalidations caused by writes
//! from another worker and from the memcached protocol.

mod common;
mod resp_wire;

use common::Conn;
use resp_wire::{daemon, encode, int, Resp};

fn send(c: &mut Conn, args: &[&str]) {
    let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    c.send(&encode(&raw));
}

fn next(c: &mut Conn) -> String {
    String::from_utf8_lossy(&c.reply()).into_owned()
}

fn push(key: &str) -> String {
    format!(
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n${}\r\n{key}\r\n",
        key.len()
    )
}

fn resp3(c: &mut Conn) {
    c.cmd(&["HELLO", "3"]);
}

/// A RESP2 client subscribed to `__redis__:invalidate`, and its client id (for REDIRECT).
fn redirect_sink(d: &common::Daemon) -> (Conn, i64) {
    let mut sink = d.connect_resp();
    let sink_id = int(&sink.cmd(&["CLIENT", "ID"]));
    send(&mut sink, &["SUBSCRIBE", "__redis__:invalidate"]);
    next(&mut sink);
    (sink, sink_id)
}

#[test]
fn default_mode_invalidates_a_read_key_once() {
    let d = daemon(&["-t", "2"]);
    let mut c = d.connect_resp();
    let mut w = d.connect_resp();
    resp3(&mut c);
    c.check(&["CLIENT", "TRACKING", "ON"], "+OK\r\n");
    c.check(&["GET", "k"], "_\r\n");
    w.check(&["SET", "k", "1"], "+OK\r\n");
    assert_eq!(next(&mut c), push("k"));
    // Not read since: a second write sends nothing.
    w.check(&["SET", "k", "2"], "+OK\r\n");
    c.check(&["PING"], "+PONG\r\n");
    // Read again, then changed over memcached.
    c.check(&["GET", "k"], "$1\r\n2\r\n");
    let mut mc = d.connect();
    mc.roundtrip(b"delete k\r\n", b"DELETED\r\n");
    assert_eq!(next(&mut c), push("k"));
    c.check(&["CLIENT", "TRACKING", "OFF"], "+OK\r\n");
    c.check(&["GET", "k"], "_\r\n");
    w.check(&["SET", "k", "3"], "+OK\r\n");
    c.check(&["PING"], "+PONG\r\n");
}

#[test]
fn resp2_clients_get_invalidations_through_a_redirect_subscriber() {
    let d = daemon(&["-t", "2"]);
    let (mut sink, sink_id) = redirect_sink(&d);
    let mut c = d.connect_resp();
    c.check(
        &["CLIENT", "TRACKING", "ON", "REDIRECT", &sink_id.to_string()],
        "+OK\r\n",
    );
    c.check(&["CLIENT", "GETREDIR"], &format!(":{sink_id}\r\n"));
    c.check(&["MGET", "a", "b"], "*2\r\n$-1\r\n$-1\r\n");
    let mut w = d.connect_resp();
    w.check(&["MSET", "b", "1", "a", "2"], "+OK\r\n");
    let msg = |k: &str| {
        format!("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\n{k}\r\n")
    };
    assert_eq!(next(&mut sink), msg("b"));
    assert_eq!(next(&mut sink), msg("a"));
    c.check(
        &["CLIENT", "TRACKING", "ON", "REDIRECT", "999999"],
        "-ERR The client ID you want redirect to does not exist\r\n",
    );
}

/// The redirect client quits: the tracking client (RESP3) gets `tracking-redir-broken`
/// with the lost client's id instead of the invalidation, and TRACKINGINFO says so.
#[test]
fn a_gone_redirect_client_is_reported_to_the_tracking_client() {
    let d = daemon(&["-t", "2"]);
    let mut sink = d.connect_resp();
    let sink_id = int(&sink.cmd(&["CLIENT", "ID"]));
    let mut c = d.connect_resp();
    resp3(&mut c);
    c.check(
        &["CLIENT", "TRACKING", "ON", "REDIRECT", &sink_id.to_string()],
        "+OK\r\n",
    );
    c.check(&["GET", "k"], "_\r\n");
    sink.check(&["QUIT"], "+OK\r\n");
    let mut w = d.connect_resp();
    w.check(&["SET", "k", "1"], "+OK\r\n");
    let id = sink_id.to_string();
    assert_eq!(
        next(&mut c),
        format!(">2\r\n$21\r\ntracking-redir-broken\r\n:{id}\r\n")
    );
    c.check(
        &["CLIENT", "TRACKINGINFO"],
        &format!(
            "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n\
             $8\r\nredirect\r\n:{id}\r\n$8\r\nprefixes\r\n*0\r\n"
        ),
    );
}

#[test]
fn bcast_prefixes_and_noloop() {
    let d = daemon(&["-t", "2"]);
    let mut c = d.connect_resp();
    resp3(&mut c);
    c.check(
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "NOLOOP",
        ],
        "+OK\r\n",
    );
    let mut w = d.connect_resp();
    w.check(&["SET", "user:1", "x"], "+OK\r\n");
    assert_eq!(next(&mut c), push("user:1"));
    w.check(&["SET", "other", "x"], "+OK\r\n");
    // Its own write is not sent back (NOLOOP).
    c.check(&["SET", "user:2", "y"], "+OK\r\n");
    c.check(&["PING"], "+PONG\r\n");
    let info = c.cmd(&["CLIENT", "TRACKINGINFO"]);
    assert_eq!(
        info,
        "%3\r\n$5\r\nflags\r\n~3\r\n$2\r\non\r\n$5\r\nbcast\r\n$6\r\nnoloop\r\n\
         $8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*1\r\n$5\r\nuser:\r\n"
    );
}

/// A key a NOLOOP client's own read finds expired (lazy expiry, inside its MULTI) is no
/// write of that client: its redirect gets the invalidation (Redis's unit/tracking "lazy
/// expired keys"; active expiry off so the read, not the clock thread, finds it).
#[test]
fn a_lazy_expiry_found_by_a_noloop_client_is_still_sent() {
    let d = daemon(&["-t", "2"]);
    let (mut sink, sink_id) = redirect_sink(&d);
    let mut c = d.connect_resp();
    c.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"], "+OK\r\n");
    let redirect = sink_id.to_string();
    c.check(
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", &redirect, "NOLOOP",
        ],
        "+OK\r\n",
    );
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["SET", "k", "v", "PX", "1"], "+QUEUED\r\n");
    c.check(&["SET", "other", "v"], "+QUEUED\r\n");
    c.check(&["DEBUG", "SLEEP", "0.05"], "+QUEUED\r\n");
    c.check(&["GET", "k"], "+QUEUED\r\n");
    c.check(&["EXEC"], "*4\r\n+OK\r\n+OK\r\n+OK\r\n$-1\r\n");
    assert_eq!(
        next(&mut sink),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n"
    );
    // Nothing else (its own writes of k and other stay hidden by NOLOOP).
    send(&mut sink, &["PING"]);
    assert_eq!(next(&mut sink), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn optin_tracks_only_after_caching_yes() {
    let d = daemon(&["-t", "2"]);
    let mut c = d.connect_resp();
    resp3(&mut c);
    c.check(&["CLIENT", "TRACKING", "ON", "OPTIN"], "+OK\r\n");
    c.check(&["GET", "a"], "_\r\n");
    c.check(&["CLIENT", "CACHING", "yes"], "+OK\r\n");
    c.check(&["GET", "b"], "_\r\n");
    let mut w = d.connect_resp();
    w.check(&["SET", "a", "1"], "+OK\r\n");
    w.check(&["SET", "b", "1"], "+OK\r\n");
    assert_eq!(next(&mut c), push("b"));
    c.check(
        &["CLIENT", "CACHING", "no"],
        "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n",
    );
}

#[test]
fn tracking_errors_and_state() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["CLIENT", "GETREDIR"], ":-1\r\n");
    c.check(
        &["CLIENT", "CACHING", "yes"],
        "-ERR CLIENT CACHING can be called only when the client is in tracking mode with \
         OPTIN or OPTOUT mode enabled\r\n",
    );
    c.check(
        &["CLIENT", "TRACKING", "ON", "PREFIX", "a"],
        "-ERR PREFIX option requires BCAST mode to be enabled\r\n",
    );
    c.check(
        &["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"],
        "-ERR You can't specify both OPTIN mode and OPTOUT mode\r\n",
    );
    // Options are read for OFF too (redis-py sends `OFF REDIRECT id`), as Redis 7.0 does.
    let own = c.cmd(&["CLIENT", "ID"]);
    let own = own.trim_start_matches(':').trim_end();
    c.check(&["CLIENT", "TRACKING", "OFF", "REDIRECT", own], "+OK\r\n");
    c.check(&["CLIENT", "TRACKING", "OFF", "BCAST", "NOLOOP"], "+OK\r\n");
    c.check(
        &["CLIENT", "TRACKING", "OFF", "WHAT"],
        "-ERR syntax error\r\n",
    );
    c.check(
        &["CLIENT", "TRACKING", "ON", "REDIRECT", own, "REDIRECT", own],
        "-ERR A client can only redirect to a single other client\r\n",
    );
    c.check(&["CLIENT", "TRACKING", "ON", "OPTIN"], "+OK\r\n");
    c.check(
        &["CLIENT", "TRACKING", "ON", "OPTOUT"],
        "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, \
         and then re-enabling it with a different mode.\r\n",
    );
    c.check(&["CLIENT", "TRACKING", "OFF"], "+OK\r\n");
    c.check(
        &[
            "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a",
        ],
        "-ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single \
         client must not overlap.\r\n",
    );
    c.check(&["CLIENT", "TRACKING", "MAYBE"], "-ERR syntax error\r\n");
    c.check(&["CLIENT", "TRACKING", "ON"], "+OK\r\n");
    c.check(&["CLIENT", "GETREDIR"], ":0\r\n");
    let list = c.cmd(&["CLIENT", "INFO"]);
    assert!(list.contains(" flags=t "), "{list}");
    assert!(list.contains(" redir=0 "), "{list}");
    c.check(
        &["CLIENT", "TRACKINGINFO"],
        "*6\r\n$5\r\nflags\r\n*1\r\n$2\r\non\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n",
    );
}

/// Scripts, as Redis 7.0 tracks them: a script that calls a read-only command makes the
/// client track the script's declared keys (not the keys it read); one that only writes
/// or pings tracks nothing, EVAL_RO included.
#[test]
fn scripts_track_their_declared_keys_when_they_read() {
    let d = daemon(&["-t", "2"]);
    let mut c = d.connect_resp();
    let mut w = d.connect_resp();
    resp3(&mut c);
    c.check(&["CLIENT", "TRACKING", "ON"], "+OK\r\n");
    c.check(
        &["EVAL", "redis.call('set', 'k3', 'bar')", "2", "k1", "k2"],
        "_\r\n",
    );
    c.check(&["EVAL_RO", "redis.call('ping')", "2", "k1", "k2"], "_\r\n");
    w.check(&["MSET", "k1", "1", "k2", "1"], "+OK\r\n");
    c.check(&["PING"], "+PONG\r\n");
    c.check(
        &["EVAL", "redis.call('get', 'k3')", "2", "k1", "k2"],
        "_\r\n",
    );
    w.check(&["MSET", "k2", "2", "k1", "2", "k3", "x"], "+OK\r\n");
    assert_eq!(next(&mut c), push("k2"));
    assert_eq!(next(&mut c), push("k1"));
    c.check(&["PING"], "+PONG\r\n");
}

/// A lowered `tracking-table-max-keys` applies at the next command of any client (Redis
/// checks it before each command): the key pushed out is invalidated, and a tracking
/// client's own invalidation precedes its next reply, even inside MULTI.
#[test]
fn lowered_table_limit_invalidates_before_the_next_reply() {
    let d = daemon(&["-t", "2"]);
    let mut c = d.connect_resp();
    let mut admin = d.connect_resp();
    resp3(&mut c);
    c.check(&["CLIENT", "TRACKING", "ON"], "+OK\r\n");
    c.check(&["MGET", "a", "b"], "*2\r\n_\r\n_\r\n");
    c.check(&["MULTI"], "+OK\r\n");
    admin.check(&["DEBUG", "PAUSE-CRON", "1"], "+OK\r\n");
    admin.check(
        &["CONFIG", "SET", "tracking-table-max-keys", "1"],
        "+OK\r\n",
    );
    send(&mut c, &["PING"]);
    let got = c.read_until(b"+QUEUED\r\n");
    let got = String::from_utf8_lossy(&got).into_owned();
    assert!(
        got == format!("{}+QUEUED\r\n", push("a")) || got == format!("{}+QUEUED\r\n", push("b")),
        "{got}"
    );
    c.check(&["EXEC"], "*1\r\n+PONG\r\n");
    let stats = admin.cmd(&["INFO", "stats"]);
    assert!(stats.contains("tracking_total_keys:1\r\n"), "{stats}");
}
