//! Which arguments of a command are secrets that MONITOR, the slow log and `-vv` show as
//! `(redacted)`, as Redis 7.0 redacts them (`redactClientCommandArgument`): AUTH's
//! arguments, HELLO's `AUTH user pass`, MIGRATE's `AUTH pass` and `AUTH2 user pass`,
//! everything after ACL SETUSER, and the values of CONFIG SET's sensitive parameters
//! (`masterauth`, `masteruser`, `requirepass`).
//!
//! Redis redacts only once a command's own parsing reaches the secret (a HELLO without a
//! protocol version shows its password); slabd redacts by position alone, so a secret is
//! never shown whatever the command's other arguments are.

/// CONFIG SET parameters whose values are secrets (Redis's `SENSITIVE_CONFIG`).
/// MIGRATE option words walked in order before falling back to looking at neighbours.
const MIGRATE_WALK: usize = 16;

const SENSITIVE_CONFIGS: &[&[u8]] = &[b"masterauth", b"masteruser", b"requirepass"];

/// Which arguments of one command are secret: built once per command from its arguments
/// (`arg(i)` for `i < len`), then asked per argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Secrets {
    /// Nothing is secret (almost every command).
    None,
    /// Every argument from this index on.
    From(usize),
    /// A command whose secrets are scattered (HELLO, MIGRATE, CONFIG SET): ask
    /// [`Secrets::hides`] with the arguments.
    Scan,
}

impl Secrets {
    /// Classifies a command by its name and first argument.
    pub fn of<'a>(arg: impl Fn(usize) -> &'a [u8], len: usize) -> Secrets {
        if len < 2 {
            return Secrets::None;
        }
        let name = arg(0);
        if name.eq_ignore_ascii_case(b"auth") {
            Secrets::From(1)
        } else if name.eq_ignore_ascii_case(b"acl") {
            if arg(1).eq_ignore_ascii_case(b"setuser") {
                Secrets::From(2)
            } else {
                Secrets::None
            }
        } else if name.eq_ignore_ascii_case(b"hello")
            || name.eq_ignore_ascii_case(b"migrate")
            || (name.eq_ignore_ascii_case(b"config") && arg(1).eq_ignore_ascii_case(b"set"))
        {
            Secrets::Scan
        } else {
            Secrets::None
        }
    }

    /// Whether argument `i` (of `len`, read with `arg`) is shown as `(redacted)`.
    pub fn hides<'a>(self, arg: impl Fn(usize) -> &'a [u8], len: usize, i: usize) -> bool {
        match self {
            Secrets::None => false,
            Secrets::From(n) => i >= n,
            Secrets::Scan => scan(&arg, len, i),
        }
    }
}

fn scan<'a>(arg: &impl Fn(usize) -> &'a [u8], len: usize, i: usize) -> bool {
    let name = arg(0);
    if name.eq_ignore_ascii_case(b"hello") {
        // HELLO [protover [AUTH username password] [SETNAME clientname]]
        (i.saturating_sub(2).max(1)..i).any(|a| arg(a).eq_ignore_ascii_case(b"auth") && a + 2 < len)
    } else if name.eq_ignore_ascii_case(b"migrate") {
        // MIGRATE host port key db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw] [KEYS ..]
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
    } else {
        // CONFIG SET name value [name value ...]
        i >= 3
            && i % 2 == 1
            && SENSITIVE_CONFIGS
                .iter()
                .any(|c| arg(i - 1).eq_ignore_ascii_case(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command with its secrets replaced, as MONITOR shows it.
    fn shown(words: &[&str]) -> String {
        let arg = |i: usize| words[i].as_bytes();
        let s = Secrets::of(arg, words.len());
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
}
