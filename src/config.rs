//! Every setting, from memcached's flags, a Debian-style `memcached.conf` (`--config`) and
//! `-o` extended options. Validation errors are one line naming the flag.
//!
//! Flags keep memcached 1.6's names, meanings, defaults and (where memcached has one) its
//! validation message. Deliberate differences from memcached 1.6.18:
//! - `-l` defaults to 127.0.0.1 rather than every address;
//! - malformed numbers are refused instead of read as 0 by `atoi`;
//! - `-c N` admits N client connections (memcached subtracts its reserved descriptors);
//! - started as root without `-u`, slabd runs (memcached refuses);
//! - `-I` below 512k lowers the default `slab_chunk_max` to `-I` (memcached refuses);
//! - memcached `-o` tunables for parts slabd does not have are accepted and ignored
//!   ([`Settings::ignored_options`]);
//! - `--resp-port`, `--requirepass`, `--databases` and `--config` are slabd's own.
//!
//! A config file holds one flag per line (`-m 64`), `#` comments and blank lines, as
//! Debian's `/etc/memcached.conf`; its `logfile PATH` line is understood too. The file is
//! parsed on its own and the command line is laid over it, so a flag given on the command
//! line replaces the file's (for `-l` the whole list, for `-o` option by option).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::directives::{self, Repeat};

/// The daemon's settings, after parsing and validation. Names follow memcached's `stats
/// settings` where one exists.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `-p`: TCP port (0 here: a free port, from `-p -1`; the bound address is reported on
    /// stderr).
    pub port: u16,
    /// False after `-p 0`, which turns the memcached TCP port off, as in memcached.
    pub tcp_enabled: bool,
    /// `-l`: addresses to listen on.
    pub listen: Vec<String>,
    /// `-s`: unix socket path (TCP is off when set, as memcached does).
    pub unix_socket: Option<PathBuf>,
    /// `-a`: unix socket permissions.
    pub unix_mask: u32,
    /// `-U`: UDP port (`-U -1` picks a free one, reported on stderr as `udp ADDR`).
    pub udp_port: u16,
    /// `-U` other than 0: memcached's UDP transport is on (off by default, as in 1.6).
    pub udp_enabled: bool,
    /// `--resp-port`: port serving RESP only.
    pub resp_port: u16,
    /// `--resp-port` was given. Without it there is no RESP port; with `--resp-port 0` the
    /// RESP listener takes a free port, as `-p -1` does (the bound address is reported).
    pub resp_enabled: bool,
    /// `-m` in bytes.
    pub memory_limit: usize,
    /// `-M`: error instead of evicting.
    pub no_evict: bool,
    /// `-c`
    pub maxconns: usize,
    /// `-o maxconns_fast` (the default): past `-c`, accept, say why and close; off
    /// (`no_maxconns_fast`): stop accepting until a connection closes (server::Server::run).
    pub maxconns_fast: bool,
    /// `-t`
    pub threads: usize,
    /// `-R`
    pub reqs_per_event: usize,
    /// `-b`
    pub backlog: i32,
    /// `-f`
    pub growth_factor: f64,
    /// `-n`
    pub chunk_size: usize,
    /// `-I` in bytes.
    pub item_size_max: usize,
    /// Redis `proto-max-bulk-len`: the longest RESP bulk string (keys and values over RESP;
    /// values are further bounded by `-m`).
    pub proto_max_bulk_len: usize,
    /// `-o slab_chunk_max` (given in kilobytes), in bytes.
    pub slab_chunk_max: usize,
    /// `-C`: CAS disabled.
    pub no_cas: bool,
    /// `-B`: which protocols a connection may speak.
    pub binding_protocol: BindingProtocol,
    /// `-B` was given (`-S` and `-Y` pick the protocol otherwise).
    pub binding_explicit: bool,
    /// `-S`: binary-protocol clients must authenticate with SASL PLAIN first.
    pub sasl: bool,
    /// `-Y`: text-protocol clients must authenticate with a `set`-shaped exchange against
    /// this file's `user:password` lines first.
    pub auth_file: Option<PathBuf>,
    /// The `user:password` entries of `-Y`'s file, read at start-up.
    pub ascii_auth: Vec<(Vec<u8>, Vec<u8>)>,
    /// `-o track_sizes`: `stats sizes` starts enabled.
    pub track_sizes: bool,
    /// `-o null_server` (slabd's benchmark aid, not memcached's): the memcached text port
    /// answers every request with fixed bytes, without storage (`STORED` to a storage
    /// command, `END` to anything else): the ceiling a load generator reaches against
    /// slabd's connection loop.
    pub null_server: bool,
    /// `-o worker_gather=0|1` and `-o worker_shuffle` (slabd's own): whether live
    /// connections gather on as few workers as the load needs (server::gather).
    pub worker_gather: crate::server::gather::Mode,
    /// `-o temporary_ttl=N`: items with a TTL at most this go to memcached's temporary LRU
    /// (reported by `stats settings`; slabd's CLOCK has no separate list).
    pub temporary_ttl: Option<i32>,
    /// `-o read_buf_mem_limit=MB` in bytes (0: no limit), as `stats settings` reports it
    /// (slabd bounds each connection's buffers instead; see docs/architecture.md).
    pub read_buf_mem_limit: usize,
    /// With `-S`: the `user:password` entries of the file named by `MEMCACHED_SASL_PWDB`,
    /// read at start-up (memcached rereads it at each login).
    pub sasl_auth: Vec<(Vec<u8>, Vec<u8>)>,
    /// `-v` count.
    pub verbose: u8,
    /// `-u`
    pub user: Option<String>,
    /// `-d`
    pub daemonize: bool,
    /// `-P`
    pub pid_file: Option<PathBuf>,
    /// `-A`: the `shutdown` command is allowed.
    pub shutdown_enabled: bool,
    /// `-F` clears this: `flush_all` is allowed.
    pub flush_enabled: bool,
    /// `-o idle_timeout` seconds (0 = never).
    pub idle_timeout: u32,
    /// `-W` clears this: memcached's `watch` is allowed.
    pub watch_enabled: bool,
    /// `-o watcher_logbuf_size=KB` in bytes: a `watch` connection's unsent log lines are
    /// held up to this; lines past it are skipped (`skipped=N`), as memcached does.
    pub watcher_logbuf_size: usize,
    /// `-o worker_logbuf_size=KB` in bytes (reported by `stats settings` only).
    pub worker_logbuf_size: usize,
    /// `-o hashpower`
    pub hashpower: u8,
    /// `-o slab_reassign`
    pub slab_reassign: bool,
    /// `-o slab_automove`
    pub slab_automove: u8,
    /// `-o lru_crawler`
    pub lru_crawler: bool,
    /// `-o lru_maintainer`
    pub lru_maintainer: bool,
    /// `--requirepass`: RESP clients must AUTH first.
    pub requirepass: Option<Vec<u8>>,
    /// `--databases`: Redis databases (1..=16).
    pub databases: u8,
    /// Debian's `logfile PATH` line: where stderr goes once daemonized.
    pub logfile: Option<PathBuf>,
    /// memcached `-o` options accepted for compatibility that change nothing here.
    pub ignored_options: Vec<String>,
    /// Redis-style settings by name (`--save "900 1"`, a `save 900 1` line in the config
    /// file), in the order given, each checked against its [`crate::directives`] row.
    pub directives: Vec<(String, String)>,
    /// Redis `user <name> <rules…>` lines of the config file, as written after `user `.
    pub acl_users: Vec<String>,
    /// `--refuse-root`: exit as memcached does when started as root without `-u`.
    pub refuse_root: bool,
    /// memcached's TLS: `-Z` and `-o ssl_*`.
    pub tls: TlsOptions,
}

/// memcached's TLS flags (`-Z`, `-o ssl_chain_cert=…`); see `server::tls`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `-Z`: the memcached TCP listeners speak TLS.
    pub enabled: bool,
    pub chain_cert: Option<String>,
    pub key: Option<String>,
    pub ca_cert: Option<String>,
    /// 0 none, 1 request, 2 require, 3 once (treated as require).
    pub verify_mode: u8,
    /// `tlsv1.2` or `tlsv1.3`.
    pub min_version: Option<String>,
    /// `ssl_ciphers`: an OpenSSL cipher list for TLS 1.2.
    pub ciphers: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: 11211,
            tcp_enabled: true,
            listen: vec!["127.0.0.1".to_string()],
            unix_socket: None,
            unix_mask: 0o700,
            udp_port: 0,
            udp_enabled: false,
            resp_port: 0,
            resp_enabled: false,
            memory_limit: 64 << 20,
            no_evict: false,
            maxconns: 1024,
            maxconns_fast: true,
            threads: std::thread::available_parallelism().map_or(4, |n| n.get()),
            reqs_per_event: 20,
            backlog: 1024,
            growth_factor: 1.25,
            chunk_size: 48,
            item_size_max: 1 << 20,
            proto_max_bulk_len: 512 << 20,
            slab_chunk_max: 1 << 19,
            no_cas: false,
            binding_protocol: BindingProtocol::Auto,
            binding_explicit: false,
            sasl: false,
            auth_file: None,
            ascii_auth: Vec::new(),
            sasl_auth: Vec::new(),
            track_sizes: false,
            temporary_ttl: None,
            null_server: false,
            worker_gather: crate::server::gather::Mode::Off,
            read_buf_mem_limit: 0,
            verbose: 0,
            user: None,
            daemonize: false,
            pid_file: None,
            shutdown_enabled: false,
            flush_enabled: true,
            idle_timeout: 0,
            watch_enabled: true,
            watcher_logbuf_size: 256 << 10,
            worker_logbuf_size: 64 << 10,
            hashpower: 16,
            slab_reassign: true,
            slab_automove: 1,
            lru_crawler: true,
            lru_maintainer: true,
            requirepass: None,
            databases: 16,
            logfile: None,
            ignored_options: Vec::new(),
            directives: Vec::new(),
            acl_users: Vec::new(),
            refuse_root: false,
            tls: TlsOptions::default(),
        }
    }
}

/// `-B`: memcached's protocol binding, reported by `stats settings`. With `auto` a
/// connection's first byte decides: 0x80 is the binary protocol, `*` RESP, anything else
/// the text protocol; `ascii` serves text (and RESP), `binary` only the binary protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingProtocol {
    /// `-B auto`, the default.
    Auto,
    /// `-B ascii`.
    Ascii,
    /// `-B binary`.
    Binary,
}

impl BindingProtocol {
    /// The name `stats settings` reports, as memcached's `prot_text`.
    pub fn name(self) -> &'static str {
        match self {
            BindingProtocol::Auto => "auto-negotiate",
            BindingProtocol::Ascii => "ascii",
            BindingProtocol::Binary => "binary",
        }
    }
}

/// A setting that cannot be used: which flag, and why. Shown to the user as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {message}")]
pub struct ConfigError {
    pub flag: String,
    pub message: String,
}

impl ConfigError {
    fn new(flag: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            flag: flag.to_string(),
            message: message.into(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    Run(Box<Settings>),
    /// `-h`: print [`help`] and exit.
    Help,
    /// `-V`: print [`version`] and exit.
    Version,
}

/// The one-line version, in memcached's `-V` form.
pub fn version() -> String {
    format!("slabd {}", env!("CARGO_PKG_VERSION"))
}

/// The line printed after a flag error.
pub const USAGE: &str = "usage: slabd [options] (slabd -h lists them)";

/// Size of a slab page; `slab_chunk_max` must divide it.
pub const SLAB_PAGE_SIZE: usize = 1 << 20;

const ITEM_SIZE_MIN: usize = 1024;
const ITEM_SIZE_LIMIT: usize = 1 << 30;

/// memcached `-o` options that tune parts of memcached slabd does not have (its LRU
/// segments, hash function, log buffers). Accepted so existing configs start unchanged.
const COMPAT_SUBOPTIONS: &[&str] = &[
    "modern",
    "no_hashexpand",
    "hash_algorithm",
    "tail_repair_time",
    "lru_crawler_sleep",
    "lru_crawler_tocrawl",
    "lru_segmented",
    "no_lru_segmented",
    "hot_lru_pct",
    "warm_lru_pct",
    "hot_max_factor",
    "warm_max_factor",
    "slab_automove_ratio",
    "slab_automove_window",
    "slab_automove_freeratio",
    "no_chunked_items",
    "inline_ascii_resp",
    "no_inline_ascii_resp",
    // memcached's test harness passes it; slabd never drops privileges it was not asked to.
    "relaxed_privileges",
];

fn command() -> Command {
    let value = |id: &'static str, short: char, long: &'static str, help: &'static str| {
        Arg::new(id)
            .short(short)
            .long(long)
            .help(help)
            .num_args(1)
            .allow_hyphen_values(true)
    };
    let flag = |id: &'static str, short: char, long: &'static str, help: &'static str| {
        Arg::new(id)
            .short(short)
            .long(long)
            .help(help)
            .action(ArgAction::SetTrue)
    };
    Command::new("slabd")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .arg(value(
            "port",
            'p',
            "port",
            "TCP port to listen on (default: 11211; 0 picks one)",
        ))
        .arg(value(
            "udp-port",
            'U',
            "udp-port",
            "UDP port (default: 0, off; -1 picks one)",
        ))
        .arg(value(
            "unix-socket",
            's',
            "unix-socket",
            "UNIX socket to listen on (disables TCP)",
        ))
        .arg(value(
            "unix-mask",
            'a',
            "unix-mask",
            "access mask for the UNIX socket, in octal (default: 700)",
        ))
        .arg(flag(
            "enable-shutdown",
            'A',
            "enable-shutdown",
            "enable the ascii \"shutdown\" command",
        ))
        .arg(
            value(
                "listen",
                'l',
                "listen",
                "comma-separated addresses to listen on (default: 127.0.0.1)",
            )
            .action(ArgAction::Append),
        )
        .arg(flag("daemon", 'd', "daemon", "run as a daemon"))
        .arg(flag(
            "enable-coredumps",
            'r',
            "enable-coredumps",
            "accepted for compatibility; no effect",
        ))
        .arg(value(
            "user",
            'u',
            "user",
            "assume the identity of <user> (only when run as root)",
        ))
        .arg(value(
            "memory-limit",
            'm',
            "memory-limit",
            "item memory in megabytes (default: 64)",
        ))
        .arg(flag(
            "disable-evictions",
            'M',
            "disable-evictions",
            "return an error on memory exhausted instead of evicting",
        ))
        .arg(value(
            "conn-limit",
            'c',
            "conn-limit",
            "max simultaneous connections (default: 1024)",
        ))
        .arg(flag(
            "lock-memory",
            'k',
            "lock-memory",
            "accepted for compatibility; no effect",
        ))
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .help("verbose: -v errors and connection events, -vv also commands")
                .action(ArgAction::Count),
        )
        .arg(flag("help", 'h', "help", "print this help and exit"))
        .arg(flag("version", 'V', "version", "print version and exit"))
        .arg(value(
            "pidfile",
            'P',
            "pidfile",
            "save the PID in <file>, only with -d",
        ))
        .arg(value(
            "slab-growth-factor",
            'f',
            "slab-growth-factor",
            "chunk size growth factor (default: 1.25)",
        ))
        .arg(value(
            "slab-min-size",
            'n',
            "slab-min-size",
            "min space used for key+value+flags (default: 48)",
        ))
        .arg(value(
            "threads",
            't',
            "threads",
            "number of worker threads (default: the number of cores)",
        ))
        .arg(value(
            "max-reqs-per-event",
            'R',
            "max-reqs-per-event",
            "requests served per connection per event (default: 20)",
        ))
        .arg(flag(
            "disable-cas",
            'C',
            "disable-cas",
            "disable use of CAS",
        ))
        .arg(value(
            "listen-backlog",
            'b',
            "listen-backlog",
            "listen backlog (default: 1024)",
        ))
        .arg(value(
            "max-item-size",
            'I',
            "max-item-size",
            "max item size, k/m/g suffixes (default: 1m, min: 1k, max: 1024m)",
        ))
        .arg(value(
            "binding-protocol",
            'B',
            "protocol",
            "protocol: auto, ascii or binary (default: auto)",
        ))
        .arg(flag(
            "enable-sasl",
            'S',
            "enable-sasl",
            "binary protocol clients must authenticate (SASL PLAIN, MEMCACHED_SASL_PWDB)",
        ))
        .arg(value(
            "auth-file",
            'Y',
            "auth-file",
            "text protocol clients must authenticate against this user:password file",
        ))
        .arg(flag(
            "disable-watch",
            'W',
            "disable-watch",
            "disable watch commands (live logging)",
        ))
        .arg(flag(
            "disable-flush-all",
            'F',
            "disable-flush-all",
            "disable the flush_all command",
        ))
        .arg(
            value(
                "extended",
                'o',
                "extended",
                "comma-separated extended options (see memcached.conf)",
            )
            .action(ArgAction::Append),
        )
        .arg(
            Arg::new("config").long("config").num_args(1).help(
                "read flags from a memcached.conf-style file; command-line flags override it",
            ),
        )
        .arg(
            Arg::new("resp-port")
                .long("resp-port")
                .num_args(1)
                .help("port serving RESP only (default: off; 0 picks one)"),
        )
        .arg(
            Arg::new("proto-max-bulk-len")
                .long("proto-max-bulk-len")
                .num_args(1)
                .help("longest RESP bulk string, keys and values (default: 512m)"),
        )
        .arg(
            Arg::new("requirepass")
                .long("requirepass")
                .num_args(1)
                .help("the default user's password: every client logs in first, either protocol"),
        )
        .arg(flag(
            "enable-ssl",
            'Z',
            "enable-ssl",
            "enable TLS on the memcached TCP ports",
        ))
        .arg(
            Arg::new("refuse-root")
                .long("refuse-root")
                .action(ArgAction::SetTrue)
                .help("exit, as memcached does, when started as root without -u"),
        )
        .arg(
            Arg::new("databases")
                .long("databases")
                .num_args(1)
                .help("number of Redis databases, 1..16 (default: 16)"),
        )
}

/// The `-h` text.
pub fn help() -> String {
    format!("{}\n{}", version(), command().render_help())
}

/// Parses the arguments after the program name, reading `--config` if one is named.
pub fn parse<I, T>(args: I) -> Result<Invocation, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let (args, cli_directives) = take_directives(args)?;
    let cli = matches(command(), args)?;
    if cli.get_flag("help") {
        return Ok(Invocation::Help);
    }
    if cli.get_flag("version") {
        return Ok(Invocation::Version);
    }
    let mut settings = Settings::default();
    let mut chunk_max_given = false;
    if let Some(path) = cli.get_one::<String>("config") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("--config", format!("{path}: {e}")))?;
        let (args, logfile, directives) = config_file_args(&text)?;
        let file = matches(command(), args).map_err(|e| ConfigError {
            flag: format!("--config {path}: {}", e.flag),
            message: e.message,
        })?;
        if file.contains_id("config") {
            return Err(ConfigError::new(
                "--config",
                format!("{path}: a config file cannot name another"),
            ));
        }
        settings.logfile = logfile;
        let (users, directives): (Vec<_>, Vec<_>) =
            directives.into_iter().partition(|(name, _)| name == "user");
        settings.acl_users = users.into_iter().map(|(_, rules)| rules).collect();
        settings.directives = directives;
        apply(&mut settings, &file, &mut chunk_max_given)?;
    }
    settings.directives.extend(cli_directives);
    apply(&mut settings, &cli, &mut chunk_max_given)?;
    validate(&mut settings, chunk_max_given)?;
    Ok(Invocation::Run(Box::new(settings)))
}

fn matches<I, T>(cmd: Command, args: I) -> Result<ArgMatches, ConfigError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    cmd.try_get_matches_from(args).map_err(|e| {
        // clap's first line names the flag ("error: unexpected argument '-Q' found").
        let text = e.to_string();
        let line = text.lines().next().unwrap_or("invalid arguments");
        let line = line.strip_prefix("error: ").unwrap_or(line);
        let flag = line
            .split('\'')
            .nth(1)
            .unwrap_or("arguments")
            .split_whitespace()
            .next()
            .unwrap_or("arguments")
            .to_string();
        ConfigError::new(&flag, line)
    })
}

/// A config file's arguments, its `logfile` line, and its Redis-style `name value` lines.
pub type ConfigFile = (Vec<String>, Option<PathBuf>, Vec<NamedSetting>);

/// A Redis-style `name value` setting.
pub type NamedSetting = (String, String);

/// Splits a Debian-style config file into arguments; also returns its `logfile` line and
/// its Redis-style directive lines (`save 900 1`, `hash-max-listpack-entries 64`): a line
/// whose first word names a [`crate::directives`] row. Repeated lines of a directive that
/// joins (`save`) are joined with a space; otherwise the last one wins.
pub fn config_file_args(text: &str) -> Result<ConfigFile, ConfigError> {
    let mut args = Vec::new();
    let mut logfile = None;
    let mut directives: Vec<(String, String)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if first == "logfile" {
            let path = words.next().ok_or_else(|| {
                ConfigError::new("logfile", format!("line {}: missing path", n + 1))
            })?;
            logfile = Some(PathBuf::from(path));
            continue;
        }
        // Redis ACL users (`user alice on >pw ~* +@all`), one entry per line.
        if first == "user" {
            directives.push(("user".into(), line[first.len()..].trim().to_string()));
            continue;
        }
        if let Some(d) = directives::find(first) {
            let value = unquote(line[first.len()..].trim());
            d.check(&value)
                .map_err(|e| ConfigError::new(first, format!("line {}: {e}", n + 1)))?;
            match directives.iter_mut().find(|(name, _)| name == d.name) {
                Some((_, old)) if d.repeat == Repeat::Join && !old.is_empty() => {
                    old.push(' ');
                    old.push_str(&value);
                }
                Some((_, old)) => *old = value,
                None => directives.push((d.name.to_string(), value)),
            }
            continue;
        }
        if !first.starts_with('-') {
            return Err(ConfigError::new(
                first,
                format!("line {}: expected a flag such as -m 64", n + 1),
            ));
        }
        args.push(first.to_string());
        args.extend(words.map(str::to_string));
    }
    Ok((args, logfile, directives))
}

/// A config line's value without the double quotes Redis's files allow (`save ""`).
fn unquote(v: &str) -> String {
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .to_string()
}

/// Takes the Redis-style `--name value` / `--name=value` arguments (names of
/// [`crate::directives`] rows) out of the command line, checked; the rest goes to clap.
fn take_directives(args: Vec<OsString>) -> Result<(Vec<OsString>, Vec<NamedSetting>), ConfigError> {
    let mut rest = Vec::with_capacity(args.len());
    let mut found = Vec::new();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy();
        let Some(long) = text.strip_prefix("--") else {
            rest.push(arg);
            continue;
        };
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        let Some(d) = directives::find(name) else {
            rest.push(arg);
            continue;
        };
        let flag = format!("--{name}");
        let value = match inline {
            Some(v) => v,
            None => it
                .next()
                .map(|v| v.to_string_lossy().into_owned())
                .ok_or_else(|| ConfigError::new(&flag, "a value is required"))?,
        };
        d.check(&value).map_err(|e| ConfigError::new(&flag, e))?;
        found.push((d.name.to_string(), value));
    }
    Ok((rest, found))
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| ConfigError::new(flag, format!("invalid number '{v}'")))
}

/// A byte count with an optional k, m or g suffix (powers of 1024).
fn size(flag: &str, v: &str) -> Result<usize, ConfigError> {
    let bad = || ConfigError::new(flag, format!("invalid size '{v}'"));
    let t = v.trim();
    let (digits, shift) = match t.as_bytes().last().map(u8::to_ascii_lowercase) {
        Some(b'k') => (&t[..t.len() - 1], 10),
        Some(b'm') => (&t[..t.len() - 1], 20),
        Some(b'g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: usize = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift).ok_or_else(bad)
}

/// Lays the flags present in `m` over `s`.
fn apply(s: &mut Settings, m: &ArgMatches, chunk_max_given: &mut bool) -> Result<(), ConfigError> {
    let get = |id: &str| m.get_one::<String>(id).map(String::as_str);
    // memcached: -1 asks for a free port (slabd's 0 does too, see the module comment).
    let port = |flag: &str, v: &str| -> Result<u16, ConfigError> {
        let p: i64 = number(flag, v)?;
        if p == -1 {
            return Ok(0);
        }
        u16::try_from(p).map_err(|_| ConfigError::new(flag, format!("Invalid port number {p}")))
    };
    if let Some(v) = get("port") {
        s.port = port("-p", v)?;
        // memcached: `-p 0` is no TCP port at all (-1 is the free one).
        s.tcp_enabled = number::<i64>("-p", v)? != 0;
    }
    if let Some(v) = get("udp-port") {
        s.udp_enabled = number::<i64>("-U", v)? != 0;
        s.udp_port = port("-U", v)?;
        // memcached: a UDP port without -p is the TCP port too (-U -1: both free ports).
        if s.udp_enabled && get("port").is_none() {
            s.port = s.udp_port;
        }
    }
    if let Some(v) = get("unix-socket") {
        s.unix_socket = Some(PathBuf::from(v));
    }
    if let Some(v) = get("unix-mask") {
        s.unix_mask = u32::from_str_radix(v.trim(), 8)
            .ok()
            .filter(|m| *m <= 0o777)
            .ok_or_else(|| ConfigError::new("-a", format!("invalid octal mask '{v}'")))?;
    }
    if let Some(list) = m.get_many::<String>("listen") {
        s.listen = list
            .flat_map(|v| v.split(','))
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty())
            .collect();
        if s.listen.is_empty() {
            return Err(ConfigError::new("-l", "no address given"));
        }
    }
    if let Some(v) = get("user") {
        s.user = Some(v.to_string());
    }
    if let Some(v) = get("memory-limit") {
        // Plain numbers are megabytes as in memcached; a suffix gives a byte size.
        let bytes = if v.trim().bytes().all(|b| b.is_ascii_digit()) {
            number::<usize>("-m", v)?.checked_mul(1 << 20)
        } else {
            Some(size("-m", v)?)
        };
        s.memory_limit = bytes
            .filter(|b| *b > 0)
            .ok_or_else(|| ConfigError::new("-m", "memory limit must be greater than 0"))?;
    }
    if let Some(v) = get("conn-limit") {
        s.maxconns = number("-c", v)?;
        if s.maxconns == 0 {
            return Err(ConfigError::new(
                "-c",
                "Maximum connections must be greater than 0",
            ));
        }
    }
    if let Some(v) = get("threads") {
        s.threads = number("-t", v)?;
        if s.threads == 0 {
            return Err(ConfigError::new(
                "-t",
                "Number of threads must be greater than 0",
            ));
        }
    }
    if let Some(v) = get("max-reqs-per-event") {
        s.reqs_per_event = number("-R", v)?;
        if s.reqs_per_event == 0 {
            return Err(ConfigError::new(
                "-R",
                "Number of requests per event must be greater than 0",
            ));
        }
    }
    if let Some(v) = get("listen-backlog") {
        s.backlog = number("-b", v)?;
        if s.backlog < 0 {
            return Err(ConfigError::new("-b", "backlog must not be negative"));
        }
    }
    if let Some(v) = get("slab-growth-factor") {
        s.growth_factor = number("-f", v)?;
        if !(s.growth_factor > 1.0 && s.growth_factor.is_finite()) {
            return Err(ConfigError::new("-f", "Factor must be greater than 1"));
        }
    }
    if let Some(v) = get("slab-min-size") {
        s.chunk_size = number("-n", v)?;
        if s.chunk_size == 0 {
            return Err(ConfigError::new("-n", "Chunk size must be greater than 0"));
        }
    }
    if let Some(v) = get("max-item-size") {
        s.item_size_max = size("-I", v)?;
    }
    if let Some(v) = get("binding-protocol") {
        s.binding_protocol = match v {
            "auto" => BindingProtocol::Auto,
            "ascii" => BindingProtocol::Ascii,
            "binary" => BindingProtocol::Binary,
            _ => {
                return Err(ConfigError::new(
                    "-B",
                    format!(
                        "Invalid value for binding protocol: {v} -- should be one of auto, binary, or ascii"
                    ),
                ))
            }
        };
    }
    if get("binding-protocol").is_some() {
        s.binding_explicit = true;
    }
    s.sasl |= m.get_flag("enable-sasl");
    if let Some(v) = get("auth-file") {
        s.auth_file = Some(PathBuf::from(v));
    }
    if let Some(v) = get("pidfile") {
        s.pid_file = Some(PathBuf::from(v));
    }
    let verbose = m.get_count("verbose");
    if verbose > 0 {
        s.verbose = verbose;
    }
    s.daemonize |= m.get_flag("daemon");
    s.no_evict |= m.get_flag("disable-evictions");
    s.refuse_root |= m.get_flag("refuse-root");
    s.tls.enabled |= m.get_flag("enable-ssl");
    s.no_cas |= m.get_flag("disable-cas");
    s.shutdown_enabled |= m.get_flag("enable-shutdown");
    s.flush_enabled &= !m.get_flag("disable-flush-all");
    s.watch_enabled &= !m.get_flag("disable-watch");
    if let Some(list) = m.get_many::<String>("extended") {
        for opts in list {
            for opt in opts.split(',').map(str::trim).filter(|o| !o.is_empty()) {
                suboption(s, opt, chunk_max_given)?;
            }
        }
    }
    if let Some(v) = get("resp-port") {
        s.resp_port = number("--resp-port", v)?;
        s.resp_enabled = true;
    }
    if let Some(v) = get("proto-max-bulk-len") {
        s.proto_max_bulk_len = size("--proto-max-bulk-len", v)?;
    }
    if let Some(v) = get("requirepass") {
        s.requirepass = Some(v.as_bytes().to_vec());
    }
    if let Some(v) = get("databases") {
        let n: u32 = number("--databases", v)?;
        s.databases = u8::try_from(n)
            .ok()
            .filter(|n| (1..=16).contains(n))
            .ok_or_else(|| ConfigError::new("--databases", "databases must be between 1 and 16"))?;
    }
    Ok(())
}

/// One `-o` option: `name`, `name=value` or `no_name`.
fn suboption(s: &mut Settings, opt: &str, chunk_max_given: &mut bool) -> Result<(), ConfigError> {
    let (name, value) = match opt.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (opt, None),
    };
    let numeric = || -> Result<&str, ConfigError> {
        value.ok_or_else(|| ConfigError::new("-o", format!("Missing numeric argument for {name}")))
    };
    match name {
        "slab_reassign" => s.slab_reassign = true,
        "no_slab_reassign" => s.slab_reassign = false,
        "slab_automove" => {
            // memcached: a bare `slab_automove` means 1.
            let n: i64 = match value {
                Some(v) => number("-o slab_automove", v)?,
                None => 1,
            };
            s.slab_automove = u8::try_from(n)
                .ok()
                .filter(|n| *n <= 2)
                .ok_or_else(|| ConfigError::new("-o", "slab_automove must be between 0 and 2"))?;
        }
        "no_slab_automove" => s.slab_automove = 0,
        // memcached 1.6's pre-1.5 defaults: no page mover, crawler or LRU maintainer
        // (slabd keeps its own chunk sizes and hash).
        "no_modern" => {
            s.slab_reassign = false;
            s.slab_automove = 0;
            s.lru_crawler = false;
            s.lru_maintainer = false;
        }
        "lru_crawler" => s.lru_crawler = true,
        "no_lru_crawler" => s.lru_crawler = false,
        "lru_maintainer" => s.lru_maintainer = true,
        "no_lru_maintainer" => s.lru_maintainer = false,
        "idle_timeout" => s.idle_timeout = number("-o idle_timeout", numeric()?)?,
        "track_sizes" => s.track_sizes = true,
        "null_server" => s.null_server = true,
        "worker_gather" => {
            use crate::server::gather::Mode;
            s.worker_gather = match value {
                None | Some("1") => Mode::Gather,
                Some("0") => Mode::Off,
                Some(_) => {
                    return Err(ConfigError::new("-o", "worker_gather must be 0 or 1"));
                }
            };
        }
        "no_worker_gather" => s.worker_gather = crate::server::gather::Mode::Off,
        "worker_shuffle" => s.worker_gather = crate::server::gather::Mode::Shuffle,
        "temporary_ttl" => {
            let v =
                value.ok_or_else(|| ConfigError::new("-o", "Missing temporary_ttl argument"))?;
            s.temporary_ttl = Some(number("-o temporary_ttl", v)?);
        }
        "watcher_logbuf_size" | "worker_logbuf_size" => {
            let missing = format!("Missing {name} argument");
            let v = value.ok_or_else(|| ConfigError::new("-o", missing))?;
            let kb: u32 = v.trim().parse().map_err(|_| {
                ConfigError::new("-o", format!("could not parse argument to {name}"))
            })?;
            let bytes = (kb as usize) << 10;
            if name == "watcher_logbuf_size" {
                s.watcher_logbuf_size = bytes;
            } else {
                s.worker_logbuf_size = bytes;
            }
        }
        "read_buf_mem_limit" => {
            let v = value
                .ok_or_else(|| ConfigError::new("-o", "Missing read_buf_mem_limit argument"))?;
            let mb: u32 = v.trim().parse().map_err(|_| {
                ConfigError::new("-o", "could not parse argument to read_buf_mem_limit")
            })?;
            s.read_buf_mem_limit = (mb as usize) << 20;
        }
        "hashpower" => {
            let n: i64 = number("-o hashpower", numeric()?)?;
            if n < 12 {
                return Err(ConfigError::new(
                    "-o",
                    format!("Initial hashtable multiplier of {n} is too low"),
                ));
            }
            if n > 32 {
                return Err(ConfigError::new(
                    "-o",
                    format!("Initial hashtable multiplier of {n} is too high"),
                ));
            }
            s.hashpower = n as u8;
        }
        "slab_chunk_max" => {
            // memcached 1.6.24 and later (1b3b855): kilobytes, 1 to 1024; earlier 1.6
            // releases documented kilobytes but read bytes.
            let v =
                value.ok_or_else(|| ConfigError::new("-o", "Missing slab_chunk_max argument"))?;
            let kb: i64 = v.trim().parse().map_err(|_| {
                ConfigError::new("-o", "could not parse argument to slab_chunk_max")
            })?;
            if kb <= 0 {
                return Err(ConfigError::new("-o", "slab_chunk_max must be >= 0"));
            }
            if kb > 1024 {
                let msg = "slab_chunk_max must be specified in kilobytes.";
                return Err(ConfigError::new("-o", msg));
            }
            s.slab_chunk_max = (kb as usize) << 10;
            *chunk_max_given = true;
        }
        "maxconns_fast" => s.maxconns_fast = true,
        "no_maxconns_fast" => s.maxconns_fast = false,
        "ssl_chain_cert" => s.tls.chain_cert = value.map(str::to_string),
        "ssl_key" => s.tls.key = value.map(str::to_string),
        "ssl_ca_cert" => s.tls.ca_cert = value.map(str::to_string),
        "ssl_verify_mode" => {
            s.tls.verify_mode = number::<u8>("-o ssl_verify_mode", numeric()?)?;
            if s.tls.verify_mode > 3 {
                return Err(ConfigError::new("-o", "ssl_verify_mode must be 0..3"));
            }
        }
        "ssl_min_version" => s.tls.min_version = value.map(str::to_string),
        "ssl_ciphers" => s.tls.ciphers = value.map(str::to_string),
        "ssl_keyformat" | "ssl_wbuf_size" | "ssl_session_cache" | "ssl_kernel_tls" => {
            s.ignored_options.push(opt.to_string())
        }
        _ if COMPAT_SUBOPTIONS.contains(&name) => s.ignored_options.push(opt.to_string()),
        _ => {
            return Err(ConfigError::new(
                "-o",
                format!("Illegal suboption \"{opt}\""),
            ))
        }
    }
    Ok(())
}

/// Checks that hold between flags, after the file and the command line are both read.
fn validate(s: &mut Settings, chunk_max_given: bool) -> Result<(), ConfigError> {
    authentication(s)?;
    if s.tls.enabled && !s.tcp_enabled {
        let msg = "ERROR: You cannot enable SSL without a TCP port.";
        return Err(ConfigError::new("-Z", msg));
    }
    let i = s.item_size_max;
    if i < ITEM_SIZE_MIN {
        return Err(ConfigError::new(
            "-I",
            "Item max size cannot be less than 1024 bytes.",
        ));
    }
    if i > ITEM_SIZE_LIMIT {
        return Err(ConfigError::new(
            "-I",
            "Cannot set item size limit higher than a gigabyte.",
        ));
    }
    if i > s.memory_limit / 2 {
        return Err(ConfigError::new(
            "-I",
            "Cannot set item size limit higher than 1/2 of memory max.",
        ));
    }
    if !chunk_max_given {
        // memcached refuses a small -I against the default 512k chunk; the only sensible
        // value then is one chunk per item.
        s.slab_chunk_max = s.slab_chunk_max.min(i);
        return Ok(());
    }
    let c = s.slab_chunk_max;
    if c > i {
        return Err(ConfigError::new(
            "-o",
            format!("slab_chunk_max (bytes: {c}) cannot be larger than -I (item_size_max {i})"),
        ));
    }
    if i % c != 0 {
        return Err(ConfigError::new(
            "-I",
            format!(
                "-I (item_size_max: {i}) must be evenly divisible by slab_chunk_max (bytes: {c})"
            ),
        ));
    }
    if SLAB_PAGE_SIZE % c != 0 {
        return Err(ConfigError::new(
            "-o",
            format!("slab_chunk_max (bytes: {c}) must divide evenly into {SLAB_PAGE_SIZE} (slab_page_size)"),
        ));
    }
    Ok(())
}

/// `-S` and `-Y` as memcached 1.6 takes them: SASL means the binary protocol only, ASCII
/// authentication the text protocol only, and either refuses a `-B` that says otherwise.
fn authentication(s: &mut Settings) -> Result<(), ConfigError> {
    if s.sasl {
        if !s.binding_explicit {
            s.binding_protocol = BindingProtocol::Binary;
        } else if s.binding_protocol != BindingProtocol::Binary {
            return Err(ConfigError::new(
                "-S",
                "ERROR: You cannot allow the ASCII protocol while using SASL.",
            ));
        }
        if s.udp_enabled {
            return Err(ConfigError::new(
                "-S",
                "ERROR: Cannot enable UDP while using binary SASL authentication.",
            ));
        }
        if let Some(path) = std::env::var_os("MEMCACHED_SASL_PWDB") {
            let text = std::fs::read(&path).map_err(|e| {
                ConfigError::new(
                    "-S",
                    format!("Could not open MEMCACHED_SASL_PWDB [{path:?}], error {e}"),
                )
            })?;
            s.sasl_auth = auth_entries(&text).ok_or_else(|| {
                ConfigError::new(
                    "-S",
                    format!("MEMCACHED_SASL_PWDB [{path:?}] has a malformed entry. Should be 'user:password'"),
                )
            })?;
        }
    }
    let Some(path) = s.auth_file.clone() else {
        return Ok(());
    };
    if !s.binding_explicit {
        s.binding_protocol = BindingProtocol::Ascii;
    } else if s.binding_protocol != BindingProtocol::Ascii {
        return Err(ConfigError::new(
            "-Y",
            "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.",
        ));
    }
    let text = std::fs::read(&path).map_err(|e| {
        ConfigError::new(
            "-Y",
            format!(
                "Could not open authfile [{}] for reading, error {e}",
                path.display()
            ),
        )
    })?;
    s.ascii_auth = auth_entries(&text).ok_or_else(|| {
        ConfigError::new(
            "-Y",
            format!(
                "Authfile [{}] has a malformed entry. Should be 'user:password'",
                path.display()
            ),
        )
    })?;
    Ok(())
}

/// memcached's authfile: one `user:password` per line (the password ends at `\r`, `\n`
/// or the end), at most 8 entries; a line without `:` is malformed.
pub fn auth_entries(text: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    const MAX_ENTRIES: usize = 8;
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return Some(Vec::new());
    }
    let mut entries = Vec::new();
    for line in text.split(|&b| b == b'\n').take(MAX_ENTRIES) {
        let colon = line.iter().position(|&b| b == b':')?;
        let pass = &line[colon + 1..];
        let pass = &pass[..pass.iter().position(|&b| b == b'\r').unwrap_or(pass.len())];
        entries.push((line[..colon].to_vec(), pass.to_vec()));
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
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
            config_file_args("-m 64\nsave \"\"\nzset-max-ziplist-value 32\nappendonly no\n")
                .unwrap();
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
        let e = config_file_args("-m 64\nport 1\n").unwrap_err();
        assert_eq!(e.flag, "port");
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
}
