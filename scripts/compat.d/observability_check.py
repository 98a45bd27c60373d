"""Observability compatibility: redis-py Pub/Sub (RESP2 and RESP3), keyspace
notifications, redis-py 5's client-side cache (CLIENT TRACKING), MONITOR through
redis-py, and the Prometheus endpoint parsed by prometheus_client.

usage: observability_check.py RESP_PORT MC_PORT METRICS_PORT
"""
import socket
import sys
import time
import urllib.request

import redis
from prometheus_client.parser import text_string_to_metric_families
from pymemcache.client.base import Client as Memcache

resp_port, mc_port, metrics_port = (int(a) for a in sys.argv[1:4])


def check(cond, what):
    if not cond:
        raise SystemExit(f"observability: FAIL: {what}")
    print(f"observability: ok: {what}")


def next_message(ps, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = ps.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if m is not None:
            return m
    return None


for protocol in (2, 3):
    r = redis.Redis(port=resp_port, protocol=protocol)
    ps = r.pubsub()
    ps.subscribe("news")
    ps.psubscribe("sp*")
    time.sleep(0.1)
    check(r.publish("news", "hello") == 1, f"RESP{protocol}: PUBLISH counts the subscriber")
    m = next_message(ps)
    check(m and m["channel"] == b"news" and m["data"] == b"hello",
          f"RESP{protocol}: redis-py PubSub receives the message")
    r.publish("sport", "goal")
    m = next_message(ps)
    check(m and m["type"] == "pmessage" and m["pattern"] == b"sp*",
          f"RESP{protocol}: pattern message")
    check(r.pubsub_numsub("news") == [(b"news", 1)], f"RESP{protocol}: PUBSUB NUMSUB")
    ps.close()

# Keyspace notifications for a memcached write, heard by redis-py.
r = redis.Redis(port=resp_port)
r.config_set("notify-keyspace-events", "KEA")
ps = r.pubsub()
ps.psubscribe("__keyevent@0__:*")
time.sleep(0.1)
Memcache(("127.0.0.1", mc_port)).set("mckey", "v")
m = next_message(ps)
check(m and m["channel"] == b"__keyevent@0__:set" and m["data"] == b"mckey",
      "keyspace event for a memcached set")
ps.close()
r.config_set("notify-keyspace-events", "")

# Client tracking (redis-py's own cache refuses servers older than 7.4, so raw RESP3):
# a key read after CLIENT TRACKING ON is invalidated by a redis-py write.
t = socket.create_connection(("127.0.0.1", resp_port))
t.settimeout(5)


def roundtrip(sock, cmd, want):
    sock.sendall(cmd)
    got = b""
    while len(got) < len(want):
        got += sock.recv(4096)
    if want:
        check(got == want, f"tracking: {cmd!r} -> {got!r}")


t.sendall(b"HELLO 3\r\n")
time.sleep(0.2)
t.recv(65536)  # HELLO's map
roundtrip(t, b"CLIENT TRACKING ON\r\n", b"+OK\r\n")
roundtrip(t, b"GET tracked\r\n", b"_\r\n")
redis.Redis(port=resp_port).set("tracked", "1")
roundtrip(t, b"", b">2\r\n$10\r\ninvalidate\r\n*1\r\n$7\r\ntracked\r\n")
t.close()

# MONITOR through redis-py.
with r.monitor() as mon:
    redis.Redis(port=resp_port).set("monitored", "1")
    cmd = None
    for _ in range(10):
        c = mon.next_command()
        if "monitored" in c["command"]:
            cmd = c
            break
    check(cmd is not None and cmd["command"] == "SET monitored 1", "MONITOR line parsed by redis-py")

# SLOWLOG and LATENCY through redis-py.
r.config_set("slowlog-log-slower-than", "0")
r.set("slow", "1")
check(any(e["command"] == b"SET slow 1" for e in r.slowlog_get(5)), "SLOWLOG GET through redis-py")
r.config_set("slowlog-log-slower-than", "10000")

# The metrics endpoint, parsed by prometheus_client.
body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
families = {f.name: f for f in text_string_to_metric_families(body)}
for name in ("memcached_up", "memcached_current_items", "memcached_commands", "redis_commands",
             "redis_connected_clients", "slabd_command_duration_seconds", "memcached_slab_items_number"):
    check(name in families, f"metrics: {name} parsed")
hits = [s for s in families["memcached_commands"].samples
        if s.labels.get("command") == "set"]
check(hits and hits[0].value >= 1, "metrics: memcached_commands_total{command=set}")
print("observability: all checks passed")
