//! `CLIENT LIST` / `CLIENT INFO` memory fields (`qbuf`, `qbuf-free`, `argv-mem`, `rbs`,
//! `rbp`, `obl`, `oll`, `omem`, `tot-mem`, and the MULTI queue's `multi`, `multi-mem`) as redis-server
//! 7.0.15 computes them in networking.c and multi.c: the
//! same scenario runs against slabd and, when installed (scripts/install-deps.sh), against
//! redis-server, and both must show the same behaviour — the fields grow while a client's
//! output or a partial request waits, and go back when it is read or completed.

mod common;
mod resp_wire;

use std::collections::HashMap;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Conn;
use resp_wire::{daemon, encode, Resp};

/// The `key=value` fields of one `CLIENT LIST` / `CLIENT INFO` line.
type Fields = HashMap<String, String>;

fn parse(line: &str) -> Fields {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn num(f: &Fields, key: &str) -> u64 {
    f.get(key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {key} in {f:?}"))
}

/// The `CLIENT LIST` line of the client named `name`.
fn client(r: &mut Conn, name: &str) -> Fields {
    let list = r.cmd(&["CLIENT", "LIST"]);
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))
        .unwrap_or_else(|| panic!("no client {name} in {list}"));
    parse(line)
}

/// Polls `CLIENT LIST` until `name`'s line satisfies `ok` (10 s at most).
fn wait_for(r: &mut Conn, name: &str, what: &str, ok: impl Fn(&Fields) -> bool) -> Fields {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let f = client(r, name);
        if ok(&f) {
            return f;
        }
        assert!(Instant::now() < deadline, "{what}: never; last {f:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const VALUE: usize = 100_000;
const GETS: usize = 100;

/// The scenario, against a server that `connect` reaches; `server` names it in failures.
fn fields_follow_the_buffers(server: &str, connect: &dyn Fn() -> Conn) {
    let mut r = connect();
    r.check(&["SET", "big", &"x".repeat(VALUE)], "+OK\r\n");

    // The caller's own line, while CLIENT INFO runs: its request in the query buffer, its
    // arguments ("client", "info") in argv-mem, no output pending.
    let me = parse(&r.cmd(&["CLIENT", "INFO"]));
    assert_eq!(num(&me, "qbuf"), 26, "{server}: {me:?}");
    assert_eq!(num(&me, "argv-mem"), 10, "{server}: {me:?}");
    for key in ["obl", "oll", "omem"] {
        assert_eq!(num(&me, key), 0, "{server}: {key} in {me:?}");
    }

    // A client that asks for 10 MB and reads none of it: its output waits in reply blocks
    // (the first 16 KiB, Redis's reply buffer, went out with the first write).
    let mut slow = connect();
    slow.check(&["CLIENT", "SETNAME", "piler"], "+OK\r\n");
    let get: Vec<u8> = encode(&[b"GET", b"big"]).repeat(GETS);
    slow.send(&get);
    // (Before the first write the reply buffer holds 16 KiB: obl=16384.)
    let piled = wait_for(&mut r, "piler", "output piling up", |f| {
        num(f, "oll") > 0 && num(f, "omem") > 200_000 && num(f, "obl") == 0
    });
    // (Redis gives each large reply a block of its size, slabd counts 20 KiB blocks.)
    let omem = num(&piled, "omem");
    assert!(
        num(&piled, "tot-mem") >= omem,
        "{server}: tot-mem below omem: {piled:?}"
    );

    // Read: the blocks are gone, and the memory with them.
    let reply = 1 + 6 + 2 + VALUE + 2;
    slow.read_exact(GETS * reply);
    let drained = wait_for(&mut r, "piler", "output drained", |f| {
        num(f, "oll") == 0 && num(f, "omem") == 0 && num(f, "obl") == 0
    });
    wait_for(&mut r, "piler", "tot-mem shrinking", |f| {
        num(f, "tot-mem") < num(&piled, "tot-mem") / 2
    });
    assert_eq!(num(&drained, "qbuf"), 0, "{server}: {drained:?}");

    // A request half received: its bytes wait in the query buffer.
    let mut part = connect();
    part.check(&["CLIENT", "SETNAME", "partial"], "+OK\r\n");
    let mut head = b"*3\r\n$3\r\nSET\r\n$4\r\npart\r\n$100000\r\n".to_vec();
    head.extend(std::iter::repeat(b'y').take(60_000));
    part.send(&head);
    let waiting = wait_for(&mut r, "partial", "a partial request", |f| {
        num(f, "qbuf") >= 60_000
    });
    assert!(
        num(&waiting, "qbuf") <= head.len() as u64,
        "{server}: {waiting:?}"
    );
    assert!(
        num(&waiting, "tot-mem") >= num(&waiting, "qbuf"),
        "{server}: tot-mem below qbuf: {waiting:?}"
    );
    let mut rest = vec![b'y'; 40_000];
    rest.extend_from_slice(b"\r\n");
    part.send(&rest);
    assert_eq!(part.reply(), b"+OK\r\n");
    let done = wait_for(&mut r, "partial", "the request used", |f| {
        num(f, "qbuf") == 0
    });
    assert_eq!(num(&done, "omem"), 0, "{server}: {done:?}");
    assert_eq!(r.cmd(&["STRLEN", "part"]), ":100000\r\n");
}

/// The INFO stats field `key`.
fn info_stat(r: &mut Conn, key: &str) -> u64 {
    let info = r.cmd(&["INFO", "stats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {info}"))
}

/// Redis 7.0's reply buffer (`rbs=`, `rbp=`): an idle client's shrinks to 1 KiB once its
/// peak resets, a client whose replies fill it doubles it every 100 ms cron up to 16 KiB
/// (jemalloc's size classes), `DEBUG REPLYBUFFER` sets the peak reset time and turns the
/// resizing off, and INFO counts the resizes (unit/replybufsize's scenario, closer).
fn reply_buffer_follows_its_peak(server: &str, connect: &dyn Fn() -> Conn) {
    let mut r = connect();
    let shrinks = info_stat(&mut r, "reply_buffer_shrinks");
    let expands = info_stat(&mut r, "reply_buffer_expands");
    r.check(
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100"],
        "+OK\r\n",
    );
    let mut tc = connect();
    tc.check(&["CLIENT", "SETNAME", "tc"], "+OK\r\n");
    let idle = wait_for(&mut r, "tc", "an idle client's buffer shrinking", |f| {
        num(f, "rbs") == 1024
    });
    assert!(num(&idle, "rbp") < 1024, "{server}: {idle:?}");

    r.check(&["SET", "bigval", &"x".repeat(32768)], "+OK\r\n");
    r.check(
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "never"],
        "+OK\r\n",
    );
    let mut seen = vec![1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert_eq!(tc.cmd(&["GET", "bigval"]).len(), 8 + 32768 + 2, "{server}");
        let f = client(&mut r, "tc");
        let rbs = num(&f, "rbs");
        if seen.last() != Some(&rbs) {
            seen.push(rbs);
        }
        if rbs == 16384 {
            // Never reset: the next GET fills the whole buffer, and the peak stays there.
            tc.cmd(&["GET", "bigval"]);
            let f = client(&mut r, "tc");
            assert_eq!(num(&f, "rbp"), 16384, "{server}: {f:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{server}: never grew to 16 KiB: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Doubling, one step per cron that follows a GET (a poll may miss one).
    assert!(
        seen.windows(2).all(|w| w[1] > w[0])
            && seen
                .iter()
                .all(|s| [1024, 2048, 4096, 8192, 16384].contains(s)),
        "{server}: {seen:?}"
    );

    // The peak resets again: the idle buffer shrinks back (RESIZING 0/1 accepted; that
    // nothing moves while it is off is a unit test of the model: here it would take time).
    r.check(&["DEBUG", "REPLYBUFFER", "RESIZING", "0"], "+OK\r\n");
    r.check(&["DEBUG", "REPLYBUFFER", "RESIZING", "1"], "+OK\r\n");
    r.check(
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100"],
        "+OK\r\n",
    );
    wait_for(&mut r, "tc", "the buffer shrinking again", |f| {
        num(f, "rbs") == 1024
    });
    assert!(
        info_stat(&mut r, "reply_buffer_shrinks") >= shrinks + 2,
        "{server}"
    );
    assert!(
        info_stat(&mut r, "reply_buffer_expands") >= expands + 4,
        "{server}"
    );
    r.check(
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "reset"],
        "+OK\r\n",
    );

    r.check(
        &["DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "soon"],
        "-ERR value is not an integer or out of range\r\n",
    );
    r.check(
        &["DEBUG", "replyBuffer", "size", "1"],
        "-ERR unknown subcommand or wrong number of arguments for 'replyBuffer'. Try DEBUG HELP.\r\n",
    );
}

#[test]
fn reply_buffer_size_and_peak_follow_redis_model() {
    let d = daemon(&["-t", "2"]);
    let addr = d.resp_addr.unwrap();
    reply_buffer_follows_its_peak("slabd", &|| Conn::new(TcpStream::connect(addr).unwrap()));

    let Some(redis) = Redis::start() else {
        eprintln!("redis-server not installed: slabd checked alone");
        return;
    };
    let port = redis.port;
    reply_buffer_follows_its_peak("redis-server", &|| {
        Conn::new(TcpStream::connect(("127.0.0.1", port)).unwrap())
    });
}

/// `flags`, `multi` and `multi-mem` of the client named `name`.
fn multi_of(r: &mut Conn, name: &str) -> (String, String, String) {
    let f = client(r, name);
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    (get("flags"), get("multi"), get("multi-mem"))
}

fn multi_fields_count_the_queue(server: &str, connect: &dyn Fn() -> Conn) {
    let mut r = connect();
    let mut tx = connect();
    tx.check(&["CLIENT", "SETNAME", "txer"], "+OK\r\n");
    let fields = |flags: &str, multi: &str, mem: &str| {
        (flags.to_string(), multi.to_string(), mem.to_string())
    };
    assert_eq!(multi_of(&mut r, "txer"), fields("N", "-1", "0"), "{server}");

    tx.check(&["MULTI"], "+OK\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("x", "0", "0"), "{server}");
    // Each queued command: its argument bytes and 8 per argument (an robj pointer).
    tx.check(&["SET", "k", "v"], "+QUEUED\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("x", "1", "29"), "{server}");
    tx.check(&["INCR", "counter"], "+QUEUED\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("x", "2", "56"), "{server}");
    // A refused command dooms the transaction: what follows is answered QUEUED but not
    // kept (Redis's queueMultiCommand returns at once).
    assert!(tx
        .cmd(&["NOSUCHCOMMAND"])
        .starts_with("-ERR unknown command"));
    tx.check(&["SET", "a", "b"], "+QUEUED\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("x", "2", "56"), "{server}");
    tx.check(&["DISCARD"], "+OK\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("N", "-1", "0"), "{server}");

    // A watched key written by another client: nothing more is kept either.
    tx.check(&["WATCH", "w"], "+OK\r\n");
    tx.check(&["MULTI"], "+OK\r\n");
    tx.check(&["SET", "x", "1"], "+QUEUED\r\n");
    r.check(&["SET", "w", "changed"], "+OK\r\n");
    tx.check(&["SET", "y", "2"], "+QUEUED\r\n");
    // `d`: a watched key changed (Redis's CLIENT_DIRTY_CAS).
    assert_eq!(
        multi_of(&mut r, "txer"),
        fields("xd", "1", "29"),
        "{server}"
    );
    tx.check(&["EXEC"], "*-1\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("N", "-1", "0"), "{server}");

    // Outside MULTI too, until UNWATCH.
    tx.check(&["WATCH", "w"], "+OK\r\n");
    r.check(&["SET", "w", "again"], "+OK\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("d", "-1", "0"), "{server}");
    tx.check(&["UNWATCH"], "+OK\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("N", "-1", "0"), "{server}");

    // EXEC empties the queue; RESET ends a transaction too.
    tx.check(&["MULTI"], "+OK\r\n");
    tx.check(&["SET", "x", "1"], "+QUEUED\r\n");
    tx.check(&["EXEC"], "*1\r\n+OK\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("N", "-1", "0"), "{server}");
    tx.check(&["MULTI"], "+OK\r\n");
    tx.check(&["SET", "x", "1"], "+QUEUED\r\n");
    tx.check(&["RESET"], "+RESET\r\n");
    tx.check(&["CLIENT", "SETNAME", "txer"], "+OK\r\n");
    assert_eq!(multi_of(&mut r, "txer"), fields("N", "-1", "0"), "{server}");
}

#[test]
fn multi_fields_count_the_queue_as_redis() {
    let d = daemon(&["-t", "2"]);
    let addr = d.resp_addr.unwrap();
    multi_fields_count_the_queue("slabd", &|| Conn::new(TcpStream::connect(addr).unwrap()));

    let Some(redis) = Redis::start() else {
        eprintln!("redis-server not installed: slabd checked alone");
        return;
    };
    let port = redis.port;
    multi_fields_count_the_queue("redis-server", &|| {
        Conn::new(TcpStream::connect(("127.0.0.1", port)).unwrap())
    });
}

#[test]
fn memory_fields_grow_with_pending_buffers_and_shrink_after_as_redis() {
    let d = daemon(&["-t", "2"]);
    let addr = d.resp_addr.unwrap();
    fields_follow_the_buffers("slabd", &|| Conn::new(TcpStream::connect(addr).unwrap()));

    let Some(redis) = Redis::start() else {
        eprintln!("redis-server not installed: slabd checked alone");
        return;
    };
    let port = redis.port;
    fields_follow_the_buffers("redis-server", &|| {
        Conn::new(TcpStream::connect(("127.0.0.1", port)).unwrap())
    });
}

/// redis-server 7.0 on a free loopback port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Option<Redis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--enable-debug-command", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let redis = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(redis)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
