//! RESP framing against the binary: inline commands, detection on the memcached port,
//! pipelining, requests split at every byte, protocol errors (reply, then close), QUIT.

mod common;
mod resp_wire;

use std::time::Duration;

use resp_wire::{daemon, encode, Resp};

#[test]
fn inline_commands_as_typed_at_telnet() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
    c.roundtrip(b"ping\n", b"+PONG\r\n");
    c.roundtrip(b"SET greeting \"hello world\"\r\n", b"+OK\r\n");
    c.roundtrip(b"GET greeting\r\n", b"$11\r\nhello world\r\n");
    c.roundtrip(
        b"ECHO \"a\\x41\\n\" 'it\\'s'\r\n",
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    );
    c.roundtrip(b"ECHO \"a\\x41\\n\"\r\n", b"$3\r\naA\n\r\n");
    // Blank lines are skipped without a reply.
    c.roundtrip(b"\r\n\r\n   \r\nPING\r\n", b"+PONG\r\n");
}

#[test]
fn resp_is_detected_on_the_memcached_port() {
    let d = daemon(&[]);
    let mut c = d.connect();
    c.roundtrip(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    c.check(&["SET", "k", "v"], "+OK\r\n");
    c.check(&["GET", "k"], "$1\r\nv\r\n");
    // After detection the connection stays RESP: an inline command is Redis's, too.
    c.roundtrip(b"PING\r\n", b"+PONG\r\n");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(encode(&[
            b"SET",
            format!("p{i}").as_bytes(),
            format!("{i}").as_bytes(),
        ]));
        batch.extend(encode(&[b"INCR", b"count"]));
        batch.extend(format!("GET p{i}\r\n").as_bytes());
    }
    c.send(&batch);
    for i in 0..500 {
        assert_eq!(c.reply(), b"+OK\r\n");
        assert_eq!(c.reply(), format!(":{}\r\n", i + 1).as_bytes());
        let v = i.to_string();
        assert_eq!(c.reply(), format!("${}\r\n{v}\r\n", v.len()).as_bytes());
    }
}

#[test]
fn a_request_split_at_every_byte_still_parses() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let req = encode(&[b"SET", b"split", b"a value\r\nwith CRLF"]);
    for (i, byte) in req.iter().enumerate() {
        c.send(&[*byte]);
        if i % 7 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert_eq!(c.reply(), b"+OK\r\n");
    c.check(&["GET", "split"], "$18\r\na value\r\nwith CRLF\r\n");
    let inline = b"SET split2 x\r\n";
    for byte in inline {
        c.send(&[*byte]);
    }
    assert_eq!(c.reply(), b"+OK\r\n");
}

#[test]
fn a_large_value_arriving_in_pieces() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let value = vec![b'z'; 700 * 1024];
    let req = encode(&[b"SET", b"large", &value]);
    for chunk in req.chunks(32 * 1024) {
        c.send(chunk);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(c.reply(), b"+OK\r\n");
    c.send(&encode(&[b"GET", b"large"]));
    let got = c.reply();
    assert_eq!(got.len(), value.len() + 11);
}

fn assert_error_then_close(request: &[u8], want: &str) {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["PING"], "+PONG\r\n");
    c.send(request);
    let got = String::from_utf8_lossy(&c.read_line()).into_owned();
    assert_eq!(got, want, "request {:?}", String::from_utf8_lossy(request));
    assert!(c.closed(), "connection not closed after {want:?}");
}

#[test]
fn protocol_errors_reply_then_close() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"*x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1048577\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*01\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n#3\r\n",
            "-ERR Protocol error: expected '$', got '#'\r\n",
        ),
        (
            b"*1\r\n$-1\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$x\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            // One past proto-max-bulk-len (512 MB).
            b"*2\r\n$3\r\nSET\r\n$536870913\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET a \"b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"SET a 'b'c\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (req, want) in cases {
        assert_error_then_close(req, want);
    }
}

#[test]
fn overlong_lines_without_an_end_are_refused() {
    let mut inline = b"GET ".to_vec();
    inline.resize(70 * 1024, b'a');
    assert_error_then_close(&inline, "-ERR Protocol error: too big inline request\r\n");
    let mut count = b"*".to_vec();
    count.resize(70 * 1024, b'1');
    assert_error_then_close(
        &count,
        "-ERR Protocol error: too big mbulk count string\r\n",
    );
}

#[test]
fn an_announced_huge_multibulk_reserves_nothing() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    // A million arguments announced, two sent: the server waits, and serves others meanwhile.
    c.send(b"*1048576\r\n$3\r\nSET\r\n$1\r\nk\r\n");
    let mut other = d.connect_resp();
    other.check(&["PING"], "+PONG\r\n");
    drop(c);
    other.check(&["DBSIZE"], ":0\r\n");
}

#[test]
fn empty_multibulks_are_skipped() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.roundtrip(b"*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
}

#[test]
fn quit_replies_then_closes() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.send(b"QUIT\r\nPING\r\n");
    assert_eq!(c.read_line(), b"+OK\r\n");
    assert!(c.closed());
}

#[test]
fn unknown_commands_do_not_close() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["NOSUCH", "a", "b"],
        "-ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' \r\n",
    );
    c.check(&["PING"], "+PONG\r\n");
}

#[test]
fn debug_protocol_sends_each_resp_type_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let cases: &[(&str, &str, &str)] = &[
        // (type, RESP2 reply, RESP3 reply)
        ("string", "$11\r\nHello World\r\n", "$11\r\nHello World\r\n"),
        ("integer", ":12345\r\n", ":12345\r\n"),
        ("double", "$5\r\n3.141\r\n", ",3.141\r\n"),
        (
            "bignum",
            "$37\r\n1234567999999999999999999999999999999\r\n",
            "(1234567999999999999999999999999999999\r\n",
        ),
        ("null", "$-1\r\n", "_\r\n"),
        ("array", "*3\r\n:0\r\n:1\r\n:2\r\n", "*3\r\n:0\r\n:1\r\n:2\r\n"),
        ("SET", "*3\r\n:0\r\n:1\r\n:2\r\n", "~3\r\n:0\r\n:1\r\n:2\r\n"),
        (
            "map",
            "*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
            "%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
        ),
        ("true", ":1\r\n", "#t\r\n"),
        ("false", ":0\r\n", "#f\r\n"),
        (
            "verbatim",
            "$25\r\nThis is a verbatim\nstring\r\n",
            "=29\r\ntxt:This is a verbatim\nstring\r\n",
        ),
        (
            "push",
            "-ERR RESP2 is not supported by this command\r\n",
            ">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n",
        ),
        (
            "attrib",
            "$39\r\nSome real reply following the attribute\r\n",
            "|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n\
             $39\r\nSome real reply following the attribute\r\n",
        ),
        (
            "nosuch",
            "-ERR Wrong protocol type name. Please use one of the following: \
             string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false\r\n",
            "-ERR Wrong protocol type name. Please use one of the following: \
             string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false\r\n",
        ),
    ];
    for resp3 in [false, true] {
        if resp3 {
            c.send(&encode(&[b"HELLO", b"3"]));
            c.reply();
        }
        for (name, two, three) in cases {
            let want = if resp3 { three } else { two };
            c.roundtrip(
                &encode(&[b"DEBUG", b"PROTOCOL", name.as_bytes()]),
                want.as_bytes(),
            );
        }
    }
}

#[test]
fn a_repeated_command_is_found_in_any_case_and_a_subcommand_name_is_no_command() {
    // A connection remembers its last command's place in the command table: a request
    // naming the same command (any case) reuses it, anything else is looked up afresh.
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["SET", "k", "v"], "+OK\r\n");
    c.check(&["set", "k2", "w"], "+OK\r\n");
    c.check(&["GET", "k"], "$1\r\nv\r\n");
    c.check(&["gEt", "k2"], "$1\r\nw\r\n");
    c.check(
        &["GE", "k"],
        "-ERR unknown command 'GE', with args beginning with: 'k' \r\n",
    );
    c.check(&["GET", "k"], "$1\r\nv\r\n");
    c.check(
        &["GETX", "k"],
        "-ERR unknown command 'GETX', with args beginning with: 'k' \r\n",
    );
    c.check(&["GET", "k"], "$1\r\nv\r\n");
    c.check(
        &["GET"],
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    // CLIENT UNBLOCK shows as `client|unblock` in CLIENT LIST; that name runs nothing.
    c.check(&["CLIENT", "UNBLOCK", "999999"], ":0\r\n");
    c.check(
        &["client|unblock", "999999"],
        "-ERR unknown command 'client|unblock', with args beginning with: '999999' \r\n",
    );
    c.check(&["CLIENT", "UNBLOCK", "999999"], ":0\r\n");
    c.check(&["get", "k"], "$1\r\nv\r\n");
}
