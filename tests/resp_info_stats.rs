//! `INFO commandstats`, `errorstats`, `cpu` and the sections each INFO argument selects, with
//! the field names and line formats redis-server 7.0 prints (checked against it).

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

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
