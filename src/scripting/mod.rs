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
//! `print`, and `loadstring` refuses precompiled chunks. A script's environment is a proxy
//! of the globals: reading a global that does not exist is an error (`Script attempted to
//! access nonexistent global variable`), creating or replacing one is too (`Attempt to
//! modify a readonly table`), and the library tables (`redis`, `string`, `cjson`…) are
//! read-only proxies as well. The Lua heap is capped at [`LUA_HEAP_LIMIT`].
//!
//! **Time.** A hook runs every 100,000 instructions: past `busy-reply-threshold` the
//! script lets the other workers serve again, answering `-BUSY` (see
//! `commands::gate`), and a SCRIPT KILL from any of them ends the script with an error,
//! unless it has already written (then SCRIPT KILL answers `-UNKILLABLE`).

mod bitlib;
mod cjson;
mod cmsgpack;
mod convert;
pub mod sha1;
mod structlib;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use mlua::{Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState};
use parking_lot::Mutex;

use crate::commands::gate::Gates;
use crate::protocol::resp::Writer;

pub use convert::Host;

/// Most bytes the Lua heap may use; past it an allocation fails with `not enough memory`
/// and the script ends with an error (Redis has no limit; a cache shares its host).
pub const LUA_HEAP_LIMIT: usize = 256 << 20;

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
    epoch: Mutex<Option<Instant>>,
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
        let mut epoch = self.epoch.lock();
        let start = *epoch.get_or_insert_with(Instant::now);
        start.elapsed().as_millis() as u64
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
    /// instruction hook and before each `redis.call`.
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
    /// The body does not compile (the message, Redis's text).
    Compile(String),
}

struct Engine {
    gates: Arc<Gates>,
    lua: Lua,
    scripts: HashMap<[u8; 40], Function>,
    /// Hidden table: `call` (the bridge, set for one run) and `resp` (redis.setresp).
    bridge: Table,
    /// The real globals, behind the scripts' proxy environment.
    globals: Table,
    env: Table,
    /// `xpcall(f, handler, ...)` as one Lua function, and Redis's error handler.
    runner: Function,
    handler: Function,
}

impl Scripting {
    pub fn new(gates: Arc<Gates>) -> Scripting {
        let run = Arc::new(RunState::default());
        let engine = Engine::new(gates, run.clone()).expect("the Lua sandbox sets up");
        Scripting {
            engine: Mutex::new(engine),
            run,
        }
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
        let _ = e.lua.gc_collect();
    }

    /// Scripts cached and bytes of Lua heap (INFO memory).
    pub fn usage(&self) -> (usize, usize) {
        let e = self.engine.lock();
        (e.scripts.len(), e.lua.used_memory())
    }

    /// Runs a script with `keys` and `argv`, its commands through `host`, and writes its
    /// reply (or error) to `w`. Call inside an exclusive section of the gates.
    pub fn run(
        &self,
        target: Target<'_>,
        keys: &[&[u8]],
        argv: &[&[u8]],
        host: &mut dyn Host,
        w: &mut Writer<'_>,
        busy_threshold_ms: u64,
    ) -> Result<(), RunError> {
        let mut engine = self.engine.lock();
        let (sha, f) = match target {
            Target::Sha(sha) => {
                let key = sha_key(sha).ok_or(RunError::NoScript)?;
                let f = engine.scripts.get(&key).ok_or(RunError::NoScript)?.clone();
                (key, f)
            }
            Target::Body(body) => {
                let key = engine.cache(body)?;
                let f = engine.scripts[&key].clone();
                (key, f)
            }
        };
        let name = String::from_utf8_lossy(&sha).into_owned();
        let set_array = |name: &str, items: &[&[u8]]| -> mlua::Result<()> {
            let t = engine.lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, engine.lua.create_string(item)?)?;
            }
            engine.globals.raw_set(name, t)
        };
        if set_array("KEYS", keys).is_err() || set_array("ARGV", argv).is_err() {
            w.error(b"ERR not enough memory to run the script");
            return Ok(());
        }
        engine.invoke(
            &name,
            &f,
            MultiValue::new(),
            host,
            w,
            busy_threshold_ms,
            &self.run,
        );
        Ok(())
    }
}

/// A SHA-1 argument as a cache key (case-insensitive, as Redis compares them).
fn sha_key(sha: &[u8]) -> Option<[u8; 40]> {
    let key: [u8; 40] = sha.try_into().ok()?;
    Some(key.map(|b| b.to_ascii_lowercase()))
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
            "dofile", "loadfile", "print", "module", "require", "gcinfo", "newproxy",
        ] {
            globals.raw_set(name, Value::Nil)?;
        }
        globals.raw_set("bit", bitlib::open(&lua)?)?;
        globals.raw_set("cjson", cjson::open(&lua)?)?;
        globals.raw_set("cmsgpack", cmsgpack::open(&lua)?)?;
        globals.raw_set("struct", structlib::open(&lua)?)?;
        let bridge = lua.create_table()?;
        let helpers = convert::helpers(&lua, &bridge)?;
        let (env, runner, handler): (Table, Function, Function) = lua
            .load(PRELUDE)
            .set_name("@redis_lib")
            .call((bridge.clone(), globals.clone(), helpers))?;
        let hook_run = run.clone();
        let hook_gates = gates.clone();
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if hook_run.kill.load(Ordering::Relaxed) {
                    return Err(mlua::Error::RuntimeError(
                        "Script killed by user with SCRIPT KILL...".into(),
                    ));
                }
                hook_run.check_busy(&hook_gates);
                Ok(VmState::Continue)
            },
        );
        Ok(Engine {
            gates,
            lua,
            scripts: HashMap::new(),
            bridge,
            globals,
            env,
            runner,
            handler,
        })
    }

    /// Compiles `body` as Redis does (`@user_script`, the proxy environment) unless it is
    /// cached; its SHA-1 hex.
    fn cache(&mut self, body: &[u8]) -> Result<[u8; 40], RunError> {
        let sha = sha1::sha1_hex(body);
        if self.scripts.contains_key(&sha) {
            return Ok(sha);
        }
        let f = self
            .lua
            .load(body)
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
        self.scripts.insert(sha, f);
        Ok(sha)
    }

    /// Runs `f` under Redis's error handler with the bridge connected to `host`; writes
    /// the reply. `name` is what errors call the script (its SHA-1, or a function's name).
    #[allow(clippy::too_many_arguments)]
    fn invoke(
        &mut self,
        name: &str,
        f: &Function,
        args: MultiValue,
        host: &mut dyn Host,
        w: &mut Writer<'_>,
        busy_threshold_ms: u64,
        run: &RunState,
    ) {
        run.kill.store(false, Ordering::SeqCst);
        run.wrote.store(false, Ordering::SeqCst);
        run.threshold_ms.store(busy_threshold_ms, Ordering::SeqCst);
        run.started_ms.store(run.now_ms(), Ordering::SeqCst);
        run.running.store(true, Ordering::SeqCst);
        let _ = self.bridge.raw_set("resp", 2);
        let lua = &self.lua;
        let bridge = &self.bridge;
        let gates = &self.gates;
        let result = lua.scope(|scope| {
            let call = scope.create_function_mut(|lua, args: MultiValue| {
                run.check_busy(gates);
                convert::bridge_call(lua, bridge, &mut *host, args)
            })?;
            bridge.raw_set("call", call)?;
            let out: MultiValue = self.runner.call((f.clone(), self.handler.clone(), args))?;
            bridge.raw_set("call", Value::Nil)?;
            let mut out = out.into_iter();
            let ok = matches!(out.next(), Some(Value::Boolean(true)));
            let value = out.next().unwrap_or(Value::Nil);
            if ok {
                let resp3 = bridge.raw_get::<i64>("resp").unwrap_or(2) == 3;
                convert::reply(&value, resp3, w);
            } else {
                convert::error_reply(&value, name, w);
            }
            Ok(())
        });
        if let Err(e) = result {
            let _ = self.bridge.raw_set("call", Value::Nil);
            w.error_fmt(format_args!(
                "ERR Error running script {name}, {}",
                convert::error_text(&e)
            ));
        }
        run.running.store(false, Ordering::SeqCst);
        run.kill.store(false, Ordering::SeqCst);
        let _ = self.globals.raw_set("KEYS", Value::Nil);
        let _ = self.globals.raw_set("ARGV", Value::Nil);
    }
}
