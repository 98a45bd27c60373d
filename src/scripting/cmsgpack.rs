//! `cmsgpack`: MessagePack pack/unpack with lua-cmsgpack's rules as Redis bundles it:
//! integral numbers as the smallest integer type, other numbers as float32 when exact
//! else float64, strings as fixstr/str8/16/32, tables with keys 1..n as arrays, other
//! tables as maps, nesting past 16 as nil.

use std::os::raw::c_int;

use mlua::{ffi, Function, Lua, MultiValue, Result, Table, Value};

use super::convert::positioned;

const MAX_NESTING: usize = 16;

fn err(msg: &str) -> mlua::Error {
    mlua::Error::RuntimeError(msg.into())
}

fn pack_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(out: &mut Vec<u8>, n: usize, fix: (u8, usize), b8: Option<u8>, b16: u8, b32: u8) {
    if n <= fix.1 {
        out.push(fix.0 | n as u8);
    } else if let (Some(tag), true) = (b8, n <= 0xff) {
        out.extend_from_slice(&[tag, n as u8]);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// Length n when the table's keys are exactly 1..n.
fn array_len(t: &Table) -> Result<Option<usize>> {
    let mut count = 0usize;
    let mut max = 0usize;
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let i = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n == n.floor() => n as usize,
            _ => return Ok(None),
        };
        count += 1;
        max = max.max(i);
    }
    Ok((max == count).then_some(count))
}

/// `t[k]` exactly: mlua reads a Lua 5.1 number within `f64::EPSILON` of -1, 0 or 1 as
/// that integer (`1e-20` as 0), so such a reading is read again as `f64`, which mlua
/// takes as Lua holds it (as cjson's `exact_number`).
fn exact(t: &Table, k: &Value, v: Value) -> Value {
    match v {
        Value::Integer(i) if (-1..=1).contains(&i) => match t.raw_get::<Option<f64>>(k) {
            Ok(Some(n)) if n != i as f64 || n.is_sign_negative() != (i < 0) => Value::Number(n),
            _ => v,
        },
        v => v,
    }
}

fn pack(out: &mut Vec<u8>, v: &Value, depth: usize) -> Result<()> {
    match v {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_int(out, *i),
        Value::Number(n) => {
            if n.is_finite() && *n == n.trunc() && n.abs() < 9.2e18 {
                pack_int(out, *n as i64);
            } else if f64::from(*n as f32) == *n || n.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let b = s.as_bytes();
            pack_len(out, b.len(), (0xa0, 31), Some(0xd9), 0xda, 0xdb);
            out.extend_from_slice(&b);
        }
        Value::Table(t) if depth < MAX_NESTING => match array_len(t)? {
            Some(n) => {
                pack_len(out, n, (0x90, 15), None, 0xdc, 0xdd);
                for i in 1..=n {
                    let k = Value::Integer(i as i64);
                    let v = exact(t, &k, t.raw_get::<Value>(i)?);
                    pack(out, &v, depth + 1)?;
                }
            }
            None => {
                // Counted, then streamed: values held in Rust use mlua's bounded
                // reference stack.
                let n = t.clone().pairs::<Value, Value>().count();
                pack_len(out, n, (0x80, 15), None, 0xde, 0xdf);
                for pair in t.clone().pairs::<Value, Value>() {
                    let (k, val) = pair?;
                    let val = exact(t, &k, val);
                    pack(out, &k, depth + 1)?;
                    pack(out, &val, depth + 1)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

struct Reader<'a> {
    s: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.s.len());
        let end = end.ok_or_else(|| err("Missing bytes in input."))?;
        let b = &self.s[self.at..end];
        self.at = end;
        Ok(b)
    }

    fn uint(&mut self, n: usize) -> Result<u64> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn value(&mut self, lua: &Lua) -> Result<Value> {
        let tag = self.take(1)?[0];
        let int = |n: i64| Ok(Value::Number(n as f64));
        match tag {
            0x00..=0x7f => int(i64::from(tag)),
            0xe0..=0xff => int(i64::from(tag as i8)),
            0xc0 => Ok(Value::Nil),
            0xc2 => Ok(Value::Boolean(false)),
            0xc3 => Ok(Value::Boolean(true)),
            0xcc => int(self.uint(1)? as i64),
            0xcd => int(self.uint(2)? as i64),
            0xce => int(self.uint(4)? as i64),
            0xcf => Ok(Value::Number(self.uint(8)? as f64)),
            0xd0 => int(i64::from(self.uint(1)? as u8 as i8)),
            0xd1 => int(i64::from(self.uint(2)? as u16 as i16)),
            0xd2 => int(i64::from(self.uint(4)? as u32 as i32)),
            0xd3 => int(self.uint(8)? as i64),
            0xca => Ok(Value::Number(f64::from(f32::from_bits(
                self.uint(4)? as u32
            )))),
            0xcb => Ok(Value::Number(f64::from_bits(self.uint(8)?))),
            0xa0..=0xbf => self.string(lua, usize::from(tag & 0x1f)),
            0xd9 | 0xc4 => {
                let n = self.uint(1)? as usize;
                self.string(lua, n)
            }
            0xda | 0xc5 => {
                let n = self.uint(2)? as usize;
                self.string(lua, n)
            }
            0xdb | 0xc6 => {
                let n = self.uint(4)? as usize;
                self.string(lua, n)
            }
            0x90..=0x9f => self.array(lua, usize::from(tag & 0x0f)),
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(lua, n)
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(lua, n)
            }
            0x80..=0x8f => self.map(lua, usize::from(tag & 0x0f)),
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(lua, n)
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(lua, n)
            }
            _ => Err(err("Bad data format in input.")),
        }
    }

    fn string(&mut self, lua: &Lua, n: usize) -> Result<Value> {
        let b = self.take(n)?;
        Ok(Value::String(lua.create_string(b)?))
    }

    fn array(&mut self, lua: &Lua, n: usize) -> Result<Value> {
        let t = lua.create_table()?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if !matches!(k, Value::Nil) {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

/// Decodes up to `limit` values (0: all) from byte `offset`; the next offset (-1 at the
/// end) and the values.
fn unpack(lua: &Lua, s: &[u8], limit: usize, offset: usize) -> Result<(i64, Vec<Value>)> {
    let mut r = Reader { s, at: offset };
    let mut values = Vec::new();
    while r.at < s.len() && (limit == 0 || values.len() < limit) {
        if values.len() >= super::RESULTS_MAX {
            return Err(err("too many results to unpack"));
        }
        values.push(r.value(lua)?);
    }
    let next = if r.at >= s.len() { -1 } else { r.at as i64 };
    Ok((next, values))
}

/// Lua's name for the type of `v`, or `no value` past the arguments.
fn got(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::LightUserData(_) | Value::UserData(_)) => "userdata",
        Some(v) => v.type_name(),
    }
}

/// Argument `n` (from 1) of `f` as `luaL_checklstring` reads it (numbers become strings).
fn string_arg(lua: &Lua, args: &MultiValue, n: usize, f: &str) -> Result<mlua::String> {
    let v = args.get(n - 1);
    match v {
        Some(Value::String(s)) => return Ok(s.clone()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => {
            if let Some(s) = lua.coerce_string(v.clone())? {
                return Ok(s);
            }
        }
        _ => {}
    }
    let msg = format!(
        "bad argument #{n} to '{f}' (string expected, got {})",
        got(v)
    );
    Err(positioned(lua, 1, err(&msg)))
}

/// Optional argument `n` of `f` as `luaL_optinteger` reads it (0 when absent or nil).
fn opt_number_arg(lua: &Lua, args: &MultiValue, n: usize, f: &str) -> Result<i64> {
    let v = args.get(n - 1);
    match v {
        None | Some(Value::Nil) => return Ok(0),
        Some(Value::Integer(i)) => return Ok(*i),
        Some(Value::Number(x)) => return Ok(*x as i64),
        Some(v @ Value::String(_)) => {
            if let Some(x) = lua.coerce_number(v.clone())? {
                return Ok(x as i64);
            }
        }
        _ => {}
    }
    let msg = format!(
        "bad argument #{n} to '{f}' (number expected, got {})",
        got(v)
    );
    Err(positioned(lua, 1, err(&msg)))
}

/// `cmsgpack.pack(...)`: calls its upvalue (the Rust packer) with its arguments in a table
/// and their count, so that numbers reach Rust as Lua holds them (see [`exact`]).
unsafe extern "C-unwind" fn pack_front(state: *mut ffi::lua_State) -> c_int {
    // SAFETY (this function): Lua calls it with its arguments on its own stack and the
    // upvalue `pack_function` gave it; it needs three slots (LUA_MINSTACK is 20); nothing
    // here has a destructor when `lua_call` or an allocation raises through it.
    let n = ffi::lua_gettop(state);
    if n == 0 {
        // Raised here, by a C function, so that Lua names the function as it was called
        // (`'pack'`, or `'?'` through `pcall`), as lua-cmsgpack's own check does.
        ffi::luaL_argerror(state, 0, c"MessagePack pack needs input.".as_ptr());
    }
    ffi::lua_createtable(state, n, 0);
    for i in 1..=n {
        ffi::lua_pushvalue(state, i);
        ffi::lua_rawseti_(state, -2, i);
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, -2);
    ffi::lua_pushnumber(state, f64::from(n));
    ffi::lua_call(state, 2, 1);
    1
}

fn pack_function(lua: &Lua, packer: Function) -> Result<Function> {
    // SAFETY: `exec_raw` runs the closure in protected mode with `packer` as its stack;
    // the C closure takes it as its one upvalue.
    unsafe {
        lua.exec_raw::<Function>(packer, |state| {
            ffi::lua_pushcclosure(state, pack_front, 1);
        })
    }
}

pub fn open(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    // The Rust side gets the arguments in a table (`pack_front`) and reads them exactly;
    // its errors are placed at level 2, the script calling the front.
    let packer = lua.create_function(|lua, (args, n): (Table, usize)| {
        if n == 0 {
            let msg = "bad argument #0 to 'pack' (MessagePack pack needs input.)";
            return Err(positioned(lua, 2, err(msg)));
        }
        let mut out = Vec::new();
        for i in 1..=n {
            let k = Value::Integer(i as i64);
            let v = exact(&args, &k, args.raw_get::<Value>(i)?);
            pack(&mut out, &v, 0).map_err(|e| positioned(lua, 2, e))?;
        }
        lua.create_string(&out)
    })?;
    t.raw_set("pack", pack_function(lua, packer)?)?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| {
            let s = string_arg(lua, &args, 1, "unpack")?;
            let (_, values) =
                unpack(lua, &s.as_bytes(), 0, 0).map_err(|e| positioned(lua, 1, e))?;
            Ok(MultiValue::from_iter(values))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let s = string_arg(lua, &args, 1, "unpack_one")?;
            let offset = opt_number_arg(lua, &args, 2, "unpack_one")?;
            let (next, values) = unpack(lua, &s.as_bytes(), 1, offset.max(0) as usize)
                .map_err(|e| positioned(lua, 1, e))?;
            let mut out = vec![Value::Integer(next)];
            out.extend(values);
            Ok(MultiValue::from_iter(out))
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let s = string_arg(lua, &args, 1, "unpack_limit")?;
            if args.len() < 2 {
                let msg = "bad argument #2 to 'unpack_limit' (number expected, got no value)";
                return Err(positioned(lua, 1, err(msg)));
            }
            let limit = opt_number_arg(lua, &args, 2, "unpack_limit")?;
            let offset = opt_number_arg(lua, &args, 3, "unpack_limit")?;
            let (next, values) = unpack(
                lua,
                &s.as_bytes(),
                limit.max(0) as usize,
                offset.max(0) as usize,
            )
            .map_err(|e| positioned(lua, 1, e))?;
            let mut out = vec![Value::Integer(next)];
            out.extend(values);
            Ok(MultiValue::from_iter(out))
        })?,
    )?;
    Ok(t)
}
