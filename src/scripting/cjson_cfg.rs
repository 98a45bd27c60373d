//! `cjson`'s settings and their functions (`encode_max_depth`, `encode_number_precision`,
//! `encode_sparse_array`, `encode_invalid_numbers`, ...), as lua-cjson 2.1 has them in
//! Redis 7.0: raw Lua C functions, so that a bad argument raises lua-cjson's own error
//! with Lua's position and function name (`bad argument #1 to 'encode_max_depth'
//! (expected integer between 1 and 2147483647)`, `'?'` when called through `pcall`), and
//! integers, options and booleans are read as `luaL_checkinteger` / `luaL_checkoption`
//! read them.
//!
//! **Errors.** `luaL_argerror` and `luaL_checkoption` unwind with `longjmp`; no frame here
//! holds a value with a destructor (the message is built in a stack array).

use std::ffi::{c_char, CStr};
use std::io::Write;
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};

use mlua::{ffi, Function, Lua, Result, Table};

/// Nesting allowed by default, and at most (each level holds Lua values in Rust: mlua's
/// reference stack is bounded).
pub(super) const MAX_DEPTH: i32 = 1000;

/// One module's settings (each `cjson.new()` has its own), with lua-cjson's defaults.
pub(super) struct Config {
    encode_max_depth: AtomicI32,
    decode_max_depth: AtomicI32,
    /// 0 off (an error), 1 on (`inf`, `nan`), 2 `null`.
    encode_invalid_numbers: AtomicI32,
    decode_invalid_numbers: AtomicI32,
    encode_keep_buffer: AtomicI32,
    encode_number_precision: AtomicI32,
    sparse_convert: AtomicI32,
    sparse_ratio: AtomicI32,
    sparse_safe: AtomicI32,
}

/// How a NaN or an infinity is encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Invalid {
    Refuse,
    Print,
    Null,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            encode_max_depth: AtomicI32::new(MAX_DEPTH),
            decode_max_depth: AtomicI32::new(MAX_DEPTH),
            encode_invalid_numbers: AtomicI32::new(0),
            decode_invalid_numbers: AtomicI32::new(1),
            encode_keep_buffer: AtomicI32::new(1),
            encode_number_precision: AtomicI32::new(14),
            sparse_convert: AtomicI32::new(0),
            sparse_ratio: AtomicI32::new(2),
            sparse_safe: AtomicI32::new(10),
        }
    }
}

fn get(a: &AtomicI32) -> i32 {
    a.load(Ordering::Relaxed)
}

impl Config {
    /// Nesting allowed when encoding, capped at [`MAX_DEPTH`].
    pub(super) fn encode_max_depth(&self) -> usize {
        get(&self.encode_max_depth).clamp(1, MAX_DEPTH) as usize
    }

    /// Nesting allowed when decoding, capped at [`MAX_DEPTH`].
    pub(super) fn decode_max_depth(&self) -> usize {
        get(&self.decode_max_depth).clamp(1, MAX_DEPTH) as usize
    }

    pub(super) fn invalid_numbers(&self) -> Invalid {
        match get(&self.encode_invalid_numbers) {
            0 => Invalid::Refuse,
            1 => Invalid::Print,
            _ => Invalid::Null,
        }
    }

    /// Whether `decode` takes `inf`, `nan`, hexadecimal numbers, `+1` and leading zeros.
    pub(super) fn decode_invalid_numbers(&self) -> bool {
        get(&self.decode_invalid_numbers) != 0
    }

    /// Significant digits (`%.Ng`), 1 to 14.
    pub(super) fn precision(&self) -> usize {
        get(&self.encode_number_precision).clamp(1, 14) as usize
    }

    /// lua-cjson's sparse-array rule for a table whose keys are the positive integers
    /// up to `max`, `items` of them: `Ok(true)` an array, `Ok(false)` an object, `Err` the
    /// "excessively sparse array" error.
    pub(super) fn sparse(&self, max: i32, items: i64) -> std::result::Result<bool, ()> {
        let ratio = i64::from(get(&self.sparse_ratio));
        if ratio > 0 && i64::from(max) > items * ratio && max > get(&self.sparse_safe) {
            return if get(&self.sparse_convert) != 0 {
                Ok(false)
            } else {
                Err(())
            };
        }
        Ok(true)
    }
}

/// `json_arg_init`: at most `n` arguments, padded with nils; the module's settings.
///
/// # Safety
/// `state` is a running C function's whose first upvalue is a light userdata pointing
/// at a live [`Config`].
unsafe fn arg_init<'a>(state: *mut ffi::lua_State, n: c_int) -> &'a Config {
    if ffi::lua_gettop(state) > n {
        ffi::luaL_argerror(state, n + 1, c"found too many arguments".as_ptr());
    }
    while ffi::lua_gettop(state) < n {
        ffi::lua_pushnil(state);
    }
    &*ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)).cast::<Config>()
}

/// `json_integer_option`: sets `setting` from argument `idx` unless it is nil (lua-cjson
/// names argument 1 in the range error whatever `idx` is), then pushes it.
///
/// # Safety
/// As [`arg_init`]; one free stack slot.
unsafe fn integer_option(
    state: *mut ffi::lua_State,
    idx: c_int,
    setting: &AtomicI32,
    min: i32,
    max: i32,
) {
    if ffi::lua_isnil(state, idx) == 0 {
        // lua-cjson stores the lua_Integer in a C int.
        let value = ffi::luaL_checkinteger(state, idx) as i32;
        if !(min..=max).contains(&value) {
            let mut msg = [0u8; 64];
            let mut w = &mut msg[..63];
            let _ = write!(w, "expected integer between {min} and {max}");
            ffi::luaL_argerror(state, 1, msg.as_ptr().cast());
        }
        setting.store(value, Ordering::Relaxed);
    }
    ffi::lua_pushinteger(state, get(setting) as ffi::lua_Integer);
}

const BOOL_OPTIONS: [*const c_char; 3] = [c"off".as_ptr(), c"on".as_ptr(), std::ptr::null()];
const INVALID_OPTIONS: [*const c_char; 4] = [
    c"off".as_ptr(),
    c"on".as_ptr(),
    c"null".as_ptr(),
    std::ptr::null(),
];

/// `json_enum_option` with `bool_true` 1: a boolean, or one of `options` (NULL-ended);
/// pushes a boolean for off/on and the option's name otherwise.
///
/// # Safety
/// As [`integer_option`]; `options` ends with a null pointer.
unsafe fn enum_option(
    state: *mut ffi::lua_State,
    idx: c_int,
    setting: &AtomicI32,
    options: &[*const c_char],
) {
    if ffi::lua_isnil(state, idx) == 0 {
        let value = if ffi::lua_isboolean(state, idx) != 0 {
            ffi::lua_toboolean(state, idx)
        } else {
            ffi::luaL_checkoption(state, idx, std::ptr::null(), options.as_ptr())
        };
        setting.store(value, Ordering::Relaxed);
    }
    let value = get(setting);
    if value == 0 || value == 1 {
        ffi::lua_pushboolean(state, value);
    } else {
        let name = options.get(value as usize).copied().unwrap_or(options[0]);
        ffi::lua_pushstring_(state, name);
    }
}

// SAFETY (every function below): Lua calls them with their arguments on their own stack,
// at least LUA_MINSTACK free slots and the upvalues `functions` gave them (the Config's
// pointer, and the encoder that owns it); they hold nothing with a destructor.

unsafe extern "C-unwind" fn encode_max_depth(state: *mut ffi::lua_State) -> c_int {
    let cfg = arg_init(state, 1);
    integer_option(state, 1, &cfg.encode_max_depth, 1, i32::MAX);
    1
}

unsafe extern "C-unwind" fn decode_max_depth(state: *mut ffi::lua_State) -> c_int {
    let cfg = arg_init(state, 1);
    integer_option(state, 1, &cfg.decode_max_depth, 1, i32::MAX);
    1
}

unsafe extern "C-unwind" fn encode_number_precision(state: *mut ffi::lua_State) -> c_int {
    let cfg = arg_init(state, 1);
    integer_option(state, 1, &cfg.encode_number_precision, 1, 14);
    1
}

unsafe extern "C-unwind" fn encode_keep_buffer(state: *mut ffi::lua_State) -> c_int {
    // slabd keeps no buffer between calls; the setting is only remembered.
    let cfg = arg_init(state, 1);
    enum_option(state, 1, &cfg.encode_keep_buffer, &BOOL_OPTIONS);
    1
}

unsafe extern "C-unwind" fn encode_sparse_array(state: *mut ffi::lua_State) -> c_int {
    let cfg = arg_init(state, 3);
    enum_option(state, 1, &cfg.sparse_convert, &BOOL_OPTIONS);
    integer_option(state, 2, &cfg.sparse_ratio, 0, i32::MAX);
    integer_option(state, 3, &cfg.sparse_safe, 0, i32::MAX);
    3
}

unsafe extern "C-unwind" fn encode_invalid_numbers(state: *mut ffi::lua_State) -> c_int {
    let cfg = arg_init(state, 1);
    enum_option(state, 1, &cfg.encode_invalid_numbers, &INVALID_OPTIONS);
    1
}

unsafe extern "C-unwind" fn decode_invalid_numbers(state: *mut ffi::lua_State) -> c_int {
    let cfg = arg_init(state, 1);
    enum_option(state, 1, &cfg.decode_invalid_numbers, &BOOL_OPTIONS);
    1
}

/// Sets the setting functions into the module table `t`. `cfg` must live as long as
/// `owner` does (the encoder, whose closure holds it): each function keeps `owner` as its
/// second upvalue.
pub(super) fn functions(lua: &Lua, t: &Table, cfg: *const Config, owner: &Function) -> Result<()> {
    type Raw = unsafe extern "C-unwind" fn(*mut ffi::lua_State) -> c_int;
    let list: [(&CStr, Raw); 7] = [
        (c"encode_max_depth", encode_max_depth),
        (c"decode_max_depth", decode_max_depth),
        (c"encode_number_precision", encode_number_precision),
        (c"encode_keep_buffer", encode_keep_buffer),
        (c"encode_sparse_array", encode_sparse_array),
        (c"encode_invalid_numbers", encode_invalid_numbers),
        (c"decode_invalid_numbers", decode_invalid_numbers),
    ];
    let p = cfg.cast_mut().cast::<c_void>();
    for (name, f) in list {
        // SAFETY: `exec_raw` runs the closure in protected mode with `owner` as its only
        // stack value; the closure puts the pointer under it and makes both upvalues.
        let function = unsafe {
            lua.exec_raw::<Function>(owner, |state| {
                ffi::lua_pushlightuserdata(state, p);
                ffi::lua_insert(state, -2);
                ffi::lua_pushcclosure(state, f, 2);
            })?
        };
        t.raw_set(name.to_str().unwrap_or_default(), function)?;
    }
    Ok(())
}
