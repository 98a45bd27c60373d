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

mod apply;
mod auth;
mod cli;
mod file;
#[cfg(test)]
mod tests;

pub use auth::auth_entries;
pub use file::{config_file_args, ConfigFile, NamedSetting};

use apply::{apply, validate};
use cli::{command, matches};
use file::take_directives;

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
    /// `--maxmemory-policy` (or a `maxmemory-policy` config line) naming an evicting
    /// policy: `allkeys-lru`, `allkeys-lfu` or `allkeys-random`; `None` is slabd's
    /// default, allkeys-lru (`noeviction` sets `no_evict`).
    pub maxmemory_policy: Option<String>,
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
    /// `-o worker_gather=0|1`, `-o worker_shuffle` and `-o worker_spread` (slabd's own): whether live
    /// connections gather on as few workers as the load needs (server::gather).
    pub worker_gather: crate::server::gather::Mode,
    /// `-o worker_trial=0|1` (slabd's own, default 1): whether waiting for a CPU alone may
    /// spread the workers, on trial (server::gather); 0 spreads only for idle CPUs.
    pub worker_trial: bool,
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
    /// `--config`'s file as an absolute path (CONFIG REWRITE writes it).
    pub config_file: Option<PathBuf>,
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
            maxmemory_policy: None,
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
            worker_gather: crate::server::gather::Mode::Gather,
            worker_trial: true,
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
            config_file: None,
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
        settings.config_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.into()));
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
