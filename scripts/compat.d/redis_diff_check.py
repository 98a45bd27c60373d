"""Runs the same commands against slabd and redis-server and compares the replies.

Usage: redis_diff_check.py SLABD_PORT REDIS_PORT

Covers the commands whose results must be byte-identical to Redis: HyperLogLog values
(GET of the raw value after PFADD/PFMERGE, PFCOUNT), BITFIELD with every type and
overflow mode, the bit commands and LCS; Redis 7 functions (FUNCTION LOAD's errors, LIST,
STATS, FCALL/FCALL_RO and flags) and EVAL's `#!lua` line; GEO searches over random points
(unsorted results come in the order of the geohash cells Redis scans).
Prints each difference and exits 1 on any.
"""
import random
import sys

import redis


def commands():
    rnd = random.Random(7)
    yield ["FLUSHALL"]
    # HyperLogLog: sparse values, growth past the sparse limit, dense, merge, count.
    for n in (1, 3, 10, 100, 300, 1000, 3000, 20000):
        key = f"h{n}"
        for start in range(0, n, 500):
            yield ["PFADD", key] + [f"el-{i}" for i in range(start, min(n, start + 500))]
        yield ["GET", key]
        yield ["PFCOUNT", key]
        yield ["GET", key]
    yield ["PFADD", "empty"]
    yield ["GET", "empty"]
    yield ["PFMERGE", "m1", "h3", "h100"]
    yield ["GET", "m1"]
    yield ["PFMERGE", "m2", "h1000", "h20000", "nokey"]
    yield ["GET", "m2"]
    yield ["PFCOUNT", "m2"]
    yield ["PFCOUNT", "h3", "h300", "h3000", "nokey"]
    for i in range(200):
        yield ["PFADD", "rnd", str(rnd.getrandbits(64))]
    yield ["GET", "rnd"]
    yield ["PFCOUNT", "rnd"]
    yield ["SET", "notp", "hello"]
    yield ["PFADD", "notp", "a"]
    yield ["PFCOUNT", "notp"]
    yield ["PFMERGE", "notp", "h3"]
    yield ["SET", "bad", "HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x00"]
    yield ["PFCOUNT", "bad"]
    yield ["PFADD", "bad", "x"]
    yield ["PFCOUNT", "bad", "h3"]
    # BITFIELD: every width of both signs, each overflow mode, GET/SET/INCRBY.
    for bits in list(range(1, 65)):
        for sign in "iu":
            if sign == "u" and bits == 64:
                continue
            t = f"{sign}{bits}"
            for mode in ("WRAP", "SAT", "FAIL"):
                off = rnd.randrange(0, 200)
                val = rnd.choice([0, 1, -1, 2**(bits - 1), -(2**(bits - 1)), 2**63 - 1,
                                  -(2**63), rnd.randrange(-(2**62), 2**62)])
                inc = rnd.choice([1, -1, 2**(bits - 1), rnd.randrange(-(2**62), 2**62)])
                yield ["BITFIELD", "bf", "OVERFLOW", mode, "SET", t, str(off), str(val),
                       "INCRBY", t, str(off), str(inc), "GET", t, str(off)]
                yield ["BITFIELD", "bf", "OVERFLOW", mode, "INCRBY", t, f"#{rnd.randrange(9)}",
                       str(inc), "GET", t, "#1"]
    yield ["GET", "bf"]
    yield ["BITFIELD_RO", "bf", "GET", "u8", "0", "GET", "i5", "3"]
    yield ["BITFIELD_RO", "bf", "SET", "u8", "0", "1"]
    yield ["BITFIELD", "bf", "GET", "u64", "0"]
    yield ["BITFIELD", "bf", "GET", "i8", "-1"]
    yield ["BITFIELD", "bf", "OVERFLOW", "foo"]
    yield ["BITFIELD", "bf", "FOO", "u8", "0"]
    yield ["BITFIELD", "bfnew", "OVERFLOW", "FAIL", "INCRBY", "u2", "100", "9"]
    yield ["GET", "bfnew"]
    # Bit commands.
    yield ["SET", "s", "foobar\x00\xff\xf0"]
    for args in (["0", "-1"], ["1", "1"], ["-3", "-1", "BIT"], ["5", "30", "BIT"],
                 ["2", "1"], ["-1", "-3"], ["0", "100", "BYTE"], ["0", "1", "FOO"]):
        yield ["BITCOUNT", "s"] + args
    yield ["BITCOUNT", "s"]
    yield ["BITCOUNT", "s", "0"]
    for bit in ("0", "1"):
        for args in ([], ["1"], ["1", "3"], ["-2"], ["6", "7"], ["7", "-1", "BIT"],
                     ["3", "60", "BIT"], ["56", "63", "BIT"], ["8", "9"], ["0", "0", "BYTE"]):
            yield ["BITPOS", "s", bit] + args
    yield ["SET", "ones", "\xff\xff"]
    yield ["BITPOS", "ones", "0"]
    yield ["BITPOS", "ones", "0", "0", "-1"]
    yield ["BITPOS", "nokey", "0"]
    yield ["BITPOS", "nokey", "1"]
    yield ["BITPOS", "s", "2"]
    for i in range(50):
        yield ["SETBIT", "sb", str(rnd.randrange(0, 400)), str(rnd.randrange(2))]
    yield ["GET", "sb"]
    yield ["GETBIT", "sb", "7"]
    yield ["GETBIT", "sb", "100000"]
    yield ["SETBIT", "sb", "-1", "1"]
    yield ["SETBIT", "sb", "1", "2"]
    yield ["SETBIT", "sb", str(4 * 1024 * 1024 * 1024), "1"]
    yield ["SET", "a", "abcdefgh"]
    yield ["SET", "b", "\x01\x02"]
    for op in ("AND", "OR", "XOR"):
        yield ["BITOP", op, "dst", "a", "b", "nokey"]
        yield ["GET", "dst"]
    yield ["BITOP", "NOT", "dst", "a"]
    yield ["GET", "dst"]
    yield ["BITOP", "NOT", "dst", "a", "b"]
    yield ["BITOP", "NAND", "dst", "a"]
    yield ["BITOP", "AND", "dst", "nokey", "nokey2"]
    yield ["EXISTS", "dst"]
    # LCS.
    yield ["SET", "k1", "ohmytext"]
    yield ["SET", "k2", "mynewtext"]
    yield ["LCS", "k1", "k2"]
    yield ["LCS", "k1", "k2", "LEN"]
    yield ["LCS", "k1", "k2", "IDX"]
    yield ["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]
    yield ["LCS", "k1", "k2", "IDX", "LEN"]
    yield ["LCS", "k1", "nokey"]
    for i in range(20):
        a = "".join(rnd.choice("ACGT") for _ in range(rnd.randrange(0, 60)))
        b = "".join(rnd.choice("ACGT") for _ in range(rnd.randrange(0, 60)))
        yield ["SET", "x", a]
        yield ["SET", "y", b]
        yield ["LCS", "x", "y", "IDX", "WITHMATCHLEN"]
        yield ["LCS", "x", "y"]
    yield ["SUBSTR", "k1", "1", "3"]
    yield ["SETRANGE", "k1", "20", "zz"]
    yield ["GET", "k1"]
    yield ["APPEND", "k1", "tail"]
    yield ["GETRANGE", "k1", "-5", "-1"]
    yield from functions()
    yield from geo()


def geo():
    """Random points around random centres (packed and skiplist sorted sets, small and
    wide spreads) and random searches of every form. Points are distinct and away from
    the coordinate limits: with equal distances COUNT's partial sort may order ties
    differently (docs/resp.md)."""
    rnd = random.Random(15)
    for n, spread in ((5, 1.0), (60, 0.05), (300, 10.0), (300, 60.0)):
        yield ["DEL", "g"]
        lon0, lat0 = rnd.uniform(-100, 100), rnd.uniform(-50, 50)
        add = ["GEOADD", "g"]
        for i in range(n):
            lon = lon0 + rnd.uniform(-spread, spread)
            lat = max(-84.0, min(84.0, lat0 + rnd.uniform(-spread, spread)))
            add += [f"{lon:.6f}", f"{lat:.6f}", f"p{i}"]
        yield add
        yield ["GEOPOS", "g"] + [f"p{i}" for i in range(0, n, 9)] + ["nope"]
        yield ["GEOHASH", "g"] + [f"p{i}" for i in range(0, n, 9)]
        yield ["GEODIST", "g", "p0", f"p{n - 1}", rnd.choice(["m", "km", "mi", "ft"])]
        for _ in range(60):
            unit = rnd.choice(["m", "km", "mi", "ft"])
            radius = rnd.choice([10, 1e3, 5e4, 5e5, 3e6]) / {"m": 1, "km": 1e3, "mi": 1609.34,
                                                              "ft": 0.3048}[unit]
            opts = [o for o in ("WITHDIST", "WITHCOORD", "WITHHASH") if rnd.random() < 0.4]
            if rnd.random() < 0.5:
                opts.append(rnd.choice(["ASC", "DESC"]))
            if rnd.random() < 0.4:
                opts += ["COUNT", str(rnd.randint(1, 20))] + (["ANY"] if rnd.random() < 0.5 else [])
            lon = f"{lon0 + rnd.uniform(-spread, spread):.5f}"
            lat = f"{max(-84.0, min(84.0, lat0 + rnd.uniform(-spread, spread))):.5f}"
            member = f"p{rnd.randrange(n)}"
            yield rnd.choice([
                ["GEORADIUS", "g", lon, lat, f"{radius:g}", unit] + opts,
                ["GEORADIUSBYMEMBER_RO", "g", member, f"{radius:g}", unit] + opts,
                ["GEOSEARCH", "g", "FROMLONLAT", lon, lat, "BYBOX", f"{radius * 1.5:g}",
                 f"{radius:g}", unit] + opts,
                ["GEOSEARCH", "g", "FROMMEMBER", member, "BYRADIUS", f"{radius:g}", unit] + opts,
            ])
        yield ["GEOSEARCHSTORE", "dst", "g", "FROMLONLAT", f"{lon0:.5f}", f"{lat0:.5f}",
               "BYRADIUS", "500", "km", "STOREDIST"]
        yield ["ZRANGE", "dst", "0", "-1", "WITHSCORES"]


def lib(name, body):
    return f"#!lua name={name}\n{body}"


def functions():
    """Functions: every load error of Redis 7.0 and the replies of FCALL/LIST/STATS."""
    yield ["FUNCTION", "FLUSH"]
    reg = "redis.register_function"
    loads = [
        lib("test", f"{reg}('test', function(KEYS, ARGV) return 'hello' end)"),
        lib("test", f"{reg}('test', function(KEYS, ARGV) return 'hello' end)"),
        lib("lib2", f"{reg}{{function_name='f2', callback=function(KEYS, ARGV) return "
            "redis.call('set', KEYS[1], ARGV[1]) end, flags={'no-writes'}, description='d'}"),
        lib("lib3", "redis.math.random()"),
        lib("lib3", "local a = 1 while 1 do a = a + 1 end"),
        lib("lib3", "a = 1"),
        lib("lib3", f"{reg}('f2', 'x')"),
        lib("lib3", "return 1"),
        lib("lib3", "return redis.call('ping')"),
        lib("lib3", f"{reg}('test', function() return 1 end)"),
        lib("lib3", f"{reg}{{function_name='x', callback=function() end, flags={{'no-writes', 3}}}}"),
        lib("lib3", f"{reg}{{function_name='x', callback=function() end, flags='a'}}"),
        lib("lib3", f"{reg}{{function_name='x', callback=function() end, foo=1}}"),
        lib("lib3", f"{reg}{{callback=function() end}}"),
        lib("lib3", f"{reg}{{function_name='x'}}"),
        lib("lib3", f"{reg}('x')"),
        lib("lib3", f"{reg}()"),
        lib("lib3", f"{reg}(nil, function() end)"),
        lib("lib3", f"{reg}('a b', function() end)"),
        lib("lib3", f"{reg}('x', function() end)\n{reg}('x', function() end)"),
        lib("lib3", f"redis.log(redis.LOG_WARNING, 'hi') {reg}('v', function() "
            "return redis.REDIS_VERSION_NUM > 0 end)"),
        lib("lib4", f"{reg}('e1', function() return redis.call('nosuch') end)\n"
            f"{reg}('e2', function() error('boom') end)\n"
            f"{reg}('e3', function() return redis.register_function end)\n"
            f"{reg}('e4', function(k, a) return {{k, a}} end)"),
        "#! name=x\nreturn 1", "#!lua name=x foo=bar\nreturn 1", "#!lua\nreturn 1",
        "#!lua name=x name=y\nreturn 1", "#!lua name=x", "return 1",
        "#!lua name=\"a-b\"\nreturn 1", lib("bad", "return ("),
    ]
    for code in loads:
        yield ["FUNCTION", "LOAD", code]
    yield ["FUNCTION", "LOAD", "REPLACE", lib("test", f"{reg}('test', function() return 'x' end)")]
    yield ["FUNCTION", "LOAD", "foo", "bar", "x"]
    for c in (["test", "0"], ["TEST", "0"], ["f2", "1", "k", "v"], ["v", "0"], ["e1", "0"],
              ["e2", "0"], ["e3", "0"], ["e4", "2", "a", "b", "c", "d"], ["test", "x"],
              ["test", "5", "a"], ["test", "-1"], ["nosuch", "0"]):
        yield ["FCALL"] + c
    yield ["FCALL_RO", "f2", "1", "k"]
    yield ["FCALL_RO", "test", "0"]
    for name in ("test", "lib2", "lib3", "lib4", "nosuch"):
        yield ["FUNCTION", "LIST", "LIBRARYNAME", name]
        yield ["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", name]
    yield ["FUNCTION", "STATS"]
    for bad in (["DELETE", "nosuch"], ["RESTORE", "bad"], ["RESTORE", "a", "b", "c"],
                ["RESTORE", "a", "xx"], ["FLUSH", "bad"], ["FLUSH", "sync", "x"], ["bad"],
                ["DELETE"], ["LIST", "bad"], ["LIST", "LIBRARYNAME"],
                ["LIST", "WITHCODE", "WITHCODE"], ["KILL"], ["HELP"]):
        yield ["FUNCTION"] + bad
    yield ["FUNCTION", "DELETE", "lib4"]
    yield ["FCALL", "e1", "0"]
    yield ["FUNCTION", "STATS"]
    for body in ("#!lua flags=no-writes\nreturn redis.call('set','a','b')",
                 "#!lua flags=no-writes,bad\nreturn 1", "#!lua flags=\nreturn 1",
                 "#!lua flags=a,,b\nreturn 1", "#!luax\nreturn 1", "#!lua x=1\nreturn 1",
                 "#!lua", "#!lua\nreturn error('x')", "#!lua flags=allow-oom,no-writes\nreturn 1"):
        yield ["EVAL", body, "0"]
    yield ["EVAL_RO", "#!lua\nreturn redis.call('get','a')", "0"]
    yield ["EVAL_RO", "return redis.call('set','a','b')", "0"]
    yield ["SCRIPT", "LOAD", "#!lua flags=bad\nreturn 1"]
    yield ["FUNCTION", "FLUSH"]


def run(client, cmd):
    try:
        reply = client.execute_command(*cmd)
    except redis.ResponseError as e:
        return ("error", str(e))
    if cmd[:2] == ["FUNCTION", "LIST"]:
        # A library's functions come in hash-table order in Redis, registration order here.
        for library in reply:
            library[b"functions"].sort(key=lambda f: f[b"name"])
    return reply


def main():
    slabd = redis.Redis(port=int(sys.argv[1]))
    ref = redis.Redis(port=int(sys.argv[2]))
    bad = 0
    total = 0
    for cmd in commands():
        total += 1
        a, b = run(slabd, cmd), run(ref, cmd)
        if a != b:
            bad += 1
            if bad <= 20:
                print(f"DIFF {cmd[:8]}\n  slabd: {a!r:.300}\n  redis: {b!r:.300}")
    print(f"redis_diff_check: {total - bad}/{total} replies identical")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
