//! Safe defaults: protected mode, the root warning and `--refuse-root`, users from the
//! config file.

mod common;
mod resp_wire;

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Command, Stdio};

use common::Conn;
use resp_wire::Resp;

/// The tests named `netns_*` need a client that is not on loopback. They run in a
/// network namespace of their own (`unshare -rn`: a user namespace too, so no root is
/// needed where user namespaces are allowed), where 10.9.9.1 is added to the loopback
/// interface: a connection to that address comes from it, a non-loopback peer. The tests
/// without the prefix run the test binary again that way and check its verdict.
const PRIVATE_IP: &str = "10.9.9.1";

fn run_in_network_namespace(filter: &str, tests: usize) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("unshare")
        .arg("-rn")
        .arg(&exe)
        .args([filter, "--include-ignored", "--test-threads", "1"])
        .env("SLABD_TEST_NETNS", "1")
        .output()
        .expect("unshare (util-linux) runs the network tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains(&format!("test result: ok. {tests} passed")),
        "the tests in a network namespace of their own failed (unshare -rn needs user \
         namespaces, and `ip` from iproute2):\n{text}"
    );
}

/// In the namespace: loopback up, with a second, non-loopback address.
fn private_network() -> IpAddr {
    assert!(
        std::env::var_os("SLABD_TEST_NETNS").is_some(),
        "run by the test of the same name without netns_, inside unshare -rn"
    );
    for args in [
        vec!["link", "set", "lo", "up"],
        vec!["addr", "replace", "10.9.9.1/32", "dev", "lo"],
    ] {
        let st = Command::new("ip")
            .args(&args)
            .status()
            .expect("ip (iproute2)");
        assert!(st.success(), "ip {args:?}");
    }
    PRIVATE_IP.parse().unwrap()
}

#[test]
fn protected_mode_refuses_remote_clients_without_a_password() {
    run_in_network_namespace("netns_protected_mode", 2);
}

#[test]
#[ignore = "runs inside a network namespace: protected_mode_refuses_remote_clients_without_a_password"]
fn netns_protected_mode_refuses_remote_clients_without_a_password() {
    let ip = private_network();
    let (_d, ports) = listening(&["-l", &ip.to_string(), "--resp-port", "0"]);
    let port = |kind: &str, host: IpAddr| {
        ports
            .iter()
            .find(|(k, a)| k == kind && a.ip() == host)
            .map(|(_, a)| a.port())
            .unwrap()
    };
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let remote = |kind: &str| Conn::new(TcpStream::connect((ip, port(kind, ip))).unwrap());
    let mut r = remote("resp");
    r.send(b"*1\r\n$4\r\nPING\r\n");
    let line = String::from_utf8(r.read_line()).unwrap();
    assert!(
        line.starts_with("-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user."),
        "{line}"
    );
    assert!(r.closed());
    let mut m = remote("tcp");
    m.send(b"get a\r\n");
    assert_eq!(
        m.read_line(),
        b"SERVER_ERROR protected mode: no password is set and only loopback clients are \
          accepted; set requirepass or start with --protected-mode no\r\n"
    );
    assert!(m.closed());
    // Loopback clients are served, and may turn protected mode off.
    let mut local = Conn::new(TcpStream::connect((lo, port("resp", lo))).unwrap());
    local.check(&["CONFIG", "SET", "protected-mode", "no"], "+OK\r\n");
    let mut r = remote("resp");
    r.check(&["PING"], "+PONG\r\n");
}

#[test]
#[ignore = "runs inside a network namespace: protected_mode_refuses_remote_clients_without_a_password"]
fn netns_protected_mode_is_off_with_a_password() {
    let ip = private_network();
    let (_d, ports) = listening(&[
        "-l",
        &ip.to_string(),
        "--resp-port",
        "0",
        "--requirepass",
        "pw",
    ]);
    let resp = ports
        .iter()
        .find(|(k, a)| k == "resp" && a.ip() == ip)
        .unwrap()
        .1;
    let mut r = Conn::new(TcpStream::connect(resp).unwrap());
    r.check(&["PING"], "-NOAUTH Authentication required.\r\n");
    r.check(&["AUTH", "pw"], "+OK\r\n");
    r.check(&["PING"], "+PONG\r\n");
}

/// A running slabd, killed when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts slabd with `-p -1 -l 127.0.0.1` and `args`; every listener as (kind, address).
fn listening(args: &[&str]) -> (Running, Vec<(String, SocketAddr)>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-p", "-1", "-l", "127.0.0.1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    let mut out = Vec::new();
    for line in err.lines() {
        let line = line.unwrap();
        if line == "ready" {
            break;
        }
        if let Some(rest) = line.strip_prefix("listening on ") {
            let (kind, addr) = rest.split_once(' ').unwrap();
            if let Ok(a) = addr.parse() {
                out.push((kind.to_string(), a));
            }
        }
    }
    (Running(child), out)
}

/// Runs slabd to its exit or its `ready` line; returns (exit code if it exited, stderr).
fn start_output(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-p", "-1", "-l", "127.0.0.1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    while !text.contains("ready\n") {
        match err.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    let code = if text.contains("ready\n") {
        let _ = child.kill();
        let _ = child.wait();
        None
    } else {
        child.wait().unwrap().code()
    };
    (code, text)
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn root_without_u_warns_or_refuses() {
    if !is_root() {
        // Root in a user namespace of its own (`unshare -r`) is root to slabd's check.
        run_in_network_namespace("netns_root", 1);
        return;
    }
    root_checks();
}

#[test]
#[ignore = "runs inside a user namespace: root_without_u_warns_or_refuses"]
fn netns_root_without_u_warns_or_refuses() {
    assert!(is_root(), "unshare -r maps this user to root");
    root_checks();
}

fn root_checks() {
    let (code, text) = start_output(&[]);
    assert_eq!(code, None, "{text}");
    assert!(
        text.contains("WARNING: running as root without -u"),
        "{text}"
    );
    let (code, text) = start_output(&["--refuse-root"]);
    assert_eq!(code, Some(64), "{text}");
    assert!(
        text.contains("can't run as root without the -u switch\n"),
        "{text}"
    );
}

#[test]
fn open_listeners_without_a_password_are_warned_about() {
    let (_, text) = start_output(&["-l", "0.0.0.0"]);
    assert!(
        text.contains("accepts clients beyond this host and no password is set"),
        "{text}"
    );
    let (_, text) = start_output(&["-l", "0.0.0.0", "--requirepass", "x"]);
    assert!(!text.contains("accepts clients beyond"), "{text}");
    // With a password, a plain listener beyond loopback is still named: it sends in clear.
    assert!(
        text.contains("is reachable beyond this host without TLS: passwords and data cross"),
        "{text}"
    );
    let (_, text) = start_output(&["-l", "127.0.0.1", "--requirepass", "x"]);
    assert!(!text.contains("WARNING: 127.0.0.1"), "{text}");
}

#[test]
fn users_come_from_config_lines_and_acl_files() {
    let dir = std::env::temp_dir().join(format!("slabd-acl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("slabd.conf");
    std::fs::write(
        &conf,
        "user default on nopass ~* &* +@all\nuser alice on >apw ~a:* +get +set\n",
    )
    .unwrap();
    let d = resp_wire::daemon(&["--config", conf.to_str().unwrap()]);
    let mut c = d.connect_resp();
    c.check(&["AUTH", "alice", "apw"], "+OK\r\n");
    c.check(&["SET", "a:1", "v"], "+OK\r\n");
    c.check(
        &["SET", "b:1", "v"],
        "-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
    );
    drop(d);
    let acl = dir.join("users.acl");
    std::fs::write(&acl, "user bob on >bpw ~* +@all\n").unwrap();
    let d = resp_wire::daemon(&["--aclfile", acl.to_str().unwrap()]);
    let mut c = d.connect_resp();
    c.check(&["AUTH", "bob", "bpw"], "+OK\r\n");
    c.check(
        &["ACL", "SETUSER", "carol", "on", ">cpw", "+ping"],
        "+OK\r\n",
    );
    c.check(&["ACL", "SAVE"], "+OK\r\n");
    let saved = std::fs::read_to_string(&acl).unwrap();
    assert!(saved.contains("user carol on #"), "{saved}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&acl).unwrap().permissions().mode() & 0o777,
        0o600
    );
    std::fs::write(&acl, "user dave on >dpw +@all ~*\n").unwrap();
    c.check(&["ACL", "LOAD"], "+OK\r\n");
    // bob is gone with the old users: as Redis, his connection is closed (after the reply).
    assert!(c.closed());
    let mut c = d.connect_resp();
    c.check(&["AUTH", "dave", "dpw"], "+OK\r\n");
    c.check(&["ACL", "USERS"], "*2\r\n$4\r\ndave\r\n$7\r\ndefault\r\n");
    std::fs::write(&acl, "user eve on +nosuch\n").unwrap();
    let err = c.cmd(&["ACL", "LOAD"]);
    assert!(
        err.contains("Error in applying operation '+nosuch'"),
        "{err}"
    );
    c.check(&["ACL", "USERS"], "*2\r\n$4\r\ndave\r\n$7\r\ndefault\r\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pid_and_log_files_get_safe_modes_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("slabd-pidlog-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pid, log, conf) = (
        dir.join("slabd.pid"),
        dir.join("slabd.log"),
        dir.join("slabd.conf"),
    );
    std::fs::write(
        &conf,
        format!(
            "-d\n-P {}\n-p 0\n-l 127.0.0.1\nlogfile {}\n",
            pid.display(),
            log.display()
        ),
    )
    .unwrap();
    // umask 000 would leave both world-writable if slabd took the default modes.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 000; exec {} --config {}",
            env!("CARGO_BIN_EXE_slabd"),
            conf.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let mut text = String::new();
    for _ in 0..200 {
        text = std::fs::read_to_string(&pid).unwrap_or_default();
        if text.ends_with('\n') {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let daemon: i32 = text.trim().parse().expect("a pid in the pid file");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let (pid_mode, log_mode) = (mode(&pid), mode(&log));
    // The daemon is this test's own process.
    let _ = Command::new("kill").arg(daemon.to_string()).status();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(pid_mode, 0o644);
    assert_eq!(log_mode, 0o640);
}
