//! The sandbox's base functions that must see read-only tables for what they are: `rawset`,
//! `setmetatable`, `rawget`, `getmetatable`, `next` and `pairs`, as raw Lua C functions (the C API through
//! `mlua::ffi`).
//!
//! Stock Lua 5.1 has no read-only tables, so the sandbox shows scripts empty proxies (the
//! prelude's `readonly` views, the environment) whose metatables forward reads. Redis 7.0
//! marks the tables themselves read-only, so its `pairs(redis)` lists the library,
//! `getmetatable(redis)` is nil and `rawset(redis, k, v)` fails with a bare `Attempt to modify a readonly table`. These
//! functions take the prelude's `protected` table as their first upvalue: a proxy maps to
//! the table it shows (reads go through to it), any other protected table to `true`
//! (writes fail, reads see the table itself).
//!
//! Why C functions rather than Lua wrappers: a Lua wrapper is a frame of its own, so its
//! `error` names the prelude or, after a script's `return rawset(...)` (a tail call that
//! replaces the script's frame), no line at all; a C function, as Redis's are, keeps the
//! caller's frame and raises with Lua's own messages.
//!
//! **Errors.** `lua_error` (inside `luaL_error`, `luaL_checktype`) unwinds with C's
//! `longjmp`: these functions hold no Rust value with a destructor anywhere.

use std::os::raw::c_int;

use mlua::{ffi, Function, Lua, Table};

const READONLY: &[u8] = b"Attempt to modify a readonly table\0";

/// The six functions, by their global names, each a C closure over `protected` (`pairs`
/// also over the `next` made here, which it returns as Lua's does).
pub fn functions(lua: &Lua, protected: &Table) -> mlua::Result<Vec<(&'static str, Function)>> {
    let one = |f: ffi::lua_CFunction| -> mlua::Result<Function> {
        // SAFETY: `exec_raw` runs the closure in protected mode with `protected` as its
        // only stack value and returns what the closure leaves on top; the closure over
        // one upvalue pops it and pushes the function.
        unsafe {
            lua.exec_raw::<Function>(protected, |state| {
                ffi::lua_pushcclosure(state, f, 1);
            })
        }
    };
    let next = one(sandbox_next)?;
    // SAFETY: as above, with `protected` and `next` as the two upvalues.
    let pairs = unsafe {
        lua.exec_raw::<Function>((protected, &next), |state| {
            ffi::lua_pushcclosure(state, sandbox_pairs, 2);
        })?
    };
    Ok(vec![
        ("rawset", one(sandbox_rawset)?),
        ("setmetatable", one(sandbox_setmetatable)?),
        ("rawget", one(sandbox_rawget)?),
        ("getmetatable", one(sandbox_getmetatable)?),
        ("next", next),
        ("pairs", pairs),
    ])
}

/// `load` as a C function in front of the prelude's Lua one (`imp`): Lua's own check of the
/// reader argument, raised at the script's line even after a tail call.
pub fn load_front(lua: &Lua, imp: &Function) -> mlua::Result<Function> {
    // SAFETY: as in `functions`, with `imp` the one upvalue.
    unsafe {
        lua.exec_raw::<Function>(imp, |state| {
            ffi::lua_pushcclosure(state, sandbox_load, 1);
        })
    }
}

unsafe extern "C-unwind" fn sandbox_load(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TFUNCTION);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, ffi::lua_gettop(state) - 1, ffi::LUA_MULTRET);
    ffi::lua_gettop(state)
}

/// Pushes `protected[value at idx]` (nil for a table not protected).
///
/// # Safety
/// Inside the C functions above (first upvalue `protected`), one free stack slot.
unsafe fn push_protection(state: *mut ffi::lua_State, idx: c_int) {
    ffi::lua_pushvalue(state, idx);
    ffi::lua_rawget(state, ffi::lua_upvalueindex(1));
}

/// Replaces the table at `idx` (absolute) by the table it is a proxy of, if it is one.
///
/// # Safety
/// As [`push_protection`].
unsafe fn see_through(state: *mut ffi::lua_State, idx: c_int) {
    push_protection(state, idx);
    if ffi::lua_type(state, -1) == ffi::LUA_TTABLE {
        ffi::lua_replace(state, idx);
    } else {
        ffi::lua_pop(state, 1);
    }
}

/// Raises `Attempt to modify a readonly table` if the table at 1 is protected.
///
/// # Safety
/// As [`push_protection`].
unsafe fn refuse_protected(state: *mut ffi::lua_State) {
    push_protection(state, 1);
    let protected = ffi::lua_toboolean(state, -1) != 0;
    ffi::lua_pop(state, 1);
    if protected {
        // As Redis's check inside the Lua core: the message alone, no position.
        ffi::lua_pushlstring_(state, READONLY.as_ptr().cast(), READONLY.len() - 1);
        ffi::lua_error(state);
    }
}

/// `rawset(t, k, v)`, refusing protected tables.
unsafe extern "C-unwind" fn sandbox_rawset(state: *mut ffi::lua_State) -> c_int {
    // SAFETY (these functions): Lua calls them with their arguments on their own stack,
    // at least LUA_MINSTACK free slots and the upvalues `functions` gave them.
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(state, 2);
    ffi::luaL_checkany(state, 3);
    refuse_protected(state);
    ffi::lua_settop(state, 3);
    ffi::lua_rawset(state, 1);
    1
}

/// `setmetatable(t, mt)`, refusing protected tables (before the protected-metatable
/// check: the proxies' metatables are protected, Redis's read-only tables need not be).
unsafe extern "C-unwind" fn sandbox_setmetatable(state: *mut ffi::lua_State) -> c_int {
    let t = ffi::lua_type(state, 2);
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    if t != ffi::LUA_TNIL && t != ffi::LUA_TTABLE {
        ffi::luaL_argerror(state, 2, c"nil or table expected".as_ptr());
    }
    refuse_protected(state);
    if ffi::luaL_getmetafield_(state, 1, c"__metatable".as_ptr()) != 0 {
        ffi::luaL_error(state, c"cannot change a protected metatable".as_ptr());
    }
    ffi::lua_settop(state, 2);
    ffi::lua_setmetatable(state, 1);
    1
}

/// `rawget(t, k)`, reading a proxy's table.
unsafe extern "C-unwind" fn sandbox_rawget(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::luaL_checkany(state, 2);
    ffi::lua_settop(state, 2);
    see_through(state, 1);
    ffi::lua_rawget(state, 1);
    1
}

/// `getmetatable(v)`, of the table behind a proxy (the library tables have none; the
/// globals' shows what the environment's does).
unsafe extern "C-unwind" fn sandbox_getmetatable(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checkany(state, 1);
    ffi::lua_settop(state, 1);
    if ffi::lua_type(state, 1) == ffi::LUA_TTABLE {
        see_through(state, 1);
    }
    if ffi::lua_getmetatable(state, 1) == 0 {
        ffi::lua_pushnil(state);
        return 1;
    }
    // Pushes the `__metatable` field above the metatable if there is one.
    ffi::luaL_getmetafield_(state, 1, c"__metatable".as_ptr());
    1
}

/// `next(t, k)`, walking a proxy's table.
unsafe extern "C-unwind" fn sandbox_next(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::lua_settop(state, 2);
    see_through(state, 1);
    if ffi::lua_next(state, 1) != 0 {
        2
    } else {
        ffi::lua_pushnil(state);
        1
    }
}

/// `pairs(t)`: `next, t, nil` with the `next` above (the proxy itself is what the script
/// gets back, never the table behind it).
unsafe extern "C-unwind" fn sandbox_pairs(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(2));
    ffi::lua_pushvalue(state, 1);
    ffi::lua_pushnil(state);
    3
}
