//! What COMMAND INFO and COMMAND DOCS reply beyond slabd's own command table, as Redis 7.0
//! replies it: each command's tips, key specs and subcommands (with their full entries:
//! `COMMAND INFO object|encoding` works too), and its documentation (summary, complexity,
//! history, arguments, ...).
//!
//! The replies live in `command_docs.txt`, written by `scripts/gen-command-docs.py` from
//! Redis 7.0.15's command JSON files: one reply a line, its elements separated by tabs
//! (`*N` array, `%N` map, `~N` set, `$text` bulk string, `:n` integer, `+text` status).
//! [`write`] replays a line through the [`Writer`], so a map or set becomes an array in
//! RESP2 as every other reply does. Read only by COMMAND, never on a data path.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::protocol::resp::Writer;

static DATA: &str = include_str!("command_docs.txt");

/// A command's (or `container|subcommand`'s) two lines, without their `@` headers.
#[derive(Default, Clone, Copy)]
struct Entry {
    head: Option<&'static str>,
    info: Option<&'static str>,
    docs: Option<&'static str>,
}

fn index() -> &'static HashMap<&'static str, Entry> {
    static INDEX: OnceLock<HashMap<&'static str, Entry>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map: HashMap<&'static str, Entry> = HashMap::new();
        for line in DATA.lines() {
            let (head, body) = line.split_once('\t').unwrap_or((line, ""));
            if let Some(name) = head.strip_prefix("@head ") {
                map.entry(name).or_default().head = Some(body);
            } else if let Some(name) = head.strip_prefix("@info ") {
                map.entry(name).or_default().info = Some(body);
            } else if let Some(name) = head.strip_prefix("@docs ") {
                map.entry(name).or_default().docs = Some(body);
            }
        }
        map
    })
}

/// `name` in lower case, if it is short enough to be a command name (no allocation).
fn lower(name: &[u8], buf: &mut [u8; 64]) -> Option<&'static Entry> {
    let n = name.len();
    if n > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let key = std::str::from_utf8(&buf[..n]).ok()?;
    index().get(key)
}

/// `container|subcommand`'s full name in lower case, if Redis 7.0 has that subcommand.
pub(super) fn subcommand(name: &[u8]) -> Option<&'static str> {
    if !name.contains(&b'|') || name.len() > 64 {
        return None;
    }
    let mut buf = [0u8; 64];
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    let key = std::str::from_utf8(&buf[..name.len()]).ok()?;
    index().get_key_value(key).map(|(k, _)| *k)
}

/// A container's first seven COMMAND INFO elements (name to ACL categories): what Redis
/// declares for the container itself, not the union of its subcommands' flags that
/// slabd's own table holds.
pub(super) fn container_head(name: &[u8]) -> Option<&'static str> {
    lower(name, &mut [0; 64]).and_then(|e| e.head)
}

/// Redis 7.0's own entry for a subcommand (`client|help`): what a script's `redis.call`
/// checks, as Redis checks the subcommand it looked up rather than its container.
#[derive(Clone, Copy)]
pub(super) struct Subcommand {
    /// The subcommand's arity (the container's name counts, as in Redis).
    pub(super) arity: i32,
    /// Its COMMAND INFO entry: `*10 $name :arity ~N +flag...`.
    line: &'static str,
}

impl Subcommand {
    /// Whether Redis 7.0 declares the subcommand with command flag `flag` (`noscript`:
    /// CLUSTER RESET, CONFIG GET and every CLIENT, ACL, ... subcommand but HELP).
    pub(super) fn has(&self, flag: &str) -> bool {
        let mut elements = self.line.split('\t').skip(3);
        let count = elements
            .next()
            .and_then(|e| e.strip_prefix('~'))
            .and_then(|c| c.parse::<usize>().ok())
            .unwrap_or(0);
        elements
            .take(count)
            .any(|e| e.strip_prefix('+') == Some(flag))
    }
}

/// Redis 7.0's `container|sub`, if it has that subcommand (any case). No allocation.
pub(super) fn subcommand_entry(container: &[u8], sub: &[u8]) -> Option<Subcommand> {
    let mut name = [0u8; 64];
    let n = container.len() + 1 + sub.len();
    if n > name.len() {
        return None;
    }
    name[..container.len()].copy_from_slice(container);
    name[container.len()] = b'|';
    name[container.len() + 1..n].copy_from_slice(sub);
    let line = info(&name[..n])?;
    let arity = line
        .split('\t')
        .nth(2)
        .and_then(|e| e.strip_prefix(':'))
        .and_then(|a| a.parse().ok())?;
    Some(Subcommand { arity, line })
}

/// The last three elements of a command's COMMAND INFO entry (tips, key specs,
/// subcommands); for `container|subcommand`, the whole entry.
pub(super) fn info(name: &[u8]) -> Option<&'static str> {
    lower(name, &mut [0; 64]).and_then(|e| e.info)
}

/// A command's COMMAND DOCS map.
pub(super) fn docs(name: &[u8]) -> Option<&'static str> {
    lower(name, &mut [0; 64]).and_then(|e| e.docs)
}

/// Writes the elements of one stored reply line.
pub(super) fn write(w: &mut Writer<'_>, line: &str) {
    for element in line.split('\t') {
        let Some(kind) = element.bytes().next() else {
            continue;
        };
        let rest = &element[1..];
        let count = || rest.parse::<usize>().unwrap_or(0);
        match kind {
            b'*' => w.array(count()),
            b'%' => w.map(count()),
            b'~' => w.set(count()),
            b'$' => w.bulk(rest.as_bytes()),
            b':' => w.integer(rest.parse().unwrap_or(0)),
            b'+' => w.simple(rest.as_bytes()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stored line is well formed: each aggregate is followed by as many elements
    /// as it announces, and the line holds exactly the elements it should.
    #[test]
    fn stored_replies_are_complete() {
        // Number of complete replies a line's elements make, starting at `i`.
        fn reply(elements: &[&str], i: &mut usize) -> bool {
            let Some(e) = elements.get(*i) else {
                return false;
            };
            *i += 1;
            let n: usize = e[1..].parse().unwrap_or(0);
            let children = match e.as_bytes()[0] {
                b'*' | b'~' => n,
                b'%' => 2 * n,
                b'$' | b':' | b'+' => 0,
                _ => return false,
            };
            (0..children).all(|_| reply(elements, i))
        }
        let mut lines = 0;
        for line in DATA.lines().filter(|l| l.starts_with('@')) {
            let (head, body) = line.split_once('\t').unwrap();
            let elements: Vec<&str> = body.split('\t').collect();
            let want = match head.split_once(' ').unwrap().0 {
                "@info" if !head.contains('|') => 3,
                "@head" => 7,
                _ => 1,
            };
            let mut i = 0;
            for _ in 0..want {
                assert!(reply(&elements, &mut i), "{head}");
            }
            assert_eq!(i, elements.len(), "{head}");
            lines += 1;
        }
        assert!(lines > 700);
        assert!(container_head(b"CLIENT").is_some());
        assert!(container_head(b"get").is_none());
        let flag = |c: &[u8], s: &[u8]| subcommand_entry(c, s).map(|e| e.has("noscript"));
        assert_eq!(flag(b"CLUSTER", b"reset"), Some(true));
        assert_eq!(flag(b"cluster", b"info"), Some(false));
        assert_eq!(flag(b"acl", b"WHOAMI"), Some(true));
        assert_eq!(flag(b"client", b"help"), Some(false));
        assert_eq!(flag(b"config", b"get"), Some(true));
        assert_eq!(flag(b"get", b"x"), None);
        assert_eq!(flag(b"client", b"nosuch"), None);
        assert_eq!(
            subcommand_entry(b"config", b"get").map(|e| e.arity),
            Some(-3)
        );
        assert_eq!(
            subcommand_entry(b"client", b"help").map(|e| e.arity),
            Some(2)
        );
        assert!(info(b"OBJECT|Encoding").is_some());
        assert!(docs(b"get").is_some());
        assert!(info(b"no-such-command").is_none());
    }
}
