//! One user model on every port and protocol: with a password set, nothing runs before
//! login, whichever protocol a client speaks; ACL rules apply to memcached commands too.

mod common;
mod resp_wire;

use common::Conn;
use resp_wire::{daemon, Resp};

/// Names and arities of every command the server lists in `COMMAND`.
fn command_table(c: &mut Conn) -> Vec<(String, i64)> {
    c.send(b"*1\r\n$7\r\nCOMMAND\r\n");
    let header = c.read_line();
    let n: usize = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    let mut out = Vec::new();
    for _ in 0..n {
        let entry = c.reply();
        let text = String::from_utf8_lossy(&entry).into_owned();
        let mut lines = text.split("\r\n");
        lines.next(); // *N
        lines.next(); // $len
        let name = lines.next().unwrap().to_string();
        let arity: i64 = lines.next().unwrap()[1..].parse().unwrap();
        out.push((name, arity));
    }
    out
}

#[test]
fn every_resp_command_waits_for_auth_on_both_ports() {
    let d = daemon(&["--requirepass", "s3cret"]);
    let mut admin = d.connect_resp();
    admin.check(&["AUTH", "s3cret"], "+OK\r\n");
    let table = command_table(&mut admin);
    assert!(table.len() > 40, "{} commands", table.len());
    for port in [d.resp_addr.unwrap(), d.addr] {
        let mut c = Conn::new(std::net::TcpStream::connect(port).unwrap());
        for (name, arity) in &table {
            if ["auth", "hello", "quit", "reset"].contains(&name.as_str()) {
                continue;
            }
            let mut args = vec![name.as_str()];
            args.extend(std::iter::repeat_n("x", arity.unsigned_abs() as usize - 1));
            let want = if name == "exec" {
                // Redis words a refused EXEC as the transaction's abort.
                "-EXECABORT Transaction discarded because of: NOAUTH Authentication required.\r\n"
            } else {
                "-NOAUTH Authentication required.\r\n"
            };
            c.check(&args, want);
        }
    }
    admin.check(&["DBSIZE"], ":0\r\n");
}

#[test]
fn every_memcached_command_waits_for_auth() {
    let d = daemon(&["--requirepass", "s3cret"]);
    let unauth = "CLIENT_ERROR unauthenticated\r\n";
    let mut c = d.connect();
    let lines: &[&str] = &[
        "get a",
        "gets a b",
        "gat 0 a",
        "gats 0 a",
        "delete a",
        "incr a 1",
        "decr a 1",
        "touch a 0",
        "flush_all",
        "stats",
        "stats items",
        "version",
        "verbosity 1",
        "mg a v",
        "md a",
        "ma a",
        "mn",
        "me a",
        "cache_memlimit 100",
        "slabs automove 1",
        "lru_crawler crawl all",
        "shutdown",
        "watch",
        "bogus",
    ];
    for line in lines {
        c.roundtrip(format!("{line}\r\n").as_bytes(), unauth.as_bytes());
    }
    // Storage commands: the line is refused and, as memcached does, the data line after it
    // is read as another command.
    for verb in ["add", "replace", "append", "prepend"] {
        c.send(format!("{verb} a 0 0 1\r\nx\r\n").as_bytes());
        assert_eq!(
            c.read_exact(2 * unauth.len()),
            [unauth, unauth].concat().as_bytes()
        );
    }
    c.roundtrip(b"cas a 0 0 1 1\r\n", unauth.as_bytes());
    c.roundtrip(b"ms a 1\r\n", unauth.as_bytes());
    // `set` is the login exchange: a bad token or password logs nothing in.
    c.roundtrip(
        b"set a 0 0 1\r\nx\r\n",
        b"CLIENT_ERROR bad authentication token format\r\n",
    );
    c.roundtrip(
        b"set a 0 0 13\r\ndefault wrong\r\n",
        b"CLIENT_ERROR authentication failure\r\n",
    );
    c.roundtrip(b"get a\r\n", unauth.as_bytes());
    // Nothing reached the store, and the server is still up.
    let mut admin = d.connect_resp();
    admin.check(&["AUTH", "s3cret"], "+OK\r\n");
    admin.check(&["DBSIZE"], ":0\r\n");
    // The default user's password logs a memcached client in.
    c.roundtrip(b"set a 0 0 14\r\ndefault s3cret\r\n", b"STORED\r\n");
    c.roundtrip(b"set k 0 0 1\r\nv\r\n", b"STORED\r\n");
    c.roundtrip(b"get k\r\n", b"VALUE k 0 1\r\nv\r\nEND\r\n");
    admin.check(&["GET", "k"], "$1\r\nv\r\n");
}

#[test]
fn no_password_means_no_login() {
    let d = daemon(&[]);
    let mut c = d.connect();
    c.roundtrip(b"set k 0 0 1\r\nv\r\n", b"STORED\r\n");
    let mut r = d.connect_resp();
    r.check(&["ACL", "WHOAMI"], "$7\r\ndefault\r\n");
    r.check(&["GET", "k"], "$1\r\nv\r\n");
}

#[test]
fn acl_users_apply_to_memcached_commands() {
    let d = daemon(&["--requirepass", "s3cret"]);
    let mut admin = d.connect_resp();
    admin.check(&["AUTH", "s3cret"], "+OK\r\n");
    admin.check(
        &["ACL", "SETUSER", "reader", "on", ">rpw", "+get", "%R~pub:*"],
        "+OK\r\n",
    );
    admin.check(
        &[
            "ACL",
            "SETUSER",
            "writer",
            "on",
            ">wpw",
            "+@write",
            "+@read",
            "-@dangerous",
            "~mine:*",
        ],
        "+OK\r\n",
    );
    admin.check(&["SET", "pub:1", "hello"], "+OK\r\n");
    admin.check(&["SET", "secret", "x"], "+OK\r\n");
    let denied = "CLIENT_ERROR NOPERM this user has no permissions to run this command\r\n";

    let mut r = d.connect();
    r.roundtrip(b"set a 0 0 10\r\nreader rpw\r\n", b"STORED\r\n");
    r.roundtrip(b"get pub:1\r\n", b"VALUE pub:1 0 5\r\nhello\r\nEND\r\n");
    r.roundtrip(b"get secret\r\n", denied.as_bytes());
    r.roundtrip(b"get pub:1 secret\r\n", denied.as_bytes());
    r.roundtrip(b"set pub:1 0 0 1\r\nx\r\n", denied.as_bytes());
    r.roundtrip(b"delete pub:1\r\n", denied.as_bytes());
    r.roundtrip(b"flush_all\r\n", denied.as_bytes());
    r.roundtrip(b"stats\r\n", denied.as_bytes());
    r.roundtrip(b"mg pub:1 v\r\n", b"VA 5\r\nhello\r\n");
    r.roundtrip(b"ms pub:1 1\r\nx\r\n", denied.as_bytes());
    // noreply: refused silently, as memcached treats noreply errors.
    r.roundtrip(b"delete pub:1 noreply\r\nmn\r\n", b"MN\r\n");

    let mut w = d.connect();
    w.roundtrip(b"set a 0 0 10\r\nwriter wpw\r\n", b"STORED\r\n");
    w.roundtrip(b"set mine:1 0 0 1\r\n1\r\n", b"STORED\r\n");
    w.roundtrip(b"incr mine:1 5\r\n", b"6\r\n");
    w.roundtrip(b"set pub:1 0 0 1\r\nx\r\n", denied.as_bytes());
    w.roundtrip(b"flush_all\r\n", denied.as_bytes());
    admin.check(&["GET", "pub:1"], "$5\r\nhello\r\n");
    admin.check(&["GET", "mine:1"], "$1\r\n6\r\n");
}

#[test]
fn acl_permission_matrix_over_resp() {
    let d = daemon(&[]);
    let mut admin = d.connect_resp();
    admin.check(
        &[
            "ACL",
            "SETUSER",
            "ro",
            "on",
            ">pw",
            "+@read",
            "~*",
            "-@dangerous",
        ],
        "+OK\r\n",
    );
    admin.check(
        &[
            "ACL",
            "SETUSER",
            "rw",
            "on",
            ">pw",
            "+@all",
            "-flushall",
            "%R~r:*",
            "%W~w:*",
            "~rw:*",
        ],
        "+OK\r\n",
    );
    admin.check(&["SET", "r:1", "a"], "+OK\r\n");
    let mut ro = d.connect_resp();
    ro.check(&["AUTH", "ro", "pw"], "+OK\r\n");
    ro.check(&["GET", "r:1"], "$1\r\na\r\n");
    ro.check(
        &["SET", "r:1", "b"],
        "-NOPERM this user has no permissions to run the 'set' command\r\n",
    );
    ro.check(
        &["CONFIG", "GET", "maxmemory"],
        "-NOPERM this user has no permissions to run the 'config|get' command\r\n",
    );
    let mut rw = d.connect_resp();
    rw.check(&["AUTH", "rw", "pw"], "+OK\r\n");
    let nokey = "-NOPERM this user has no permissions to access one of the keys used as \
                 arguments\r\n";
    rw.check(&["GET", "r:1"], "$1\r\na\r\n");
    rw.check(&["SET", "r:1", "x"], nokey);
    rw.check(&["SET", "w:1", "x"], "+OK\r\n");
    rw.check(&["GET", "w:1"], nokey);
    rw.check(&["SET", "w:1", "x", "GET"], nokey);
    rw.check(&["INCR", "rw:1"], ":1\r\n");
    rw.check(&["MSET", "w:2", "a", "other", "b"], nokey);
    rw.check(
        &["FLUSHALL"],
        "-NOPERM this user has no permissions to run the 'flushall' command\r\n",
    );
    rw.check(&["ACL", "WHOAMI"], "$2\r\nrw\r\n");
    // A rule change applies to logged-in connections at their next command.
    admin.check(&["ACL", "SETUSER", "rw", "-get"], "+OK\r\n");
    rw.check(
        &["GET", "r:1"],
        "-NOPERM this user has no permissions to run the 'get' command\r\n",
    );
    admin.check(
        &["ACL", "DRYRUN", "rw", "SET", "r:1", "x"],
        "$52\r\nThis user has no permissions to access the 'r:1' key\r\n",
    );
    admin.check(&["ACL", "DRYRUN", "rw", "SET", "w:1", "x"], "+OK\r\n");
    // Deleting a user closes its connections at once.
    admin.check(&["ACL", "DELUSER", "rw"], ":1\r\n");
    assert!(rw.closed());
    let log = admin.cmd(&["ACL", "LOG"]);
    assert!(log.contains("$6\r\nreason\r\n$3\r\nkey\r\n"), "{log}");
}

#[test]
fn failed_auth_is_logged_and_counted() {
    let d = daemon(&["--requirepass", "s3cret"]);
    let mut c = d.connect_resp();
    c.check(
        &["AUTH", "nobody", "x"],
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    c.check(&["AUTH", "s3cret"], "+OK\r\n");
    let log = c.cmd(&["ACL", "LOG"]);
    assert!(log.starts_with("*1\r\n"), "{log}");
    assert!(log.contains("$6\r\nreason\r\n$4\r\nauth\r\n"), "{log}");
    assert!(log.contains("$6\r\nobject\r\n$4\r\nAUTH\r\n"), "{log}");
    assert!(log.contains("$8\r\nusername\r\n$6\r\nnobody\r\n"), "{log}");
    c.check(&["ACL", "LOG", "RESET"], "+OK\r\n");
    c.check(&["ACL", "LOG"], "*0\r\n");
}

/// A binary-protocol request: opcode, extras, key, value.
fn binary(opcode: u8, extras: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    let body = extras.len() + key.len() + value.len();
    let mut v = vec![0x80, opcode];
    v.extend_from_slice(&(key.len() as u16).to_be_bytes());
    v.push(extras.len() as u8);
    v.extend_from_slice(&[0, 0, 0]);
    v.extend_from_slice(&(body as u32).to_be_bytes());
    v.extend_from_slice(&[0; 12]);
    v.extend_from_slice(extras);
    v.extend_from_slice(key);
    v.extend_from_slice(value);
    v
}

/// Reads one binary response; returns (status, value).
fn binary_reply(c: &mut Conn) -> (u16, Vec<u8>) {
    let h = c.read_exact(24);
    let status = u16::from_be_bytes([h[6], h[7]]);
    let body = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
    let (keylen, extlen) = (u16::from_be_bytes([h[2], h[3]]) as usize, h[4] as usize);
    let b = c.read_exact(body);
    (status, b[extlen + keylen..].to_vec())
}

#[test]
fn binary_protocol_logs_in_with_sasl_and_obeys_the_acl() {
    let d = daemon(&["--requirepass", "s3cret"]);
    let mut admin = d.connect_resp();
    admin.check(&["AUTH", "s3cret"], "+OK\r\n");
    admin.check(
        &["ACL", "SETUSER", "reader", "on", ">rpw", "+get", "%R~pub:*"],
        "+OK\r\n",
    );
    admin.check(&["SET", "pub:1", "hello"], "+OK\r\n");
    // Unauthenticated: memcached's auth error, and the connection is closed.
    let mut c = d.connect();
    c.send(&binary(0x00, &[], b"pub:1", b""));
    assert_eq!(binary_reply(&mut c).0, 0x20);
    assert!(c.closed());
    // SASL PLAIN as an ACL user.
    let mut c = d.connect();
    c.send(&binary(0x21, &[], b"PLAIN", b"\0reader\0wrong"));
    assert_eq!(binary_reply(&mut c).0, 0x20);
    let mut c = d.connect();
    c.send(&binary(0x21, &[], b"PLAIN", b"\0reader\0rpw"));
    assert_eq!(binary_reply(&mut c), (0, b"Authenticated".to_vec()));
    c.send(&binary(0x00, &[], b"pub:1", b""));
    assert_eq!(binary_reply(&mut c), (0, b"hello".to_vec()));
    // Outside the user's rules: refused, nothing changed.
    c.send(&binary(0x01, &[0; 8], b"pub:1", b"x"));
    assert_eq!(binary_reply(&mut c).0, 0x20);
    c.send(&binary(0x00, &[], b"secret", b""));
    assert_eq!(binary_reply(&mut c).0, 0x20);
    admin.check(&["GET", "pub:1"], "$5\r\nhello\r\n");
}

#[test]
fn rules_changed_before_exec_refuse_the_queued_command() {
    let d = daemon(&[]);
    let mut admin = d.connect_resp();
    admin.check(
        &["ACL", "SETUSER", "t", "on", "nopass", "+@all", "~*"],
        "+OK\r\n",
    );
    let mut c = d.connect_resp();
    c.check(&["AUTH", "t", "x"], "+OK\r\n");
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["INCR", "n"], "+QUEUED\r\n");
    admin.check(&["ACL", "SETUSER", "t", "-incr"], "+OK\r\n");
    c.check(
        &["EXEC"],
        "*1\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated \
         and the EXEC call. This command is no longer allowed for the following reason: no \
         permission to execute the command or subcommand\r\n",
    );
    let log = admin.cmd(&["ACL", "LOG", "1"]);
    assert!(log.contains("$7\r\ncontext\r\n$5\r\nmulti\r\n"), "{log}");
}
