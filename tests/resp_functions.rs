//! Redis 7 functions (FUNCTION LOAD/LIST/STATS/DELETE/DUMP/RESTORE/KILL, FCALL, FCALL_RO)
//! and EVAL's `#!lua flags=` line, with the replies redis-server 7.0.15 gives for the same
//! commands (recorded byte for byte).

mod common;
mod resp_wire;

use resp_wire::{daemon, encode, Resp};

const LIB: &str = "#!lua name=lib\nredis.register_function{function_name='f', \
    callback=function(KEYS, ARGV) return {KEYS[1], ARGV[1]} end, \
    flags={'no-writes', 'allow-stale'}, description='desc'}";

#[test]
fn functions_load_list_call_and_fail_as_redis_does() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    for (args, want) in [
        (&["FUNCTION", "LOAD", LIB][..], "$3\r\nlib\r\n"),
        (
            &["FCALL", "F", "1", "k", "a"],
            "*2\r\n$1\r\nk\r\n$1\r\na\r\n",
        ),
        (
            &["FUNCTION", "LIST"],
            "*1\r\n*6\r\n$12\r\nlibrary_name\r\n$3\r\nlib\r\n$6\r\nengine\r\n$3\r\nLUA\r\n\
             $9\r\nfunctions\r\n*1\r\n*6\r\n$4\r\nname\r\n$1\r\nf\r\n$11\r\ndescription\r\n\
             $4\r\ndesc\r\n$5\r\nflags\r\n*2\r\n+no-writes\r\n+allow-stale\r\n",
        ),
        (
            &["FUNCTION", "STATS"],
            "*4\r\n$14\r\nrunning_script\r\n$-1\r\n$7\r\nengines\r\n*2\r\n$3\r\nLUA\r\n*4\r\n\
             $15\r\nlibraries_count\r\n:1\r\n$15\r\nfunctions_count\r\n:1\r\n",
        ),
        (
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib\nredis.register_function('g', 'x')",
            ],
            "-ERR Library 'lib' already exists\r\n",
        ),
        (
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib2\nredis.register_function('f', function() return 1 end)",
            ],
            "-ERR Function f already exists\r\n",
        ),
        (
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=lib3\nredis.register_function('g', 'x')",
            ],
            "-ERR Error registering functions: ERR second argument to \
             redis.register_function must be a function\r\n",
        ),
        (
            &["FUNCTION", "LOAD", "#!lua name=lib3\nredis.math.random()"],
            "-ERR Error registering functions: ERR user_function:2: Script attempted to \
             access nonexistent global variable 'math'\r\n",
        ),
        (
            &["FUNCTION", "LOAD", "#!lua name=lib3\nwhile 1 do end"],
            "-ERR Error registering functions: ERR FUNCTION LOAD timeout\r\n",
        ),
        (
            &["FUNCTION", "LOAD", "#!lua name=lib3\nreturn 1"],
            "-ERR No functions registered\r\n",
        ),
        (
            &["FUNCTION", "LOAD", "#!lua name=x foo=bar\n"],
            "-ERR Invalid metadata value given: foo=bar\r\n",
        ),
        (
            &["FUNCTION", "LOAD", "#!js name=x\n"],
            "-ERR Engine 'js' not found\r\n",
        ),
        (&["FCALL", "nosuch", "0"], "-ERR Function not found\r\n"),
        (&["FCALL", "f", "x"], "-ERR Bad number of keys provided\r\n"),
        (&["FCALL_RO", "f", "0"], "*0\r\n"),
        (
            &["FUNCTION", "RESTORE", "bad_payload"],
            "-ERR DUMP payload version or checksum are wrong\r\n",
        ),
        (
            &["FUNCTION", "FLUSH", "sync", "x"],
            "-ERR unknown subcommand or wrong number of arguments for 'FLUSH'. \
             Try FUNCTION HELP.\r\n",
        ),
        (
            &["FUNCTION", "KILL"],
            "-NOTBUSY No scripts in execution right now.\r\n",
        ),
        (&["FUNCTION", "DELETE", "lib"], "+OK\r\n"),
        (&["FUNCTION", "DELETE", "lib"], "-ERR Library not found\r\n"),
        (&["FUNCTION", "LIST"], "*0\r\n"),
        (
            &[
                "EVAL",
                "#!lua flags=no-writes\nreturn redis.call('set','a','b')",
                "0",
            ],
            "-ERR Write commands are not allowed from read-only scripts. script: \
             6acb400a50fe96e33eca4e0af6e9dcfb21193726, on @user_script:2.\r\n",
        ),
        (
            &["EVAL_RO", "#!lua\nreturn 1", "0"],
            "-ERR Can not execute a script with write flag using *_ro command.\r\n",
        ),
        (
            &["EVAL", "#!lua flags=bad\nreturn 1", "0"],
            "-ERR Unexpected flag in script shebang: bad\r\n",
        ),
        (
            &["EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0"],
            ":1\r\n",
        ),
    ] {
        c.check(args, want);
    }
}

#[test]
fn dump_and_restore_keep_libraries_and_refuse_collisions() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(&["FUNCTION", "LOAD", LIB], "$3\r\nlib\r\n");
    c.send(&encode(&[b"FUNCTION", b"DUMP"]));
    let reply = c.reply();
    let start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = reply[start..reply.len() - 2].to_vec();
    c.send(&encode(&[b"FUNCTION", b"RESTORE", &payload]));
    assert_eq!(c.reply(), b"-ERR Library lib already exists\r\n");
    c.check(&["FUNCTION", "FLUSH"], "+OK\r\n");
    c.check(&["FCALL", "f", "0"], "-ERR Function not found\r\n");
    c.send(&encode(&[b"FUNCTION", b"RESTORE", &payload, b"APPEND"]));
    assert_eq!(c.reply(), b"+OK\r\n");
    c.check(&["FCALL", "f", "1", "x"], "*1\r\n$1\r\nx\r\n");
    c.send(&encode(&[b"FUNCTION", b"RESTORE", &payload, b"REPLACE"]));
    assert_eq!(c.reply(), b"+OK\r\n");
    c.send(&encode(&[b"FUNCTION", b"RESTORE", &payload, b"BAD"]));
    assert_eq!(
        c.reply(),
        &b"-ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.\r\n"[..]
    );
}

#[test]
fn a_looping_function_is_busy_shows_in_stats_and_function_kill_ends_it() {
    let d = daemon(&["-t", "2"]);
    let mut admin = d.connect_resp();
    admin.check(&["CONFIG", "SET", "busy-reply-threshold", "50"], "+OK\r\n");
    admin.check(
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=loop\nredis.register_function('spin', function() while true do end end)",
        ],
        "$4\r\nloop\r\n",
    );
    let mut runner = d.connect_resp();
    runner.send(&encode(&[b"FCALL", b"spin", b"0"]));
    let busy = "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or \
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
    let stats = other.cmd(&["FUNCTION", "STATS"]);
    assert!(
        stats.starts_with(
            "*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n$7\r\ncommand\r\n\
             *3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n$11\r\nduration_ms\r\n:"
        ),
        "{stats:?}"
    );
    other.check(
        &["SCRIPT", "KILL"],
        "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n",
    );
    other.check(&["FUNCTION", "KILL"], "+OK\r\n");
    let killed = String::from_utf8(runner.reply()).unwrap();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{killed:?}"
    );
    other.check(&["GET", "k"], "$-1\r\n");
}

/// A script may ask for memory figures (MEMORY STATS, INFO) while it holds the
/// interpreter: those never wait for it. FUNCTION is not allowed from scripts, as in Redis.
#[test]
fn scripts_read_memory_figures_and_cannot_call_function() {
    let d = daemon(&[]);
    let mut c = d.connect_resp();
    c.check(
        &["SCRIPT", "LOAD", "return 1"],
        "$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n",
    );
    let stats = c.cmd(&["EVAL", "return redis.call('memory', 'stats')", "0"]);
    assert!(stats.starts_with("*28\r\n"), "{stats:?}");
    let info = c.cmd(&["EVAL", "return redis.call('info', 'memory')", "0"]);
    assert!(info.contains("number_of_cached_scripts:"), "{info:?}");
    let refused = c.cmd(&["EVAL", "return redis.call('function', 'list')", "0"]);
    assert!(
        refused.starts_with("-ERR This Redis command is not allowed from script"),
        "{refused:?}"
    );
    let info = c.cmd(&["INFO", "memory"]);
    assert!(info.contains("number_of_cached_scripts:4\r\n"), "{info:?}");
}
