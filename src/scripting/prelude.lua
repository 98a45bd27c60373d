-- slabd's Lua prelude: the Lua half of the `redis` library and the sandbox, run once when
-- the interpreter starts (src/scripting/mod.rs). Arguments: the hidden bridge table, the
-- real globals, and Rust helpers (among them `redis.call` and `redis.pcall`, which reach
-- the running script's host through src/scripting/slot.rs). Returns the scripts'
-- environment, the runners (any function; a script), the error handler, the functions' environment and the library
-- loader.
local bridge, G, helpers = ...
local error, type, tostring, select, unpack, rawget, rawset, setmetatable, getmetatable,
      loadstring, setfenv, getfenv, string_byte, table =
      error, type, tostring, select, unpack, rawget, rawset, setmetatable, getmetatable,
      loadstring, setfenv, getfenv, string.byte, table

local where, describe = helpers.where, helpers.describe

-- An error raised by Rust (a redis.call error table waiting in the bridge, or an error
-- value) as the value a Lua error would have been.
local function resolve(err)
  local pending = rawget(bridge, "pending")
  if pending then
    rawset(bridge, "pending", nil)
    return pending
  end
  if type(err) == "userdata" and err ~= nil then return describe(err) end
  return err
end

local READONLY = "Attempt to modify a readonly table"
local function readonly_error() error(READONLY, 2) end

-- Tables a script may not change (weak keys): a proxy maps to the table it shows, which
-- `pairs`, `next` and `rawget` walk instead (src/scripting/sandbox.rs); others to `true`.
local protected = helpers.protected

-- A read-only view of `t`: reads go through, writes and metatable changes fail.
local function readonly(t)
  local shown = setmetatable({}, {__index = t, __newindex = readonly_error, __metatable = false})
  protected[shown] = true
  local view = setmetatable({}, {__index = t, __newindex = readonly_error, __metatable = shown})
  protected[view] = t
  return view
end

local function raise(msg) error({err = msg}) end

local redis = {}
-- Rust functions (not Lua ones), so that `return redis.call(...)` keeps the script's frame
-- for the error's line, as Redis's C functions do.
redis.call = helpers.call
redis.pcall = helpers.pcall
-- C functions as Redis's (src/scripting/redisfns.rs): the script's line survives a tail call.
redis.sha1hex = helpers.sha1hex
redis.setresp = helpers.setresp
-- As Redis's luaPushErrorBuff: "-CODE msg" keeps its code, a message without one gets ERR.
function redis.error_reply(...)
  local e = ...
  if select("#", ...) ~= 1 or type(e) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  if string_byte(e, 1) == 45 then e = e:sub(2) end
  if not e:find(" ", 1, true) then e = "ERR " .. e end
  return {err = (e:gsub("[\r\n]+$", ""))}
end
function redis.status_reply(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {ok = s}
end
function redis.log(...)
  local n, level = select("#", ...), ...
  if n < 2 then raise("ERR redis.log() requires two arguments or more.") end
  if type(level) ~= "number" then raise("ERR First argument must be a number (log level).") end
  if level < 0 or level > 3 then raise("ERR Invalid debug level.") end
end
function redis.set_repl(...)
  local flags = ...
  if select("#", ...) ~= 1 then raise("ERR redis.set_repl() requires two arguments.") end
  if type(flags) ~= "number" or flags < 0 or flags > 3 then
    raise("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
  end
end
function redis.replicate_commands() return true end
function redis.breakpoint() return false end
function redis.debug() end
-- Whether the user running the script may run the command (ACL rules, keys included).
redis.acl_check_cmd = helpers.acl_check
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION = "7.0.0"
redis.REDIS_VERSION_NUM = 0x070000

-- The scripts' environment: reads fall through to the globals (a missing one is an
-- error), writes fail.
local env_meta = {__index = G, __newindex = readonly_error}
local env = setmetatable({}, env_meta)
protected[env] = G
-- What `getmetatable` shows of an environment: as Redis's, an `__index` function (reading
-- a missing global fails); the real globals stay out of a script's reach (through them,
-- `rawset` made a global that outlived the script).
local function missing_global(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local shown_env_meta = {__index = missing_global, __newindex = readonly_error}
env_meta.__metatable = readonly(shown_env_meta)

rawset(G, "redis", readonly(redis))
for _, name in ipairs({"string", "math", "table", "coroutine", "cjson", "cmsgpack", "bit",
                       "struct"}) do
  rawset(G, name, readonly(rawget(G, name)))
end
-- Strings' metatable: its `__index` is the read-only `string`, and `getmetatable('')` a
-- read-only view of it (as in Redis; a script could replace `__index` for every later
-- script, or keep values in the real string table).
local string_meta = getmetatable("")
string_meta.__index = rawget(G, "string")
string_meta.__metatable = readonly(string_meta)
rawset(G, "_G", env)
-- rawset, setmetatable, rawget, next and pairs that know the proxies (C functions).
for name, f in next, helpers.sandbox do rawset(G, name, f) end
-- Redis 7.0 scripts have no getfenv and setfenv (a function's environment outlived the
-- script that set it).
rawset(G, "getfenv", nil)
rawset(G, "setfenv", nil)
-- Redis's Lua has no binary chunks: its parser reads one as text and stops at the first
-- byte. The same message, from Lua's own parser for the chunk's name: a chunk whose first
-- byte is \1 fails the same way, at the same place.
local function binary_chunk(name)
  local _, e = loadstring("\1", name)
  return nil, (string.gsub(e, "'char%(1%)'$", "'char(27)'"))
end
rawset(G, "loadstring", function(s, name)
  if type(s) == "string" and string_byte(s, 1) == 27 then
    return binary_chunk(name == nil and s or name)
  end
  local f, e = loadstring(s, name)
  if f then setfenv(f, env) end
  return f, e
end)
-- `load(reader [, name])` as Lua 5.1's (Redis 7.0 keeps it): the chunk gets the scripts'
-- environment, and a binary one is refused as above. A C function in front checks the
-- reader (src/scripting/sandbox.rs).
local raw_load = load
rawset(G, "load", helpers.load_front(function(reader, name)
  local first, binary = true, false
  local function piece()
    local s = reader()
    if first and s ~= nil and s ~= "" then
      first = false
      if type(s) == "string" and string_byte(s, 1) == 27 then
        binary = true
        return nil
      end
    end
    return s
  end
  local f, e = raw_load(piece, name)
  if binary then return binary_chunk(name == nil and "=(load)" or name) end
  if f then setfenv(f, env) end
  return f, e
end))
-- Arguments and results crossing into Rust hold slots of mlua's bounded reference stack;
-- `unpack` of a huge table would exhaust it in the `redis.call` it feeds.
-- The range is checked here, in doubles, before the real `unpack` sees it: Lua 5.1's own
-- check (`n = e - i + 1; if (n <= 0 ...)`) overflows a C int, which a compiler may assume
-- never happens, and a range such as -2 .. 2^31-1 then wrote past the Lua stack (the server
-- died). Redis patched the same lines in its Lua copy; a range of LUAI_MAXCSTACK (8,000)
-- values or more is refused with Lua's message, a shorter one goes on to the real check.
local raw_unpack, results_max, stack_max = unpack, helpers.results_max, 8000
local tonumber, floor, ceil = tonumber, math.floor, math.ceil
-- luaL_checkint's conversion on x86-64: truncated to 64 bits, then the low 32 kept.
local function c_int(x)
  if x ~= x or x >= 2^63 or x < -2^63 then return 0 end
  x = x >= 0 and floor(x) or ceil(x)
  if x >= 2^53 or x <= -2^53 then return 0 end
  return (x + 2^31) % 2^32 - 2^31
end
-- Lua's argument error, raised where the script called `unpack` (as the C function's is).
local function bad_argument(n, want, got)
  error("bad argument #" .. n .. " to 'unpack' (" .. want .. " expected, got " .. type(got) .. ")", 3)
end
rawset(G, "unpack", function(...)
  local t, i, j = ...
  if type(t) ~= "table" then bad_argument(1, "table", t) end
  local first = i == nil and 1 or tonumber(i)
  local last = j == nil and #t or tonumber(j)
  if not first then bad_argument(2, "number", i) end
  if not last then bad_argument(3, "number", j) end
  first, last = c_int(first), c_int(last)
  if first > last then return end
  local n = last - first + 1
  if n >= stack_max then error("too many results to unpack", 2) end
  if n > results_max then
    -- Numbers and booleans cross as plain values; only the others hold slots.
    local held = 0
    for k = first, last do
      local kind = type(rawget(t, k))
      if kind ~= "number" and kind ~= "boolean" and kind ~= "nil" then
        held = held + 1
        if held > results_max then error("too many results to unpack", 2) end
      end
    end
  end
  -- Three arguments, as the caller's: Lua checks its C stack against the arguments plus
  -- the results.
  return raw_unpack(t, first, last)
end)
local pcall = pcall
rawset(G, "pcall", function(f, ...)
  local r = {pcall(f, ...)}
  if not r[1] then
    local e = resolve(r[2])
    -- As Redis 7.0's pcall (luaRedisPcall): an error table gives its message, as errors
    -- were strings before Redis 7.
    if type(e) == "table" then
      local m = e.err
      if type(m) == "string" or type(m) == "number" then e = m end
    end
    r[2] = e
  end
  return unpack(r, 1, table.maxn(r))
end)
setmetatable(G, {
  __index = missing_global,
  __newindex = readonly_error,
  -- What `getmetatable(_G)` shows (it reads the globals behind the environment).
  __metatable = env_meta.__metatable,
})
-- The real globals are reachable only through the proxies; `rawset` refuses them anyway.
protected[G] = true

-- Functions (FUNCTION LOAD / FCALL). A library's code runs with `fenv` as its
-- environment, and so do the closures it registers. While the library loads, `fenv` reads
-- through to `libapi` (only `redis.register_function`, `redis.log` and the version); when
-- its functions run, to the same globals as scripts. Writes always fail.
local loadapi = {}
local function missing(_, k)
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end
local function guarded(t)
  local shown = setmetatable({}, {__index = t, __newindex = readonly_error, __metatable = false})
  protected[shown] = true
  local view = setmetatable({}, {__index = function(_, k)
    local v = t[k]
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end, __newindex = readonly_error, __metatable = shown})
  protected[view] = true
  return view
end
local libapi = setmetatable({redis = guarded(loadapi)},
  {__index = missing, __newindex = readonly_error, __metatable = false})
protected[libapi] = true
local fmeta = {__index = G, __newindex = readonly_error}
local fenv = setmetatable({}, fmeta)
protected[fenv] = true
fmeta.__metatable = readonly(shown_env_meta)

local FLAGS = {["no-writes"] = 1, ["allow-oom"] = 2, ["allow-stale"] = 4, ["no-cluster"] = 8,
               ["allow-cross-slot-keys"] = 16}

local function reg_error(msg) error({err = "ERR " .. msg}) end

-- A library name or function name (string or number), as Redis's luaGetStringSds.
local function name_of(v)
  local t = type(v)
  if t == "string" or t == "number" then return tostring(v) end
  return nil
end

local function read_flags(t)
  local bits, j = 0, 1
  while true do
    local f = t[j]
    if f == nil then return bits end
    if type(f) ~= "string" and type(f) ~= "number" then return nil end
    local bit = FLAGS[string.lower(tostring(f))]
    if not bit then return nil end
    if bits % (bit * 2) < bit then bits = bits + bit end
    j = j + 1
  end
end

function loadapi.register_function(...)
  local loading = rawget(bridge, "loading")
  if not loading then
    error({err = "ERR redis.register_function can only be called on FUNCTION LOAD command"})
  end
  local n = select("#", ...)
  if n < 1 or n > 2 then reg_error("wrong number of arguments to redis.register_function") end
  local name, callback, desc, flags
  if n == 1 then
    local args = ...
    if type(args) ~= "table" then
      reg_error("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
    end
    for k, v in next, args do
      if type(k) ~= "string" and type(k) ~= "number" then
        reg_error("named argument key given to redis.register_function is not a string")
      end
      local key = string.lower(tostring(k))
      if key == "function_name" then
        name = name_of(v)
        if not name then reg_error("function_name argument given to redis.register_function must be a string") end
      elseif key == "description" then
        desc = name_of(v)
        if not desc then reg_error("description argument given to redis.register_function must be a string") end
      elseif key == "callback" then
        if type(v) ~= "function" then reg_error("callback argument given to redis.register_function must be a function") end
        callback = v
      elseif key == "flags" then
        if type(v) ~= "table" then reg_error("flags argument to redis.register_function must be a table representing function flags") end
        flags = read_flags(v)
        if not flags then reg_error("unknown flag given") end
      else
        reg_error("unknown argument given to redis.register_function")
      end
    end
    if not name then reg_error("redis.register_function must get a function name argument") end
    if not callback then reg_error("redis.register_function must get a callback argument") end
  else
    local a, b = ...
    name = name_of(a)
    if not name then reg_error("first argument to redis.register_function must be a string") end
    if type(b) ~= "function" then reg_error("second argument to redis.register_function must be a function") end
    callback = b
  end
  if name == "" or string.find(name, "[^%w_]") then
    reg_error("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
  end
  if loading.names[name] then reg_error("Function already exists in the library") end
  loading.names[name] = true
  loading[#loading + 1] = {name = name, callback = callback, desc = desc, flags = flags or 0}
end
loadapi.log = redis.log
for _, k in ipairs({"LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING", "REDIS_VERSION",
                    "REDIS_VERSION_NUM"}) do
  loadapi[k] = redis[k]
end

-- Runs a library's code with `libapi` visible; nil, or the error text Redis reports.
local raw_pcall = pcall
local function load_library(chunk)
  fmeta.__index = libapi
  local ok, err = raw_pcall(chunk)
  fmeta.__index = G
  if ok then return nil end
  err = resolve(err)
  if type(err) == "table" then return tostring(rawget(err, "err")) end
  return "ERR " .. tostring(err)
end

-- Redis's __redis__err__handler: an error becomes {err=..., source=..., line=...}.
local function handler(err)
  err = resolve(err)
  if type(err) ~= "table" then err = {err = "ERR " .. tostring(err)} end
  local source, line = where()
  if source then
    err.source = source
    err.line = line
  end
  return err
end

-- Redis's sandbox shows its error handler as a global too.
rawset(G, "__redis__err__handler", handler)

return env, handler, fenv, load_library
