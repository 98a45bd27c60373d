#!/usr/bin/env python3
"""The worker loop's cost per request: slabd beside redis-server at one pipeline depth.

  python3 scripts/bench.d/loop.py [--rounds 3] [--pipeline 1] [--requests 300000]
                                  [--tests set,get] [--clients 50] [--other PATH]

Each round runs `redis-benchmark -c 50 -P 1 -d 100 -r 100000 -t T` once per test T against
every server, in an order that alternates between rounds (drift on a shared machine hits
all alike). Around each run it reads, from /proc: the server's user+system CPU (µs per
request), its threads' voluntary and involuntary context switches (per request: a worker
that sleeps and is woken costs one voluntary switch), the CPU each thread used (which
workers carried the load), and redis-benchmark's own CPU (the client is the bottleneck at
-P 1 on a small machine). slabd's INFO `workers_active` is read at the end of each run.

`--other PATH` adds a second slabd binary (an A/B of two builds in the same call);
SLABD_ARGS adds flags to every slabd (e.g. "-o worker_gather=0"). Prints one line per run
and a median table. Needs target/release/slabd, redis-server and redis-benchmark.
"""
import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SLABD = os.environ.get("SLABD", os.path.join(ROOT, "target", "release", "slabd"))
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")


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
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
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
        if self.name == "redis":
            return "-"
        for line in info(self.port, "stats").split("\r\n"):
            if line.startswith("workers_active:"):
                return line.split(":")[1]
        return "?"


def bench(port, test, pipeline, clients, requests):
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients),
            "-n", str(requests), "-t", test, "-P", str(pipeline), "-d", "100",
            "-r", "100000", "--csv"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_us = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1e6
    for line in out.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if cells[0].lower() == test and len(cells) > 1:
            return float(cells[1]), client_us
    raise RuntimeError(f"no result for {test}: {out!r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300000)
    ap.add_argument("--tests", default="set,get")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--other", help="a second slabd binary to run beside the first")
    ap.add_argument("--no-redis", action="store_true")
    opts = ap.parse_args()
    extra = os.environ.get("SLABD_ARGS", "").split()
    servers = []
    try:
        binaries = [("slabd", SLABD)] + ([("other", opts.other)] if opts.other else [])
        for name, binary in binaries:
            port = free_port()
            servers.append(Server(name, [binary, "-p", "0", "-l", "127.0.0.1", "-U", "0",
                                         "--resp-port", str(port), "-t", str(opts.threads),
                                         "-m", "1024", "-c", "4096"] + extra, port))
        if not opts.no_redis:
            port = free_port()
            servers.append(Server("redis", ["redis-server", "--port", str(port), "--bind",
                                            "127.0.0.1", "--save", "", "--appendonly", "no",
                                            "--protected-mode", "no", "--logfile", ""], port))
        results = {}
        for rnd in range(opts.rounds):
            order = servers if rnd % 2 == 0 else servers[::-1]
            for test in opts.tests.split(","):
                for s in order:
                    t0, c0 = s.threads(), time.monotonic()
                    rate, client_us = bench(s.port, test, opts.pipeline, opts.clients,
                                            opts.requests)
                    t1 = s.threads()
                    n = opts.requests
                    cpu = sum(t1[k][0] - t0.get(k, (0, 0, 0))[0] for k in t1) * TICK_US / n
                    vol = sum(t1[k][1] - t0.get(k, (0, 0, 0))[1] for k in t1) / n
                    inv = sum(t1[k][2] - t0.get(k, (0, 0, 0))[2] for k in t1) / n
                    busy = sorted(((t1[k][0] - t0.get(k, (0, 0, 0))[0]) * TICK_US / 1e6, k)
                                  for k in t1)
                    split = " ".join(f"{k}={v:.2f}s" for v, k in busy[::-1] if v > 0.01)
                    print(f"round {rnd} {test} {s.name}: {rate:.0f} req/s, cpu "
                          f"{cpu:.2f} us/req, client {client_us / n:.2f} us/req, "
                          f"vcsw {vol:.3f}/req, icsw {inv:.3f}/req, active {s.active()}, "
                          f"{time.monotonic() - c0:.1f}s [{split}]", flush=True)
                    results.setdefault((test, s.name), []).append((rate, cpu, vol))
        print(f"\nmedians, -P {opts.pipeline} -c {opts.clients}, {opts.rounds} rounds:")
        ref = "redis" if not opts.no_redis else None
        for (test, name), rows in sorted(results.items()):
            rate = statistics.median(r[0] for r in rows)
            cpu = statistics.median(r[1] for r in rows)
            vol = statistics.median(r[2] for r in rows)
            line = f"  {test:5} {name:6} {rate:9.0f} req/s  {cpu:5.2f} us/req  vcsw {vol:.3f}"
            if ref and name != ref and (test, ref) in results:
                rr = results[(test, ref)]
                line += (f"  rate {rate / statistics.median(r[0] for r in rr):.2f}x redis, "
                         f"cpu {cpu / statistics.median(r[1] for r in rr):.2f}x")
            print(line)
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    sys.exit(main())
