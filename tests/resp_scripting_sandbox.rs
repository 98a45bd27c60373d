//! The Lua sandbox as redis-server 7.0.15 shows it to a script: its globals (`load`,
//! `gcinfo`, `__redis__err__handler`), library tables that `pairs`, `next`, `rawget` and
//! `getmetatable` see as Redis's read-only tables, `rawset`/`setmetatable` refusals without
//! a position (Redis raises them in the Lua core), and cjson's numbers and cjson's and
//! cmsgpack's error messages.
//! The `bit` and `struct` libraries' results and errors.
//! Every expected reply below was recorded from redis-server 7.0.15 with the same EVAL.

mod common;
mod resp_wire;

use resp_wire::{daemon, Resp};

#[test]
fn the_sandbox_answers_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (script, want) in [
        (
            "return cjson.encode({-0.0, 1e300, 0.1, 1e-300, 123456789012345678})",
            "$42\r\n[-0,1e+300,0.1,1e-300,1.2345678901235e+17]\r\n",
        ),
        (
            "return cjson.encode({a=1e-20, b=-0.0})",
            "$18\r\n{\"a\":1e-20,\"b\":-0}\r\n",
        ),
        (
            "return cjson.encode(-0.0)",
            "$2\r\n-0\r\n",
        ),
        (
            "return cjson.encode(2^53)",
            "$18\r\n9.007199254741e+15\r\n",
        ),
        (
            "return cjson.encode({[2^53]=1})",
            "$24\r\n{\"9.007199254741e+15\":1}\r\n",
        ),
        (
            "return cjson.encode(1/0)",
            "-ERR user_script:1: Cannot serialise number: must not be NaN or Inf script: 08ffdaa5e7f117332da21c3b5222c2ede9492c60, on @user_script:1.\r\n",
        ),
        (
            "return cjson.encode({[true]=1})",
            "-ERR user_script:1: Cannot serialise boolean: table key must be a number or string script: 376a640005c8509c694166527ca834359bf69aa8, on @user_script:1.\r\n",
        ),
        (
            "return cjson.encode()",
            "-ERR user_script:1: bad argument #1 to 'encode' (expected 1 argument) script: fc593ea31f478c7ed65c77495cc63edeb9153530, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode(\"{\")",
            "-ERR user_script:1: Expected object key string but found T_END at character 2 script: 11c9a27f0575c57ad53dea0235e50ac048d289a5, on @user_script:1.\r\n",
        ),
        (
            "return {type(load), type(gcinfo), type(__redis__err__handler)}",
            "*3\r\n$8\r\nfunction\r\n$8\r\nfunction\r\n$8\r\nfunction\r\n",
        ),
        (
            "local t={} for k in pairs(_G) do t[#t+1]=k end table.sort(t) return table.concat(t, \" \")",
            "$271\r\nARGV KEYS _G _VERSION __redis__err__handler assert bit cjson cmsgpack collectgarbage coroutine error gcinfo getmetatable ipairs load loadstring math next pairs pcall rawequal rawget rawset redis select setmetatable string struct table tonumber tostring type unpack xpcall\r\n",
        ),
        (
            "local t={} for k in pairs(redis) do t[#t+1]=k end table.sort(t) return table.concat(t, \" \")",
            "$243\r\nLOG_DEBUG LOG_NOTICE LOG_VERBOSE LOG_WARNING REDIS_VERSION REDIS_VERSION_NUM REPL_ALL REPL_AOF REPL_NONE REPL_REPLICA REPL_SLAVE acl_check_cmd breakpoint call debug error_reply log pcall replicate_commands set_repl setresp sha1hex status_reply\r\n",
        ),
        (
            "return {rawget(string, \"len\") == string.len, getmetatable(redis) == nil, next(cjson) ~= nil}",
            "*3\r\n:1\r\n:1\r\n:1\r\n",
        ),
        (
            "local d=false local f=load(function() if d then return nil end d=true return \"return redis.call('ping')\" end) return f()",
            "+PONG\r\n",
        ),
        (
            "local d=false local f=load(function() if d then return nil end d=true return \"x=1\" end) return f()",
            "-ERR (load):1: Attempt to modify a readonly table script: 2addb83248078cd79693c7451ff1feb9d439961d, on =(load):1.\r\n",
        ),
        (
            "local s=string.dump(function() return 1 end) local f,e = load(function() local p = s s = nil return p end) return {type(f), e}",
            "*2\r\n$3\r\nnil\r\n$43\r\n(load):1: unexpected symbol near 'char(27)'\r\n",
        ),
        (
            "return load()",
            "-ERR user_script:1: bad argument #1 to 'load' (function expected, got no value) script: a6fcbea7c6189fb0ab8d5189022a9a1440eee157, on @user_script:1.\r\n",
        ),
        (
            "return rawset(_G, \"x\", 1)",
            "-ERR Attempt to modify a readonly table script: b9573f4f44ad34788be4c6ff5d3a0d12c29038ec, on @user_script:1.\r\n",
        ),
        (
            "setmetatable(string, {})",
            "-ERR Attempt to modify a readonly table script: f77b14463e19b108fd21de6f1ba202c4266299ca, on @user_script:1.\r\n",
        ),
        (
            "return rawset()",
            "-ERR user_script:1: bad argument #1 to 'rawset' (table expected, got no value) script: e083c3c3169b550515eb809bb88641ea21ea5e1b, on @user_script:1.\r\n",
        ),
        (
            "return {rawset({}, \"a\", 1).a}",
            "*1\r\n:1\r\n",
        ),
        (
            "return cmsgpack.unpack(\"\\193\")",
            "-ERR user_script:1: Bad data format in input. script: a99d585a2d17143fda650a31dda2654607544580, on @user_script:1.\r\n",
        ),
        (
            "return cmsgpack.unpack(\"\\217\")",
            "-ERR user_script:1: Missing bytes in input. script: a180ec060a6a70fe8f9b740e23e72439f76e8ea1, on @user_script:1.\r\n",
        ),
        (
            "return cmsgpack.pack()",
            "-ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.) script: 6bc235afa55de88253e203cc5fe5844792e25209, on @user_script:1.\r\n",
        ),
        (
            "return cmsgpack.unpack()",
            "-ERR user_script:1: bad argument #1 to 'unpack' (string expected, got no value) script: 78103c0f3f46e5897cb5d2fad8dfb28bd38e0eeb, on @user_script:1.\r\n",
        ),
        (
            "return cmsgpack.unpack({})",
            "-ERR user_script:1: bad argument #1 to 'unpack' (string expected, got table) script: 1bf8d78c3e2298775df6934cb05254905d2c8ddc, on @user_script:1.\r\n",
        ),
        (
            "return cmsgpack.unpack(12)",
            ":49\r\n",
        ),
        (
            "return cmsgpack.unpack_one()",
            "-ERR user_script:1: bad argument #1 to 'unpack_one' (string expected, got no value) script: eb943cbabab4c1be475b701d22aeca8aa78bd649, on @user_script:1.\r\n",
        ),
        (
            "return cmsgpack.unpack_limit(\"\\1\", \"x\")",
            "-ERR user_script:1: bad argument #2 to 'unpack_limit' (number expected, got string) script: a84d89026f0f38071b1551797cd66b84b85ad6e0, on @user_script:1.\r\n",
        ),
        (
            "return {cmsgpack.unpack_one(\"\\1\\2\", 1)}",
            "*2\r\n:-1\r\n:2\r\n",
        ),
    ] {
        c.check(&["EVAL", script, "0"], want);
    }
}

/// LuaBitOp's results and argument errors (raised at the script's line, `bit.band()`
/// included), as redis-server 7.0.15 answers; mlua's conversions gave `-1` for
/// `bit.band()`, converting errors with no position, and 0 for `bit.tobit(1e300)`.
#[test]
fn the_bit_library_answers_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (script, want) in [
        (
            "return bit.band()",
            "-ERR user_script:1: bad argument #1 to 'band' (number expected, got no value) script: 5cf53f885283a4f44a8fe7ad7e7fccaed4113e62, on @user_script:1.\r\n",
        ),
        (
            "return bit.band({})",
            "-ERR user_script:1: bad argument #1 to 'band' (number expected, got table) script: fdfcd4a526b9032c8d0b9f05f3e3b149837d79ec, on @user_script:1.\r\n",
        ),
        (
            "return bit.band(1, 'x')",
            "-ERR user_script:1: bad argument #2 to 'band' (number expected, got string) script: 855eca651502a1b972d194697c283b74019b4048, on @user_script:1.\r\n",
        ),
        (
            "return bit.band('3', 7)",
            ":3\r\n",
        ),
        (
            "return bit.lshift(1)",
            "-ERR user_script:1: bad argument #2 to 'lshift' (number expected, got no value) script: 96ef0de5140ab932215a1863ca1373f10f03b7a6, on @user_script:1.\r\n",
        ),
        (
            "return bit.tohex(255, nil)",
            "-ERR user_script:1: bad argument #2 to 'tohex' (number expected, got nil) script: dedc20f748c3e47f0411d2fdada51fc3d35006dd, on @user_script:1.\r\n",
        ),
        (
            "return bit.tohex(255, -2147483648)",
            "$8\r\n000000FF\r\n",
        ),
        (
            "return bit.tobit(2^53+3)",
            ":2\r\n",
        ),
        (
            "return bit.tobit(1e300)",
            ":-2013235812\r\n",
        ),
        (
            "return {bit.bor(1, 2, 4), bit.bxor(7, 2), bit.bnot(0), bit.arshift(-256, 4), bit.rshift(-256, 28), bit.rol(1, 33), bit.ror(1, 1), bit.bswap(0x12345678)}",
            "*8\r\n:7\r\n:5\r\n:-1\r\n:-16\r\n:15\r\n:2\r\n:-2147483648\r\n:2018915346\r\n",
        ),
        (
            "return bit.tohex(-1, -3)",
            "$3\r\nFFF\r\n",
        ),
        (
            "return bit.tobit(2^32 + 5)",
            ":5\r\n",
        ),
    ] {
        c.check(&["EVAL", script, "0"], want);
    }
}

/// lua_struct's `pack` reads numbers as Lua holds them (mlua read any number within
/// 2.2e-16 of -1, 0 or 1 as that integer: `1e-20` packed as 0), takes strings that
/// convert where it wants numbers (and numbers where it wants strings), and its errors
/// name the argument at the script's line; `unpack` and `size` as lua_struct.
#[test]
fn the_struct_library_answers_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (script, want) in [
        (
            "return string.byte(struct.pack('>d', 1e-20), 1, -1)",
            ":59\r\n",
        ),
        (
            "return string.byte(struct.pack('>d', '1e-20'), 1, -1)",
            ":59\r\n",
        ),
        (
            "return string.byte(struct.pack('>f', 1e-20), 1, -1)",
            ":30\r\n",
        ),
        (
            "return string.byte(struct.pack('<d', -0.0), 1, -1)",
            ":0\r\n",
        ),
        (
            "return {struct.unpack('>d', struct.pack('>d', 1e-20))}",
            "*2\r\n:0\r\n:9\r\n",
        ),
        (
            "return string.byte(struct.pack('>i', '7'), 1, -1)",
            ":0\r\n",
        ),
        (
            "return struct.pack('d', {})",
            "-ERR user_script:1: bad argument #2 to 'pack' (number expected, got table) script: 07ee7a3b56b22f95ac01fda9120ababa51dee2a9, on @user_script:1.\r\n",
        ),
        (
            "return (struct.pack('s', 1e-20):gsub('%z', '!'))",
            "$6\r\n1e-20!\r\n",
        ),
        (
            "return struct.pack('c2', 'a')",
            "-ERR user_script:1: bad argument #3 to 'pack' (string too short) script: c0e0df4a7eb7f4a68055945e60c779521b3a3279, on @user_script:1.\r\n",
        ),
        (
            "return struct.pack('!3i', 1)",
            "-ERR user_script:1: alignment 3 is not a power of 2 script: 9c4f4d70ace09806881a064330127afb155d9415, on @user_script:1.\r\n",
        ),
        (
            "return struct.pack('i40', 1)",
            "-ERR user_script:1: integral size 40 is larger than limit of 32 script: 652cabace7a9fdbd8e0c2489b1b804d19185ddc8, on @user_script:1.\r\n",
        ),
        (
            "return struct.pack('i99999999999', 1)",
            "-ERR user_script:1: integral size overflow script: 55da9dc87c031781cab77cd7caa7180a2f334e7e, on @user_script:1.\r\n",
        ),
        (
            "return string.byte(struct.pack('<i10', -1), 1, -1)",
            ":255\r\n",
        ),
        (
            "return string.byte(struct.pack('!2 b i3 h', 1, 2, 3), 1, -1)",
            ":1\r\n",
        ),
        (
            "return struct.pack()",
            "-ERR user_script:1: bad argument #1 to 'pack' (string expected, got no value) script: c9b8aed4f0633591e6252db264bf8b86b82828d5, on @user_script:1.\r\n",
        ),
        (
            "return struct.pack('<i2i', 1)",
            "-ERR user_script:1: bad argument #3 to 'pack' (number expected, got nil) script: 6590ef02216529295301610798745a282c7bdde1, on @user_script:1.\r\n",
        ),
        (
            "return struct.pack('q', 1)",
            "-ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'q') script: 49599a2466f241bd45a2bd4f631df3a1a1ec9790, on @user_script:1.\r\n",
        ),
        (
            "return struct.unpack('q', 'abc')",
            "-ERR user_script:1: bad argument #1 to 'unpack' (invalid format option 'q') script: 784da5864eff542fc1f18b204d07e212f65584ee, on @user_script:1.\r\n",
        ),
        (
            "return struct.unpack('i', 'ab')",
            "-ERR user_script:1: bad argument #2 to 'unpack' (data string too short) script: e930e4fb36d046f0e264ac634fbe097e3f8b897d, on @user_script:1.\r\n",
        ),
        (
            "return struct.unpack('i', 'abcd', 0)",
            "-ERR user_script:1: bad argument #3 to 'unpack' (offset must be 1 or greater) script: 136d17dc2e5c23430c74865741f12a14ece019d4, on @user_script:1.\r\n",
        ),
        (
            "return struct.unpack('c0', 'abcd')",
            "-ERR user_script:1: format 'c0' needs a previous size script: 59e7f1d8af41d70e2ee48a1077382ea7d201a567, on @user_script:1.\r\n",
        ),
        (
            "return struct.size('s')",
            "-ERR user_script:1: bad argument #1 to 'size' (option 's' has no fixed size) script: a2a0525826ab7939ccd3f54427a862205642f28f, on @user_script:1.\r\n",
        ),
        (
            "return struct.size('i q d')",
            ":12\r\n",
        ),
        (
            "return struct.size('!3')",
            "-ERR user_script:1: alignment 3 is not a power of 2 script: e85d1ac33cd35488c9a4f9b4f97cb56bbfae9248, on @user_script:1.\r\n",
        ),
    ] {
        c.check(&["EVAL", script, "0"], want);
    }
}

/// cmsgpack packs numbers as Lua holds them, arguments and table values alike (mlua read
/// any number within 2.2e-16 of -1, 0 or 1 as that integer: `1e-20` packed as 0).
#[test]
fn cmsgpack_packs_small_numbers_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (script, want) in [
        (
            "return {string.byte(cmsgpack.pack(1e-20), 1, -1)}",
            "*9\r\n:203\r\n:59\r\n:199\r\n:156\r\n:161\r\n:12\r\n:146\r\n:66\r\n:35\r\n",
        ),
        (
            "return {string.byte(cmsgpack.pack({1e-20, -1e-20}), 1, -1)}",
            "*19\r\n:146\r\n:203\r\n:59\r\n:199\r\n:156\r\n:161\r\n:12\r\n:146\r\n:66\r\n:35\r\n:203\r\n:187\r\n:199\r\n:156\r\n:161\r\n:12\r\n:146\r\n:66\r\n:35\r\n",
        ),
        (
            "return {string.byte(cmsgpack.pack({a = 1e-20}), 1, -1)}",
            "*12\r\n:129\r\n:161\r\n:97\r\n:203\r\n:59\r\n:199\r\n:156\r\n:161\r\n:12\r\n:146\r\n:66\r\n:35\r\n",
        ),
        (
            "return {string.byte(cmsgpack.pack(-0.0, 0.9999999999999999), 1, -1)}",
            "*10\r\n:0\r\n:203\r\n:63\r\n:239\r\n:255\r\n:255\r\n:255\r\n:255\r\n:255\r\n:255\r\n",
        ),
        (
            "return tostring(cmsgpack.unpack(cmsgpack.pack(1e-20)))",
            "$5\r\n1e-20\r\n",
        ),
        (
            "return cmsgpack.pack()",
            "-ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.) script: 6bc235afa55de88253e203cc5fe5844792e25209, on @user_script:1.\r\n",
        ),
    ] {
        c.check(&["EVAL", script, "0"], want);
    }
}

/// cjson as lua-cjson 2.1 in Redis 7.0.15: number keys read exactly (`{[-0.0]=1}`,
/// `{[1e-20]=1}`), the settings functions (`encode_number_precision`,
/// `encode_sparse_array`, `encode_invalid_numbers` with its `null` mode,
/// `encode_keep_buffer`, `decode_invalid_numbers`) with their values and errors, and the
/// decoder's tokens (`found T_ARR_END`, `invalid escape code`, strtod numbers: `0x10`,
/// `-infinity`, `1e400`). `redis.sha1hex` / `redis.setresp` as C functions (the script's
/// line kept in a tail call), pcall giving an error table's message, `pcall(cmsgpack.pack)`
/// naming `'?'`, and numbers out of the integer range replied as C casts them.
/// Settings are changed on `cjson.new()` modules, so each script starts from the defaults.
#[test]
fn cjson_settings_decoder_and_redis_functions_answer_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (script, want) in [
        (
            "return cjson.encode({[-0.0]=1})",
            "$8\r\n{\"-0\":1}\r\n",
        ),
        (
            "return cjson.encode({[1e-20]=1})",
            "$11\r\n{\"1e-20\":1}\r\n",
        ),
        (
            "return cjson.encode({[0.5]=1, [1]=2})",
            "$15\r\n{\"0.5\":1,\"1\":2}\r\n",
        ),
        (
            "return cjson.encode({[1/0]=1})",
            "-ERR user_script:1: Cannot serialise number: must not be NaN or Inf script: d755e1d8b557c8f3573fc89852e5b5cdcc2f6583, on @user_script:1.\r\n",
        ),
        (
            "return cjson.encode({[1]=1,[11]=2})",
            "-ERR user_script:1: Cannot serialise table: excessively sparse array script: 6a250d29f5c39a440ad04feec5b081ebfbc2a1fe, on @user_script:1.\r\n",
        ),
        (
            "return cjson.encode({[3]=1,[4]=2})",
            "$15\r\n[null,null,1,2]\r\n",
        ),
        (
            "return {pcall(cjson.encode, {[{}]=1})}",
            "*2\r\n$-1\r\n$60\r\nCannot serialise table: table key must be a number or string\r\n",
        ),
        (
            "return (function() local j = cjson.new() return {j.encode_keep_buffer(), j.encode_keep_buffer(false), j.encode_keep_buffer('on')} end)()",
            "*3\r\n:1\r\n$-1\r\n:1\r\n",
        ),
        (
            "return (function() local j = cjson.new() return {j.encode_number_precision(3), j.encode(math.pi), j.encode({[math.pi]=1}), cjson.encode(math.pi)} end)()",
            "*4\r\n:3\r\n$4\r\n3.14\r\n$10\r\n{\"3.14\":1}\r\n$15\r\n3.1415926535898\r\n",
        ),
        (
            "return (function() local j = cjson.new() return {j.encode_sparse_array(true), j.encode({[1]=1,[20]=2})} end)()",
            "*2\r\n:1\r\n$14\r\n{\"1\":1,\"20\":2}\r\n",
        ),
        (
            "return (function() local j = cjson.new() return {j.encode_sparse_array(false, 0), j.encode({[1]=1,[20]=2})} end)()",
            "*2\r\n$-1\r\n$95\r\n[1,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,2]\r\n",
        ),
        (
            "return (function() local j = cjson.new() return {j.encode_invalid_numbers('null'), j.encode({1/0, -1/0, 0/0}), j.encode({[1/0]=1}), j.encode(0/0)} end)()",
            "*4\r\n$4\r\nnull\r\n$16\r\n[null,null,null]\r\n$10\r\n{\"null\":1}\r\n$4\r\nnull\r\n",
        ),
        (
            "return (function() local j = cjson.new() return {j.encode_invalid_numbers(true), j.encode({1/0, -1/0}), j.encode({[1/0]=1})} end)()",
            "*3\r\n:1\r\n$10\r\n[inf,-inf]\r\n$9\r\n{\"inf\":1}\r\n",
        ),
        (
            "return (function() local j = cjson.new() return {j.encode_max_depth(1.5), j.encode_max_depth('3'), pcall(j.encode, {{{{1}}}})} end)()",
            "*4\r\n:1\r\n:3\r\n$-1\r\n$39\r\nCannot serialise, excessive nesting (4)\r\n",
        ),
        (
            "return (function() local j = cjson.new() j.decode_invalid_numbers(false) return {pcall(j.decode, '[0x10]')} end)()",
            "*2\r\n$-1\r\n$54\r\nExpected value but found invalid number at character 2\r\n",
        ),
        (
            "return cjson.encode_keep_buffer('x')",
            "-ERR user_script:1: bad argument #1 to 'encode_keep_buffer' (invalid option 'x') script: 6f2c92f10409cc8fc8080231b0877343add2e7b1, on @user_script:1.\r\n",
        ),
        (
            "return cjson.encode_number_precision(15)",
            "-ERR user_script:1: bad argument #1 to 'encode_number_precision' (expected integer between 1 and 14) script: bbd9450de606b026b51b67e7b961ff09397ea6dd, on @user_script:1.\r\n",
        ),
        (
            "return {cjson.encode_sparse_array(false, -1)}",
            "-ERR user_script:1: bad argument #1 to 'encode_sparse_array' (expected integer between 0 and 2147483647) script: aab3dcc7a9fd0841f8033b169d37aff7e4cdb90c, on @user_script:1.\r\n",
        ),
        (
            "return {cjson.encode_sparse_array(false, 'x')}",
            "-ERR user_script:1: bad argument #2 to 'encode_sparse_array' (number expected, got string) script: 77b6d7c32882f3d6458e72f16ba412d4987bd7ea, on @user_script:1.\r\n",
        ),
        (
            "return cjson.encode_max_depth(1, 2)",
            "-ERR user_script:1: bad argument #2 to 'encode_max_depth' (found too many arguments) script: ebf9f090ab5ddd4b21a6e44e9f074da030afcaf9, on @user_script:1.\r\n",
        ),
        (
            "return {pcall(cjson.encode_invalid_numbers, 'x')}",
            "*2\r\n$-1\r\n$43\r\nbad argument #1 to '?' (invalid option 'x')\r\n",
        ),
        (
            "return cjson.decode('[inf, -inf, 0x10, 01, +1, -0x1p4, 1e5]')",
            "*7\r\n:-9223372036854775808\r\n:-9223372036854775808\r\n:16\r\n:1\r\n:1\r\n:-16\r\n:100000\r\n",
        ),
        (
            "return tostring(cjson.decode('-infinity'))",
            "$4\r\n-inf\r\n",
        ),
        (
            "return tostring(cjson.decode('[NaN]')[1])",
            "$3\r\nnan\r\n",
        ),
        (
            "return cjson.decode('1e400')",
            ":-9223372036854775808\r\n",
        ),
        (
            "return cjson.decode('{\"a\" 1}')",
            "-ERR user_script:1: Expected colon but found T_NUMBER at character 6 script: 3486ee24bfdfc100c738c73355e99954ef01d92f, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('\"\\\\ud800\"')",
            "-ERR user_script:1: Expected value but found invalid unicode escape code at character 2 script: 614364f6c9d9a8370605ddedbdbe5d726346f810, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('\"\\\\x\"')",
            "-ERR user_script:1: Expected value but found invalid escape code at character 2 script: e15fa517a0e30bc5ba472a9403d98fe6c88ca8e5, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('[1,]')",
            "-ERR user_script:1: Expected value but found T_ARR_END at character 4 script: d31ab1dd313d99d4ad3dac6e48cdff283bea270c, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('{,}')",
            "-ERR user_script:1: Expected object key string but found T_COMMA at character 2 script: f5a84fa56cc7fbbfa78bc8c55fd00ced7aac8d70, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('-')",
            "-ERR user_script:1: Expected value but found invalid number at character 1 script: a968c762a4638482bd9ef50dcecdc4504214d87d, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('[true false]')",
            "-ERR user_script:1: Expected comma or array end but found T_BOOLEAN at character 7 script: 3ed0a28ef61cac471df3705372619ac1ab296b17, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('[1\\0]')",
            "-ERR user_script:1: Expected comma or array end but found T_END at character 3 script: f565bae8b748e5fc09709f478cd80505f962b6b2, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('\"ab')",
            "-ERR user_script:1: Expected value but found unexpected end of string at character 4 script: 2af00669f3ebd5596cb6db0a42e0f16e65576019, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('\\0a')",
            "-ERR user_script:1: JSON parser does not support UTF-16 or UTF-32 script: dd78d9328784e2bc97ce56b69c1960be18a3e442, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('\"\\\\u12\"')",
            "-ERR user_script:1: Expected value but found invalid unicode escape code at character 2 script: abf3d7a6907669d8b3a294456e4dca885645512f, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('\"\\\\ud83d\\\\ude00\"')",
            "$4\r\n😀\r\n",
        ),
        (
            "return cjson.decode('nan(123)')",
            ":-9223372036854775808\r\n",
        ),
        (
            "return cjson.decode('{\"a\":1,}')",
            "-ERR user_script:1: Expected object key string but found T_OBJ_END at character 8 script: 7e3659dd873275ff5047e436b0cc31cc91d160e4, on @user_script:1.\r\n",
        ),
        (
            "return cjson.decode('\"a\" \"b\"')",
            "-ERR user_script:1: Expected the end but found T_STRING at character 5 script: 99f3500d611be2c8a86d3c8a393e3a0e704da0fd, on @user_script:1.\r\n",
        ),
        (
            "return redis.sha1hex()",
            "-ERR wrong number of arguments script: 3c7ce947ae74a835cc575b6ee87fb27503cb7ba4, on @user_script:1.\r\n",
        ),
        (
            "return redis.sha1hex(1.5)",
            "$40\r\naa8f289ebe6d4db1b4a1038b8931ec8c2b5399fb\r\n",
        ),
        (
            "return redis.sha1hex({})",
            "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n",
        ),
        (
            "return {pcall(redis.sha1hex)}",
            "*2\r\n$-1\r\n$29\r\nERR wrong number of arguments\r\n",
        ),
        (
            "return redis.setresp()",
            "-ERR redis.setresp() requires one argument. script: 76da64e28014e7c9ad76db33c3918c53d81a3d7e, on @user_script:1.\r\n",
        ),
        (
            "return redis.setresp(4)",
            "-ERR RESP version must be 2 or 3. script: 921c0a48021d97dfd5884aeea41875972c7804d9, on @user_script:1.\r\n",
        ),
        (
            "return redis.setresp('3')",
            "$-1\r\n",
        ),
        (
            "return redis.setresp(2.5)",
            "$-1\r\n",
        ),
        (
            "return {pcall(redis.setresp, 'x')}",
            "*2\r\n$-1\r\n$32\r\nERR RESP version must be 2 or 3.\r\n",
        ),
        (
            "return {pcall(cmsgpack.pack)}",
            "*2\r\n$-1\r\n$54\r\nbad argument #0 to '?' (MessagePack pack needs input.)\r\n",
        ),
        (
            "return {pcall(error, {err='x'})}",
            "*2\r\n$-1\r\n$1\r\nx\r\n",
        ),
        (
            "return {pcall(redis.call, 'nosuch')}",
            "*2\r\n$-1\r\n$44\r\nERR Unknown Redis command called from script\r\n",
        ),
        (
            "return 1/0",
            ":-9223372036854775808\r\n",
        ),
        (
            "return {0/0, 1e19, -1e19}",
            "*3\r\n:-9223372036854775808\r\n:-9223372036854775808\r\n:-9223372036854775808\r\n",
        ),
    ] {
        c.check(&["EVAL", script, "0"], want);
    }
}
