//! ACL changes reach connections already open: subscribers whose channel permission is
//! revoked are closed (Redis 7.0), as are the connections of deleted users, and CLIENT
//! LIST names the user each connection logged in as.

mod common;
mod resp_wire;

use common::Conn;
use resp_wire::{daemon, Resp};

fn login(c: &mut Conn, user: &str, name: &str) {
    c.check(&["AUTH", user, "pw"], "+OK\r\n");
    c.check(&["CLIENT", "SETNAME", name], "+OK\r\n");
}

fn subscribe(c: &mut Conn, cmd: &str, channel: &str) {
    let kind = cmd.to_ascii_lowercase();
    let want = format!(
        "*3\r\n${}\r\n{kind}\r\n${}\r\n{channel}\r\n:1\r\n",
        kind.len(),
        channel.len()
    );
    c.check(&[cmd, channel], &want);
}

#[test]
fn subscribers_lose_their_connection_with_their_channel_permission() {
    let d = daemon(&[]);
    let mut admin = d.connect_resp();
    admin.check(
        &[
            "ACL",
            "SETUSER",
            "ps",
            "on",
            ">pw",
            "+@all",
            "~*",
            "resetchannels",
            "&foo:1",
            "&orders",
            "&bar:*",
        ],
        "+OK\r\n",
    );
    let mut chan = d.connect_resp();
    login(&mut chan, "ps", "chan");
    subscribe(&mut chan, "SUBSCRIBE", "foo:1");
    let mut shard = d.connect_resp();
    login(&mut shard, "ps", "shard");
    subscribe(&mut shard, "SSUBSCRIBE", "orders");
    let mut pat = d.connect_resp();
    login(&mut pat, "ps", "pat");
    subscribe(&mut pat, "PSUBSCRIBE", "bar:*");
    // The same user, not subscribed: kept.
    let mut plain = d.connect_resp();
    login(&mut plain, "ps", "plain");
    let list = admin.cmd(&["CLIENT", "LIST"]);
    assert!(
        list.contains("name=chan ") && list.contains("user=ps "),
        "{list}"
    );
    assert!(list.contains(" user=default "), "{list}");
    // Widening keeps everyone (Redis's "pardoned" case).
    admin.check(&["ACL", "SETUSER", "ps", "&baz", "&zoo:*"], "+OK\r\n");
    let list = admin.cmd(&["CLIENT", "LIST"]);
    for n in ["chan", "shard", "pat", "plain"] {
        assert!(list.contains(&format!("name={n} ")), "{n}: {list}");
    }
    // Revoking the literal channels: the channel and shard subscribers go; the pattern
    // subscriber's `bar:*` is still allowed.
    admin.check(
        &["ACL", "SETUSER", "ps", "resetchannels", "&bar:*"],
        "+OK\r\n",
    );
    let list = admin.cmd(&["CLIENT", "LIST"]);
    assert!(
        !list.contains("name=chan ") && !list.contains("name=shard "),
        "{list}"
    );
    assert!(
        list.contains("name=pat ") && list.contains("name=plain "),
        "{list}"
    );
    assert!(chan.closed());
    assert!(shard.closed());
    // A pattern must be allowed as a pattern: `&bar:1` does not cover PSUBSCRIBE bar:*.
    admin.check(
        &["ACL", "SETUSER", "ps", "resetchannels", "&bar:1"],
        "+OK\r\n",
    );
    assert!(pat.closed());
    plain.check(&["PING"], "+PONG\r\n");
    // Deleting the user closes its remaining connections at once.
    admin.check(&["ACL", "DELUSER", "ps"], ":1\r\n");
    let list = admin.cmd(&["CLIENT", "LIST"]);
    assert!(!list.contains("name=plain "), "{list}");
    assert!(plain.closed());
}

#[test]
fn memcached_logins_show_their_user_in_client_list() {
    let d = daemon(&["--requirepass", "secret"]);
    let mut admin = d.connect_resp();
    admin.check(&["AUTH", "secret"], "+OK\r\n");
    admin.check(
        &["ACL", "SETUSER", "mc", "on", ">pw", "+@all", "~*"],
        "+OK\r\n",
    );
    let mut mc = d.connect();
    mc.roundtrip(b"set x 0 0 5\r\nmc pw\r\n", b"STORED\r\n");
    mc.roundtrip(b"get nothing\r\n", b"END\r\n");
    let list = admin.cmd(&["CLIENT", "LIST"]);
    assert!(list.contains(" user=mc "), "{list}");
    // RESET logs a RESP connection back in as the default user.
    let mut r = d.connect_resp();
    r.check(&["AUTH", "mc", "pw"], "+OK\r\n");
    r.check(&["CLIENT", "SETNAME", "resetme"], "+OK\r\n");
    assert!(admin.cmd(&["CLIENT", "LIST"]).contains("name=resetme "));
    r.check(&["RESET"], "+RESET\r\n");
    let list = admin.cmd(&["CLIENT", "LIST"]);
    assert!(
        list.lines().filter(|l| l.contains(" user=mc ")).count() == 1,
        "{list}"
    );
}
