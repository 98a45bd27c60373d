//! `bit`: LuaBitOp's operations on 32-bit integers (numbers are reduced modulo 2^32 and
//! read as signed), as Redis bundles it.

use mlua::{Lua, Result, Table, Variadic};

/// A Lua number as LuaBitOp's 32-bit value: rounded to nearest (ties to even), mod 2^32.
fn tobit(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    x.round_ties_even().rem_euclid(4_294_967_296.0) as u32 as i32
}

fn fold(args: Variadic<f64>, init: i32, op: fn(i32, i32) -> i32) -> f64 {
    f64::from(args.iter().fold(init, |acc, &x| op(acc, tobit(x))))
}

pub fn open(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x))))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, x: f64| Ok(f64::from(!tobit(x))))?,
    )?;
    t.raw_set(
        "band",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(a, -1, |x, y| x & y)))?,
    )?;
    t.raw_set(
        "bor",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(a, 0, |x, y| x | y)))?,
    )?;
    t.raw_set(
        "bxor",
        lua.create_function(|_, a: Variadic<f64>| Ok(fold(a, 0, |x, y| x ^ y)))?,
    )?;
    let shift = |f: fn(i32, u32) -> i32| {
        move |_: &Lua, (x, n): (f64, f64)| Ok(f64::from(f(tobit(x), (tobit(n) & 31) as u32)))
    };
    t.raw_set(
        "lshift",
        lua.create_function(shift(|x, n| x.wrapping_shl(n)))?,
    )?;
    t.raw_set(
        "rshift",
        lua.create_function(shift(|x, n| ((x as u32) >> n) as i32))?,
    )?;
    t.raw_set("arshift", lua.create_function(shift(|x, n| x >> n))?)?;
    t.raw_set(
        "rol",
        lua.create_function(shift(|x, n| (x as u32).rotate_left(n) as i32))?,
    )?;
    t.raw_set(
        "ror",
        lua.create_function(shift(|x, n| (x as u32).rotate_right(n) as i32))?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, x: f64| Ok(f64::from(tobit(x).swap_bytes())))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|_, (x, n): (f64, Option<f64>)| {
            let mut n = n.map_or(8, tobit);
            let upper = n < 0;
            if upper {
                // As Redis's patched LuaBitOp: -2^31 reads as 2^31 - 1 (8 digits), where
                // negating it overflowed (a panic in debug builds).
                n = n.checked_neg().unwrap_or(i32::MAX);
            }
            let n = n.clamp(0, 8) as usize;
            let s = if upper {
                format!("{:08X}", tobit(x) as u32)
            } else {
                format!("{:08x}", tobit(x) as u32)
            };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_reduce_to_32_bits() {
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(1.5), 2);
        assert_eq!(tobit(2.5), 2);
    }
}
