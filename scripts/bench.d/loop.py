#!/usr/bin/env python3
"""The worker loop's cost per request: slabd beside redis-server (and memcached) at -P 1 / -P 16.

  python3 scripts/bench.d/loop.py [--rounds 3] [--pipeline 1[,16]] [--requests 300000]
                                  [--pipelined 2000000] [--tests set,get[,mc]] [--clients 50]
                                  [--other PATH] [--pin] [--seconds 4]

Each round runs `redis-benchmark -c 50 -P P -d 100 -r 100000 -t T` once per test T against
every server, in an order that alternates between rounds (drift on a shared machine hits
all alike). Test `mc` is memcached's text protocol instead: memcaslap -T 1 -c 50, 90% get /
10% set of 100 B values for --seconds, against slabd's memcache port and memcached.
Around each run it reads, from /proc: the server's user+system CPU (µs per request), its
threads' voluntary and involuntary context switches (per request: a worker that sleeps and
is woken costs one voluntary switch), the CPU and voluntary switches of each thread (which
workers carried the load, which thread sleeps), and the load generator's own CPU and
voluntary switches (how often the client slept and was woken). slabd's INFO
`workers_active` is read at the end of each RESP run.

`--pin` adds a pinned view beside the normal (unpinned) one, never instead of it: every
server runs on CPU 0 only (`taskset -c 0`; slabd and memcached with -t 1, redis-server as
it is) and the load generator on CPU 1 only, so the client no longer competes with the
server for a core. It answers "is this line limited by the load generator sharing the two
cores?": if slabd/Redis stays the same when pinned, the unpinned figure was fair; if the
ratio moves, the unpinned figure was the client's.

`--other PATH` adds a second slabd binary (an A/B of two builds in the same call);
SLABD_ARGS adds flags to every slabd (e.g. "-o worker_gather=0"). Prints one line per run
and a median table per view. Needs target/release/slabd, redis-server, redis-benchmark and,
for `mc`, memcached and memcaslap.
"""
import argparse
import getpass
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SLABD = os.environ.get("SLABD", os.path.join(ROOT, "target", "release", "slabd"))
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
SERVER_CPU, CLIENT_CPU = "0", "1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def info(port, section):
    """The INFO section's text (one bulk reply)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"INFO {section}\r\n".encode())
        data = b""
        while b"\r\n" not in data or len(data) < data.index(b"\r\n") + 4 + int(
                data[1:data.index(b"\r\n")]):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")


class Server:
    """One daemon on loopback; `port` is the port the view's tests talk to (RESP for
    slabd/redis, memcache text for memcached; slabd's memcache port is `mc_port`)."""

    def __init__(self, name, argv, port, mc_port=None, pin=None):
        self.name, self.port, self.mc_port = name, port, mc_port
        argv = (["taskset", "-c", pin] if pin else []) + argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{name} did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def speaks(self, test):
        return (self.mc_port or self.name == "memcached") if test == "mc" else \
            self.name != "memcached"

    def test_port(self, test):
        return self.mc_port if test == "mc" and self.mc_port else self.port

    def threads(self):
        """{thread name: (cpu ticks, voluntary switches, involuntary switches)}."""
        out = {}
        base = f"/proc/{self.proc.pid}/task"
        for tid in os.listdir(base):
            try:
                with open(f"{base}/{tid}/stat") as f:
                    stat = f.read()
                with open(f"{base}/{tid}/status") as f:
                    status = dict(l.split(":", 1) for l in f if ":" in l)
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            fields = stat.rsplit(")", 1)[1].split()
            key = name if name not in out else f"{name}/{tid}"
            out[key] = (int(fields[11]) + int(fields[12]),
                        int(status["voluntary_ctxt_switches"]),
                        int(status["nonvoluntary_ctxt_switches"]))
        return out

    def active(self):
        if self.name in ("redis", "memcached"):
            return "-"
        for line in info(self.port, "stats").split("\r\n"):
            if line.startswith("workers_active:"):
                return line.split(":")[1]
        return "?"


def client(argv, pin, timeout):
    """Runs a load generator (on CPU `pin` if given): (stdout, its CPU µs, its voluntary
    context switches)."""
    argv = (["taskset", "-c", pin] if pin else []) + argv
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_us = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1e6
    return out, cpu_us, after.ru_nvcsw - before.ru_nvcsw


def redis_benchmark(port, test, pipeline, clients, requests, pin):
    """(req/s, requests, client CPU µs, client voluntary switches)."""
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
            "-n", str(requests), "-t", test, "-P", str(pipeline), "-d", "100",
            "-r", "100000", "--csv"]
    out, cpu_us, vcsw = client(argv, pin, 300)
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells[0].lower() == test and len(cells) > 1:
            return float(cells[1]), requests, cpu_us, vcsw
    raise RuntimeError(f"no result for {test}: {out!r}")


def memcaslap(port, clients, seconds, pin):
    """memcaslap 90% get / 10% set, 100 B values: (req/s, requests, client CPU µs,
    client voluntary switches)."""
    cfg = "/tmp/loop-memcaslap.cfg"
    with open(cfg, "w") as f:
        f.write("key\n32 32 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n")
    argv = ["memcaslap", "-s", f"127.0.0.1:{port}", "-c", str(clients), "-T", "1",
            "-t", f"{seconds}s", "-F", cfg]
    out, cpu_us, vcsw = client(argv, pin, seconds + 60)
    m = re.search(r"Run time: [\d.]+s Ops: (\d+) TPS: (\d+)", out)
    if not m:
        raise RuntimeError(f"memcaslap gave no result: {out[-300:]!r}")
    return float(m.group(2)), int(m.group(1)), cpu_us, vcsw


def start_servers(opts, pinned, want_mc):
    """The view's servers: slabd (and --other), redis-server, memcached when `mc` runs.
    Pinned: each on SERVER_CPU, slabd and memcached with -t 1."""
    pin = SERVER_CPU if pinned else None
    threads = "1" if pinned else str(opts.threads)
    extra = os.environ.get("SLABD_ARGS", "").split()
    servers = []
    binaries = [("slabd", SLABD)] + ([("other", opts.other)] if opts.other else [])
    for name, binary in binaries:
        port, mc_port = free_port(), (free_port() if want_mc else None)
        servers.append(Server(name, [binary, "-p", str(mc_port or 0), "-l", "127.0.0.1",
                                     "-U", "0", "--resp-port", str(port), "-t", threads,
                                     "-m", "1024", "-c", "4096"] + extra,
                              port, mc_port, pin))
    if not opts.no_redis:
        port = free_port()
        servers.append(Server("redis", ["redis-server", "--port", str(port), "--bind",
                                        "127.0.0.1", "--save", "", "--appendonly", "no",
                                        "--protected-mode", "no", "--logfile", ""],
                              port, None, pin))
    if want_mc:
        port = free_port()
        servers.append(Server("memcached", ["memcached", "-u", getpass.getuser(), "-p",
                                            str(port), "-l", "127.0.0.1", "-U", "0", "-t",
                                            threads, "-m", "1024", "-c", "4096"],
                              port, None, pin))
    return servers


def run_view(opts, pinned, results):
    view = "pinned" if pinned else "unpinned"
    tests = opts.tests.split(",")
    servers = start_servers(opts, pinned, "mc" in tests)
    pin = CLIENT_CPU if pinned else None
    try:
        for rnd in range(opts.rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for test in tests:
                for pipeline in ([1] if test == "mc" else opts.pipelines):
                    for s in (x for x in order if x.speaks(test)):
                        t0, c0 = s.threads(), time.monotonic()
                        port = s.test_port(test)
                        if test == "mc":
                            rate, n, client_us, client_vcsw = memcaslap(
                                port, opts.clients, opts.seconds, pin)
                        else:
                            requests = opts.requests if pipeline == 1 else opts.pipelined
                            rate, n, client_us, client_vcsw = redis_benchmark(
                                port, test, pipeline, opts.clients, requests, pin)
                        t1 = s.threads()
                        zero = (0, 0, 0)
                        cpu = sum(t1[k][0] - t0.get(k, zero)[0] for k in t1) * TICK_US / n
                        vol = sum(t1[k][1] - t0.get(k, zero)[1] for k in t1) / n
                        inv = sum(t1[k][2] - t0.get(k, zero)[2] for k in t1) / n
                        # Per thread: CPU seconds and voluntary switches per request.
                        busy = sorted(((t1[k][0] - t0.get(k, zero)[0]) * TICK_US / 1e6,
                                       (t1[k][1] - t0.get(k, zero)[1]) / n, k) for k in t1)
                        split = " ".join(f"{k}={v:.2f}s/{w:.3f}" for v, w, k in busy[::-1]
                                         if v > 0.01 or w > 0.001)
                        active = s.active() if test != "mc" else "-"
                        print(f"{view} round {rnd} {test} -P {pipeline} {s.name}: {rate:.0f} "
                              f"req/s, cpu {cpu:.2f} us/req, client {client_us / n:.2f} "
                              f"us/req, client vcsw {client_vcsw / n:.3f}/req, server vcsw "
                              f"{vol:.3f}/req, icsw {inv:.3f}/req, active {active}, "
                              f"{time.monotonic() - c0:.1f}s [{split}]", flush=True)
                        results.setdefault((view, test, pipeline, s.name), []).append(
                            (rate, cpu, vol, client_us / n, client_vcsw / n))
    finally:
        for s in servers:
            s.stop()


def report(results, opts):
    print(f"\nmedians, -c {opts.clients}, {opts.rounds} rounds (cpu: server µs/request; "
          f"vcsw: server, client voluntary switches per request):")
    for key in sorted(results):
        view, test, pipeline, name = key
        rows = results[key]
        med = [statistics.median(r[i] for r in rows) for i in range(5)]
        line = (f"  {view:8} {test:3} -P {pipeline:<2} {name:9} {med[0]:9.0f} req/s  "
                f"{med[1]:5.2f} us/req  client {med[3]:5.2f} us/req  "
                f"vcsw {med[2]:.3f} / {med[4]:.3f}")
        ref = (view, test, pipeline, "memcached" if test == "mc" else "redis")
        if name not in ("redis", "memcached") and ref in results:
            rr = results[ref]
            line += (f"  rate {med[0] / statistics.median(r[0] for r in rr):.2f}x {ref[3]}, "
                     f"cpu {med[1] / statistics.median(r[1] for r in rr):.2f}x")
        print(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pipeline", default="1", help="comma-separated -P depths")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--pipelined", type=int, default=2000000, help="requests at -P > 1")
    ap.add_argument("--seconds", type=int, default=4, help="memcaslap's run time (test mc)")
    ap.add_argument("--tests", default="set,get", help="redis-benchmark tests, and mc")
    ap.add_argument("--threads", type=int, default=2, help="-t of the unpinned view")
    ap.add_argument("--other", help="a second slabd binary to run beside the first")
    ap.add_argument("--no-redis", action="store_true")
    ap.add_argument("--pin", action="store_true",
                    help="also run the pinned view (servers on CPU 0, client on CPU 1)")
    ap.add_argument("--pinned-only", action="store_true", help="only the pinned view")
    opts = ap.parse_args()
    opts.pipelines = [int(p) for p in opts.pipeline.split(",")]
    results = {}
    if not opts.pinned_only:
        run_view(opts, False, results)
    if opts.pin or opts.pinned_only:
        run_view(opts, True, results)
    report(results, opts)


if __name__ == "__main__":
    sys.exit(main())
