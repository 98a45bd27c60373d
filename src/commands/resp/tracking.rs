//! CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO: the commands of client-side caching
//! (the table and the invalidations are [`crate::hub::tracking`]).

use super::{key_positions, Call, Spec};
use crate::commands::ClientInfo;
use crate::hub::flag;
use crate::hub::tracking::Options;
use crate::protocol::resp::{parse_i64, Args};

/// A connection's tracking state.
#[derive(Debug, Default)]
pub(super) struct Tracking {
    /// CLIENT TRACKING ON, with its options.
    on: Option<Options>,
    /// CLIENT CACHING yes/no for the next command (OPTIN / OPTOUT).
    caching: Option<bool>,
    /// A script this client runs called a read-only command: when it ends, the script's
    /// declared keys are remembered (Redis 7.0's rule for scripts).
    script_read: bool,
}

impl Tracking {
    pub(super) fn is_on(&self) -> bool {
        crate::hub::OBSERVE && self.on.is_some()
    }
}

/// The options after `ON|OFF`, read the same way for both (Redis 7.0 parses them before
/// it looks at the mode): an unknown word, a bad or unknown REDIRECT id are errors.
fn parse_options(call: &mut Call<'_>, args: Args<'_>) -> Option<Options> {
    let mut o = Options::default();
    let mut i = 3;
    while i < args.len() {
        let a = args.get(i).to_ascii_lowercase();
        let next = (i + 1 < args.len()).then(|| args.get(i + 1));
        match (a.as_slice(), next) {
            (b"redirect", Some(v)) => {
                if o.redirect.is_some() {
                    call.w
                        .error(b"ERR A client can only redirect to a single other client");
                    return None;
                }
                let id = parse_i64(v).and_then(|n| u64::try_from(n).ok());
                let Some(id) = id else {
                    call.not_integer();
                    return None;
                };
                let Some(target) = call.ctx.clients.get(id) else {
                    call.w
                        .error(b"ERR The client ID you want redirect to does not exist");
                    return None;
                };
                o.redirect = Some(target.target());
                i += 1;
            }
            (b"prefix", Some(p)) => {
                o.prefixes.push(Box::from(p));
                i += 1;
            }
            (b"bcast", _) => o.bcast = true,
            (b"optin", _) => o.optin = true,
            (b"optout", _) => o.optout = true,
            (b"noloop", _) => o.noloop = true,
            _ => {
                call.syntax_error();
                return None;
            }
        }
        i += 1;
    }
    Some(o)
}

/// Redis 7.0's checks before `ON`, in its order: the options among themselves and against
/// the mode the client tracks in already (`old`). The error to reply, if any.
fn refuse_on(o: &Options, old: Option<&Options>) -> Option<String> {
    if !o.bcast && !o.prefixes.is_empty() {
        return Some("ERR PREFIX option requires BCAST mode to be enabled".into());
    }
    if old.is_some_and(|old| old.bcast != o.bcast) {
        return Some(
            "ERR You can't switch BCAST mode on/off before disabling tracking for this \
             client, and then re-enabling it with a different mode."
                .into(),
        );
    }
    if o.bcast && (o.optin || o.optout) {
        return Some("ERR OPTIN and OPTOUT are not compatible with BCAST".into());
    }
    if o.optin && o.optout {
        return Some("ERR You can't specify both OPTIN mode and OPTOUT mode".into());
    }
    if old.is_some_and(|old| (o.optin && old.optout) || (o.optout && old.optin)) {
        return Some(
            "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this \
             client, and then re-enabling it with a different mode."
                .into(),
        );
    }
    if !o.bcast {
        return None;
    }
    let existing = old.map_or(&[][..], |old| &old.prefixes[..]);
    let overlapping = |p: &[u8], among: &[Box<[u8]>]| {
        among
            .iter()
            .find(|q| p.starts_with(q) || q.starts_with(p))
            .map(|q| String::from_utf8_lossy(q).into_owned())
    };
    for (i, p) in o.prefixes.iter().enumerate() {
        let (which, q) = match overlapping(p, existing) {
            Some(q) => ("an existing", q),
            None => match overlapping(p, &o.prefixes[i + 1..]) {
                Some(q) => ("another provided", q),
                None => continue,
            },
        };
        return Some(format!(
            "ERR Prefix '{}' overlaps with {which} prefix '{q}'. Prefixes for a single client \
             must not overlap.",
            String::from_utf8_lossy(p)
        ));
    }
    None
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT] [NOLOOP]`
pub(super) fn tracking(call: &mut Call<'_>, args: Args<'_>) {
    let Some(mut options) = parse_options(call, args) else {
        return;
    };
    let on_off = args.get(2);
    let id = call.info.id;
    if on_off.eq_ignore_ascii_case(b"off") {
        call.ctx.hub.tracking.disable(id);
        call.conn.tracking = Tracking::default();
        set_flags(call.info, None);
        return call.w.ok();
    }
    if !on_off.eq_ignore_ascii_case(b"on") {
        return call.syntax_error();
    }
    if let Some(why) = refuse_on(&options, call.conn.tracking.on.as_ref()) {
        return call.w.error(why.as_bytes());
    }
    if let Some(old) = &call.conn.tracking.on {
        // More prefixes for a BCAST client: added to the ones it has.
        let mut all = old.prefixes.clone();
        all.append(&mut options.prefixes);
        options.prefixes = all;
    }
    set_flags(call.info, Some(&options));
    call.ctx
        .hub
        .tracking
        .enable(id, call.info.target(), options.clone());
    call.conn.tracking.on = Some(options);
    call.w.ok();
}

fn set_flags(info: &ClientInfo, o: Option<&Options>) {
    info.set_flag(flag::TRACKING, o.is_some());
    info.set_flag(flag::TRACKING_BCAST, o.is_some_and(|o| o.bcast));
}

/// `CLIENT CACHING YES|NO`: whether the next command's keys are tracked (OPTIN / OPTOUT).
pub(super) fn caching(call: &mut Call<'_>, args: Args<'_>) {
    let Some(o) = &call.conn.tracking.on else {
        return call.w.error(
            b"ERR CLIENT CACHING can be called only when the client is in tracking mode with \
              OPTIN or OPTOUT mode enabled",
        );
    };
    let (optin, optout) = (o.optin, o.optout);
    let v = args.get(2);
    if v.eq_ignore_ascii_case(b"yes") {
        if !optin {
            return call.w.error(
                b"ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        call.conn.tracking.caching = Some(true);
    } else if v.eq_ignore_ascii_case(b"no") {
        if !optout {
            return call.w.error(
                b"ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        call.conn.tracking.caching = Some(false);
    } else {
        return call.syntax_error();
    }
    call.w.ok();
}

/// `CLIENT GETREDIR`: -1 not tracking, 0 tracking without redirect, else the client id.
pub(super) fn getredir(call: &mut Call<'_>, _args: Args<'_>) {
    let n = match &call.conn.tracking.on {
        None => -1,
        Some(o) => o.redirect.map_or(0, |t| t.id as i64),
    };
    call.w.integer(n);
}

/// `redir=` of CLIENT LIST for any client.
pub(super) fn redirect_of(call: &Call<'_>, c: &ClientInfo) -> i64 {
    match call.ctx.hub.tracking.options(c.id) {
        None => -1,
        Some(o) => o.redirect.map_or(0, |t| t.id as i64),
    }
}

/// `CLIENT TRACKINGINFO`
pub(super) fn trackinginfo(call: &mut Call<'_>, _args: Args<'_>) {
    let t = &call.conn.tracking;
    let mut flags: Vec<&[u8]> = Vec::new();
    let (redirect, prefixes) = match &t.on {
        None => {
            flags.push(b"off");
            (-1, Vec::new())
        }
        Some(o) => {
            flags.push(b"on");
            for (set, name) in [
                (o.bcast, &b"bcast"[..]),
                (o.optin, b"optin"),
                (o.optout, b"optout"),
                (t.caching == Some(true), b"caching-yes"),
                (t.caching == Some(false), b"caching-no"),
                (o.noloop, b"noloop"),
            ] {
                if set {
                    flags.push(name);
                }
            }
            let r = o.redirect.map_or(0, |t| t.id as i64);
            if let Some(target) = o.redirect {
                let gone = call.ctx.hub.tracking.broken(call.info.id);
                if gone || call.ctx.clients.get(target.id).is_none() {
                    flags.push(b"broken_redirect");
                }
            }
            // BCAST without PREFIX tracks every key: Redis lists one empty prefix.
            let prefixes = if o.bcast && o.prefixes.is_empty() {
                vec![Box::from(&b""[..])]
            } else {
                o.prefixes.clone()
            };
            (r, prefixes)
        }
    };
    call.w.map(3);
    call.w.bulk(b"flags");
    call.w.set(flags.len());
    for f in flags {
        call.w.bulk(f);
    }
    call.w.bulk(b"redirect");
    call.w.integer(redirect);
    call.w.bulk(b"prefixes");
    call.w.array(prefixes.len());
    for p in prefixes {
        call.w.bulk(&p);
    }
}

/// Before each command while some client tracks: keys over `tracking-table-max-keys` are
/// invalidated (as Redis's `processCommand` does, so a lowered limit applies at once); the
/// invalidations this client gets itself precede the command's reply.
pub(super) fn before_command(call: &mut Call<'_>) {
    let hub = &call.ctx.hub;
    if !hub.tracking.over_limit() {
        return;
    }
    let mine = hub.tracking.limit_before_command(hub, call.info.id);
    // RESP2 gets invalidations only as a subscriber (a REDIRECT target).
    if mine.is_empty() || !(call.conn.resp3 || call.conn.subs.active()) {
        return;
    }
    for msg in mine {
        let d = crate::hub::pubsub::Delivery { msg, pattern: None };
        d.encode(call.conn.resp3, call.w.out);
    }
}

/// After a command ran: a read-only command's keys are remembered for a tracking client
/// in default mode (OPTIN: only after CACHING yes; OPTOUT: unless CACHING no). The CACHING
/// choice lasts one command.
pub(super) fn after_command(call: &mut Call<'_>, spec: &Spec, args: Args<'_>) {
    let Some(o) = &call.conn.tracking.on else {
        return;
    };
    if spec.name == "client" {
        return;
    }
    let readonly = spec.flags.contains(&"readonly");
    if call.depth >= 2 {
        // Called by a script: what counts is whether it read at all.
        call.conn.tracking.script_read |= readonly;
        return;
    }
    let script = matches!(
        spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    );
    let script_read = std::mem::take(&mut call.conn.tracking.script_read);
    let caching = call.conn.tracking.caching.take();
    if o.bcast || (script && !script_read) || (!script && !readonly) {
        return;
    }
    let wanted = if o.optin {
        caching == Some(true)
    } else if o.optout {
        caching != Some(false)
    } else {
        true
    };
    if !wanted {
        return;
    }
    let hub = &call.ctx.hub;
    if script {
        // EVAL script numkeys key...: the declared keys.
        let numkeys = std::str::from_utf8(args.get(2))
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        for i in (3..args.len()).take(numkeys) {
            hub.tracking.remember(hub, call.info.id, args.get(i));
        }
        return;
    }
    for i in key_positions(spec, args.len()) {
        hub.tracking.remember(hub, call.info.id, args.get(i));
    }
}

/// The connection closed or reset: it tracks nothing any more.
pub(super) fn stop(ctx: &crate::commands::Context, id: u64) {
    ctx.hub.tracking.disable(id);
}
