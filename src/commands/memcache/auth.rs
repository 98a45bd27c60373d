//! memcached's two ways to log in: binary-protocol SASL (`-S`, mechanism PLAIN) and the text
//! protocol's `set`-shaped token exchange (`-Y FILE`), as memcached 1.6.18 answers them.
//!
//! Both end in [`verify`], the one place a user name and password are checked, so that the
//! server-wide user model can replace the password files by changing that function alone.

use crate::commands::{Context, Session, Step};
use crate::protocol::memcache::binary::{self, Header, Status};
use crate::stats::{bump, ThreadStats};

/// The mechanisms `SASL_LIST_MECHS` offers.
const MECHANISMS: &[u8] = b"PLAIN";

/// Longest first line of an ASCII auth exchange before the connection is closed.
const AUTH_LINE_MAX: usize = 2048;

/// Which password list a login is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Realm {
    /// SASL: the file named by `MEMCACHED_SASL_PWDB`, read at each attempt as memcached does.
    Sasl,
    /// ASCII auth: the `-Y` file's entries, read at start-up.
    Ascii,
}

/// Whether `user` may log in with `pass`.
fn verify(ctx: &Context, realm: Realm, user: &[u8], pass: &[u8]) -> bool {
    match realm {
        Realm::Ascii => ctx
            .settings
            .ascii_auth
            .iter()
            .any(|(u, p)| constant_time_eq(u, user) & constant_time_eq(p, pass)),
        Realm::Sasl => {
            let Some(path) = std::env::var_os("MEMCACHED_SASL_PWDB") else {
                return false;
            };
            let Ok(text) = std::fs::read(path) else {
                return false;
            };
            pwdb_accepts(&text, user, pass)
        }
    }
}

/// memcached's SASL password database: the first `user:` line decides; the password ends
/// at `:`, `\r`, `\n` or the end of the file.
fn pwdb_accepts(text: &[u8], user: &[u8], pass: &[u8]) -> bool {
    for line in text.split(|&b| b == b'\n') {
        let Some(rest) = line.strip_prefix(user).and_then(|r| r.strip_prefix(b":")) else {
            continue;
        };
        let end = rest
            .iter()
            .position(|&b| b == b':' || b == b'\r')
            .unwrap_or(rest.len());
        return constant_time_eq(&rest[..end], pass);
    }
    false
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn count(stats: &ThreadStats, ok: bool) {
    bump(&stats.auth_cmds);
    if !ok {
        bump(&stats.auth_errors);
    }
}

/// SASL PLAIN's message: `authzid NUL authcid NUL password`.
fn plain(ctx: &Context, message: &[u8]) -> bool {
    let mut parts = message.splitn(3, |&b| b == 0);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(user), Some(pass)) => verify(ctx, Realm::Sasl, user, pass),
        _ => false,
    }
}

/// SASL_LIST_MECHS, SASL_AUTH and SASL_STEP (the caller checked that `-S` is on).
pub(super) fn sasl(
    ctx: &Context,
    session: &mut Session,
    h: &Header,
    mech: &[u8],
    data: &[u8],
    out: &mut Vec<u8>,
) {
    let stats = &ctx.threads[session.worker];
    let state = &mut session.memcache;
    let outcome = match h.opcode {
        binary::opcode::SASL_LIST_MECHS => {
            return binary::write_response(out, h, Status::Success, 0, &[], &[], MECHANISMS);
        }
        binary::opcode::SASL_AUTH => {
            state.sasl_started = false;
            if mech != MECHANISMS {
                Some(false)
            } else if data.is_empty() {
                // PLAIN with no initial response: the client sends it with SASL_STEP.
                state.sasl_started = true;
                None
            } else {
                Some(plain(ctx, data))
            }
        }
        _ if state.sasl_started => {
            state.sasl_started = false;
            Some(mech == MECHANISMS && plain(ctx, data))
        }
        _ => Some(false),
    };
    match outcome {
        None => binary::write_response(out, h, Status::AuthContinue, 0, &[], &[], &[]),
        Some(true) => {
            state.authenticated = true;
            count(stats, true);
            binary::write_response(out, h, Status::Success, 0, &[], &[], b"Authenticated");
        }
        Some(false) => {
            count(stats, false);
            binary::write_error(out, h, Status::AuthError);
        }
    }
}

/// The text protocol before a `-Y` login: `set <any> <any> <any> <len>\r\n<user> <pass>\r\n`
/// answers `STORED` and lets the connection through; anything else gets memcached's error.
pub(super) fn ascii(ctx: &Context, session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    let Some(len) = session.memcache.ascii_auth_pending else {
        return ascii_line(session, input, out);
    };
    if input.len() < len {
        return Step::Incomplete;
    }
    session.memcache.ascii_auth_pending = None;
    let reply: &[u8] = match input[..len].strip_suffix(b"\r\n") {
        None => b"CLIENT_ERROR bad command line termination",
        Some(token) => {
            let mut words = words(token);
            match (words.next(), words.next()) {
                (Some(user), Some(pass)) => {
                    let ok = verify(ctx, Realm::Ascii, user, pass);
                    count(&ctx.threads[session.worker], ok);
                    if ok {
                        session.memcache.authenticated = true;
                        b"STORED"
                    } else {
                        b"CLIENT_ERROR authentication failure"
                    }
                }
                _ => b"CLIENT_ERROR bad authentication token format",
            }
        }
    };
    answer(out, reply);
    Step::Done(len)
}

/// Writes an ASCII-auth reply. memcached answers every request before a login through one
/// response object, so of several such replies in one read only the last is sent; nothing
/// else can be in `out` before a login, so the same is had by dropping what is there.
fn answer(out: &mut Vec<u8>, reply: &[u8]) {
    out.clear();
    out.extend_from_slice(reply);
    out.extend_from_slice(b"\r\n");
}

/// The first line of an ASCII login: only `set` with a numeric length is accepted.
fn ascii_line(session: &mut Session, input: &[u8], out: &mut Vec<u8>) -> Step {
    if input.len() < 2 {
        return Step::Incomplete;
    }
    let Some(nl) = input.iter().position(|&b| b == b'\n') else {
        return if input.len() > AUTH_LINE_MAX {
            Step::Close
        } else {
            Step::Incomplete
        };
    };
    let line = &input[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let words: Vec<&[u8]> = words(line).take(5).collect();
    let size = words
        .get(4)
        .and_then(|w| std::str::from_utf8(w).ok())
        .and_then(|w| w.parse::<u32>().ok());
    match size {
        Some(size) if words[0] == b"set" => {
            session.memcache.ascii_auth_pending = Some(size as usize + 2);
        }
        _ => answer(out, b"CLIENT_ERROR unauthenticated"),
    }
    Step::Done(nl + 1)
}

/// Space-separated words, as memcached's tokenizer splits them.
fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b' ').filter(|w| !w.is_empty())
}

/// Whether a binary request may run on this connection before it logged in.
pub(super) fn binary_allowed(ctx: &Context, session: &Session, opcode: u8) -> bool {
    use binary::opcode::*;
    !ctx.settings.sasl
        || session.memcache.authenticated
        || matches!(opcode, SASL_LIST_MECHS | SASL_AUTH | SASL_STEP | VERSION)
}

/// Whether a text request must first go through [`ascii`].
pub(super) fn ascii_required(ctx: &Context, session: &Session) -> bool {
    ctx.settings.auth_file.is_some() && !session.memcache.authenticated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_pwdb_lines() {
        let db = b"alice:secret\r\nbob:pw:extra\ncarol:\n";
        assert!(pwdb_accepts(db, b"alice", b"secret"));
        assert!(!pwdb_accepts(db, b"alice", b"secre"));
        assert!(pwdb_accepts(db, b"bob", b"pw"));
        assert!(pwdb_accepts(db, b"carol", b""));
        assert!(!pwdb_accepts(db, b"dave", b""));
        assert!(!pwdb_accepts(db, b"al", b"ice:secret"));
    }
}
