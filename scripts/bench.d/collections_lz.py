#!/usr/bin/env python3
"""Collections (issue 8's targets), slabd beside redis-server.

  python3 scripts/bench.d/collections_lz.py [--rounds 2] [--quick] [--only ...] [--pipeline P]
  python3 scripts/bench.d/collections_lz.py --chart     # table + docs/benchmarks-collections.svg

1. Throughput (`--only throughput`, one `--pipeline` per call keeps a call short): the
   issue's redis-benchmark line, `-t lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,
   lrange_100,lrange_600 -c 50`, at -P 1 and -P 16, one test per redis-benchmark run,
   rounds alternating which server goes first (-r 100000: ZADD grows a real set for
   ZPOPMIN to pop, SADD one for SPOP; LRANGE_100 / LRANGE_600 read the first 100 / all 600
   of a 600-element list). Server CPU per request from /proc/PID/stat (utime+stime)
   around each run. Medians are kept in target/bench/collections.json for `--chart`.
2. Memory (`--only memory`): each server fresh, VmRSS growth for one sorted set of
   1,000,000 members (`member:%012d`, score = index), loaded by ZADDs of 1,000 members;
   then the complexity runs: ZADD (update), ZRANK, ZRANGEBYSCORE ... LIMIT 0 10 on the
   1M-member set and on a 1,000-member one, LINDEX in the middle of a 1,000,000- and a
   1,000-element list: server CPU per request, 1M over 1k. `--redis-first` measures
   redis-server first (alternate it between calls: drift then hits both alike).
3. Set and list memory (`--only rss`): each server fresh, VmRSS growth for one set of
   1,000,000 members (`member:%012d`, SADDs of 1,000) and one list of 1,000,000 elements
   (`element:%012d`, RPUSHes of 1,000).
4. Hashes (`--only hashes`): each server fresh, VmRSS growth for 1,000,000 hashes of 10
   fields (8-byte names, 16-byte values), loaded through `redis-cli --pipe`.

SLABD_ARGS adds slabd flags (e.g. SLABD_ARGS="-o worker_gather=0" for an A/B).

Is the client the ceiling? One redis-benchmark process is one thread: at -P 16 on this
2-core machine it saturates its core before either server does (a server at 0.5 µs CPU a
request and 250k/s uses an eighth of a core). `--clients N` runs N redis-benchmark
processes at once, each with 50/N connections and n/N requests (same total), and adds
their req/s; `--tests a,b` runs only those lines; `--tag NAME` keeps the run in
collections.json under P16-NAME, so the one-client figures stay.

Prints markdown tables (docs/benchmarks.md "Collections"). Needs target/release/slabd,
redis-server, redis-benchmark, redis-cli and python3-redis.
"""
import argparse
import datetime
import json
import os
import resource
import socket
import subprocess
import sys
import time

import redis

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SLABD = os.environ.get("SLABD", os.path.join(ROOT, "target", "release", "slabd"))
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
RESULTS = os.path.join(ROOT, "target", "bench", "collections.json")
TESTS = ["lpush", "rpush", "lpop", "rpop", "sadd", "hset", "spop", "zadd", "zpopmin",
         "lrange_100", "lrange_600"]


NEXT_PORT = [int(os.environ["BENCH_PORT_BASE"])] if os.environ.get("BENCH_PORT_BASE") else []


def free_port():
    """A free port: the next one from BENCH_PORT_BASE on (an engineer's own range on a
    shared machine), else one the kernel picks."""
    while NEXT_PORT:
        port = NEXT_PORT[0]
        NEXT_PORT[0] += 1
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, name):
        self.name = name
        self.port = free_port()
        if name == "slabd":
            cmd = [SLABD, "-p", "-1", "-l", "127.0.0.1", "--resp-port", str(self.port),
                   "-t", "2", "-m", "1024"] + os.environ.get("SLABD_ARGS", "").split()
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


CLIENTS = 1


def bench(server, n, pipeline, test=None, command=None, rand=100000):
    """One run of CLIENTS redis-benchmark processes side by side (50 connections and n
    requests in all): (requests/s summed, server CPU µs per request, the clients' CPU µs
    per request)."""
    args = ["redis-benchmark", "-p", str(server.port), "-c", str(50 // CLIENTS),
            "-n", str(n // CLIENTS), "-P", str(pipeline), "-r", str(rand), "--csv", "-q"]
    args += ["-t", test] if test else command
    before = server.cpu_ticks()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
             for _ in range(CLIENTS)]
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"redis-benchmark failed: {args}")
    done = n // CLIENTS * CLIENTS
    cpu = (server.cpu_ticks() - before) * TICK_US / done
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client = (ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime) * 1e6 / done
    rps = 0.0
    for out in outs:
        for line in out.splitlines():
            parts = [p.strip('"') for p in line.split('","')]
            if len(parts) >= 2 and parts[0] != "test":
                rps += float(parts[1])
    return rps, cpu, client


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def throughput(rounds, quick, pipelines, tests=TESTS, tag="", redis_first=False):
    servers = [Server("slabd"), Server("redis-server")]
    if redis_first:
        servers.reverse()
    results = {}  # (test, P, server) -> [(rps, cpu)]
    load_before = os.getloadavg()[0]
    try:
        for rnd in range(rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for p in pipelines:
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
                        print(f"round {rnd + 1} -P {p} {s.name} {t}: {r[0]:,.0f} req/s, "
                              f"server {r[1]:.2f} µs/req, client {r[2]:.2f} µs/req", flush=True)
    finally:
        for s in servers:
            s.stop()
    saved = {}
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            saved = json.load(f)
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    for p in pipelines:
        rows = {}
        for t in tests:
            a = results[(t, p, "slabd")]
            b = results[(t, p, "redis-server")]
            rows[t] = {"slabd_rps": median([x[0] for x in a]),
                       "redis_rps": median([x[0] for x in b]),
                       "slabd_cpu": median([x[1] for x in a]),
                       "redis_cpu": median([x[1] for x in b]),
                       "slabd_client_cpu": median([x[2] for x in a]),
                       "redis_client_cpu": median([x[2] for x in b]),
                       "runs": {"slabd": a, "redis-server": b}}
        saved[f"P{p}{tag}"] = {
            "rows": rows, "rounds": rounds, "commit": commit,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_before": load_before, "load_after": os.getloadavg()[0],
            "clients": CLIENTS,
            "redis": subprocess.run(["redis-server", "--version"], capture_output=True,
                                    text=True).stdout.split(" sha=")[0].strip()}
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(saved, f, indent=1)
    print_throughput(saved, [f"P{p}{tag}" for p in pipelines])
    print_rounds(saved, [f"P{p}{tag}" for p in pipelines])


def print_rounds(saved, keys):
    """Each round's slabd/redis ratio of req/s, and of server CPU per request."""
    for key in keys:
        rows = saved.get(key, {}).get("rows", {})
        print(f"\n{key}: per round, slabd/redis req/s (slabd µs/req : redis µs/req)")
        for t, r in rows.items():
            a, b = r["runs"]["slabd"], r["runs"]["redis-server"]
            cells = [f"{x[0] / y[0]:.2f} ({x[1]:.2f}:{y[1]:.2f})" for x, y in zip(a, b)]
            short = sum(x[0] / y[0] < 1.3 for x, y in zip(a, b))
            print(f"| {t} | " + " | ".join(cells) + f" | {short} of {len(cells)} under 1.3 |")


def print_throughput(saved, keys=("P1", "P16")):
    print("| test | -P | clients | slabd req/s | redis req/s | ratio | slabd CPU µs/req | "
          "redis CPU µs/req | client CPU µs/req (slabd run / redis run) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for key in keys:
        if key not in saved:
            continue
        p = key[1:].split("-")[0]
        for t, r in saved[key]["rows"].items():
            print(f"| {t} | {p} | {saved[key].get('clients', 1)} | {r['slabd_rps']:,.0f} | "
                  f"{r['redis_rps']:,.0f} | {r['slabd_rps'] / r['redis_rps']:.2f} | "
                  f"{r['slabd_cpu']:.2f} | {r['redis_cpu']:.2f} | "
                  f"{r.get('slabd_client_cpu', 0):.2f} / {r.get('redis_client_cpu', 0):.2f} |")
    for key in keys:
        if key in saved:
            m = saved[key]
            print(f"\n{key}: {m['date']}, commit {m['commit']}, {m['rounds']} rounds, "
                  f"load average {m['load_before']:.2f} before, {m['load_after']:.2f} after")


def chart(path):
    """Two panels (-P 1, -P 16): slabd's req/s over Redis's and Redis's CPU per request
    over slabd's, per test; the line at 1 is parity, the dashed one the 1.3x target."""
    with open(RESULTS) as f:
        saved = json.load(f)
    print_throughput(saved)
    bar_h, gap, label_w, plot_w, top = 9, 8, 90, 420, 40
    body, y = [], top
    for key in ("P1", "P16"):
        rows = saved.get(key, {}).get("rows", {})
        if not rows:
            continue
        body.append(f'<text x="10" y="{y - 12}" font-weight="bold">redis-benchmark -c 50 '
                    f'-P {key[1:]} ({saved[key]["date"]}, {saved[key]["commit"]})</text>')
        scale = plot_w / 3.0
        for t, r in rows.items():
            speed = r["slabd_rps"] / r["redis_rps"]
            cpu = r["redis_cpu"] / r["slabd_cpu"] if r["slabd_cpu"] else 0
            body.append(f'<text x="10" y="{y + 2 * bar_h - 2}">{t}</text>')
            for k, (v, colour) in enumerate(((speed, "#3b6ea8"), (cpu, "#e08a2c"))):
                w = min(v, 3.0) * scale
                body.append(f'<rect x="{label_w}" y="{y + k * bar_h}" width="{w:.1f}" '
                            f'height="{bar_h - 1}" fill="{colour}"/>')
                body.append(f'<text x="{label_w + w + 4:.1f}" y="{y + k * bar_h + bar_h - 2}" '
                            f'font-size="9">{v:.2f}</text>')
            y += 2 * bar_h + gap
        for v, dash in ((1.0, ""), (1.3, ' stroke-dasharray="4,3"')):
            x = label_w + v * scale
            body.append(f'<line x1="{x:.1f}" y1="{y - len(rows) * (2 * bar_h + gap) - 4}" '
                        f'x2="{x:.1f}" y2="{y - gap}" stroke="#444"{dash}/>')
        y += 40
    legend = (f'<rect x="{label_w}" y="{y - 20}" width="10" height="8" fill="#3b6ea8"/>'
              f'<text x="{label_w + 14}" y="{y - 12}">slabd req/s ÷ redis req/s</text>'
              f'<rect x="{label_w + 190}" y="{y - 20}" width="10" height="8" fill="#e08a2c"/>'
              f'<text x="{label_w + 204}" y="{y - 12}">redis CPU/req ÷ slabd CPU/req</text>')
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 60}" '
                f'height="{y}" font-family="sans-serif" font-size="11">\n'
                + "\n".join(body) + "\n" + legend + "\n</svg>\n")
    print(f"\nwrote {path}")


def load_zset(r, key, n):
    for start in range(0, n, 1000):
        args = []
        for i in range(start, min(n, start + 1000)):
            args += [i, f"member:{i:012d}"]
        r.execute_command("ZADD", key, *args)


def load_list(r, key, n):
    for start in range(0, n, 1000):
        r.rpush(key, *[f"element:{i:012d}" for i in range(start, min(n, start + 1000))])


def memory_and_complexity(quick, redis_first=False):
    big = 100000 if quick else 1000000
    print()
    print(f"| server | RSS growth, one sorted set of {big:,} members | bytes/member |")
    print("|---|---:|---:|")
    rows = []
    cpu = {}
    order = ("redis-server", "slabd") if redis_first else ("slabd", "redis-server")
    for name in order:
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
            n = 20000 if quick else 500000
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
    slabd, red = dict(rows)["slabd"], dict(rows)["redis-server"]
    print(f"\nslabd / redis-server RSS: {slabd / red:.2f}")
    print()
    print(f"| operation | server | CPU µs/req at {big:,} | at 1,000 | ratio | req/s at {big:,} | at 1,000 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label in ("ZADD (update)", "ZRANK", "ZRANGEBYSCORE LIMIT 0 10", "LINDEX middle"):
        for name in ("slabd", "redis-server"):
            (rb, cb, _), (rs, cs, _) = cpu[(name, label, big)], cpu[(name, label, 1000)]
            print(f"| {label} | {name} | {cb:.2f} | {cs:.2f} | {cb / cs:.2f} | {rb:,.0f} | {rs:,.0f} |")


def load_set(r, key, n):
    for start in range(0, n, 1000):
        r.sadd(key, *[f"member:{i:012d}" for i in range(start, min(n, start + 1000))])


def collection_rss(quick):
    """VmRSS growth for one set of 1,000,000 members (`member:%012d`, SADDs of 1,000)
    and one list of 1,000,000 elements (`element:%012d`, RPUSHes of 1,000), each load in
    a fresh server."""
    n = 100000 if quick else 1000000
    print(f"\n| type | server | RSS growth, one key of {n:,} members | bytes/member |")
    print("|---|---|---:|---:|")
    grown = {}
    for kind, load in (("set", load_set), ("list", load_list)):
        for name in ("slabd", "redis-server"):
            s = Server(name)
            try:
                time.sleep(0.3)
                before = s.rss()
                load(s.r, "big", n)
                time.sleep(0.5)
                grown[(kind, name)] = s.rss() - before
                g = grown[(kind, name)]
                print(f"| {kind} | {name} | {g / 2**20:.1f} MiB | {g / n:.1f} |")
            finally:
                s.stop()
    print()
    for kind in ("set", "list"):
        print(f"{kind}: slabd / redis-server RSS "
              f"{grown[(kind, 'slabd')] / grown[(kind, 'redis-server')]:.2f}")


def hash_memory(quick, redis_first=False):
    """RSS growth for hashes of 10 fields, each server started fresh."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from run import load_hashes
    count = 20000 if quick else 1000000
    print(f"\n| server | RSS growth, {count:,} hashes of 10 fields | bytes/hash |")
    print("|---|---:|---:|")
    grown = {}
    order = ("redis-server", "slabd") if redis_first else ("slabd", "redis-server")
    for name in order:
        s = Server(name)
        try:
            time.sleep(0.3)
            before = s.rss()
            if not load_hashes(s.port, count, 600):
                print(f"| {name} | load failed | |")
                continue
            time.sleep(0.5)
            stored = s.r.dbsize()
            grown[name] = s.rss() - before
            print(f"| {name} | {grown[name] / 2**20:.1f} MiB | {grown[name] / stored:.1f} |")
        finally:
            s.stop()
    if len(grown) == 2:
        print(f"\nslabd / redis-server RSS: {grown['slabd'] / grown['redis-server']:.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=["throughput", "memory", "rss", "hashes"])
    ap.add_argument("--pipeline", type=int, choices=[1, 16],
                    help="throughput at this -P only (default both)")
    ap.add_argument("--clients", type=int, default=1,
                    help="redis-benchmark processes side by side (50 connections in all)")
    ap.add_argument("--tests", help="comma-separated throughput lines (default all)")
    ap.add_argument("--tag", default="", help="saved as P16-TAG (keeps the default runs)")
    ap.add_argument("--redis-first", action="store_true",
                    help="--only memory/hashes: measure redis-server before slabd (alternate "
                    "calls); --only throughput: start the rounds with redis-server")
    ap.add_argument("--chart", action="store_true",
                    help="print the saved throughput table and write the chart")
    a = ap.parse_args()
    if a.chart:
        chart(os.path.join(ROOT, "docs", "benchmarks-collections.svg"))
        return
    global CLIENTS
    CLIENTS = a.clients
    print(f"load average before: {open('/proc/loadavg').read().split()[0]}")
    if a.only in (None, "throughput"):
        tests = a.tests.split(",") if a.tests else TESTS
        tag = f"-{a.tag}" if a.tag else ""
        throughput(a.rounds, a.quick, [a.pipeline] if a.pipeline else [1, 16], tests, tag,
                   a.redis_first)
    if a.only in (None, "memory"):
        memory_and_complexity(a.quick, a.redis_first)
    if a.only in (None, "rss"):
        collection_rss(a.quick)
    if a.only in (None, "hashes"):
        hash_memory(a.quick, a.redis_first)
    print(f"\nload average after: {open('/proc/loadavg').read().split()[0]}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
