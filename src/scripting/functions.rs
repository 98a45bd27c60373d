//! Redis 7 functions: libraries of Lua functions, loaded by FUNCTION LOAD and called by
//! FCALL, kept as Redis 7.0 keeps them (`functions.c`, `function_lua.c`).
//!
//! A library is its code (with the `#!lua name=<lib>` line) and the functions its code
//! registered with `redis.register_function` while it loaded. Library names are compared
//! as given; function names ignoring ASCII case, across every library (`FCALL TEST` finds
//! `test`). FUNCTION DUMP writes the libraries as Redis's DUMP payload does: per library
//! `0xf5` (RDB_OPCODE_FUNCTION2) and the code as an RDB string, then the RDB version (2
//! bytes, little-endian) and a CRC-64 of everything before it (8 bytes, little-endian).

use std::collections::{BTreeMap, HashMap};

use mlua::RegistryKey;

use crate::protocol::resp::splitargs::split_args;

/// Script flags, as Redis's `scripts_flags_def` (bit values are slabd's own).
pub const NO_WRITES: u8 = 1;
pub const ALLOW_OOM: u8 = 2;
pub const ALLOW_STALE: u8 = 4;
pub const NO_CLUSTER: u8 = 8;
pub const ALLOW_CROSS_SLOT: u8 = 16;

/// The flags' names, in the order FUNCTION LIST shows them.
pub const FLAG_NAMES: [(u8, &str); 5] = [
    (NO_WRITES, "no-writes"),
    (ALLOW_OOM, "allow-oom"),
    (ALLOW_STALE, "allow-stale"),
    (NO_CLUSTER, "no-cluster"),
    (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
];

/// The one engine, as FUNCTION LIST and STATS name it.
pub const ENGINE: &str = "LUA";

const OPCODE_FUNCTION2: u8 = 245;
const OPCODE_FUNCTION: u8 = 246;

/// One registered function.
pub struct FunctionInfo {
    pub name: String,
    pub desc: Option<Vec<u8>>,
    pub flags: u8,
    /// In the Lua registry: a value held in Rust would take a slot of mlua's bounded
    /// reference stack.
    pub(super) callback: RegistryKey,
}

/// One library: its whole code and its functions in registration order.
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: Vec<FunctionInfo>,
}

/// Every library, and every function name (lower-cased) to its library.
#[derive(Default)]
pub struct Libraries {
    libs: BTreeMap<String, Library>,
    functions: HashMap<Vec<u8>, String>,
}

impl Libraries {
    /// Libraries in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    pub fn library_count(&self) -> usize {
        self.libs.len()
    }

    pub fn function_count(&self) -> usize {
        self.functions.len()
    }

    pub fn get_library(&self, name: &str) -> Option<&Library> {
        self.libs.get(name)
    }

    /// A function by name, ignoring ASCII case.
    pub fn function(&self, name: &[u8]) -> Option<&FunctionInfo> {
        let lib = self.functions.get(&name.to_ascii_lowercase())?;
        self.libs[lib]
            .functions
            .iter()
            .find(|f| f.name.as_bytes().eq_ignore_ascii_case(name))
    }

    fn has_function(&self, name: &str) -> bool {
        self.functions
            .contains_key(&name.as_bytes().to_ascii_lowercase())
    }

    /// Adds `lib` (its name and functions must not collide).
    pub(super) fn link(&mut self, lib: Library) {
        for f in &lib.functions {
            self.functions
                .entry(f.name.as_bytes().to_ascii_lowercase())
                .or_insert_with(|| lib.name.clone());
        }
        self.libs.insert(lib.name.clone(), lib);
    }

    /// Removes and returns library `name`.
    pub(super) fn unlink(&mut self, name: &str) -> Option<Library> {
        let lib = self.libs.remove(name)?;
        for f in &lib.functions {
            let key = f.name.as_bytes().to_ascii_lowercase();
            if self.functions.get(&key) == Some(&lib.name) {
                self.functions.remove(&key);
            }
        }
        Some(lib)
    }

    /// The first of `lib`'s functions that another library already has.
    pub(super) fn collision<'a>(&self, lib: &'a Library) -> Option<&'a str> {
        lib.functions
            .iter()
            .find(|f| self.has_function(&f.name))
            .map(|f| f.name.as_str())
    }

    /// Moves every library of `src` in (Redis's `libraryJoin`); on a collision nothing
    /// changes and the error says which.
    pub(super) fn join(&mut self, src: Libraries, replace: bool) -> Result<(), String> {
        let mut replaced = Vec::new();
        let mut failed = None;
        for name in src.libs.keys() {
            if self.libs.contains_key(name) {
                if !replace {
                    failed = Some(format!("Library {name} already exists"));
                    break;
                }
                replaced.extend(self.unlink(name));
            }
        }
        if failed.is_none() {
            failed = src
                .libs
                .values()
                .find_map(|lib| self.collision(lib))
                .map(|f| format!("Function {f} already exists"));
        }
        if let Some(err) = failed {
            for lib in replaced {
                self.link(lib);
            }
            return Err(err);
        }
        for (_, lib) in src.libs {
            self.link(lib);
        }
        Ok(())
    }

    /// FUNCTION DUMP's payload.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for lib in self.libs.values() {
            out.push(OPCODE_FUNCTION2);
            rdb_string(&mut out, &lib.code);
        }
        crate::persist::dump::seal(out)
    }
}

/// The library codes in a FUNCTION RESTORE payload, in order; Redis's error otherwise.
pub fn parse_dump(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let body = crate::persist::dump::verify(payload)
        .ok_or("DUMP payload version or checksum are wrong")?;
    let mut pos = 0;
    let mut codes = Vec::new();
    while pos < body.len() {
        let kind = body[pos];
        pos += 1;
        match kind {
            OPCODE_FUNCTION2 => {
                codes.push(read_rdb_string(body, &mut pos).ok_or("Failed loading library payload")?)
            }
            OPCODE_FUNCTION => {
                // Redis 7.0 rc1/rc2: name, engine, description flag, [description], code.
                let name = read_rdb_string(body, &mut pos).ok_or("Failed loading library name")?;
                let engine = read_rdb_string(body, &mut pos).ok_or("Failed loading engine name")?;
                let has_desc = read_rdb_len(body, &mut pos)
                    .ok_or("Failed loading library description indicator")?;
                if has_desc != 0 {
                    read_rdb_string(body, &mut pos).ok_or("Failed loading library description")?;
                }
                let blob = read_rdb_string(body, &mut pos).ok_or("Failed loading library blob")?;
                let mut code = b"#!".to_vec();
                code.extend_from_slice(&engine);
                code.extend_from_slice(b" name=");
                code.extend_from_slice(&name);
                code.push(b'\n');
                code.extend_from_slice(&blob);
                codes.push(code);
            }
            _ => return Err("given type is not a function".into()),
        }
    }
    Ok(codes)
}

/// An RDB length-prefixed raw string.
fn rdb_string(out: &mut Vec<u8>, s: &[u8]) {
    let n = s.len();
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
    } else if n <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// An RDB length, or the encoding tag (`Err`) of a specially encoded string.
fn read_len_or_encoding(b: &[u8], pos: &mut usize) -> Option<Result<u64, u8>> {
    let first = *b.get(*pos)?;
    *pos += 1;
    let mut take = |n: usize| -> Option<&[u8]> {
        let s = b.get(*pos..*pos + n)?;
        *pos += n;
        Some(s)
    };
    Some(match first >> 6 {
        0 => Ok(u64::from(first & 0x3f)),
        1 => Ok(u64::from(first & 0x3f) << 8 | u64::from(take(1)?[0])),
        2 if first == 0x80 => Ok(u64::from(u32::from_be_bytes(take(4)?.try_into().ok()?))),
        2 if first == 0x81 => Ok(u64::from_be_bytes(take(8)?.try_into().ok()?)),
        2 => return None,
        _ => Err(first & 0x3f),
    })
}

fn read_rdb_len(b: &[u8], pos: &mut usize) -> Option<u64> {
    read_len_or_encoding(b, pos)?.ok()
}

/// An RDB string: raw, integer-encoded or LZF-compressed (Redis compresses strings over
/// 20 bytes when `rdbcompression` is on).
fn read_rdb_string(b: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let take = |pos: &mut usize, n: usize| -> Option<Vec<u8>> {
        let s = b.get(*pos..pos.checked_add(n)?)?;
        *pos += n;
        Some(s.to_vec())
    };
    match read_len_or_encoding(b, pos)? {
        Ok(n) => take(pos, usize::try_from(n).ok()?),
        Err(0) => Some((take(pos, 1)?[0] as i8).to_string().into_bytes()),
        Err(1) => {
            let v = take(pos, 2)?;
            Some(i16::from_le_bytes([v[0], v[1]]).to_string().into_bytes())
        }
        Err(2) => {
            let v = take(pos, 4)?;
            Some(
                i32::from_le_bytes(v.try_into().ok()?)
                    .to_string()
                    .into_bytes(),
            )
        }
        Err(3) => {
            let clen = usize::try_from(read_rdb_len(b, pos)?).ok()?;
            let len = usize::try_from(read_rdb_len(b, pos)?).ok()?;
            let packed = take(pos, clen)?;
            crate::persist::lzf::decompress(&packed, len).ok()
        }
        Err(_) => None,
    }
}

/// What the `#!<engine> name=<lib>` line of a library says.
pub struct Metadata {
    pub engine: Vec<u8>,
    pub name: Vec<u8>,
    /// Where the code after the line starts (at its `\n`, so line numbers stay right).
    pub body: usize,
}

/// Reads a library's first line as Redis's `functionExtractLibMetaData`.
pub fn metadata(code: &[u8]) -> Result<Metadata, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let end = code
        .iter()
        .position(|&c| c == b'\n')
        .ok_or("Invalid library metadata")?;
    let parts = split_args(&code[..end])
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or("Invalid library metadata")?;
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_vec());
        } else {
            return Err(format!(
                "Invalid metadata value given: {}",
                String::from_utf8_lossy(part)
            ));
        }
    }
    Ok(Metadata {
        engine: parts[0][2.min(parts[0].len())..].to_vec(),
        name: name.ok_or("Library name was not given")?,
        body: end,
    })
}

/// Letters, digits and `_`, at least one (Redis's `functionsVerifyName`).
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// The flags of an EVAL script's `#!lua flags=a,b` line, with where its body starts;
/// `(None, 0)` without a shebang (Redis's compatibility mode).
pub fn eval_shebang(body: &[u8]) -> Result<(Option<u8>, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((None, 0));
    }
    let end = body
        .iter()
        .position(|&c| c == b'\n')
        .ok_or("Invalid script shebang")?;
    let parts = split_args(&body[..end])
        .ok()
        .filter(|p| !p.is_empty())
        .ok_or("Invalid engine in script shebang")?;
    if parts[0] != b"#!lua" {
        return Err(format!(
            "Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(&parts[0])
        ));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(format!(
                "Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            ));
        };
        // Redis splits on ',' keeping empty pieces only between commas ("a,,b" fails).
        if list.is_empty() {
            continue;
        }
        for flag in list.split(|&c| c == b',') {
            let bit = FLAG_NAMES
                .iter()
                .find(|(_, n)| n.as_bytes() == flag)
                .map(|(b, _)| *b)
                .ok_or_else(|| {
                    format!(
                        "Unexpected flag in script shebang: {}",
                        String::from_utf8_lossy(flag)
                    )
                })?;
            flags |= bit;
        }
    }
    Ok((Some(flags), end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_headers_split_as_redis_7_0_splits_them() {
        // redis-server 7.0.15 answers FUNCTION LOAD with these names / errors.
        let name = |code: &[u8]| metadata(code).map(|m| m.name);
        assert_eq!(
            name(b"#!lua name=\"my\\x41lib\"\nreturn 1"),
            Ok(b"myAlib".to_vec())
        );
        assert_eq!(
            name(b"#!lua name=x\x0bname=y\n"),
            Ok(b"x\x0bname=y".to_vec())
        );
        assert_eq!(
            name(b"#!lua name=\"unbalanced\nreturn 1"),
            Err("Invalid library metadata".to_string())
        );
    }

    #[test]
    fn library_metadata_as_redis_reads_it() {
        let md = metadata(b"#!lua name=mylib\nreturn 1").unwrap();
        assert_eq!(
            (md.engine.as_slice(), md.name.as_slice()),
            (&b"lua"[..], &b"mylib"[..])
        );
        assert_eq!(md.body, 16);
        assert_eq!(metadata(b"#!lua name=\"foo\"\n").unwrap().name, b"foo");
        assert_eq!(
            metadata(b"return 1").err().unwrap(),
            "Missing library metadata"
        );
        assert_eq!(
            metadata(b"#!lua name=x").err().unwrap(),
            "Invalid library metadata"
        );
        assert_eq!(
            metadata(b"#!lua\n").err().unwrap(),
            "Library name was not given"
        );
        assert_eq!(
            metadata(b"#!lua name=test foo=bar\n").err().unwrap(),
            "Invalid metadata value given: foo=bar"
        );
        assert_eq!(
            metadata(b"#!lua name=a NAME=b\n").err().unwrap(),
            "Invalid metadata value, name argument was given multiple times"
        );
        assert_eq!(metadata(b"#! name=x\n").unwrap().engine, b"");
    }

    #[test]
    fn eval_shebang_flags() {
        assert_eq!(eval_shebang(b"return 1").unwrap(), (None, 0));
        assert_eq!(eval_shebang(b"#!lua\nreturn 1").unwrap(), (Some(0), 5));
        assert_eq!(
            eval_shebang(b"#!lua flags=no-writes,allow-oom\n").unwrap(),
            (Some(NO_WRITES | ALLOW_OOM), 31)
        );
        assert_eq!(
            eval_shebang(b"#!lua flags=no-writes,bad\n").unwrap_err(),
            "Unexpected flag in script shebang: bad"
        );
        assert_eq!(
            eval_shebang(b"#!lua x=y\n").unwrap_err(),
            "Unknown lua shebang option: x=y"
        );
        assert_eq!(
            eval_shebang(b"#!python\n").unwrap_err(),
            "Unexpected engine in script shebang: #!python"
        );
        assert_eq!(
            eval_shebang(b"#!lua").unwrap_err(),
            "Invalid script shebang"
        );
    }

    #[test]
    fn dump_payload_round_trips_and_is_checked() {
        let mut libs = Libraries::default();
        let lua = mlua::Lua::new();
        let f = lua.create_function(|_, ()| Ok(())).unwrap();
        let f = || lua.create_registry_value(f.clone()).unwrap();
        let long = format!("#!lua name=b\n{}", "x".repeat(20_000));
        for (name, code) in [
            ("a", "#!lua name=a\nreturn 1".to_string()),
            ("b", long.clone()),
        ] {
            libs.link(Library {
                name: name.into(),
                code: code.into_bytes(),
                functions: vec![FunctionInfo {
                    name: format!("f{name}"),
                    desc: None,
                    flags: 0,
                    callback: f(),
                }],
            });
        }
        let payload = libs.dump();
        assert_eq!(payload[0], OPCODE_FUNCTION2);
        let codes = parse_dump(&payload).unwrap();
        assert_eq!(
            codes,
            vec![b"#!lua name=a\nreturn 1".to_vec(), long.into_bytes()]
        );
        let mut bad = payload.clone();
        bad[3] ^= 1;
        assert_eq!(
            parse_dump(&bad).unwrap_err(),
            "DUMP payload version or checksum are wrong"
        );
        assert!(parse_dump(b"bad_payload").is_err());
        assert!(libs.function(b"FA").is_some());
    }
}
