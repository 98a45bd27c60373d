//! The command table: every RESP command slabd serves, gathered from its family's file.
//!
//! Each command family (`strings.rs`, `keys.rs`, `hash.rs`, ...) declares
//! `pub(super) static COMMANDS: &[Spec]` beside its handlers, written with [`spec!`];
//! [`FAMILIES`] lists those tables. Adding a family is its file plus one line there, so
//! families grow without touching each other.
//!
//! The first lookup builds one [`Registry`]: the specs in family order (a command's place
//! there indexes its counters in `INFO commandstats`) and an open-addressing table from the
//! lower-cased name to that place. A lookup lower-cases the name into a stack buffer while
//! hashing it, then probes: no allocation and no scan of the whole table, however many
//! commands there are.

use std::sync::OnceLock;

use crate::hub::redact::Holder;

use super::{
    acl, bitops, blocking, cluster, config, connection, copy, dump, functions, geo, hash, hll,
    keys, latency, list, memory, migrate, monitor, object, persistence, pubsub, replication, reset,
    role, scripting, server, set, slowlog, sort, strings, transaction, zset, zsetops, Args, Call,
};

pub(super) type Handler = fn(&mut Call<'_>, Args<'_>);

/// Every family's table, in the order `COMMAND` lists them.
static FAMILIES: &[&[Spec]] = &[
    strings::COMMANDS,
    keys::COMMANDS,
    connection::COMMANDS,
    transaction::COMMANDS,
    // semantics: bits, HyperLogLog, scripting.
    bitops::COMMANDS,
    hll::COMMANDS,
    scripting::COMMANDS,
    functions::COMMANDS,
    reset::COMMANDS,
    server::COMMANDS,
    config::COMMANDS,
    pubsub::COMMANDS,
    acl::COMMANDS,
    persistence::COMMANDS,
    monitor::COMMANDS,
    slowlog::COMMANDS,
    latency::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    list::COMMANDS,
    zset::COMMANDS,
    zsetops::COMMANDS,
    geo::COMMANDS,
    blocking::COMMANDS,
    object::COMMANDS,
    copy::COMMANDS,
    dump::COMMANDS,
    migrate::COMMANDS,
    sort::COMMANDS,
    memory::COMMANDS,
    cluster::COMMANDS,
    role::COMMANDS,
    replication::COMMANDS,
];

/// A command as `COMMAND INFO` describes it, plus its handler.
pub(crate) struct Spec {
    pub(super) name: &'static str,
    /// Argument count including the name; negative means at least that many.
    pub(super) arity: i32,
    pub(super) flags: &'static [&'static str],
    /// The flags a hot path tests, as [`flag`] bits (made from `flags` at compile time).
    pub(super) bits: u8,
    pub(super) first_key: i32,
    pub(super) last_key: i32,
    pub(super) key_step: i32,
    pub(super) group: &'static str,
    pub(super) since: &'static str,
    pub(super) summary: &'static str,
    pub(super) handler: Handler,
    /// Whether (and how) its arguments may hold secrets that MONITOR, the slow log and
    /// `-vv` redact (made from `name` at compile time).
    pub(crate) secrets: Holder,
}

/// Bits for the flags a hot path tests (a script's every `redis.call` checks three),
/// so that the test is one AND rather than string comparisons over the flag list.
pub(super) mod flag {
    pub(crate) const WRITE: u8 = 1;
    pub(crate) const NOSCRIPT: u8 = 2;
    pub(crate) const MAY_REPLICATE: u8 = 4;
    pub(crate) const NO_MULTI: u8 = 8;
    /// Not shown to MONITOR (tested per command while one is connected).
    pub(crate) const ADMIN: u8 = 16;
    /// Shown to MONITOR before it runs (scripts).
    pub(crate) const SKIP_MONITOR: u8 = 32;
    /// Refused unless `enable-debug-command` allows the client (Redis 7.0's `protected`
    /// flag, which COMMAND INFO does not show).
    pub(crate) const PROTECTED: u8 = 64;

    /// [`PROTECTED`] for the commands Redis 7.0 protects (DEBUG; slabd has no MODULE).
    pub(crate) const fn protected(name: &str) -> u8 {
        if same(name, "debug") {
            PROTECTED
        } else {
            0
        }
    }

    use crate::hub::redact::same;

    /// The bits of the flags in `flags` that have one.
    pub(crate) const fn bits(flags: &[&str]) -> u8 {
        let mut out = 0;
        let mut i = 0;
        while i < flags.len() {
            if same(flags[i], "write") {
                out |= WRITE;
            } else if same(flags[i], "noscript") {
                out |= NOSCRIPT;
            } else if same(flags[i], "may_replicate") {
                out |= MAY_REPLICATE;
            } else if same(flags[i], "no_multi") {
                out |= NO_MULTI;
            } else if same(flags[i], "admin") {
                out |= ADMIN;
            } else if same(flags[i], "skip_monitor") {
                out |= SKIP_MONITOR;
            }
            i += 1;
        }
        out
    }
}

impl Spec {
    /// Whether the command has every flag of `bits` ([`flag`]).
    #[inline]
    pub(super) fn has(&self, bits: u8) -> bool {
        self.bits & bits == bits
    }

    pub(super) fn allowed_before_auth(&self) -> bool {
        self.flags.contains(&"no_auth")
    }
}

/// One row of a family's table.
/// `spec!(name, arity, [flags], (first key, last key, key step), group, since, summary,
/// handler)`.
macro_rules! spec {
    ($name:literal, $arity:expr, [$($flag:literal),*], ($first:expr, $last:expr, $step:expr),
     $group:literal, $since:literal, $summary:literal, $handler:path) => {
        $crate::commands::resp::registry::Spec {
            name: $name,
            arity: $arity,
            flags: &[$($flag),*],
            bits: $crate::commands::resp::registry::flag::bits(&[$($flag),*])
                | $crate::commands::resp::registry::flag::protected($name),
            first_key: $first,
            last_key: $last,
            key_step: $step,
            group: $group,
            since: $since,
            summary: $summary,
            handler: $handler,
            secrets: $crate::hub::redact::Holder::of_name($name),
        }
    };
}
pub(super) use spec;

/// Longest command name a lookup considers (Redis's longest is under 32 bytes).
const NAME_MAX: usize = 48;

/// Slots in the name table: a power of two well above the command count, so probes are
/// short.
const SLOTS: usize = 2048;

/// The specs in family order and the name table over them.
pub(super) struct Registry {
    specs: Vec<&'static Spec>,
    /// `u16::MAX` = empty, else an index into `specs`.
    slots: Box<[u16; SLOTS]>,
}

/// FNV-1a over the lower-cased name; also writes the lower-cased bytes to `buf`.
fn hash_lower(name: &[u8], buf: &mut [u8; NAME_MAX]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, &c) in name.iter().enumerate() {
        let c = c.to_ascii_lowercase();
        buf[i] = c;
        h = (h ^ u64::from(c)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl Registry {
    fn build() -> Registry {
        let specs: Vec<&'static Spec> = FAMILIES.iter().flat_map(|f| f.iter()).collect();
        assert!(
            specs.len() < SLOTS / 2,
            "command table too large for its name table"
        );
        let mut slots = Box::new([u16::MAX; SLOTS]);
        let mut buf = [0u8; NAME_MAX];
        for (i, spec) in specs.iter().enumerate() {
            assert!(spec.name.len() <= NAME_MAX, "command name too long");
            assert!(
                spec.name.bytes().all(|c| !c.is_ascii_uppercase()),
                "command names are lower case"
            );
            let mut slot = hash_lower(spec.name.as_bytes(), &mut buf) as usize & (SLOTS - 1);
            while slots[slot] != u16::MAX {
                let other = specs[usize::from(slots[slot])];
                assert!(
                    other.name != spec.name,
                    "command {} declared twice",
                    spec.name
                );
                slot = (slot + 1) & (SLOTS - 1);
            }
            slots[slot] = i as u16;
        }
        Registry { specs, slots }
    }

    /// Every command, in family order.
    pub(super) fn specs(&self) -> &[&'static Spec] {
        &self.specs
    }

    /// A command's place in [`Registry::specs`], ignoring ASCII case, without allocating.
    pub(super) fn index(&self, name: &[u8]) -> Option<usize> {
        if name.is_empty() || name.len() > NAME_MAX {
            return None;
        }
        let mut buf = [0u8; NAME_MAX];
        let mut slot = hash_lower(name, &mut buf) as usize & (SLOTS - 1);
        let lower = &buf[..name.len()];
        loop {
            let i = self.slots[slot];
            if i == u16::MAX {
                return None;
            }
            if self.specs[usize::from(i)].name.as_bytes() == lower {
                return Some(usize::from(i));
            }
            slot = (slot + 1) & (SLOTS - 1);
        }
    }

    /// The spec at a place [`Registry::index`] returned.
    pub(super) fn spec(&self, index: usize) -> &'static Spec {
        self.specs[index]
    }

    /// Finds a command by name, ignoring ASCII case.
    pub(super) fn lookup(&self, name: &[u8]) -> Option<&'static Spec> {
        self.index(name).map(|i| self.specs[i])
    }
}

/// The one command table, built on first use.
pub(super) fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_found_in_any_case() {
        let r = registry();
        for (i, spec) in r.specs().iter().enumerate() {
            assert_eq!(r.index(spec.name.as_bytes()), Some(i));
            let upper = spec.name.to_ascii_uppercase();
            assert_eq!(r.index(upper.as_bytes()), Some(i));
        }
    }

    #[test]
    fn flag_bits_agree_with_the_flag_lists() {
        let r = registry();
        for spec in r.specs() {
            for (bit, name) in [
                (flag::WRITE, "write"),
                (flag::NOSCRIPT, "noscript"),
                (flag::MAY_REPLICATE, "may_replicate"),
                (flag::NO_MULTI, "no_multi"),
                (flag::ADMIN, "admin"),
                (flag::SKIP_MONITOR, "skip_monitor"),
            ] {
                assert_eq!(spec.has(bit), spec.flags.contains(&name), "{}", spec.name);
            }
        }
        assert!(r.lookup(b"set").unwrap().has(flag::WRITE));
        assert!(!r.lookup(b"get").unwrap().has(flag::WRITE));
        assert!(r.lookup(b"eval").unwrap().has(flag::NOSCRIPT));
        assert!(r.lookup(b"publish").unwrap().has(flag::MAY_REPLICATE));
        assert!(r.lookup(b"save").unwrap().has(flag::NO_MULTI));
        assert!(r.lookup(b"monitor").unwrap().has(flag::ADMIN));
        assert!(r.lookup(b"eval").unwrap().has(flag::SKIP_MONITOR));
    }

    #[test]
    fn only_commands_redis_redacts_hold_secrets() {
        let r = registry();
        for spec in r.specs() {
            let want = match spec.name {
                "auth" => Holder::Auth,
                "acl" => Holder::Acl,
                "hello" => Holder::Hello,
                "migrate" => Holder::Migrate,
                "config" => Holder::Config,
                _ => Holder::None,
            };
            assert_eq!(spec.secrets, want, "{}", spec.name);
        }
    }

    #[test]
    fn unknown_names_are_not_found() {
        let r = registry();
        assert_eq!(r.index(b""), None);
        assert_eq!(r.index(b"nosuchcommand"), None);
        assert_eq!(r.index(&[b'g'; 200]), None);
        assert_eq!(r.index(b"ge"), None);
        assert_eq!(r.index(b"gett"), None);
    }
}
