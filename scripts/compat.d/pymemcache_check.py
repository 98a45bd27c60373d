"""pymemcache against a memcached-compatible server: python3 pymemcache_check.py HOST PORT.

Exercises set/get/get_many/gets/cas/add/replace/append/prepend/incr/decr/touch/delete and
asserts each result; any mismatch raises and the exit status is non-zero.
"""

import sys
import time

from pymemcache.client.base import Client


def check(host, port):
    c = Client((host, port), connect_timeout=5, timeout=5, default_noreply=False)
    prefix = "compat%d_" % time.time_ns()
    k = lambda name: prefix + name

    assert c.set(k("a"), b"alpha", expire=0) is True
    assert c.get(k("a")) == b"alpha"
    assert c.get(k("missing")) is None

    c.set(k("b"), b"beta")
    got = c.get_many([k("a"), k("b"), k("missing")])
    assert got == {k("a"): b"alpha", k("b"): b"beta"}, got

    # CAS: a matching token stores, a stale one does not, a missing key is not found.
    value, token = c.gets(k("a"))
    assert value == b"alpha" and token is not None
    assert c.cas(k("a"), b"alpha2", token) is True
    assert c.cas(k("a"), b"alpha3", token) is False
    assert c.get(k("a")) == b"alpha2"
    assert c.cas(k("missing"), b"x", b"1") is None

    assert c.add(k("a"), b"no") is False
    assert c.add(k("c"), b"gamma") is True
    assert c.replace(k("missing"), b"no") is False
    assert c.replace(k("c"), b"gamma2") is True
    assert c.append(k("c"), b"-end") is True
    assert c.prepend(k("c"), b"start-") is True
    assert c.get(k("c")) == b"start-gamma2-end"

    c.set(k("n"), b"10")
    assert c.incr(k("n"), 5) == 15
    assert c.decr(k("n"), 20) == 0
    assert c.incr(k("n"), 2**64 - 1) == 2**64 - 1
    assert c.incr(k("n"), 2) == 1
    assert c.incr(k("missing"), 1) is None

    assert c.touch(k("b"), expire=100) is True
    assert c.touch(k("missing"), expire=100) is False

    assert c.delete(k("b")) is True
    assert c.delete(k("b")) is False
    assert c.get(k("b")) is None

    big = bytes(range(256)) * 4000
    assert c.set(k("big"), big) is True
    assert c.get(k("big")) == big

    many = {k("m%d" % i): str(i).encode() for i in range(200)}
    assert c.set_many(many) == []
    assert c.get_many(list(many)) == many

    assert c.version()
    c.close()


if __name__ == "__main__":
    check(sys.argv[1], int(sys.argv[2]))
