//! `redis.sha1hex` and `redis.setresp` as Redis 7.0 has them: raw Lua C functions
//! (`luaRedisSha1hexCommand`, `luaSetResp`). A C function keeps its caller's frame even in
//! `return redis.setresp(4)` (a tail call), so the script's error names the script's line
//! (`on @user_script:1`), as Redis's does; Lua functions in the prelude lost it. Their
//! errors are Redis's error tables (`{err = "ERR wrong number of arguments"}`), raised.
//!
//! **Errors.** `lua_error` unwinds with `longjmp`; no frame here holds a value with a
//! destructor when it may raise (the digest is computed in an inner block first).

use std::ffi::CStr;
use std::os::raw::c_int;

use mlua::{ffi, Function, Lua, Result};

/// Raises Redis's error table `{err = msg}`.
///
/// # Safety
/// `state` is a running C function's with two free stack slots.
unsafe fn raise(state: *mut ffi::lua_State, msg: &CStr) -> c_int {
    ffi::lua_createtable(state, 0, 1);
    ffi::lua_pushstring_(state, msg.as_ptr());
    ffi::lua_setfield(state, -2, c"err".as_ptr());
    ffi::lua_error(state)
}

// SAFETY (both functions): Lua calls them with their arguments on their own stack and at
// least LUA_MINSTACK free slots; `setresp` has the upvalue `functions` gave it.

/// `redis.sha1hex(s)`: the SHA-1 of `s` as Lua converts it to a string (a number too;
/// anything else hashes as "").
unsafe extern "C-unwind" fn sha1hex(state: *mut ffi::lua_State) -> c_int {
    if ffi::lua_gettop(state) != 1 {
        return raise(state, c"ERR wrong number of arguments");
    }
    let mut len = 0usize;
    let p = ffi::lua_tolstring(state, 1, &mut len);
    let digest = {
        let bytes: &[u8] = if p.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(p.cast::<u8>(), len)
        };
        super::sha1::sha1_hex(bytes)
    };
    ffi::lua_pushlstring_(state, digest.as_ptr().cast(), digest.len());
    1
}

/// `redis.setresp(n)`: `n` read as `(int)lua_tonumber` (so "3" and 2.5 are taken), then
/// handed to the Rust helper in the first upvalue.
unsafe extern "C-unwind" fn setresp(state: *mut ffi::lua_State) -> c_int {
    let argc = ffi::lua_gettop(state);
    if argc != 1 {
        return raise(state, c"ERR redis.setresp() requires one argument.");
    }
    let n = ffi::lua_tonumber(state, 1);
    // C's (int) cast: truncation; NaN and out-of-range values are not 2 or 3 either way.
    let resp = if n.is_nan() { 0.0 } else { n.trunc() };
    if resp != 2.0 && resp != 3.0 {
        return raise(state, c"ERR RESP version must be 2 or 3.");
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_pushinteger(state, resp as ffi::lua_Integer);
    ffi::lua_call(state, 1, 0);
    0
}

/// `(sha1hex, setresp)`; `apply` sets the running script's RESP version (2 or 3).
pub fn functions(lua: &Lua, apply: Function) -> Result<(Function, Function)> {
    // SAFETY: `exec_raw` runs each closure in protected mode; the first pushes a C
    // function, the second makes `apply` (its only stack value) the closure's upvalue.
    unsafe {
        let sha1hex = lua.exec_raw::<Function>((), |state| {
            ffi::lua_pushcfunction(state, sha1hex);
        })?;
        let setresp = lua.exec_raw::<Function>(apply, |state| {
            ffi::lua_pushcclosure(state, setresp, 1);
        })?;
        Ok((sha1hex, setresp))
    }
}
