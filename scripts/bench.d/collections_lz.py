#!/usr/bin/env python3
"""Lists and sorted sets, slabd beside redis-server (issue 8's targets).

  python3 scripts/bench.d/collections_lz.py [--rounds 2] [--quick]

1. Throughput: redis-benchmark -c 50 at -P 1 and -P 16 for LPUSH RPUSH LPOP RPOP
   LRANGE_100 LRANGE_600 ZADD ZPOPMIN (-r 100000: ZADD grows a real set for ZPOPMIN to pop;
   LRANGE_100 / LRANGE_600 read the first 100 / all 600 of a 600-element list), rounds
   alternating the servers.
   Server CPU per request from /proc/PID/stat (utime+stime) around each run.
2. Memory: each server fresh, VmRSS growth for one sorted set of 1,000,000 members
   (`member:%012d`, score = index), loaded by ZADDs of 1,000 members.
3. Complexity: ZADD (update), ZRANK, ZRANGEBYSCORE ... LIMIT 0 10 on the 1M-member set and
   on a 1,000-member one, LINDEX in the middle of a 1,000,000- and a 1,000-element list:
   server CPU per request, 1M over 1k.

Prints markdown tables (docs/benchmarks.md "Lists and sorted sets"). Needs
target/release/slabd, redis-server, redis-benchmark and python3-redis.
"""
import argparse
import os
import socket
import subprocess
import sys
import time

import redis

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SLABD = os.environ.get("SLABD", os.path.join(ROOT, "target", "release", "slabd"))
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name):
        self.name = name
        self.port = free_port()
        if name == "slabd":
            cmd = [SLABD, "-p", "-1", "-l", "127.0.0.1", "--resp-port", str(self.port),
                   "-t", "2", "-m", "1024"]
        else:
            cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                   "--save", "", "--appendonly", "no", "--maxmemory", "1024mb",
                   "--maxmemory-policy", "allkeys-lru", "--io-threads", "1"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.r = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                self.r.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)

    def cpu_ticks(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def bench(server, n, pipeline, test=None, command=None, rand=100000):
    """One redis-benchmark run: (requests/s, server CPU µs per request)."""
    args = ["redis-benchmark", "-p", str(server.port), "-c", "50", "-n", str(n),
            "-P", str(pipeline), "-r", str(rand), "--csv", "-q"]
    args += ["-t", test] if test else command
    before = server.cpu_ticks()
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    cpu = (server.cpu_ticks() - before) * TICK_US / n
    rps = 0.0
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split('","')]
        if len(parts) >= 2 and parts[0] != "test":
            rps = float(parts[1])
    return rps, cpu


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def throughput(rounds, quick):
    servers = [Server("slabd"), Server("redis-server")]
    tests = ["lpush", "rpush", "lpop", "rpop", "lrange_100", "lrange_600", "zadd", "zpopmin"]
    results = {}  # (test, P, server) -> [(rps, cpu)]
    try:
        for rnd in range(rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for p in (1, 16):
                n = (20000 if quick else 100000) * (5 if p == 16 else 1)
                for s in order:
                    s.r.flushall()
                    s.r.rpush("bl", *[b"x" * 10] * 600)
                    for t in tests:
                        if t.startswith("lrange_"):
                            last = str(int(t.split("_")[1]) - 1)
                            r = bench(s, n // (2 if t == "lrange_100" else 10), p,
                                      command=["lrange", "bl", "0", last])
                        else:
                            r = bench(s, n, p, test=t)
                        results.setdefault((t, p, s.name), []).append(r)
    finally:
        for s in servers:
            s.stop()
    print("| test | -P | slabd req/s | redis req/s | ratio | slabd CPU µs/req | redis CPU µs/req |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for p in (1, 16):
        for t in tests:
            a = results[(t, p, "slabd")]
            b = results[(t, p, "redis-server")]
            ra, rb = median([x[0] for x in a]), median([x[0] for x in b])
            ca, cb = median([x[1] for x in a]), median([x[1] for x in b])
            print(f"| {t} | {p} | {ra:,.0f} | {rb:,.0f} | {ra / rb:.2f} | {ca:.2f} | {cb:.2f} |")


def load_zset(r, key, n):
    for start in range(0, n, 1000):
        args = []
        for i in range(start, min(n, start + 1000)):
            args += [i, f"member:{i:012d}"]
        r.execute_command("ZADD", key, *args)


def load_list(r, key, n):
    for start in range(0, n, 1000):
        r.rpush(key, *[f"element:{i:012d}" for i in range(start, min(n, start + 1000))])


def memory_and_complexity(quick):
    big = 100000 if quick else 1000000
    print()
    print(f"| server | RSS growth, one sorted set of {big:,} members | bytes/member |")
    print("|---|---:|---:|")
    rows = []
    cpu = {}
    for name in ("slabd", "redis-server"):
        s = Server(name)
        try:
            time.sleep(0.3)
            before = s.rss()
            load_zset(s.r, "bigz", big)
            time.sleep(0.5)
            grown = s.rss() - before
            rows.append((name, grown))
            print(f"| {name} | {grown / 2**20:.1f} MiB | {grown / big:.1f} |")
            load_zset(s.r, "smallz", 1000)
            load_list(s.r, "bigl", big)
            load_list(s.r, "smalll", 1000)
            n = 20000 if quick else 100000
            cases = [
                ("ZADD (update)", ["zadd", "{k}", "__rand_int__", "member:__rand_int__"]),
                ("ZRANK", ["zrank", "{k}", "member:__rand_int__"]),
                ("ZRANGEBYSCORE LIMIT 0 10",
                 ["zrangebyscore", "{k}", "__rand_int__", "+inf", "LIMIT", "0", "10"]),
                ("LINDEX middle", ["lindex", "{l}", "{mid}"]),
            ]
            for label, cmd in cases:
                for size, k, l in ((big, "bigz", "bigl"), (1000, "smallz", "smalll")):
                    c = [a.format(k=k, l=l, mid=size // 2) for a in cmd]
                    cpu[(name, label, size)] = bench(s, n, 16, command=c, rand=size)
        finally:
            s.stop()
    slabd, red = rows[0][1], rows[1][1]
    print(f"\nslabd / redis-server RSS: {slabd / red:.2f}")
    print()
    print(f"| operation | server | CPU µs/req at {big:,} | at 1,000 | ratio | req/s at {big:,} | at 1,000 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label in ("ZADD (update)", "ZRANK", "ZRANGEBYSCORE LIMIT 0 10", "LINDEX middle"):
        for name in ("slabd", "redis-server"):
            (rb, cb), (rs, cs) = cpu[(name, label, big)], cpu[(name, label, 1000)]
            print(f"| {label} | {name} | {cb:.2f} | {cs:.2f} | {cb / cs:.2f} | {rb:,.0f} | {rs:,.0f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["throughput", "memory"])
    a = ap.parse_args()
    print(f"load average before: {open('/proc/loadavg').read().split()[0]}")
    if a.only != "memory":
        throughput(a.rounds, a.quick)
    if a.only != "throughput":
        memory_and_complexity(a.quick)
    print(f"\nload average after: {open('/proc/loadavg').read().split()[0]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
