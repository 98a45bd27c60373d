//! CLIENT: naming and listing connections, and acting on other connections through the hub
//! (KILL, UNBLOCK, PAUSE/UNPAUSE), plus per-connection switches (REPLY, NO-EVICT,
//! NO-TOUCH). Tracking subcommands live in [`super::tracking`].

use std::io::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::connection::{set_client_name, valid_client_name, BAD_CLIENT_NAME};
use super::registry::Spec;
use super::{tracking, transaction, unix_millis, Call};
use crate::commands::{ClientInfo, ReplyLayout};
use crate::hub::{flag, Event, OnTimeout, Unblock};
use crate::protocol::resp::{parse_i64, Args};
use crate::scripting::functions::{eval_shebang, NO_WRITES};

const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Prints this help.",
];

type Sub = fn(&mut Call<'_>, Args<'_>);

/// Subcommands: name, arity (negative: at least), handler.
const SUBCOMMANDS: &[(&str, i32, Sub)] = &[
    ("id", 2, id),
    ("getname", 2, getname),
    ("setname", 3, setname),
    ("setinfo", 4, setinfo),
    ("info", 2, info),
    ("list", -2, list),
    ("kill", -3, kill),
    ("pause", -3, pause),
    ("unpause", 2, unpause),
    ("unblock", -3, unblock),
    ("reply", 3, reply),
    ("no-evict", 3, no_evict),
    ("no-touch", 3, no_touch),
    ("tracking", -3, tracking::tracking),
    ("caching", 3, tracking::caching),
    ("getredir", 2, tracking::getredir),
    ("trackinginfo", 2, tracking::trackinginfo),
    ("help", 2, help),
];

pub(super) fn client(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1);
    let Some(&(name, arity, handler)) = SUBCOMMANDS
        .iter()
        .find(|(n, _, _)| sub.eq_ignore_ascii_case(n.as_bytes()))
    else {
        return call.w.error_fmt(format_args!(
            "ERR unknown subcommand '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        ));
    };
    let argc = args.len() as i32;
    if (arity > 0 && argc != arity) || argc < -arity {
        return call.wrong_arity(&format!("client|{name}"));
    }
    // The client's own command only (`depth` 1 in its handler), not one EXEC or a script ran.
    if call.depth == 1 && matches!(name, "info" | "list" | "kill" | "pause" | "unblock") {
        call.note_command(
            match name {
                "info" => "client|info",
                "list" => "client|list",
                "kill" => "client|kill",
                "pause" => "client|pause",
                _ => "client|unblock",
            },
            None,
        );
    }
    handler(call, args);
}

fn help(call: &mut Call<'_>, _args: Args<'_>) {
    call.w.array(HELP.len());
    for line in HELP {
        call.w.simple(line.as_bytes());
    }
}

fn id(call: &mut Call<'_>, _args: Args<'_>) {
    call.w.integer(call.info.id as i64);
}

fn getname(call: &mut Call<'_>, _args: Args<'_>) {
    match call.info.name.lock().as_deref() {
        Some(n) => call.w.bulk(n),
        None => call.w.null(),
    }
}

fn setname(call: &mut Call<'_>, args: Args<'_>) {
    let name = args.get(2);
    if !valid_client_name(name) {
        return call.w.error(BAD_CLIENT_NAME);
    }
    set_client_name(call.info, name);
    call.w.ok();
}

/// Redis 7.2's LIB-NAME / LIB-VER, sent by newer clients on connect.
fn setinfo(call: &mut Call<'_>, args: Args<'_>) {
    let attr = args.get(2);
    if attr.eq_ignore_ascii_case(b"lib-name") || attr.eq_ignore_ascii_case(b"lib-ver") {
        call.w.ok();
    } else {
        call.w.error_fmt(format_args!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(attr)
        ));
    }
}

/// `flags=` as Redis 7 builds it (its order), from what other connections can see.
fn flags_text(c: &ClientInfo) -> String {
    let f = c.flags.load(Ordering::Relaxed);
    let on = |bit: u32| f & bit != 0;
    let mut s = String::new();
    for (shown, ch) in [
        (on(flag::MONITOR), 'O'),
        (on(flag::REPLICA), 'S'),
        (on(flag::PUBSUB), 'P'),
        (on(flag::MULTI), 'x'),
        (on(flag::BLOCKED | flag::PAUSED), 'b'),
        (on(flag::TRACKING), 't'),
        (on(flag::TRACKING_BROKEN), 'R'),
        (on(flag::TRACKING_BCAST), 'B'),
        (c.dirty_cas.load(Ordering::Relaxed), 'd'),
        (on(flag::NO_EVICT), 'e'),
        (on(flag::NO_TOUCH), 'T'),
    ] {
        if shown {
            s.push(ch);
        }
    }
    if s.is_empty() {
        s.push('N');
    }
    s
}

/// The `argv-mem=` of a command: its arguments' bytes, as Redis's `argv_len_sum`.
pub(super) fn argv_mem(args: Args<'_>) -> u64 {
    args.iter_from(0).map(|a| a.len() as u64).sum()
}

/// One `CLIENT LIST` line, as Redis 7 prints it. `own` is the calling client's, with the
/// `argv-mem` of the command running: its `qbuf` is that command's input onwards and its
/// pending output what the replies before it left in the output buffer, as Redis reports
/// them while the command runs; other clients' buffers are as their worker last
/// published them (see [`crate::commands::Buffers`], [`ReplyLayout`]). `tot-mem` is the
/// buffer memory `maxmemory-clients` counts (input, output and TLS buffers' capacity)
/// plus `argv-mem`; slabd's per-connection structures and subscriptions are not in it.
pub(super) fn client_line(call: &mut Call<'_>, c: &ClientInfo, own: Option<u64>) {
    let now = call.ctx.store.clock().now();
    let bufs = &c.bufs;
    // The pending bytes first (published last, with Release): the capacities read after
    // them are at least as new.
    let unread = bufs.unread.load(Ordering::Acquire);
    let unsent = c.unsent.load(Ordering::Acquire);
    let read_cap = bufs.read_cap.load(Ordering::Relaxed);
    let write_cap = bufs.write_cap.load(Ordering::Relaxed);
    let rbs = bufs.reply_size.load(Ordering::Relaxed);
    let rbp = bufs.reply_peak.load(Ordering::Relaxed);
    let (qbuf, argv, written, unsent) = match own {
        // Nothing of this turn's output has been written yet (or it was written whole).
        Some(argv) => (call.pending as u64, argv, 0, call.w.out.len() as u64),
        None => (unread, 0, bufs.written.load(Ordering::Relaxed), unsent),
    };
    let qbuf_free = read_cap.max(qbuf) - qbuf;
    let ReplyLayout { obl, oll, omem } = ReplyLayout::of(written, unsent);
    // The buffers' capacity, and at least the reply buffer and blocks as Redis counts them.
    let tot_mem = c.mem.load(Ordering::Relaxed) + (obl + omem).saturating_sub(write_cap) + argv;
    let name = c.name.lock().clone().unwrap_or_default();
    let cmd = *c.last_cmd_name.lock();
    let resp = if c.has_flag(flag::RESP3) { 3 } else { 2 };
    let [sub, psub, ssub] = [0, 1, 2].map(|i| c.subs[i].load(Ordering::Relaxed));
    let redir = tracking::redirect_of(call, c);
    let flags = flags_text(c);
    let (multi, multi_mem) = c.multi.fields(c.has_flag(flag::MULTI));
    let s = &mut call.conn.scratch;
    let _ = writeln!(
        s,
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={flags} db={} sub={sub} \
         psub={psub} ssub={ssub} multi={multi} qbuf={qbuf} qbuf-free={qbuf_free} argv-mem={argv} \
         multi-mem={multi_mem} rbs={rbs} rbp={rbp} obl={obl} oll={oll} omem={omem} tot-mem={tot_mem} events=r \
         cmd={} user={} redir={redir} resp={}",
        c.id,
        c.addr,
        c.local_addr,
        c.fd.load(Ordering::Relaxed),
        String::from_utf8_lossy(&name),
        now.saturating_sub(c.created),
        now.saturating_sub(c.last_cmd.load(Ordering::Relaxed)),
        c.db.load(Ordering::Relaxed),
        cmd,
        c.user_name(),
        resp
    );
}

fn reply_scratch_verbatim(call: &mut Call<'_>) {
    let text = std::mem::take(&mut call.conn.scratch);
    call.w.verbatim(b"txt", &text);
    call.conn.scratch = text;
}

fn info(call: &mut Call<'_>, args: Args<'_>) {
    call.conn.scratch.clear();
    let me = call.info;
    client_line(call, me, Some(argv_mem(args)));
    reply_scratch_verbatim(call);
}

/// Redis's client types, as TYPE filters name them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Normal,
    Replica,
    Master,
    Pubsub,
}

fn parse_type(call: &mut Call<'_>, t: &[u8]) -> Option<Type> {
    let ty = match t.to_ascii_lowercase().as_slice() {
        b"normal" => Type::Normal,
        b"master" => Type::Master,
        b"replica" | b"slave" => Type::Replica,
        b"pubsub" => Type::Pubsub,
        _ => {
            call.w.error_fmt(format_args!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(t)
            ));
            return None;
        }
    };
    Some(ty)
}

/// A MONITOR client is of the normal type, as in Redis; a connection after SYNC / PSYNC is
/// a replica; none is a master (slabd is never a replica).
fn type_of(c: &ClientInfo) -> Type {
    if c.has_flag(flag::REPLICA) {
        Type::Replica
    } else if c.has_flag(flag::PUBSUB) {
        Type::Pubsub
    } else {
        Type::Normal
    }
}

/// `CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id …]`
fn list(call: &mut Call<'_>, args: Args<'_>) {
    let mut only_ids: Option<(usize, usize)> = None;
    let mut ty = None;
    let mut i = 2;
    while i < args.len() {
        let opt = args.get(i);
        if opt.eq_ignore_ascii_case(b"type") && i + 1 < args.len() {
            match parse_type(call, args.get(i + 1)) {
                Some(t) => ty = Some(t),
                None => return,
            }
            i += 2;
        } else if opt.eq_ignore_ascii_case(b"id") && i + 1 < args.len() {
            for id in args.iter_from(i + 1) {
                if !parse_i64(id).is_some_and(|n| n > 0) {
                    return call.w.error(b"ERR Invalid client ID");
                }
            }
            only_ids = Some((i + 1, args.len()));
            i = args.len();
        } else {
            return call.syntax_error();
        }
    }
    call.conn.scratch.clear();
    for c in call.ctx.clients.list() {
        if ty.is_some_and(|t| t != type_of(&c)) {
            continue;
        }
        if let Some((from, to)) = only_ids {
            let wanted = (from..to).any(|j| parse_i64(args.get(j)) == Some(c.id as i64));
            if !wanted {
                continue;
            }
        }
        let own = (c.id == call.info.id).then(|| argv_mem(args));
        client_line(call, &c, own);
    }
    reply_scratch_verbatim(call);
}

/// CLIENT KILL's filters (all given must match).
#[derive(Default)]
struct KillFilter<'a> {
    id: Option<u64>,
    ty: Option<Type>,
    addr: Option<&'a [u8]>,
    laddr: Option<&'a [u8]>,
    user: Option<&'a [u8]>,
    maxage: Option<u32>,
    skipme: bool,
}

impl KillFilter<'_> {
    fn matches(&self, c: &ClientInfo, now: u32) -> bool {
        self.id.map_or(true, |id| id == c.id)
            && self.ty.map_or(true, |t| t == type_of(c))
            && self.addr.map_or(true, |a| a == c.addr.as_bytes())
            && self.laddr.map_or(true, |a| a == c.local_addr.as_bytes())
            && self.user.map_or(true, |u| c.is_user(u))
            && self
                .maxage
                .map_or(true, |m| now.saturating_sub(c.created) >= m)
    }
}

fn parse_kill<'a>(call: &mut Call<'_>, args: Args<'a>) -> Option<KillFilter<'a>> {
    let mut f = KillFilter {
        skipme: true,
        ..KillFilter::default()
    };
    if args.len() % 2 != 0 {
        call.syntax_error();
        return None;
    }
    for i in (2..args.len()).step_by(2) {
        let (opt, val) = (args.get(i).to_ascii_lowercase(), args.get(i + 1));
        match opt.as_slice() {
            b"id" => match parse_i64(val) {
                Some(n) if n > 0 => f.id = Some(n as u64),
                _ => {
                    call.w.error(b"ERR client-id should be greater than 0");
                    return None;
                }
            },
            b"type" => f.ty = Some(parse_type(call, val)?),
            b"addr" => f.addr = Some(val),
            b"laddr" => f.laddr = Some(val),
            b"user" => {
                if call.ctx.users.get(val).is_none() {
                    call.w.error_fmt(format_args!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(val)
                    ));
                    return None;
                }
                f.user = Some(val);
            }
            b"skipme" => match val.to_ascii_lowercase().as_slice() {
                b"yes" => f.skipme = true,
                b"no" => f.skipme = false,
                _ => {
                    call.syntax_error();
                    return None;
                }
            },
            b"maxage" => match parse_i64(val) {
                Some(n) if n >= 0 => f.maxage = Some(n.min(i64::from(u32::MAX)) as u32),
                _ => {
                    call.not_integer();
                    return None;
                }
            },
            _ => {
                call.syntax_error();
                return None;
            }
        }
    }
    Some(f)
}

/// `CLIENT KILL ip:port` (+OK or "No such client") or `CLIENT KILL <filter> <value> ...`
/// (the number killed; the caller is skipped unless `SKIPME no`). Others are closed by their
/// worker at once; the caller after this reply.
fn kill(call: &mut Call<'_>, args: Args<'_>) {
    let old_style = args.len() == 3;
    let filter = if old_style {
        KillFilter {
            addr: Some(args.get(2)),
            ..KillFilter::default()
        }
    } else {
        match parse_kill(call, args) {
            Some(f) => f,
            None => return,
        }
    };
    let now = call.ctx.store.clock().now();
    let mut killed = 0;
    for c in call.ctx.clients.list() {
        if !filter.matches(&c, now) {
            continue;
        }
        if c.id == call.info.id {
            if filter.skipme && !old_style {
                continue;
            }
            call.close = true;
        } else {
            call.ctx.hub.post(c.target(), Event::Kill);
        }
        killed += 1;
    }
    if !old_style {
        call.w.integer(killed);
    } else if killed > 0 {
        call.w.ok();
    } else {
        call.w.error(b"ERR No such client");
    }
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: 1 when that client was in a blocking command.
fn unblock(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() > 4 {
        return call.syntax_error();
    }
    let Some(id) = call.integer(args.get(2)) else {
        return;
    };
    let how = if args.len() == 4 {
        let r = args.get(3);
        if r.eq_ignore_ascii_case(b"timeout") {
            Unblock::Timeout
        } else if r.eq_ignore_ascii_case(b"error") {
            Unblock::Error
        } else {
            return call
                .w
                .error(b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    } else {
        Unblock::Timeout
    };
    let target = u64::try_from(id)
        .ok()
        .and_then(|id| call.ctx.clients.get(id))
        .filter(|c| c.has_flag(flag::BLOCKED));
    match target {
        Some(c) => {
            call.ctx.hub.post(c.target(), Event::Unblock(how));
            call.w.integer(1);
        }
        None => call.w.integer(0),
    }
}

/// `CLIENT PAUSE timeout-ms [WRITE|ALL]`
fn pause(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() > 4 {
        return call.syntax_error();
    }
    let Some(ms) = parse_i64(args.get(2)) else {
        return call
            .w
            .error(b"ERR timeout is not an integer or out of range");
    };
    if ms < 0 {
        return call.w.error(b"ERR timeout is negative");
    }
    let writes_only = if args.len() == 4 {
        let m = args.get(3);
        if m.eq_ignore_ascii_case(b"write") {
            true
        } else if m.eq_ignore_ascii_case(b"all") {
            false
        } else {
            return call.syntax_error();
        }
    } else {
        false
    };
    let now = unix_millis();
    let pause = &call.ctx.hub.pause;
    pause.pause(now.saturating_add(ms as u64), writes_only, now);
    if let Some((until, _)) = pause.active(now) {
        call.ctx.store.hold_expiry_until(until);
    }
    call.w.ok();
}

fn unpause(call: &mut Call<'_>, _args: Args<'_>) {
    call.ctx.store.hold_expiry_until(0);
    for t in call.ctx.hub.pause.unpause() {
        call.ctx.hub.post(t, Event::Wake);
    }
    call.w.ok();
}

/// Parks the command when a CLIENT PAUSE covers it (all commands, or writes and commands
/// that may replicate such as PUBLISH); it runs again when the pause ends or is lifted.
/// True when parked.
pub(super) fn paused(call: &mut Call<'_>, spec: &Spec, args: Args<'_>) -> bool {
    if !call.ctx.hub.pause.maybe() {
        return false;
    }
    let now = unix_millis();
    let Some((until, writes_only)) = call.ctx.hub.pause.active(now) else {
        return false;
    };
    if (writes_only && !may_replicate(call, spec, args)) || !call.may_block() {
        return false;
    }
    let left = Duration::from_millis(until - now);
    call.block(std::iter::empty(), Some(left), OnTimeout::Rerun);
    call.ctx.hub.pause.park(call.info.target());
    true
}

/// Whether CLIENT PAUSE WRITE holds the command (Redis 7.0's "may replicate"): writes and
/// commands that may replicate (PUBLISH, PFCOUNT); a script by the flags it declares (a
/// shebang's, a cached script's, a function's: `no-writes` runs, no flags may write, an
/// unknown script may too); EXEC when its queue holds such a command.
fn may_replicate(call: &Call<'_>, spec: &Spec, args: Args<'_>) -> bool {
    // Declared script flags replace the command's own (FCALL is `may_replicate`).
    let writes = |flags: Option<u8>| flags.map_or(true, |f| f & NO_WRITES == 0);
    let scripting = &call.ctx.scripting;
    match spec.name {
        "eval" => writes(eval_shebang(args.get(1)).ok().and_then(|(flags, _)| flags)),
        "evalsha" => writes(scripting.script_flags(args.get(1)).flatten()),
        "fcall" => writes(scripting.function_flags(args.get(1))),
        "exec" => transaction::queued_any(call, |spec, args| may_replicate(call, spec, args)),
        _ => spec.flags.contains(&"write") || spec.flags.contains(&"may_replicate"),
    }
}

/// `CLIENT REPLY ON|OFF|SKIP`
fn reply(call: &mut Call<'_>, args: Args<'_>) {
    let m = args.get(2);
    if m.eq_ignore_ascii_case(b"on") {
        call.conn.reply_off = false;
        call.conn.reply_skip = 0;
        call.w.ok();
    } else if m.eq_ignore_ascii_case(b"off") {
        call.conn.reply_off = true;
    } else if m.eq_ignore_ascii_case(b"skip") {
        // This command's (empty) reply and the next one's.
        call.conn.reply_skip = 2;
    } else {
        call.syntax_error();
    }
}

fn on_off(call: &mut Call<'_>, arg: &[u8], bit: u32) {
    if arg.eq_ignore_ascii_case(b"on") {
        call.info.set_flag(bit, true);
        call.w.ok();
    } else if arg.eq_ignore_ascii_case(b"off") {
        call.info.set_flag(bit, false);
        call.w.ok();
    } else {
        call.syntax_error();
    }
}

/// `CLIENT NO-EVICT ON|OFF`: slabd never evicts clients; the flag is shown in CLIENT LIST.
fn no_evict(call: &mut Call<'_>, args: Args<'_>) {
    on_off(call, args.get(2), flag::NO_EVICT);
}

/// `CLIENT NO-TOUCH ON|OFF`: reads by this client do not mark items as recently used.
fn no_touch(call: &mut Call<'_>, args: Args<'_>) {
    on_off(call, args.get(2), flag::NO_TOUCH);
}
