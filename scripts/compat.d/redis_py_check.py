#!/usr/bin/env python3
"""redis-py against a RESP server: every string, key, connection and server command slabd
serves, with real assertions. Also passes against redis-server 7.0, which is how the
expectations were checked.

usage: redis_py_check.py PORT [--password PW] [--memcached-port PORT]
  --password        the server was started with requirepass PW: check AUTH as well
  --memcached-port  slabd's memcached port: check reads and writes across protocols
"""
import argparse
import socket
import sys
import threading
import time
import warnings

import redis
from redis.exceptions import AuthenticationError, ResponseError, WatchError


def expect_error(fn, fragment):
    try:
        fn()
    except ResponseError as e:
        assert fragment in str(e), f"error {e!r} lacks {fragment!r}"
        return
    raise AssertionError(f"expected an error containing {fragment!r}")


def strings(r):
    assert r.ping() is True
    assert r.echo(b"hi\r\nthere") == b"hi\r\nthere"
    assert r.set("s:a", "1") is True
    assert r.get("s:a") == b"1"
    assert r.get("s:none") is None
    assert r.set("s:a", "2", nx=True) is None
    assert r.set("s:new", "x", xx=True) is None
    assert r.set("s:a", "3", xx=True) is True
    assert r.set("s:a", "4", get=True) == b"3"
    assert r.set("s:ex", "v", ex=100) is True
    assert 99 <= r.ttl("s:ex") <= 100
    assert r.set("s:ex", "w", keepttl=True) is True
    assert 99 <= r.ttl("s:ex") <= 100
    assert r.set("s:px", "v", px=1500) is True
    assert 1 <= r.ttl("s:px") <= 2
    assert r.set("s:exat", "v", exat=int(time.time()) + 50) is True
    # slabd counts TTLs on its coarse store clock, which may trail the system time by up to
    # 2 s: an absolute expiry can read up to that much longer.
    assert 48 <= r.ttl("s:exat") <= 52
    expect_error(lambda: r.set("s:a", "v", ex=0), "invalid expire time in 'set' command")
    expect_error(lambda: r.execute_command("SET", "s:a", "v", "NX", "XX"), "syntax error")
    assert r.setnx("s:nx", "1") is True
    assert r.setnx("s:nx", "2") is False
    assert r.setex("s:setex", 60, "v") is True
    assert 59 <= r.ttl("s:setex") <= 60
    assert r.psetex("s:psetex", 60000, "v") is True
    # slabd keeps whole seconds and rounds expiry up: up to 1 s more than asked.
    assert 59000 <= r.pttl("s:psetex") <= 61000
    assert r.getset("s:nx", "3") == b"1"
    assert r.getdel("s:nx") == b"3"
    assert r.getdel("s:nx") is None
    r.set("s:gx", "v")
    assert r.getex("s:gx", ex=30) == b"v"
    assert 29 <= r.ttl("s:gx") <= 30
    assert r.getex("s:gx", persist=True) == b"v"
    assert r.ttl("s:gx") == -1
    assert r.mset({"m:1": "a", "m:2": "b"}) is True
    assert r.mget("m:1", "m:none", "m:2") == [b"a", None, b"b"]
    assert r.msetnx({"m:1": "x", "m:3": "c"}) is False
    assert r.get("m:3") is None
    assert r.msetnx({"m:3": "c", "m:4": "d"}) is True
    assert r.append("s:app", "ab") == 2
    assert r.append("s:app", "cd") == 4
    assert r.get("s:app") == b"abcd"
    assert r.strlen("s:app") == 4
    assert r.strlen("s:none") == 0
    assert r.incr("n:1") == 1
    assert r.incrby("n:1", 10) == 11
    assert r.decr("n:1") == 10
    assert r.decrby("n:1", 20) == -10
    r.set("n:2", "abc")
    expect_error(lambda: r.incr("n:2"), "value is not an integer or out of range")
    r.set("n:3", str(2**63 - 1))
    expect_error(lambda: r.incr("n:3"), "increment or decrement would overflow")
    r.set("f:1", "10.5")
    assert r.incrbyfloat("f:1", 0.1) == 10.6
    expect_error(lambda: r.incrbyfloat("n:2", 1), "value is not a valid float")
    r.set("g:1", "Hello World")
    assert r.getrange("g:1", 0, 4) == b"Hello"
    assert r.getrange("g:1", -5, -1) == b"World"
    assert r.getrange("g:none", 0, 10) == b""
    assert r.setrange("g:1", 6, "Redis") == 11
    assert r.get("g:1") == b"Hello Redis"
    assert r.setrange("g:pad", 3, "x") == 4
    assert r.get("g:pad") == b"\x00\x00\x00x"
    expect_error(lambda: r.setrange("g:1", -1, "x"), "offset is out of range")
    big = b"\x00\xff" * 40000
    assert r.set("s:big", big) is True
    assert r.get("s:big") == big


def keys(r):
    r.flushdb()
    r.mset({"k:1": "a", "k:2": "b", "other": "c"})
    assert r.exists("k:1", "k:2", "k:none") == 2
    assert r.type("k:1") == b"string"
    assert r.type("k:none") == b"none"
    assert sorted(r.keys("k:*")) == [b"k:1", b"k:2"]
    assert sorted(r.keys("*")) == [b"k:1", b"k:2", b"other"]
    assert sorted(r.scan_iter(match="k:*", count=1)) == [b"k:1", b"k:2"]
    assert sorted(r.scan_iter(_type="string")) == [b"k:1", b"k:2", b"other"]
    assert list(r.scan_iter(_type="hash")) == []
    assert r.randomkey() in (b"k:1", b"k:2", b"other")
    assert r.touch("k:1", "k:none") == 1
    # DBSIZE on a database no FLUSHDB has touched (slabd's flush is lazy: flushed items are
    # counted until the background crawler reclaims them).
    r2 = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=2,
                     password=r.connection_pool.connection_kwargs.get("password"))
    r2.mset({"d:1": "a", "d:2": "b", "d:3": "c"})
    assert r2.dbsize() == 3
    assert r2.delete("d:1", "d:2", "d:3") == 3
    assert r2.dbsize() == 0
    assert r.expire("k:1", 100) is True
    assert r.expire("k:1", 50, nx=True) is False
    assert r.expire("k:1", 200, gt=True) is True
    assert r.expire("k:1", 300, lt=True) is False
    assert r.expire("k:2", 10, xx=True) is False
    assert 199 <= r.ttl("k:1") <= 200
    assert 199000 <= r.pttl("k:1") <= 201000
    now = int(time.time())
    assert now + 198 <= r.expiretime("k:1") <= now + 201
    assert now * 1000 + 198000 <= r.pexpiretime("k:1") <= now * 1000 + 201000
    assert r.pexpire("k:1", 5500) is True
    assert 5 <= r.ttl("k:1") <= 6
    assert r.expireat("k:1", now + 1000) is True
    assert r.pexpireat("k:1", (now + 2000) * 1000) is True
    assert r.persist("k:1") is True
    assert r.persist("k:1") is False
    assert r.ttl("k:1") == -1
    assert r.ttl("k:none") == -2
    assert r.expire("k:2", -1) is True
    assert r.exists("k:2") == 0
    assert r.rename("k:1", "k:renamed") is True
    expect_error(lambda: r.rename("k:1", "x"), "no such key")
    r.set("k:3", "z")
    assert r.renamenx("k:3", "k:renamed") is False
    assert r.renamenx("k:3", "k:4") is True
    assert r.delete("k:renamed", "k:4", "k:none") == 2
    r.set("k:5", "q")
    assert r.unlink("k:5") == 1
    r.set("k:mv", "moved")
    assert r.move("k:mv", 1) is True
    assert r.get("k:mv") is None
    r1 = redis.Redis(port=r.connection_pool.connection_kwargs["port"], db=1,
                     password=r.connection_pool.connection_kwargs.get("password"))
    assert r1.get("k:mv") == b"moved"
    assert r1.dbsize() == 1
    r1.flushdb()
    assert r1.keys("*") == []
    expect_error(lambda: r.execute_command("SELECT", 16), "DB index is out of range")
    r.flushall()
    assert r.keys("*") == [] and r.get("k:3") is None


def connection_and_server(r):
    assert r.client_setname("checker") is True
    assert r.client_getname() == "checker"
    cid = r.client_id()
    assert isinstance(cid, int) and cid > 0
    me = r.client_info()
    assert str(me["id"]) == str(cid) and me["name"] == "checker"
    assert any(c["name"] == "checker" for c in r.client_list())
    expect_error(lambda: r.client_setname("a b"), "Client names cannot contain spaces")
    assert r.execute_command("COMMAND COUNT") > 40
    info = r.execute_command("COMMAND INFO", "get")
    assert info[0][0] == b"get" and info[0][1] == 2
    assert r.config_set("maxmemory", "100mb") is True
    assert r.config_get("maxmemory") == {"maxmemory": str(100 << 20)}
    assert r.config_set("maxclients", 500) is True
    assert r.config_get("maxclients") == {"maxclients": "500"}
    assert set(r.config_get("max*")) >= {"maxmemory", "maxclients"}
    expect_error(lambda: r.config_set("databases", 3), "can't set immutable config")
    expect_error(lambda: r.config_set("nosuch", 3), "Unknown option")
    info = r.info()
    for field in ("redis_version", "uptime_in_seconds", "connected_clients", "used_memory",
                  "maxmemory", "total_commands_processed", "keyspace_hits", "keyspace_misses",
                  "aof_enabled"):
        assert field in info, field
    r.set("i:1", "v")
    hits = r.info("stats")["keyspace_hits"]
    r.get("i:1")
    r.get("i:none")
    stats = r.info("stats")
    assert stats["keyspace_hits"] == hits + 1
    assert r.info("keyspace")["db0"]["keys"] >= 1
    secs, micros = r.time()
    assert abs(secs - time.time()) < 5 and 0 <= micros < 1_000_000
    expect_error(lambda: r.execute_command("NOSUCHCMD", "a"),
                 "unknown command 'NOSUCHCMD', with args beginning with: 'a'")
    expect_error(lambda: r.execute_command("GET"), "wrong number of arguments for 'get' command")
    pipe = r.pipeline(transaction=False)
    for i in range(200):
        pipe.set(f"p:{i}", i)
        pipe.incr("p:count")
    results = pipe.execute()
    assert results[-1] == 200 and results[0] is True
    assert r.mget([f"p:{i}" for i in range(200)]) == [str(i).encode() for i in range(200)]
    r.set("sw:a", "0")
    assert r.swapdb(0, 1) is True
    assert r.get("sw:a") is None and r.dbsize() == 0
    assert r.swapdb(1, 0) is True
    assert r.get("sw:a") == b"0"
    expect_error(lambda: r.swapdb(0, 99), "DB index is out of range")
    r.flushall()


def cas_increment(r, key):
    """The check-and-set loop from redis-py's documentation; returns the number of retries."""
    retries = 0
    with r.pipeline() as pipe:
        while True:
            try:
                pipe.watch(key)
                value = int(pipe.get(key) or 0)
                pipe.multi()
                pipe.set(key, value + 1)
                pipe.execute()
                return retries
            except WatchError:
                retries += 1


def transactions(r, port, password):
    # pipeline() is a MULTI/EXEC transaction by default.
    pipe = r.pipeline()
    pipe.set("t:a", "1").incr("t:a").get("t:a").delete("t:none")
    assert pipe.execute() == [True, 2, b"2", 0]
    # An error at run time is one reply among the others.
    pipe = r.pipeline()
    pipe.set("t:s", "x").incr("t:s").get("t:s")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True and isinstance(res[1], ResponseError) and res[2] == b"x", res
    assert "not an integer" in str(res[1])
    # An error at queue time discards the whole transaction.
    pipe = r.pipeline()
    pipe.set("t:q", "1").execute_command("SET", "t:q")
    try:
        pipe.execute()
        raise AssertionError("expected the transaction to be discarded")
    except ResponseError as e:
        assert "wrong number of arguments for 'set' command" in str(e), str(e)
    assert r.get("t:q") is None
    # WATCH: a write by another client between WATCH and EXEC makes EXEC fail.
    other = redis.Redis(port=port, password=password)
    r.set("t:w", "1")
    with r.pipeline() as pipe:
        pipe.watch("t:w")
        assert pipe.get("t:w") == b"1"
        other.set("t:w", "changed")
        pipe.multi()
        pipe.set("t:w", "mine")
        try:
            pipe.execute()
            raise AssertionError("expected WatchError")
        except WatchError:
            pass
    assert r.get("t:w") == b"changed"
    # Check-and-set loops from several clients at once lose no increment.
    r.delete("t:counter")
    threads, each = 4, 50
    retries = []

    def worker():
        c = redis.Redis(port=port, password=password)
        retries.append(sum(cas_increment(c, "t:counter") for _ in range(each)))

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(retries) == threads
    assert int(r.get("t:counter")) == threads * each, r.get("t:counter")
    r.flushall()


def resp3(port, password):
    r3 = redis.Redis(port=port, protocol=3, password=password)
    assert r3.ping() is True
    r3.set("r3:a", "1")
    assert r3.get("r3:a") == b"1"
    assert r3.get("r3:none") is None
    assert int(r3.config_get("maxclients")["maxclients"]) > 0
    assert "redis_version" in r3.info("server")
    r3.flushall()


def auth(port, password):
    anon = redis.Redis(port=port)
    try:
        anon.get("a")
        raise AssertionError("expected NOAUTH")
    except AuthenticationError as e:
        # NOAUTH on a command, or on the HELLO newer redis-py sends first.
        assert "uthenticat" in str(e), str(e)
    try:
        redis.Redis(port=port, password="wrong").ping()
        raise AssertionError("expected WRONGPASS")
    except AuthenticationError as e:
        assert "invalid username-password pair" in str(e)
    assert redis.Redis(port=port, password=password).ping() is True
    assert redis.Redis(port=port, username="default", password=password).ping() is True


def memcache_request(port, request, reply_end):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    data = b""
    while not data.endswith(reply_end):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def cross_protocol(r, mc_port):
    r.flushall()
    # memcached writes, Redis reads (flags survive APPEND as memcached sees them).
    assert memcache_request(mc_port, b"set x:mc 42 0 5\r\nhello\r\n", b"\r\n") == b"STORED\r\n"
    assert r.get("x:mc") == b"hello"
    assert r.append("x:mc", " world") == 11
    assert memcache_request(mc_port, b"get x:mc\r\n", b"END\r\n") == \
        b"VALUE x:mc 42 11\r\nhello world\r\nEND\r\n"
    # Redis writes, memcached reads with flags 0.
    r.set("x:redis", "from redis")
    assert memcache_request(mc_port, b"get x:redis\r\n", b"END\r\n") == \
        b"VALUE x:redis 0 10\r\nfrom redis\r\nEND\r\n"
    # TTLs agree.
    assert memcache_request(mc_port, b"set x:ttl 0 100 1\r\nv\r\n", b"\r\n") == b"STORED\r\n"
    assert 99 <= r.ttl("x:ttl") <= 100
    # Counters.
    r.set("x:n", "10")
    assert memcache_request(mc_port, b"incr x:n 5\r\n", b"\r\n") == b"15\r\n"
    assert r.incr("x:n") == 16
    # RESP on the memcached port (detected by the first byte).
    r_mc = redis.Redis(port=mc_port, password=r.connection_pool.connection_kwargs.get("password"))
    assert r_mc.get("x:n") == b"16"
    r.flushall()


def main():
    # redis-py marks SETEX and friends deprecated; they are still commands to check.
    warnings.simplefilter("ignore", DeprecationWarning)
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--password")
    ap.add_argument("--memcached-port", type=int)
    a = ap.parse_args()
    if a.password:
        auth(a.port, a.password)
    r = redis.Redis(port=a.port, password=a.password)
    r.flushall()
    strings(r)
    keys(r)
    connection_and_server(r)
    transactions(r, a.port, a.password)
    resp3(a.port, a.password)
    if a.memcached_port:
        cross_protocol(r, a.memcached_port)
    print("redis-py checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        import traceback
        traceback.print_exc()
        sys.exit(1)
