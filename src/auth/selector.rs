//! A selector: one set of command, key and channel permissions (Redis 7.0's `aclSelector`).
//! Every user has a root selector; `(…)` rules add more, and a request is allowed when any
//! one selector allows all of it.

use std::sync::OnceLock;

use super::catalog::{self, CommandId, BITMAP_WORDS, CATEGORIES, FUTURE_BIT, KEY_READ, KEY_WRITE};
use super::RuleError;
use crate::commands::resp::glob;

/// A key pattern and the access it grants ([`KEY_READ`] | [`KEY_WRITE`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct KeyPattern {
    pub pattern: Vec<u8>,
    pub access: u8,
    /// The pattern is this many literal bytes and a final `*` (`key:*`, the usual form):
    /// matched by a prefix compare, without the glob matcher.
    prefix: Option<usize>,
}

impl KeyPattern {
    fn new(pattern: &[u8], access: u8) -> KeyPattern {
        let prefix = match pattern.split_last() {
            Some((b'*', literal)) if !literal.iter().any(|c| b"*?[]\\".contains(c)) => {
                Some(literal.len())
            }
            _ => None,
        };
        KeyPattern {
            pattern: pattern.to_vec(),
            access,
            prefix,
        }
    }

    /// Whether the key matches (as `glob::matches(pattern, key, false)`).
    #[inline]
    fn matches(&self, key: &[u8]) -> bool {
        match self.prefix {
            Some(n) => key.starts_with(&self.pattern[..n]),
            None => glob::matches(&self.pattern, key, false),
        }
    }
}

/// Why a selector refused a request: the command, or the argument at this position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Denied {
    Command,
    Key(usize),
    Channel(usize),
}

impl Denied {
    /// Redis picks the error to report by this rank (command < key < channel).
    fn rank(self) -> (u8, usize) {
        match self {
            Denied::Command => (1, 0),
            Denied::Key(p) => (2, p),
            Denied::Channel(p) => (4, p),
        }
    }

    pub(super) fn more_relevant(self, other: Denied) -> bool {
        self.rank() > other.rank()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Selector {
    pub all_keys: bool,
    pub all_channels: bool,
    pub all_commands: bool,
    pub bits: [u64; BITMAP_WORDS],
    /// `+select|0` on a command without subcommands: these first arguments are allowed
    /// although the command is not.
    pub first_args: Vec<(CommandId, Vec<Vec<u8>>)>,
    pub patterns: Vec<KeyPattern>,
    pub channels: Vec<Vec<u8>>,
}

/// Subcommands of each container command, by id.
fn children(id: CommandId) -> &'static [CommandId] {
    static CHILDREN: OnceLock<Vec<Vec<CommandId>>> = OnceLock::new();
    let all = CHILDREN.get_or_init(|| {
        let entries = catalog::entries();
        entries
            .iter()
            .map(|e| {
                if !e.container {
                    return Vec::new();
                }
                entries
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        s.name.len() > e.name.len()
                            && s.name.starts_with(e.name)
                            && s.name.as_bytes()[e.name.len()] == b'|'
                    })
                    .map(|(i, _)| i as CommandId)
                    .collect()
            })
            .collect()
    });
    &all[usize::from(id)]
}

fn has_space(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c.is_ascii_whitespace() || c == 0 || c == 0x0b)
}

impl Selector {
    pub fn bit(&self, id: usize) -> bool {
        self.bits[id / 64] & (1 << (id % 64)) != 0
    }

    fn set_bit(&mut self, id: usize, on: bool) {
        if on {
            self.bits[id / 64] |= 1 << (id % 64);
        } else {
            self.bits[id / 64] &= !(1 << (id % 64));
            self.all_commands = false;
        }
    }

    /// Allows or blocks a command and, for a container, all its subcommands.
    fn change(&mut self, id: CommandId, allow: bool) {
        self.set_bit(usize::from(id), allow);
        self.first_args.retain(|(c, _)| *c != id);
        for &sub in children(id) {
            self.set_bit(usize::from(sub), allow);
        }
    }

    fn change_category(&mut self, flag: u32, allow: bool) {
        for (i, e) in catalog::entries().iter().enumerate() {
            if e.categories & flag != 0 {
                self.change(i as CommandId, allow);
            }
        }
    }

    fn set_all(&mut self, allow: bool) {
        self.bits = if allow {
            [u64::MAX; BITMAP_WORDS]
        } else {
            [0; BITMAP_WORDS]
        };
        self.all_commands = allow;
        self.first_args.clear();
    }

    /// Applies one selector rule (`~k*`, `+get`, `-@admin`, `&chan`...).
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if is("allkeys") || op == b"~*" {
            self.all_keys = true;
            self.patterns.clear();
        } else if is("resetkeys") {
            self.all_keys = false;
            self.patterns.clear();
        } else if is("allchannels") || op == b"&*" {
            self.all_channels = true;
            self.channels.clear();
        } else if is("resetchannels") {
            self.all_channels = false;
            self.channels.clear();
        } else if is("allcommands") || is("+@all") {
            self.set_all(true);
        } else if is("nocommands") || is("-@all") {
            self.set_all(false);
        } else if op[0] == b'~' || op[0] == b'%' {
            self.add_key_pattern(op)?;
        } else if op[0] == b'&' {
            if self.all_channels {
                return Err(RuleError::ChannelAfterAll);
            }
            if has_space(&op[1..]) {
                return Err(RuleError::Syntax);
            }
            if !self.channels.iter().any(|c| c == &op[1..]) {
                self.channels.push(op[1..].to_vec());
            }
            self.all_channels = false;
        } else if (op[0] == b'+' || op[0] == b'-') && op.get(1) == Some(&b'@') {
            let flag = catalog::category(&op[2..]).ok_or(RuleError::UnknownCommand)?;
            self.change_category(flag, op[0] == b'+');
        } else if op[0] == b'+' {
            self.allow_command(&op[1..])?;
        } else if op[0] == b'-' {
            let id = catalog::lookup(&op[1..]).ok_or(RuleError::UnknownCommand)?;
            self.change(id, false);
        } else {
            return Err(RuleError::Syntax);
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let mut access = 0;
        let mut offset = 1;
        if op[0] == b'%' {
            loop {
                match op.get(offset).map(u8::to_ascii_uppercase) {
                    Some(b'R') if access & KEY_READ == 0 => access |= KEY_READ,
                    Some(b'W') if access & KEY_WRITE == 0 => access |= KEY_WRITE,
                    Some(b'~') => {
                        offset += 1;
                        break;
                    }
                    None => break,
                    _ => return Err(RuleError::Syntax),
                }
                offset += 1;
            }
        } else {
            access = KEY_READ | KEY_WRITE;
        }
        let pattern = op.get(offset..).unwrap_or_default();
        if has_space(pattern) {
            return Err(RuleError::Syntax);
        }
        match self.patterns.iter_mut().find(|p| p.pattern == pattern) {
            Some(p) => p.access |= access,
            None => self.patterns.push(KeyPattern::new(pattern, access)),
        }
        self.all_keys = false;
        Ok(())
    }

    /// `+cmd`, `+container|sub`, or `+cmd|firstarg` for a command without subcommands.
    fn allow_command(&mut self, name: &[u8]) -> Result<(), RuleError> {
        let Some(bar) = name.iter().rposition(|&c| c == b'|') else {
            let id = catalog::lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change(id, true);
            return Ok(());
        };
        let (cmd, sub) = (&name[..bar], &name[bar + 1..]);
        let id = catalog::lookup(cmd).ok_or(RuleError::UnknownCommand)?;
        if catalog::entry(id).name.contains('|') {
            return Err(RuleError::FirstArgOfSubcommand);
        }
        if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        if catalog::entry(id).container {
            let sub_id = catalog::lookup(name).ok_or(RuleError::UnknownCommand)?;
            self.change(sub_id, true);
        } else if !self.bit(usize::from(id)) {
            match self.first_args.iter_mut().find(|(c, _)| *c == id) {
                Some((_, args)) => {
                    if !args.iter().any(|a| a.eq_ignore_ascii_case(sub)) {
                        args.push(sub.to_vec());
                    }
                }
                None => self.first_args.push((id, vec![sub.to_vec()])),
            }
        }
        Ok(())
    }

    /// Whether this selector lets the request run; `Err` says what it refused.
    pub fn check<'a>(
        &self,
        id: CommandId,
        argc: usize,
        arg: &impl Fn(usize) -> &'a [u8],
    ) -> Result<(), Denied> {
        let entry = catalog::entry(id);
        if !self.all_commands && !entry.no_auth && !self.bit(usize::from(id)) {
            let at = if entry.name.contains('|') { 2 } else { 1 };
            let allowed = argc > at
                && self
                    .first_args
                    .iter()
                    .find(|(c, _)| *c == id)
                    .is_some_and(|(_, args)| args.iter().any(|a| a.eq_ignore_ascii_case(arg(at))));
            if !allowed {
                return Err(Denied::Command);
            }
        }
        if !self.all_keys {
            let mut denied = None;
            catalog::for_each_key(id, argc, arg, |pos, access| {
                if denied.is_none() && !self.key_allowed(arg(pos), access) {
                    denied = Some(Denied::Key(pos));
                }
            });
            if let Some(d) = denied {
                return Err(d);
            }
        }
        if !self.all_channels {
            for (pos, pattern) in catalog::channel_args(id, argc) {
                if !self.channel_allowed(arg(pos), pattern) {
                    return Err(Denied::Channel(pos));
                }
            }
        }
        Ok(())
    }

    /// All keys, or a `*` pattern with read access.
    pub fn reads_every_key(&self) -> bool {
        self.all_keys
            || self
                .patterns
                .iter()
                .any(|p| p.access & KEY_READ == KEY_READ && p.pattern == b"*")
    }

    pub fn key_allowed(&self, key: &[u8], access: u8) -> bool {
        self.all_keys
            || self
                .patterns
                .iter()
                .any(|p| p.access & access == access && p.matches(key))
    }

    /// A channel name is matched against the patterns; a PSUBSCRIBE pattern only equals one.
    pub fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p == channel
                } else {
                    glob::matches(p, channel, false)
                }
            })
    }

    /// The rules that rebuild this selector, as `ACL LIST` prints them.
    pub fn describe(&self, out: &mut Vec<u8>) {
        if self.all_keys {
            out.extend_from_slice(b"~* ");
        } else {
            for p in &self.patterns {
                out.extend_from_slice(match p.access {
                    KEY_READ => b"%R~" as &[u8],
                    KEY_WRITE => b"%W~",
                    _ => b"~",
                });
                out.extend_from_slice(&p.pattern);
                out.push(b' ');
            }
        }
        if self.all_channels {
            out.extend_from_slice(b"&* ");
        } else {
            out.extend_from_slice(b"resetchannels ");
            for c in &self.channels {
                out.push(b'&');
                out.extend_from_slice(c);
                out.push(b' ');
            }
        }
        self.describe_commands(out);
    }

    /// `ACL GETUSER`'s commands, keys and channels fields.
    pub fn fields(&self) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let mut commands = Vec::new();
        self.describe_commands(&mut commands);
        let keys = if self.all_keys {
            b"~*".to_vec()
        } else {
            let mut k = Vec::new();
            for (i, p) in self.patterns.iter().enumerate() {
                if i > 0 {
                    k.push(b' ');
                }
                k.extend_from_slice(match p.access {
                    KEY_READ => b"%R~" as &[u8],
                    KEY_WRITE => b"%W~",
                    _ => b"~",
                });
                k.extend_from_slice(&p.pattern);
            }
            k
        };
        let channels = if self.all_channels {
            b"&*".to_vec()
        } else {
            let mut c = Vec::new();
            for (i, ch) in self.channels.iter().enumerate() {
                if i > 0 {
                    c.push(b' ');
                }
                c.push(b'&');
                c.extend_from_slice(ch);
            }
            c
        };
        (commands, keys, channels)
    }

    /// Redis's description of the command bitmap: `+@all` or `-@all`, then the categories
    /// that best fit what differs, then single commands to make the bitmap exact.
    fn describe_commands(&self, out: &mut Vec<u8>) {
        let additive = !self.bit(FUTURE_BIT);
        let mut fake = Selector::default();
        fake.set_all(!additive);
        out.extend_from_slice(if additive { b"-@all " } else { b"+@all " });
        let mut temp = Selector {
            bits: self.bits,
            ..Selector::default()
        };
        let mut applied = [false; CATEGORIES.len()];
        loop {
            let mut best = None;
            let (mut mindiff, mut maxsame) = (usize::MAX, 0);
            for (j, _) in CATEGORIES.iter().enumerate() {
                if applied[j] {
                    continue;
                }
                let (on, off) = temp.count_category(1 << j);
                let (diff, same) = if additive { (off, on) } else { (on, off) };
                if same > diff && (diff < mindiff || (diff == mindiff && same > maxsame)) {
                    best = Some(j);
                    mindiff = diff;
                    maxsame = same;
                }
            }
            let Some(j) = best else { break };
            fake.change_category(1 << j, additive);
            temp.change_category(1 << j, !additive);
            out.push(if additive { b'+' } else { b'-' });
            out.push(b'@');
            out.extend_from_slice(CATEGORIES[j].as_bytes());
            out.push(b' ');
            applied[j] = true;
        }
        for (i, e) in catalog::entries().iter().enumerate() {
            let user = self.bit(i);
            if user != fake.bit(i) {
                out.push(if user { b'+' } else { b'-' });
                out.extend_from_slice(e.name.as_bytes());
                out.push(b' ');
                fake.change(i as CommandId, user);
            }
            if !user {
                if let Some((_, args)) = self.first_args.iter().find(|(c, _)| usize::from(*c) == i)
                {
                    for a in args {
                        out.push(b'+');
                        out.extend_from_slice(e.name.as_bytes());
                        out.push(b'|');
                        out.extend_from_slice(a);
                        out.push(b' ');
                    }
                }
            }
        }
        out.pop();
    }

    fn count_category(&self, flag: u32) -> (usize, usize) {
        let (mut on, mut off) = (0, 0);
        for (i, e) in catalog::entries().iter().enumerate() {
            if e.categories & flag != 0 {
                if self.bit(i) {
                    on += 1;
                } else {
                    off += 1;
                }
            }
        }
        (on, off)
    }
}

/// Channel arguments of the Pub/Sub commands, with whether each is a pattern (as Redis's
/// getChannelsFromCommand; unsubscribing is always allowed).
#[cfg(test)]
mod tests {
    use super::*;

    fn sel(rules: &[&str]) -> Selector {
        let mut s = Selector::default();
        for r in rules {
            s.apply(r.as_bytes()).unwrap();
        }
        s
    }

    fn described(s: &Selector) -> String {
        let mut out = Vec::new();
        s.describe(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn check(s: &Selector, words: &[&str]) -> Result<(), Denied> {
        let args: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        let id = catalog::resolve(args.len(), |i| args[i]).unwrap();
        s.check(id, args.len(), &|i| args[i])
    }

    #[test]
    fn descriptions_match_redis() {
        assert_eq!(described(&sel(&["+@all", "~*", "&*"])), "~* &* +@all");
        assert_eq!(
            described(&sel(&["+get", "~obj:*"])),
            "~obj:* resetchannels -@all +get"
        );
        assert_eq!(
            described(&sel(&["+@all", "-@dangerous", "allkeys", "allchannels"])),
            "~* &* +@all -@dangerous"
        );
        assert_eq!(
            described(&sel(&["+@string", "%R~r*", "%W~w*", "%RW~rw*"])),
            "%R~r* %W~w* ~rw* resetchannels -@all +@string"
        );
        assert_eq!(
            described(&sel(&["-@all", "+select|0", "+config|get"])),
            "resetchannels -@all +config|get +select|0"
        );
    }

    #[test]
    fn checks_commands_keys_and_channels() {
        let s = sel(&["+get", "+set", "%R~r*", "~rw*", "&news"]);
        assert_eq!(check(&s, &["get", "r1"]), Ok(()));
        assert_eq!(check(&s, &["set", "r1", "v"]), Err(Denied::Key(1)));
        assert_eq!(check(&s, &["set", "rw1", "v"]), Ok(()));
        assert_eq!(check(&s, &["del", "rw1"]), Err(Denied::Command));
        assert_eq!(check(&s, &["auth", "x"]), Ok(()));
        let p = sel(&["+publish", "+subscribe", "+psubscribe", "&news*"]);
        assert_eq!(check(&p, &["publish", "news1", "m"]), Ok(()));
        assert_eq!(
            check(&p, &["publish", "sport", "m"]),
            Err(Denied::Channel(1))
        );
        assert_eq!(check(&p, &["psubscribe", "news*"]), Ok(()));
        assert_eq!(
            check(&p, &["psubscribe", "news1*"]),
            Err(Denied::Channel(1))
        );
        let c = sel(&["+config|get"]);
        assert_eq!(check(&c, &["config", "get", "x"]), Ok(()));
        assert_eq!(
            check(&c, &["config", "set", "x", "y"]),
            Err(Denied::Command)
        );
        let f = sel(&["+select|0"]);
        assert_eq!(check(&f, &["select", "0"]), Ok(()));
        assert_eq!(check(&f, &["select", "1"]), Err(Denied::Command));
    }

    #[test]
    fn rule_errors() {
        let mut s = sel(&["allkeys"]);
        assert_eq!(s.apply(b"~a"), Err(RuleError::KeyAfterAll));
        assert_eq!(s.apply(b"+nosuch"), Err(RuleError::UnknownCommand));
        assert_eq!(s.apply(b"+@nosuch"), Err(RuleError::UnknownCommand));
        assert_eq!(
            s.apply(b"+config|get|x"),
            Err(RuleError::FirstArgOfSubcommand)
        );
        assert_eq!(s.apply(b"+select|"), Err(RuleError::Syntax));
        assert_eq!(Selector::default().apply(b"%X~a"), Err(RuleError::Syntax));
        assert_eq!(s.apply(b"bogus"), Err(RuleError::Syntax));
        let mut s = sel(&["allchannels"]);
        assert_eq!(s.apply(b"&a"), Err(RuleError::ChannelAfterAll));
    }

    #[test]
    fn prefix_patterns_match_as_the_glob_does() {
        let keys: [&[u8]; 7] = [
            b"", b"key", b"key:", b"key:1", b"kex:1", b"KEY:1", b"key:*x",
        ];
        for pattern in [
            "key:*", "*", "key:", "k?y:*", "key[:]*", "key\\:*", "k*:*", "key:*1",
        ] {
            let p = KeyPattern::new(pattern.as_bytes(), KEY_READ);
            let simple = !pattern[..pattern.len() - 1].contains(['*', '?', '[', '\\']);
            assert_eq!(
                p.prefix.is_some(),
                simple && pattern.ends_with('*'),
                "{pattern}"
            );
            for key in keys {
                assert_eq!(
                    p.matches(key),
                    glob::matches(pattern.as_bytes(), key, false),
                    "{pattern} against {}",
                    String::from_utf8_lossy(key)
                );
            }
        }
    }
}
