//! memcached requests under the ACL: each is checked as the Redis command of the same
//! meaning, so one user's rules cover both protocols.
//!
//! | memcached                                  | checked as  | key access   |
//! |--------------------------------------------|-------------|--------------|
//! | get gets mg mn                             | GET         | read         |
//! | gat gats                                   | GETEX       | read + write |
//! | set add replace cas ms                     | SET         | write        |
//! | append prepend                             | APPEND      | write        |
//! | delete md                                  | DEL         | write        |
//! | incr decr ma                               | INCRBY      | read + write |
//! | touch                                      | EXPIRE      | write        |
//! | flush_all                                  | FLUSHALL    | —            |
//! | stats                                      | INFO        | —            |
//! | me                                         | PING        | —            |
//! | version mn quit                            | —           | always allowed |
//! | verbosity cache_memlimit slabs lru_crawler | CONFIG SET  | —            |
//! | shutdown                                   | SHUTDOWN    | —            |
//!
//! `me` (meta debug) shows item metadata only, like PING it needs no key permission.
//! `version`, `mn` and `quit` are connection-level, like Redis's AUTH and QUIT (memcached
//! answers VERSION before SASL login too).

use super::catalog::{self, CommandId, KEY_READ, KEY_WRITE};
use super::{Denied, User};
use crate::protocol::memcache::binary::{Op, StoreOp};
use crate::protocol::memcache::{Command, StoreVerb};

/// memcached's reply to a request the user may not run (memcached itself has no ACL; the
/// text is slabd's, in memcached's `CLIENT_ERROR` form so every client library surfaces it).
pub const DENIED: &[u8] = b"CLIENT_ERROR NOPERM this user has no permissions to run this command";

/// The Redis command a memcached request word is checked as, and the access its key needs.
pub fn equivalent(verb: &[u8]) -> Option<(CommandId, u8)> {
    let (name, access): (&[u8], u8) = match verb {
        b"get" | b"gets" | b"mg" => (b"get", KEY_READ),
        b"gat" | b"gats" => (b"getex", KEY_READ | KEY_WRITE),
        b"set" | b"add" | b"replace" | b"cas" | b"ms" => (b"set", KEY_WRITE),
        b"append" | b"prepend" => (b"append", KEY_WRITE),
        b"delete" | b"md" => (b"del", KEY_WRITE),
        b"incr" | b"decr" | b"ma" => (b"incrby", KEY_READ | KEY_WRITE),
        b"touch" => (b"expire", KEY_WRITE),
        b"flush_all" => (b"flushall", 0),
        b"stats" => (b"info", 0),
        b"me" => (b"ping", 0),
        b"verbosity" | b"cache_memlimit" | b"slabs" | b"lru_crawler" | b"lru" | b"watch"
        | b"refresh_certs" => (b"config|set", 0),
        b"shutdown" => (b"shutdown", 0),
        _ => return None,
    };
    catalog::lookup(name).map(|id| (id, access))
}

/// Checks a request word and its keys against a user's selectors: allowed when one
/// selector allows the command and every key.
pub fn check_verb<'k>(
    user: &User,
    verb: &[u8],
    keys: impl Iterator<Item = &'k [u8]> + Clone,
) -> Result<(), Denied> {
    if user.unrestricted() {
        return Ok(());
    }
    let Some((id, access)) = equivalent(verb) else {
        return if user.may_run_everything() {
            Ok(())
        } else {
            Err(Denied::Command)
        };
    };
    let entry = catalog::entry(id);
    let mut worst = Denied::Command;
    for s in &user.selectors {
        if !(s.all_commands || entry.no_auth || s.bit(usize::from(id))) {
            continue;
        }
        match keys.clone().position(|k| !s.key_allowed(k, access)) {
            None => return Ok(()),
            Some(p) => worst = Denied::Key(p + 1),
        }
    }
    Err(worst)
}

/// Checks a parsed text-protocol request.
pub fn check(user: &User, cmd: &Command<'_>) -> Result<(), Denied> {
    if user.unrestricted() {
        return Ok(());
    }
    let one = |verb: &[u8], key: &[u8]| check_verb(user, verb, std::iter::once(key));
    let none = |verb: &[u8]| check_verb(user, verb, std::iter::empty());
    match cmd {
        Command::Get { keys, touch, .. } => {
            let verb: &[u8] = if touch.is_some() { b"gat" } else { b"get" };
            check_verb(user, verb, keys.iter())
        }
        Command::Store { verb, key, .. } => one(
            match verb {
                StoreVerb::Append | StoreVerb::Prepend => b"append",
                _ => b"set",
            },
            key,
        ),
        Command::Delete { key, .. } => one(b"delete", key),
        Command::Arith { key, .. } => one(b"incr", key),
        Command::Touch { key, .. } => one(b"touch", key),
        Command::FlushAll { .. } => none(b"flush_all"),
        Command::Version | Command::MetaNoop | Command::Quit => Ok(()),
        Command::RefreshCerts => none(b"refresh_certs"),
        Command::Shutdown { .. } => none(b"shutdown"),
        Command::Stats(_) => none(b"stats"),
        Command::Verbosity { .. }
        | Command::CacheMemlimit { .. }
        | Command::SlabsReassign { .. }
        | Command::SlabsAutomove(_)
        | Command::LruCrawlerCrawl(_)
        | Command::LruCrawlerMetadump(_)
        | Command::LruCrawlerToggle(_)
        | Command::LruCrawlerSetting
        | Command::Lru(_) => none(b"verbosity"),
        Command::MetaGet { key, .. } => one(b"mg", key.bytes()),
        Command::MetaSet { key, .. } => one(b"ms", key.bytes()),
        Command::MetaDelete { key, .. } => one(b"md", key.bytes()),
        Command::MetaArith { key, .. } => one(b"ma", key.bytes()),
        Command::MetaDebug { key } => one(b"me", key.bytes()),
    }
}

/// Checks a binary-protocol request (its key is `key`).
pub fn check_binary(user: &User, op: Op, key: &[u8]) -> Result<(), Denied> {
    if user.unrestricted() {
        return Ok(());
    }
    let one = |verb: &[u8]| check_verb(user, verb, std::iter::once(key));
    let none = |verb: &[u8]| check_verb(user, verb, std::iter::empty());
    match op {
        Op::Get { touch: true, .. } => one(b"gat"),
        Op::Get { .. } => one(b"get"),
        Op::Store(StoreOp::Append | StoreOp::Prepend) => one(b"append"),
        Op::Store(_) => one(b"set"),
        Op::Delete => one(b"delete"),
        Op::Arith { .. } => one(b"incr"),
        Op::Flush => none(b"flush_all"),
        Op::Stat => none(b"stats"),
        Op::Quit | Op::Noop | Op::Version | Op::SaslListMechs | Op::SaslAuth | Op::SaslStep => {
            Ok(())
        }
    }
}
