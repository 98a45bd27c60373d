//! Binary-protocol SASL (mechanism PLAIN) as memcached 1.6.18 answers it, and the password
//! files memcached reads (`-Y FILE` for the text protocol's login, `MEMCACHED_SASL_PWDB`
//! for SASL), joined to the one user model: their `user:password` lines become users of
//! [`crate::auth::Users`] at start-up, and every login goes through
//! [`crate::auth::Users::authenticate`] (the text protocol's exchange is in `login.rs`).

use crate::auth::Users;
use crate::commands::{Context, Session};
use crate::config::Settings;
use crate::protocol::memcache::binary::{self, Header, Status};
use crate::stats::bump;

/// The mechanisms `SASL_LIST_MECHS` offers.
const MECHANISMS: &[u8] = b"PLAIN";

/// With `-S` or `-Y`, memcached serves nobody who has not logged in: the password files'
/// users are added (full access) and the default user is switched off.
pub fn add_file_users(users: &Users, settings: &Settings) {
    if !settings.sasl && settings.auth_file.is_none() {
        return;
    }
    for (user, pass) in settings.ascii_auth.iter().chain(&settings.sasl_auth) {
        let mut password = b">".to_vec();
        password.extend_from_slice(pass);
        let rules: [&[u8]; 5] = [b"on", &password, b"~*", b"&*", b"+@all"];
        if let Err((_, e)) = users.set_user(user, &rules) {
            eprintln!(
                "password file user {}: {}",
                String::from_utf8_lossy(user),
                e.message()
            );
        }
    }
    // "off" is always a valid rule.
    let _ = users.set_user(b"default", &[b"off"]);
}

/// Whether binary-protocol clients must log in (memcached: `-S`; here also whenever the
/// user model requires a login) and SASL opcodes are served.
pub(super) fn sasl_enabled(ctx: &Context) -> bool {
    ctx.settings.sasl || ctx.users.auth_required()
}

/// Whether a binary request may run on this connection: logged in, or one of the opcodes
/// memcached serves before a login. `None`: the user was deleted, close.
pub(super) fn binary_allowed(ctx: &Context, session: &mut Session, opcode: u8) -> Option<bool> {
    use binary::opcode::*;
    let login = session.login(&ctx.users)?;
    Some(login.authenticated || matches!(opcode, SASL_LIST_MECHS | SASL_AUTH | SASL_STEP | VERSION))
}

/// SASL PLAIN's message: `authzid NUL authcid NUL password`. Logs the session in.
fn plain(ctx: &Context, session: &mut Session, message: &[u8]) -> bool {
    let mut parts = message.splitn(3, |&b| b == 0);
    let (Some(_), Some(user), Some(pass)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(user) = ctx.users.authenticate(user, pass) else {
        ctx.users.count_denied(crate::auth::LogReason::Auth);
        return false;
    };
    session.info.set_user(user.name());
    if let Some(login) = session.login(&ctx.users) {
        login.log_in(&ctx.users, user);
    }
    true
}

/// SASL_LIST_MECHS, SASL_AUTH and SASL_STEP (the caller checked [`sasl_enabled`]).
pub(super) fn sasl(
    ctx: &Context,
    session: &mut Session,
    h: &Header,
    mech: &[u8],
    data: &[u8],
    out: &mut Vec<u8>,
) {
    let outcome = match h.opcode {
        binary::opcode::SASL_LIST_MECHS => {
            return binary::write_response(out, h, Status::Success, 0, &[], &[], MECHANISMS);
        }
        binary::opcode::SASL_AUTH => {
            session.memcache.sasl_started = false;
            if mech != MECHANISMS {
                Some(false)
            } else if data.is_empty() {
                // PLAIN with no initial response: the client sends it with SASL_STEP.
                session.memcache.sasl_started = true;
                None
            } else {
                Some(plain(ctx, session, data))
            }
        }
        _ if session.memcache.sasl_started => {
            session.memcache.sasl_started = false;
            Some(mech == MECHANISMS && plain(ctx, session, data))
        }
        _ => Some(false),
    };
    let stats = &ctx.threads[session.worker];
    match outcome {
        None => binary::write_response(out, h, Status::AuthContinue, 0, &[], &[], &[]),
        Some(true) => {
            bump(&stats.auth_cmds);
            binary::write_response(out, h, Status::Success, 0, &[], &[], b"Authenticated");
        }
        Some(false) => {
            bump(&stats.auth_cmds);
            bump(&stats.auth_errors);
            binary::write_error(out, h, Status::AuthError);
        }
    }
}
