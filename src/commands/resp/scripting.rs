//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (LOAD, EXISTS, FLUSH, KILL, HELP).
//!
//! A script runs inside an exclusive section of the atomicity gate (nothing else runs
//! until it ends, or until it passes `busy-reply-threshold` and the other workers answer
//! `-BUSY`). Its `redis.call`s go through [`ScriptHost`]: a synthetic client that checks
//! what Redis checks for scripts (unknown command, arity, `noscript`, writes from read-only
//! scripts) and then runs the command on the caller's connection state with its own
//! output buffer; a SELECT inside the script does not change the caller's database.

use super::registry::{flag, registry, spec, Spec};
use super::{command_docs, key_positions, Call};
use crate::protocol::resp::{Args, Writer};
use crate::scripting::{Host, Kill, Params, RunError, Scripting, Target};
use crate::server::gather::Home;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("eval", -3, ["noscript", "stale", "skip_monitor", "no_mandatory_keys", "movablekeys"],
        (0, 0, 0), "scripting", "2.6.0", "Execute a Lua script server side", eval),
    spec!("evalsha", -3, ["noscript", "stale", "skip_monitor", "no_mandatory_keys",
        "movablekeys"], (0, 0, 0), "scripting", "2.6.0",
        "Execute a Lua script server side", evalsha),
    spec!("eval_ro", -3, ["readonly", "noscript", "stale", "skip_monitor", "no_mandatory_keys",
        "movablekeys"], (0, 0, 0), "scripting", "7.0.0",
        "Execute a read-only Lua script server side", eval_ro),
    spec!("evalsha_ro", -3, ["readonly", "noscript", "stale", "skip_monitor",
        "no_mandatory_keys", "movablekeys"], (0, 0, 0), "scripting", "7.0.0",
        "Execute a read-only Lua script server side", evalsha_ro),
    spec!("script", -2, [], (0, 0, 0), "scripting", "2.6.0",
        "A container for Lua scripts management commands", script),
];

const BUSY_SCRIPT: &[u8] =
    b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const BUSY_FUNCTION: &[u8] =
    b"BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// While a script is busy, the commands another client may still run (Redis's
/// `allow_busy` commands, SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE).
pub(super) fn allowed_when_busy(spec: &Spec, args: Args<'_>) -> bool {
    if spec.name == "shutdown" {
        // Only NOSAVE: a save would see the script's writes half done.
        return args.iter_from(1).any(|a| a.eq_ignore_ascii_case(b"nosave"));
    }
    spec.flags.contains(&"allow_busy")
        || (spec.name == "script" && args.len() == 2 && args.get(1).eq_ignore_ascii_case(b"kill"))
        || (spec.name == "function" && super::functions::allowed_when_busy(args))
}

/// The `-BUSY` error for the script or function running now.
pub(super) fn busy_error(call: &mut Call<'_>) {
    let function = call.ctx.scripting.run.is_function();
    call.w
        .error(if function { BUSY_FUNCTION } else { BUSY_SCRIPT });
}

/// The synthetic client a script's `redis.call` runs on.
pub(super) struct ScriptHost<'c, 'a> {
    pub(super) call: &'c mut Call<'a>,
    /// EVAL_RO / FCALL_RO / `no-writes`: write commands are refused.
    pub(super) read_only: bool,
}

impl Host for ScriptHost<'_, '_> {
    fn command(&mut self, args: Args<'_>, resp3: bool, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(index) = registry().index(args.get(0)) else {
            return Err("ERR Unknown Redis command called from script".into());
        };
        let spec = registry().spec(index);
        // As Redis 7.0's scriptCall: a container's subcommand is looked up first, and its
        // own arity and flags decide (CLIENT HELP runs, CLIENT LIST is refused, CLIENT
        // NOSUCH is an unknown command).
        let sub = if args.len() > 1 && is_container(index) {
            match command_docs::subcommand_entry(args.get(0), args.get(1)) {
                Some(sub) => Some(sub),
                None => return Err("ERR Unknown Redis command called from script".into()),
            }
        } else {
            None
        };
        let arity = sub.map_or(spec.arity, |s| s.arity);
        let argc = args.len() as i32;
        if (arity > 0 && argc != arity) || argc < -arity {
            return Err("ERR Wrong number of args calling Redis command from script".into());
        }
        let has = |bit: u8, name: &str| sub.map_or(spec.has(bit), |s| s.has(name));
        if has(flag::NOSCRIPT, "noscript") {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        let writes = has(flag::WRITE, "write");
        // Commands that may replicate (PUBLISH, PFCOUNT) count as writes here, as in Redis
        // 7.0: a read-only script then never waits for CLIENT PAUSE WRITE.
        if self.read_only && (writes || has(flag::MAY_REPLICATE, "may_replicate")) {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        let key_max = self.call.ctx.store.key_max();
        if key_positions(spec, args.len()).any(|i| args.get(i).len() > key_max) {
            return Err(format!(
                "ERR key too long (slabd keys are at most {key_max} bytes)"
            ));
        }
        if writes {
            self.call.ctx.scripting.run.note_write();
        }
        let mut inner = self.call.nested(out, resp3);
        super::execute_as(&mut inner, args, Some(index));
        Ok(())
    }

    fn deny_writes(&mut self) {
        self.read_only = true;
    }

    fn acl_check(&mut self, args: Args<'_>) -> Option<bool> {
        let index = registry().index(args.get(0))?;
        let user = &self.call.login.user;
        Some(user.unrestricted() || super::acl::allows(user, args, index))
    }
}

/// Runs `target` with the keys and arguments of an EVAL-style command (`args[2]` is the
/// key count); writes the reply.
pub(super) fn run_script(call: &mut Call<'_>, args: Args<'_>, target: Target<'_>, ro: bool) {
    let Some(numkeys) = call.integer(args.get(2)) else {
        return;
    };
    let Some(params) = split_keys(call, args, numkeys) else {
        return;
    };
    run_exclusive(call, |scripting, host, w, threshold| {
        scripting.run(target, params, host, w, threshold, ro)
    });
}

/// KEYS and ARGV of an EVAL/FCALL-style command, or Redis's error for a bad key count.
pub(super) fn split_keys<'a>(
    call: &mut Call<'_>,
    args: Args<'a>,
    numkeys: i64,
) -> Option<Params<'a>> {
    if numkeys > args.len() as i64 - 3 {
        call.w
            .error(b"ERR Number of keys can't be greater than number of args");
        return None;
    }
    if numkeys < 0 {
        call.w.error(b"ERR Number of keys can't be negative");
        return None;
    }
    Some(Params {
        args,
        numkeys: numkeys as usize,
    })
}

thread_local! {
    static REPLY: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest reply buffer kept for the next script on the thread.
const REPLY_KEEP: usize = 64 << 10;

/// Runs a script or function inside an exclusive section of the gates, its commands on a
/// [`ScriptHost`] over this call; writes its reply or Redis's error.
pub(super) fn run_exclusive(
    call: &mut Call<'_>,
    run: impl FnOnce(&Scripting, &mut dyn Host, &mut Writer<'_>, u64) -> Result<(), RunError>,
) {
    let threshold = call.ctx.scripting.busy_threshold_ms();
    let ctx = call.ctx;
    let resp3 = call.w.resp3;
    let db = call.conn.db;
    // The reply goes to a buffer of its own (the script's commands write to the caller's
    // connection state meanwhile), reused from one run to the next on this thread.
    let mut reply = REPLY.with(|r| std::mem::take(&mut *r.borrow_mut()));
    reply.clear();
    let outcome = ctx.gates.exclusive(|_| {
        let mut host = ScriptHost {
            call: &mut *call,
            read_only: false,
        };
        let mut w = Writer {
            out: &mut reply,
            resp3,
        };
        run(&ctx.scripting, &mut host, &mut w, threshold)
    });
    call.conn.db = db;
    // Script clients gather on worker 0 (`server::gather`): sections run there back to back
    // and find the other workers' gates free rather than waiting for their turns.
    call.conn.home = Home::Exclusive(0);
    if outcome.is_ok() {
        call.w.out.extend_from_slice(&reply);
    }
    if reply.capacity() <= REPLY_KEEP {
        REPLY.with(|r| *r.borrow_mut() = reply);
    }
    match outcome {
        Ok(()) => {}
        Err(RunError::NoScript) => call
            .w
            .error(b"NOSCRIPT No matching script. Please use EVAL."),
        Err(RunError::Compile(msg)) => call.w.error_fmt(format_args!("ERR {msg}")),
        Err(RunError::WriteFlagOnRo) => call
            .w
            .error(b"ERR Can not execute a script with write flag using *_ro command."),
        Err(RunError::NoFunction) => call.w.error(b"ERR Function not found"),
    }
}

fn eval(call: &mut Call<'_>, args: Args<'_>) {
    run_script(call, args, Target::Body(args.get(1)), false);
}

fn evalsha(call: &mut Call<'_>, args: Args<'_>) {
    run_script(call, args, Target::Sha(args.get(1)), false);
}

fn eval_ro(call: &mut Call<'_>, args: Args<'_>) {
    run_script(call, args, Target::Body(args.get(1)), true);
}

fn evalsha_ro(call: &mut Call<'_>, args: Args<'_>) {
    run_script(call, args, Target::Sha(args.get(1)), true);
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

/// Writes a HELP reply: one status line each, as Redis's `addReplyHelp`.
pub(super) fn help(call: &mut Call<'_>, lines: &[&str]) {
    call.w.array(lines.len());
    for l in lines {
        call.w.simple(l.as_bytes());
    }
}

/// `ERR unknown subcommand 'x'. Try NAME HELP.`
pub(super) fn unknown_subcommand(call: &mut Call<'_>, name: &str, sub: &[u8]) {
    call.w.error_fmt(format_args!(
        "ERR unknown subcommand '{}'. Try {name} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)])
    ));
}

/// Replies to SCRIPT KILL / FUNCTION KILL.
pub(super) fn kill_reply(call: &mut Call<'_>, function: bool) {
    match call.ctx.scripting.run.kill(function) {
        Kill::Killed => call.w.ok(),
        Kill::NotBusy => call.w.error(b"NOTBUSY No scripts in execution right now."),
        Kill::Unkillable => call.w.error(
            b"UNKILLABLE Sorry the script already executed write commands against the \
dataset. You can either wait the script termination or kill the server in a hard way using \
the SHUTDOWN NOSAVE command.",
        ),
        Kill::WrongKind if function => call
            .w
            .error(b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."),
        Kill::WrongKind => call.w.error(BUSY_FUNCTION),
    }
}

fn script(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1).to_ascii_lowercase();
    let n = args.len();
    let arity_ok = match sub.as_slice() {
        b"load" => n == 3,
        b"exists" => n >= 3,
        b"flush" => n <= 3,
        b"kill" | b"help" => n == 2,
        b"debug" => n == 3,
        _ => true,
    };
    if !arity_ok {
        return call.wrong_arity(&format!("script|{}", String::from_utf8_lossy(&sub)));
    }
    match sub.as_slice() {
        b"load" => match call.ctx.scripting.load(args.get(2)) {
            Ok(sha) => call.w.bulk(&sha),
            Err(RunError::Compile(msg)) => call.w.error_fmt(format_args!("ERR {msg}")),
            Err(_) => call.w.error(b"ERR no script"),
        },
        b"exists" => {
            call.w.array(n - 2);
            for sha in args.iter_from(2) {
                let found = call.ctx.scripting.exists(sha);
                call.w.integer(i64::from(found));
            }
        }
        b"flush" => {
            let mode = (n == 3).then(|| args.get(2).to_ascii_lowercase());
            match mode.as_deref() {
                None | Some(b"sync") | Some(b"async") => {
                    call.ctx.scripting.flush();
                    call.w.ok();
                }
                Some(_) => call
                    .w
                    .error(b"ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
            }
        }
        b"kill" => kill_reply(call, false),
        b"debug" => call
            .w
            .error(b"ERR slabd has no Lua debugger (SCRIPT DEBUG)"),
        b"help" => help(call, SCRIPT_HELP),
        _ => unknown_subcommand(call, "SCRIPT", args.get(1)),
    }
}

/// Whether slabd's command number `index` is a container of subcommands (CLUSTER, ACL,
/// CLIENT, ...), whose subcommands may be `noscript` when the container is not (Redis 7.0
/// checks the subcommand's arity and flags).
fn is_container(index: usize) -> bool {
    static CONTAINERS: std::sync::OnceLock<Vec<bool>> = std::sync::OnceLock::new();
    let table = CONTAINERS.get_or_init(|| {
        registry()
            .specs()
            .iter()
            .map(|s| command_docs::container_head(s.name.as_bytes()).is_some())
            .collect()
    });
    table.get(index).copied().unwrap_or(false)
}
