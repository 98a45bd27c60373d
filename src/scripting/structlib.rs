//! `struct`: Roberto Ierusalimschy's binary packing library as Redis bundles it:
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, i])`, `struct.size(fmt)`.
//!
//! Format: `<` `>` `!n` (little/big endian, alignment), `x` pad byte, `b B` (1 byte),
//! `h H` (2), `l L` `T` (8), `i I` with an optional size (default 4), `f` `d`, `cn` (n
//! bytes; `c0` takes its length from the number before it when unpacking), `s`
//! (zero-terminated), spaces ignored.

use std::os::raw::c_int;

use mlua::{ffi, Lua, MultiValue, Result, Table, Value};

const MAX_INT_SIZE: usize = 32;

/// `!` without a number: the platform's largest alignment, as lua_struct's `MAXALIGN`.
const MAX_ALIGN: usize = 8;

fn err(msg: String) -> mlua::Error {
    mlua::Error::RuntimeError(msg)
}

/// One option of a format string.
#[derive(Clone, Copy, Debug)]
enum Opt {
    Pad,
    Int { size: usize, signed: bool },
    Float,
    Double,
    Chars(usize),
    Zstr,
}

/// A format string's error, as lua_struct raises it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum FmtError {
    /// `integral size overflow` (a size past `INT_MAX`).
    Overflow,
    /// `integral size N is larger than limit of 32`.
    IntSize(usize),
    /// `alignment N is not a power of 2`.
    Align(usize),
    /// `bad argument #1 to 'f' (invalid format option 'c')`.
    Option(u8),
}

impl FmtError {
    /// The message for the function `func` (`pack`, `unpack`, `size`), without position.
    fn message(self, func: &str) -> String {
        match self {
            FmtError::Overflow => "integral size overflow".into(),
            FmtError::IntSize(n) => {
                format!("integral size {n} is larger than limit of {MAX_INT_SIZE}")
            }
            FmtError::Align(n) => format!("alignment {n} is not a power of 2"),
            FmtError::Option(c) => format!(
                "bad argument #1 to '{func}' (invalid format option '{}')",
                char::from(c)
            ),
        }
    }
}

/// An error at the calling script's line (as `luaL_error` places it).
fn fail(lua: &Lua, e: mlua::Error) -> mlua::Error {
    super::convert::positioned(lua, 1, e)
}

struct Format<'a> {
    fmt: &'a [u8],
    at: usize,
    little: bool,
    align: usize,
}

impl Format<'_> {
    /// The format up to its first zero byte (lua_struct reads a C string).
    fn new(fmt: &[u8]) -> Format<'_> {
        let end = fmt.iter().position(|&b| b == 0).unwrap_or(fmt.len());
        Format {
            fmt: &fmt[..end],
            at: 0,
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }

    fn number(&mut self, default: usize) -> std::result::Result<usize, FmtError> {
        if !self.fmt.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: usize = 0;
        while let Some(&d) = self.fmt.get(self.at).filter(|d| d.is_ascii_digit()) {
            a = a * 10 + usize::from(d - b'0');
            if a > i32::MAX as usize {
                return Err(FmtError::Overflow);
            }
            self.at += 1;
        }
        Ok(a)
    }

    /// The next option, with the padding before it for `offset`; `None` at the end.
    fn next(&mut self, offset: usize) -> std::result::Result<Option<(Opt, usize)>, FmtError> {
        loop {
            let Some(&c) = self.fmt.get(self.at) else {
                return Ok(None);
            };
            self.at += 1;
            let opt = match c {
                b' ' => continue,
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'!' => {
                    let a = self.number(MAX_ALIGN)?;
                    if !a.is_power_of_two() {
                        return Err(FmtError::Align(a));
                    }
                    self.align = a;
                    continue;
                }
                b'x' => Opt::Pad,
                b'b' | b'B' => Opt::Int {
                    size: 1,
                    signed: c == b'b',
                },
                b'h' | b'H' => Opt::Int {
                    size: 2,
                    signed: c == b'h',
                },
                b'l' | b'L' => Opt::Int {
                    size: 8,
                    signed: c == b'l',
                },
                b'T' => Opt::Int {
                    size: 8,
                    signed: false,
                },
                b'i' | b'I' => {
                    let size = self.number(4)?;
                    if size > MAX_INT_SIZE {
                        return Err(FmtError::IntSize(size));
                    }
                    Opt::Int {
                        size,
                        signed: c == b'i',
                    }
                }
                b'f' => Opt::Float,
                b'd' => Opt::Double,
                b'c' => Opt::Chars(self.number(1)?),
                b's' => Opt::Zstr,
                other => return Err(FmtError::Option(other)),
            };
            // lua_struct's `gettoalign`: none for `c`, `s` and size 0, else up to the
            // smaller of the size and the alignment (a power of two or not).
            let size = match opt {
                Opt::Int { size, .. } => size,
                Opt::Float => 4,
                Opt::Double => 8,
                Opt::Pad => 1,
                Opt::Chars(_) | Opt::Zstr => 0,
            };
            let s = size.min(self.align);
            let pad = if s == 0 {
                0
            } else {
                s.wrapping_sub(offset & (s - 1)) & (s - 1)
            };
            return Ok(Some((opt, pad)));
        }
    }
}

/// `n` as lua_struct's `putinteger` stores it: the low `size` bytes of the 64-bit integer
/// (its two's complement when negative), zeros past the 8th.
fn int_bytes(n: f64, size: usize, little: bool, out: &mut [u8; MAX_INT_SIZE]) {
    let v = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    for (i, b) in out[..size].iter_mut().enumerate() {
        *b = if i < 8 { (v >> (8 * i)) as u8 } else { 0 };
    }
    if !little {
        out[..size].reverse();
    }
}

/// A string being built on the Lua stack, as C's `luaL_Buffer` (which mlua's bindings
/// lack): bytes gather in a stack array of `LUAL_BUFFERSIZE` (8 KiB, glibc's `BUFSIZ`)
/// and go to Lua strings, concatenated every [`Buf::PIECES`] pieces. No destructor, so a
/// Lua error may unwind past it.
struct Buf {
    bytes: [u8; 8192],
    len: usize,
    pieces: c_int,
}

impl Buf {
    const PIECES: c_int = 8;

    fn new() -> Buf {
        Buf {
            bytes: [0; 8192],
            len: 0,
            pieces: 0,
        }
    }

    /// # Safety
    /// A running C function's state with [`Buf::PIECES`] + 1 free slots.
    unsafe fn add(&mut self, state: *mut ffi::lua_State, b: &[u8]) {
        if self.len + b.len() > self.bytes.len() {
            self.flush(state);
        }
        if b.len() > self.bytes.len() {
            ffi::lua_pushlstring_(state, b.as_ptr().cast(), b.len());
            self.piece(state);
        } else {
            self.bytes[self.len..self.len + b.len()].copy_from_slice(b);
            self.len += b.len();
        }
    }

    /// # Safety
    /// As [`Buf::add`].
    unsafe fn flush(&mut self, state: *mut ffi::lua_State) {
        if self.len > 0 {
            ffi::lua_pushlstring_(state, self.bytes.as_ptr().cast(), self.len);
            self.len = 0;
            self.piece(state);
        }
    }

    unsafe fn piece(&mut self, state: *mut ffi::lua_State) {
        self.pieces += 1;
        if self.pieces >= Self::PIECES {
            ffi::lua_concat(state, self.pieces);
            self.pieces = 1;
        }
    }

    /// Leaves the whole string on top.
    ///
    /// # Safety
    /// As [`Buf::add`].
    unsafe fn finish(mut self, state: *mut ffi::lua_State) {
        self.flush(state);
        ffi::lua_concat(state, self.pieces);
    }
}

/// Raises `fmt`'s error as lua_struct does (`luaL_argerror` for an unknown option, else
/// `luaL_error`, both at the script's line).
///
/// # Safety
/// A running C function's state; jumps out (nothing here has a destructor once the
/// message is a Lua string).
unsafe fn raise_format(state: *mut ffi::lua_State, e: FmtError) -> ! {
    let mut text = [0u8; 96];
    let len = {
        let msg = match e {
            FmtError::Option(c) => format!("invalid format option '{}'", char::from(c)),
            other => other.message("pack"),
        };
        let len = msg.len().min(text.len());
        text[..len].copy_from_slice(&msg.as_bytes()[..len]);
        len
    };
    if let FmtError::Option(_) = e {
        ffi::lua_pushlstring_(state, text.as_ptr().cast(), len);
        ffi::luaL_argerror(
            state,
            1,
            ffi::lua_tolstring(state, -1, std::ptr::null_mut()),
        );
    } else {
        ffi::luaL_where(state, 1);
        ffi::lua_pushlstring_(state, text.as_ptr().cast(), len);
        ffi::lua_concat(state, 2);
        ffi::lua_error(state);
    }
    unreachable!("lua_error returns no control")
}

/// `struct.pack(fmt, ...)` as lua_struct's `b_pack`, a raw C function: numbers are read
/// as Lua holds them (through mlua, any number within 2.2e-16 of -1, 0 or 1 read as that
/// integer, so `1e-20` packed as 0), strings that convert are numbers and numbers are
/// strings where lua_struct's `luaL_check*` allow it, and argument errors are Lua's.
unsafe extern "C-unwind" fn pack(state: *mut ffi::lua_State) -> c_int {
    // SAFETY (this function): Lua calls it with its arguments on its own stack; the
    // format's bytes stay alive on it (index 1) throughout; the nil mark and
    // `Buf` keep at most `Buf::PIECES` + 2 values above the arguments (checked below);
    // nothing in this frame has a destructor when a `luaL_*` check or `raise_format`
    // jumps out of it.
    let mut flen = 0;
    let fp = ffi::luaL_checklstring(state, 1, &mut flen);
    let fmt = std::slice::from_raw_parts(fp.cast::<u8>(), flen);
    ffi::luaL_checkstack(state, Buf::PIECES + 3, c"string buffer".as_ptr());
    let mut f = Format::new(fmt);
    // lua_struct's mark between the arguments and the buffer: an argument past the last
    // given reads it ("number expected, got nil").
    ffi::lua_pushnil(state);
    let mut b = Buf::new();
    let mut arg: c_int = 2;
    let mut total = 0usize;
    loop {
        let (opt, pad) = match f.next(total) {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(e) => raise_format(state, e),
        };
        for _ in 0..pad {
            b.add(state, &[0]);
        }
        total += pad;
        match opt {
            Opt::Pad => {
                b.add(state, &[0]);
                total += 1;
            }
            Opt::Int { size, .. } => {
                let n = ffi::luaL_checknumber(state, arg);
                arg += 1;
                let mut bytes = [0u8; MAX_INT_SIZE];
                int_bytes(n, size, f.little, &mut bytes);
                b.add(state, &bytes[..size]);
                total += size;
            }
            Opt::Float | Opt::Double => {
                let n = ffi::luaL_checknumber(state, arg);
                arg += 1;
                let (mut bytes, size) = if matches!(opt, Opt::Float) {
                    let mut x = [0u8; 8];
                    x[..4].copy_from_slice(&(n as f32).to_le_bytes());
                    (x, 4)
                } else {
                    (n.to_le_bytes(), 8)
                };
                if !f.little {
                    bytes[..size].reverse();
                }
                b.add(state, &bytes[..size]);
                total += size;
            }
            Opt::Chars(_) | Opt::Zstr => {
                let mut len = 0;
                let p = ffi::luaL_checklstring(state, arg, &mut len);
                arg += 1;
                let size = match opt {
                    Opt::Chars(n) if n > 0 => n,
                    _ => len,
                };
                // lua_struct checks the length against the argument after this one.
                if len < size {
                    ffi::luaL_argerror(state, arg, c"string too short".as_ptr());
                }
                b.add(state, std::slice::from_raw_parts(p.cast::<u8>(), size));
                total += size;
                if let Opt::Zstr = opt {
                    b.add(state, &[0]);
                    total += 1;
                }
            }
        }
    }
    b.finish(state);
    1
}

fn unpack(
    lua: &Lua,
    (fmt, data, init): (mlua::String, mlua::String, Option<i64>),
) -> Result<MultiValue> {
    let fmt = fmt.as_bytes();
    let data = data.as_bytes();
    let mut f = Format::new(&fmt);
    let init = init.unwrap_or(1);
    if init < 1 {
        return Err(err(
            "bad argument #3 to 'unpack' (offset must be 1 or greater)".into(),
        ));
    }
    let mut pos = usize::try_from(init - 1).unwrap_or(usize::MAX);
    let mut values: Vec<Value> = Vec::new();
    let short = || err("bad argument #2 to 'unpack' (data string too short)".into());
    while let Some((opt, pad)) = f.next(pos).map_err(|e| err(e.message("unpack")))? {
        if values.len() >= super::RESULTS_MAX {
            return Err(err("too many results to unpack".into()));
        }
        pos += pad;
        match opt {
            Opt::Pad => pos += 1,
            Opt::Int { size, signed } => {
                let bytes = data.get(pos..pos + size).ok_or_else(short)?;
                let mut v: u64 = 0;
                let ordered: Vec<u8> = if f.little {
                    bytes.iter().rev().copied().collect()
                } else {
                    bytes.to_vec()
                };
                for &b in ordered.iter().skip(size.saturating_sub(8)) {
                    v = (v << 8) | u64::from(b);
                }
                let n = if signed && size < 8 && size > 0 && v & (1 << (size * 8 - 1)) != 0 {
                    (v | (u64::MAX << (size * 8))) as i64 as f64
                } else if signed {
                    v as i64 as f64
                } else {
                    v as f64
                };
                values.push(Value::Number(n));
                pos += size;
            }
            Opt::Float | Opt::Double => {
                let size = if matches!(opt, Opt::Float) { 4 } else { 8 };
                let bytes = data.get(pos..pos + size).ok_or_else(short)?;
                let mut b: Vec<u8> = bytes.to_vec();
                if !f.little {
                    b.reverse();
                }
                let n = if size == 4 {
                    f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                } else {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                };
                values.push(Value::Number(n));
                pos += size;
            }
            Opt::Chars(n) => {
                let n = if n == 0 {
                    match values.pop() {
                        Some(Value::Number(len)) if len >= 0.0 => len as usize,
                        _ => return Err(err("format 'c0' needs a previous size".into())),
                    }
                } else {
                    n
                };
                let bytes = data.get(pos..pos + n).ok_or_else(short)?;
                values.push(Value::String(lua.create_string(bytes)?));
                pos += n;
            }
            Opt::Zstr => {
                let rest = data.get(pos..).unwrap_or(&[]);
                let end = rest
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or_else(|| err("unfinished string in data".into()))?;
                values.push(Value::String(lua.create_string(&rest[..end])?));
                pos += end + 1;
            }
        }
    }
    values.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_iter(values))
}

fn size(_: &Lua, fmt: mlua::String) -> Result<f64> {
    let fmt = fmt.as_bytes();
    let mut f = Format::new(&fmt);
    let mut total = 0usize;
    let fixed = |what: &str| {
        err(format!(
            "bad argument #1 to 'size' (option '{what}' has no fixed size)"
        ))
    };
    loop {
        let (opt, pad) = match f.next(total) {
            Ok(Some(next)) => next,
            Ok(None) => break,
            // lua_struct's `b_size` sizes an unknown letter or digit as 0.
            Err(FmtError::Option(c)) if c.is_ascii_alphanumeric() => continue,
            Err(e) => return Err(err(e.message("size"))),
        };
        total += pad
            + match opt {
                Opt::Pad => 1,
                Opt::Int { size, .. } => size,
                Opt::Float => 4,
                Opt::Double => 8,
                Opt::Chars(0) => return Err(fixed("c0")),
                Opt::Chars(n) => n,
                Opt::Zstr => return Err(fixed("s")),
            };
    }
    Ok(total as f64)
}

pub fn open(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    // SAFETY: `pack` is a Lua C function written to the C API's rules (see there).
    t.raw_set("pack", unsafe { lua.create_c_function(pack)? })?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, args| unpack(lua, args).map_err(|e| fail(lua, e)))?,
    )?;
    t.raw_set(
        "size",
        lua.create_function(|lua, fmt| size(lua, fmt).map_err(|e| fail(lua, e)))?,
    )?;
    Ok(t)
}
