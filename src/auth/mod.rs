//! Who may talk to slabd: one set of users for every port and protocol (Redis 7.0's ACL
//! model), and the per-request permission check.
//!
//! ```text
//!  RESP AUTH / HELLO AUTH ─┐
//!  memcached ASCII auth ───┼─▶ Users::authenticate(name, password) ─▶ Arc<User>
//!  binary SASL PLAIN ──────┘                                          │
//!                                                                     ▼
//!  each request ─▶ Login::current(&users) (one atomic load) ─▶ User::check(cmd, args)
//! ```
//!
//! # Model
//! - The `default` user always exists. `requirepass` is its password
//!   ([`Users::set_requirepass`]); with no password it is `nopass` and every new connection
//!   starts logged in as it, as in Redis. With a password (or the default user off), a new
//!   connection runs nothing but AUTH/HELLO/QUIT (RESP) or the login exchange (memcached)
//!   until it authenticates: [`Login::authenticated`].
//! - ACL users: `ACL SETUSER` rules ([`Users::set_user`]), the `user` config directive and
//!   `aclfile` use the same rule parser. Passwords are kept only as SHA-256 digests (Redis's
//!   `#<hex>` form); [`Users::authenticate`] hashes the candidate once and compares it with
//!   every stored digest without early exit, and hashes even for an unknown user, so the
//!   time taken says nothing about which part was wrong.
//! - Permissions: each user has selectors ([`selector`]); a selector is a bitmap over
//!   Redis 7.0's command catalog ([`catalog`], every command and subcommand with its
//!   categories and key specs), key patterns (`~`, `%R~`, `%W~`) and channel patterns.
//!
//! # Cost per request
//! A connection holds a [`Login`]: an `Arc<User>` plus the [`Users`] generation it was
//! taken at. Per request it loads the generation (one relaxed atomic load) and, when a user
//! is allowed everything (the default user), [`User::unrestricted`] is a precomputed bool:
//! no hashing, no pattern matching, no lock. Any ACL change bumps the generation, and each
//! connection re-reads its user by name at its next request (a deleted user's connections
//! are closed, as Redis does).
//!
//! # Memcached commands
//! memcached requests are checked as the Redis command of the same meaning
//! ([`memcache`], with the table): a user who may `GET` a key may `get` it.

pub mod catalog;
pub mod log;
pub mod memcache;
mod selector;
pub mod startup;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

pub use self::catalog::{CommandId, KEY_READ, KEY_WRITE};
pub use self::log::{AclLog, LogEntry, LogReason};
pub use self::selector::Denied;
use self::selector::Selector;

/// Length of a SHA-256 digest.
const DIGEST: usize = 32;

/// Why an ACL rule was refused; [`RuleError::message`] is Redis's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArgOfSubcommand,
    Duplicate,
}

impl RuleError {
    /// Redis 7.0's `ACLSetUserStringError`.
    pub fn message(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and \
                 does not have any effect. Try 'resetkeys' to start with an empty list of \
                 patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid \
                 and does not have any effect. Try 'resetchannels' to start with an empty list \
                 of channels"
            }
            RuleError::NoSuchPassword => {
                "The password you are trying to remove from the user does not exist"
            }
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase \
                 hexadecimal characters"
            }
            RuleError::FirstArgOfSubcommand => {
                "Allowing first-arg of a subcommand is not supported"
            }
            RuleError::Duplicate => {
                "Duplicate user found. A user can only be defined once in config files"
            }
        }
    }
}

/// Why a login failed. Deliberately one case: Redis answers the same for an unknown user,
/// a wrong password and a disabled user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WrongPass;

/// One user: flags, password digests and selectors (the first is the root selector).
#[derive(Clone, Debug)]
pub struct User {
    name: Vec<u8>,
    enabled: bool,
    nopass: bool,
    /// `sanitize-payload` (Some(true)) / `skip-sanitize-payload` (Some(false)); shown only
    /// once set, as Redis.
    sanitize: Option<bool>,
    passwords: Vec<[u8; DIGEST]>,
    selectors: Vec<Selector>,
    /// The root selector allows every command, key and channel: checks are skipped.
    unrestricted: bool,
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: off, no password, no permissions.
    fn new(name: &[u8]) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            selectors: vec![new_selector()],
            unrestricted: false,
        }
    }

    fn default_user() -> User {
        let mut u = User::new(b"default");
        for rule in ["+@all", "~*", "&*", "on", "nopass"] {
            u.apply(rule.as_bytes())
                .expect("default user rules are valid");
        }
        u.refresh();
        u
    }

    pub fn name(&self) -> &[u8] {
        &self.name
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn nopass(&self) -> bool {
        self.nopass
    }

    /// Some selector allows every command (commands outside Redis's catalog need this).
    pub fn may_run_everything(&self) -> bool {
        self.selectors.iter().any(|s| s.all_commands)
    }

    /// Allowed every command, key and channel: callers may skip [`User::check`].
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.unrestricted
    }

    fn refresh(&mut self) {
        let root = &self.selectors[0];
        self.unrestricted = root.all_commands && root.all_keys && root.all_channels;
    }

    /// Whether the user may run this request (`argc` arguments, `arg(0)` the command name,
    /// `id` from [`catalog::resolve`]). When no selector allows it, says what Redis would
    /// report: the command, or the key or channel argument at a position.
    pub fn check<'a>(
        &self,
        id: CommandId,
        argc: usize,
        arg: impl Fn(usize) -> &'a [u8],
    ) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        if let [only] = &self.selectors[..] {
            return only.check(id, argc, &arg);
        }
        let mut worst = Denied::Command;
        for s in &self.selectors {
            match s.check(id, argc, &arg) {
                Ok(()) => return Ok(()),
                Err(d) if d.more_relevant(worst) => worst = d,
                Err(_) => {}
            }
        }
        Err(worst)
    }

    /// Whether some selector allows this command at all (keys aside).
    pub fn may_run(&self, id: CommandId) -> bool {
        self.unrestricted
            || self
                .selectors
                .iter()
                .any(|s| s.all_commands || catalog::entry(id).no_auth || s.bit(usize::from(id)))
    }

    /// Whether some selector allows this access to the key.
    pub fn key_allowed(&self, key: &[u8], access: u8) -> bool {
        self.unrestricted || self.selectors.iter().any(|s| s.key_allowed(key, access))
    }

    /// Whether a selector that allows this request also reads every key (Redis's
    /// `ACLUserCheckCmdWithUnrestrictedKeyAccess`: SORT's BY and GET need it).
    pub fn reads_every_key<'a>(
        &self,
        id: CommandId,
        argc: usize,
        arg: impl Fn(usize) -> &'a [u8],
    ) -> bool {
        self.unrestricted
            || self
                .selectors
                .iter()
                .any(|s| s.reads_every_key() && s.check(id, argc, &arg).is_ok())
    }

    pub fn channel_allowed(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.unrestricted
            || self
                .selectors
                .iter()
                .any(|s| s.channel_allowed(channel, is_pattern))
    }

    /// Applies one `ACL SETUSER` rule.
    fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        let is = |w: &str| op.eq_ignore_ascii_case(w.as_bytes());
        if op.is_empty() {
            return Ok(());
        }
        if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.sanitize = Some(false);
        } else if is("sanitize-payload") {
            self.sanitize = Some(true);
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if op[0] == b'>' || op[0] == b'#' {
            let digest = if op[0] == b'>' {
                sha256(&op[1..])
            } else {
                parse_hash(&op[1..])?
            };
            if !self.passwords.contains(&digest) {
                self.passwords.push(digest);
            }
            self.nopass = false;
        } else if op[0] == b'<' || op[0] == b'!' {
            let digest = if op[0] == b'<' {
                sha256(&op[1..])
            } else {
                parse_hash(&op[1..])?
            };
            let at = self
                .passwords
                .iter()
                .position(|p| *p == digest)
                .ok_or(RuleError::NoSuchPassword)?;
            self.passwords.remove(at);
        } else if op[0] == b'(' && op[op.len() - 1] == b')' {
            let mut s = new_selector();
            for rule in op[1..op.len() - 1]
                .split(|c| c.is_ascii_whitespace())
                .filter(|r| !r.is_empty())
            {
                s.apply(rule)?;
            }
            self.selectors.push(s);
        } else if is("clearselectors") {
            self.selectors.truncate(1);
        } else if is("reset") {
            self.nopass = false;
            self.passwords.clear();
            self.enabled = false;
            self.sanitize = Some(true);
            self.selectors = vec![new_selector()];
        } else {
            self.selectors[0].apply(op)?;
        }
        Ok(())
    }

    /// The user's rules as `ACL LIST` prints them after `user <name> `.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(if self.enabled { b"on " } else { b"off " });
        if self.nopass {
            out.extend_from_slice(b"nopass ");
        }
        match self.sanitize {
            Some(false) => out.extend_from_slice(b"skip-sanitize-payload "),
            Some(true) => out.extend_from_slice(b"sanitize-payload "),
            None => {}
        }
        for p in &self.passwords {
            out.push(b'#');
            out.extend_from_slice(&hex(p));
            out.push(b' ');
        }
        for (i, s) in self.selectors.iter().enumerate() {
            if i == 0 {
                s.describe(&mut out);
            } else {
                out.extend_from_slice(b" (");
                s.describe(&mut out);
                out.push(b')');
            }
        }
        out
    }

    /// `ACL GETUSER` fields: flags, password digests (hex), and per selector its commands,
    /// keys and channels descriptions.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    pub fn password_hashes(&self) -> impl Iterator<Item = [u8; 64]> + '_ {
        self.passwords.iter().map(hex)
    }

    /// Per selector: (commands, keys, channels) as `ACL GETUSER` shows them.
    pub fn selector_fields(&self) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        self.selectors.iter().map(Selector::fields).collect()
    }
}

/// Redis's `acl-pubsub-default`: whether new selectors start with `allchannels`
/// (server-wide, as Redis's `server.acl_pubsub_default`).
static PUBSUB_ALL_DEFAULT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Sets `acl-pubsub-default` (`allchannels` true, `resetchannels` false).
pub fn set_pubsub_default(all_channels: bool) {
    PUBSUB_ALL_DEFAULT.store(all_channels, Ordering::Relaxed);
}

/// A selector as Redis creates one: no permissions, channels per `acl-pubsub-default`.
fn new_selector() -> Selector {
    Selector {
        all_channels: PUBSUB_ALL_DEFAULT.load(Ordering::Relaxed),
        ..Selector::default()
    }
}

fn hex(digest: &[u8; DIGEST]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

fn parse_hash(text: &[u8]) -> Result<[u8; DIGEST], RuleError> {
    if text.len() != 64 || !text.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(RuleError::BadHash);
    }
    let nibble = |c: u8| {
        if c.is_ascii_digit() {
            c - b'0'
        } else {
            c - b'a' + 10
        }
    };
    let mut out = [0u8; DIGEST];
    for (i, pair) in text.chunks(2).enumerate() {
        out[i] = nibble(pair[0]) << 4 | nibble(pair[1]);
    }
    Ok(out)
}

/// SHA-256 of a password, as Redis keeps it.
pub fn sha256(data: &[u8]) -> [u8; DIGEST] {
    let d = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; DIGEST];
    out.copy_from_slice(d.as_ref());
    out
}

/// Compares without stopping at the first difference, so timing does not reveal a prefix.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Every user, the generation counter and the ACL log: one per server.
pub struct Users {
    table: RwLock<BTreeMap<Vec<u8>, Arc<User>>>,
    /// Bumped by every change to any user; connections compare it per request.
    generation: AtomicU64,
    /// Bumped by `ACL LOAD`: every user but `default` is new, and, as in Redis, the
    /// connections of the old ones are closed.
    reloads: AtomicU64,
    /// `requirepass` as configured, for `CONFIG GET` (Redis keeps the clear text too).
    requirepass: Mutex<Option<Vec<u8>>>,
    /// `aclfile`: where `ACL LOAD` reads and `ACL SAVE` writes users.
    acl_file: Mutex<Option<PathBuf>>,
    pub log: AclLog,
    /// INFO `acl_access_denied_auth` / `_cmd` / `_key` / `_channel`.
    pub denied: [AtomicU64; 4],
}

impl Default for Users {
    fn default() -> Users {
        Users::new()
    }
}

impl Users {
    /// Only the `default` user, on, nopass, allowed everything.
    pub fn new() -> Users {
        let mut table = BTreeMap::new();
        table.insert(b"default".to_vec(), Arc::new(User::default_user()));
        Users {
            table: RwLock::new(table),
            generation: AtomicU64::new(0),
            reloads: AtomicU64::new(0),
            requirepass: Mutex::new(None),
            acl_file: Mutex::new(None),
            log: AclLog::default(),
            denied: Default::default(),
        }
    }

    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<User>> {
        self.table.read().get(name).cloned()
    }

    pub fn default_user(&self) -> Arc<User> {
        self.get(b"default")
            .expect("the default user always exists")
    }

    /// Every user name, sorted.
    pub fn names(&self) -> Vec<Vec<u8>> {
        self.table.read().keys().cloned().collect()
    }

    /// Every user, sorted by name.
    pub fn all(&self) -> Vec<Arc<User>> {
        self.table.read().values().cloned().collect()
    }

    /// The login a new connection starts with: the default user, authenticated when it
    /// needs no password and is on (Redis's rule).
    pub fn new_login(&self) -> Login {
        let generation = self.generation();
        let user = self.default_user();
        Login {
            authenticated: user.nopass && user.enabled,
            user,
            generation,
            reloads: self.reloads.load(Ordering::Acquire),
        }
    }

    /// Whether a new connection must log in before running commands.
    pub fn auth_required(&self) -> bool {
        let u = self.default_user();
        !(u.nopass && u.enabled)
    }

    /// Checks a name and password; the same answer, and the same work, for every failure.
    pub fn authenticate(&self, name: &[u8], password: &[u8]) -> Result<Arc<User>, WrongPass> {
        let digest = sha256(password);
        let user = self.get(name);
        let Some(user) = user else {
            same_secret(&digest, &[0u8; DIGEST]);
            return Err(WrongPass);
        };
        let mut ok = user.nopass;
        for p in &user.passwords {
            ok |= same_secret(&digest, p);
        }
        if ok && user.enabled {
            Ok(user)
        } else {
            Err(WrongPass)
        }
    }

    /// `ACL SETUSER name rules…`: applied to a copy, stored only when every rule is valid.
    /// On error, returns the rule that failed (after selector arguments were merged).
    pub fn set_user(&self, name: &[u8], rules: &[&[u8]]) -> Result<(), (Vec<u8>, RuleError)> {
        let merged = merge_selectors(rules).map_err(|r| (r, RuleError::Syntax))?;
        let mut table = self.table.write();
        let mut user = match table.get(name) {
            Some(u) => (**u).clone(),
            None => User::new(name),
        };
        for rule in &merged {
            user.apply(rule).map_err(|e| (rule.clone(), e))?;
        }
        user.refresh();
        table.insert(name.to_vec(), Arc::new(user));
        drop(table);
        self.changed();
        Ok(())
    }

    /// `ACL DELUSER`: how many of the names existed (the default user cannot be deleted).
    pub fn delete_users(&self, names: &[&[u8]]) -> usize {
        let mut table = self.table.write();
        let n = names.iter().filter(|n| table.remove(**n).is_some()).count();
        drop(table);
        if n > 0 {
            self.changed();
        }
        n
    }

    /// Replaces every user at once (`ACL LOAD`, `aclfile` at start-up); the default user
    /// is created as usual when the list does not define it.
    pub fn replace_all(&self, users: Vec<User>) {
        let mut table = BTreeMap::new();
        table.insert(b"default".to_vec(), Arc::new(User::default_user()));
        for u in users {
            table.insert(u.name.clone(), Arc::new(u));
        }
        *self.table.write() = table;
        self.reloads.fetch_add(1, Ordering::AcqRel);
        self.changed();
    }

    /// `requirepass`: the default user's only password, or `nopass` when empty.
    pub fn set_requirepass(&self, password: Option<&[u8]>) {
        let password = password.filter(|p| !p.is_empty());
        *self.requirepass.lock() = password.map(<[u8]>::to_vec);
        let mut rule = b">".to_vec();
        let rules: Vec<&[u8]> = match password {
            Some(p) => {
                rule.extend_from_slice(p);
                vec![b"resetpass", &rule]
            }
            None => vec![b"nopass"],
        };
        self.set_user(b"default", &rules)
            .expect("password rules are valid");
    }

    pub fn requirepass(&self) -> Option<Vec<u8>> {
        self.requirepass.lock().clone()
    }

    pub fn set_acl_file(&self, path: Option<PathBuf>) {
        *self.acl_file.lock() = path;
    }

    pub fn acl_file(&self) -> Option<PathBuf> {
        self.acl_file.lock().clone()
    }

    /// `ACL LOAD` (and start-up with `aclfile`): every user replaced from the file, or
    /// nothing changed and Redis's error text returned.
    pub fn load_acl_file(&self) -> Result<(), String> {
        let path = self.acl_file().ok_or("no aclfile configured")?;
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("Error loading ACLs, opening file '{shown}': {e}"))?;
        let users = parse_acl_file(&text, &shown)?;
        self.replace_all(users);
        Ok(())
    }

    /// `ACL SAVE`: written to a temporary file (mode 0600: it holds password hashes) and
    /// renamed over the old one, so a crash leaves the old file or the new, never half.
    pub fn save_acl_file(&self) -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = self
            .acl_file()
            .ok_or_else(|| std::io::Error::other("no aclfile configured"))?;
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&acl_file_text(&self.all()))?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    }

    /// INFO's `acl_access_denied_*` for one reason.
    pub fn denied_count(&self, reason: LogReason) -> u64 {
        self.denied[reason as usize].load(Ordering::Relaxed)
    }

    /// Counts a refusal in INFO's `acl_access_denied_*`.
    pub fn count_denied(&self, reason: LogReason) {
        self.denied[reason as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// Parses `user <name> <rules…>` lines (`aclfile`, `ACL LOAD`). On errors, Redis 7.0's
/// messages for every bad line, `file` naming the file in them.
pub fn parse_acl_file(text: &str, file: &str) -> Result<Vec<User>, String> {
    let mut users: Vec<User> = Vec::new();
    let mut errors = String::new();
    for (n, line) in text.split('\n').enumerate() {
        let n = n + 1;
        let words: Vec<&[u8]> = line
            .trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
            .split(' ')
            .filter(|w| !w.is_empty())
            .map(str::as_bytes)
            .collect();
        if words.is_empty() {
            continue;
        }
        if words[0] != b"user" || words.len() < 2 {
            errors +=
                &format!("{file}:{n} should start with user keyword followed by the username. ");
            continue;
        }
        let name = words[1];
        if users.iter().any(|u| u.name == name) {
            errors += &format!(
                "WARNING: Duplicate user '{}' found on line {n}. ",
                show(name)
            );
            continue;
        }
        let mut user = User::new(name);
        let Ok(merged) = merge_selectors(&words[2..]) else {
            errors += &format!("{file}:{n}: Unmatched parenthesis in selector definition.");
            continue;
        };
        let mut reported = false;
        for rule in &merged {
            match user.apply(rule) {
                Ok(()) => {}
                Err(RuleError::UnknownCommand) => {
                    errors += &format!(
                        "{file}:{n}: Error in applying operation '{}': {}. ",
                        show(rule),
                        RuleError::UnknownCommand.message()
                    );
                }
                Err(e) if !reported => {
                    errors += &format!("{file}:{n}: {}. ", e.message());
                    reported = true;
                }
                Err(_) => {}
            }
        }
        user.refresh();
        users.push(user);
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors += "WARNING: ACL errors detected, no change to the previously active ACL rules \
                   was performed";
        Err(errors)
    }
}

/// Users as an `aclfile` holds them, one `user …` line each (`ACL SAVE`).
pub fn acl_file_text(users: &[Arc<User>]) -> Vec<u8> {
    let mut out = Vec::new();
    for u in users {
        out.extend_from_slice(b"user ");
        out.extend_from_slice(&u.name);
        out.push(b' ');
        out.extend_from_slice(&u.describe());
        out.push(b'\n');
    }
    out
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Joins `(a`, `b`, `c)` into one `(a b c)` rule as Redis's ACLMergeSelectorArguments; an
/// unclosed `(` is returned as the error.
fn merge_selectors(rules: &[&[u8]]) -> Result<Vec<Vec<u8>>, Vec<u8>> {
    let mut out = Vec::with_capacity(rules.len());
    let mut open: Option<Vec<u8>> = None;
    // The argument the unclosed selector started at, which Redis's error quotes whole.
    let mut start: &[u8] = b"";
    for &r in rules {
        if let Some(sel) = open.as_mut() {
            sel.push(b' ');
            sel.extend_from_slice(r);
            if r.last() == Some(&b')') {
                out.push(open.take().unwrap_or_default());
            }
        } else if r.first() == Some(&b'(') && r.last() != Some(&b')') {
            open = Some(r.to_vec());
            start = r;
        } else {
            out.push(r.to_vec());
        }
    }
    match open {
        Some(_) => Err(start.to_vec()),
        None => Ok(out),
    }
}

/// A connection's user: who it is logged in as, and whether it has authenticated.
#[derive(Clone, Debug)]
pub struct Login {
    pub user: Arc<User>,
    pub authenticated: bool,
    generation: u64,
    reloads: u64,
}

/// What [`Login::current`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginState {
    Ok,
    /// The user was deleted: close the connection (Redis kills its clients).
    Gone,
}

impl Login {
    /// Brings the user up to date when any ACL changed since it was read (every request
    /// asks: one load and a compare, inlined; the rest is out of line).
    #[inline]
    pub fn current(&mut self, users: &Users) -> LoginState {
        let g = users.generation();
        if g == self.generation {
            return LoginState::Ok;
        }
        self.refresh(users, g)
    }

    #[cold]
    fn refresh(&mut self, users: &Users, g: u64) -> LoginState {
        self.generation = g;
        let reloads = users.reloads.load(Ordering::Acquire);
        let reloaded = reloads != self.reloads && self.user.name != b"default";
        self.reloads = reloads;
        match users.get(&self.user.name).filter(|_| !reloaded) {
            Some(u) => {
                self.user = u;
                LoginState::Ok
            }
            None => {
                self.user = users.default_user();
                self.authenticated = false;
                LoginState::Gone
            }
        }
    }

    /// Logs in as `user` after a successful [`Users::authenticate`].
    pub fn log_in(&mut self, users: &Users, user: Arc<User>) {
        self.generation = users.generation();
        self.reloads = users.reloads.load(Ordering::Acquire);
        self.user = user;
        self.authenticated = true;
    }
}

#[cfg(test)]
mod tests;
