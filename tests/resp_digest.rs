//! DEBUG DIGEST and DEBUG DIGEST-VALUE: Redis 7.0's SHA-1 digests, byte for byte. The
//! expected values are redis-server 7.0.15's replies for the same commands.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn digests_are_redis_digests() {
    let d = daemon(&[]);
    let mut r = d.connect_resp();
    let zero = "+0000000000000000000000000000000000000000\r\n";
    r.check(&["DEBUG", "DIGEST"], zero);
    for c in [
        &["SET", "s", "hello"][..],
        &["SET", "n", "12345"],
        &["SET", "e", "x"],
        &["EXPIRE", "e", "1000"],
        &["RPUSH", "l", "a", "b", "12", "c"],
        &["SADD", "set", "1", "2", "3"],
        &["SADD", "sstr", "a", "b", "c"],
        &["HSET", "h", "f", "v", "n", "12"],
        &["ZADD", "z", "1", "a", "2.5", "b", "0.1", "c", "-3", "5"],
        &["ZADD", "zinf", "inf", "x", "-inf", "y"],
    ] {
        assert!(!r.cmd(c).starts_with('-'), "{c:?}");
    }
    for i in 0..300 {
        let (e, m, f, v) = (
            format!("e{i}"),
            format!("m{i}"),
            format!("f{i}"),
            format!("v{i}"),
        );
        let score = format!("{:.17}", f64::from(i) / 7.0);
        r.cmd(&["RPUSH", "lbig", &e]);
        r.cmd(&["SADD", "sbig", &m]);
        r.cmd(&["HSET", "hbig", &f, &v]);
        r.cmd(&["ZADD", "zbig", &score, &m]);
    }
    r.check(&["SELECT", "3"], "+OK\r\n");
    r.cmd(&["SET", "other", "db3"]);
    r.cmd(&["RPUSH", "l3", "x"]);
    r.check(&["SELECT", "0"], "+OK\r\n");
    r.check(
        &["DEBUG", "DIGEST"],
        "+036a3f8a389f272afcbd0494b5f252fb6a5a6855\r\n",
    );
    let keys = [
        "s", "n", "e", "l", "lbig", "set", "sstr", "sbig", "h", "hbig", "z", "zbig", "zinf",
        "missing",
    ];
    let want = [
        "36b23a1456b2dce2c3ed252c456761301dba8060",
        "e1cf90774e995ae03de66e8109dc5cb9d9c2dc83",
        "0745672cb1bf060476eedeb8a28f5ffe1ff5a2be",
        "70f5400e906cf34de59f0e6f7d4bd7128bea405b",
        "4d6e694e1b1365a53f27a294ef45cd97482409eb",
        "2a462a3f51a1db89738ebbeef0c47ce1bbc85246",
        "593c2414786d75446e97f4ea5d4b731f3313da72",
        "d13aaa731d622ad768ec25a6f062fea0c039fe97",
        "76d7ce7d8cb69c65ddb54b94589fa9396351461b",
        "f1e9df12592447a271740bdfa422b91b55b71363",
        "276c9be74f407df33be6fd8fff5a0d75938b14fe",
        "ad2be37aff6564c8ed60f6a7ffeb368f89adb9b1",
        "1e69d16a4da7d9ae58002b2cdcaf09a1736ad76f",
        "0000000000000000000000000000000000000000",
    ];
    let mut args = vec!["DEBUG", "DIGEST-VALUE"];
    args.extend_from_slice(&keys);
    let reply: String = want.iter().map(|w| format!("+{w}\r\n")).collect();
    r.check(&args, &format!("*{}\r\n{reply}", want.len()));
    r.check(&["DEBUG", "DIGEST-VALUE"], "*0\r\n");
    r.check(&["FLUSHALL"], "+OK\r\n");
    r.check(&["DEBUG", "DIGEST"], zero);
}
