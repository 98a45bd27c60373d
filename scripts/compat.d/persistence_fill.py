"""Fills a Redis-protocol server with every core type in every encoding Redis 7.0 uses,
in databases 0, 1 and 15, with and without TTLs, and a function library. Prints a canonical dump of what it wrote
(one line per key) so that another server's copy can be compared with it.

usage: persistence_fill.py fill PORT     write the data set (server must be empty)
       persistence_fill.py dump PORT     print the canonical dump of databases 0, 1, 15
       persistence_fill.py copy SRC DST  copy databases 0, 1, 15 with DUMP / RESTORE
       persistence_fill.py migrate SRC DST  move databases 0, 1, 15 with MIGRATE ... KEYS
                                         (and the function library with FUNCTION DUMP)
"""
import sys

import redis

DBS = (0, 1, 15)


LIBRARY = """#!lua name=persistlib
redis.register_function('persist_echo', function(keys, args) return args[1] end)
redis.register_function{function_name='persist_ro', callback=function() return 1 end,
  flags={'no-writes'}, description='a read-only function'}
"""


def fill(port):
    redis.Redis(port=port).function_load(LIBRARY)
    for db in DBS:
        r = redis.Redis(port=port, db=db)
        p = f"db{db}:"
        # strings: int-encoded, short, LZF-compressible, binary, empty
        r.set(p + "int", 12345)
        r.set(p + "neg", -7)
        r.set(p + "big", "123456789012345678")
        r.set(p + "str", "hello")
        r.set(p + "lzf", "abc" * 200)
        r.set(p + "bin", bytes(range(256)))
        r.set(p + "empty", "")
        r.set(p + "ttl", "v", ex=100000)
        r.set(p + "pttl", "v", px=100000000)
        # lists: listpack-packed quicklist, multi-node quicklist, plain node (> 1 GB is
        # impractical; a large element makes a plain node only past list-max-listpack-size)
        r.rpush(p + "list-small", "a", "b", 1, 2, -3, "x" * 100)
        r.rpush(p + "list-big", *[f"e{i}" for i in range(1000)])
        r.rpush(p + "list-long-elem", "y" * 70000)
        # sets: intset, hashtable (7.0 has no set listpack)
        r.sadd(p + "set-int", 1, 2, 3, -70000, 5000000000)
        r.sadd(p + "set-str", "a", "b", "c")
        r.sadd(p + "set-big", *[f"m{i}" for i in range(600)])
        # hashes: listpack, hashtable
        r.hset(p + "hash-small", mapping={"f1": "v1", "f2": 2, "f3": "x" * 30})
        r.hset(p + "hash-big", mapping={f"f{i}": f"v{i}" for i in range(600)})
        r.hset(p + "hash-longval", mapping={"f": "z" * 100})
        # sorted sets: listpack, skiplist; integer, fractional, infinite scores
        r.zadd(p + "zset-small", {"a": 1, "b": 2.5, "c": -3, "inf": float("inf"), "ninf": float("-inf")})
        r.zadd(p + "zset-big", {f"m{i}": i * 0.5 for i in range(300)})
        r.zadd(p + "zset-longmember", {"q" * 100: 1})
        r.expire(p + "zset-small", 100000)


def canon(r, key):
    t = r.type(key).decode()
    if t == "string":
        v = r.get(key).hex()
    elif t == "list":
        v = ",".join(x.hex() for x in r.lrange(key, 0, -1))
    elif t == "set":
        v = ",".join(sorted(x.hex() for x in r.smembers(key)))
    elif t == "hash":
        v = ",".join(sorted(f"{k.hex()}={x.hex()}" for k, x in r.hgetall(key).items()))
    elif t == "zset":
        v = ",".join(f"{m.hex()}={s!r}" for m, s in r.zrange(key, 0, -1, withscores=True))
    else:
        v = "?"
    ttl = r.pttl(key)
    ttl = "none" if ttl < 0 else "ttl"
    return f"{key.hex()} {t} {ttl} {v}"


def dump(port):
    r = redis.Redis(port=port)
    for lib in r.function_list(withcode=True):
        lib = {k.decode() if isinstance(k, bytes) else k: v for k, v in zip(lib[::2], lib[1::2])}
        print("function", lib["library_name"].decode(), lib["library_code"].hex())
    print("fcall", r.fcall("persist_echo", 0, "x") if r.function_list() else None)
    for db in DBS:
        r = redis.Redis(port=port, db=db)
        for key in sorted(r.keys("*")):
            print(db, canon(r, key))


def copy(src, dst):
    payload = redis.Redis(port=src).function_dump()
    redis.Redis(port=dst).function_restore(payload)
    for db in DBS:
        a = redis.Redis(port=src, db=db)
        b = redis.Redis(port=dst, db=db)
        for key in a.keys("*"):
            ttl = a.pttl(key)
            b.restore(key, max(ttl, 0), a.dump(key))


def migrate(src, dst):
    payload = redis.Redis(port=src).function_dump()
    redis.Redis(port=dst).function_restore(payload)
    for db in DBS:
        a = redis.Redis(port=src, db=db)
        keys = a.keys("*")
        if keys:
            assert a.execute_command("MIGRATE", "127.0.0.1", dst, "", db, 5000, "KEYS", *keys) in (b"OK", "OK")
            assert a.dbsize() == 0


if __name__ == "__main__":
    if sys.argv[1] in ("copy", "migrate"):
        {"copy": copy, "migrate": migrate}[sys.argv[1]](int(sys.argv[2]), int(sys.argv[3]))
    else:
        {"fill": fill, "dump": dump}[sys.argv[1]](int(sys.argv[2]))
