//! Redis's conversion rules between Lua values and RESP, both ways, and the bridge that
//! runs a script's `redis.call` on the command table.
//!
//! RESP → Lua (a command's reply inside the script): integer → number, bulk → string,
//! null bulk / null array → false (RESP2) or nil (RESP3 null), array → table, status →
//! `{ok=…}`, error → `{err=…}`; RESP3 map → `{map={…}}`, set → `{set={k=true}}`,
//! double → `{double=n}`, boolean → boolean, big number → `{big_number=…}`, verbatim →
//! `{verbatim_string={format=…, string=…}}`.
//!
//! Lua → RESP (the script's return value): string → bulk, number → integer (truncated),
//! true → `:1` and false → null (RESP2 scripts; RESP3 ones send booleans), table with `err`
//! → error, `ok` → status, `double`, `big_number`, `verbatim_string`, `map`, `set` →
//! their RESP3 types, other tables → array up to the first nil, anything else → null.

use std::sync::Arc;

use mlua::{Function, Lua, MultiValue, Table, Value};

use super::slot::HostSlot;
use crate::protocol::memcache::write_i64;
use crate::protocol::resp::{Args, Writer};

/// Where a script's commands run: a synthetic client on the RESP command table.
pub trait Host {
    /// Runs `args` for the script and appends its reply to `out` (RESP3 when `resp3`).
    /// `Err` (the error text, code first) when the script may not run it.
    fn command(&mut self, args: Args<'_>, resp3: bool, out: &mut Vec<u8>) -> Result<(), String>;

    /// The script may not write (EVAL_RO, FCALL_RO, the `no-writes` flag).
    fn deny_writes(&mut self);

    /// Whether the user running the script may run `args` (`redis.acl_check_cmd`); `None`
    /// when `args[0]` names no command.
    fn acl_check(&mut self, args: Args<'_>) -> Option<bool>;
}

/// Buffers the bridge reuses from one `redis.call` to the next (and one script run to the
/// next): the command's arguments and its reply.
#[derive(Default)]
pub struct Scratch {
    pub(super) bytes: Vec<u8>,
    pub(super) ranges: Vec<(usize, usize)>,
    pub(super) out: Vec<u8>,
}

/// Nesting past which a reply is cut with an error (a table containing itself).
const DEPTH_MAX: usize = 128;

/// A command's arguments as bytes in `bytes` and `(start, end)` ranges in `ranges`; `Err`
/// when one is not a string or a number.
fn command_args(
    args: &MultiValue,
    bytes: &mut Vec<u8>,
    ranges: &mut Vec<(usize, usize)>,
) -> Result<(), ()> {
    bytes.clear();
    ranges.clear();
    for arg in args.iter() {
        let start = bytes.len();
        match arg {
            Value::String(s) => bytes.extend_from_slice(&s.as_bytes()),
            // Lua 5.1 numbers are doubles (mlua makes integral ones `Integer`).
            Value::Integer(i) => write_command_number(bytes, *i as f64),
            Value::Number(n) => write_command_number(bytes, *n),
            _ => return Err(()),
        }
        ranges.push((start, bytes.len()));
    }
    Ok(())
}

/// `redis.acl_check_cmd`: whether the running script's user may run the command, or
/// Redis's error (no argument, an unknown command, an argument of another type) raised as
/// `redis.call` raises its errors. A Rust function, as `redis.call`, so that
/// `return redis.acl_check_cmd(...)` keeps the script's frame for the error's line.
fn acl_check_function(
    lua: &Lua,
    bridge: Table,
    slot: Arc<HostSlot>,
) -> mlua::Result<mlua::Function> {
    let pending = lua.create_string("pending")?;
    lua.create_function(move |lua, args: MultiValue| {
        let verdict = if args.is_empty() {
            Err("ERR Please specify at least one argument for this redis lib call")
        } else {
            slot.with(|frame| {
                let Scratch { bytes, ranges, .. } = &mut *frame.scratch;
                command_args(&args, bytes, ranges).map_err(|()| {
                    "ERR Lua redis lib command arguments must be strings or integers"
                })?;
                frame
                    .host
                    .acl_check(Args::new(bytes, ranges))
                    .ok_or("ERR Invalid command passed to redis.acl_check_cmd()")
            })
            .unwrap_or(Err(
                "ERR redis.acl_check_cmd can only be called inside a script invocation",
            ))
        };
        verdict.or_else(|msg| {
            let t = lua.create_table()?;
            t.raw_set("err", msg)?;
            bridge.raw_set(&pending, t)?;
            Err(mlua::Error::RuntimeError(
                "redis.acl_check_cmd failed".into(),
            ))
        })
    })
}

/// A number as C's `(long long)` cast leaves it on x86-64, which Redis applies to a Lua
/// number it replies: the integer part, and `LLONG_MIN` for NaN, infinities and anything
/// out of range (`return 1/0` and `return 1e19` answer -9223372036854775808).
pub fn c_cast(n: f64) -> i64 {
    // 2^63: every double in [-2^63, 2^63) has an i64 value.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-TWO_63..TWO_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// A Lua number as Lua 5.1 prints it (`%.14g`: `tostring`, cjson, error lines).
pub fn format_number(n: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_g(&mut out, n, 14);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends a number passed to a command as Redis 7.0 writes it (`%.17g`, so that
/// `redis.call('set', k, 0.1)` stores `0.10000000000000001`); no allocation for integral
/// values below 1e17.
pub fn write_command_number(out: &mut Vec<u8>, n: f64) {
    // `write_g`'s shortcut for integral values, its bound a constant.
    if n == n.trunc() && n.abs() < 1e17 && n != 0.0 {
        write_i64(out, n as i64);
    } else {
        write_g(out, n, 17);
    }
}

/// Appends `n` as C's `printf("%.{precision}g")` does on glibc (`-nan` for a NaN with the
/// sign bit, `-0`, at least two exponent digits). `precision` is 1 to 17.
pub fn write_g(out: &mut Vec<u8>, n: f64, precision: usize) {
    use std::io::Write;
    if n.is_nan() {
        out.extend_from_slice(if n.is_sign_negative() {
            b"-nan"
        } else {
            b"nan"
        });
        return;
    }
    if n.is_infinite() {
        out.extend_from_slice(if n < 0.0 { b"-inf" } else { b"inf" });
        return;
    }
    if n == 0.0 {
        out.extend_from_slice(if n.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // Integral values with at most `precision` digits print whole (exact below 2^63).
    if n == n.trunc() && n.abs() < 10f64.powi(precision as i32) {
        write_i64(out, n as i64);
        return;
    }
    // The exponent %g decides by is that of the value rounded to `precision` digits.
    let mut sci = [0u8; 40];
    let mut cursor = std::io::Cursor::new(&mut sci[..]);
    let _ = write!(cursor, "{:.*e}", precision - 1, n);
    let len = cursor.position() as usize;
    let sci = &sci[..len];
    let e_at = sci.iter().position(|&c| c == b'e').unwrap_or(len);
    let exp: i32 = std::str::from_utf8(&sci[(e_at + 1).min(len)..])
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    let trim = |digits: &[u8]| -> usize {
        if !digits.contains(&b'.') {
            return digits.len();
        }
        let mut end = digits.len();
        while end > 0 && digits[end - 1] == b'0' {
            end -= 1;
        }
        if end > 0 && digits[end - 1] == b'.' {
            end -= 1;
        }
        end
    };
    if exp < -4 || exp >= precision as i32 {
        let mantissa = &sci[..e_at];
        out.extend_from_slice(&mantissa[..trim(mantissa)]);
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        if exp.abs() < 10 {
            out.push(b'0');
        }
        write_i64(out, i64::from(exp.abs()));
    } else {
        let start = out.len();
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        let _ = write!(out, "{n:.decimals$}");
        let end = start + trim(&out[start..]);
        out.truncate(end);
    }
}

/// Writes a script's return value as a reply (`resp3`: the script called
/// `redis.setresp(3)`, which decides how booleans go out).
pub fn reply(value: &Value, resp3: bool, w: &mut Writer<'_>) {
    reply_at(value, resp3, w, 0);
}

fn reply_at(value: &Value, resp3: bool, w: &mut Writer<'_>, depth: usize) {
    if depth > DEPTH_MAX {
        w.error(b"ERR reached lua stack limit");
        return;
    }
    match value {
        Value::String(s) => w.bulk(&s.as_bytes()),
        Value::Boolean(b) if resp3 => w.boolean(*b),
        Value::Boolean(true) => w.integer(1),
        Value::Integer(i) => w.integer(*i),
        Value::Number(n) => w.integer(c_cast(*n)),
        Value::Table(t) => reply_table(t, resp3, w, depth),
        _ => w.null(),
    }
}

fn reply_table(t: &Table, resp3: bool, w: &mut Writer<'_>, depth: usize) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        return w.error(&one_line(&e.as_bytes()));
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        return w.simple(&one_line(&s.as_bytes()));
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        return w.double(d);
    }
    if let Ok(Value::Integer(d)) = t.raw_get::<Value>("double") {
        return w.double(d as f64);
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        let s = one_line(&s.as_bytes());
        if w.resp3 {
            w.out.push(b'(');
            w.out.extend_from_slice(&s);
            w.out.extend_from_slice(b"\r\n");
        } else {
            w.bulk(&s);
        }
        return;
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(f)), Ok(Value::String(s))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            let f = f.as_bytes();
            let mut format = [b' '; 3];
            for (d, s) in format.iter_mut().zip(f.iter()) {
                *d = *s;
            }
            return w.verbatim(&format, &s.as_bytes());
        }
    }
    // Values are counted first and then written one at a time: each Lua value held in Rust
    // takes a slot of mlua's reference stack (8,000 at most), so a large table must never
    // be collected into a Vec.
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        w.map(m.pairs::<Value, Value>().filter_map(Result::ok).count());
        for (k, v) in m.pairs::<Value, Value>().filter_map(Result::ok) {
            reply_at(&k, resp3, w, depth + 1);
            reply_at(&v, resp3, w, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        w.set(s.pairs::<Value, Value>().filter_map(Result::ok).count());
        for (k, _) in s.pairs::<Value, Value>().filter_map(Result::ok) {
            reply_at(&k, resp3, w, depth + 1);
        }
        return;
    }
    let len = (1..)
        .take_while(|&i| !matches!(t.raw_get::<Value>(i), Ok(Value::Nil) | Err(_)))
        .count();
    w.array(len);
    for i in 1..=len {
        let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
        reply_at(&v, resp3, w, depth + 1);
    }
}

/// Line breaks become spaces, as Redis sends status and error text.
fn one_line(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

/// The reply for a script that failed: the error handler's `{err, source, line}`, or the
/// message Lua gave without it (out of memory).
pub fn error_reply(value: &Value, name: &str, w: &mut Writer<'_>) {
    match value {
        Value::Table(t) => {
            let mut msg = match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => one_line(&s.as_bytes()),
                _ => b"ERR unknown error".to_vec(),
            };
            if let (Ok(Value::String(source)), Ok(line)) =
                (t.raw_get::<Value>("source"), t.raw_get::<Value>("line"))
            {
                let line = match line {
                    Value::Integer(n) => n.to_string(),
                    Value::Number(n) => format_number(n),
                    _ => String::new(),
                };
                if !line.is_empty() {
                    msg.extend_from_slice(
                        format!(
                            " script: {name}, on {}:{line}.",
                            String::from_utf8_lossy(&source.as_bytes())
                        )
                        .as_bytes(),
                    );
                }
            }
            w.error(&msg);
        }
        other => {
            let text = match other {
                Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                _ => "execution failure".into(),
            };
            let text: String = text.chars().take(100).collect();
            w.error(&one_line(
                format!("ERR Error running script {name}, {text}").as_bytes(),
            ));
        }
    }
}

/// An mlua error as the text Lua gave it.
pub fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::MemoryError(_) => "not enough memory".into(),
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        other => other.to_string(),
    }
}

/// `e` with the position of the Lua function `level` frames up (1: the caller of a Rust
/// callback), as `luaL_error` prefixes its messages (`user_script:1: `); a C caller (or
/// none) adds nothing. Only errors raised as messages are changed.
pub fn positioned(lua: &Lua, level: usize, e: mlua::Error) -> mlua::Error {
    let mlua::Error::RuntimeError(msg) = e else {
        return e;
    };
    let at = lua.inspect_stack(level).and_then(|d| {
        let line = d.curr_line();
        let src = d.source().short_src.map(|s| s.into_owned());
        (line > 0).then(|| format!("{}:{line}: ", src.unwrap_or_default()))
    });
    mlua::Error::RuntimeError(format!("{}{msg}", at.unwrap_or_default()))
}

/// Rust helpers for the prelude: `call` and `pcall` (C functions, see `call.rs`; the `redis`
/// table keeps them for good), `acl_check` (see [`acl_check_function`]), `where` (the error handler's source and line of the
/// function that raised, skipping C functions and the prelude), `describe` (an error
/// raised by Rust as its message), `sha1hex`, and `protected` (the sandbox's weak table of
/// read-only tables) with `sandbox`, the base functions that read it (`sandbox.rs`).
pub fn helpers(lua: &Lua, bridge: &Table, slot: &Arc<HostSlot>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("results_max", super::RESULTS_MAX)?;
    let protected = lua.create_table()?;
    let weak_keys = lua.create_table()?;
    weak_keys.raw_set("__mode", "k")?;
    protected.set_metatable(Some(weak_keys));
    let sandbox = lua.create_table()?;
    for (name, f) in super::sandbox::functions(lua, &protected)? {
        sandbox.raw_set(name, f)?;
    }
    t.raw_set(
        "load_front",
        lua.create_function(|lua, f: Function| super::sandbox::load_front(lua, &f))?,
    )?;
    t.raw_set("protected", protected)?;
    t.raw_set("sandbox", sandbox)?;
    t.raw_set("call", super::call::call_function::<true>(lua, slot)?)?;
    t.raw_set("pcall", super::call::call_function::<false>(lua, slot)?)?;
    let resp_slot = slot.clone();
    let apply = lua.create_function(move |_, v: i64| {
        resp_slot.with(|frame| frame.resp3 = v == 3);
        Ok(())
    })?;
    let (sha1hex, setresp) = super::redisfns::functions(lua, apply)?;
    t.raw_set("setresp", setresp)?;
    t.raw_set("sha1hex", sha1hex)?;
    t.raw_set(
        "acl_check",
        acl_check_function(lua, bridge.clone(), slot.clone())?,
    )?;
    t.raw_set(
        "describe",
        lua.create_function(|lua, v: Value| match v {
            Value::Error(e) => Ok(Value::String(lua.create_string(error_text(&e))?)),
            other => Ok(other),
        })?,
    )?;
    t.raw_set(
        "where",
        lua.create_function(|lua, ()| {
            for level in 1..16 {
                let Some(d) = lua.inspect_stack(level) else {
                    break;
                };
                let src = d.source();
                let source = src.source.as_deref().unwrap_or("").to_string();
                if src.what == "C" || source == "@redis_lib" {
                    continue;
                }
                return Ok((Some(source), Some(d.curr_line())));
            }
            Ok((None, None))
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_lua_does() {
        assert_eq!(format_number(3.0), "3");
        assert_eq!(format_number(-17.0), "-17");
        assert_eq!(format_number(0.1), "0.1");
        assert_eq!(format_number(1.5e300), "1.5e+300");
        assert_eq!(format_number(1e15), "1e+15");
        assert_eq!(format_number(123456.789), "123456.789");
        assert_eq!(format_number(0.0001), "0.0001");
        assert_eq!(format_number(0.00001), "1e-05");
        assert_eq!(format_number(1.0 / 3.0), "0.33333333333333");
        assert_eq!(format_number(-0.0), "-0");
        assert_eq!(format_number(1e14), "1e+14");
        assert_eq!(format_number(99999999999999.0), "99999999999999");
        assert_eq!(format_number(f64::NAN), "nan");
        assert_eq!(format_number(-f64::INFINITY), "-inf");
    }

    /// `printf("%.17g")` on glibc, as redis-server 7.0.15 stores numbers a script passes to
    /// commands (`redis.call('set', 'k', n)`).
    #[test]
    fn command_numbers_print_as_redis_does() {
        for (n, want) in [
            (0.1, "0.10000000000000001"),
            (3.0, "3"),
            (-0.0, "-0"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1e300, "1.0000000000000001e+300"),
            (1.0 / 3.0, "0.33333333333333331"),
            (9007199254740992.0, "9007199254740992"),
            (-9223372036854775808.0, "-9.2233720368547758e+18"),
            (123456.789, "123456.789"),
            (1e-5, "1.0000000000000001e-05"),
            (0.5, "0.5"),
            (f64::INFINITY, "inf"),
        ] {
            let mut out = Vec::new();
            write_command_number(&mut out, n);
            assert_eq!(String::from_utf8_lossy(&out), want, "{n:e}");
        }
    }
}
