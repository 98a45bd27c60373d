//! A Debian-style `memcached.conf` read into arguments, and the Redis-style `name value`
//! settings taken out of a config file or the command line.

use std::ffi::OsString;
use std::path::PathBuf;

use super::ConfigError;
use crate::directives::{self, Repeat};

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
        // ` #` starts a comment, except in a `user` line, where `#<sha256>` is a password
        // (as ACL LIST and CONFIG REWRITE write it).
        let line = match line.trim() {
            user if user.starts_with("user ") => user,
            _ => line.split(" #").next().unwrap_or("").trim(),
        };
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
        if let Some(flags) = live_line(first, line[first.len()..].trim()) {
            args.extend(
                flags.map_err(|e| ConfigError::new(first, format!("line {}: {e}", n + 1)))?,
            );
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

/// Redis's lines for what memcached-style flags set (CONFIG REWRITE writes them): the
/// flags they stand for. `port` is the RESP port, and `port 0` none (Redis's meaning; the
/// flag's 0 would pick a port); `maxmemory-policy` is `--maxmemory-policy` (noeviction is
/// `-M`). `None` for any other line.
fn live_line(name: &str, value: &str) -> Option<Result<Vec<String>, String>> {
    let flags = match name {
        "maxmemory" => match directives::parse_memory(value) {
            Some(n) if n > 0 => Ok(vec![
                "-m".into(),
                format!("{}k", (n as u64).div_ceil(1 << 10)),
            ]),
            Some(0) => Err("slabd needs a memory limit (0, unlimited, is not supported)".into()),
            _ => Err(format!("invalid memory value '{value}'")),
        },
        "maxclients" => Ok(vec!["-c".into(), value.into()]),
        "maxmemory-policy" => Ok(vec!["--maxmemory-policy".into(), value.into()]),
        "port" => match value.parse::<u16>() {
            Ok(0) => Ok(Vec::new()),
            Ok(p) => Ok(vec!["--resp-port".into(), p.to_string()]),
            Err(_) => Err(format!("invalid port '{value}'")),
        },
        _ => return None,
    };
    Some(flags)
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
pub(super) fn take_directives(
    args: Vec<OsString>,
) -> Result<(Vec<OsString>, Vec<NamedSetting>), ConfigError> {
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
