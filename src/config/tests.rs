use super::*;

fn run(args: &[&str]) -> Result<Settings, ConfigError> {
    match parse(args.iter().copied())? {
        Invocation::Run(s) => Ok(*s),
        other => panic!("expected settings, got {other:?}"),
    }
}

fn err(args: &[&str]) -> ConfigError {
    run(args).expect_err("expected an error")
}

#[test]
fn no_flags_gives_memcached_defaults() {
    let s = run(&[]).unwrap();
    assert_eq!(s, Settings::default());
    assert_eq!(s.port, 11211);
    assert_eq!(s.listen, vec!["127.0.0.1"]);
    assert_eq!(s.memory_limit, 64 << 20);
    assert_eq!(s.maxconns, 1024);
    assert_eq!(s.reqs_per_event, 20);
    assert_eq!(s.item_size_max, 1 << 20);
    assert_eq!(s.slab_chunk_max, 512 << 10);
    assert!(!s.resp_enabled);
}

#[test]
fn every_short_flag() {
    let s = run(&[
        "-p",
        "22122",
        "-U",
        "0",
        "-a",
        "755",
        "-A",
        "-l",
        "127.0.0.1,::1",
        "-d",
        "-u",
        "nobody",
        "-m",
        "128",
        "-M",
        "-c",
        "50",
        "-v",
        "-P",
        "/tmp/p.pid",
        "-f",
        "1.5",
        "-n",
        "64",
        "-t",
        "3",
        "-R",
        "7",
        "-C",
        "-b",
        "99",
        "-I",
        "2m",
        "-F",
        "-r",
        "-k",
    ])
    .unwrap();
    assert_eq!(s.port, 22122);
    assert_eq!(s.unix_mask, 0o755);
    assert!(s.shutdown_enabled && s.daemonize && s.no_evict && s.no_cas);
    assert!(!s.flush_enabled);
    assert_eq!(s.listen, vec!["127.0.0.1", "::1"]);
    assert_eq!(s.user.as_deref(), Some("nobody"));
    assert_eq!(s.memory_limit, 128 << 20);
    assert_eq!(s.maxconns, 50);
    assert_eq!(s.verbose, 1);
    assert_eq!(s.pid_file, Some(PathBuf::from("/tmp/p.pid")));
    assert_eq!(s.growth_factor, 1.5);
    assert_eq!(s.chunk_size, 64);
    assert_eq!(s.threads, 3);
    assert_eq!(s.reqs_per_event, 7);
    assert_eq!(s.backlog, 99);
    assert_eq!(s.item_size_max, 2 << 20);
}

#[test]
fn long_names_and_slabd_flags() {
    let s = run(&[
        "--port=1",
        "--memory-limit",
        "8",
        "--threads",
        "2",
        "--max-item-size",
        "512k",
        "--unix-socket",
        "/tmp/s.sock",
        "--resp-port",
        "6390",
        "--requirepass",
        "pw",
        "--databases",
        "4",
    ])
    .unwrap();
    assert_eq!(s.port, 1);
    assert_eq!(s.memory_limit, 8 << 20);
    assert_eq!(s.threads, 2);
    assert_eq!(s.item_size_max, 512 << 10);
    assert_eq!(s.unix_socket, Some(PathBuf::from("/tmp/s.sock")));
    assert_eq!(s.resp_port, 6390);
    assert!(s.resp_enabled);
    assert_eq!(s.requirepass.as_deref(), Some(&b"pw"[..]));
    assert_eq!(s.databases, 4);
    assert!(run(&["--resp-port", "0"]).unwrap().resp_enabled);
}

#[test]
fn binding_protocol() {
    assert_eq!(run(&[]).unwrap().binding_protocol, BindingProtocol::Auto);
    assert_eq!(
        run(&["-B", "ascii"]).unwrap().binding_protocol,
        BindingProtocol::Ascii
    );
    assert_eq!(
        run(&["-B", "auto"]).unwrap().binding_protocol,
        BindingProtocol::Auto
    );
    assert_eq!(
        run(&["-B", "binary"]).unwrap().binding_protocol,
        BindingProtocol::Binary
    );
    assert_eq!(
        run(&["-S"]).unwrap().binding_protocol,
        BindingProtocol::Binary
    );
    assert!(err(&["-S", "-B", "ascii"])
        .message
        .contains("cannot allow the ASCII protocol while using SASL"));
    assert!(err(&["-Y", "/nonexistent/auth"])
        .message
        .starts_with("Could not open authfile [/nonexistent/auth]"));
    assert!(err(&["-B", "fooble"])
        .to_string()
        .contains("Invalid value for binding protocol: fooble"));
}

#[test]
fn authfile_entries_as_memcached_reads_them() {
    assert_eq!(
        auth_entries(b"alice:pw one\r\nbob:x:y\n").unwrap(),
        vec![
            (b"alice".to_vec(), b"pw one".to_vec()),
            (b"bob".to_vec(), b"x:y".to_vec())
        ]
    );
    assert_eq!(auth_entries(b"").unwrap(), Vec::new());
    assert_eq!(auth_entries(b"alice:a\nnocolon\n"), None);
}

#[test]
fn verbosity_counts() {
    assert_eq!(run(&["-vv"]).unwrap().verbose, 2);
    assert_eq!(run(&["-v", "-v", "-v"]).unwrap().verbose, 3);
}

#[test]
fn size_suffixes() {
    assert_eq!(run(&["-I", "1024"]).unwrap().item_size_max, 1024);
    assert_eq!(run(&["-I", "4K"]).unwrap().item_size_max, 4096);
    assert_eq!(
        run(&["-m", "2048", "-I", "1g"]).unwrap().item_size_max,
        1 << 30
    );
    assert_eq!(run(&["-m", "1g"]).unwrap().memory_limit, 1 << 30);
    assert_eq!(err(&["-I", "2x"]).flag, "-I");
    assert_eq!(
        err(&["-I", "100"]).message,
        "Item max size cannot be less than 1024 bytes."
    );
    assert_eq!(
        err(&["-m", "4096", "-I", "2g"]).message,
        "Cannot set item size limit higher than a gigabyte."
    );
    assert_eq!(
        err(&["-m", "1"]).message,
        "Cannot set item size limit higher than 1/2 of memory max."
    );
}

#[test]
fn small_item_size_lowers_the_default_chunk_max() {
    let s = run(&["-I", "64k"]).unwrap();
    assert_eq!(s.slab_chunk_max, 64 << 10);
    assert_eq!(
        err(&["-I", "64k", "-o", "slab_chunk_max=128"]).message,
        "slab_chunk_max (bytes: 131072) cannot be larger than -I (item_size_max 65536)"
    );
    assert!(err(&["-I", "3000", "-o", "slab_chunk_max=2"])
        .message
        .contains("evenly divisible"));
}

#[test]
fn slab_chunk_max_is_in_kilobytes_as_memcached_1_6_24() {
    assert_eq!(
        run(&["-o", "slab_chunk_max=16"]).unwrap().slab_chunk_max,
        16 << 10
    );
    assert_eq!(
        run(&["-o", "slab_chunk_max=512"]).unwrap().slab_chunk_max,
        512 << 10
    );
    let s = run(&["-I", "1024", "-o", "slab_chunk_max=1"]).unwrap();
    assert_eq!((s.item_size_max, s.slab_chunk_max), (1024, 1024));
    for (arg, msg) in [
        (
            "slab_chunk_max=16384",
            "slab_chunk_max must be specified in kilobytes.",
        ),
        ("slab_chunk_max=0", "slab_chunk_max must be >= 0"),
        ("slab_chunk_max=-4", "slab_chunk_max must be >= 0"),
        (
            "slab_chunk_max=16k",
            "could not parse argument to slab_chunk_max",
        ),
        ("slab_chunk_max", "Missing slab_chunk_max argument"),
    ] {
        assert_eq!(err(&["-o", arg]).message, msg, "{arg}");
    }
    // One chunk as large as the default -I (1m) is allowed.
    assert_eq!(
        run(&["-o", "slab_chunk_max=1024"]).unwrap().slab_chunk_max,
        1 << 20
    );
}

#[test]
fn port_zero_turns_tcp_off_and_minus_one_picks_a_free_port() {
    let s = run(&[]).unwrap();
    assert_eq!((s.port, s.tcp_enabled), (11211, true));
    let s = run(&["-p", "0"]).unwrap();
    assert!(!s.tcp_enabled);
    let s = run(&["-p", "-1"]).unwrap();
    assert_eq!((s.port, s.tcp_enabled), (0, true));
    // memcached: UDP on, TCP off.
    let s = run(&["-p", "0", "-U", "11311"]).unwrap();
    assert_eq!(
        (s.tcp_enabled, s.udp_enabled, s.udp_port),
        (false, true, 11311)
    );
    assert_eq!(
        err(&["-p", "0", "-Z"]).message,
        "ERROR: You cannot enable SSL without a TCP port."
    );
}

#[test]
fn no_modern_turns_off_the_background_machinery() {
    let s = run(&["-o", "no_modern"]).unwrap();
    assert!(!s.slab_reassign && !s.lru_crawler && !s.lru_maintainer);
    assert_eq!(s.slab_automove, 0);
    // Later options win, as in memcached.
    let s = run(&["-o", "no_modern,lru_crawler"]).unwrap();
    assert!(s.lru_crawler && !s.lru_maintainer);
}

#[test]
fn extended_options() {
    let s = run(&[
        "-o",
        "no_slab_reassign,slab_automove=2,no_lru_crawler,no_lru_maintainer",
        "-o",
        "idle_timeout=30,hashpower=20,slab_chunk_max=16,modern",
    ])
    .unwrap();
    assert!(!s.slab_reassign && !s.lru_crawler && !s.lru_maintainer);
    assert_eq!(s.slab_automove, 2);
    assert_eq!(s.idle_timeout, 30);
    assert_eq!(s.hashpower, 20);
    assert_eq!(s.slab_chunk_max, 16384);
    assert_eq!(s.ignored_options, vec!["modern"]);
    let s = run(&[
        "-o",
        "slab_reassign,slab_automove,lru_crawler,lru_maintainer",
    ])
    .unwrap();
    assert!(s.slab_reassign && s.lru_crawler && s.lru_maintainer);
    assert_eq!(s.slab_automove, 1);
}

#[test]
fn extended_option_errors() {
    assert_eq!(err(&["-o", "bogus"]).message, "Illegal suboption \"bogus\"");
    assert_eq!(
        err(&["-o", "no_bogus"]).message,
        "Illegal suboption \"no_bogus\""
    );
    assert_eq!(
        err(&["-o", "slab_automove=3"]).message,
        "slab_automove must be between 0 and 2"
    );
    assert_eq!(
        err(&["-o", "hashpower=5"]).message,
        "Initial hashtable multiplier of 5 is too low"
    );
    assert_eq!(
        err(&["-o", "hashpower=33"]).message,
        "Initial hashtable multiplier of 33 is too high"
    );
    assert_eq!(
        err(&["-o", "idle_timeout"]).message,
        "Missing numeric argument for idle_timeout"
    );
    assert_eq!(err(&["-o", "idle_timeout=abc"]).flag, "-o idle_timeout");
}

#[test]
fn value_errors_name_the_flag() {
    for (args, flag, msg) in [
        (&["-p", "abc"][..], "-p", "invalid number 'abc'"),
        (&["-p", "70000"], "-p", "Invalid port number 70000"),
        (&["-U", "70000"], "-U", "Invalid port number 70000"),
        (
            &["-c", "0"],
            "-c",
            "Maximum connections must be greater than 0",
        ),
        (
            &["-t", "0"],
            "-t",
            "Number of threads must be greater than 0",
        ),
        (
            &["-R", "0"],
            "-R",
            "Number of requests per event must be greater than 0",
        ),
        (&["-f", "1"], "-f", "Factor must be greater than 1"),
        (&["-n", "0"], "-n", "Chunk size must be greater than 0"),
        (&["-a", "999"], "-a", "invalid octal mask '999'"),
        (&["-b", "-1"], "-b", "backlog must not be negative"),
        (&["-m", "0"], "-m", "memory limit must be greater than 0"),
        (
            &["--databases", "17"],
            "--databases",
            "databases must be between 1 and 16",
        ),
    ] {
        let e = err(args);
        assert_eq!(
            (e.flag.as_str(), e.message.as_str()),
            (flag, msg),
            "{args:?}"
        );
    }
    assert!(!run(&["-U", "0"]).unwrap().udp_enabled);
    let s = run(&["-U", "11311"]).unwrap();
    assert_eq!((s.udp_enabled, s.udp_port, s.port), (true, 11311, 11311));
    let s = run(&["-U", "-1", "-p", "-1"]).unwrap();
    assert_eq!((s.udp_enabled, s.udp_port, s.port), (true, 0, 0));
    let s = run(&["-U", "-1"]).unwrap();
    assert_eq!((s.udp_enabled, s.udp_port, s.port), (true, 0, 0));
}

#[test]
fn unknown_and_incomplete_flags_name_the_flag() {
    let e = err(&["-Q"]);
    assert_eq!(e.flag, "-Q");
    assert!(e.to_string().starts_with("-Q: "), "{e}");
    assert_eq!(err(&["--bogus", "1"]).flag, "--bogus");
    assert_eq!(err(&["-p"]).flag, "--port");
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn help_and_version() {
    assert_eq!(parse(["-h"]).unwrap(), Invocation::Help);
    assert_eq!(parse(["-V"]).unwrap(), Invocation::Version);
    assert!(version().starts_with("slabd "));
    let h = help();
    for flag in ["-p,", "-o,", "-I,", "--config", "--resp-port"] {
        assert!(h.contains(flag), "help lacks {flag}");
    }
}

#[test]
fn redis_style_settings_on_the_command_line_and_in_files() {
    let s = run(&["--hash-max-ziplist-entries", "64", "--save=", "-m", "8"]).unwrap();
    assert_eq!(
        s.directives,
        [
            ("hash-max-listpack-entries".to_string(), "64".to_string()),
            ("save".to_string(), String::new()),
        ]
    );
    assert_eq!(s.memory_limit, 8 << 20);
    let e = err(&["--hash-max-listpack-entries", "many"]);
    assert_eq!(e.flag, "--hash-max-listpack-entries");
    assert!(e.message.contains("integer"), "{}", e.message);
    assert_eq!(
        err(&["--list-compress-depth"]).flag,
        "--list-compress-depth"
    );
    let (args, _, dirs) =
        config_file_args("-m 64\nsave \"\"\nzset-max-ziplist-value 32\nappendonly no\n").unwrap();
    assert_eq!(args, ["-m", "64"]);
    assert_eq!(
        dirs,
        [
            ("save".to_string(), String::new()),
            ("zset-max-listpack-value".to_string(), "32".to_string()),
            ("appendonly".to_string(), "no".to_string()),
        ]
    );
    assert!(config_file_args("appendonly maybe\n").is_err());
}

#[test]
fn config_file_lines() {
    let text = "# comment\n\n-d\nlogfile /var/log/memcached.log\n-m 64\n-p 11211 # trailing\n  -vv\n-o idle_timeout=5,modern\n";
    let (args, log, _) = config_file_args(text).unwrap();
    assert_eq!(
        args,
        [
            "-d",
            "-m",
            "64",
            "-p",
            "11211",
            "-vv",
            "-o",
            "idle_timeout=5,modern"
        ]
    );
    assert_eq!(log, Some(PathBuf::from("/var/log/memcached.log")));
    let e = config_file_args("-m 64\nlisten 1\n").unwrap_err();
    assert_eq!(e.flag, "listen");
    assert!(e.message.contains("line 2"));
}

#[test]
fn command_line_overrides_config_file() {
    let dir = std::env::temp_dir().join(format!("slabd-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("memcached.conf");
    std::fs::write(
        &path,
        "-m 32\n-p 1234\n-l 10.0.0.1\n-c 10\n-o idle_timeout=5\n-M\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let s = run(&[
        "--config",
        p,
        "-p",
        "4321",
        "-l",
        "127.0.0.2",
        "-o",
        "hashpower=13",
    ])
    .unwrap();
    assert_eq!(s.memory_limit, 32 << 20);
    assert_eq!(s.port, 4321);
    assert_eq!(s.listen, vec!["127.0.0.2"]);
    assert_eq!(s.maxconns, 10);
    assert_eq!(s.idle_timeout, 5);
    assert_eq!(s.hashpower, 13);
    assert!(s.no_evict);
    let s = run(&["-o", "idle_timeout=9", "--config", p]).unwrap();
    assert_eq!(s.idle_timeout, 9);

    std::fs::write(&path, "-m 32\n-Q\n").unwrap();
    let e = err(&["--config", p]);
    assert!(e.flag.contains("-Q"), "{e}");
    std::fs::write(&path, "-I 40m\n").unwrap();
    assert_eq!(err(&["--config", p]).flag, "-I");
    assert_eq!(
        run(&["--config", p, "-m", "100"]).unwrap().item_size_max,
        40 << 20
    );
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        err(&["--config", "/nonexistent/slabd.conf"]).flag,
        "--config"
    );
}

#[test]
fn config_file_redis_lines_for_flags() {
    // CONFIG REWRITE writes these as Redis does; they stand for -m, -c and --resp-port.
    let (args, _, dirs) =
        config_file_args("maxmemory 32mb\nmaxclients 50\nport 6380\nmaxmemory 3000\n").unwrap();
    assert_eq!(
        args,
        [
            "-m",
            "32768k",
            "-c",
            "50",
            "--resp-port",
            "6380",
            "-m",
            "3k"
        ]
    );
    assert!(dirs.is_empty());
    // `port 0` is Redis's "no RESP port", not the flag's "pick one".
    assert!(config_file_args("port 0\n").unwrap().0.is_empty());
    let path = std::env::temp_dir().join(format!("slabd-live-lines-{}.conf", std::process::id()));
    std::fs::write(&path, "maxmemory 32mb\nmaxclients 50\nport 6380\n").unwrap();
    let s = run(&["--config", path.to_str().unwrap()]).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!((s.memory_limit, s.maxconns), (32 << 20, 50));
    assert!(s.resp_enabled);
    assert_eq!(s.resp_port, 6380);
    assert!(config_file_args("maxmemory 0\n").is_err());
    assert!(config_file_args("maxmemory lots\n").is_err());
    assert!(config_file_args("port 70000\n").is_err());
}

#[test]
fn maxmemory_policy_flag_and_config_line() {
    let s = run(&["--maxmemory-policy", "allkeys-LFU"]).unwrap();
    assert_eq!(s.maxmemory_policy.as_deref(), Some("allkeys-lfu"));
    assert!(!s.no_evict);
    let s = run(&["--maxmemory-policy=noeviction"]).unwrap();
    assert!(s.no_evict && s.maxmemory_policy.is_none());
    assert!(err(&["--maxmemory-policy", "volatile-lru"])
        .message
        .contains("volatile-lru has no equivalent"));
    assert!(err(&["--maxmemory-policy", "lru"])
        .message
        .contains("must be one of"));
    assert!(err(&["-M", "--maxmemory-policy", "allkeys-lru"])
        .message
        .contains("-M (noeviction)"));
    // The command line overrides the file, either way.
    let dir = std::env::temp_dir().join(format!("slabd-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("slabd.conf");
    let p = path.to_str().unwrap();
    std::fs::write(&path, "maxmemory-policy allkeys-random\n").unwrap();
    let s = run(&["--config", p]).unwrap();
    assert_eq!(s.maxmemory_policy.as_deref(), Some("allkeys-random"));
    let s = run(&["--config", p, "-M"]).unwrap();
    assert!(s.no_evict && s.maxmemory_policy.is_none());
    std::fs::write(&path, "-M\n").unwrap();
    let s = run(&["--config", p, "--maxmemory-policy", "allkeys-lru"]).unwrap();
    assert!(!s.no_evict);
    std::fs::write(&path, "maxmemory-policy noeviction\n").unwrap();
    assert!(run(&["--config", p]).unwrap().no_evict);
    let _ = std::fs::remove_dir_all(&dir);
}
