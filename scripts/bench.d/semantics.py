#!/usr/bin/env python3
"""EVALSHA and MULTI/EXEC: slabd against redis-server, throughput and server CPU per request.

Usage: semantics.py [--duration S] [--rounds N] [--slabd PATH] [--threads T] [--ports S,R]

Starts one slabd (--resp-port, -t T, 2 by default) and one redis-server (save/appendonly
off) on free loopback ports and, alternating between them round by round:
- EVALSHA of a 3-command script (GET, INCR, EXPIRE of one key out of 10,000) with
  redis-benchmark -c 50;
- MULTI + 5 SETs + EXEC from 50 pipelined connections driven by this script (a Python
  client: its throughput is bounded by the client, so the figure to compare is the
  server's CPU per transaction, read from /proc/PID/stat before and after);
- GET/SET beside transactions: redis-benchmark -t get,set -c 50 alone, then again while
  the MULTI/EXEC load above runs from 10 more connections; the loss is how much GET/SET
  throughput drops (on a small host the client driving the transactions takes CPU too,
  so the figure to compare is slabd's loss beside Redis's). The transactions run as fast
  as the server answers them, or at a fixed `--tx-rate` (the same work beside both
  servers: a faster server otherwise gets more transactions, whose kernel and client
  CPU come out of the GET/SET client's share of the cores).
Prints one line per run and a median summary (Markdown table rows).
"""
import argparse
import collections
import os
import re
import selectors
import socket
import statistics
import subprocess
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
SCRIPT = ("local v = redis.call('get', KEYS[1]) redis.call('incr', KEYS[1]) "
          "redis.call('expire', KEYS[1], 100) return v")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def wait_port(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def command(port, *args):
    out = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def evalsha(port, pid, duration, pipeline=1):
    sha = command(port, "SCRIPT", "LOAD", SCRIPT)
    n = 40000 * duration * (1 if pipeline == 1 else 4)
    before, t0 = cpu_seconds(pid), time.time()
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n), "-r",
                          "10000", "-P", str(pipeline), "-q", "evalsha", sha, "1",
                          "k:__rand_int__"],
                         capture_output=True, text=True, check=True).stdout
    elapsed, cpu = time.time() - t0, cpu_seconds(pid) - before
    rps = float(re.findall(r"([\d.]+) requests per second", out)[-1])
    return rps, cpu / n * 1e6, elapsed


def encode(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def multi_exec(port, pid, duration, conns=50, done_when=None, rate=0, depth=1):
    """Transactions/s and server CPU us per transaction; `rate` > 0 caps the transactions
    started per second (a connection whose reply is in waits for its turn); `depth`
    transactions are pipelined per send (counted as `depth` against `rate`)."""
    value = b"x" * 100
    body = (encode("MULTI") + b"".join(encode("SET", f"t:{i}", value) for i in range(5)) +
            encode("EXEC")) * depth
    # Replies: +OK, 5 x +QUEUED, *5 and 5 x +OK: 12 lines per transaction.
    lines = 12 * depth
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [0])
        socks.append(s)
        s.sendall(body)
    done, sent, idle = 0, conns * depth, collections.deque()
    before, t0 = cpu_seconds(pid), time.time()
    end = t0 + duration
    done_when = done_when or (lambda: time.time() >= end)
    while not done_when():
        for key, _ in sel.select(timeout=0.001 if idle else 1):
            data = key.fileobj.recv(65536)
            state = key.data
            state[0] += data.count(b"\r\n")
            while state[0] >= lines:
                state[0] -= lines
                done += depth
                idle.append(key.fileobj)
        allowed = rate * (time.time() - t0) if rate else sent + len(idle) * depth
        while idle and sent < allowed:
            idle.popleft().sendall(body)
            sent += depth
    elapsed, cpu = time.time() - t0, cpu_seconds(pid) - before
    for s in socks:
        s.close()
    return done / elapsed, cpu / max(done, 1) * 1e6, elapsed


def get_set(port, pid):
    """GET and SET calls/s (the mean of the two) from redis-benchmark -c 50, and the server's
    CPU over the run in cores."""
    before, t0 = cpu_seconds(pid), time.time()
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "50", "-n", "100000", "-r",
                          "100000", "-q", "-t", "set,get"],
                         capture_output=True, text=True, check=True).stdout
    cores = (cpu_seconds(pid) - before) / (time.time() - t0)
    rps = [float(x) for x in re.findall(r"([\d.]+) requests per second", out)]
    return statistics.mean(rps), cores


def get_set_beside_transactions(port, pid, rate):
    """GET/SET calls/s alone and while transactions run (at most `rate` a second when not
    0), the loss in percent and the transactions' rate."""
    alone, cores_alone = get_set(port, pid)
    stop = threading.Event()
    tx_rate = []
    tx = threading.Thread(target=lambda: tx_rate.append(
        multi_exec(port, pid, 0, 10, stop.is_set, rate)[0]))
    tx.start()
    try:
        time.sleep(0.3)
        beside, cores_beside = get_set(port, pid)
    finally:
        stop.set()
        tx.join()
    return alone, beside, (1 - beside / alone) * 100, tx_rate[0], cores_alone, cores_beside


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--slabd", default="target/release/slabd")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--pipeline", type=int, default=1,
                    help="EVALSHA's redis-benchmark -P, and MULTI/EXEC transactions per send")
    ap.add_argument("--tx-rate", type=int, default=0,
                    help="transactions/s beside GET/SET (0: as fast as the server answers)")
    ap.add_argument("--tests", default="evalsha,multi,getset",
                    help="which of evalsha, multi, getset to run")
    ap.add_argument("--ports", default="",
                    help="SLABD,REDIS: fixed ports (a helper's own range) instead of free ones")
    a = ap.parse_args()
    sp, rp = (map(int, a.ports.split(","))) if a.ports else (free_port(), free_port())
    slabd = subprocess.Popen([a.slabd, "-p", "-1", "-l", "127.0.0.1", "--resp-port", str(sp),
                              "-t", a.threads, "-m", "512"]
                             # SLABD_ARGS: extra flags (e.g. `-o worker_gather=0`).
                             + os.environ.get("SLABD_ARGS", "").split(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    redis = subprocess.Popen(["redis-server", "--port", str(rp), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(sp)
        wait_port(rp)
        results = {}
        for r in range(a.rounds):
            servers = (("slabd", sp, slabd.pid), ("redis", rp, redis.pid))
            # Alternating which server goes first, round by round.
            for name, port, pid in servers if r % 2 == 0 else servers[::-1]:
                for test, run in (("EVALSHA", evalsha), ("MULTI/EXEC", multi_exec)):
                    if test.split("/")[0].lower() not in a.tests:
                        continue
                    rps, us, _ = (evalsha(port, pid, a.duration, a.pipeline)
                                  if run is evalsha else
                                  run(port, pid, a.duration, depth=a.pipeline))
                    results.setdefault((test, name), []).append((rps, us))
                    load = os.getloadavg()[0]
                    print(f"round {r + 1} {test:10} {name:5}: {rps:10.0f}/s  "
                          f"{us:6.1f} us server CPU each  (load {load:.2f})", flush=True)
                if "getset" not in a.tests:
                    continue
                m = get_set_beside_transactions(port, pid, a.tx_rate)
                results.setdefault(("GET/SET", name), []).append(m)
                alone, beside, loss, txs, c_alone, c_beside = m
                print(f"round {r + 1} GET/SET    {name:5}: {alone:10.0f}/s alone, {beside:.0f}/s "
                      f"beside {txs:.0f} transactions/s: {loss:.1f}% lost; server CPU "
                      f"{c_alone:.2f} -> {c_beside:.2f} cores  (load {os.getloadavg()[0]:.2f})",
                      flush=True)
        print("\n| test | slabd /s | redis /s | ratio | slabd CPU us | redis CPU us | CPU ratio |")
        print("|---|---|---|---|---|---|---|")
        for test in ("EVALSHA", "MULTI/EXEC"):
            if (test, "slabd") not in results:
                continue
            s = [statistics.median(x) for x in zip(*results[(test, "slabd")])]
            r = [statistics.median(x) for x in zip(*results[(test, "redis")])]
            print(f"| {test} | {s[0]:.0f} | {r[0]:.0f} | {s[0] / r[0]:.2f} | {s[1]:.1f} | "
                  f"{r[1]:.1f} | {r[1] / s[1]:.2f} |")
        print("\n| GET/SET (mean) | alone /s | beside MULTI/EXEC /s | lost | transactions/s | "
              "server cores alone | beside |")
        print("|---|---|---|---|---|---|---|")
        for name in ("slabd", "redis"):
            if ("GET/SET", name) not in results:
                continue
            m = [statistics.median(x) for x in zip(*results[("GET/SET", name)])]
            print(f"| {name} | {m[0]:.0f} | {m[1]:.0f} | {m[2]:.1f}% | {m[3]:.0f} | {m[4]:.2f} | "
                  f"{m[5]:.2f} |")
    finally:
        for p in (slabd, redis):
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
