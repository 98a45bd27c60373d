//! `ACL` and the per-request permission check, over the one user model in [`crate::auth`].
//!
//! Redis 7.0's subcommands: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, GENPASS,
//! LOG [count|RESET], DRYRUN, LOAD, SAVE (with `aclfile`), HELP; its error strings.

use std::sync::OnceLock;

use super::client::client_line;
use super::registry::{registry, spec, Spec};
use super::Call;
use crate::auth::catalog::CommandId;
use crate::auth::log::unix_millis;
use crate::auth::{self, catalog, Denied, LogEntry, LogReason};
use crate::commands::ClientInfo;
use crate::hub::pubsub::Space;
use crate::hub::{flag, Event};
use crate::protocol::resp::{parse_i64, Args};

/// The catalog id of each command of the [`registry`], by its index there, found once: the
/// check then looks up no name for a command without subcommands.
fn catalog_id(index: usize) -> Option<CommandId> {
    static IDS: OnceLock<Vec<Option<CommandId>>> = OnceLock::new();
    IDS.get_or_init(|| {
        registry()
            .specs()
            .iter()
            .map(|s| catalog::lookup(s.name.as_bytes()))
            .collect()
    })
    .get(index)
    .copied()
    .flatten()
}

/// Whether `user` may run this request (`index`: its command's place in the [`registry`]),
/// with no reply written and nothing logged: `redis.acl_check_cmd` from a script.
pub(super) fn allows(user: &auth::User, args: Args<'_>, index: usize) -> bool {
    match catalog_id(index).map(|id| catalog::subcommand(id, args.len(), |i| args.get(i))) {
        Some(id) => user.check(id, args.len(), |i| args.get(i)).is_ok(),
        None => user.may_run_everything(),
    }
}

/// Whether the connection's user may run this request (`index`: its command's place in
/// the [`registry`]); when not, writes Redis's `-NOPERM` error and records the refusal in
/// `ACL LOG`. Per request this is a bit test and the key patterns, no name lookup (but a
/// container's subcommand) and no reference count touched: connections on every worker
/// share the `User`.
pub(super) fn permitted(call: &mut Call<'_>, args: Args<'_>, index: usize) -> bool {
    let id = catalog_id(index).map(|id| catalog::subcommand(id, args.len(), |i| args.get(i)));
    let user = &call.login.user;
    let denied = match id {
        Some(id) => match user.check(id, args.len(), |i| args.get(i)) {
            Ok(()) => return true,
            Err(d) => (id, d),
        },
        // Not a Redis command: only a user allowed every command may run it.
        None if user.may_run_everything() => return true,
        None => {
            call.w.error_fmt(format_args!(
                "NOPERM this user has no permissions to run the '{}' command",
                String::from_utf8_lossy(args.get(0)).to_lowercase()
            ));
            return false;
        }
    };
    let (id, why) = denied;
    let name = catalog::entry(id).name;
    let (reason, object) = match why {
        Denied::Command => (LogReason::Command, name.as_bytes().to_vec()),
        Denied::Key(p) => (LogReason::Key, args.get(p).to_vec()),
        Denied::Channel(p) => (LogReason::Channel, args.get(p).to_vec()),
    };
    log_denial(call, reason, object, None);
    if call.conn.running_exec {
        let reason = match why {
            Denied::Command => "no permission to execute the command or subcommand",
            Denied::Key(_) => "no permission to touch the specified keys",
            Denied::Channel(_) => "no permission to access one of the channels used as arguments",
        };
        call.w.error_fmt(format_args!(
            "NOPERM ACLs rules changed between the moment the transaction was accumulated and \
             the EXEC call. This command is no longer allowed for the following reason: {reason}"
        ));
        return false;
    }
    match why {
        Denied::Command => call.w.error_fmt(format_args!(
            "NOPERM this user has no permissions to run the '{name}' command"
        )),
        Denied::Key(_) => call.w.error(
            b"NOPERM this user has no permissions to access one of the keys used as arguments",
        ),
        Denied::Channel(_) => call.w.error(
            b"NOPERM this user has no permissions to access one of the channels used as \
              arguments",
        ),
    }
    false
}

/// Adds an `ACL LOG` entry and counts it in INFO; `user` defaults to the connection's.
pub(super) fn log_denial(
    call: &mut Call<'_>,
    reason: LogReason,
    object: Vec<u8>,
    user: Option<&[u8]>,
) {
    let users = &call.ctx.users;
    users.count_denied(reason);
    let username = user.unwrap_or(call.login.user.name()).to_vec();
    call.conn.scratch.clear();
    let info = call.info;
    // The denied command's arguments are not at hand here: `argv-mem=0`.
    client_line(call, info, Some(0));
    let mut client_info = std::mem::take(&mut call.conn.scratch);
    if client_info.last() == Some(&b'\n') {
        client_info.pop();
    }
    // A script's redis.call runs nested in EVAL (depth 2 or more at the check).
    let context = if call.depth >= 2 && call.ctx.scripting.run.is_running() {
        "lua"
    } else if call.conn.tx.queuing() || call.conn.running_exec {
        "multi"
    } else {
        "toplevel"
    };
    let max_len = usize::try_from(call.ctx.directives.int("acllog-max-len")).unwrap_or(0);
    users.log.add(
        LogEntry {
            count: 1,
            reason,
            context,
            object,
            username,
            at_ms: unix_millis(),
            client_info,
        },
        max_len,
    );
}

/// This family's commands (see [`super::registry`]).
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("acl", -2, [], (0, 0, 0), "server", "6.0.0",
        "A container for Access List Control commands", acl),
];

fn lookup(name: &[u8]) -> Option<&'static Spec> {
    registry().lookup(name)
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

pub(super) fn acl(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let is = |name: &str| sub.eq_ignore_ascii_case(name.as_bytes());
    let argc = args.len();
    let users = &call.ctx.users;
    if is("setuser") && argc >= 3 {
        setuser(call, args);
    } else if is("deluser") && argc >= 3 {
        let names: Vec<&[u8]> = args.iter_from(2).collect();
        if names.iter().any(|n| *n == b"default") {
            return call.w.error(b"ERR The 'default' user cannot be removed");
        }
        let n = users.delete_users(&names);
        call.w.integer(n as i64);
        // Redis closes the deleted users' connections at once (idle subscribers too).
        close_clients(call, |c| names.iter().any(|n| c.is_user(n)));
    } else if is("getuser") && argc == 3 {
        getuser(call, args.get(2));
    } else if (is("list") || is("users")) && argc == 2 {
        let all = users.all();
        call.w.array(all.len());
        for u in all {
            if is("users") {
                call.w.bulk(u.name());
            } else {
                let mut line = b"user ".to_vec();
                line.extend_from_slice(u.name());
                line.push(b' ');
                line.extend_from_slice(&u.describe());
                call.w.bulk(&line);
            }
        }
    } else if is("whoami") && argc == 2 {
        let name = call.login.user.name().to_vec();
        call.w.bulk(&name);
    } else if (is("load") || is("save")) && users.acl_file().is_none() {
        call.w.error(
            b"ERR This Redis instance is not configured to use an ACL file. You may want to \
              specify users via the ACL SETUSER command and then issue a CONFIG REWRITE \
              (assuming you have a Redis configuration file set) in order to store users in \
              the Redis configuration.",
        );
    } else if is("load") && argc == 2 {
        match users.load_acl_file() {
            Ok(()) => {
                call.w.ok();
                close_clients(call, |c| !c.is_user(b"default"));
            }
            Err(e) => call.w.error_fmt(format_args!("ERR {e}")),
        }
    } else if is("save") && argc == 2 {
        match users.save_acl_file() {
            Ok(()) => call.w.ok(),
            Err(_) => call.w.error(
                b"ERR There was an error trying to save the ACLs. Please check the server \
                  logs for more information",
            ),
        }
    } else if is("cat") && argc == 2 {
        call.w.array(catalog::CATEGORIES.len());
        for c in catalog::CATEGORIES {
            call.w.bulk(c.as_bytes());
        }
    } else if is("cat") && argc == 3 {
        let Some(flag) = catalog::category(args.get(2)) else {
            let name = args.get(2);
            return call.w.error_fmt(format_args!(
                "ERR Unknown category '{}'",
                String::from_utf8_lossy(&name[..name.len().min(128)])
            ));
        };
        // Redis 7.0's whole table, as Redis answers (rules may name commands slabd does
        // not serve yet; they apply when the command lands).
        let names: Vec<&str> = catalog::entries()
            .iter()
            .filter(|e| e.categories & flag != 0)
            .map(|e| e.name)
            .collect();
        call.w.array(names.len());
        for n in names {
            call.w.bulk(n.as_bytes());
        }
    } else if is("genpass") && (argc == 2 || argc == 3) {
        genpass(call, args);
    } else if is("log") && (argc == 2 || argc == 3) {
        log(call, args);
    } else if is("dryrun") && argc >= 4 {
        dryrun(call, args);
    } else if is("help") && argc == 2 {
        call.w.array(HELP.len());
        for line in HELP {
            call.w.simple(line.as_bytes());
        }
    } else if let Some((known, arity)) = SUBCOMMANDS.iter().find(|(s, _)| is(s)) {
        let n = argc as i32;
        if (*arity > 0 && n != *arity) || n < -*arity {
            // Redis 7 checks a subcommand's arity before running it.
            call.wrong_arity(&format!("acl|{known}"));
        } else {
            call.w.error_fmt(format_args!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
                String::from_utf8_lossy(sub)
            ));
        }
    } else {
        call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try ACL HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    }
}

/// ACL's subcommands and their arities (Redis 7.0's), for the argument-count errors.
const SUBCOMMANDS: &[(&str, i32)] = &[
    ("cat", -2),
    ("deluser", -3),
    ("dryrun", -4),
    ("genpass", -2),
    ("getuser", 3),
    ("help", 2),
    ("list", 2),
    ("load", 2),
    ("log", -2),
    ("save", 2),
    ("setuser", -3),
    ("users", 2),
    ("whoami", 2),
];

fn setuser(call: &mut Call<'_>, args: Args<'_>) {
    let name = args.get(2);
    if name
        .iter()
        .any(|&c| c.is_ascii_whitespace() || c == 0 || c == 0x0b)
    {
        return call
            .w
            .error(b"ERR Usernames can't contain spaces or null characters");
    }
    let rules: Vec<&[u8]> = args.iter_from(3).collect();
    match call.ctx.users.set_user(name, &rules) {
        Ok(()) => {
            call.w.ok();
            kill_revoked_subscribers(call, name);
        }
        Err((rule, auth::RuleError::Syntax))
            if rule.first() == Some(&b'(') && { rule.last() != Some(&b')') } =>
        {
            call.w.error_fmt(format_args!(
                "ERR Unmatched parenthesis in acl selector starting at '{}'.",
                String::from_utf8_lossy(&rule)
            ))
        }
        Err((rule, e)) => call.w.error_fmt(format_args!(
            "ERR Error in ACL SETUSER modifier '{}': {}",
            String::from_utf8_lossy(&rule),
            e.message()
        )),
    }
}

fn getuser(call: &mut Call<'_>, name: &[u8]) {
    let Some(u) = call.ctx.users.get(name) else {
        return call.w.null();
    };
    let w = &mut call.w;
    w.map(6);
    w.bulk(b"flags");
    let flags = u.flags();
    w.set(flags.len());
    for f in flags {
        w.bulk(f.as_bytes());
    }
    w.bulk(b"passwords");
    let hashes: Vec<[u8; 64]> = u.password_hashes().collect();
    w.array(hashes.len());
    for h in &hashes {
        w.bulk(h);
    }
    let selectors = u.selector_fields();
    let fields = |w: &mut crate::protocol::resp::Writer<'_>, f: &(Vec<u8>, Vec<u8>, Vec<u8>)| {
        w.bulk(b"commands");
        w.bulk(&f.0);
        w.bulk(b"keys");
        w.bulk(&f.1);
        w.bulk(b"channels");
        w.bulk(&f.2);
    };
    fields(w, &selectors[0]);
    w.bulk(b"selectors");
    w.array(selectors.len() - 1);
    for s in &selectors[1..] {
        w.map(3);
        fields(w, s);
    }
}

fn genpass(call: &mut Call<'_>, args: Args<'_>) {
    const MAX_BITS: i64 = 4096;
    let mut bits = 256;
    if args.len() == 3 {
        match parse_i64(args.get(2)) {
            Some(b) => bits = b,
            None => return call.not_integer(),
        }
    }
    if bits <= 0 || bits > MAX_BITS {
        return call.w.error_fmt(format_args!(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a \
             positive number up to {MAX_BITS}"
        ));
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut raw = vec![0u8; chars.div_ceil(2)];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw).is_err() {
        return call.w.error(b"ERR failed to read random bytes");
    }
    let hex: Vec<u8> = raw
        .iter()
        .flat_map(|b| [b >> 4, b & 15])
        .take(chars)
        .map(|n| b"0123456789abcdef"[usize::from(n)])
        .collect();
    call.w.bulk(&hex);
}

fn log(call: &mut Call<'_>, args: Args<'_>) {
    let mut count = 10;
    if args.len() == 3 {
        if args.get(2).eq_ignore_ascii_case(b"reset") {
            call.ctx.users.log.reset();
            return call.w.ok();
        }
        match parse_i64(args.get(2)) {
            Some(n) => count = n.max(0) as usize,
            None => return call.not_integer(),
        }
    }
    let entries = call.ctx.users.log.newest(count);
    let now = unix_millis();
    let w = &mut call.w;
    w.array(entries.len());
    for e in entries {
        w.map(7);
        w.bulk(b"count");
        w.integer(e.count as i64);
        w.bulk(b"reason");
        w.bulk(e.reason.name().as_bytes());
        w.bulk(b"context");
        w.bulk(e.context.as_bytes());
        w.bulk(b"object");
        w.bulk(&e.object);
        w.bulk(b"username");
        w.bulk(&e.username);
        w.bulk(b"age-seconds");
        w.double(now.saturating_sub(e.at_ms) as f64 / 1000.0);
        w.bulk(b"client-info");
        w.bulk(&e.client_info);
    }
}

fn dryrun(call: &mut Call<'_>, args: Args<'_>) {
    let Some(user) = call.ctx.users.get(args.get(2)) else {
        return call.w.error_fmt(format_args!(
            "ERR User '{}' not found",
            String::from_utf8_lossy(args.get(2))
        ));
    };
    let argc = args.len() - 3;
    let arg = |i: usize| args.get(i + 3);
    // Redis's command table decides what exists; the arity is checked for commands slabd
    // serves.
    let Some(id) = catalog::resolve(argc, arg) else {
        return call.w.error_fmt(format_args!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(arg(0))
        ));
    };
    let n = argc as i32;
    let arity = lookup(arg(0)).map_or(0, |spec| spec.arity);
    if (arity > 0 && arity != n) || n < -arity {
        return call.w.error_fmt(format_args!(
            "ERR wrong number of arguments for '{}' command",
            catalog::entry(id).name
        ));
    }
    let text = match user.check(id, argc, arg) {
        Ok(()) => return call.w.ok(),
        Err(Denied::Command) => format!(
            "This user has no permissions to run the '{}' command",
            catalog::entry(id).name
        ),
        Err(Denied::Key(p)) => format!(
            "This user has no permissions to access the '{}' key",
            String::from_utf8_lossy(arg(p))
        ),
        Err(Denied::Channel(p)) => format!(
            "This user has no permissions to access the '{}' channel",
            String::from_utf8_lossy(arg(p))
        ),
    };
    call.w.bulk(text.as_bytes());
}

/// Closes the connections `doomed` picks: others through their worker (and out of CLIENT
/// LIST at once), the caller after this reply.
fn close_clients(call: &mut Call<'_>, doomed: impl Fn(&ClientInfo) -> bool) {
    for c in call.ctx.clients.list() {
        if !doomed(&c) {
            continue;
        }
        if c.id == call.info.id {
            call.close = true;
        } else {
            call.ctx.hub.post(c.target(), Event::Kill);
            call.ctx.clients.close(c.id);
        }
    }
}

/// Redis 7.0's `ACLKillPubsubClientsIfNeeded`: after `name`'s rules changed, its
/// connections subscribed to a channel, shard channel or pattern the user may no longer
/// use are closed (a pattern must be allowed as a pattern, as PSUBSCRIBE checks it).
fn kill_revoked_subscribers(call: &mut Call<'_>, name: &[u8]) {
    let Some(user) = call.ctx.users.get(name) else {
        return;
    };
    let subscribers: Vec<u64> = call
        .ctx
        .clients
        .list()
        .iter()
        .filter(|c| c.has_flag(flag::PUBSUB) && c.is_user(name))
        .map(|c| c.id)
        .collect();
    if subscribers.is_empty() || user.unrestricted() {
        return;
    }
    let mut doomed = Vec::new();
    call.ctx.hub.pubsub.each(|space, channel, who| {
        if subscribers.contains(&who.id)
            && !doomed.contains(&who.id)
            && !user.channel_allowed(channel, space == Space::Pattern)
        {
            doomed.push(who.id);
        }
    });
    if !doomed.is_empty() {
        close_clients(call, |c| doomed.contains(&c.id));
    }
}
