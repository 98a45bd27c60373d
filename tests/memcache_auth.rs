//! memcached 1.6's ASCII authentication (`-Y FILE`), byte for byte as memcached 1.6.18
//! answers it (checked side by side with the real server).

mod common;

use common::Daemon;

fn auth_file(name: &str, text: &str) -> String {
    let path = std::env::temp_dir().join(format!("slabd-{name}-{}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn ascii_login_before_anything_else() {
    let path = auth_file("ascii-auth", "alice:wonder\nbob:pw\n");
    let d = Daemon::start(&["-Y", &path]);
    let mut c = d.connect();
    c.roundtrip(b"get foo\r\n", b"CLIENT_ERROR unauthenticated\r\n");
    c.roundtrip(
        b"set a 0 0 5\r\nbob x\r\n",
        b"CLIENT_ERROR authentication failure\r\n",
    );
    c.roundtrip(
        b"set a 0 0 3\r\nbob\r\n",
        b"CLIENT_ERROR bad authentication token format\r\n",
    );
    c.roundtrip(
        b"set a 0 0 3\r\nbobXX",
        b"CLIENT_ERROR bad command line termination\r\n",
    );
    // The key, flags and exptime are ignored; the login lets the next requests through.
    c.roundtrip(
        b"set any 1 2 6\r\nbob pw\r\nget foo\r\n",
        b"STORED\r\nEND\r\n",
    );
    c.roundtrip(b"set foo 0 0 1\r\nx\r\n", b"STORED\r\n");
    c.send(b"stats\r\n");
    let stats = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    assert!(stats.contains("STAT auth_cmds 2\r\n"), "{stats}");
    assert!(stats.contains("STAT auth_errors 1\r\n"), "{stats}");
    c.send(b"stats settings\r\n");
    let settings = String::from_utf8(c.read_until(b"END\r\n")).unwrap();
    assert!(settings.contains(&format!("STAT auth_enabled_ascii {path}\r\n")));
    assert!(settings.contains("STAT binding_protocol ascii\r\n"));

    // Several refusals in one read: one reply each (memcached 1.6.18 sends only the last
    // of them, as they share one response object; slabd does not drop replies).
    let mut c = d.connect();
    c.roundtrip(
        b"get a\r\nget b\r\n",
        b"CLIENT_ERROR unauthenticated\r\nCLIENT_ERROR unauthenticated\r\n",
    );
    c.roundtrip(b"set a 0 0 12\r\nalice wonder\r\n", b"STORED\r\n");
    // The file's users are users of the one model: RESP logs in with them too.
    let mut r = d.connect();
    r.roundtrip(
        b"*1\r\n$4\r\nPING\r\n",
        b"-NOAUTH Authentication required.\r\n",
    );
    r.roundtrip(b"*3\r\n$4\r\nAUTH\r\n$3\r\nbob\r\n$2\r\npw\r\n", b"+OK\r\n");
    let _ = std::fs::remove_file(path);
}

#[test]
fn malformed_auth_file_refuses_to_start() {
    let path = auth_file("bad-auth", "nocolon\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_slabd"))
        .args(["-p", "-1", "-Y", &path])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "Authfile [{path}] has a malformed entry. Should be 'user:password'"
        )),
        "{err}"
    );
    let _ = std::fs::remove_file(path);
}
