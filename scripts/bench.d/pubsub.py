#!/usr/bin/env python3
"""Pub/Sub fan-out and MONITOR overhead: slabd beside redis-server, alternating rounds.

- fanout: 50 subscriber connections on one channel (read by one thread that only counts
  bytes); `redis-benchmark -c 50` publishers send PUBLISH. Reported: publishes/s,
  messages delivered/s (bytes received / bytes per message / seconds) and server CPU
  (utime+stime from /proc/PID/stat) per delivered message.
- monitor: `redis-benchmark -t set,get -c 50`, with nothing watching and with one MONITOR
  connection reading everything. Reported: requests/s and server CPU per request.
- watch: the same with one memcached `watch fetchers mutations` connection on slabd
  (memcached's text port) reading everything, beside slabd with nothing watching
  (`slabd-plain`).
- watch-mc: memcached text traffic (slabd-load, 50 connections, 50% get / 50% set of
  100-byte values over 100,000 keys, every key set once first) with one `watch fetchers
  mutations` connection reading everything, beside slabd with nothing watching
  (`slabd-plain`): the case `watch` stands for, since memcached's `watch` shows only
  memcached traffic (the `watch` case's RESP GET/SET write no `watch` lines).
- watch-memcached: watch-mc's traffic unwatched and watched, slabd beside memcached 1.6
  (`-t 2`, as slabd).
- tracking: the same with one RESP3 `CLIENT TRACKING ON` connection that has read 1,000
  of the benchmark's keys (SETs of those send it invalidations), beside slabd with nothing
  tracking (`slabd-plain`); `tracking-redis`: tracking off and on, slabd beside redis-server.
- slow: one subscriber that never reads (4 KiB receive buffer) beside one that reads,
  `redis-benchmark -c 50` PUBLISH of 1,000-byte messages: the server's peak RSS, the
  reading subscriber's MB/s and the subscribers left at the end (1: the slow one was
  closed at its output limit).
- idle: the same GET/SET with nothing active, slabd beside a slabd built with
  `--features bench-no-observe` (SLABD_OFF names it), which compiles out the idle checks of
  MONITOR, watch, tracking, keyspace events, CLIENT PAUSE, the slow log and the latency
  monitor (commandstats and latency histograms stay: Redis keeps both per command).

Usage: scripts/bench.d/pubsub.py [--rounds 3] [--requests 100000] [--pipeline 1]
       [--cases fanout,monitor,idle,watch,watch-mc,watch-memcached,tracking,tracking-redis,
        slow]
(SLABD names the binary; target/release/slabd by default; PORTS=7500-7599 keeps every
server on ports of that range.) Prints a Markdown table.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
SLABD = os.environ.get("SLABD", os.path.join(ROOT, "target", "release", "slabd"))
SLABD_OFF = os.environ.get("SLABD_OFF", "/tmp/slabd-no-observe")
LOAD = os.environ.get("SLABD_LOAD", os.path.join(ROOT, "target", "release", "slabd-load"))
TICK = os.sysconf("SC_CLK_TCK")
PAYLOAD = b"hello"
MESSAGE = b"*3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$5\r\nhello\r\n"


def port_range():
    """PORTS=7500-7599: servers listen only on ports of this range (shared machines give
    each user a range); unset, the kernel picks free ones."""
    spec = os.environ.get("PORTS")
    if not spec:
        return None
    low, _, high = spec.partition("-")
    return list(range(int(low), int(high or low) + 1))


PORTS = port_range()
NEXT_PORT = [0]


def free_port():
    if PORTS is None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        return port
    # Round-robin through the range, so a port just closed (TIME_WAIT) is not reused at once.
    for _ in range(len(PORTS)):
        port = PORTS[NEXT_PORT[0] % len(PORTS)]
        NEXT_PORT[0] += 1
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    sys.exit(f"no free port in PORTS={os.environ['PORTS']}")


def start(kind):
    port = free_port()
    if kind.startswith("slabd"):
        binary = SLABD_OFF if kind == "slabd-off" else SLABD
        mc_port = free_port()
        cmd = [binary, "-p", str(mc_port), "-l", "127.0.0.1", "--resp-port", str(port), "-t",
               "2", "-m", "1024"] + os.environ.get("SLABD_ARGS", "").split()
    elif kind == "memcached":
        import pwd
        user = pwd.getpwuid(os.getuid()).pw_name
        cmd = ["memcached", "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-t", "2", "-m",
               "1024", "-u", user]
    else:
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--maxmemory", "1024mb"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kind.startswith("slabd"):
        p.mc_port = mc_port
    elif kind == "memcached":
        p.mc_port = port
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    sys.exit(f"{kind} did not start")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Reader(threading.Thread):
    """Reads and counts every byte on some sockets until told to stop."""

    def __init__(self, socks):
        super().__init__(daemon=True)
        self.socks = socks
        self.bytes = 0
        self.stop = False

    def run(self):
        import selectors
        sel = selectors.DefaultSelector()
        for s in self.socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        # One preallocated 1 MiB buffer, recv_into: the reader allocates nothing per read,
        # so less of the shared CPU goes to the clients.
        buf = bytearray(1 << 20)
        while not self.stop:
            for key, _ in sel.select(timeout=0.1):
                try:
                    n = key.fileobj.recv_into(buf)
                except BlockingIOError:
                    continue
                self.bytes += n


def bench(port, args, pipeline=1):
    cmd = ["redis-benchmark", "-p", str(port), "-c", "50", "-P", str(pipeline), "--csv"] + args
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rates = {}
    for line in out.splitlines():
        parts = [p.strip('"') for p in line.split('","')]
        if len(parts) >= 2 and parts[0] != "test":
            rates[parts[0]] = float(parts[1])
    return rates


def fanout(kind, requests):
    p, port = start(kind)
    try:
        subs = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nchan\r\n")
            got = b""
            while not got.endswith(b":1\r\n"):
                got += s.recv(100)
            subs.append(s)
        reader = Reader(subs)
        reader.start()
        cpu0, t0 = cpu_seconds(p.pid), time.time()
        rates = bench(port, ["-n", str(requests), "PUBLISH", "chan", PAYLOAD.decode()])
        expected = requests * 50 * len(MESSAGE)
        deadline = time.time() + 30
        while reader.bytes < expected and time.time() < deadline:
            time.sleep(0.01)
        elapsed = time.time() - t0
        cpu = cpu_seconds(p.pid) - cpu0
        reader.stop = True
        delivered = reader.bytes / len(MESSAGE)
        return {
            "publish/s": next(iter(rates.values())),
            "delivered/s": delivered / elapsed,
            "cpu µs/msg": cpu * 1e6 / max(delivered, 1),
            # Server CPU over the run in cores (of the machine's 2): well below 1 while
            # delivered/s is flat means the clients, not the server, set the rate.
            "server cores": cpu / elapsed,
        }
    finally:
        p.kill()
        p.wait()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def slow(kind, requests):
    """One subscriber that never reads beside one that reads everything; -c 50 publishers
    of 1,000-byte messages. The server's peak RSS must stay bounded (the slow one is
    closed at the pubsub output limit, 32 MB by default) while the other keeps receiving."""
    p, port = start(kind)
    try:
        stuck = socket.socket()
        # A small receive buffer: the server's own output, not the kernel's, holds the rest.
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", port))
        fast = socket.create_connection(("127.0.0.1", port))
        for s in (stuck, fast):
            s.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nchan\r\n")
            assert recv_until(s, b":1\r\n").endswith(b":1\r\n")
        reader = Reader([fast])
        reader.start()
        rss0 = rss_mb(p.pid)
        peak = [rss0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(p.pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.time()
        payload = "x" * 1000
        bench(port, ["-n", str(requests), "PUBLISH", "chan", payload])
        elapsed = time.time() - t0
        done.set()
        sampler.join()
        reader.stop = True
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n$4\r\nchan\r\n")
        # `*2 $4 chan :N`: the subscribers still there (1 once the slow one is closed).
        left = int(recv_all_lines(c, 4)[-1][1:])
        c.close()
        stuck.close()
        return {
            "peak RSS MB": peak[0],
            "RSS growth MB": peak[0] - rss0,
            "fast sub MB/s": reader.bytes / elapsed / 1e6,
            "subscribers left": float(left),
        }
    finally:
        p.kill()
        p.wait()


def recv_all_lines(s, n):
    """Reads until `n` lines have arrived; returns them without their CRLF."""
    got = b""
    while got.count(b"\r\n") < n:
        got += s.recv(1 << 16)
    return got.split(b"\r\n")[:n]


def recv_until(s, end):
    got = b""
    while not got.endswith(end):
        got += s.recv(1 << 16)
    return got


def observer(kind, p, port, watch):
    """Starts what watches the benchmark: MONITOR, `watch` or a tracking client."""
    if watch == "watch":
        m = socket.create_connection(("127.0.0.1", p.mc_port))
        m.sendall(b"watch fetchers mutations\r\n")
        assert recv_until(m, b"\r\n") == b"OK\r\n"
    elif watch == "tracking":
        m = socket.create_connection(("127.0.0.1", port))
        m.sendall(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
        recv_until(m, b"$7\r\nmodules\r\n*0\r\n")
        m.sendall(b"*3\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\nON\r\n")
        assert recv_until(m, b"\r\n") == b"+OK\r\n"
        # 1,000 of redis-benchmark -r 100000's keys (key:000000000000 ...), read once.
        reqs = b"".join(b"*2\r\n$3\r\nGET\r\n$16\r\nkey:%012d\r\n" % (i * 100)
                        for i in range(1000))
        m.sendall(reqs)
        got = 0
        while got < 1000:
            got += m.recv(1 << 20).count(b"_\r\n")
    else:
        m = socket.create_connection(("127.0.0.1", port))
        m.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
        assert m.recv(5) == b"+OK\r\n"
    reader = Reader([m])
    reader.start()
    return reader


def monitored(kind, requests, watch, pipeline):
    p, port = start(kind)
    try:
        reader = observer(kind, p, port, watch) if watch else None
        cpu0 = cpu_seconds(p.pid)
        rates = bench(port, ["-n", str(requests), "-t", "set,get", "-r", "100000"], pipeline)
        cpu = cpu_seconds(p.pid) - cpu0
        if reader:
            reader.stop = True
        return {
            "SET/s": rates.get("SET", 0.0),
            "GET/s": rates.get("GET", 0.0),
            "cpu µs/req": cpu * 1e6 / (2 * requests),
        }
    finally:
        p.kill()
        p.wait()


def monitored_mc(kind, requests, watch, pipeline):
    """memcached text GET/SET from slabd-load, with `watch` (or nothing) reading along."""
    p, port = start(kind)
    try:
        base = [LOAD, "--server", f"127.0.0.1:{p.mc_port}", "--conns", "50",
                "--keys", "100000", "--value-size", "100", "--get-ratio", "0.5",
                "--pipeline", str(pipeline)]
        subprocess.run(base + ["--requests", "0", "--warm"], capture_output=True, check=True)
        reader = observer(kind, p, port, watch) if watch else None
        cpu0 = cpu_seconds(p.pid)
        out = subprocess.run(base + ["--requests", str(2 * requests)], capture_output=True,
                             text=True, check=True).stdout
        cpu = cpu_seconds(p.pid) - cpu0
        if reader:
            reader.stop = True
        j = json.loads(next(l for l in out.splitlines() if l.startswith("{")))
        return {
            "GET+SET/s": j["ops_per_sec"],
            "cpu µs/req": cpu * 1e6 / max(j["completed"], 1),
            # What the watcher received: ~0 would mean the case watched nothing.
            "watch MB": (reader.bytes if reader else 0) / 1e6,
        }
    finally:
        p.kill()
        p.wait()


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--pipeline", type=int, default=1)
    ap.add_argument("--cases", default="fanout,monitor,idle")
    a = ap.parse_args()
    wanted = a.cases.split(",")
    load0 = open("/proc/loadavg").read().split()[0]
    results = {}
    cases = []
    if "fanout" in wanted:
        cases.append(("fanout", None, ("slabd", "redis-server")))
    if "monitor" in wanted:
        cases.append(("monitor off", None, ("slabd", "redis-server")))
        cases.append(("monitor on", "monitor", ("slabd", "redis-server")))
    if "watch" in wanted:
        # slabd watched beside slabd with nothing watching (`slabd-plain`).
        cases.append(("watch on", "watch", ("slabd", "slabd-plain")))
    if "watch-mc" in wanted:
        cases.append(("watch on (memcached traffic)", "watch", ("slabd", "slabd-plain")))
    if "watch-memcached" in wanted:
        # The same memcached traffic, slabd beside memcached, unwatched and watched.
        both = ("slabd", "memcached")
        cases.append(("watch off, vs memcached (memcached traffic)", None, both))
        cases.append(("watch on, vs memcached (memcached traffic)", "watch", both))
    if "tracking" in wanted:
        # slabd tracked beside slabd with nothing tracking, as `watch`.
        cases.append(("tracking on", "tracking", ("slabd", "slabd-plain")))
    if "tracking-redis" in wanted:
        cases.append(("tracking off", None, ("slabd", "redis-server")))
        cases.append(("tracking on", "tracking", ("slabd", "redis-server")))
    if "idle" in wanted:
        cases.append(("idle", None, ("slabd", "slabd-off")))
    if "slow" in wanted:
        cases.append(("slow subscriber", None, ("slabd", "redis-server")))
    for rnd in range(a.rounds):
        for case, watch, kinds in cases:
            # Alternate which server runs first: load drifts within a call.
            for kind in (kinds if rnd % 2 == 0 else kinds[::-1]):
                if case == "fanout":
                    r = fanout(kind, a.requests // 2)
                elif case == "slow subscriber":
                    r = slow(kind, a.requests)
                else:
                    w = None if kind == "slabd-plain" else watch
                    run = monitored_mc if case.endswith("(memcached traffic)") else monitored
                    r = run(kind, a.requests, w, a.pipeline)
                for k, v in r.items():
                    results.setdefault((case, k), {}).setdefault(kind, []).append(v)
    load1 = open("/proc/loadavg").read().split()[0]
    print("| workload | metric | slabd | other | other is | slabd / other |")
    print("|---|---|---:|---:|---|---:|")
    for case, _, kinds in cases:
        metrics = sorted({k for (c, k) in results if c == case})
        for k in metrics:
            s = median(results[(case, k)]["slabd"])
            r = median(results[(case, k)][kinds[1]])
            fmt = "{:,.2f}" if ("µs" in k or "cores" in k or "MB" in k) else "{:,.0f}"
            ratio = f"{s / r:.3f}" if r else "-"
            print(f"| {case} | {k} | {fmt.format(s)} | {fmt.format(r)} | {kinds[1]} | {ratio} |")
    print(f"\n{a.rounds} rounds, medians, -P {a.pipeline}; 1-minute load average {load0} "
          f"before, {load1} after.")
    print("\nEvery round (first-run order alternates, starting with slabd):")
    for case, _, kinds in cases:
        for k in sorted({k for (c, k) in results if c == case}):
            for kind in kinds:
                vals = ", ".join(f"{v:,.2f}" if v < 100 else f"{v:,.0f}"
                                 for v in results[(case, k)][kind])
                print(f"- {case} | {k} | {kind}: {vals}")


if __name__ == "__main__":
    main()
