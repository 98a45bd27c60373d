//! A busy script's own worker (`-t 1`: every client shares it): its other clients get
//! Redis's `-BUSY`, SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE work from them and from
//! clients that connect meanwhile, MULTI and pipelines behave as in Redis, and memcached
//! requests wait for the script.

mod common;
mod resp_wire;

use std::time::Duration;

use common::{Conn, Daemon};
use resp_wire::{daemon, encode, Resp};

const BUSY_SCRIPT: &str = "-BUSY Redis is busy running a script. You can only call SCRIPT \
                           KILL or SHUTDOWN NOSAVE.\r\n";
const BUSY_FUNCTION: &str = "-BUSY Redis is busy running a script. You can only call \
                             FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";

/// Sends `args` until the reply is `want` (the script may not have passed its threshold
/// yet); the last reply.
fn until(c: &mut Conn, args: &[&str], want: &str) -> String {
    let mut reply = c.cmd(args);
    for _ in 0..300 {
        if reply == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        reply = c.cmd(args);
    }
    reply
}

/// A `-t 1` server (every client on the one worker) whose scripts count as busy after
/// 50 ms, and a client of it that set that threshold.
fn one_worker() -> (Daemon, Conn) {
    let d = daemon(&["-t", "1"]);
    let mut other = d.connect_resp();
    other.check(&["CONFIG", "SET", "busy-reply-threshold", "50"], "+OK\r\n");
    (d, other)
}

/// A new client of `d` that has sent `cmd` (the busy script) and waits for its reply.
fn send_busy(d: &Daemon, cmd: &[&[u8]]) -> Conn {
    let mut runner = d.connect_resp();
    runner.send(&encode(cmd));
    runner
}

#[test]
fn clients_on_the_busy_scripts_worker_get_busy_and_script_kill_works() {
    let (d, mut other) = one_worker();
    other.check(&["SET", "k", "v"], "+OK\r\n");
    let mut runner = send_busy(&d, &[b"EVAL", b"while true do end", b"0"]);
    assert_eq!(until(&mut other, &["GET", "k"], BUSY_SCRIPT), BUSY_SCRIPT);
    // A pipeline: each request answered in order.
    other.send(&encode(&[b"PING"]));
    other.send(&encode(&[b"SET", b"k", b"w"]));
    assert_eq!(other.reply(), BUSY_SCRIPT.as_bytes());
    assert_eq!(other.reply(), BUSY_SCRIPT.as_bytes());
    // MULTI is allowed; what it would queue is refused, and EXEC aborts (as Redis's
    // rejectCommand does for EXEC).
    other.check(&["MULTI"], "+OK\r\n");
    other.check(&["SET", "k", "x"], BUSY_SCRIPT);
    other.check(
        &["EXEC"],
        &format!(
            "-EXECABORT Transaction discarded because of: {}",
            &BUSY_SCRIPT[1..]
        ),
    );
    other.check(&["DISCARD"], "-ERR DISCARD without MULTI\r\n");
    other.check(&["SCRIPT", "KILL"], "+OK\r\n");
    let killed = String::from_utf8(runner.reply()).unwrap();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{killed:?}"
    );
    other.check(&["GET", "k"], "$1\r\nv\r\n");
    runner.check(&["PING"], "+PONG\r\n");
    other.check(
        &["SCRIPT", "KILL"],
        "-NOTBUSY No scripts in execution right now.\r\n",
    );
}

#[test]
fn a_client_connecting_while_the_only_worker_is_busy_can_kill_the_script() {
    let (d, mut admin) = one_worker();
    let mut runner = send_busy(&d, &[b"EVAL", b"while true do end", b"0"]);
    assert_eq!(until(&mut admin, &["PING"], BUSY_SCRIPT), BUSY_SCRIPT);
    let mut late = d.connect_resp();
    late.check(&["GET", "k"], BUSY_SCRIPT);
    late.check(&["SCRIPT", "KILL"], "+OK\r\n");
    let killed = String::from_utf8(runner.reply()).unwrap();
    assert!(killed.starts_with("-ERR Script killed"), "{killed:?}");
    late.check(&["PING"], "+PONG\r\n");
    admin.check(&["PING"], "+PONG\r\n");
}

/// A client accepted while the worker was blocked, whose hand-over wake-up the worker
/// takes in the same batch of events as the script's request but after it: the busy
/// script's rounds still admit it (they used to look for new clients only on a wake-up of
/// their own, and this one waited for the script's end: a 10 s timeout here).
#[test]
fn a_client_handed_over_in_the_batch_that_starts_the_script_gets_busy() {
    let (d, mut admin) = one_worker();
    let mut runner = d.connect_resp();
    runner.check(&["PING"], "+PONG\r\n");
    // The only worker sleeps; the script's request, then a new client, arrive meanwhile.
    admin.send(&encode(&[b"DEBUG", b"SLEEP", b"0.5"]));
    std::thread::sleep(Duration::from_millis(150));
    runner.send(&encode(&[b"EVAL", b"while true do end", b"0"]));
    std::thread::sleep(Duration::from_millis(100));
    let mut late = d.connect_resp();
    late.send(&encode(&[b"GET", b"k"]));
    assert_eq!(admin.reply(), b"+OK\r\n");
    assert_eq!(String::from_utf8(late.reply()).unwrap(), BUSY_SCRIPT);
    late.check(&["SCRIPT", "KILL"], "+OK\r\n");
    let killed = String::from_utf8(runner.reply()).unwrap();
    assert!(killed.starts_with("-ERR Script killed"), "{killed:?}");
    late.check(&["PING"], "+PONG\r\n");
}

#[test]
fn a_script_that_wrote_is_unkillable_from_its_own_worker_and_ends_on_its_own() {
    let (d, mut other) = one_worker();
    let mut runner = send_busy(
        &d,
        &[
            b"EVAL",
            b"redis.call('set','w','1') local t = redis.call('time') \
          while tonumber(redis.call('time')[1]) < t[1] + 2 do end return 'done'",
            b"0",
        ],
    );
    let unkillable = "-UNKILLABLE Sorry the script already executed write commands against \
                      the dataset. You can either wait the script termination or kill the \
                      server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
    assert_eq!(
        until(&mut other, &["SCRIPT", "KILL"], unkillable),
        unkillable
    );
    assert_eq!(runner.reply(), b"$4\r\ndone\r\n");
    other.check(&["GET", "w"], "$1\r\n1\r\n");
}

#[test]
fn function_kill_and_stats_from_the_busy_functions_worker() {
    let (d, mut other) = one_worker();
    other.check(
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=loop\nredis.register_function('spin', function() while true do end end)",
        ],
        "$4\r\nloop\r\n",
    );
    let mut runner = send_busy(&d, &[b"FCALL", b"spin", b"0"]);
    assert_eq!(
        until(&mut other, &["GET", "k"], BUSY_FUNCTION),
        BUSY_FUNCTION
    );
    let stats = other.cmd(&["FUNCTION", "STATS"]);
    assert!(
        stats.starts_with("*4\r\n$14\r\nrunning_script\r\n*6\r\n$4\r\nname\r\n$4\r\nspin\r\n"),
        "{stats:?}"
    );
    other.check(&["SCRIPT", "KILL"], BUSY_FUNCTION);
    other.check(&["FUNCTION", "KILL"], "+OK\r\n");
    let killed = String::from_utf8(runner.reply()).unwrap();
    assert!(killed.starts_with("-ERR Script killed"), "{killed:?}");
    other.check(
        &["FCALL", "spin", "1"],
        "-ERR Number of keys can't be greater than number of args\r\n",
    );
}

#[test]
fn memcached_requests_wait_for_the_script_on_its_worker() {
    let (d, mut other) = one_worker();
    let mut mc = d.connect();
    mc.roundtrip(b"set m 0 0 1\r\na\r\n", b"STORED\r\n");
    let mut runner = send_busy(
        &d,
        &[
            b"EVAL",
            b"redis.call('set','m','b') local t = redis.call('time') \
          while tonumber(redis.call('time')[1]) < t[1] + 2 do end redis.call('set','m','c')",
            b"0",
        ],
    );
    assert_eq!(until(&mut other, &["PING"], BUSY_SCRIPT), BUSY_SCRIPT);
    // memcached has no -BUSY: the request stays unread until the script ends, and then
    // sees all of the script's writes, not half of them.
    mc.send(b"get m\r\n");
    std::thread::sleep(Duration::from_millis(200));
    mc.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let early = std::io::Read::read(&mut mc.stream, &mut byte);
    assert_eq!(
        early.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::WouldBlock)
    );
    mc.stream.set_nonblocking(false).unwrap();
    assert_eq!(runner.reply(), b"$-1\r\n");
    assert_eq!(mc.read_until(b"END\r\n"), b"VALUE m 0 1\r\nc\r\nEND\r\n");
}

#[test]
fn shutdown_nosave_from_the_busy_scripts_worker_stops_the_server() {
    let (d, mut other) = one_worker();
    // Kept open: the script's client stays connected while the server stops.
    let _runner = send_busy(
        &d,
        &[
            b"EVAL",
            b"redis.call('set','w','1') while true do end",
            b"0",
        ],
    );
    assert_eq!(until(&mut other, &["PING"], BUSY_SCRIPT), BUSY_SCRIPT);
    // Only NOSAVE: a save would see the script's writes half done.
    other.check(&["SHUTDOWN"], BUSY_SCRIPT);
    other.send(&encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(other.closed());
    assert!(d.wait().success());
}

#[test]
fn a_killed_script_cannot_catch_the_kill_with_pcall() {
    let (d, mut other) = one_worker();
    let mut runner = send_busy(
        &d,
        &[
            b"EVAL",
            b"local f = function() while 1 do redis.call('ping') end end while 1 do pcall(f) end",
            b"0",
        ],
    );
    assert_eq!(until(&mut other, &["PING"], BUSY_SCRIPT), BUSY_SCRIPT);
    other.check(&["SCRIPT", "KILL"], "+OK\r\n");
    let killed = String::from_utf8(runner.reply()).unwrap();
    assert!(killed.contains("killed by user"), "{killed:?}");
    other.check(&["PING"], "+PONG\r\n");
    // The next script runs with the normal hook again.
    runner.check(
        &[
            "EVAL",
            "local n = 0 for i = 1, 100000 do n = n + 1 end return n",
            "0",
        ],
        ":100000\r\n",
    );
}

/// Sends SIGTERM to `d` (through kill(1): no `unsafe` here).
fn sigterm(d: &Daemon) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &d.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn sigterm_during_a_busy_script_keeps_accepting_until_script_kill_ends_it() {
    let (d, mut other) = one_worker();
    let mut runner = send_busy(&d, &[b"EVAL", b"while true do end", b"0"]);
    assert_eq!(until(&mut other, &["PING"], BUSY_SCRIPT), BUSY_SCRIPT);
    sigterm(&d);
    // Time for the signal to land: the server must still accept and answer -BUSY (Redis
    // waits for the script before it shuts down).
    std::thread::sleep(Duration::from_millis(200));
    let mut late = d.connect_resp();
    late.check(&["GET", "k"], BUSY_SCRIPT);
    other.check(&["PING"], BUSY_SCRIPT);
    late.check(&["SCRIPT", "KILL"], "+OK\r\n");
    let killed = String::from_utf8(runner.reply()).unwrap();
    assert!(
        killed.starts_with("-ERR Script killed by user with SCRIPT KILL..."),
        "{killed:?}"
    );
    // The script ended: the stop goes ahead.
    assert!(late.closed());
    assert!(other.closed());
    assert!(d.wait().success());
}

#[test]
fn sigterm_during_a_busy_script_then_shutdown_nosave_from_a_new_client() {
    let d = daemon(&["-t", "2"]);
    let mut other = d.connect_resp();
    other.check(&["CONFIG", "SET", "busy-reply-threshold", "50"], "+OK\r\n");
    let _runner = send_busy(
        &d,
        &[
            b"EVAL",
            b"redis.call('set','w','1') while true do end",
            b"0",
        ],
    );
    assert_eq!(until(&mut other, &["PING"], BUSY_SCRIPT), BUSY_SCRIPT);
    sigterm(&d);
    std::thread::sleep(Duration::from_millis(200));
    let mut late = d.connect_resp();
    late.check(&["SET", "k", "v"], BUSY_SCRIPT);
    late.send(&encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(late.closed());
    assert!(d.wait().success());
}
