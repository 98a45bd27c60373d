//! Lua scripting as Redis 7.0 does it: one Lua 5.1 interpreter (mlua, vendored), scripts
//! cached by the SHA-1 of their body, a sandbox, and a bridge through which `redis.call`
//! runs commands of the RESP command table.
//!
//! ```text
//!  EVAL ─▶ gates.exclusive ─▶ Engine::run ─▶ xpcall(script, handler)
//!                                              │ redis.call(...) ─▶ bridge ─▶ Host::command
//!                                              │                    (a synthetic client on
//!                                              │                     the RESP command table)
//!                                              ▼
//!                               return value ─▶ RESP reply (Redis's conversion rules)
//! ```
//!
//! **Sandbox.** Scripts see the base, table, string and math libraries and `cjson`,
//! `cmsgpack`, `bit` and `struct`; no `os`, `io`, `package`, `loadfile`, `dofile` or
//! `print`, and `loadstring` and `load` refuse precompiled chunks. A script's environment is a proxy
//! of the globals: reading a global that does not exist is an error (`Script attempted to
//! access nonexistent global variable`), creating or replacing one is too (`Attempt to
//! modify a readonly table`), and the library tables (`redis`, `string`, `cjson`…) are
//! read-only proxies as well; `sandbox.rs` gives `rawset`, `setmetatable`, `pairs`, `next`,
//! `rawget` and `getmetatable` as C functions that see the proxies as the tables they show.
//! The Lua heap is capped at [`LUA_HEAP_LIMIT`].
//!
//! **Time.** A hook runs every 10,000 instructions (`HOOK_EVERY`): past
//! `busy-reply-threshold` the script lets the other workers serve again, answering `-BUSY` (see
//! `commands::gate`), its own worker serves its other connections from the hook (at most
//! once a millisecond, `server::nest`), and a SCRIPT KILL from any of them ends the script with an error,
//! unless it has already written (then SCRIPT KILL answers `-UNKILLABLE`).

mod bitlib;
mod call;
mod cjson;
mod cjson_cfg;
mod cmsgpack;
mod convert;
pub mod functions;
mod redisfns;
mod sandbox;
pub mod sha1;
mod slot;
mod structlib;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use mlua::{Function, HookTriggers, Lua, LuaOptions, RegistryKey, StdLib, Table, Value, VmState};
use parking_lot::Mutex;

use crate::commands::gate::Gates;
use crate::protocol::resp::{Args, Writer};

pub use convert::Host;
use functions::{FunctionInfo, Libraries, Library};
use slot::{Frame, HostSlot};

/// How long a library's code may run while FUNCTION LOAD registers its functions.
const LOAD_TIMEOUT_MS: u64 = 500;

/// Most bytes the Lua heap may use; past it an allocation fails with `not enough memory`
/// and the script ends with an error (Redis has no limit; a cache shares its host).
pub const LUA_HEAP_LIMIT: usize = 256 << 20;

/// Garbage (heap bytes past the live size the last full collection left) at which a run's
/// end collects. slabd's sandbox is larger than Redis's (~68 KB live against ~32 KB), so
/// Redis's policy (an incremental step of 50 KB every 50 runs, LUA_GC_CYCLE_PERIOD) ran a
/// whole cycle over that heap every 50 runs whatever they left (~110k instructions, 7% of
/// an EVALSHA of three calls that leaves ~180 bytes). Collecting by garbage keeps
/// `used_memory_lua` within this of the live heap, below the 100 KB Redis's own tests
/// allow (unit/scripting "EVAL does not leak"), at a cycle per ~90 such runs.
const GC_GARBAGE_BYTES: usize = 16 << 10;

/// Most values a library function (`cmsgpack.unpack`, `struct.unpack`, the sandbox's
/// `unpack`: strings and tables only) returns at once. Every Lua value held in Rust (a callback's arguments and
/// results) takes a slot of mlua's reference stack, which cannot grow past 8,000 (Lua's C
/// stack limit; past it mlua panics), so results and arguments stay well below that.
pub const RESULTS_MAX: usize = 6000;

/// Instructions between two checks of the time limit and SCRIPT KILL.
const HOOK_EVERY: u32 = 10_000;

/// What other workers may see of the running script (SCRIPT KILL, FUNCTION KILL, INFO).
#[derive(Debug, Default)]
pub struct RunState {
    running: AtomicBool,
    /// A function (FCALL) rather than a script (EVAL) is running.
    function: AtomicBool,
    kill: AtomicBool,
    /// The running script has called a write command (it may not be killed).
    wrote: AtomicBool,
    /// When the running script started (ms since `epoch`).
    started_ms: AtomicU64,
    threshold_ms: AtomicU64,
    epoch: OnceLock<Instant>,
    /// While FUNCTION LOAD runs a library's code: when it must stop (ms since `epoch`).
    load_deadline_ms: AtomicU64,
    /// The running function's name and the FCALL that called it (FUNCTION STATS), its
    /// arguments as bytes and ranges (buffers reused from one FCALL to the next).
    current: Mutex<Current>,
    /// Libraries and functions loaded (FUNCTION STATS answers while a function runs).
    libraries: AtomicUsize,
    functions: AtomicUsize,
    /// Scripts cached and Lua heap bytes, as of the last change (INFO and MEMORY STATS read
    /// them without the interpreter's lock, which a running script holds).
    scripts: AtomicUsize,
    lua_bytes: AtomicUsize,
    /// `busy-reply-threshold` as CONFIG last set it (read per run without a name lookup).
    threshold_setting: AtomicU64,
}

/// The running function's name, and its FCALL's arguments as bytes and `(start, end)`
/// ranges.
type Current = (String, Vec<u8>, Vec<(usize, usize)>);

/// What FUNCTION STATS reports of the running function.
pub struct RunningFunction {
    pub name: String,
    pub command: Vec<Vec<u8>>,
    pub duration_ms: u64,
}

/// Outcome of SCRIPT KILL / FUNCTION KILL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kill {
    Killed,
    NotBusy,
    Unkillable,
    /// SCRIPT KILL while a function runs, or the other way round.
    WrongKind,
}

impl RunState {
    fn now_ms(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    /// Asks the running script (`function`: a function) to stop.
    pub fn kill(&self, function: bool) -> Kill {
        if !self.running.load(Ordering::SeqCst) {
            return Kill::NotBusy;
        }
        if self.function.load(Ordering::SeqCst) != function {
            return Kill::WrongKind;
        }
        if self.wrote.load(Ordering::SeqCst) {
            return Kill::Unkillable;
        }
        self.kill.store(true, Ordering::SeqCst);
        Kill::Killed
    }

    /// Past the busy threshold: lets the other workers serve (`-BUSY`). Called by the
    /// instruction hook.
    fn check_busy(&self, gates: &Gates) {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        if threshold > 0 && !gates.busy() {
            let elapsed = self
                .now_ms()
                .saturating_sub(self.started_ms.load(Ordering::Relaxed));
            if elapsed >= threshold {
                gates.open_busy();
            }
        }
    }

    /// SHUTDOWN NOSAVE: the running script stops even if it wrote (the server is going
    /// away, as Redis exits under it).
    pub fn abort(&self) {
        if self.running.load(Ordering::SeqCst) {
            self.kill.store(true, Ordering::SeqCst);
        }
    }

    /// A script or function is running (SORT sorts a set it reads, as Redis does for
    /// scripts).
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// A function (FCALL) rather than a script is running.
    pub fn is_function(&self) -> bool {
        self.function.load(Ordering::Relaxed)
    }

    /// The running script called a write command.
    pub fn note_write(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    /// The function running now, if a function (not a script) runs.
    pub fn running_function(&self) -> Option<RunningFunction> {
        if !self.is_running() || !self.is_function() {
            return None;
        }
        let (name, command) = {
            let current = self.current.lock();
            let (name, bytes, ranges) = &*current;
            let command = Args::new(bytes, ranges).iter_from(0).map(<[u8]>::to_vec);
            (name.clone(), command.collect())
        };
        let duration_ms = self
            .now_ms()
            .saturating_sub(self.started_ms.load(Ordering::Relaxed));
        Some(RunningFunction {
            name,
            command,
            duration_ms,
        })
    }

    /// Libraries and functions loaded.
    pub fn function_counts(&self) -> (usize, usize) {
        (
            self.libraries.load(Ordering::Relaxed),
            self.functions.load(Ordering::Relaxed),
        )
    }
}

/// The interpreter, its cache of scripts, and the state other workers see.
pub struct Scripting {
    engine: Mutex<Engine>,
    pub run: Arc<RunState>,
}

impl std::fmt::Debug for Scripting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripting").finish_non_exhaustive()
    }
}

/// A script's KEYS and ARGV: the arguments of an EVAL/FCALL-style command after its key
/// count (`args[2]`), the first `numkeys` of them keys.
#[derive(Clone, Copy)]
pub struct Params<'a> {
    pub args: Args<'a>,
    pub numkeys: usize,
}

impl<'a> Params<'a> {
    fn keys(self) -> impl Iterator<Item = &'a [u8]> {
        self.args.iter_from(3).take(self.numkeys)
    }

    fn argv(self) -> impl Iterator<Item = &'a [u8]> {
        self.args.iter_from(3 + self.numkeys)
    }

    fn argc(self) -> usize {
        self.args.len().saturating_sub(3 + self.numkeys)
    }
}

/// What to run: a cached script by SHA-1, or a body (cached on the way).
pub enum Target<'a> {
    Sha(&'a [u8]),
    Body(&'a [u8]),
}

/// How one run ended, when it did not produce a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum RunError {
    /// EVALSHA of an unknown SHA-1.
    NoScript,
    /// The body does not compile or its shebang is wrong (the message, Redis's text).
    Compile(String),
    /// EVAL_RO / FCALL_RO of a script or function that declares no `no-writes`.
    WriteFlagOnRo,
    /// FCALL of a function that does not exist.
    NoFunction,
}

/// FUNCTION RESTORE's policy for libraries that exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    Flush,
    Append,
    Replace,
}

/// A cached EVAL script: compiled, and its shebang flags (`None`: no shebang, Redis's
/// compatibility mode).
struct Script {
    /// In the Lua registry, not held in Rust: each Lua value Rust holds takes a slot of
    /// mlua's reference stack (8,000 at most), and the cache may hold more scripts.
    f: RegistryKey,
    flags: Option<u8>,
}

struct Engine {
    lua: Lua,
    scripts: HashMap<[u8; 40], Script, sha1::ShaState>,
    /// The script run last, its function out of the registry (one reference-stack slot):
    /// EVALSHA of the same script again skips the registry read (~380 instructions).
    last: Option<([u8; 40], Function)>,
    libraries: Libraries,
    /// Functions' environment and the prelude's library loader.
    fenv: Table,
    load_library: Function,
    run: Arc<RunState>,
    gates: Arc<Gates>,
    /// Hidden table: `pending` (a failed `redis.call`'s error), `loading` (FUNCTION LOAD).
    bridge: Table,
    /// Where `redis.call` finds the host of the run in progress.
    slot: Arc<HostSlot>,
    /// The real globals, behind the scripts' proxy environment.
    globals: Table,
    env: Table,
    /// The runner (`call.rs`: KEYS and ARGV, then `f` under the handler, as `xpcall`) and
    /// Redis's error handler.
    runner: Function,
    handler: Function,
    /// The heap's size after the last full collection (see [`Engine::collect_garbage`]).
    gc_live: usize,
    /// Table keys made once (a `&str` key is a new Lua string at every use).
    names: Names,
    /// The bridge's reused buffers.
    scratch: convert::Scratch,
}

/// Lua strings the hot path uses as table keys.
struct Names {
    keys: mlua::String,
    argv: mlua::String,
}

/// With a memory limit set, mlua wraps each C API call it makes in a protected call, which
/// on Lua 5.1 allocates a C closure (garbage) every time. The limit is what stops a script
/// that allocates without bound, so it is on while Lua code runs and off while Rust builds
/// or reads values for a run (what Rust adds then is bounded by the command's arguments
/// and one command's reply; the next Lua allocation past the limit fails).
fn heap_limit(lua: &Lua, on: bool) {
    let _ = lua.set_memory_limit(if on { LUA_HEAP_LIMIT } else { 0 });
}

// SAFETY: mlua without its "send" feature counts references to the interpreter with `Rc`
// and takes no lock, so its handles (Lua, Table, Function, String, RegistryKey, the
// callbacks' captures) must never be used from two threads at once. Every one of them is
// owned by this Engine (its fields, or the Lua state it owns), none is handed out of
// `Scripting` (whose methods return plain Rust values; `with_libraries` takes and returns
// only `Send` types), and the Engine is reached only through `Scripting::engine`'s Mutex:
// one thread at a time uses the whole graph, and moving it between threads under that
// lock is moving one owned value. mlua keeps no thread-local state.
unsafe impl Send for Engine {}

impl Scripting {
    pub fn new(gates: Arc<Gates>) -> Scripting {
        let run = Arc::new(RunState::default());
        let engine = Engine::new(gates, run.clone()).expect("the Lua sandbox sets up");
        Scripting {
            engine: Mutex::new(engine),
            run,
        }
    }

    /// Follows `busy-reply-threshold` (ms; 0: never busy).
    pub fn follow(&self, directives: &crate::directives::Directives) {
        let run = self.run.clone();
        let threshold = directives.int("busy-reply-threshold").max(0) as u64;
        run.threshold_setting.store(threshold, Ordering::Relaxed);
        directives.on_change("busy-reply-threshold", move |v| {
            let ms = v.parse::<i64>().unwrap_or(0).max(0) as u64;
            run.threshold_setting.store(ms, Ordering::Relaxed);
            Ok(())
        });
    }

    /// `busy-reply-threshold` in milliseconds.
    pub fn busy_threshold_ms(&self) -> u64 {
        self.run.threshold_setting.load(Ordering::Relaxed)
    }

    /// SCRIPT LOAD: compiles and caches `body`; its SHA-1 hex.
    pub fn load(&self, body: &[u8]) -> Result<[u8; 40], RunError> {
        self.engine.lock().cache(body)
    }

    /// SCRIPT EXISTS for one SHA-1.
    pub fn exists(&self, sha: &[u8]) -> bool {
        let Some(key) = sha_key(sha) else {
            return false;
        };
        self.engine.lock().scripts.contains_key(&key)
    }

    /// SCRIPT FLUSH: forgets every cached script.
    pub fn flush(&self) {
        let mut e = self.engine.lock();
        e.scripts.clear();
        e.last = None;
        e.lua.expire_registry_values();
        e.full_collection();
        e.note_usage();
    }

    /// Scripts cached and bytes of Lua heap (INFO memory, MEMORY STATS), without the
    /// interpreter's lock: a script may ask (`redis.call('memory', 'stats')`).
    pub fn usage(&self) -> (usize, usize) {
        (
            self.run.scripts.load(Ordering::Relaxed),
            self.run.lua_bytes.load(Ordering::Relaxed),
        )
    }

    /// Runs a script with `keys` and `argv`, its commands through `host`, and writes its
    /// reply (or error) to `w`; `ro`: EVAL_RO / EVALSHA_RO. Call inside an exclusive
    /// section of the gates.
    pub fn run(
        &self,
        target: Target<'_>,
        params: Params<'_>,
        host: &mut dyn Host,
        w: &mut Writer<'_>,
        busy_threshold_ms: u64,
        ro: bool,
    ) -> Result<(), RunError> {
        let mut guard = self.engine.lock();
        let engine = &mut *guard;
        let sha = match target {
            Target::Sha(sha) => sha_key(sha).ok_or(RunError::NoScript)?,
            Target::Body(body) => engine.cache(body)?,
        };
        // One lookup: the map hashes the whole 40-byte key.
        let script = engine.scripts.get(&sha).ok_or(RunError::NoScript)?;
        let flags = script.flags;
        let f = match engine.last.take() {
            Some((last, f)) if last == sha => f,
            _ => match engine.lua.registry_value::<Function>(&script.f) {
                Ok(f) => f,
                Err(_) => return Err(RunError::NoScript),
            },
        };
        match flags {
            Some(flags) if ro && flags & functions::NO_WRITES == 0 => {
                return Err(RunError::WriteFlagOnRo)
            }
            Some(flags) if flags & functions::NO_WRITES != 0 => host.deny_writes(),
            _ if ro => host.deny_writes(),
            _ => {}
        }
        let name = std::str::from_utf8(&sha).unwrap_or_default();
        let run = Run {
            name,
            function: false,
            busy_threshold_ms,
        };
        engine.invoke(&run, &f, params, host, w);
        engine.last = Some((sha, f));
        Ok(())
    }

    /// A cached script's declared flags: `None` when no script has that SHA-1, `Some(None)`
    /// for one without a shebang.
    pub fn script_flags(&self, sha: &[u8]) -> Option<Option<u8>> {
        let key = sha_key(sha)?;
        self.engine.lock().scripts.get(&key).map(|s| s.flags)
    }

    /// A function's flags, if it exists.
    pub fn function_flags(&self, name: &[u8]) -> Option<u8> {
        self.engine.lock().libraries.function(name).map(|f| f.flags)
    }

    /// FCALL / FCALL_RO (`ro`): runs function `name` with `keys` and `argv` as its two
    /// arguments; `command` is the caller's whole command (FUNCTION STATS shows it). Call
    /// inside an exclusive section of the gates.
    pub fn call_function(
        &self,
        name: &[u8],
        params: Params<'_>,
        host: &mut dyn Host,
        w: &mut Writer<'_>,
        busy_threshold_ms: u64,
        ro: bool,
    ) -> Result<(), RunError> {
        let mut engine = self.engine.lock();
        let (callback, fname, flags) = match engine.libraries.function(name) {
            Some(FunctionInfo {
                callback,
                name,
                flags,
                ..
            }) => match engine.lua.registry_value::<Function>(callback) {
                Ok(f) => (f, name.clone(), *flags),
                Err(_) => return Err(RunError::NoFunction),
            },
            None => return Err(RunError::NoFunction),
        };
        if flags & functions::NO_WRITES == 0 {
            if ro {
                return Err(RunError::WriteFlagOnRo);
            }
        } else {
            host.deny_writes();
        }
        {
            let mut current = self.run.current.lock();
            let (name, bytes, ranges) = &mut *current;
            name.clone_from(&fname);
            bytes.clear();
            ranges.clear();
            for arg in params.args.iter_from(0) {
                let start = bytes.len();
                bytes.extend_from_slice(arg);
                ranges.push((start, bytes.len()));
            }
        }
        let run = Run {
            name: &fname,
            function: true,
            busy_threshold_ms,
        };
        engine.invoke(&run, &callback, params, host, w);
        Ok(())
    }

    /// FUNCTION LOAD: the library's name, or Redis's error text.
    pub fn function_load(&self, code: &[u8], replace: bool) -> Result<String, String> {
        let mut engine = self.engine.lock();
        let mut libs = std::mem::take(&mut engine.libraries);
        let out = engine.create_library(&mut libs, code, replace, true);
        engine.libraries = libs;
        engine.count_functions();
        out
    }

    /// FUNCTION DELETE: false when there is no such library.
    pub fn function_delete(&self, name: &[u8]) -> bool {
        let mut engine = self.engine.lock();
        let found = std::str::from_utf8(name)
            .ok()
            .and_then(|n| engine.libraries.unlink(n))
            .is_some();
        engine.count_functions();
        found
    }

    /// FUNCTION FLUSH.
    pub fn function_flush(&self) {
        let mut engine = self.engine.lock();
        engine.libraries = Libraries::default();
        engine.count_functions();
        engine.full_collection();
    }

    /// FUNCTION DUMP's payload.
    pub fn function_dump(&self) -> Vec<u8> {
        self.engine.lock().libraries.dump()
    }

    /// FUNCTION RESTORE: Redis's error text when nothing changed.
    pub fn function_restore(&self, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
        let codes = functions::parse_dump(payload)?;
        let mut engine = self.engine.lock();
        let mut fresh = Libraries::default();
        for code in &codes {
            engine.create_library(&mut fresh, code, false, false)?;
        }
        match policy {
            RestorePolicy::Flush => engine.libraries = fresh,
            RestorePolicy::Append | RestorePolicy::Replace => engine
                .libraries
                .join(fresh, policy == RestorePolicy::Replace)?,
        }
        engine.count_functions();
        Ok(())
    }

    /// Reads the libraries (FUNCTION LIST).
    /// `f` and what it returns are `Send`, so no interpreter handle leaves the lock (see
    /// [`Engine`]'s `Send`).
    pub fn with_libraries<R: Send>(&self, f: impl FnOnce(&Libraries) -> R + Send) -> R {
        f(&self.engine.lock().libraries)
    }
}

/// Who runs: the name errors give (a script's SHA-1 or a function's name), whether it is a
/// function, and the busy threshold.
struct Run<'a> {
    name: &'a str,
    function: bool,
    busy_threshold_ms: u64,
}

/// A SHA-1 argument as a cache key (case-insensitive, as Redis compares them).
fn sha_key(sha: &[u8]) -> Option<[u8; 40]> {
    let key: [u8; 40] = sha.try_into().ok()?;
    Some(key.map(|b| b.to_ascii_lowercase()))
}

/// The instruction hook: FUNCTION LOAD's timeout, SCRIPT KILL, the busy threshold and the
/// busy worker's nested round (every [`HOOK_EVERY`] instructions).
fn install_hook(lua: &Lua, run: Arc<RunState>, gates: Arc<Gates>) {
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |lua, _| {
            let deadline = run.load_deadline_ms.load(Ordering::Relaxed);
            if deadline != 0 && run.now_ms() > deadline {
                return Err(mlua::Error::RuntimeError("FUNCTION LOAD timeout".into()));
            }
            if run.kill.load(Ordering::Relaxed) {
                // As Redis: from now on every instruction fails, so a `pcall` that catches
                // the error cannot keep the script running (the normal hook is put back
                // when the run ends).
                // Not in the prelude's code (the runner, after `xpcall` caught the error,
                // must still return the reply).
                lua.set_hook(
                    HookTriggers::new().every_nth_instruction(1),
                    |_, debug| match debug.source().source.as_deref() {
                        Some("@redis_lib") => Ok(VmState::Continue),
                        _ => Err(killed()),
                    },
                );
                return Err(killed());
            }
            run.check_busy(&gates);
            // Past the threshold: this worker's other clients get -BUSY too.
            gates.serve_while_busy();
            Ok(VmState::Continue)
        },
    );
}

fn killed() -> mlua::Error {
    mlua::Error::RuntimeError("Script killed by user with SCRIPT KILL...".into())
}

/// Lua code run once at start-up: the `redis` library's Lua half and the sandbox. Gets the
/// hidden bridge table, the real globals and the Rust helpers as arguments.
const PRELUDE: &str = include_str!("prelude.lua");

impl Engine {
    fn new(gates: Arc<Gates>, run: Arc<RunState>) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        lua.set_memory_limit(LUA_HEAP_LIMIT)?;
        let globals = lua.globals();
        for name in [
            "dofile", "loadfile", "print", "module", "require", "newproxy",
        ] {
            globals.raw_set(name, Value::Nil)?;
        }
        globals.raw_set("bit", bitlib::open(&lua)?)?;
        globals.raw_set("cjson", cjson::open(&lua)?)?;
        globals.raw_set("cmsgpack", cmsgpack::open(&lua)?)?;
        globals.raw_set("struct", structlib::open(&lua)?)?;
        let bridge = lua.create_table()?;
        let slot = Arc::new(HostSlot::default());
        let helpers = convert::helpers(&lua, &bridge, &slot)?;
        let (env, handler, fenv, load_library): (Table, Function, Table, Function) = lua
            .load(PRELUDE)
            .set_name("@redis_lib")
            .call((bridge.clone(), globals.clone(), helpers))?;
        let runner = call::run_function(&lua, &slot, &globals)?;
        install_hook(&lua, run.clone(), gates.clone());
        // The prelude leaves garbage. Lua's own collector keeps its defaults (a cycle
        // when the heap doubles, as in Redis): between runs, `collect_garbage` keeps the
        // heap near its live size.
        lua.gc_collect()?;
        let gc_live = lua.used_memory();
        let names = Names {
            keys: lua.create_string("KEYS")?,
            argv: lua.create_string("ARGV")?,
        };
        Ok(Engine {
            slot,
            names,
            scratch: convert::Scratch::default(),
            lua,
            scripts: HashMap::default(),
            last: None,
            libraries: Libraries::default(),
            fenv,
            load_library,
            run,
            gates,
            bridge,
            globals,
            env,
            runner,
            handler,
            gc_live,
        })
    }

    /// Compiles `body` as Redis does (`@user_script`, the proxy environment, a `#!lua`
    /// line read for its flags and left out but for its line break) unless it is cached;
    /// its SHA-1 hex.
    fn cache(&mut self, body: &[u8]) -> Result<[u8; 40], RunError> {
        let sha = sha1::sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, skip) = functions::eval_shebang(body).map_err(RunError::Compile)?;
        let f = self
            .lua
            .load(&body[skip..])
            .set_name("@user_script")
            .set_mode(mlua::ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                RunError::Compile(format!(
                    "Error compiling script (new function): {}",
                    convert::error_text(&e)
                ))
            })?;
        let f = self
            .lua
            .create_registry_value(f)
            .map_err(|e| RunError::Compile(convert::error_text(&e)))?;
        self.scripts.insert(sha, Script { f, flags });
        self.note_usage();
        Ok(sha)
    }

    /// Compiles a library and runs its code so it registers its functions, then adds it
    /// to `libs` (Redis's `functionsCreateWithLibraryCtx`); its name, or Redis's error.
    /// `timeout`: FUNCTION LOAD's 500 ms limit applies (not to RESTORE).
    fn create_library(
        &mut self,
        libs: &mut Libraries,
        code: &[u8],
        replace: bool,
        timeout: bool,
    ) -> Result<String, String> {
        let md = functions::metadata(code)?;
        if !functions::valid_name(&md.name) {
            return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
        }
        let name = String::from_utf8_lossy(&md.name).into_owned();
        if !md.engine.eq_ignore_ascii_case(functions::ENGINE.as_bytes()) {
            return Err(format!(
                "Engine '{}' not found",
                String::from_utf8_lossy(&md.engine)
            ));
        }
        if libs.get_library(&name).is_some() && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let chunk = self
            .lua
            .load(&code[md.body..])
            .set_name("@user_function")
            .set_mode(mlua::ChunkMode::Text)
            .set_environment(self.fenv.clone())
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", convert::error_text(&e)))?;
        let registered = self.run_library(chunk, timeout)?;
        if registered.is_empty() {
            return Err("No functions registered".into());
        }
        let lib = Library {
            name: name.clone(),
            code: code.to_vec(),
            functions: registered,
        };
        let old = libs.unlink(&name);
        if let Some(f) = libs.collision(&lib) {
            let err = format!("Function {f} already exists");
            if let Some(old) = old {
                libs.link(old);
            }
            return Err(err);
        }
        libs.link(lib);
        Ok(name)
    }

    /// Runs a library's code with `redis.register_function` live; what it registered.
    fn run_library(&mut self, chunk: Function, timeout: bool) -> Result<Vec<FunctionInfo>, String> {
        let fail =
            |e: mlua::Error| format!("Error registering functions: {}", convert::error_text(&e));
        let loading = self.lua.create_table().map_err(fail)?;
        loading
            .raw_set("names", self.lua.create_table().map_err(fail)?)
            .map_err(fail)?;
        self.bridge.raw_set("loading", &loading).map_err(fail)?;
        self.run.threshold_ms.store(0, Ordering::SeqCst);
        if timeout {
            let deadline = self.run.now_ms() + LOAD_TIMEOUT_MS;
            self.run.load_deadline_ms.store(deadline, Ordering::SeqCst);
        }
        let outcome = self.load_library.call::<Option<String>>(chunk);
        self.run.load_deadline_ms.store(0, Ordering::SeqCst);
        let _ = self.bridge.raw_set("loading", Value::Nil);
        match outcome {
            Ok(None) => {}
            Ok(Some(msg)) => return Err(format!("Error registering functions: {msg}")),
            Err(e) => return Err(fail(e)),
        }
        let mut out = Vec::new();
        for entry in loading.sequence_values::<Table>() {
            let entry = entry.map_err(fail)?;
            let desc: Option<mlua::String> = entry.raw_get("desc").map_err(fail)?;
            let callback: Function = entry.raw_get("callback").map_err(fail)?;
            out.push(FunctionInfo {
                name: entry.raw_get("name").map_err(fail)?,
                desc: desc.map(|d| d.as_bytes().to_vec()),
                flags: entry.raw_get("flags").map_err(fail)?,
                callback: self.lua.create_registry_value(callback).map_err(fail)?,
            });
        }
        Ok(out)
    }

    /// Publishes the script count and heap size [`Scripting::usage`] reads.
    fn note_usage(&self) {
        self.run
            .scripts
            .store(self.scripts.len(), Ordering::Relaxed);
        self.run
            .lua_bytes
            .store(self.lua.used_memory(), Ordering::Relaxed);
    }

    /// Updates the counts FUNCTION STATS reads and frees dropped registry entries.
    fn count_functions(&self) {
        self.lua.expire_registry_values();
        self.note_usage();
        let run = &self.run;
        run.libraries
            .store(self.libraries.library_count(), Ordering::Relaxed);
        run.functions
            .store(self.libraries.function_count(), Ordering::Relaxed);
    }

    /// Runs `f` with `params` as its KEYS and ARGV (globals for a script, arguments for a
    /// function) under Redis's error handler, with the bridge connected to `host`; writes
    /// the reply.
    fn invoke(
        &mut self,
        who: &Run<'_>,
        f: &Function,
        params: Params<'_>,
        host: &mut dyn Host,
        w: &mut Writer<'_>,
    ) {
        let run = &*self.run;
        run.kill.store(false, Ordering::SeqCst);
        run.wrote.store(false, Ordering::SeqCst);
        run.function.store(who.function, Ordering::SeqCst);
        run.threshold_ms
            .store(who.busy_threshold_ms, Ordering::SeqCst);
        run.started_ms.store(run.now_ms(), Ordering::SeqCst);
        run.running.store(true, Ordering::SeqCst);
        let name = who.name;
        let Engine {
            lua,
            slot,
            scratch,
            runner,
            handler,
            ..
        } = self;
        let lua = &*lua;
        let script = !who.function;
        let mut frame = Frame {
            host,
            scratch,
            resp3: false,
            lua,
            params: Some(params),
        };
        let result = slot.enter(&mut frame, || -> mlua::Result<(bool, Value)> {
            heap_limit(lua, true);
            let out = runner.call::<(bool, Value)>((f, &*handler, who.function));
            heap_limit(lua, false);
            out
        });
        heap_limit(lua, false);
        match result {
            Ok((true, value)) => convert::reply(&value, frame.resp3, w),
            Ok((false, value)) => convert::error_reply(&value, name, w),
            Err(e) => {
                if script {
                    // Raised past the script's own xpcall (a kill): KEYS and ARGV are left.
                    let _ = self.globals.raw_set(&self.names.keys, Value::Nil);
                    let _ = self.globals.raw_set(&self.names.argv, Value::Nil);
                }
                w.error_fmt(format_args!(
                    "ERR Error running script {name}, {}",
                    convert::error_text(&e)
                ));
            }
        }
        heap_limit(&self.lua, true);
        run.running.store(false, Ordering::SeqCst);
        if run.kill.swap(false, Ordering::SeqCst) {
            install_hook(&self.lua, self.run.clone(), self.gates.clone());
        }
        self.collect_garbage();
        self.note_usage();
    }

    /// After a run: a full collection once the runs since the last one left
    /// [`GC_GARBAGE_BYTES`] of garbage, or the heap passed a quarter of its cap (Lua 5.1
    /// has no emergency collection: garbage a failed script left near the cap would make
    /// the next script fail its first large allocation).
    fn collect_garbage(&mut self) {
        let used = self.lua.used_memory();
        if used > LUA_HEAP_LIMIT / 4 {
            self.full_collection();
        } else if used >= self.gc_live + GC_GARBAGE_BYTES {
            // Steps to the end of a cycle: one mark and one sweep, where a full collection
            // (`gc_collect`) first sweeps what is left of the cycle in progress, twice the
            // instructions. Each step call makes progress; the bound is only a guard.
            for _ in 0..1024 {
                if !matches!(self.lua.gc_step_kbytes(64), Ok(false)) {
                    break;
                }
            }
            self.gc_live = self.lua.used_memory();
        }
    }

    /// A full collection; notes the live size it leaves.
    fn full_collection(&mut self) {
        let _ = self.lua.gc_collect();
        self.gc_live = self.lua.used_memory();
    }
}
