//! Redis 7.0's command catalog as ACL rules see it: every command and subcommand, its ACL
//! categories, and where its keys are.
//!
//! The table (`catalog_table.rs`) is generated from Redis 7.0.15's command JSON files by
//! `scripts/gen-acl-catalog.py`, so `+@read`, `ACL CAT string` and the rules `ACL LIST`
//! prints are Redis's even for commands slabd does not serve yet: a command that lands
//! later is already in the right categories. A command's [`CommandId`] is its row, which
//! indexes the per-user bitmaps ([`BITMAP_WORDS`] words; the last bit is Redis's marker
//! for "allowed future commands").

#[path = "catalog_table.rs"]
mod table;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// ACL categories as bits, in Redis's order (which `ACL CAT` lists and rule descriptions
/// try).
pub mod cat {
    pub const KEYSPACE: u32 = 1 << 0;
    pub const READ: u32 = 1 << 1;
    pub const WRITE: u32 = 1 << 2;
    pub const SET: u32 = 1 << 3;
    pub const SORTEDSET: u32 = 1 << 4;
    pub const LIST: u32 = 1 << 5;
    pub const HASH: u32 = 1 << 6;
    pub const STRING: u32 = 1 << 7;
    pub const BITMAP: u32 = 1 << 8;
    pub const HYPERLOGLOG: u32 = 1 << 9;
    pub const GEO: u32 = 1 << 10;
    pub const STREAM: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;
    pub const ADMIN: u32 = 1 << 13;
    pub const FAST: u32 = 1 << 14;
    pub const SLOW: u32 = 1 << 15;
    pub const BLOCKING: u32 = 1 << 16;
    pub const DANGEROUS: u32 = 1 << 17;
    pub const CONNECTION: u32 = 1 << 18;
    pub const TRANSACTION: u32 = 1 << 19;
    pub const SCRIPTING: u32 = 1 << 20;
}

/// Category names, bit `i` is `CATEGORIES[i]`.
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// A key is read (its value is returned or used).
pub const KEY_READ: u8 = 1;
/// A key is written (inserted, updated or deleted).
pub const KEY_WRITE: u8 = 2;

/// Redis's key-spec flags (`CMD_KEY_*`), which COMMAND GETKEYSANDFLAGS reports.
pub mod ks {
    pub const RO: u16 = 1 << 0;
    pub const RW: u16 = 1 << 1;
    pub const OW: u16 = 1 << 2;
    pub const RM: u16 = 1 << 3;
    pub const ACCESS: u16 = 1 << 4;
    pub const UPDATE: u16 = 1 << 5;
    pub const INSERT: u16 = 1 << 6;
    pub const DELETE: u16 = 1 << 7;
    pub const NOT_KEY: u16 = 1 << 8;
    pub const INCOMPLETE: u16 = 1 << 9;
    pub const VARIABLE_FLAGS: u16 = 1 << 10;
}

/// The names of the [`ks`] flags by bit, in the order Redis replies with them.
pub const KEY_FLAG_NAMES: [&str; 11] = [
    "RO",
    "RW",
    "OW",
    "RM",
    "access",
    "update",
    "insert",
    "delete",
    "not_key",
    "incomplete",
    "variable_flags",
];

/// Where one group of a command's keys starts.
#[derive(Clone, Copy, Debug)]
pub enum Begin {
    /// At this argument index.
    Index(i32),
    /// After this keyword, searched from the index (negative: from the end, backwards).
    Keyword(&'static str, i32),
}

/// How far a group of keys runs from its start.
#[derive(Clone, Copy, Debug)]
pub enum Find {
    /// `last` relative to the start (negative: from the end); `limit` divides the rest.
    Range { last: i32, step: i32, limit: i32 },
    /// The argument at `start + index` says how many keys follow from `start + first`.
    Keynum { index: i32, first: i32, step: i32 },
}

/// One Redis key spec reduced to what an ACL check needs.
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    pub begin: Begin,
    pub find: Find,
    /// [`KEY_READ`] | [`KEY_WRITE`]; 0 for keys whose value is neither returned nor
    /// changed (EXISTS, TYPE), which any key pattern allows.
    pub access: u8,
    /// Redis's key-spec flags ([`ks`]), as its command JSON gives them.
    pub flags: u16,
}

/// One command or subcommand (`config|get`).
#[derive(Debug)]
pub struct Entry {
    pub name: &'static str,
    pub categories: u32,
    /// Runs before authentication and whatever the rules say (AUTH, HELLO, QUIT, RESET).
    pub no_auth: bool,
    /// Has subcommands, whose rows follow it as `name|sub`.
    pub container: bool,
    pub keys: &'static [KeySpec],
}

/// A command's row in [`entries`].
pub type CommandId = u16;

/// Words in a per-user command bitmap.
pub const BITMAP_WORDS: usize = 8;
/// Set only by `+@all`/`allcommands`: the user may also run commands added later.
pub const FUTURE_BIT: usize = BITMAP_WORDS * 64 - 1;

const _: () = assert!(table::ENTRIES.len() < FUTURE_BIT);

/// Key specs one command has at most ([`for_each_key`] keeps them on the stack).
const MAX_KEY_SPECS: usize = 4;
const _: () = {
    let mut i = 0;
    while i < table::ENTRIES.len() {
        assert!(table::ENTRIES[i].keys.len() <= MAX_KEY_SPECS);
        i += 1;
    }
};

/// Every command and subcommand, sorted by name.
pub fn entries() -> &'static [Entry] {
    table::ENTRIES
}

pub fn entry(id: CommandId) -> &'static Entry {
    &table::ENTRIES[usize::from(id)]
}

/// FNV-1a: command names are short and come from the server's own table, so a keyed hash
/// buys nothing here and SipHash cost ~100 instructions per lookup.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Index = HashMap<&'static str, CommandId, BuildHasherDefault<Fnv>>;

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        table::ENTRIES
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name, i as CommandId))
            .collect()
    })
}

/// Finds a command (`get`) or subcommand (`config|get`) by name, ignoring ASCII case.
pub fn lookup(name: &[u8]) -> Option<CommandId> {
    let mut buf = [0u8; 64];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index().get(std::str::from_utf8(lower).ok()?).copied()
}

/// The id a request runs as: for a container (CONFIG, CLIENT...) the subcommand named by
/// its first argument when there is one, else the command itself.
pub fn resolve<'a>(argc: usize, arg: impl Fn(usize) -> &'a [u8]) -> Option<CommandId> {
    Some(subcommand(lookup(arg(0))?, argc, arg))
}

/// [`resolve`] for a command already looked up (`id` is `arg(0)`'s): the subcommand's id
/// for a container, else `id` itself.
#[inline]
pub fn subcommand<'a>(id: CommandId, argc: usize, arg: impl Fn(usize) -> &'a [u8]) -> CommandId {
    if entry(id).container && argc >= 2 {
        let (name, sub) = (arg(0), arg(1));
        let mut buf = [0u8; 64];
        let len = name.len() + 1 + sub.len();
        if len <= buf.len() {
            buf[..name.len()].copy_from_slice(name);
            buf[name.len()] = b'|';
            buf[name.len() + 1..len].copy_from_slice(sub);
            if let Some(sub_id) = lookup(&buf[..len]) {
                return sub_id;
            }
        }
    }
    id
}

/// A category's bit by name, ignoring ASCII case.
pub fn category(name: &[u8]) -> Option<u32> {
    CATEGORIES
        .iter()
        .position(|c| c.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| 1 << i)
}

/// Calls `f(position, access)` for each key argument of a request, as Redis's key specs
/// find them (`argc` arguments including the name; for a subcommand the name is
/// argument 0 still). Where Redis falls back to a command's own key finder (variable
/// flags: SET, BITFIELD; incomplete or unknown specs: MIGRATE, SORT; a key count that is
/// not a number, below 1 or past the request), this does what that finder does.
#[inline]
pub fn for_each_key<'a>(
    id: CommandId,
    argc: usize,
    arg: impl Fn(usize) -> &'a [u8],
    mut f: impl FnMut(usize, u8),
) {
    let plan = plan(id);
    let Finder::Fixed {
        first,
        last,
        step,
        access,
    } = plan.finder
    else {
        return keys_by_plan(id, plan, argc as i64, &arg, f);
    };
    // The usual shape (GET, SET, HSET, ...): small enough to inline into the check, no
    // spec to read, no name to compare.
    let access = match plan.flex {
        Flex::None => access,
        flex => flexible_access(flex, argc as i64, &arg),
    };
    let mut i = usize::from(first);
    while i <= usize::from(last) && i < argc {
        f(i, access);
        i += usize::from(step);
    }
}

/// [`for_each_key`] for every shape but the fixed one.
#[inline(never)]
fn keys_by_plan<'a>(
    id: CommandId,
    plan: Plan,
    argc: i64,
    arg: &impl Fn(usize) -> &'a [u8],
    mut f: impl FnMut(usize, u8),
) {
    match plan.finder {
        Finder::Migrate => migrate_keys(argc, arg, f),
        Finder::Sort => sort_keys(argc, arg, f),
        _ => keys_by_specs(entry(id).keys, argc, arg, |pos, spec| {
            let access = match plan.flex {
                Flex::None => spec.access,
                flex => flexible_access(flex, argc, arg),
            };
            f(pos, access)
        }),
    }
}

#[inline(never)]
fn flexible_access<'a>(flex: Flex, argc: i64, arg: &impl Fn(usize) -> &'a [u8]) -> u8 {
    match flex {
        Flex::Bitfield => bitfield_access(argc, arg),
        _ => set_access(argc, arg),
    }
}

/// The keys the specs give, each with its spec.
fn keys_by_specs<'a, 's>(
    specs: &'s [KeySpec],
    argc: i64,
    arg: &impl Fn(usize) -> &'a [u8],
    mut f: impl FnMut(usize, &'s KeySpec),
) {
    // A key count Redis's spec cannot use sends it to the command's finder, which then
    // finds no key at all (`genericGetKeys`), the store key included.
    let mut found = [(0i64, 0i64, 0i64, 0usize); MAX_KEY_SPECS];
    let mut n = 0;
    for (s, spec) in specs.iter().enumerate() {
        let Some(span) = span(spec, argc, arg) else {
            continue;
        };
        if (span.1 < span.0 || span.1 >= argc) && matches!(spec.find, Find::Keynum { .. }) {
            return;
        }
        found[n] = (span.0, span.1, span.2, s);
        n += 1;
    }
    for &(first, last, step, s) in &found[..n] {
        let mut i = first;
        while i <= last && i < argc && i >= 1 {
            f(i as usize, &specs[s]);
            i += step;
        }
    }
}

/// Calls `f(position, flags)` for each key argument of a request with Redis's key-spec
/// flags ([`ks`]), as COMMAND GETKEYSANDFLAGS reports them: the specs' own flags, or
/// where Redis uses the command's key finder instead (variable flags, incomplete specs),
/// the flags that finder gives (`setGetKeys`, `bitfieldGetKeys`, `sortGetKeys`,
/// `migrateGetKeys`).
pub fn for_each_key_flags<'a>(
    id: CommandId,
    argc: usize,
    arg: impl Fn(usize) -> &'a [u8],
    mut f: impl FnMut(usize, u16),
) {
    let argc = argc as i64;
    let plan = plan(id);
    match (plan.finder, plan.flex) {
        (Finder::Migrate, _) => migrate_keys(argc, &arg, |pos, _| {
            f(pos, ks::RW | ks::ACCESS | ks::DELETE)
        }),
        (Finder::Sort, _) => sort_keys(argc, &arg, |pos, access| {
            f(
                pos,
                if access == KEY_READ {
                    ks::RO | ks::ACCESS
                } else {
                    ks::OW | ks::UPDATE
                },
            )
        }),
        (_, Flex::None) => {
            keys_by_specs(entry(id).keys, argc, &arg, |pos, spec| f(pos, spec.flags))
        }
        (_, flex) => {
            let flags = match (flex, flexible_access(flex, argc, &arg)) {
                (Flex::Bitfield, KEY_READ) => ks::RO | ks::ACCESS,
                (Flex::Set, KEY_WRITE) => ks::OW | ks::UPDATE,
                _ => ks::RW | ks::ACCESS | ks::UPDATE,
            };
            keys_by_specs(entry(id).keys, argc, &arg, |pos, _| f(pos, flags))
        }
    }
}

/// How [`for_each_key`] finds a command's keys, decided once per command from its specs
/// and name, so a request's check compares no names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Finder {
    /// One spec at a fixed index running a fixed length (`last` absolute).
    Fixed {
        first: u16,
        last: u16,
        step: u16,
        access: u8,
    },
    /// Anything else the specs describe (keywords, key counts, ranges from the end).
    Specs,
    Migrate,
    Sort,
}

/// Key flags that depend on the arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flex {
    None,
    Set,
    Bitfield,
}

/// Which arguments of a command are channels ([`channel_args`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channels {
    None,
    /// PUBLISH, SPUBLISH: argument 1.
    First,
    /// SUBSCRIBE, SSUBSCRIBE: every argument.
    All,
    /// PSUBSCRIBE: every argument, each a pattern.
    Patterns,
}

#[derive(Clone, Copy, Debug)]
struct Plan {
    finder: Finder,
    flex: Flex,
    channels: Channels,
}

#[inline]
fn plan(id: CommandId) -> Plan {
    static PLANS: OnceLock<Vec<Plan>> = OnceLock::new();
    PLANS.get_or_init(|| table::ENTRIES.iter().map(plan_for).collect())[usize::from(id)]
}

fn plan_for(e: &Entry) -> Plan {
    let finder = match (e.name, e.keys) {
        ("migrate", _) => Finder::Migrate,
        ("sort", _) => Finder::Sort,
        (
            _,
            [KeySpec {
                begin: Begin::Index(first @ 1..),
                find:
                    Find::Range {
                        last: last @ 0..,
                        step,
                        ..
                    },
                access,
                ..
            }],
        ) => {
            let fit = |v: i64| u16::try_from(v).ok();
            match (
                fit(i64::from(*first)),
                fit(i64::from(*first) + i64::from(*last)),
                fit(i64::from((*step).max(1))),
            ) {
                (Some(first), Some(last), Some(step)) => Finder::Fixed {
                    first,
                    last,
                    step,
                    access: *access,
                },
                _ => Finder::Specs,
            }
        }
        _ => Finder::Specs,
    };
    let flex = match e.name {
        "set" => Flex::Set,
        "bitfield" => Flex::Bitfield,
        _ => Flex::None,
    };
    let channels = match e.name {
        "publish" | "spublish" => Channels::First,
        "subscribe" | "ssubscribe" => Channels::All,
        "psubscribe" => Channels::Patterns,
        _ => Channels::None,
    };
    Plan {
        finder,
        flex,
        channels,
    }
}

/// The channel arguments of a request (`argc` arguments) by position, and whether each
/// is a pattern (PSUBSCRIBE).
pub fn channel_args(id: CommandId, argc: usize) -> impl Iterator<Item = (usize, bool)> {
    let (range, pattern) = match plan(id).channels {
        Channels::First => (1..2.min(argc), false),
        Channels::All => (1..argc, false),
        Channels::Patterns => (1..argc, true),
        Channels::None => (0..0, false),
    };
    range.map(move |p| (p, pattern))
}

/// Where one key spec's keys are in a request: `(first, last, step)`; `None` when a
/// keyword it starts after is absent (no keys). A key count that is not a number or is
/// negative gives an empty span past the end.
fn span<'a>(
    spec: &KeySpec,
    argc: i64,
    arg: &impl Fn(usize) -> &'a [u8],
) -> Option<(i64, i64, i64)> {
    let first = match spec.begin {
        Begin::Index(i) => i64::from(i),
        Begin::Keyword(word, from) => {
            let from = i64::from(from);
            let (start, end, step) = if from > 0 {
                (from, argc - 1, 1)
            } else {
                (argc + from, 0, -1)
            };
            let mut i = start;
            let mut found = None;
            while i >= 1 && i < argc {
                if arg(i as usize).eq_ignore_ascii_case(word.as_bytes()) {
                    found = Some(i + 1);
                    break;
                }
                if i == end {
                    break;
                }
                i += step;
            }
            found?
        }
    };
    Some(match spec.find {
        Find::Range { last, step, limit } => {
            let last = i64::from(last);
            let end = if last >= 0 {
                first + last
            } else if limit <= 0 {
                argc + last
            } else {
                first + ((argc - first) / i64::from(limit) + last)
            };
            (first, end, i64::from(step.max(1)))
        }
        Find::Keynum {
            index,
            first: k,
            step,
        } => {
            let at = first + i64::from(index);
            let n = if at >= 1 && at < argc {
                std::str::from_utf8(arg(at as usize))
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .filter(|&n| n >= 0)
            } else {
                None
            };
            let Some(n) = n else {
                return Some((argc, argc - 1, 1));
            };
            let start = first + i64::from(k);
            (start, start + n - 1, i64::from(step.max(1)))
        }
    })
}

/// MIGRATE's keys (Redis's `migrateGetKeys`): argument 3, or with `KEYS` (after COPY,
/// REPLACE, AUTH pw, AUTH2 user pw) every argument after it, and then none at all when
/// argument 3 is not empty. Each is read and deleted.
fn migrate_keys<'a>(argc: i64, arg: &impl Fn(usize) -> &'a [u8], mut f: impl FnMut(usize, u8)) {
    let (mut first, mut num) = (3, 1);
    let mut i = 6;
    while i < argc {
        let word = arg(i as usize);
        if word.eq_ignore_ascii_case(b"keys") {
            if argc > 3 && !arg(3).is_empty() {
                return;
            }
            first = i + 1;
            num = argc - first;
            break;
        }
        if word.eq_ignore_ascii_case(b"auth") {
            i += 1;
        } else if word.eq_ignore_ascii_case(b"auth2") {
            i += 2;
        }
        i += 1;
    }
    for pos in first..(first + num).min(argc) {
        f(pos as usize, KEY_READ | KEY_WRITE);
    }
}

/// SORT's keys (Redis's `sortGetKeys`): the sorted key is read; the last `STORE dest`
/// (options LIMIT, GET and BY skip their arguments) is written.
fn sort_keys<'a>(argc: i64, arg: &impl Fn(usize) -> &'a [u8], mut f: impl FnMut(usize, u8)) {
    if argc > 1 {
        f(1, KEY_READ);
    }
    let mut store = None;
    let mut i = 2;
    while i < argc {
        let word = arg(i as usize);
        if word.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if word.eq_ignore_ascii_case(b"get") || word.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if word.eq_ignore_ascii_case(b"store") && i + 1 < argc {
            store = Some(i + 1);
        }
        i += 1;
    }
    if let Some(pos) = store {
        f(pos as usize, KEY_WRITE);
    }
}

/// SET's variable key flags (Redis's `setGetKeys`): an option `GET` after the value makes
/// the key read too; the value itself (argument 2) may be the word "get".
fn set_access<'a>(argc: i64, arg: &impl Fn(usize) -> &'a [u8]) -> u8 {
    if (3..argc).any(|j| arg(j as usize).eq_ignore_ascii_case(b"get")) {
        KEY_READ | KEY_WRITE
    } else {
        KEY_WRITE
    }
}

/// BITFIELD's variable key flags (Redis's `bitfieldGetKeys`): read only when every
/// operation is a complete `GET type offset` or `OVERFLOW mode`; anything else (SET,
/// INCRBY, a syntax error) reads and writes.
fn bitfield_access<'a>(argc: i64, arg: &impl Fn(usize) -> &'a [u8]) -> u8 {
    let mut i = 2;
    while i < argc {
        let rest = argc - i - 1;
        let word = arg(i as usize);
        if word.eq_ignore_ascii_case(b"get") && rest >= 2 {
            i += 3;
        } else if word.eq_ignore_ascii_case(b"overflow") && rest >= 1 {
            i += 2;
        } else {
            return KEY_READ | KEY_WRITE;
        }
    }
    KEY_READ
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(words: &[&str]) -> Vec<(usize, u8)> {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        let id = resolve(args.len(), |i| args[i]).unwrap();
        let mut out = Vec::new();
        for_each_key(id, args.len(), |i| args[i], |p, a| out.push((p, a)));
        out
    }

    fn key_flags(words: &[&str]) -> Vec<(usize, Vec<&'static str>)> {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        let id = resolve(args.len(), |i| args[i]).unwrap();
        let mut out = Vec::new();
        for_each_key_flags(
            id,
            args.len(),
            |i| args[i],
            |p, f| {
                let names = KEY_FLAG_NAMES
                    .iter()
                    .enumerate()
                    .filter(|(bit, _)| f & (1 << bit) != 0)
                    .map(|(_, n)| *n)
                    .collect();
                out.push((p, names))
            },
        );
        out
    }

    #[test]
    fn key_flags_as_redis_getkeysandflags() {
        // Replies of redis-server 7.0.15's COMMAND GETKEYSANDFLAGS.
        assert_eq!(key_flags(&["set", "k", "v"]), [(1, vec!["OW", "update"])]);
        assert_eq!(
            key_flags(&["set", "k", "v", "get"]),
            [(1, vec!["RW", "access", "update"])]
        );
        assert_eq!(
            key_flags(&["mset", "a", "1", "b", "2"]),
            [(1, vec!["OW", "update"]), (3, vec!["OW", "update"])]
        );
        assert_eq!(
            key_flags(&["lmove", "a", "b", "left", "right"]),
            [
                (1, vec!["RW", "access", "delete"]),
                (2, vec!["RW", "insert"])
            ]
        );
        assert_eq!(
            key_flags(&["sort", "a", "store", "b"]),
            [(1, vec!["RO", "access"]), (3, vec!["OW", "update"])]
        );
        assert_eq!(
            key_flags(&["bitfield", "k", "get", "u8", "0"]),
            [(1, vec!["RO", "access"])]
        );
        assert_eq!(
            key_flags(&["migrate", "h", "p", "", "0", "5", "keys", "a"]),
            [(7, vec!["RW", "access", "delete"])]
        );
        assert_eq!(
            key_flags(&["zunionstore", "d", "2", "a", "b"]),
            [
                (1, vec!["OW", "update"]),
                (3, vec!["RO", "access"]),
                (4, vec!["RO", "access"])
            ]
        );
        assert_eq!(key_flags(&["object", "encoding", "k"]), [(2, vec!["RO"])]);
    }

    #[test]
    fn lookup_and_subcommands() {
        let get = lookup(b"GET").unwrap();
        assert_eq!(entry(get).name, "get");
        let id = resolve(3, |i| [&b"Config"[..], b"GET", b"x"][i]).unwrap();
        assert_eq!(entry(id).name, "config|get");
        let id = resolve(2, |i| [&b"config"[..], b"nosuch"][i]).unwrap();
        assert_eq!(entry(id).name, "config");
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(entry(lookup(b"auth").unwrap()).no_auth);
        let cats = entry(get).categories;
        assert_eq!(cats, cat::READ | cat::STRING | cat::FAST);
        assert_eq!(category(b"String"), Some(cat::STRING));
        assert_eq!(category(b"all"), None);
    }

    #[test]
    fn keys_follow_redis_key_specs() {
        assert_eq!(keys(&["get", "k"]), vec![(1, KEY_READ)]);
        assert_eq!(keys(&["set", "k", "v"]), vec![(1, KEY_WRITE)]);
        assert_eq!(
            keys(&["set", "k", "v", "get"]),
            vec![(1, KEY_READ | KEY_WRITE)]
        );
        // The value may be the word "get"; the option may not come before it.
        assert_eq!(keys(&["set", "k", "get"]), vec![(1, KEY_WRITE)]);
        assert_eq!(keys(&["set", "k", "get", "ex", "1"]), vec![(1, KEY_WRITE)]);
        assert_eq!(
            keys(&["bitfield", "k", "get", "u8", "0", "overflow", "sat"]),
            vec![(1, KEY_READ)]
        );
        assert_eq!(
            keys(&["bitfield", "k", "get", "u8", "0", "incrby", "u8", "0", "1"]),
            vec![(1, KEY_READ | KEY_WRITE)]
        );
        assert_eq!(keys(&["bitfield", "k"]), vec![(1, KEY_READ)]);
        assert_eq!(
            keys(&["bitfield", "k", "get", "u8"]),
            vec![(1, KEY_READ | KEY_WRITE)]
        );
        assert_eq!(
            keys(&["mset", "a", "1", "b", "2"]),
            vec![(1, KEY_WRITE), (3, KEY_WRITE)]
        );
        assert_eq!(
            keys(&["rename", "a", "b"]),
            vec![(1, KEY_READ | KEY_WRITE), (2, KEY_WRITE)]
        );
        assert_eq!(
            keys(&["zunionstore", "d", "2", "a", "b", "WEIGHTS", "1", "2"]),
            vec![(1, KEY_WRITE), (3, KEY_READ), (4, KEY_READ)]
        );
        assert_eq!(keys(&["exists", "a", "b"]), vec![(1, 0), (2, 0)]);
        assert_eq!(keys(&["ping"]), vec![]);
        // A key count past the request, zero or not a number: Redis's fallback key
        // finder finds no key at all, the store key included.
        assert_eq!(keys(&["zunionstore", "d", "99", "a"]), vec![]);
        assert_eq!(keys(&["eval", "s", "3", "a", "b"]), vec![]);
        assert_eq!(keys(&["eval", "s", "0", "read"]), vec![]);
        assert_eq!(keys(&["eval", "s", "-1", "read"]), vec![]);
        assert_eq!(keys(&["eval", "s", "x", "read"]), vec![]);
        assert_eq!(
            keys(&["eval", "s", "1", "k"]),
            vec![(3, KEY_READ | KEY_WRITE)]
        );
        // MIGRATE and SORT: Redis's own key finders.
        let rw = KEY_READ | KEY_WRITE;
        assert_eq!(keys(&["migrate", "h", "p", "k", "0", "5"]), vec![(3, rw)]);
        assert_eq!(
            keys(&["migrate", "h", "p", "", "0", "5", "AUTH2", "KEYS", "pw", "KEYS", "a", "b"]),
            vec![(10, rw), (11, rw)]
        );
        assert_eq!(
            keys(&["migrate", "h", "p", "", "0", "5", "AUTH", "KEYS", "KEYS", "a"]),
            vec![(9, rw)]
        );
        assert_eq!(
            keys(&["migrate", "h", "p", "x", "0", "5", "KEYS", "a"]),
            vec![]
        );
        assert_eq!(
            keys(&["sort", "k", "BY", "store", "STORE", "d1", "STORE", "d2"]),
            vec![(1, KEY_READ), (7, KEY_WRITE)]
        );
        assert_eq!(
            keys(&["sort", "k", "LIMIT", "0", "1", "STORE"]),
            vec![(1, KEY_READ)]
        );
    }

    #[test]
    fn fixed_plans_find_what_the_specs_find() {
        // Every command whose keys take the shortcut finds, for any argument count, the
        // keys and flags its specs give (with SET's and BITFIELD's argument-dependent
        // flags on top).
        let words = ["cmd", "k1", "get", "v", "get", "k5", "overflow", "x", "k8"];
        let mut fixed = 0;
        for (id, e) in entries().iter().enumerate() {
            let id = id as CommandId;
            if !matches!(plan(id).finder, Finder::Fixed { .. }) {
                continue;
            }
            fixed += 1;
            for argc in 1..=words.len() {
                let arg = |i: usize| words[i].as_bytes();
                let mut fast = Vec::new();
                for_each_key(id, argc, arg, |p, a| fast.push((p, a)));
                let mut slow = Vec::new();
                keys_by_specs(e.keys, argc as i64, &arg, |p, spec| {
                    let a = match e.name {
                        "set" => set_access(argc as i64, &arg),
                        "bitfield" => bitfield_access(argc as i64, &arg),
                        _ => spec.access,
                    };
                    slow.push((p, a))
                });
                assert_eq!(fast, slow, "{} with {argc} arguments", e.name);
            }
        }
        assert!(fixed > 100, "only {fixed} commands take the shortcut");
        for name in ["get", "set", "hset", "incr", "lpush", "getrange"] {
            let id = lookup(name.as_bytes()).unwrap();
            assert!(matches!(plan(id).finder, Finder::Fixed { .. }), "{name}");
        }
        for name in ["mset", "del", "migrate", "sort", "zunionstore", "eval"] {
            let id = lookup(name.as_bytes()).unwrap();
            assert!(!matches!(plan(id).finder, Finder::Fixed { .. }), "{name}");
        }
    }

    #[test]
    fn channel_arguments_by_command() {
        let args = |name: &str, argc| {
            channel_args(lookup(name.as_bytes()).unwrap(), argc).collect::<Vec<_>>()
        };
        assert_eq!(args("publish", 3), [(1, false)]);
        assert_eq!(args("spublish", 1), []);
        assert_eq!(args("subscribe", 3), [(1, false), (2, false)]);
        assert_eq!(args("psubscribe", 2), [(1, true)]);
        assert_eq!(args("get", 2), []);
    }
}
