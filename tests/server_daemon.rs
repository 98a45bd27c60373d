//! The daemon as a process: listeners, connection limits, timeouts, buffering bounds,
//! pipelining, split requests, signals, flags and the config file.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Daemon;

fn slabd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slabd"))
}

/// Runs slabd with `args`, expecting it to exit at once; returns (exit code, stderr).
fn run_to_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = slabd()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run slabd");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn starts_on_a_free_port_and_answers() {
    let d = Daemon::start(&["-t", "2"]);
    assert_ne!(d.addr.port(), 0);
    let mut c = d.connect();
    c.send(b"version\r\n");
    let line = c.read_line();
    assert!(line.starts_with(b"VERSION "), "{line:?}");
}

#[test]
fn connections_past_the_limit_are_told_and_closed() {
    let d = Daemon::start(&["-c", "2"]);
    let mut a = d.connect();
    let mut b = d.connect();
    a.roundtrip(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n");
    b.roundtrip(b"get k\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n");
    let mut third = d.connect();
    assert_eq!(third.read_line(), b"ERROR Too many open connections\r\n");
    assert!(third.closed());
    // The two accepted connections are unaffected, and a slot frees when one closes.
    a.roundtrip(b"get k\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n");
    drop(b);
    let mut again = loop {
        let mut c = d.connect();
        c.send(b"get k\r\n");
        let line = c.read_line();
        if line != b"ERROR Too many open connections\r\n" {
            assert_eq!(line, b"VALUE k 0 1\r\n");
            break c;
        }
        // The close of `b` may not have been seen yet; the refused socket is dropped.
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(again.read_line(), b"x\r\n");
}

#[test]
fn idle_connections_are_closed_after_idle_timeout() {
    let d = Daemon::start(&["-o", "idle_timeout=1"]);
    let mut idle = d.connect();
    idle.roundtrip(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n");
    // closed() reads until EOF or its 10 s timeout: the server must close within it.
    assert!(idle.closed());
    let mut fresh = d.connect();
    fresh.roundtrip(b"get k\r\n", b"VALUE k 0 1\r\nx\r\nEND\r\n");
}

#[test]
fn a_client_that_never_reads_is_bounded_and_others_are_served() {
    let d = Daemon::start(&["-t", "1", "-m", "64"]);
    let mut setup = d.connect();
    let value = vec![b'v'; 100_000];
    let mut req = b"set big 0 0 100000\r\n".to_vec();
    req.extend_from_slice(&value);
    req.extend_from_slice(b"\r\n");
    setup.roundtrip(&req, b"STORED\r\n");
    let before = resident_kib(d.pid());

    // 3000 gets ask for 300 MB of replies that this client never reads.
    let mut hog = std::net::TcpStream::connect(d.addr).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let gets = b"get big\r\n".repeat(3000);
    let _ = hog.write_all(&gets);

    // The same worker thread still serves another connection.
    for _ in 0..20 {
        setup.roundtrip(b"get missing\r\n", b"END\r\n");
    }
    let after = resident_kib(d.pid());
    assert!(
        after < before + 64 * 1024,
        "resident memory grew from {before} KiB to {after} KiB"
    );
    drop(hog);
    setup.roundtrip(b"get missing\r\n", b"END\r\n");
}

#[test]
fn thousands_of_pipelined_requests_in_one_write() {
    let d = Daemon::start(&["-R", "5"]);
    let mut c = d.connect();
    let mut req = Vec::new();
    let mut expect = Vec::new();
    for i in 0..5000 {
        req.extend_from_slice(
            format!("set key{i} 0 0 {}\r\n{i}\r\n", i.to_string().len()).as_bytes(),
        );
        expect.extend_from_slice(b"STORED\r\n");
    }
    for i in (0..5000).step_by(7) {
        req.extend_from_slice(format!("get key{i}\r\n").as_bytes());
        expect.extend_from_slice(
            format!("VALUE key{i} 0 {}\r\n{i}\r\nEND\r\n", i.to_string().len()).as_bytes(),
        );
    }
    c.roundtrip(&req, &expect);
}

#[test]
fn requests_split_at_every_byte() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    let req = b"set split 5 0 4\r\nab\r\n\r\nget split\r\n";
    for &b in req.iter() {
        c.send(&[b]);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(c.read_exact(8), b"STORED\r\n");
    assert_eq!(c.read_line(), b"VALUE split 5 4\r\n");
    assert_eq!(c.read_line(), b"ab\r\n");
    assert_eq!(c.read_line(), b"\r\n");
    assert_eq!(c.read_line(), b"END\r\n");
}

#[test]
fn sigterm_finishes_and_exits_zero() {
    let d = Daemon::start(&[]);
    let mut c = d.connect();
    c.roundtrip(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n");
    let status = d.terminate();
    assert!(status.success(), "{status:?}");
    assert!(c.closed());
}

#[test]
fn shutdown_command_needs_dash_a() {
    let d = Daemon::start(&["-A"]);
    let mut c = d.connect();
    c.send(b"shutdown\r\n");
    assert!(d.wait().success());
}

#[test]
fn bad_flags_exit_non_zero_naming_the_flag() {
    for (args, named) in [
        (&["-Q"][..], "-Q"),
        (&["--no-such-flag"], "--no-such-flag"),
        (&["-p", "notaport"], "-p"),
        (&["-U", "70000"], "Invalid port number 70000"),
        (
            &["-S", "-U", "11311"],
            "Cannot enable UDP while using binary SASL",
        ),
        (&["-o", "bogus"], "Illegal suboption \"bogus\""),
        (&["-I", "1x"], "-I"),
        (&["-c", "0"], "-c"),
    ] {
        let (code, stderr) = run_to_exit(args);
        assert!(
            matches!(code, Some(c) if c != 0),
            "{args:?} exited {code:?}"
        );
        let first = stderr.lines().next().unwrap_or("");
        assert!(first.contains(named), "{args:?}: {stderr}");
        assert!(stderr.contains("usage"), "{args:?}: {stderr}");
    }
}

#[test]
fn version_and_help_exit_zero() {
    let out = slabd().arg("-V").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("slabd "));
    let out = slabd().arg("-h").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--max-item-size"));
}

#[test]
fn config_file_is_read_and_the_command_line_wins() {
    let dir = std::env::temp_dir().join(format!("slabd-test-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("memcached.conf");
    // The harness's own `-p -1` comes first on the command line and overrides `-p 1`.
    std::fs::write(&path, "# test\n-p 1\n\n-c 1\n-m 16\n").unwrap();
    let d = Daemon::start(&["--config", path.to_str().unwrap()]);
    let mut a = d.connect();
    a.roundtrip(b"set k 0 0 1\r\nx\r\n", b"STORED\r\n");
    let mut b = d.connect();
    assert_eq!(b.read_line(), b"ERROR Too many open connections\r\n");

    std::fs::write(&path, "-m 16\n-o no_such_option\n").unwrap();
    let (code, stderr) = run_to_exit(&["--config", path.to_str().unwrap()]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("no_such_option"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unix_socket_with_mask() {
    let dir = std::env::temp_dir().join(format!("slabd-test-sock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("slabd.sock");
    let mut child = slabd()
        .args(["-s", path.to_str().unwrap(), "-a", "600"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Past the start-up warnings (running as root in CI).
    let mut lines = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .filter(|l| !l.as_ref().is_ok_and(|l| l.starts_with("WARNING")));
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, format!("listening on unix {}", path.display()));
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut s = UnixStream::connect(&path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"set u 0 0 2\r\nok\r\nget u\r\n").unwrap();
    let expect = b"STORED\r\nVALUE u 0 2\r\nok\r\nEND\r\n";
    let mut got = vec![0; expect.len()];
    s.read_exact(&mut got).unwrap();
    assert_eq!(got, expect);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert!(child.wait().unwrap().success());
    assert!(!path.exists(), "socket file left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_client_that_sends_and_half_closes_gets_its_replies_then_eof() {
    // With -c 1 every round needs the previous connection to have been closed.
    let d = Daemon::start(&["-c", "1"]);
    for _ in 0..5 {
        let mut c = loop {
            let mut c = d.connect();
            c.send(b"set k 0 0 1\r\nx\r\nget k\r\n");
            c.stream.shutdown(std::net::Shutdown::Write).unwrap();
            let line = c.read_line();
            if line != b"ERROR Too many open connections\r\n" {
                assert_eq!(line, b"STORED\r\n");
                break c;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(c.read_line(), b"VALUE k 0 1\r\n");
        assert_eq!(c.read_line(), b"x\r\n");
        assert_eq!(c.read_line(), b"END\r\n");
        assert!(c.closed());
    }
}

/// `stats` as a map from stat name to value.
fn stats(c: &mut common::Conn) -> std::collections::HashMap<String, String> {
    c.send(b"stats\r\n");
    let text = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("STAT "))
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn connection_counters_and_yields_reach_stats() {
    let d = Daemon::start(&["-c", "2", "-R", "2", "-t", "1"]);
    let mut a = d.connect();
    let mut b = d.connect();
    // Pipelined far past -R: the connection yields to others between turns.
    let req = b"get nothing\r\n".repeat(1000);
    b.roundtrip(&req, &b"END\r\n".repeat(1000));
    let mut refused = d.connect();
    assert_eq!(refused.read_line(), b"ERROR Too many open connections\r\n");
    let s = stats(&mut a);
    assert_eq!(s["curr_connections"], "2");
    assert_eq!(s["total_connections"], "2");
    assert_eq!(s["rejected_connections"], "1");
    assert!(
        s["conn_yields"].parse::<u64>().unwrap() > 0,
        "{}",
        s["conn_yields"]
    );
    assert!(s["bytes_read"].parse::<u64>().unwrap() >= req.len() as u64);
    assert!(s["bytes_written"].parse::<u64>().unwrap() >= 5000);
}
