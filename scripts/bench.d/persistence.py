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

With --bgsave-only:
  --servers old=/tmp/slabd-old,new=target/release/slabd,redis   several slabd binaries
      (LABEL=BIN [ARGS]) and redis-server ("redis") in one run, in that order ("slabd":
      $SLABD), e.g. "notrial=target/release/slabd -o worker_trial=0"
  --probe   a GET every millisecond on a connection of its own, beside redis-benchmark:
      its worst and p99 round trip during the save and when the worst one came
  PORT_BASE=7400      servers listen on PORT_BASE, PORT_BASE+1, ... (default: any free port)
  SAVE_FLAGS="--auto-aof-rewrite-percentage 0"
      extra directives for every server of the BGSAVE runs (both take Redis's names)
  AFTER_FILL="appendonly yes appendfsync always"   CONFIG SET pairs applied after the fill
      (the AOF's rewrite then runs and is waited for); with `appendfsync always` from the
      start the fill alone would take minutes. Use a smaller --during with it (~7k SETs/s)
  TESTS=set   redis-benchmark's tests in the BGSAVE runs (default set,get)
  PROBE="SET probe-key 1"   the probe's command (default GET probe-key); with
      `appendfsync always` a write waits for the AOF's fsync, a read does not
  AT_SAVE="perf sched record -o /tmp/s.data -p {pid}"   a command started when the BGSAVE
      is sent ({pid}: the server's), interrupted (SIGINT) when the save has ended
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
PORT_BASE = int(os.environ.get("PORT_BASE", "0"))
# The BGSAVE runs' redis-benchmark tests and the probe's command.
TESTS = os.environ.get("TESTS", "set,get")
PROBE = os.environ.get("PROBE", "GET probe-key").encode().split()
next_port = [PORT_BASE]


def free_port():
    """PORT_BASE, PORT_BASE+1, ... when it is set (a port range of one's own), else any."""
    if PORT_BASE:
        next_port[0] += 1
        return next_port[0] - 1
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_slabd(d, *extra, binary=None):
    resp_port = str(free_port()) if PORT_BASE else "0"
    p = subprocess.Popen([binary or SLABD, "-p", "-1", "-l", "127.0.0.1", "--resp-port", resp_port,
                          "-t", THREADS, "-m", MEM_MB, "--dir", d, *extra],
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
    if n < 0:
        return None
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


def wait_no_rewrite(port):
    """Waits until no AOF rewrite runs or is scheduled (a BGSAVE would be refused or wait)."""
    while True:
        info = cli(port, "info", "persistence")
        if "aof_rewrite_in_progress:0" in info and "aof_rewrite_scheduled:0" in info:
            return
        time.sleep(0.1)


class Probe:
    """A GET every millisecond on a connection of its own: (seconds since start, round trip
    ms) for every request, so the worst ones can be placed in time."""

    def __init__(self, port):
        self.conn = socket.create_connection(("127.0.0.1", port))
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.samples = []
        # slabd's workers_active and worker_moves every 20 ms: (seconds, active, moves).
        self.placement = []
        self.stopping = threading.Event()
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        self.watcher = threading.Thread(target=self.watch, args=(port,), daemon=True)
        self.watcher.start()

    def watch(self, port):
        conn = socket.create_connection(("127.0.0.1", port))
        while not self.stopping.is_set():
            stats = ask(conn, b"INFO", b"stats") or b""
            a = re.search(rb"workers_active:(\d+)", stats)
            m = re.search(rb"worker_moves:(\d+)", stats)
            if a and m:
                self.placement.append((self.now(), int(a.group(1)), int(m.group(1))))
            time.sleep(0.02)
        conn.close()

    def changes(self, start, end):
        """Times (seconds after `start`) when workers_active changed in [start, end]."""
        out = []
        for (_, a0, _), (t, a1, _) in zip(self.placement, self.placement[1:]):
            if start <= t <= end and a1 != a0:
                out.append((round(t - start, 2), a1))
        return out

    def worst(self, start, end, n=3):
        """The n slowest GETs in [start, end]: (seconds after start, ms)."""
        xs = [(t - start, ms) for t, ms in self.samples if start <= t <= end]
        return sorted(xs, key=lambda x: -x[1])[:n]

    def run(self):
        nxt = time.monotonic()
        while not self.stopping.is_set():
            q0 = time.monotonic()
            ask(self.conn, *PROBE)
            self.samples.append((q0 - self.t0, (time.monotonic() - q0) * 1000))
            nxt += 0.001
            delay = nxt - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                nxt = time.monotonic()

    def now(self):
        return time.monotonic() - self.t0

    def window(self, start, end):
        """(worst ms, p99 ms, seconds after `start` of the worst, samples) in [start, end]."""
        xs = [(t, ms) for t, ms in self.samples if start <= t <= end]
        if not xs:
            return (0.0, 0.0, 0.0, 0)
        t, worst = max(xs, key=lambda x: x[1])
        lat = sorted(ms for _, ms in xs)
        return (worst, lat[min(len(lat) - 1, int(len(lat) * 0.99))], t - start, len(xs))

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self.watcher.join()
        self.conn.close()


def parse_servers(spec):
    """"slabd,redis" or "old=/tmp/slabd-old,new=target/release/slabd -o worker_trial=0,redis":
    (label, kind, binary, its extra arguments) in order."""
    out = []
    for item in spec.split(","):
        label, _, command = item.partition("=")
        if label == "redis" and not command:
            out.append(("redis", "redis", None, []))
        else:
            words = command.split() or [SLABD]
            out.append((label, "slabd", words[0], words[1:]))
    return out


def bgsave(keys, size, servers=("slabd", "redis"), during_n=400000, probe=False):
    out = {}
    save_flags = os.environ.get("SAVE_FLAGS", "").split()
    at_save = os.environ.get("AT_SAVE", "")
    for label, kind, binary, args in parse_servers(",".join(servers)):
        # A label given twice (rounds of the same server) gets "#2", "#3".
        n = sum(1 for k in out if k.split("#")[0] == label)
        label = f"{label}#{n + 1}" if n else label
        d = tempfile.mkdtemp(prefix="slabd-bench-")
        if kind == "slabd":
            p, port, _, _ = start_slabd(d, *save_flags, *args, binary=binary)
        else:
            p, port, _, _ = start_redis(d, *save_flags)
        slices = slices_from_env() if kind == "slabd" else {}
        if slices:
            set_slices(p.pid, slices)
        bench(port, "set", keys * 2, clients=20, pipeline=64, keys=keys, size=size)
        after = os.environ.get("AFTER_FILL", "").split()
        for name, value in zip(after[::2], after[1::2]):
            cli(port, "config", "set", name, value)
        wait_no_rewrite(port)
        dbsize = int(cli(port, "dbsize").strip())
        pr = Probe(port) if probe else None
        b0 = pr.now() if pr else 0
        base = bench(port, TESTS, during_n, clients=20, keys=keys, size=size)
        b1 = pr.now() if pr else 0
        # The same load with a BGSAVE half a second in.
        peak = [rss_kb(p.pid)]
        start_rss = peak[0]
        done = threading.Event()
        took = []
        polls = []
        window = []

        def trigger():
            # One connection for the whole poll: a redis-cli process every 20 ms costs
            # both servers' clients a few percent of the two cores.
            conn = socket.create_connection(("127.0.0.1", port))
            time.sleep(0.5)
            t0 = time.time()
            window.append(pr.now() if pr else 0)
            ask(conn, b"BGSAVE")
            watcher = None
            if at_save:
                watcher = subprocess.Popen(at_save.replace("{pid}", str(p.pid)), shell=True)
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
            window.append(pr.now() if pr else 0)
            if watcher:
                watcher.send_signal(2)
                watcher.wait()
            conn.close()
            done.set()

        t = threading.Thread(target=trigger)
        t.start()
        c0 = cpu_secs(p.pid)
        during = bench(port, TESTS, during_n, clients=20, keys=keys, size=size)
        cpu_us = (cpu_secs(p.pid) - c0) * 1e6 / during_n
        t.join()
        if pr:
            pr.stop()
        info = cli(port, "info", "persistence")
        # How long clients were held at the save's start: Redis's fork, slabd's epoch
        # (every stripe locked).
        stats = cli(port, "info", "stats")
        fork_us = int(re.search(r"latest_fork_usec:(\d+)", stats).group(1))
        # slabd's connection placement over the whole run (server::gather).
        moves = " ".join(m.group(0) for m in re.finditer(
            r"(worker_trials|worker_trials_kept|worker_rebalances):\d+", stats))
        # Redis: its child's copy-on-write; slabd: its copies at their peak (made, not
        # yet written), beside its RSS growth.
        cow_mb = int(re.search(r"rdb_last_cow_size:(\d+)", info).group(1)) / 1e6
        if kind == "redis":
            extra_mb = cow_mb
        else:
            extra_mb = (max(peak) - start_rss) / 1000
        secs = f"{took[0]:.1f}"
        out[label] = {
            "keys": dbsize,
            "base_max_ms": max(r["max_ms"] for r in base.values()),
            "base_p99_ms": max(r["p99_ms"] for r in base.values()),
            "save_max_ms": max(r["max_ms"] for r in during.values()),
            "save_p99_ms": max(r["p99_ms"] for r in during.values()),
            "base_p999_ms": max(r["p999_ms"] for r in base.values()),
            "save_p999_ms": max(r["p999_ms"] for r in during.values()),
            "extra_mb": extra_mb,
            "cow_mb": cow_mb,
            "rss_mb": start_rss / 1000,
            "data_mb": int(re.search(r"used_memory:(\d+)", cli(port, "info", "memory")).group(1)) / 1e6,
            "fork_us": fork_us,
            "save_secs": secs,
            "cpu_us": cpu_us,
            "moves": moves,
            "bgsave_ok": "rdb_last_bgsave_status:ok" in info,
            "probe_base": pr.window(b0, b1) if pr else None,
            "probe_save": pr.window(window[0], window[1]) if pr else None,
            "probe_detail": (pr.worst(b0, b1), pr.changes(b0, b1), pr.worst(window[0], window[1]),
                             pr.changes(window[0], window[1])) if pr else None,
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
                    help="with --bgsave-only: which servers, in order: slabd, redis, or "
                         "LABEL=SLABD_BINARY")
    ap.add_argument("--probe", action="store_true",
                    help="with --bgsave-only: a GET every ms on its own connection")
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
        bg = bgsave(a.keys, a.size, a.servers.split(","), a.during, a.probe)
        flags = os.environ.get("SAVE_FLAGS", "")
        after = os.environ.get("AFTER_FILL", "")
        print(f"BGSAVE half a second into redis-benchmark -t {TESTS} -c 20 -n {a.during}; "
              f"probe {PROBE}"
              + (f"; servers started with {flags}" if flags else "")
              + (f"; CONFIG SET {after} after the fill" if after else ""))
        for server, r in bg.items():
            shutil.rmtree(r["dir"], ignore_errors=True)
            line = (f"{server}: {r['keys']:,} keys; worst request {r['base_max_ms']:.1f} ms without a "
                    f"save, {r['save_max_ms']:.1f} ms during it; p99 {r['base_p99_ms']:.1f} / "
                    f"{r['save_p99_ms']:.1f} ms; p99.9 {r['base_p999_ms']:.1f} / "
                    f"{r['save_p999_ms']:.1f} ms; server CPU {r['cpu_us']:.2f} us/request during "
                    f"the save's run; extra memory {r['extra_mb']:.1f} MB (rdb_last_cow_size "
                    f"{r['cow_mb']:.1f} MB, used_memory {r['data_mb']:,.0f} MB, RSS at the start "
                    f"{r['rss_mb']:,.0f} MB); save {r['save_secs']} s"
                    f"{'' if r['bgsave_ok'] else ' (FAILED)'}; start pause (latest_fork_usec) "
                    f"{r['fork_us']} us; load average {open('/proc/loadavg').read().split()[0]}; "
                    f"slowest INFO polls (s into the save, ms): "
                    + ", ".join(f"{t:.2f}/{ms:.1f}" for t, ms in r["slow_polls"])
                    + (f"; {r['moves']}" if r["moves"] else ""))
            if r["probe_save"]:
                (bw, bp, _, bn), (sw, sp, st, sn) = r["probe_base"], r["probe_save"]
                line += (f"; 1 ms probe: worst {bw:.1f} ms without a save (p99 {bp:.2f}, {bn} probes), "
                         f"{sw:.1f} ms during it at {st:.2f} s in (p99 {sp:.2f}, {sn} probes)")
                bworst, bchg, sworst, schg = r["probe_detail"]
                fmt = lambda xs: ", ".join(f"{t:.2f}/{ms:.1f}" for t, ms in xs)
                line += (f"; slowest probes (s, ms) without a save {fmt(bworst)}, during it "
                         f"{fmt(sworst)}; workers_active changes (s, count) without a save "
                         f"{bchg[:8]}, during it {schg[:8]}")
            print(line, flush=True)
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
