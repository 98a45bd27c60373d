#!/usr/bin/env python3
"""Persistence benchmarks, slabd beside redis-server 7.0 on this machine.

  python3 scripts/bench.d/persistence.py [--keys N] [--rounds R]
      [--bgsave-only | --always-only | --everysec-only]   (SLABD_MEM_MB=4096 for 2 GB)

1. SET throughput (redis-benchmark, 50 clients, 100-byte values) with no persistence,
   appendfsync everysec and appendfsync always, alternating the servers each round.
2. BGSAVE while redis-benchmark runs: worst request latency during the save against the
   same run without a save, and the extra resident memory during it (slabd: VmRSS peak over
   the start; Redis: rdb_last_cow_size of its forked child).
3. Load time of the same dump.rdb (written by redis-server) at start-up.

Scaled to a 2-core machine shared with other jobs: --keys (default 500,000 keys of 256
bytes, about 150 MB of data), not the issue's 1-2 GB. Prints a Markdown report.
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLABD = os.environ.get("SLABD", os.path.join(ROOT, "target/release/slabd"))
procs = []
MEM_MB = os.environ.get("SLABD_MEM_MB", "2048")
THREADS = os.environ.get("SLABD_THREADS", "2")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_slabd(d, *extra):
    p = subprocess.Popen([SLABD, "-p", "-1", "-l", "127.0.0.1", "--resp-port", "0", "-t", THREADS,
                          "-m", MEM_MB, "--dir", d, *extra],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    procs.append(p)
    port, log, t0 = None, [], time.time()
    for line in p.stderr:
        log.append(line.strip())
        m = re.match(r"listening on resp .*:(\d+)$", line.strip())
        if m:
            port = int(m.group(1))
        if line.strip() == "ready":
            break
    p.stderr_lines = log

    def drain():
        for line in p.stderr:
            log.append(line.strip())

    threading.Thread(target=drain, daemon=True).start()
    return p, port, log, time.time() - t0


def start_redis(d, *extra):
    port = free_port()
    logf = os.path.join(d, "redis.log")
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                          "--save", "", "--logfile", logf, *extra])
    procs.append(p)
    t0 = time.time()
    while True:
        try:
            out = cli(port, "info", "persistence")
            if "loading:0" in out:
                break
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.02)
    return p, port, logf, time.time() - t0


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], check=True,
                          capture_output=True, text=True).stdout


def ask(conn, *args):
    """Sends one command and returns its whole reply (a status line or a bulk string)."""
    conn.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    buf = b""
    while b"\r\n" not in buf:
        buf += conn.recv(65536)
    if buf[:1] != b"$":
        return buf
    head, _, rest = buf.partition(b"\r\n")
    n = int(head[1:])
    while len(rest) < n + 2:
        rest += conn.recv(65536)
    return rest[:n]


def stop(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def bench(port, tests, n, clients=50, pipeline=1, keys=100000, size=100):
    """redis-benchmark's summary per test: requests/s, p99, p99.9 (its first percentile
    line at or above 99.9%) and worst latency, milliseconds."""
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", tests, "-n", str(n), "-c",
                          str(clients), "-P", str(pipeline), "-r", str(keys), "-d", str(size)],
                         check=True, capture_output=True, text=True).stdout
    rows = {}
    parts = re.split(r"====== (\S+) ======", out)
    for name, section in zip(parts[1::2], parts[2::2]):
        pcts = [(float(p), float(ms)) for p, ms in
                re.findall(r"^([\d.]+)% <= ([\d.]+) milliseconds", section, re.M)]
        p999 = next(ms for p, ms in pcts if p >= 99.9)
        summary = re.search(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*(.+)", section).group(1)
        avg, lo, p50, p95, p99, worst = (float(x) for x in summary.split())
        rps = float(re.search(r"throughput summary: ([\d.]+) requests per second", section).group(1))
        rows[name] = {"rps": rps, "max_ms": worst, "p99_ms": p99, "p999_ms": p999}
    return rows


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def throughput(rounds, n):
    configs = [
        ("slabd, no persistence", "slabd", []),
        ("slabd, appendfsync everysec", "slabd", ["--appendonly", "yes", "--appendfsync", "everysec"]),
        ("redis, appendfsync everysec", "redis", ["--appendonly", "yes", "--appendfsync", "everysec"]),
        ("slabd, appendfsync always", "slabd", ["--appendonly", "yes", "--appendfsync", "always"]),
        ("redis, appendfsync always", "redis", ["--appendonly", "yes", "--appendfsync", "always"]),
        ("redis, no persistence", "redis", ["--appendonly", "no"]),
    ]
    results = {name: [] for name, _, _ in configs}
    for _ in range(rounds):
        for name, server, extra in configs:
            d = tempfile.mkdtemp(prefix="slabd-bench-")
            count = n // 10 if "always" in name else n
            if server == "slabd":
                p, port, _, _ = start_slabd(d, *extra)
            else:
                p, port, _, _ = start_redis(d, *extra)
            results[name].append(bench(port, "set", count)["SET"]["rps"])
            stop(p)
            shutil.rmtree(d, ignore_errors=True)
    return {k: median(v) for k, v in results.items()}


def cpu_secs(pid):
    """utime + stime of a process, seconds (/proc/PID/stat fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def always(rounds, n, pipeline=1):
    """appendfsync always, slabd and Redis alternating: SET requests/s and server CPU
    microseconds per request."""
    res = {"slabd": [], "redis": []}
    for _ in range(rounds):
        for server in ("slabd", "redis"):
            d = tempfile.mkdtemp(prefix="slabd-bench-")
            extra = ["--appendonly", "yes", "--appendfsync", "always"]
            p, port, _, _ = (start_slabd if server == "slabd" else start_redis)(d, *extra)
            if server == "slabd" and slices_from_env():
                set_slices(p.pid, slices_from_env())
            c0 = cpu_secs(p.pid)
            rps = bench(port, "set", n, pipeline=pipeline)["SET"]["rps"]
            cpu_us = (cpu_secs(p.pid) - c0) * 1e6 / n
            res[server].append((rps, cpu_us))
            stop(p)
            shutil.rmtree(d, ignore_errors=True)
    return {k: (median([r for r, _ in v]), median([c for _, c in v])) for k, v in res.items()}


def everysec(rounds, n, pipeline=1):
    """appendfsync everysec against no persistence, slabd and Redis alternating: SET
    requests/s and server CPU microseconds per request, median of `rounds`."""
    configs = [
        ("slabd, no persistence", "slabd", []),
        ("slabd, appendfsync everysec", "slabd", ["--appendonly", "yes", "--appendfsync", "everysec"]),
        ("redis, appendfsync everysec", "redis", ["--appendonly", "yes", "--appendfsync", "everysec"]),
        ("redis, no persistence", "redis", ["--appendonly", "no"]),
    ]
    res = {name: [] for name, _, _ in configs}
    for _ in range(rounds):
        for name, server, extra in configs:
            d = tempfile.mkdtemp(prefix="slabd-bench-")
            p, port, _, _ = (start_slabd if server == "slabd" else start_redis)(d, *extra)
            c0 = cpu_secs(p.pid)
            rps = bench(port, "set", n, pipeline=pipeline)["SET"]["rps"]
            res[name].append((rps, (cpu_secs(p.pid) - c0) * 1e6 / n))
            stop(p)
            shutil.rmtree(d, ignore_errors=True)
    return {k: (median([r for r, _ in v]), median([c for _, c in v])) for k, v in res.items()}


def set_slices(pid, prefixes_us):
    """Experiment: the EEVDF slice request (sched_attr.sched_runtime, Linux 6.12+) of the
    threads whose name starts with a prefix, e.g. {"slabd-worker": 100}."""
    import ctypes
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
        except OSError:
            continue
        for prefix, us in prefixes_us.items():
            if comm.startswith(prefix):
                nice = os.getpriority(os.PRIO_PROCESS, int(tid))
                attr = struct.pack("IIQiIQQQ", 48, 0, 0, nice, 0, us * 1000, 0, 0)
                libc.syscall(314, int(tid), ctypes.create_string_buffer(attr), 0)


def slices_from_env():
    """SLICES="slabd-worker=100,slabd-rdb-write=100" (microseconds)."""
    spec = os.environ.get("SLICES", "")
    return {k: int(v) for k, v in (x.split("=") for x in spec.split(",") if x)}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bgsave(keys, size, servers=("slabd", "redis"), during_n=400000):
    out = {}
    for server in servers:
        d = tempfile.mkdtemp(prefix="slabd-bench-")
        if server == "slabd":
            p, port, _, _ = start_slabd(d)
        else:
            p, port, _, _ = start_redis(d)
        slices = slices_from_env() if server == "slabd" else {}
        if slices:
            set_slices(p.pid, slices)
        bench(port, "set", keys * 2, clients=20, pipeline=64, keys=keys, size=size)
        dbsize = int(cli(port, "dbsize").strip())
        base = bench(port, "set,get", 400000, clients=20, keys=keys, size=size)
        # The same load with a BGSAVE half a second in.
        peak = [rss_kb(p.pid)]
        start_rss = peak[0]
        done = threading.Event()
        took = []
        polls = []

        def trigger():
            # One connection for the whole poll: a redis-cli process every 20 ms costs
            # both servers' clients a few percent of the two cores.
            conn = socket.create_connection(("127.0.0.1", port))
            time.sleep(0.5)
            t0 = time.time()
            ask(conn, b"BGSAVE")
            while True:
                # Each poll's round trip, by time since the BGSAVE: when the stalls come.
                q0 = time.time()
                reply = ask(conn, b"INFO", b"persistence")
                polls.append((q0 - t0, (time.time() - q0) * 1000))
                if b"rdb_bgsave_in_progress:1" not in reply:
                    break
                if slices:
                    set_slices(p.pid, slices)
                peak.append(rss_kb(p.pid))
                time.sleep(0.02)
            took.append(time.time() - t0)
            conn.close()
            done.set()

        t = threading.Thread(target=trigger)
        t.start()
        during = bench(port, "set,get", during_n, clients=20, keys=keys, size=size)
        t.join()
        info = cli(port, "info", "persistence")
        # How long clients were held at the save's start: Redis's fork, slabd's epoch
        # (every stripe locked).
        fork_us = int(re.search(r"latest_fork_usec:(\d+)", cli(port, "info", "stats")).group(1))
        if server == "redis":
            extra_mb = int(re.search(r"rdb_last_cow_size:(\d+)", info).group(1)) / 1e6
        else:
            extra_mb = (max(peak) - start_rss) / 1000
        secs = f"{took[0]:.1f}"
        out[server] = {
            "keys": dbsize,
            "base_max_ms": max(base["SET"]["max_ms"], base["GET"]["max_ms"]),
            "base_p99_ms": max(base["SET"]["p99_ms"], base["GET"]["p99_ms"]),
            "save_max_ms": max(during["SET"]["max_ms"], during["GET"]["max_ms"]),
            "save_p99_ms": max(during["SET"]["p99_ms"], during["GET"]["p99_ms"]),
            "base_p999_ms": max(base["SET"]["p999_ms"], base["GET"]["p999_ms"]),
            "save_p999_ms": max(during["SET"]["p999_ms"], during["GET"]["p999_ms"]),
            "extra_mb": extra_mb,
            "fork_us": fork_us,
            "save_secs": secs,
            "slow_polls": sorted(polls, key=lambda x: -x[1])[:3],
            "dump": os.path.join(d, "dump.rdb"),
            "dir": d,
        }
        stop(p)
    return out


def load_time(dump):
    res = {}
    for server in ("slabd", "redis"):
        times = []
        for _ in range(3):
            d = tempfile.mkdtemp(prefix="slabd-bench-")
            shutil.copy(dump, os.path.join(d, "dump.rdb"))
            if server == "slabd":
                p, port, log, _ = start_slabd(d)
                while "\nloading:0" not in cli(port, "info", "persistence"):
                    time.sleep(0.01)
                line = next((x for x in log if x.startswith("DB loaded from disk")), None)
                while line is None:
                    line = next((x for x in p.stderr_lines if x.startswith("DB loaded from disk")), None)
                    time.sleep(0.01)
                times.append(float(re.search(r"([\d.]+) seconds", line).group(1)))
            else:
                p, _, logf, _ = start_redis(d)
                m = None
                # INFO may answer before a large file's load has begun: wait for the line.
                for _ in range(6000):
                    m = re.search(r"DB loaded from disk: ([\d.]+) seconds", open(logf).read())
                    if m:
                        break
                    time.sleep(0.01)
                times.append(float(m.group(1)))
            stop(p)
            shutil.rmtree(d, ignore_errors=True)
        res[server] = median(times)
    return res


def make_dump(keys, size):
    """A dump.rdb written by redis-server: `keys` strings of `size` bytes (DEBUG POPULATE,
    stored uncompressed so the file is about keys * (size + 14) bytes)."""
    d = tempfile.mkdtemp(prefix="slabd-bench-")
    p, port, _, _ = start_redis(d, "--rdbcompression", "no", "--enable-debug-command", "yes")
    cli(port, "debug", "populate", str(keys), "key", str(size))
    cli(port, "save")
    stop(p)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=500000)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--bgsave-only", action="store_true", help="only the BGSAVE part")
    ap.add_argument("--during", type=int, default=400000,
                    help="with --bgsave-only: requests of the run the save starts in")
    ap.add_argument("--servers", default="slabd,redis",
                    help="with --bgsave-only: which servers, in order (slabd,redis)")
    ap.add_argument("--load-only", action="store_true",
                    help="only the load time of a dump.rdb redis-server wrote (--keys, --size)")
    ap.add_argument("--everysec-only", action="store_true",
                    help="only appendfsync everysec against no persistence: SET rate, CPU/request")
    ap.add_argument("--always-only", action="store_true",
                    help="only appendfsync always: SET rate and server CPU per request")
    a = ap.parse_args()
    load = open("/proc/loadavg").read().split()[0]
    if a.load_only:
        d = make_dump(a.keys, a.size)
        try:
            dump = os.path.join(d, "dump.rdb")
            mb = os.path.getsize(dump) / 1e6
            lt = load_time(dump)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        print(f"load time of redis-server's dump.rdb ({mb:,.0f} MB, {a.keys:,} strings of "
              f"{a.size} bytes), median of 3: slabd {lt['slabd']:.3f} s, Redis "
              f"{lt['redis']:.3f} s ({lt['slabd'] / max(lt['redis'], 1e-9):.2f}x); load average "
              f"{open('/proc/loadavg').read().split()[0]}")
        return
    if a.always_only:
        for pipe in (1, 16):
            r = always(a.rounds, a.requests // 10, pipeline=pipe)
            (srps, scpu), (rrps, rcpu) = r["slabd"], r["redis"]
            print(f"appendfsync always, redis-benchmark -t set -c 50 -P {pipe}: slabd {srps:,.0f}/s "
                  f"({scpu:.1f} us CPU/request), Redis {rrps:,.0f}/s ({rcpu:.1f} us CPU/request): "
                  f"{srps / rrps:.2f}x; load average {open('/proc/loadavg').read().split()[0]}")
        return
    if a.everysec_only:
        for pipe in (1, 16):
            r = everysec(a.rounds, a.requests, pipeline=pipe)
            print(f"redis-benchmark -t set -c 50 -d 100 -r 100000 -P {pipe}, -n {a.requests}, "
                  f"median of {a.rounds} alternating rounds:")
            for k, (rps, cpu) in r.items():
                print(f"  {k}: {rps:,.0f}/s, {cpu:.2f} us CPU/request")
            ev = r["slabd, appendfsync everysec"][0]
            print(f"  everysec: {ev / r['slabd, no persistence'][0]:.2f}x slabd without persistence, "
                  f"{ev / r['redis, appendfsync everysec'][0]:.2f}x Redis everysec; "
                  f"load average {open('/proc/loadavg').read().split()[0]}", flush=True)
        return
    if a.bgsave_only:
        bg = bgsave(a.keys, a.size, a.servers.split(","), a.during)
        for server, r in bg.items():
            shutil.rmtree(r["dir"], ignore_errors=True)
            print(f"{server}: {r['keys']:,} keys; worst request {r['base_max_ms']:.1f} ms without a "
                  f"save, {r['save_max_ms']:.1f} ms during it; p99 {r['base_p99_ms']:.1f} / "
                  f"{r['save_p99_ms']:.1f} ms; p99.9 {r['base_p999_ms']:.1f} / "
                  f"{r['save_p999_ms']:.1f} ms; extra memory {r['extra_mb']:.1f} MB; save "
                  f"{r['save_secs']} s; start pause (latest_fork_usec) {r['fork_us']} us; load average {open('/proc/loadavg').read().split()[0]}; "
                  f"slowest INFO polls (s into the save, ms): "
                  + ", ".join(f"{t:.2f}/{ms:.1f}" for t, ms in r["slow_polls"]),
                  flush=True)
        return
    tp = throughput(a.rounds, a.requests)
    print(tp, file=sys.stderr, flush=True)
    bg = bgsave(a.keys, a.size)
    print(bg, file=sys.stderr, flush=True)
    lt = load_time(bg["redis"]["dump"])
    for s in bg.values():
        shutil.rmtree(s["dir"], ignore_errors=True)
    load_after = open("/proc/loadavg").read().split()[0]
    print(f"Load average {load} before, {load_after} after; {os.cpu_count()} cores.\n")
    print("SET throughput (redis-benchmark -t set -c 50 -d 100 -r 100000; `always` runs use a")
    print(f"tenth of the requests), median of {a.rounds} alternating rounds:\n")
    print("| configuration | requests/s |\n|---|---|")
    for k, v in tp.items():
        print(f"| {k} | {v:,.0f} |")
    ev = tp["slabd, appendfsync everysec"]
    print(f"\neverysec: {ev / tp['slabd, no persistence']:.2f}x slabd without persistence, "
          f"{ev / tp['redis, appendfsync everysec']:.2f}x Redis everysec; always: "
          f"{tp['slabd, appendfsync always'] / tp['redis, appendfsync always']:.2f}x Redis always.\n")
    print(f"BGSAVE during redis-benchmark -t set,get -c 20 ({a.keys:,} keys of {a.size} bytes):\n")
    print("| server | keys | worst latency, no save | worst latency during save | p99, no save "
          "| p99 during save | extra memory during save | save time (s) |\n|---|---|---|---|---|---|---|---|")
    for k, s in bg.items():
        print(f"| {k} | {s['keys']:,} | {s['base_max_ms']:.1f} ms | {s['save_max_ms']:.1f} ms | "
              f"{s['base_p99_ms']:.1f} ms | {s['save_p99_ms']:.1f} ms | {s['extra_mb']:.1f} MB | "
              f"{s['save_secs']} |")
    print(f"\nLoad time of Redis's dump.rdb of these keys (median of 3): slabd {lt['slabd']:.3f} s, "
          f"Redis {lt['redis']:.3f} s ({lt['slabd'] / max(lt['redis'], 1e-9):.2f}x).")


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
