//! `cjson`: JSON encode and decode with lua-cjson 2.1's rules as Redis configures it:
//! numbers printed with 14 significant digits, `/` escaped, an empty table is `{}`, a
//! table whose keys are 1..n (not too sparse) is an array, nesting past 1000 is refused,
//! and JSON `null` decodes to `cjson.null` (a light userdata NULL).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use std::os::raw::{c_int, c_void};

use mlua::{ffi, LightUserData, Lua, Result, Table, Value};

use super::convert::{format_number, positioned, write_g};

const MAX_DEPTH: usize = 1000;

/// What scripts may change with `cjson.encode_max_depth`, `decode_max_depth` and
/// `encode_invalid_numbers` (kept for the interpreter's life, as in Redis).
struct Config {
    encode_max_depth: AtomicUsize,
    decode_max_depth: AtomicUsize,
    invalid_numbers: AtomicBool,
}

fn err(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

fn encode_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

const NAN_OR_INF: &str = "Cannot serialise number: must not be NaN or Inf";

/// Appends `n` as lua-cjson prints it (`%.14g`, `-0` kept); `false` for a NaN or an
/// infinity unless `encode_invalid_numbers` allows them.
fn write_number(out: &mut Vec<u8>, n: f64, cfg: &Config) -> bool {
    if !n.is_finite() && !cfg.invalid_numbers.load(Ordering::Relaxed) {
        return false;
    }
    if n.is_nan() {
        out.extend_from_slice(b"nan");
    } else {
        write_g(out, n, 14);
    }
    true
}

fn encode_number(out: &mut Vec<u8>, n: f64, cfg: &Config) -> Result<()> {
    if write_number(out, n, cfg) {
        Ok(())
    } else {
        Err(err(NAN_OR_INF.into()))
    }
}

/// A table's number value exactly. mlua reads a Lua 5.1 number within `f64::EPSILON` of
/// an integer as that integer, so `-0.0`, `1e-300` and `0.9999999999999999` arrive as
/// `Integer(0)`, `Integer(0)` and `Integer(1)`; only integers from -1 to 1 can be such a
/// reading (past them the doubles are more than EPSILON apart), and those are read again as
/// `f64`, which mlua takes as Lua holds it.
fn exact_number(t: &Table, key: &Value, v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) if (-1..=1).contains(i) => match t.raw_get::<Option<f64>>(key) {
            Ok(Some(n)) => Some(n),
            _ => Some(*i as f64),
        },
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// `Some(n)` when `t` is an array of length n by lua-cjson's rule.
fn array_len(t: &Table) -> Result<Option<usize>> {
    // lua-cjson keeps the largest index in a C `int`: an index past INT_MAX converts to
    // INT_MIN on x86-64 (so `{[2^53]=1}` is an object, as in Redis).
    let (mut max, mut items) = (0i32, 0i64);
    for pair in t.clone().pairs::<Value, Value>() {
        let (k, _) = pair?;
        let index = match k {
            Value::Integer(i) if i >= 1 => i as f64,
            Value::Number(n) if n >= 1.0 && n == n.floor() => n,
            _ => return Ok(None),
        };
        if index > f64::from(max) {
            max = if index >= 2147483648.0 {
                i32::MIN
            } else {
                index as i32
            };
        }
        items += 1;
    }
    if max > 10 && i64::from(max) > items * 2 {
        return Err(err(
            "Cannot serialise table: excessively sparse array".into()
        ));
    }
    Ok(usize::try_from(max).ok())
}

fn encode(out: &mut Vec<u8>, v: &Value, depth: usize, cfg: &Config) -> Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // A number read exactly (`encode_front`, `exact_number`) never gets here as an
        // ambiguous integer.
        Value::Integer(i) => encode_number(out, *i as f64, cfg)?,
        Value::Number(n) => encode_number(out, *n, cfg)?,
        Value::String(s) => encode_string(out, &s.as_bytes()),
        Value::Table(t) => {
            if depth >= cfg.encode_max_depth.load(Ordering::Relaxed) {
                return Err(err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                )));
            }
            match array_len(t)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        let v = t.raw_get::<Value>(i)?;
                        match exact_number(t, &Value::Integer(i as i64), &v) {
                            Some(n) => encode_number(out, n, cfg)?,
                            None => encode(out, &v, depth + 1, cfg)?,
                        }
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.clone().pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => encode_string(out, &s.as_bytes()),
                            Value::Integer(i) => {
                                encode_string(out, format_number(*i as f64).as_bytes())
                            }
                            Value::Number(n) => encode_string(out, format_number(*n).as_bytes()),
                            _ => {
                                return Err(err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    type_name(&k)
                                )))
                            }
                        }
                        out.push(b':');
                        match exact_number(t, &k, &val) {
                            Some(n) => encode_number(out, n, cfg)?,
                            None => encode(out, &val, depth + 1, cfg)?,
                        }
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(err(format!(
                "Cannot serialise {}: type not supported",
                type_name(other)
            )))
        }
    }
    Ok(())
}

struct Decoder<'a> {
    s: &'a [u8],
    at: usize,
    max_depth: usize,
}

impl Decoder<'_> {
    fn ws(&mut self) {
        while self.at < self.s.len() && matches!(self.s[self.at], b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T> {
        let found = if self.at >= self.s.len() {
            "T_END".to_string()
        } else {
            "invalid token".to_string()
        };
        Err(err(format!(
            "Expected {what} but found {found} at character {}",
            self.at + 1
        )))
    }

    /// A value inside `depth` objects and arrays.
    fn value(&mut self, lua: &Lua, depth: usize) -> Result<Value> {
        self.ws();
        let Some(&c) = self.s.get(self.at) else {
            return self.fail("value");
        };
        if matches!(c, b'{' | b'[') && depth + 1 > self.max_depth {
            return Err(err(format!(
                "Found too many nested data structures ({}) at character {}",
                depth + 1,
                self.at + 1
            )));
        }
        match c {
            b'{' => {
                self.at += 1;
                let t = lua.create_table()?;
                self.ws();
                if self.s.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Value::Table(t));
                }
                loop {
                    self.ws();
                    if self.s.get(self.at) != Some(&b'"') {
                        return self.fail("object key string");
                    }
                    let k = self.string(lua)?;
                    self.ws();
                    if self.s.get(self.at) != Some(&b':') {
                        return self.fail("colon");
                    }
                    self.at += 1;
                    let v = self.value(lua, depth + 1)?;
                    t.raw_set(k, v)?;
                    self.ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return self.fail("comma or object end"),
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let t = lua.create_table()?;
                self.ws();
                if self.s.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Value::Table(t));
                }
                let mut i = 1;
                loop {
                    let v = self.value(lua, depth + 1)?;
                    t.raw_set(i, v)?;
                    i += 1;
                    self.ws();
                    match self.s.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::Table(t));
                        }
                        _ => return self.fail("comma or array end"),
                    }
                }
            }
            b'"' => Ok(Value::String(self.string(lua)?)),
            b't' if self.s[self.at..].starts_with(b"true") => {
                self.at += 4;
                Ok(Value::Boolean(true))
            }
            b'f' if self.s[self.at..].starts_with(b"false") => {
                self.at += 5;
                Ok(Value::Boolean(false))
            }
            b'n' if self.s[self.at..].starts_with(b"null") => {
                self.at += 4;
                Ok(Value::LightUserData(LightUserData(std::ptr::null_mut())))
            }
            b'-' | b'0'..=b'9' => {
                let start = self.at;
                while self.at < self.s.len()
                    && matches!(
                        self.s[self.at],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.at += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.at]).unwrap_or("");
                match text.parse::<f64>() {
                    Ok(n) => Ok(Value::Number(n)),
                    Err(_) => {
                        self.at = start;
                        self.fail("value")
                    }
                }
            }
            _ => self.fail("value"),
        }
    }

    fn string(&mut self, lua: &Lua) -> Result<mlua::String> {
        let start = self.at;
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.at) else {
                self.at = start;
                return self.fail("value");
            };
            self.at += 1;
            match c {
                b'"' => return lua.create_string(&out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.at) else {
                        return self.fail("value");
                    };
                    self.at += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp)
                                && self.s.get(self.at..self.at + 2) == Some(b"\\u")
                            {
                                self.at += 2;
                                let low = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (low.wrapping_sub(0xdc00));
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            self.at = start;
                            return self.fail("value");
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self.s.get(self.at..self.at + 4).unwrap_or(&[]);
        let text = std::str::from_utf8(digits).unwrap_or("");
        let v = u32::from_str_radix(text, 16).or_else(|_| self.fail("value"))?;
        self.at += 4;
        Ok(v)
    }
}

fn decode(lua: &Lua, s: &mlua::String, c: &Config) -> Result<Value> {
    let bytes = s.as_bytes();
    let mut d = Decoder {
        s: &bytes,
        at: 0,
        max_depth: c.decode_max_depth.load(Ordering::Relaxed),
    };
    let v = d.value(lua, 0)?;
    d.ws();
    if d.at < d.s.len() {
        return d.fail("the end");
    }
    Ok(v)
}

/// `cjson.encode(v)`: checks the argument count as lua-cjson does and prints a number
/// argument itself, read exactly off the stack (see [`exact_number`]); anything else goes
/// to the Rust encoder, its first upvalue. The second is the module's [`Config`].
unsafe extern "C-unwind" fn encode_front(state: *mut ffi::lua_State) -> c_int {
    // SAFETY (this function): Lua calls it with its arguments on its own stack, at least
    // LUA_MINSTACK free slots and the two upvalues `open` gave it; nothing in this frame
    // has a destructor when `lua_error` (inside luaL_argerror, luaL_error, lua_call or a
    // failed allocation) jumps out of it: the text is copied off its Vec first.
    if ffi::lua_gettop(state) != 1 {
        ffi::luaL_argerror(state, 1, c"expected 1 argument".as_ptr());
    }
    if ffi::lua_type(state, 1) == ffi::LUA_TNUMBER {
        let cfg = &*ffi::lua_touserdata(state, ffi::lua_upvalueindex(2)).cast::<Config>();
        let mut text = [0u8; 32];
        let len = {
            let mut out = Vec::with_capacity(32);
            let ok = write_number(&mut out, ffi::lua_tonumber(state, 1), cfg);
            let len = out.len().min(text.len());
            text[..len].copy_from_slice(&out[..len]);
            ok.then_some(len)
        };
        match len {
            Some(len) => ffi::lua_pushlstring_(state, text.as_ptr().cast(), len),
            None => {
                ffi::luaL_error(
                    state,
                    c"Cannot serialise number: must not be NaN or Inf".as_ptr(),
                );
            }
        }
        return 1;
    }
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, 1, 1);
    1
}

pub fn open(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    let cfg = Arc::new(Config {
        encode_max_depth: AtomicUsize::new(MAX_DEPTH),
        decode_max_depth: AtomicUsize::new(MAX_DEPTH),
        invalid_numbers: AtomicBool::new(false),
    });
    let c = cfg.clone();
    // Called only by `encode_front` (a C function): the script is two levels up.
    let inner = lua.create_function(move |lua, v: Value| {
        let mut out = Vec::new();
        encode(&mut out, &v, 0, &c).map_err(|e| positioned(lua, 2, e))?;
        lua.create_string(&out)
    })?;
    let p = Arc::as_ptr(&cfg).cast_mut().cast::<c_void>();
    // SAFETY: `exec_raw` runs the closure in protected mode with `inner` as its only stack
    // value; the closure pushes one more and makes both the C closure's upvalues. The
    // Config behind the light userdata lives as long as `inner` (its closure owns an Arc
    // of it), which the C closure keeps as its first upvalue.
    let front = unsafe {
        lua.exec_raw::<mlua::Function>(&inner, |state| {
            ffi::lua_pushlightuserdata(state, p);
            ffi::lua_pushcclosure(state, encode_front, 2);
        })?
    };
    t.raw_set("encode", front)?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, args: mlua::MultiValue| {
            let s = match args.len() {
                1 => match &args[0] {
                    Value::String(s) => s.clone(),
                    Value::Integer(_) | Value::Number(_) => {
                        match lua.coerce_string(args[0].clone())? {
                            Some(s) => s,
                            None => unreachable!("numbers convert to strings"),
                        }
                    }
                    other => {
                        let msg = format!(
                            "bad argument #1 to 'decode' (string expected, got {})",
                            type_name(other)
                        );
                        return Err(positioned(lua, 1, err(msg)));
                    }
                },
                _ => {
                    let msg = "bad argument #1 to 'decode' (expected 1 argument)";
                    return Err(positioned(lua, 1, err(msg.into())));
                }
            };
            decode(lua, &s, &c).map_err(|e| positioned(lua, 1, e))
        })?,
    )?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    // A module of its own: new settings, not read-only (as lua-cjson's `new`).
    t.raw_set("new", lua.create_function(|lua, ()| open(lua))?)?;
    t.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    fn encode_depth(c: &Config) -> &AtomicUsize {
        &c.encode_max_depth
    }
    fn decode_depth(c: &Config) -> &AtomicUsize {
        &c.decode_max_depth
    }
    type Field = fn(&Config) -> &AtomicUsize;
    for (name, depth) in [
        ("encode_max_depth", encode_depth as Field),
        ("decode_max_depth", decode_depth as Field),
    ] {
        let c = cfg.clone();
        t.raw_set(
            name,
            lua.create_function(move |_, n: Option<f64>| {
                let field = depth(&c);
                if let Some(n) = n {
                    if !(1.0..=f64::from(i32::MAX)).contains(&n) {
                        return Err(err(
                            "bad argument #1 to '?' (expected integer between 1 and 2147483647)"
                                .into(),
                        ));
                    }
                    // Each level of nesting holds Lua values in Rust (mlua's bounded
                    // reference stack): deeper than the default is not allowed.
                    field.store((n as usize).min(MAX_DEPTH), Ordering::Relaxed);
                }
                Ok(field.load(Ordering::Relaxed) as f64)
            })?,
        )?;
    }
    let c = cfg.clone();
    t.raw_set(
        "encode_invalid_numbers",
        lua.create_function(move |_, v: Value| {
            let on = match v {
                Value::Nil => return Ok(c.invalid_numbers.load(Ordering::Relaxed)),
                Value::Boolean(b) => b,
                Value::String(s) => s.as_bytes().as_ref() != b"off",
                _ => true,
            };
            c.invalid_numbers.store(on, Ordering::Relaxed);
            Ok(on)
        })?,
    )?;
    for name in [
        "encode_keep_buffer",
        "encode_number_precision",
        "encode_sparse_array",
        "decode_invalid_numbers",
    ] {
        t.raw_set(name, lua.create_function(|_, _: mlua::MultiValue| Ok(()))?)?;
    }
    Ok(t)
}
