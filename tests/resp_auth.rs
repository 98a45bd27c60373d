//! `--requirepass`: every command but AUTH, HELLO and QUIT is refused until the client
//! authenticates; tighter framing limits apply before that, as in Redis.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn commands_wait_for_auth() {
    let d = daemon(&["--requirepass", "sekret"]);
    let mut c = d.connect_resp();
    c.check(&["GET", "a"], "-NOAUTH Authentication required.\r\n");
    c.check(&["PING"], "-NOAUTH Authentication required.\r\n");
    // Unknown commands and arity are checked first, as Redis does.
    c.check(
        &["FOO"],
        "-ERR unknown command 'FOO', with args beginning with: \r\n",
    );
    c.check(
        &["GET"],
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.check(
        &["HELLO", "3"],
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO AUTH <user> <pass> option can be used to authenticate the client and select the \
         RESP protocol version at the same time\r\n",
    );
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    c.check(&["AUTH", "wrong"], wrongpass);
    c.check(&["AUTH", "default", "wrong"], wrongpass);
    c.check(&["AUTH", "someone", "sekret"], wrongpass);
    c.check(&["HELLO", "2", "AUTH", "default", "wrong"], wrongpass);
    c.check(&["AUTH", "sekret"], "+OK\r\n");
    c.check(&["PING"], "+PONG\r\n");
    let mut d2 = d.connect_resp();
    let hello = d2.cmd(&["HELLO", "3", "AUTH", "default", "sekret", "SETNAME", "me"]);
    assert!(hello.starts_with("%7\r\n"), "{hello}");
    d2.check(&["CLIENT", "GETNAME"], "$2\r\nme\r\n");
    let mut d3 = d.connect_resp();
    d3.send(b"QUIT\r\n");
    assert_eq!(d3.read_line(), b"+OK\r\n");
}

#[test]
fn auth_without_a_password_configured() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["AUTH", "x"],
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n",
    );
    c.check(&["AUTH", "default", "anything"], "+OK\r\n");
    c.check(&["AUTH", "a", "b", "c"], "-ERR syntax error\r\n");
}

#[test]
fn unauthenticated_clients_get_tight_framing_limits() {
    let d = daemon(&["--requirepass", "sekret"]);
    let mut c = d.connect_resp();
    c.send(b"*11\r\n");
    assert_eq!(
        c.read_line(),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(c.closed());
    let mut c = d.connect_resp();
    c.send(b"*2\r\n$3\r\nGET\r\n$16385\r\n");
    assert_eq!(
        c.read_line(),
        b"-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    assert!(c.closed());
}

#[test]
fn config_set_requirepass_applies_to_new_connections() {
    let d = daemon(&[]);
    let mut admin = d.connect_resp();
    admin.check(&["CONFIG", "SET", "requirepass", "pw"], "+OK\r\n");
    // Connected clients stay logged in, as in Redis.
    admin.check(&["PING"], "+PONG\r\n");
    let mut c = d.connect_resp();
    c.check(&["PING"], "-NOAUTH Authentication required.\r\n");
    c.check(&["AUTH", "pw"], "+OK\r\n");
    c.check(
        &["CONFIG", "GET", "requirepass"],
        "*2\r\n$11\r\nrequirepass\r\n$2\r\npw\r\n",
    );
    c.check(&["CONFIG", "SET", "requirepass", ""], "+OK\r\n");
    let mut open = d.connect_resp();
    open.check(&["PING"], "+PONG\r\n");
}

#[test]
fn auth_is_counted() {
    let d = daemon(&["--requirepass", "pw"]);
    let mut c = d.connect_resp();
    c.check(
        &["AUTH", "bad"],
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.check(&["AUTH", "pw"], "+OK\r\n");
    // The memcached protocol logs in too (its ASCII auth exchange), and is counted.
    let mut mc = d.connect();
    mc.roundtrip(b"set a 0 0 10\r\ndefault pw\r\n", b"STORED\r\n");
    mc.send(b"stats\r\n");
    let stats = String::from_utf8(mc.read_until(b"END\r\n")).unwrap();
    assert!(stats.contains("STAT auth_cmds 3\r\n"), "{stats}");
    assert!(stats.contains("STAT auth_errors 1\r\n"), "{stats}");
}

#[test]
fn transactions_wait_for_auth() {
    let d = daemon(&["--requirepass", "sekret"]);
    let mut c = d.connect_resp();
    // Redis 7.0's replies: a refused EXEC is reworded as an abort.
    c.check(
        &["EXEC"],
        "-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n",
    );
    c.check(&["MULTI"], "-NOAUTH Authentication required.\r\n");
    c.check(&["WATCH", "k"], "-NOAUTH Authentication required.\r\n");
    c.check(&["AUTH", "sekret"], "+OK\r\n");
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["EXEC"], "*0\r\n");
}
