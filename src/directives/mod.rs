//! Redis-style settings ("directives"): one row each, in one table per area.
//!
//! memcached's flags live in [`crate::config`]; everything Redis configures by name
//! (`hash-max-listpack-entries`, `save`, `notify-keyspace-events`, `tls-port`, ...) is a
//! [`Directive`] row in its area's file beside this one (`collections.rs`,
//! `persistence.rs`, ...). One row gives the setting everywhere at once:
//!
//! - `--name value` (or `--name=value`) on the command line and `name value` lines in a
//!   `--config` file ([`crate::config`] hands them over as [`Settings::directives`]),
//! - `CONFIG GET` / `CONFIG SET` with Redis's errors (`commands::resp::config`),
//! - [`Directives`] at run time: typed reads (`int`, `get`) and change listeners.
//!
//! Adding a setting is one row in the area's table; an area is a file plus one line in
//! [`TABLES`]. Depends on nothing.
//!
//! [`Settings::directives`]: crate::config::Settings::directives

mod collections;
mod general;
mod observability;
mod persistence;
mod scripting;
mod security;
mod strings;

pub use observability::trim_double;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::OnceLock;

use parking_lot::{Mutex, RwLock};

/// Every area's table, in the order `CONFIG GET *` lists them.
static TABLES: &[&[Directive]] = &[
    general::DIRECTIVES,
    collections::DIRECTIVES,
    persistence::DIRECTIVES,
    observability::DIRECTIVES,
    scripting::DIRECTIVES,
    security::DIRECTIVES,
    strings::DIRECTIVES,
];

/// What values a directive takes; also how [`Directives::int`] reads it.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `yes` / `no` (reads as 1 / 0).
    Bool,
    /// A decimal integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// A byte count with Redis's units (`k` = 1000, `kb` = 1024, ... `gb`), in `min..=max`.
    Memory { min: i64, max: i64 },
    /// One of these words, case-insensitive (reads as its position).
    Enum(&'static [&'static str]),
    /// Any text.
    String,
    /// Checked and put in canonical form by this function (reads as 0 unless the canonical
    /// form is an integer).
    Custom(fn(&str) -> Result<String, String>),
}

/// How repeated `name value` lines of one config file (or repeated flags) combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// The last one wins.
    Replace,
    /// Values are joined with a space (`save 900 1` / `save 300 10`).
    Join,
}

/// One setting.
#[derive(Debug)]
pub struct Directive {
    /// Redis's name, lower case.
    pub name: &'static str,
    /// Other names that reach it (`hash-max-ziplist-entries`).
    pub aliases: &'static [&'static str],
    /// The value before anything sets it.
    pub default: &'static str,
    pub kind: Kind,
    /// `CONFIG SET` may change it (otherwise "can't set immutable config").
    pub mutable: bool,
    pub repeat: Repeat,
    /// Redis's `HIDDEN_CONFIG` (test and debugging knobs): `CONFIG GET` shows it only when
    /// named exactly, never for a glob pattern.
    pub hidden: bool,
}

/// A row of an area table: `directive!(name, [aliases], default, kind, mutable)`.
#[macro_export]
macro_rules! directive {
    ($name:literal, [$($alias:literal),*], $default:literal, $kind:expr, $mutable:expr) => {
        $crate::directives::Directive {
            name: $name,
            aliases: &[$($alias),*],
            default: $default,
            kind: $kind,
            mutable: $mutable,
            repeat: $crate::directives::Repeat::Replace,
            hidden: false,
        }
    };
}

/// Redis's `memtoull`: a byte count with an optional unit (k, kb, m, mb, g, gb; k = 1000,
/// kb = 1024), or a negative number where the directive allows one.
pub fn parse_memory(s: &str) -> Option<i64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let n: i64 = s[..digits].parse().ok()?;
    let mul: i64 = match s[digits..].to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let v = n.checked_mul(mul)?;
    Some(if neg { -v } else { v })
}

impl Directive {
    /// Checks `value` as Redis's CONFIG SET would; returns the canonical stored form and its
    /// integer reading. The error is Redis's text after "... - ".
    pub fn check(&self, value: &str) -> Result<(String, i64), String> {
        match self.kind {
            Kind::Bool => match value.to_ascii_lowercase().as_str() {
                "yes" => Ok(("yes".into(), 1)),
                "no" => Ok(("no".into(), 0)),
                _ => Err("argument must be 'yes' or 'no'".into()),
            },
            Kind::Int { min, max } => {
                let n: i64 = value
                    .parse()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok((n.to_string(), n))
            }
            Kind::Memory { min, max } => {
                let n = parse_memory(value).ok_or("argument must be a memory value")?;
                if n < min || n > max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                Ok((n.to_string(), n))
            }
            Kind::Enum(words) => words
                .iter()
                .position(|w| w.eq_ignore_ascii_case(value))
                .map(|i| (words[i].to_string(), i as i64))
                .ok_or_else(|| {
                    format!(
                        "argument(s) must be one of the following: {}",
                        words.join(", ")
                    )
                }),
            Kind::String => Ok((value.to_string(), 0)),
            Kind::Custom(f) => {
                let v = f(value)?;
                let n = v.parse().unwrap_or(0);
                Ok((v, n))
            }
        }
    }
}

/// Every directive of every area, with the name and alias index.
struct Table {
    rows: Vec<&'static Directive>,
    by_name: HashMap<&'static str, usize>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let rows: Vec<&'static Directive> = TABLES.iter().flat_map(|t| t.iter()).collect();
        let mut by_name = HashMap::new();
        for (i, d) in rows.iter().enumerate() {
            for name in std::iter::once(&d.name).chain(d.aliases.iter()) {
                let old = by_name.insert(*name, i);
                assert!(old.is_none(), "directive {name} declared twice");
            }
        }
        Table { rows, by_name }
    })
}

/// The directive a name (or alias) reaches, ignoring ASCII case.
pub fn find(name: &str) -> Option<&'static Directive> {
    let t = table();
    let i = match t.by_name.get(name) {
        Some(&i) => i,
        None => *t.by_name.get(name.to_ascii_lowercase().as_str())?,
    };
    Some(t.rows[i])
}

/// Every directive, in table order.
pub fn all() -> impl Iterator<Item = &'static Directive> {
    table().rows.iter().copied()
}

type Listener = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// The directives' current values, shared by the whole server.
pub struct Directives {
    values: RwLock<Vec<String>>,
    ints: Vec<AtomicI64>,
    /// Bumped by every change, so a reader can cache what it derived from a value.
    generation: AtomicU64,
    listeners: Mutex<Vec<(usize, Listener)>>,
}

impl std::fmt::Debug for Directives {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directives")
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl Default for Directives {
    fn default() -> Self {
        Directives::new(&[]).expect("directive defaults are valid")
    }
}

impl Directives {
    /// Defaults, then `overrides` (name, value) in order; the first bad one is the error
    /// (`name: why`).
    pub fn new(overrides: &[(String, String)]) -> Result<Directives, String> {
        let t = table();
        let mut values = Vec::with_capacity(t.rows.len());
        let mut ints = Vec::with_capacity(t.rows.len());
        for d in &t.rows {
            let (v, n) = d
                .check(d.default)
                .map_err(|e| format!("{}: bad default: {e}", d.name))?;
            values.push(v);
            ints.push(AtomicI64::new(n));
        }
        let dirs = Directives {
            values: RwLock::new(values),
            ints,
            generation: AtomicU64::new(0),
            listeners: Mutex::new(Vec::new()),
        };
        for (name, value) in overrides {
            let i = *t
                .by_name
                .get(name.to_ascii_lowercase().as_str())
                .ok_or_else(|| format!("{name}: unknown setting"))?;
            let (v, n) = t.rows[i].check(value).map_err(|e| format!("{name}: {e}"))?;
            dirs.values.write()[i] = v;
            dirs.ints[i].store(n, Ordering::Relaxed);
        }
        Ok(dirs)
    }

    fn index(name: &str) -> Option<usize> {
        let t = table();
        match t.by_name.get(name) {
            Some(&i) => Some(i),
            None => t.by_name.get(name.to_ascii_lowercase().as_str()).copied(),
        }
    }

    /// The current value as `CONFIG GET` shows it; `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<String> {
        Directives::index(name).map(|i| self.values.read()[i].clone())
    }

    /// The current value read as an integer (Bool: 1/0, Enum: position, Memory: bytes).
    /// An unknown name reads 0 (and is a bug: debug builds assert).
    pub fn int(&self, name: &str) -> i64 {
        match Directives::index(name) {
            Some(i) => self.ints[i].load(Ordering::Relaxed),
            None => {
                debug_assert!(false, "unknown directive {name}");
                0
            }
        }
    }

    /// Changes one directive, as CONFIG SET does for one pair: checks the value, stores it,
    /// then runs the listeners; a listener's error puts the old value back.
    pub fn set(&self, name: &str, value: &str) -> Result<(), String> {
        let i = Directives::index(name).ok_or_else(|| format!("{name}: unknown setting"))?;
        let (v, n) = table().rows[i].check(value)?;
        let old = std::mem::replace(&mut self.values.write()[i], v.clone());
        let old_n = self.ints[i].swap(n, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        let listeners = self.listeners.lock();
        for (_, f) in listeners.iter().filter(|(at, _)| *at == i) {
            if let Err(e) = f(&v) {
                self.values.write()[i] = old;
                self.ints[i].store(old_n, Ordering::Relaxed);
                self.generation.fetch_add(1, Ordering::Release);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Runs `f` with the new value whenever `name` changes at run time (CONFIG SET); an
    /// error from `f` refuses the change. Register at start-up.
    pub fn on_change(
        &self,
        name: &str,
        f: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) {
        let i = Directives::index(name).expect("listener for an unknown directive");
        self.listeners.lock().push((i, Box::new(f)));
    }

    /// Changes on every [`Directives::set`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_names_unique() {
        let d = Directives::new(&[]).unwrap();
        for row in all() {
            assert_eq!(row.name, row.name.to_ascii_lowercase());
            assert!(d.get(row.name).is_some());
        }
    }

    #[test]
    fn kinds_check_like_redis() {
        let b = directive!("t-bool", [], "no", Kind::Bool, true);
        assert_eq!(b.check("YES").unwrap(), ("yes".to_string(), 1));
        assert_eq!(
            b.check("maybe").unwrap_err(),
            "argument must be 'yes' or 'no'"
        );
        let i = directive!("t-int", [], "1", Kind::Int { min: 0, max: 10 }, true);
        assert_eq!(i.check("7").unwrap().1, 7);
        assert_eq!(
            i.check("11").unwrap_err(),
            "argument must be between 0 and 10 inclusive"
        );
        assert_eq!(
            i.check("x").unwrap_err(),
            "argument couldn't be parsed into an integer"
        );
        let m = directive!(
            "t-mem",
            [],
            "0",
            Kind::Memory {
                min: 0,
                max: i64::MAX
            },
            true
        );
        assert_eq!(m.check("1kb").unwrap().1, 1024);
        assert_eq!(m.check("2m").unwrap().1, 2_000_000);
        assert_eq!(
            m.check("lots").unwrap_err(),
            "argument must be a memory value"
        );
        let e = directive!("t-enum", [], "a", Kind::Enum(&["a", "bee"]), true);
        assert_eq!(e.check("BEE").unwrap(), ("bee".to_string(), 1));
        assert_eq!(
            e.check("c").unwrap_err(),
            "argument(s) must be one of the following: a, bee"
        );
    }

    #[test]
    fn set_get_aliases_and_listeners() {
        let d = Directives::new(&[("hash-max-ziplist-entries".into(), "7".into())]).unwrap();
        assert_eq!(d.int("hash-max-listpack-entries"), 7);
        let g = d.generation();
        d.set("HASH-MAX-LISTPACK-ENTRIES", "9").unwrap();
        assert_eq!(d.get("hash-max-ziplist-entries").as_deref(), Some("9"));
        assert!(d.generation() > g);
        d.on_change("hash-max-listpack-entries", |v| {
            if v == "13" {
                Err("unlucky".into())
            } else {
                Ok(())
            }
        });
        assert_eq!(
            d.set("hash-max-listpack-entries", "13").unwrap_err(),
            "unlucky"
        );
        assert_eq!(d.int("hash-max-listpack-entries"), 9);
        assert!(Directives::new(&[("no-such-thing".into(), "1".into())]).is_err());
    }
}
