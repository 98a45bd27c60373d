#!/usr/bin/env python3
"""Worker placement under exclusive sections (server::gather): MULTI/EXEC and EVALSHA
against slabd builds side by side with redis-server, and where slabd ran them.

Usage: placement.py [--slabd PATH ...] [--threads 2,4] [--rounds N] [--duration S]
                    [--pipeline P] [--tests multi,evalsha]

For each round, each slabd build (in the order given, reversed every other round) at each
`-t`, and redis-server: MULTI + 5 SETs + EXEC from 50 pipelined connections and EVALSHA of
a 3-command script (semantics.py's workloads), throughput and server CPU per request; for
slabd also each worker thread's share of the server's worker CPU over the run (read from
/proc/PID/task/*/stat, threads named slabd-worker-N) and INFO stats workers_active,
worker_moves, worker_trials, worker_rebalances, worker_exclusive_pinned after it.
"""
import argparse
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import semantics  # noqa: E402  (same directory)

TICK = os.sysconf("SC_CLK_TCK")
FIELDS = ("workers_active", "worker_moves", "worker_trials", "worker_rebalances",
          "worker_exclusive_pinned")


def worker_cpu(pid):
    """Seconds of CPU per slabd-worker-N thread, by N."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                st = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if name.startswith("slabd-worker-"):
            out[int(name.rsplit("-", 1)[1])] = (int(st[11]) + int(st[12])) / TICK
    return out


def info(port, fields=FIELDS):
    """INFO stats' `fields` of the server on `port` (RESP), as `name=value` words."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(semantics.encode("INFO", "stats"))
        buf = b""
        while True:
            buf += s.recv(65536)
            head, _, rest = buf.partition(b"\r\n")
            if head.startswith(b"$") and len(rest) >= int(head[1:]):
                break
    stats = dict(l.split(":", 1) for l in buf.decode().splitlines() if ":" in l)
    return " ".join(f"{k}={stats.get(k, '-')}" for k in fields)


def run_one(test, port, pid, a):
    if test == "multi":
        return semantics.multi_exec(port, pid, a.duration, depth=a.pipeline)[:2]
    return semantics.evalsha(port, pid, a.duration, a.pipeline)[:2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--slabd", action="append", default=[])
    ap.add_argument("--threads", default="2,4")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--pipeline", type=int, default=16)
    ap.add_argument("--tests", default="multi,evalsha")
    a = ap.parse_args()
    builds = a.slabd or ["target/release/slabd"]
    rp = semantics.free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rp), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        semantics.wait_port(rp)
        for r in range(a.rounds):
            order = builds if r % 2 == 0 else builds[::-1]
            for test in a.tests.split(","):
                rate, us = run_one(test, rp, redis.pid, a)
                print(f"round {r + 1} {test:7} redis            : {rate:9.0f}/s {us:5.2f} us "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)
                for t in a.threads.split(","):
                    for b in order:
                        sp = semantics.free_port()
                        p = subprocess.Popen([b, "-p", "-1", "-l", "127.0.0.1", "--resp-port",
                                              str(sp), "-t", t, "-m", "512"]
                                             + os.environ.get("SLABD_ARGS", "").split(),
                                             stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)
                        try:
                            semantics.wait_port(sp)
                            before = worker_cpu(p.pid)
                            rate, us = run_one(test, sp, p.pid, a)
                            after = worker_cpu(p.pid)
                            used = {w: after[w] - before.get(w, 0) for w in after}
                            total = sum(used.values()) or 1
                            split = "/".join(f"{used[w] / total:.2f}" for w in sorted(used))
                            print(f"round {r + 1} {test:7} {os.path.basename(b):12} -t {t}: "
                                  f"{rate:9.0f}/s {us:5.2f} us  workers {split}  {info(sp)}  "
                                  f"(load {os.getloadavg()[0]:.2f})", flush=True)
                        finally:
                            p.terminate()
                            p.wait()
    finally:
        redis.terminate()
        redis.wait()


if __name__ == "__main__":
    main()
