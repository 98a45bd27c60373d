//! Every setting, from memcached's flags, a Debian-style `memcached.conf` (`--config`) and
//! `-o` extended options. Validation errors are one line naming the flag.
//!
//! (Parsing is being written; the struct below is the contract other modules read.)

use std::path::PathBuf;

/// The daemon's settings, after parsing and validation. Names follow memcached's `stats
/// settings` where one exists.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `-p`: TCP port (0 picks a free port; the bound address is reported on stderr).
    pub port: u16,
    /// `-l`: addresses to listen on.
    pub listen: Vec<String>,
    /// `-s`: unix socket path (TCP is off when set, as memcached does).
    pub unix_socket: Option<PathBuf>,
    /// `-a`: unix socket permissions.
    pub unix_mask: u32,
    /// `-U`: UDP port; only 0 (off) is supported.
    pub udp_port: u16,
    /// `--resp-port`: port serving RESP only (0 = off).
    pub resp_port: u16,
    /// `-m` in bytes.
    pub memory_limit: usize,
    /// `-M`: error instead of evicting.
    pub no_evict: bool,
    /// `-c`
    pub maxconns: usize,
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
    /// `-o slab_chunk_max` in bytes.
    pub slab_chunk_max: usize,
    /// `-C`: CAS disabled.
    pub no_cas: bool,
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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            port: 11211,
            listen: vec!["127.0.0.1".to_string()],
            unix_socket: None,
            unix_mask: 0o700,
            udp_port: 0,
            resp_port: 0,
            memory_limit: 64 << 20,
            no_evict: false,
            maxconns: 1024,
            threads: std::thread::available_parallelism().map_or(4, |n| n.get()),
            reqs_per_event: 20,
            backlog: 1024,
            growth_factor: 1.25,
            chunk_size: 48,
            item_size_max: 1 << 20,
            slab_chunk_max: 1 << 19,
            no_cas: false,
            verbose: 0,
            user: None,
            daemonize: false,
            pid_file: None,
            shutdown_enabled: false,
            flush_enabled: true,
            idle_timeout: 0,
            hashpower: 16,
            slab_reassign: true,
            slab_automove: 1,
            lru_crawler: true,
            lru_maintainer: true,
            requirepass: None,
            databases: 16,
        }
    }
}
