//! SLOWLOG and LATENCY (monitor events, per-command histograms, INFO latencystats).

mod common;
mod resp_wire;

use resp_wire::{daemon, int, Resp};

#[test]
fn slowlog_records_commands_past_the_threshold() {
    let d = daemon(&["--slowlog-log-slower-than", "0"]);
    let mut c = d.connect_resp();
    let addr = c.cmd(&["CLIENT", "INFO"]);
    let addr = addr
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    c.check(&["CLIENT", "SETNAME", "me"], "+OK\r\n");
    c.check(&["SLOWLOG", "RESET"], "+OK\r\n");
    c.check(&["SET", "foo", "bar"], "+OK\r\n");
    let got = c.cmd(&["SLOWLOG", "GET", "1"]);
    let want_tail = format!(
        "*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n${}\r\n{addr}\r\n$2\r\nme\r\n",
        addr.len()
    );
    assert!(got.starts_with("*1\r\n*6\r\n:3\r\n:"), "{got}");
    assert!(got.ends_with(&want_tail), "{got}");
    // RESET, SET, GET: three entries now, newest first.
    assert_eq!(int(&c.cmd(&["SLOWLOG", "LEN"])), 3);
    c.check(&["CONFIG", "SET", "slowlog-max-len", "2"], "+OK\r\n");
    c.cmd(&["PING"]);
    assert_eq!(int(&c.cmd(&["SLOWLOG", "LEN"])), 2);
    c.check(
        &["SLOWLOG", "GET", "-2"],
        "-ERR count should be greater than or equal to -1\r\n",
    );
    c.check(
        &["SLOWLOG", "NOPE"],
        "-ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.\r\n",
    );
    c.check(
        &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
        "+OK\r\n",
    );
    c.check(&["SLOWLOG", "RESET"], "+OK\r\n");
    c.cmd(&["PING"]);
    assert_eq!(int(&c.cmd(&["SLOWLOG", "LEN"])), 0);
}

#[test]
fn slowlog_cuts_long_arguments_and_long_commands_as_redis() {
    let d = daemon(&["--slowlog-log-slower-than", "0"]);
    let mut c = d.connect_resp();
    let long = "x".repeat(200);
    c.check(&["SET", "k", &long], "+OK\r\n");
    let got = c.cmd(&["SLOWLOG", "GET", "1"]);
    let cut = format!("$147\r\n{}... (72 more bytes)\r\n", "x".repeat(128));
    assert!(got.contains(&cut), "{got}");
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let mut args = vec!["DEL"];
    args.extend(keys.iter().map(String::as_str));
    c.cmd(&args);
    let got = c.cmd(&["SLOWLOG", "GET", "1"]);
    assert!(got.contains("*32\r\n$3\r\nDEL\r\n$2\r\nk0\r\n"), "{got}");
    assert!(got.contains("$23\r\n... (10 more arguments)\r\n"), "{got}");
}

#[test]
fn latency_histograms_count_calls_per_command() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["CONFIG", "RESETSTAT"], "+OK\r\n");
    c.check(&["SET", "a", "b"], "+OK\r\n");
    c.check(&["SET", "c", "d"], "+OK\r\n");
    c.check(&["GET", "a"], "$1\r\nb\r\n");
    let h = c.cmd(&["LATENCY", "HISTOGRAM", "set", "nosuch"]);
    assert!(
        h.starts_with("*2\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n:2\r\n$14\r\nhistogram_usec\r\n*"),
        "{h}"
    );
    // The last cumulative count is every call.
    assert!(h.ends_with(":2\r\n"), "{h}");
    c.check(&["LATENCY", "HISTOGRAM", "blabla"], "*0\r\n");
    c.cmd(&["HELLO", "3"]);
    let h = c.cmd(&["LATENCY", "HISTOGRAM", "get"]);
    assert!(
        h.starts_with(
            "%1\r\n$3\r\nget\r\n%2\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n%1\r\n"
        ),
        "{h}"
    );
    let info = c.cmd(&["INFO", "latencystats"]);
    assert!(info.contains("# Latencystats\r\n"), "{info}");
    assert!(info.contains("latency_percentiles_usec_set:p50="), "{info}");
    assert!(!c.cmd(&["INFO"]).contains("latencystats"));
}

#[test]
fn latency_monitor_commands() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["LATENCY", "LATEST"], "*0\r\n");
    c.check(&["LATENCY", "HISTORY", "command"], "*0\r\n");
    c.check(&["LATENCY", "RESET"], ":0\r\n");
    let doctor = c.cmd(&["LATENCY", "DOCTOR"]);
    assert!(
        doctor.contains("Latency monitoring is disabled"),
        "{doctor}"
    );
    c.check(
        &["LATENCY", "GRAPH", "command"],
        "-ERR No samples available for event 'command'\r\n",
    );
    c.check(
        &["LATENCY", "FOO"],
        "-ERR unknown subcommand 'FOO'. Try LATENCY HELP.\r\n",
    );
    c.check(
        &["CONFIG", "SET", "latency-monitor-threshold", "200"],
        "+OK\r\n",
    );
    let doctor = c.cmd(&["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("no latency spike was observed"), "{doctor}");
}

/// memcached commands go through the same slow log (the command line's words, no data
/// block) and have latency histograms of their own (`memcache|set`).
#[test]
fn memcached_commands_are_in_the_slow_log_and_histograms() {
    let d = daemon(&["--slowlog-log-slower-than", "0"]);
    let mut c = d.connect_resp();
    c.check(&["SLOWLOG", "RESET"], "+OK\r\n");
    let mut mc = d.connect();
    mc.roundtrip(b"set k 0 0 2\r\nhi\r\n", b"STORED\r\n");
    mc.roundtrip(b"get k\r\n", b"VALUE k 0 2\r\nhi\r\nEND\r\n");
    let got = c.cmd(&["SLOWLOG", "GET", "2"]);
    assert!(got.starts_with("*2\r\n*6\r\n:2\r\n:"), "{got}");
    assert!(got.contains("*2\r\n$3\r\nget\r\n$1\r\nk\r\n"), "{got}");
    assert!(
        got.contains("*5\r\n$3\r\nset\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\n0\r\n$1\r\n2\r\n"),
        "{got}"
    );
    let h = c.cmd(&["LATENCY", "HISTOGRAM", "memcache|set", "memcache|get"]);
    assert!(
        h.starts_with("*4\r\n$12\r\nmemcache|get\r\n*4\r\n$5\r\ncalls\r\n:1\r\n"),
        "{h}"
    );
    assert!(
        h.contains("$12\r\nmemcache|set\r\n*4\r\n$5\r\ncalls\r\n:1\r\n"),
        "{h}"
    );
}

/// Binary memcached requests are in the slow log as the text command they match and their
/// key, and counted in that command's histogram.
#[test]
fn memcached_binary_requests_are_in_the_slow_log_and_histograms() {
    let d = daemon(&["--slowlog-log-slower-than", "0"]);
    let mut c = d.connect_resp();
    c.check(&["SLOWLOG", "RESET"], "+OK\r\n");
    let mut mc = d.connect();
    // SET k (flags 0, exptime 0) = "hi", then GET k.
    let mut set = vec![0x80, 0x01, 0, 1, 8, 0, 0, 0, 0, 0, 0, 11];
    set.extend_from_slice(&[0; 12]);
    set.extend_from_slice(&[0; 8]);
    set.extend_from_slice(b"khi");
    mc.send(&set);
    assert_eq!(&mc.read_exact(24)[..2], &[0x81, 0x01]);
    let mut get = vec![0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    get.extend_from_slice(&[0; 12]);
    get.push(b'k');
    mc.send(&get);
    assert_eq!(&mc.read_exact(24 + 4 + 2)[28..], b"hi");
    let got = c.cmd(&["SLOWLOG", "GET", "2"]);
    assert!(got.starts_with("*2\r\n*6\r\n:2\r\n:"), "{got}");
    assert!(got.contains("*2\r\n$3\r\nget\r\n$1\r\nk\r\n"), "{got}");
    assert!(got.contains("*2\r\n$3\r\nset\r\n$1\r\nk\r\n"), "{got}");
    let h = c.cmd(&["LATENCY", "HISTOGRAM", "memcache|set", "memcache|get"]);
    assert!(
        h.starts_with("*4\r\n$12\r\nmemcache|get\r\n*4\r\n$5\r\ncalls\r\n:1\r\n"),
        "{h}"
    );
    assert!(
        h.contains("$12\r\nmemcache|set\r\n*4\r\n$5\r\ncalls\r\n:1\r\n"),
        "{h}"
    );
}

/// Secrets are in the slow log as `(redacted)`, as Redis 7.0 keeps them: AUTH's arguments,
/// HELLO's AUTH pair, everything after ACL SETUSER, CONFIG SET requirepass's value.
#[test]
fn slowlog_redacts_secrets() {
    let d = daemon(&["--slowlog-log-slower-than", "0"]);
    let mut c = d.connect_resp();
    c.check(&["SLOWLOG", "RESET"], "+OK\r\n");
    c.cmd(&["AUTH", "pw1"]);
    c.cmd(&["HELLO", "2", "AUTH", "u", "pw2"]);
    c.check(&["ACL", "SETUSER", "bob", ">pw3"], "+OK\r\n");
    c.check(
        &["CONFIG", "SET", "slowlog-max-len", "128", "requirepass", ""],
        "+OK\r\n",
    );
    let got = c.cmd(&["SLOWLOG", "GET", "4"]);
    assert!(!got.contains("pw"), "{got}");
    let r = "$10\r\n(redacted)\r\n";
    for want in [
        format!("*6\r\n$6\r\nCONFIG\r\n$3\r\nSET\r\n$15\r\nslowlog-max-len\r\n$3\r\n128\r\n$11\r\nrequirepass\r\n{r}"),
        format!("*4\r\n$3\r\nACL\r\n$7\r\nSETUSER\r\n{r}{r}"),
        format!("*5\r\n$5\r\nHELLO\r\n$1\r\n2\r\n$4\r\nAUTH\r\n{r}{r}"),
        format!("*2\r\n$4\r\nAUTH\r\n{r}"),
    ] {
        assert!(got.contains(&want), "{want:?} in {got}");
    }
}

/// DEBUG SLEEP blocks for that long: one slow-log entry and one latency-monitor sample.
#[test]
fn debug_sleep_is_a_slow_command() {
    let d = daemon(&["--slowlog-log-slower-than", "100000"]);
    let mut c = d.connect_resp();
    c.check(
        &["CONFIG", "SET", "latency-monitor-threshold", "100"],
        "+OK\r\n",
    );
    c.check(&["DEBUG", "SLEEP", "0"], "+OK\r\n");
    c.check(&["DEBUG", "SLEEP", "nonsense"], "+OK\r\n");
    assert_eq!(int(&c.cmd(&["SLOWLOG", "LEN"])), 0);
    c.check(&["DEBUG", "SLEEP", "0.15"], "+OK\r\n");
    let got = c.cmd(&["SLOWLOG", "GET"]);
    assert!(
        got.contains("*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$4\r\n0.15\r\n"),
        "{got}"
    );
    let latest = c.cmd(&["LATENCY", "LATEST"]);
    assert!(
        latest.starts_with("*1\r\n*4\r\n$7\r\ncommand\r\n:"),
        "{latest}"
    );
}

/// DEBUG SET-ACTIVE-EXPIRE 0 stops background expiry: an expired key is reclaimed only
/// when read (`expired_keys` counts it then).
#[test]
fn debug_set_active_expire_holds_background_expiry() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"], "+OK\r\n");
    c.check(&["SET", "k", "v", "PX", "1"], "+OK\r\n");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let stats = c.cmd(&["INFO", "stats"]);
    assert!(stats.contains("expired_keys:0\r\n"), "{stats}");
    c.check(&["GET", "k"], "$-1\r\n");
    let stats = c.cmd(&["INFO", "stats"]);
    assert!(stats.contains("expired_keys:1\r\n"), "{stats}");
    c.check(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"], "+OK\r\n");
    c.check(&["DEBUG", "PAUSE-CRON", "0"], "+OK\r\n");
}
