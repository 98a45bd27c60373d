//! Which arguments of a command are secrets that MONITOR, the slow log and `-vv` show as
//! `(redacted)`, as Redis 7.0 redacts them (`redactClientCommandArgument`): AUTH's
//! arguments, HELLO's `AUTH user pass`, MIGRATE's `AUTH pass` and `AUTH2 user pass`,
//! everything after ACL SETUSER, and the values of CONFIG SET's sensitive parameters
//! (`masterauth`, `masteruser`, `requirepass`).
//!
//! The five commands that can hold secrets are known by their registry entry
//! ([`Holder`], fixed when the command table is compiled): every other command is told
//! apart by one comparison, with no look at its name or arguments.
//!
//! Redis redacts only once a command's own parsing reaches the secret (a HELLO without a
//! protocol version shows its password); slabd redacts by position alone, so a secret is
//! never shown whatever the command's other arguments are.

/// MIGRATE option words walked in order before falling back to looking at neighbours.
const MIGRATE_WALK: usize = 16;

/// CONFIG SET parameters whose values are secrets (Redis's `SENSITIVE_CONFIG`).
const SENSITIVE_CONFIGS: &[&[u8]] = &[b"masterauth", b"masteruser", b"requirepass"];

/// The commands whose arguments may be secret, as each command's registry entry names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holder {
    /// Nothing it takes is secret (every other command).
    None,
    Auth,
    Acl,
    Hello,
    Migrate,
    Config,
}

/// Whether two strings are equal, in a `const fn` (the command table's flags and
/// secret holders are decided at compile time; `==` on `str` is not const).
pub(crate) const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl Holder {
    /// The holder a command of this (lower-case) name is: evaluated once, when the command
    /// table is compiled.
    pub const fn of_name(name: &str) -> Holder {
        if same(name, "auth") {
            Holder::Auth
        } else if same(name, "acl") {
            Holder::Acl
        } else if same(name, "hello") {
            Holder::Hello
        } else if same(name, "migrate") {
            Holder::Migrate
        } else if same(name, "config") {
            Holder::Config
        } else {
            Holder::None
        }
    }

    /// The holder a command name sent by a client is, in any case (for `-vv`, which
    /// logs requests before any table lookup).
    pub fn of_request(name: &[u8]) -> Holder {
        const HOLDERS: [(&[u8], Holder); 5] = [
            (b"auth", Holder::Auth),
            (b"acl", Holder::Acl),
            (b"hello", Holder::Hello),
            (b"migrate", Holder::Migrate),
            (b"config", Holder::Config),
        ];
        HOLDERS
            .iter()
            .find(|(n, _)| name.eq_ignore_ascii_case(n))
            .map_or(Holder::None, |&(_, h)| h)
    }
}

/// Which arguments of one command are secret: built once per command from its holder and
/// arguments (`arg(i)` for `i < len`), then asked per argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrets {
    /// Nothing is secret (almost every command).
    None,
    /// Every argument from this index on.
    From(usize),
    /// A command whose secrets are scattered (HELLO, MIGRATE, CONFIG SET): ask
    /// [`Secrets::hides`] with the arguments.
    Scan(Holder),
}

impl Secrets {
    /// Classifies a command, `holder` from its registry entry, by its first argument.
    #[inline]
    pub fn of<'a>(holder: Holder, arg: impl Fn(usize) -> &'a [u8], len: usize) -> Secrets {
        if holder == Holder::None || len < 2 {
            return Secrets::None;
        }
        match holder {
            Holder::Auth => Secrets::From(1),
            Holder::Acl if arg(1).eq_ignore_ascii_case(b"setuser") => Secrets::From(2),
            Holder::Config if arg(1).eq_ignore_ascii_case(b"set") => Secrets::Scan(holder),
            Holder::Hello | Holder::Migrate => Secrets::Scan(holder),
            _ => Secrets::None,
        }
    }

    /// Whether argument `i` (of `len`, read with `arg`) is shown as `(redacted)`.
    pub fn hides<'a>(self, arg: impl Fn(usize) -> &'a [u8], len: usize, i: usize) -> bool {
        match self {
            Secrets::None => false,
            Secrets::From(n) => i >= n,
            Secrets::Scan(Holder::Hello) => hello(&arg, len, i),
            Secrets::Scan(Holder::Migrate) => migrate(&arg, len, i),
            Secrets::Scan(_) => config_set(&arg, i),
        }
    }
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello<'a>(arg: &impl Fn(usize) -> &'a [u8], len: usize, i: usize) -> bool {
    (i.saturating_sub(2).max(1)..i).any(|a| arg(a).eq_ignore_ascii_case(b"auth") && a + 2 < len)
}

/// MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS ..]
fn migrate<'a>(arg: &impl Fn(usize) -> &'a [u8], len: usize, i: usize) -> bool {
    // The options are walked as Redis parses them (an unknown word ends them: Redis
    // stops there with a syntax error); past the first few, where no real MIGRATE
    // reaches, by the words just before `i` alone, so no request costs a quadratic scan.
    let mut j = 6;
    while j < len && j <= i && j < 6 + MIGRATE_WALK {
        let a = arg(j);
        let n = if a.eq_ignore_ascii_case(b"auth") {
            1
        } else if a.eq_ignore_ascii_case(b"auth2") {
            2
        } else if a.eq_ignore_ascii_case(b"copy") || a.eq_ignore_ascii_case(b"replace") {
            0
        } else {
            return false;
        };
        if i > j && i <= j + n {
            return true;
        }
        j += 1 + n;
    }
    j <= i
        && (arg(i - 1).eq_ignore_ascii_case(b"auth")
            || arg(i - 1).eq_ignore_ascii_case(b"auth2")
            || arg(i - 2).eq_ignore_ascii_case(b"auth2"))
}

/// CONFIG SET name value [name value ...]
fn config_set<'a>(arg: &impl Fn(usize) -> &'a [u8], i: usize) -> bool {
    i >= 3
        && i % 2 == 1
        && SENSITIVE_CONFIGS
            .iter()
            .any(|c| arg(i - 1).eq_ignore_ascii_case(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command with its secrets replaced, as MONITOR shows it.
    fn shown(words: &[&str]) -> String {
        let arg = |i: usize| words[i].as_bytes();
        let s = Secrets::of(Holder::of_request(words[0].as_bytes()), arg, words.len());
        (0..words.len())
            .map(|i| {
                if s.hides(arg, words.len(), i) {
                    "(redacted)"
                } else {
                    words[i]
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn redacts_what_redis_redacts() {
        assert_eq!(shown(&["AUTH", "pw"]), "AUTH (redacted)");
        assert_eq!(shown(&["auth", "u", "pw"]), "auth (redacted) (redacted)");
        assert_eq!(
            shown(&["hello", "2", "AUTH", "u", "p", "SETNAME", "n"]),
            "hello 2 AUTH (redacted) (redacted) SETNAME n"
        );
        assert_eq!(
            shown(&["hello", "3", "setname", "auth"]),
            "hello 3 setname auth"
        );
        assert_eq!(
            shown(&["acl", "setuser", "bob", "on", ">pw"]),
            "acl setuser (redacted) (redacted) (redacted)"
        );
        assert_eq!(shown(&["acl", "getuser", "bob"]), "acl getuser bob");
        assert_eq!(
            shown(&[
                "config",
                "set",
                "maxclients",
                "5",
                "requirepass",
                "x",
                "MasterAuth",
                "y"
            ]),
            "config set maxclients 5 requirepass (redacted) MasterAuth (redacted)"
        );
        assert_eq!(
            shown(&["config", "get", "requirepass"]),
            "config get requirepass"
        );
        assert_eq!(
            shown(&["migrate", "h", "1", "key", "9", "5000", "COPY", "AUTH", "pw"]),
            "migrate h 1 key 9 5000 COPY AUTH (redacted)"
        );
        assert_eq!(
            shown(&["migrate", "h", "1", "", "9", "5000", "AUTH2", "u", "pw", "KEYS", "a"]),
            "migrate h 1  9 5000 AUTH2 (redacted) (redacted) KEYS a"
        );
        assert_eq!(
            shown(&["migrate", "h", "1", "", "9", "5000", "KEYS", "auth", "x"]),
            "migrate h 1  9 5000 KEYS auth x"
        );
        assert_eq!(shown(&["set", "auth", "pw"]), "set auth pw");
        assert_eq!(
            shown(&["migrate", "h", "1", "k", "9", "5000", "bogus", "AUTH", "pw"]),
            "migrate h 1 k 9 5000 bogus AUTH pw"
        );
    }

    #[test]
    fn only_the_five_holders_are_classified() {
        assert_eq!(Holder::of_name("auth"), Holder::Auth);
        assert_eq!(Holder::of_name("config"), Holder::Config);
        assert_eq!(Holder::of_name("get"), Holder::None);
        assert_eq!(Holder::of_name("authx"), Holder::None);
        assert_eq!(Holder::of_request(b"MiGrAtE"), Holder::Migrate);
        assert_eq!(Holder::of_request(b"hell"), Holder::None);
        // A command that is no holder shows its arguments, whatever they are.
        let args: [&[u8]; 3] = [b"auth", b"x", b"y"];
        let s = Secrets::of(Holder::None, |i| args[i], 3);
        assert_eq!(s, Secrets::None);
        assert!(!s.hides(|i| args[i], 3, 1));
    }
}
