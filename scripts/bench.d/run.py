#!/usr/bin/env python3
"""Runs every benchmark workload against slabd, memcached and redis-server.

Each workload runs against each server in alternating rounds (A B A B ...), so drift on a
shared machine hits all servers alike; report.py takes the medians. Every process started
here is written to the pid file first, so scripts/bench's trap can end it whatever happens
to this script. Only loopback addresses are used.
"""
import argparse
import getpass
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "target", "bench")
LOAD = os.path.join(ROOT, "target", "release", "slabd-load")
PIDFILE = os.path.join(OUT, "pids")
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record_pid(pid):
    with open(PIDFILE, "a") as f:
        f.write(f"{pid}\n")


def forget_pid(pid):
    """Takes an ended server off the list, so the trap never signals a reused pid."""
    try:
        with open(PIDFILE) as f:
            pids = [l.strip() for l in f if l.strip() and l.strip() != str(pid)]
        with open(PIDFILE, "w") as f:
            f.write("".join(f"{p}\n" for p in pids))
    except OSError:
        pass


class Server:
    """One daemon on loopback; `kind` is slabd, memcached or redis-server."""

    def __init__(self, kind, binary, mem_mb, threads, redis_io_threads, log_dir):
        self.kind = kind
        self.redis_io_threads = redis_io_threads
        self.binary = binary
        self.mem_mb = mem_mb
        self.threads = threads
        self.log_path = os.path.join(log_dir, f"{kind}-{int(time.time() * 1000)}.log")
        self.proc = None
        self.port = None  # memcache text port
        self.resp_port = None

    @property
    def speaks_memcache(self):
        return self.kind in ("slabd", "memcached")

    @property
    def speaks_resp(self):
        return self.kind in ("slabd", "redis-server")

    def start(self):
        log = open(self.log_path, "w")
        if self.kind == "slabd":
            argv = [self.binary, "-p", "-1", "-l", "127.0.0.1", "-m", str(self.mem_mb),
                    "-t", str(self.threads), "-c", "4096", "--resp-port", "0"]
        elif self.kind == "memcached":
            self.port = free_port()
            # memcached refuses to run as root without -u; elsewhere -u is ignored.
            argv = [self.binary, "-u", getpass.getuser(), "-p", str(self.port),
                    "-l", "127.0.0.1", "-U", "0", "-m", str(self.mem_mb),
                    "-t", str(self.threads), "-c", "4096"]
        else:
            self.resp_port = free_port()
            argv = [self.binary, "--port", str(self.resp_port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--protected-mode", "no",
                    "--maxmemory", f"{self.mem_mb}mb", "--maxmemory-policy", "allkeys-lru",
                    "--io-threads", str(self.redis_io_threads),
                    "--daemonize", "no", "--logfile", ""]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        record_pid(self.proc.pid)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start: {tail(self.log_path)}")
            if self.kind == "slabd":
                text = open(self.log_path).read()
                if re.search(r"^ready$", text, re.M):
                    m = re.search(r"^listening on tcp \S+:(\d+)$", text, re.M)
                    r = re.search(r"^listening on resp \S+:(\d+)$", text, re.M)
                    self.port = int(m.group(1)) if m else None
                    self.resp_port = int(r.group(1)) if r else None
                    return self
            elif accepts(self.port or self.resp_port):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.kind} not ready in 20 s: {tail(self.log_path)}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.wait()
            forget_pid(self.proc.pid)
        self.proc = None

    def cpu_ticks(self):
        """The server's user + system CPU time so far, in clock ticks."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def rss_bytes(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def flush(self):
        if self.speaks_memcache:
            talk(self.port, b"flush_all\r\n", b"OK\r\n")
        else:
            talk(self.resp_port, b"*1\r\n$8\r\nFLUSHALL\r\n", b"+OK\r\n")

    def item_count(self):
        if self.speaks_memcache:
            reply = talk(self.port, b"stats\r\n", b"END\r\n").decode()
            m = re.search(r"STAT curr_items (\d+)", reply)
            return int(m.group(1)) if m else None
        reply = talk(self.resp_port, b"*1\r\n$6\r\nDBSIZE\r\n", b"\r\n").decode()
        return int(reply.strip().lstrip(":"))


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def talk(port, request, terminator, timeout=10):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        buf = b""
        while not buf.endswith(terminator):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        return buf


def tail(path, n=400):
    """The end of a server's log, or the panic message in it if there is one (a Rust
    backtrace's last lines say nothing)."""
    try:
        text = open(path).read()
    except OSError:
        return ""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if "panicked at" in line:
            return " ".join(lines[i:i + 2])[:n]
    return text[-n:]


def run_tool(argv, timeout):
    """Runs a client tool; returns its stdout, or None (with a note) if it failed."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"   ! timed out: {' '.join(argv)}", flush=True)
        return None
    if p.returncode != 0:
        print(f"   ! {argv[0]} failed ({p.returncode}): {p.stderr.strip()[-300:]}", flush=True)
        return None
    return p.stdout


def slabd_load(port, protocol, args, timeout):
    out = run_tool([LOAD, "--server", f"127.0.0.1:{port}", "--protocol", protocol] + args, timeout)
    if out is None:
        return None
    line = next((l for l in out.splitlines() if l.startswith("{")), None)
    if line is None:
        return None
    j = json.loads(line)
    return {
        "throughput": j["ops_per_sec"],
        "keys_per_sec": j["keys_per_sec"],
        "p50_us": j["p50_us"],
        "p99_us": j["p99_us"],
        "p999_us": j["p999_us"],
        "hit_ratio": j["hit_ratio"],
        "errors": j["errors"] + j["warm_errors"],
        "unfinished": j["unfinished"],
        "send_lag_p99_us": j["send_lag_p99_us"],
    }


def memcaslap(port, cfg_path, seconds, multiget, timeout):
    argv = ["memcaslap", "-s", f"127.0.0.1:{port}", "-c", "50", "-T", "1",
            "-t", f"{max(1, round(seconds))}s", "-F", cfg_path]
    if multiget > 1:
        argv += ["-d", str(multiget)]
    out = run_tool(argv, timeout)
    m = re.search(r"Run time: \S+ Ops: \d+ TPS: (\d+)", out or "")
    return {"throughput": float(m.group(1))} if m else None


def redis_benchmark(port, pipeline, requests, timeout, tests=("SET", "GET")):
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50",
            "-n", str(requests), "-t", ",".join(t.lower() for t in tests), "-P", str(pipeline),
            "-d", "100", "-r", "100000", "--csv"]
    out = run_tool(argv, timeout)
    rows = {}
    for line in (out or "").splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells[0] in tests and len(cells) >= 7:
            rows[cells[0]] = {"throughput": float(cells[1]), "p50_us": float(cells[4]) * 1000,
                              "p99_us": float(cells[6]) * 1000}
    return rows or None


def load_hashes(port, count, timeout):
    """HSETs `count` hashes of 10 fields (8-byte names, 16-byte values) through
    `redis-cli --pipe`; true when every reply came back without error."""
    proc = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    fields = [b"field%03d" % i for i in range(10)]
    value = b"v" * 16
    tail_args = b"".join(b"$8\r\n%s\r\n$16\r\n%s\r\n" % (f, value) for f in fields)
    batch = []
    for k in range(count):
        batch.append(b"*22\r\n$4\r\nHSET\r\n$12\r\nhash:%07d\r\n" % k + tail_args)
        if len(batch) == 10000:
            proc.stdin.write(b"".join(batch))
            batch = []
    proc.stdin.write(b"".join(batch))
    proc.stdin.close()
    out = proc.stdout.read().decode(errors="replace")
    proc.wait(timeout=timeout)
    return f"errors: 0, replies: {count}" in out


class Fleet:
    """The long-lived servers of the throughput workloads. One that dies is noted and
    started afresh (six times at most), so a crash costs its own runs, not the suite."""

    def __init__(self, bench, mem_mb):
        self.bench = bench
        self.mem_mb = mem_mb
        self.restarts = {}
        self.servers = {k: bench.start(k, mem_mb) for k in ("slabd", "memcached", "redis-server")}

    def get(self, kind):
        s = self.servers.get(kind)
        if s is None or s.proc.poll() is None:
            return s
        self.bench.note(f"{kind} exited during the suite (status {s.proc.returncode}): "
                        f"{tail(s.log_path, 300).strip()}")
        if self.restarts.get(kind, 0) >= 6:
            self.servers[kind] = None
            return None
        self.restarts[kind] = self.restarts.get(kind, 0) + 1
        s.stop()
        self.servers[kind] = self.bench.start(kind, self.mem_mb)
        return self.servers[kind]

    def memcache(self):
        return [s for s in map(self.get, ("slabd", "memcached")) if s]

    def resp(self):
        return [s for s in map(self.get, ("slabd", "redis-server")) if s]

    def flush(self):
        for kind in self.servers:
            s = self.get(kind)
            if s:
                try:
                    s.flush()
                except OSError as e:
                    self.bench.note(f"{kind}: flush failed ({e})")

    def stop(self):
        for s in self.servers.values():
            if s:
                s.stop()


class Bench:
    def __init__(self, opts):
        self.o = opts
        self.cases = {}
        self.runs = []
        self.skipped = []
        self.log_dir = os.path.join(OUT, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="slabd-bench-")
        # Other work on the machine shows up in every tail latency; the report says how much.
        self.loadavg_before = os.getloadavg()[0]

    def case(self, cid, title, metric, better, unit, peer, short):
        """`short` labels the chart's bars; `title` the table's rows."""
        self.cases[cid] = {"id": cid, "title": title, "metric": metric, "better": better,
                           "unit": unit, "peer": peer, "short": short}

    def add(self, cid, server, rnd, metrics):
        """Records one run; `server` is a Server (a run during which it died is dropped)
        or a kind name."""
        if isinstance(server, Server):
            if server.proc is None or server.proc.poll() is not None:
                return
            server = server.kind
        if metrics is None:
            return
        self.runs.append({"case": cid, "server": server, "round": rnd, "metrics": metrics})
        shown = ", ".join(f"{k}={v:.4g}" for k, v in metrics.items() if isinstance(v, (int, float)))
        print(f"   {cid:<22} {server:<13} round {rnd + 1}: {shown}", flush=True)

    def start(self, kind, mem_mb):
        binary = {"slabd": self.o.slabd, "memcached": "memcached",
                  "redis-server": "redis-server"}[kind]
        try:
            return Server(kind, binary, mem_mb, self.o.threads, self.o.redis_io_threads,
                          self.log_dir).start()
        except (RuntimeError, OSError) as e:
            self.note(f"{kind} did not start ({str(e).strip()[:200]})")
            return None

    def note(self, text):
        """Something the report must say was not measured, and why."""
        if text not in self.skipped:
            self.skipped.append(text)
            print(f"   ! {text}", flush=True)

    def rounds(self):
        return range(self.o.rounds)

    def sized(self, full, quick):
        return quick if self.o.quick else full

    def throughput_workloads(self):
        o = self.o
        dur = str(o.duration)
        t = o.duration + 120
        fleet = Fleet(self, o.memory)
        keys = self.sized("100000", "10000")
        mcs_cfg = os.path.join(self.tmp, "memcaslap.cfg")
        with open(mcs_cfg, "w") as f:
            f.write("key\n32 32 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n")
        base = ["--conns", "50", "--key-size", "32", "--keys", keys, "--duration", dur,
                "--warm"]
        try:
            self.case("1-getset", "memcache 90% get / 10% set, 100 B (slabd-load)",
                      "throughput", "higher", "req/s", "memcached", "1 get/set, slabd-load")
            self.case("1-getset-memcaslap", "memcache 90% get / 10% set, 100 B (memcaslap)",
                      "throughput", "higher", "req/s", "memcached", "1 get/set, memcaslap")
            self.case("2-multiget16", "memcache multi-get of 16 keys, 10% set",
                      "throughput", "higher", "req/s", "memcached", "2 multi-get 16")
            self.case("3-100k-memcache", "memcache 100 KiB values, 50% set",
                      "throughput", "higher", "req/s", "memcached", "3 100 KiB, memcache")
            self.case("3-100k-resp", "RESP 100 KiB values, 50% set",
                      "throughput", "higher", "req/s", "redis-server", "3 100 KiB, RESP")
            fleet.flush()
            print("== workload 1: memcache get/set", flush=True)
            for r in self.rounds():
                for s in fleet.memcache():
                    self.add("1-getset", s, r, slabd_load(
                        s.port, "memcache", base + ["--value-size", "100"], t))
                for s in fleet.memcache():
                    self.add("1-getset-memcaslap", s, r,
                             memcaslap(s.port, mcs_cfg, o.duration, 1, t))
            print("== workload 2: memcache multi-get of 16", flush=True)
            for r in self.rounds():
                for s in fleet.memcache():
                    self.add("2-multiget16", s, r, slabd_load(
                        s.port, "memcache", base + ["--value-size", "100", "--multiget", "16"],
                        t))
            print("== workload 3: 100 KiB values, 50% set", flush=True)
            big = ["--conns", "50", "--key-size", "32", "--keys", self.sized("2000", "200"),
                   "--duration", dur, "--value-size", "102400", "--get-ratio", "0.5", "--warm"]
            fleet.flush()
            for r in self.rounds():
                for s in fleet.memcache():
                    self.add("3-100k-memcache", s, r, slabd_load(s.port, "memcache", big, t))
                for s in fleet.resp():
                    self.add("3-100k-resp", s, r, slabd_load(s.resp_port, "resp", big, t))
            print("== workload 4: redis-benchmark set/get", flush=True)
            for p in (1, 16):
                for verb in ("SET", "GET"):
                    self.case(f"4-{verb.lower()}-P{p}", f"RESP redis-benchmark {verb} -P {p}",
                              "throughput", "higher", "req/s", "redis-server",
                              f"4 redis-benchmark {verb} -P {p}")
            fleet.flush()
            for r in self.rounds():
                for p in (1, 16):
                    n = self.sized(100000 if p == 1 else 500000, 2000)
                    for s in fleet.resp():
                        rows = redis_benchmark(s.resp_port, p, n, t)
                        for verb, m in (rows or {}).items():
                            self.add(f"4-{verb.lower()}-P{p}", s, r, m)
            self.open_loop(fleet, base, t)
        finally:
            fleet.stop()

    def open_loop(self, fleet, base, t):
        """Workload 5: latency at 50% and 90% of memcached's measured saturation rate."""
        sat = sorted(x["metrics"]["throughput"] for x in self.runs
                     if x["case"] == "1-getset" and x["server"] == "memcached")
        if not sat:
            self.note("open-loop latency: no memcached saturation figure")
            return
        peak = sat[len(sat) // 2]
        print(f"== workload 5: open loop at 50% and 90% of {peak:.0f} req/s", flush=True)
        for pct in (50, 90):
            rate = peak * pct / 100
            self.case(f"5-open-{pct}", f"open-loop latency at {pct}% of memcached's peak "
                      f"({rate:.0f} req/s)", "p99_us", "lower", "µs", "memcached",
                      f"5 open loop at {pct}%")
            for r in self.rounds():
                for s in fleet.memcache():
                    self.add(f"5-open-{pct}", s, r, slabd_load(
                        s.port, "memcache", base + ["--value-size", "100", "--rate",
                                                    f"{rate:.0f}"], t))

    def memory_workload(self):
        o = self.o
        items = self.sized(2_000_000, 50_000)
        self.case("6-memory", f"resident bytes per item, {items} items of 16 B keys / 100 B "
                  "values", "bytes_per_item", "lower", "B", "memcached", "6 memory")
        print(f"== workload 6: memory after {items} items", flush=True)
        for r in range(1 if o.quick else min(o.rounds, 3)):
            for kind in ("slabd", "memcached", "redis-server"):
                s = self.start(kind, 1024)
                if not s:
                    continue
                try:
                    before = s.rss_bytes()
                    port, proto = (s.port, "memcache") if s.speaks_memcache else (s.resp_port, "resp")
                    m = slabd_load(port, proto, ["--conns", "50", "--keys", str(items),
                                                 "--key-size", "16", "--value-size", "100",
                                                 "--warm", "--requests", "0"], 600)
                    stored = s.item_count()
                    after = s.rss_bytes()
                    if m is not None and stored:
                        self.add("6-memory", s, r, {
                            "bytes_per_item": (after - before) / stored,
                            "rss_mb": after / 2**20, "items": stored,
                            "stored_fraction": stored / items})
                except (OSError, ValueError) as e:
                    self.note(f"{kind}: memory run failed ({e}): {tail(s.log_path, 300).strip()}")
                finally:
                    s.stop()

    # redis-benchmark tests of the collection types (workload 8): the line but for
    # LRANGE_100/600, whose runs include their own LPUSH fill (scripts/bench.d/
    # collections_lz.py measures them with a plain LRANGE on a prepared list).
    COLLECTION_TESTS = ("LPUSH", "RPUSH", "LPOP", "RPOP", "SADD", "HSET", "SPOP", "ZADD",
                        "ZPOPMIN")

    def collection_workloads(self):
        """Workload 8: redis-benchmark on the collection commands, slabd against redis-server
        in alternating rounds; workload 9: resident bytes per hash for hashes of 10 fields."""
        o = self.o
        t = o.duration + 120
        fleet = Fleet(self, o.memory)
        try:
            for p in (1, 16):
                for verb in self.COLLECTION_TESTS:
                    self.case(f"8-{verb.lower()}-P{p}", f"RESP redis-benchmark {verb} -P {p}",
                              "throughput", "higher", "req/s", "redis-server",
                              f"8 redis-benchmark {verb} -P {p}")
            print("== workload 8: redis-benchmark on collections", flush=True)
            fleet.flush()
            for r in self.rounds():
                for p in (1, 16):
                    n = self.sized(100000 if p == 1 else 500000, 2000)
                    # One redis-benchmark run per test, so that the server's CPU time
                    # (utime + stime from /proc/PID/stat) around it is that test's alone.
                    for verb in self.COLLECTION_TESTS:
                        for s in fleet.resp():
                            before = s.cpu_ticks()
                            rows = redis_benchmark(s.resp_port, p, n, t, (verb,))
                            cpu_us = (s.cpu_ticks() - before) * TICK_US / n
                            for v, m in (rows or {}).items():
                                m["cpu_us_per_req"] = cpu_us
                                self.add(f"8-{v.lower()}-P{p}", s, r, m)
        finally:
            fleet.stop()
        hashes = self.sized(1_000_000, 20_000)
        self.case("9-hash-memory", f"resident bytes per hash, {hashes} hashes of 10 fields "
                  "(8 B names, 16 B values)", "bytes_per_item", "lower", "B", "redis-server",
                  "9 memory, hashes")
        print(f"== workload 9: memory after {hashes} hashes", flush=True)
        for r in range(1 if o.quick else min(o.rounds, 2)):
            for kind in ("slabd", "redis-server"):
                s = self.start(kind, 1024)
                if not s:
                    continue
                try:
                    before = s.rss_bytes()
                    if load_hashes(s.resp_port, hashes, 600):
                        stored = s.item_count()
                        after = s.rss_bytes()
                        if stored:
                            self.add("9-hash-memory", s, r, {
                                "bytes_per_item": (after - before) / stored,
                                "rss_mb": after / 2**20, "items": stored,
                                "stored_fraction": stored / hashes})
                except (OSError, ValueError, subprocess.TimeoutExpired) as e:
                    self.note(f"{kind}: hash memory run failed ({e})")
                finally:
                    s.stop()

    def hit_ratio_workload(self):
        o = self.o
        keys = self.sized("400000", "20000")
        self.case("7-hit-ratio", f"cache-aside hit ratio, Zipf(0.9) over {keys} keys, "
                  "32 B-16 KiB values, -m 64", "hit_ratio", "higher", "", "memcached",
                  "7 hit ratio")
        print("== workload 7: cache-aside hit ratio at -m 64", flush=True)
        args = ["--conns", "50", "--keys", keys, "--key-size", "16", "--value-size",
                "32-16384", "--zipf", "0.9", "--get-ratio", "1", "--cache-aside"]
        for r in self.rounds():
            for kind in ("slabd", "memcached"):
                s = self.start(kind, 64)
                if not s:
                    continue
                try:
                    # The first run fills the cache to its steady state; the second measures.
                    fill = slabd_load(s.port, "memcache", args + ["--duration", str(o.duration),
                                                                  "--seed", str(r + 100)], 300)
                    if fill is not None:
                        self.add("7-hit-ratio", s, r, slabd_load(
                            s.port, "memcache", args + ["--duration", str(o.duration),
                                                        "--seed", str(r + 200)], 300))
                finally:
                    s.stop()

    def save(self, started):
        machine = {
            "cpu": cpu_model(),
            "nproc": os.cpu_count(),
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "kernel": os.uname().release,
            "memcached": first_line(["memcached", "-V"]),
            "redis": first_line(["redis-server", "--version"]),
            "slabd": first_line(["git", "-C", ROOT, "describe", "--always", "--dirty"]),
            "loadavg_before": self.loadavg_before,
            "loadavg_after": os.getloadavg()[0],
        }
        doc = {"quick": self.o.quick, "rounds": self.o.rounds, "duration_s": self.o.duration,
               "threads": self.o.threads, "redis_io_threads": self.o.redis_io_threads,
               "memory_mb": self.o.memory,
               "started": started, "wall_s": round(time.time() - started, 1),
               "machine": machine, "skipped": self.skipped,
               "cases": list(self.cases.values()), "runs": self.runs}
        with open(os.path.join(OUT, "runs.json"), "w") as f:
            json.dump(doc, f, indent=1)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def first_line(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--slabd", default=os.path.join(ROOT, "target", "release", "slabd"))
    ap.add_argument("--quick", action="store_true", help="smoke run: one short round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=4.0, help="seconds per measured run")
    ap.add_argument("--threads", type=int, default=2, help="-t for every server")
    # redis-server's io-threads busy-poll: on a 2-core machine shared with the client
    # they cut its throughput about tenfold, so the default is Redis's own default, 1.
    ap.add_argument("--redis-io-threads", type=int, default=1)
    ap.add_argument("--memory", type=int, default=1024, help="-m for the throughput runs")
    ap.add_argument("--only", default="throughput,memory,hit,collections",
                    help="comma-separated: throughput, memory, hit, collections")
    o = ap.parse_args()
    if o.quick:
        o.rounds, o.duration = 1, 0.5
    os.makedirs(OUT, exist_ok=True)
    started = time.time()
    b = Bench(o)
    only = set(o.only.split(","))
    try:
        if "throughput" in only:
            b.throughput_workloads()
        if "memory" in only:
            b.memory_workload()
        if "hit" in only:
            b.hit_ratio_workload()
        if "collections" in only:
            b.collection_workloads()
    finally:
        b.save(started)
    print(f"== done in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
