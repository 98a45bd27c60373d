"""Runs the same commands against slabd and redis-server and compares the replies.

Usage: redis_diff_check.py SLABD_PORT REDIS_PORT

Covers the commands whose results must be byte-identical to Redis: HyperLogLog values
(GET of the raw value after PFADD/PFMERGE, PFCOUNT), BITFIELD with every type and
overflow mode, the bit commands and LCS. Prints each difference and exits 1 on any.
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


def run(client, cmd):
    try:
        return client.execute_command(*cmd)
    except redis.ResponseError as e:
        return ("error", str(e))


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
