//! `redis.call`, `redis.pcall` and the runner that sets a script's KEYS and ARGV, as raw
//! Lua C functions (the C API through `mlua::ffi`), as Redis's own are.
//!
//! Through mlua each of them cost a callback's crossing: every argument and result took a
//! slot of mlua's reference stack and a `Value`, an error travelled as a userdata, and
//! KEYS and ARGV were built from Rust one `raw_set` at a time. Here arguments are read
//! straight off the Lua stack into the bridge's reused buffers and the reply is pushed as
//! Lua values while it is parsed.
//!
//! **Errors.** `lua_error` unwinds with C's `longjmp`, which runs no Rust destructor: it
//! is called only from the outermost `extern "C-unwind"` functions below, whose frames
//! hold nothing to drop. Lua C API calls that allocate raise a memory error the same way;
//! they run with the Lua heap limit off (see [`super::heap_limit`]), so only the system
//! allocator's own failure could make them raise, as for every other allocation.
//!
//! **Upvalues.** Each function gets a light userdata pointing at the engine's
//! [`HostSlot`] as its first upvalue (the engine owns the slot through an `Arc` for as
//! long as it owns the Lua state); `redis.call` and `redis.pcall` need nothing else, the
//! runner also gets the real globals and the strings `"KEYS"` and `"ARGV"`.

use std::os::raw::{c_int, c_void};
use std::sync::Arc;

use mlua::{ffi, Function, Lua, Table};

use super::convert::write_command_number;
use super::slot::{Frame, HostSlot};
use crate::protocol::resp::Args;

/// Nesting of a command's reply past which deeper arrays become nil (no command replies
/// that deep; each level takes Lua stack slots).
const PARSE_DEPTH_MAX: usize = 64;

/// `redis.call` (`RAISE`) or `redis.pcall` as a Lua function.
pub fn call_function<const RAISE: bool>(lua: &Lua, slot: &Arc<HostSlot>) -> mlua::Result<Function> {
    let p = Arc::as_ptr(slot).cast_mut().cast::<c_void>();
    // SAFETY: `exec_raw` runs the closure in protected mode with an empty stack of its
    // own and returns what it leaves; pushing a light userdata and a C closure over it
    // needs two slots, within the LUA_MINSTACK a C function starts with.
    unsafe {
        lua.exec_raw::<Function>((), |state| {
            ffi::lua_pushlightuserdata(state, p);
            ffi::lua_pushcclosure(state, call::<RAISE>, 1);
        })
    }
}

/// The runner: `run(f, handler, function)` sets up the run's KEYS and ARGV (globals for a
/// script; the two arguments of `f` for a function, `function` true), calls `f` under
/// `handler` as `xpcall` does and returns `ok, value`.
///
/// A script's KEYS and ARGV are two tables kept from one run to the next (emptied first,
/// metatable included): making and collecting two tables was ~1.3k of an EVALSHA's ~21k
/// instructions, and a third of the garbage that brings a collection of the whole heap.
/// No script can tell: nothing it does to the sandbox outlives it (the globals and library
/// tables are read-only), so no reference to them survives the run. A function's are new
/// tables at each call, as its library's closures may keep them.
pub fn run_function(lua: &Lua, slot: &Arc<HostSlot>, globals: &Table) -> mlua::Result<Function> {
    let p = Arc::as_ptr(slot).cast_mut().cast::<c_void>();
    let (keys, argv) = (lua.create_string("KEYS")?, lua.create_string("ARGV")?);
    let kept = (lua.create_table()?, lua.create_table()?);
    // SAFETY: as in `call_function`: the five arguments are the stack, the userdata goes
    // below them (one more slot) and the closure takes all six as upvalues.
    unsafe {
        lua.exec_raw::<Function>((globals, keys, argv, kept.0, kept.1), |state| {
            ffi::lua_pushlightuserdata(state, p);
            ffi::lua_insert(state, 1);
            ffi::lua_pushcclosure(state, run, 6);
        })
    }
}

/// The slot named by the running C function's first upvalue.
///
/// # Safety
/// Only inside the C functions made above, whose first upvalue is the light userdata of
/// an `Arc<HostSlot>` the engine keeps alive as long as the Lua state.
unsafe fn slot_of<'s>(state: *mut ffi::lua_State) -> &'s HostSlot {
    &*ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<HostSlot>()
}

/// Pushes `{err = msg}`.
///
/// # Safety
/// `state` is a running C function's, with two free stack slots; allocates (limit off).
unsafe fn push_error(state: *mut ffi::lua_State, msg: &[u8]) {
    ffi::lua_createtable(state, 0, 1);
    push_bytes(state, b"err");
    push_bytes(state, msg);
    ffi::lua_rawset(state, -3);
}

/// # Safety
/// One free stack slot; allocates.
unsafe fn push_bytes(state: *mut ffi::lua_State, b: &[u8]) {
    ffi::lua_pushlstring_(state, b.as_ptr().cast(), b.len());
}

/// `redis.call` / `redis.pcall`: runs the command its arguments make and returns the
/// reply; a failed `redis.call` raises the reply's `{err = ...}` table, as Redis's does.
unsafe extern "C-unwind" fn call<const RAISE: bool>(state: *mut ffi::lua_State) -> c_int {
    // SAFETY (this function): Lua calls it with its arguments on its own stack and the
    // upvalue `call_function` gave it. `bridge` leaves exactly one value (the reply) on
    // top; this frame holds no value with a destructor when `lua_error` jumps out of it.
    let failed = bridge(state, slot_of(state));
    if failed && RAISE {
        ffi::lua_error(state);
    }
    1
}

/// Runs the command of the arguments on the stack through the run's host; pushes the
/// reply as a Lua value; whether it is an error reply.
///
/// # Safety
/// `state` is the stack of a call to `call`.
unsafe fn bridge(state: *mut ffi::lua_State, slot: &HostSlot) -> bool {
    let n = ffi::lua_gettop(state);
    if n == 0 {
        push_error(
            state,
            b"ERR Please specify at least one argument for this redis lib call",
        );
        return true;
    }
    // Inside `with` nothing may raise (a jump would skip the slot's restore guard): the
    // Lua heap limit is off wherever this closure allocates Lua values.
    let ran = slot.with(|frame| {
        if !command_args(state, n, frame) {
            return None;
        }
        let (lua, resp3) = (frame.lua, frame.resp3);
        let Frame { host, scratch, .. } = frame;
        scratch.out.clear();
        // Rust builds the reply's values; the heap limit is for Lua code.
        super::heap_limit(lua, false);
        let failed = match host.command(
            Args::new(&scratch.bytes, &scratch.ranges),
            resp3,
            &mut scratch.out,
        ) {
            Err(msg) => {
                push_error(state, msg.as_bytes());
                true
            }
            Ok(()) => {
                parse(state, &scratch.out, resp3, 0);
                scratch.out.first() == Some(&b'-')
            }
        };
        super::heap_limit(lua, true);
        Some(failed)
    });
    match ran {
        Some(Some(failed)) => failed,
        Some(None) => {
            push_error(
                state,
                b"ERR Lua redis lib command arguments must be strings or integers",
            );
            true
        }
        None => {
            push_error(
                state,
                b"ERR redis.call/pcall can only be called inside a script invocation",
            );
            true
        }
    }
}

/// Copies arguments 1..=n into the frame's buffers (numbers as Redis 7.0 prints them);
/// false when one is neither a string nor a number.
///
/// # Safety
/// Indexes 1..=n are valid on `state`.
unsafe fn command_args(state: *mut ffi::lua_State, n: c_int, frame: &mut Frame<'_>) -> bool {
    let (bytes, ranges) = (&mut frame.scratch.bytes, &mut frame.scratch.ranges);
    bytes.clear();
    ranges.clear();
    for i in 1..=n {
        let start = bytes.len();
        match ffi::lua_type(state, i) {
            ffi::LUA_TNUMBER => write_command_number(bytes, ffi::lua_tonumber(state, i)),
            ffi::LUA_TSTRING => {
                let mut len = 0;
                let p = ffi::lua_tolstring(state, i, &mut len);
                // SAFETY: a string value's bytes, alive while it is on the stack.
                bytes.extend_from_slice(std::slice::from_raw_parts(p.cast::<u8>(), len));
            }
            _ => return false,
        }
        ranges.push((start, bytes.len()));
    }
    true
}

/// A line's number (a length or an integer reply), 0 when it is none.
fn line_number(line: &[u8]) -> i64 {
    std::str::from_utf8(line)
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
}

/// Pushes `{key = <value on top>}` in place of the value on top.
///
/// # Safety
/// A value on top and two more free slots.
unsafe fn wrap(state: *mut ffi::lua_State, key: &[u8]) {
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_insert(state, -2);
    push_bytes(state, key);
    ffi::lua_insert(state, -2);
    ffi::lua_rawset(state, -3);
}

/// Pushes the RESP reply at the start of `b` as a Lua value (Redis's conversion rules,
/// see `convert`); the bytes it used.
///
/// # Safety
/// Three free stack slots (each nested level checks for its own).
unsafe fn parse(state: *mut ffi::lua_State, b: &[u8], resp3: bool, depth: usize) -> usize {
    let nl = b.windows(2).position(|w| w == b"\r\n").unwrap_or(b.len());
    let line = &b[1.min(b.len())..nl];
    let mut used = (nl + 2).min(b.len());
    let null = |state| {
        if resp3 {
            ffi::lua_pushnil(state)
        } else {
            ffi::lua_pushboolean(state, 0)
        }
    };
    match b.first().copied() {
        Some(b'+') => {
            push_bytes(state, line);
            wrap(state, b"ok");
        }
        Some(b'-') => {
            push_bytes(state, line);
            wrap(state, b"err");
        }
        Some(b':') => ffi::lua_pushnumber(state, line_number(line) as f64),
        Some(b'$' | b'=') if line_number(line) < 0 => null(state),
        Some(kind @ (b'$' | b'=')) => {
            let len = line_number(line) as usize;
            let body = b.get(used..used.saturating_add(len)).unwrap_or(&[]);
            used = used.saturating_add(len).saturating_add(2).min(b.len());
            if kind == b'=' && body.len() >= 4 {
                ffi::lua_createtable(state, 0, 2);
                push_bytes(state, b"format");
                push_bytes(state, &body[..3]);
                ffi::lua_rawset(state, -3);
                push_bytes(state, b"string");
                push_bytes(state, &body[4..]);
                ffi::lua_rawset(state, -3);
                wrap(state, b"verbatim_string");
            } else {
                push_bytes(state, body);
            }
        }
        Some(b'*' | b'>') if line_number(line) < 0 => ffi::lua_pushboolean(state, 0),
        Some(kind @ (b'*' | b'>' | b'%' | b'~')) => {
            let n = line_number(line).max(0) as usize;
            let pairs = kind == b'%' || kind == b'~';
            if depth >= PARSE_DEPTH_MAX || ffi::lua_checkstack(state, 4) == 0 {
                ffi::lua_pushnil(state);
                return b.len();
            }
            let narr = if pairs { 0 } else { n.min(1 << 16) as c_int };
            ffi::lua_createtable(state, narr, 0);
            for i in 1..=n {
                used += parse(state, &b[used..], resp3, depth + 1);
                if !pairs {
                    ffi::lua_rawseti_(state, -2, i.min(c_int::MAX as usize) as c_int);
                    continue;
                }
                if kind == b'%' {
                    used += parse(state, &b[used..], resp3, depth + 1);
                } else {
                    ffi::lua_pushboolean(state, 1);
                }
                // A nil key (a RESP3 null) cannot index a table: the pair is left out.
                if ffi::lua_type(state, -2) == ffi::LUA_TNIL {
                    ffi::lua_pop(state, 2);
                } else {
                    ffi::lua_rawset(state, -3);
                }
            }
            if pairs {
                wrap(state, if kind == b'%' { b"map" } else { b"set" });
            }
        }
        Some(b'_') => ffi::lua_pushnil(state),
        Some(b'#') => ffi::lua_pushboolean(state, c_int::from(line == b"t")),
        Some(b',') => {
            let d = std::str::from_utf8(line)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .unwrap_or(0.0);
            ffi::lua_pushnumber(state, d);
            wrap(state, b"double");
        }
        Some(b'(') => {
            push_bytes(state, line);
            wrap(state, b"big_number");
        }
        _ => ffi::lua_pushnil(state),
    }
    used
}

/// The runner (see [`run_function`]). Upvalues: the slot, the real globals, `"KEYS"`,
/// `"ARGV"`, and the tables a script's KEYS and ARGV reuse.
unsafe extern "C-unwind" fn run(state: *mut ffi::lua_State) -> c_int {
    // SAFETY (this function): called by `Engine::invoke` through mlua with `f`, the
    // handler and a boolean, and the upvalues `run_function` gave it; uses at most 10
    // stack slots (LUA_MINSTACK is 20). Nothing here raises but the called function,
    // which `lua_pcall` catches; `params` runs with the heap limit off.
    let function = ffi::lua_toboolean(state, 3) != 0;
    ffi::lua_settop(state, 2);
    if !params(state, slot_of(state), !function) {
        ffi::lua_pushboolean(state, 0);
        push_error(state, b"ERR no script is running");
        return 2;
    }
    // Stack: f, handler, KEYS, ARGV.
    let globals = ffi::lua_upvalueindex(2);
    let nargs = if function {
        ffi::lua_pushvalue(state, 1);
        ffi::lua_insert(state, 3);
        2
    } else {
        for (name, at) in [(3, 3), (4, 4)] {
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(name));
            ffi::lua_pushvalue(state, at);
            ffi::lua_rawset(state, globals);
        }
        ffi::lua_settop(state, 2);
        ffi::lua_pushvalue(state, 1);
        0
    };
    let status = ffi::lua_pcall(state, nargs, 1, 2);
    if !function {
        for name in [3, 4] {
            ffi::lua_pushvalue(state, ffi::lua_upvalueindex(name));
            ffi::lua_pushnil(state);
            ffi::lua_rawset(state, globals);
        }
    }
    ffi::lua_pushboolean(state, c_int::from(status == 0));
    ffi::lua_insert(state, -2);
    2
}

/// Pushes the run's KEYS and ARGV as two arrays of strings (`reuse`: in the runner's kept
/// tables); false when no run is in progress.
///
/// # Safety
/// `state` is the runner's, with four free slots.
unsafe fn params(state: *mut ffi::lua_State, slot: &HostSlot, reuse: bool) -> bool {
    slot.with(|frame| {
        let Some(p) = frame.params else {
            return false;
        };
        // Built with the limit off, as the command's arguments they copy are already in
        // memory: a script given more than the limit fails at its own first allocation.
        super::heap_limit(frame.lua, false);
        if reuse {
            push_kept(state, 5, p.keys(), p.numkeys);
            push_kept(state, 6, p.argv(), p.argc());
        } else {
            push_array(state, p.keys(), p.numkeys);
            push_array(state, p.argv(), p.argc());
        }
        super::heap_limit(frame.lua, true);
        true
    })
    .unwrap_or(false)
}

/// Pushes `items` (`n` of them) as an array of strings.
///
/// # Safety
/// One free slot beyond the table's own; allocates (limit off).
unsafe fn push_array<'a>(
    state: *mut ffi::lua_State,
    items: impl Iterator<Item = &'a [u8]>,
    n: usize,
) {
    ffi::lua_createtable(state, n.min(1 << 20) as c_int, 0);
    for (i, item) in items.enumerate() {
        push_bytes(state, item);
        ffi::lua_rawseti_(state, -2, (i + 1).min(c_int::MAX as usize) as c_int);
    }
}

/// Most entries a kept table may hold to be emptied and reused (past it, a new one).
const KEPT_MAX: usize = 64;

/// Pushes the runner's kept table in upvalue `up`, emptied and filled with `items`; a new
/// table (kept in its place) when it had more than [`KEPT_MAX`] entries or `n` is larger.
///
/// # Safety
/// The runner's state, with four free slots; allocates (limit off).
unsafe fn push_kept<'a>(
    state: *mut ffi::lua_State,
    up: c_int,
    items: impl Iterator<Item = &'a [u8]>,
    n: usize,
) {
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(up));
    let t = ffi::lua_gettop(state);
    if n > KEPT_MAX || !empty(state, t) {
        ffi::lua_pop(state, 1);
        push_array(state, items, n);
        ffi::lua_pushvalue(state, -1);
        ffi::lua_replace(state, ffi::lua_upvalueindex(up));
        return;
    }
    for (i, item) in items.enumerate() {
        push_bytes(state, item);
        ffi::lua_rawseti_(state, t, (i + 1) as c_int);
    }
}

/// Removes every entry of the table at `t` and its metatable; false (the table half
/// emptied) when it holds more than [`KEPT_MAX`] entries.
///
/// # Safety
/// A table at `t` and three free slots.
unsafe fn empty(state: *mut ffi::lua_State, t: c_int) -> bool {
    if ffi::lua_getmetatable(state, t) != 0 {
        ffi::lua_pop(state, 1);
        ffi::lua_pushnil(state);
        ffi::lua_setmetatable(state, t);
    }
    let mut seen = 0;
    ffi::lua_pushnil(state);
    // Assigning nil to the key just visited is allowed during a traversal.
    while ffi::lua_next(state, t) != 0 {
        seen += 1;
        if seen > KEPT_MAX {
            ffi::lua_pop(state, 2);
            return false;
        }
        ffi::lua_pop(state, 1);
        ffi::lua_pushvalue(state, -1);
        ffi::lua_pushnil(state);
        ffi::lua_rawset(state, t);
    }
    true
}
