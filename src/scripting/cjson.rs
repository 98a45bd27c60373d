//! `cjson`: JSON encode and decode with lua-cjson 2.1's rules as Redis configures it:
//! numbers printed with 14 significant digits, `/` escaped, an empty table is `{}`, a
//! table whose keys are 1..n (not too sparse) is an array, nesting past 1000 is refused,
//! and JSON `null` decodes to `cjson.null` (a light userdata NULL).

use std::sync::Arc;

use std::os::raw::{c_int, c_void};

use mlua::{ffi, LightUserData, Lua, Result, Table, Value};

use super::cjson_cfg::{self, Config, Invalid};
use super::convert::{positioned, write_g};

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

/// Appends `n` as lua-cjson prints it (`%.14g` or the set precision, `-0` kept); `false`
/// for a NaN or an infinity unless `encode_invalid_numbers` allows them.
fn write_number(out: &mut Vec<u8>, n: f64, cfg: &Config) -> bool {
    if !n.is_finite() {
        match cfg.invalid_numbers() {
            Invalid::Refuse => return false,
            Invalid::Null => {
                out.extend_from_slice(b"null");
                return true;
            }
            Invalid::Print if n.is_nan() => {
                out.extend_from_slice(b"nan");
                return true;
            }
            Invalid::Print => {}
        }
    }
    write_g(out, n, cfg.precision());
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

/// A table key as `lua_next` gives it: a number exactly as Lua holds it (mlua would read
/// `-0.0` and `1e-20` as the integer 0, and then fail to continue the walk from it), or
/// any other value.
enum Key {
    Number(f64),
    Other(Value),
}

impl Key {
    fn value(&self) -> Value {
        match self {
            Key::Number(n) => Value::Number(*n),
            Key::Other(v) => v.clone(),
        }
    }
}

/// `t`'s keys in `next` order, walked with `lua_next` itself.
fn raw_keys(lua: &Lua, t: &Table) -> Result<Vec<Key>> {
    let mut numbers: Vec<Option<f64>> = Vec::new();
    let slot = &mut numbers;
    // SAFETY: `exec_raw` runs the closure in protected mode with `t` at index 1 and
    // LUA_MINSTACK free slots (it uses four). The walk hands `lua_next` back each key as
    // Lua gave it. A failed allocation in `lua_rawseti_` unwinds through the closure,
    // whose only capture is a borrow; the keys table (other keys only) is its result.
    let others = unsafe {
        lua.exec_raw::<Table>(t, |state| {
            ffi::lua_createtable(state, 0, 0);
            ffi::lua_pushnil(state);
            let mut i: c_int = 0;
            while ffi::lua_next(state, 1) != 0 {
                ffi::lua_pop(state, 1);
                i = i.saturating_add(1);
                if ffi::lua_type(state, -1) == ffi::LUA_TNUMBER {
                    slot.push(Some(ffi::lua_tonumber(state, -1)));
                } else {
                    slot.push(None);
                    ffi::lua_pushvalue(state, -1);
                    ffi::lua_rawseti_(state, 2, i);
                }
            }
            ffi::lua_remove(state, 1);
        })?
    };
    numbers
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            Ok(match n {
                Some(n) => Key::Number(n),
                None => Key::Other(others.raw_get(i + 1)?),
            })
        })
        .collect()
}

/// `Some(n)` when a table with `keys` is an array of length n by lua-cjson's rule
/// (`lua_array_length` and the `encode_sparse_array` settings).
fn array_len(keys: &[Key], cfg: &Config) -> Result<Option<usize>> {
    // lua-cjson keeps the largest index in a C `int`: an index past INT_MAX converts to
    // INT_MIN on x86-64 (so `{[2^53]=1}` is an object, as in Redis).
    let (mut max, mut items) = (0i32, 0i64);
    for key in keys {
        let Key::Number(k) = *key else {
            return Ok(None);
        };
        if k == 0.0 || k.floor() != k || k < 1.0 {
            return Ok(None);
        }
        if k > f64::from(max) {
            max = if k >= 2147483648.0 {
                i32::MIN
            } else {
                k as i32
            };
        }
        items += 1;
    }
    match cfg.sparse(max, items) {
        Err(()) => Err(err(
            "Cannot serialise table: excessively sparse array".into()
        )),
        Ok(false) => Ok(None),
        Ok(true) => Ok(usize::try_from(max).ok()),
    }
}

fn encode_value(
    lua: &Lua,
    out: &mut Vec<u8>,
    t: &Table,
    key: &Value,
    depth: usize,
    cfg: &Config,
) -> Result<()> {
    let v = t.raw_get::<Value>(key.clone())?;
    match exact_number(t, key, &v) {
        Some(n) => encode_number(out, n, cfg),
        None => encode(lua, out, &v, depth, cfg),
    }
}

fn encode(lua: &Lua, out: &mut Vec<u8>, v: &Value, depth: usize, cfg: &Config) -> Result<()> {
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
            if depth >= cfg.encode_max_depth() {
                return Err(err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                )));
            }
            let keys = raw_keys(lua, t)?;
            match array_len(&keys, cfg)? {
                Some(n) if n > 0 => {
                    out.push(b'[');
                    for i in 1..=n {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode_value(lua, out, t, &Value::Integer(i as i64), depth + 1, cfg)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    for (i, k) in keys.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        match k {
                            Key::Other(Value::String(s)) => encode_string(out, &s.as_bytes()),
                            Key::Number(n) => {
                                out.push(b'"');
                                encode_number(out, *n, cfg)?;
                                out.push(b'"');
                            }
                            Key::Other(k) => {
                                return Err(err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    type_name(k)
                                )))
                            }
                        }
                        out.push(b':');
                        encode_value(lua, out, t, &k.value(), depth + 1, cfg)?;
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

/// A token of lua-cjson's decoder (`json_token_type_t`); an error carries its text.
#[derive(Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Num(_) => "T_NUMBER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(what) => what,
        }
    }
}

/// lua-cjson 2.1's decoder, token by token as `json_next_token` reads them, with its
/// errors (`Expected comma or array end but found T_BOOLEAN at character 7`). The text
/// ends at its first NUL byte, as the C string lua-cjson reads does.
struct Decoder<'a> {
    s: &'a [u8],
    at: usize,
    max_depth: usize,
    depth: usize,
    invalid_numbers: bool,
    /// The last string token's bytes.
    buf: Vec<u8>,
}

impl Decoder<'_> {
    /// The byte at `i`, 0 past the end (lua-cjson's NUL terminator).
    fn peek(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    /// The next token and where it starts (for an error: where it was found).
    fn next(&mut self) -> (Tok, usize) {
        while matches!(self.peek(self.at), b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
        let start = self.at;
        let c = self.peek(start);
        let single = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            0 => return (Tok::End, start),
            _ => None,
        };
        if let Some(tok) = single {
            self.at += 1;
            return (tok, start);
        }
        let rest = &self.s[start..];
        match c {
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.invalid_numbers && self.invalid_number() {
                    return (Tok::Error("invalid number"), start);
                }
                self.number()
            }
            _ if rest.starts_with(b"true") => {
                self.at += 4;
                (Tok::Bool(true), start)
            }
            _ if rest.starts_with(b"false") => {
                self.at += 5;
                (Tok::Bool(false), start)
            }
            _ if rest.starts_with(b"null") => {
                self.at += 4;
                (Tok::Null, start)
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+'
                if self.invalid_numbers && self.invalid_number() =>
            {
                self.number()
            }
            _ => (Tok::Error("invalid token"), start),
        }
    }

    /// `json_is_invalid_number`: `+`, a leading zero, hexadecimal, `inf` or `nan`.
    fn invalid_number(&self) -> bool {
        let mut p = self.at;
        match self.peek(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.peek(p);
        if c == b'0' {
            let c2 = self.peek(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let word = self.s.get(p..p + 3).unwrap_or(b"");
        word.eq_ignore_ascii_case(b"inf") || word.eq_ignore_ascii_case(b"nan")
    }

    /// A number as C's `strtod` reads it (hexadecimal, `inf`, `nan` included).
    fn number(&mut self) -> (Tok, usize) {
        let start = self.at;
        // Every character strtod may take; it decides how many it does take.
        let span = self.s[start..]
            .iter()
            .take_while(|c| {
                c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-' | b'_' | b'(' | b')')
            })
            .count();
        let mut text = Vec::with_capacity(span + 1);
        text.extend_from_slice(&self.s[start..start + span]);
        text.push(0);
        let mut end: *mut std::os::raw::c_char = std::ptr::null_mut();
        // SAFETY: `text` is NUL-terminated and outlives the call; `end` receives a pointer
        // into it.
        let n = unsafe { libc::strtod(text.as_ptr().cast(), &mut end) };
        let used = (end as usize)
            .saturating_sub(text.as_ptr() as usize)
            .min(span);
        if used == 0 {
            return (Tok::Error("invalid number"), start);
        }
        self.at += used;
        (Tok::Num(n), start)
    }

    /// `json_next_string_token`: the string into `buf`; an error's index is where it was
    /// found.
    fn string(&mut self) -> (Tok, usize) {
        let start = self.at;
        self.at += 1;
        self.buf.clear();
        loop {
            let mut c = self.peek(self.at);
            if c == b'"' {
                break;
            }
            if c == 0 {
                return (Tok::Error("unexpected end of string"), self.at);
            }
            if c == b'\\' {
                c = match self.peek(self.at + 1) {
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return (Tok::Error("invalid unicode escape code"), self.at);
                    }
                    e @ (b'"' | b'\\' | b'/') => e,
                    b'b' => 8,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 12,
                    b'r' => b'\r',
                    _ => return (Tok::Error("invalid escape code"), self.at),
                };
                self.at += 1;
            }
            self.buf.push(c);
            self.at += 1;
        }
        self.at += 1;
        (Tok::Str, start)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let mut v = 0;
        for i in 0..4 {
            v = v << 4 | char::from(self.peek(at + i)).to_digit(16)?;
        }
        Some(v)
    }

    /// `json_append_unicode_escape` at `\uXXXX` (a surrogate pair as one).
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.at + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xf800 == 0xd800 {
            if cp & 0x400 != 0 || self.peek(self.at + 6) != b'\\' || self.peek(self.at + 7) != b'u'
            {
                return false;
            }
            match self.hex4(self.at + 8) {
                Some(low) if low & 0xfc00 == 0xdc00 => {
                    cp = (((cp & 0x3ff) << 10) | (low & 0x3ff)) + 0x10000;
                    len = 12;
                }
                _ => return false,
            }
        }
        // codepoint_to_utf8, surrogates and all.
        let b = &mut self.buf;
        if cp <= 0x7f {
            b.push(cp as u8);
        } else if cp <= 0x7ff {
            b.extend_from_slice(&[(cp >> 6) as u8 | 0xc0, (cp & 0x3f) as u8 | 0x80]);
        } else if cp <= 0xffff {
            b.extend_from_slice(&[
                (cp >> 12) as u8 | 0xe0,
                ((cp >> 6) & 0x3f) as u8 | 0x80,
                (cp & 0x3f) as u8 | 0x80,
            ]);
        } else {
            b.extend_from_slice(&[
                (cp >> 18) as u8 | 0xf0,
                ((cp >> 12) & 0x3f) as u8 | 0x80,
                ((cp >> 6) & 0x3f) as u8 | 0x80,
                (cp & 0x3f) as u8 | 0x80,
            ]);
        }
        self.at += len;
        true
    }

    fn fail<T>(&self, expected: &str, (tok, index): (Tok, usize)) -> Result<T> {
        Err(err(format!(
            "Expected {expected} but found {} at character {}",
            tok.name(),
            index + 1
        )))
    }

    /// `json_decode_descend`.
    fn descend(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth, self.at
            )));
        }
        Ok(())
    }

    /// `json_process_value` for the token just read.
    fn value(&mut self, lua: &Lua, token: (Tok, usize)) -> Result<Value> {
        Ok(match token.0 {
            Tok::Str => Value::String(lua.create_string(&self.buf)?),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Boolean(b),
            Tok::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
            Tok::ObjBegin => Value::Table(self.object(lua)?),
            Tok::ArrBegin => Value::Table(self.array(lua)?),
            _ => return self.fail("value", token),
        })
    }

    fn object(&mut self, lua: &Lua) -> Result<Table> {
        self.descend()?;
        let t = lua.create_table()?;
        let mut token = self.next();
        if token.0 == Tok::ObjEnd {
            self.depth -= 1;
            return Ok(t);
        }
        loop {
            if token.0 != Tok::Str {
                return self.fail("object key string", token);
            }
            let key = lua.create_string(&self.buf)?;
            token = self.next();
            if token.0 != Tok::Colon {
                return self.fail("colon", token);
            }
            let next = self.next();
            let v = self.value(lua, next)?;
            t.raw_set(key, v)?;
            token = self.next();
            if token.0 == Tok::ObjEnd {
                self.depth -= 1;
                return Ok(t);
            }
            if token.0 != Tok::Comma {
                return self.fail("comma or object end", token);
            }
            token = self.next();
        }
    }

    fn array(&mut self, lua: &Lua) -> Result<Table> {
        self.descend()?;
        let t = lua.create_table()?;
        let mut token = self.next();
        if token.0 == Tok::ArrEnd {
            self.depth -= 1;
            return Ok(t);
        }
        let mut i = 1;
        loop {
            let v = self.value(lua, token)?;
            t.raw_set(i, v)?;
            i += 1;
            token = self.next();
            if token.0 == Tok::ArrEnd {
                self.depth -= 1;
                return Ok(t);
            }
            if token.0 != Tok::Comma {
                return self.fail("comma or array end", token);
            }
            token = self.next();
        }
    }
}

fn decode(lua: &Lua, s: &mlua::String, c: &Config) -> Result<Value> {
    let bytes = s.as_bytes();
    if bytes.len() >= 2 && (bytes[0] == 0 || bytes[1] == 0) {
        return Err(err("JSON parser does not support UTF-16 or UTF-32".into()));
    }
    let mut d = Decoder {
        s: &bytes,
        at: 0,
        max_depth: c.decode_max_depth(),
        depth: 0,
        invalid_numbers: c.decode_invalid_numbers(),
        buf: Vec::new(),
    };
    let first = d.next();
    let v = d.value(lua, first)?;
    let last = d.next();
    if last.0 != Tok::End {
        return d.fail("the end", last);
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
    let cfg = Arc::new(Config::default());
    let c = cfg.clone();
    // Called only by `encode_front` (a C function): the script is two levels up.
    let inner = lua.create_function(move |lua, v: Value| {
        let mut out = Vec::new();
        encode(lua, &mut out, &v, 0, &c).map_err(|e| positioned(lua, 2, e))?;
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
    cjson_cfg::functions(lua, &t, Arc::as_ptr(&cfg), &inner)?;
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
    Ok(t)
}
