//! Redis 7 functions: FUNCTION (LOAD, LIST, DELETE, FLUSH, DUMP, RESTORE, STATS, KILL,
//! HELP), FCALL and FCALL_RO. The libraries live in [`crate::scripting::functions`]; a
//! function runs as a script does (an exclusive section of the atomicity gate, its
//! `redis.call`s on a [`super::scripting::ScriptHost`]).

use super::registry::{spec, Spec};
use super::scripting::{help, kill_reply, run_exclusive, split_keys, unknown_subcommand};
use super::Call;
use crate::protocol::resp::{parse_i64, Args};
use crate::scripting::functions::{ENGINE, FLAG_NAMES};
use crate::scripting::RestorePolicy;

#[rustfmt::skip]
pub(super) static COMMANDS: &[Spec] = &[
    spec!("function", -2, [], (0, 0, 0), "scripting", "7.0.0",
        "A container for function commands", function),
    spec!("fcall", -3, ["noscript", "skip_monitor", "may_replicate", "no_mandatory_keys",
        "stale", "movablekeys"], (0, 0, 0), "scripting", "7.0.0", "Invoke a function", fcall),
    spec!("fcall_ro", -3, ["noscript", "skip_monitor", "no_mandatory_keys", "stale",
        "readonly", "movablekeys"], (0, 0, 0), "scripting", "7.0.0",
        "Invoke a read-only function", fcall_ro),
];

fn fcall(call: &mut Call<'_>, args: Args<'_>) {
    fcall_generic(call, args, false);
}

fn fcall_ro(call: &mut Call<'_>, args: Args<'_>) {
    fcall_generic(call, args, true);
}

/// FCALL / FCALL_RO: checks in Redis's order (function, key count, flags), then runs.
fn fcall_generic(call: &mut Call<'_>, args: Args<'_>, ro: bool) {
    let name = args.get(1);
    if call.ctx.scripting.function_flags(name).is_none() {
        return call.w.error(b"ERR Function not found");
    }
    let Some(numkeys) = parse_i64(args.get(2)) else {
        return call.w.error(b"ERR Bad number of keys provided");
    };
    let Some(params) = split_keys(call, args, numkeys) else {
        return;
    };
    run_exclusive(call, |scripting, host, w, threshold| {
        scripting.call_function(name, params, host, w, threshold, ro)
    });
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

/// While a function is busy, the FUNCTION subcommands others may still run.
pub(super) fn allowed_when_busy(args: Args<'_>) -> bool {
    args.len() == 2 && {
        let sub = args.get(1);
        sub.eq_ignore_ascii_case(b"kill") || sub.eq_ignore_ascii_case(b"stats")
    }
}

fn function(call: &mut Call<'_>, args: Args<'_>) {
    let sub = args.get(1).to_ascii_lowercase();
    let n = args.len();
    let arity_ok = match sub.as_slice() {
        b"load" | b"restore" => n >= 3,
        b"delete" => n == 3,
        b"list" | b"flush" => n >= 2,
        b"dump" | b"stats" | b"kill" | b"help" => n == 2,
        _ => true,
    };
    if !arity_ok {
        return call.wrong_arity(&format!("function|{}", String::from_utf8_lossy(&sub)));
    }
    match sub.as_slice() {
        b"load" => load(call, args),
        b"list" => list(call, args),
        b"delete" => {
            if call.ctx.scripting.function_delete(args.get(2)) {
                call.w.ok();
            } else {
                call.w.error(b"ERR Library not found");
            }
        }
        b"flush" => {
            let mode = (n == 3).then(|| args.get(2).to_ascii_lowercase());
            match mode.as_deref() {
                _ if n > 3 => syntax_error(call, args.get(1)),
                None | Some(b"sync") | Some(b"async") => {
                    call.ctx.scripting.function_flush();
                    call.w.ok();
                }
                Some(_) => call
                    .w
                    .error(b"ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
            }
        }
        b"dump" => {
            let payload = call.ctx.scripting.function_dump();
            call.w.bulk(&payload);
        }
        b"restore" => restore(call, args),
        b"stats" => stats(call),
        b"kill" => kill_reply(call, true),
        b"help" => help(call, FUNCTION_HELP),
        _ => unknown_subcommand(call, "FUNCTION", args.get(1)),
    }
}

/// `ERR unknown subcommand or wrong number of arguments for 'x'. Try FUNCTION HELP.`
fn syntax_error(call: &mut Call<'_>, sub: &[u8]) {
    call.w.error_fmt(format_args!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)])
    ));
}

/// FUNCTION LOAD [REPLACE] <code>
fn load(call: &mut Call<'_>, args: Args<'_>) {
    let mut replace = false;
    let last = args.len() - 1;
    for opt in (2..last).map(|i| args.get(i)) {
        if opt.eq_ignore_ascii_case(b"replace") {
            replace = true;
        } else {
            return call.w.error_fmt(format_args!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(opt)
            ));
        }
    }
    match call.ctx.scripting.function_load(args.get(last), replace) {
        Ok(name) => call.w.bulk(name.as_bytes()),
        Err(e) => call.w.error_fmt(format_args!("ERR {e}")),
    }
}

/// FUNCTION RESTORE <payload> [FLUSH|APPEND|REPLACE]
fn restore(call: &mut Call<'_>, args: Args<'_>) {
    if args.len() > 4 {
        return syntax_error(call, args.get(1));
    }
    let policy = if args.len() == 4 {
        match args.get(3).to_ascii_lowercase().as_slice() {
            b"append" => RestorePolicy::Append,
            b"replace" => RestorePolicy::Replace,
            b"flush" => RestorePolicy::Flush,
            _ => return call.w.error(
                b"ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        }
    } else {
        RestorePolicy::Append
    };
    match call.ctx.scripting.function_restore(args.get(2), policy) {
        Ok(()) => call.w.ok(),
        Err(e) => call.w.error_fmt(format_args!("ERR {e}")),
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
fn list(call: &mut Call<'_>, args: Args<'_>) {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < args.len() {
        let a = args.get(i);
        if !with_code && a.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
        } else if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
            if i + 1 >= args.len() {
                return call.w.error(b"ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(args.get(i));
        } else {
            return call.w.error_fmt(format_args!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            ));
        }
        i += 1;
    }
    let w = &mut call.w;
    call.ctx.scripting.with_libraries(|libs| {
        let matches =
            |name: &str| pattern.map_or(true, |p| super::glob::matches(p, name.as_bytes(), false));
        let shown: Vec<_> = libs.iter().filter(|l| matches(&l.name)).collect();
        w.array(shown.len());
        for lib in shown {
            w.map(if with_code { 4 } else { 3 });
            w.bulk(b"library_name");
            w.bulk(lib.name.as_bytes());
            w.bulk(b"engine");
            w.bulk(ENGINE.as_bytes());
            w.bulk(b"functions");
            w.array(lib.functions.len());
            for f in &lib.functions {
                w.map(3);
                w.bulk(b"name");
                w.bulk(f.name.as_bytes());
                w.bulk(b"description");
                match &f.desc {
                    Some(d) => w.bulk(d),
                    None => w.null(),
                }
                w.bulk(b"flags");
                let flags: Vec<&str> = FLAG_NAMES
                    .iter()
                    .filter(|(bit, _)| f.flags & bit != 0)
                    .map(|(_, name)| *name)
                    .collect();
                w.set(flags.len());
                for flag in flags {
                    w.simple(flag.as_bytes());
                }
            }
            if with_code {
                w.bulk(b"library_code");
                w.bulk(&lib.code);
            }
        }
    });
}

/// FUNCTION STATS: the running function and the engine's counts.
fn stats(call: &mut Call<'_>) {
    let run = &call.ctx.scripting.run;
    if run.is_running() && !run.is_function() {
        return call.w.error(
            b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
        );
    }
    let w = &mut call.w;
    w.map(2);
    w.bulk(b"running_script");
    match run.running_function() {
        None => w.null(),
        Some(f) => {
            w.map(3);
            w.bulk(b"name");
            w.bulk(f.name.as_bytes());
            w.bulk(b"command");
            w.array(f.command.len());
            for a in &f.command {
                w.bulk(a);
            }
            w.bulk(b"duration_ms");
            w.integer(f.duration_ms as i64);
        }
    }
    w.bulk(b"engines");
    w.map(1);
    w.bulk(ENGINE.as_bytes());
    w.map(2);
    let (libraries, functions) = run.function_counts();
    w.bulk(b"libraries_count");
    w.integer(libraries as i64);
    w.bulk(b"functions_count");
    w.integer(functions as i64);
}
