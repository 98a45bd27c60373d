//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, CLIENT, and SWAPDB (which
//! Redis files under server but which, like SELECT, is about databases).

use std::sync::atomic::Ordering;

use super::registry::{spec, Spec};
use super::{Call, REDIS_VERSION};
use crate::auth::{LogReason, WrongPass};
use crate::commands::ClientInfo;
use crate::protocol::resp::{parse_i64, Args};
use crate::stats;

/// This family's commands (see [`super::registry`]).
/// Columns: name, arity, flags, (first key, last key, key step), group, since, summary.
#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("ping", -1, ["fast"], (0, 0, 0), "connection", "1.0.0",
        "Ping the server", ping),
    spec!("echo", 2, ["loading", "stale", "fast"], (0, 0, 0), "connection", "1.0.0",
        "Echo the given string", echo),
    spec!("hello", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        (0, 0, 0), "connection", "6.0.0",
        "Handshake with Redis", hello),
    spec!("auth", -2, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        (0, 0, 0), "connection", "1.0.0",
        "Authenticate to the server", auth),
    spec!("select", 2, ["loading", "stale", "fast"], (0, 0, 0), "connection", "1.0.0",
        "Change the selected database for the current connection", select),
    spec!("quit", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"],
        (0, 0, 0), "connection", "1.0.0",
        "Close the connection", quit),
    spec!("client", -2, ["loading", "stale"], (0, 0, 0), "connection", "2.4.0",
        "A container for client connection commands", super::client::client),
    spec!("swapdb", 3, ["write", "fast"], (0, 0, 0), "server", "4.0.0",
        "Swaps two Redis databases", swapdb),
];

pub(super) fn ping(call: &mut Call<'_>, args: Args<'_>) {
    if call.conn.subs.active() && !call.conn.resp3 && args.len() <= 2 {
        // RESP2 subscribed mode answers in the shape of a message: ["pong", arg or ""].
        call.w.array(2);
        call.w.bulk(b"pong");
        return call.w.bulk(if args.len() == 2 { args.get(1) } else { b"" });
    }
    match args.len() {
        1 => call.w.simple(b"PONG"),
        2 => call.w.bulk(args.get(1)),
        _ => call.wrong_arity("ping"),
    }
}

pub(super) fn echo(call: &mut Call<'_>, args: Args<'_>) {
    call.w.bulk(args.get(1));
}

pub(super) fn quit(call: &mut Call<'_>, _args: Args<'_>) {
    call.w.ok();
    call.close = true;
}

/// Why AUTH (or HELLO … AUTH) failed.
enum AuthFailure {
    /// Wrong user or password, or the user is off.
    WrongPass,
    /// `AUTH password` while the default user needs no password.
    NoPasswordSet,
}

/// Logs the connection in through the one user model ([`crate::auth::Users`]); the user
/// is `default` when not named. Counts in `auth_cmds`/`auth_errors` as memcached's SASL
/// does, and a failure in `ACL LOG` and INFO's `acl_access_denied_auth` as Redis does.
fn authenticate(
    call: &mut Call<'_>,
    command: &[u8],
    user: Option<&[u8]>,
    password: &[u8],
) -> Result<(), AuthFailure> {
    stats::bump(&call.stats.auth_cmds);
    let users = &call.ctx.users;
    if user.is_none() && users.default_user().nopass() {
        return Err(AuthFailure::NoPasswordSet);
    }
    let name = user.unwrap_or(b"default");
    match users.authenticate(name, password) {
        Ok(u) => {
            call.info.set_user(u.name());
            call.login.log_in(users, u);
            Ok(())
        }
        Err(WrongPass) => {
            stats::bump(&call.stats.auth_errors);
            super::acl::log_denial(call, LogReason::Auth, command.to_vec(), Some(name));
            Err(AuthFailure::WrongPass)
        }
    }
}

fn auth_failed(call: &mut Call<'_>, failure: AuthFailure) {
    match failure {
        AuthFailure::WrongPass => call
            .w
            .error(b"WRONGPASS invalid username-password pair or user is disabled."),
        AuthFailure::NoPasswordSet => call.w.error(
            b"ERR AUTH <password> called without any password configured for the default \
              user. Are you sure your configuration is correct?",
        ),
    }
}

pub(super) fn auth(call: &mut Call<'_>, args: Args<'_>) {
    let outcome = match args.len() {
        2 => authenticate(call, args.get(0), None, args.get(1)),
        3 => authenticate(call, args.get(0), Some(args.get(1)), args.get(2)),
        _ => return call.syntax_error(),
    };
    match outcome {
        Ok(()) => call.w.ok(),
        Err(f) => auth_failed(call, f),
    }
}

/// Redis accepts client names of printable ASCII without spaces.
pub(super) fn valid_client_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

pub(super) fn set_client_name(info: &ClientInfo, name: &[u8]) {
    *info.name.lock() = (!name.is_empty()).then(|| name.to_vec());
}

pub(super) const BAD_CLIENT_NAME: &[u8] =
    b"ERR Client names cannot contain spaces, newlines or special characters.";

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`
pub(super) fn hello(call: &mut Call<'_>, args: Args<'_>) {
    let mut version = None;
    if args.len() >= 2 {
        match parse_i64(args.get(1)) {
            None => {
                return call
                    .w
                    .error(b"ERR Protocol version is not an integer or out of range")
            }
            Some(v @ 2..=3) => version = Some(v),
            Some(_) => return call.w.error(b"NOPROTO unsupported protocol version"),
        }
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args.get(i);
        let more = args.len() - i - 1;
        if opt.eq_ignore_ascii_case(b"AUTH") && more >= 2 {
            credentials = Some((args.get(i + 1), args.get(i + 2)));
            i += 3;
        } else if opt.eq_ignore_ascii_case(b"SETNAME") && more >= 1 {
            name = Some(args.get(i + 1));
            i += 2;
        } else {
            call.w.error_fmt(format_args!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(opt)
            ));
            return;
        }
    }
    if let Some((user, password)) = credentials {
        if let Err(f) = authenticate(call, args.get(0), Some(user), password) {
            return auth_failed(call, f);
        }
    }
    if !call.login.authenticated {
        return call.w.error(
            b"NOAUTH HELLO must be called with the client already authenticated, otherwise the \
              HELLO AUTH <user> <pass> option can be used to authenticate the client \
              and select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = name {
        if !valid_client_name(name) {
            return call.w.error(BAD_CLIENT_NAME);
        }
        set_client_name(call.info, name);
    }
    if let Some(v) = version {
        call.conn.resp3 = v == 3;
        call.w.resp3 = v == 3;
        call.info.set_flag(crate::hub::flag::RESP3, v == 3);
    }
    let w = &mut call.w;
    w.map(7);
    w.bulk(b"server");
    w.bulk(b"redis");
    w.bulk(b"version");
    w.bulk(REDIS_VERSION.as_bytes());
    w.bulk(b"proto");
    w.integer(if call.conn.resp3 { 3 } else { 2 });
    w.bulk(b"id");
    w.integer(call.info.id as i64);
    w.bulk(b"mode");
    w.bulk(b"standalone");
    w.bulk(b"role");
    w.bulk(b"master");
    w.bulk(b"modules");
    w.array(0);
}

/// Parses a database index, replying as Redis does when it is bad.
pub(super) fn db_index(call: &mut Call<'_>, arg: &[u8]) -> Option<u8> {
    let n = call.integer(arg)?;
    match u8::try_from(n) {
        Ok(db) if db < call.ctx.settings.databases => Some(db),
        _ => {
            call.w.error(b"ERR DB index is out of range");
            None
        }
    }
}

pub(super) fn select(call: &mut Call<'_>, args: Args<'_>) {
    if let Some(db) = db_index(call, args.get(1)) {
        call.conn.db = db;
        call.info.db.store(db, Ordering::Relaxed);
        call.w.ok();
    }
}

/// Exchanges two databases: the store swaps its database map, atomically as every other
/// command sees it. Connections keep their index and so see the other data, as in Redis;
/// the memcached protocol (always database 0) too.
pub(super) fn swapdb(call: &mut Call<'_>, args: Args<'_>) {
    let (Some(a), Some(b)) = (parse_i64(args.get(1)), parse_i64(args.get(2))) else {
        let which: &[u8] = if parse_i64(args.get(1)).is_none() {
            b"ERR invalid first DB index"
        } else {
            b"ERR invalid second DB index"
        };
        return call.w.error(which);
    };
    let dbs = i64::from(call.ctx.settings.databases);
    if !(0..dbs).contains(&a) || !(0..dbs).contains(&b) {
        return call.w.error(b"ERR DB index is out of range");
    }
    if a != b {
        call.ctx.store.swap_db(a as u8, b as u8);
        // Clients blocked on a key of either database see the other's data now.
        for db in [a as u8, b as u8] {
            for key in call.ctx.hub.waiters.keys_in(db) {
                call.ctx.hub.signal_key(db, &key);
            }
        }
    }
    call.w.ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names() {
        assert!(valid_client_name(b"worker-1"));
        assert!(valid_client_name(b""));
        assert!(!valid_client_name(b"a b"));
        assert!(!valid_client_name(b"a\nb"));
        assert!(!valid_client_name("é".as_bytes()));
    }
}
