//! `bit`: LuaBitOp's operations on 32-bit integers, as Redis bundles it (`lua_bit.c`).
//!
//! The functions are raw Lua C functions, as LuaBitOp's are, so that their arguments are
//! read as Lua holds them and their errors are LuaBitOp's own: a missing or non-number
//! argument raises `bad argument #N to 'band' (number expected, got no value)` at the
//! script's line (`luaL_typerror`), and `bit.band()` is such an error, not -1. Through
//! mlua they were read as `f64` with mlua's conversion errors and no position.
//!
//! **Errors.** `luaL_typerror` unwinds with `longjmp`; no frame here holds a value with a
//! destructor (numbers and a stack array only).

use std::os::raw::c_int;

use mlua::{ffi, Lua, Result, Table};

/// A Lua number as LuaBitOp's 32-bit value, bit for bit as `barg` computes it: the low
/// word of `n + 2^52 + 2^51` (round to nearest, ties to even, modulo 2^32 for |n| < 2^51;
/// what the addition leaves for larger numbers, infinities and NaN).
fn tobit(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

/// `barg`: argument `idx` as a 32-bit value; raises LuaBitOp's type error for a value
/// that is not a number (nor a string that converts to one) whose bits come out 0.
///
/// # Safety
/// `state` is a running C function's.
unsafe fn barg(state: *mut ffi::lua_State, idx: c_int) -> u32 {
    let b = tobit(ffi::lua_tonumber(state, idx));
    if b == 0 && ffi::lua_isnumber(state, idx) == 0 {
        ffi::luaL_typerror(state, idx, c"number".as_ptr());
    }
    b
}

/// # Safety
/// One free stack slot.
unsafe fn bret(state: *mut ffi::lua_State, b: u32) -> c_int {
    ffi::lua_pushnumber(state, f64::from(b as i32));
    1
}

// SAFETY (every function below): Lua calls them with their arguments on their own stack
// and at least LUA_MINSTACK free slots; they hold nothing with a destructor where
// `barg` may raise.

unsafe extern "C-unwind" fn bit_tobit(state: *mut ffi::lua_State) -> c_int {
    bret(state, barg(state, 1))
}

unsafe extern "C-unwind" fn bit_bnot(state: *mut ffi::lua_State) -> c_int {
    bret(state, !barg(state, 1))
}

/// `band`, `bor`, `bxor`: the first argument, then the others from the last down.
unsafe fn fold(state: *mut ffi::lua_State, op: fn(u32, u32) -> u32) -> c_int {
    let mut b = barg(state, 1);
    let mut i = ffi::lua_gettop(state);
    while i > 1 {
        b = op(b, barg(state, i));
        i -= 1;
    }
    bret(state, b)
}

unsafe extern "C-unwind" fn bit_band(state: *mut ffi::lua_State) -> c_int {
    fold(state, |x, y| x & y)
}

unsafe extern "C-unwind" fn bit_bor(state: *mut ffi::lua_State) -> c_int {
    fold(state, |x, y| x | y)
}

unsafe extern "C-unwind" fn bit_bxor(state: *mut ffi::lua_State) -> c_int {
    fold(state, |x, y| x ^ y)
}

/// The shifts and rotations: `fn(value, count & 31)`.
unsafe fn shift(state: *mut ffi::lua_State, f: fn(u32, u32) -> u32) -> c_int {
    let b = barg(state, 1);
    let n = barg(state, 2) & 31;
    bret(state, f(b, n))
}

unsafe extern "C-unwind" fn bit_lshift(state: *mut ffi::lua_State) -> c_int {
    shift(state, |b, n| b << n)
}

unsafe extern "C-unwind" fn bit_rshift(state: *mut ffi::lua_State) -> c_int {
    shift(state, |b, n| b >> n)
}

unsafe extern "C-unwind" fn bit_arshift(state: *mut ffi::lua_State) -> c_int {
    shift(state, |b, n| ((b as i32) >> n) as u32)
}

unsafe extern "C-unwind" fn bit_rol(state: *mut ffi::lua_State) -> c_int {
    shift(state, u32::rotate_left)
}

unsafe extern "C-unwind" fn bit_ror(state: *mut ffi::lua_State) -> c_int {
    shift(state, u32::rotate_right)
}

unsafe extern "C-unwind" fn bit_bswap(state: *mut ffi::lua_State) -> c_int {
    bret(state, barg(state, 1).swap_bytes())
}

/// `tohex(x [, n])`: the low `n` hex digits (8 when absent), capitals when `n` < 0.
unsafe extern "C-unwind" fn bit_tohex(state: *mut ffi::lua_State) -> c_int {
    let b = barg(state, 1);
    let n = if ffi::lua_isnone(state, 2) != 0 {
        8
    } else {
        barg(state, 2) as i32
    };
    let mut buf = [0u8; 8];
    let len = hex(b, n, &mut buf);
    ffi::lua_pushlstring_(state, buf.as_ptr().cast(), len);
    1
}

/// The digits `tohex` prints, right-aligned in `buf`'s first `len` bytes; `len`.
/// -2^31 (whose negation overflows) prints 8 capitals, as redis-server 7.0.15 does.
fn hex(mut b: u32, n: i32, buf: &mut [u8; 8]) -> usize {
    let (digits, n): (&[u8; 16], i32) = if n < 0 {
        (b"0123456789ABCDEF", n.checked_neg().unwrap_or(8))
    } else {
        (b"0123456789abcdef", n)
    };
    let len = n.clamp(0, 8) as usize;
    for d in buf[..len].iter_mut().rev() {
        *d = digits[(b & 15) as usize];
        b >>= 4;
    }
    len
}

pub fn open(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    let funcs: [(&str, ffi::lua_CFunction); 12] = [
        ("tobit", bit_tobit),
        ("bnot", bit_bnot),
        ("band", bit_band),
        ("bor", bit_bor),
        ("bxor", bit_bxor),
        ("lshift", bit_lshift),
        ("rshift", bit_rshift),
        ("arshift", bit_arshift),
        ("rol", bit_rol),
        ("ror", bit_ror),
        ("bswap", bit_bswap),
        ("tohex", bit_tohex),
    ];
    for (name, f) in funcs {
        // SAFETY: each is a Lua C function written to the C API's rules (above).
        t.raw_set(name, unsafe { lua.create_c_function(f)? })?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_reduce_to_32_bits() {
        assert_eq!(tobit(4_294_967_295.0) as i32, -1);
        assert_eq!(tobit(2_147_483_648.0) as i32, i32::MIN);
        assert_eq!(tobit(-1.0) as i32, -1);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(2.5), 2);
        // What redis-server 7.0.15 answers for bit.tobit of these.
        assert_eq!(tobit(9_007_199_254_740_995.0), 2);
        assert_eq!(tobit(1e300) as i32, -2_013_235_812);
        assert_eq!(tobit(f64::NAN), 0);
    }

    #[test]
    fn hex_digits_as_luabitop() {
        let mut buf = [0u8; 8];
        let len = hex(255, -2_147_483_648, &mut buf);
        assert_eq!(&buf[..len], b"000000FF");
        let len = hex(u32::MAX, -3, &mut buf);
        assert_eq!(&buf[..len], b"FFF");
        let len = hex(0x1234_abcd, 8, &mut buf);
        assert_eq!(&buf[..len], b"1234abcd");
        assert_eq!(hex(1, 0, &mut buf), 0);
        let len = hex(1, 20, &mut buf);
        assert_eq!(&buf[..len], b"00000001");
    }
}
