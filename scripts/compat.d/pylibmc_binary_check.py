"""pylibmc (libmemcached) in binary-protocol mode against a server: plain, then with SASL.

Usage: pylibmc_binary_check.py HOST PORT [SASL_PORT USER PASSWORD]
The SASL server must run with -S and MEMCACHED_SASL_PWDB naming a file with USER:PASSWORD.
"""
import sys

import pylibmc


def exercise(mc):
    mc.flush_all()
    assert mc.set("greeting", "hello")
    assert mc.get("greeting") == "hello"
    assert mc.add("greeting", "again") is False
    assert mc.replace("greeting", "hi")
    assert mc.get("greeting") == "hi"
    assert mc.append("greeting", "!")
    assert mc.prepend("greeting", ">")
    assert mc.get("greeting") == ">hi!"
    assert mc.set("n", 10)
    assert mc.incr("n", 5) == 15
    assert mc.decr("n", 20) == 0
    mc.set_multi({"a": b"1", "b": b"2", "c": b"3"})
    assert mc.get_multi(["a", "b", "c", "zz"]) == {"a": b"1", "b": b"2", "c": b"3"}
    value, cas = mc.gets("a")
    assert value == b"1"
    assert mc.cas("a", b"one", cas)
    assert not mc.cas("a", b"uno", cas)
    assert mc.get("a") == b"one"
    assert mc.touch("a", 100)
    assert mc.delete("a")
    assert mc.get("a") is None
    big = b"x" * 500_000
    assert mc.set("big", big)
    assert mc.get("big") == big
    stats = mc.get_stats()
    assert stats and int(stats[0][1]["cmd_set"]) > 0, stats


def main():
    host, port = sys.argv[1], sys.argv[2]
    behaviors = {"tcp_nodelay": True, "cas": True}
    exercise(pylibmc.Client([f"{host}:{port}"], binary=True, behaviors=behaviors))
    print("pylibmc binary: ok")
    if len(sys.argv) > 3:
        sasl_port, user, password = sys.argv[3:6]
        mc = pylibmc.Client(
            [f"{host}:{sasl_port}"],
            binary=True,
            behaviors=behaviors,
            username=user,
            password=password,
        )
        exercise(mc)
        bad = pylibmc.Client(
            [f"{host}:{sasl_port}"], binary=True, username=user, password=password + "x"
        )
        try:
            bad.set("k", "v")
        except pylibmc.Error:
            pass
        else:
            raise AssertionError("a wrong SASL password was accepted")
        print("pylibmc binary with SASL: ok")


if __name__ == "__main__":
    main()
