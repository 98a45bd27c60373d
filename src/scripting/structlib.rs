//! `struct`: Roberto Ierusalimschy's binary packing library as Redis bundles it:
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, i])`, `struct.size(fmt)`.
//!
//! Format: `<` `>` `!n` (little/big endian, alignment), `x` pad byte, `b B` (1 byte),
//! `h H` (2), `l L` `T` (8), `i I` with an optional size (default 4), `f` `d`, `cn` (n
//! bytes; `c0` takes its length from the number before it when unpacking), `s`
//! (zero-terminated), spaces ignored.

use mlua::{Lua, MultiValue, Result, Table, Value};

const MAX_INT_SIZE: usize = 32;

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

struct Format<'a> {
    fmt: &'a [u8],
    at: usize,
    little: bool,
    align: usize,
}

impl Format<'_> {
    fn new(fmt: &[u8]) -> Format<'_> {
        Format {
            fmt,
            at: 0,
            little: cfg!(target_endian = "little"),
            align: 1,
        }
    }

    fn number(&mut self, default: usize) -> usize {
        let start = self.at;
        while self.at < self.fmt.len() && self.fmt[self.at].is_ascii_digit() {
            self.at += 1;
        }
        std::str::from_utf8(&self.fmt[start..self.at])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }

    /// The next option, with the padding before it for `offset`; `None` at the end.
    fn next(&mut self, offset: usize) -> Result<Option<(Opt, usize)>> {
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
                    self.align = self.number(8);
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
                    let size = self.number(4);
                    if size > MAX_INT_SIZE {
                        return Err(err(format!(
                            "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                        )));
                    }
                    Opt::Int {
                        size,
                        signed: c == b'i',
                    }
                }
                b'f' => Opt::Float,
                b'd' => Opt::Double,
                b'c' => Opt::Chars(self.number(1)),
                b's' => Opt::Zstr,
                other => {
                    return Err(err(format!(
                        "invalid format option '{}'",
                        char::from(other)
                    )))
                }
            };
            let size = match opt {
                Opt::Int { size, .. } => size,
                Opt::Float => 4,
                Opt::Double => 8,
                _ => 1,
            };
            let align = size.min(self.align);
            let pad = if size <= 1 || align <= 1 || !align.is_power_of_two() {
                0
            } else {
                (align - (offset & (align - 1))) & (align - 1)
            };
            return Ok(Some((opt, pad)));
        }
    }
}

fn put_int(out: &mut Vec<u8>, v: i64, size: usize, little: bool) {
    let bytes: Vec<u8> = (0..size)
        .map(|i| {
            if i < 8 {
                (v >> (8 * i)) as u8
            } else if v < 0 {
                0xff
            } else {
                0
            }
        })
        .collect();
    if little {
        out.extend_from_slice(&bytes);
    } else {
        out.extend(bytes.iter().rev());
    }
}

fn pack(lua: &Lua, (fmt, args): (mlua::String, MultiValue)) -> Result<mlua::String> {
    let fmt = fmt.as_bytes();
    let mut f = Format::new(&fmt);
    let mut out = Vec::new();
    let mut args = args.into_iter();
    let mut arg_no = 1;
    let mut next_arg = || {
        arg_no += 1;
        args.next()
            .ok_or_else(|| err(format!("bad argument #{arg_no} to 'pack' (value expected)")))
    };
    while let Some((opt, pad)) = f.next(out.len())? {
        out.resize(out.len() + pad, 0);
        match opt {
            Opt::Pad => out.push(0),
            Opt::Int { size, .. } => {
                let v = match next_arg()? {
                    Value::Integer(i) => i,
                    Value::Number(n) => n as i64,
                    _ => return Err(err("bad argument to 'pack' (number expected)".into())),
                };
                put_int(&mut out, v, size, f.little);
            }
            Opt::Float | Opt::Double => {
                let v = match next_arg()? {
                    Value::Integer(i) => i as f64,
                    Value::Number(n) => n,
                    _ => return Err(err("bad argument to 'pack' (number expected)".into())),
                };
                let bytes: Vec<u8> = if matches!(opt, Opt::Float) {
                    (v as f32).to_le_bytes().to_vec()
                } else {
                    v.to_le_bytes().to_vec()
                };
                if f.little {
                    out.extend_from_slice(&bytes);
                } else {
                    out.extend(bytes.iter().rev());
                }
            }
            Opt::Chars(_) | Opt::Zstr => {
                let s = match next_arg()? {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Integer(i) => i.to_string().into_bytes(),
                    Value::Number(n) => super::convert::format_number(n).into_bytes(),
                    _ => return Err(err("bad argument to 'pack' (string expected)".into())),
                };
                if let Opt::Chars(n) = opt {
                    let n = if n == 0 { s.len() } else { n };
                    if s.len() < n {
                        return Err(err("bad argument to 'pack' (string too short)".into()));
                    }
                    out.extend_from_slice(&s[..n]);
                } else {
                    if s.contains(&0) {
                        return Err(err("bad argument to 'pack' (string contains zeros)".into()));
                    }
                    out.extend_from_slice(&s);
                    out.push(0);
                }
            }
        }
    }
    lua.create_string(&out)
}

fn unpack(
    lua: &Lua,
    (fmt, data, init): (mlua::String, mlua::String, Option<i64>),
) -> Result<MultiValue> {
    let fmt = fmt.as_bytes();
    let data = data.as_bytes();
    let mut f = Format::new(&fmt);
    let mut pos = init.unwrap_or(1).max(1) as usize - 1;
    if pos > data.len() {
        return Err(err(
            "bad argument #3 to 'unpack' (offset must be 1 or greater)".into(),
        ));
    }
    let mut values: Vec<Value> = Vec::new();
    let short = || err("bad argument #2 to 'unpack' (data string too short)".into());
    while let Some((opt, pad)) = f.next(pos)? {
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
    while let Some((opt, pad)) = f.next(total)? {
        total += pad
            + match opt {
                Opt::Pad => 1,
                Opt::Int { size, .. } => size,
                Opt::Float => 4,
                Opt::Double => 8,
                Opt::Chars(n) => n,
                Opt::Zstr => return Err(err("options 'c0' - 's' have undefined sizes".into())),
            };
    }
    Ok(total as f64)
}

pub fn open(lua: &Lua) -> Result<Table> {
    let t = lua.create_table()?;
    t.raw_set("pack", lua.create_function(pack)?)?;
    t.raw_set("unpack", lua.create_function(unpack)?)?;
    t.raw_set("size", lua.create_function(size)?)?;
    Ok(t)
}
