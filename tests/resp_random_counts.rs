//! HRANDFIELD and SRANDMEMBER with huge negative counts (a file of its own: its million-pick
//! replies would compete with the other large tests of resp_set.rs for the CPU).

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

/// The bulk strings of an array reply.
fn bulks(reply: &str) -> Vec<String> {
    reply
        .split("\r\n")
        .filter(|l| !l.starts_with('$') && !l.starts_with('*') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// SRANDMEMBER and HRANDFIELD with a negative count return every pick, as Redis does,
/// beyond the 1,048,576 slabd once stopped at; with no normal-class hard output limit a
/// reply past 512 MB is an error in RESP form (the connection stays usable); past a
/// configured limit the client is closed, as Redis closes it.
#[test]
fn huge_negative_random_counts_answer_in_full_or_with_an_error() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    r.check(&["SADD", "s", "1", "2", "3"], ":3\r\n");
    r.check(&["HSET", "h", "f", "v"], ":1\r\n");
    let reply = r.cmd(&["SRANDMEMBER", "s", "-1100000"]);
    assert!(reply.starts_with("*1100000\r\n"), "{}", &reply[..20]);
    assert_eq!(reply.matches("$1\r\n").count(), 1_100_000);
    let reply = r.cmd(&["HRANDFIELD", "h", "-100000", "WITHVALUES"]);
    assert!(reply.starts_with("*200000\r\n"), "{}", &reply[..20]);
    assert_eq!(reply.matches("$1\r\nv\r\n").count(), 100_000);
    let too_large =
        "-ERR count is out of range: the reply would be larger than 536870912 bytes\r\n";
    r.check(&["SRANDMEMBER", "s", "-9223372036854775807"], too_large);
    r.check(&["HRANDFIELD", "h", "-9223372036854775807"], too_large);
    r.check(&["SRANDMEMBER", "nokey", "-9223372036854775807"], "*0\r\n");
    r.check(&["PING"], "+PONG\r\n");
    // Under a 1 MB hard limit, Redis's behaviour: a reply past it stops there and the
    // client is closed before any of it is sent; 20,000 picks of 100-byte members take
    // 2.1 MB, 5,000 fit.
    r.check(
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 0 0",
        ],
        "+OK\r\n",
    );
    let big = "x".repeat(100);
    r.check(&["SADD", "b", &big], ":1\r\n");
    for args in [
        &["SRANDMEMBER", "b", "-20000"][..],
        &["SRANDMEMBER", "b", "-200000"],
        &["HRANDFIELD", "h", "-600000", "WITHVALUES"],
    ] {
        let mut c = d.connect_resp();
        c.send(&resp_wire::encode(
            &args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>(),
        ));
        assert!(c.closed(), "{args:?}");
        assert_eq!(c.read_until(b""), b"", "{args:?}");
    }
    assert_eq!(bulks(&r.cmd(&["SRANDMEMBER", "b", "-5000"])).len(), 5000);
    r.check(&["SCARD", "b"], ":1\r\n");
}
