//! The command line's shape: every flag as one row of [`FLAGS`], in `-h` order, and clap's
//! errors turned into one [`ConfigError`] line that names the flag.

use std::ffi::OsString;

use clap::{Arg, ArgAction, ArgMatches, Command};

use super::ConfigError;

/// How a flag takes its value.
#[derive(Clone, Copy)]
enum Takes {
    /// One value; may start with `-` (`-p -1`), as memcached's getopt allows.
    Value,
    /// One value per use, all kept (`-l a -l b`, `-o x -o y`).
    Values,
    /// A switch.
    Switch,
    /// A switch counted per use (`-vv`).
    Count,
    /// One value that may not start with `-` (slabd's own long-only flags).
    Plain,
}

/// One flag: clap id, short letter (memcached's), long name, what it takes, `-h` text.
struct Flag(
    &'static str,
    Option<char>,
    &'static str,
    Takes,
    &'static str,
);

use Takes::{Count, Plain, Switch, Value, Values};

#[rustfmt::skip]
const FLAGS: &[Flag] = &[
    Flag("port", Some('p'), "port", Value, "TCP port to listen on (default: 11211; 0 picks one)"),
    Flag("udp-port", Some('U'), "udp-port", Value, "UDP port (default: 0, off; -1 picks one)"),
    Flag("unix-socket", Some('s'), "unix-socket", Value, "UNIX socket to listen on (disables TCP)"),
    Flag("unix-mask", Some('a'), "unix-mask", Value, "access mask for the UNIX socket, in octal (default: 700)"),
    Flag("enable-shutdown", Some('A'), "enable-shutdown", Switch, "enable the ascii \"shutdown\" command"),
    Flag("listen", Some('l'), "listen", Values, "comma-separated addresses to listen on (default: 127.0.0.1)"),
    Flag("daemon", Some('d'), "daemon", Switch, "run as a daemon"),
    Flag("enable-coredumps", Some('r'), "enable-coredumps", Switch, "accepted for compatibility; no effect"),
    Flag("user", Some('u'), "user", Value, "assume the identity of <user> (only when run as root)"),
    Flag("memory-limit", Some('m'), "memory-limit", Value, "item memory in megabytes (default: 64)"),
    Flag("disable-evictions", Some('M'), "disable-evictions", Switch, "return an error on memory exhausted instead of evicting"),
    Flag("maxmemory-policy", None, "maxmemory-policy", Plain, "Redis's eviction policy: allkeys-lru (default), allkeys-lfu, allkeys-random, or noeviction (-M)"),
    Flag("conn-limit", Some('c'), "conn-limit", Value, "max simultaneous connections (default: 1024)"),
    Flag("lock-memory", Some('k'), "lock-memory", Switch, "accepted for compatibility; no effect"),
    Flag("verbose", Some('v'), "verbose", Count, "verbose: -v errors and connection events, -vv also commands"),
    Flag("help", Some('h'), "help", Switch, "print this help and exit"),
    Flag("version", Some('V'), "version", Switch, "print version and exit"),
    Flag("pidfile", Some('P'), "pidfile", Value, "save the PID in <file>, only with -d"),
    Flag("slab-growth-factor", Some('f'), "slab-growth-factor", Value, "chunk size growth factor (default: 1.25)"),
    Flag("slab-min-size", Some('n'), "slab-min-size", Value, "min space used for key+value+flags (default: 48)"),
    Flag("threads", Some('t'), "threads", Value, "number of worker threads (default: the number of cores)"),
    Flag("max-reqs-per-event", Some('R'), "max-reqs-per-event", Value, "requests served per connection per event (default: 20)"),
    Flag("disable-cas", Some('C'), "disable-cas", Switch, "disable use of CAS"),
    Flag("listen-backlog", Some('b'), "listen-backlog", Value, "listen backlog (default: 1024)"),
    Flag("max-item-size", Some('I'), "max-item-size", Value, "max item size, k/m/g suffixes (default: 1m, min: 1k, max: 1024m)"),
    Flag("binding-protocol", Some('B'), "protocol", Value, "protocol: auto, ascii or binary (default: auto)"),
    Flag("enable-sasl", Some('S'), "enable-sasl", Switch, "binary protocol clients must authenticate (SASL PLAIN, MEMCACHED_SASL_PWDB)"),
    Flag("auth-file", Some('Y'), "auth-file", Value, "text protocol clients must authenticate against this user:password file"),
    Flag("disable-watch", Some('W'), "disable-watch", Switch, "disable watch commands (live logging)"),
    Flag("disable-flush-all", Some('F'), "disable-flush-all", Switch, "disable the flush_all command"),
    Flag("extended", Some('o'), "extended", Values, "comma-separated extended options (see memcached.conf)"),
    Flag("config", None, "config", Plain, "read flags from a memcached.conf-style file; command-line flags override it"),
    Flag("resp-port", None, "resp-port", Plain, "port serving RESP only (default: off; 0 picks one)"),
    Flag("proto-max-bulk-len", None, "proto-max-bulk-len", Plain, "longest RESP bulk string, keys and values (default: 512m)"),
    Flag("requirepass", None, "requirepass", Plain, "the default user's password: every client logs in first, either protocol"),
    Flag("enable-ssl", Some('Z'), "enable-ssl", Switch, "enable TLS on the memcached TCP ports"),
    Flag("refuse-root", None, "refuse-root", Switch, "exit, as memcached does, when started as root without -u"),
    Flag("databases", None, "databases", Plain, "number of Redis databases, 1..16 (default: 16)"),
];

impl Flag {
    fn arg(&self) -> Arg {
        let Flag(id, short, long, takes, help) = *self;
        let arg = Arg::new(id).long(long).help(help);
        let arg = match short {
            Some(c) => arg.short(c),
            None => arg,
        };
        match takes {
            Value => arg.num_args(1).allow_hyphen_values(true),
            Values => arg
                .num_args(1)
                .allow_hyphen_values(true)
                .action(ArgAction::Append),
            Switch => arg.action(ArgAction::SetTrue),
            Count => arg.action(ArgAction::Count),
            Plain => arg.num_args(1),
        }
    }
}

/// The parser for slabd's command line (and a config file's flag lines).
pub(super) fn command() -> Command {
    Command::new("slabd")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args_override_self(true)
        .args(FLAGS.iter().map(Flag::arg))
}

pub(super) fn matches<I, T>(cmd: Command, args: I) -> Result<ArgMatches, ConfigError>
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
