//! EVAL, EVALSHA, SCRIPT and the Lua sandbox with Redis 7.0's exact replies (recorded from
//! redis-server 7.0 with the same commands; slabd's REDIS_VERSION differs), atomicity
//! against other clients, -BUSY and SCRIPT KILL, and scripts that misbehave.

mod common;
mod resp_wire;

use resp_wire::{daemon, encode, Resp};

#[test]
fn replies_convert_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (args, want) in [
        (
            &["EVAL", "return {1,2,3,'ciao',{1,2}}", "0"][..],
            "*5\r\n:1\r\n:2\r\n:3\r\n$4\r\nciao\r\n*2\r\n:1\r\n:2\r\n",
        ),
        (
            &[
                "EVAL",
                "return redis.call('set',KEYS[1],ARGV[1])",
                "1",
                "k",
                "v",
            ],
            "+OK\r\n",
        ),
        (
            &["EVAL", "return redis.call('get',KEYS[1])", "1", "k"],
            "$1\r\nv\r\n",
        ),
        (
            &["EVAL", "return redis.call('get','nokey')", "0"],
            "$-1\r\n",
        ),
        (
            &["EVAL", "return {true,false,3.99,'x'}", "0"],
            "*4\r\n:1\r\n$-1\r\n:3\r\n$1\r\nx\r\n",
        ),
        (&["EVAL", "return {1, nil, 2}", "0"], "*1\r\n:1\r\n"),
        (
            &["EVAL", "return redis.pcall('incr','k')", "0"],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["EVAL", "return redis.error_reply('My Error')", "0"],
            "-My Error\r\n",
        ),
        (
            &["EVAL", "return redis.error_reply('Oops')", "0"],
            "-ERR Oops\r\n",
        ),
        (
            &["EVAL", "return redis.status_reply('FINE')", "0"],
            "+FINE\r\n",
        ),
        (
            &["EVAL", "return cjson.encode({1,2,{a='b/c'}})", "0"],
            "$18\r\n[1,2,{\"a\":\"b\\/c\"}]\r\n",
        ),
        (
            &["EVAL", "return cjson.decode('[1,2,\"x\"]')", "0"],
            "*3\r\n:1\r\n:2\r\n$1\r\nx\r\n",
        ),
        (
            &[
                "EVAL",
                "return {struct.unpack('>i2<I4', struct.pack('>i2<I4', -2, 258))}",
                "0",
            ],
            "*3\r\n:-2\r\n:258\r\n:7\r\n",
        ),
        (
            &["EVAL", "return bit.tohex(bit.bxor(0x12345678, 0xff))", "0"],
            "$8\r\n12345687\r\n",
        ),
        // Redis 7.0's unit/scripting "lua bit.tohex bug" (a debug build panicked).
        (
            &["EVAL", "return bit.tohex(65535, -2147483648)", "0"],
            "$8\r\n0000FFFF\r\n",
        ),
        (
            &["EVAL", "return redis.sha1hex('Pizza & Mandolino')", "0"],
            "$40\r\n74822d82031af7493c20eefa13bd07ec4fada82f\r\n",
        ),
        (
            &["EVAL", "return redis.call('set', 'n', 3.0)", "0"],
            "+OK\r\n",
        ),
        (
            &["EVAL", "return redis.call('get', 'n')", "0"],
            "$1\r\n3\r\n",
        ),
    ] {
        c.check(args, want);
    }
    c.send(&encode(&[
        b"EVAL",
        b"return cmsgpack.pack({1,2,'x'})",
        b"0",
    ]));
    assert_eq!(c.reply(), b"$5\r\n\x93\x01\x02\xa1x\r\n");
}

#[test]
fn errors_read_as_redis_writes_them() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let sha = |body: &str| {
        let mut c = d.connect_resp();
        let reply = c.cmd(&["SCRIPT", "LOAD", body]);
        reply.split("\r\n").nth(1).unwrap().to_string()
    };
    for (body, msg) in [
        (
            "return redis.call('nosuch')",
            "ERR Unknown Redis command called from script",
        ),
        (
            "return redis.call('get','a','b')",
            "ERR Wrong number of args calling Redis command from script",
        ),
        (
            "return redis.call('multi')",
            "ERR This Redis command is not allowed from script",
        ),
        ("error('x')", "ERR user_script:1: x"),
        (
            "return a",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'a'",
        ),
        (
            "a=1",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        (
            "redis.call = function() end",
            "ERR user_script:1: Attempt to modify a readonly table",
        ),
        // Raised in Redis's Lua core, without a position.
        (
            "setmetatable(_G, {})",
            "ERR Attempt to modify a readonly table",
        ),
        (
            "print('x')",
            "ERR user_script:1: Script attempted to access nonexistent global variable 'print'",
        ),
        (
            "return loadstring(string.dump(function() return 1 end))()",
            "ERR user_script:1: attempt to call a nil value",
        ),
        (
            "local function f(n) return f(n+1)+1 end return f(1)",
            "ERR user_script:1: stack overflow",
        ),
    ] {
        let want = format!("-{msg} script: {}, on @user_script:1.\r\n", sha(body));
        c.check(&["EVAL", body, "0"], &want);
    }
    c.check(
        &["EVAL", "return x x", "0"],
        "-ERR Error compiling script (new function): user_script:1: '<eof>' expected near 'x'\r\n",
    );
    c.check(
        &["EVAL", "return 1", "-1"],
        "-ERR Number of keys can't be negative\r\n",
    );
    c.check(
        &["EVAL", "return 1", "1"],
        "-ERR Number of keys can't be greater than number of args\r\n",
    );
    c.check(
        &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        "-NOSCRIPT No matching script. Please use EVAL.\r\n",
    );
    let ro = "return redis.call('set','a','b')";
    c.check(
        &["EVAL_RO", ro, "0"],
        &format!(
            "-ERR Write commands are not allowed from read-only scripts. script: {}, on \
             @user_script:1.\r\n",
            sha(ro)
        ),
    );
    // PUBLISH may replicate: refused in a read-only script too, as in Redis 7.0.
    let publish = "return redis.call('publish','ch','msg')";
    c.check(
        &["EVAL_RO", publish, "0"],
        &format!(
            "-ERR Write commands are not allowed from read-only scripts. script: {}, on \
             @user_script:1.\r\n",
            sha(publish)
        ),
    );
    c.check(&["EVAL", publish, "0"], ":0\r\n");
    c.check(
        &["SCRIPT", "KILL"],
        "-NOTBUSY No scripts in execution right now.\r\n",
    );
    c.check(
        &["SCRIPT", "FOO"],
        "-ERR unknown subcommand 'FOO'. Try SCRIPT HELP.\r\n",
    );
}

/// Numbers a script passes to a command reach it as redis-server 7.0.15 prints them
/// (`%.17g`), not as Lua's `tostring` (`%.14g`): replies recorded from redis-server 7.0.15.
#[test]
fn numbers_passed_to_commands_print_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (n, want) in [
        ("0.1", "0.10000000000000001"),
        ("3.0", "3"),
        ("-0.0", "-0"),
        ("1e14", "100000000000000"),
        ("1e16", "10000000000000000"),
        ("1e17", "1e+17"),
        ("1e300", "1.0000000000000001e+300"),
        ("1/3", "0.33333333333333331"),
        ("-2^63", "-9.2233720368547758e+18"),
        ("123456.789", "123456.789"),
        ("1e-5", "1.0000000000000001e-05"),
        ("1/0", "inf"),
        ("-1/0", "-inf"),
    ] {
        let script = format!("redis.call('set', 'k', {n}) return redis.call('get', 'k')");
        let reply = c.cmd(&["EVAL", &script, "0"]);
        assert_eq!(reply, format!("${}\r\n{want}\r\n", want.len()), "{n}");
    }
    // Lua's own conversions keep `%.14g`.
    c.check(
        &["EVAL", "return tostring(1e14) .. ' ' .. tostring(0.1)", "0"],
        "$9\r\n1e+14 0.1\r\n",
    );
}

/// A failed `redis.call` raises its `{err = ...}` table, which a script's own `xpcall`
/// handler sees as such (replies recorded from redis-server 7.0.15).
#[test]
fn redis_call_raises_its_error_table() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let handler = "function(e) return type(e) .. ' ' .. tostring(e.err) end";
    for (call, want) in [
        (
            "redis.call('incr', 'x')",
            "table ERR value is not an integer or out of range",
        ),
        (
            "redis.call()",
            "table ERR Please specify at least one argument for this redis lib call",
        ),
        (
            "redis.call('get', {})",
            "table ERR Lua redis lib command arguments must be strings or integers",
        ),
    ] {
        let script = format!(
            "redis.call('set', 'x', 'a') \
             local ok, e = xpcall(function() return {call} end, {handler}) return e"
        );
        let reply = c.cmd(&["EVAL", &script, "0"]);
        assert_eq!(reply, format!("${}\r\n{want}\r\n", want.len()), "{call}");
    }
}

/// KEYS and ARGV larger than the Lua heap limit are built (the command's bytes are already
/// in memory, and Redis has no limit); a script that then allocates fails with Lua's
/// error, and the server goes on.
#[test]
fn an_argv_past_the_lua_heap_limit_runs_and_the_server_stays_up() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let big = vec![b'a'; 1 << 20];
    let n = (slabd::scripting::LUA_HEAP_LIMIT >> 20) + 16;
    let mut args: Vec<&[u8]> = vec![b"EVAL", b"return #ARGV", b"0"];
    args.extend(std::iter::repeat_n(&big[..], n));
    c.send(&encode(&args));
    assert_eq!(c.reply(), format!(":{n}\r\n").as_bytes());
    args[1] = b"local t = {} for i = 1, 1000 do t[i] = ARGV[1] .. i end return #t";
    c.send(&encode(&args));
    let reply = String::from_utf8_lossy(&c.reply()).into_owned();
    assert!(reply.ends_with("not enough memory\r\n"), "{reply:?}");
    c.check(&["PING"], "+PONG\r\n");
    c.check(&["EVAL", "return #ARGV", "0", "a", "b"], ":2\r\n");
}

/// Nothing a script does to the sandbox outlives it: the strings' metatable, the globals
/// behind `_G`'s metatable and `coroutine` are read-only, and there is no `setfenv` (as in
/// redis-server 7.0.15, whose replies these are).
#[test]
fn the_sandbox_keeps_nothing_from_one_script_to_the_next() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let readonly = "-ERR user_script:1: Attempt to modify a readonly table script: ";
    for script in [
        "getmetatable('').__index = {} return 1",
        "getmetatable('').__index.saved = KEYS return 1",
        "getmetatable('').x = 1 return 1",
        "coroutine.x = 1 return 1",
    ] {
        let reply = c.cmd(&["EVAL", script, "0"]);
        assert!(reply.starts_with(readonly), "{script}: {reply:?}");
    }
    let reply = c.cmd(&["EVAL", "rawset(getmetatable(''), 'y', 1) return 1", "0"]);
    assert!(
        reply.contains("Attempt to modify a readonly table"),
        "{reply:?}"
    );
    let reply = c.cmd(&["EVAL", "setfenv(tostring, {}) return 1", "0"]);
    assert!(
        reply.starts_with(
            "-ERR user_script:1: Script attempted to access nonexistent global variable 'setfenv'"
        ),
        "{reply:?}"
    );
    c.check(
        &["EVAL", "return type(getmetatable(_G).__index)", "0"],
        "$8\r\nfunction\r\n",
    );
    // Through the globals behind `_G`'s metatable, `rawset` used to make a global for good.
    let reply = c.cmd(&[
        "EVAL",
        "rawset(getmetatable(_G).__index, 'saved', 1) return 1",
        "0",
    ]);
    assert!(
        reply.contains("bad argument #1 to 'rawset' (table expected, got function)"),
        "{reply:?}"
    );
    c.check(&["EVAL", "return ('abc'):upper()", "0"], "$3\r\nABC\r\n");
    c.check(
        &[
            "EVAL",
            "return tostring(getmetatable('').__index == string)",
            "0",
        ],
        "$4\r\ntrue\r\n",
    );
}

/// Whatever a script did to its KEYS and ARGV (more entries, other keys, a metatable), the
/// next script gets exactly its own (they are reused tables).
#[test]
fn each_script_gets_its_own_keys_and_argv() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &[
            "EVAL",
            "KEYS[3] = 'x' KEYS.foo = 1 ARGV[2] = 'y' \
             setmetatable(ARGV, {__index = function() return 'meta' end}) return ARGV[9]",
            "2",
            "a",
            "b",
            "c",
        ],
        "$4\r\nmeta\r\n",
    );
    let look = "return {#KEYS, tostring(KEYS[1]), tostring(KEYS[3]), tostring(KEYS.foo), \
                #ARGV, tostring(ARGV[2]), tostring(ARGV[9]), tostring(getmetatable(ARGV))}";
    c.check(
        &["EVAL", look, "1", "k"],
        "*8\r\n:1\r\n$1\r\nk\r\n$3\r\nnil\r\n$3\r\nnil\r\n:0\r\n$3\r\nnil\r\n$3\r\nnil\r\n$3\r\nnil\r\n",
    );
    // More than the reused tables hold, then few again.
    let many: Vec<String> = (0..100).map(|i| format!("a{i}")).collect();
    let mut args = vec!["EVAL", "return #ARGV + #KEYS", "30"];
    args.extend(many.iter().map(String::as_str));
    c.check(&args, ":100\r\n");
    c.check(
        &["EVAL", look, "0", "v"],
        "*8\r\n:0\r\n$3\r\nnil\r\n$3\r\nnil\r\n$3\r\nnil\r\n:1\r\n$3\r\nnil\r\n$3\r\nnil\r\n$3\r\nnil\r\n",
    );
    c.check(
        &["EVAL", "return ARGV[1] .. KEYS[2]", "2", "x", "y", "z"],
        "$2\r\nzy\r\n",
    );
}

#[test]
fn scripts_are_cached_by_sha1() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["SCRIPT", "LOAD", "return 'loaded'"],
        "$40\r\nb534286061d4b9e4026607613b95c06c06015ae8\r\n",
    );
    c.check(
        &["EVALSHA", "B534286061D4B9E4026607613B95C06C06015AE8", "0"],
        "$6\r\nloaded\r\n",
    );
    c.check(
        &[
            "SCRIPT",
            "EXISTS",
            "b534286061d4b9e4026607613b95c06c06015ae8",
            "ffff",
        ],
        "*2\r\n:1\r\n:0\r\n",
    );
    c.check(&["SCRIPT", "FLUSH"], "+OK\r\n");
    c.check(
        &[
            "SCRIPT",
            "EXISTS",
            "b534286061d4b9e4026607613b95c06c06015ae8",
        ],
        "*1\r\n:0\r\n",
    );
    // EVAL caches what it runs.
    c.check(&["EVAL", "return 'loaded'", "0"], "$6\r\nloaded\r\n");
    c.check(
        &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        "$6\r\nloaded\r\n",
    );
}

/// `redis.acl_check_cmd` answers for the user running the script, keys included (Redis
/// 7.0's unit/scripting "Script ACL check", same replies).
#[test]
fn acl_check_cmd_answers_for_the_scripts_user() {
    let d = daemon(&[]);
    let mut admin = d.connect_resp();
    admin.check(
        &[
            "ACL",
            "SETUSER",
            "bob",
            "on",
            ">123",
            "+@scripting",
            "+set",
            "~x*",
        ],
        "+OK\r\n",
    );
    let mut c = d.connect_resp();
    c.check(&["AUTH", "bob", "123"], "+OK\r\n");
    let check = "return redis.acl_check_cmd(unpack(ARGV))";
    c.check(&["EVAL", check, "0", "set", "xx", "1"], ":1\r\n");
    // Not allowed the command, or the key: false, a null reply.
    c.check(&["EVAL", check, "0", "hset", "xx", "f", "1"], "$-1\r\n");
    c.check(&["EVAL", check, "0", "set", "yy", "1"], "$-1\r\n");
    let sha = admin.cmd(&["SCRIPT", "LOAD", check]);
    let sha = sha.split("\r\n").nth(1).unwrap().to_string();
    c.check(
        &["EVAL", check, "0", "invalid-cmd", "arg"],
        &format!(
            "-ERR Invalid command passed to redis.acl_check_cmd() script: {sha}, on \
             @user_script:1.\r\n"
        ),
    );
    // The default user may run anything.
    admin.check(&["EVAL", check, "0", "hset", "xx", "f", "1"], ":1\r\n");
}

/// A read-modify-write in Lua (GET, then SET of the value plus one) from clients on
/// several workers: the total is exact only if no command runs inside a script.
#[test]
fn racing_scripts_are_atomic() {
    let d = daemon(&["-t", "4"]);
    let body = "local v = tonumber(redis.call('get', KEYS[1]) or '0') \
                redis.call('set', KEYS[1], v + 1) return v + 1";
    let (clients, each) = (4, 300);
    std::thread::scope(|s| {
        for _ in 0..clients {
            let mut c = d.connect_resp();
            s.spawn(move || {
                for _ in 0..each {
                    let reply = c.cmd(&["EVAL", body, "1", "n"]);
                    assert!(reply.starts_with(':'), "{reply:?}");
                }
            });
        }
        // A plain INCR racing the scripts is never lost either.
        let mut c = d.connect_resp();
        s.spawn(move || {
            for _ in 0..each {
                c.cmd(&["INCR", "n"]);
            }
        });
    });
    let total = ((clients + 1) * each).to_string();
    d.connect_resp()
        .check(&["GET", "n"], &format!("${}\r\n{total}\r\n", total.len()));
}

/// Script clients gather on worker 0 (server::gather; `-o worker_spread` keeps both workers
/// active and hands connections round-robin: the first to worker 0, the second to worker
/// 1): the second moves once, after its first script, and the first never; replies stay
/// exact and in order across the move, and a plain command moves nobody.
#[test]
fn script_clients_gather_on_worker_zero() {
    let d = daemon(&["-t", "2", "-o", "worker_spread"]);
    let mut first = d.connect_resp();
    let mut second = d.connect_resp();
    let moves = |c: &mut common::Conn| resp_wire::info_u64(c, "stats", "worker_moves");
    second.check(&["SET", "n", "0"], "+OK\r\n");
    assert_eq!(moves(&mut second), 0);
    let body = "return redis.call('incr', KEYS[1])";
    for i in 1..=20 {
        let (c, n) = if i % 2 == 0 {
            (&mut first, i)
        } else {
            (&mut second, i)
        };
        c.check(&["EVAL", body, "1", "n"], &format!(":{n}\r\n"));
    }
    assert_eq!(moves(&mut first), 1);
    first.check(&["EVAL", "return 1", "0"], ":1\r\n");
    second.check(&["GET", "n"], "$2\r\n20\r\n");
    assert_eq!(moves(&mut second), 1);
}

#[test]
fn a_looping_script_gets_busy_and_script_kill_ends_it() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    admin.check(&["CONFIG", "SET", "busy-reply-threshold", "50"], "+OK\r\n");
    let mut runner = d.connect_resp();
    runner.send(&encode(&[b"EVAL", b"while true do end", b"0"]));
    // Connections made now are served by a worker the script does not hold.
    let busy = "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or \
                SHUTDOWN NOSAVE.\r\n";
    let mut other = d.connect_resp();
    let mut reply = other.cmd(&["GET", "k"]);
    for _ in 0..200 {
        if reply == busy {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        reply = other.cmd(&["GET", "k"]);
    }
    assert_eq!(reply, busy);
    other.check(&["SCRIPT", "KILL"], "+OK\r\n");
    let killed = String::from_utf8(runner.reply()).unwrap();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{killed:?}"
    );
    other.check(&["GET", "k"], "$-1\r\n");
    runner.check(&["PING"], "+PONG\r\n");
    // A script that wrote cannot be killed.
    runner.send(&encode(&[
        b"EVAL",
        b"redis.call('set','w','1') local t = redis.call('time') \
          while tonumber(redis.call('time')[1]) < t[1] + 2 do end return 'done'",
        b"0",
    ]));
    // Until the script has started (a loaded machine may take a while to run it),
    // SCRIPT KILL answers NOTBUSY; the script runs for 2 s once it has. `other` is served
    // by a worker the script does not hold (it got -BUSY above).
    let mut reply = other.cmd(&["SCRIPT", "KILL"]);
    for _ in 0..150 {
        if !reply.starts_with("-NOTBUSY") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        reply = other.cmd(&["SCRIPT", "KILL"]);
    }
    let ran = String::from_utf8(runner.reply()).unwrap();
    assert!(
        reply.starts_with("-UNKILLABLE Sorry the script already executed write commands"),
        "{reply:?} {ran:?}"
    );
    assert_eq!(ran, "$4\r\ndone\r\n");
    other.check(&["GET", "w"], "$1\r\n1\r\n");
}

#[test]
fn misbehaving_scripts_get_errors_and_the_server_stays_up() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let reply = c.cmd(&[
        "EVAL",
        "local s = string.rep('x', 1024*1024) local t = {} for i=1,1000 do t[i] = s .. i end",
        "0",
    ]);
    assert!(reply.ends_with("not enough memory\r\n"), "{reply:?}");
    let reply = c.cmd(&[
        "EVAL",
        "local a = {}; local b = {a}; a[1] = b; return a",
        "0",
    ]);
    assert!(
        reply.contains("-ERR reached lua stack limit\r\n"),
        "{reply:?}"
    );
    let reply = c.cmd(&["EVAL", "return string.rep('x', 4*1024*1024)", "0"]);
    assert_eq!(
        reply.len(),
        4 * 1024 * 1024 + 12,
        "{:?}",
        &reply[..reply.len().min(200)]
    );
    let reply = c.cmd(&["EVAL", "return redis.call('eval', 'return 1', 0)", "0"]);
    assert!(reply.starts_with("-ERR This Redis command is not allowed from script"));
    // Large tables cross into Rust without holding every value at once (mlua's reference
    // stack is bounded; exhausting it would stop the server).
    let reply = c.cmd(&[
        "EVAL",
        "local t = {} for i = 1, 20000 do t[i] = 'x' .. i end return t",
        "0",
    ]);
    assert!(reply.starts_with("*20000\r\n") && reply.ends_with("$6\r\nx20000\r\n"));
    let reply = c.cmd(&[
        "EVAL",
        "local t = {} for i = 1, 20000 do t['k' .. i] = i end return #cmsgpack.pack(t)",
        "0",
    ]);
    assert_eq!(reply, ":188515\r\n");
    let reply = c.cmd(&[
        "EVAL",
        "local t = {} for i = 1, 7900 do t[i] = 'k' .. i end return redis.call('del', unpack(t))",
        "0",
    ]);
    assert!(reply.contains("too many results to unpack"), "{reply:?}");
    let reply = c.cmd(&[
        "EVAL",
        "local t = {} for i = 1, 3000 do t[i] = 1 end return redis.call('lpush', 'l', unpack(t))",
        "0",
    ]);
    assert_eq!(reply, ":3000\r\n");
    // Ranges far past what Lua returns are refused at once (the count above once walked
    // every index of -2 .. 2^31-1, minutes of BUSY; unit/scripting's invalid-indexes test).
    // The ranges whose length overflows a C int wrote past the Lua stack in a release build
    // (the server died). Replies as redis-server 7.0.15's.
    for range in [
        "-2, 2147483647",
        "0, 2147483647",
        "-2147483648, -2",
        "1, 8000",
        "1, 1e10",
        "-1e10, 5",
    ] {
        let script = format!("return {{unpack({{1,2,3}}, {range})}}");
        let reply = c.cmd(&["EVAL", &script, "0"]);
        assert!(
            reply.contains("too many results to unpack"),
            "{range}: {reply:?}"
        );
    }
    let reply = c.cmd(&["EVAL", "return {unpack({1,2,3}, -1, 5)}", "0"]);
    assert_eq!(
        reply, "*0\r\n",
        "a nil first value ends the reply, as in Redis"
    );
    for (range, want) in [
        ("1, 0/0", "*0\r\n"),
        ("'1', '3'", "*3\r\n:1\r\n:2\r\n:3\r\n"),
        ("1, 7990", "*3\r\n:1\r\n:2\r\n:3\r\n"),
        ("2.9", "*2\r\n:2\r\n:3\r\n"),
    ] {
        let script = format!("return {{unpack({{1,2,3}}, {range})}}");
        assert_eq!(c.cmd(&["EVAL", &script, "0"]), want, "{range}");
    }
    for (args, want) in [
        (
            "{1,2,3}, 'x'",
            "bad argument #2 to 'unpack' (number expected, got string)",
        ),
        (
            "{1,2,3}, 1, {}",
            "bad argument #3 to 'unpack' (number expected, got table)",
        ),
        (
            "nil",
            "bad argument #1 to 'unpack' (table expected, got nil)",
        ),
    ] {
        let script = format!("return {{unpack({args})}}");
        let reply = c.cmd(&["EVAL", &script, "0"]);
        assert!(
            reply.starts_with(&format!("-ERR user_script:1: {want} script: ")),
            "{reply:?}"
        );
    }
    // More cached scripts than that stack has slots.
    let mut batch = Vec::new();
    for i in 0..9000 {
        batch.extend_from_slice(&encode(&[b"EVAL", format!("return {i}").as_bytes(), b"0"]));
    }
    c.send(&batch);
    for i in 0..9000 {
        assert_eq!(c.reply(), format!(":{i}\r\n").as_bytes());
    }
    c.check(&["PING"], "+PONG\r\n");
}

#[test]
fn scripts_inside_multi_and_select_inside_scripts() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["MULTI"], "+OK\r\n");
    c.check(
        &["EVAL", "return redis.call('incr', 'm')", "0"],
        "+QUEUED\r\n",
    );
    c.check(
        &["EVAL", "return redis.call('incr', 'm')", "0"],
        "+QUEUED\r\n",
    );
    c.check(&["EXEC"], "*2\r\n:1\r\n:2\r\n");
    // SELECT inside a script does not change the caller's database.
    c.check(
        &[
            "EVAL",
            "redis.call('select', 5) return redis.call('set', 'x', 'db5')",
            "0",
        ],
        "+OK\r\n",
    );
    c.check(&["GET", "x"], "$-1\r\n");
    c.check(&["SELECT", "5"], "+OK\r\n");
    c.check(&["GET", "x"], "$3\r\ndb5\r\n");
}

/// memcached requests over UDP take their worker's gate too: a UDP `set` sent while a
/// script runs waits for the script to end, so the script cannot see it.
#[test]
fn udp_writes_do_not_land_inside_a_script() {
    let d = common::Daemon::start(&["-U", "-1", "--resp-port", "0", "-t", "2"]);
    let mut c = d.connect_resp();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(d.udp_addr.expect("no udp port")).unwrap();
    c.send(&encode(&[
        b"EVAL",
        b"local function now() local t = redis.call('time') return t[1] * 1000000 + t[2] end \
          local start = now() repeat until now() - start > 400000 \
          return redis.call('get', 'k')",
        b"0",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut datagram = vec![0, 1, 0, 0, 0, 1, 0, 0];
    datagram.extend_from_slice(b"set k 0 0 1\r\nx\r\n");
    udp.send(&datagram).unwrap();
    assert_eq!(c.reply(), b"$-1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(200));
    c.check(&["GET", "k"], "$1\r\nx\r\n");
}

/// `unpack` of a range past Lua's C stack fails at once with Redis's error (Redis 7.0's
/// unit/scripting "Test table unpack with invalid indexes", same replies): the sandbox
/// counted the values of every index first, 2^31 of them here, holding the server for
/// minutes, and Lua 5.1.5's own unpack overflows a C int on such ranges.
#[test]
fn unpack_past_the_c_stack_fails_at_once() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for script in [
        "return {unpack({1,2,3}, -2, 2147483647)}",
        "return {unpack({1,2,3}, 0, 2147483647)}",
        "return {unpack({1,2,3}, -2147483648, 2147483647)}",
        "return {unpack({1,2,3}, '-2', '2147483647')}",
        "return {unpack({1,2,3}, 1, 9000)}",
        "return {unpack({1,2,3}, -2147483648, -2)}",
    ] {
        let reply = c.cmd(&["EVAL", script, "0"]);
        assert!(
            reply.starts_with("-ERR user_script:1: too many results to unpack script: "),
            "{script}: {reply:?}"
        );
    }
    c.check(&["EVAL", "return {unpack({1,2,3}, -1, -2)}", "0"], "*0\r\n");
    c.check(
        &["EVAL", "return {unpack({1,2,3}, 2, 3)}", "0"],
        "*2\r\n:2\r\n:3\r\n",
    );
}

/// Many small scripts leave the Lua heap near its live size (Redis 7.0's unit/scripting
/// "EVAL does not leak in the Lua stack": `used_memory_lua` under 100 KB after 10,000).
#[test]
fn many_small_scripts_keep_the_lua_heap_near_its_live_size() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    let script: &[u8] = b"return redis.call('incr',KEYS[1])";
    let mut batch = Vec::new();
    for _ in 0..10_000 {
        batch.extend(encode(&[b"EVAL", script, b"1", b"x"]));
    }
    c.send(&batch);
    for i in 1..=10_000 {
        assert_eq!(c.reply(), format!(":{i}\r\n").as_bytes());
    }
    let info = c.cmd(&["INFO", "memory"]);
    let lua: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_lua:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no used_memory_lua in {info}"));
    assert!(lua < 100 * 1024, "used_memory_lua {lua}");
}

/// A subcommand Redis 7.0 declares `noscript` is refused from a script even when its
/// container is not (scripting.tcl's "CLUSTER RESET can not be invoke from within a
/// script"; every ACL subcommand but HELP), while the container's other subcommands run.
#[test]
fn noscript_subcommands_are_refused_from_scripts() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for call in [
        "'cluster', 'reset', 'hard'",
        "'CLUSTER', 'RESET'",
        "'acl', 'whoami'",
    ] {
        let reply = c.cmd(&["EVAL", &format!("return redis.call({call})"), "0"]);
        assert!(
            reply.starts_with("-ERR This Redis command is not allowed from script"),
            "{call}: {reply}"
        );
    }
    let reply = c.cmd(&["EVAL", "return redis.call('acl', 'help')", "0"]);
    assert!(reply.starts_with('*'), "{reply}");
    let reply = c.cmd(&["EVAL", "return redis.call('object', 'help')", "0"]);
    assert!(reply.starts_with('*'), "{reply}");
}

/// A script's call of a container's subcommand is checked as Redis 7.0.15 checks it: the
/// subcommand's own noscript flag (CLIENT HELP, CONFIG HELP, LATENCY HELP, FUNCTION HELP
/// and SCRIPT HELP run; their other subcommands are refused), the subcommand's own arity,
/// and an unknown subcommand is an unknown command. Replies recorded from redis-server.
#[test]
fn container_subcommands_are_checked_as_redis_checks_them() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (script, want) in [
        (
            "return redis.call('client','help')[1]",
            "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n",
        ),
        (
            "return redis.call('config','help')[1]",
            "+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n",
        ),
        (
            "return redis.call('latency','help')[1]",
            "+LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n",
        ),
        (
            "return redis.call('function','help')[1]",
            "+FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n",
        ),
        (
            "return redis.call('script','help')[1]",
            "+SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n",
        ),
        (
            "return redis.pcall('client','nosuch')",
            "-ERR Unknown Redis command called from script\r\n",
        ),
        (
            "return redis.pcall('client','help','x')",
            "-ERR Wrong number of args calling Redis command from script\r\n",
        ),
        (
            "return redis.pcall('config','get')",
            "-ERR Wrong number of args calling Redis command from script\r\n",
        ),
        (
            "return redis.pcall('client')",
            "-ERR Wrong number of args calling Redis command from script\r\n",
        ),
        (
            "return redis.pcall('config','get','x')",
            "-ERR This Redis command is not allowed from script\r\n",
        ),
        (
            "return redis.pcall('client','list')",
            "-ERR This Redis command is not allowed from script\r\n",
        ),
        (
            "return redis.pcall('latency','latest')",
            "-ERR This Redis command is not allowed from script\r\n",
        ),
        (
            "return redis.pcall('function','list')",
            "-ERR This Redis command is not allowed from script\r\n",
        ),
        (
            "return redis.pcall('script','exists','x')",
            "-ERR This Redis command is not allowed from script\r\n",
        ),
    ] {
        c.check(&["EVAL", script, "0"], want);
    }
}
