//! `INFO commandstats`, `errorstats`, `cpu` and the sections each INFO argument selects, with
//! the field names and line formats redis-server 7.0 prints (checked against it).

mod common;
mod resp_wire;

use resp_wire::{daemon, info_u64, Resp};

/// The value of `field:` in an INFO reply.
fn field(info: &str, field: &str) -> Option<String> {
    info.split("\r\n")
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(str::to_string)
}

/// The `# Name` headers of an INFO reply, in order.
fn headers(info: &str) -> Vec<String> {
    info.split("\r\n")
        .filter_map(|l| l.strip_prefix("# "))
        .map(str::to_string)
        .collect()
}

#[test]
fn sections_selected_as_redis_7_0() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let default = [
        "Server",
        "Clients",
        "Memory",
        "Persistence",
        "Stats",
        "Replication",
        "CPU",
        "Modules",
        "Errorstats",
        "Cluster",
        "Keyspace",
    ];
    let mut all = default.to_vec();
    all.insert(8, "Commandstats");
    all.insert(10, "Latencystats");
    for args in [&["INFO"][..], &["INFO", "default"], &["INFO", "DEFAULT"]] {
        assert_eq!(headers(&c.cmd(args)), default, "{args:?}");
    }
    for args in [&["INFO", "all"][..], &["INFO", "everything"]] {
        assert_eq!(headers(&c.cmd(args)), all, "{args:?}");
    }
    // Each section once, in Redis's order whatever the order asked; unknown names ignored.
    assert_eq!(
        headers(&c.cmd(&["INFO", "keyspace", "commandSTATS", "cpu", "sentinel", "cpu"])),
        ["CPU", "Commandstats", "Keyspace"]
    );
    assert_eq!(headers(&c.cmd(&["INFO", "cpu", "all"])), all);
    let mut default_and_commands = default.to_vec();
    default_and_commands.insert(8, "Commandstats");
    assert_eq!(
        headers(&c.cmd(&["INFO", "commandstats", "default"])),
        default_and_commands
    );
}

#[test]
fn replication_section_is_a_master_without_replicas() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let info = c.cmd(&["INFO", "replication"]);
    assert_eq!(field(&info, "role").as_deref(), Some("master"));
    assert_eq!(field(&info, "master_repl_offset").as_deref(), Some("0"));
    let id = field(&info, "master_replid").unwrap();
    assert!(
        id.len() == 40 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        field(&c.cmd(&["INFO", "replication"]), "master_replid"),
        Some(id)
    );
}

#[test]
fn nothing_is_ever_pending_a_lazy_free() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["SADD", "s", "a", "b"], ":2\r\n");
    c.check(&["UNLINK", "s"], ":1\r\n");
    let info = c.cmd(&["INFO", "memory"]);
    assert_eq!(
        field(&info, "lazyfree_pending_objects").as_deref(),
        Some("0")
    );
    assert_eq!(field(&info, "lazyfreed_objects").as_deref(), Some("0"));
}

#[test]
fn cpu_section_fields() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let cpu = c.cmd(&["INFO", "cpu"]);
    let names: Vec<&str> = cpu
        .split("\r\n")
        .filter_map(|l| l.split_once(':').map(|(k, _)| k))
        .collect();
    assert_eq!(
        names,
        [
            "used_cpu_sys",
            "used_cpu_user",
            "used_cpu_sys_children",
            "used_cpu_user_children",
            "used_cpu_sys_main_thread",
            "used_cpu_user_main_thread"
        ]
    );
    for name in names {
        let v = field(&cpu, name).unwrap();
        let (secs, micros) = v.split_once('.').unwrap();
        assert!(
            secs.parse::<u64>().is_ok() && micros.len() == 6,
            "{name}:{v}"
        );
    }
}

#[test]
fn commandstats_count_calls_rejections_and_failures() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["SET", "k", "v"], "+OK\r\n");
    c.check(&["SET", "n", "1"], "+OK\r\n");
    c.check(&["GET", "k"], "$1\r\nv\r\n");
    c.check(
        &["GET", "k", "x"],
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    c.check(
        &["INCR", "k"],
        "-ERR value is not an integer or out of range\r\n",
    );
    c.check(&["INCR", "n"], ":2\r\n");
    c.cmd(&["NOSUCH"]);
    let stats = c.cmd(&["INFO", "commandstats"]);
    let stat = |name: &str| {
        let v = field(&stats, &format!("cmdstat_{name}")).unwrap_or_else(|| panic!("{stats}"));
        let parts: Vec<(String, String)> = v
            .split(',')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_string(), v.to_string())
            })
            .collect();
        let keys: Vec<&str> = parts.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "calls",
                "usec",
                "usec_per_call",
                "rejected_calls",
                "failed_calls"
            ]
        );
        let num = |k: &str| parts.iter().find(|(n, _)| n == k).unwrap().1.clone();
        let per_call = num("usec_per_call");
        assert_eq!(per_call.split_once('.').unwrap().1.len(), 2, "{per_call}");
        (num("calls"), num("rejected_calls"), num("failed_calls"))
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(stat("set"), s("2", "0", "0"));
    assert_eq!(stat("get"), s("1", "1", "0"));
    assert_eq!(stat("incr"), s("2", "0", "1"));
    assert!(field(&stats, "cmdstat_nosuch").is_none());
    assert!(field(&stats, "cmdstat_del").is_none(), "never called");

    let errors = c.cmd(&["INFO", "errorstats"]);
    assert_eq!(field(&errors, "errorstat_ERR").as_deref(), Some("count=3"));
    let total = c.cmd(&["INFO", "stats"]);
    assert_eq!(field(&total, "total_error_replies").as_deref(), Some("3"));

    c.check(&["CONFIG", "RESETSTAT"], "+OK\r\n");
    let stats = c.cmd(&["INFO", "commandstats", "errorstats"]);
    assert!(field(&stats, "cmdstat_set").is_none(), "{stats}");
    assert!(field(&stats, "errorstat_ERR").is_none(), "{stats}");
    // Counting starts again at once: the INFO just above is counted.
    let stats = c.cmd(&["INFO", "commandstats"]);
    assert!(field(&stats, "cmdstat_info").is_some(), "{stats}");
}

#[test]
fn errors_inside_exec_count_for_their_command() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["MULTI"], "+OK\r\n");
    c.check(&["SET", "a", "b"], "+QUEUED\r\n");
    c.check(&["INCR", "a"], "+QUEUED\r\n");
    c.cmd(&["EXEC"]);
    c.check(&["EXEC"], "-ERR EXEC without MULTI\r\n");
    c.check(&["MULTI"], "+OK\r\n");
    c.check(
        &["SET"],
        "-ERR wrong number of arguments for 'set' command\r\n",
    );
    c.cmd(&["EXEC"]);
    let stats = c.cmd(&["INFO", "commandstats", "errorstats"]);
    let starts = |name: &str, want: &str| {
        let v = field(&stats, &format!("cmdstat_{name}")).unwrap();
        let (calls, rest) = v.split_once(',').unwrap();
        let tail = rest.split_once(",rejected").unwrap().1;
        assert_eq!(format!("{calls},rejected{tail}"), want, "{name}");
    };
    starts("set", "calls=1,rejected_calls=1,failed_calls=0");
    starts("incr", "calls=1,rejected_calls=0,failed_calls=1");
    starts("exec", "calls=3,rejected_calls=0,failed_calls=2");
    starts("multi", "calls=2,rejected_calls=0,failed_calls=0");
    assert_eq!(field(&stats, "errorstat_ERR").as_deref(), Some("count=3"));
    assert_eq!(
        field(&stats, "errorstat_EXECABORT").as_deref(),
        Some("count=1")
    );
}

#[test]
fn a_scripts_own_error_code_is_counted_by_name_in_byte_order() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let reply = |code: &str| {
        let script = format!("return redis.error_reply('{code} custom msg')");
        ["EVAL".to_string(), script, "0".to_string()]
    };
    for code in ["MY_ERR_CODE", "A_CODE", "MY_ERR_CODE"] {
        let args = reply(code);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        c.check(&args, &format!("-{code} custom msg\r\n"));
    }
    // Redis 7.0.15 answers an empty error_reply with "ERR " (code, space, empty message).
    c.check(&["EVAL", "return redis.error_reply('')", "0"], "-ERR \r\n");
    c.check(
        &["INCR", "nokey", "x"],
        "-ERR wrong number of arguments for 'incr' command\r\n",
    );
    let errors = c.cmd(&["INFO", "errorstats"]);
    let lines: Vec<&str> = errors
        .lines()
        .filter(|l| l.starts_with("errorstat_"))
        .collect();
    assert_eq!(
        lines,
        [
            "errorstat_A_CODE:count=1",
            "errorstat_ERR:count=2",
            "errorstat_MY_ERR_CODE:count=2"
        ],
        "{errors}"
    );
    let total = c.cmd(&["INFO", "stats"]);
    assert_eq!(field(&total, "total_error_replies").as_deref(), Some("5"));
    c.check(&["CONFIG", "RESETSTAT"], "+OK\r\n");
    let errors = c.cmd(&["INFO", "errorstats"]);
    assert!(
        field(&errors, "errorstat_MY_ERR_CODE").is_none(),
        "{errors}"
    );
}

#[test]
fn redis_py_parses_the_new_sections() {
    if std::process::Command::new("python3")
        .args(["-c", "import redis"])
        .status()
        .map_or(true, |s| !s.success())
    {
        eprintln!("redis-py not installed: skipped");
        return;
    }
    let d = daemon(&[]);
    let port = d.resp_addr.unwrap().port().to_string();
    let script = r#"
import sys, redis
r = redis.Redis(port=int(sys.argv[1]))
r.set('k', 'v'); r.get('k')
try:
    r.incr('k')
except redis.ResponseError:
    pass
cs = r.info('commandstats')
assert cs['cmdstat_get']['calls'] == 1, cs
assert cs['cmdstat_incrby']['failed_calls'] == 1, cs
assert isinstance(cs['cmdstat_get']['usec_per_call'], float), cs
# redis-py's handshake may send CLIENT SETINFO, which Redis 7.0 refuses too.
errors = r.info('errorstats')['errorstat_ERR']['count']
assert errors >= 1, errors
cpu = r.info('cpu')
assert isinstance(cpu['used_cpu_user'], float), cpu
assert r.info('stats')['total_error_replies'] == errors
assert 'used_cpu_sys_main_thread' in r.info()
print('ok')
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, &port])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "ok",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn latencystats_report_the_configured_percentiles() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let name = "latency-tracking-info-percentiles";
    c.check(
        &["CONFIG", "GET", name],
        "*2\r\n$33\r\nlatency-tracking-info-percentiles\r\n$10\r\n50 99 99.9\r\n",
    );
    c.check(
        &["CONFIG", "SET", name, "10 50 a"],
        "-ERR CONFIG SET failed (possibly related to argument \
         'latency-tracking-info-percentiles') - Invalid latency-tracking-info-percentiles \
         parameters\r\n",
    );
    c.check(
        &["CONFIG", "SET", name, "10 101"],
        "-ERR CONFIG SET failed (possibly related to argument \
         'latency-tracking-info-percentiles') - latency-tracking-info-percentiles \
         parameters should sit between [0.0,100.0]\r\n",
    );
    c.check(&["CONFIG", "SET", name, "0.0 50.0 100.0"], "+OK\r\n");
    c.check(
        &["CONFIG", "GET", name],
        "*2\r\n$33\r\nlatency-tracking-info-percentiles\r\n$8\r\n0 50 100\r\n",
    );
    c.check(&["SET", "k", "v"], "+OK\r\n");
    c.check(&["DEBUG", "SLEEP", "0"], "+OK\r\n");
    let info = c.cmd(&["INFO", "latencystats"]);
    let line = field(&info, "latency_percentiles_usec_set").unwrap_or_else(|| panic!("{info}"));
    let names: Vec<&str> = line
        .split(',')
        .map(|p| p.split('=').next().unwrap())
        .collect();
    assert_eq!(names, ["p0", "p50", "p100"], "{line}");
    // DEBUG has no subcommands in Redis 7.0: one histogram, not `debug|sleep`.
    assert!(
        field(&info, "latency_percentiles_usec_debug").is_some(),
        "{info}"
    );
    c.check(&["CONFIG", "SET", name, ""], "+OK\r\n");
    let info = c.cmd(&["INFO", "latencystats"]);
    assert_eq!(
        field(&info, "latency_percentiles_usec_set").as_deref(),
        Some("")
    );
}

#[test]
fn blocked_commands_count_once_and_unblock_errors_are_counted() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let mut b = d.connect_resp();
    c.check(
        &["EVALSHA", "abcd", "0"],
        "-NOSCRIPT No matching script. Please use EVAL.\r\n",
    );
    // A timeout, an unblock by error and a served pop: three calls, one failed (as Redis).
    b.check(&["BLPOP", "nolist", "0.01"], "*-1\r\n");
    let id = b.cmd(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end();
    b.send(&resp_wire::encode(&[b"BLPOP", b"nolist", b"0"]));
    while info_u64(&mut c, "clients", "blocked_clients") == 0 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    c.check(&["CLIENT", "UNBLOCK", id, "ERROR"], ":1\r\n");
    assert_eq!(
        b.reply(),
        b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    c.check(&["LPUSH", "l", "a"], ":1\r\n");
    b.check(&["BLPOP", "l", "0"], "*2\r\n$1\r\nl\r\n$1\r\na\r\n");
    let stats = c.cmd(&["INFO", "commandstats", "errorstats"]);
    let blpop = field(&stats, "cmdstat_blpop").unwrap_or_else(|| panic!("{stats}"));
    assert!(blpop.starts_with("calls=3,"), "{blpop}");
    assert!(
        blpop.ends_with(",rejected_calls=0,failed_calls=1"),
        "{blpop}"
    );
    let evalsha = field(&stats, "cmdstat_evalsha").unwrap();
    assert!(evalsha.starts_with("calls=1,"), "{evalsha}");
    assert!(evalsha.ends_with(",failed_calls=1"), "{evalsha}");
    assert_eq!(
        field(&stats, "errorstat_UNBLOCKED").as_deref(),
        Some("count=1")
    );
    assert_eq!(
        field(&stats, "errorstat_NOSCRIPT").as_deref(),
        Some("count=1")
    );
    assert_eq!(info_u64(&mut c, "stats", "total_error_replies"), 2);
}
