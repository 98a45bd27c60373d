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
/// argument 0 still). Positions outside the request are skipped.
pub fn for_each_key<'a>(
    id: CommandId,
    argc: usize,
    arg: impl Fn(usize) -> &'a [u8],
    mut f: impl FnMut(usize, u8),
) {
    let argc = argc as i64;
    for spec in entry(id).keys {
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
                match found {
                    Some(i) => i,
                    None => continue,
                }
            }
        };
        let (first, last, step) = match spec.find {
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
                if at < 1 || at >= argc {
                    continue;
                }
                let Some(n) = std::str::from_utf8(arg(at as usize))
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .filter(|&n| n >= 0)
                else {
                    continue;
                };
                let start = first + i64::from(k);
                (start, start + n - 1, i64::from(step.max(1)))
            }
        };
        // SET … GET and BITFIELD … GET also read the key (Redis's variable-flag key specs).
        let mut access = spec.access;
        let name = entry(id).name;
        if (name == "set" || name == "bitfield")
            && (2..argc).any(|j| arg(j as usize).eq_ignore_ascii_case(b"get"))
        {
            access |= KEY_READ;
        }
        let mut i = first;
        while i <= last && i < argc && i >= 1 {
            f(i as usize, access);
            i += step;
        }
    }
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
        // A claimed key count past the request finds only the keys that are there.
        assert_eq!(
            keys(&["zunionstore", "d", "99", "a"]),
            vec![(1, KEY_WRITE), (3, KEY_READ)]
        );
    }
}
