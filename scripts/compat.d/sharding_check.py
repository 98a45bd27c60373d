#!/usr/bin/env python3
"""Sharding with tools people already run: twemproxy (nutcracker) in front of three
instances, and client-side consistent hashing (pymemcache HashClient, pylibmc ketama).

Backends: three `$SLABD` daemons (memcache text on -p, RESP on --resp-port), or with
COMPAT_SERVER=memcached three memcached and three redis-server, to check the test
itself against the daemons slabd imitates. Prints one line per check; exits non-zero on
the first failure. Every process it starts is ended on the way out.
"""
import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from pymemcache.client.base import Client as MemcacheClient
from pymemcache.client.hash import HashClient
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")
KEYS = [f"shard:{i}" for i in range(300)]


class CheckFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CheckFailed(what)
    print(f"ok - {what}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, log, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise CheckFailed(f"process exited at start: {open(log).read()[-400:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise CheckFailed(f"port {port} not accepting after {seconds} s")


class Instance:
    """One backend: memcache text on `mc_port`, RESP on `resp_port` (the same process for
    slabd, two processes for the reference daemons)."""

    def __init__(self, tmp, n):
        self.procs = []
        self.tmp = tmp
        self.n = n
        self.mc_port = None
        self.resp_port = None

    def spawn(self, argv, name):
        log = os.path.join(self.tmp, f"{name}{self.n}.log")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p, log

    def start_slabd(self, binary):
        p, log = self.spawn([binary, "-p", "-1", "-l", "127.0.0.1", "-m", "64", "-t", "1",
                             "--resp-port", "0"], "slabd")
        deadline = time.time() + 20
        while time.time() < deadline:
            text = open(log).read()
            if re.search(r"^ready$", text, re.M):
                self.mc_port = int(re.search(r"^listening on tcp \S+:(\d+)$", text, re.M)[1])
                self.resp_port = int(re.search(r"^listening on resp \S+:(\d+)$", text, re.M)[1])
                return
            if p.poll() is not None:
                break
            time.sleep(0.05)
        raise CheckFailed(f"slabd did not report ready: {open(log).read()[-400:]}")

    def start_reference(self):
        self.mc_port, self.resp_port = free_port(), free_port()
        p, log = self.spawn(["memcached", "-u", getpass.getuser(), "-p",
                             str(self.mc_port), "-l", "127.0.0.1", "-U", "0", "-m", "64"],
                            "memcached")
        wait_port(self.mc_port, p, log)
        p, log = self.spawn(["redis-server", "--port", str(self.resp_port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no"], "redis")
        wait_port(self.resp_port, p, log)

    def kill(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def start_nutcracker(tmp, instances):
    """Runs examples/twemproxy/nutcracker.yml with its ports rewritten to ours."""
    conf = open(os.path.join(EXAMPLES, "twemproxy", "nutcracker.yml")).read()
    mc_proxy, resp_proxy, stats = free_port(), free_port(), free_port()
    conf = conf.replace("127.0.0.1:22121", f"127.0.0.1:{mc_proxy}")
    conf = conf.replace("127.0.0.1:22122", f"127.0.0.1:{resp_proxy}")
    for i, inst in enumerate(instances):
        conf = conf.replace(f"127.0.0.1:{11211 + i}:1", f"127.0.0.1:{inst.mc_port}:1")
        conf = conf.replace(f"127.0.0.1:{6380 + i}:1", f"127.0.0.1:{inst.resp_port}:1")
    path = os.path.join(tmp, "nutcracker.yml")
    with open(path, "w") as f:
        f.write(conf)
    log = os.path.join(tmp, "nutcracker.log")
    p = subprocess.Popen(["nutcracker", "-c", path, "-o", log, "-s", str(stats), "-a",
                          "127.0.0.1", "-p", os.path.join(tmp, "nutcracker.pid")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_port(mc_proxy, p, log)
    wait_port(resp_proxy, p, log)
    return p, mc_proxy, resp_proxy


def redis_client(port):
    # twemproxy knows neither HELLO nor CLIENT and closes the connection on them, so
    # redis-py (which speaks RESP3 and announces itself by default from 8.0) must not.
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, protocol=2,
                       driver_info=None)


def mc_client(port):
    return MemcacheClient(("127.0.0.1", port), connect_timeout=2, timeout=2)


def holders(instances, key, resp):
    """Which instances hold `key`, asked directly."""
    found = []
    for i, inst in enumerate(instances):
        if resp:
            v = redis_client(inst.resp_port).get(key)
        else:
            c = mc_client(inst.mc_port)
            v = c.get(key)
            c.close()
        if v is not None:
            found.append(i)
    return found


def check_spread(instances, resp, what):
    counts = [0] * len(instances)
    for k in KEYS:
        h = holders(instances, k, resp)
        check_quiet(len(h) == 1, f"{what}: {k} is on exactly one instance, not {h}")
        counts[h[0]] += 1
    check(all(c > 0 for c in counts), f"{what}: keys spread over all three instances {counts}")


def check_quiet(cond, what):
    if not cond:
        raise CheckFailed(what)


def flush_all(instances):
    for inst in instances:
        c = mc_client(inst.mc_port)
        c.flush_all()
        c.close()
        redis_client(inst.resp_port).flushall()


def twemproxy_checks(tmp, instances):
    proxy, mc_port, resp_port = start_nutcracker(tmp, instances)
    try:
        mc = mc_client(mc_port)
        for k in KEYS:
            mc.set(k, f"v-{k}".encode())
        check(all(mc.get(k) == f"v-{k}".encode() for k in KEYS),
              "twemproxy memcache pool: every key reads back through the proxy")
        check_spread(instances, False, "twemproxy memcache pool")
        many = mc.get_many(KEYS[:100])
        check(len(many) == 100 and all(many[k] == f"v-{k}".encode() for k in KEYS[:100]),
              "twemproxy memcache pool: a 100-key multi-get through the proxy returns all")

        r = redis_client(resp_port)
        for k in KEYS:
            r.set(k, f"r-{k}")
        check(all(r.get(k) == f"r-{k}".encode() for k in KEYS),
              "twemproxy redis pool: every key reads back through the proxy")
        check_spread(instances, True, "twemproxy redis pool")
        got = r.mget(KEYS[:100])
        check(got == [f"r-{k}".encode() for k in KEYS[:100]],
              "twemproxy redis pool: a 100-key MGET through the proxy returns all in order")

        instances[0].kill()
        check(pool_answers(lambda k: mc_set_get(mc_port, k)),
              "twemproxy memcache pool keeps answering with one instance killed")
        check(pool_answers(lambda k: redis_set_get(resp_port, k)),
              "twemproxy redis pool keeps answering with one instance killed")
    finally:
        proxy.kill()
        proxy.wait()


def mc_set_get(port, key):
    c = mc_client(port)
    try:
        c.set(key, b"after-eject")
        return c.get(key) == b"after-eject"
    finally:
        c.close()


def redis_set_get(port, key):
    r = redis_client(port)
    r.set(key, "after-eject")
    return r.get(key) == b"after-eject"


def pool_answers(set_get, needed=50, seconds=15):
    """True once `needed` fresh keys in a row were stored and read back. Requests that
    reach the dead instance before the proxy ejects it may fail; that is expected."""
    deadline = time.time() + seconds
    streak, i = 0, 0
    while time.time() < deadline:
        i += 1
        try:
            ok = set_get(f"eject:{i}")
        except Exception:  # the proxy reports the dead instance's errors in many forms
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= needed:
            return True
        if not ok:
            time.sleep(0.1)
    return False


def client_hashing_checks(instances):
    sys.path.insert(0, os.path.join(EXAMPLES, "client-hashing"))
    import pymemcache_hashclient
    import pylibmc_ketama

    servers = [f"127.0.0.1:{i.mc_port}" for i in instances]
    hc = pymemcache_hashclient.client(servers)
    for k in KEYS:
        check_quiet(hc.set(k, f"h-{k}".encode()), f"HashClient set {k}")
    check(all(hc.get(k) == f"h-{k}".encode() for k in KEYS),
          "pymemcache HashClient: every key reads back")
    check_spread(instances, False, "pymemcache HashClient")
    many = hc.get_many(KEYS[:50])
    check(len(many) == 50, "pymemcache HashClient: get_many across instances returns all")

    flush_all(instances)
    lc = pylibmc_ketama.client(servers)
    for k in KEYS:
        lc.set(k, f"l-{k}".encode())
    check(all(lc.get(k) == f"l-{k}".encode() for k in KEYS),
          "pylibmc (libmemcached, ketama): every key reads back")
    check_spread(instances, False, "pylibmc (libmemcached, ketama)")
    multi = lc.get_multi(KEYS[:50])
    check(len(multi) == 50, "pylibmc: get_multi across instances returns all")


def main():
    backend = "reference" if os.environ.get("COMPAT_SERVER", "slabd") == "memcached" else "slabd"
    slabd = os.environ.get("SLABD", os.path.join(ROOT, "target", "release", "slabd"))
    tmp = tempfile.mkdtemp(prefix="slabd-sharding-")
    instances = [Instance(tmp, n) for n in range(3)]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        for inst in instances:
            if backend == "reference":
                inst.start_reference()
            else:
                inst.start_slabd(slabd)
        print(f"backends: {backend}, memcache ports {[i.mc_port for i in instances]}, "
              f"resp ports {[i.resp_port for i in instances]}", flush=True)
        client_hashing_checks(instances)
        flush_all(instances)
        twemproxy_checks(tmp, instances)
    except CheckFailed as e:
        print(f"FAILED - {e}", flush=True)
        return 1
    finally:
        for inst in instances:
            inst.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
