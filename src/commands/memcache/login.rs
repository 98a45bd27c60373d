//! The text protocol before login, and the per-request ACL check.
//!
//! When the user model requires a login (`requirepass`, or the default user off), a text
//! connection must first send memcached 1.6's ASCII auth exchange,
//! `set <any> <any> <any> <len>\r\n<user> <pass>\r\n`, answered `STORED`; anything else
//! gets `CLIENT_ERROR unauthenticated`, as memcached answers it with `-Y`. The user and
//! password are checked by [`crate::auth::Users::authenticate`], the same as RESP's AUTH
//! (the user name `default` with `requirepass`'s password logs in as Redis's default user).

use crate::auth::memcache::{check, DENIED};
use crate::commands::{Context, Session, Step};
use crate::protocol::memcache::Command;
use crate::stats::bump;

/// Longest first line of a login before the connection is closed (memcached's limit).
const LOGIN_LINE_MAX: usize = 2048;

/// One step of the login exchange.
pub(super) fn exchange(
    ctx: &Context,
    session: &mut Session,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    let Some(len) = session.memcache.login_pending else {
        return first_line(session, input, out);
    };
    if input.len() < len {
        return Step::Incomplete;
    }
    session.memcache.login_pending = None;
    let reply: &[u8] = match input[..len].strip_suffix(b"\r\n") {
        None => b"CLIENT_ERROR bad command line termination",
        Some(token) => {
            let mut words = words(token);
            match (words.next(), words.next()) {
                (Some(user), Some(pass)) => {
                    let stats = &ctx.threads[session.worker];
                    bump(&stats.auth_cmds);
                    match ctx.users.authenticate(user, pass) {
                        Ok(u) => {
                            session.info.set_user(u.name());
                            if let Some(login) = session.login(&ctx.users) {
                                login.log_in(&ctx.users, u);
                            }
                            b"STORED"
                        }
                        Err(_) => {
                            bump(&stats.auth_errors);
                            ctx.users.count_denied(crate::auth::LogReason::Auth);
                            b"CLIENT_ERROR authentication failure"
                        }
                    }
                }
                _ => b"CLIENT_ERROR bad authentication token format",
            }
        }
    };
    out.extend_from_slice(reply);
    out.extend_from_slice(b"\r\n");
    Step::Done(len)
}

/// The first line of a login: only `set` with a numeric length is accepted.
fn first_line(session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    if input.len() < 2 {
        return Step::Incomplete;
    }
    let Some(nl) = input.iter().position(|&b| b == b'\n') else {
        return if input.len() > LOGIN_LINE_MAX {
            Step::Close
        } else {
            Step::Incomplete
        };
    };
    let line = &input[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut w = words(line);
    let verb = w.next();
    let size = w
        .nth(3)
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.parse::<u32>().ok());
    match (verb, size) {
        (Some(b"set"), Some(size)) => session.memcache.login_pending = Some(size as usize + 2),
        _ => out.extend_from_slice(b"CLIENT_ERROR unauthenticated\r\n"),
    }
    Step::Done(nl + 1)
}

/// Space-separated words, as memcached's tokenizer splits them.
fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|w| !w.is_empty())
}

/// Whether the logged-in user may not run this request; if so the refusal is written
/// (nothing for `noreply`, which memcached honours for errors of such requests too).
/// Whether the connection's user may run `cmd` (what [`refused`] checks, writing nothing).
pub(super) fn allowed(session: &Session, cmd: &Command<'_>) -> bool {
    match session.login.as_ref() {
        None => true,
        Some(login) => login.user.unrestricted() || check(&login.user, cmd).is_ok(),
    }
}

pub(super) fn refused(session: &Session, cmd: &Command<'_>, out: &mut Vec<u8>) -> bool {
    let Some(login) = session.login.as_ref() else {
        return false;
    };
    if login.user.unrestricted() || check(&login.user, cmd).is_ok() {
        return false;
    }
    let quiet = matches!(
        cmd,
        Command::Store { noreply: true, .. }
            | Command::Delete { noreply: true, .. }
            | Command::Arith { noreply: true, .. }
            | Command::Touch { noreply: true, .. }
            | Command::FlushAll { noreply: true, .. }
    );
    if !quiet {
        out.extend_from_slice(DENIED);
        out.extend_from_slice(b"\r\n");
    }
    true
}
